"""Low-level ctypes layer over libscore's C API (``include/score.h``).

This module finds and loads the shared library, declares ``argtypes`` and
``restype`` for every C function, mirrors the public structs and checks the
mirrors and the ABI version against the loaded library at import time.

Nothing here is meant for end users; ``score/__init__.py`` wraps it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform
import sys
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, TypeVar

__all__ = [
    "ABI_VERSION",
    "LibraryLoadError",
    "MODEL_INFO_SIZE",
    "MODEL_PARAMS_SIZE",
    "ModelInfoStruct",
    "ModelParamsStruct",
    "STRUCT_SIZES",
    "ctypes_function",
    "lib",
    "library_path",
    "log_fn_t",
]

#: The SCORE_ABI_VERSION these bindings were written against.
ABI_VERSION = 1

# --------------------------------------------------------------------------
# Constants from score.h
# --------------------------------------------------------------------------

SCORE_OK = 0
SCORE_ERR_INVALID_ARGUMENT = 1
SCORE_ERR_IO = 2
SCORE_ERR_FORMAT = 3
SCORE_ERR_UNSUPPORTED = 4
SCORE_ERR_OUT_OF_MEMORY = 5
SCORE_ERR_BUFFER_TOO_SMALL = 6
SCORE_ERR_ABORTED = 7
SCORE_ERR_INTERNAL = 8

SCORE_DTYPE_F32 = 0
SCORE_DTYPE_F16 = 1
SCORE_DTYPE_BF16 = 2

SCORE_LOG_ERROR = 0
SCORE_LOG_WARN = 1
SCORE_LOG_INFO = 2
SCORE_LOG_DEBUG = 3

SCORE_TYPE_MODEL_PARAMS = 0
SCORE_TYPE_MODEL_INFO = 1

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


class LibraryLoadError(ImportError):
    """libscore could not be found, loaded, or does not match these bindings.

    ``tried`` lists the candidate paths that were looked at (may be empty for
    ABI or struct-layout mismatches).
    """

    def __init__(self, message: str, tried: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.tried: List[str] = list(tried)


# --------------------------------------------------------------------------
# Locating the library
# --------------------------------------------------------------------------

if sys.platform == "darwin":
    _LIB_FILENAMES = ("libscore.dylib", "libscore.so")
elif sys.platform == "win32":
    _LIB_FILENAMES = ("score.dll", "libscore.dll")
else:
    _LIB_FILENAMES = ("libscore.so",)

# SwiftPM output folders, relative to a package root.
_BUILD_SUBDIRS = tuple(
    dict.fromkeys(
        [
            Path(".build") / "release",
            Path(".build") / "x86_64-unknown-linux-gnu" / "release",
            Path(".build") / f"{platform.machine()}-unknown-linux-gnu" / "release",
        ]
    )
)

_PACKAGE_DIR = Path(__file__).resolve().parent


def _candidates() -> List[Path]:
    """Paths to try after $SCORE_LIBRARY, in order."""
    out: List[Path] = [_PACKAGE_DIR / name for name in _LIB_FILENAMES]
    for parent in _PACKAGE_DIR.parents:
        for sub in _BUILD_SUBDIRS:
            for name in _LIB_FILENAMES:
                out.append(parent / sub / name)
    return out


def _load_library() -> "tuple[ctypes.CDLL, str]":
    tried: List[str] = []
    errors: List[str] = []

    # 1. Explicit override. If it is set, it must work: silently falling back
    #    to some other copy would hide configuration mistakes.
    env = os.environ.get("SCORE_LIBRARY")
    if env:
        tried.append(env)
        if not os.path.isfile(env):
            raise LibraryLoadError(
                f"SCORE_LIBRARY={env!r} does not name an existing file", tried
            )
        try:
            return ctypes.CDLL(env), env
        except OSError as e:
            raise LibraryLoadError(f"cannot load SCORE_LIBRARY={env!r}: {e}", tried) from e

    # 2. Next to the package, 3. the repository's SwiftPM build folders.
    for path in _candidates():
        tried.append(str(path))
        if path.is_file():
            try:
                return ctypes.CDLL(str(path)), str(path)
            except OSError as e:  # e.g. wrong architecture; keep looking
                errors.append(f"{path}: {e}")

    # 4. The system's search path.
    found = ctypes.util.find_library("score")
    tried.append(f"find_library('score') -> {found!r}")
    if found:
        try:
            return ctypes.CDLL(found), found
        except OSError as e:
            errors.append(f"{found}: {e}")

    lines = ["libscore shared library not found. Set SCORE_LIBRARY to the path of "
             "libscore.so, copy it into the score package folder, or build it with "
             "`swift build -c release`. Tried:"]
    lines += [f"  {t}" for t in tried]
    if errors:
        lines.append("Load errors:")
        lines += [f"  {e}" for e in errors]
    raise LibraryLoadError("\n".join(lines), tried)


lib, library_path = _load_library()

# --------------------------------------------------------------------------
# Declaring C functions
# --------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


def ctypes_function(name: str, argtypes: Sequence[Any], restype: Any) -> Callable[[F], F]:
    """Decorator binding a Python stub to the C function ``name`` in ``lib``.

    The stub only documents the signature; the decorated name becomes the
    ctypes function itself, with ``argtypes`` and ``restype`` set, so every
    call is type-checked by ctypes and no call goes through an undeclared
    prototype. Raises :class:`LibraryLoadError` if the symbol is missing.
    """

    def decorate(stub: F) -> F:
        try:
            cfunc = getattr(lib, name)
        except AttributeError as e:
            raise LibraryLoadError(
                f"{library_path} does not export {name}; the library is older or newer "
                f"than these bindings"
            ) from e
        cfunc.argtypes = list(argtypes)
        cfunc.restype = restype
        functools.update_wrapper(cfunc, stub)  # keep name and docstring
        return cfunc  # type: ignore[return-value]

    return decorate


# --------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------

score_status = ctypes.c_int32
score_model_p = ctypes.c_void_p  # opaque score_model *
size_t_p = ctypes.POINTER(ctypes.c_size_t)
int32_p = ctypes.POINTER(ctypes.c_int32)
float_p = ctypes.POINTER(ctypes.c_float)

# typedef void (*score_log_fn)(int32_t level, const char *line, void *user_data);
log_fn_t = ctypes.CFUNCTYPE(None, ctypes.c_int32, ctypes.c_char_p, ctypes.c_void_p)


class ModelParamsStruct(ctypes.Structure):
    """Mirror of ``score_model_params``."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("use_mmap", ctypes.c_bool),
        ("max_context", ctypes.c_int32),
        ("compute", ctypes.c_int32),
        ("pack", ctypes.c_bool),
    ]


