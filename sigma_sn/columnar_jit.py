"""The compiled loop of :func:`sigma_sn.columnar.format_rows`: rows of text written
straight into a byte buffer, cell after cell, from integer cells.

A cell is one int64 whose meaning its column's kind gives: an entry of a text table
(names, codes, ``true``/``false``, and numbers Python formatted), microseconds since
1970 (an ISO 8601 timestamp), or a number scaled to an integer by ``10^decimals``
(its sign apart, so ``-0.0`` keeps its minus). Numpy's passes over cell matrices cost a
few nanoseconds per byte per pass; this is one pass at about one, and it runs without
the GIL, so threads format chunks side by side.

The machine code is cached next to this module; numba checks the cache against this
file only, so after changing the kinds in :mod:`sigma_sn.columnar` delete
``sigma_sn/__pycache__/columnar_jit*.nb[ci]`` in a working copy.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

from sigma_sn.columnar import TEXT, TIME, TIME_WIDTH as _TIME_WIDTH, TRIMMED

_US_PER_DAY = 86_400_000_000
_ZERO, _MINUS, _POINT = ord("0"), ord("-"), ord(".")

_I8_2D, _I8, _U8 = types.int64[:, ::1], types.int64[::1], types.uint8[::1]
_SIGNATURE = types.int64(_I8_2D, types.boolean[:, ::1], _I8, types.int64, _U8, _I8, _U8, _I8,
                         _U8)


def _njit(*args, **options):
    try:
        return njit(*args, cache=True, nogil=True, **options)
    except RuntimeError:   # numba cannot cache where the package has no writable locator
        return njit(*args, nogil=True, **options)


@_njit(inline="always")
def _copy(flat, offsets, i, out, pos):
    # a loop, not a slice copy: most entries are a few bytes, where a slice costs more
    for j in range(offsets[i], offsets[i + 1]):
        out[pos] = flat[j]
        pos += 1
    return pos


@_njit(inline="always")
def _fixed_digits(value, width, out, pos):
    """``value`` (>= 0) in exactly ``width`` digits, zero-padded."""
    for k in range(width - 1, -1, -1):
        out[pos + k] = _ZERO + value % 10
        value //= 10
    return pos + width


@_njit(inline="always")
def _two(value, out, pos):
    """``value`` (0-99) in two digits."""
    out[pos] = _ZERO + value // 10
    out[pos + 1] = _ZERO + value % 10
    return pos + 2


@_njit(inline="always")
def _six(value, out, pos):
    """``value`` (0-999,999) in six digits."""
    pos = _two(value // 10_000, out, pos)
    pos = _two(value // 100 % 100, out, pos)
    return _two(value % 100, out, pos)


@_njit
def _civil(days, out, pos):
    """``days`` since 1970-01-01 as ``YYYY-MM-DD`` (years 1000-9999, which the caller
    checks): H. Hinnant's days-to-civil."""
    z = days + 719_468
    era = z // 146_097     # numba's // floors, as Python's
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    pos = _two(year // 100, out, pos)
    pos = _two(year % 100, out, pos)
    out[pos] = _MINUS
    pos = _two(month, out, pos + 1)
    out[pos] = _MINUS
    return _two(day, out, pos + 1)


@_njit(inline="always")
def _iso(us, out, pos, last_day, last_date):
    """``us`` microseconds since 1970 as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``. The date is
    the same as the last one nearly always: it is copied from ``last_date`` (the date of
    ``last_day[0]``, updated here)."""
    days = us // _US_PER_DAY
    rest = us - days * _US_PER_DAY
    if days != last_day[0]:
        last_day[0] = days
        _civil(days, last_date, 0)
    for j in range(10):
        out[pos + j] = last_date[j]
    pos += 10
    sec = rest // 1_000_000
    out[pos] = ord("T")
    pos = _two(sec // 3600, out, pos + 1)
    out[pos] = ord(":")
    pos = _two(sec // 60 % 60, out, pos + 1)
    out[pos] = ord(":")
    pos = _two(sec % 60, out, pos + 1)
    out[pos] = _POINT
    pos = _six(rest - sec * 1_000_000, out, pos + 1)
    out[pos] = ord("Z")
    return pos + 1


@_njit(inline="always")
def _number(whole, negative, decimals, scale, trimmed, out, pos):
    """``±whole / scale`` (``scale = 10^decimals``) with all ``decimals`` places, or
    without the zeros after the first (``trimmed``)."""
    head, tail = whole // scale, whole % scale
    if negative:
        out[pos] = _MINUS
        pos += 1
    n, limit = 1, 10
    while n < 18 and head >= limit:
        n += 1
        limit *= 10
    pos = _fixed_digits(head, n, out, pos)
    out[pos] = _POINT
    places = decimals
    if trimmed:
        while places > 1 and tail % 10 == 0:
            tail //= 10
            places -= 1
    return _fixed_digits(tail, places, out, pos + 1)


@_njit
def _second_texts(cells, kinds, n_rows):
    """Each TIME column's ``YYYY-MM-DDTHH:MM:SS`` of every second from its first to its
    last, as rows of one table, and where the column's rows start in it (-1: the span
    is long against the rows, so its times are written one by one). A chunk of a day's
    rows spans an hour or two: a table row copied costs half of writing the digits."""
    n_cols = len(kinds)
    first = np.zeros(n_cols, np.int64)
    start = np.full(n_cols, -1, np.int64)
    size = 0
    for k in range(n_cols):
        if kinds[k] != TIME or n_rows == 0:
            continue
        lo = hi = cells[k, 0] // 1_000_000
        for r in range(n_rows):
            sec = cells[k, r] // 1_000_000
            lo = min(lo, sec)
            hi = max(hi, sec)
        if hi - lo < 2 * n_rows + 4096:
            first[k], start[k] = lo, size
            size += hi - lo + 1
    table = np.empty((size, 19), np.uint8)
    text = np.empty(_TIME_WIDTH, np.uint8)
    last_day = np.full(1, -(2 ** 62), np.int64)
    last_date = np.zeros(10, np.uint8)
    for k in range(n_cols):
        if start[k] >= 0:
            for j in range(start[k], _span_end(start, k, size)):
                _iso((first[k] + j - start[k]) * 1_000_000, text, 0, last_day, last_date)
                table[j, :] = text[:19]
    return table, first, start


@_njit(inline="always")
def _span_end(start, k, size):
    """Where column ``k``'s rows of the seconds table end: at the next column's start."""
    for j in range(k + 1, len(start)):
        if start[j] >= 0:
            return start[j]
    return size


@_njit(_SIGNATURE)
def format_rows(cells, negative, kinds, decimals, pieces, piece_offsets, texts, text_offsets,
                out):
    """Write ``piece 0, cell 0, piece 1, ..., cell c-1, piece c`` for every row of
    ``cells`` (``(c, n)``: a column a row) into ``out``; return the bytes written. A
    number's cell below zero is the text ``-cell - 1`` instead."""
    n_cols, n_rows = cells.shape
    scale = 10 ** decimals
    seconds, first, start = _second_texts(cells, kinds, n_rows)
    last_day = np.full(n_cols, -(2 ** 62), np.int64)   # each TIME column's last date
    last_date = np.zeros((n_cols, 10), np.uint8)
    pos = 0
    for r in range(n_rows):
        for k in range(n_cols):
            pos = _copy(pieces, piece_offsets, k, out, pos)
            v = cells[k, r]
            kind = kinds[k]
            if kind == TEXT:
                pos = _copy(texts, text_offsets, v, out, pos)
            elif kind == TIME:
                if start[k] < 0:
                    pos = _iso(v, out, pos, last_day[k:k + 1], last_date[k])
                    continue
                sec = v // 1_000_000
                row = start[k] + sec - first[k]
                for j in range(19):
                    out[pos + j] = seconds[row, j]
                out[pos + 19] = _POINT
                pos = _six(v - sec * 1_000_000, out, pos + 20)
                out[pos] = ord("Z")
                pos += 1
            elif v < 0:
                pos = _copy(texts, text_offsets, -v - 1, out, pos)
            else:
                pos = _number(v, negative[k, r], decimals, scale, kind == TRIMMED, out, pos)
        pos = _copy(pieces, piece_offsets, n_cols, out, pos)
    return pos


@_njit(types.int64[::1](types.float64[::1]))
def stable_order(keys):
    """The indices that sort finite ``keys``, ties in index order (a stable argsort) in
    linear time for keys spread over a range, such as times: a counting sort into
    ``n / 4`` buckets of equal width (the bucket of a key grows with the key), then each
    bucket sorted, by insertion where small."""
    n = len(keys)
    out = np.empty(n, np.int64)
    if n == 0:
        return out
    lo, hi = keys.min(), keys.max()
    n_bucket = max(1, n // 4)
    scale = n_bucket / (hi - lo) if hi > lo else 0.0
    if not np.isfinite(scale):   # a range too narrow to divide (subnormal): no buckets
        return np.argsort(keys, kind="mergesort")
    bucket = np.empty(n, np.int32)   # n / 4 buckets: int32 halves the largest temporary
    start = np.zeros(n_bucket + 1, np.int64)
    for i in range(n):
        b = min(int((keys[i] - lo) * scale), n_bucket - 1)
        bucket[i] = b
        start[b + 1] += 1
    for b in range(n_bucket):
        start[b + 1] += start[b]
    fill = start[:-1].copy()
    for i in range(n):
        out[fill[bucket[i]]] = i
        fill[bucket[i]] += 1
    for b in range(n_bucket):
        a, e = start[b], start[b + 1]
        if e - a <= 32:
            for j in range(a + 1, e):
                v = out[j]
                m = j
                while m > a and keys[out[m - 1]] > keys[v]:   # strictly: ties stay put
                    out[m] = out[m - 1]
                    m -= 1
                out[m] = v
        else:   # a crowded bucket (many passes already up at the start): merge sort
            seg = out[a:e].copy()
            out[a:e] = seg[np.argsort(keys[seg], kind="mergesort")]
    return out
