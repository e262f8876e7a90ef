"""score/verifiers.py: the sandboxed unit-test reward for code attempts.

The module is loaded from its file, so these tests need no libscore.so
(``import score`` would load the library)."""
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "score" / "verifiers.py"
_SPEC = importlib.util.spec_from_file_location("score_verifiers_under_test", _PATH)
verifiers = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = verifiers  # dataclasses look their module up here
_SPEC.loader.exec_module(verifiers)

HUMANEVAL_TESTS = """
def check(candidate):
    assert candidate(1, 2) == 3
    assert candidate(-1, 1) == 0
"""
PROBLEM = {"prompt": 'def add(a, b):\n    """Return a + b."""\n', "entry_point": "add"}
RIGHT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"


@pytest.fixture(scope="module")
def verify():
    return verifiers.code_verifier(timeout=3.0, memory_mb=256)


def test_passing_solution_scores_one(verify):
    assert verify(PROBLEM, RIGHT, HUMANEVAL_TESTS) == 1.0


def test_failing_assert_scores_zero(verify):
    assert verify(PROBLEM, WRONG, HUMANEVAL_TESTS) == 0.0


def test_reference_forms(verify):
    as_json = json.dumps({"tests": HUMANEVAL_TESTS, "entry_point": "add"})
    assert verify(None, RIGHT, as_json) == 1.0
    assert verify(None, WRONG, as_json) == 0.0
    asserts = "assert add(2, 2) == 4\nassert add(0, 5) == 5\n"
    assert verify(None, RIGHT, asserts) == 1.0
    assert verify(None, WRONG, asserts) == 0.0
    mbpp = json.dumps({"tests": ["assert add(2, 2) == 4", "assert add(1, 1) == 2"]})
    assert verify(None, RIGHT, mbpp) == 1.0
    assert verify(None, WRONG, mbpp) == 0.0


def test_check_without_entry_point_is_a_data_error(verify):
    with pytest.raises(ValueError, match="entry_point"):
        verify(None, RIGHT, HUMANEVAL_TESTS)
    with pytest.raises(ValueError, match="not a Python identifier"):
        verify({"entry_point": "add; import os"}, RIGHT, HUMANEVAL_TESTS)


def test_completion_of_the_prompt(verify):
    assert verify(PROBLEM, "    return a + b\n", HUMANEVAL_TESTS) == 1.0
    assert verify(PROBLEM, "    return a * b\n", HUMANEVAL_TESTS) == 0.0


def test_infinite_loop_is_killed_in_time():
    timeout = 1.0
    verify = verifiers.code_verifier(timeout=timeout)
    start = time.monotonic()
    assert verify(None, "while True:\n    pass\n", "assert True") == 0.0
    assert time.monotonic() - start < timeout + 2
    start = time.monotonic()
    # A child that ignores its parent's death is killed with the process group.
    sleeper = "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\nwhile True:\n    pass\n"
    run = verifiers.run_tests(sleeper, "", timeout=timeout)
    assert run.timed_out and not run.passed
    assert time.monotonic() - start < timeout + 2


def test_memory_hog_fails_without_timing_out():
    run = verifiers.run_tests("block = bytearray(1024 ** 3)\n", "", timeout=5.0, memory_mb=256)
    assert not run.passed and not run.timed_out
    assert "MemoryError" in run.output


def test_syntax_error_scores_zero(verify):
    assert verify(PROBLEM, "def add(a, b)\n    return a + b\n", HUMANEVAL_TESTS) == 0.0
    assert verify(None, "", "assert add(1, 1) == 2") == 0.0


def test_exiting_before_the_tests_does_not_pass(verify):
    assert verify(None, "import sys\nsys.exit(0)\n", "assert False") == 0.0
    assert verify(None, "import os\nos._exit(0)\n", "assert False") == 0.0


def test_fenced_code_is_extracted(verify):
    answer = (
        "My first idea was wrong:\n```python\n" + WRONG + "```\n"
        "Here is the fix:\n```python\n" + RIGHT + "```\nIt adds the numbers.\n"
    )
    assert verify(PROBLEM, answer, HUMANEVAL_TESTS) == 1.0
    assert verifiers.extract_code(answer) == RIGHT
    assert verifiers.extract_code("```bash\nls\n```\n```\nx = 1\n```\n") == "x = 1\n"
    assert verifiers.extract_code("Answer:\n```py\ny = 2\n") == "y = 2\n"
    assert verifiers.extract_code("z = 3") == "z = 3"


def test_demo_main_block_does_not_run(verify):
    program = RIGHT + "\nif __name__ == '__main__':\n    print(add(int(input()), 1))\n"
    assert verify(PROBLEM, program, HUMANEVAL_TESTS) == 1.0


def test_candidate_cannot_read_parent_stdin(verify):
    read_end, write_end = os.pipe()
    os.write(write_end, b"parent secret\n")
    os.close(write_end)
    saved = os.dup(0)
    os.dup2(read_end, 0)
    try:
        assert verify(None, "import sys\ndata = sys.stdin.read()\n", "assert data == ''") == 1.0
        assert verify(None, "line = input()\n", "assert True") == 0.0
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(read_end)


def test_candidate_does_not_see_parent_environment(verify, monkeypatch):
    monkeypatch.setenv("SCORE_TEST_SECRET", "hunter2")
    assert verify(None, "import os\nseen = os.environ.get('SCORE_TEST_SECRET')\n", "assert seen is None") == 1.0


def test_bad_limits_are_rejected():
    with pytest.raises(ValueError, match="timeout"):
        verifiers.code_verifier(timeout=0)
    with pytest.raises(ValueError, match="memory_mb"):
        verifiers.code_verifier(memory_mb=1)
