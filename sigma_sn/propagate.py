"""Propagation: SGP4 for every satellite at every time at once, TEME -> ITRS as skyfield.

Arrays keep sgp4's order, ``(n_sat, n_time)`` and ``(n_sat, n_time, 3)``. Times are
``t_s``: SI seconds since the window start (UTC; no leap second falls in our windows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import numpy as np
from sgp4.api import SGP4_ERRORS, SatrecArray

DAY_S = 86400.0


@lru_cache(maxsize=1)
def timescale():
    """Return skyfield's built-in timescale (UT1 from its bundled IERS table)."""
    from skyfield.api import load

    return load.timescale()


def as_utc(moment: datetime | str) -> datetime:
    """Return ``moment`` as an aware UTC datetime; naive input is taken as UTC."""
    if isinstance(moment, str):
        text = moment.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class Epoch:
    """The window start as the pieces sgp4 and skyfield want: UTC Julian date split in a
    whole day and a fraction, and GMST 1982 (radians) as a linear function of ``t_s``."""

    start_utc: datetime
    jd_utc: float          # whole Julian day (…​.5) of the start, UTC
    fr_utc: float          # fraction of day of the start, UTC

    @classmethod
    def at(cls, start_utc: datetime | str) -> "Epoch":
        start = as_utc(start_utc)
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        jd = (midnight - datetime(2000, 1, 1, tzinfo=timezone.utc)).days + 2451544.5
        fr = (start - midnight) / timedelta(days=1)
        return cls(start, jd, fr)

    def sgp4_times(self, t_s) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(jd, fr)`` arrays for sgp4 at ``t_s`` seconds after the start."""
        t_s = np.asarray(t_s, float)
        return np.full(t_s.shape, self.jd_utc), self.fr_utc + t_s / DAY_S

    def gmst_rad(self, t_s) -> tuple[np.ndarray, np.ndarray]:
        """Return GMST 1982 (rad, unwrapped) and its rate (rad/s) at ``t_s``, from UT1.

        This is skyfield's ``theta_GMST1982`` on skyfield's UT1, so our TEME -> ITRS
        rotation is the one ``EarthSatellite.at(t).frame_xyz(itrs)`` uses.
        """
        from skyfield.sgp4lib import theta_GMST1982

        t_s = np.atleast_1d(np.asarray(t_s, float))
        s = self.start_utc
        t = timescale().utc(s.year, s.month, s.day, s.hour, s.minute,
                            s.second + s.microsecond * 1e-6 + t_s)
        theta, theta_dot = theta_GMST1982(t.whole, t.ut1_fraction)
        return np.unwrap(theta), theta_dot / DAY_S

    def iso(self, t_s) -> np.ndarray:
        """Return ISO 8601 UTC strings with microseconds and ``Z`` for ``t_s``."""
        out = self.iso_ascii(t_s)
        return out.astype(out.dtype.str.replace("S", "U"))[()]   # a scalar for a scalar

    def iso_ascii(self, t_s) -> np.ndarray:
        """:meth:`iso` as ASCII bytes (numpy ``S`` strings, always an array): a quarter
        of the size, for sending between processes."""
        base = np.datetime64(self.start_utc.replace(tzinfo=None), "us")
        t_s = np.asarray(t_s, float)
        if not np.isfinite(t_s).all():   # NaT for what is no instant, as numpy writes it
            return _iso_each(base, t_s)
        us = base.astype(np.int64) + np.round(t_s.ravel() * 1e6).astype(np.int64)
        # a plan has millions of instants but a day has 86,400 seconds: numpy formats each
        # second once and the digits of the microseconds are written as bytes (five times
        # faster than formatting every instant)
        sec, frac = np.divmod(us, 1_000_000)
        first = int(sec.min()) if len(sec) else 0
        if len(sec) and int(sec.max()) - first <= 4 * len(sec):   # the usual: no sort
            seconds, which = np.arange(first, int(sec.max()) + 1), sec - first
        else:
            seconds, which = np.unique(sec, return_inverse=True)
        head = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
        width = len(head[0]) if len(head) else 19   # 19 unless a year has five digits
        if len(head) and len(head[-1]) != width:    # years of two lengths: one by one
            return _iso_each(base, t_s)
        text = np.empty((len(us), width + 8), np.uint8)
        text[:, :width] = head.astype(f"S{width}").view(np.uint8).reshape(-1, width)[which]
        text[:, width] = ord(".")
        for k in range(6):
            text[:, width + 6 - k] = frac % 10 + ord("0")
            frac //= 10
        text[:, width + 7] = ord("Z")
        return text.view(f"S{width + 8}").reshape(t_s.shape)


def _iso_each(base: np.datetime64, t_s: np.ndarray) -> np.ndarray:
    """Epoch.iso the plain way, one datetime64 each (NaN gives ``NaTZ``)."""
    with np.errstate(invalid="ignore"):
        us = np.round(t_s * 1e6).astype("int64")
    us = np.where(np.isfinite(t_s), us, np.iinfo(np.int64).min).astype("timedelta64[us]")
    return np.asarray(np.char.add(np.datetime_as_string(base + us, unit="us"), "Z")).astype("S")


def teme_to_itrs(pos_teme_km, vel_teme_km_s, theta_rad, theta_dot_rad_s):
    """Rotate TEME vectors ``(..., n_time, 3)`` into ITRS (no polar motion, as skyfield).

    ``theta_rad`` has shape ``(n_time,)``. Velocity gets the Earth-rotation term.
    """
    c, s = np.cos(theta_rad), np.sin(theta_rad)
    minus_s = -s
    x, y, z = pos_teme_km[..., 0], pos_teme_km[..., 1], pos_teme_km[..., 2]
    vx, vy, vz = vel_teme_km_s[..., 0], vel_teme_km_s[..., 1], vel_teme_km_s[..., 2]
    w = theta_dot_rad_s
    # written into the outputs in place (millions of points for a plan's round trips),
    # each sum left to right: c·x + s·y, −s·x + c·y, c·vx + s·vy + w·py, −s·vx + c·vy − w·px
    shape = np.broadcast_shapes(x.shape, np.shape(c), np.shape(w)) + (3,)
    pos, vel = np.empty(shape), np.empty(shape)
    px, py, vxo, vyo = pos[..., 0], pos[..., 1], vel[..., 0], vel[..., 1]
    np.multiply(c, x, out=px)
    px += s * y
    np.multiply(minus_s, x, out=py)
    py += c * y
    pos[..., 2] = z
    np.multiply(c, vx, out=vxo)
    vxo += s * vy
    vxo += w * py
    np.multiply(minus_s, vx, out=vyo)
    vyo += c * vy
    vyo -= w * px
    vel[..., 2] = vz
    return pos, vel


@dataclass(frozen=True)
class Ephemeris:
    """Positions and velocities of ``n_sat`` satellites at ``n_time`` times, ITRS.

    ``error[i, k]`` is sgp4's error code (0 = fine); where it is not 0 the position is NaN.
    """

    epoch: Epoch
    t_s: np.ndarray               # (n_time,)
    pos_itrs_km: np.ndarray       # (n_sat, n_time, 3)
    vel_itrs_km_s: np.ndarray     # (n_sat, n_time, 3)
    error: np.ndarray             # (n_sat, n_time) uint8

    @property
    def valid(self) -> np.ndarray:
        return self.error == 0


def propagate_teme(satrecs, epoch: Epoch, t_s):
    """Return sgp4's raw ``(error, pos_teme_km, vel_teme_km_s)``, ``(n_sat, n_time[, 3])``."""
    jd, fr = epoch.sgp4_times(np.atleast_1d(np.asarray(t_s, float)))
    return SatrecArray(list(satrecs)).sgp4(jd, fr)


