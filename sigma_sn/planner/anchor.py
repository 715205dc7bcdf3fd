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
    from numba.typed import List

    every = list(paths) if isinstance(paths, (list, tuple)) else [paths]
    first = every[0]
    tw = first.windows
    step_s = float(first.step_s)
    n_gw, n_steps = len(first.gateway_names), int(first.first_step.max(initial=0)
                                                   + np.diff(first.offset).max(initial=0)) + 1
    delays, gateways = List(), List()
    for p in every:
        delays.append(np.ascontiguousarray(p.delay_ms, np.float32))
        gateways.append(np.ascontiguousarray(p.gateway, np.int16))
    cols = (np.ascontiguousarray(first.offset, np.int64),
            np.ascontiguousarray(first.first_step, np.int64),
            np.ascontiguousarray(tw.aos_s, np.float64), np.ascontiguousarray(tw.los_s, np.float64),
            np.ascontiguousarray(tw.max_elev_deg, np.float64))
    # per (gateway, step) of one terminal, reused terminal after terminal
    work = (np.empty((n_gw, n_steps)), np.empty((n_gw, n_steps), np.int64),
            np.empty((n_gw, n_steps), np.int64), np.empty((n_gw, n_steps)),
            np.empty((n_gw, n_steps)), np.empty((n_gw, n_steps)))
    by_term = np.argsort(tw.site, kind="stable")
    bounds = np.searchsorted(tw.site[by_term], np.arange(len(tw.site_names) + 1))
    parts = [(np.full(len(got[0]), m, np.int64),) + got
             for m in range(len(tw.site_names))
             for got in [_anchor_terminal(by_term[bounds[m]:bounds[m + 1]].astype(np.int64),
                                          delays, gateways, *cols, step_s, *work)]]
    a_term, a_gw, a_aos, a_los, a_elev, a_first, counts, s_delay, s_via = (
        np.concatenate([p[k] for p in parts]) for k in range(9))
    a_off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    names = tuple(first.gateway_names)
    duration_s = float(tw.duration_s)
    windows = Windows(tw.epoch, duration_s, names, tuple(0 for _ in names), tw.site_names,
                      sat=a_gw, site=a_term, aos_s=a_aos, tca_s=0.5 * (a_aos + a_los),
                      los_s=a_los, max_elev_deg=a_elev, aos_truncated=a_aos <= 0.0,
                      los_truncated=a_los >= duration_s)
    return AnchorWindows(step_s, windows, a_first, a_off, s_delay, s_via)


@njit
def _anchor_terminal(wins, delays, gateways, offset, win_first, aos, los, max_elev, step_s,
                     best_d, best_a, best_w, start_t, end_t, elev):
    """The anchor windows of one terminal (its windows ``wins``, ascending) and per window
    and step the chosen sample's delay and window. Pass 1 puts every sample of every
    input in its (gateway, step) cell: the quickest (the first in input, window order on
    a tie), the earliest start (a member's AOS at its first step, else the step) and
    latest end (its LOS or the step's end) and the highest member. Pass 2 walks each
    gateway's steps: a run of filled cells is a window; in it the satellite chosen at
    the step before stays unless another is strictly quicker."""
    n_gw, n_steps = best_d.shape
    touched = np.zeros(n_gw, np.bool_)
    for a in range(len(delays)):
        delay, gw = delays[a], gateways[a]
        for w in wins:
            for i in range(offset[w], offset[w + 1]):
                g, d = gw[i], delay[i]
                if g < 0 or np.isnan(d):
                    continue
                if not touched[g]:
                    touched[g] = True
                    best_d[g, :], best_w[g, :] = np.inf, -1
                    start_t[g, :], end_t[g, :], elev[g, :] = np.inf, -np.inf, -90.0
                j = i - offset[w]
                s = win_first[w] + j
                t0 = s * step_s
                if d < best_d[g, s]:
                    best_d[g, s], best_a[g, s], best_w[g, s] = d, a, w
                begin = aos[w] if j == 0 else t0
                if begin < start_t[g, s]:
                    start_t[g, s] = begin
                e = los[w] if los[w] < t0 + step_s else t0 + step_s
                if e > end_t[g, s]:
                    end_t[g, s] = e
                if max_elev[w] > elev[g, s]:
                    elev[g, s] = max_elev[w]
    cap = int(touched.sum()) * n_steps
    r_gw, r_first, r_count = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(
        cap, np.int64)
    r_aos, r_los, r_elev = np.empty(cap), np.empty(cap), np.empty(cap)
    s_delay, s_via = np.empty(cap), np.empty(cap, np.int64)
    runs, cells = 0, 0
    for g in range(n_gw):
        if not touched[g]:
            continue
        prev_a, prev_w = -1, -1
        for s in range(n_steps):
            if best_w[g, s] < 0:
                prev_w = -1
                continue
            if prev_w < 0:  # a new run
                r_gw[runs], r_first[runs], r_count[runs] = g, s, 0
                r_aos[runs], r_elev[runs] = start_t[g, s], -90.0
                runs += 1
            r = runs - 1
            d, a, w = best_d[g, s], best_a[g, s], best_w[g, s]
            if prev_w >= 0:   # stay unless strictly quicker
                i = offset[prev_w] + s - win_first[prev_w]
                if (i < offset[prev_w + 1] and gateways[prev_a][i] == g
                        and not d < delays[prev_a][i]):
                    d, a, w = delays[prev_a][i], prev_a, prev_w
            s_delay[cells], s_via[cells] = d, w
            cells += 1
            r_count[r] += 1
            r_los[r] = end_t[g, s]
            if elev[g, s] > r_elev[r]:
                r_elev[r] = elev[g, s]
            prev_a, prev_w = a, w
    return (r_gw[:runs], r_aos[:runs], r_los[:runs], r_elev[:runs], r_first[:runs],
            r_count[:runs], s_delay[:cells], s_via[:cells])


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
