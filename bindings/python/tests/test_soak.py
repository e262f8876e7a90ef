"""Memory and handles stay flat over long runs through Python: generate
calls (a session each), scoring calls and trainer steps. RSS after warm-up
may grow by less than 2%; open file descriptors must not change.

SCORE_SOAK=full runs the documented counts (1,000 / 1,000 / 200; `make soak`);
the default counts keep `make test` quick."""
import gc
import os
from pathlib import Path

import pytest

import score

MODELS = Path(__file__).resolve().parents[3] / "Tests" / "Fixtures" / "models"
FULL = os.environ.get("SCORE_SOAK") == "full"
PROMPT = [1, 5, 9, 20, 3, 7]


def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") // 1024


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def flat(name, count, call):
    for _ in range(max(20, count // 5)):  # warm-up
        call()
    gc.collect()
    before, fds = rss_kb(), open_fds()
    for _ in range(count):
        call()
    gc.collect()
    after = rss_kb()
    growth = (after - before) / before
    print(f"soak {name}: {count} calls, RSS {before} -> {after} kB ({100 * growth:+.2f}%), fds {fds} -> {open_fds()}")
    assert growth < 0.02, f"{name}: RSS grew {100 * growth:.2f}%"
    assert open_fds() == fds, f"{name}: file descriptors {fds} -> {open_fds()}"


@pytest.fixture(scope="module")
def model():
    with score.Model.load(MODELS / "qwen2") as m:
        yield m


def test_generate_calls_keep_memory_flat(model):
    flat("generate", 1000 if FULL else 150, lambda: model.generate(PROMPT, max_new_tokens=8))


def test_scoring_calls_keep_memory_flat(model):
    flat("score", 1000 if FULL else 150, lambda: model.logprobs(PROMPT))


def test_trainer_steps_keep_memory_flat(model):
    with score.Trainer(model, learning_rate=1e-4) as trainer:
        mask = [0, 0, 1, 1, 1, 1]
        flat("train", 200 if FULL else 40, lambda: trainer.step([PROMPT, PROMPT], [mask, mask]))


def test_models_and_sessions_opened_and_closed_leave_nothing_behind():
    def cycle():
        with score.Model.load(MODELS / "qwen2") as m:
            m.generate(PROMPT, max_new_tokens=2)

    flat("load+close", 200 if FULL else 40, cycle)
