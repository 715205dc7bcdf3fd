"""The planner's compiled loops work where their machine code cannot be cached."""

from __future__ import annotations

import numpy as np
import pytest


class _Nowhere:
    """A cache locator that finds no place (as every one does on a read-only system)."""

    @classmethod
    def from_function(cls, py_func, source_path):
        return None


def test_kernels_compile_without_a_cache_where_none_can_be_written(monkeypatch):
    """A read-only install with a read-only home leaves numba no place to cache: the
    kernels must still compile (each run), not fail the import."""
    import numba
    from numba.core import caching

    from sigma_sn.planner.jit import njit, pymax

    # numba's own way to name the places it may cache: none of them here
    monkeypatch.setattr(caching.config, "CACHE_LOCATOR_CLASSES", "_NoSuchLocator")
    monkeypatch.setitem(vars(caching), "_NoSuchLocator", _Nowhere)

    def with_cache_off(a, b):
        return pymax(a, b) + 1.0

    with pytest.raises(RuntimeError, match="no locator"):   # what numba does alone
        numba.njit(cache=True)(with_cache_off)
    kernel = njit(with_cache_off)
    assert kernel(2.0, np.nan) == 3.0   # builtin max: a NaN second argument leaves a
