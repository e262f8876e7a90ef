"""Data-parallel training from Python: a communicator as libscore's
``score_collective``.

``score.SCoReTrainer(model, ..., comm=comm)`` makes the trainer one worker of
``comm``: every worker calls ``step`` with the same problems, trains on its
contiguous share of them, and the gradients and statistics are summed over
the workers (in rank order, the same bits on every worker), so all apply the
same update. ``comm`` may be

* an mpi4py communicator (``MPI.COMM_WORLD``),
* the ``torch.distributed`` module (after ``init_process_group``), or
* any object with ``rank``, ``size`` and ``allgather(data: bytes) -> list[bytes]``
  (one entry per rank, in rank order), and optionally ``barrier()``.

Only ``allgather`` of bytes is needed: the sum is done here, in rank order,
with numpy when it is installed. See ``examples/python/data_parallel.py``.
"""
from __future__ import annotations

import array
import ctypes
from typing import Any, Callable, List, Optional

from . import _lib
from ._lib import ctypes_function, score_status

__all__ = ["CommCollective"]

sum_f32_t = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t, ctypes.c_void_p)
sum_f64_t = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.POINTER(ctypes.c_double), ctypes.c_size_t, ctypes.c_void_p)
broadcast_t = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int32, ctypes.c_void_p)
barrier_t = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)


class CollectiveStruct(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("rank", ctypes.c_int32),
        ("size", ctypes.c_int32),
        ("sum_f32", sum_f32_t),
        ("sum_f64", sum_f64_t),
        ("broadcast", broadcast_t),
        ("barrier", barrier_t),
        ("user_data", ctypes.c_void_p),
    ]


SCORE_TYPE_COLLECTIVE = 26
if ctypes.sizeof(CollectiveStruct) != _lib.lib.score_sizeof(SCORE_TYPE_COLLECTIVE):
    raise _lib.LibraryLoadError("CollectiveStruct does not match the library's score_collective")


@ctypes_function("score_rl_trainer_set_collective", [ctypes.c_void_p, ctypes.POINTER(CollectiveStruct)], score_status)
def score_rl_trainer_set_collective(trainer: Any, collective: Any) -> int: ...


@ctypes_function("score_rl_trainer_set_shards", [ctypes.c_void_p, ctypes.c_int32], score_status)
def score_rl_trainer_set_shards(trainer: Any, shards: int) -> int: ...


def _adapter(comm: Any):
    """(rank, size, allgather(bytes) -> list, barrier()) of the supported communicators."""
    if hasattr(comm, "Get_rank") and hasattr(comm, "allgather"):  # mpi4py
        return comm.Get_rank(), comm.Get_size(), comm.allgather, getattr(comm, "Barrier", None)
    if hasattr(comm, "get_world_size") and hasattr(comm, "all_gather_object"):  # torch.distributed
        def gather(data: bytes) -> List[bytes]:
            out: List[Any] = [None] * comm.get_world_size()
            comm.all_gather_object(out, data)
            return out
        return comm.get_rank(), comm.get_world_size(), gather, getattr(comm, "barrier", None)
    if all(hasattr(comm, name) for name in ("rank", "size", "allgather")):
        return int(comm.rank), int(comm.size), comm.allgather, getattr(comm, "barrier", None)
    raise TypeError("comm must be an mpi4py communicator, torch.distributed, or have rank, size and allgather(bytes)")


def _sum_in_rank_order(parts: List[bytes], typecode: str) -> bytes:
    try:
        import numpy as np
    except ImportError:
        np = None
    if np is not None:
        dtype = np.float32 if typecode == "f" else np.float64
        total = np.frombuffer(parts[0], dtype=dtype).copy()
        for part in parts[1:]:
            total += np.frombuffer(part, dtype=dtype)
        return total.tobytes()
    total = array.array(typecode, parts[0])
    for part in parts[1:]:
        other = array.array(typecode, part)
        for i in range(len(total)):
            total[i] = total[i] + other[i]
    return total.tobytes()


class CommCollective:
    """``comm`` as a score_collective; keep it alive as long as the trainer.
    A Python exception in a collective call fails the step (the library sees
    a non-zero status); ``raise_pending`` re-raises it afterwards."""

    def __init__(self, comm: Any) -> None:
        self.rank, self.size, allgather, barrier = _adapter(comm)
        self.error: Optional[BaseException] = None

        def guarded(body: Callable[..., None]) -> Callable[..., int]:
            def call(*args: Any) -> int:
                try:
                    body(*args)
                    return 0
                except BaseException as e:  # never let an exception cross into C
                    self.error = e
                    return 1
            return call

        def summer(typecode: str, ctype: Any):
            width = ctypes.sizeof(ctype)

            def body(values: Any, n: int, _user: Any) -> None:
                data = ctypes.string_at(values, n * width)
                total = _sum_in_rank_order(list(allgather(data)), typecode)
                ctypes.memmove(values, total, n * width)
            return body

        def broadcast(data: Any, n: int, root: int, _user: Any) -> None:
            parts = allgather(ctypes.string_at(data, n))
            ctypes.memmove(data, parts[root], n)

        def wait(_user: Any) -> None:
            if barrier is not None:
                barrier()
            else:
                allgather(b"")

        self._functions = (sum_f32_t(guarded(summer("f", ctypes.c_float))), sum_f64_t(guarded(summer("d", ctypes.c_double))),
                           broadcast_t(guarded(broadcast)), barrier_t(guarded(wait)))
        self.struct = CollectiveStruct(ctypes.sizeof(CollectiveStruct), self.rank, self.size, *self._functions, None)

    def raise_pending(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error
