"""Plan real visibility windows (docs/plan-format.md): each mobile's candidate windows, the
policy's serving sequence, the timing model's events with addresses, outages and the
location manager's timeline, as one JSON-ready dict.

Geometry is exact SGP4 everywhere, and batched: max-elevation and strongest-signal get
their look angles from each satellite propagated once on the decision grid for all mobiles
(:meth:`Sky.grid_look`), and the round trips of all handovers of a group of mobiles
are evaluated in one vectorised pass (see :func:`_plan_events`). Groups of mobiles can be
planned in forked workers (:func:`_run_groups`), with the same bytes as one process; they
return numbers in arrays, and :mod:`sigma_sn.planner.rows` makes the JSON rows once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import json
import math
import mmap
import os
import time
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from sigma_sn.forked import ForkedMap, can_fork
from sigma_sn.geometry import C_KM_S, range_and_rate, topocentric
from sigma_sn.planner import addresses, core, events, policies, rows
from sigma_sn.planner.core import Timing
from sigma_sn.planner.jit import njit, pymax, pymin
from sigma_sn.planner.kinds import Mode, Policy, Selection, Window
from sigma_sn.propagate import DAY_S, Epoch, propagate_pairs
from sigma_sn.sites import enu_basis, itrs_km

SCHEMA = "sigma-sn/plan/1"
_ROUND = rows.ROUND    # microseconds: exports are byte-identical across runs
_TAYLOR_S = 1.0       # use range + rate·dt from a pass-1 instant at most this far away
_SLIVER_S = 1e-6      # coverage or gaps shorter than this are rounding, not events
_MU_KM3_S2 = 398600.4418
_POLAR_RADIUS_KM = 6356.752   # WGS84 b



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
        self._grid: dict[float, tuple[np.ndarray, np.ndarray, bool]] = {}

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

    def grid_for(self, sats, step_s: float, workers: int = 1, meanwhile=None) -> np.ndarray:
        """Return the (satellite, x/y/z, grid index) table of ITRS positions (x and y not
        yet relative to a site) at every ``g·step_s`` of the plan, filled for ``sats``:
        each satellite is propagated once on the decision grid every mobile samples.
        ``workers`` > 1 on the first call: the table lives in shared memory and forked
        processes fill their share of ``sats`` in place, while the caller's
        ``meanwhile()``, if given, runs here."""
        table, done, shared = self._grid.get(step_s, (None, None, False))
        parallel = can_fork(workers)
        if table is None:
            shared = parallel
            shape = (len(self.satrecs), 3, self.g_last(step_s) + 1)
            if parallel:
                # anonymous shared pages: what a forked worker writes, the parent sees
                buf = mmap.mmap(-1, max(8, 8 * math.prod(shape)))
                table = np.frombuffer(buf, np.float64, count=math.prod(shape)).reshape(shape)
            else:  # np.empty: pages of satellites never asked about are never touched
                table = np.empty(shape)
            done = np.zeros(len(self.satrecs), bool)
            self._grid[step_s] = (table, done, shared)
        todo = [k for k in sats if not done[k]]
        if parallel and shared and len(todo) >= 2 * workers:
            global _FILL
            _FILL = (self, table, step_s)
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
            self._fill(table, todo, step_s)
        done[todo] = True
        return table

    def _fill(self, table: np.ndarray, sats: list[int], step_s: float) -> None:
        t_s = np.arange(table.shape[2]) * step_s
        theta = np.interp(t_s, self.t_grid, self.theta)
        c, s = np.cos(theta), np.sin(theta)
        for k in sats:
            r = self._teme_km(k, t_s)
            table[k, 0] = c * r[:, 0] + s * r[:, 1]
            table[k, 1] = c * r[:, 1] - s * r[:, 0]
            table[k, 2] = r[:, 2]

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
        table = self.grid_for(np.unique(sat).tolist(), step_s)
        g_last = self.g_last(step_s)
        g_lo, g_hi, off, win, g, up, range_km = _grid_look(
            table, self.site_pos_km, self._site_up, sat,
            np.ascontiguousarray(site, dtype=np.int64),
            np.ascontiguousarray(aos_s, dtype=np.float64),
            np.ascontiguousarray(los_s, dtype=np.float64), g_last, float(step_s),
            float(lead_s))
        # the transcendental steps stay numpy's, as in _elev_range: the same bits
        np.arcsin(up, out=up)
        return GridLook(g_last, g_lo, g_hi, off, win, g, np.degrees(up, out=up), range_km)


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


_FILL: tuple | None = None   # (sky, shared table, step) the forked grid fillers read


def _fill_grid(sats: list[int]) -> None:
    sky, table, step_s = _FILL
    sky._fill(table, sats, step_s)


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


def _select_group(names: list, J: dict) -> dict:
    """Serving sequences of the mobiles ``names``, as columns (policies.columns). All but
    least-load read the window columns: the geometry policies' look angles come from each
    satellite propagated once on the decision grid for all mobiles
    (:meth:`Sky.grid_look`), not one call per mobile and access point. Least-load gets
    each mobile's Window list."""
    policy, duration_s, timing, bound_s, selection = (
        J["policy"], J["duration_s"], J["timing"], J["bound_s"], J["selection"])
    ap, aos, los = J["window_arrays"]
    spans = J["spans"]
    out = {}
    if policy in (Policy.MIN_HANDOVERS, Policy.LONGEST_VISIBILITY):
        for m in names:
            lo, hi = spans[m]
            out[m] = core.select_columns(policy, aos[lo:hi], los[lo:hi], ap[lo:hi],
                                         duration_s, timing, bound_s)
    elif policy in (Policy.MAX_ELEVATION, Policy.STRONGEST_SIGNAL):
        sky, looks, step_s = J["sky"], J["looks"], selection.decision_step_s
        router = J["mode"] is Mode.ROUTER
        for m in names:
            lo, hi = spans[m]
            mobile = np.full(hi - lo, looks[m].mobile)
            sat, site = (ap[lo:hi], mobile) if router else (mobile, ap[lo:hi])
            look = sky.grid_look(sat, site, aos[lo:hi], los[lo:hi], step_s,
                                 timing.guard_s + bound_s)
            out[m] = core.select_on_grid(policy, aos[lo:hi], los[lo:hi], duration_s,
                                         timing, bound_s, look, selection=selection)
    else:
        for m in names:
            windows = _windows(J["ap_col"], aos, los, J["elev"], *spans[m])
            out[m] = policies.columns(core.select(policy, windows, duration_s, timing,
                                                  bound_s, geometry=J["looks"][m],
                                                  selection=selection))
    return out


