#!/usr/bin/env python3
"""Runs `score-cli demo --json` for several seeds and prints the README's
results table: mean ± standard deviation over seeds, in percentage points.

    python tools/demo_seeds.py --seeds 0 1 2              # runs the demos (about 10 min each)
    python tools/demo_seeds.py --from run0.json run1.json  # aggregates saved outputs
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METRICS = [("acc_t1", "Acc@t1"), ("acc_t2", "Acc@t2"), ("delta", "Δ(t1,t2)"),
           ("delta_i_to_c", "Δi→c"), ("delta_c_to_i", "Δc→i"), ("answer_changed", "answer changed")]


def run(seed: int, cli: str, work: str) -> dict:
    out = subprocess.run([cli, "demo", "--seed", str(seed), "--work", f"{work}/seed{seed}", "--json"],
                         check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout)


def cell(values: list[float]) -> str:
    mean = 100 * statistics.fmean(values)
    spread = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.1f} ± {spread:.1f}"


def table(results: list[dict]) -> str:
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    ap.add_argument("--from", dest="files", nargs="*", help="aggregate these saved `demo --json` outputs")
    ap.add_argument("--cli", default=str(ROOT / ".build" / "release" / "score-cli"))
    ap.add_argument("--work", default=str(ROOT / ".build" / "demo-seeds"))
    args = ap.parse_args()
    try:
        if args.files:
            results = [json.loads(Path(f).read_text()) for f in args.files]
        else:
            results = [run(seed, args.cli, args.work) for seed in args.seeds]
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        print(f"demo_seeds.py: error: {e}", file=sys.stderr)
        sys.exit(1)
    print(table(results))


if __name__ == "__main__":
    main()
