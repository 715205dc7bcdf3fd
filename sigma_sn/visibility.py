"""Visibility windows: AOS, TCA and LOS of every satellite over every site's mask.

How it stays fast and misses nothing:

1. Propagate every satellite on a coarse grid (``step_s``, 60 s by default).
2. A satellite can only be above a site's mask while the Earth central angle between
   them is below the footprint half-angle λ. The sub-satellite direction moves at most
   ``rate · step / 2`` away from the nearest grid sample, so a grid sample within
   ``λ + rate · step / 2`` of the site flags every interval that may hold visibility.
   One matrix product per chunk finds those samples; nothing else is evaluated.
3. On the flagged intervals the exact look angles at the grid samples give the mask
   function ``f = elev − mask(az)`` and its rate. Sign changes of ``f`` bracket AOS and
   LOS; sign changes of ``f'`` bracket hidden extrema (grazing passes that rise above
   the mask between samples, or dips under an azimuth mask); sign changes of the
   elevation rate bracket TCA.
4. Each bracket is solved on a cubic Hermite interpolant of the ITRS position (error
   under half a metre at 60 s for LEO), then polished with one Newton step on exact
   SGP4, which brings AOS and LOS to well under a millisecond.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from sigma_sn.forked import ForkedMap, can_fork
from sigma_sn.geometry import look_enu, topocentric
from sigma_sn.propagate import Epoch, error_message, propagate, propagate_pairs
from sigma_sn.sites import enu_basis, itrs_km

#: Columns of a window row, in order (CSV header, JSON keys).
COLUMNS = ("sat_name", "norad_id", "site", "aos_utc", "tca_utc", "los_utc", "max_elev_deg",
           "duration_s", "aos_truncated", "los_truncated")

_ROOT_TOL_S = 1e-6          # bracket width at which a root counts as found
_MAX_ITER = 60
_GRAZE_MARGIN_DEG = 1.0  # look for hidden extrema only where tangents come this close
_FINE_S = 1.0            # under an azimuth mask, f is sampled this often along the track
_EXTREMUM_TOL_S = 2e-3  # TCA and hidden extrema: f is flat there, so 1 ms is plenty
_HERMITE_ERR_KM = 0.001     # what we assume the position interpolant may be off by
_POLISH_ABOVE_S = 2e-5      # polish a root on exact SGP4 if its error bound exceeds this


@dataclass(frozen=True)
class Skipped:
    """A satellite SGP4 could not propagate at some grid times (decayed, bad elements)."""

    sat_name: str
    norad_id: int
    first_bad_utc: str
    bad_samples: int
    total_samples: int
    reason: str

    def __str__(self) -> str:
        return (f"{self.sat_name} ({self.norad_id}): SGP4 failed at {self.bad_samples} of "
                f"{self.total_samples} times from {self.first_bad_utc} ({self.reason}); "
                f"skipped there")


@dataclass(frozen=True)
class Windows:
    """All visibility windows of a run, as columns (one entry per window).

    Times ``*_s`` are seconds after ``epoch.start_utc``. Windows come sorted by
    satellite, site and AOS.
    """

    epoch: Epoch
    duration_s: float
    sat_names: tuple[str, ...]
    norad_ids: tuple[int, ...]
    site_names: tuple[str, ...]
    sat: np.ndarray
    site: np.ndarray
    aos_s: np.ndarray
    tca_s: np.ndarray
    los_s: np.ndarray
    max_elev_deg: np.ndarray
    aos_truncated: np.ndarray
    los_truncated: np.ndarray
    skipped: tuple[Skipped, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.aos_s)

    @property
    def duration_s_each(self) -> np.ndarray:
        return self.los_s - self.aos_s

    def select(self, keep) -> "Windows":
        """Return the windows where boolean array (or index array) ``keep`` selects."""
        cols = {k: getattr(self, k)[keep] for k in _ARRAY_FIELDS}
        return Windows(self.epoch, self.duration_s, self.sat_names, self.norad_ids,
                       self.site_names, skipped=self.skipped, **cols)

    def multiplicity(self, t_s) -> np.ndarray:
        """Return how many satellites each site sees at times ``t_s``: ``(n_site, n_time)``.

        A window counts from AOS up to, not including, LOS.
        """
        t_s = np.asarray(t_s, float)
        out = np.zeros((len(self.site_names), len(t_s)), np.int32)
        for j in range(len(self.site_names)):
            sel = self.site == j
            aos, los = np.sort(self.aos_s[sel]), np.sort(self.los_s[sel])
            out[j] = (np.searchsorted(aos, t_s, side="right")
                      - np.searchsorted(los, t_s, side="right"))
        return out

    def coverage_share(self, t_s) -> tuple[np.ndarray, np.ndarray]:
        """Return per site the share of times ``t_s`` with >= 1 and >= 2 satellites in view
        (the paper's premise for SIGMA-SN is >= 2 below 60° latitude)."""
        m = self.multiplicity(t_s)
        return (m >= 1).mean(axis=1), (m >= 2).mean(axis=1)

    def rows(self) -> list[dict]:
        """Return one dict per window with the keys of :data:`COLUMNS`, sorted by
        AOS, then site, then NORAD id (a stable, readable order for exports)."""
        order = np.lexsort((np.asarray(self.norad_ids)[self.sat] if len(self) else self.sat,
                            self.site, self.aos_s))
        aos = self.epoch.iso(self.aos_s[order])
        tca = self.epoch.iso(self.tca_s[order])
        los = self.epoch.iso(self.los_s[order])
        out = []
        for j, k in enumerate(order):
            out.append({
                "sat_name": self.sat_names[self.sat[k]],
                "norad_id": int(self.norad_ids[self.sat[k]]),
                "site": self.site_names[self.site[k]],
                "aos_utc": str(aos[j]), "tca_utc": str(tca[j]), "los_utc": str(los[j]),
                "max_elev_deg": round(float(self.max_elev_deg[k]), 6),
                "duration_s": round(float(self.los_s[k] - self.aos_s[k]), 6),
                "aos_truncated": bool(self.aos_truncated[k]),
                "los_truncated": bool(self.los_truncated[k]),
            })
        return out


_ARRAY_FIELDS = ("sat", "site", "aos_s", "tca_s", "los_s", "max_elev_deg", "aos_truncated",
                 "los_truncated")


def time_grid(duration_s: float, step_s: float) -> np.ndarray:
    """Return sample times 0, step, 2·step, …, ending exactly at ``duration_s``."""
    n = max(int(math.ceil(duration_s / step_s - 1e-9)), 1)
    t = np.arange(n + 1, dtype=float) * step_s
    t[-1] = duration_s
    return t


class _SiteTable:
    """Per-site arrays the search needs, and the mask function."""

    def __init__(self, sites, min_elev_deg):
        self.sites = tuple(sites)
        self.pos_km = itrs_km(self.sites)
        self.enu = enu_basis(self.sites)
        self.flat_deg = np.array([s.mask_deg(min_elev_deg) for s in self.sites], float)
        self.lowest_deg = np.array([s.lowest_mask_deg(min_elev_deg) for s in self.sites], float)
        self.radius_km = np.linalg.norm(self.pos_km, axis=1)
        self.unit = self.pos_km / self.radius_km[:, None]
        self.has_mask = np.array([s.horizon is not None for s in self.sites], bool)
        self.highest_deg = np.array([max(f, max(s.horizon.elev_deg)) if s.horizon else f
                                     for s, f in zip(self.sites, self.flat_deg)], float)
        self.has_horizon = bool(self.has_mask.any())

    def mask(self, site_idx, az_deg, az_rate_deg_s):
        """Return the mask elevation (deg) and its rate (deg/s) along a track."""
        m = self.flat_deg[site_idx].copy()
        dm = np.zeros_like(m)
        if self.has_horizon:
            for j, s in enumerate(self.sites):
                if s.horizon is None:
                    continue
                sel = site_idx == j
                if not sel.any():
                    continue
                hm = s.horizon.elev_at(az_deg[sel])
                hs = s.horizon.slope_at(az_deg[sel]) * az_rate_deg_s[sel]
                higher = hm > m[sel]
                m[sel] = np.where(higher, hm, m[sel])
                dm[sel] = np.where(higher, hs, 0.0)
        return m, dm

    def look(self, site_idx, pos_km, vel_km_s):
        """Return ``(f, f_rate, elev, elev_rate, look)`` for satellites at ``pos``/``vel``."""
        return self.judge(site_idx, topocentric(pos_km, vel_km_s, self.pos_km[site_idx],
                                                self.enu[site_idx]))

    def judge(self, site_idx, la):
        """Return ``(f, f_rate, elev, elev_rate, look)`` for look angles ``la``."""
        m, dm = self.mask(site_idx, la.az_deg, la.az_rate_deg_s)
        return la.elev_deg - m, la.elev_rate_deg_s - dm, la.elev_deg, la.elev_rate_deg_s, la


class _Tracks:
    """The satellite's path through each interval as a cubic Hermite polynomial (in
    time) of its east/north/up offset from the site: one matrix product per interval up
    front, then each evaluation is a few multiply-adds. Hermite interpolation commutes
    with the fixed rotation into the site frame, so this is the ITRS interpolant."""

    def __init__(self, table, site_idx, t0, h, p0, v0, p1, v1):
        enu = table.enu[site_idx]
        site = table.pos_km[site_idx]
        P0 = np.einsum("nij,nj->ni", enu, p0 - site)
        P1 = np.einsum("nij,nj->ni", enu, p1 - site)
        V0 = np.einsum("nij,nj->ni", enu, v0) * h[:, None]
        V1 = np.einsum("nij,nj->ni", enu, v1) * h[:, None]
        self.table, self.site_idx, self.t0, self.h = table, site_idx, t0, h
        self.c = (P0, V0, 3 * (P1 - P0) - 2 * V0 - V1, 2 * (P0 - P1) + V0 + V1)

    def __call__(self, idx, t):
        """Return ``(f, f_rate, elev, elev_rate, look)`` of tracks ``idx`` at times ``t``."""
        h = self.h[idx]
        u = ((t - self.t0[idx]) / h)[:, None]
        A, B, C, D = (c[idx] for c in self.c)
        p = A + u * (B + u * (C + u * D))
        v = (B + u * (2 * C + u * 3 * D)) / h[:, None]
        la = look_enu(p[:, 0], p[:, 1], p[:, 2], v[:, 0], v[:, 1], v[:, 2])
        return self.table.judge(self.site_idx[idx], la)


def _illinois(g, lo, hi, g_lo, g_hi, tol=_ROOT_TOL_S):
    """Find roots of ``g(idx, t)`` in brackets ``[lo, hi]`` (sign change), vectorised.

    ``g(idx, t)`` evaluates the functions of the brackets ``idx`` at times ``t``.
    Regula falsi with the Illinois modification: superlinear and never leaves the bracket.
    """
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    g_lo, g_hi = g_lo.astype(float).copy(), g_hi.astype(float).copy()
    root = 0.5 * (lo + hi)
    active = np.flatnonzero(hi - lo > tol)
    side = np.zeros(len(lo), np.int8)
    for _ in range(_MAX_ITER):
        if not active.size:
            break
        a, b, ga, gb = lo[active], hi[active], g_lo[active], g_hi[active]
        denom = gb - ga
        t = np.where(denom != 0, b - gb * (b - a) / np.where(denom != 0, denom, 1.0),
                     0.5 * (a + b))
        t = np.clip(t, a, b)
        gt = g(active, t)
        root[active] = t
        same_lo = np.sign(gt) == np.sign(ga)
        # Illinois: halve the stale end's value when the same end is kept twice
        s = side[active]
        new_lo = np.where(same_lo, t, a)
        new_hi = np.where(same_lo, b, t)
        new_glo = np.where(same_lo, gt, np.where(s == -1, 0.5 * ga, ga))
        new_ghi = np.where(same_lo, np.where(s == 1, 0.5 * gb, gb), gt)
        side[active] = np.where(same_lo, 1, -1)
        lo[active], hi[active], g_lo[active], g_hi[active] = new_lo, new_hi, new_glo, new_ghi
        done = (new_hi - new_lo <= tol) | (gt == 0)
        # regula falsi can creep from one side; bisect when the bracket barely shrinks
        stuck = ~done & ((new_hi - new_lo) > 0.7 * (b - a))
        if stuck.any():
            mid = 0.5 * (new_lo[stuck] + new_hi[stuck])
            idx = active[stuck]
            gm = g(idx, mid)
            keep_lo = np.sign(gm) == np.sign(g_lo[idx])
            lo[idx] = np.where(keep_lo, mid, lo[idx])
            g_lo[idx] = np.where(keep_lo, gm, g_lo[idx])
            hi[idx] = np.where(keep_lo, hi[idx], mid)
            g_hi[idx] = np.where(keep_lo, g_hi[idx], gm)
            root[idx] = mid
        active = active[~done]
    return root


def find_windows(satellites, sites, start_utc: datetime | str, duration_s: float, *,
                 min_elev_deg: float = 0.0, step_s: float = 60.0, chunk_cells: int = 40_000_000,
                 workers: int | None = None, progress=None, meanwhile=None) -> Windows:
    """Return every visibility window of every satellite over every site.

    ``satellites``: objects with ``name``, ``norad_id`` and ``satrec`` (see
    :mod:`sigma_sn.elements`). ``sites``: :class:`~sigma_sn.sites.Site` objects; a site's
    own ``min_elev_deg`` overrides ``min_elev_deg``. A satellite SGP4 cannot propagate at
    some times is skipped there and listed in ``Windows.skipped``. ``progress`` (a
    :class:`~sigma_sn.progress.Progress`-like object) is advanced per satellite.
    ``workers`` processes (default: one per core) share the chunks of satellites.
    ``meanwhile()``, if given, runs here once: while the forked workers compute, or
    first when there are none (what the caller will need next, such as loading the
    writer's compiled code).
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    if step_s <= 0:
        raise ValueError(f"step_s must be > 0, got {step_s}")
    if not -90.0 <= min_elev_deg < 90.0:
        raise ValueError(f"min_elev_deg must be in [-90, 90), got {min_elev_deg}")
    satellites = list(satellites)
    epoch = Epoch.at(start_utc)
    table = _SiteTable(sites, min_elev_deg)
    t_grid = time_grid(duration_s, step_s)
    theta_grid, theta_dot_grid = epoch.gmst_rad(t_grid)

    def theta_of(t_s):
        return np.interp(t_s, t_grid, theta_grid), np.interp(t_s, t_grid, theta_dot_grid)

    n_site, n_time = len(table.sites), len(t_grid)
    per_chunk = max(1, chunk_cells // max(1, n_site * n_time))
    starts = range(0, len(satellites), per_chunk)
    job = (satellites, per_chunk, epoch, table, t_grid, step_s, theta_of)
    if workers is None:
        workers = os.cpu_count() or 1
    workers = min(workers, len(starts))
    parts, skipped = [], []
    if can_fork(workers):
        # each worker takes whole chunks of satellites; fork hands them the inputs
        global _JOB
        _JOB = job
        try:
            with ForkedMap(_chunk_job, starts, workers) as results:
                if meanwhile is not None:
                    meanwhile()
                for part, skip in results:
                    parts.append(part)
                    skipped.extend(skip)
                    if progress is not None:
                        progress.advance(len(part["chunk"]))
        finally:
            _JOB = None
    else:
        if meanwhile is not None:
            meanwhile()
        for c0 in starts:
            part, skip = _chunk_job(c0, job)
            parts.append(part)
            skipped.extend(skip)
            if progress is not None:
                progress.advance(len(part["chunk"]))
    cols = {k: np.concatenate([p[k] for p in parts]) if parts else np.array([])
            for k in _ARRAY_FIELDS}
    for k in ("sat", "site"):
        cols[k] = cols[k].astype(np.int64)
    return Windows(epoch, float(duration_s), tuple(s.name for s in satellites),
                   tuple(int(s.norad_id) for s in satellites),
                   tuple(s.name for s in table.sites), skipped=tuple(skipped), **cols)


_JOB = None


def _chunk_job(c0, job=None):
    """Windows and propagation failures of the satellites ``c0 …`` of one chunk."""
    satellites, per_chunk, epoch, table, t_grid, step_s, theta_of = job or _JOB
    chunk = satellites[c0:c0 + per_chunk]
    satrecs = [s.satrec for s in chunk]
    eph = propagate(satrecs, epoch, t_grid)
    bad = ~eph.valid
    skipped = []
    for i in np.flatnonzero(bad.any(axis=1)):
        k = int(np.argmax(bad[i]))
        skipped.append(Skipped(chunk[i].name, int(chunk[i].norad_id), str(epoch.iso(t_grid[k])),
                               int(bad[i].sum()), len(t_grid), error_message(eph.error[i, k])))
    part = _chunk_windows(eph, satrecs, table, t_grid, step_s, theta_of)
    part["sat"] = part["sat"] + c0
    part["chunk"] = range(len(chunk))
    return part, skipped


def _candidates(eph, table, step_s):
    """Return ``(sat, site, time)`` indices of the grid samples near enough to matter,
    grouped by site, then satellite, in time order."""
    pos, vel, valid = eph.pos_itrs_km, eph.vel_itrs_km_s, eph.valid
    with np.errstate(invalid="ignore"):
        r = np.linalg.norm(pos, axis=-1)
        r_max = np.nanmax(np.where(valid, r, np.nan), axis=1, initial=0.0)
        rate_max = np.nanmax(np.where(valid, np.linalg.norm(vel, axis=-1) / r, 0.0), axis=1)
    # the geodetic normal leans up to 0.19° from the geocentric one: widen by 0.25°
    eps = np.radians(table.lowest_deg - 0.25)
    ratio = table.radius_km[None, :] * np.cos(eps)[None, :] / np.maximum(r_max[:, None], 1e-9)
    lam = np.where(ratio < 1.0, np.arccos(np.clip(ratio, -1.0, 1.0)) - eps[None, :], -np.inf)
    reach = lam + (1.05 * rate_max * step_s / 2.0)[:, None] + np.radians(0.25)
    # -inf: nothing in reach (a decayed orbit); clipped so cos never sees an infinity
    cos_reach = np.where(np.isfinite(reach), np.cos(np.clip(reach, -np.pi, np.pi)), 2.0)
    cos_reach = cos_reach.astype(np.float32)
    with np.errstate(invalid="ignore"):
        unit = np.where(valid[..., None], pos / r[..., None], 0.0)
    ux, uy, uz = (np.ascontiguousarray(unit[..., i], dtype=np.float32) for i in range(3))
    su = table.unit.astype(np.float32)
    out_s, out_j, out_k = [], [], []
    dots = np.empty(ux.shape, np.float32)
    near = np.empty(ux.shape, bool)
    for j in range(len(su)):
        # one site at a time keeps the (sat, time) slab in cache: 5x faster than matmul
        np.multiply(ux, su[j, 0], out=dots)
        dots += uy * su[j, 1]
        dots += uz * su[j, 2]
        np.greater_equal(dots, cos_reach[:, j, None], out=near)
        ext = near.copy()
        ext[:, 1:] |= near[:, :-1]
        ext[:, :-1] |= near[:, 1:]
        ext &= valid
        s_i, k_i = np.nonzero(ext)
        out_s.append(s_i)
        out_k.append(k_i)
        out_j.append(np.full(s_i.size, j))
    return np.concatenate(out_s), np.concatenate(out_j), np.concatenate(out_k)


def _fine_brackets(fine, t_a, h_int, f, df, a, b, geo):
    """Sign changes of f on the interpolated track of intervals ``fine``, sampled every
    ``_FINE_S`` (exact sample values at the ends): ``(interval, lo, hi, f_lo, f_hi,
    f'_lo, f'_hi)`` per bracket. Under an azimuth mask a dip or a notch narrower than
    ``_FINE_S`` can still be missed."""
    if not fine.size:
        return (np.zeros(0, np.int64),) + (np.zeros(0),) * 6
    n_sub = np.maximum(np.ceil(h_int[fine] / _FINE_S).astype(np.int64), 1)
    rep = np.repeat(fine, n_sub + 1)
    starts = np.cumsum(n_sub + 1) - (n_sub + 1)
    k = np.arange(rep.size) - np.repeat(starts, n_sub + 1)
    n_rep = np.repeat(n_sub, n_sub + 1)
    tt = t_a[rep] + h_int[rep] * (k / n_rep)
    fv, dv = geo(rep, tt)[:2]
    ends = (k == 0, k == n_rep)
    fv[ends[0]], dv[ends[0]] = f[a[rep[ends[0]]]], df[a[rep[ends[0]]]]
    fv[ends[1]], dv[ends[1]] = f[b[rep[ends[1]]]], df[b[rep[ends[1]]]]
    sc = np.flatnonzero((rep[:-1] == rep[1:]) & ((fv[:-1] < 0) != (fv[1:] < 0)))
    return rep[sc], tt[sc], tt[sc + 1], fv[sc], fv[sc + 1], dv[sc], dv[sc + 1]


def _cubic(fa, da, fb, db, h):
    """Coefficients ``(c0, c1, c2, c3)`` in ``u`` ∈ [0, 1] of the cubic through values
    ``fa``, ``fb`` and rates ``da``, ``db`` (per second) over an interval of ``h`` s."""
    return (fa, h * da, 3 * (fb - fa) - h * (2 * da + db), 2 * (fa - fb) + h * (da + db))


def _cubic_root(c):
    """Root in [0, 1] of a cubic ``c`` that changes sign there: secant start, then
    Newton steps kept inside [0, 1]. Only a first guess, so a few steps suffice."""
    c0, c1, c2, c3 = c
    f1 = c0 + c1 + c2 + c3
    den = c0 - f1
    u = np.clip(np.where(den != 0, c0 / np.where(den != 0, den, 1.0), 0.5), 0.0, 1.0)
    for _ in range(4):
        val = c0 + u * (c1 + u * (c2 + u * c3))
        slope = c1 + u * (2 * c2 + u * 3 * c3)
        u = np.clip(u - np.where(slope != 0, val / np.where(slope != 0, slope, 1.0), 0.0),
                    0.0, 1.0)
    return u


def _chunk_windows(eph, satrecs, table, t_grid, step_s, theta_of):
    """Windows of one chunk of satellites, as a dict of column arrays."""
    epoch = eph.epoch
    s_i, j_i, k_i = _candidates(eph, table, step_s)
    if s_i.size == 0:
        return {k: np.array([], dtype=float) for k in _ARRAY_FIELDS} | {
            "sat": np.array([], int), "site": np.array([], int)}
    pos = eph.pos_itrs_km[s_i, k_i]
    vel = eph.vel_itrs_km_s[s_i, k_i]
    f, df, el, del_, _ = table.look(j_i, pos, vel)
    t = t_grid[k_i]
    n_site = len(table.sites)
    pair = s_i.astype(np.int64) * n_site + j_i

    # intervals between consecutive candidate samples of one (sat, site)
    nxt = np.flatnonzero((pair[1:] == pair[:-1]) & (k_i[1:] == k_i[:-1] + 1))
    a, b = nxt, nxt + 1
    h_int = t[b] - t[a]

    # interpolants only where something is to be solved
    cross = np.flatnonzero((f[a] < 0) != (f[b] < 0))
    graze = np.flatnonzero(((f[a] < 0) == (f[b] < 0)) & ((df[a] > 0) != (df[b] > 0)))
    # elevation maxima that may lie inside a window (tangent bound as for grazes below)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_top_meet = (el[b] - el[a] + del_[a] * t[a] - del_[b] * t[b]) / (del_[a] - del_[b])
    el_meet = el[a] + del_[a] * (t_top_meet - t[a])
    tops = np.flatnonzero((del_[a] > 0) & (del_[b] <= 0)
                          & (el_meet > table.lowest_deg[j_i[a]] - _GRAZE_MARGIN_DEG))
    # an azimuth mask has corners: f can dip under it (or peek over a notch) between two
    # samples whose values and rates say nothing of it. Sites with one are sampled along
    # the interpolated track every _FINE_S instead, and their crossings come from there
    kinked = np.zeros(len(a), bool)
    if table.has_horizon:
        # (over one step a pass's elevation has at most a maximum inside, so its lowest
        # is at an end: above the mask's highest point there, the corners cannot matter)
        kinked = table.has_mask[j_i[a]] & (np.minimum(el[a], el[b])
                                           <= table.highest_deg[j_i[a]])
        cross = cross[~kinked[cross]]
    fine = np.flatnonzero(kinked)
    solve = np.unique(np.concatenate([cross, graze, tops, fine]))
    tracks = _Tracks(table, j_i[a[solve]], t[a[solve]], h_int[solve], pos[a[solve]],
                     vel[a[solve]], pos[b[solve]], vel[b[solve]])
    slot = np.full(len(a), -1)
    slot[solve] = np.arange(solve.size)

    def geo(idx, tt):
        """Interpolated (f, f', elev, elev', look) of interval ``idx`` at times ``tt``."""
        return tracks(slot[idx], tt)

    def extremum(idx, lo, hi, va, da, vb, db, which):
        """Time of the extremum of component ``which`` (0: f, 2: elev) in each bracket,
        where its rate changes sign: a guess from the cubic, then Illinois regula falsi."""
        h = hi - lo
        c = _cubic(va, da, vb, db, h)
        dc = (c[1], 2 * c[2], 3 * c[3], np.zeros_like(h))
        u = _cubic_root(dc)
        t0 = lo + u * h
        g0 = geo(idx, t0)[which + 1]
        # keep the half of the bracket that still holds the sign change, then solve there
        right = (g0 > 0) == (da > 0)
        return _illinois(lambda i, tt: geo(idx[i], tt)[which + 1],
                         np.where(right, t0, lo), np.where(right, hi, t0),
                         np.where(right, g0, da), np.where(right, db, g0), tol=_EXTREMUM_TOL_S)

    # --- brackets ----------------------------------------------------------------
    # a pass can rise above the mask between two samples below it (or dip under an
    # azimuth mask between two above it): look wherever f's rate changes sign
    # (a cheap bound drops the many near misses: where the tangents at both ends meet)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_meet = (f[b] - f[a] + df[a] * t[a] - df[b] * t[b]) / (df[a] - df[b])
    f_meet = f[a] + df[a] * (t_meet - t[a])
    hidden_max = np.flatnonzero((f[a] < 0) & (f[b] < 0) & (df[a] > 0) & (df[b] < 0)
                                & (f_meet > -_GRAZE_MARGIN_DEG) & ~kinked)
    hidden_min = np.flatnonzero((f[a] >= 0) & (f[b] >= 0) & (df[a] < 0) & (df[b] > 0)
                                & (f_meet < _GRAZE_MARGIN_DEG) & ~kinked)
    ext_idx = np.concatenate([hidden_max, hidden_min])
    ia, ib = a[ext_idx], b[ext_idx]
    t_ext = extremum(ext_idx, t[ia], t[ib], f[ia], df[ia], f[ib], df[ib], 0)
    f_ext, df_ext = geo(ext_idx, t_ext)[:2] if ext_idx.size else (np.array([]),) * 2
    flips = (f_ext >= 0) != (f[ia] >= 0)
    ext_idx, t_ext, f_ext, df_ext = ext_idx[flips], t_ext[flips], f_ext[flips], df_ext[flips]
    ia, ib = a[ext_idx], b[ext_idx]

    k_int, k_lo, k_hi, k_flo, k_fhi, k_dlo, k_dhi = _fine_brackets(fine, t[a], h_int, f, df,
                                                                   a, b, geo)

    # every crossing bracket: (interval, lo, hi, f and f' at both ends)
    br_int = np.concatenate([cross, ext_idx, ext_idx, k_int])
    ca, cb = a[cross], b[cross]
    br_lo = np.concatenate([t[ca], t[ia], t_ext, k_lo])
    br_hi = np.concatenate([t[cb], t_ext, t[ib], k_hi])
    br_flo = np.concatenate([f[ca], f[ia], f_ext, k_flo])
    br_fhi = np.concatenate([f[cb], f_ext, f[ib], k_fhi])
    br_dlo = np.concatenate([df[ca], df[ia], df_ext, k_dlo])
    br_dhi = np.concatenate([df[cb], df_ext, df[ib], k_dhi])
    t_root = _crossings(geo, br_int, br_lo, br_hi, br_flo, br_dlo, br_fhi, br_dhi)
    if t_root.size:
        t_root = _polish(t_root, br_lo, br_hi, s_i[a[br_int]], j_i[a[br_int]], satrecs, table,
                         epoch, theta_of, geo, br_int)
    rising = br_flo < 0

    # TCA candidates: maxima of elevation
    elev_max = tops
    ea, eb = a[elev_max], b[elev_max]
    t_top = extremum(elev_max, t[ea], t[eb], el[ea], del_[ea], el[eb], del_[eb], 2)
    el_top = geo(elev_max, t_top)[2] if elev_max.size else np.array([])

    # --- windows: pair rises with sets, per (sat, site) --------------------------------
    first = np.ones(len(pair), bool)
    first[1:] = (pair[1:] != pair[:-1]) | (k_i[1:] != k_i[:-1] + 1)
    last = np.ones(len(pair), bool)
    last[:-1] = first[1:]
    start_open = np.flatnonzero(first & (f >= 0))
    end_open = np.flatnonzero(last & (f >= 0))
    ev_pair = np.concatenate([pair[a[br_int]], pair[start_open], pair[end_open]])
    ev_t = np.concatenate([t_root, t[start_open], t[end_open]])
    ev_rise = np.concatenate([rising, np.ones(start_open.size, bool),
                              np.zeros(end_open.size, bool)])
    ev_open = np.concatenate([np.zeros(t_root.size, bool), np.ones(start_open.size, bool),
                              np.ones(end_open.size, bool)])
    # a set sorts before a rise at the same instant only if it ends an earlier window
    order = np.lexsort((ev_rise, ev_t, ev_pair))
    ev_pair, ev_t, ev_rise, ev_open = ev_pair[order], ev_t[order], ev_rise[order], ev_open[order]
    w = np.flatnonzero(ev_rise[:-1] & ~ev_rise[1:] & (ev_pair[:-1] == ev_pair[1:]))
    w_pair, aos, los = ev_pair[w], ev_t[w], ev_t[w + 1]
    aos_trunc, los_trunc = ev_open[w], ev_open[w + 1]

    # --- TCA: the highest elevation maximum inside each window, else an end -----------
    n_w = len(aos)
    tca = np.full(n_w, np.nan)
    max_el = np.full(n_w, -np.inf)
    top_pair = pair[a[elev_max]]
    if n_w and t_top.size:
        # merge windows and tops in (pair, time) order; a top belongs to the last window
        # that starts before it, if that window has the same pair and has not ended
        m_pair = np.concatenate([w_pair, top_pair])
        m_t = np.concatenate([aos, t_top])
        m_is_top = np.concatenate([np.zeros(n_w, bool), np.ones(t_top.size, bool)])
        order = np.lexsort((m_is_top, m_t, m_pair))
        win_of = np.where(~m_is_top[order], order, -1)
        win_of = np.maximum.accumulate(win_of)
        tops = np.flatnonzero(m_is_top[order])
        wi = win_of[tops]
        ti = order[tops] - n_w
        ok = wi >= 0
        wi_c = np.where(ok, wi, 0)
        ok &= (w_pair[wi_c] == top_pair[ti]) & (t_top[ti] <= los[wi_c])
        wi, ti = wi_c[ok], ti[ok]
        by_elev = np.argsort(el_top[ti], kind="stable")   # the highest is written last
        tca[wi[by_elev]] = t_top[ti[by_elev]]
        max_el[wi[by_elev]] = el_top[ti[by_elev]]
    need = np.flatnonzero(np.isnan(tca))
    if need.size:
        # no interior maximum: the window is monotonic, so its top is one of its ends
        w_sat = (w_pair[need] // n_site).astype(int)
        w_site = (w_pair[need] % n_site).astype(int)
        ends = np.concatenate([aos[need], los[need]])
        p, v, _ = propagate_pairs(satrecs, np.concatenate([w_sat, w_sat]), epoch, ends, theta_of)
        la = topocentric(p, v, table.pos_km[np.concatenate([w_site, w_site])],
                         table.enu[np.concatenate([w_site, w_site])])
        e_aos, e_los = la.elev_deg[:need.size], la.elev_deg[need.size:]
        tca[need] = np.where(e_aos >= e_los, aos[need], los[need])
        max_el[need] = np.maximum(e_aos, e_los)
    return {
        "sat": (w_pair // n_site).astype(np.int64), "site": (w_pair % n_site).astype(np.int64),
        "aos_s": aos, "tca_s": tca, "los_s": los, "max_elev_deg": max_el,
        "aos_truncated": aos_trunc, "los_truncated": los_trunc,
    }


def _newton(fun, t, lo, hi, g_lo, tol):
    """Safeguarded Newton, vectorised: roots of ``fun(i, t) -> (g, g')`` in brackets
    ``[lo, hi]`` where ``g`` changes sign (``g_lo`` is its value at ``lo``). A step that
    would leave the shrinking bracket bisects instead, so it always converges."""
    t, lo, hi = t.copy(), lo.copy(), hi.copy()
    neg_lo = g_lo < 0
    active = np.arange(len(t))
    for _ in range(_MAX_ITER):
        if not active.size:
            break
        tt = t[active]
        g, dg = fun(active, tt)
        left = (g < 0) == neg_lo[active]        # root lies right of tt
        lo[active] = np.where(left, tt, lo[active])
        hi[active] = np.where(left, hi[active], tt)
        a, b = lo[active], hi[active]
        with np.errstate(invalid="ignore", divide="ignore"):
            nt = tt - g / dg
        bad = ~((nt >= a) & (nt <= b))
        nt = np.where(g == 0, tt, np.where(bad, 0.5 * (a + b), nt))
        t[active] = nt
        done = (np.abs(nt - tt) < tol) | (g == 0) | (b - a < tol)
        active = active[~done]
    return t


def _crossings(geo, idx, lo, hi, f_lo, d_lo, f_hi, d_hi):
    """Mask crossings in brackets ``[lo, hi]``: a guess from the cubic through f and f'
    at the ends, then two Newton steps on the interpolated geometry."""
    h = hi - lo
    if not h.size:
        return h
    c = _cubic(f_lo, d_lo, f_hi, d_hi, h)
    u = _cubic_root(c)
    return _newton(lambda i, tt: geo(idx[i], tt)[:2], lo + u * h, lo, hi, f_lo, _ROOT_TOL_S)


def _polish(t_root, lo, hi, sat_idx, site_idx, satrecs, table, epoch, theta_of, geo, br_int):
    """One Newton step on exact SGP4 for roots the interpolant may have misplaced."""
    f_h, df_h, _, _, la = geo(br_int, t_root)
    # error bound of the interpolated root: position error over range, over f's rate
    bound_s = np.degrees(_HERMITE_ERR_KM / la.range_km) / np.maximum(np.abs(df_h), 1e-12)
    need = np.flatnonzero(bound_s > _POLISH_ABOVE_S)
    if not need.size:
        return t_root
    p, v, err = propagate_pairs(satrecs, sat_idx[need], epoch, t_root[need], theta_of)
    f, df, *_ = table.look(site_idx[need], p, v)
    step = np.where((err == 0) & (df != 0), f / np.where(df != 0, df, 1.0), 0.0)
    new = np.clip(t_root[need] - step, lo[need], hi[need])
    out = t_root.copy()
    out[need] = new
    return out
