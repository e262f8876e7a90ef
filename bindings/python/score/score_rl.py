"""SCoRe: ``SCoReTrainer``, ``verify`` and ``evaluate`` over ``score_rl_*``,
``score_verify`` and ``score_evaluate``.

    import score
    with score.Model.load("model-dir") as model, \\
            score.SCoReTrainer(model, reward="math", samples=4) as trainer:
        for _ in range(100):
            stats = trainer.step(problems, references)       # Stage I
        trainer.stage = 2
        for _ in range(100):
            stats = trainer.step(problems, references)       # Stage II
        trainer.export("policy-dir")
    with score.Model.load("policy-dir") as policy:
        print(score.evaluate(policy, problems, references, reward="math"))

A reward is ``"exact"``, ``"numeric"``, ``"math"`` (the library's verifiers)
or any callable ``reward(problem, attempt, reference) -> float``, e.g.
``score.verifiers.code_verifier()``. An exception raised by the callable
stops the step (the weights are not touched) and propagates from it.

Problems are strings, or mappings with a ``"prompt"`` (HumanEval records):
the model sees the prompt, the reward callable gets the mapping itself.
The ctypes declarations for this part of ``score.h`` live here.
"""

from __future__ import annotations

import ctypes
import math
import os
from collections.abc import Mapping
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import _lib
from ._handle import OwnedHandle
from ._lib import ctypes_function, float_p, int32_p, score_model_p, score_status
from .generation import Episode, read_episodes, score_rollout_free, score_rollout_p
from .training import AGGREGATIONS, KL_ESTIMATORS, LORA_TARGETS, PARAMS, SCHEDULES, TrainerParamsStruct

__all__ = ["Rollout", "SCoReTrainer", "evaluate", "verify", "VERIFIERS"]

SCORE_TYPE_RL_PARAMS = 22
SCORE_TYPE_RL_STATS = 23
SCORE_TYPE_EVAL_PARAMS = 24
SCORE_TYPE_EVAL_RESULT = 25
MAX_TURNS = 8  # SCORE_RL_MAX_TURNS

VERIFIERS = {"exact": 0, "numeric": 1, "math": 2}
UPDATE_RULES = {"reinforce": 0, "filtered_sft": 1}


score_rl_trainer_p = ctypes.c_void_p
# typedef float (*score_reward_fn)(const char *problem, const char *attempt, const char *reference, void *user_data);
reward_fn_t = ctypes.CFUNCTYPE(ctypes.c_float, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
_strings_p = ctypes.POINTER(ctypes.c_char_p)
# typedef bool (*score_progress_fn)(const char *phase, int64_t done, int64_t total, void *user_data);
progress_fn_t = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_char_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)


class RLParamsStruct(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("stage", ctypes.c_int32),
        ("attempts", ctypes.c_int32),
        ("samples_per_problem", ctypes.c_int32),
        ("alpha", ctypes.c_float),
        ("beta1", ctypes.c_float),
        ("beta2", ctypes.c_float),
        ("update_rule", ctypes.c_int32),
        ("temperature", ctypes.c_float),
        ("top_k", ctypes.c_int32),
        ("top_p", ctypes.c_float),
        ("max_new_tokens", ctypes.c_int32),
        ("micro_batch", ctypes.c_int32),
        ("instruction", ctypes.c_char_p),
        ("task_prompt", ctypes.c_char_p),
        ("system_prompt", ctypes.c_char_p),
        ("seed", ctypes.c_uint64),
        ("training", ctypes.POINTER(TrainerParamsStruct)),
        ("progress", progress_fn_t),
        ("progress_user_data", ctypes.c_void_p),
    ]


class RLStatsStruct(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("stage", ctypes.c_int32),
        ("step", ctypes.c_int64),
        ("turns", ctypes.c_int32),
        ("rollouts", ctypes.c_int32),
        ("generated_tokens", ctypes.c_int64),
        ("reward_per_turn", ctypes.c_double * MAX_TURNS),
        ("kl_per_turn", ctypes.c_double * MAX_TURNS),
        ("zero_signal_fraction", ctypes.c_double * MAX_TURNS),
        ("answer_change_rate", ctypes.c_double),
        ("loss", ctypes.c_double),
        ("grad_norm", ctypes.c_double),
        ("learning_rate", ctypes.c_double),
        ("rollout_seconds", ctypes.c_double),
        ("reference_seconds", ctypes.c_double),
        ("update_seconds", ctypes.c_double),
        ("skipped_non_finite", ctypes.c_bool),
    ]


