"""Python bindings for libscore (ctypes only; numpy is optional).

    import score

    with score.Model.load("path/to/hf-model-dir") as model:
        print(model.info.architecture, model.info.vocab_size)
        lp = model.logprobs([1, 42, 7, 99])   # 3 floats
        z = model.last_logits([1, 42, 7, 99])  # vocab_size floats

Errors reported by the library raise :class:`ScoreError` carrying the status
code, its name and the library's message. Token ids are checked in Python
before any C call: non-integers raise ``TypeError``; integers outside the
int32 range raise :class:`ScoreValueError`, which is both a ``ScoreError``
(status ``INVALID_ARGUMENT``) and a ``ValueError``. Ids inside int32 but
outside the vocabulary are rejected by the library (``ScoreError``, status
``INVALID_ARGUMENT``).
"""

from __future__ import annotations

import atexit
import ctypes
import operator
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from . import _lib
from ._handle import OwnedHandle
from ._lib import LibraryLoadError

__version__ = "0.1.0"

__all__ = [
    "Attempt",
    "Episode",
    "Rollout",
    "SCoReTrainer",
    "Generation",
    "Tokenizer",
    "Detokenizer",
    "Session",
    "Trainer",
    "TrainStats",
    "LibraryLoadError",
    "Model",
    "ModelInfo",
    "ScoreError",
    "ScoreValueError",
    "abi_version",
    "evaluate",
    "run_recipe",
    "verify",
    "get_n_threads",
    "set_log_callback",
    "set_n_threads",
    "version",
    # status codes
    "OK",
    "ERR_INVALID_ARGUMENT",
    "ERR_IO",
    "ERR_FORMAT",
    "ERR_UNSUPPORTED",
    "ERR_OUT_OF_MEMORY",
    "ERR_BUFFER_TOO_SMALL",
    "ERR_ABORTED",
    "ERR_INTERNAL",
    # log levels
    "LOG_ERROR",
    "LOG_WARN",
    "LOG_INFO",
    "LOG_DEBUG",
]

OK = _lib.SCORE_OK
ERR_INVALID_ARGUMENT = _lib.SCORE_ERR_INVALID_ARGUMENT
ERR_IO = _lib.SCORE_ERR_IO
ERR_FORMAT = _lib.SCORE_ERR_FORMAT
ERR_UNSUPPORTED = _lib.SCORE_ERR_UNSUPPORTED
ERR_OUT_OF_MEMORY = _lib.SCORE_ERR_OUT_OF_MEMORY
ERR_BUFFER_TOO_SMALL = _lib.SCORE_ERR_BUFFER_TOO_SMALL
ERR_ABORTED = _lib.SCORE_ERR_ABORTED
ERR_INTERNAL = _lib.SCORE_ERR_INTERNAL

LOG_ERROR = _lib.SCORE_LOG_ERROR
LOG_WARN = _lib.SCORE_LOG_WARN
LOG_INFO = _lib.SCORE_LOG_INFO
LOG_DEBUG = _lib.SCORE_LOG_DEBUG

_DTYPE_NAMES = {
    _lib.SCORE_DTYPE_F32: "F32",
    _lib.SCORE_DTYPE_F16: "F16",
    _lib.SCORE_DTYPE_BF16: "BF16",
}


def _decode(b: Optional[bytes]) -> str:
    return b.decode("utf-8", errors="replace") if b else ""


