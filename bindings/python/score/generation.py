"""Generation: ``Session`` and ``Model.generate`` over ``score_generate``.

Results are plain Python objects (:class:`Generation`). The ctypes
declarations for this part of ``score.h`` live here, next to their use.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

from . import _lib
from ._lib import ctypes_function, score_model_p, score_status, size_t_p, int32_p, float_p

SCORE_TYPE_SESSION_PARAMS = 2
SCORE_TYPE_GENERATE_PARAMS = 3

FINISH_REASONS = {0: "stop_token", 1: "length", 2: "aborted", 3: "context_full"}

score_session_p = ctypes.c_void_p
score_generation_p = ctypes.c_void_p
# typedef bool (*score_token_fn)(size_t sequence, int32_t token, void *user_data);
token_fn_t = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_size_t, ctypes.c_int32, ctypes.c_void_p)


class SessionParamsStruct(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("seed", ctypes.c_uint64)]


class GenerateParamsStruct(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("max_new_tokens", ctypes.c_int32),
        ("temperature", ctypes.c_float),
        ("top_k", ctypes.c_int32),
        ("top_p", ctypes.c_float),
        ("min_p", ctypes.c_float),
        ("repetition_penalty", ctypes.c_float),
        ("stop_ids", int32_p),
        ("n_stop_ids", ctypes.c_size_t),
    ]


@ctypes_function("score_session_params_default", [], SessionParamsStruct)
def score_session_params_default() -> SessionParamsStruct: ...


@ctypes_function("score_session_new", [score_model_p, ctypes.POINTER(SessionParamsStruct), ctypes.POINTER(score_session_p)], score_status)
def score_session_new(model: Any, params: Any, out: Any) -> int: ...


@ctypes_function("score_session_free", [score_session_p], None)
def score_session_free(session: Any) -> None: ...


@ctypes_function("score_generate_params_default", [], GenerateParamsStruct)
def score_generate_params_default() -> GenerateParamsStruct: ...


@ctypes_function(
    "score_generate",
    [score_session_p, ctypes.POINTER(int32_p), ctypes.POINTER(ctypes.c_size_t), ctypes.c_size_t,
     ctypes.POINTER(GenerateParamsStruct), token_fn_t, ctypes.c_void_p, ctypes.POINTER(score_generation_p)],
    score_status,
)
def score_generate(*args: Any) -> int: ...


@ctypes_function("score_generation_count", [score_generation_p], ctypes.c_size_t)
def score_generation_count(generation: Any) -> int: ...


@ctypes_function(
    "score_generation_get",
    [score_generation_p, ctypes.c_size_t, ctypes.POINTER(int32_p), ctypes.POINTER(float_p), size_t_p, int32_p],
    score_status,
)
def score_generation_get(*args: Any) -> int: ...


@ctypes_function("score_generation_free", [score_generation_p], None)
def score_generation_free(generation: Any) -> None: ...


for _struct, _id in ((SessionParamsStruct, SCORE_TYPE_SESSION_PARAMS), (GenerateParamsStruct, SCORE_TYPE_GENERATE_PARAMS)):
    if ctypes.sizeof(_struct) != _lib.lib.score_sizeof(_id):
        raise _lib.LibraryLoadError(f"{_struct.__name__} is {ctypes.sizeof(_struct)} bytes, the library says {_lib.lib.score_sizeof(_id)}")


@dataclass(frozen=True)
class Generation:
    """One continuation: new token ids, their log-probs under the
    temperature-scaled model, and why it ended ("stop_token", "length",
    "aborted" or "context_full")."""

    tokens: Tuple[int, ...]
    logprobs: Tuple[float, ...]
    finish_reason: str


TokenCallback = Callable[[int, int], bool]


class Session:
    """Generation state over a model: random streams and scratch. Use one
    session per thread; the model may be shared."""

    def __init__(self, model: Any, seed: int = 0) -> None:
        from . import _check, _check_int32  # late: __init__ imports this module

        self._model = model
        params = score_session_params_default()
        if not isinstance(seed, int) or seed < 0 or seed >= 2**64:
            raise ValueError("seed must be an integer in [0, 2**64)")
        params.seed = seed
        out = score_session_p()
        handle = model._acquire()
        try:
            _check(score_session_new(handle, ctypes.byref(params), ctypes.byref(out)))
        finally:
            model._release()
        self._handle: Optional[int] = out.value
        self._lock = threading.Lock()

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle:
            score_session_free(handle)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        max_new_tokens: int = 128,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        min_p: float = 0.0,
        repetition_penalty: float = 1.0,
        stop_ids: Optional[Sequence[int]] = None,
        on_token: Optional[TokenCallback] = None,
    ) -> List[Generation]:
        """Continues every prompt (a list of token-id lists) in one batch."""
        from . import ScoreError, _as_int32_array, _check, _check_int32

        if self._handle is None:
            raise ScoreError(_lib.SCORE_ERR_INVALID_ARGUMENT, "session is closed")
        if len(prompts) == 0:
            raise ScoreError(_lib.SCORE_ERR_INVALID_ARGUMENT, "no prompts")
        arrays = [_as_int32_array(p) for p in prompts]
        pointers = (int32_p * len(arrays))(*[ctypes.cast(a, int32_p) for a in arrays])
        lengths = (ctypes.c_size_t * len(arrays))(*[len(a) for a in arrays])
        gp = score_generate_params_default()
        gp.max_new_tokens = _check_int32(max_new_tokens, "max_new_tokens")
        gp.temperature = float(temperature)
        gp.top_k = _check_int32(top_k, "top_k")
        gp.top_p = float(top_p)
        gp.min_p = float(min_p)
        gp.repetition_penalty = float(repetition_penalty)
        stops = None
        if stop_ids is not None:
            stops = _as_int32_array(stop_ids) if len(stop_ids) else None
            gp.stop_ids = ctypes.cast(stops, int32_p) if stops is not None else ctypes.cast((ctypes.c_int32 * 1)(), int32_p)
            gp.n_stop_ids = len(stop_ids)

        errors: List[BaseException] = []

        def trampoline(sequence: int, token: int, _user: Any) -> bool:
            try:
                return bool(on_token(sequence, token)) if on_token else True
            except BaseException as e:  # never let an exception cross into C
                errors.append(e)
                return False

        callback = token_fn_t(trampoline) if on_token else token_fn_t()
        out = score_generation_p()
        with self._lock:
            handle = self._model._acquire()
            try:
                _check(score_generate(self._handle, pointers, lengths, len(arrays), ctypes.byref(gp),
                                      callback, None, ctypes.byref(out)))
            finally:
                self._model._release()
        try:
            if errors:
                raise errors[0]
            results = []
            for i in range(score_generation_count(out)):
                tokens, logprobs = int32_p(), float_p()
                n, finish = ctypes.c_size_t(), ctypes.c_int32()
                _check(score_generation_get(out, i, ctypes.byref(tokens), ctypes.byref(logprobs),
                                            ctypes.byref(n), ctypes.byref(finish)))
                results.append(Generation(tuple(tokens[:n.value]), tuple(logprobs[:n.value]),
                                          FINISH_REASONS.get(finish.value, str(finish.value))))
            return results
        finally:
            score_generation_free(out)
