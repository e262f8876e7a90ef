"""The SCoRe recipe of ``score-cli train`` in one call: ``run_recipe`` over
``score_rl_run_recipe``.

    import score
    with score.Model.load("model-dir") as model:
        result = score.run_recipe(model, "out", problems, answers, reward="math",
                                  stage="both", rounds=2, steps=100, save_every=25,
                                  eval_problems=held_out, eval_answers=held_out_answers,
                                  on_step=lambda r: print(r["step"], r["stats"]["reward_per_turn"]))
    # out/last: resumable checkpoint; out/best: the best window's model

Stage I, Stage II, or rounds of both; every step draws ``problems_per_step``
problems (a seeded shuffle, epoch by epoch); held-out problems are evaluated
greedily every ``eval_every`` steps; ``out/last`` is written every
``save_every`` steps and at the end, ``out/best`` is the model of the save
window with the highest mean last-attempt training reward. ``resume=True``
continues ``out/last`` (a run of ``score-cli train`` too) with the rollouts
and updates an uninterrupted run would have made.
"""

from __future__ import annotations

import ctypes
import math
import os
from typing import Any, Callable, Dict, Optional, Sequence

from . import _lib
from ._lib import ctypes_function, score_model_p, score_status
from .collective import CollectiveStruct
from .score_rl import (EvalResultStruct, PathArg, Reward, RLParamsStruct, RLStatsStruct, SCoReTrainer, _c_strings, _eval_result,
                       _path, _problems, _ProgressCallback, _references, _RewardCallback, _reward_callable, _stats,
                       _training_params, _verifier_kind, reward_fn_t)

__all__ = ["run_recipe", "STAGES"]

SCORE_TYPE_RL_RECIPE_PARAMS = 27
SCORE_TYPE_RL_RECIPE_STEP = 28
SCORE_TYPE_RL_RECIPE_RESULT = 29

#: ``stage`` values and their SCORE_RECIPE_* ids.
STAGES = {"both": 0, 1: 1, 2: 2}

_strings_p = ctypes.POINTER(ctypes.c_char_p)


class RecipeParamsStruct(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("stage", ctypes.c_int32),
        ("rounds", ctypes.c_int32),
        ("steps_per_stage", ctypes.c_int32),
        ("problems_per_step", ctypes.c_int32),
        ("save_every", ctypes.c_int32),
        ("eval_every", ctypes.c_int32),
        ("anchor_to_stage1", ctypes.c_bool),
        ("seed", ctypes.c_uint64),
        ("shards", ctypes.c_int32),
        ("verifier", ctypes.c_int32),
        ("tolerance", ctypes.c_double),
        ("rl", ctypes.POINTER(RLParamsStruct)),
        ("collective", ctypes.POINTER(CollectiveStruct)),
        ("stage1_steps", ctypes.c_int32),
        ("stage2_steps", ctypes.c_int32),
    ]


class RecipeStepStruct(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("stage", ctypes.c_int32),
        ("round", ctypes.c_int32),
        ("step", ctypes.c_int64),
        ("step_in_stage", ctypes.c_int64),
        ("total_steps", ctypes.c_int64),
        ("elapsed", ctypes.c_double),
        ("stats", ctypes.POINTER(RLStatsStruct)),
        ("eval", ctypes.POINTER(EvalResultStruct)),
    ]


class RecipeResultStruct(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("steps_trained", ctypes.c_int64),
        ("step", ctypes.c_int64),
        ("best_reward", ctypes.c_double),
        ("best_step", ctypes.c_int64),
    ]


for _struct, _id in ((RecipeParamsStruct, SCORE_TYPE_RL_RECIPE_PARAMS), (RecipeStepStruct, SCORE_TYPE_RL_RECIPE_STEP),
                     (RecipeResultStruct, SCORE_TYPE_RL_RECIPE_RESULT)):
    if ctypes.sizeof(_struct) != _lib.lib.score_sizeof(_id):
        raise _lib.LibraryLoadError(f"{_struct.__name__} is {ctypes.sizeof(_struct)} bytes, the library says {_lib.lib.score_sizeof(_id)}")

# typedef bool (*score_rl_recipe_step_fn)(const score_rl_recipe_step *step, void *user_data);
step_fn_t = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.POINTER(RecipeStepStruct), ctypes.c_void_p)


@ctypes_function("score_rl_recipe_params_default", [], RecipeParamsStruct)
def score_rl_recipe_params_default() -> RecipeParamsStruct: ...


