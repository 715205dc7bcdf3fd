"""Policies that read the path stage (issue 21): which visible access point gives the
least end-to-end delay to the correspondent, and the optimum that trades that delay
against handovers.

Both decide on the decision grid the geometry-driven policies use (``decision_step_s``):
window j is a candidate at grid index g while AOS <= g·step < LOS - lead (the forced
decision's lead: guard plus the RTT bound), so nothing is chosen that must be left at
once. The delays come from the caller as ``delay_ms_of(window, t_s)``: the one-way path
delay (NaN where no gateway can be reached), e.g. :meth:`PathDelays.delay_ms_at
<sigma_sn.path.route.PathDelays.delay_ms_at>` through the planner's window order.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from sigma_sn.planner.jit import njit
from sigma_sn.planner.policies import backtrack, walk

#: ``delay_ms_of(window indices, t_s)`` -> one-way path delay (ms, NaN: no path)
DelayOf = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Layout(NamedTuple):
    """Decision-grid samples of one mobile's windows, window after window in index order
    (the layout :func:`~sigma_sn.planner.policies.walk` reads): sample k is window
    ``win[k]`` at grid index ``g[k]``; window j's start at ``off[j]`` and span grid
    indices ``g_lo[j]``..``g_hi[j]``."""

    g_last: int
    g_lo: np.ndarray
    g_hi: np.ndarray
    off: np.ndarray
    win: np.ndarray
    g: np.ndarray


def grid_layout(aos_s, los_s, duration_s: float, step_s: float, lead_s: float) -> Layout:
    """The :class:`Layout` of windows (AOS, LOS columns) where each can serve, with the
    rounding of :class:`~sigma_sn.planner.policies.Samples`: up to the grid index before
    its forced decision (the walk leaves a window at the last index at or before LOS −
    lead, so a window is never chosen there only to be left at once)."""
    aos = np.asarray(aos_s, dtype=np.float64)
    los = np.asarray(los_s, dtype=np.float64)
    g_last = math.floor(duration_s / step_s + 1e-9)
    g_lo = np.ceil(np.maximum(aos, 0.0) / step_s - 1e-9).astype(np.int64)
    g_hi = np.minimum(np.ceil((los - lead_s) / step_s - 1e-9).astype(np.int64) - 1, g_last)
    forced_s = los - lead_s
    g_forced = np.floor(forced_s / step_s + 1e-9).astype(np.int64)
    # a window still up at the plan's end is never left: no forced decision for it
    g_hi = np.where(los < duration_s, np.minimum(g_hi, g_forced - 1), g_hi)
    count = np.maximum(g_hi - g_lo + 1, 0)
    first = np.concatenate(([0], np.cumsum(count))).astype(np.int64)
    off = first[:-1]
    win = np.repeat(np.arange(len(aos), dtype=np.int64), count)
    g = np.arange(first[-1], dtype=np.int64) - np.repeat(off, count) + np.repeat(g_lo, count)
    return Layout(g_last, g_lo, g_hi, off, win, g)


def sampled_delay_ms(lay: Layout, delay_ms_of: DelayOf, step_s: float) -> np.ndarray:
    """The one-way path delay (ms) at every sample of ``lay`` (NaN: no path)."""
    if not len(lay.g):
        return np.zeros(0)
    return np.asarray(delay_ms_of(lay.win, lay.g * step_s), dtype=np.float64)


def min_path_delay(aos_s, los_s, delay_ms_of: DelayOf, duration_s: float, margin_ms: float,
                   min_dwell_s: float, step_s: float, lead_s: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Return the serving sequence (columns: window indices, switch times, NaN: none)
    that follows the least one-way path delay: the walk of max-elevation with the
    metric minus the delay, so you stay until another candidate is better by more than
    ``margin_ms`` at least ``min_dwell_s`` after your last switch, or until the forced
    decision. A sample with no path counts as infinitely slow."""
    lay = grid_layout(aos_s, los_s, duration_s, step_s, lead_s)
    delay = sampled_delay_ms(lay, delay_ms_of, step_s)
    value = -np.where(np.isnan(delay), np.inf, delay)
    return walk(value, lay, aos_s, los_s, duration_s, margin_ms, min_dwell_s, step_s, lead_s)


