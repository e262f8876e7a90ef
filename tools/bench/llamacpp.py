#!/usr/bin/env python3
"""Measure llama.cpp on a bench model, for comparison with libscore.

Usage:
    python tools/bench/llamacpp.py --shape smollm2-135m --dtype float32 [-t 2]
    python tools/bench/llamacpp.py --gguf /path/model.gguf [-t 2]

Runs (llama.cpp binaries from --bin-dir, env LLAMA_CPP_BIN; see README-llamacpp.md):
    llama-bench -m GGUF -p 512 -n 0 -t T            prefill of 512 tokens          -> prefill512_tps
    llama-bench -m GGUF -p 0 -n 128 -t T            decode 128, batch 1, empty KV  -> decode128_tps
    llama-bench -m GGUF -p 0 -n 0 -pg 32,128 -t T   32-token prompt then 128 new   -> pg32_128_tps
    llama-bench -m GGUF -p 32 -n 0 -t T             prefill of 32 (to split pg)    -> prefill32_tps
    llama-batched-bench -m GGUF -c 4096 -b 2048 -ub 512 -npp 32 -ntg 128 -npl 1,8,16,32 -t T
                                                    parallel decode                -> batched[npl].s_tg_tps

pg32_128_tps is llama-bench's own figure: (32 + 128) tokens / total time, prompt
included. pg32_128_decode_tps_derived = 128 / (t_pg - t_pp32) isolates the 128
generated tokens, the closest match to "128 new tokens after a 32-token prompt";
batched[1].s_tg_tps measures the same thing in llama-batched-bench.

The machine is shared, and llama.cpp's spinning thread pool slows down by up to
10x when another process takes a core, so runs are guarded. Before each run the
script waits until the 1-minute load average is <= --max-load (1.5) and other
processes use <= --max-foreign cores (0.3); during the run it measures the CPU
used by processes other than the benchmark (/proc/stat busy time minus the
child's own CPU time) and kills the run if that exceeds --abort-foreign (0.5
cores) on average. A completed run with load > --max-load before it, or other
CPU > --max-foreign during it, is repeated (up to --tries completed runs); the
best clean figure is kept. After --patience seconds per test it runs regardless
and marks the figure "clean": false. Every attempt is recorded with the load
averages before/after it (as `uptime` prints them) and the other processes' CPU.

Prints progress on stderr and one JSON line on stdout (also appended to --out).
`python tools/bench/llamacpp.py --table results.jsonl` prints a markdown table of
such lines.
llama-bench figures are its average over -r repetitions (default 5, after a
warm-up run); the per-repetition best is given too.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_BIN = Path(os.environ.get("LLAMA_CPP_BIN", "/work/peers/llama-build/bin"))
GGUF_DIR = Path(os.environ.get("LLAMA_GGUF_DIR", "/work/peers/models"))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def cpu_busy_seconds() -> float:
    """Busy CPU time of the whole machine, seconds (all cores)."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (f + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float:
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def foreign_now(seconds: float = 2.0) -> float:
    """Cores busy over the next `seconds` (nothing of ours runs meanwhile)."""
    b0 = cpu_busy_seconds()
    time.sleep(seconds)
    return (cpu_busy_seconds() - b0) / seconds


def wait_quiet(max_load: float, max_foreign: float, deadline: float) -> bool:
    """Wait until the machine is quiet; False if the deadline passed first."""
    said = False
    calm = 0
    while True:
        la = loadavg()[0]
        busy = foreign_now(2.0)
        calm = calm + 1 if la <= max_load and busy <= max_foreign else 0
        if calm >= 2:  # quiet over two 2-s samples in a row
            return True
        if calm:
            continue
        if time.time() > deadline:
            log(f"  (still busy at the deadline: load {la:.2f}, other CPU {busy:.2f} cores; running anyway)")
            return False
        if not said:
            log(f"  waiting for a quiet machine (load {la:.2f}, other CPU {busy:.2f} cores)")
            said = True
        time.sleep(3)


