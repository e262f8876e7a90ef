#!/usr/bin/env python3
"""Decode benchmark: libscore against llama.cpp and PyTorch, alternating in one run.

Usage:
    python tools/bench/decode.py [--shape smollm2-135m|qwen2.5-0.5b] [--dtype float32|bfloat16]
                                 [--threads 2] [--rounds 3] [--engines ours,llamacpp,torch]
                                 [--batches 1,8,16,32] [--gguf PATH] [--bin-dir DIR] [--cli PATH]
                                 [--model-dir DIR] [--kernels PATH] [--compute f32|bf16]
                                 [--json] [--out FILE]

--kernels forces our kernel path (SCORE_KERNELS: reference, avx2, avx512,
avx512bf16; default the CPU's best); --compute bf16 runs ours with BF16
arithmetic (score-cli --compute bf16; llama.cpp runs a BF16 GGUF as it does).
The memory bandwidth comes from the membw tool when it exists, else from
`score-cli bench-memory` (the same measure).

Each round measures every engine in turn (round 1: ours, llama.cpp, torch;
round 2: ours, llama.cpp, torch; ...), so all engines see the same drifting
machine. Per engine and round:

  ours       score-cli bench DIR --tokens 512 --repeat 1 --threads T --json          -> prefill 512
             score-cli bench-decode DIR --batch B --prompt 32 --new 128 --repeat 1
                       --threads T --json                                            -> decode, batch B
  llama.cpp  llama-bench -m GGUF -p 512 -n 0 -t T -r 1 -o json                       -> prefill 512
             llama-bench -m GGUF -p 0 -n 0 -pg 32,128 ... and -p 32 -n 0 ...          -> decode, batch 1:
                       128 / (t(pg32,128) - t(pp32)), llamacpp.py's "pg decode derived"
             llama-bench -m GGUF -p 0 -n 128 ...                                     -> tg128 (empty cache)
             llama-batched-bench -m GGUF -c 4096 -b 2048 -ub 512 -npp 32 -ntg 128
                       -npl BATCHES -t T --output-format jsonl                       -> S_TG per batch
  torch      model.generate, greedy, B prompts of 32 random ids, timed with
             max_new_tokens=128 and with max_new_tokens=1 (the prefill):             -> decode, batch B
             B * 127 / (t128 - t1). Torch prefill is prefill.py's job.

The table shows, per metric, each engine's median over rounds (best round in
parentheses) and the speed ratios ours / llama.cpp and ours / torch. Batch-1
decode is also given as a percentage of the memory-bandwidth bound: the weight
bytes read per token (ours' `weight_bytes`) divided by the read bandwidth that
the membw tool measures at the start and at the end of the run (the higher of
the two: the host's bandwidth drifts). Because it drifts (30-51 GB/s within
minutes on the Zen 4 host), the bandwidth is also measured around every
engine's turn, and "% of its turn bound" sets each turn's decode against the
higher of the two bandwidths measured around it (median over rounds).

Before each measurement the script waits for a quiet machine (llamacpp.wait_quiet)
and records the load averages and the CPU other processes used during it;
a measurement that was not clean is repeated (--tries). A missing engine
(no score-cli, no llama.cpp binaries or GGUF, no torch) is reported and skipped.
See tools/bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import llamacpp  # noqa: E402
import make_bench_model  # noqa: E402
from llamacpp import log  # noqa: E402

ROOT = make_bench_model.ROOT
PROMPT = 32
NEW = 128
PREFILL = 512
ENGINES = ("ours", "llamacpp", "torch")
ENGINE_NAMES = {"ours": "ours", "llamacpp": "llama.cpp", "torch": "torch"}


# ---- measuring one figure on a shared machine ----------------------------------------------

def run_inprocess(fn) -> tuple[object, dict]:
    """Call fn() and return its result with the same load/CPU figures as llamacpp.run_measured.

    Other processes' CPU = machine busy time - this process's own CPU time (all its threads).
    """
    before = llamacpp.loadavg()
    b0 = llamacpp.cpu_busy_seconds()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.time()
    result = fn()
    wall = time.time() - t0
    b1 = llamacpp.cpu_busy_seconds()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    own = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    env = {"load_before": before, "load_after": llamacpp.loadavg(), "wall_s": round(wall, 2),
           "bench_cpu_cores": round(own / wall, 2),
           "foreign_cpu_cores": round(max(0.0, (b1 - b0) - own) / wall, 2), "aborted": False}
    return result, env


def measure(name: str, run, figure, a) -> dict:
    """Wait for a quiet machine, run, and repeat (up to --tries) while the run was not clean.

    run(abort_foreign) -> (result, env); figure(result) -> tokens/s (higher is better).
    Keeps the first clean attempt, else the fastest completed one, like llamacpp.with_retries.
    """
    deadline = time.time() + a.patience
    attempts: list[dict] = []
    for _ in range(a.tries):
        quiet = llamacpp.wait_quiet(a.max_load, a.max_foreign, deadline)
        abort = a.abort_foreign if quiet and time.time() < deadline else None
        try:
            result, env = run(abort)
        except (RuntimeError, OSError) as e:
            log(f"  {name}: failed: {str(e).strip()[-500:]}")
            attempts.append({"error": str(e)[-2000:]})
            break
        la = env["load_before"]
        clean = not env["aborted"] and la[0] <= a.max_load and env["foreign_cpu_cores"] <= a.max_foreign
        tps = None if env["aborted"] else figure(result)
        attempts.append({**env, "clean": clean, "tokens_per_second": tps, "result": result})
        what = "aborted, other processes took the CPU" if env["aborted"] else f"{tps:.2f} tokens/s"
        log(f"  {name}: {what} | load before {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}, "
            f"other CPU {env['foreign_cpu_cores']:.2f} cores, {env['wall_s']:.1f} s")
        if clean:
            break
    done = [x for x in attempts if x.get("tokens_per_second") is not None]
    chosen = next((x for x in done if x["clean"]), None) or max(done, key=lambda x: x["tokens_per_second"],
                                                              default=None)
    return {"tokens_per_second": chosen["tokens_per_second"] if chosen else None,
            "clean": bool(chosen and chosen["clean"]), "result": chosen["result"] if chosen else None,
            "attempts": [{k: v for k, v in x.items() if k != "result"} for x in attempts]}


def subprocess_run(cmd: list[str], parse):
    def run(abort):
        out, env = llamacpp.run_measured(cmd, abort)
        return (None if env["aborted"] else parse(out)), env
    return run


# ---- engines --------------------------------------------------------------------------------

def last_json_line(out: str) -> dict:
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError("no JSON line in score-cli output:\n" + out[-2000:])
    return json.loads(lines[-1])


class Ours:
    """score-cli, one process per measurement (it loads the model and warms up itself)."""

    def __init__(self, cli: Path, model_dir: Path, a):
        self.cli, self.model_dir, self.a = cli, model_dir, a
        self.weight_bytes: float | None = None

    def ready(self) -> str | None:
        return None if self.wait_for_cli() else f"{self.cli} not found"

    def wait_for_cli(self) -> bool:
        """Another engineer may be rebuilding the binary: wait up to --cli-wait s for it."""
        deadline = time.time() + self.a.cli_wait
        while not self.cli.is_file():
            if time.time() > deadline:
                return False
            log(f"  {self.cli} not available, waiting for the build...")
            time.sleep(10)
        return True

    def commands(self) -> dict[str, list[str]]:
        t = str(self.a.threads)
        compute = ["--compute", self.a.compute] if self.a.compute != "f32" else []
        cmds = {"prefill512": [str(self.cli), "bench", str(self.model_dir), "--tokens", str(PREFILL),
                               "--repeat", "1", "--threads", t, "--json"] + compute}
        for b in self.a.batch_list:
            cmds[f"decode_b{b}"] = [str(self.cli), "bench-decode", str(self.model_dir), "--batch", str(b),
                                    "--prompt", str(PROMPT), "--new", str(NEW), "--repeat", "1",
                                    "--threads", t, "--json"] + compute
        return cmds

    def round(self, a) -> dict[str, dict]:
        figures = {}
        for metric, cmd in self.commands().items():
            if not self.wait_for_cli():
                log(f"  ours {metric}: {self.cli} is missing, skipped")
                continue
            m = measure(f"ours {metric}", subprocess_run(cmd, last_json_line),
                        lambda r: r["tokens_per_second"], a)
            if m["result"] and "weight_bytes" in m["result"]:
                self.weight_bytes = m["result"]["weight_bytes"]
            figures[metric] = m
        return figures


class LlamaCpp:
    """llama-bench (-r 1, after its own warm-up run) and llama-batched-bench."""

    def __init__(self, bin_dir: Path, gguf: Path, a):
        self.bench = bin_dir / "llama-bench"
        self.batched = bin_dir / "llama-batched-bench"
        self.gguf, self.a = gguf, a

    def ready(self) -> str | None:
        for f in (self.bench, self.batched):
            if not f.is_file():
                return f"{f} not found (see tools/bench/README-llamacpp.md)"
        if not self.gguf.is_file():
            return f"{self.gguf} not found (make it with tools/bench/make_gguf.py)"
        return None

    def commands(self) -> dict[str, list[str]]:
        t = str(self.a.threads)
        lb = lambda *args: [str(self.bench), "-m", str(self.gguf), *args, "-t", t, "-r", "1", "-o", "json"]  # noqa: E731
        return {"prefill512": lb("-p", str(PREFILL), "-n", "0"),
                "pg32_128": lb("-p", "0", "-n", "0", "-pg", f"{PROMPT},{NEW}"),
                "prefill32": lb("-p", str(PROMPT), "-n", "0"),
                "tg128": lb("-p", "0", "-n", str(NEW)),
                "batched": [str(self.batched), "-m", str(self.gguf), "-c", "4096", "-b", "2048", "-ub", "512",
                            "-npp", str(PROMPT), "-ntg", str(NEW), "-npl", ",".join(map(str, self.a.batch_list)),
                            "-t", t, "--output-format", "jsonl"]}

    def round(self, a) -> dict[str, dict]:
        cmds = self.commands()
        avg = lambda r: r["avg_ts"]  # noqa: E731
        runs = {k: measure(f"llama.cpp {k}", subprocess_run(cmd, llamacpp.parse_llama_bench), avg, a)
                for k, cmd in cmds.items() if k != "batched"}
        # One batched-bench run covers all batch sizes; its figure for retries is the total S_TG.
        runs["batched"] = measure("llama.cpp batched", subprocess_run(cmds["batched"], llamacpp.parse_batched),
                                  lambda r: sum(v["s_tg_tps"] for v in r.values()), a)
        figures = {"prefill512": runs["prefill512"], "tg128": runs["tg128"]}
        figures["decode_b1"] = self.pg_derived(runs["pg32_128"], runs["prefill32"])
        for b in a.batch_list:
            s_tg = (runs["batched"]["result"] or {}).get(str(b))
            figures[f"batched_b{b}"] = {"tokens_per_second": s_tg["s_tg_tps"] if s_tg else None,
                                        "clean": runs["batched"]["clean"], "from": "batched"}
        figures["raw"] = runs
        return figures

    @staticmethod
    def pg_derived(pg: dict, pp: dict) -> dict:
        """The generated tokens alone: n_gen / (t(pg) - t(pp32)), as llamacpp.py's pg32_128_decode_tps_derived."""
        if not (pg["result"] and pp["result"]):
            return {"tokens_per_second": None, "clean": False, "from": "pg32_128 - prefill32"}
        t_pg, t_pp = pg["result"]["avg_s"], pp["result"]["avg_s"]
        tps = round(pg["result"]["n_gen"] / (t_pg - t_pp), 3) if t_pg > t_pp else None
        return {"tokens_per_second": tps, "clean": pg["clean"] and pp["clean"], "from": "pg32_128 - prefill32",
                "t_pg_s": t_pg, "t_pp32_s": t_pp}


