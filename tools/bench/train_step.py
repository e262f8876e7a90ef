#!/usr/bin/env python3
"""Training-step benchmark: libscore's trainer against PyTorch eager F32, in one run.

Usage:
    python tools/bench/train_step.py [--shape smollm2-135m|tiny] [--mode full,lora]
                                     [--batch 8] [--tokens 256] [--threads 2]
                                     [--steps 3] [--repeat 2] [--lora-rank 16] [--json]

What is measured (issue 5, "Show"):
- one training step = forward + backward + AdamW (clipping on, weight decay
  0.01) on `batch` sequences x `tokens` tokens, every token a target, token-mean
  cross-entropy; full fine-tuning, and LoRA rank 16 on all seven projections
  (q, k, v, o, gate, up, down) with the base frozen;
- log-prob scoring: forward only of the same batch (ours: score.Model.logprobs_batch,
  one pass over the weights; torch: one batched no-grad forward + log_softmax + gather);
- per engine: seconds per step (best of `repeat` rounds of `steps` timed steps
  after one untimed warm-up step), tokens/s, achieved GFLOP/s, peak RSS of the
  whole process (ru_maxrss: weights, optimiser state, activations, runtime).

Both engines run in their own subprocess (so peak RSS is theirs alone), with
the same weights (the same model directory), the same token ids, and the same
thread count (score.set_n_threads / torch.set_num_threads; OpenBLAS and
OpenMP variables set to the same value). Rounds alternate engines so they see
the same machine state.

FLOP count per step (the same number divides both engines' times):
    full:  6 x P_matrix x tokens + attention, attention = 3 x (2 x 2 x L x T^2/2 x H_q x D) per sequence
           (QK^T and PV, causal half, forward + 2x backward)
    LoRA:  4 x P_matrix x tokens (no base weight gradients) + attention + 6 x P_lora x tokens
    scoring: 2 x P_matrix x tokens + attention forward
where P_matrix counts the matrices multiplied per token (embedding lookup
excluded, LM head included). The machine limit is `score-cli bench-gemm`
(OpenBLAS sgemm at the same thread count); GFLOP/s are also shown as a
fraction of it.

The "tiny" shape is a Llama-style model with hidden 256, 4 layers, 4 heads
(2 KV heads), intermediate 768, SmolLM2's vocabulary (49152), tied embeddings.
Models are random (nothing is downloaded) and cached under bench-models/.
"""

from __future__ import annotations

import sys
from pathlib import Path

# tools/bench/tokenizer_speed.py would shadow the standard library's tokenize (torch needs it).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bindings" / "python"))  # bindings first; scripts here must not shadow stdlib modules

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TINY = dict(vocab_size=49152, hidden_size=256, intermediate_size=768, num_hidden_layers=4, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True, rms_norm_eps=1e-5)


def model_dir(shape: str) -> Path:
    if shape == "smollm2-135m":
        import importlib.util

        spec = importlib.util.spec_from_file_location("make_bench_model", ROOT / "tools" / "bench" / "make_bench_model.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.ensure("smollm2-135m", "float32")
    out = ROOT / "bench-models" / "tiny-train-float32"
    if not (out / "model.safetensors").exists():
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM

        torch.manual_seed(1234)
        m = LlamaForCausalLM(LlamaConfig(**TINY))
        m.save_pretrained(str(out))
    return out


def batch_tokens(vocab: int, batch: int, tokens: int) -> list[list[int]]:
    state, out = 42, []
    for _ in range(batch):
        row = []
        for _ in range(tokens):
            state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
            row.append((state >> 33) % vocab)
        out.append(row)
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------
# Workers (one subprocess each)
# ---------------------------------------------------------------------------


def worker_ours(a) -> dict:
    import score

    score.set_n_threads(a.threads)
    seqs = json.loads(Path(a.data).read_text())
    masks = [[0] + [1] * (len(s) - 1) for s in seqs]
    # Training reads row-major F32: a model loaded to be trained is not packed (scoring is inference).
    with score.Model.load(a.model, pack=a.task == "score") as model:
        if a.task == "score":
            model.logprobs_batch(seqs)  # warm-up
            t0 = time.perf_counter()
            for _ in range(a.steps):
                model.logprobs_batch(seqs)  # one pass over the weights for the whole batch, as torch does
            return dict(seconds=(time.perf_counter() - t0) / a.steps, peak_rss_mb=peak_rss_mb())
        opts = dict(learning_rate=1e-4, weight_decay=0.01, max_grad_norm=1.0, n_threads=a.threads)
        if a.task == "lora":
            opts.update(parameters="lora", lora_rank=a.lora_rank, lora_alpha=2 * a.lora_rank, lora_targets=TARGETS)
        with score.Trainer(model, **opts) as trainer:
            trainer.step(seqs, masks)  # warm-up
            t0 = time.perf_counter()
            for _ in range(a.steps):
                loss = trainer.step(seqs, masks).loss
            return dict(seconds=(time.perf_counter() - t0) / a.steps, loss=loss, peak_rss_mb=peak_rss_mb())


def worker_torch(a) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(a.threads)
    seqs = torch.tensor(json.loads(Path(a.data).read_text()))
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32, attn_implementation="eager")
    if a.task == "score":
        model.eval()

        def run():
            with torch.no_grad():
                logits = model(input_ids=seqs).logits
                return torch.log_softmax(logits[:, :-1], -1).gather(2, seqs[:, 1:, None])

        run()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            run()
        return dict(seconds=(time.perf_counter() - t0) / a.steps, peak_rss_mb=peak_rss_mb())
    model.train()
    if a.task == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=a.lora_rank, lora_alpha=2 * a.lora_rank, target_modules=TARGETS,
                                                 lora_dropout=0.0, task_type="CAUSAL_LM"))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(input_ids=seqs, labels=seqs).loss  # token mean over all targets
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    return dict(seconds=(time.perf_counter() - t0) / a.steps, loss=loss, peak_rss_mb=peak_rss_mb())


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


