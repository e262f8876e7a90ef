#!/usr/bin/env python3
"""Data-parallel SCoRe from Python over MPI (mpi4py):

    pip install mpi4py            # builds against the installed Open MPI or MPICH
    mpirun -np 4 python3 examples/python/data_parallel.py MODEL_DIR problems.jsonl OUT_DIR

Every rank loads the model, passes the same problems to ``step`` and trains on
its contiguous share of them; gradients and statistics are summed over the
ranks (in rank order), so every rank holds the same weights after each step.
Rank 0 alone writes. With torch.distributed, pass ``comm=torch.distributed``
after ``init_process_group``; any object with ``rank``, ``size`` and
``allgather(bytes) -> list[bytes]`` works too (see score/collective.py).
"""
import json
import sys

import score


def main() -> None:
    from mpi4py import MPI

    model_dir, data, out = sys.argv[1:4]
    comm = MPI.COMM_WORLD
    rows = [json.loads(line) for line in open(data) if line.strip()]
    problems, answers = [r["problem"] for r in rows], [r["answer"] for r in rows]
    with score.Model.load(model_dir) as model, \
            score.SCoReTrainer(model, reward="math", samples=4, comm=comm) as trainer:
        for step in range(100):
            batch = [(step * 16 + i) % len(problems) for i in range(16)]  # the same on every rank
            stats = trainer.step([problems[i] for i in batch], [answers[i] for i in batch])
            if comm.Get_rank() == 0:
                print(json.dumps({"step": stats["step"], "reward_per_turn": stats["reward_per_turn"],
                                  "workers": comm.Get_size()}), flush=True)
        if comm.Get_rank() == 0:
            trainer.export(out)


if __name__ == "__main__":
    main()
