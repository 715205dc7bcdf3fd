"""Readable references for compiled planner kernels: the same algorithm written plainly in
Python, which the kernels must match exactly (tests/test_planner_policies.py)."""

from __future__ import annotations

import bisect
import heapq
import math

import numpy as np

from sigma_sn.planner.kinds import Serve
from sigma_sn.planner.policies import Samples   # the layout, which both versions share


def min_handovers(windows, duration_s: float, need_s: float, guard_s: float) -> list[int]:
    """Return the optimal serving sequence by DP: least uncovered time (to the
    microsecond), then fewest handovers, then fewest infeasible ones, then the largest
    smallest overlap. The same access point's next pass after a gap is no handover.

    A window inside another is never needed (the outer one covers it with more overlap
    on both sides), so those are dropped first; the rest sort by AOS and LOS alike.
    """
    idx = sorted(range(len(windows)), key=lambda i: (windows[i].aos_s, -windows[i].los_s))
    kept: list[int] = []
    for i in idx:
        if kept and windows[i].los_s <= windows[kept[-1]].los_s:
            continue  # contained
        kept.append(i)
    if not kept:
        return []
    w = [windows[i] for i in kept]
    # uncovered time in whole microseconds (the plan's resolution), so equal coverage
    # compares equal and the handover count decides, not rounding noise or a sliver
    aos_us = [round(x.aos_s * 1e6) for x in w]
    los_us = [round(x.los_s * 1e6) for x in w]
    los_s = [x.los_s for x in w]
    best: list[tuple] = []
    prev: list[int] = []
    gap_best: tuple | None = None  # lexmin of (uncovered − LOS, ...) over windows set so far
    gap_same: dict[str, tuple] = {}  # the same, per access point
    settled = 0                    # windows [0, settled) set before the current AOS
    for j, b in enumerate(w):
        while settled < j and los_us[settled] <= aos_us[j]:
            key = (best[settled][0] - los_us[settled], best[settled][1], best[settled][2],
                   best[settled][3], settled)
            if gap_best is None or key[:4] < gap_best[:4]:
                gap_best = key
            ap = w[settled].ap
            if ap not in gap_same or key[:4] < gap_same[ap][:4]:
                gap_same[ap] = key
            settled += 1
        cand = (max(aos_us[j], 0), 0, 0, -float("inf"), -1)
        if gap_best is not None:  # across a coverage gap: infeasible, overlap negative
            i = gap_best[4]
            overlap = w[i].los_s - b.aos_s
            key = (gap_best[0] + aos_us[j], gap_best[1] + 1, gap_best[2] + 1,
                   max(gap_best[3], -overlap), i)
            if key[:4] < cand[:4]:
                cand = key
        same = gap_same.get(b.ap)
        if same is not None:  # the same access point's next pass: no handover at all
            key = (same[0] + aos_us[j],) + same[1:]
            if key[:4] < cand[:4]:
                cand = key
        # windows still up at this AOS: contiguous, since AOS and LOS sort alike. The
        # hot loop of the planner: the key (uncovered, handovers, infeasible, -smallest
        # overlap) of a handover from window i, built only when its coverage can compete
        b_aos = b.aos_s
        need_at = b_aos + need_s
        cu, ch, cf, cm, ci = cand
        for i in range(settled, j):
            bi = best[i]
            u, h = bi[0], bi[1] + 1
            if u > cu or (u == cu and h > ch):
                continue
            los = los_s[i]
            f, m = bi[2] + (need_at > los - guard_s), bi[3]
            worst = -(los - b_aos)   # minus the overlap
            if worst > m:            # m = max(m, worst), as the builtin picks
                m = worst
            if (u, h, f, m) < (cu, ch, cf, cm):
                cu, ch, cf, cm, ci = u, h, f, m, i
        cand = (cu, ch, cf, cm, ci)
        best.append(cand)
        prev.append(cand[4])
    end_us = round(duration_s * 1e6)
    end = min(range(len(w)), key=lambda j: (best[j][0] + max(0, end_us - los_us[j]),
                                            best[j][1], best[j][2], best[j][3]))
    path = []
    while end >= 0:
        path.append(kept[end])
        end = prev[end]
    return path[::-1]