@ctypes_function("score_rl_run_recipe",
                 [score_model_p, ctypes.c_char_p, _strings_p, _strings_p, ctypes.c_size_t, _strings_p, _strings_p, ctypes.c_size_t,
                  ctypes.POINTER(RecipeParamsStruct), ctypes.c_bool, reward_fn_t, step_fn_t, ctypes.c_void_p,
                  ctypes.POINTER(RecipeResultStruct)], score_status)
def score_rl_run_recipe(*args: Any) -> int: ...


class _StepCallback:
    """A Python ``on_step(report) -> bool`` as a score_rl_recipe_step_fn:
    returning False (or raising) stops the run after that step; an
    exception is re-raised by ``raise_pending`` once the C call returned."""

    def __init__(self, on_step: Optional[Callable[[Dict[str, Any]], Any]]) -> None:
        self.error: Optional[BaseException] = None
        if on_step is None:
            self.cfunc = step_fn_t()
            return
        if not callable(on_step):
            raise TypeError(f"on_step must be callable, not {type(on_step).__name__}")

        def trampoline(step: Any, _user: Any) -> bool:
            if self.error is not None:
                return False
            try:
                s = step.contents
                report = {
                    "step": int(s.step),
                    "stage": int(s.stage),
                    "round": int(s.round),
                    "step_in_stage": int(s.step_in_stage),
                    "total_steps": int(s.total_steps),
                    "elapsed": s.elapsed,
                    "stats": _stats(s.stats.contents),
                    "eval": _eval_result(s.eval.contents) if s.eval else None,
                }
                return on_step(report) is not False
            except BaseException as e:  # never let an exception cross into C
                self.error = e
                return False

        self.cfunc = step_fn_t(trampoline)

    def raise_pending(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def run_recipe(model: Any, out_dir: PathArg, problems: Sequence[Any], answers: Sequence[str], *,
               eval_problems: Optional[Sequence[Any]] = None, eval_answers: Optional[Sequence[str]] = None,
               reward: Reward = "math", tolerance: float = 1e-6, stage: Any = "both", rounds: int = 1, steps: int = 100,
               stage1_steps: Optional[int] = None, stage2_steps: Optional[int] = None,
               problems_per_step: int = 16, save_every: int = 25, eval_every: Optional[int] = None,
               anchor_to_stage1: bool = False, seed: int = 0, shards: int = 1, resume: bool = False,
               on_step: Optional[Callable[[Dict[str, Any]], Any]] = None,
               progress: Optional[Callable[[str, int, int], Any]] = None, comm: Any = None,
               attempts: int = 2, samples: int = 4, alpha: float = 10.0, beta1: float = 0.01, beta2: float = 0.1,
               update: str = "reinforce", learning_rate: float = 5e-6, kl: Optional[str] = "k3", temperature: float = 1.0,
               top_k: int = 0, top_p: float = 1.0, max_new_tokens: int = 256, instruction: Optional[str] = None,
               task_prompt: Optional[str] = None, system_prompt: Optional[str] = None, micro_batch: int = 64,
               **training: Any) -> Dict[str, Any]:
    """Runs SCoRe's recipe on ``model`` into ``out_dir`` (``score_rl_run_recipe``)
    and returns ``{"steps_trained", "step", "best_reward", "best_step",
    "last", "best"}`` (``best_reward`` None when no window was exported).

    stage: 1, 2 or "both" (Stage I then Stage II, ``rounds`` times); steps:
    optimiser steps per stage, unless ``stage1_steps`` / ``stage2_steps``
    give a stage its own count. reward: "exact", "numeric", "math" (the
    library's verifiers, with ``tolerance``) or a callable ``reward(problem,
    attempt, reference) -> float``, for the training and held-out attempts.
    eval_problems / eval_answers: held-out problems, evaluated greedily every
    ``eval_every`` steps (default ``save_every``). anchor_to_stage1: Stage
    II's KL reference is the policy as Stage I ended. seed: data order,
    rollouts and LoRA initialisation. on_step(report): after every step, with
    "step", "stage", "round", "step_in_stage", "total_steps", "elapsed",
    "stats" (as :meth:`SCoReTrainer.step` returns them) and "eval" (the
    held-out metrics of :func:`evaluate`, or None); return False to stop the
    run (ScoreError with status ERR_ABORTED; ``out_dir/last`` holds the last
    checkpoint, ``resume=True`` continues it). progress, comm, shards and the
    remaining keywords (attempts, samples, alpha, beta1, beta2, update,
    learning_rate, kl, temperature, top_k, top_p, max_new_tokens,
    instruction, task_prompt, system_prompt, micro_batch, lora_rank, ...)
    are those of :class:`SCoReTrainer`. A resumed run must have the
    settings its checkpoint records (the step counts and rounds aside).
    Bad arguments raise ScoreError (ScoreValueError when Python rejects them)
    before anything is written.
    """
    from . import ScoreValueError, _check, _check_int32

    if stage not in STAGES or isinstance(stage, bool):
        raise ScoreValueError(f"stage must be 1, 2 or 'both', not {stage!r}")
    texts, originals = _problems(problems)
    refs = _references(answers, len(texts))
    if (eval_problems is None) != (eval_answers is None):
        raise ScoreValueError("eval_problems and eval_answers go together")
    eval_texts, eval_refs = [], []
    if eval_problems is not None:
        eval_texts, eval_originals = _problems(eval_problems)
        eval_refs = _references(eval_answers or [], len(eval_texts))
        originals = {**eval_originals, **originals}
    if not isinstance(seed, int) or not 0 <= seed < 2**64:
        raise ScoreValueError(f"seed {seed!r} must be an integer in [0, 2**64)")

    rl, keep = SCoReTrainer._params(1, attempts, samples, alpha, beta1, beta2, update, temperature, top_k, top_p,
                                    max_new_tokens, instruction, task_prompt, system_prompt, micro_batch, seed)
    training_params = _training_params(learning_rate, kl, seed, dict(training))
    rl.training = ctypes.pointer(training_params)
    reporter = _ProgressCallback(progress)
    rl.progress = reporter.cfunc

    p = score_rl_recipe_params_default()
    p.stage = STAGES[stage]
    p.rounds = _check_int32(rounds, "rounds")
    p.steps_per_stage = _check_int32(steps, "steps")
    p.stage1_steps = 0 if stage1_steps is None else _check_int32(stage1_steps, "stage1_steps")
    p.stage2_steps = 0 if stage2_steps is None else _check_int32(stage2_steps, "stage2_steps")
    p.problems_per_step = _check_int32(problems_per_step, "problems_per_step")
    p.save_every = _check_int32(save_every, "save_every")
    p.eval_every = 0 if eval_every is None else _check_int32(eval_every, "eval_every")
    if eval_every is not None and p.eval_every == 0:
        raise ScoreValueError("eval_every must be >= 1 (None: save_every)")
    p.anchor_to_stage1 = bool(anchor_to_stage1)
    p.seed = seed
    p.shards = _check_int32(shards, "shards")
    p.tolerance = float(tolerance)
    p.rl = ctypes.pointer(rl)
    callback = None
    if isinstance(reward, str):
        p.verifier = _verifier_kind(reward)
    else:
        callback = _RewardCallback(_reward_callable(reward, tolerance), originals)
    workers = None
    if comm is not None:
        from .collective import CommCollective

        workers = CommCollective(comm)
        p.collective = ctypes.pointer(workers.struct)
    steps_callback = _StepCallback(on_step)
    result = RecipeResultStruct()
    result.struct_size = ctypes.sizeof(RecipeResultStruct)
    out = _path(out_dir)

    handle = model._acquire()
    try:
        status = score_rl_run_recipe(
            handle, out, _c_strings(texts), _c_strings(refs), len(texts),
            _c_strings(eval_texts) if eval_texts else None, _c_strings(eval_refs) if eval_texts else None, len(eval_texts),
            ctypes.byref(p), bool(resume), callback.cfunc if callback else reward_fn_t(), steps_callback.cfunc, None,
            ctypes.byref(result))
    finally:
        model._release()
    del keep
    # The callables' own exceptions, not the stop or NaN they turned into.
    if callback:
        callback.raise_pending()
    steps_callback.raise_pending()
    reporter.raise_pending()
    if workers is not None:
        workers.raise_pending()
    _check(status)
    out_text = os.fsdecode(out)
    return {
        "steps_trained": int(result.steps_trained),
        "step": int(result.step),
        "best_reward": None if math.isnan(result.best_reward) else result.best_reward,
        "best_step": int(result.best_step),
        "last": os.path.join(out_text, "last"),
        "best": os.path.join(out_text, "best"),
    }