def propagate(satrecs, epoch: Epoch, t_s) -> Ephemeris:
    """Propagate every Satrec in ``satrecs`` to every time ``t_s`` (seconds after start)."""
    t_s = np.atleast_1d(np.asarray(t_s, float))
    err, r, v = propagate_teme(satrecs, epoch, t_s)
    theta, theta_dot = epoch.gmst_rad(t_s)
    pos, vel = teme_to_itrs(r, v, theta, theta_dot)
    return Ephemeris(epoch, t_s, pos, vel, err)


def propagate_pairs(satrecs, sat_index, epoch: Epoch, t_s, theta_of):
    """Exact ITRS position and velocity of satellite ``sat_index[j]`` at ``t_s[j]``.

    Groups the requests by satellite so each satellite costs one vectorised sgp4 call.
    ``theta_of(t_s) -> (theta, theta_dot)`` supplies GMST. Returns ``(pos, vel, error)``.
    """
    sat_index = np.asarray(sat_index)
    t_s = np.asarray(t_s, float)
    n = len(t_s)
    order = np.argsort(sat_index, kind="stable")
    sorted_idx = sat_index[order]
    bounds = np.flatnonzero(np.diff(sorted_idx)) + 1
    starts = np.concatenate([[0], bounds]).tolist()
    ends = np.concatenate([bounds, [n]]).tolist()
    jd, fr = epoch.sgp4_times(t_s)
    jd, fr = jd[order], fr[order]
    # in satellite order, each satellite's requests a contiguous slice; unsorted once
    rs, vs, es = np.empty((n, 3)), np.empty((n, 3)), np.zeros(n, np.uint8)
    for a, b in zip(starts, ends):
        es[a:b], rs[a:b], vs[a:b] = satrecs[sorted_idx[a]].sgp4_array(jd[a:b], fr[a:b])
    r, v, err = np.empty((n, 3)), np.empty((n, 3)), np.empty(n, np.uint8)
    r[order], v[order], err[order] = rs, vs, es
    theta, theta_dot = theta_of(t_s)
    pos, vel = teme_to_itrs(r, v, theta, theta_dot)
    return pos, vel, err


def error_message(code: int) -> str:
    """Return sgp4's text for an error code."""
    return SGP4_ERRORS.get(int(code), f"error {code}")