class EvalParamsStruct(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("attempts", ctypes.c_int32),
        ("max_new_tokens", ctypes.c_int32),
        ("verifier", ctypes.c_int32),
        ("tolerance", ctypes.c_double),
        ("instruction", ctypes.c_char_p),
        ("task_prompt", ctypes.c_char_p),
        ("system_prompt", ctypes.c_char_p),
        ("progress", progress_fn_t),
        ("progress_user_data", ctypes.c_void_p),
    ]


class EvalResultStruct(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("attempts", ctypes.c_int32),
        ("problems", ctypes.c_int64),
        ("accuracy", ctypes.c_double * MAX_TURNS),
        ("acc_t1", ctypes.c_double),
        ("acc_t2", ctypes.c_double),
        ("delta", ctypes.c_double),
        ("delta_i_to_c", ctypes.c_double),
        ("delta_c_to_i", ctypes.c_double),
        ("answer_changed", ctypes.c_double),
        ("edit_distance_ratio", ctypes.c_double),
    ]


for _struct, _id in ((RLParamsStruct, SCORE_TYPE_RL_PARAMS), (RLStatsStruct, SCORE_TYPE_RL_STATS),
                     (EvalParamsStruct, SCORE_TYPE_EVAL_PARAMS), (EvalResultStruct, SCORE_TYPE_EVAL_RESULT)):
    if ctypes.sizeof(_struct) != _lib.lib.score_sizeof(_id):
        raise _lib.LibraryLoadError(f"{_struct.__name__} is {ctypes.sizeof(_struct)} bytes, the library says {_lib.lib.score_sizeof(_id)}")


@ctypes_function("score_rl_params_default", [], RLParamsStruct)
def score_rl_params_default() -> RLParamsStruct: ...


@ctypes_function("score_rl_training_params_default", [], TrainerParamsStruct)
def score_rl_training_params_default() -> TrainerParamsStruct: ...


@ctypes_function("score_rl_trainer_new", [score_model_p, ctypes.POINTER(RLParamsStruct), ctypes.POINTER(score_rl_trainer_p)], score_status)
def score_rl_trainer_new(model: Any, params: Any, out: Any) -> int: ...


@ctypes_function("score_rl_trainer_resume",
                 [score_model_p, ctypes.c_char_p, ctypes.POINTER(RLParamsStruct), ctypes.POINTER(score_rl_trainer_p)], score_status)
def score_rl_trainer_resume(model: Any, path: bytes, params: Any, out: Any) -> int: ...


@ctypes_function("score_rl_trainer_free", [score_rl_trainer_p], None)
def score_rl_trainer_free(trainer: Any) -> None: ...


@ctypes_function("score_rl_trainer_set_stage", [score_rl_trainer_p, ctypes.c_int32], score_status)
def score_rl_trainer_set_stage(trainer: Any, stage: int) -> int: ...


@ctypes_function("score_rl_trainer_get_stage", [score_rl_trainer_p, int32_p], score_status)
def score_rl_trainer_get_stage(trainer: Any, stage: Any) -> int: ...


@ctypes_function("score_rl_trainer_use_current_as_reference", [score_rl_trainer_p], score_status)
def score_rl_trainer_use_current_as_reference(trainer: Any) -> int: ...


@ctypes_function("score_rl_rollout", [score_rl_trainer_p, _strings_p, ctypes.c_size_t, ctypes.POINTER(score_rollout_p)], score_status)
def score_rl_rollout(trainer: Any, problems: Any, n: int, out: Any) -> int: ...


@ctypes_function("score_rl_update",
                 [score_rl_trainer_p, score_rollout_p, float_p, ctypes.c_size_t, ctypes.POINTER(RLStatsStruct)], score_status)
def score_rl_update(trainer: Any, rollout: Any, rewards: Any, n: int, stats: Any) -> int: ...


