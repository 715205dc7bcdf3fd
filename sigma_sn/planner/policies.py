"""Selection policies: which candidate window serves a mobile when.

Pure functions of the candidate windows (and, for the geometry-driven policies, look
angles); the timing model that turns a sequence into events lives in ``core``.
"""

from __future__ import annotations

import heapq
from typing import Sequence

from sigma_sn.planner.kinds import Window


def longest_visibility(windows: Sequence[Window], duration_s: float,
                       guard_s: float) -> list[int]:
    """Return window indices served in turn: at each forced decision (LOS − guard) you take
    the visible window that stays longest; with none visible, the next to rise."""
    order = sorted(range(len(windows)), key=lambda i: (windows[i].aos_s, -windows[i].los_s))
    heap: list[tuple[float, int]] = []  # (−LOS, index) of windows risen so far
    p, t = 0, 0.0
    chosen: list[int] = []
    used: set[int] = set()
    while True:
        while p < len(order) and windows[order[p]].aos_s <= t:
            heapq.heappush(heap, (-windows[order[p]].los_s, order[p]))
            p += 1
        while heap and (heap[0][1] in used or -heap[0][0] <= t):
            heapq.heappop(heap)
        if not heap:  # nothing up: wait for the next to rise
            if p == len(order):
                return chosen
            first = windows[order[p]].aos_s
            while p < len(order) and windows[order[p]].aos_s == first:
                heapq.heappush(heap, (-windows[order[p]].los_s, order[p]))
                p += 1
        pick = heap[0][1]
        if chosen and windows[pick].los_s <= windows[chosen[-1]].los_s:
            return chosen
        chosen.append(pick)
        used.add(pick)
        if windows[pick].los_s >= duration_s:
            return chosen
        t = max(windows[pick].los_s - guard_s, windows[pick].aos_s)


def min_handovers(windows: Sequence[Window], duration_s: float, need_s: float,
                  guard_s: float) -> list[int]:
    """Return the optimal serving sequence by DP: least uncovered time, then fewest
    handovers, then fewest infeasible ones, then the largest smallest overlap.

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
    best: list[tuple] = []
    prev: list[int] = []
    gap_best: tuple | None = None  # lexmin of (uncovered − LOS, ...) over windows set so far
    settled = 0                    # windows [0, settled) set before the current AOS
    for j, b in enumerate(w):
        while settled < j and w[settled].los_s <= b.aos_s:
            a = w[settled]
            key = (best[settled][0] - a.los_s, best[settled][1], best[settled][2],
                   best[settled][3], settled)
            if gap_best is None or key[:4] < gap_best[:4]:
                gap_best = key
            settled += 1
        cand = (max(b.aos_s, 0.0), 0, 0, -float("inf"), -1)
        if gap_best is not None:  # across a coverage gap: infeasible, overlap negative
            i = gap_best[4]
            overlap = w[i].los_s - b.aos_s
            key = (gap_best[0] + b.aos_s, gap_best[1] + 1, gap_best[2] + 1,
                   max(gap_best[3], -overlap), i)
            if key[:4] < cand[:4]:
                cand = key
        # windows still up at this AOS: contiguous, since AOS and LOS sort alike
        for i in range(settled, j):
            a = w[i]
            overlap = a.los_s - b.aos_s
            infeasible = int(b.aos_s + need_s > a.los_s - guard_s)
            key = (best[i][0], best[i][1] + 1, best[i][2] + infeasible,
                   max(best[i][3], -overlap), i)
            if key[:4] < cand[:4]:
                cand = key
        best.append(cand)
        prev.append(cand[4])
    end = min(range(len(w)), key=lambda j: (best[j][0] + max(0.0, duration_s - w[j].los_s),
                                            best[j][1], best[j][2], best[j][3]))
    path = []
    while end >= 0:
        path.append(kept[end])
        end = prev[end]
    return path[::-1]
