#!/usr/bin/env python3
"""Runs `score-cli demo --json` for several seeds and prints the README's
results tables: mean ± standard deviation over seeds, then one row per seed
and model, then the checks issue #13 asks of every seed.

    python tools/demo_seeds.py --seeds 0-9 --save runs/default        # about 5 min per seed
    python tools/demo_seeds.py --seeds 0-9 --env SCORE_OPENBLAS_CORE=Haswell --save runs/haswell
    python tools/demo_seeds.py --from runs/default/*.json              # aggregates saved outputs
    python tools/demo_seeds.py --seeds 0-9 --jobs 2 --threads 1        # two seeds at a time

A seed whose demo stops on a failed premise (exit 1) is reported as such,
with its one-line reason, and counts as a failed check.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METRICS = [("acc_t1", "Acc@t1"), ("acc_t2", "Acc@t2"), ("delta", "Δ(t1,t2)"),
           ("delta_i_to_c", "Δi→c"), ("delta_c_to_i", "Δc→i"), ("answer_changed", "answer changed")]
SCORE, SINGLE, BASE = "SCoRe Stage II", "single-turn RL", "base (SFT)"


def seeds(spec: list[str]) -> list[int]:
    out: list[int] = []
    for s in spec:
        if "-" in s:
            a, b = s.split("-")
            out += range(int(a), int(b) + 1)
        else:
            out.append(int(s))
    return out


def run(seed: int, args: argparse.Namespace) -> dict:
    env = dict(os.environ)
    for kv in args.env:
        k, _, v = kv.partition("=")
        env[k] = v
    cmd = [args.cli, "demo", "--seed", str(seed), "--work", f"{args.work}/seed{seed}", "--json", *args.demo_args]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if out.returncode != 0:
        reason = [line for line in out.stderr.splitlines() if line.strip()][-1:] or [f"exit {out.returncode}"]
        result = {"seed": seed, "failed": reason[0]}
    else:
        result = json.loads(out.stdout)
    result["env"] = args.env
    if args.save:
        Path(args.save).mkdir(parents=True, exist_ok=True)
        (Path(args.save) / f"seed{seed}.json").write_text(json.dumps(result, indent=1))
    print(f"seed {seed}: " + (result.get("failed") or f"{result['seconds']['total'] / 60:.1f} min"), file=sys.stderr, flush=True)
    return result


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def cell(values: list[float]) -> str:
    mean = 100 * statistics.fmean(values)
    spread = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.1f} ± {spread:.1f}"


def summary(results: list[dict]) -> str:
    names = list(results[0]["models"])
    lines = ["| model | " + " | ".join(label for _, label in METRICS) + " |",
             "|---|" + "---|" * len(METRICS)]
    for name in names:
        cells = [cell([r["models"][name][key] for r in results]) for key, _ in METRICS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    seconds = [r["seconds"]["total"] for r in results]
    step = {k: statistics.fmean(r["rl_step_seconds"][k] for r in results) for k in ("rollout", "reference", "update")}
    tps = statistics.fmean(r["rollout_tokens_per_second"] for r in results)
    lines.append("")
    lines.append(f"Seeds {', '.join(str(r['seed']) for r in results)}; {results[0]['problems']} held-out problems; "
                 f"mean ± standard deviation over seeds, in %. Wall time per run: "
                 f"{min(seconds) / 60:.1f}–{max(seconds) / 60:.1f} min. Mean RL step: rollout {step['rollout']:.2f} s, "
                 f"reference scoring {step['reference']:.2f} s, update {step['update']:.2f} s; rollouts {tps:,.0f} tokens/s.")
    return "\n".join(lines)


def per_seed(results: list[dict]) -> str:
    lines = ["| seed | model | Acc@t1 | Acc@t2 | Δ | Δi→c | Δc→i | min |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "failed" in r:
            lines.append(f"| {r['seed']} | failed: {r['failed']} | | | | | | |")
            continue
        for name in (BASE, "SCoRe Stage I", SCORE, SINGLE):
            m = r["models"].get(name)
            if m is None:
                continue
            minutes = f"{r['seconds']['total'] / 60:.1f}" if name == BASE else ""
            lines.append(f"| {r['seed']} | {name} | {pct(m['acc_t1'])} | {pct(m['acc_t2'])} | {pct(m['delta'])} | "
                         f"{pct(m['delta_i_to_c'])} | {pct(m['delta_c_to_i'])} | {minutes} |")
    return "\n".join(lines)


def checks(results: list[dict]) -> tuple[str, bool]:
    """Issue #13's bar: every seed's premises held, SCoRe's Δ > 0 and
    Δi→c > Δc→i on every seed, and SCoRe's mean Acc@t2 above the base's
    and single-turn RL's."""
    ok = [r for r in results if "failed" not in r]
    lines, passed = [], len(ok) == len(results)
    if len(ok) < len(results):
        lines.append(f"premises failed on seeds {[r['seed'] for r in results if 'failed' in r]}")
    per = [(r["seed"], r["models"][SCORE]) for r in ok]
    bad = [s for s, m in per if not (m["delta"] > 0 and m["delta_i_to_c"] > m["delta_c_to_i"])]
    passed &= not bad
    lines.append(f"SCoRe Δ > 0 and Δi→c > Δc→i: {len(per) - len(bad)}/{len(per)} seeds" + (f" (not on {bad})" if bad else ""))
    if ok and all(SINGLE in r["models"] for r in ok):
        t2 = {name: statistics.fmean(r["models"][name]["acc_t2"] for r in ok) for name in (SCORE, SINGLE, BASE)}
        wins = sum(r["models"][SCORE]["acc_t2"] > r["models"][SINGLE]["acc_t2"] for r in ok)
        above = t2[SCORE] > t2[SINGLE] and t2[SCORE] > t2[BASE]
        passed &= above
        lines.append(f"mean Acc@t2: SCoRe {pct(t2[SCORE])}, single-turn RL {pct(t2[SINGLE])}, base {pct(t2[BASE])} "
                     f"({'above both' if above else 'NOT above both'}); SCoRe above single-turn on {wins}/{len(ok)} seeds")
    return "\n".join(lines), passed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", nargs="*", default=["0-4"], help="seeds or ranges (0-9)")
    ap.add_argument("--from", dest="files", nargs="*", help="aggregate these saved `demo --json` outputs")
    ap.add_argument("--cli", default=str(ROOT / ".build" / "release" / "score-cli"))
    ap.add_argument("--work", default=str(ROOT / ".build" / "demo-seeds"))
    ap.add_argument("--save", help="write each seed's JSON into this directory")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the demo's environment (repeatable)")
    ap.add_argument("--jobs", type=int, default=1, help="seeds run at once")
    ap.add_argument("--threads", type=int, default=0, help="--threads for each demo (0: the demo's default)")
    ap.add_argument("demo_args", nargs="*", help="more `score-cli demo` options, after --")
    args = ap.parse_args()
    try:
        if args.files:
            results = [json.loads(Path(f).read_text()) for f in args.files]
        else:
            with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                results = list(pool.map(lambda s: run(s, args), seeds(args.seeds)))
    except (OSError, ValueError) as e:
        print(f"demo_seeds.py: error: {e}", file=sys.stderr)
        sys.exit(1)
    results.sort(key=lambda r: r["seed"])
    ok = [r for r in results if "failed" not in r]
    if ok:
        print(summary(ok))
        print()
    print(per_seed(results))
    print()
    text, passed = checks(results)
    print(text)
    sys.exit(0 if passed else 2)


if __name__ == "__main__":
    main()