@ctypes_function("score_rl_step",
                 [score_rl_trainer_p, _strings_p, _strings_p, ctypes.c_size_t, reward_fn_t, ctypes.c_void_p,
                  ctypes.POINTER(RLStatsStruct)], score_status)
def score_rl_step(*args: Any) -> int: ...


@ctypes_function("score_rl_trainer_save", [score_rl_trainer_p, ctypes.c_char_p], score_status)
def score_rl_trainer_save(trainer: Any, path: bytes) -> int: ...


@ctypes_function("score_rl_trainer_export", [score_rl_trainer_p, ctypes.c_char_p], score_status)
def score_rl_trainer_export(trainer: Any, path: bytes) -> int: ...


@ctypes_function("score_verify",
                 [ctypes.c_int32, ctypes.c_double, ctypes.c_char_p, ctypes.c_char_p, float_p], score_status)
def score_verify(kind: int, tolerance: float, attempt: bytes, reference: bytes, reward: Any) -> int: ...


@ctypes_function("score_eval_params_default", [], EvalParamsStruct)
def score_eval_params_default() -> EvalParamsStruct: ...


@ctypes_function("score_evaluate",
                 [score_model_p, ctypes.POINTER(EvalParamsStruct), _strings_p, _strings_p, ctypes.c_size_t, reward_fn_t,
                  ctypes.c_void_p, ctypes.POINTER(EvalResultStruct)], score_status)
def score_evaluate(*args: Any) -> int: ...


# --------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------

Reward = Union[str, Callable[[Any, str, Any], float]]
PathArg = Union[str, "os.PathLike[str]", bytes]