class ModelInfoStruct(ctypes.Structure):
    """Mirror of ``score_model_info``."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("architecture", ctypes.c_char * 64),
        ("n_params", ctypes.c_uint64),
        ("vocab_size", ctypes.c_int32),
        ("context_length", ctypes.c_int32),
        ("hidden_size", ctypes.c_int32),
        ("n_layers", ctypes.c_int32),
        ("n_heads", ctypes.c_int32),
        ("n_kv_heads", ctypes.c_int32),
        ("head_dim", ctypes.c_int32),
        ("dtype", ctypes.c_int32),
        ("bytes_in_memory", ctypes.c_uint64),
        ("bos_token_id", ctypes.c_int32),
        ("eos_token_id", ctypes.c_int32),
    ]


# --------------------------------------------------------------------------
# Library
# --------------------------------------------------------------------------


@ctypes_function("score_abi_version", [], ctypes.c_uint32)
def score_abi_version() -> int:
    """SCORE_ABI_VERSION of the loaded library."""


@ctypes_function("score_version_string", [], ctypes.c_char_p)
def score_version_string() -> bytes:
    """"MAJOR.MINOR.PATCH" (static storage)."""


@ctypes_function("score_status_string", [score_status], ctypes.c_char_p)
def score_status_string(status: int) -> bytes:
    """Short English name of a status code (static storage)."""


@ctypes_function("score_last_error", [], ctypes.c_char_p)
def score_last_error() -> bytes:
    """Message of the last failed call on this thread, or b""."""


@ctypes_function("score_set_log_callback", [log_fn_t, ctypes.c_void_p], None)
def score_set_log_callback(fn: Any, user_data: Optional[int]) -> None:
    """Install a log callback (None restores the default stderr sink)."""


@ctypes_function("score_set_n_threads", [ctypes.c_int32], score_status)
def score_set_n_threads(n_threads: int) -> int:
    """Process-wide thread count (0 = all cores)."""


@ctypes_function("score_get_n_threads", [], ctypes.c_int32)
def score_get_n_threads() -> int:
    """Process-wide thread count."""


@ctypes_function("score_system_info", [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)], score_status)
def score_system_info(buf: Any, cap: int, needed: Any) -> int: ...


@ctypes_function("score_sizeof", [ctypes.c_int32], ctypes.c_size_t)
def score_sizeof(type_id: int) -> int:
    """sizeof of a public struct (SCORE_TYPE_*), 0 if unknown."""


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------


@ctypes_function("score_model_params_default", [], ModelParamsStruct)
def score_model_params_default() -> ModelParamsStruct:
    """Default load parameters (struct_size already set)."""


@ctypes_function(
    "score_model_load",
    [ctypes.c_char_p, ctypes.POINTER(ModelParamsStruct), ctypes.POINTER(score_model_p)],
    score_status,
)
def score_model_load(dir: bytes, params: Any, out: Any) -> int:
    """Load a Hugging Face model directory into *out."""


@ctypes_function("score_model_free", [score_model_p], None)
def score_model_free(model: Optional[int]) -> None:
    """Free a model; NULL is a no-op."""


@ctypes_function(
    "score_model_get_info", [score_model_p, ctypes.POINTER(ModelInfoStruct)], score_status
)
def score_model_get_info(model: int, info: Any) -> int:
    """Fill *info up to info->struct_size bytes."""


@ctypes_function(
    "score_model_eos_ids", [score_model_p, int32_p, ctypes.c_size_t, size_t_p], score_status
)
def score_model_eos_ids(model: int, ids: Any, cap: int, needed: Any) -> int:
    """All EOS ids into ids[0..cap); *needed receives the count."""


@ctypes_function(
    "score_model_logprobs",
    [score_model_p, int32_p, ctypes.c_size_t, float_p, ctypes.c_size_t, size_t_p],
    score_status,
)
def score_model_logprobs(model: int, tokens: Any, n_tokens: int, out: Any, cap: int, needed: Any) -> int:
    """out[i] = log p(tokens[i+1] | tokens[0..i]); *needed = n_tokens - 1."""


@ctypes_function(
    "score_model_logprobs_batch",
    [score_model_p, int32_p, size_t_p, ctypes.c_size_t, float_p, ctypes.c_size_t, size_t_p],
    score_status,
)
def score_model_logprobs_batch(model: int, tokens: Any, offsets: Any, n_sequences: int, out: Any, cap: int,
                               needed: Any) -> int:
    """score_model_logprobs of several sequences in one pass; sequence b is tokens[offsets[b]..offsets[b+1])."""


@ctypes_function(
    "score_model_last_logits",
    [score_model_p, int32_p, ctypes.c_size_t, float_p, ctypes.c_size_t, size_t_p],
    score_status,
)
def score_model_last_logits(model: int, tokens: Any, n_tokens: int, logits: Any, cap: int, needed: Any) -> int:
    """Logits of the last position; *needed = vocab_size."""


# --------------------------------------------------------------------------
# Import-time checks: ABI version and struct mirrors
# --------------------------------------------------------------------------

_abi = score_abi_version()
if _abi != ABI_VERSION:
    raise LibraryLoadError(
        f"{library_path} has ABI version {_abi}, these bindings were written for "
        f"ABI version {ABI_VERSION}"
    )

MODEL_PARAMS_SIZE = ctypes.sizeof(ModelParamsStruct)
MODEL_INFO_SIZE = ctypes.sizeof(ModelInfoStruct)

#: type id -> (mirror struct, ctypes.sizeof(mirror)); each checked below.
STRUCT_SIZES = {
    SCORE_TYPE_MODEL_PARAMS: (ModelParamsStruct, MODEL_PARAMS_SIZE),
    SCORE_TYPE_MODEL_INFO: (ModelInfoStruct, MODEL_INFO_SIZE),
}

for _type_id, (_struct, _size) in STRUCT_SIZES.items():
    _c_size = score_sizeof(_type_id)
    # The C API would accept a shorter (older) mirror thanks to struct_size,
    # but these bindings are written for exactly one layout: insist on it.
    if _c_size != _size:
        raise LibraryLoadError(
            f"struct mirror {_struct.__name__} is {_size} bytes but {library_path} "
            f"reports score_sizeof({_type_id}) == {_c_size}; the bindings and the "
            f"library disagree about the C API"
        )

del _type_id, _struct, _size, _c_size
