#!/usr/bin/env python3
"""Math verifier speed: libscore (`score-cli bench-verify`) against Hugging
Face's math-verify on the same labelled pairs, one thread each, alternating.

    pip install math-verify
    python tools/bench/verify_speed.py [--cli .build/release/score-cli] [--rounds 3]

Prints pairs/s of both, the ratio, and each one's agreement with the labels.
"""
import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAIRS = ROOT / "Tests/Fixtures/verify/math_verify_pairs.jsonl"


def ours(cli: str) -> dict:
    out = subprocess.run([cli, "bench-verify", "--data", str(PAIRS), "--repeat", "3", "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def theirs(rows: list) -> dict:
    from math_verify import parse, verify
    start = time.perf_counter()
    agree = 0
    for r in rows:
        label = verify(parse("$" + r["gold"] + "$"), parse(r["prediction"]))
        agree += label == r["label"]
    seconds = time.perf_counter() - start
    return {"pairs_per_second": len(rows) / seconds, "agree": agree, "labelled": len(rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", default=str(ROOT / ".build/release/score-cli"))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rows = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    a, b = [], []
    for _ in range(args.rounds):
        a.append(ours(args.cli))
        b.append(theirs(rows))
    ra = statistics.median(x["pairs_per_second"] for x in a)
    rb = statistics.median(x["pairs_per_second"] for x in b)
    print(f"libscore:    {ra:10.0f} pairs/s  agrees with math-verify on {a[-1]['agree']}/{a[-1]['labelled']}")
    print(f"math-verify: {rb:10.0f} pairs/s  (its own labels: {b[-1]['agree']}/{b[-1]['labelled']})")
    print(f"ratio: {ra / rb:.0f}x  ({len(rows)} pairs, medians of {args.rounds} alternating rounds)")


if __name__ == "__main__":
    main()
