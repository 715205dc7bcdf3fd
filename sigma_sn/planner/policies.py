"""Selection policies: which candidate window serves a mobile when.

Pure functions of the candidate windows (and, for the geometry-driven policies, look
angles); the timing model that turns a sequence into events lives in ``core``.
"""

from __future__ import annotations

import heapq
import math
from typing import Callable, Mapping, NamedTuple, Sequence

import numpy as np

from sigma_sn.path.linkbudget import atmospheric_loss_db, fspl_db
from sigma_sn.planner.jit import njit, pymax
from sigma_sn.planner.kinds import Geometry, Selection, Serve, Window


def longest_visibility(windows: Sequence[Window], duration_s: float,
                       guard_s: float) -> list[int]:
    """Return window indices served in turn: at each forced decision (LOS − guard) you take
    the visible window that stays longest; with none up that outlasts the one you leave,
    the next to rise that does."""
    return longest_visibility_arrays([w.aos_s for w in windows], [w.los_s for w in windows],
                                     duration_s, guard_s).tolist()


def longest_visibility_arrays(aos_s, los_s, duration_s: float, guard_s: float) -> np.ndarray:
    """:func:`longest_visibility` on columns (AOS, LOS); returns the indices."""
    aos = np.ascontiguousarray(aos_s, dtype=np.float64)
    los = np.ascontiguousarray(los_s, dtype=np.float64)
    order = np.lexsort((-los, aos))   # by AOS, the longest first, then index
    return _longest_visibility(aos, los, order, float(duration_s), float(guard_s))


@njit
def _longest_visibility(aos, los, order, duration_s, guard_s):
    """The loop of :func:`longest_visibility`. Each pick sets last of all windows risen so
    far, so after it only windows rising later can help: the best of those (the latest
    LOS, the lowest index on a tie) is kept as they rise, no heap needed."""
    chosen = np.empty(len(order), np.int64)
    n, p, t, last_los, best = 0, 0, 0.0, -np.inf, -1
    while True:
        while p < len(order) and aos[order[p]] <= t:
            j = order[p]
            if best < 0 or los[j] > los[best] or (los[j] == los[best] and j < best):
                best = j
            p += 1
        # set already, or setting no later than the window served: of no use
        if best >= 0 and los[best] <= pymax(t, last_los):
            best = -1
        if best < 0:  # nothing up that helps: wait for the next to rise
            if p == len(order) or aos[order[p]] >= duration_s:
                return chosen[:n]
            t = aos[order[p]]
            continue
        chosen[n] = best
        n += 1
        last_los = los[best]
        if last_los >= duration_s:
            return chosen[:n]
        t = pymax(last_los - guard_s, aos[best])
        best = -1


def min_handovers(windows: Sequence[Window], duration_s: float, need_s: float,
                  guard_s: float) -> list[int]:
    """Return the optimal serving sequence by DP: least uncovered time (to the
    microsecond), then fewest handovers, then fewest infeasible ones, then the largest
    smallest overlap. The same access point's next pass after a gap is no handover.

    A window inside another is never needed (the outer one covers it with more overlap
    on both sides), so those are dropped first; the rest sort by AOS and LOS alike.
    """
    names: dict[str, int] = {}
    ap = [names.setdefault(w.ap, len(names)) for w in windows]
    return min_handovers_arrays([w.aos_s for w in windows], [w.los_s for w in windows], ap,
                                duration_s, need_s, guard_s).tolist()


def min_handovers_arrays(aos_s, los_s, ap, duration_s: float, need_s: float,
                         guard_s: float) -> np.ndarray:
    """:func:`min_handovers` on columns: AOS, LOS and an integer code per access point
    (the planner's own columns, with no Window made); returns the indices."""
    aos = np.ascontiguousarray(aos_s, dtype=np.float64)
    los = np.ascontiguousarray(los_s, dtype=np.float64)
    if not len(aos):
        return np.zeros(0, np.int64)
    ap = np.ascontiguousarray(ap, dtype=np.int64)
    order = np.lexsort((-los, aos))   # stable: equal windows keep their order
    return _min_handovers_dp(aos, los, ap, int(ap.max()) + 1, order, float(duration_s),
                             float(need_s), float(guard_s))


@njit
def _less(a0, a1, a2, a3, b0, b1, b2, b3):
    """(a0, a1, a2, a3) < (b0, b1, b2, b3), as Python compares tuples."""
    if a0 != b0:
        return a0 < b0
    if a1 != b1:
        return a1 < b1
    if a2 != b2:
        return a2 < b2
    return a3 < b3


