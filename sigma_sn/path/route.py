"""Paths over time: per routing step, each candidate serving satellite's delay to the
correspondent, and from it each terminal's path delay over every satellite it sees.

One step's graph: satellites that see a gateway start at downlink + fibre (the best
gateway's), and in ``isl`` mode +Grid links (delay = length / c, down beyond the range
limit or, between planes, beyond the polar cut-off) carry that to every other
satellite; Dijkstra from those starts (the few gateways, not every satellite) gives
every satellite's distance at once. A terminal over satellite ``s`` then adds its
uplink. Links to the ground come from visibility windows, so they use the same masks
as the planner. Positions at each step come from a cubic Hermite interpolant of SGP4
on the coarse grid (as :mod:`sigma_sn.visibility` does; under a metre at 60 s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sigma_sn.geometry import C_KM_S
from sigma_sn.path.config import Isl, PathMode
from sigma_sn.path.ground import Correspondent, Fibre, gateway_fibre_s
from sigma_sn.path.grid import Grid, grid_of
from sigma_sn.path.kernel import cheapest_downlink, dijkstra_steps, hermite_positions, isl_weights, ranges_km
from sigma_sn.propagate import Epoch, propagate
from sigma_sn.sites import itrs_km
from sigma_sn.visibility import Windows, find_windows, time_grid


@dataclass(frozen=True)
class PathDelays:
    """Path delay per (terminal window, routing step), as flat columns.

    Window ``i`` of ``windows`` (one terminal, one satellite) has ``offset[i+1] -
    offset[i]`` samples, at steps ``first_step[i], first_step[i] + 1, …`` (times
    ``step * step_s``: the steps inside ``[AOS, LOS)``). For each sample:
    ``delay_ms`` one way terminal → satellite → (ISLs) → gateway → fibre →
    correspondent (NaN where no gateway can be reached), ``hops`` the radio and laser
    links crossed (2 for a bent pipe; 0 when unreachable) and ``gateway`` the index into
    ``gateway_names`` of the gateway the path lands at (-1 when unreachable).
    """

    mode: PathMode
    step_s: float
    windows: Windows
    gateway_names: tuple[str, ...]
    correspondent: Correspondent
    first_step: np.ndarray
    offset: np.ndarray
    delay_ms: np.ndarray
    hops: np.ndarray
    gateway: np.ndarray

    def samples(self, window: int):
        """Return ``(t_s, delay_ms, hops, gateway)`` of window ``window``."""
        a, b = int(self.offset[window]), int(self.offset[window + 1])
        t_s = (self.first_step[window] + np.arange(b - a)) * self.step_s
        return t_s, self.delay_ms[a:b], self.hops[a:b], self.gateway[a:b]

    def delay_ms_at(self, window, t_s):
        """Return the one-way delay (ms) of window(s) ``window`` at ``t_s``, held from the
        last routing step at or before ``t_s`` (NaN outside the window)."""
        window = np.asarray(window)
        k = np.floor(np.asarray(t_s, float) / self.step_s + 1e-9).astype(np.int64)
        j = k - self.first_step[window]
        n = self.offset[window + 1] - self.offset[window]
        inside = (j >= 0) & (j < n)
        idx = np.where(inside, self.offset[window] + j, 0)
        return np.where(inside, self.delay_ms[idx] if len(self.delay_ms) else np.nan, np.nan)


class PathModel:
    """Everything about a run's paths that does not depend on the terminals: the coarse
    ephemeris, the +Grid, the gateways' windows and fibre. :meth:`step_graph` gives one
    routing step's graph; :func:`compute_paths` sweeps it over the whole run."""

    def __init__(self, satellites, gateways, correspondent: Correspondent, start_utc,
                 duration_s: float, *, mode: PathMode, min_elev_deg: float = 0.0,
                 fibre: Fibre = Fibre(), isl: Isl = Isl(), step_s: float = 1.0,
                 coarse_step_s: float = 60.0, gateway_windows: Windows | None = None,
                 workers: int | None = None):
        if not step_s > 0:
            raise ValueError(f"step_s must be > 0, got {step_s}")
        self.satellites = list(satellites)
        self.gateways = tuple(gateways)
        self.correspondent = correspondent
        self.mode = mode
        self.step_s = float(step_s)
        self.duration_s = float(duration_s)
        self.n_steps = int(np.floor(self.duration_s / self.step_s + 1e-9)) + 1
        self.epoch = Epoch.at(start_utc)
        self.t_coarse = time_grid(self.duration_s, coarse_step_s)
        eph = propagate([s.satrec for s in self.satellites], self.epoch, self.t_coarse)
        # (time, sat, xyz): one time's satellites side by side for the interpolation
        self._pos = np.ascontiguousarray(eph.pos_itrs_km.transpose(1, 0, 2))
        self._vel = np.ascontiguousarray(eph.vel_itrs_km_s.transpose(1, 0, 2))
        self.isl = isl
        if mode is PathMode.ISL:
            self.grid = grid_of(self.satellites, self.epoch, plane_tol_deg=isl.plane_tol_deg)
        else:
            empty = np.zeros(0, np.int64)
            self.grid = Grid(empty, empty, empty, empty, np.zeros(0, bool))
        n_sat = len(self.satellites)
        ends = np.concatenate([self.grid.a, self.grid.b])
        order = np.argsort(ends, kind="stable")
        self.adj_nbr = np.concatenate([self.grid.b, self.grid.a])[order]
        self.adj_edge = np.tile(np.arange(len(self.grid.a)), 2)[order]
        self.adj_ptr = np.searchsorted(ends[order], np.arange(n_sat + 1))
        if gateway_windows is None:
            gateway_windows = find_windows(self.satellites, self.gateways, self.epoch.start_utc,
                                           self.duration_s, min_elev_deg=min_elev_deg,
                                           step_s=coarse_step_s, workers=workers)
        self.gateway_windows = gateway_windows
        self.gw_pos_km = itrs_km(self.gateways)
        self.gw_fibre_s = gateway_fibre_s(self.gateways, correspondent, fibre)
        self._gw_span = _step_span(gateway_windows, self.step_s, self.n_steps)

    # ------------------------------------------------------------------ geometry
    def positions_km(self, steps) -> np.ndarray:
        """Return ITRS positions ``(len(steps), n_sat, 3)`` at routing ``steps``."""
        t = np.asarray(steps, float) * self.step_s
        out = np.empty((len(t), len(self.satellites), 3))
        hermite_positions(self._pos, self._vel, self.t_coarse, t, out)
        return out

    def isl_weight_s(self, pos_km) -> np.ndarray:
        """Return each +Grid link's delay (s) per step, ``(n_step, n_edge)``, ``inf`` when
        the link is down (too long, or between planes beyond the polar cut-off)."""
        g = self.grid
        out = np.empty((pos_km.shape[0], len(g.a)))
        isl_weights(pos_km, g.a, g.b, g.cross, self.isl.max_range_km,
                    np.sin(np.radians(self.isl.polar_cutoff_deg)), C_KM_S, out)
        return out

    def downlink_start(self, k0: int, k1: int, pos_km):
        """Return each satellite's best downlink + fibre (s), ``(k1-k0, n_sat)`` (``inf``
        where no gateway is in view) and that gateway's index (-1)."""
        n_sat = len(self.satellites)
        win, step = _samples(self._gw_span, k0, k1)
        sat = self.gateway_windows.sat[win]
        gw = self.gateway_windows.site[win]
        rng = ranges_km(pos_km, step - k0, sat, self.gw_pos_km, gw)
        cost = rng / C_KM_S + self.gw_fibre_s[gw]
        dist = np.full((k1 - k0, n_sat), np.inf)
        root = np.full((k1 - k0, n_sat), -1, np.int16)
        cheapest_downlink(step - k0, sat, gw.astype(np.int16), cost, dist, root)
        return dist, root

    def distances(self, k0: int, k1: int, pos_km=None, need=None):
        """Return every satellite's one-way delay (s) to the correspondent at steps
        ``k0 … k1-1``, its link count and gateway: three ``(k1-k0, n_sat)`` arrays.
        With ``need`` (bool, same shape) only the marked entries are final."""
        if pos_km is None:
            pos_km = self.positions_km(np.arange(k0, k1))
        dist, root = self.downlink_start(k0, k1, pos_km)
        hops = np.where(root >= 0, 1, 0).astype(np.int16)
        if len(self.grid.a):
            if need is None:
                need = np.ones(dist.shape, bool)
            dijkstra_steps(self.adj_ptr, self.adj_nbr, self.adj_edge,
                           self.isl_weight_s(pos_km), dist, hops, root, need)
        return dist, hops, root