def _windows(ap_col: list, aos, los, elev, lo: int, hi: int) -> list[Window]:
    """One mobile's candidate windows (``lo``..``hi`` of the planner's columns)."""
    return list(map(Window, ap_col[lo:hi], aos[lo:hi].tolist(), los[lo:hi].tolist(),
                    elev[lo:hi].tolist()))


_JOB: dict | None = None   # what forked workers of _plan_group read


def _plan_group(names: list, job: dict | None = None) -> tuple[rows.Planned, dict]:
    """Plan the mobiles ``names``: their serving sequences (unless least-load decided
    them jointly beforehand), events, serving intervals and outages, as arrays. Runs in a
    forked worker too (``job`` is then the copy of :data:`_JOB`); one mobile is wholly in
    one group, so a serial run makes the same numbers."""
    J = job or _JOB
    stats = {"select_s": 0.0}
    t0 = time.perf_counter()
    if J["sequences"] is None:
        seqs = _select_group(names, J)
        stats["select_s"] = time.perf_counter() - t0
    else:
        seqs = {m: policies.columns(J["sequences"][m]) for m in names}
    t0 = time.perf_counter()
    flat = events.flatten([J["spans"][m] for m in names], [seqs[m] for m in names])
    tr, timed = _plan_events(names, flat, J, stats)
    stats["events_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = _collect(names, flat, tr, timed, J)
    stats["output_s"] = time.perf_counter() - t0
    return out, stats


def _collect(names, flat: events.Flat, tr: events.Transitions, timed: events.Timed,
             J) -> rows.Planned:
    """Return the serving intervals, handovers and outages of the mobiles ``names``."""
    duration_s, policy, timing = J["duration_s"], J["policy"], J["timing"]
    ap, aos, los = J["window_arrays"]
    at = flat.seq_win
    into = np.full(len(at), -1, np.int64)   # per entry, the handover into it
    into[flat.seq_off[tr.mobile] + tr.position] = np.arange(len(tr.position))
    ready_s, primary_s = timed.times_s[:, 0].copy(), timed.times_s[:, 2].copy()
    serve_k, serve_from, serve_to, serve_off, gaps = _serving(
        flat.seq_off, aos[at], los[at], flat.seq_switch_s, into, timed.feasible,
        timed.outage_s, primary_s, float(duration_s))
    o_from, o_to, o_cause, o_count = [], [], [], []
    for i in range(len(names)):
        n0 = len(o_from)
        if gaps[i]:  # rare under a dense constellation: the plain way
            s0, s1, k0, k1 = serve_off[i], serve_off[i + 1], flat.seq_off[i], flat.seq_off[i + 1]
            serving = list(zip((serve_k[s0:s1] - k0).tolist(), serve_from[s0:s1].tolist(),
                               serve_to[s0:s1].tolist()))
            entry_into = [None if j < 0 else _Into(bool(timed.feasible[j]),
                                                   float(timed.outage_s[j]),
                                                   float(ready_s[j]), float(primary_s[j]))
                          for j in into[k0:k1].tolist()]
            windows = (aos, los, flat.span_lo[i], flat.span_hi[i])
            for a, b, cause in _outages(windows, aos[at[k0:k1]].tolist(), entry_into,
                                        serving, duration_s, policy, timing):
                o_from.append(a)
                o_to.append(b)
                o_cause.append(cause)
        o_count.append(len(o_from) - n0)
    return rows.packed(np.diff(serve_off), ap[at][serve_k], serve_from, serve_to,
                       np.array(o_count, np.int64), o_from, o_to, o_cause, tr, timed,
                       J["epoch"])


class _Into(NamedTuple):
    """What the serving intervals and outages need of the handover into an entry."""

    feasible: bool
    outage_s: float
    ready_s: float      # ADDRESS_READY
    primary_s: float    # SET_PRIMARY


def _run_groups(names: list, job: dict, workers: int, stats: dict):
    """Yield ``(group, result)`` for groups of ``names`` in order, planned by
    :func:`_plan_group` in ``workers`` forked processes when there is more than one (the
    caller makes the rows of one group while the workers plan the next); add the groups'
    stage seconds to ``stats``."""
    workers = min(workers, max(1, len(names) // 8))
    if can_fork(workers):
        global _JOB
        _JOB = job
        # several groups per worker: even loads, and little left for the rows at the end
        size = -(-len(names) // (8 * workers))
        groups = [names[k:k + size] for k in range(0, len(names), size)]
        try:
            # the parent makes the rows of one group while the workers plan the next, and
            # it is the longer job: the workers yield the CPU to it (nice +5)
            with ForkedMap(_plan_group, groups, workers, nice=5) as results:
                for group, (got, st) in zip(groups, results):
                    _add(stats, st)
                    yield group, got
        finally:
            _JOB = None
    else:
        got, st = _plan_group(names, job)
        _add(stats, st)
        yield names, got


def _add(stats: dict, more: dict) -> None:
    for k, v in more.items():
        stats[k] = stats.get(k, 0) + v


def _plan_events(names, flat: events.Flat, J, stats: dict
                 ) -> tuple[events.Transitions, events.Timed]:
    """Return the handovers of the mobiles ``names`` and their events: predict which
    (link, instant) pairs the timing model asks about, evaluate all of them in one
    batched propagation, then run the timing model on arrays with those answers."""
    timing, bound_s, sky, ap_index = J["timing"], J["bound_s"], J["sky"], J["ap_index"]
    looks = J["looks"]
    tr = events.transitions_columns(J["window_arrays"], flat, timing.setup_s)
    ap, mob, t_s, guess_sp = events.predicted_instants(tr, timing.setup_s, timing.guard_s,
                                                        bound_s)
    mobile_k = np.array([looks[m].mobile for m in names], np.int64)
    router = J["mode"] is Mode.ROUTER

    def pairs(ap, mob):
        site_or_sat = mobile_k[mob]
        return (ap, site_or_sat) if router else (site_or_sat, ap)

    range_km = rate_km_s = np.empty(0)
    if len(t_s):
        range_km, rate_km_s = sky.range_and_rate(*pairs(ap, mob), t_s)

    def exact_km(ap, mob, t_s):
        out = np.empty(len(t_s))
        sat, site = pairs(ap, mob)
        for k in range(len(t_s)):  # rare: a question far from every predicted instant
            out[k] = sky.elev_range(int(sat[k]), int(site[k]), t_s[k:k + 1])[1][0]
        return out

    rtt = events.NearestRtt(ap, mob, t_s, range_km, rate_km_s, n_aps=len(ap_index),
                            terrestrial_s=timing.terrestrial_one_way_s, c_km_s=C_KM_S,
                            taylor_s=_TAYLOR_S, exact=exact_km)
    timed = events.timing(tr, timing.setup_s, timing.guard_s, timing.address_lifetime_s,
                          rtt, guess_sp)
    stats["rtt_batched"] = stats.get("rtt_batched", 0) + len(t_s)
    stats["rtt_exact_calls"] = stats.get("rtt_exact_calls", 0) + rtt.exact_calls
    return tr, timed


def _r(x: float) -> float:
    return round(x, _ROUND)


def _merge(intervals) -> list[list[float]]:
    out: list[list[float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1] + _SLIVER_S:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def _clip(intervals, lo: float, hi: float) -> list[tuple[float, float]]:
    return [(max(a, lo), min(b, hi)) for a, b in intervals
            if min(b, hi) - max(a, lo) > _SLIVER_S]


def _minus(lo: float, hi: float, covered) -> list[tuple[float, float]]:
    """Return the parts of [lo, hi] outside the (merged, sorted) ``covered`` intervals."""
    out, t = [], lo
    for a, b in covered:
        if b <= t or a >= hi:
            continue
        if a > t:
            out.append((t, a))
        t = max(t, b)
    if hi > t:
        out.append((t, hi))
    return [(a, b) for a, b in out if b - a > _SLIVER_S]


@njit
def _serving(seq_off, aos_s, los_s, switch_s, into, feasible, outage_s, primary_s,
             duration_s):
    """The serving intervals (docs/plan-format.md) of a group's entries (``aos_s``,
    ``los_s`` of each entry's window; ``into``: the handover into it, or -1): an interval ends at
    the next SET_PRIMARY, or at LOS when the handover is hard (the old path dies there)
    or when the access point is re-acquired on its next pass; after a hard handover the
    new one starts when its outage ends, after a re-acquisition at its AOS (or when the
    policy chose). Returns per interval its entry, from_s and to_s; where each mobile's
    intervals start; and whether a mobile has a gap between them (an outage)."""
    n = len(aos_s)
    entry, start_s, end_s = np.empty(n, np.int64), np.empty(n), np.empty(n)
    off = np.zeros(len(seq_off), np.int64)
    gaps = np.zeros(len(seq_off) - 1, np.bool_)
    m = 0
    for i in range(len(seq_off) - 1):
        last = 0.0   # the end of the previous interval (the plan starts at 0)
        for k in range(seq_off[i], seq_off[i + 1]):
            h = into[k]
            if h < 0:
                start = aos_s[k] if np.isnan(switch_s[k]) else pymax(aos_s[k], switch_s[k])
            elif feasible[h] or outage_s[h] <= 0:
                start = primary_s[h]
            else:
                start = los_s[k - 1] + outage_s[h]
            h = into[k + 1] if k + 1 < seq_off[i + 1] else -1
            if h < 0:
                end = los_s[k]
            else:
                end = primary_s[h] if feasible[h] or outage_s[h] <= 0 else los_s[k]
            start = pymax(pymax(start, aos_s[k]), 0.0)
            end = pymin(pymin(end, los_s[k]), duration_s)
            if end - start > _SLIVER_S:
                if not start - last <= _SLIVER_S:
                    gaps[i] = True
                entry[m], start_s[m], end_s[m] = k, start, end
                m += 1
                last = end
        if not duration_s - last <= _SLIVER_S:
            gaps[i] = True
        off[i + 1] = m
    return entry[:m], start_s[:m], end_s[:m], off, gaps


def _outages(windows, entry_aos: list[float], into, serving, duration_s, policy, timing
             ) -> list[tuple[float, float, int]]:
    """Return the gaps between serving intervals as (from_s, to_s, cause code) parts, each
    with its cause (:data:`rows.CAUSES`): no candidate up (``no_coverage``); the new
    access point attaching and the switch completing after a hard handover
    (``hard_handover``); coverage left unused before that, which under least-load is
    waiting for a free slot (``capacity``). ``windows``: the AOS and LOS columns and the
    mobile's span of them; ``entry_aos``, ``into``: per sequence entry, its window's AOS
    and the handover into it (or None); ``serving``: (entry, from_s, to_s) per interval."""
    ends = [0.0] + [b for _, _, b in serving]
    begins = [a for _, a, _ in serving] + [duration_s]
    if all(hi - lo <= _SLIVER_S for lo, hi in zip(ends, begins)):
        return []  # served throughout (the usual case under a dense constellation)
    aos, los, first, end = windows
    covered = _merge(_clip(zip(aos[first:end].tolist(), los[first:end].tolist()), 0.0,
                           duration_s))
    capacity, hard, no_coverage = range(3)  # rows.CAUSES: sorted as their names
    out = []
    for i, (lo, hi) in enumerate(zip(ends, begins)):
        if hi - lo <= _SLIVER_S:
            continue
        parts = [(a, b, no_coverage) for a, b in _minus(lo, hi, covered)]
        h = into[serving[i][0]] if i < len(serving) else None
        if h is not None:  # the gap ends with the handover into serving[i]: attach from L2
            attach_s = max(entry_aos[serving[i][0]], h.ready_s - timing.setup_s)
        else:  # before the first interval, after the last, or until a re-acquisition
            attach_s = hi
        waiting = capacity if policy is Policy.LEAST_LOAD else (
            hard if h is not None else no_coverage)
        for a, b in _clip(covered, lo, hi):
            if a < attach_s:
                parts.append((a, min(b, attach_s), waiting))
            if b > attach_s:
                parts.append((max(a, attach_s), b, hard))
        out += [(a, b, c) for a, b, c in sorted(parts) if b - a > _SLIVER_S]
    return out


def plan_windows(windows, satellites: Sequence, sites: Sequence, mode: Mode, policy: Policy,
                 timing: Timing = Timing(), rtt_bound: float | None = None, *,
                 selection: Selection = Selection(), prefix: str = addresses.DEFAULT_PREFIX,
                 min_elev_deg: float = 0.0, step_s: float = 60.0, mobiles=None,
                 name: str = "plan", sim=None, mip=None, sources: dict | None = None,
                 stats: dict | None = None, workers: int | None = 1) -> dict:
    """Return the plan (docs/plan-format.md) for every mobile of ``windows``.

    Router mode: each site is a mobile, satellites are access points. Host mode: each
    satellite is a mobile, sites are access points. ``satellites`` and ``sites`` are the
    scenario's, in its order (the order gives interface identifiers; access points get
    subnets by name). ``rtt_bound``: the RTT bound the policies plan with (default:
    :func:`rtt_bound_s`). ``sources``: ``{"scenario": ..., "files": [...]}`` for
    ``inputs``; ``sim``/``mip``: SimConfig/MipConfig recorded as parameters. ``stats``,
    if given, receives the seconds each stage took and how many RTTs were evaluated.
    ``workers``: processes that share groups of mobiles (None: one per core); the plan is
    byte-identical whatever it is. ``stats`` stage seconds are then summed over them.
    """
    # millions of small dicts and windows, no reference cycles: the cyclic collector would
    # rescan the growing heap again and again (a third of the time at 100 terminals)
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _plan_windows(windows, satellites, sites, mode, policy, timing, rtt_bound,
                             selection=selection, prefix=prefix, min_elev_deg=min_elev_deg,
                             step_s=step_s, mobiles=mobiles, name=name, sim=sim, mip=mip,
                             sources=sources, stats=stats, workers=workers)
    finally:
        if enabled:
            gc.enable()


def _plan_windows(windows, satellites, sites, mode, policy, timing, rtt_bound, *, selection,
                  prefix, min_elev_deg, step_s, mobiles, name, sim, mip, sources, stats,
                  workers):
    from sigma_sn.scenario import LINK_KEYS, TRAFFIC_KEYS
    from sigma_sn.sim.mip import MipConfig
    from sigma_sn.sim.model import SimConfig

    stats = {} if stats is None else stats
    sim = SimConfig() if sim is None else sim
    mip = MipConfig() if mip is None else mip
    router = mode is Mode.ROUTER
    bound_s = rtt_bound_s(satellites, sites, min_elev_deg, timing) if rtt_bound is None \
        else rtt_bound
    sat_names = _unique_names(satellites)
    site_names = [s.name for s in sites]
    ap_names, mobile_names = (sat_names, site_names) if router else (site_names, sat_names)
    subnets = addresses.ap_subnets(ap_names, prefix)
    ap_index = {n: k for k, n in enumerate(ap_names)}
    sky = Sky(windows.epoch, windows.duration_s, satellites, sites)
    duration_s = float(windows.duration_s)

    # candidate windows per mobile, sorted by (AOS, AP name): Serve.index points here.
    # Kept as columns: the policies that need Window lists make them where they plan
    t0 = time.perf_counter()
    mob_of = windows.site if router else windows.sat
    ap_of = windows.sat if router else windows.site
    rank = np.empty(len(ap_names), np.int64)
    rank[sorted(range(len(ap_names)), key=ap_names.__getitem__)] = np.arange(len(ap_names))
    order, bounds = _by_mobile(mob_of, windows.aos_s, rank[ap_of], len(mobile_names))
    spans = {mobile: (bounds[m], bounds[m + 1]) for m, mobile in enumerate(mobile_names)}
    ap_col = [ap_names[k] for k in ap_of[order].tolist()]
    window_arrays = (ap_of[order], windows.aos_s[order], windows.los_s[order])
    elev = windows.max_elev_deg[order]
    looks = {mobile: LinkLook(sky, mode, m, ap_index) for m, mobile in enumerate(mobile_names)}
    stats["candidates_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    sequences = None
    capacity = _capacity(mode, sites, sat_names, selection)
    # least-load with capacities is decided jointly, here; the rest per mobile (without
    # capacities no mobile's choice depends on another's: it is least-load alone)
    if policy is Policy.LEAST_LOAD and capacity:
        candidates = {m: _windows(ap_col, *window_arrays[1:], elev, lo, hi)
                      for m, (lo, hi) in spans.items()}
        joint = core.select_least_load(candidates, capacity, duration_s, timing, bound_s,
                                       geometry=looks, selection=selection)
        sequences = {m: list(joint.get(m, [])) for m in candidates}
    select_s = time.perf_counter() - t0
    workers = _workers(workers)
    job = {"ap_col": ap_col, "elev": elev, "spans": spans, "window_arrays": window_arrays,
           "looks": looks, "timing": timing, "bound_s": bound_s, "sky": sky,
           "sequences": sequences, "duration_s": duration_s, "policy": policy,
           "selection": selection, "ap_index": ap_index, "mode": mode,
           "epoch": windows.epoch}
    t0 = time.perf_counter()
    cols: dict = {}
    made: dict[str, list[dict]] = {}

    def candidate_rows(mobile: str) -> list[dict]:
        if mobile in made:
            return made.pop(mobile)
        if not cols:  # rounded on first use: once workers are forked, not before
            cols.update((k, rows.rounded(getattr(windows, k)[order]))
                        for k in ("aos_s", "tca_s", "los_s", "max_elev_deg"))
        lo, hi = spans[mobile]
        return [{"ap": w, "aos_s": a, "tca_s": c, "los_s": b, "max_elev_deg": x}
                for w, a, c, b, x in zip(ap_col[lo:hi], cols["aos_s"][lo:hi],
                                         cols["tca_s"][lo:hi], cols["los_s"][lo:hi],
                                         cols["max_elev_deg"][lo:hi])]

    def make_candidate_rows() -> None:
        made.update((m, candidate_rows(m)) for m in mobile_names)

    iid = {m: k for k, m in enumerate(mobile_names, start=1)}
    book = addresses.AddressBook(subnets)
    rows_s = time.perf_counter() - t0
    if sequences is None and workers > 1 and policy in (Policy.MAX_ELEVATION,
                                                        Policy.STRONGEST_SIGNAL):
        # every satellite on the decision grid once, before the fork shares it; the
        # parent, which would only wait, makes the candidate rows meanwhile
        t0 = time.perf_counter()
        sky.grid_for(range(len(sky.satrecs)), selection.decision_step_s, workers,
                     meanwhile=make_candidate_rows)
        stats["grid_s"] = time.perf_counter() - t0
    out_mobiles, out_handovers, out_outages, out_updates = [], [], [], []
    # groups of mobiles in name order, so each group's rows append in the order the plan
    # lists them (by mobile name first)
    with contextlib.closing(_run_groups(sorted(mobile_names), job, workers, stats)) as done:
        for names, part in done:
            t0 = time.perf_counter()
            got = rows.rows(names, part, ap_names=ap_names, book=book, iid=iid,
                            candidate_rows=candidate_rows)
            out_mobiles += got[0]
            out_handovers += got[1]
            out_outages += got[2]
            out_updates += got[3]
            rows_s += time.perf_counter() - t0
    sky.forget_grid()
    stats["select_s"] = stats.get("select_s", 0.0) + select_s
    stats["rows_s"] = rows_s
    mentioned_aps: set[str] = set(ap_col)

    # every list is sorted so the JSON diffs well
    sats_out = [{"name": n, "norad_id": int(s.norad_id)} for n, s in zip(sat_names, satellites)
                if not router or n in mentioned_aps]
    sites_out = [{"name": s.name, "lat_deg": s.lat_deg, "lon_deg": s.lon_deg,
                  "alt_m": s.alt_m, "min_elev_deg": s.mask_deg(min_elev_deg),
                  "capacity": s.capacity} for s in sites]
    for row, s in zip(sites_out, sites):
        if s.horizon is not None:  # so a replay recomputes the windows with it
            row["horizon"] = {"az_deg": list(s.horizon.az_deg),
                              "elev_deg": list(s.horizon.elev_deg)}
    plan = {
        "schema": SCHEMA, "name": name, "mode": mode.value, "policy": policy.value,
        "start_utc": str(windows.epoch.iso(0.0)),
        "end_utc": str(windows.epoch.iso(duration_s)),
        "duration_s": _r(duration_s),
        "inputs": {
            "scenario": (sources or {}).get("scenario"),
            "files": list((sources or {}).get("files", [])),
            "parameters": {
                "min_elev_deg": float(min_elev_deg), "step_s": float(step_s),
                "mobiles": None if mobiles is None else list(mobiles),
                "rtt_bound_s": _r(bound_s),
                "timing": dataclasses.asdict(timing),
                "selection": dataclasses.asdict(selection),
                "addresses": {"prefix": prefix},
                "link": {k: getattr(sim, k) for k in LINK_KEYS},
                "traffic": {k: getattr(sim, k) for k in TRAFFIC_KEYS},
                "mip": dataclasses.asdict(mip),
            },
        },
        "satellites": sorted(sats_out, key=lambda r: (r["name"], r["norad_id"])),
        "sites": sorted(sites_out, key=lambda r: r["name"]),
        "access_points": [{"name": n, "prefix": str(subnets[n])}
                          for n in sorted(mentioned_aps)],
        "mobiles": out_mobiles,          # by name: the groups were made in name order
        "handovers": out_handovers,
        "outages": out_outages,
        "location_updates": out_updates,
    }
    return plan


def _by_mobile(mobile, aos_s, ap_rank, n_mobiles: int) -> tuple[np.ndarray, list[int]]:
    """Return the order of windows by (mobile, AOS, access point) and where each mobile's
    windows start in it (one more entry: the end). np.lexsort of the three keys at once
    takes twice as long as grouping by mobile, then sorting each mobile's few thousand."""
    by_mobile = np.argsort(mobile, kind="stable")
    bounds = np.searchsorted(mobile[by_mobile], np.arange(n_mobiles + 1)).tolist()
    aos_s, ap_rank = aos_s[by_mobile], ap_rank[by_mobile]
    order = np.empty_like(by_mobile)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        order[lo:hi] = by_mobile[lo:hi][np.lexsort((ap_rank[lo:hi], aos_s[lo:hi]))]
    return order, bounds


def _workers(workers: int | None) -> int:
    return (os.cpu_count() or 1) if workers is None else max(1, int(workers))


def _unique_names(satellites) -> list[str]:
    """Satellite names, with the catalogue number added where a name repeats (access
    points and mobiles are known by name)."""
    names = [s.name for s in satellites]
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    return [f"{s.name} ({s.norad_id})" if seen[s.name] > 1 else s.name for s in satellites]


def _capacity(mode: Mode, sites, sat_names, selection: Selection) -> dict[str, int]:
    """Per access point capacity for least-load: stations' own in host mode, the
    selection's ``ap_capacity`` for every satellite in router mode (absent: unlimited)."""
    if mode is Mode.HOST:
        return {s.name: int(s.capacity) for s in sites if s.capacity is not None}
    if selection.ap_capacity is None:
        return {}
    return {n: int(selection.ap_capacity) for n in sat_names}


def display_path(path) -> str:
    """Return ``path`` relative to the working directory, normalised, with ``/``."""
    p = os.path.abspath(path)
    try:
        rel = os.path.relpath(p)
    except ValueError:  # another drive (Windows): nothing relative exists
        return Path(p).as_posix()
    return Path(os.path.normpath(rel)).as_posix()


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class ScenarioWindows:
    """The satellites and sites a scenario plans (after its ``mobiles`` selection) and
    their visibility windows: computed once, planned under any policy."""

    satellites: tuple
    sites: tuple
    windows: object


def scenario_windows(scenario, *, progress=None, workers: int | None = 1) -> ScenarioWindows:
    """Load the elements of a loaded :class:`~sigma_sn.scenario.Scenario`, select its
    mobiles and compute the visibility windows (``sigma_sn.visibility.find_windows``).
    ``progress``: None, a Progress-like object (``advance(n)`` per satellite), or a
    callable that takes the number of satellites and returns one.

    Raises :class:`~sigma_sn.errors.InputError` naming the scenario's key when its
    ``mobiles`` name a satellite that is not in the element files (host mode).
    """
    from sigma_sn.elements import load_elements
    from sigma_sn.errors import InputError
    from sigma_sn.visibility import find_windows

    sc = scenario
    sats = list(load_elements(sc.element_files).satellites)
    sites = list(sc.sites)
    if sc.mobiles is not None:
        if sc.mode is Mode.ROUTER:
            by = {s.name: s for s in sites}
            sites = [by[n] for n in sc.mobiles]
        else:
            by = {}
            for s, n in zip(sats, _unique_names(sats)):
                by[n] = s
            unknown = [n for n in sc.mobiles if n not in by]
            if unknown:
                raise InputError(f"no satellite named {unknown[0]!r} in the element files",
                                 path=str(sc.path), key="mobiles")
            mob = [by[n] for n in sc.mobiles]
            sats = mob
    if not sats:
        raise InputError("the element files hold no satellites", path=str(sc.path),
                         key="elements")
    if progress is not None and not hasattr(progress, "advance"):
        progress = progress(len(sats))
    w = find_windows(sats, sites, sc.start_utc, sc.duration_s, min_elev_deg=sc.min_elev_deg,
                     step_s=sc.step_s, workers=workers, progress=progress)
    return ScenarioWindows(tuple(sats), tuple(sites), w)


def plan_scenario(scenario, *, progress=None, workers: int | None = 1,
                  windows: ScenarioWindows | None = None) -> dict:
    """Return the plan of a loaded :class:`~sigma_sn.scenario.Scenario`: its windows
    (``windows`` if given, e.g. to plan one set under several policies, else
    :func:`scenario_windows` with ``progress``) planned by :func:`plan_windows`."""
    sc = scenario
    sw = windows or scenario_windows(sc, progress=progress, workers=workers)
    files = [{"role": "elements", "path": display_path(p), "sha256": sha256_of(p)}
             for p in sc.element_files]
    files += [{"role": "sites", "path": display_path(p), "sha256": sha256_of(p)}
              for p in sc.site_files]
    sources = {"scenario": {"path": display_path(sc.path), "sha256": sha256_of(sc.path)},
               "files": files}
    return plan_windows(sw.windows, list(sw.satellites), list(sw.sites), sc.mode, sc.policy,
                        sc.timing, selection=sc.selection, prefix=sc.address_prefix,
                        min_elev_deg=sc.min_elev_deg, step_s=sc.step_s, mobiles=sc.mobiles,
                        name=sc.name, sim=sc.sim, mip=sc.mip, sources=sources,
                        workers=workers)


def dumps(plan: dict) -> str:
    """Return ``plan`` as sorted, stable JSON text."""
    return json.dumps(plan, sort_keys=True, indent=1) + "\n"


__all__ = ["LinkLook", "SCHEMA", "ScenarioWindows", "Sky", "display_path", "dumps",
           "plan_scenario", "plan_windows", "rtt_bound_s", "scenario_windows", "sha256_of"]
