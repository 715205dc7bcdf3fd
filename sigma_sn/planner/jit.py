"""Compiled loops of the planner: numba's ``njit``, as every kernel here uses it, and the
scalar helpers they share.

Kernels keep IEEE arithmetic (no fastmath) and the operations of the Python they replace
in the same order, so plans stay byte-identical; ``cache=True`` keeps the machine code
next to the module, so only the first run on a machine compiles.
"""

from __future__ import annotations

from numba import njit as _njit

njit = _njit(cache=True, nogil=True)


@njit
def pymax(a, b):
    """The builtin max(a, b): ``a`` unless ``b`` is greater (NaNs and signed zeros as
    Python treats them, which the compiled code must reproduce)."""
    return b if b > a else a


@njit
def pymin(a, b):
    """The builtin min(a, b): ``a`` unless ``b`` is smaller."""
    return b if b < a else a