def _step_span(windows: Windows, step_s: float, n_steps: int):
    """Return the first and one-past-last routing step inside each window's [AOS, LOS)."""
    first = np.clip(np.ceil(windows.aos_s / step_s - 1e-9), 0, n_steps).astype(np.int64)
    end = np.clip(np.ceil(windows.los_s / step_s - 1e-9), 0, n_steps).astype(np.int64)
    return first, np.maximum(end, first)


def _samples(span, k0: int, k1: int):
    """Return ``(window, step)`` of every sample of the windows within steps [k0, k1)."""
    first, end = span
    a, b = np.maximum(first, k0), np.minimum(end, k1)
    live = np.flatnonzero(b > a)
    n = b[live] - a[live]
    win = np.repeat(live, n)
    starts = np.cumsum(n) - n
    step = np.arange(int(n.sum())) - np.repeat(starts - a[live], n)
    return win, step


def compute_paths(model: PathModel, terminals, terminal_windows: Windows, *,
                  chunk_steps: int = 600, progress=None) -> PathDelays:
    """Return the path delay of every terminal window at every routing step inside it.

    ``terminal_windows`` are the terminals' windows over ``model``'s satellites (the
    ones the planner reads), ``terminals`` the sites they were found for.
    """
    span = _step_span(terminal_windows, model.step_s, model.n_steps)
    counts = span[1] - span[0]
    offset = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    delay_ms = np.full(int(offset[-1]), np.nan, np.float32)
    hops = np.zeros(int(offset[-1]), np.int16)
    gateway = np.full(int(offset[-1]), -1, np.int16)
    term_pos = itrs_km(terminals)
    for k0 in range(0, model.n_steps, chunk_steps):
        k1 = min(k0 + chunk_steps, model.n_steps)
        pos = model.positions_km(np.arange(k0, k1))
        win, step = _samples(span, k0, k1)
        sat = terminal_windows.sat[win]
        need = np.zeros((k1 - k0, len(model.satellites)), bool)
        need[step - k0, sat] = True
        dist, hop, root = model.distances(k0, k1, pos, need)
        up = ranges_km(pos, step - k0, sat, term_pos, terminal_windows.site[win])
        at = offset[win] + step - span[0][win]
        reach = root[step - k0, sat] >= 0
        delay_ms[at] = np.where(reach, (up / C_KM_S + dist[step - k0, sat]) * 1000.0, np.nan)
        hops[at] = np.where(reach, hop[step - k0, sat] + 1, 0)
        gateway[at] = root[step - k0, sat]
        if progress is not None:
            progress.advance(k1 - k0)
    return PathDelays(model.mode, model.step_s, terminal_windows,
                      tuple(g.name for g in model.gateways), model.correspondent,
                      span[0], offset, delay_ms, hops, gateway)


