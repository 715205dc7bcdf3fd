"""The geometry of one plan: exact look angles of its satellites from its sites, batched.

Max-elevation and strongest-signal get their look angles from each satellite propagated
once on the decision grid for all mobiles (:meth:`Sky.grid_look`: SGP4 every
HERMITE_NODE_S, cubic Hermite between, with the error bound the walk allows for, and SGP4's
own where a decision lies within it, :meth:`Sky.exact_look`); the timing model's
round trips come from one vectorised SGP4 call per batch (:meth:`Sky.range_and_rate`).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np
from numba import types

from sigma_sn.forked import ForkedMap, can_fork, shared_array
from sigma_sn.geometry import C_KM_S, range_and_rate, topocentric
from sigma_sn.path.kernel import hermite_positions
from sigma_sn.planner.core import Timing
from sigma_sn.planner.jit import F8, load, njit
from sigma_sn.planner.kinds import Mode
from sigma_sn.propagate import DAY_S, Epoch, propagate_pairs
from sigma_sn.sites import enu_basis, itrs_km

_MU_KM3_S2 = 398600.4418
_POLAR_RADIUS_KM = 6356.752   # WGS84 b
#: the decision grid propagates SGP4 this often (s) and interpolates between: a sixth of
#: the SGP4 calls at 10 s steps. None: SGP4 at every sample
HERMITE_NODE_S: float | None = 60.0


def hermite_error_km(satrec, node_s: float) -> float:
    """Return a bound on the position error (km) of cubic Hermite interpolation between
    SGP4 positions and velocities ``node_s`` apart, or inf where none is known (only
    near-circular near-Earth orbits are interpolated).

    The error of cubic Hermite interpolation is at most h⁴/384 · max|x⁗| per component
    (h the node spacing). On a circular orbit of radius a and rate ω, |x⁗| = ω⁴a; an
    eccentricity e below 0.01 adds a harmonic of 2ω and amplitude about e·a (16ω⁴ea: at
    most 16 % more), SGP4's short-period terms about 2 %; twice ω⁴a is a bound, which
    tests/test_plan_workers.py checks against SGP4 itself (Starlink shell 1 over a day:
    0.34 m at 60 s, bound 0.67 m)."""
    if satrec.ecco >= 0.01 or satrec.method != "n" or satrec.no_kozai <= 0.0:
        return math.inf   # eccentric or deep-space (SDP4: lunar-solar terms): exact
    omega_rad_s = satrec.no_kozai / 60.0
    a_km = (_MU_KM3_S2 / omega_rad_s**2) ** (1.0 / 3.0)
    return 2.0 * (omega_rad_s * node_s) ** 4 / 384.0 * a_km * (1.0 + satrec.ecco)


class Sky:
    """The satellites and sites of one plan: exact look angles for any (satellite, site,
    time) triples, one vectorised SGP4 call per satellite."""

    def __init__(self, epoch: Epoch, duration_s: float, satellites: Sequence, sites: Sequence):
        self.epoch = epoch
        self.satrecs = [s.satrec for s in satellites]
        self.site_pos_km = itrs_km(sites)
        self.site_enu = enu_basis(sites)
        self._site_up = np.ascontiguousarray(self.site_enu[:, 2])
        # GMST is linear in time to far below 1 µs over a minute; events may fall a little
        # outside the window (an LM update after the end), hence the padding
        pad_s = 3600.0
        self.t_grid = np.arange(-pad_s, duration_s + pad_s + 60.0, 60.0)
        self.theta, self.theta_dot = epoch.gmst_rad(self.t_grid)
        self.duration_s = duration_s
        self._grid: dict[float, tuple[np.ndarray, np.ndarray, np.ndarray, bool]] = {}

    def theta_of(self, t_s):
        return (np.interp(t_s, self.t_grid, self.theta),
                np.interp(t_s, self.t_grid, self.theta_dot))

    def look(self, sat, site, t_s):
        """Return look angles of satellite ``sat[j]`` from site ``site[j]`` at ``t_s[j]``
        (NaN where SGP4 fails)."""
        t_s = np.asarray(t_s, float)
        pos, vel, _ = propagate_pairs(self.satrecs, np.asarray(sat), self.epoch, t_s,
                                      self.theta_of)
        site = np.asarray(site)
        return topocentric(pos, vel, self.site_pos_km[site], self.site_enu[site])

    def range_and_rate(self, sat, site, t_s) -> tuple[np.ndarray, np.ndarray]:
        """Return :meth:`look`'s range (km) and range rate (km/s), bit for bit, alone."""
        pos, vel, _ = propagate_pairs(self.satrecs, np.asarray(sat), self.epoch,
                                      np.asarray(t_s, float), self.theta_of)
        site = np.asarray(site)
        return range_and_rate(pos, vel, self.site_pos_km[site], self.site_enu[site])

    def _teme_km(self, sat: int, t_s: np.ndarray) -> np.ndarray:
        """TEME positions of one satellite at ``t_s`` (NaN where SGP4 fails)."""
        jd = np.full(t_s.shape, self.epoch.jd_utc)
        return self.satrecs[sat].sgp4_array(jd, self.epoch.fr_utc + t_s / DAY_S)[1]

    def _elev_range(self, r, t_s, site_pos, up_vec):
        theta = np.interp(t_s, self.t_grid, self.theta)
        c, s = np.cos(theta), np.sin(theta)
        px, py, pz = site_pos
        ux, uy, uz = up_vec
        # TEME -> ITRS about z (as propagate.teme_to_itrs), then relative to the site
        dx = c * r[:, 0] + s * r[:, 1] - px
        dy = c * r[:, 1] - s * r[:, 0] - py
        dz = r[:, 2] - pz
        range_km = np.sqrt(dx * dx + dy * dy + dz * dz)
        up = (dx * ux + dy * uy + dz * uz) / range_km
        return np.degrees(np.arcsin(np.minimum(up, 1.0))), range_km

    def elev_range(self, sat: int, site: int, t_s: np.ndarray):
        """Return elevation (deg) and range (km) of one satellite from one site at times
        ``t_s`` (1-D): what the policies need, nothing else (velocities, azimuths)."""
        t_s = np.asarray(t_s, float)
        return self._elev_range(self._teme_km(sat, t_s), t_s, self.site_pos_km[site],
                                self.site_enu[site][2])

    def exact_look(self, sat, site, t_s) -> tuple[np.ndarray, np.ndarray]:
        """Return :meth:`elev_range` of satellite ``sat[j]`` from site ``site[j]`` at
        ``t_s[j]``: what the decision grid would hold there with SGP4 at every sample, bit
        for bit (one SGP4 call per link)."""
        sat, site = np.asarray(sat, np.int64), np.asarray(site, np.int64)
        t_s = np.asarray(t_s, float)
        elev, rng = np.empty(len(t_s)), np.empty(len(t_s))
        order = np.lexsort((site, sat))
        cut = np.flatnonzero(np.diff(sat[order]) | np.diff(site[order])) + 1
        for part in np.split(order, cut):
            if len(part):
                elev[part], rng[part] = self.elev_range(int(sat[part[0]]),
                                                        int(site[part[0]]), t_s[part])
        return elev, rng

    def grid_for(self, sats, step_s: float, workers: int = 1, meanwhile=None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Return the (satellite, x/y/z, grid index) table of ITRS positions (x and y not
        yet relative to a site) at every ``g·step_s`` of the plan, filled for ``sats``,
        and per satellite the bound on its positions' error (km; 0: SGP4's own): each
        satellite is propagated once on the decision grid every mobile samples (SGP4
        every HERMITE_NODE_S, interpolated between). ``workers`` > 1 on the first call:
        the table lives in shared memory and forked processes fill their share of
        ``sats`` in place, while the caller's ``meanwhile()``, if given, runs here."""
        table, err_km, done, shared = self._grid.get(step_s, (None, None, None, False))
        parallel = can_fork(workers)
        if table is None:
            shared = parallel
            n_sat = len(self.satrecs)
            shape = (n_sat, 3, self.g_last(step_s) + 1)
            if parallel:
                # shared pages: what a forked worker writes, the parent sees
                flat = shared_array(math.prod(shape) + n_sat, np.float64, True)
                table, err_km = flat[n_sat:].reshape(shape), flat[:n_sat]
            else:  # np.empty: pages of satellites never asked about are never touched
                table, err_km = np.empty(shape), np.zeros(n_sat)
            done = np.zeros(n_sat, bool)
            self._grid[step_s] = (table, err_km, done, shared)
        todo = [k for k in sats if not done[k]]
        if parallel and shared and len(todo) >= 2 * workers:
            # loaded here once, not in each forked filler (jit.load)
            f3 = types.float64[:, :, ::1]
            load(hermite_positions, f3, f3, F8, F8, f3)
            global _FILL
            _FILL = (self, table, err_km, step_s)
            try:
                with ForkedMap(_fill_grid, [todo[k::workers] for k in range(workers)],
                               workers) as filled:
                    if meanwhile is not None:
                        meanwhile()
                    for _ in filled:
                        pass
            finally:
                _FILL = None
        elif todo:
            self._fill(table, err_km, todo, step_s)
        done[todo] = True
        return table, err_km

    def _fill(self, table: np.ndarray, err_km: np.ndarray, sats: list[int],
              step_s: float) -> None:
        t_s = np.arange(table.shape[2]) * step_s
        theta = np.interp(t_s, self.t_grid, self.theta)
        c, s = np.cos(theta), np.sin(theta)
        for k in sats:
            nodes = self._hermite_nodes(k, step_s)
            if nodes is None:
                err_km[k] = 0.0
                r = self._teme_km(k, t_s)
            else:  # a node's own sample gets the node exactly (1·p + 0·v + 0·p' + 0·v')
                t_node, p, v, err_km[k] = nodes
                r = np.empty((len(t_s), 1, 3))
                hermite_positions(p.reshape(-1, 1, 3), v.reshape(-1, 1, 3), t_node, t_s, r)
                r = r.reshape(-1, 3)
            table[k, 0] = c * r[:, 0] + s * r[:, 1]
            table[k, 1] = c * r[:, 1] - s * r[:, 0]
            table[k, 2] = r[:, 2]

    def _hermite_nodes(self, sat: int, step_s: float):
        """SGP4's TEME positions and velocities of one satellite every HERMITE_NODE_S, from
        0 until at or after the grid's last sample, their times, and the bound on the
        interpolation's error (km); None where only SGP4 at every sample will do
        (hermite_error_km, a node SGP4 fails at, or nodes off the grid)."""
        per = HERMITE_NODE_S / step_s if HERMITE_NODE_S else 0.0
        bound_km = hermite_error_km(self.satrecs[sat], HERMITE_NODE_S) if per else math.inf
        if not (per == round(per) and per >= 2 and bound_km < math.inf):
            return None
        per = int(per)
        m = -(-self.g_last(step_s) // per) + 1   # the last node at or after the last sample
        t_node = np.arange(m) * per * step_s     # g·step_s at g = i·per: the grid's times
        jd = np.full(m, self.epoch.jd_utc)
        err, r, v = self.satrecs[sat].sgp4_array(jd, self.epoch.fr_utc + t_node / DAY_S)
        if err.any():  # so the NaNs are SGP4's own
            return None
        return t_node, r, v, bound_km

    def forget_grid(self) -> None:
        """Free the grid tables (~0.3 GB for Starlink's shell 1 over a day)."""
        self._grid.clear()

    def g_last(self, step_s: float) -> int:
        return math.floor(self.duration_s / step_s + 1e-9)

    def grid_look(self, sat, site, aos_s, los_s, step_s: float, lead_s: float) -> GridLook:
        """Return the decision-grid samples of one mobile's windows (window j: satellite
        ``sat[j]`` over site ``site[j]``, candidate from AOS until ``lead_s`` before LOS)
        with their elevations and ranges, bit for bit what :meth:`elev_range` gives at
        ``g·step_s``. Samples are laid out window after window (policies.walk)."""
        sat = np.ascontiguousarray(sat, dtype=np.int64)
        table, err_km, done, _ = self._grid.get(step_s, (None, None, None, None))
        if done is None or not done.all():   # (the planner fills it all before the fork)
            table, err_km = self.grid_for(np.unique(sat).tolist(), step_s)
        g_last = self.g_last(step_s)
        g_lo, g_hi, off, win, g, up, range_km = _grid_look(
            table, self.site_pos_km, self._site_up, sat,
            np.ascontiguousarray(site, dtype=np.int64),
            np.ascontiguousarray(aos_s, dtype=np.float64),
            np.ascontiguousarray(los_s, dtype=np.float64), g_last, float(step_s),
            float(lead_s))
        # the transcendental steps stay numpy's, as in _elev_range: the same bits
        np.arcsin(up, out=up)
        return GridLook(g_last, g_lo, g_hi, off, win, g, np.degrees(up, out=up), range_km,
                        err_km[sat][win])


class GridLook(NamedTuple):
    """One mobile's decision-grid samples (the layout policies.walk reads) and the look
    angles there."""

    g_last: int
    g_lo: np.ndarray
    g_hi: np.ndarray
    off: np.ndarray
    win: np.ndarray
    g: np.ndarray
    elev_deg: np.ndarray
    range_km: np.ndarray
    pos_err_km: np.ndarray   # per sample, the bound on the satellite's position error


@njit
def _grid_look(table, site_pos, site_up, sat, site, aos, los, g_last, step_s, lead_s):
    """The layout of GridLook and, per sample, the sine of the elevation (capped at 1)
    and the range: _elev_range's operations in its order (compiled: seventy million
    samples for a day of a thousand Starlink terminals)."""
    n = len(aos)
    g_lo, g_hi, off = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    total = 0
    for j in range(n):
        lo = aos[j] if aos[j] > 0.0 else 0.0
        g_lo[j] = np.int64(np.ceil(lo / step_s - 1e-9))
        g_hi[j] = min(np.int64(np.ceil((los[j] - lead_s) / step_s - 1e-9)) - 1, g_last)
        off[j] = total
        total += max(g_hi[j] - g_lo[j] + 1, 0)
    win, g = np.empty(total, np.int64), np.empty(total, np.int64)
    up, range_km = np.empty(total), np.empty(total)
    for j in range(n):
        k, s, p = off[j], site[j], sat[j]
        px, py, pz = site_pos[s, 0], site_pos[s, 1], site_pos[s, 2]
        ux, uy, uz = site_up[s, 0], site_up[s, 1], site_up[s, 2]
        for gi in range(g_lo[j], g_hi[j] + 1):
            dx = table[p, 0, gi] - px
            dy = table[p, 1, gi] - py
            dz = table[p, 2, gi] - pz
            r = np.sqrt(dx * dx + dy * dy + dz * dz)
            u = (dx * ux + dy * uy + dz * uz) / r
            win[k], g[k], range_km[k], up[k] = j, gi, r, 1.0 if u > 1.0 else u
            k += 1
    return g_lo, g_hi, off, win, g, up, range_km


_FILL: tuple | None = None   # (sky, shared table and errors, step) the grid fillers read


def _fill_grid(sats: list[int]) -> None:
    sky, table, err_km, step_s = _FILL
    sky._fill(table, err_km, sats, step_s)


class LinkLook:
    """The links of one mobile (the :class:`~sigma_sn.planner.kinds.Geometry` protocol):
    elevation and range to any of its access points at an array of times."""

    def __init__(self, sky: Sky, mode: Mode, mobile: int, ap_index: dict[str, int]):
        self.sky, self.mode, self.mobile, self.ap_index = sky, mode, mobile, ap_index

    def pair(self, ap: str) -> tuple[int, int]:
        """Return (satellite index, site index) of the link to ``ap``."""
        k = self.ap_index[ap]
        return (k, self.mobile) if self.mode is Mode.ROUTER else (self.mobile, k)

    def look(self, ap: str, t_s) -> tuple[np.ndarray, np.ndarray]:
        t = np.asarray(t_s, float)
        flat = np.atleast_1d(t).ravel()
        elev, rng = self.sky.elev_range(*self.pair(ap), flat)
        return elev.reshape(t.shape), rng.reshape(t.shape)


def rtt_bound_s(satellites: Sequence, sites: Sequence, min_elev_deg: float,
                timing: Timing) -> float:
    """Return an upper bound on any link's RTT: the slant range at the lowest mask from
    the highest apogee, both ways, plus the terrestrial segment both ways.

    The slant range from a site at geocentric radius R to a satellite at radius r seen at
    elevation ε is sqrt(r² − R² cos² ε) − R sin ε, largest for the smallest R (the polar
    radius, less the lowest land) and the lowest ε (the geocentric horizontal is within
    0.2° of the WGS84 one)."""
    lowest = min((s.mask_deg(min_elev_deg) for s in sites), default=min_elev_deg)
    eps = math.radians(max(lowest - 0.2, -90.0))
    r_site_km = _POLAR_RADIUS_KM - 0.5
    r_sat_km = r_site_km
    for s in satellites:
        a_km = (_MU_KM3_S2 / (s.satrec.no_kozai / 60.0) ** 2) ** (1.0 / 3.0)
        r_sat_km = max(r_sat_km, a_km * (1.0 + s.satrec.ecco))
    rng = math.sqrt(r_sat_km**2 - (r_site_km * math.cos(eps)) ** 2) - r_site_km * math.sin(eps)
    return 2.0 * (rng / C_KM_S + timing.terrestrial_one_way_s)


__all__ = ["GridLook", "LinkLook", "Sky", "rtt_bound_s"]
