#!/usr/bin/env python3
"""Reference gradients, losses and optimiser steps for libscore's training engine.

Usage:
    python tools/make_training_fixtures.py            # every fixture
    python tools/make_training_fixtures.py --only qwen3

LoRA fixture (qwen2, qwen3): see lora_fixture(); the adapter peft saved is
in Tests/Fixtures/training/<name>/adapter/.

Also writes Tests/Fixtures/training/schedules.safetensors: schedule.<kind>
float64 [12], the multipliers of transformers' get_{constant,linear,cosine}_
schedule_with_warmup (3 warm-up steps, 10 total) for steps 0..11.

Reads the model fixtures of tools/make_fixtures.py (Tests/Fixtures/models/<name>),
loads them with transformers in float32 with eager attention, and writes
Tests/Fixtures/training/<name>/expected.safetensors. All values are PyTorch's.

The batch (same layout for every model): two sequences of different lengths
(80 tokens: longer than mistral-swa's 64-token window; and 37 tokens), each
with a loss mask and per-token weights aligned with the tokens: mask[t] = 1
makes token t a target, predicted from tokens[0..t) (mask[0] is always 0).

    tokens.<b> int32 [T_b]   mask.<b> float32 [T_b]   weight.<b> float32 [T_b]

Losses (l_t = log softmax(logits[t-1])[tokens[t]]):
    token mean:     L = sum_b sum_t m w (-l_t) / sum_b sum_t m
    sequence mean:  L = mean_b ( sum_t m w (-l_t) / sum_t m )

Stored per model:
    ce.loss                  token-mean loss (float32 scalar as [1])
    ce.grad.<param>          gradient of EVERY parameter (HF names; tied heads
                             appear once, as model.embed_tokens.weight)
    seqmean.loss, seqmean.grad.<param in SUBSET>
KL fixtures (policy = this model, reference = its same-shape sibling:
qwen2 <- qwen2-bf16, llama-gqa <- llama-sharded-f16), beta = 1, token mean
over the mask, no cross-entropy:
    kl.ref_logprobs.<b>      float32 [T_b] log pi_ref(tokens[t]) (index 0 = 0)
    kl.<est>.loss, kl.<est>.grad.<param in SUBSET>   est in exact, k1, k3
        exact: sum_v p_v (log p_v - log q_v)
        k1:    log p(y) - log q(y)
        k3:    exp(log q(y) - log p(y)) - 1 - (log q(y) - log p(y))
AdamW fixture (llama-gqa, qwen2): four steps on the token-mean CE loss with
torch.optim.AdamW(lr=3e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1),
clip_grad_norm_(max_norm=0.5), get_cosine_schedule_with_warmup(1 warm-up
step, 4 total), so the learning rates are 0, 3e-3, 2.25e-3, 7.5e-4 (Adam normalises each
element by its own gradient history, so float32 rounding differences in tiny
gradients become update differences of order lr; a moderate lr keeps the
comparison at the 1e-4 level):
    adamw.loss [4], adamw.grad_norm [4] (before clipping), adamw.lr [4]
    adamw.param.<param in SUBSET> after the fourth step
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import (
    AutoModelForCausalLM,
    get_constant_schedule_with_warmup,
    get_cosine_schedule_with_warmup,
    get_linear_schedule_with_warmup,
)

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "Tests" / "Fixtures" / "models"
OUT = ROOT / "Tests" / "Fixtures" / "training"

NAMES = ["llama-gqa", "llama3-rope-tied", "mistral-swa", "qwen2", "qwen3"]
KL_REFERENCE = {"qwen2": "qwen2-bf16", "llama-gqa": "llama-sharded-f16"}
ADAMW_MODELS = ["llama-gqa", "qwen2"]
ADAMW_STEPS = 4
LENGTHS = (80, 37)
# Gradients of these (not of every parameter) keep the KL, sequence-mean and
# AdamW fixtures small; the token-mean CE fixture has every parameter.
SUBSET = [
    "model.layers.0.self_attn.q_proj.weight",
    "model.layers.0.self_attn.k_proj.weight",
    "model.layers.1.post_attention_layernorm.weight",
    "model.norm.weight",
]


def load(name: str):
    m = AutoModelForCausalLM.from_pretrained(str(MODELS / name), dtype=torch.float32, attn_implementation="eager")
    m.eval()  # no dropout; gradients still flow
    return m


def make_batch(seed: int):
    g = torch.Generator().manual_seed(seed)
    batch = []
    for b, T in enumerate(LENGTHS):
        tokens = torch.randint(0, 128, (T,), generator=g)
        if b == 0:
            mask = (torch.rand(T, generator=g) < 0.6).float()  # scattered targets
        else:
            mask = torch.zeros(T)
            mask[12:] = 1.0  # a prompt, then the answer
        mask[0] = 0.0
        weight = 0.5 + torch.rand(T, generator=g)
        batch.append((tokens, mask, weight))
    return batch


def token_logprobs(model, tokens):
    """[T] log p(tokens[t] | tokens[:t]) with index 0 = 0, and the [T, V] log-softmax rows (row t predicts t)."""
    logits = model(input_ids=tokens[None, :], use_cache=False).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    rows = torch.cat([torch.zeros(1, logp.shape[1]), logp[:-1]], dim=0)  # row t predicts token t
    lp = rows.gather(1, tokens[:, None]).squeeze(1)
    lp = torch.cat([torch.zeros(1), lp[1:]])
    return lp, rows


def ce_loss(model, batch, aggregation="token"):
    total, count, per_seq = 0.0, 0.0, []
    for tokens, mask, weight in batch:
        lp, _ = token_logprobs(model, tokens)
        s = (mask * weight * -lp).sum()
        per_seq.append(s / mask.sum())
        total = total + s
        count += mask.sum()
    return total / count if aggregation == "token" else torch.stack(per_seq).mean()


def kl_loss(model, ref_rows, batch, estimator):
    total, count = 0.0, 0.0
    for (tokens, mask, _), q_rows in zip(batch, ref_rows):
        lp, p_rows = token_logprobs(model, tokens)
        lq = q_rows.gather(1, tokens[:, None]).squeeze(1)
        if estimator == "exact":
            per_token = (p_rows.exp() * (p_rows - q_rows)).sum(dim=1)
        elif estimator == "k1":
            per_token = lp - lq
        else:
            d = lq - lp
            per_token = d.exp() - 1 - d
        total = total + (mask * per_token)[1:].sum()
        count += mask.sum()
    return total / count


def grads(model, names=None):
    out = {}
    for n, p in model.named_parameters():
        if names is None or n in names:
            out[n] = p.grad.detach().clone().contiguous()
    return out


def build(name: str) -> dict:
    torch.manual_seed(0)
    model = load(name)
    params = dict(model.named_parameters())
    batch = make_batch(5000 + NAMES.index(name))
    data: dict[str, torch.Tensor] = {}
    for b, (t, m, w) in enumerate(batch):
        data[f"tokens.{b}"] = t.to(torch.int32)
        data[f"mask.{b}"] = m
        data[f"weight.{b}"] = w

    model.zero_grad()
    loss = ce_loss(model, batch)
    loss.backward()
    data["ce.loss"] = loss.detach().reshape(1)
    for n, g in grads(model).items():
        data[f"ce.grad.{n}"] = g
    summary = {"ce.loss": loss.item(), "params": sum(p.numel() for p in params.values())}

    model.zero_grad()
    loss = ce_loss(model, batch, "sequence")
    loss.backward()
    data["seqmean.loss"] = loss.detach().reshape(1)
    for n, g in grads(model, SUBSET).items():
        data[f"seqmean.grad.{n}"] = g

    if name in KL_REFERENCE:
        ref = load(KL_REFERENCE[name])
        ref_rows = []
        with torch.no_grad():
            for b, (t, _, _) in enumerate(batch):
                lq, rows = token_logprobs(ref, t)
                ref_rows.append(rows)
                data[f"kl.ref_logprobs.{b}"] = lq
        for est in ("exact", "k1", "k3"):
            model.zero_grad()
            loss = kl_loss(model, ref_rows, batch, est)
            loss.backward()
            data[f"kl.{est}.loss"] = loss.detach().reshape(1)
            for n, g in grads(model, SUBSET).items():
                data[f"kl.{est}.grad.{n}"] = g
            summary[f"kl.{est}"] = loss.item()

    if name in ADAMW_MODELS:
        model = load(name)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
        sched = get_cosine_schedule_with_warmup(opt, num_warmup_steps=1, num_training_steps=4)
        losses, norms, lrs = [], [], []
        for _ in range(ADAMW_STEPS):
            opt.zero_grad()
            loss = ce_loss(model, batch)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
            losses.append(loss.item())
            norms.append(norm.item())
        assert min(norms) > 0.5, f"clipping must be active in every step: {norms}"
        data["adamw.loss"] = torch.tensor(losses)
        data["adamw.grad_norm"] = torch.tensor(norms)
        data["adamw.lr"] = torch.tensor(lrs)
        for n, p in model.named_parameters():
            if n in SUBSET:
                data[f"adamw.param.{n}"] = p.detach().clone()
        summary["adamw"] = {"loss": losses, "grad_norm": norms, "lr": lrs}

    if name in LORA_MODELS:
        lora_fixture(name, batch, data)

    out = OUT / name
    out.mkdir(parents=True, exist_ok=True)
    data = {k: v.detach().contiguous() for k, v in data.items()}
    save_file(data, str(out / "expected.safetensors"), metadata={"format": "pt"})
    summary["bytes"] = (out / "expected.safetensors").stat().st_size
    return summary


LORA_MODELS = ["qwen2", "qwen3"]
LORA = dict(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])


def lora_fixture(name: str, batch, data: dict) -> None:
    """A peft adapter on every projection with B initialised non-zero (so A gets gradients),
    saved with peft's own save_pretrained into <out>/adapter/; records
    lora.loss, lora.grad.<peft name> (every A and B), lora.logprobs.<b> (adapter on),
    and lora.merged.<param> for two merged weights."""
    from peft import LoraConfig, get_peft_model

    model = load(name)
    cfg = LoraConfig(lora_dropout=0.0, bias="none", task_type="CAUSAL_LM", **LORA)
    peft_model = get_peft_model(model, cfg)
    g = torch.Generator().manual_seed(77)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_B" in n:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
    peft_model.eval()
    out = OUT / name / "adapter"
    peft_model.peft_config["default"].base_model_name_or_path = f"Tests/Fixtures/models/{name}"
    peft_model.save_pretrained(str(out))
    (out / "README.md").unlink(missing_ok=True)  # peft's model card template
    peft_model.zero_grad()
    loss = ce_loss(peft_model, batch)
    loss.backward()
    data["lora.loss"] = loss.detach().reshape(1)
    for n, p in peft_model.named_parameters():
        if p.requires_grad:
            data["lora.grad." + n.replace(".default", "")] = p.grad.detach().clone()
    with torch.no_grad():
        for b, (t, _, _) in enumerate(batch):
            data[f"lora.logprobs.{b}"] = token_logprobs(peft_model, t)[0]
        merged = peft_model.merge_and_unload().state_dict()
        for n in ("model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight"):
            data["lora.merged." + n] = merged[n].clone()


def schedules() -> None:
    """Learning-rate multipliers of transformers' schedules, 3 warm-up steps of 10, steps 0..11."""
    out = {}
    for kind, make in (("constant", lambda o: get_constant_schedule_with_warmup(o, 3)),
                       ("linear", lambda o: get_linear_schedule_with_warmup(o, 3, 10)),
                       ("cosine", lambda o: get_cosine_schedule_with_warmup(o, 3, 10))):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = make(opt)
        lrs = []
        for _ in range(12):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        out[f"schedule.{kind}"] = torch.tensor(lrs, dtype=torch.float64)
    OUT.mkdir(parents=True, exist_ok=True)
    save_file(out, str(OUT / "schedules.safetensors"), metadata={"format": "pt"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", choices=NAMES)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    schedules()
    for name in args.only or NAMES:
        print(name, json.dumps(build(name)))


if __name__ == "__main__":
    main()
