"""Paths over time: per routing step, each candidate serving satellite's delay to the
correspondent, and from it each terminal's path delay over every satellite it sees.

One step's graph: satellites that see a gateway start at downlink + fibre (the best
gateway's), and in ``isl`` mode +Grid links (delay = length / c, down beyond the range
limit or, between planes, beyond the polar cut-off) carry that to every other
satellite; Dijkstra from those starts (the few gateways, not every satellite) gives
every satellite's distance at once. A terminal over satellite ``s`` then adds its
uplink. Links to the ground come from visibility windows, so they use the same masks
as the planner. Positions at each step come from a cubic Hermite interpolant of SGP4
on a coarse grid (as :mod:`sigma_sn.visibility` does): at 120 s it stays within some
10 m of SGP4 in LEO (a test holds it), 30 ns of delay.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass

import numpy as np

from sigma_sn.forked import ForkedMap, can_fork, shared_array
from sigma_sn.geometry import C_KM_S
from sigma_sn.path.config import Isl, PathMode
from sigma_sn.path.ground import Correspondent, Fibre, gateway_fibre_s
from sigma_sn.path.grid import Grid, grid_of
from sigma_sn.path.kernel import (dijkstra_isl_steps, downlink_starts, hermite_positions,
                                  isl_weights, terminal_samples)
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
        return held_at(self.delay_ms, self.first_step, self.offset, self.step_s, window, t_s)


def held_at(values, first_step, offset, step_s: float, window, t_s):
    """Return ``values`` (one column per window, cut by ``offset``, sampled at routing
    steps from ``first_step``) of window(s) ``window`` at ``t_s``: held from the last step
    at or before ``t_s``, NaN outside the window."""
    window = np.asarray(window)
    k = np.floor(np.asarray(t_s, float) / step_s + 1e-9).astype(np.int64)
    j = k - first_step[window]
    n = offset[window + 1] - offset[window]
    inside = (j >= 0) & (j < n)
    idx = np.where(inside, offset[window] + j, 0)
    return np.where(inside, values[idx] if len(values) else np.nan, np.nan)


class PathModel:
    """Everything about a run's paths that does not depend on the terminals: the coarse
    ephemeris, the +Grid, the gateways' windows and fibre. :meth:`step_graph` gives one
    routing step's graph; :func:`compute_paths` sweeps it over the whole run."""

    def __init__(self, satellites, gateways, correspondent: Correspondent, start_utc,
                 duration_s: float, *, mode: PathMode, min_elev_deg: float = 0.0,
                 fibre: Fibre = Fibre(), isl: Isl = Isl(), step_s: float = 1.0,
                 coarse_step_s: float = 120.0, gateway_windows: Windows | None = None,
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
        # the whole run's coarse ephemeris, made when first asked for: compute_paths's
        # workers propagate only their chunks' samples, in parallel (_chunk_positions_km)
        self._coarse = None
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
                                           chunk_cells=_GATEWAY_CHUNK_CELLS, workers=workers)
        self.gateway_windows = gateway_windows
        self.gw_pos_km = itrs_km(self.gateways)
        self.gw_fibre_s = gateway_fibre_s(self.gateways, correspondent, fibre)
        self._gw_span = _step_span(gateway_windows, self.step_s, self.n_steps)

    # ------------------------------------------------------------------ geometry
    def positions_km(self, steps) -> np.ndarray:
        """Return ITRS positions ``(len(steps), n_sat, 3)`` at routing ``steps``."""
        t = np.asarray(steps, float) * self.step_s
        out = np.empty((len(t), len(self.satellites), 3))
        if self._coarse is None:
            self._coarse = self._propagate(self.t_coarse)
        hermite_positions(*self._coarse, self.t_coarse, t, out)
        return out

    def _propagate(self, t_s):
        """Positions and velocities ``(time, sat, xyz)`` (one time's satellites side by
        side for the interpolation) at coarse times ``t_s``."""
        eph = propagate([s.satrec for s in self.satellites], self.epoch, t_s)
        return (np.ascontiguousarray(eph.pos_itrs_km.transpose(1, 0, 2)),
                np.ascontiguousarray(eph.vel_itrs_km_s.transpose(1, 0, 2)))

    def _chunk_positions_km(self, k0: int, k1: int, out) -> np.ndarray:
        """:meth:`positions_km` of steps ``k0 … k1-1`` into ``out``, from just the coarse
        samples around them if the whole run's are not made (each sample is SGP4 at its
        own time, so a slice of them is bit for bit the whole run's). One sample more
        on each side keeps the interpolation on the intervals the whole grid picks."""
        t = np.arange(k0, k1, dtype=float) * self.step_s
        if self._coarse is not None:
            hermite_positions(*self._coarse, self.t_coarse, t, out)
            return out
        j0 = max(int(np.searchsorted(self.t_coarse, t[0], side="right")) - 2, 0)
        j1 = min(int(np.searchsorted(self.t_coarse, t[-1], side="left")) + 2,
                 len(self.t_coarse))
        grid = self.t_coarse[j0:j1]
        hermite_positions(*self._propagate(grid), grid, t, out)
        return out

    def isl_weight_s(self, pos_km) -> np.ndarray:
        """Return each +Grid link's delay (s) per step, ``(n_step, n_edge)``, ``inf`` when
        the link is down (too long, or between planes beyond the polar cut-off)."""
        g = self.grid
        out = np.empty((pos_km.shape[0], len(g.a)))
        isl_weights(pos_km, g.a, g.b, g.cross, self.isl.max_range_km,
                    np.sin(np.radians(self.isl.polar_cutoff_deg)), C_KM_S, out)
        return out

    def downlink_start(self, k0: int, k1: int, pos_km, out=None):
        """Return each satellite's best downlink + fibre (s), ``(k1-k0, n_sat)`` (``inf``
        where no gateway is in view) and that gateway's index (-1); into ``out`` (two
        arrays) if given."""
        n_sat = len(self.satellites)
        if out is None:
            out = np.empty((k1 - k0, n_sat)), np.empty((k1 - k0, n_sat), np.int16)
        dist, root = out
        dist.fill(np.inf)
        root.fill(-1)
        first, end = self._gw_span
        downlink_starts(first, end, self.gateway_windows.sat, self.gateway_windows.site, k0,
                        pos_km, self.gw_pos_km, self.gw_fibre_s, C_KM_S, dist, root)
        return dist, root

    def to_gateway(self, gateway: int) -> "PathModel":
        """Return this model with every gateway but ``gateway`` (an index into
        :attr:`gateways`) closed: each satellite's quickest route that lands there, the
        gateway indices unchanged (a gateway anchor routes to its gateway, not the
        best one)."""
        out = copy.copy(self)
        out.gateway_windows = self.gateway_windows.select(self.gateway_windows.site == gateway)
        out._gw_span = _step_span(out.gateway_windows, self.step_s, self.n_steps)
        return out

    def distances(self, k0: int, k1: int, pos_km=None, out=None):
        """Return every satellite's one-way delay (s) to the correspondent at steps
        ``k0 … k1-1``, its link count and gateway: three ``(k1-k0, n_sat)`` arrays (into
        ``out``, three arrays, if given)."""
        if pos_km is None:
            pos_km = self.positions_km(np.arange(k0, k1))
        if out is None:
            n_sat = len(self.satellites)
            out = (np.empty((k1 - k0, n_sat)), np.empty((k1 - k0, n_sat), np.int16),
                   np.empty((k1 - k0, n_sat), np.int16))
        dist, hops, root = out
        self.downlink_start(k0, k1, pos_km, (dist, root))
        np.greater_equal(root, 0, out=hops, casting="unsafe")   # 1: straight down
        if len(self.grid.a):
            g = self.grid
            dijkstra_isl_steps(self.adj_ptr, self.adj_nbr, self.adj_edge, pos_km, g.a, g.b,
                               g.cross, self.isl.max_range_km,
                               np.sin(np.radians(self.isl.polar_cutoff_deg)), C_KM_S, dist,
                               hops, root)
        return dist, hops, root


