#!/usr/bin/env python3
"""Every writer survives `kill -9` at any instant.

Runs score-cli's writers (SFT checkpoints, full and LoRA; SCoRe checkpoints
and the best export; `correct --out`; the metrics logs) and kills them with
SIGKILL at random moments, resuming after each kill. After every kill the
last checkpoint must be complete and load; at the end the resumed run must
equal an uninterrupted one bit for bit (weights) and line for line (metrics,
timings aside: a killed run's partial last line is dropped on resume).

    python3 Tests/Crash/kill9_test.py CLI MODELS [--kills N] [--seed S]
"""
import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message)


def metrics(path):
    """The log without its timing fields (they differ between runs)."""
    rows = []
    for line in Path(path).read_text().splitlines():
        row = json.loads(line)  # a half-written line would fail here
        rows.append({k: v for k, v in row.items()
                     if not (k.endswith("seconds") or k.endswith("second") or k == "elapsed")})
    return rows


def killed_run(command, delay):
    """Starts command and kills it after `delay` seconds; True if it was killed."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, err = process.communicate(timeout=delay)
        if process.returncode != 0:
            fail(f"{' '.join(map(str, command))} failed on its own: {err.decode(errors='replace').strip()}")
        return False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.communicate()
        return True


def survive(name, fresh, resume, checkpoint, check, kills, rng, duration, finished_check):
    """Kills the run `kills` times at moments drawn from its uninterrupted
    duration, resuming after each kill; whenever a run reaches its end, the
    result is compared with the uninterrupted run's (finished_check) and the
    next run starts from nothing."""
    killed = completed = 0
    while killed < kills:
        command = resume if (checkpoint / "trainer_state.json").exists() else fresh
        if killed_run(command, rng.uniform(0.0, duration)):
            killed += 1
            check(checkpoint)
            continue
        completed += 1
        finished_check()
        shutil.rmtree(checkpoint.parent if checkpoint.name == "last" else checkpoint, ignore_errors=True)
    command = resume if (checkpoint / "trainer_state.json").exists() else fresh
    finished = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if finished.returncode != 0:
        fail(f"{name}: the final resume failed: {finished.stderr.decode(errors='replace').strip()}")
    finished_check()
    print(f"{name}: killed {killed} times at random moments, {completed + 1} runs resumed to their end and equal to the uninterrupted run")
    return killed


def timed(command):
    import time
    start = time.monotonic()
    subprocess.run(command, check=True, capture_output=True)
    return time.monotonic() - start


def loads(cli):
    def check(checkpoint):
        if not (checkpoint / "trainer_state.json").exists():
            return
        info = subprocess.run([cli, "info", str(checkpoint)], capture_output=True)
        if info.returncode != 0:
            fail(f"after a kill, {checkpoint} does not load: {info.stderr.decode(errors='replace').strip()}")
    return check


def same(name, a, b):
    if Path(a).read_bytes() != Path(b).read_bytes():
        fail(f"{name}: {b} differs from the uninterrupted run's {a}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cli")
    ap.add_argument("models")
    ap.add_argument("--kills", type=int, default=50, help="kills in all (spread over the writers)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cli, models = str(Path(args.cli).resolve()), Path(args.models).resolve()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="score-kill9-"))
    total = 0
    try:
        # SFT, full fine-tuning: a checkpoint after every step.
        rows = tmp / "sft.jsonl"
        rows.write_text("".join(json.dumps({"input_ids": [1, 5 + i, 9, 20, 3, 7, 7 + i, 30],
                                            "labels_mask": [0, 0, 0, 1, 1, 1, 1, 1]}) + "\n" for i in range(24)))
        sft = [cli, "sft", str(models / "qwen2"), "--data", str(rows), "--lr", "1e-3", "--batch", "2",
               "--epochs", "1", "--save-every", "1"]
        duration = timed(sft + ["--out", str(tmp / "sft-ref")])

        def sft_equal():
            same("sft (full)", tmp / "sft-ref/model.safetensors", tmp / "sft/model.safetensors")
            if metrics(tmp / "sft-ref.metrics.jsonl") != metrics(tmp / "sft.metrics.jsonl"):
                fail("sft (full): the metrics log differs from the uninterrupted run's")

        total += survive("sft (full)", sft + ["--out", str(tmp / "sft")], sft + ["--out", str(tmp / "sft"), "--resume"],
                         tmp / "sft", loads(cli), max(1, args.kills * 5 // 10), rng, duration, sft_equal)

        # SFT, LoRA: the adapter files.
        lora = [cli, "sft", str(models / "qwen3"), "--data", str(rows), "--lr", "1e-3", "--batch", "3", "--epochs", "1",
                "--save-every", "1", "--lora-rank", "4", "--lora-targets", "q_proj,v_proj"]
        duration = timed(lora + ["--out", str(tmp / "lora-ref")])

        def lora_equal():
            same("sft (LoRA)", tmp / "lora-ref/adapter_model.safetensors", tmp / "lora/adapter_model.safetensors")

        total += survive("sft (LoRA)", lora + ["--out", str(tmp / "lora")], lora + ["--out", str(tmp / "lora"), "--resume"],
                         tmp / "lora", lambda c: None, max(1, args.kills * 2 // 10), rng, duration, lora_equal)

        # SCoRe: OUT/last (checkpoint) and OUT/best (export), both replaced atomically.
        problems = tmp / "score.jsonl"
        problems.write_text("".join(json.dumps(p) + "\n" for p in [
            {"problem": "What is 2 + 3?", "answer": "id"}, {"problem": "What is 1 + 1?", "answer": "id"},
            {"problem": "Name a colour.", "answer": "red"}]))
        train = [cli, "train", str(models / "qwen2-chat"), "--data", str(problems), "--samples", "2",
                 "--problems-per-step", "2", "--max-new-tokens", "3", "--verifier", "exact", "--temperature", "0.5",
                 "--lr", "1e-2", "--stage", "both", "--steps", "6", "--save-every", "1"]
        duration = timed(train + ["--out", str(tmp / "rl-ref")])

        def rl_check(last):
            loads(cli)(last)
            best = last.parent / "best"
            if (best / "config.json").exists():
                info = subprocess.run([cli, "info", str(best)], capture_output=True)
                if info.returncode != 0:
                    fail(f"after a kill, {best} does not load: {info.stderr.decode(errors='replace').strip()}")

        def rl_equal():
            same("train (SCoRe)", tmp / "rl-ref/last/model.safetensors", tmp / "rl/last/model.safetensors")
            same("train (SCoRe)", tmp / "rl-ref/best/model.safetensors", tmp / "rl/best/model.safetensors")
            if metrics(tmp / "rl-ref.metrics.jsonl") != metrics(tmp / "rl.metrics.jsonl"):
                fail("train (SCoRe): the metrics log differs from the uninterrupted run's")

        total += survive("train (SCoRe)", train + ["--out", str(tmp / "rl")], train + ["--out", str(tmp / "rl"), "--resume"],
                         tmp / "rl" / "last", rl_check, max(1, args.kills * 2 // 10), rng, duration, rl_equal)

        # correct --out: absent or complete, never half a file.
        many = tmp / "problems.jsonl"
        many.write_text("".join(json.dumps({"problem": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n" for i in range(40)))
        out = tmp / "attempts.jsonl"
        correct = [cli, "correct", str(models / "qwen2-chat"), "--in", str(many), "--out", str(out), "--samples", "2",
                   "--max-new-tokens", "6"]
        kills = max(1, args.kills - args.kills * 9 // 10)
        duration = timed(correct)
        killed = 0
        for _ in range(kills):
            out.unlink(missing_ok=True)
            killed += killed_run(correct, rng.uniform(0.0, duration))
            if out.exists():
                lines = out.read_text().splitlines()
                if len(lines) != 80 or not all(json.loads(line) for line in lines):
                    fail(f"correct --out left {len(lines)} lines after a kill (a whole file has 80)")
        total += killed
        print(f"correct --out: {killed} of {kills} runs killed at random moments; the output was absent or whole each time")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"kill -9: {total} writers killed mid-run, {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
