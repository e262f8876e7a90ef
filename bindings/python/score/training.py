"""Training: ``score.Trainer`` over ``score_trainer_*``.

    import score
    with score.Model.load("model-dir") as model, score.Trainer(model, lora_rank=16) as trainer:
        stats = trainer.step([[1, 5, 9, 2]], masks=[[0, 0, 1, 1]])
        print(stats.loss, stats.grad_norm, stats.learning_rate)
        trainer.save("checkpoint-dir")

One step takes a micro-batch of token sequences with loss masks (which
tokens are targets) and optional per-token weights (1 for SFT, advantages
for policy-gradient RL) and reference log-probs (for the k1/k3 KL). The
ctypes declarations for this part of ``score.h`` live here.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

from . import _lib
from ._handle import OwnedHandle
from ._lib import ctypes_function, score_model_p, score_status, float_p, int32_p

SCORE_TYPE_TRAINER_PARAMS = 20
SCORE_TYPE_TRAIN_STATS = 21

PARAMS = {"full": 0, "lora": 1}
SCHEDULES = {"constant": 0, "linear": 1, "cosine": 2}
KL_ESTIMATORS = {None: 0, "none": 0, "exact": 1, "k1": 2, "k3": 3}
AGGREGATIONS = {"token_mean": 0, "sequence_mean": 1, "sequence_sum": 2}
LORA_TARGETS = {"q_proj": 1, "k_proj": 2, "v_proj": 4, "o_proj": 8, "gate_proj": 16, "up_proj": 32, "down_proj": 64}

score_trainer_p = ctypes.c_void_p


class TrainerParamsStruct(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("parameter_set", ctypes.c_int32),
        ("lora_rank", ctypes.c_int32),
        ("lora_alpha", ctypes.c_float),
        ("lora_targets", ctypes.c_uint32),
        ("learning_rate", ctypes.c_float),
        ("beta1", ctypes.c_float),
        ("beta2", ctypes.c_float),
        ("epsilon", ctypes.c_float),
        ("weight_decay", ctypes.c_float),
        ("schedule", ctypes.c_int32),
        ("warmup_steps", ctypes.c_int32),
        ("total_steps", ctypes.c_int32),
        ("max_grad_norm", ctypes.c_float),
        ("accumulation_steps", ctypes.c_int32),
        ("kl_estimator", ctypes.c_int32),
        ("kl_coefficient", ctypes.c_float),
        ("aggregation", ctypes.c_int32),
        ("activation_checkpointing", ctypes.c_bool),
        ("n_threads", ctypes.c_int32),
        ("seed", ctypes.c_uint64),
    ]


class TrainStatsStruct(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("loss", ctypes.c_double),
        ("policy_loss", ctypes.c_double),
        ("kl", ctypes.c_double),
        ("grad_norm", ctypes.c_double),
        ("learning_rate", ctypes.c_double),
        ("seconds", ctypes.c_double),
        ("tokens_per_second", ctypes.c_double),
        ("step", ctypes.c_int64),
        ("tokens", ctypes.c_int32),
        ("target_tokens", ctypes.c_int32),
        ("optimizer_stepped", ctypes.c_bool),
        ("skipped_non_finite", ctypes.c_bool),
    ]


for _struct, _id in ((TrainerParamsStruct, SCORE_TYPE_TRAINER_PARAMS), (TrainStatsStruct, SCORE_TYPE_TRAIN_STATS)):
    if ctypes.sizeof(_struct) != _lib.lib.score_sizeof(_id):
        raise _lib.LibraryLoadError(f"{_struct.__name__} is {ctypes.sizeof(_struct)} bytes, the library says {_lib.lib.score_sizeof(_id)}")

_ptrs_i32 = ctypes.POINTER(int32_p)
_ptrs_f32 = ctypes.POINTER(float_p)


@ctypes_function("score_trainer_params_default", [], TrainerParamsStruct)
def score_trainer_params_default() -> TrainerParamsStruct: ...


@ctypes_function("score_trainer_new", [score_model_p, ctypes.POINTER(TrainerParamsStruct), ctypes.POINTER(score_trainer_p)], score_status)
def score_trainer_new(model: Any, params: Any, out: Any) -> int: ...


@ctypes_function("score_trainer_resume", [score_model_p, ctypes.c_char_p, ctypes.POINTER(score_trainer_p)], score_status)
def score_trainer_resume(model: Any, path: bytes, out: Any) -> int: ...


@ctypes_function("score_trainer_free", [score_trainer_p], None)
def score_trainer_free(trainer: Any) -> None: ...


@ctypes_function(
    "score_trainer_step",
    [score_trainer_p, _ptrs_i32, ctypes.POINTER(ctypes.c_size_t), _ptrs_f32, _ptrs_f32, _ptrs_f32, ctypes.c_size_t,
     ctypes.POINTER(TrainStatsStruct)],
    score_status,
)
def score_trainer_step(*args: Any) -> int: ...


@ctypes_function("score_trainer_load_adapter", [score_trainer_p, ctypes.c_char_p], score_status)
def score_trainer_load_adapter(trainer: Any, path: bytes) -> int: ...


@ctypes_function("score_trainer_save", [score_trainer_p, ctypes.c_char_p], score_status)
def score_trainer_save(trainer: Any, path: bytes) -> int: ...


@ctypes_function("score_trainer_export", [score_trainer_p, ctypes.c_char_p], score_status)
def score_trainer_export(trainer: Any, path: bytes) -> int: ...


@dataclass(frozen=True)
class TrainStats:
    """What one ``Trainer.step`` did (see ``score_train_stats`` in score.h)."""

    loss: float
    policy_loss: float
    kl: float
    grad_norm: float
    learning_rate: float
    seconds: float
    tokens_per_second: float
    step: int
    tokens: int
    target_tokens: int
    optimizer_stepped: bool
    skipped_non_finite: bool


def _path(p: Union[str, "os.PathLike[str]", bytes]) -> bytes:
    b = os.fsencode(p)
    if b"\0" in b:
        from . import ScoreValueError

        raise ScoreValueError("path contains a NUL byte")
    return b


def _floats(values: Any, n: int, what: str) -> "ctypes.Array[ctypes.c_float]":
    from . import ScoreValueError

    if hasattr(values, "tolist") and not isinstance(values, (list, tuple)):
        values = values.tolist()
    values = [float(v) for v in values]
    if len(values) != n:
        raise ScoreValueError(f"{what} has {len(values)} values for {n} tokens")
    return (ctypes.c_float * n)(*values)


class Trainer(OwnedHandle):
    """Trains a model (full fine-tuning or LoRA) with AdamW.

    Keyword arguments mirror ``score_trainer_params``: ``parameters`` ("full"
    or "lora"; giving ``lora_rank`` implies "lora"), ``lora_rank``,
    ``lora_alpha``, ``lora_targets`` (names such as "q_proj"),
    ``learning_rate``, ``betas``, ``eps``, ``weight_decay``, ``schedule``
    ("constant", "linear", "cosine"), ``warmup_steps``, ``total_steps``,
    ``max_grad_norm``, ``accumulation_steps``, ``kl`` (None, "exact", "k1",
    "k3"), ``kl_coefficient``, ``aggregation`` ("token_mean",
    "sequence_mean"), ``activation_checkpointing``, ``n_threads``, ``seed``.
    The model must stay open while the trainer is used.
    """

    def __init__(self, model: Any, *, _handle: Optional[int] = None, **options: Any) -> None:
        from . import ScoreError, ScoreValueError, _check

        self._model = model
        self._handle: Optional[int] = None
        self._free = score_trainer_free
        if _handle is not None:
            self._handle = _handle
            return
        p = score_trainer_params_default()
        p.struct_size = ctypes.sizeof(TrainerParamsStruct)
        kind = options.pop("parameters", "lora" if "lora_rank" in options else "full")
        if kind not in PARAMS:
            raise ScoreValueError(f"parameters must be 'full' or 'lora', not {kind!r}")
        p.parameter_set = PARAMS[kind]
        if "lora_targets" in options:
            mask = 0
            for name in options.pop("lora_targets"):
                if name not in LORA_TARGETS:
                    raise ScoreValueError(f"LoRA target {name!r} does not exist (targets: {', '.join(LORA_TARGETS)})")
                mask |= LORA_TARGETS[name]
            p.lora_targets = mask
        enums = {"schedule": SCHEDULES, "kl": KL_ESTIMATORS, "aggregation": AGGREGATIONS}
        fields = {"schedule": "schedule", "kl": "kl_estimator", "aggregation": "aggregation"}
        for key, table in enums.items():
            if key in options:
                value = options.pop(key)
                if value not in table:
                    raise ScoreValueError(f"{key} must be one of {[k for k in table if k]}, not {value!r}")
                setattr(p, fields[key], table[value])
        if "betas" in options:
            p.beta1, p.beta2 = options.pop("betas")
        if "eps" in options:
            p.epsilon = options.pop("eps")
        for key in ("lora_rank", "lora_alpha", "learning_rate", "weight_decay", "warmup_steps", "total_steps",
                    "max_grad_norm", "accumulation_steps", "kl_coefficient", "activation_checkpointing",
                    "n_threads", "seed"):
            if key in options:
                setattr(p, key, options.pop(key))
        if options:
            raise TypeError(f"unknown Trainer options: {', '.join(sorted(options))}")
        handle = model._acquire()
        try:
            out = score_trainer_p()
            _check(score_trainer_new(handle, ctypes.byref(p), ctypes.byref(out)))
        finally:
            model._release()
        if not out.value:
            raise ScoreError(_lib.SCORE_ERR_INTERNAL, "score_trainer_new returned NULL")
        self._handle = out.value

    @classmethod
    def resume(cls, model: Any, path: Union[str, "os.PathLike[str]", bytes]) -> "Trainer":
        """Continue a run saved with :meth:`save`; ``model`` is the model it started from."""
        from . import _check

        handle = model._acquire()
        try:
            out = score_trainer_p()
            _check(score_trainer_resume(handle, _path(path), ctypes.byref(out)))
        finally:
            model._release()
        return cls(model, _handle=out.value)

    def _live(self) -> int:
        from . import ScoreError

        if self._handle is None:
            raise ScoreError(_lib.SCORE_ERR_INVALID_ARGUMENT, "the trainer is closed")
        return self._handle

    def step(
        self,
        sequences: Sequence[Any],
        masks: Sequence[Any],
        weights: Optional[Sequence[Optional[Any]]] = None,
        ref_logprobs: Optional[Sequence[Optional[Any]]] = None,
    ) -> TrainStats:
        """One micro-batch: ``sequences[i]`` token ids, ``masks[i]`` (same
        length; > 0 marks a target token), optional ``weights[i]`` and
        ``ref_logprobs[i]`` (same length, or None)."""
        from . import ScoreValueError, _as_int32_array, _check

        n = len(sequences)
        if n == 0:
            raise ScoreValueError("the batch is empty")
        if len(masks) != n or (weights is not None and len(weights) != n) or (ref_logprobs is not None and len(ref_logprobs) != n):
            raise ScoreValueError("sequences, masks, weights and ref_logprobs must have the same length")
        arrays = [_as_int32_array(s) for s in sequences]
        keep: list = list(arrays)
        lengths = (ctypes.c_size_t * n)(*[len(a) for a in arrays])
        tokens = (int32_p * n)(*[ctypes.cast(a, int32_p) for a in arrays])

        def pointers(rows: Optional[Sequence[Optional[Any]]], what: str) -> Any:
            if rows is None:
                return None
            ptrs = (float_p * n)()
            for i, row in enumerate(rows):
                if row is not None:
                    arr = _floats(row, len(arrays[i]), f"{what}[{i}]")
                    keep.append(arr)
                    ptrs[i] = ctypes.cast(arr, float_p)
            return ptrs

        mask_ptrs = pointers(masks, "masks")
        if any(m is None for m in masks):
            raise ScoreValueError("every sequence needs a mask")
        stats = TrainStatsStruct()
        stats.struct_size = ctypes.sizeof(TrainStatsStruct)
        _check(score_trainer_step(self._live(), tokens, lengths, mask_ptrs, pointers(weights, "weights"),
                                  pointers(ref_logprobs, "ref_logprobs"), n, ctypes.byref(stats)))
        del keep
        return TrainStats(**{name: getattr(stats, name) for name, _ in TrainStatsStruct._fields_ if name != "struct_size"})

    def load_adapter(self, path: Union[str, "os.PathLike[str]", bytes]) -> None:
        from . import _check

        _check(score_trainer_load_adapter(self._live(), _path(path)))

    def save(self, path: Union[str, "os.PathLike[str]", bytes]) -> None:
        """Atomically save a resumable checkpoint (HF model or peft adapter + optimiser state)."""
        from . import _check

        _check(score_trainer_save(self._live(), _path(path)))

    def export(self, path: Union[str, "os.PathLike[str]", bytes]) -> None:
        """Write a Hugging Face model directory (LoRA merged)."""
        from . import _check

        _check(score_trainer_export(self._live(), _path(path)))

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle:
            self._free(handle)