def _status_name(status: int) -> str:
    return _decode(_lib.score_status_string(status))


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class ScoreError(Exception):
    """A libscore call failed.

    Attributes:
        status: the score_status code (an int, e.g. ``score.ERR_IO``).
        status_name: its name from ``score_status_string`` ("i/o error", ...).
        message: the library's message (``score_last_error()``), also ``str(e)``.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = int(status)
        self.status_name = _status_name(self.status)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status} ({self.status_name}), {self.message!r})"

    def __reduce__(self) -> Any:  # picklable (e.g. across multiprocessing)
        return (ScoreError, (self.status, self.message))


class ScoreValueError(ScoreError, ValueError):
    """An argument was rejected in Python before reaching the library
    (status ``ERR_INVALID_ARGUMENT``); also a ``ValueError``."""

    def __init__(self, message: str) -> None:
        super().__init__(_lib.SCORE_ERR_INVALID_ARGUMENT, message)

    def __reduce__(self) -> Any:
        return (ScoreValueError, (self.message,))


def _check(status: int) -> None:
    """Raise ScoreError for a non-OK status. Must run on the thread that made
    the failing call, right after it (score_last_error is per thread)."""
    if status != _lib.SCORE_OK:
        message = _decode(_lib.score_last_error()) or _status_name(status)
        raise ScoreError(status, message)


def _check_int32(value: Any, what: str) -> int:
    v = operator.index(value)  # TypeError for floats, str, None, ...
    if not (_lib.INT32_MIN <= v <= _lib.INT32_MAX):
        raise ScoreValueError(f"{what} {v} does not fit in int32")
    return v


# --------------------------------------------------------------------------
# Library-wide functions
# --------------------------------------------------------------------------


def version() -> str:
    """The library's version, "MAJOR.MINOR.PATCH"."""
    return _decode(_lib.score_version_string())


def abi_version() -> int:
    """SCORE_ABI_VERSION of the loaded library."""
    return int(_lib.score_abi_version())


def set_n_threads(n: int) -> None:
    """Threads used by matrix products and kernels (0 = all cores, at most
    max(256, 4 x cores); more raises ScoreError INVALID_ARGUMENT).
    Process-wide; call before starting work on other threads."""
    _check(_lib.score_set_n_threads(_check_int32(n, "n_threads")))


def get_n_threads() -> int:
    """The process-wide thread count."""
    return int(_lib.score_get_n_threads())


def system_info() -> dict:
    """This machine and what libscore runs on it: cpu, vendor, family, model,
    features (vector extensions), openblas_detected (the core OpenBLAS
    picked), openblas_core (the one it runs: of this CPU's tier), kernels
    (our matrix kernels' path: reference, avx2, avx512 or avx512bf16; the
    environment variable SCORE_KERNELS forces one), kernel_paths (those
    this CPU can run), threads."""
    import json

    needed = ctypes.c_size_t()
    _check(_lib.score_system_info(None, 0, ctypes.byref(needed)))
    buf = ctypes.create_string_buffer(needed.value)
    _check(_lib.score_system_info(buf, needed.value, ctypes.byref(needed)))
    return json.loads(buf.value.decode("utf-8"))


# The CFUNCTYPE object C currently holds. It must stay alive as long as the
# library may call it, i.e. until score_set_log_callback replaces it (the
# library swaps sinks under the same lock it holds while calling them, so once
# the replacing call returns the old object is no longer in use).
_log_callback_ref: Optional[Any] = None
_log_lock = threading.Lock()

LogCallback = Callable[[int, str], Any]


def set_log_callback(fn: Optional[LogCallback]) -> None:
    """Route library log lines to ``fn(level, line)``; ``None`` restores the
    default (warnings and errors to stderr).

    ``level`` is one of ``LOG_ERROR``, ``LOG_WARN``, ``LOG_INFO``, ``LOG_DEBUG``.
    The callback may run on any thread, is called with a library lock held
    (so it must not call ``set_log_callback`` itself), and exceptions it
    raises are reported via ``sys.unraisablehook`` and otherwise ignored.
    Process-wide: set it before starting work on other threads.
    """
    global _log_callback_ref
    with _log_lock:
        if fn is None:
            _lib.score_set_log_callback(_lib.log_fn_t(), None)  # NULL fn
            _log_callback_ref = None
            return
        if not callable(fn):
            raise TypeError("log callback must be callable or None")

        def trampoline(level: int, line: Optional[bytes], _user_data: Any) -> None:
            fn(int(level), _decode(line))

        cfunc = _lib.log_fn_t(trampoline)
        _lib.score_set_log_callback(cfunc, None)
        _log_callback_ref = cfunc  # the old one may now be collected