#: (satellite, gateway, grid time) cells per chunk of the gateways' windows: a quarter
#: of find_windows's default. The same windows bit for bit, and on shell 1 x 36 gateways
#: x 24 h some 25 % less CPU (its per-chunk arrays stay in cache) and more chunks to share
#: between two workers (9, against 3).
_GATEWAY_CHUNK_CELLS = 10_000_000


def _step_span(windows: Windows, step_s: float, n_steps: int):
    """Return the first and one-past-last routing step inside each window's [AOS, LOS)
    (a pass still in progress at the end also takes the last step)."""
    first = np.clip(np.ceil(windows.aos_s / step_s - 1e-9), 0, n_steps).astype(np.int64)
    end = np.clip(np.ceil(windows.los_s / step_s - 1e-9), 0, n_steps).astype(np.int64)
    end[windows.los_truncated.astype(bool)] = n_steps
    return first, np.maximum(end, first)


def compute_paths(model: PathModel, terminals, terminal_windows: Windows, *,
                  chunk_steps: int = 600, workers: int | None = None,
                  progress=None) -> PathDelays:
    """Return the path delay of every terminal window at every routing step inside it.

    ``terminal_windows`` are the terminals' windows over ``model``'s satellites (the
    ones the planner reads), ``terminals`` the sites they were found for. ``workers``
    processes (default: one per core) take the chunks of ``chunk_steps`` steps in turn
    and write into shared memory; the result does not depend on their number.
    """
    span = _step_span(terminal_windows, model.step_s, model.n_steps)
    counts = span[1] - span[0]
    offset = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n = int(offset[-1])
    starts = list(range(0, model.n_steps, chunk_steps))
    workers = min(os.cpu_count() or 1 if workers is None else workers, len(starts))
    parallel = can_fork(workers)
    delay_ms = shared_array(n, np.float32, parallel)
    hops = shared_array(n, np.int16, parallel)
    gateway = shared_array(n, np.int16, parallel)
    job = (model, itrs_km(terminals), terminal_windows.sat, terminal_windows.site, span,
           offset, chunk_steps, delay_ms, hops, gateway)
    if parallel:
        global _JOB
        _JOB = job
        try:
            with ForkedMap(_chunk_job, starts, workers) as results:
                for done in results:
                    if progress is not None:
                        progress.advance(done)
        finally:
            _JOB = None
    else:
        for k0 in starts:
            done = _chunk_job(k0, job)
            if progress is not None:
                progress.advance(done)
    return PathDelays(model.mode, model.step_s, terminal_windows,
                      tuple(g.name for g in model.gateways), model.correspondent,
                      span[0], offset, delay_ms, hops, gateway)