@njit
def _min_handovers_dp(aos_s, los_s, ap, n_ap, order, duration_s, need_s, guard_s):
    """The DP of :func:`min_handovers` (compiled: it is the planner's hot loop, four
    million windows a day for a thousand terminals). Keys are (uncovered µs, handovers,
    infeasible, minus the smallest overlap); ``order`` sorts by AOS, then the longest."""
    kept = np.empty(len(order), np.int64)
    n = 0
    for i in order:
        if n and los_s[i] <= los_s[kept[n - 1]]:
            continue  # contained
        kept[n] = i
        n += 1
    kept = kept[:n]
    aos, los, aps = aos_s[kept], los_s[kept], ap[kept]
    # uncovered time in whole microseconds (the plan's resolution), so equal coverage
    # compares equal and the handover count decides, not rounding noise or a sliver
    aos_us, los_us = np.rint(aos * 1e6).astype(np.int64), np.rint(los * 1e6).astype(np.int64)
    bu, bh, bf = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    bm, prev = np.empty(n), np.empty(n, np.int64)
    # the lexmin of (uncovered − LOS, ...) over windows set so far, overall and per AP
    gu, gh, gf, gm, gi = 0, 0, 0, 0.0, -1
    su, sh, sf = np.zeros(n_ap, np.int64), np.zeros(n_ap, np.int64), np.zeros(n_ap, np.int64)
    sm, si = np.zeros(n_ap), np.full(n_ap, -1, np.int64)
    settled = 0   # windows [0, settled) set before the current AOS
    for j in range(n):
        while settled < j and los_us[settled] <= aos_us[j]:
            k = settled
            u = bu[k] - los_us[k]
            if gi < 0 or _less(u, bh[k], bf[k], bm[k], gu, gh, gf, gm):
                gu, gh, gf, gm, gi = u, bh[k], bf[k], bm[k], k
            a = aps[k]
            if si[a] < 0 or _less(u, bh[k], bf[k], bm[k], su[a], sh[a], sf[a], sm[a]):
                su[a], sh[a], sf[a], sm[a], si[a] = u, bh[k], bf[k], bm[k], k
            settled += 1
        cu, ch, cf, cm, ci = max(aos_us[j], 0), 0, 0, -np.inf, -1
        if gi >= 0:  # across a coverage gap: infeasible, overlap negative
            u, h, f = gu + aos_us[j], gh + 1, gf + 1
            m = pymax(gm, -(los[gi] - aos[j]))
            if _less(u, h, f, m, cu, ch, cf, cm):
                cu, ch, cf, cm, ci = u, h, f, m, gi
        a = aps[j]
        if si[a] >= 0:  # the same access point's next pass: no handover at all
            u = su[a] + aos_us[j]
            if _less(u, sh[a], sf[a], sm[a], cu, ch, cf, cm):
                cu, ch, cf, cm, ci = u, sh[a], sf[a], sm[a], si[a]
        # windows still up at this AOS: contiguous, since AOS and LOS sort alike
        need_at = aos[j] + need_s
        for i in range(settled, j):
            u, h = bu[i], bh[i] + 1
            if u > cu or (u == cu and h > ch):
                continue  # cannot compete
            f = bf[i] + (1 if need_at > los[i] - guard_s else 0)
            m = pymax(bm[i], -(los[i] - aos[j]))
            if _less(u, h, f, m, cu, ch, cf, cm):
                cu, ch, cf, cm, ci = u, h, f, m, i
        bu[j], bh[j], bf[j], bm[j], prev[j] = cu, ch, cf, cm, ci
    end_us = np.int64(np.rint(duration_s * 1e6))
    end = 0
    for j in range(1, n):
        if _less(bu[j] + max(0, end_us - los_us[j]), bh[j], bf[j], bm[j],
                 bu[end] + max(0, end_us - los_us[end]), bh[end], bf[end], bm[end]):
            end = j
    return kept[backtrack(prev, end)]


@njit
def backtrack(prev, end):
    """The chain of predecessors (``prev``, -1: none) that ends at ``end``, first to last."""
    count, k = 0, end
    while k >= 0:
        count += 1
        k = prev[k]
    path = np.empty(count, np.int64)
    k = end
    for p in range(count - 1, -1, -1):
        path[p] = k
        k = prev[k]
    return path