def longest_visibility(windows, duration_s: float, guard_s: float) -> list[int]:
    """Return window indices served in turn: at each forced decision (LOS − guard) you take
    the visible window that stays longest; with none up that outlasts the one you leave,
    the next to rise that does."""
    order = sorted(range(len(windows)), key=lambda i: (windows[i].aos_s, -windows[i].los_s))
    heap: list[tuple[float, int]] = []  # (−LOS, index) of windows risen so far
    p, t, last_los = 0, 0.0, -math.inf
    chosen: list[int] = []
    while True:
        while p < len(order) and windows[order[p]].aos_s <= t:
            heapq.heappush(heap, (-windows[order[p]].los_s, order[p]))
            p += 1
        # set already, or setting no later than the window served: of no use
        while heap and -heap[0][0] <= max(t, last_los):
            heapq.heappop(heap)
        if not heap:  # nothing up that helps: wait for the next to rise
            if p == len(order) or windows[order[p]].aos_s >= duration_s:
                return chosen
            t = windows[order[p]].aos_s
            continue
        pick = heap[0][1]
        chosen.append(pick)
        last_los = windows[pick].los_s
        if last_los >= duration_s:
            return chosen
        t = max(last_los - guard_s, windows[pick].aos_s)


def hysteresis(windows, duration_s: float, geometry, metric, margin: float,
               min_dwell_s: float, step_s: float, forced_lead_s: float) -> list[Serve]:
    """policies.hysteresis as numpy ran it before the walk was compiled: the same rule
    (see its docstring), the best window per grid index by ufunc.at, each stay's end by
    a reversed running minimum, the forced pick over the samples of its grid index."""
    n = len(windows)
    if n == 0:
        return []
    aos_l = [w.aos_s for w in windows]
    los_l = [w.los_s for w in windows]
    lay = Samples(windows, duration_s, step_s, forced_lead_s)
    g_last, g_lo, g_hi, off, win, g = lay.g_last, lay.g_lo, lay.g_hi, lay.off, lay.win, lay.g
    elev_deg, range_km = np.empty(len(g)), np.empty(len(g))
    for ap, a, b in lay.runs:
        elev_deg[a:b], range_km[a:b] = geometry.look(ap, g[a:b] * step_s)
    value = metric(elev_deg, range_km)
    # the best window at each grid index: the highest value, the lowest index on a tie
    # (NaN, a failed propagation, is never best)
    best_val = np.full(g_last + 1, -np.inf)
    with np.errstate(invalid="ignore"):   # NaN samples: their grid index has no best
        np.maximum.at(best_val, g, value)
    tops = np.flatnonzero(value == best_val[g])
    best_win = np.full(g_last + 1, n)
    np.minimum.at(best_win, g[tops], win[tops])
    best_win[best_win == n] = -1
    by_grid = np.argsort(g, kind="stable")
    starts = np.concatenate(([0], np.cumsum(np.bincount(g, minlength=g_last + 1)))).tolist()
    g_lo_l, g_hi_l, off_l = g_lo.tolist(), g_hi.tolist(), off.tolist()
    # for every sample, the first sample at or after it (in its window's run) where another
    # window beats it by more than the margin: each stay's scan becomes one lookup
    n_samples = len(value)
    beaten = np.flatnonzero(best_val[g] - value > margin)
    next_beaten = np.full(n_samples + 1, n_samples)
    next_beaten[beaten] = beaten
    next_beaten = np.minimum.accumulate(next_beaten[::-1])[::-1]
    fallback = _FirstUp(aos_l, los_l)

    def pick_forced(gi: int, c: int) -> int:
        """Best candidate at grid index gi that outlasts c, or -1."""
        here = by_grid[starts[gi]:starts[gi + 1]]
        pick, top = -1, -np.inf
        for j, v in zip(win[here].tolist(), value[here].tolist()):
            if j != c and los_l[j] > los_l[c] and (v > top or (v == top and j < pick)):
                pick, top = j, v
        return pick

    c = int(best_win[0]) if g_last >= 0 and best_win[0] >= 0 else fallback(0.0, 0.0)
    if c < 0 or aos_l[c] >= duration_s:
        return []
    seq = [Serve(c)]
    since = max(aos_l[c], 0.0)
    while True:
        forced_s = los_l[c] - forced_lead_s
        g_forced = math.floor(forced_s / step_s + 1e-9)
        g_from = max(math.ceil((since + min_dwell_s) / step_s - 1e-9),
                     math.floor(since / step_s + 1e-9) + 1, g_lo_l[c])
        # voluntary: c's own samples from the dwell on, before the forced decision
        a = off_l[c] + g_from - g_lo_l[c]
        b = off_l[c] + min(g_forced, g_hi_l[c] + 1) - g_lo_l[c]
        if b > a and (k := int(next_beaten[a])) < b:
            gi = int(g[k])
            c, since = int(best_win[gi]), gi * step_s
            seq.append(Serve(c, since))
            continue
        if forced_s >= duration_s:
            return seq
        on_grid = g_forced * step_s > since
        t_dec = g_forced * step_s if on_grid else max(forced_s, since)
        nxt = pick_forced(g_forced, c) if on_grid else -1
        if nxt < 0:  # nothing sampled there: whatever is up then, or rises next
            nxt = fallback(t_dec, los_l[c])
            if nxt < 0 or aos_l[nxt] >= duration_s:
                return seq
        if aos_l[nxt] <= t_dec:
            seq.append(Serve(nxt, t_dec))
            since = t_dec
        else:  # across a gap or a late rise: as early as possible
            seq.append(Serve(nxt))
            since = aos_l[nxt]
        c = nxt


