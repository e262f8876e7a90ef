"""Data-parallel SCoRe from Python: two workers (threads here) over a
communicator that only offers allgather(bytes) end with the same weights as
one process summing the same two shards."""
import threading
from pathlib import Path

import pytest

import score

MODELS = Path(__file__).resolve().parents[3] / "Tests" / "Fixtures" / "models"
PROBLEMS = ["What is 2 + 3?", "Compute 12 * 4.", "What is 7 - 5?", "Name a colour.", "What is 3 * 3?"]
REFERENCES = ["5", "48", "2", "red", "9"]
SMALL = dict(samples=2, max_new_tokens=4, micro_batch=3, learning_rate=1e-2)


def odd_digits(problem, attempt, reference):
    return float(sum(c.isdigit() for c in attempt) % 2)


class ThreadComm:
    """rank, size and allgather(bytes) over threads of one process."""

    def __init__(self, group, rank):
        self.group, self.rank, self.size = group, rank, group["size"]

    def allgather(self, data):
        g = self.group
        g["slots"][self.rank] = data
        g["barrier"].wait()
        out = list(g["slots"])
        g["barrier"].wait()
        return out


@pytest.fixture(scope="module")
def model():
    with score.Model.load(MODELS / "qwen2-chat") as m:
        yield m


def weights(trainer, directory):
    trainer.export(directory)
    return (Path(directory) / "model.safetensors").read_bytes()


def test_workers_over_a_python_comm_equal_one_process(model, tmp_path):
    with score.SCoReTrainer(model, reward=odd_digits, shards=2, **SMALL) as single:
        for _ in range(2):
            expected_stats = single.step(PROBLEMS, REFERENCES)
        expected = weights(single, tmp_path / "single")

    group = {"size": 2, "slots": [None, None], "barrier": threading.Barrier(2)}
    results, errors = [None, None], []

    def work(rank):
        try:
            with score.SCoReTrainer(model, reward=odd_digits, comm=ThreadComm(group, rank), **SMALL) as t:
                for _ in range(2):
                    stats = t.step(PROBLEMS, REFERENCES)
                results[rank] = (weights(t, tmp_path / f"w{rank}"), stats)
        except BaseException as e:
            errors.append(e)
            group["barrier"].abort()

    threads = [threading.Thread(target=work, args=(r,)) for r in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for got, stats in results:
        assert got == expected
        assert stats["loss"] == expected_stats["loss"] and stats["rollouts"] == expected_stats["rollouts"] == 10


def test_a_failing_comm_fails_the_step_with_its_own_error(model):
    class Broken:
        rank, size = 0, 2

        def allgather(self, data):
            raise ConnectionError("the other worker is gone")

    with score.SCoReTrainer(model, reward=odd_digits, comm=Broken(), **SMALL) as t:
        with pytest.raises(ConnectionError, match="gone"):
            t.step(PROBLEMS, REFERENCES)
    with pytest.raises(TypeError, match="comm must be"):
        score.SCoReTrainer(model, reward=odd_digits, comm=object(), **SMALL)
