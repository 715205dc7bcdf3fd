"""Selection policies: which candidate window serves a mobile when.

Pure functions of the candidate windows (and, for the geometry-driven policies, look
angles); the timing model that turns a sequence into events lives in ``core``.
"""

from __future__ import annotations

import bisect
import heapq
import math
from typing import Callable, Mapping, Sequence

import numpy as np

from sigma_sn.geometry import C_KM_S
from sigma_sn.planner.kinds import Geometry, Selection, Serve, Window


def longest_visibility(windows: Sequence[Window], duration_s: float,
                       guard_s: float) -> list[int]:
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


def min_handovers(windows: Sequence[Window], duration_s: float, need_s: float,
                  guard_s: float) -> list[int]:
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


def received_power_dbw(elev_deg: np.ndarray, range_km: np.ndarray,
                       selection: Selection) -> np.ndarray:
    """Return the received power (dBW, isotropic receiver): EIRP minus free-space path loss
    20·log10(4π·d·f/c) minus the optional cosecant-law atmospheric loss A_z / sin(elev)."""
    fspl_db = 20.0 * np.log10(4.0 * np.pi * np.asarray(range_km) * selection.frequency_hz
                              / C_KM_S)  # km over km/s times Hz: dimensionless
    power = selection.eirp_dbw - fspl_db
    if selection.atmospheric_zenith_db:
        # the cosecant law diverges at the horizon; 1° keeps a 0° mask finite
        sin_e = np.sin(np.radians(np.maximum(np.asarray(elev_deg), 1.0)))
        power = power - selection.atmospheric_zenith_db / sin_e
    return power


def hysteresis(windows: Sequence[Window], duration_s: float, geometry: Geometry | None,
               metric: Callable[[np.ndarray, np.ndarray], np.ndarray], margin: float,
               min_dwell_s: float, step_s: float, forced_lead_s: float, *,
               samples: Samples | None = None, looked=None) -> list[Serve]:
    """Return the serving sequence that follows the best ``metric(elev_deg, range_km)``:
    you stay on the current window until another is better by more than ``margin`` at a
    decision time (every ``step_s``) at least ``min_dwell_s`` after you switched to it, or
    until its forced decision ``forced_lead_s`` before its LOS, where you take the best
    window that outlasts it (with none up, the one up or rising first that outlasts it).

    A window is a candidate at time t when AOS <= t < LOS - forced_lead_s, so you never
    switch to one you would have to leave at once. Look angles are fetched once per access
    point for all its windows; where each stay ends comes from one vectorised pass.
    ``samples`` (:func:`hysteresis_samples` with the same arguments) and ``looked``
    (elevations and ranges at them) may be given: a caller that planned many mobiles'
    look angles in one batch; ``geometry`` is then not asked.
    """
    n = len(windows)
    if n == 0:
        return []
    aos_l = [w.aos_s for w in windows]
    los_l = [w.los_s for w in windows]
    lay = samples or Samples(windows, duration_s, step_s, forced_lead_s)
    g_last, g_lo, g_hi, off, win, g = lay.g_last, lay.g_lo, lay.g_hi, lay.off, lay.win, lay.g
    if looked is not None:
        elev_deg, range_km = looked
    else:
        elev_deg, range_km = np.empty(len(g)), np.empty(len(g))
        for ap, a, b in lay.runs:
            elev_deg[a:b], range_km[a:b] = geometry.look(ap, lay.t_s[a:b])
    value = metric(elev_deg, range_km)
    # the best window at each grid index: the highest value, the lowest index on a tie
    # (NaN, a failed propagation, is never best)
    best_val = np.full(g_last + 1, -np.inf)
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


class Samples:
    """Where :func:`hysteresis` samples one mobile's windows: decision grid indices ``g``
    (times ``t_s``) of window ``win``, laid out window by window with each access point's
    windows together, so one look-angle call per access point (``runs``: access point,
    first and end sample) takes a contiguous slice. ``ap_of_sample``: the access point of
    each sample, as an index into ``aps``."""

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
        self.t_s = self.g * step_s
        bounds = first[np.searchsorted(codes[by_ap], np.arange(len(aps) + 1))].tolist()
        self.runs = [(ap, bounds[k], bounds[k + 1]) for k, ap in enumerate(aps)
                     if bounds[k + 1] > bounds[k]]
        self.aps = aps
        self.ap_of_sample = codes[self.win] if n else np.zeros(0, np.int64)


def hysteresis_samples(windows: Sequence[Window], duration_s: float, step_s: float,
                       forced_lead_s: float) -> Samples | None:
    """Return where :func:`hysteresis` with the same arguments samples look angles (None
    without windows), so a caller can compute them for many mobiles at once."""
    return Samples(windows, duration_s, step_s, forced_lead_s) if windows else None


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