class Torch:
    """transformers generate in this process: greedy, fixed length, timed minus a 1-token generate.

    The model is loaded once, before the rounds, and stays in memory while the other engines run.
    """

    def __init__(self, model_dir: Path, a):
        self.model_dir, self.a = model_dir, a

    def ready(self) -> str | None:
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401
        except ImportError as e:
            return f"torch/transformers not importable ({e})"
        try:
            self.load()
        except Exception as e:  # a model transformers cannot load is a skipped engine, not a crash
            return f"loading {self.model_dir} in transformers failed: {type(e).__name__}: {e}"
        return None

    def load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.torch = torch
        torch.set_num_threads(self.a.threads)
        t0 = time.perf_counter()
        self.model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=getattr(torch, self.a.dtype)).eval()
        log(f"  torch: loaded {self.model_dir} as {self.a.dtype} in {time.perf_counter() - t0:.1f} s "
            f"(attention: {getattr(self.model.config, '_attn_implementation', '?')})")
        gen = torch.Generator().manual_seed(7)
        self.prompts = torch.randint(0, self.model.config.vocab_size, (max(self.a.batch_list), PROMPT), generator=gen)
        eos = self.model.generation_config.eos_token_id
        self.pad = self.model.generation_config.pad_token_id
        if self.pad is None:
            self.pad = (eos[0] if isinstance(eos, list) else eos) if eos is not None else 0
        for b in self.a.batch_list:  # warm-up: first-call allocations, thread pool start
            self.generate(b, 2)

    def generate(self, batch: int, new: int) -> float:
        ids = self.prompts[:batch]
        with self.torch.inference_mode():
            t0 = time.perf_counter()
            out = self.model.generate(input_ids=ids, attention_mask=self.torch.ones_like(ids), do_sample=False,
                                      max_new_tokens=new, min_new_tokens=new, pad_token_id=self.pad)
            dt = time.perf_counter() - t0
        assert tuple(out.shape) == (batch, PROMPT + new), out.shape
        return dt

    def decode(self, batch: int) -> dict:
        t1 = self.generate(batch, 1)
        tn = self.generate(batch, NEW)
        return {"t1_s": t1, f"t{NEW}_s": tn,
                "tokens_per_second": batch * (NEW - 1) / (tn - t1) if tn > t1 else None}

    def commands(self) -> dict[str, str]:
        return {f"decode_b{b}": f"AutoModelForCausalLM.from_pretrained({self.model_dir}, dtype=torch.{self.a.dtype})"
                                f".generate(input_ids[{b}x{PROMPT}], attention_mask=ones, do_sample=False, "
                                f"min_new_tokens=max_new_tokens={NEW} and =1, pad_token_id={self.pad}); "
                                f"torch.set_num_threads({self.a.threads}), inference_mode"
                for b in self.a.batch_list}

    def round(self, a) -> dict[str, dict]:
        figures = {}
        for b in a.batch_list:
            figures[f"decode_b{b}"] = measure(f"torch decode_b{b}", lambda _abort, b=b: run_inprocess(
                lambda: self.decode(b)), lambda r: r["tokens_per_second"], a)
        return figures