def received_power_dbw(elev_deg: np.ndarray, range_km: np.ndarray,
                       selection: Selection) -> np.ndarray:
    """Return the received power (dBW, isotropic receiver): EIRP minus free-space path loss
    (:func:`~sigma_sn.path.linkbudget.fspl_db`) minus the optional cosecant-law
    atmospheric loss A_z / sin(elev) (:func:`~sigma_sn.path.linkbudget.atmospheric_loss_db`):
    the link budget's received power without the receive gain, which every access point
    shares."""
    power = selection.eirp_dbw - fspl_db(range_km, selection.frequency_hz)
    if selection.atmospheric_zenith_db:
        power = power - atmospheric_loss_db(elev_deg, selection.atmospheric_zenith_db)
    return power


def hysteresis(windows: Sequence[Window], duration_s: float, geometry: Geometry,
               metric: Callable[[np.ndarray, np.ndarray], np.ndarray], margin: float,
               min_dwell_s: float, step_s: float, forced_lead_s: float) -> list[Serve]:
    """Return the serving sequence that follows the best ``metric(elev_deg, range_km)``:
    you stay on the current window until another is better by more than ``margin`` at a
    decision time (every ``step_s``) at least ``min_dwell_s`` after you switched to it, or
    until its forced decision ``forced_lead_s`` before its LOS, where you take the best
    window that outlasts it (with none up, the one up or rising first that outlasts it).

    A window is a candidate at time t when AOS <= t < LOS - forced_lead_s, so you never
    switch to one you would have to leave at once. Look angles are fetched once per access
    point for all its windows; the walk from stay to stay is :func:`walk`.
    """
    if not windows:
        return []
    lay = Samples(windows, duration_s, step_s, forced_lead_s)
    elev_deg, range_km = np.empty(len(lay.g)), np.empty(len(lay.g))
    for ap, a, b in lay.runs:
        elev_deg[a:b], range_km[a:b] = geometry.look(ap, lay.g[a:b] * step_s)
    return serves(*walk(metric(elev_deg, range_km), lay, [w.aos_s for w in windows],
                        [w.los_s for w in windows], duration_s, margin, min_dwell_s,
                        step_s, forced_lead_s))


def walk(value, lay, aos_s, los_s, duration_s: float, margin: float, min_dwell_s: float,
         step_s: float, forced_lead_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The serving sequence of :func:`hysteresis` from the ``value``s of the metric at a
    mobile's decision-grid samples, laid out as ``lay`` says (:class:`Samples`, or the
    planner's own layout: sample k is window ``win[k]`` at grid index ``g[k]``, window j's
    samples ``off[j]`` on for grid indices ``g_lo[j]``..``g_hi[j]``), as columns: the
    window indices and switch times (NaN: None), which :func:`serves` makes Serves."""
    index, switch_s, _ = walk_within(value, np.zeros(len(value)), lay, aos_s, los_s,
                                     duration_s, margin, min_dwell_s, step_s, forced_lead_s)
    return index, switch_s


def walk_within(value, slack, lay, aos_s, los_s, duration_s: float, margin: float,
                min_dwell_s: float, step_s: float, forced_lead_s: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`walk` over values known to within ``slack`` (per sample; 0: exact), and the
    grid indices where a comparison the walk made could go the other way for values
    within their slacks. With none, any values within the slacks give this sequence."""
    value = np.ascontiguousarray(value, dtype=np.float64)
    slack = np.ascontiguousarray(slack, dtype=np.float64)
    index, switch_s, fragile = _hysteresis_walk(
        value, slack, lay.g, lay.win, lay.off, lay.g_lo,
        lay.g_hi, lay.g_last, np.asarray(aos_s, dtype=np.float64),
        np.asarray(los_s, dtype=np.float64), float(duration_s), float(margin),
        float(min_dwell_s), float(step_s), float(forced_lead_s))
    return index, switch_s, np.flatnonzero(fragile)


def serves(index: np.ndarray, switch_s: np.ndarray) -> list[Serve]:
    """A serving sequence from its columns (a NaN switch time is None)."""
    return [Serve(i) if math.isnan(t) else Serve(i, t)
            for i, t in zip(index.tolist(), switch_s.tolist())]