def least_load(candidates: Mapping[str, Sequence[Window]], capacity: Mapping[str, int],
               duration_s: float, setup_s: float, guard_s: float, rtt_bound_s: float,
               min_dwell_s: float) -> dict[str, list[Serve]]:
    """Return every mobile's serving sequence, decided jointly and event by event.

    An access point serves at most ``capacity[ap]`` mobiles at once (absent: unlimited).
    A mobile takes, among the windows up with a free place, the least loaded access point
    (count/capacity), then the longest remaining visibility; with none free it waits and
    takes the first place that frees. It leaves its window at the forced decision
    (LOS - guard - rtt bound) for the best one that outlasts it, or, with none free, holds
    on until LOS and waits from there (a gap). Once ``min_dwell_s`` has passed it also
    moves, when a new window comes up, to an access point that would still be less
    loaded after the move than its own is now.

    Every switch happens where the SET_PRIMARY can take place exactly then (after the new
    address is acknowledged and before the old path's deadline), or after the old LOS, so
    the places counted here are the places the timing model's serving intervals use.
    """
    names = sorted(candidates)

    # the earliest clean SET_PRIMARY into a window and the latest out of it, in the same
    # floating-point steps as the timing model, so a switch planned at either lands there
    def usable(w: Window) -> float:
        return w.aos_s + setup_s + rtt_bound_s

    def deadline(w: Window) -> float:
        return w.los_s - guard_s - rtt_bound_s

    load: dict[str, int] = {}
    waiting: dict[str, list[int]] = {}
    wins = [list(candidates[m]) for m in names]
    rise_order = [sorted(range(len(w)), key=lambda i, w=w: (w[i].aos_s, i)) for w in wins]
    cur = [-1] * len(names)
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

    def share(ap: str, extra: int = 0) -> float:
        cap = capacity.get(ap)
        return 0.0 if cap is None else (load.get(ap, 0) + extra) / cap

    def release(m: int, t_s: float):
        ap = wins[m][cur[m]].ap
        load[ap] -= 1
        for other in waiting.pop(ap, []):  # the longest waiting first
            since_s = wait_from[other]
            heapq.heappush(heap, (t_s, check_ev, t_s if since_s is None else since_s, other,
                                  check_ev, 0))

    def take(m: int, j: int, t_s: float, switch_s: float | None):
        w = wins[m][j]
        load[w.ap] = load.get(w.ap, 0) + 1
        seqs[m].append(Serve(j, switch_s, wait_from[m]))
        cur[m], since[m], wait_from[m] = j, t_s, None
        gen[m] += 1
        if deadline(w) < duration_s:
            heapq.heappush(heap, (deadline(w), forced_ev, 0.0, m, forced_ev, gen[m]))

    def best(m: int, t_s: float, ok) -> int:
        """The least-loaded free window passing ``ok``, then the longest, or -1. Windows
        that can no longer be left cleanly later are dropped from ``up`` on the way."""
        pick, key, keep = -1, None, []
        for j in up[m]:
            w = wins[m][j]
            if deadline(w) <= t_s + rtt_bound_s:
                continue
            keep.append(j)
            if ok(j, w):
                cap = capacity.get(w.ap)
                used = 0 if cap is None else load.get(w.ap, 0)
                if cap is not None and used >= cap:
                    continue  # full
                k = (0.0 if cap is None else used / cap, -w.los_s, w.ap, j)
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
            if capacity:  # serving: a move to an emptier AP once this one is usable
                heapq.heappush(heap, (max(usable(wins[m][j]), t), check_ev, t, m,
                                      check_ev, 0))
            continue
        c = cur[m]
        if kind == los_ev:
            if g == gen[m]:
                release(m, t)
                cur[m] = -1
                attach_idle(m, t)
        elif kind == forced_ev:
            if g == gen[m]:
                los_c = wins[m][c].los_s
                j = best(m, t, lambda j, w: j != c and w.los_s > los_c and usable(w) <= t)
                if j >= 0:
                    release(m, t)
                    take(m, j, t, t)
                else:  # no clean switch: hold on until LOS, then look again
                    heapq.heappush(heap, (los_c, los_ev, 0.0, m, los_ev, gen[m]))
        elif c < 0:
            attach_idle(m, t)
        elif t < deadline(wins[m][c]):
            ready_s = since[m] + max(min_dwell_s, rtt_bound_s)
            if t < ready_s:
                if dwell_pushed[m] != gen[m]:  # look again once the dwell is over
                    dwell_pushed[m] = gen[m]
                    heapq.heappush(heap, (ready_s, check_ev, ready_s, m, check_ev, 0))
                continue
            mine = share(wins[m][c].ap)
            if mine == 0.0:  # nothing is emptier than an empty or unlimited AP
                continue
            j = best(m, t, lambda j, w: (j != c and usable(w) <= t
                                         and share(w.ap, 1) < mine))
            if j >= 0:
                release(m, t)
                take(m, j, t, t)
    return {name: seqs[m] for m, name in enumerate(names)}