class _FirstUp:
    """Among windows setting after a time, the one up at ``t_s`` or rising first after it:
    earliest, then the longest, then the lowest index (prefix maxima of LOS in AOS order
    answer 'already up' without a scan)."""

    def __init__(self, aos: list[float], los: list[float]):
        self.aos, self.los = aos, los
        self.order: list[int] | None = None  # built on first use: dense coverage never asks

    def _build(self):
        aos, los = np.array(self.aos, float), np.array(self.los, float)
        n = len(aos)
        order = np.lexsort((np.arange(n), -los, aos))   # by AOS, the longest first, index
        self.order = order.tolist()
        self.aos_sorted = aos[order].tolist()
        # top[k]: the window with the greatest LOS among the first k + 1, the lowest index
        # on a tie. The greatest LOS so far steps up in segments; within one, the lowest
        # index reaching it is a running minimum, taken as a running maximum of
        # segment·(n + 1) + (n − index) so that no segment sees an earlier one's
        los_o = los[order]
        best = np.maximum.accumulate(los_o)
        seg = np.cumsum(np.concatenate(([0], best[1:] > best[:-1]))[:n])
        reach = np.where(los_o == best, n - order, 0) + seg * (n + 1)
        self.top = (n - (np.maximum.accumulate(reach) - seg * (n + 1))).tolist()

    def __call__(self, t_s: float, min_los_s: float) -> int:
        if self.order is None:
            self._build()
        floor_s = max(t_s, min_los_s)
        p = bisect.bisect_right(self.aos_sorted, t_s)
        if p and self.los[self.top[p - 1]] > floor_s:
            return self.top[p - 1]
        for q in range(p, len(self.order)):  # AOS order, longest first on equal AOS
            if self.los[self.order[q]] > floor_s:
                return self.order[q]
        return -1
