"""Make `import score` pick up this source tree (bindings/python/score) when
the tests run from the repository, e.g. `python -m pytest bindings/python/tests`.
Set SCORE_TEST_INSTALLED=1 to test an installed copy instead."""
import os
import sys
from pathlib import Path

if not os.environ.get("SCORE_TEST_INSTALLED"):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
