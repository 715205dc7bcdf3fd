"""Compiled loops of the planner: numba's ``njit``, as every kernel here uses it, and the
scalar helpers they share.

Kernels keep IEEE arithmetic (no fastmath) and the operations of the Python they replace
in the same order, so plans stay byte-identical. The machine code is cached next to each
module, so only the first run on a machine compiles. Numba checks a cached kernel against
its own file only: after changing a helper here, delete ``sigma_sn/planner/__pycache__/
*.nbi`` and ``*.nbc`` in a working copy (an install rewrites every file, which is enough).
"""

from __future__ import annotations

from numba import njit as _njit
from numba import types

# argument types of the kernels' signatures: C-contiguous 1-D arrays
F8, I8, B1 = types.float64[::1], types.int64[::1], types.boolean[::1]


def njit(fn):
    """numba.njit with the cache on (nogil: the GIL is not needed inside), or off where
    there is nowhere to write it (a read-only install and home): then each run compiles."""
    try:
        return _njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return _njit(nogil=True)(fn)


def load(kernel, *arg_types) -> None:
    """Load ``kernel``'s machine code for these argument types now, from numba's cache or
    compiled. Done in a parent before it forks workers, every worker inherits the code
    instead of reading the cache again (about 0.1 CPU s a kernel a process) or, with no
    cache yet, compiling it again."""
    kernel.compile(tuple(arg_types))


@njit
def pymax(a, b):
    """The builtin max(a, b): ``a`` unless ``b`` is greater (NaNs and signed zeros as
    Python treats them, which the compiled code must reproduce)."""
    return b if b > a else a


@njit
def pymin(a, b):
    """The builtin min(a, b): ``a`` unless ``b`` is smaller."""
    return b if b < a else a
