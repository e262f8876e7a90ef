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

The program is hostile until proven otherwise
---------------------------------------------

RL optimises whatever the reward says, so a policy that finds a way to make
the verifier say 1.0 without solving the problem will learn it. Two things
are defended: the host (the program must not touch the network, the files,
the processes or the verifier) and the verdict (the program must not be able
to make failing tests pass).

**Isolation: bubblewrap.** Each run is two sandboxes made by ``bwrap``
(Debian package ``bubblewrap``): new PID, network, IPC and UTS namespaces
(no network but the sandbox's own loopback; the process tree is killed
with the sandbox's init), a new mount namespace whose root is an empty tmpfs with
read-only binds of only what the interpreter needs (``/usr``, the symlinks
``/bin``, ``/lib``, ``/lib64``, the interpreter's ``sys.prefix`` and
``sys.base_prefix``, ``/etc/ld.so.cache``, ``/etc/ld.so.conf*``,
``/etc/alternatives``; not the rest of ``/etc``, not ``/home``, ``/root`` or
the working tree), a fresh ``/proc`` and minimal ``/dev``, and one writable
place: a 64 MiB tmpfs at ``/tmp`` (the working directory and ``HOME``),
discarded with the sandbox. ``--new-session`` (no TIOCSTI into the
verifier's terminal), ``--die-with-parent``, no_new_privs, every capability
dropped. The program runs as an unprivileged uid: when the verifier runs as
root, bwrap keeps only CAP_SETUID/CAP_SETGID and the trusted bootstrap drops
to a fresh random uid in [2^31 - 2^24, 2^31) with no groups before any
untrusted code (a uid no other process has, so RLIMIT_NPROC — counted per
real uid, and not enforced for root — bounds this sandbox alone); as a
normal user, bwrap makes a user namespace (``--unshare-user
--disable-userns``) and the limit counts this sandbox's processes. Limits,
set by the bootstrap before the program runs: 32 processes, address space
``memory_mb``, CPU seconds ``ceil(timeout) + 1``, 16 MiB per file, no core
files. The wall-clock timeout SIGKILLs the process group of ``bwrap``; its
death kills the PID namespace's init and with it every process the program
made, including ``setsid`` and double-forked ones.

*Why bwrap and not unshare(1) + seccomp:* bwrap does in one audited setuid-free
tool (it is Flatpak's) the parts that are easy to get wrong by hand: building
a minimal root with pivot_root, mounting a /proc that belongs to the new PID
namespace, reaping as PID 1, dying with its parent, dropping capabilities, and
no_new_privs. ``unshare`` gives namespaces but no
filesystem view, and a seccomp filter alone isolates nothing unless it is a
complete syscall allowlist, which breaks ordinary Python programs. A seccomp
filter on top of bwrap (``--seccomp FD``) would shrink the kernel's attack
surface further; it is not applied (see the README's known limitations).

If ``bwrap`` is missing or cannot make a sandbox on this host,
``code_verifier()`` and ``run_tests()`` raise :class:`SandboxUnavailable`
(``apt-get install bubblewrap``): the verifier fails closed, it never falls
back to running the program unsandboxed. ``sandbox=False`` is the explicit,
warned way to do that (trusted code, or a host that is itself a throwaway
sandbox); the verdict design below holds in both modes.

**The verdict: the tests never run in the program's process.** In one
process the program can do anything its harness can (read the harness's
locals through frames or ``/proc/self/mem``, write to its file descriptors,
replace builtins, return objects whose ``__eq__`` is always true), so no
sentinel, nonce or captured reference inside that process is a sound pass
signal. Instead the program runs in sandbox A and the tests in sandbox B,
which holds only trusted code. A executes the program and sends B a manifest
of the names it defined; in B each function becomes a proxy that sends its
arguments to A over a pipe and gets the result back as *data*: JSON of exact
builtin types only (None, bool, int, float, complex, str, bytes, bytearray,
list, tuple, dict, set, frozenset; numpy values become their ``tolist()``),
decoded in B by a strict decoder. Exceptions come back as the program's
builtin exception class (``ValueError``...), or ``CandidateError``. B runs
the tests, calls ``check(entry_point)``, and only then writes "passed" to a
pipe that only B holds; the verifier's reward is 1.0 exactly when B exited
0 *and* wrote it. A's exit status and output play no part. So printing a
pass line, reading the harness from disk or /proc, replacing
``builtins.exec`` or ``AssertionError``, exiting 0 early, redefining
``check``, shadowing builtins the tests use (manifest names that are
builtins are ignored), and returning an always-equal object all fail.

The price: what crosses between tests and program is data. A test that
passes a function or another non-data object to the program, relies on the
program mutating its argument in place, or gets back an object other than
the types above (a generator, an instance of the program's class) fails; so
does a program whose top level raises or exits. Names the program imports
from a small set of pure stdlib modules (``typing``, ``collections``,
``fractions``, ...) reach the tests as the real objects, and stdlib modules
it imports as the real modules.

This module does not load libscore; the math/numeric/exact verifiers live in
the library itself.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Optional, Tuple

__all__ = ["CodeRun", "SandboxUnavailable", "code_verifier", "extract_code", "run_tests",
           "sandbox_command"]

_PYTHON_TAGS = {"python", "py", "python3"}
# Enough for any test log; a program writing more is killed by SIGXFSZ.
_MAX_FILE_BYTES = 16 * 1024 * 1024
_OUTPUT_TAIL_CHARS = 4000
_MAX_PROCESSES = 32
_TMPFS_BYTES = 64 * 1024 * 1024
# Fresh uids for the program when the verifier runs as root: no account,
# file or other process has them.
_UID_BASE = 2 ** 31 - 2 ** 24
_UID_SPAN = 2 ** 24


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot make a sandbox on this host."""


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
    returncode: Optional[int]  # of the tests' process; None when killed on timeout
    timed_out: bool
    output: str  # the tail of the program's and the tests' output, for debugging a reward


def run_tests(code: str, tests: str, entry_point: Optional[str] = None, *,
              timeout: float = 5.0, memory_mb: int = 512, sandbox: bool = True) -> CodeRun:
    """Run ``code`` in one sandbox and ``tests`` (then ``check(entry_point)``
    if an entry point is given) in another, the tests calling the program's
    functions across the boundary (see the module docstring).

    ``sandbox=False`` runs both as plain child processes (with the same
    limits and verdict channel, but no isolation) and warns; without it, a
    host where bubblewrap cannot work raises :class:`SandboxUnavailable`."""
    _check_limits(timeout, memory_mb)
    if sandbox:
        _require_sandbox()
    else:
        _warn_unsandboxed()
    deadline = time.monotonic() + timeout
    fds: List[int] = []
    procs: List[subprocess.Popen] = []
    workdirs: List[str] = []
    outputs = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]
    try:
        to_program_r, to_program_w = _pipe(fds)
        to_tests_r, to_tests_w = _pipe(fds)
        verdict_r, verdict_w = _pipe(fds)
        limits = {"memory": memory_mb * 1024 * 1024, "cpu": math.ceil(timeout) + 1,
                  "fsize": _MAX_FILE_BYTES, "nproc": _MAX_PROCESSES}
        roles = [
            ("program", "solution.py", code, {"recv": to_program_r, "send": to_tests_w}),
            ("tests", "tests.py", tests, {"recv": to_tests_r, "send": to_program_w,
                                          "verdict": verdict_w, "entry_point": entry_point}),
        ]
        for (role, name, text, channel), out in zip(roles, outputs):
            config = dict(channel, role=role, limits=limits,
                          uid=_UID_BASE + secrets.randbelow(_UID_SPAN) if sandbox and os.geteuid() == 0 else None)
            procs.append(_start(role, name, text, config, out, sandbox, fds, workdirs))
        for fd in (to_program_r, to_tests_w, to_tests_r, to_program_w, verdict_w):
            _close(fds, fd)
        tests_proc = procs[1]
        timed_out = False
        try:
            returncode: Optional[int] = tests_proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out, returncode = True, None
        # Killing bwrap's process group kills each sandbox's PID 1, and with
        # it every process left inside: setsid and double-forked ones too.
        for proc in procs:
            _kill_group(proc.pid)
        for proc in procs:
            proc.wait()
        verdict = _read_available(verdict_r)
        output = ("--- program ---\n" + _read_tail(outputs[0]) +
                  "\n--- tests ---\n" + _read_tail(outputs[1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                _kill_group(proc.pid)
                proc.wait()
        for fd in list(fds):
            _close(fds, fd)
        for out in outputs:
            out.close()
        for directory in workdirs:
            shutil.rmtree(directory, ignore_errors=True)
    passed = returncode == 0 and verdict == b"passed\n"
    return CodeRun(passed=passed, returncode=returncode, timed_out=timed_out, output=output)


def code_verifier(timeout: float = 5.0, memory_mb: int = 512, *,
                  sandbox: bool = True) -> Callable[[Any, str, str], float]:
    """A reward function ``(problem, attempt, reference) -> 1.0 | 0.0``.

    Programs run in a bubblewrap sandbox; if it cannot work here this raises
    :class:`SandboxUnavailable` now. ``sandbox=False`` (with a warning) runs
    them unsandboxed, for trusted code only.

    Raises ``ValueError`` for a reference it cannot use (tests that define
    ``check`` without any known entry point): that is a data error, not a
    wrong attempt."""
    _check_limits(timeout, memory_mb)
    if sandbox:
        _require_sandbox()
    else:
        _warn_unsandboxed()

    def verify(problem: Any, attempt: str, reference: Any) -> float:
        tests, entry_point = _parse_reference(reference, problem)
        code = extract_code(attempt)
        prompt = _field(problem, "prompt")
        if entry_point and isinstance(prompt, str) and _defines(prompt, entry_point) and not _defines(code, entry_point):
            code = prompt + code
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", _UnsandboxedWarning)
            run = run_tests(code, tests, entry_point, timeout=timeout, memory_mb=memory_mb, sandbox=sandbox)
        return 1.0 if run.passed else 0.0

    return verify


# --- the sandbox -------------------------------------------------------------

class _UnsandboxedWarning(RuntimeWarning):
    pass


def _warn_unsandboxed() -> None:
    warnings.warn("code_verifier(sandbox=False): generated programs run as ordinary child processes "
                  "with your uid, network and files; use it only for trusted code",
                  _UnsandboxedWarning, stacklevel=3)


_INTERPRETER_ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives")
_SANDBOX_DIR = "/sandbox"


def sandbox_command(files: Mapping[str, int], argv: List[str], *, as_root: Optional[bool] = None) -> List[str]:
    """The ``bwrap`` command line that runs ``argv`` in the verifier's
    sandbox; ``files`` maps names under /sandbox to readable fds whose
    content bwrap copies in read-only."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed, and code_verifier runs generated code only in its "
            "sandbox: install it (apt-get install bubblewrap), or pass sandbox=False to run "
            "generated code unsandboxed (trusted code only)")
    if as_root is None:
        as_root = os.geteuid() == 0
    cmd = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
           "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if as_root:
        # No user namespace (uid 0 in one is still root to RLIMIT_NPROC): the
        # bootstrap drops to a fresh uid itself, then holds no capability.
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        cmd += ["--unshare-user", "--disable-userns"]
    # The only writable place, first, so that binds below may sit inside it.
    cmd += ["--perms", "1777", "--size", str(_TMPFS_BYTES), "--tmpfs", "/tmp",
            "--proc", "/proc", "--dev", "/dev", "--ro-bind", "/usr", "/usr"]
    made = {"/", "/tmp", "/proc", "/dev", "/usr"}
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            cmd += ["--symlink", os.readlink(top), top]
            made.add(top)
        elif os.path.isdir(top):
            cmd += ["--ro-bind", top, top]
            made.add(top)
    binds = [p for p in _INTERPRETER_ETC if os.path.exists(p)]
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                   os.path.dirname(os.path.realpath(sys.executable))):
        real = os.path.realpath(prefix)
        for path in {prefix, real}:
            if os.path.isdir(path) and not any(_under(path, p) for p in ("/usr",) + tuple(binds)):
                binds.append(path)
    for path in sorted(set(binds), key=len):
        if any(_under(path, p) and path != p for p in binds):
            continue  # inside another bind
        for parent in _ancestors(path):
            if parent not in made:
                cmd += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        cmd += ["--ro-bind", path, path]
        made.add(path)
    if _SANDBOX_DIR not in made:
        cmd += ["--perms", "0755", "--dir", _SANDBOX_DIR]
    for name, fd in files.items():
        cmd += ["--perms", "0444", "--ro-bind-data", str(fd), f"{_SANDBOX_DIR}/{name}"]
    cmd += ["--chdir", "/tmp", "--clearenv"]
    for key, value in _child_env("/tmp").items():
        cmd += ["--setenv", key, value]
    return cmd + ["--"] + argv


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _ancestors(path: str) -> List[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[:i + 1]) for i in range(len(parts))]


def _child_env(home: str) -> dict:
    return {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8"}


_probe_lock = threading.Lock()
_probe_ok: Optional[Tuple[str, str, bool]] = None


def _require_sandbox() -> None:
    """Raise SandboxUnavailable unless a sandboxed interpreter runs here and
    is confined as designed (once per process, per bwrap and interpreter)."""
    global _probe_ok
    key = (shutil.which("bwrap") or "", sys.executable, os.geteuid() == 0)
    with _probe_lock:
        if _probe_ok == key:
            return
        probe = (
            "import os, socket, sys\n"
            "exec(open('/sandbox/boot.py').read().split('# --- role ---')[0])\n"
            "_enter(__import__('json').loads(sys.argv[1]))\n"
            "assert not os.path.exists('/etc/passwd') and not os.path.exists('/home'), 'host files visible'\n"
            "assert os.getuid() != 0, 'still root'\n"
            "try:\n"
            "    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
            "except OSError:\n"
            "    pass\n"
            "print('sandbox-ok')\n"
        )
        config = {"role": "probe", "limits": {"memory": 512 << 20, "cpu": 10, "fsize": 1 << 20,
                                              "nproc": _MAX_PROCESSES},
                  "uid": _UID_BASE + secrets.randbelow(_UID_SPAN) if key[2] else None}
        fds: List[int] = []
        try:
            boot = _data_fd(_BOOT, fds)
            script = _data_fd(probe, fds)
            cmd = sandbox_command({"boot.py": boot, "probe.py": script},
                                  [sys.executable, "-I", "-S", f"{_SANDBOX_DIR}/probe.py", json.dumps(config)])
            result = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                                    pass_fds=tuple(fds), start_new_session=True)
            ok = result.returncode == 0 and b"sandbox-ok" in result.stdout
            detail = (result.stderr or result.stdout).decode("utf-8", "replace").strip()[-2000:]
        except (OSError, subprocess.SubprocessError) as error:
            ok, detail = False, repr(error)
        finally:
            for fd in list(fds):
                _close(fds, fd)
        if not ok:
            raise SandboxUnavailable(
                "bubblewrap (bwrap) cannot make the code verifier's sandbox on this host "
                f"({detail or 'no output'}); code_verifier never runs generated code unsandboxed by "
                "itself: fix the host (apt-get install bubblewrap; a non-root user needs unprivileged "
                "user namespaces), or pass sandbox=False to run generated code unsandboxed")
        _probe_ok = key


def _start(role: str, name: str, text: str, config: dict, out: Any, sandbox: bool,
           fds: List[int], workdirs: List[str]) -> subprocess.Popen:
    channel = [config["recv"], config["send"]] + ([config["verdict"]] if "verdict" in config else [])
    python = [sys.executable, "-I", "-u"]
    if sandbox:
        boot = _data_fd(_BOOT, fds)
        source = _data_fd(text, fds)
        config = dict(config, source=f"{_SANDBOX_DIR}/{name}")
        cmd = sandbox_command({"boot.py": boot, name: source},
                              python + [f"{_SANDBOX_DIR}/boot.py", json.dumps(config)])
        pass_fds = tuple(channel) + (boot, source)
        cwd, env = None, None
    else:
        workdir = tempfile.mkdtemp(prefix=f"score-code-{role}-")
        workdirs.append(workdir)
        _write(workdir, "boot.py", _BOOT)
        _write(workdir, name, text)
        config = dict(config, source=os.path.join(workdir, name))
        cmd = python + [os.path.join(workdir, "boot.py"), json.dumps(config)]
        pass_fds, cwd, env = tuple(channel), workdir, _child_env(workdir)
    try:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                pass_fds=pass_fds, close_fds=True)
    finally:
        if sandbox:
            _close(fds, boot)
            _close(fds, source)


def _pipe(fds: List[int]) -> Tuple[int, int]:
    r, w = os.pipe()
    fds += [r, w]
    return r, w


def _data_fd(text: str, fds: List[int]) -> int:
    fd = os.memfd_create("score-sandbox-file")
    fds.append(fd)
    os.write(fd, text.encode("utf-8", errors="replace"))
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _close(fds: List[int], fd: int) -> None:
    if fd in fds:
        fds.remove(fd)
        os.close(fd)


def _read_available(fd: int) -> bytes:
    # Every writer is dead by now; a stray one cannot make us block.
    data = b""
    while len(data) < 64 and select.select([fd], [], [], 0)[0]:
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    return data


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --- what runs inside ----------------------------------------------------------
#
# One bootstrap for both sides. Its first part (_enter) makes the process
# what the sandbox promises, before any untrusted code: an unprivileged uid
# with no capabilities and no groups, and the limits. Then "program" runs the
# generated code and serves calls; "tests" runs the tests against proxies and
# is the only holder of the verdict pipe.

_BOOT = r'''
import builtins, json, os, resource, sys


def _enter(config):
    uid = config.get("uid")
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        with open("/proc/self/status") as status:
            caps = [l.split()[1] for l in status if l.startswith(("CapEff:", "CapPrm:"))]
        if os.getuid() != uid or os.geteuid() != uid or any(int(c, 16) for c in caps):
            os._exit(125)
    limits = config["limits"]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["fsize"], limits["fsize"]))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu"], limits["cpu"] + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory"], limits["memory"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["nproc"], limits["nproc"]))


_MAX_DEPTH = 100
_MAX_LINE = 64 << 20


def _encode(x, depth=0):
    """Plain data as JSON, exact builtin types only."""
    if depth > _MAX_DEPTH:
        raise ValueError("value nested too deeply to cross the sandbox boundary")
    t = type(x)
    if x is None or t is bool or t is str:
        return x
    if t is int:
        return x if -2 ** 53 < x < 2 ** 53 else ["I", hex(x)]
    if t is float:
        return x if x == x and x not in (float("inf"), float("-inf")) else ["F", repr(x)]
    if t is complex:
        return ["C", _encode(x.real), _encode(x.imag)]
    if t is bytes or t is bytearray:
        return ["B" if t is bytes else "BA", x.hex()]
    tags = {list: "L", tuple: "T", set: "S", frozenset: "FS"}
    if t in tags:
        return [tags[t]] + [_encode(item, depth + 1) for item in x]
    if t is dict:
        return ["D"] + [[_encode(k, depth + 1), _encode(v, depth + 1)] for k, v in x.items()]
    raise TypeError(f"a {t.__module__}.{t.__qualname__} cannot cross the sandbox boundary "
                    "(only None, bool, int, float, complex, str, bytes, list, tuple, dict, set)")


def _decode(v, depth=0):
    """The strict inverse of _encode: anything else is an error."""
    if depth > _MAX_DEPTH:
        raise ValueError("value nested too deeply")
    t = type(v)
    if v is None or t is bool or t is str or t is int or t is float:
        return v
    if t is not list or not v or type(v[0]) is not str:
        raise ValueError("malformed value from the program")
    tag, rest = v[0], v[1:]
    if tag == "I" and len(rest) == 1 and type(rest[0]) is str:
        return int(rest[0], 16)
    if tag == "F" and rest in (["nan"], ["inf"], ["-inf"]):
        return float(rest[0])
    if tag == "C" and len(rest) == 2:
        parts = [_decode(p, depth + 1) for p in rest]
        if all(type(p) is float or type(p) is int for p in parts):
            return complex(*parts)
    if tag in ("B", "BA") and len(rest) == 1 and type(rest[0]) is str:
        return (bytes if tag == "B" else bytearray).fromhex(rest[0])
    kinds = {"L": list, "T": tuple, "S": set, "FS": frozenset}
    if tag in kinds:
        return kinds[tag](_decode(item, depth + 1) for item in rest)
    if tag == "D" and all(type(p) is list and len(p) == 2 for p in rest):
        return {_decode(k, depth + 1): _decode(val, depth + 1) for k, val in rest}
    raise ValueError("malformed value from the program")


class _Channel:
    def __init__(self, recv_fd, send_fd):
        self.recv = open(recv_fd, "rb", buffering=1 << 16)
        self.send_fd = send_fd

    def write(self, message):
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(self.send_fd, view):]

    def read(self):
        line = self.recv.readline(_MAX_LINE)
        if not line.endswith(b"\n"):
            raise EOFError("the program's process ended or sent a malformed message")
        return json.loads(line)


# --- role ---

# Objects the tests may get as themselves (annotations, Counter, Fraction...).
_PURE_MODULES = ("typing", "collections", "collections.abc", "fractions", "decimal", "numbers",
                 "datetime", "string")
_NO_IMPORT = {"this", "antigravity", "idlelib", "tkinter", "turtle", "turtledemo", "webbrowser",
              "pydoc", "ensurepip", "venv", "lib2to3"}


def _plain(value):
    # numpy scalars and arrays: their Python value.
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    return value


def _describe(value):
    import importlib, types
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    for module_name in _PURE_MODULES:
        module = sys.modules.get(module_name)
        for attr in getattr(module, "__all__", ()) if module else ():
            if getattr(module, attr, None) is value:
                return ["ref", module_name, attr]
    if callable(value):
        return ["call"]
    try:
        return ["value", _encode(_plain(value))]
    except (TypeError, ValueError, RecursionError):
        return None


def _serve(config):
    channel = _Channel(config["recv"], config["send"])
    namespace = {"__name__": "solution"}
    try:
        with open(config["source"], encoding="utf-8") as f:
            source = f.read()
        exec(compile(source, "solution.py", "exec"), namespace)
    except BaseException:
        import traceback
        traceback.print_exc()
        channel.write(["error"])
        os._exit(1)
    manifest = {}
    for name, value in list(namespace.items()):
        if isinstance(name, str) and not name.startswith("__"):
            description = _describe(value)
            if description is not None:
                manifest[name] = description
    channel.write(["ready", manifest])
    while True:
        try:
            _, name, args, kwargs = channel.read()
        except EOFError:
            os._exit(0)
        try:
            result = namespace[name](*_decode(args), **_decode(kwargs))
            reply = ["ok", _encode(_plain(result))]
        except BaseException as error:
            classes = [c.__name__ for c in type(error).__mro__ if c.__module__ == "builtins"]
            reply = ["raise", classes, str(error)[:2000]]
        channel.write(reply)


class CandidateError(Exception):
    """An exception of the program's own class, seen from the tests."""


def _proxy(channel, name):
    def call(*args, **kwargs):
        channel.write(["call", name, _encode(list(args)), _encode(dict(kwargs))])
        reply = channel.read()
        if type(reply) is list and len(reply) == 2 and reply[0] == "ok":
            return _decode(reply[1])
        if type(reply) is list and len(reply) == 3 and reply[0] == "raise" and type(reply[1]) is list:
            for class_name in reply[1]:
                cls = getattr(builtins, class_name, None) if type(class_name) is str else None
                if isinstance(cls, type) and issubclass(cls, Exception):
                    raise cls(str(reply[2]))
            raise CandidateError(str(reply[2]))
        raise RuntimeError("malformed reply from the program")
    call.__name__ = call.__qualname__ = name
    return call


def _namespace(channel, manifest):
    import importlib
    namespace = {"__name__": "tests"}
    if type(manifest) is not dict:
        raise RuntimeError("malformed manifest from the program")
    for name, description in manifest.items():
        # Never a dunder, and never a builtin the tests rely on (abs, len, ...).
        if (not name.isidentifier() or name.startswith("__") or hasattr(builtins, name)
                or type(description) is not list or not description):
            continue
        kind = description[0]
        if kind == "call" and len(description) == 1:
            namespace[name] = _proxy(channel, name)
        elif kind == "value" and len(description) == 2:
            namespace[name] = _decode(description[1])
        elif kind == "module" and len(description) == 2 and type(description[1]) is str:
            top = description[1].split(".")[0]
            if top in sys.stdlib_module_names and top not in _NO_IMPORT:
                namespace[name] = importlib.import_module(description[1])
        elif kind == "ref" and len(description) == 3 and description[1] in _PURE_MODULES:
            module = importlib.import_module(description[1])
            if description[2] in getattr(module, "__all__", ()):
                namespace[name] = getattr(module, description[2])
    return namespace


def _test(config):
    verdict = config["verdict"]
    write = os.write
    channel = _Channel(config["recv"], config["send"])
    message = channel.read()
    if type(message) is not list or message[:1] != ["ready"] or len(message) != 2:
        print("the program did not run to its end (see its output)")
        os._exit(1)
    namespace = _namespace(channel, message[1])
    with open(config["source"], encoding="utf-8") as f:
        source = f.read()
    exec(compile(source, "tests.py", "exec"), namespace)
    entry_point = config.get("entry_point")
    if entry_point:
        namespace["check"](namespace[entry_point])
    write(verdict, b"passed\n")


def _main():
    config = json.loads(sys.argv[1])
    _enter(config)
    if config["role"] == "program":
        _serve(config)
    else:
        _test(config)


_main()
'''


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


def _check_limits(timeout: float, memory_mb: int) -> None:
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if not (isinstance(memory_mb, int) and memory_mb >= 32):
        raise ValueError(f"memory_mb must be an integer >= 32, got {memory_mb!r}")


def _write(directory: str, name: str, text: str) -> None:
    with open(os.path.join(directory, name), "w", encoding="utf-8", errors="replace") as f:
        f.write(text)


def _read_tail(out: Any) -> str:
    out.seek(0, os.SEEK_END)
    size = out.tell()
    out.seek(max(0, size - 4 * _OUTPUT_TAIL_CHARS))
    return out.read().decode("utf-8", errors="replace")[-_OUTPUT_TAIL_CHARS:]
