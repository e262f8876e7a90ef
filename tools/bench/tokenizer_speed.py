#!/usr/bin/env python3
"""Encoding throughput: libscore's tokenizer vs Hugging Face `tokenizers`
(Rust), one thread each, on the same text in the same run.

Usage:
    python tools/bench/tokenizer_speed.py [--cli .build/release/score-cli] [--mb 8] [--repeat 5]
                                   [--vocab 32000] [--families qwen2 llama3 ...]

The text is the Python standard library's source (code, English comments
and docstrings), first --mb megabytes, plus a block of Korean, Chinese and
emoji lines from the fixture corpus. Tokenizers:
  * the committed fixtures (Tests/Fixtures/tokenizers/<family>, vocab 500-900);
  * with --vocab N (default 32000; 0 skips), Qwen2- and Llama-3-style
    tokenizers trained here on the first 2 MB of the text with vocab N
    (a realistic merge count), written to a temporary directory.

Each measurement is the best of --repeat encodes of the whole text, loading
excluded: `tokenizer.encode(text)` for Rust (TOKENIZERS_PARALLELISM=false;
one text, so no batch parallelism) and `score-cli tokenize DIR --bench FILE`
for libscore. For context, the reference is also timed on the same text as
one encode call per line (its usual regime). Before timing, the ids of both are compared (they must be
identical). Prints one line per tokenizer and a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "Fixtures" / "tokenizers"
sys.path.insert(0, str(ROOT / "tools"))
from make_tokenizer_fixtures import LLAMA3_PATTERN, QWEN2_PATTERN, training_corpus  # noqa: E402


def bench_text(megabytes: float) -> str:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    limit = int(megabytes * 1e6)
    parts, size = [], 0
    for path in sorted(stdlib.rglob("*.py")):
        if "site-packages" in path.parts or "test" in path.parts:
            continue
        try:
            t = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        parts.append(t)
        size += len(t.encode())
        if size >= limit:
            break
    multilingual = "\n".join(line for line in training_corpus() if any(ord(c) > 0x2FF for c in line))
    return "".join(parts) + "\n" + multilingual * 20


def train(kind: str, text: str, vocab: int, directory: Path) -> Path:
    tok = Tokenizer(models.BPE(ignore_merges=(kind == "llama3")))
    if kind == "qwen2":
        tok.normalizer = normalizers.NFC()
    pattern = QWEN2_PATTERN if kind == "qwen2" else LLAMA3_PATTERN
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>"])
    sample = text[:2_000_000]
    tok.train_from_iterator([sample[i:i + 10000] for i in range(0, len(sample), 10000)], trainer)
    out = directory / f"{kind}-{vocab}"
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    return out


def rust_seconds(tok: Tokenizer, text: str, repeat: int) -> tuple[float, list[int]]:
    best, ids = float("inf"), []
    for _ in range(repeat):
        t0 = time.perf_counter()
        ids = tok.encode(text, add_special_tokens=False).ids
        best = min(best, time.perf_counter() - t0)
    return best, ids


def rust_lines_seconds(tok: Tokenizer, text: str, repeat: int) -> float:
    """The same text as many short encode calls (one per line, still one
    thread): the reference's usual regime, without the cost it pays for one
    huge string. For context only; the ids differ slightly at line joins."""
    lines = text.splitlines(keepends=True)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for line in lines:
            tok.encode(line, add_special_tokens=False)
        best = min(best, time.perf_counter() - t0)
    return best


def ours(cli: str, directory: Path, text_file: Path, repeat: int) -> dict:
    out = subprocess.run([cli, "tokenize", str(directory), "--bench", str(text_file), "--repeat", str(repeat), "--json"],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default=str(ROOT / ".build" / "release" / "score-cli"))
    ap.add_argument("--library", default=None, help="libscore.so for the id check (default: next to --cli)")
    ap.add_argument("--mb", type=float, default=8)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--families", nargs="*", default=["gpt2", "llama3", "qwen2", "smollm2", "llama2", "mistral"])
    args = ap.parse_args()

    os.environ.setdefault("SCORE_LIBRARY", args.library or str(Path(args.cli).parent / "libscore.so"))
    sys.path.insert(0, str(ROOT / "bindings" / "python"))
    import score

    text = bench_text(args.mb)
    data = text.encode("utf-8")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        text_file = Path(tmp) / "bench.txt"
        text_file.write_bytes(data)
        dirs = [(f, FIXTURES / f) for f in args.families]
        if args.vocab:
            dirs += [(f"{k}-{args.vocab}", train(k, text, args.vocab, Path(tmp))) for k in ("qwen2", "llama3")]
        print(f"text: {len(data) / 1e6:.2f} MB; best of {args.repeat}; one thread each")
        for name, directory in dirs:
            rust = Tokenizer.from_file(str(directory / "tokenizer.json"))
            rust_s, rust_ids = rust_seconds(rust, text, args.repeat)
            mine_ids = score.Tokenizer.load(directory).encode(text, add_special=False, parse_special=True)
            same = mine_ids == rust_ids
            m = ours(args.cli, directory, text_file, args.repeat)
            row = {"tokenizer": name, "tokens": len(rust_ids), "identical_ids": same,
                   "rust_mb_s": len(data) / 1e6 / rust_s, "libscore_mb_s": m["mb_per_s"]}
            row["speedup"] = row["libscore_mb_s"] / row["rust_mb_s"]
            row["rust_per_line_mb_s"] = len(data) / 1e6 / rust_lines_seconds(rust, text, args.repeat)
            results.append(row)
            print(f"{name:>14}: {len(rust_ids):>9} tokens  ids identical: {same}  "
                  f"tokenizers {row['rust_mb_s']:6.2f} MB/s (per line {row['rust_per_line_mb_s']:5.2f})  "
                  f"libscore {row['libscore_mb_s']:6.2f} MB/s  x{row['speedup']:.2f}")
    print(json.dumps({"megabytes": len(data) / 1e6, "repeat": args.repeat, "results": results}))


if __name__ == "__main__":
    main()