def min_handovers_delay(aos_s, los_s, ap, delay_ms_of: DelayOf, duration_s: float,
                        weight_ms_s: float, step_s: float, lead_s: float
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Return the serving sequence (as :func:`min_path_delay`) that minimises, over the
    decision grid, first the samples served without a path, then
    ``handovers × weight_ms_s + Σ delay_ms × step_s`` (the integral of the one-way
    delay, ms·s): an exact dynamic programme over (grid index, candidate window). A
    change of access point is a handover; the same access point's next pass is not (as
    min-handovers). ``weight_ms_s = inf`` minimises handovers first, then the delay.

    The serving window at each populated grid index must be a candidate there, so every
    index with a candidate is served (as the walk serves it)."""
    lay = grid_layout(aos_s, los_s, duration_s, step_s, lead_s)
    delay = sampled_delay_ms(lay, delay_ms_of, step_s)
    ap = np.ascontiguousarray(ap, dtype=np.int64)
    if not len(lay.g):
        return np.zeros(0, np.int64), np.zeros(0)
    by_g = np.argsort(lay.g, kind="stable")
    return _joint_dp(delay, lay.g, lay.win, ap, int(ap.max()) + 1, by_g,
                     float(weight_ms_s), float(step_s))


@njit
def _lt(u1, h1, d1, u2, h2, d2, weight):
    """Cost (unserved samples, handovers, delay integral) 1 below cost 2 at ``weight``."""
    if u1 != u2:
        return u1 < u2
    if weight == np.inf:
        if h1 != h2:
            return h1 < h2
        return d1 < d2
    c1, c2 = h1 * weight + d1, h2 * weight + d2
    if c1 != c2:
        return c1 < c2
    return h1 < h2


@njit
def _joint_dp(delay, g, win, ap, n_ap, by_g, weight, step_s):
    """The programme of :func:`min_handovers_delay`. Samples come window-major; ``by_g``
    visits them grid index by grid index. Each sample's best predecessor is among: the
    same window's sample before (stay), the same access point's sample at the previous
    populated index (its next pass: no handover) or the best sample there (a handover
    unless on the same access point); costs add, so the best of each kind suffices."""
    n = len(g)
    u = np.zeros(n, np.int64)
    h = np.zeros(n, np.int64)
    d = np.zeros(n)
    prev = np.full(n, -1, np.int64)
    ap_best = np.full(n_ap, -1, np.int64)
    ap_group = np.full(n_ap, -2, np.int64)
    prev_best = -1
    group = -1
    i = 0
    while i < n:
        gi = g[by_g[i]]
        j = i
        while j < n and g[by_g[j]] == gi:
            j += 1
        group += 1
        best = -1
        for q in range(i, j):
            k = by_g[q]
            a = ap[win[k]]
            cu, ch, cd, cp = 0, 0, 0.0, -1
            have = False
            if k > 0 and win[k - 1] == win[k]:  # stay
                cu, ch, cd, cp, have = u[k - 1], h[k - 1], d[k - 1], k - 1, True
            s = ap_best[a]
            if ap_group[a] == group - 1 and s >= 0 and s != k - 1:  # same AP, next pass
                if not have or _lt(u[s], h[s], d[s], cu, ch, cd, weight):
                    cu, ch, cd, cp, have = u[s], h[s], d[s], s, True
            if prev_best >= 0:
                hb = h[prev_best] + (1 if ap[win[prev_best]] != a else 0)
                if not have or _lt(u[prev_best], hb, d[prev_best], cu, ch, cd, weight):
                    cu, ch, cd, cp, have = u[prev_best], hb, d[prev_best], prev_best, True
            if np.isnan(delay[k]):
                cu += 1
            else:
                cd += delay[k] * step_s
            u[k], h[k], d[k], prev[k] = cu, ch, cd, cp
            if best < 0 or _lt(cu, ch, cd, u[best], h[best], d[best], weight):
                best = k
        for q in range(i, j):  # this index's best per access point, for the next
            k = by_g[q]
            a = ap[win[k]]
            if ap_group[a] != group or _lt(u[k], h[k], d[k], u[ap_best[a]], h[ap_best[a]],
                                           d[ap_best[a]], weight):
                ap_best[a], ap_group[a] = k, group
        prev_best = best
        i = j
    path = backtrack(prev, prev_best)
    count = len(path)
    out_i = np.empty(count, np.int64)
    out_t = np.empty(count)
    m = 0
    for p in range(count):
        k = path[p]
        if p == 0:
            out_i[0], out_t[0], m = win[k], np.nan, 1
        elif win[k] != win[path[p - 1]]:
            out_i[m] = win[k]
            # next to the index before: a switch then; across a gap: as early as possible
            out_t[m] = g[k] * step_s if g[k] == g[path[p - 1]] + 1 else np.nan
            m += 1
    return out_i[:m], out_t[:m]


def path_spans(paths, aos_s, los_s) -> list[tuple[tuple[float, float], ...]]:
    """Per window of the path stage's ``paths`` (:class:`~sigma_sn.path.route.PathDelays`;
    its windows' AOS and LOS columns ``aos_s``, ``los_s``), the spans ``(from_s, to_s)``
    in which its path reaches the correspondent: runs of routing steps with a delay, each
    held for its step (:meth:`~sigma_sn.path.route.PathDelays.delay_ms_at`), a window's
    first and last steps stretched to its AOS and LOS (the edges no step samples)."""
    up = ~np.isnan(np.asarray(paths.delay_ms, dtype=np.float64))
    offset = np.asarray(paths.offset, dtype=np.int64)
    n = len(offset) - 1
    first = np.zeros(len(up) + 1, bool)   # each window's first sample (and the end)
    first[offset] = True
    begin = np.flatnonzero(up & (first[:-1] | ~np.concatenate(([False], up[:-1]))))
    end = np.flatnonzero(up & (first[1:] | ~np.concatenate((up[1:], [False])))) + 1
    window = np.searchsorted(offset, begin, side="right") - 1
    step_s = float(paths.step_s)
    first_step = np.asarray(paths.first_step, dtype=np.int64)
    aos = np.asarray(aos_s, dtype=np.float64)[window]
    los = np.asarray(los_s, dtype=np.float64)[window]
    from_s = np.where(begin == offset[window], aos,
                      (first_step[window] + begin - offset[window]) * step_s)
    to_s = np.where(end == offset[window + 1], los,
                    np.minimum((first_step[window] + end - offset[window]) * step_s, los))
    out: list[list] = [[] for _ in range(n)]
    for w, a, b in zip(window.tolist(), from_s.tolist(), to_s.tolist()):
        out[w].append((a, b))
    return [tuple(s) for s in out]


__all__ = ["DelayOf", "Layout", "grid_layout", "min_handovers_delay", "min_path_delay",
           "path_spans", "sampled_delay_ms"]
