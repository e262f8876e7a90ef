"""score/verifiers.py against hostile programs: each escape or forgery a
review found (or that we could think of) is contained, scores 0.0, and the
verifier's process survives it.

Every hostile program below is paired with tests it cannot pass honestly,
and where the attack has a side effect on the host (a file, a connection, a
process) the host is checked too. Loaded from its file like
test_code_verifier.py, so no libscore.so is needed."""
import concurrent.futures
import importlib.util
import json
import os
import secrets
import socket
import sys
import time
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "score" / "verifiers.py"
_SPEC = importlib.util.spec_from_file_location("score_verifiers_sandbox_test", _PATH)
verifiers = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = verifiers
_SPEC.loader.exec_module(verifiers)

TESTS = "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n"
PROBLEM = {"prompt": 'def add(a, b):\n    """Return a + b."""\n', "entry_point": "add"}
RIGHT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"


# Destructive payloads (kill(-1), fork bombs, stray processes, 10 GB) run
# only where they see a sandbox: a fresh PID namespace and no /etc/passwd.
# Run unconfined as root, os.kill(-1, SIGKILL) kills every process on the
# machine; a regression in the sandbox must fail these tests, not do that.
GUARD = (
    "import os as _os\n"
    "if _os.getpid() > 50 or _os.path.exists('/etc/passwd'):\n"
    "    print('NOT SANDBOXED: payload skipped')\n"
    "    raise SystemExit(3)\n"
)


@pytest.fixture(scope="module", autouse=True)
def confined():
    """Every test here needs the sandbox in force; check it before any payload."""
    result = verifiers.run_tests(GUARD + "ok = True\n", "assert ok", timeout=5.0)
    assert result.passed, "the sandbox does not confine programs:\n" + result.output


@pytest.fixture(scope="module")
def verify():
    return verifiers.code_verifier(timeout=3.0, memory_mb=256)


def hostile(verify, prelude, tests=TESTS, problem=PROBLEM):
    """Score a wrong add() behind ``prelude``; the caller is still alive."""
    score = verify(problem, prelude + "\n" + WRONG, tests)
    assert os.getpid() > 0  # still here
    return score


def run(prelude, tests, timeout=3.0, **kw):
    return verifiers.run_tests(prelude, tests, timeout=timeout, memory_mb=256, **kw)


# --- the channel works, so a 0.0 below means "contained", not "broken" -------

def test_values_the_program_computes_reach_the_tests():
    program = "import os\nok = True\nuid = os.getuid()\nhome = os.environ['HOME']\n"
    result = run(program, "assert ok is True\nassert uid != 0\nassert home == '/tmp'")
    assert result.passed, result.output


# --- the host ---------------------------------------------------------------

def test_no_network_to_a_local_listener_or_outside(verify):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    program = (
        "import socket\nreached = []\n"
        f"for address in [('127.0.0.1', {port}), ('1.1.1.1', 53), ('8.8.8.8', 443)]:\n"
        "    try:\n"
        "        socket.create_connection(address, timeout=1).close()\n"
        "        reached.append(address)\n"
        "    except OSError as error:\n"
        "        print(address, error)\n"
        "try:\n"
        "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "    s.sendto(b'x', ('1.1.1.1', 53))\n"
        "    reached.append('udp')\n"
        "except OSError as error:\n"
        "    print('udp', error)\n"
    )
    result = run(program, "assert reached == []")
    assert result.passed, result.output  # every attempt failed inside
    assert "unreachable" in result.output
    with pytest.raises(socket.timeout):
        listener.accept()  # nobody connected
    listener.close()
    # and as a reward: a program that needs the network scores 0
    assert hostile(verify, program, "assert reached") == 0.0


def test_no_writes_outside_the_private_tmpfs(verify, tmp_path):
    tag = secrets.token_hex(6)
    targets = [f"/tmp/escape-{tag}", os.path.join(os.path.expanduser("~"), f"escape-{tag}"),
               str(tmp_path / f"escape-{tag}"), str(Path(__file__).parent / f"escape-{tag}"),
               f"/usr/escape-{tag}"]
    program = (
        f"import os\nwritten = []\nfor path in {targets!r}:\n"
        "    try:\n"
        "        with open(path, 'w') as f:\n"
        "            f.write('escaped')\n"
        "        written.append(path)\n"
        "    except OSError as error:\n"
        "        print(path, error)\n"
    )
    assert hostile(verify, program) == 0.0
    result = run(program, "print(written)")
    assert result.passed
    # Only the sandbox's own /tmp took a write, and it is gone.
    assert f"['/tmp/escape-{tag}']" in result.output, result.output
    for path in targets:
        assert not os.path.exists(path), path


