"""Readable references for compiled planner kernels: the same algorithm written plainly in
Python, which the kernels must match exactly (tests/test_planner_policies.py)."""

from __future__ import annotations

import heapq
import math


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