def run_measured(cmd: list[str], abort_foreign: float | None) -> tuple[str, dict]:
    """Run cmd; return stdout and load/CPU figures.

    Other processes' CPU use = machine busy time - the benchmark's own CPU time.
    If abort_foreign is set and, after 6 s, other processes have used more than
    that many cores on average, the run is killed and marked aborted.
    """
    import tempfile

    before = loadavg()
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        b0 = cpu_busy_seconds()
        t0 = time.time()
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, text=True)
        aborted = False
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(1.0)
            el = time.time() - t0
            if abort_foreign is not None and el >= 6 and not aborted:
                foreign = (cpu_busy_seconds() - b0 - proc_cpu_seconds(p.pid)) / el
                if foreign > abort_foreign:
                    os.kill(p.pid, signal.SIGKILL)  # not p.kill(): its poll() could reap the child
                    aborted = True
        wall = time.time() - t0
        b1 = cpu_busy_seconds()
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    child = ru.ru_utime + ru.ru_stime
    foreign = max(0.0, (b1 - b0) - child) / wall
    env = {"load_before": before, "load_after": loadavg(), "wall_s": round(wall, 2),
           "bench_cpu_cores": round(child / wall, 2), "foreign_cpu_cores": round(foreign, 2),
           "aborted": aborted}
    if p.returncode != 0 and not aborted:
        raise RuntimeError(f"{cmd[0]} exited {p.returncode}:\n{err[-3000:]}")
    return out, env


def with_retries(name: str, cmd: list[str], parse, better, a) -> dict:
    attempts = []
    done = []
    deadline = time.time() + a.patience
    while len(done) < a.tries:
        quiet = wait_quiet(a.max_load, a.max_foreign, deadline)
        out, env = run_measured(cmd, a.abort_foreign if quiet and time.time() < deadline else None)
        la = env["load_before"]
        where = (f"load before {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}, other CPU {env['foreign_cpu_cores']:.2f} cores, "
                 f"{env['wall_s']:.0f} s")
        if env["aborted"]:
            attempts.append({**env, "result": None})
            log(f"  {name}: aborted, other processes took the CPU | {where}")
            continue
        res = parse(out)
        att = {**env, "result": res}
        attempts.append(att)
        done.append(att)
        log(f"  {name} try {len(done)}: {summary(res)}  | {where}")
        if la[0] <= a.max_load and env["foreign_cpu_cores"] <= a.max_foreign:
            break
    clean = [x for x in done if x["load_before"][0] <= a.max_load and x["foreign_cpu_cores"] <= a.max_foreign]
    pool = clean or done
    best = pool[0]
    for x in pool[1:]:
        if better(x["result"], best["result"]):
            best = x
    return {"cmd": " ".join(cmd), "best": best, "attempts": attempts, "clean": bool(clean)}


def summary(res) -> str:
    if res is None:
        return "aborted"
    if isinstance(res, dict) and "avg_ts" in res:
        return f"{res['avg_ts']:.2f} t/s (best rep {res['best_ts']:.2f})"
    return ", ".join(f"npl {k}: S_TG {v['s_tg_tps']:.2f} t/s" for k, v in res.items())


def parse_llama_bench(out: str) -> dict:
    rows = json.loads(out)
    assert len(rows) == 1, rows
    r = rows[0]
    return {"n_prompt": r["n_prompt"], "n_gen": r["n_gen"], "avg_ts": round(r["avg_ts"], 3),
            "stddev_ts": round(r["stddev_ts"], 3), "best_ts": round(max(r["samples_ts"]), 3),
            "avg_s": r["avg_ns"] / 1e9, "best_s": min(r["samples_ns"]) / 1e9,
            "samples_ts": r["samples_ts"], "flash_attn": r.get("flash_attn"),
            "build_commit": r.get("build_commit"), "model_type": r.get("model_type")}


def parse_batched(out: str) -> dict:
    res = {}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            res[str(r["pl"])] = {"s_tg_tps": round(r["speed_tg"], 3), "s_pp_tps": round(r["speed_pp"], 3),
                                 "t_tg_s": r["t_tg"], "t_pp_s": r["t_pp"], "n_kv": r["n_kv"],
                                 "n_kv_max": r["n_kv_max"], "flash_attn": r["flash_attn"]}
    if not res:
        raise RuntimeError("no jsonl rows in llama-batched-bench output:\n" + out[-2000:])
    return res


def bandwidth(a) -> float | None:
    """Best-of-5 read bandwidth (GB/s) with T threads: the host's bandwidth drifts over time.
    The membw tool when it is there, else `score-cli bench-memory` (the same measure: T threads
    summing 1 GB)."""
    cli = getattr(a, "cli", None)
    if (not a.membw or not Path(a.membw).is_file()) and cli and Path(cli).is_file():
        wait_quiet(a.max_load, a.max_foreign, time.time() + 120)
        out = subprocess.run([str(cli), "bench-memory", "--mb", "1024", "--repeat", "5", "--threads", str(a.threads),
                              "--json"], capture_output=True, text=True).stdout
        try:
            gbps = float(json.loads(out.strip().splitlines()[-1])["gbps"])
        except Exception:
            return None
        log(f"  memory read bandwidth (score-cli bench-memory): {gbps:.2f} GB/s")
        return gbps
    if not a.membw or not Path(a.membw).is_file():
        return None
    wait_quiet(a.max_load, a.max_foreign, time.time() + 120)
    out = subprocess.run([str(a.membw), "1024", "5"], capture_output=True, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS=str(a.threads))).stdout
    for tok in out.split():
        if tok.startswith("best="):
            gbps = float(tok[5:])
            log(f"  memory read bandwidth: {gbps:.2f} GB/s")
            return gbps
    return None