def test_no_reads_of_host_secrets_or_home(verify):
    home = os.path.expanduser("~")
    repo = str(Path(__file__).resolve().parents[3])
    program = (
        "import os\nleaked = {}\n"
        f"for path in ['/etc/shadow', '/etc/passwd', '/etc/hostname', {home!r}, {repo!r}, '/home', '/work']:\n"
        "    try:\n"
        "        leaked[path] = os.listdir(path) if os.path.isdir(path) else open(path).read()\n"
        "    except OSError as error:\n"
        "        print(path, error)\n"
    )
    # The only thing to see: the empty parents of the interpreter's prefix (/root/.pyenv/...).
    parents = set(Path(sys.prefix).parts)
    tests = f"assert [p for p, v in leaked.items() if not (isinstance(v, list) and set(v) <= {parents!r})]"
    assert hostile(verify, program, tests) == 0.0
    result = run(program, "print('leaked:', leaked)")
    assert result.passed
    # A home under /root is visible only as the empty parents of the interpreter's prefix.
    leaked = result.output.split("leaked: ")[1].splitlines()[0]
    assert "shadow" not in leaked and "root:" not in leaked and ".git" not in leaked, leaked


def test_fork_bomb_is_bounded(verify):
    program = GUARD + (
        "import os, time\nforked = 0\n"
        "for _ in range(200):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        break\n"
        "    if pid == 0:\n"
        "        time.sleep(30)\n"
        "        os._exit(0)\n"
        "    forked += 1\n"
    )
    assert hostile(verify, program, "assert forked >= 200") == 0.0
    result = run(program, "print('forked', forked)\nassert forked < 40")
    assert result.passed, result.output


def test_no_process_outlives_the_verifier(verify, tmp_path):
    tag = secrets.token_hex(6)
    marker = f"/tmp/escape-late-{tag}"
    program = GUARD + (
        "import os, subprocess, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(3); open({marker!r}, \"w\").write(\"late\")', {tag!r}])\n"
        "    os._exit(0)\n"
        f"subprocess.Popen(['sleep', '3.{int(tag[:4], 16)}'], start_new_session=True)\n"
        "time.sleep(0.3)\n"
    )
    start = time.monotonic()
    assert hostile(verify, program) == 0.0
    assert time.monotonic() - start < 3
    assert "NOT SANDBOXED" not in run(program, "assert True").output
    time.sleep(0.3)
    survivors = []
    for pid in os.listdir("/proc"):
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        if tag.encode() in cmdline or f"3.{int(tag[:4], 16)}".encode() in cmdline:
            survivors.append(cmdline)
    assert survivors == []
    time.sleep(4)
    assert not os.path.exists(marker)


def test_ten_gigabytes_is_a_memory_error(verify):
    start = time.monotonic()
    program = GUARD + "block = bytearray(10 * 1024 ** 3)\n"
    assert hostile(verify, program) == 0.0
    result = run(program, "assert True")
    assert not result.passed and not result.timed_out and "MemoryError" in result.output
    assert time.monotonic() - start < 5


def test_sleeping_forever_is_killed_on_time():
    verify = verifiers.code_verifier(timeout=1.0)
    start = time.monotonic()
    assert hostile(verify, "import time\ntime.sleep(10 ** 6)\n") == 0.0
    # a function that never returns, called by the tests
    assert verify(PROBLEM, "def add(a, b):\n    while True:\n        pass\n", TESTS) == 0.0
    assert time.monotonic() - start < 2 * (1.0 + 1.5)


def test_killing_its_parent_or_everything_kills_nothing_of_ours(verify):
    program = GUARD + (
        "import os, signal\n"
        "for pid in (os.getppid(), 1, -1):\n"
        "    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError as error:\n"
        "        print(pid, error)\n"
    )
    assert hostile(verify, program) == 0.0
    result = run(program, "assert True")
    assert result.passed and "NOT SANDBOXED" not in result.output, result.output
    # the verifier still works afterwards
    assert verify(PROBLEM, RIGHT, TESTS) == 1.0


# --- the verdict ------------------------------------------------------------

