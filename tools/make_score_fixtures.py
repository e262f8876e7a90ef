#!/usr/bin/env python3
"""Reference values for SCoRe's objective, computed from scratch in PyTorch.

Usage: python tools/make_score_fixtures.py

Writes Tests/Fixtures/training/score/expected.safetensors. The policy is the
qwen2 fixture model, the reference policy its same-shape sibling qwen2-bf16
(so the KL term is non-zero: it compares two different policies).

The batch: 2 problems x 3 samples = 6 two-attempt rollouts. Rollout i is
    prompt (P_i tokens) | attempt 1 (A_i) | instruction glue (G) | attempt 2 (B_i)
with random tokens and binary verifier rewards r1[i], r2[i] chosen so that
all four transitions (wrong->right, right->right, wrong->wrong, right->wrong)
occur.

    rollout.tokens.<i> int32 [T_i]
    rollout.ranges.<i> int32 [4]   start/end of attempt 1, start/end of attempt 2
    rollout.problem    int32 [6]   problem index of each rollout
    rollout.rewards    float32 [6, 2]   r(y1), r(y2)

The objective, written independently of libscore's code path:
    Stage I:  R1 = 0,      R2 = r2;                     beta on attempt 1 = BETA2, attempt 2 = BETA1
    Stage II: R1 = r1,     R2 = r2 + ALPHA (r2 - r1);   beta = BETA1 on both
    A_{i,t} = R_{i,t} - mean_{j != i, same problem} R_{j,t}       (leave-one-out)
    L = (1/6) sum_i sum_t sum_{tokens y of attempt t} [ -A_{i,t} log pi(y) + beta_t k3(y) ]
    k3(y) = exp(lq - lp) - 1 - (lq - lp),  lp = log pi(y), lq = log pi_ref(y)
and, for the exact estimator, sum_v p_v (log p_v - log q_v) per token instead of k3.

    <case>.advantages float32 [6, 2]
    <case>.loss       float32 [1]
    <case>.grad.<param in SUBSET>
for case in stage1_k3, stage2_k3, stage2_exact.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "Tests" / "Fixtures" / "models"
OUT = ROOT / "Tests" / "Fixtures" / "training" / "score"
ALPHA, BETA1, BETA2 = 10.0, 0.01, 0.1
SUBSET = [
    "model.embed_tokens.weight",
    "model.layers.0.self_attn.q_proj.weight",
    "model.layers.0.self_attn.q_proj.bias",
    "model.layers.1.mlp.down_proj.weight",
    "model.norm.weight",
]


def load(name):
    m = AutoModelForCausalLM.from_pretrained(str(MODELS / name), dtype=torch.float32, attn_implementation="eager")
    m.eval()
    return m


def rows(model, tokens):
    """[T, V] log-softmax rows, row t predicting token t (row 0 unused)."""
    logp = torch.log_softmax(model(input_ids=tokens[None, :], use_cache=False).logits[0].float(), dim=-1)
    return torch.cat([torch.zeros(1, logp.shape[1]), logp[:-1]], dim=0)


def main():
    g = torch.Generator().manual_seed(6060)
    problems = [0, 0, 0, 1, 1, 1]
    rewards = torch.tensor([[0, 1], [1, 1], [0, 0], [1, 0], [0, 1], [1, 1]], dtype=torch.float32)
    rollouts = []
    for i in range(6):
        P, A, G, B = 9 + (i % 2) * 3, 4 + i, 7, 6 + (i * 2) % 5
        tokens = torch.randint(0, 128, (P + A + G + B,), generator=g)
        rollouts.append((tokens, (P, P + A, P + A + G, P + A + G + B)))
    policy, reference = load("qwen2"), load("qwen2-bf16")
    with torch.no_grad():
        ref_rows = [rows(reference, t) for t, _ in rollouts]

    data = {"rollout.problem": torch.tensor(problems, dtype=torch.int32), "rollout.rewards": rewards}
    for i, (t, r) in enumerate(rollouts):
        data[f"rollout.tokens.{i}"] = t.to(torch.int32)
        data[f"rollout.ranges.{i}"] = torch.tensor(r, dtype=torch.int32)

    def turn_rewards(stage):
        r1, r2 = rewards[:, 0], rewards[:, 1]
        if stage == 1:
            return torch.stack([torch.zeros_like(r1), r2], dim=1)
        return torch.stack([r1, r2 + ALPHA * (r2 - r1)], dim=1)

    def leave_one_out(R):
        A = torch.zeros_like(R)
        for i in range(6):
            others = [j for j in range(6) if problems[j] == problems[i] and j != i]
            A[i] = R[i] - R[others].mean(dim=0)
        return A

    for case, stage, estimator in (("stage1_k3", 1, "k3"), ("stage2_k3", 2, "k3"), ("stage2_exact", 2, "exact")):
        adv = leave_one_out(turn_rewards(stage))
        betas = (BETA2, BETA1) if stage == 1 else (BETA1, BETA1)
        policy.zero_grad()
        total = 0.0
        for i, (tokens, (a0, a1, b0, b1)) in enumerate(rollouts):
            p_rows = rows(policy, tokens)
            lp = p_rows.gather(1, tokens[:, None]).squeeze(1)
            lq = ref_rows[i].gather(1, tokens[:, None]).squeeze(1)
            if estimator == "k3":
                d = lq - lp
                kl = d.exp() - 1 - d
            else:
                kl = (p_rows.exp() * (p_rows - ref_rows[i])).sum(dim=1)
            for turn, (s, e) in enumerate(((a0, a1), (b0, b1))):
                total = total + (-adv[i, turn] * lp[s:e]).sum() + betas[turn] * kl[s:e].sum()
        loss = total / 6
        loss.backward()
        data[f"{case}.advantages"] = adv
        data[f"{case}.loss"] = loss.detach().reshape(1)
        for n, p in policy.named_parameters():
            if n in SUBSET:
                data[f"{case}.grad.{n}"] = p.grad.detach().clone()
        print(case, loss.item())
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in data.items()}, str(OUT / "expected.safetensors"), metadata={"format": "pt"})


if __name__ == "__main__":
    main()