def columns(sequence: Sequence[Serve]) -> tuple[np.ndarray, np.ndarray]:
    """The columns of a serving sequence: window indices and switch times (NaN: None)."""
    index = np.fromiter((s.index for s in sequence), np.int64, len(sequence))
    switch_s = np.fromiter((math.nan if s.switch_s is None else s.switch_s
                            for s in sequence), np.float64, len(sequence))
    return index, switch_s


@njit
def _hysteresis_walk(value, slack, g, win, off, g_lo, g_hi, g_last, aos, los, duration_s,
                     margin, min_dwell_s, step_s, forced_lead_s):
    """The walk of :func:`hysteresis` over the sampled ``value``s (compiled: a day of a
    thousand terminals samples seventy million). Returns the chosen window indices,
    their switch times (NaN: none) and, per grid index, whether a comparison made there
    could go the other way for values within their ``slack`` (walk_within)."""
    # the best window at each grid index: the highest value, the lowest index on a tie.
    # A NaN (a failed propagation) makes its grid index have no best (as np.maximum)
    best_val = np.full(g_last + 1, -np.inf)
    for k in range(len(value)):
        gk, v = g[k], value[k]
        if np.isnan(v) or np.isnan(best_val[gk]):
            best_val[gk] = np.nan
        elif v > best_val[gk]:
            best_val[gk] = v
    n = len(aos)
    best_win = np.full(g_last + 1, n)
    for k in range(len(value)):
        if value[k] == best_val[g[k]] and win[k] < best_win[g[k]]:
            best_win[g[k]] = win[k]
    best_win[best_win == n] = -1
    fragile = np.zeros(g_last + 1, np.bool_)
    sure, sure_top, sure_lo, sure_hi = _sure_bounds(value, slack, g, win, best_val,
                                                    best_win, g_last)
    if sure and g_last >= 0 and best_win[0] >= 0 and not sure_top[0]:
        fragile[0] = True
    out_i = np.empty(16, np.int64)
    out_t = np.empty(16)
    if g_last >= 0 and best_win[0] >= 0:
        c = best_win[0]
    else:
        c = _first_up(aos, los, 0.0, 0.0)
    if c < 0 or aos[c] >= duration_s:
        return out_i[:0], out_t[:0], fragile
    out_i[0], out_t[0], m = c, np.nan, 1
    since = pymax(aos[c], 0.0)
    while True:
        if m + 1 > len(out_i):
            out_i = np.concatenate((out_i, np.empty(len(out_i), np.int64)))
            out_t = np.concatenate((out_t, np.empty(len(out_t))))
        forced_s = los[c] - forced_lead_s
        g_forced = int(np.floor(forced_s / step_s + 1e-9))
        g_from = max(int(np.ceil((since + min_dwell_s) / step_s - 1e-9)),
                     int(np.floor(since / step_s + 1e-9)) + 1, g_lo[c])
        # voluntary: c's own samples from the dwell on, before the forced decision, the
        # first where another window is better by more than the margin
        a = off[c] + g_from - g_lo[c]
        b = off[c] + min(g_forced, g_hi[c] + 1) - g_lo[c]
        beaten = -1
        for k in range(a, b):
            if sure and not _sure_beaten(sure_top, sure_lo, sure_hi, value, slack, win,
                                         best_val, best_win, k, g[k], margin):
                fragile[g[k]] = True
            if best_val[g[k]] - value[k] > margin:
                beaten = k
                break
        if beaten >= 0:
            gi = g[beaten]
            if sure and not sure_top[gi]:
                fragile[gi] = True
            c, since = best_win[gi], gi * step_s
            out_i[m], out_t[m], m = c, since, m + 1
            continue
        if forced_s >= duration_s:
            break
        on_grid = g_forced * step_s > since
        t_dec = g_forced * step_s if on_grid else pymax(forced_s, since)
        nxt = -1
        if on_grid:  # the best sampled there that outlasts c (j ascends: the lowest on a
            top = -np.inf  # tie; a NaN is never better)
            for j in range(n):
                if g_lo[j] <= g_forced <= g_hi[j] and j != c and los[j] > los[c]:
                    v = value[off[j] + g_forced - g_lo[j]]
                    if v > top:
                        nxt, top = j, v
            if sure and not _sure_forced(value, slack, off, g_lo, g_hi, los, c,
                                            g_forced, nxt):
                fragile[g_forced] = True
        if nxt < 0:  # nothing sampled there: whatever is up then, or rises next
            nxt = _first_up(aos, los, t_dec, los[c])
            if nxt < 0 or aos[nxt] >= duration_s:
                break
        if aos[nxt] <= t_dec:
            out_i[m], out_t[m], m = nxt, t_dec, m + 1
            since = t_dec
        else:  # across a gap or a late rise: as early as possible
            out_i[m], out_t[m], m = nxt, np.nan, m + 1
            since = aos[nxt]
        c = nxt
    return out_i[:m], out_t[:m], fragile


