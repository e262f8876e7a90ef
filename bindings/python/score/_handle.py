"""Plumbing shared by the Python objects that own a C handle."""

from __future__ import annotations

from typing import Any


class OwnedHandle:
    """``with`` support and a finaliser for objects holding ``self._handle``
    released by ``self._free``. Subclasses implement ``close()``; a subclass
    whose handle may be borrowed overrides ``_owns_handle``."""

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()  # type: ignore[attr-defined]

    def _owns_handle(self) -> bool:
        return True

    def __del__(self) -> None:
        # May run during interpreter shutdown or on a half-built object:
        # read attributes defensively and never raise.
        try:
            if not self._owns_handle():
                return
            handle = self.__dict__.get("_handle")
            free = self.__dict__.get("_free")
            if handle and free is not None:
                self._handle = None
                free(handle)
        except BaseException:
            pass