# ---- run and report -------------------------------------------------------------------------

def git_commit() -> str | None:
    """HEAD's commit, read from .git directly (no git process)."""
    git = ROOT / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).is_file():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        pass
    return None


def machine() -> dict:
    cpu = platform.processor()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    versions = {"python": platform.python_version()}
    try:
        import torch
        import transformers
        versions |= {"torch": torch.__version__, "transformers": transformers.__version__}
    except ImportError:
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "commit": git_commit(), "versions": versions}


def metric_rows(batches: list[int]) -> list[tuple[str, str, dict[str, str]]]:
    """(label, key in the summary, which figure each engine contributes)."""
    rows = [("prefill 512", "prefill512", {"ours": "prefill512", "llamacpp": "prefill512"})]
    for b in batches:
        rows.append((f"decode b{b}", f"decode_b{b}",
                     {"ours": f"decode_b{b}", "llamacpp": "decode_b1" if b == 1 else f"batched_b{b}",
                      "torch": f"decode_b{b}"}))
    rows.append(("llama.cpp tg128 (empty KV)", "tg128", {"llamacpp": "tg128"}))
    if 1 in batches:
        rows.append(("llama.cpp batched-bench b1", "batched_b1", {"llamacpp": "batched_b1"}))
    return rows


def summarize(rounds: list[dict], batches: list[int]) -> dict:
    out = {}
    for _, key, sources in metric_rows(batches):
        row = {}
        for engine, fig in sources.items():
            per_round = [r.get(engine, {}).get(fig, {}) for r in rounds]
            values = [x.get("tokens_per_second") for x in per_round]
            got = [v for v in values if v is not None]
            unclean = sum(1 for x, v in zip(per_round, values) if v is not None and not x.get("clean"))
            if got:
                row[engine] = {"median": round(statistics.median(got), 3), "best": round(max(got), 3),
                               "rounds": values, "unclean_rounds": unclean}
        if row:
            out[key] = row
    return out


