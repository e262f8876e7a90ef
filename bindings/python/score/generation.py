"""Generation: ``Session`` and ``Model.generate`` over ``score_generate``.

Results are plain Python objects (:class:`Generation`). The ctypes
declarations for this part of ``score.h`` live here, next to their use.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

from . import _lib
from ._lib import ctypes_function, score_model_p, score_status, size_t_p, int32_p, float_p

SCORE_TYPE_SESSION_PARAMS = 2
SCORE_TYPE_GENERATE_PARAMS = 3

FINISH_REASONS = {0: "stop_token", 1: "length", 2: "aborted", 3: "context_full", 4: "stop_string"}

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
        ("stop_strings", ctypes.POINTER(ctypes.c_char_p)),
        ("n_stop_strings", ctypes.c_size_t),
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
        self._owner: Optional[int] = None  # thread id of the running call

    @contextlib.contextmanager
    def _running(self, what: str) -> Iterator[None]:
        """Holds the session for one call. Other threads wait their turn;
        the same thread again (from an on_token callback) would wait for
        itself forever, so that inner call raises ScoreError instead."""
        from . import ScoreError

        if self._owner == threading.get_ident():
            raise ScoreError(_lib.SCORE_ERR_INVALID_ARGUMENT,
                             f"Session.{what} called from inside this session's own call (an on_token "
                             "callback); use another Session")
        with self._lock:
            self._owner = threading.get_ident()
            try:
                yield
            finally:
                self._owner = None

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
        stop_strings: Optional[Sequence[str]] = None,
        on_token: Optional[TokenCallback] = None,
    ) -> List[Generation]:
        """Continues every prompt (a list of token-id lists) in one batch.

        ``temperature`` is 0 (greedy) or at least 1e-5; ``repetition_penalty``
        is in [0.01, 100] (1 = off). Values outside raise ScoreError
        (INVALID_ARGUMENT) rather than giving NaN log-probs."""
        from . import ScoreError, _as_int32_array, _check, _check_int32

        if self._handle is None:
            raise ScoreError(_lib.SCORE_ERR_INVALID_ARGUMENT, "session is closed")
        if len(prompts) == 0:
            raise ScoreError(_lib.SCORE_ERR_INVALID_ARGUMENT, "no prompts")
        arrays = [_as_int32_array(p) for p in prompts]
        pointers = (int32_p * len(arrays))(*[ctypes.cast(a, int32_p) for a in arrays])
        lengths = (ctypes.c_size_t * len(arrays))(*[len(a) for a in arrays])
        gp = _gen_params(max_new_tokens, temperature, top_k, top_p, min_p, repetition_penalty)
        stops = None
        if stop_ids is not None:
            stops = _as_int32_array(stop_ids) if len(stop_ids) else None
            gp.stop_ids = ctypes.cast(stops, int32_p) if stops is not None else ctypes.cast((ctypes.c_int32 * 1)(), int32_p)
            gp.n_stop_ids = len(stop_ids)

        if stop_strings:
            encoded_stops = [_c_text(t, f"stop_strings[{i}]") for i, t in enumerate(stop_strings)]
            stop_array = (ctypes.c_char_p * len(encoded_stops))(*encoded_stops)
            gp.stop_strings = ctypes.cast(stop_array, ctypes.POINTER(ctypes.c_char_p))
            gp.n_stop_strings = len(encoded_stops)

        errors: List[BaseException] = []

        def trampoline(sequence: int, token: int, _user: Any) -> bool:
            try:
                return bool(on_token(sequence, token)) if on_token else True
            except BaseException as e:  # never let an exception cross into C
                errors.append(e)
                return False

        callback = token_fn_t(trampoline) if on_token else token_fn_t()
        out = score_generation_p()
        with self._running("generate"):
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


# --------------------------------------------------------------------------
# The revise loop
# --------------------------------------------------------------------------

SCORE_TYPE_REVISE_PARAMS = 4
score_rollout_p = ctypes.c_void_p
uint8_p = ctypes.POINTER(ctypes.c_uint8)


class ReviseParamsStruct(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("attempts", ctypes.c_int32),
        ("samples", ctypes.c_int32),
        ("task_prompt", ctypes.c_char_p),
        ("system_prompt", ctypes.c_char_p),
        ("instruction", ctypes.c_char_p),
    ]


if ctypes.sizeof(ReviseParamsStruct) != _lib.lib.score_sizeof(SCORE_TYPE_REVISE_PARAMS):
    raise _lib.LibraryLoadError("ReviseParamsStruct does not match the library's score_revise_params")


@ctypes_function("score_revise_params_default", [], ReviseParamsStruct)
def score_revise_params_default() -> ReviseParamsStruct: ...


@ctypes_function(
    "score_rollout_run",
    [score_session_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t, ctypes.POINTER(ReviseParamsStruct),
     ctypes.POINTER(GenerateParamsStruct), ctypes.POINTER(score_rollout_p)],
    score_status,
)
def score_rollout_run(*args: Any) -> int: ...


@ctypes_function("score_rollout_count", [score_rollout_p], ctypes.c_size_t)
def score_rollout_count(rollout: Any) -> int: ...


@ctypes_function(
    "score_rollout_episode",
    [score_rollout_p, ctypes.c_size_t, size_t_p, size_t_p, ctypes.POINTER(int32_p), ctypes.POINTER(uint8_p), size_t_p, size_t_p],
    score_status,
)
def score_rollout_episode(*args: Any) -> int: ...


@ctypes_function(
    "score_rollout_attempt",
    [score_rollout_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.POINTER(int32_p), ctypes.POINTER(float_p), size_t_p,
     size_t_p, int32_p, ctypes.POINTER(ctypes.c_char_p)],
    score_status,
)
def score_rollout_attempt(*args: Any) -> int: ...


@ctypes_function("score_rollout_free", [score_rollout_p], None)
def score_rollout_free(rollout: Any) -> None: ...


@dataclass(frozen=True)
class Attempt:
    """One attempt: its text, token ids, log-probs, where it starts in the
    episode's sequence, and why it ended."""

    text: str
    tokens: Tuple[int, ...]
    logprobs: Tuple[float, ...]
    offset: int
    finish_reason: str