_EPS = 1e-9   # far above the rounding of a difference of values, far below any slack


@njit
def _sure_bounds(value, slack, g, win, best_val, best_win, g_last):
    """Per grid index, what :func:`_hysteresis_walk` needs to tell a comparison whose
    outcome values within their slacks cannot change: whether the best there is the best
    for any such values (``top``), and the least and the most the best can be (``lo``,
    ``hi``). ``on``: some slack is not 0 (else every comparison is sure)."""
    on = False
    for k in range(len(slack)):
        if slack[k] != 0.0:
            on = True
            break
    n = g_last + 1 if on else 0
    top = np.ones(n, np.bool_)
    lo, hi = np.full(n, -np.inf), np.full(n, -np.inf)
    top_slack = np.zeros(n)
    if on:
        for k in range(len(value)):
            gk, v, s = g[k], value[k], slack[k]
            if np.isnan(v):
                if s != 0.0:  # NaN within a slack: the exact value may be a number
                    top[gk] = False
                    lo[gk], hi[gk] = -np.inf, np.inf
                continue
            lo[gk] = pymax(lo[gk], v - s)
            hi[gk] = pymax(hi[gk], v + s)
            if win[k] == best_win[gk]:
                top_slack[gk] = s
        for k in range(len(value)):
            gk, v = g[k], value[k]
            if win[k] != best_win[gk] and not np.isnan(v) and not np.isnan(best_val[gk]):
                s = top_slack[gk] + slack[k]
                if s != 0.0 and best_val[gk] - v <= s + _EPS:
                    top[gk] = False
    return on, top, lo, hi


@njit
def _sure_beaten(top, lo, hi, value, slack, win, best_val, best_win, k, gk, margin):
    """True when ``best_val[gk] - value[k] > margin`` holds, or fails, for any values
    within their slacks (``top``, ``lo``, ``hi``: _sure_bounds)."""
    v, s = value[k], slack[k]
    if np.isnan(v) and s != 0.0:
        return False
    if np.isnan(best_val[gk]) or np.isnan(v):
        return top[gk]  # NaN: false whatever the numbers, unless a NaN is itself unsure
    if win[k] == best_win[gk] and top[gk]:
        return True     # the best against itself: 0 > margin either way
    if s == 0.0 and hi[gk] == lo[gk]:
        return True
    return lo[gk] - v - s > margin + _EPS or hi[gk] - v + s < margin - _EPS


@njit
def _sure_forced(value, slack, off, g_lo, g_hi, los, c, gf, nxt):
    """True when the forced decision at grid index ``gf`` picks ``nxt`` (-1: none sampled)
    for any values within their slacks."""
    top = value[off[nxt] + gf - g_lo[nxt]] if nxt >= 0 else np.nan
    top_s = slack[off[nxt] + gf - g_lo[nxt]] if nxt >= 0 else 0.0
    for j in range(len(g_lo)):
        if g_lo[j] <= gf <= g_hi[j] and j != c and j != nxt and los[j] > los[c]:
            k = off[j] + gf - g_lo[j]
            v, s = value[k], slack[k]
            if np.isnan(v):
                if s != 0.0:
                    return False
                continue
            if s + top_s != 0.0 and top - v <= s + top_s + _EPS:
                return False
    return True


@njit
def _first_up(aos, los, t_s, min_los_s):
    """Among windows setting after max(t_s, min_los_s), the one up at ``t_s`` that sets
    last, else the first to rise after it: earliest, then the longest, then the lowest
    index; -1 if none."""
    floor_s = pymax(t_s, min_los_s)
    up = -1
    for j in range(len(aos)):
        if aos[j] <= t_s and (up < 0 or los[j] > los[up]):
            up = j
    if up >= 0 and los[up] > floor_s:
        return up
    pick = -1
    for j in range(len(aos)):
        if aos[j] > t_s and los[j] > floor_s and (
                pick < 0 or aos[j] < aos[pick]
                or (aos[j] == aos[pick] and los[j] > los[pick])):
            pick = j
    return pick


