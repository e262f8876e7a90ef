"""The code verifier of SCoRe: an attempt is right when its program passes
the problem's unit tests (HumanEval/MBPP style).

    verify = code_verifier(timeout=5.0, memory_mb=512)
    reward = verify(problem, attempt, reference)   # 1.0 or 0.0

``attempt`` is model output: the program is the last ```python fenced block
(or the last untagged block, or the whole text). ``reference`` is test code,
one of:

* HumanEval tests that define ``check(candidate)``; the entry point comes from
  ``problem["entry_point"]`` (or ``problem.entry_point``);
* plain ``assert`` statements;
* a JSON object ``{"tests": "...", "entry_point": "name"}`` (``tests`` may
  also be a list of assert lines, as in MBPP's ``test_list``).

If the program does not define the entry point but ``problem["prompt"]``
does, the attempt is read as a HumanEval completion of that prompt.

The program runs in a fresh temporary directory, in its own process group,
under ``sys.executable -I`` with no stdin, a minimal environment, limits on
address space, CPU time and file size, and a wall-clock timeout. It passes
only if the process exits with status 0 *and* the harness reached its end: a
program that calls ``sys.exit(0)`` before the tests run does not pass.

This module does not load libscore; the math/numeric/exact verifiers live in
the library itself.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Tuple

__all__ = ["CodeRun", "code_verifier", "extract_code", "run_tests"]

_PYTHON_TAGS = {"python", "py", "python3"}
# Enough for any test log; a program writing more is killed by SIGXFSZ.
_MAX_FILE_BYTES = 16 * 1024 * 1024
_OUTPUT_TAIL_CHARS = 4000


def extract_code(text: str) -> str:
    """The program in a model's answer: the last ```python block, else the
    last untagged ``` block, else the whole text. A final block left open
    (a truncated answer) runs to the end of the text."""
    blocks = []  # (language, code)
    language: Optional[str] = None
    lines: list = []
    for line in text.splitlines(keepends=True):
        fence = line.strip()
        if language is None and fence.startswith("```"):
            language, lines = fence[3:].strip().lower(), []
        elif language is not None and fence.startswith("```") and not fence.strip("`"):
            blocks.append((language, "".join(lines)))
            language = None
        elif language is not None:
            lines.append(line)
    if language is not None:
        blocks.append((language, "".join(lines)))
    for wanted in (lambda lang: lang in _PYTHON_TAGS, lambda lang: not lang):
        chosen = [code for lang, code in blocks if wanted(lang)]
        if chosen:
            return chosen[-1]
    return text


@dataclass(frozen=True)
class CodeRun:
    """How one run of a program and its tests ended."""

    passed: bool
    returncode: Optional[int]  # None when killed on timeout
    timed_out: bool
    output: str  # the tail of stdout and stderr, for debugging a reward