@dataclass(frozen=True)
class Episode:
    """All attempts of one sample of one problem. ``sequence`` is everything
    the model saw; ``loss_mask[i]`` is 1 where the model sampled sequence[i]."""

    problem: int
    sample: int
    attempts: Tuple[Attempt, ...]
    sequence: Tuple[int, ...]
    loss_mask: Tuple[int, ...]


def _gen_params(max_new_tokens: int, temperature: float, top_k: int, top_p: float, min_p: float,
                repetition_penalty: float) -> GenerateParamsStruct:
    from . import _check_int32

    gp = score_generate_params_default()
    gp.max_new_tokens = _check_int32(max_new_tokens, "max_new_tokens")
    gp.temperature = _check_float32(temperature, "temperature")
    gp.top_k = _check_int32(top_k, "top_k")
    gp.top_p = _check_float32(top_p, "top_p")
    gp.min_p = _check_float32(min_p, "min_p")
    gp.repetition_penalty = _check_float32(repetition_penalty, "repetition_penalty")
    return gp


def _c_text(value: Any, what: str) -> bytes:
    """UTF-8 bytes for a NUL-terminated C string. A NUL inside would cut the
    text short in C without a word, so it raises ScoreValueError (a
    ValueError) instead."""
    from . import ScoreValueError

    if isinstance(value, str):
        data = value.encode("utf-8")
    elif isinstance(value, bytes):
        data = value
    else:
        raise TypeError(f"{what} must be a string, not {type(value).__name__}")
    if b"\0" in data:
        raise ScoreValueError(f"{what} contains a NUL character")
    return data