class Samples:
    """Where :func:`hysteresis` samples one mobile's windows: decision grid indices ``g``
    of window ``win``, laid out window by window with each access point's windows
    together, so one look-angle call per access point (``runs``: access point, first and
    end sample) takes a contiguous slice; window j's samples start at ``off[j]`` and span
    grid indices ``g_lo[j]``..``g_hi[j]``."""

    def __init__(self, windows, duration_s, step_s, forced_lead_s):
        n = len(windows)
        aos = np.array([w.aos_s for w in windows], dtype=float)
        los = np.array([w.los_s for w in windows], dtype=float)
        self.g_last = math.floor(duration_s / step_s + 1e-9)
        self.g_lo = np.ceil(np.maximum(aos, 0.0) / step_s - 1e-9).astype(np.int64)
        self.g_hi = np.minimum(
            np.ceil((los - forced_lead_s) / step_s - 1e-9).astype(np.int64) - 1,
            self.g_last)  # last decision grid index inside the candidate span
        ap_of = [w.ap for w in windows]
        aps = sorted(set(ap_of))
        code = {ap: k for k, ap in enumerate(aps)}
        codes = np.array([code[ap] for ap in ap_of])
        by_ap = np.lexsort((aos, codes))
        count = np.maximum(self.g_hi - self.g_lo + 1, 0)[by_ap]
        first = np.concatenate(([0], np.cumsum(count)))
        self.off = np.empty(n, dtype=np.int64)
        self.off[by_ap] = first[:-1]
        self.win = np.repeat(by_ap, count)
        self.g = (np.arange(first[-1]) - np.repeat(first[:-1], count)
                  + np.repeat(self.g_lo[by_ap], count))
        bounds = first[np.searchsorted(codes[by_ap], np.arange(len(aps) + 1))].tolist()
        self.runs = [(ap, bounds[k], bounds[k + 1]) for k, ap in enumerate(aps)
                     if bounds[k + 1] > bounds[k]]


