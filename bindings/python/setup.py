"""Only here to tag the wheel correctly: metadata lives in pyproject.toml.

When a build step has copied libscore.so into score/, the wheel contains
native code and must not be tagged py3-none-any.
"""
from pathlib import Path

from setuptools import setup
from setuptools.dist import Distribution

_HERE = Path(__file__).resolve().parent


class _MaybeBinaryDistribution(Distribution):
    def has_ext_modules(self) -> bool:  # noqa: D401
        pkg = _HERE / "score"
        return any(pkg.glob("*.so")) or any(pkg.glob("*.dylib"))


setup(distclass=_MaybeBinaryDistribution)