_JOB = None


def _chunk_job(k0: int, job=None) -> int:
    """Fill the terminal samples of routing steps ``k0 … k0 + chunk - 1``."""
    (model, term_pos, sat, site, span, offset, chunk_steps, delay_ms, hops,
     gateway) = job or _JOB
    k1 = min(k0 + chunk_steps, model.n_steps)
    n_sat = len(model.satellites)
    # the same buffers for every chunk of a process: fresh ones cost their pages again
    # every chunk (faulted in and zeroed by the kernel: a third of the routing's CPU)
    pos = model._chunk_positions_km(k0, k1,
                                    _scratch("pos", (chunk_steps, n_sat, 3), float)[:k1 - k0])
    dist, hop, root = model.distances(k0, k1, pos, tuple(
        _scratch(name, (chunk_steps, n_sat), dtype)[:k1 - k0]
        for name, dtype in (("dist", float), ("hops", np.int16), ("root", np.int16))))
    terminal_samples(span[0], span[1], sat, site, offset, k0, pos, term_pos, C_KM_S,
                     dist, hop, root, delay_ms, hops, gateway)
    return k1 - k0


_SCRATCH: dict = {}


def _scratch(name: str, shape: tuple, dtype) -> np.ndarray:
    """This process's buffer ``name`` of ``shape`` (kept from the last call if it fits)."""
    buf = _SCRATCH.get(name)
    if buf is None or buf.shape != shape or buf.dtype != np.dtype(dtype):
        buf = _SCRATCH[name] = np.empty(shape, dtype)
    return buf


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


@dataclass(frozen=True)
class Route:
    """One path at one routing step, as points to draw: the satellites' sub-points in
    path order (serving satellite first), the gateway and the correspondent."""

    t_s: float
    sat_names: tuple[str, ...]
    sat_lat_deg: np.ndarray
    sat_lon_deg: np.ndarray
    gateway: str
    gateway_lat_lon_deg: tuple[float, float]
    correspondent: Correspondent


def route_points(model: PathModel, step: int, sat: int) -> Route | None:
    """Return the route from satellite ``sat`` at routing ``step`` as a :class:`Route`
    (None when it reaches no gateway)."""
    sats, gw = route_at(model, step, sat)
    if not sats:
        return None
    from sigma_sn.geometry import subpoint_deg

    lat, lon = subpoint_deg(model.positions_km([step])[0, sats])
    g = model.gateways[gw]
    return Route(step * model.step_s, tuple(model.satellites[i].name for i in sats), lat, lon,
                 g.name, (g.lat_deg, g.lon_deg), model.correspondent)


def model_for_scenario(scenario, satellites, *, workers: int | None = None) -> PathModel:
    """Return the :class:`PathModel` of a scenario's ``[path]`` section
    (:attr:`sigma_sn.scenario.Scenario.path_config`) over ``satellites``: its gateways,
    correspondent, fibre and ISLs, the scenario's window and mask."""
    from sigma_sn.sites import read_sites_csv

    cfg = scenario.path_config
    if cfg is None:
        raise ValueError(f"{scenario.path}: no [path] section")
    return PathModel(satellites, read_sites_csv(cfg.gateways_file), cfg.correspondent,
                     scenario.start_utc, scenario.duration_s, mode=cfg.mode,
                     min_elev_deg=scenario.min_elev_deg, fibre=cfg.fibre, isl=cfg.isl,
                     step_s=cfg.step_s, workers=workers)