def flops(cfg: dict, task: str, batch: int, tokens: int, lora_rank: int) -> float:
    h, i, L, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    hd = cfg.get("head_dim") or h // cfg["num_attention_heads"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    per_layer = h * q + 2 * h * kv + q * h + 3 * h * i
    matrix = L * per_layer + V * h
    n = batch * tokens
    attn_fwd = batch * 2 * 2 * L * (tokens * tokens / 2) * q
    if task == "score":
        return 2 * matrix * n + attn_fwd
    if task == "full":
        return 6 * matrix * n + 3 * attn_fwd
    lora = L * lora_rank * ((h + q) + 2 * (h + kv) + (q + h) + 2 * (h + i) + (i + h))
    return 4 * matrix * n + 3 * attn_fwd + 6 * lora * n


def gemm_peak(threads: int) -> float | None:
    cli = ROOT / ".build" / "release" / "score-cli"
    for candidate in [os.environ.get("SCORE_CLI"), str(cli)]:
        if candidate and Path(candidate).exists():
            out = subprocess.run([candidate, "bench-gemm", "--size", "2048", "--threads", str(threads), "--json"],
                                 capture_output=True, text=True)
            try:
                return float(json.loads(out.stdout)["gflops"])
            except Exception:
                return None
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", choices=["smollm2-135m", "tiny"], default="smollm2-135m")
    p.add_argument("--mode", default="full,lora,score", help="comma-separated: full, lora, score")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--tokens", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--lora-rank", type=int, default=16)
    p.add_argument("--json", action="store_true")
    p.add_argument("--worker", choices=["ours", "torch"], help=argparse.SUPPRESS)
    p.add_argument("--task", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    a = p.parse_args()

    if a.worker:
        result = (worker_ours if a.worker == "ours" else worker_torch)(a)
        print(json.dumps(result))
        return

    mdir = model_dir(a.shape)
    cfg = json.loads((mdir / "config.json").read_text())
    data = Path(os.environ.get("TMPDIR", "/tmp")) / f"score-train-bench-{os.getpid()}.json"
    data.write_text(json.dumps(batch_tokens(cfg["vocab_size"], a.batch, a.tokens)))
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads),
               MKL_NUM_THREADS=str(a.threads))
    peak = gemm_peak(a.threads)
    rows = []
    try:
        for task in a.mode.split(","):
            best: dict[str, dict] = {}
            for _ in range(a.repeat):
                for engine in ("ours", "torch"):
                    cmd = [sys.executable, __file__, "--worker", engine, "--task", task, "--model", str(mdir),
                           "--data", str(data), "--threads", str(a.threads), "--steps", str(a.steps),
                           "--lora-rank", str(a.lora_rank)]
                    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
                    if out.returncode != 0:
                        raise SystemExit(f"{engine} {task} failed:\n{out.stderr[-2000:]}")
                    r = json.loads(out.stdout.strip().splitlines()[-1])
                    if engine not in best or r["seconds"] < best[engine]["seconds"]:
                        best[engine] = r
            f = flops(cfg, task, a.batch, a.tokens, a.lora_rank)
            for engine, r in best.items():
                gf = f / r["seconds"] / 1e9
                rows.append(dict(task=task, engine=engine, seconds=r["seconds"], tokens_per_s=a.batch * a.tokens / r["seconds"],
                                 gflops=gf, fraction_of_gemm_peak=(gf / peak) if peak else None,
                                 peak_rss_mb=r["peak_rss_mb"], loss=r.get("loss")))
    finally:
        data.unlink(missing_ok=True)

    meta = dict(shape=a.shape, batch=a.batch, tokens=a.tokens, threads=a.threads, lora_rank=a.lora_rank,
                gemm_peak_gflops=peak, machine=platform.processor() or platform.machine())
    if a.json:
        print(json.dumps(dict(meta=meta, results=rows), indent=2))
        return
    print(f"{a.shape}: {a.batch} x {a.tokens} tokens, {a.threads} threads, sgemm peak "
          f"{peak:.1f} GFLOP/s" if peak else f"{a.shape}: sgemm peak unknown (build score-cli)")
    print(f"{'task':6s} {'engine':6s} {'s/step':>8s} {'tok/s':>9s} {'GFLOP/s':>8s} {'%peak':>6s} {'RSS MB':>8s}")
    for r in rows:
        frac = f"{100 * r['fraction_of_gemm_peak']:.0f}" if r["fraction_of_gemm_peak"] else "-"
        print(f"{r['task']:6s} {r['engine']:6s} {r['seconds']:8.3f} {r['tokens_per_s']:9.0f} {r['gflops']:8.1f} "
              f"{frac:>6s} {r['peak_rss_mb']:8.0f}")
    for task in a.mode.split(","):
        o = next(r for r in rows if r["task"] == task and r["engine"] == "ours")
        t = next(r for r in rows if r["task"] == task and r["engine"] == "torch")
        print(f"{task}: ours is {t['seconds'] / o['seconds']:.2f}x torch's speed, {o['peak_rss_mb'] / t['peak_rss_mb']:.2f}x its peak RSS")


if __name__ == "__main__":
    main()