def least_load(candidates: Mapping[str, Sequence[Window]], capacity: Mapping[str, float],
               duration_s: float, setup_s: float, guard_s: float, rtt_bound_s: float,
               min_dwell_s: float, *, demand: float = 1,
               path_spans: Mapping[str, Sequence[Sequence[tuple[float, float]]]] | None = None
               ) -> dict[str, list[Serve]]:
    """Return every mobile's serving sequence, decided jointly and event by event.

    Each mobile offers ``demand`` and an access point carries at most ``capacity[ap]``
    of it at once (absent: unlimited): with the default demand 1, a count of mobiles;
    with a shared-capacity path, Mb/s against the satellite's Mb/s (what the load stage,
    :mod:`sigma_sn.path.load`, shares). A mobile takes, among the windows up with room,
    the least loaded access point (load/capacity), then the longest remaining
    visibility; with none free it waits and takes the first place that frees. It leaves
    its window at the forced decision (LOS - guard - rtt bound) for the best one that
    outlasts it, or, with none free, holds on until LOS and waits from there (a gap).
    Once ``min_dwell_s`` has passed it also moves, when a new window comes up, to an
    access point that would still be less loaded after the move than its own is now.

    ``path_spans`` (mobile -> per window, the (from_s, to_s) spans in which its path
    reaches the correspondent; None: always): a window is then cut into pieces with and
    without a path (:func:`_pieces`), and least-load chooses among pieces. A piece
    without a path carries no flow (the load stage counts none) and is a last resort,
    taken only when no piece with a path is up and free, like an outage; a mobile on one
    moves, without the dwell, as soon as a piece with a path is up and free. The piece
    where a path ends is left at its own forced decision, as a window is at LOS.

    Every switch happens where the SET_PRIMARY can take place exactly then (after the new
    address is acknowledged and before the old path's deadline), or after the old LOS, so
    the places counted here are the places the timing model's serving intervals use.
    """
    names = sorted(candidates)
    cut = [_pieces(candidates[m], None if path_spans is None else path_spans[m], setup_s,
                   rtt_bound_s) for m in names]
    wins = [c.windows for c in cut]
    live = [c.live for c in cut]

    # the earliest clean SET_PRIMARY into a piece (its window's address acknowledged, its
    # path up) and the latest out of it, in the same floating-point steps as the timing
    # model, so a switch planned at either lands there
    def usable(m: int, j: int) -> float:
        return cut[m].ready_s[j]

    def deadline(w: Window) -> float:
        return w.los_s - guard_s - rtt_bound_s

    load: dict[str, float] = {}
    waiting: dict[str, list[int]] = {}
    rise_order = [sorted(range(len(w)), key=lambda i, w=w: (w[i].aos_s, i)) for w in wins]
    cur = [-1] * len(names)
    last = [-1] * len(names)   # the window (not piece) a mobile was last on
    since = [0.0] * len(names)
    gen = [0] * len(names)
    dwell_pushed = [-1] * len(names)
    wait_from: list[float | None] = [None] * len(names)
    seqs: list[list[Serve]] = [[] for _ in names]
    up: list[list[int]] = [[] for _ in names]
    nxt_rise = [0] * len(names)
    # events: (t_s, priority, tie, mobile, kind, generation). At one instant every window
    # rising then is up before anyone decides, and places are freed before they are taken.
    rise_ev, los_ev, forced_ev, check_ev = 0, 1, 2, 3
    heap: list[tuple] = []

    def push_rise(m: int):
        if nxt_rise[m] < len(rise_order[m]):
            w = wins[m][rise_order[m][nxt_rise[m]]]
            heapq.heappush(heap, (max(w.aos_s, 0.0), rise_ev, 0.0, m, rise_ev, 0))

    def share(ap: str, extra: float = 0) -> float:
        cap = capacity.get(ap)
        return 0.0 if cap is None else (load.get(ap, 0) + extra) / cap

    def release(m: int, t_s: float):
        if not live[m][cur[m]]:
            return  # no flow, no place
        ap = wins[m][cur[m]].ap
        load[ap] -= demand
        for other in waiting.pop(ap, []):  # the longest waiting first
            since_s = wait_from[other]
            heapq.heappush(heap, (t_s, check_ev, t_s if since_s is None else since_s, other,
                                  check_ev, 0))

    def take(m: int, j: int, t_s: float, switch_s: float | None):
        w = wins[m][j]
        if live[m][j]:
            load[w.ap] = load.get(w.ap, 0) + demand
        seqs[m].append(Serve(j, switch_s, wait_from[m]))
        cur[m], since[m], wait_from[m] = j, t_s, None
        last[m] = cut[m].window[j]
        gen[m] += 1
        if deadline(w) < duration_s:
            heapq.heappush(heap, (deadline(w), forced_ev, 0.0, m, forced_ev, gen[m]))

    def best(m: int, t_s: float, ok) -> int:
        """The best free piece passing ``ok``, or -1: with a path before without; then
        the least loaded, the same window as before, the longest. Pieces that can no
        longer be left cleanly later are dropped from ``up`` on the way."""
        pick, key, keep = -1, None, []
        for j in up[m]:
            w = wins[m][j]
            if deadline(w) <= t_s + rtt_bound_s:
                continue
            keep.append(j)
            if ok(j, w):
                stay = 0 if cut[m].window[j] == last[m] else 1
                if not live[m][j]:  # no flow: never full, and last
                    k = (1, 0.0, stay, -w.los_s, w.ap, j)
                else:
                    cap = capacity.get(w.ap)
                    used = 0 if cap is None else load.get(w.ap, 0)
                    if cap is not None and used + demand > cap:
                        continue  # full
                    k = (0, 0.0 if cap is None else used / cap, stay, -w.los_s, w.ap, j)
                if key is None or k < key:
                    pick, key = j, k
        up[m] = keep
        return pick

    def attach_idle(m: int, t_s: float):
        j = best(m, t_s, lambda j, w: True)
        if j >= 0:
            first = (not seqs[m] and wait_from[m] is None
                     and t_s <= max(wins[m][j].aos_s, 0.0))
            take(m, j, t_s, None if first else t_s)
        elif up[m]:  # windows up, all full: wait for a place
            if wait_from[m] is None:
                wait_from[m] = t_s
            for j in up[m]:
                waiting.setdefault(wins[m][j].ap, []).append(m)

    for m in range(len(names)):
        push_rise(m)
    while heap:
        t, _, _, m, kind, g = heapq.heappop(heap)
        if t >= duration_s:
            break
        if kind == rise_ev:
            j = rise_order[m][nxt_rise[m]]
            nxt_rise[m] += 1
            push_rise(m)
            up[m].append(j)
            if cur[m] < 0:  # idle: look once everything rising now is up
                heapq.heappush(heap, (t, check_ev, t, m, check_ev, 0))
            if capacity or path_spans is not None:  # serving: a move once it is usable
                heapq.heappush(heap, (max(usable(m, j), t), check_ev, t, m, check_ev, 0))
            continue
        c = cur[m]
        if kind == los_ev:
            if g == gen[m]:
                release(m, t)
                cur[m] = -1
                attach_idle(m, t)
        elif kind == forced_ev:
            if g == gen[m]:
                los_c, ends_c = wins[m][c].los_s, cut[m].ends[c]
                # no path after it is no better than this window's own rest without one
                j = best(m, t, lambda j, w: (j != c and w.los_s > los_c and usable(m, j) <= t
                                             and (ends_c or live[m][j])))
                if j >= 0:
                    release(m, t)
                    take(m, j, t, t)
                else:  # no clean switch: hold on until LOS, then look again
                    heapq.heappush(heap, (los_c, los_ev, 0.0, m, los_ev, gen[m]))
        elif c < 0:
            attach_idle(m, t)
        elif t < deadline(wins[m][c]):
            dead = not live[m][c]  # no path: leave as soon as one is up (no dwell)
            ready_s = since[m] + (rtt_bound_s if dead else max(min_dwell_s, rtt_bound_s))
            if t < ready_s:
                if dwell_pushed[m] != gen[m]:  # look again once the dwell is over
                    dwell_pushed[m] = gen[m]
                    heapq.heappush(heap, (ready_s, check_ev, ready_s, m, check_ev, 0))
                continue
            if dead:
                j = best(m, t, lambda j, w: j != c and live[m][j] and usable(m, j) <= t)
                if j < 0:  # those with a path are full: look again when a place frees
                    for k in up[m]:
                        if live[m][k] and usable(m, k) <= t:
                            waiting.setdefault(wins[m][k].ap, []).append(m)
            else:
                mine = share(wins[m][c].ap)
                if mine == 0.0:  # nothing is emptier than an empty or unlimited AP
                    continue
                j = best(m, t, lambda j, w: (j != c and live[m][j] and usable(m, j) <= t
                                             and share(w.ap, demand) < mine))
            if j >= 0:
                release(m, t)
                take(m, j, t, t)
    return {name: _whole(seqs[m], cut[m].window) for m, name in enumerate(names)}