def test_printing_pass_lines_and_harness_secrets_does_not_pass(verify):
    program = (
        "import os, sys\n"
        "seen = []\n"
        "for root in ('/sandbox', '/proc/self/fd'):\n"
        "    for name in os.listdir(root):\n"
        "        try:\n"
        "            seen.append(open(os.path.join(root, name), 'rb').read(1 << 20))\n"
        "        except OSError:\n"
        "            pass\n"
        "seen.append(open('/proc/self/cmdline', 'rb').read())\n"
        "for blob in seen:\n"
        "    sys.stdout.buffer.write(blob)\n"
        "print('passed')\n"
        "for fd in range(200):\n"
        "    try:\n"
        "        os.write(fd, b'passed\\n')\n"
        "        os.write(fd, b'[\"ready\", {}]\\n[\"ok\", 3]\\n')\n"
        "    except OSError:\n"
        "        pass\n"
    )
    assert hostile(verify, program) == 0.0


def test_patching_builtins_and_the_harness_does_not_pass(verify):
    patches = [
        "import builtins\nbuiltins.exec = lambda *a, **k: None\n",
        "import builtins\nclass Never(Exception):\n    pass\nbuiltins.AssertionError = Never\n",
        "import builtins\nbuiltins.compile = lambda *a, **k: compile('pass', 'x', 'exec')\n",
        # the program's own harness: answer every call with 3
        "import __main__\n__main__._encode = lambda value, depth=0: 3\n",
        "import __main__, json\n__main__._Channel.write = lambda self, m: __main__.os.write(self.send_fd, b'[\"ok\", 3]\\n')\n",
    ]
    for patch in patches:
        assert hostile(verify, patch) == 0.0, patch


def test_exiting_early_does_not_pass(verify):
    for exit_call in ("import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n",
                      "raise SystemExit(0)\n", "raise KeyboardInterrupt\n"):
        assert hostile(verify, RIGHT + exit_call, "assert add(1, 2) == 4") == 0.0
        assert verify(PROBLEM, RIGHT + exit_call, TESTS) == 0.0  # also a right answer that exits


def test_system_exit_from_a_destructor_does_not_pass(verify):
    program = ("class Bomb:\n    def __del__(self):\n        import os\n        os._exit(0)\n"
               "def add(a, b):\n    Bomb()\n    return a - b\n")
    assert verify(PROBLEM, program, TESTS) == 0.0


def test_redefining_check_does_not_pass(verify):
    program = "def check(candidate):\n    return True\n" + WRONG
    assert verify(PROBLEM, program, TESTS) == 0.0
    as_asserts = "assert add(1, 2) == 3\n"
    assert verify(None, "import builtins\nbuiltins.__dict__['assert'] = None\n" + WRONG, as_asserts) == 0.0


def test_always_equal_results_do_not_pass(verify):
    always = [
        "class AlwaysEq:\n    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n"
        "def add(a, b):\n    return AlwaysEq()\n",
        "class Liar(int):\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = int.__hash__\n"
        "def add(a, b):\n    return Liar(0)\n",
        "class LiarStr(str):\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = str.__hash__\n"
        "def add(a, b):\n    return [LiarStr('x')]\n",
    ]
    for program in always:
        assert verify(PROBLEM, program, TESTS) == 0.0, program
        assert verify(None, program, "assert add(1, 2) == 3") == 0.0, program


def test_shadowing_builtins_the_tests_use_does_not_pass(verify):
    program = "def abs(x):\n    return 0\ndef len(x):\n    return 3\n" + WRONG
    tests = "assert abs(add(1, 2) - 3) < 1e-9\nassert len(str(add(1, 2))) == 3\n"
    assert verify(None, program, tests) == 0.0


def test_exceptions_the_program_raises_stay_data(verify):
    # A program that raises a non-Exception (SystemExit, KeyboardInterrupt) from
    # its function cannot end the tests' process.
    program = "def add(a, b):\n    raise SystemExit(0)\n"
    assert verify(PROBLEM, program, TESTS) == 0.0
    tests = "try:\n    add(1, 2)\nexcept Exception:\n    caught = True\nassert caught\n"
    assert verify(None, program, tests) == 1.0  # it arrives as CandidateError, an Exception


# --- fail closed ---------------------------------------------------------------