def _utf8(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string, not {type(text).__name__}")
    b = text.encode("utf-8")
    if b"\0" in b:
        from . import ScoreValueError

        raise ScoreValueError(f"{what} contains a NUL character")
    return b


def _c_strings(texts: Sequence[bytes]) -> "ctypes.Array[ctypes.c_char_p]":
    return (ctypes.c_char_p * max(1, len(texts)))(*texts)


def _problems(problems: Sequence[Any]) -> Tuple[List[bytes], Dict[str, Any]]:
    """The texts the model sees, and the caller's problem object for each text."""
    if isinstance(problems, (str, bytes)) or isinstance(problems, Mapping):
        raise TypeError("problems must be a list of problems, not one problem")
    texts, originals = [], {}
    for i, p in enumerate(problems):
        text = p.get("prompt") if isinstance(p, Mapping) else p
        if not isinstance(text, str):
            raise TypeError(f"problems[{i}] must be a string or a mapping with a 'prompt' string")
        texts.append(_utf8(text, f"problems[{i}]"))
        originals[text] = p
    return texts, originals


def _references(references: Sequence[Any], n: int) -> List[bytes]:
    from . import ScoreValueError

    if isinstance(references, (str, bytes)):
        raise TypeError("references must be a list of strings, not one string")
    out = [_utf8(r, f"references[{i}]") for i, r in enumerate(references)]
    if len(out) != n:
        raise ScoreValueError(f"{len(out)} references for {n} problems")
    return out


def _verifier_kind(name: Any) -> int:
    from . import ScoreValueError

    if name not in VERIFIERS:
        raise ScoreValueError(f"verifier {name!r} is not one of {', '.join(VERIFIERS)}")
    return VERIFIERS[name]


def _path(p: PathArg) -> bytes:
    from . import ScoreValueError

    b = os.fsencode(p)
    if b"\0" in b:
        raise ScoreValueError("path contains a NUL byte")
    return b


class _RewardCallback:
    """A Python reward as a score_reward_fn. C cannot carry a Python
    exception, so one raised by the reward is kept, NaN goes back (the
    library then fails the call without updating), and ``raise_pending``
    re-raises it once the C call has returned."""

    def __init__(self, reward: Callable[[Any, str, Any], float], problems: Dict[str, Any]) -> None:
        self.error: Optional[BaseException] = None

        def trampoline(problem: bytes, attempt: bytes, reference: bytes, _user: Any) -> float:
            if self.error is not None:
                return math.nan
            try:
                text = problem.decode("utf-8")
                return float(reward(problems.get(text, text), attempt.decode("utf-8"), reference.decode("utf-8")))
            except BaseException as e:  # never let an exception cross into C
                self.error = e
                return math.nan

        self.cfunc = reward_fn_t(trampoline)

    def raise_pending(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error


class _ProgressCallback:
    """A Python ``progress(phase, done, total) -> bool`` as a
    score_progress_fn: returning False (or raising) stops the call, which
    then fails with ScoreError(ERR_ABORTED) and changes nothing; an
    exception the callable raised is re-raised by ``raise_pending``."""

    def __init__(self, progress: Optional[Callable[[str, int, int], Any]]) -> None:
        self.error: Optional[BaseException] = None
        if progress is None:
            self.cfunc = progress_fn_t()
            return
        if not callable(progress):
            raise TypeError(f"progress must be callable, not {type(progress).__name__}")

        def trampoline(phase: bytes, done: int, total: int, _user: Any) -> bool:
            if self.error is not None:
                return False
            try:
                return progress(phase.decode("utf-8"), int(done), int(total)) is not False
            except BaseException as e:  # never let an exception cross into C
                self.error = e
                return False

        self.cfunc = progress_fn_t(trampoline)

    def raise_pending(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def _reward_callable(reward: Reward, tolerance: float) -> Callable[[Any, str, Any], float]:
    if isinstance(reward, str):
        _verifier_kind(reward)
        return lambda _problem, attempt, reference: verify(reward, attempt, reference, tolerance=tolerance)
    if not callable(reward):
        raise TypeError(f"reward must be 'exact', 'numeric', 'math' or a callable, not {type(reward).__name__}")
    return reward


def _stats(s: RLStatsStruct) -> Dict[str, Any]:
    turns = max(0, min(int(s.turns), MAX_TURNS))
    return {
        "step": int(s.step),
        "stage": int(s.stage),
        "reward_per_turn": list(s.reward_per_turn[:turns]),
        "kl_per_turn": list(s.kl_per_turn[:turns]),
        "zero_signal_fraction": list(s.zero_signal_fraction[:turns]),
        "answer_change_rate": s.answer_change_rate,
        "loss": s.loss,
        "grad_norm": s.grad_norm,
        "learning_rate": s.learning_rate,
        "skipped_non_finite": bool(s.skipped_non_finite),
        "rollouts": int(s.rollouts),
        "generated_tokens": int(s.generated_tokens),
        "rollout_seconds": s.rollout_seconds,
        "reference_seconds": s.reference_seconds,
        "update_seconds": s.update_seconds,
    }


def _new_stats() -> RLStatsStruct:
    s = RLStatsStruct()
    s.struct_size = ctypes.sizeof(RLStatsStruct)
    return s


# --------------------------------------------------------------------------
# Rollouts
# --------------------------------------------------------------------------


class Rollout(OwnedHandle):
    """The episodes of :meth:`SCoReTrainer.rollout`, problem-major: a
    sequence of :class:`Episode`. It holds the library's copy until closed,
    so :meth:`SCoReTrainer.update` trains on exactly these tokens."""

    def __init__(self, handle: int) -> None:
        self._handle: Optional[int] = handle
        self._free = score_rollout_free
        self.episodes: Tuple[Episode, ...] = tuple(read_episodes(handle))

    def __len__(self) -> int:
        return len(self.episodes)

    def __getitem__(self, i: Any) -> Any:
        return self.episodes[i]

    def __iter__(self) -> Any:
        return iter(self.episodes)

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle:
            self._free(handle)


# --------------------------------------------------------------------------
# The trainer
# --------------------------------------------------------------------------


def _training_params(learning_rate: float, kl: Any, seed: int, options: Dict[str, Any]) -> TrainerParamsStruct:
    """SCoRe's optimiser defaults with the caller's changes (the keyword
    arguments of score.Trainer, plus aggregation "sequence_sum")."""
    from . import ScoreValueError

    p = score_rl_training_params_default()
    p.learning_rate = learning_rate
    p.seed = seed
    if kl not in KL_ESTIMATORS:
        raise ScoreValueError(f"kl must be one of {[k for k in KL_ESTIMATORS if k]} or None, not {kl!r}")
    p.kl_estimator = KL_ESTIMATORS[kl]
    kind = options.pop("parameters", "lora" if "lora_rank" in options else "full")
    if kind not in PARAMS:
        raise ScoreValueError(f"parameters must be 'full' or 'lora', not {kind!r}")
    p.parameter_set = PARAMS[kind]
    if "lora_targets" in options:
        names = options.pop("lora_targets")
        unknown = [n for n in names if n not in LORA_TARGETS]
        if unknown:
            raise ScoreValueError(f"LoRA targets {unknown} do not exist (targets: {', '.join(LORA_TARGETS)})")
        p.lora_targets = sum(LORA_TARGETS[n] for n in set(names))
    for key, table in (("schedule", SCHEDULES), ("aggregation", AGGREGATIONS)):
        if key in options:
            value = options.pop(key)
            if value not in table:
                raise ScoreValueError(f"{key} must be one of {list(table)}, not {value!r}")
            setattr(p, key, table[value])
    if "betas" in options:
        p.beta1, p.beta2 = options.pop("betas")
    if "eps" in options:
        p.epsilon = options.pop("eps")
    for key in ("lora_rank", "lora_alpha", "weight_decay", "warmup_steps", "total_steps", "max_grad_norm",
                "activation_checkpointing", "n_threads"):
        if key in options:
            setattr(p, key, options.pop(key))
    if options:
        raise TypeError(f"unknown SCoReTrainer options: {', '.join(sorted(options))}")
    return p


class SCoReTrainer(OwnedHandle):
    """Trains ``model`` to self-correct with SCoRe (see ``score_rl_*`` in score.h).

    stage: 1 (reward only the last attempt, hold the earlier ones to the
        reference with the strong KL ``beta2``) or 2 (reward every attempt,
        shaped by ``alpha``); settable later through :attr:`stage`.
    reward: "exact", "numeric" (with ``tolerance``), "math" (as math-verify) or a callable
        ``reward(problem, attempt, reference) -> float``; needed by
        :meth:`step` only (``rollout`` + ``update`` take rewards from you).
    attempts (1 = single-turn RL, Stage II only), samples (k per problem,
    >= 2 for the leave-one-out baseline unless update="filtered_sft"),
    alpha, beta1, beta2, update ("reinforce" or "filtered_sft"),
    temperature, top_k, top_p, max_new_tokens, instruction, task_prompt,
    system_prompt, micro_batch, seed (rollout sampling and LoRA
    initialisation), comm (a communicator: mpi4py's, torch.distributed, or
    any object with rank, size and allgather(bytes); each worker then trains
    on its share of the problems every worker passes to :meth:`step`, see
    :mod:`score.collective`), shards (a single process summing each step in
    that many shards, as that many workers do: bit-for-bit equal to them),
    progress (``progress(phase, done, total)``, called
    during rollouts, reward scoring, reference scoring and updates; return
    False to stop the call: ScoreError with status ERR_ABORTED, and the
    trainer as before the call).
    Optimiser (SCoRe's defaults: Adam, no weight decay, clip 1, sum over
    each sequence's tokens): learning_rate, kl (None, "exact", "k1", "k3"),
    and score.Trainer's keywords: parameters, lora_rank, lora_alpha,
    lora_targets, betas, eps, weight_decay, schedule, warmup_steps,
    total_steps, max_grad_norm, aggregation ("token_mean",
    "sequence_mean", "sequence_sum"), activation_checkpointing, n_threads.
    """

    def __init__(self, model: Any, *, stage: int = 1, reward: Optional[Reward] = None, attempts: int = 2,
                 samples: int = 4, alpha: float = 10.0, beta1: float = 0.01, beta2: float = 0.1,
                 update: str = "reinforce", learning_rate: float = 5e-6, kl: Optional[str] = "k3",
                 temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, max_new_tokens: int = 256,
                 instruction: Optional[str] = None, task_prompt: Optional[str] = None,
                 system_prompt: Optional[str] = None, micro_batch: int = 64, seed: int = 0,
                 tolerance: float = 1e-6, progress: Optional[Callable[[str, int, int], Any]] = None,
                 comm: Any = None, shards: int = 1, **training: Any) -> None:
        self._handle: Optional[int] = None
        self._free = score_rl_trainer_free
        self._model = model
        self._reward = None if reward is None else _reward_callable(reward, tolerance)
        self._attempts = attempts
        self._progress = _ProgressCallback(progress)  # kept alive with the trainer: C holds its pointer
        params, keep = self._params(stage, attempts, samples, alpha, beta1, beta2, update, temperature, top_k, top_p,
                                    max_new_tokens, instruction, task_prompt, system_prompt, micro_batch, seed)
        params.progress = self._progress.cfunc
        training_params = _training_params(learning_rate, kl, seed, training)
        params.training = ctypes.pointer(training_params)
        self._open(lambda handle, out: score_rl_trainer_new(handle, ctypes.byref(params), out))
        del keep
        self._set_workers(comm, shards)

    def _set_workers(self, comm: Any, shards: int) -> None:
        from . import _check, _check_int32
        from .collective import CommCollective, score_rl_trainer_set_collective, score_rl_trainer_set_shards

        self._comm = None
        if comm is not None:
            self._comm = CommCollective(comm)  # kept alive with the trainer: C holds its callbacks
            _check(score_rl_trainer_set_collective(self._live(), ctypes.byref(self._comm.struct)))
        if shards != 1:
            _check(score_rl_trainer_set_shards(self._live(), _check_int32(shards, "shards")))

    @classmethod
    def resume(cls, model: Any, path: PathArg, *, reward: Optional[Reward] = None, tolerance: float = 1e-6,
               progress: Optional[Callable[[str, int, int], Any]] = None, **options: Any) -> "SCoReTrainer":
        """Continue a run saved with :meth:`save`: weights, optimiser and
        step from the checkpoint; ``options`` are the rollout and objective
        keywords of the constructor (stage, attempts, samples, ...). The
        optimiser keywords are not accepted: the checkpoint records them."""
        names = ("stage", "attempts", "samples", "alpha", "beta1", "beta2", "update", "temperature", "top_k", "top_p",
                 "max_new_tokens", "instruction", "task_prompt", "system_prompt", "micro_batch", "seed")
        unknown = sorted(set(options) - set(names))
        if unknown:
            raise TypeError(f"SCoReTrainer.resume takes no {', '.join(unknown)} (the checkpoint has the optimiser)")
        self = cls.__new__(cls)
        self._handle = None
        self._free = score_rl_trainer_free
        self._model = model
        self._reward = None if reward is None else _reward_callable(reward, tolerance)
        defaults = dict(stage=1, attempts=2, samples=4, alpha=10.0, beta1=0.01, beta2=0.1, update="reinforce",
                        temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=256, instruction=None, task_prompt=None,
                        system_prompt=None, micro_batch=64, seed=0)
        defaults.update(options)
        self._attempts = defaults["attempts"]
        self._progress = _ProgressCallback(progress)
        params, keep = self._params(*(defaults[n] for n in names))
        params.progress = self._progress.cfunc
        path_bytes = _path(path)
        self._open(lambda handle, out: score_rl_trainer_resume(handle, path_bytes, ctypes.byref(params), out))
        del keep
        self._comm = None
        return self

    @staticmethod
    def _params(stage: int, attempts: int, samples: int, alpha: float, beta1: float, beta2: float, update: str,
                temperature: float, top_k: int, top_p: float, max_new_tokens: int, instruction: Optional[str],
                task_prompt: Optional[str], system_prompt: Optional[str], micro_batch: int,
                seed: int) -> Tuple[RLParamsStruct, List[bytes]]:
        from . import ScoreValueError, _check_int32

        if update not in UPDATE_RULES:
            raise ScoreValueError(f"update must be one of {list(UPDATE_RULES)}, not {update!r}")
        if not isinstance(seed, int) or not 0 <= seed < 2**64:
            raise ScoreValueError(f"seed {seed!r} must be an integer in [0, 2**64)")
        p = score_rl_params_default()
        p.stage = _check_int32(stage, "stage")
        p.attempts = _check_int32(attempts, "attempts")
        p.samples_per_problem = _check_int32(samples, "samples")
        p.alpha, p.beta1, p.beta2 = float(alpha), float(beta1), float(beta2)
        p.update_rule = UPDATE_RULES[update]
        p.temperature, p.top_k, p.top_p = float(temperature), _check_int32(top_k, "top_k"), float(top_p)
        p.max_new_tokens = _check_int32(max_new_tokens, "max_new_tokens")
        p.micro_batch = _check_int32(micro_batch, "micro_batch")
        p.seed = seed
        keep = []  # the bytes must outlive the C call
        for field, value in (("instruction", instruction), ("task_prompt", task_prompt), ("system_prompt", system_prompt)):
            if value is not None:
                b = _utf8(value, field)
                keep.append(b)
                setattr(p, field, b)
        return p, keep

    def _open(self, create: Callable[[int, Any], int]) -> None:
        from . import ScoreError, _check

        handle = self._model._acquire()
        try:
            out = score_rl_trainer_p()
            _check(create(handle, ctypes.byref(out)))
        finally:
            self._model._release()
        if not out.value:
            raise ScoreError(_lib.SCORE_ERR_INTERNAL, "the library returned no SCoRe trainer")
        self._handle = out.value

    def _live(self) -> int:
        from . import ScoreError

        if self._handle is None:
            raise ScoreError(_lib.SCORE_ERR_INVALID_ARGUMENT, "the SCoRe trainer is closed")
        return self._handle

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle:
            self._free(handle)

    @property
    def stage(self) -> int:
        """1 (Stage I) or 2 (Stage II); set it between steps."""
        from . import _check

        out = ctypes.c_int32()
        _check(score_rl_trainer_get_stage(self._live(), ctypes.byref(out)))
        return out.value

    @stage.setter
    def stage(self, value: int) -> None:
        from . import _check, _check_int32

        _check(score_rl_trainer_set_stage(self._live(), _check_int32(value, "stage")))

    def use_current_policy_as_reference(self) -> None:
        """Anchor the KL to the current policy from now on (Stage II
        against the Stage I model instead of the base model)."""
        from . import _check

        _check(score_rl_trainer_use_current_as_reference(self._live()))

    def step(self, problems: Sequence[Any], references: Sequence[str]) -> Dict[str, Any]:
        """Rollouts of every problem, rewards from ``reward``, one update.
        Returns the step's statistics (reward_per_turn, kl_per_turn, loss, ...)."""
        from . import ScoreValueError, _check

        if self._reward is None:
            raise ScoreValueError("this trainer has no reward: pass reward= to SCoReTrainer, or use rollout() and update()")
        texts, originals = _problems(problems)
        refs = _references(references, len(texts))
        callback = _RewardCallback(self._reward, originals)
        stats = _new_stats()
        status = score_rl_step(self._live(), _c_strings(texts), _c_strings(refs), len(texts), callback.cfunc, None,
                               ctypes.byref(stats))
        callback.raise_pending()  # the reward's own exception, not the NaN it turned into
        self._progress.raise_pending()
        if self._comm is not None:
            self._comm.raise_pending()
        _check(status)
        return _stats(stats)

    def rollout(self, problems: Sequence[Any]) -> Rollout:
        """``samples`` episodes of ``attempts`` attempts per problem from the
        current policy, for :meth:`update`."""
        from . import _check

        texts, _ = _problems(problems)
        out = score_rollout_p()
        status = score_rl_rollout(self._live(), _c_strings(texts), len(texts), ctypes.byref(out))
        self._progress.raise_pending()
        _check(status)
        try:
            return Rollout(out.value)
        except BaseException:
            score_rollout_free(out.value)
            raise

    def update(self, rollout: Rollout, rewards: Sequence[Sequence[float]]) -> Dict[str, Any]:
        """One update from a :meth:`rollout` and its rewards: ``rewards[i][t]``
        is r(y_t) of episode i, one value per attempt it has (or ``attempts``
        values, 0 for the attempts it did not reach)."""
        from . import ScoreValueError, _check

        if not isinstance(rollout, Rollout):
            raise TypeError("rollout must be what SCoReTrainer.rollout returned")
        if rollout._handle is None:
            raise ScoreValueError("the rollout is closed")
        rows = list(rewards)
        if len(rows) != len(rollout):
            raise ScoreValueError(f"{len(rows)} reward rows for {len(rollout)} episodes")
        flat: List[float] = []
        for i, (row, episode) in enumerate(zip(rows, rollout)):
            values = [float(v) for v in (row.tolist() if hasattr(row, "tolist") else row)]
            if len(values) not in (len(episode.attempts), self._attempts):
                raise ScoreValueError(f"rewards[{i}] has {len(values)} values for {len(episode.attempts)} attempts")
            flat += values + [0.0] * (self._attempts - len(values))
        array = (ctypes.c_float * max(1, len(flat)))(*flat)
        stats = _new_stats()
        status = score_rl_update(self._live(), rollout._handle, array, len(flat), ctypes.byref(stats))
        self._progress.raise_pending()
        _check(status)
        return _stats(stats)

    def save(self, path: PathArg) -> None:
        """Atomically save a resumable checkpoint (see :meth:`resume`)."""
        from . import _check

        _check(score_rl_trainer_save(self._live(), _path(path)))

    def export(self, path: PathArg) -> None:
        """Write the current policy as a Hugging Face model directory."""
        from . import _check

        _check(score_rl_trainer_export(self._live(), _path(path)))


# --------------------------------------------------------------------------
# Verifiers and evaluation
# --------------------------------------------------------------------------


def verify(kind: str, attempt: str, reference: str, tolerance: float = 1e-6) -> float:
    """r(attempt, reference) under the library's verifier ``kind``
    ("exact", "numeric" or "math"): 1.0 or 0.0."""
    from . import _check

    out = ctypes.c_float()
    _check(score_verify(_verifier_kind(kind), float(tolerance), _utf8(attempt, "attempt"),
                        _utf8(reference, "reference"), ctypes.byref(out)))
    return out.value


def evaluate(model: Any, problems: Sequence[Any], references: Sequence[str], *, reward: Reward = "math",
             attempts: int = 2, max_new_tokens: int = 256, instruction: Optional[str] = None,
             task_prompt: Optional[str] = None, system_prompt: Optional[str] = None,
             tolerance: float = 1e-6, progress: Optional[Callable[[str, int, int], Any]] = None) -> Dict[str, Any]:
    """Greedy attempts 1..attempts for every problem and the self-correction
    metrics: problems, accuracy (per attempt), acc_t1, acc_t2, delta,
    delta_i_to_c, delta_c_to_i, answer_changed, edit_distance_ratio. An
    attempt is right when its reward is >= 1. ``progress(phase, done,
    total)`` hears how far it got; returning False stops it (ScoreError
    with status ERR_ABORTED)."""
    from . import _check, _check_int32

    texts, originals = _problems(problems)
    refs = _references(references, len(texts))
    p = score_eval_params_default()
    p.attempts = _check_int32(attempts, "attempts")
    p.max_new_tokens = _check_int32(max_new_tokens, "max_new_tokens")
    p.tolerance = float(tolerance)
    keep = []
    for field, value in (("instruction", instruction), ("task_prompt", task_prompt), ("system_prompt", system_prompt)):
        if value is not None:
            b = _utf8(value, field)
            keep.append(b)
            setattr(p, field, b)
    callback = None
    if isinstance(reward, str):
        p.verifier = _verifier_kind(reward)
    else:
        callback = _RewardCallback(_reward_callable(reward, tolerance), originals)
    reporter = _ProgressCallback(progress)
    p.progress = reporter.cfunc
    out = EvalResultStruct()
    out.struct_size = ctypes.sizeof(EvalResultStruct)
    handle = model._acquire()
    try:
        status = score_evaluate(handle, ctypes.byref(p), _c_strings(texts), _c_strings(refs), len(texts),
                                callback.cfunc if callback else reward_fn_t(), None, ctypes.byref(out))
    finally:
        model._release()
    if callback:
        callback.raise_pending()
    reporter.raise_pending()
    _check(status)
    return _eval_result(out)


def _eval_result(out: EvalResultStruct) -> Dict[str, Any]:
    n = max(0, min(int(out.attempts), MAX_TURNS))
    return {
        "problems": int(out.problems),
        "accuracy": list(out.accuracy[:n]),
        "acc_t1": out.acc_t1,
        "acc_t2": out.acc_t2,
        "delta": out.delta,
        "delta_i_to_c": out.delta_i_to_c,
        "delta_c_to_i": out.delta_c_to_i,
        "answer_changed": out.answer_changed,
        "edit_distance_ratio": out.edit_distance_ratio,
    }
