#!/usr/bin/env python3
"""Prefill benchmark: libscore (score-cli bench) against PyTorch, in one run.

Usage:
    python tools/bench/prefill.py [--shape smollm2-135m|qwen2.5-0.5b] [--dtype float32|bfloat16]
                                  [--tokens 512] [--threads 2] [--repeat 5]
                                  [--attn sdpa,eager] [--cli PATH] [--json]

Makes the random-weight model (tools/bench/make_bench_model.py) if it is
missing, then, for `repeat` rounds, times one prefill of the same N tokens
with each engine in turn (ours, torch/sdpa, torch/eager, ours, ...), so all
engines see the same machine state. The best round of each engine counts.

- ours: `score-cli bench DIR --tokens N --repeat 1 --threads T --json`, one
  process per round. The CLI loads the model, does one untimed warm-up prefill
  and then times one prefill (load time is not included).
- torch: `AutoModelForCausalLM.from_pretrained(DIR, dtype=torch.float32,
  attn_implementation=...)`, `torch.set_num_threads(T)`, `inference_mode`, one
  forward of the N tokens with `logits_to_keep=1` (only the last position's
  logits, like ours), one warm-up forward after loading.

Both engines see the same token ids (the CLI's SplitMix64(42) sequence mod
vocab). The FLOP count is the one the CLI reports (2 x matrix parameters x N
+ causal attention + last-position LM head); torch's GFLOP/s uses the same
count. The machine limit is `score-cli bench-gemm --size 2048` (OpenBLAS
sgemm, T threads), measured once; torch's own 2048^3 float32 matmul is shown
for reference too.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_bench_model  # noqa: E402

ROOT = make_bench_model.ROOT
DEFAULT_CLI = ROOT / ".build" / "release" / "score-cli"
MASK64 = (1 << 64) - 1


def splitmix_tokens(n: int, vocab: int, seed: int = 42) -> list[int]:
    """The token ids `score-cli bench` uses (SplitMix64, BenchCommand.swift)."""
    state, out = seed, []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        out.append((z ^ (z >> 31)) % vocab)
    return out


def run_cli(cli: Path, args: list[str], wait: float = 600.0) -> dict:
    """Run score-cli with --json and parse its one JSON line.

    Another engineer may be rebuilding the binary in the same tree: if it is
    missing (or vanishes during the run), wait and retry for up to `wait` s.
    """
    deadline = time.time() + wait
    while True:
        if cli.is_file():
            p = subprocess.run([str(cli), *args], capture_output=True, text=True)
            if p.returncode == 0:
                lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
                if lines:
                    return json.loads(lines[-1])
            if cli.is_file() and p.returncode not in (-9, 126, 127):
                raise RuntimeError(f"{cli} {' '.join(args)} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
        if time.time() > deadline:
            raise RuntimeError(f"{cli} is missing (waited {wait:.0f} s for a rebuild)")
        print(f"  {cli} not available, waiting for the build...", file=sys.stderr)
        time.sleep(10)


class TorchEngine:
    def __init__(self, model_dir: Path, attn: str, tokens: list[int], threads: int):
        import torch
        from transformers import AutoModelForCausalLM

        self.torch = torch
        self.name = f"torch/{attn}"
        t0 = time.perf_counter()
        self.model = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=torch.float32, attn_implementation=attn
        ).eval()
        self.load_seconds = time.perf_counter() - t0
        self.ids = torch.tensor([tokens], dtype=torch.long)
        fwd = inspect.signature(self.model.forward).parameters
        self.kwargs = {}
        if "logits_to_keep" in fwd:
            self.kwargs["logits_to_keep"] = 1
        elif "num_logits_to_keep" in fwd:  # transformers 4.45-4.49
            self.kwargs["num_logits_to_keep"] = 1
        self.logits_to_keep = bool(self.kwargs)
        self.attn_in_use = getattr(self.model.config, "_attn_implementation", attn)
        self.forward()  # warm-up

    def forward(self):
        with self.torch.inference_mode():
            out = self.model(input_ids=self.ids, **self.kwargs)
        return out.logits

    def time_once(self) -> float:
        t0 = time.perf_counter()
        logits = self.forward()
        dt = time.perf_counter() - t0
        assert logits.shape[1] == (1 if self.logits_to_keep else self.ids.shape[1]), logits.shape
        return dt


def torch_sgemm_gflops(size: int, repeat: int = 5) -> float:
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeat))
    return 2 * size**3 / best / 1e9


def _timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def cpu_counters() -> tuple[float, float]:
    """(CPU-seconds used by the whole machine, CPU-seconds used by us and our
    finished children). Their difference over a round is what other processes
    took: the machine is shared (builds, tests), and this says when it was busy."""
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / tick  # incl. steal
    t = os.times()
    return busy, t.user + t.system + t.children_user + t.children_system


def wait_idle(limit: float, log) -> float:
    """Wait (up to `limit` s) until other processes use < 0.1 CPU over 1 s.
    Returns the seconds waited."""
    t0 = time.time()
    said = False
    while True:
        b0, o0 = cpu_counters()
        time.sleep(1.0)
        b1, o1 = cpu_counters()
        if (b1 - b0) - (o1 - o0) < 0.1 or time.time() - t0 >= limit:
            return time.time() - t0
        if not said:
            log(f"  machine busy ({(b1 - b0) - (o1 - o0):.1f} CPUs used by others), waiting up to {limit:.0f} s...")
            said = True


def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    return {"cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version(), "commit": commit}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", choices=sorted(make_bench_model.SHAPES), default="smollm2-135m")
    p.add_argument("--dtype", choices=make_bench_model.DTYPES, default="float32")
    p.add_argument("--model-dir", type=Path, help="default: bench-models/<shape>-<dtype>/")
    p.add_argument("--tokens", type=int, default=512)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--attn", default="sdpa,eager", help="comma-separated torch attention implementations")
    p.add_argument("--gemm-size", type=int, default=2048)
    p.add_argument("--wait-idle", type=float, default=60, metavar="S",
                   help="before the sgemm run and each round, wait up to S s for other processes to go quiet (0: don't)")
    p.add_argument("--cli", type=Path, default=DEFAULT_CLI)
    p.add_argument("--json", action="store_true", help="print one machine-readable JSON line")
    a = p.parse_args()
    log = (lambda *x: print(*x, file=sys.stderr)) if a.json else print

    model_dir = make_bench_model.ensure(a.shape, a.dtype, a.model_dir)
    import torch
    import transformers

    torch.set_num_threads(a.threads)
    cfg = json.loads((model_dir / "config.json").read_text())
    tokens = splitmix_tokens(a.tokens, cfg["vocab_size"])

    log(f"model {model_dir} ({a.shape}, {a.dtype}), {a.tokens} tokens, {a.threads} threads, {a.repeat} rounds")
    engines = []
    for attn in [s.strip() for s in a.attn.split(",") if s.strip()]:
        e = TorchEngine(model_dir, attn, tokens, a.threads)
        log(f"  loaded {e.name} in {e.load_seconds:.1f} s (attention: {e.attn_in_use}, logits_to_keep: {e.logits_to_keep})")
        engines.append(e)

    if a.wait_idle > 0:
        wait_idle(a.wait_idle, log)
    busy0, own0 = cpu_counters()
    gemm = run_cli(a.cli, ["bench-gemm", "--size", str(a.gemm_size), "--threads", str(a.threads), "--json"])
    peak = gemm["gflops"]
    torch_gemm = torch_sgemm_gflops(a.gemm_size)
    busy1, own1 = cpu_counters()
    gemm_other_cpu = max(0.0, (busy1 - busy0) - (own1 - own0))
    log(f"  sgemm {a.gemm_size}: OpenBLAS (score-cli) {peak:.1f} GFLOP/s, torch.mm {torch_gemm:.1f} GFLOP/s")

    ours_args = ["bench", str(model_dir), "--tokens", str(a.tokens), "--repeat", "1",
                 "--threads", str(a.threads), "--json"]
    rounds: dict[str, list[float]] = {"ours": [], **{e.name: [] for e in engines}}
    ours_json = None
    other_cpu: list[float] = []
    for r in range(a.repeat):
        if a.wait_idle > 0:
            wait_idle(a.wait_idle, log)
        busy0, own0 = cpu_counters()
        ours_json = run_cli(a.cli, ours_args)
        rounds["ours"].append(ours_json["seconds"])
        for e in engines:
            rounds[e.name].append(e.time_once())
        busy1, own1 = cpu_counters()
        other_cpu.append(max(0.0, (busy1 - busy0) - (own1 - own0)))
        log(f"  round {r + 1}/{a.repeat}: " + "  ".join(f"{k} {v[-1]:.3f} s" for k, v in rounds.items())
            + f"   [other processes: {other_cpu[-1]:.2f} CPU-s]")
    busy_rounds = sum(1 for x in other_cpu if x > 0.25)

    best_ours = min(rounds["ours"])
    # The CLI reports gflops of its best (only) run: recover its FLOP count.
    flops = ours_json["gflops"] * ours_json["seconds"] * 1e9
    results = []
    for name, times in rounds.items():
        best = min(times)
        gf = flops / best / 1e9
        results.append({
            "engine": name,
            "seconds": best,
            "median_seconds": sorted(times)[len(times) // 2],
            "rounds": times,
            "tokens_per_second": a.tokens / best,
            "gflops": gf,
            "percent_of_sgemm_peak": 100 * gf / peak,
            "ours_speed_ratio": best / best_ours,  # ours speed / this engine's speed
        })

    if a.json:
        print(json.dumps({
            "bench": "prefill-vs-torch",
            "shape": a.shape, "dtype": a.dtype, "model_dir": str(model_dir),
            "tokens": a.tokens, "threads": a.threads, "repeat": a.repeat,
            "flops": flops,
            "sgemm": {"size": a.gemm_size, "gflops": peak, "torch_mm_gflops": torch_gemm,
                      "other_cpu_seconds": gemm_other_cpu},
            "results": results,
            "other_cpu_seconds_per_round": other_cpu,
            "torch_logits_to_keep": all(e.logits_to_keep for e in engines),
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
            "machine": machine_info(),
        }))
        return

    print()
    print(f"prefill {a.tokens} tokens, {a.shape} {a.dtype}, {a.threads} threads, best of {a.repeat} "
          f"({flops / 1e9:.1f} GFLOP per prefill)")
    print(f"{'engine':<14}{'seconds':>9}{'median':>9}{'tokens/s':>10}{'GFLOP/s':>9}{'% peak':>8}  ours/this speed")
    for r in results:
        print(f"{r['engine']:<14}{r['seconds']:>9.3f}{r['median_seconds']:>9.3f}{r['tokens_per_second']:>10.1f}"
              f"{r['gflops']:>9.1f}{r['percent_of_sgemm_peak']:>7.1f}%  {r['ours_speed_ratio']:.2f}x")
    print(f"sgemm peak ({a.gemm_size}^3, {a.threads} threads): OpenBLAS {peak:.1f} GFLOP/s "
          f"(torch.mm {torch_gemm:.1f} GFLOP/s)")
    if gemm_other_cpu > 0.25:
        print(f"warning: other processes used {gemm_other_cpu:.1f} CPU-s during the sgemm measurement: "
              "the peak (and the % column) may be understated")
    if busy_rounds:
        print(f"warning: other processes used the CPU in {busy_rounds} of {a.repeat} rounds "
              f"(max {max(other_cpu):.1f} CPU-s): figures may be noisy; rerun on an idle machine")
    if not all(e.logits_to_keep for e in engines):
        print("note: this transformers has no logits_to_keep; torch computed all N x vocab logits")


if __name__ == "__main__":
    main()