def test_missing_bwrap_fails_closed(monkeypatch, tmp_path):
    monkeypatch.setattr(verifiers, "_probe_ok", None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(verifiers.SandboxUnavailable, match="apt-get install bubblewrap.*sandbox=False"):
        verifiers.code_verifier()
    with pytest.raises(verifiers.SandboxUnavailable):
        verifiers.run_tests(RIGHT, "assert add(1, 2) == 3")


def test_broken_bwrap_fails_closed(monkeypatch, tmp_path):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(verifiers, "_probe_ok", None)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    with pytest.raises(verifiers.SandboxUnavailable, match="No permissions"):
        verifiers.code_verifier()
    monkeypatch.setattr(verifiers, "_probe_ok", None)


def test_sandbox_false_is_explicit_and_warned():
    with pytest.warns(RuntimeWarning, match="sandbox=False"):
        verify = verifiers.code_verifier(timeout=3.0, sandbox=False)
    assert verify(PROBLEM, RIGHT, TESTS) == 1.0
    assert verify(PROBLEM, WRONG, TESTS) == 0.0
    # the verdict design holds without the sandbox too
    assert verify(PROBLEM, "import builtins\nbuiltins.exec = lambda *a: None\n" + WRONG, TESTS) == 0.0


# --- right programs still pass ----------------------------------------------

def test_right_programs_pass_through_the_boundary(verify):
    prompt = ("from typing import List, Dict\nimport math\n\n"
              "def poly(xs: List[float], x: float) -> float:\n"
              "    return sum(c * math.pow(x, i) for i, c in enumerate(xs))\n\n"
              "def stats(xs: List[float]) -> Dict[str, object]:\n")
    body = ("    return {'sum': sum(xs), 'big': 2 ** 200, 'nan': math.nan, 'neg': -2 ** 70,\n"
            "            'pair': (1, 'a'), 'set': {1, 2}, 'frozen': frozenset({3}), 'bytes': b'\\x00\\xff',\n"
            "            'z': complex(1, -2), 'none': None, 'nested': [[1.5, [True]]], 'inf': -math.inf}\n")
    tests = (
        "import math\n"
        "def check(candidate):\n"
        "    r = candidate([1.0, 2.5])\n"
        "    assert r['sum'] == 3.5 and r['big'] == 2 ** 200 and math.isnan(r['nan'])\n"
        "    assert r['neg'] == -2 ** 70 and r['pair'] == (1, 'a') and r['set'] == {1, 2}\n"
        "    assert r['frozen'] == frozenset({3}) and r['bytes'] == b'\\x00\\xff'\n"
        "    assert r['z'] == complex(1, -2) and r['none'] is None and r['nested'] == [[1.5, [True]]]\n"
        "    assert type(r['nested'][0][1][0]) is bool and r['inf'] == -math.inf\n"
        "    assert abs(poly([1, 2], 3.0) - 7.0) < 1e-9\n"          # a helper from the prompt
        "    assert candidate(xs=[]) ['sum'] == 0\n"              # keyword arguments
        "def annotated(x: List[int]) -> int:\n"                   # typing names from the program
        "    return len(x)\n"
    )
    problem = {"prompt": prompt, "entry_point": "stats"}
    assert verify(problem, body, tests) == 1.0
    assert verify(problem, "    return {}\n", tests) == 0.0


def test_exceptions_cross_as_their_builtin_class(verify):
    program = ("class MyError(ValueError):\n    pass\n"
               "def parse(s):\n    if not s.isdigit():\n        raise MyError('not a number: ' + s)\n"
               "    return int(s)\n")
    tests = ("assert parse('12') == 12\n"
             "try:\n    parse('x')\nexcept ValueError as e:\n    assert 'not a number' in str(e)\n"
             "else:\n    assert False\n")
    assert verify(None, program, tests) == 1.0


def test_assert_style_and_mbpp_through_the_sandbox(verify):
    assert verify(None, RIGHT, "assert add(2, 2) == 4\nassert add(0, 5) == 5\n") == 1.0
    mbpp = json.dumps({"tests": ["assert add(2, 2) == 4", "assert add(1, 1) == 2"]})
    assert verify(None, RIGHT, mbpp) == 1.0
    assert verify(None, WRONG, mbpp) == 0.0


def test_numpy_results_are_their_python_values(verify):
    pytest.importorskip("numpy")
    program = "import numpy as np\ndef f(n):\n    return np.arange(n) * 2\ndef g():\n    return np.int64(7)\n"
    assert verify(None, program, "assert f(3) == [0, 2, 4]\nassert g() == 7\n") == 1.0


def test_known_limitation_non_data_arguments_fail(verify):
    # Documented: what crosses the boundary is data; a test passing a
    # function to the program fails even for a right program.
    program = "def apply(f, xs):\n    return [f(x) for x in xs]\n"
    assert verify(None, program, "assert apply(lambda x: x + 1, [1, 2]) == [2, 3]") == 0.0


def test_concurrent_verifications(verify):
    cases = [(RIGHT, 1.0), (WRONG, 0.0)] * 3
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        scores = list(pool.map(lambda case: verify(PROBLEM, case[0], TESTS), cases))
    assert scores == [expected for _, expected in cases]
