"""Tokenizers: ``Tokenizer`` over ``score_tokenizer_*``, ``score_tokenize``
and ``score_detokenize`` (Hugging Face tokenizer.json, exact ids).

    tok = score.Tokenizer.load("path/to/model-dir")
    ids = tok.encode("Hello world")            # BOS etc. added, "<|im_end|>" as plain text
    text = tok.decode(ids, skip_special=True)

The ctypes declarations for this part of ``score.h`` live here.
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any, List, Optional, Tuple, Union

from . import _lib
from ._handle import OwnedHandle
from ._lib import ctypes_function, int32_p, score_model_p, score_status, size_t_p

score_tokenizer_p = ctypes.c_void_p
score_detokenizer_p = ctypes.c_void_p

TOKENIZE_ADD_SPECIAL = 1
TOKENIZE_PARSE_SPECIAL = 2


@ctypes_function("score_tokenizer_load", [ctypes.c_char_p, ctypes.POINTER(score_tokenizer_p)], score_status)
def score_tokenizer_load(path: Any, out: Any) -> int: ...


@ctypes_function("score_tokenizer_free", [score_tokenizer_p], None)
def score_tokenizer_free(tokenizer: Any) -> None: ...


@ctypes_function("score_model_tokenizer", [score_model_p, ctypes.POINTER(score_tokenizer_p)], score_status)
def score_model_tokenizer(model: Any, out: Any) -> int: ...


@ctypes_function(
    "score_tokenize",
    [score_tokenizer_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32, int32_p, ctypes.c_size_t, size_t_p],
    score_status,
)
def score_tokenize(*args: Any) -> int: ...


@ctypes_function(
    "score_detokenize",
    [score_tokenizer_p, int32_p, ctypes.c_size_t, ctypes.c_bool, ctypes.c_char_p, ctypes.c_size_t, size_t_p],
    score_status,
)
def score_detokenize(*args: Any) -> int: ...


@ctypes_function("score_tokenizer_vocab_size", [score_tokenizer_p, int32_p], score_status)
def score_tokenizer_vocab_size(tokenizer: Any, out: Any) -> int: ...


@ctypes_function(
    "score_tokenizer_token_text",
    [score_tokenizer_p, ctypes.c_int32, ctypes.c_char_p, ctypes.c_size_t, size_t_p],
    score_status,
)
def score_tokenizer_token_text(*args: Any) -> int: ...


@ctypes_function("score_tokenizer_token_id", [score_tokenizer_p, ctypes.c_char_p, int32_p], score_status)
def score_tokenizer_token_id(tokenizer: Any, token: Any, out: Any) -> int: ...


@ctypes_function("score_tokenizer_bos_id", [score_tokenizer_p, int32_p], score_status)
def score_tokenizer_bos_id(tokenizer: Any, out: Any) -> int: ...


@ctypes_function("score_tokenizer_eos_ids", [score_tokenizer_p, int32_p, ctypes.c_size_t, size_t_p], score_status)
def score_tokenizer_eos_ids(*args: Any) -> int: ...


@ctypes_function("score_tokenizer_is_special", [score_tokenizer_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_bool)], score_status)
def score_tokenizer_is_special(tokenizer: Any, token_id: Any, out: Any) -> int: ...


@ctypes_function("score_detokenizer_new", [score_tokenizer_p, ctypes.c_bool, ctypes.POINTER(score_detokenizer_p)], score_status)
def score_detokenizer_new(tokenizer: Any, skip_special: Any, out: Any) -> int: ...


@ctypes_function(
    "score_detokenizer_push",
    [score_detokenizer_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_void_p), size_t_p],
    score_status,
)
def score_detokenizer_push(*args: Any) -> int: ...


@ctypes_function("score_detokenizer_flush", [score_detokenizer_p, ctypes.POINTER(ctypes.c_void_p), size_t_p], score_status)
def score_detokenizer_flush(*args: Any) -> int: ...


@ctypes_function("score_detokenizer_free", [score_detokenizer_p], None)
def score_detokenizer_free(detokenizer: Any) -> None: ...


def _call_for_text(cfunc: Any, first_cap: int, *args: Any) -> str:
    """(buf, cap, needed) for NUL-terminated UTF-8 text."""
    from . import _check

    cap = max(1, first_cap)
    for _ in range(3):
        buf = ctypes.create_string_buffer(cap)
        needed = ctypes.c_size_t(0)
        status = cfunc(*args, buf, cap, ctypes.byref(needed))
        if status == _lib.SCORE_ERR_BUFFER_TOO_SMALL and needed.value > cap:
            cap = needed.value
            continue
        _check(status)
        return buf.raw[: needed.value - 1].decode("utf-8")
    _check(status)  # pragma: no cover
    raise RuntimeError("buffer size did not settle")  # pragma: no cover


class Tokenizer(OwnedHandle):
    """A Hugging Face tokenizer.json tokenizer. Immutable: safe to use from
    several threads. Create with :meth:`Tokenizer.load` (release with
    :meth:`close` or a ``with`` block) or get a model's with ``Model.tokenizer``
    (which lives as long as the model)."""

    def __init__(self, handle: Optional[int], model: Any = None) -> None:
        # Use Tokenizer.load(); this takes ownership of a score_tokenizer *,
        # or, with `model`, borrows the model's tokenizer.
        self._handle = handle
        self._model = model
        self._free = score_tokenizer_free
        self._lock = threading.Lock()
        self._busy = 0
        self._close_pending: Optional[int] = None

    @classmethod
    def load(cls, path: Union[str, "os.PathLike[str]", bytes]) -> "Tokenizer":
        """Load DIR/tokenizer.json (+ tokenizer_config.json) or a tokenizer.json file."""
        from . import ScoreError, ScoreValueError, _check

        path_bytes = os.fsencode(path)
        if b"\0" in path_bytes:
            raise ScoreValueError("tokenizer path contains a NUL byte")
        out = score_tokenizer_p()
        _check(score_tokenizer_load(path_bytes, ctypes.byref(out)))
        if not out.value:
            raise ScoreError(_lib.SCORE_ERR_INTERNAL, "score_tokenizer_load succeeded but returned NULL")
        return cls(out.value)

    # -- lifetime ----------------------------------------------------------

    def _acquire(self) -> int:
        from . import ScoreError

        if self._model is not None:
            handle = self._model._acquire()  # keeps the model (and its tokenizer) alive
            out = score_tokenizer_p()
            try:
                from . import _check

                _check(score_model_tokenizer(handle, ctypes.byref(out)))
            except BaseException:
                self._model._release()
                raise
            return out.value
        with self._lock:
            if self._handle is None:
                raise ScoreError(_lib.SCORE_ERR_INVALID_ARGUMENT, "the tokenizer is closed")
            self._busy += 1
            return self._handle

    def _release(self) -> None:
        if self._model is not None:
            self._model._release()
            return
        handle = None
        with self._lock:
            self._busy -= 1
            if self._busy == 0 and self._close_pending:
                handle, self._close_pending = self._close_pending, None
        if handle:
            self._free(handle)

    def _owns_handle(self) -> bool:
        return self.__dict__.get("_model") is None

    def close(self) -> None:
        """Free the tokenizer (a model's tokenizer is freed with the model). Idempotent."""
        if self._model is not None:
            return
        with self._lock:
            handle, self._handle = self._handle, None
            if handle is None:
                return
            if self._busy:
                self._close_pending = handle
                return
        self._free(handle)




    # -- encoding ----------------------------------------------------------

    def encode(self, text: str, add_special: bool = True, parse_special: bool = False) -> List[int]:
        """Token ids of ``text``. ``parse_special=False`` (the default) reads
        special-token text such as "<|im_end|>" as plain text, which is what
        untrusted input needs; True reads it as the special token."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, not {type(text).__name__}")
        from . import _call_with_buffer

        data = text.encode("utf-8", "surrogatepass")  # lone surrogates reach the library as invalid UTF-8
        flags = (TOKENIZE_ADD_SPECIAL if add_special else 0) | (TOKENIZE_PARSE_SPECIAL if parse_special else 0)
        handle = self._acquire()
        try:
            return _call_with_buffer(score_tokenize, ctypes.c_int32, len(data) + 8, handle, data, len(data), flags)
        finally:
            self._release()

    def decode(self, ids: Any, skip_special: bool = False) -> str:
        """The text of ``ids``; ids outside the vocabulary raise ScoreError."""
        from . import _as_int32_array

        tokens = _as_int32_array(ids)
        handle = self._acquire()
        try:
            return _call_for_text(score_detokenize, 4 * len(tokens) + 16, handle, tokens, len(tokens), bool(skip_special))
        finally:
            self._release()

    def detokenizer(self, skip_special: bool = False) -> "Detokenizer":
        """A streaming decoder: ``push(id)`` returns the text each token completes."""
        return Detokenizer(self, skip_special)

    # -- vocabulary --------------------------------------------------------

    def _int_query(self, cfunc: Any, *args: Any) -> int:
        from . import _check

        out = ctypes.c_int32(0)
        handle = self._acquire()
        try:
            _check(cfunc(handle, *args, ctypes.byref(out)))
        finally:
            self._release()
        return int(out.value)

    @property
    def vocab_size(self) -> int:
        """One past the largest token id."""
        return self._int_query(score_tokenizer_vocab_size)

    @property
    def bos_token_id(self) -> Optional[int]:
        v = self._int_query(score_tokenizer_bos_id)
        return None if v < 0 else v

    @property
    def eos_token_ids(self) -> Tuple[int, ...]:
        from . import _call_with_buffer

        handle = self._acquire()
        try:
            return tuple(int(x) for x in _call_with_buffer(score_tokenizer_eos_ids, ctypes.c_int32, 4, handle))
        finally:
            self._release()

    def token_to_id(self, token: str) -> Optional[int]:
        """The id of a vocabulary string, or None."""
        data = token.encode("utf-8", "surrogatepass")
        if b"\0" in data:
            return None
        v = self._int_query(score_tokenizer_token_id, data)
        return None if v < 0 else v

    def id_to_token(self, token_id: int) -> str:
        """The vocabulary string of an id (raises ScoreError for unknown ids)."""
        from . import _check_int32

        tid = _check_int32(token_id, "token id")
        handle = self._acquire()
        try:
            return _call_for_text(score_tokenizer_token_text, 64, handle, tid)
        finally:
            self._release()

    def is_special(self, token_id: int) -> bool:
        from . import _check, _check_int32

        out = ctypes.c_bool(False)
        tid = _check_int32(token_id, "token id")
        handle = self._acquire()
        try:
            _check(score_tokenizer_is_special(handle, tid, ctypes.byref(out)))
        finally:
            self._release()
        return bool(out.value)


class Detokenizer:
    """Streaming decode: concatenating every ``push`` and the final ``flush``
    gives ``decode(all ids)``; no piece ends inside a character. One thread
    at a time."""

    def __init__(self, tokenizer: Tokenizer, skip_special: bool = False) -> None:
        from . import _check

        self._tokenizer = tokenizer
        self._tok_handle = tokenizer._acquire()  # held (and the tokenizer kept alive) until close
        out = score_detokenizer_p()
        try:
            _check(score_detokenizer_new(self._tok_handle, bool(skip_special), ctypes.byref(out)))
        except BaseException:
            tokenizer._release()
            raise
        self._handle: Optional[int] = out.value

    def _text(self, cfunc: Any, *args: Any) -> str:
        from . import ScoreError, _check

        if self._handle is None:
            raise ScoreError(_lib.SCORE_ERR_INVALID_ARGUMENT, "the detokenizer is closed")
        ptr = ctypes.c_void_p()
        n = ctypes.c_size_t(0)
        _check(cfunc(self._handle, *args, ctypes.byref(ptr), ctypes.byref(n)))
        return ctypes.string_at(ptr.value, n.value).decode("utf-8") if n.value else ""

    def push(self, token_id: int) -> str:
        from . import _check_int32

        return self._text(score_detokenizer_push, _check_int32(token_id, "token id"))

    def flush(self) -> str:
        return self._text(score_detokenizer_flush)

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle:
            score_detokenizer_free(handle)
            self._tokenizer._release()

    def __enter__(self) -> "Detokenizer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except BaseException:
            pass