def ratio(summary_row: dict, other: str) -> float | None:
    if "ours" in summary_row and other in summary_row and summary_row[other]["median"]:
        return round(summary_row["ours"]["median"] / summary_row[other]["median"], 3)
    return None


def print_table(line: dict) -> None:
    s, engines = line["summary"], line["engines_run"]
    bound = line["bandwidth_bound_tps"]
    print()
    print(f"{line['shape']} {line['dtype']} (ours: kernels {line['kernels']}, compute {line['compute']}), "
          f"{line['threads']} threads, {line['rounds']} alternating rounds; "
          f"tokens/s, median over rounds (best round); decode = {NEW} new tokens after a {PROMPT}-token prompt")
    cols = [ENGINE_NAMES[e] for e in engines]
    ratios = [e for e in ("llamacpp", "torch") if e in engines and "ours" in engines]
    header = f"{'metric':<28}" + "".join(f"{c:>20}" for c in cols) + "".join(
        f"{'ours÷' + ENGINE_NAMES[e]:>16}" for e in ratios)
    print(header)
    for label, key, _ in metric_rows(line["batches"]):
        row = s.get(key, {})
        if not row:
            continue
        cells = []
        for e in engines:
            f = row.get(e)
            cells.append(f"{f['median']:.1f} ({f['best']:.1f}){'*' if f['unclean_rounds'] else ''}" if f else "-")
        rs = [ratio(row, e) for e in ratios]
        print(f"{label:<28}" + "".join(f"{c:>20}" for c in cells) + "".join(
            f"{f'{r:.2f}x' if r else '-':>16}" for r in rs))
        if key == "decode_b1" and bound:
            pct = [f"{100 * row[e]['median'] / bound:.0f}%" if e in row else "-" for e in engines]
            print(f"{'  % of the run best bound':<28}" + "".join(f"{p:>20}" for p in pct))
            near = line.get("percent_of_adjacent_bound_b1") or {}
            pct = [f"{near[e]:.0f}%" if e in near else "-" for e in engines]
            print(f"{'  % of its turn bound':<28}" + "".join(f"{p:>20}" for p in pct))
    bw = line["membw_gbps"]
    if bound:
        print(f"bandwidth bound: {line['weight_bytes'] / 1e6:.1f} MB of weights per token "
              f"({line['weight_bytes_source']}) / {max(x for x in bw['between_turns'] if x):.1f} GB/s "
              f"(membw between turns: {', '.join(f'{x:.1f}' if x else '-' for x in bw['between_turns'])}) = {bound:.1f} tokens/s; "
              f"the turn's bound sets each engine's decode against the higher bandwidth measured around its turn")
    else:
        print("bandwidth bound: not available (no membw tool or no weight size)")
    for e, why in line["engines_skipped"].items():
        print(f"skipped {ENGINE_NAMES[e]}: {why}")
    if any(f["unclean_rounds"] for row in s.values() for f in row.values()):
        print("* some rounds ran on a busy machine (load or other processes over the limits): rerun")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", choices=sorted(make_bench_model.SHAPES), default="smollm2-135m")
    p.add_argument("--dtype", choices=make_bench_model.DTYPES, default="float32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--engines", default="ours,llamacpp,torch", help="comma-separated subset of " + ",".join(ENGINES))
    p.add_argument("--batches", default="1,8,16,32", help="decode batch sizes")
    p.add_argument("--gguf", type=Path, help="default: /work/peers/models/<shape>-<dtype>.gguf")
    p.add_argument("--bin-dir", type=Path, default=llamacpp.DEFAULT_BIN, help="llama.cpp binaries")
    p.add_argument("--cli", type=Path, default=ROOT / ".build" / "release" / "score-cli")
    p.add_argument("--cli-wait", type=float, default=600, help="s to wait for a score-cli being rebuilt")
    p.add_argument("--kernels", choices=["reference", "avx2", "avx512", "avx512bf16"],
                   help="our kernel path (sets SCORE_KERNELS for score-cli; default: the CPU's best)")
    p.add_argument("--compute", choices=["f32", "bf16"], default="f32", help="our inference arithmetic (score-cli --compute)")
    p.add_argument("--model-dir", type=Path, help="default: bench-models/<shape>-<dtype>/ (made if missing)")
    p.add_argument("--membw", type=Path, default=Path(os.environ.get("MEMBW_BIN", "/work/peers/membw/membw")),
                   help="memory-bandwidth tool run at start and end; skipped if missing")
    p.add_argument("--max-load", type=float, default=1.5, help="1-minute load average to wait for")
    p.add_argument("--max-foreign", type=float, default=0.3, help="cores other processes may use")
    p.add_argument("--abort-foreign", type=float, default=0.5,
                   help="kill a subprocess run when other processes use more cores than this (after 6 s)")
    p.add_argument("--tries", type=int, default=2, help="attempts per measurement while it is not clean")
    p.add_argument("--patience", type=float, default=600,
                   help="s per measurement to wait for a quiet machine; then it runs anyway, marked unclean")
    p.add_argument("--json", action="store_true", help="print the JSON line instead of the table")
    p.add_argument("--out", type=Path, help="append the JSON line to this file")
    a = p.parse_args()
    a.batch_list = sorted({int(x) for x in a.batches.split(",") if x.strip()})
    if a.kernels:
        os.environ["SCORE_KERNELS"] = a.kernels
    wanted = [e.strip() for e in a.engines.split(",") if e.strip()]
    if bad := [e for e in wanted if e not in ENGINES]:
        p.error(f"unknown engine(s) {bad}; choose from {','.join(ENGINES)}")
    if a.rounds < 1:
        p.error(f"--rounds {a.rounds}: need at least one round")
    if not a.batch_list or min(a.batch_list) < 1:
        p.error(f"--batches {a.batches!r}: need positive batch sizes")

    model_dir = make_bench_model.ensure(a.shape, a.dtype, a.model_dir)
    gguf = a.gguf or llamacpp.GGUF_DIR / f"{a.shape}-{a.dtype}.gguf"
    makers = {"ours": lambda: Ours(a.cli, model_dir, a), "llamacpp": lambda: LlamaCpp(a.bin_dir, gguf, a),
              "torch": lambda: Torch(model_dir, a)}
    engines, skipped = {}, {}
    for name in [e for e in ENGINES if e in wanted]:
        eng = makers[name]()
        why = eng.ready()
        if why:
            log(f"{ENGINE_NAMES[name]}: skipped, {why}")
            skipped[name] = why
        else:
            engines[name] = eng
    if not engines:
        raise SystemExit("no engine available")
    log(f"decode benchmark: {a.shape} {a.dtype}, {a.threads} threads, {a.rounds} rounds, batches {a.batch_list}, "
        f"engines {', '.join(ENGINE_NAMES[e] for e in engines)}")

    loadavg_start = Path("/proc/loadavg").read_text().strip()
    # The host's bandwidth drifts (29-46 GB/s within an hour here), so it is
    # measured between rounds and each round's decode is set against the
    # bandwidth next to it.
    # Measured again around every engine's turn: a turn's decode is set
    # against the higher of the two bandwidths measured next to it.
    between = [llamacpp.bandwidth(a)]
    around: list[dict] = []  # per round: engine -> (bandwidth before, after)
    rounds: list[dict] = []
    for r in range(a.rounds):
        log(f"round {r + 1}/{a.rounds}")
        row, near = {}, {}
        for name, eng in engines.items():
            row[name] = eng.round(a)
            between.append(llamacpp.bandwidth(a))
            near[name] = (between[-2], between[-1])
        rounds.append(row)
        around.append(near)
    membw = {"before": between[0], "after": between[-1], "between_turns": between}

    weight_bytes, source = engines["ours"].weight_bytes if "ours" in engines else None, "score-cli bench-decode"
    if weight_bytes is None:  # ours not run: the checkpoint's size (embedding stored once when tied)
        weight_bytes = float(sum(f.stat().st_size for f in model_dir.glob("*.safetensors")))
        source = "safetensors file size"
    gbps = max((x for x in between if x), default=None)
    bound = round(gbps * 1e9 / weight_bytes, 3) if gbps and weight_bytes else None
    summary = summarize(rounds, a.batch_list)
    # Per turn: batch-1 decode over the bound from the higher of the two
    # bandwidths measured around that engine's turn; the median over rounds.
    percent_adjacent = {}
    for e, fig in metric_rows(a.batch_list)[1][2].items() if 1 in a.batch_list else []:
        got = []
        for r, row in enumerate(rounds):
            tps = row.get(e, {}).get(fig, {}).get("tokens_per_second")
            bw = max((x for x in around[r].get(e, ()) if x), default=None)
            if tps and bw and weight_bytes:
                got.append(100 * tps * weight_bytes / (bw * 1e9))
        if got:
            percent_adjacent[e] = round(statistics.median(got), 1)
    line = {
        "bench": "decode-vs-peers", "shape": a.shape, "dtype": a.dtype, "threads": a.threads, "rounds": a.rounds,
        "kernels": a.kernels or "best", "compute": a.compute,
        "batches": a.batch_list, "prompt": PROMPT, "new": NEW, "prefill_tokens": PREFILL,
        "model_dir": str(model_dir), "gguf": str(gguf), "cli": str(a.cli),
        "engines_run": list(engines), "engines_skipped": skipped,
        "membw_gbps": membw, "weight_bytes": weight_bytes, "weight_bytes_source": source,
        "bandwidth_bound_tps": bound,
        "summary": summary,
        "ratios": {key: {f"ours/{e}": ratio(row, e) for e in ("llamacpp", "torch") if ratio(row, e)}
                   for key, row in summary.items()},
        "percent_of_bound_b1": {e: round(100 * f["median"] / bound, 1)
                                for e, f in summary.get("decode_b1", {}).items()} if bound else None,
        "percent_of_adjacent_bound_b1": percent_adjacent or None,
        "commands": {name: {k: " ".join(v) if isinstance(v, list) else v for k, v in eng.commands().items()}
                     for name, eng in engines.items()},
        "limits": {"max_load": a.max_load, "max_foreign": a.max_foreign, "abort_foreign": a.abort_foreign,
                   "tries": a.tries, "patience": a.patience},
        "per_round": rounds,
        "loadavg_start": loadavg_start, "loadavg_end": Path("/proc/loadavg").read_text().strip(),
        "machine": machine(),
    }
    s = json.dumps(line)
    if a.out:
        with open(a.out, "a") as f:
            f.write(s + "\n")
    if a.json:
        print(s, flush=True)
    else:
        print_table(line)


if __name__ == "__main__":
    main()