def _check_float32(value: Any, what: str) -> float:
    """A float parameter as C will see it. A non-zero value that rounds to
    0 as a 32-bit float (temperature=1e-50 would silently become greedy) is
    rejected here; the library checks the ranges (e.g. temperature 0 or
    >= 1e-5, repetition_penalty in [0.01, 100])."""
    from . import ScoreValueError

    v = float(value)
    if v != 0 and ctypes.c_float(v).value == 0:
        raise ScoreValueError(f"{what} {v!r} is not representable as a 32-bit float (it rounds to 0)")
    return v


def _self_correct(session: "Session", problems: Sequence[str], *, samples: int = 1, attempts: int = 2,
                  instruction: Optional[str] = None, task_prompt: Optional[str] = None,
                  system_prompt: Optional[str] = None, max_new_tokens: int = 256, temperature: float = 1.0,
                  top_k: int = 0, top_p: float = 1.0, min_p: float = 0.0,
                  repetition_penalty: float = 1.0) -> List[Episode]:
    from . import ScoreError, _check, _check_int32

    if session._handle is None:
        raise ScoreError(_lib.SCORE_ERR_INVALID_ARGUMENT, "session is closed")
    if isinstance(problems, str):
        raise TypeError("problems must be a list of strings, not one string")
    if not all(isinstance(p, (str, bytes)) for p in problems):
        raise TypeError("problems must be strings")
    encoded = [_c_text(p, f"problems[{i}]") for i, p in enumerate(problems)]
    array = (ctypes.c_char_p * max(1, len(encoded)))(*encoded)
    rp = score_revise_params_default()
    rp.samples = _check_int32(samples, "samples")
    rp.attempts = _check_int32(attempts, "attempts")
    keep = []  # the bytes must outlive the call
    for field, value in (("instruction", instruction), ("task_prompt", task_prompt), ("system_prompt", system_prompt)):
        if value is not None:
            b = _c_text(value, field)
            keep.append(b)
            setattr(rp, field, b)
    gp = _gen_params(max_new_tokens, temperature, top_k, top_p, min_p, repetition_penalty)
    out = score_rollout_p()
    with session._running("self_correct"):
        handle = session._model._acquire()
        try:
            _check(score_rollout_run(session._handle, array, len(encoded), ctypes.byref(rp), ctypes.byref(gp),
                                     ctypes.byref(out)))
        finally:
            session._model._release()
    try:
        return read_episodes(out)
    finally:
        score_rollout_free(out)


def read_episodes(handle) -> List[Episode]:
    """The episodes of a score_rollout handle, as plain Python objects."""
    from . import _check  # late: __init__ imports this module

    episodes = []
    for i in range(score_rollout_count(handle)):
        problem, sample, n_seq, n_att = (ctypes.c_size_t() for _ in range(4))
        seq, mask = int32_p(), uint8_p()
        _check(score_rollout_episode(handle, i, ctypes.byref(problem), ctypes.byref(sample), ctypes.byref(seq),
                                     ctypes.byref(mask), ctypes.byref(n_seq), ctypes.byref(n_att)))
        attempts = []
        for a in range(n_att.value):
            tokens, lps = int32_p(), float_p()
            n, offset = ctypes.c_size_t(), ctypes.c_size_t()
            finish, text = ctypes.c_int32(), ctypes.c_char_p()
            _check(score_rollout_attempt(handle, i, a, ctypes.byref(tokens), ctypes.byref(lps), ctypes.byref(n),
                                         ctypes.byref(offset), ctypes.byref(finish), ctypes.byref(text)))
            attempts.append(Attempt((text.value or b"").decode("utf-8", "replace"), tuple(tokens[:n.value]),
                                    tuple(lps[:n.value]), offset.value,
                                    FINISH_REASONS.get(finish.value, str(finish.value))))
        episodes.append(Episode(problem.value, sample.value, tuple(attempts), tuple(seq[:n_seq.value]),
                                tuple(mask[:n_seq.value])))
    return episodes


Session.self_correct = _self_correct  # type: ignore[attr-defined]
Session.self_correct.__doc__ = """Generate, then revise: ``attempts`` attempts for each of ``samples``
samples of every problem; attempt t+1 sees the problem, all earlier attempts'
own tokens and the instruction. Returns one :class:`Episode` per sample,
problem-major."""