def shortest_step_scipy(n_sat: int, grid: Grid, weight_s, start_s):
    """Reference for one step with scipy.sparse.csgraph: distances (s) from the ground
    (``start_s``: per satellite downlink + fibre, ``inf`` if none) over links of delay
    ``weight_s`` ``(n_edge,)``. Returns ``(dist_s, predecessor)``; a satellite whose
    predecessor is ``n_sat`` goes straight down."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    up = np.isfinite(weight_s)
    starts = np.flatnonzero(np.isfinite(start_s))
    src = n_sat
    rows = np.concatenate([grid.a[up], grid.b[up], np.full(len(starts), src)])
    cols = np.concatenate([grid.b[up], grid.a[up], starts])
    vals = np.concatenate([weight_s[up], weight_s[up], start_s[starts]])
    graph = csr_matrix((vals, (rows, cols)), shape=(n_sat + 1, n_sat + 1))
    dist, pred = dijkstra(graph, directed=True, indices=src, return_predecessors=True)
    return dist[:n_sat], pred[:n_sat]


def route_at(model: PathModel, step: int, sat: int):
    """Return the satellites a path from ``sat`` crosses at routing ``step`` (``sat``
    first, the one that goes down last) and the gateway index, or ``([], -1)``."""
    pos = model.positions_km([step])
    start, root = model.downlink_start(step, step + 1, pos)
    weight = (model.isl_weight_s(pos)[0] if len(model.grid.a)
              else np.zeros(0))
    _, pred = shortest_step_scipy(len(model.satellites), model.grid, weight, start[0])
    n_sat = len(model.satellites)
    if pred[sat] < 0:
        return [], -1
    hops = [sat]
    while pred[hops[-1]] != n_sat:
        hops.append(int(pred[hops[-1]]))
    return hops, int(root[0, hops[-1]])
