"""Selection (longest-visibility greedy, optimal min-handovers) and the DESIGN.md timing
model, on candidate windows of one mobile. Geometry enters only through ``rtt_s``."""

from __future__ import annotations

import bisect
import heapq
from dataclasses import dataclass
from typing import Callable, Sequence

from sigma_sn.planner.kinds import Action, Policy


@dataclass(frozen=True)
class Timing:
    """DESIGN.md timing parameters (seconds)."""

    l2_s: float = 0.05
    ra_s: float = 0.05
    dad_s: float = 0.0
    guard_s: float = 2.0
    terrestrial_one_way_s: float = 0.02
    address_lifetime_s: float = 600.0

    @property
    def setup_s(self) -> float:
        return self.l2_s + self.ra_s + self.dad_s


@dataclass(frozen=True)
class Window:
    """One candidate window of one mobile: access point ``ap``, AOS and LOS (s)."""

    ap: str
    aos_s: float
    los_s: float


@dataclass(frozen=True)
class Event:
    action: Action
    t_s: float


@dataclass(frozen=True)
class Handover:
    from_ap: str
    to_ap: str
    feasible: bool
    overlap_s: float
    outage_s: float
    events: tuple[Event, ...]


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


def select(policy: Policy, windows: Sequence[Window], duration_s: float,
           timing: Timing, rtt_bound_s: float) -> list[int]:
    """Return the serving sequence (window indices) ``policy`` picks."""
    if policy is Policy.MIN_HANDOVERS:
        return min_handovers(windows, duration_s, timing.setup_s + 2 * rtt_bound_s,
                             timing.guard_s)
    if policy is Policy.LONGEST_VISIBILITY:
        return longest_visibility(windows, duration_s, timing.guard_s)
    raise NotImplementedError(f"policy {policy.value} is not implemented yet")


def handovers(windows: Sequence[Window], sequence: Sequence[int], timing: Timing,
              rtt_s: Callable[[str, float], float]) -> list[Handover]:
    """Turn a serving sequence into SIGMA-SN events (DESIGN.md timing table).

    ``rtt_s(ap, t_s)``: round trip over access point ``ap`` at ``t_s`` (slant range
    both ways plus the terrestrial segment).
    """
    out = []
    primary_since = 0.0
    rises: dict[str, list[float]] = {}  # AOS times per access point, for the zig-zag test
    for w in windows:
        rises.setdefault(w.ap, []).append(w.aos_s)
    for times in rises.values():
        times.sort()
    for k in range(1, len(sequence)):
        a, b = windows[sequence[k - 1]], windows[sequence[k]]
        t_ready = b.aos_s + timing.setup_s
        t_add = max(t_ready, primary_since)
        rtt_a = rtt_s(a.ap, t_add)
        lo, hi = t_add + rtt_a, a.los_s - timing.guard_s - rtt_a
        feasible = lo <= hi
        if feasible:
            t_sp = lo  # switch as soon as the new address is acknowledged
            rtt_b = rtt_s(b.ap, t_sp)
            t_lm = t_sp + rtt_b
            t_del = a.los_s - timing.guard_s
            outage = 0.0
        else:  # hard handover: the old path is gone before the switch completes
            rtt_b = rtt_s(b.ap, t_add)
            t_sp = t_add + rtt_b
            t_lm = t_sp + rtt_b
            t_del = t_lm
            outage = max(0.0, t_sp + rtt_b - a.los_s)
        later = rises[a.ap]
        k_next = bisect.bisect_right(later, a.los_s)
        comes_back = (k_next < len(later)
                      and later[k_next] <= t_del + timing.address_lifetime_s)
        retire = Action.DEACTIVATE if comes_back else Action.DELETE_IP
        events = (Event(Action.ADDRESS_READY, t_ready), Event(Action.ADD_IP, t_add),
                  Event(Action.SET_PRIMARY, t_sp), Event(Action.LM_UPDATE, t_lm),
                  Event(retire, t_del))
        out.append(Handover(a.ap, b.ap, feasible, a.los_s - b.aos_s, outage, events))
        primary_since = t_sp
    return out