def run_tests(code: str, tests: str, entry_point: Optional[str] = None, *,
              timeout: float = 5.0, memory_mb: int = 512) -> CodeRun:
    """Run ``code``, then ``tests`` in the same namespace, then
    ``check(entry_point)`` if an entry point is given, in a sandboxed child."""
    _check_limits(timeout, memory_mb)
    nonce = secrets.token_hex(16)
    workdir = tempfile.mkdtemp(prefix="score-code-")
    try:
        _write(workdir, "solution.py", code)
        _write(workdir, "tests.py", tests)
        _write(workdir, "main.py", _harness(entry_point, nonce))
        with open(os.path.join(workdir, "output.txt"), "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-I", "main.py"],
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": workdir,
                     "TMPDIR": workdir, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"},
                start_new_session=True,
                preexec_fn=_limiter(timeout, memory_mb),
                close_fds=True,
            )
            timed_out = False
            try:
                returncode: Optional[int] = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                returncode = None
            finally:
                # The whole group: a program's own children must not outlive it.
                _kill_group(proc.pid)
                proc.wait()
        output = _read_tail(os.path.join(workdir, "output.txt"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    passed = returncode == 0 and nonce in output
    return CodeRun(passed=passed, returncode=returncode, timed_out=timed_out, output=output)


def code_verifier(timeout: float = 5.0, memory_mb: int = 512) -> Callable[[Any, str, str], float]:
    """A reward function ``(problem, attempt, reference) -> 1.0 | 0.0``.

    Raises ``ValueError`` for a reference it cannot use (tests that define
    ``check`` without any known entry point): that is a data error, not a
    wrong attempt."""
    _check_limits(timeout, memory_mb)

    def verify(problem: Any, attempt: str, reference: Any) -> float:
        tests, entry_point = _parse_reference(reference, problem)
        code = extract_code(attempt)
        prompt = _field(problem, "prompt")
        if entry_point and isinstance(prompt, str) and _defines(prompt, entry_point) and not _defines(code, entry_point):
            code = prompt + code
        run = run_tests(code, tests, entry_point, timeout=timeout, memory_mb=memory_mb)
        return 1.0 if run.passed else 0.0

    return verify


def _parse_reference(reference: Any, problem: Any) -> Tuple[str, Optional[str]]:
    tests: Any = reference
    entry_point = None
    if isinstance(reference, str) and reference.lstrip().startswith("{"):
        try:
            tests = json.loads(reference)
        except json.JSONDecodeError:
            tests = reference  # a dict literal in Python test code
    if isinstance(tests, Mapping):
        entry_point = tests.get("entry_point")
        tests = tests.get("tests", tests.get("test", ""))
    if isinstance(tests, (list, tuple)):
        tests = "\n".join(str(t) for t in tests)
    if not isinstance(tests, str):
        raise ValueError(f"reference tests must be text, got {type(tests).__name__}")
    entry_point = entry_point or _field(problem, "entry_point")
    if _defines(tests, "check"):
        if not entry_point:
            raise ValueError("reference defines check(candidate) but no entry_point is given "
                             "(in the JSON reference or the problem)")
        if not isinstance(entry_point, str) or not entry_point.isidentifier():
            raise ValueError(f"entry_point {entry_point!r} is not a Python identifier")
        return tests, entry_point
    return tests, None


def _field(problem: Any, name: str) -> Any:
    if isinstance(problem, Mapping):
        return problem.get(name)
    return getattr(problem, name, None)


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def _harness(entry_point: Optional[str], nonce: str) -> str:
    # The solution runs under the name "solution", so a demo block under
    # `if __name__ == "__main__":` (which may read stdin) is skipped.
    call = f"namespace[{entry_point!r}]" if entry_point else None
    lines = [
        "namespace = {'__name__': 'solution'}",
        "for name in ('solution.py', 'tests.py'):",
        "    with open(name, encoding='utf-8') as f:",
        "        source = f.read()",
        "    exec(compile(source, name, 'exec'), namespace)",
    ]
    if call:
        lines.append(f"namespace['check']({call})")
    lines.append(f"print({nonce!r}, flush=True)")
    return "\n".join(lines) + "\n"


def _limiter(timeout: float, memory_mb: int) -> Callable[[], None]:
    memory = memory_mb * 1024 * 1024
    cpu = math.ceil(timeout) + 1

    def apply_limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (_MAX_FILE_BYTES, _MAX_FILE_BYTES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply_limits


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _check_limits(timeout: float, memory_mb: int) -> None:
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if not (isinstance(memory_mb, int) and memory_mb >= 32):
        raise ValueError(f"memory_mb must be an integer >= 32, got {memory_mb!r}")


def _write(directory: str, name: str, text: str) -> None:
    with open(os.path.join(directory, name), "w", encoding="utf-8", errors="replace") as f:
        f.write(text)


def _read_tail(path: str) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 4 * _OUTPUT_TAIL_CHARS))
        return f.read().decode("utf-8", errors="replace")[-_OUTPUT_TAIL_CHARS:]
