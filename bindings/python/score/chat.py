"""Chat templates: ``render_chat`` over ``score_chat_render`` /
``score_chat_render_dir``.

    import score
    text = score.render_chat("path/to/model-dir", [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ])

The result equals transformers' ``tokenizer.apply_chat_template(messages,
tokenize=False, add_generation_prompt=...)`` byte for byte. The ctypes
declarations for this part of ``score.h`` live here, next to their use.
"""

from __future__ import annotations

import ctypes
import json
import os
from typing import Any, Dict, Mapping, Optional, Sequence, Union

from . import _lib
from ._lib import ctypes_function, score_status, size_t_p

__all__ = ["render_chat"]

_char_pp = ctypes.POINTER(ctypes.c_char_p)


@ctypes_function(
    "score_chat_render",
    [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, _char_pp, _char_pp, ctypes.c_size_t, ctypes.c_bool,
     ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, size_t_p],
    score_status,
)
def score_chat_render(template_source: Optional[bytes], bos: Optional[bytes], eos: Optional[bytes], roles: Any,
                      contents: Any, n: int, add_generation_prompt: bool, extra_json: Optional[bytes], buf: Any,
                      cap: int, needed: Any) -> int:
    """score_status score_chat_render(...)"""


@ctypes_function(
    "score_chat_render_dir",
    [ctypes.c_char_p, _char_pp, _char_pp, ctypes.c_size_t, ctypes.c_bool, ctypes.c_char_p, ctypes.c_char_p,
     ctypes.c_size_t, size_t_p],
    score_status,
)
def score_chat_render_dir(model_dir: bytes, roles: Any, contents: Any, n: int, add_generation_prompt: bool,
                          extra_json: Optional[bytes], buf: Any, cap: int, needed: Any) -> int:
    """score_status score_chat_render_dir(...)"""


def _text_arg(value: Optional[str], what: str) -> Optional[bytes]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str or None, not {type(value).__name__}")
    data = value.encode("utf-8")
    if b"\0" in data:
        from . import ScoreValueError
        raise ScoreValueError(f"{what} contains a NUL character")
    return data


def render_chat(
    model_dir_or_template: Union[str, "os.PathLike[str]"],
    messages: Sequence[Mapping[str, str]],
    add_generation_prompt: bool = True,
    *,
    bos_token: Optional[str] = None,
    eos_token: Optional[str] = None,
    extra: Optional[Mapping[str, Any]] = None,
) -> str:
    """Render ``messages`` (dicts with "role" and "content" strings).

    ``model_dir_or_template`` is a model directory (its tokenizer_config.json
    or chat_template.jinja supplies the template and special tokens), or the
    Jinja text of a template (anything containing ``{{``, ``{%`` or ``{#``),
    rendered with ``bos_token``/``eos_token``.
    ``extra`` holds further template variables (JSON-serialisable), e.g.
    ``{"date_string": "26 Jul 2024", "tools": [...]}``.

    A template that raises (e.g. roles that do not alternate) raises
    :class:`score.ScoreError` with status ``ERR_INVALID_ARGUMENT`` whose
    message ends with the template's own message.
    """
    from . import ScoreError, ScoreValueError, _check

    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise TypeError("messages must be a sequence of {'role', 'content'} dicts")
    if len(messages) == 0:
        raise ScoreValueError("messages is empty")
    n = len(messages)
    roles = (ctypes.c_char_p * n)()
    contents = (ctypes.c_char_p * n)()
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or "role" not in m or "content" not in m:
            raise TypeError(f"messages[{i}] must be a dict with 'role' and 'content'")
        roles[i] = _text_arg(m["role"], f"messages[{i}]['role']")
        contents[i] = _text_arg(m["content"], f"messages[{i}]['content']")
    extra_json = None if extra is None else json.dumps(dict(extra), ensure_ascii=False).encode("utf-8")

    path = os.fspath(model_dir_or_template)
    if not isinstance(path, str):
        raise TypeError("model_dir_or_template must be a directory path or template text")
    # Text without any Jinja tag is taken as a directory, so a mistyped path
    # is an error rather than a "template" that prints the path.
    is_dir = os.path.isdir(path) or not any(tag in path for tag in ("{{", "{%", "{#"))

    def call(buf: Any, cap: int, needed: Any) -> int:
        if is_dir:
            return score_chat_render_dir(os.fsencode(path), roles, contents, n, bool(add_generation_prompt), extra_json,
                                         buf, cap, needed)
        return score_chat_render(_text_arg(path, "template"), _text_arg(bos_token, "bos_token"),
                                 _text_arg(eos_token, "eos_token"), roles, contents, n, bool(add_generation_prompt),
                                 extra_json, buf, cap, needed)

    needed = ctypes.c_size_t(0)
    _check(call(None, 0, ctypes.byref(needed)))
    for _ in range(2):
        cap = needed.value
        buf = ctypes.create_string_buffer(cap)
        status = call(buf, cap, ctypes.byref(needed))
        if status == _lib.SCORE_ERR_BUFFER_TOO_SMALL:
            continue
        _check(status)
        return buf.raw[: needed.value - 1].decode("utf-8")
    raise ScoreError(_lib.SCORE_ERR_INTERNAL, "rendered size did not settle")  # pragma: no cover