def table(path: Path) -> None:
    """Markdown table of the JSON lines in path (one row per run)."""
    cols = ["model", "pp512", "tg128", "pg32,128", "pg decode*", "bb npl1", "bb npl8", "bb npl16", "bb npl32",
            "load before (pp512)", "other CPU max", "GB/s before/after", "clean"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for raw in Path(path).read_text().splitlines():
        d = json.loads(raw)
        f = lambda k: f"{d[k]['tps']:.1f}" if d.get(k) else "-"  # noqa: E731
        bb = d.get("batched") or {}
        tg = bb.get("s_tg_tps", {})
        figs = [d[k] for k in ("prefill512_tps", "decode128_tps", "pg32_128_tps", "prefill32_tps") if d.get(k)]
        figs += [bb] if bb else []
        other = max((x["other_cpu_cores"] for x in figs), default=0)
        clean = all(x["clean"] for x in figs)
        la = d["prefill512_tps"]["load_before"] if d.get("prefill512_tps") else []
        bw = d.get("membw_gbps") or {}
        der = d.get("pg32_128_decode_tps_derived")
        name = f"{d['shape']} {d['dtype']}" if d.get("shape") else Path(d["gguf"]).name
        row = [name, f("prefill512_tps"), f("decode128_tps"), f("pg32_128_tps"), f"{der:.1f}" if der else "-",
               *(f"{tg[n]:.1f}" if n in tg else "-" for n in ("1", "8", "16", "32")),
               " ".join(f"{x:.2f}" for x in la),
               f"{other:.2f}", "/".join(f"{bw[k]:.0f}" if bw.get(k) else "-" for k in ("before", "after")), "yes" if clean else "NO"]
        print("| " + " | ".join(row) + " |")
    print("\nt/s; pp = prefill, tg = decode (batch 1, empty prompt), pg32,128 = llama-bench's (32+128)/time, "
          "pg decode* = 128/(t_pg - t_pp32), bb = llama-batched-bench S_TG (npl parallel sequences).")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--table":
        table(Path(sys.argv[2]))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gguf", type=Path)
    p.add_argument("--shape", default="smollm2-135m")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("-t", "--threads", type=int, default=2)
    p.add_argument("--bin-dir", type=Path, default=DEFAULT_BIN)
    p.add_argument("-r", "--reps", type=int, default=5, help="llama-bench -r (default 5, its default)")
    p.add_argument("--npl", default="1,8,16,32")
    p.add_argument("--ctx", type=int, default=4096, help="llama-batched-bench -c")
    p.add_argument("--tests", default="pp512,tg128,pg32_128,pp32,batched")
    p.add_argument("--tries", type=int, default=3)
    p.add_argument("--max-load", type=float, default=1.5)
    p.add_argument("--max-foreign", type=float, default=0.3, help="cores used by other processes")
    p.add_argument("--abort-foreign", type=float, default=0.5,
                   help="kill a run when other processes use more cores than this on average (after 6 s)")
    p.add_argument("--patience", type=float, default=1800,
                   help="s per test to wait for quiet runs; after it, run regardless and flag 'clean': false")
    p.add_argument("--out", type=Path, help="append the JSON line to this file")
    p.add_argument("--membw", type=Path, default=Path(os.environ.get("MEMBW_BIN", "/work/peers/membw/membw")),
                   help="memory-bandwidth tool run before and after (README-llamacpp.md); skipped if missing")
    a = p.parse_args()

    gguf = a.gguf or GGUF_DIR / f"{a.shape}-{a.dtype}.gguf"
    if not gguf.is_file():
        if a.gguf:
            raise SystemExit(f"{gguf}: not found")
        log(f"{gguf} missing: converting with make_gguf.py")
        subprocess.run([sys.executable, str(HERE / "make_gguf.py"), "--shape", a.shape, "--dtype", a.dtype],
                       check=True, stdout=subprocess.DEVNULL)
    bench = str(a.bin_dir / "llama-bench")
    bbench = str(a.bin_dir / "llama-batched-bench")
    T = str(a.threads)
    lb = lambda *args: [bench, "-m", str(gguf), *args, "-t", T, "-r", str(a.reps), "-o", "json"]  # noqa: E731
    faster = lambda x, y: x["avg_ts"] > y["avg_ts"]  # noqa: E731
    tests = a.tests.split(",")
    results: dict = {}
    log(f"llama.cpp on {gguf} with {a.threads} threads")
    uptime_start = Path("/proc/loadavg").read_text().strip()
    membw = {"before": bandwidth(a), "after": None}
    if "pp512" in tests:
        results["pp512"] = with_retries("pp512", lb("-p", "512", "-n", "0"), parse_llama_bench, faster, a)
    if "tg128" in tests:
        results["tg128"] = with_retries("tg128", lb("-p", "0", "-n", "128"), parse_llama_bench, faster, a)
    if "pg32_128" in tests:
        results["pg32_128"] = with_retries("pg32,128", lb("-p", "0", "-n", "0", "-pg", "32,128"),
                                           parse_llama_bench, faster, a)
    if "pp32" in tests:
        results["pp32"] = with_retries("pp32", lb("-p", "32", "-n", "0"), parse_llama_bench, faster, a)
    if "batched" in tests:
        cmd = [bbench, "-m", str(gguf), "-c", str(a.ctx), "-b", "2048", "-ub", "512", "-npp", "32", "-ntg", "128",
               "-npl", a.npl, "-t", T, "--output-format", "jsonl"]
        total = lambda r: sum(v["s_tg_tps"] for v in r.values())  # noqa: E731
        results["batched"] = with_retries("batched", cmd, parse_batched, lambda x, y: total(x) > total(y), a)

    def fig(key):
        if key not in results:
            return None
        b = results[key]["best"]
        return {"tps": b["result"]["avg_ts"], "best_rep_tps": b["result"]["best_ts"],
                "stddev_tps": b["result"]["stddev_ts"], "load_before": b["load_before"],
                "other_cpu_cores": b["foreign_cpu_cores"], "clean": results[key]["clean"],
                "tries": len(results[key]["attempts"])}

    line: dict = {
        "engine": "llama.cpp", "gguf": str(gguf), "shape": None if a.gguf else a.shape,
        "dtype": None if a.gguf else a.dtype, "threads": a.threads, "reps": a.reps,
        "loadavg_start": uptime_start, "loadavg_end": Path("/proc/loadavg").read_text().strip(),
    }
    for k in ("pp512", "tg128", "pg32_128", "pp32"):
        if k in results:
            line["build_commit"] = results[k]["best"]["result"]["build_commit"]
            line["flash_attn"] = results[k]["best"]["result"]["flash_attn"]
    line["prefill512_tps"] = fig("pp512")
    line["decode128_tps"] = fig("tg128")
    line["pg32_128_tps"] = fig("pg32_128")
    line["prefill32_tps"] = fig("pp32")
    if "pg32_128" in results and "pp32" in results:
        t_pg = results["pg32_128"]["best"]["result"]["avg_s"]
        t_pp = results["pp32"]["best"]["result"]["avg_s"]
        line["pg32_128_decode_tps_derived"] = round(128 / (t_pg - t_pp), 3) if t_pg > t_pp else None
    if "batched" in results:
        b = results["batched"]["best"]
        line["batched"] = {"cmd": results["batched"]["cmd"], "load_before": b["load_before"],
                           "other_cpu_cores": b["foreign_cpu_cores"], "clean": results["batched"]["clean"],
                           "tries": len(results["batched"]["attempts"]),
                           "s_tg_tps": {k: v["s_tg_tps"] for k, v in b["result"].items()},
                           "s_pp_tps": {k: v["s_pp_tps"] for k, v in b["result"].items()},
                           "n_kv_max": next(iter(b["result"].values()))["n_kv_max"]}
    membw["after"] = bandwidth(a)
    line["membw_gbps"] = membw
    line["commands"] = {k: v["cmd"] for k, v in results.items()}
    line["attempts"] = {k: [{kk: vv for kk, vv in att.items() if kk != "result"} | {"summary": summary(att["result"])}
                            for att in v["attempts"]] for k, v in results.items()}
    s = json.dumps(line)
    print(s, flush=True)
    if a.out:
        with open(a.out, "a") as f:
            f.write(s + "\n")


if __name__ == "__main__":
    main()