def _reset_log_callback_at_exit() -> None:
    # Do not let C call into a finalising interpreter.
    try:
        if _log_callback_ref is not None:
            _lib.score_set_log_callback(_lib.log_fn_t(), None)
    except Exception:
        pass


atexit.register(_reset_log_callback_at_exit)


# --------------------------------------------------------------------------
# Token sequences
# --------------------------------------------------------------------------

TokenIds = Union[Sequence[int], Any]  # list, tuple, array.array, numpy array, ...

_INT32_FORMATS = {"i", "<i", "=i", "@i"}


def _as_int32_array(ids: TokenIds) -> "ctypes.Array[ctypes.c_int32]":
    """Copy token ids into a C int32 array, checking every value first."""
    if isinstance(ids, (str, bytes, bytearray)):
        raise TypeError(f"token ids must be a sequence of ints, not {type(ids).__name__}")
    # Fast path: a 1-D buffer of native int32 (array.array('i'), numpy int32).
    try:
        mv = memoryview(ids)  # type: ignore[arg-type]
    except TypeError:
        mv = None
    if mv is not None:
        with mv:
            if mv.ndim == 1 and mv.itemsize == 4 and mv.format in _INT32_FORMATS:
                n = mv.shape[0] if mv.shape else 0
                return (ctypes.c_int32 * n).from_buffer_copy(mv.tobytes())
            if mv.ndim != 1:
                raise ValueError(f"token ids must be one-dimensional, got {mv.ndim} dimensions")
    if hasattr(ids, "tolist") and not isinstance(ids, (list, tuple)):
        ids = ids.tolist()  # numpy arrays/scalars -> Python ints (fast)
    values = [_check_int32(v, "token id") for v in ids]
    return (ctypes.c_int32 * len(values))(*values)


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    """What ``score_model_get_info`` and ``score_model_eos_ids`` report."""

    architecture: str
    n_params: int
    vocab_size: int
    context_length: int
    hidden_size: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    dtype: str  # "F32", "F16" or "BF16"
    bytes_in_memory: int
    bos_token_id: Optional[int]
    eos_token_id: Optional[int]
    eos_token_ids: Tuple[int, ...]  # all EOS ids, deduplicated (a tuple: the dataclass is frozen)


def _call_with_buffer(cfunc: Any, ctype: Any, first_cap: int, *args: Any) -> list:
    """(buf, cap, size_t *needed) pattern: try `first_cap`, and if the library
    answers BUFFER_TOO_SMALL retry once with *needed."""
    cap = max(0, int(first_cap))
    for _ in range(3):
        buf = (ctype * cap)()
        needed = ctypes.c_size_t(0)
        status = cfunc(*args, buf, cap, ctypes.byref(needed))
        if status == _lib.SCORE_ERR_BUFFER_TOO_SMALL and needed.value > cap:
            cap = needed.value
            continue
        _check(status)
        return buf[: min(needed.value, cap)]
    _check(status)  # pragma: no cover - the size kept growing
    raise ScoreError(_lib.SCORE_ERR_INTERNAL, "buffer size did not settle")  # pragma: no cover


