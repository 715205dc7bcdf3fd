"""Where the terminal's IP address is anchored (``[path] anchor``, issue 16).

``satellite`` (the paper's router mode): each satellite is an access point with its own
subnet, so every change of serving satellite is a SIGMA-SN handover. ``gateway`` (as
operators run LEO access today): the address comes from the gateway (PoP) the path lands
at, so only a change of gateway is a handover; a change of satellite under the same
gateway is a *path change*: the network re-routes, the transport layer sees nothing
but the new path's delay.

The candidate gateways are those the path stage's best routes ever land at for a
terminal's satellites; for each, the path stage runs again with only that gateway open
(:func:`paths_to_each_gateway`), so every satellite's quickest route *to that gateway*
is known. From these samples this module makes the *anchor windows*: per terminal and
gateway, each run of consecutive routing steps in which some satellite the terminal
sees has a path to that gateway. They are ordinary :class:`~sigma_sn.visibility.Windows`
whose access points are the gateways, so the planner's policies and timing model run
on them unchanged. Under one anchor the network carries the terminal over the
satellite whose path is the quickest, and keeps it on a tie.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sigma_sn.path.route import held_at
from sigma_sn.planner.jit import njit
from sigma_sn.visibility import Windows


@dataclass(frozen=True)
class AnchorWindows:
    """Anchor windows as :class:`Windows` columns (``sat``: gateway index into
    ``windows.sat_names``, ``site``: terminal) and, per window, one sample per routing
    step from ``first_step`` (columns cut by ``offset``, as PathDelays): ``delay_ms``,
    the one-way delay over the quickest satellite whose path lands at the gateway, and
    ``via``, that satellite's window in the path stage's ``paths.windows``."""

    step_s: float
    windows: Windows
    first_step: np.ndarray
    offset: np.ndarray
    delay_ms: np.ndarray
    via: np.ndarray

    def delay_ms_at(self, window, t_s):
        """Return the one-way delay (ms) of anchor window(s) ``window`` at ``t_s``, held
        from the last routing step at or before ``t_s`` (NaN outside the window)."""
        return held_at(self.delay_ms, self.first_step, self.offset, self.step_s, window, t_s)

    def samples(self, window: int):
        """Return ``(t_s, delay_ms, via)`` of anchor window ``window``."""
        a, b = int(self.offset[window]), int(self.offset[window + 1])
        t_s = (self.first_step[window] + np.arange(b - a)) * self.step_s
        return t_s, self.delay_ms[a:b], self.via[a:b]

    def rtt_s(self, gateway, terminal, t_s) -> np.ndarray:
        """Return the round trip (s, twice the one-way delay) over anchor ``gateway[k]`` of
        ``terminal[k]`` at ``t_s[k]`` (arrays of one length): the timing model's RTT
        when the access point is a gateway. A time outside that pair's windows (an LM
        update a little after LOS) takes the nearest window's nearest step."""
        gateway, terminal = np.asarray(gateway, np.int64), np.asarray(terminal, np.int64)
        t_s = np.asarray(t_s, float)
        out = np.empty(len(t_s))
        w = self.windows
        for g, m in set(zip(gateway.tolist(), terminal.tolist())):
            mine = np.flatnonzero((w.sat == g) & (w.site == m))
            mine = mine[np.argsort(w.aos_s[mine], kind="stable")]
            sel = (gateway == g) & (terminal == m)
            k = mine[np.clip(np.searchsorted(w.aos_s[mine], t_s[sel], side="right") - 1,
                             0, len(mine) - 1)]
            j = np.floor(t_s[sel] / self.step_s + 1e-9).astype(np.int64) - self.first_step[k]
            j = np.clip(j, 0, self.offset[k + 1] - self.offset[k] - 1)
            out[sel] = 2e-3 * self.delay_ms[self.offset[k] + j]
        return out


def paths_to_each_gateway(model, terminals, terminal_windows, paths, *,
                          workers: int | None = None) -> list:
    """Return one :class:`~sigma_sn.path.route.PathDelays` per gateway that ``paths``
    (the path stage over ``model``, ``terminals`` and ``terminal_windows``) ever lands
    at: every terminal window's delay over the quickest route to that gateway alone
    (``[paths]`` itself when no route lands anywhere: no anchor windows then)."""
    from sigma_sn.path.route import compute_paths

    return [compute_paths(model.to_gateway(g), terminals, terminal_windows, workers=workers)
            for g in np.unique(paths.gateway[paths.gateway >= 0]).tolist()] or [paths]