class _Cut(NamedTuple):
    """One mobile's windows cut into pieces for :func:`least_load`: per piece its
    ``windows`` entry (the window's access point, the piece's start and end), the
    ``window`` it is part of, whether its path is ``live``, whether it ``ends`` its window
    and when a SET_PRIMARY into it is first clean (``ready_s``)."""

    windows: list
    window: list
    live: list
    ends: list
    ready_s: list


def _pieces(windows: Sequence[Window], spans, setup_s: float, rtt_bound_s: float) -> _Cut:
    """Cut each window at the edges of its path ``spans`` (None: one piece with a path per
    window, the window itself). A piece is ready once its window's new address is set up
    and acknowledged (AOS + setup + RTT bound) and not before its path is up."""
    if spans is None:
        n = len(windows)
        return _Cut(list(windows), list(range(n)), [True] * n, [True] * n,
                    [w.aos_s + setup_s + rtt_bound_s for w in windows])
    out = _Cut([], [], [], [], [])
    for j, w in enumerate(windows):
        edges, t = [], w.aos_s
        for a, b in spans[j]:
            a, b = max(a, w.aos_s), min(b, w.los_s)
            if b <= a:
                continue
            if a > t:
                edges.append((t, a, False))
            edges.append((a, b, True))
            t = b
        if t < w.los_s:
            edges.append((t, w.los_s, False))
        for a, b, has in edges:
            out.windows.append(w._replace(aos_s=a, los_s=b))
            out.window.append(j)
            out.live.append(has)
            out.ends.append(b >= w.los_s)
            out.ready_s.append(max(w.aos_s + setup_s + rtt_bound_s, a))
    return out


def _whole(sequence: list[Serve], window: list[int]) -> list[Serve]:
    """A sequence of pieces as one of windows: the piece's window, and a piece that goes
    on from the one before on the same window is no change at all."""
    out: list[Serve] = []
    for s in sequence:
        j = window[s.index]
        if out and out[-1].index == j:
            continue
        out.append(s._replace(index=j))
    return out