class Model(OwnedHandle):
    """A loaded model. Immutable; safe to score from several threads.

    Create with :meth:`Model.load`; release with :meth:`close` or a ``with``
    block. Using a closed model raises :class:`ScoreError`.
    """

    def __init__(self, handle: int) -> None:
        # Use Model.load(); this takes ownership of a score_model *.
        self._handle: Optional[int] = handle
        self._free = _lib.score_model_free  # kept for __del__ at shutdown
        self._lock = threading.Lock()
        self._busy = 0
        self._close_pending = False
        self._pending_handle: Optional[int] = None
        self._info: Optional[ModelInfo] = None

    @classmethod
    def load(
        cls,
        path: Union[str, "os.PathLike[str]", bytes],
        *,
        use_mmap: bool = True,
        max_context: int = 0,
        compute: str = "f32",
        pack: bool = True,
    ) -> "Model":
        """Load a Hugging Face model directory (config.json, optional
        generation_config.json, model.safetensors or sharded safetensors).

        use_mmap: map weight files (True) or read them into private memory
            (False). A mapped weight file that is truncated or rewritten in
            place on disk while the model is loaded kills the process with
            SIGBUS at the next access (no exception is possible); pass
            ``use_mmap=False`` when the files may change underneath.
        max_context: reject sequences longer than this (0 = the model's
            max_position_embeddings; must not exceed it).
        compute: "f32" (default) or "bf16": BF16 weights times BF16-rounded
            activations with F32 sums, about twice the prefill rate, not
            bit-equal to "f32"; a "bf16" model cannot be trained.
        pack: pack the weights once for our kernels (the fastest inference);
            False for a model loaded only to be trained (a trainer reads
            row-major F32 and would hold an unpacked copy too).
        """
        computes = {"f32": 0, "bf16": 1}
        if compute not in computes:
            raise ScoreValueError(f"compute must be 'f32' or 'bf16', got {compute!r}")
        path_bytes = os.fsencode(path)
        if b"\0" in path_bytes:
            raise ScoreValueError("model path contains a NUL byte")
        params = _lib.score_model_params_default()
        params.struct_size = ctypes.sizeof(_lib.ModelParamsStruct)
        params.use_mmap = bool(use_mmap)
        params.max_context = _check_int32(max_context, "max_context")
        params.compute = computes[compute]
        params.pack = bool(pack)
        out = _lib.score_model_p()
        _check(_lib.score_model_load(path_bytes, ctypes.byref(params), ctypes.byref(out)))
        if not out.value:
            raise ScoreError(_lib.SCORE_ERR_INTERNAL, "score_model_load succeeded but returned NULL")
        return cls(out.value)

    # -- lifetime ----------------------------------------------------------

    def _acquire(self) -> int:
        with self._lock:
            if self._handle is None:
                raise ScoreError(_lib.SCORE_ERR_INVALID_ARGUMENT, "the model is closed")
            self._busy += 1
            return self._handle

    def _release(self) -> None:
        handle = None
        with self._lock:
            self._busy -= 1
            if self._busy == 0 and self._close_pending:
                handle, self._close_pending = self._pending_handle, False
                self._pending_handle = None
        if handle:
            self._free(handle)

    def close(self) -> None:
        """Free the model. Idempotent. Calls still running on other threads
        finish first; the memory is released when the last one returns."""
        with self._lock:
            handle, self._handle = self._handle, None
            if handle is None:
                return
            if self._busy:
                self._close_pending = True
                self._pending_handle = handle
                return
        self._free(handle)

    @property
    def closed(self) -> bool:
        return self._handle is None




    def __repr__(self) -> str:
        if self._handle is None:
            return "<score.Model (closed)>"
        return f"<score.Model {self.info.architecture} vocab={self.info.vocab_size}>"

    # -- info --------------------------------------------------------------

    @property
    def info(self) -> ModelInfo:
        """Model description (cached after the first call)."""
        if self._handle is None:
            raise ScoreError(_lib.SCORE_ERR_INVALID_ARGUMENT, "the model is closed")
        if self._info is None:
            handle = self._acquire()
            try:
                s = _lib.ModelInfoStruct()
                s.struct_size = ctypes.sizeof(_lib.ModelInfoStruct)
                _check(_lib.score_model_get_info(handle, ctypes.byref(s)))
                eos = _call_with_buffer(_lib.score_model_eos_ids, ctypes.c_int32, 4, handle)
            finally:
                self._release()
            self._info = ModelInfo(
                architecture=_decode(s.architecture),
                n_params=int(s.n_params),
                vocab_size=int(s.vocab_size),
                context_length=int(s.context_length),
                hidden_size=int(s.hidden_size),
                n_layers=int(s.n_layers),
                n_heads=int(s.n_heads),
                n_kv_heads=int(s.n_kv_heads),
                head_dim=int(s.head_dim),
                dtype=_DTYPE_NAMES.get(s.dtype, f"UNKNOWN({s.dtype})"),
                bytes_in_memory=int(s.bytes_in_memory),
                bos_token_id=None if s.bos_token_id < 0 else int(s.bos_token_id),
                eos_token_id=None if s.eos_token_id < 0 else int(s.eos_token_id),
                eos_token_ids=tuple(int(x) for x in eos),
            )
        return self._info

    # -- scoring -----------------------------------------------------------

    def logprobs(self, ids: TokenIds) -> List[float]:
        """log p(ids[i+1] | ids[0..i]) for i in 0..len(ids)-2 (len(ids)-1 values)."""
        tokens = _as_int32_array(ids)
        n = len(tokens)
        handle = self._acquire()
        try:
            return _call_with_buffer(
                _lib.score_model_logprobs, ctypes.c_float, max(n - 1, 0), handle, tokens, n
            )
        finally:
            self._release()

    def logprobs_batch(self, sequences: Sequence[TokenIds]) -> List[List[float]]:
        """:meth:`logprobs` of several sequences in one pass over the weights
        (much faster than one call each)."""
        seqs = [_as_int32_array(s) for s in sequences]
        if not seqs:
            raise ValueError("no sequences to score")
        offsets = [0]
        for s in seqs:
            offsets.append(offsets[-1] + len(s))
        tokens = (ctypes.c_int32 * max(offsets[-1], 1))(*(t for s in seqs for t in s))
        offs = (ctypes.c_size_t * len(offsets))(*offsets)
        handle = self._acquire()
        try:
            flat = _call_with_buffer(_lib.score_model_logprobs_batch, ctypes.c_float,
                                     offsets[-1] - len(seqs), handle, tokens, offs, len(seqs))
        finally:
            self._release()
        out, at = [], 0
        for s in seqs:
            n = max(len(s) - 1, 0)
            out.append(flat[at:at + n])
            at += n
        return out

    # -- tokenizer ---------------------------------------------------------

    @property
    def tokenizer(self) -> Optional["Tokenizer"]:
        """The model directory's tokenizer (tokenizer.json), or None. It lives
        as long as the model."""
        from .tokenizer import Tokenizer, score_model_tokenizer, score_tokenizer_p

        handle = self._acquire()
        try:
            out = score_tokenizer_p()
            _check(score_model_tokenizer(handle, ctypes.byref(out)))
        finally:
            self._release()
        return Tokenizer(None, model=self) if out.value else None

    # -- generation --------------------------------------------------------

    def generate(self, prompt: TokenIds, *, seed: int = 0, **options: Any) -> "Generation":
        """Continues one prompt (token ids); ``options`` as :meth:`Session.generate`.
        For many prompts or repeated calls, use a :class:`Session`."""
        from .generation import Session

        with Session(self, seed=seed) as session:
            return session.generate([prompt], **options)[0]

    def self_correct(self, problems: Sequence[str], *, seed: int = 0, **options: Any) -> list:
        """Generate, then revise (see :meth:`Session.self_correct`)."""
        from .generation import Session

        with Session(self, seed=seed) as session:
            return session.self_correct(problems, **options)

    def last_logits(self, ids: TokenIds) -> List[float]:
        """Logits of the next token after ``ids`` (vocab_size values)."""
        tokens = _as_int32_array(ids)
        n = len(tokens)
        vocab = self.info.vocab_size
        handle = self._acquire()
        try:
            return _call_with_buffer(
                _lib.score_model_last_logits, ctypes.c_float, vocab, handle, tokens, n
            )
        finally:
            self._release()

from .generation import Attempt, Episode, Generation, Session  # noqa: E402  (needs the names above)
from .chat import render_chat  # noqa: E402  (needs the names above)
from .tokenizer import Detokenizer, Tokenizer  # noqa: E402  (needs the names above)
from .training import Trainer, TrainStats  # noqa: E402  (needs the names above)
from .score_rl import Rollout, SCoReTrainer, evaluate, verify  # noqa: E402  (needs the names above)
from .recipe import run_recipe  # noqa: E402  (needs the names above)