def anchor_windows(paths) -> AnchorWindows:
    """Return the :class:`AnchorWindows` of ``paths``: a
    :class:`~sigma_sn.path.route.PathDelays` (each sample at the gateway its route lands
    at) or a list of them over the same windows (:func:`paths_to_each_gateway`). A
    window starts at its first member's AOS when that is the member's first step, else
    on the step; it ends at the last step's end or its members' LOS, whichever is
    first."""
    every = list(paths) if isinstance(paths, (list, tuple)) else [paths]
    first = every[0]
    tw = first.windows
    step_s = float(first.step_s)
    cols = (np.ascontiguousarray(tw.aos_s, np.float64), np.ascontiguousarray(tw.los_s, np.float64),
            np.ascontiguousarray(tw.max_elev_deg, np.float64),
            np.ascontiguousarray(first.first_step, np.int64))
    counts = np.diff(first.offset)
    # one terminal at a time: its samples under every gateway fit in memory where all
    # terminals' would not (a day of a hundred terminals has 80 M samples a gateway)
    by_term = np.argsort(tw.site, kind="stable")
    bounds = np.searchsorted(tw.site[by_term], np.arange(len(tw.site_names) + 1))
    parts = []
    for m in range(len(tw.site_names)):
        wins = by_term[bounds[m]:bounds[m + 1]]
        c = counts[wins]
        if not c.sum():
            continue
        starts = np.repeat(first.offset[wins], c)
        idx = starts + np.arange(c.sum()) - np.repeat(np.cumsum(c) - c, c)
        win1 = np.repeat(wins.astype(np.int64), c)
        step1 = idx - starts + np.repeat(first.first_step[wins], c)
        gw = np.concatenate([p.gateway[idx] for p in every]).astype(np.int64)
        delay = np.concatenate([p.delay_ms[idx] for p in every]).astype(np.float64)
        ok = (gw >= 0) & np.isfinite(delay)
        win, step = np.tile(win1, len(every))[ok], np.tile(step1, len(every))[ok]
        gw, delay = gw[ok], delay[ok]
        # by (gateway, step, window): each run's steps in order, a step's candidates in
        # window order so that ties go to the same one every time. One key and a stable
        # sort: one gateway's samples come window after window already
        order = np.argsort(gw * (int(step.max(initial=0)) + 1) + step, kind="stable")
        parts.append(_runs(np.full(len(order), m, np.int64), gw[order], step[order],
                           win[order], delay[order], *cols, step_s))
    if not parts:
        empty = np.zeros(0, np.int64)
        parts.append(_runs(empty, empty, empty, empty, np.zeros(0), *cols, step_s))
    a_term, a_gw, a_aos, a_los, a_elev, a_first = (np.concatenate([p[k] for p in parts])
                                                   for k in range(6))
    shift = np.cumsum([0] + [p[6][-1] for p in parts[:-1]])
    a_off = np.concatenate([[0]] + [p[6][1:] + d for p, d in zip(parts, shift)]).astype(np.int64)
    s_delay = np.concatenate([p[7] for p in parts])
    s_via = np.concatenate([p[8] for p in parts])
    names = tuple(first.gateway_names)
    duration_s = float(tw.duration_s)
    windows = Windows(tw.epoch, duration_s, names, tuple(0 for _ in names), tw.site_names,
                      sat=a_gw, site=a_term, aos_s=a_aos, tca_s=0.5 * (a_aos + a_los),
                      los_s=a_los, max_elev_deg=a_elev, aos_truncated=a_aos <= 0.0,
                      los_truncated=a_los >= duration_s)
    return AnchorWindows(step_s, windows, a_first, a_off, s_delay, s_via)


@njit
def _runs(term, gw, step, win, delay, aos, los, max_elev, win_first, step_s):
    """The anchor windows of samples sorted by (terminal, gateway, step, window), and per
    window and step the chosen sample's delay and window: the quickest, the one chosen
    at the step before unless another is strictly quicker."""
    n = len(term)
    r_term, r_gw = np.empty(n, np.int64), np.empty(n, np.int64)
    r_aos, r_los, r_elev = np.empty(n), np.empty(n), np.empty(n)
    r_first, r_off = np.empty(n, np.int64), np.zeros(n + 1, np.int64)
    s_delay, s_via = np.empty(n), np.empty(n, np.int64)
    runs, cells = 0, 0
    i = 0
    prev_via = -1
    while i < n:
        j = i   # the cell: all candidates of one (terminal, gateway, step)
        while j < n and term[j] == term[i] and gw[j] == gw[i] and step[j] == step[i]:
            j += 1
        new_run = (runs == 0 or term[i] != r_term[runs - 1] or gw[i] != r_gw[runs - 1]
                   or step[i] != step[i - 1] + 1)
        t0, t1 = step[i] * step_s, (step[i] + 1) * step_s
        if new_run:
            r_term[runs], r_gw[runs], r_first[runs] = term[i], gw[i], step[i]
            r_off[runs] = cells
            r_aos[runs], r_elev[runs] = t0, -90.0
            for q in range(i, j):   # a member's first step stands for it from its AOS
                if step[q] == win_first[win[q]] and aos[win[q]] < r_aos[runs]:
                    r_aos[runs] = aos[win[q]]
            runs += 1
            prev_via = -1
        r = runs - 1
        best = i
        stay = -1
        for q in range(i, j):
            if delay[q] < delay[best]:
                best = q
            if win[q] == prev_via:
                stay = q
            if max_elev[win[q]] > r_elev[r]:
                r_elev[r] = max_elev[win[q]]
        if stay >= 0 and not delay[best] < delay[stay]:
            best = stay
        s_delay[cells], s_via[cells] = delay[best], win[best]
        prev_via = win[best]
        end = 0.0   # the run ends with this step, or with its members' LOS
        for q in range(i, j):
            e = los[win[q]] if los[win[q]] < t1 else t1
            if e > end:
                end = e
        r_los[r] = end
        cells += 1
        r_off[runs] = cells
        i = j
    return (r_term[:runs], r_gw[:runs], r_aos[:runs], r_los[:runs], r_elev[:runs],
            r_first[:runs], r_off[:runs + 1], s_delay[:cells], s_via[:cells])


def path_changes(aw: AnchorWindows, window: int, from_s: float, to_s: float):
    """Yield ``(t_s, via_from, via_to, delay_from_ms, delay_to_ms)`` for each change of
    satellite window under anchor window ``window`` strictly inside ``[from_s, to_s)``
    (a serving interval): the routing steps where the quickest path moves to another
    satellite."""
    t, d, via = aw.samples(window)
    for k in np.flatnonzero(via[1:] != via[:-1]) + 1:
        if from_s < t[k] < to_s:
            yield float(t[k]), int(via[k - 1]), int(via[k]), float(d[k - 1]), float(d[k])


__all__ = ["AnchorWindows", "anchor_windows", "path_changes", "paths_to_each_gateway"]
