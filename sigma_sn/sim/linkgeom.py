"""Geometry for the replay, computed once before it starts: range and elevation samples
and up intervals for every (mobile, access point) link that a plan uses.

This is the only place near the simulation that propagates orbits; the SimPy model
reads what it returns. Replaying against different truth (a later element set) means
calling it with the truth's satellites and windows.
"""

from __future__ import annotations

import numpy as np

from sigma_sn.geometry import topocentric
from sigma_sn.propagate import propagate
from sigma_sn.sim.links import LinkGeometry
from sigma_sn.sites import enu_basis, itrs_km

#: a window still open at the end of the run stays up this long past it, so packets in
#: flight at the end are counted in flight, not lost to a set that never happens
TRUNCATED_PAD_S = 60.0


def sample_times(up_s, duration_s: float, step_s: float) -> np.ndarray:
    """Return sample times on the ``step_s`` grid covering every up interval with one
    step to spare on each side (clipped to ``[0, duration_s]``), nothing in between.

    Between up intervals the link is down and its delay is never read, so a day of a
    satellite that passes over a few times costs a few passes of samples, not a day.
    """
    if not up_s:
        return np.array([0.0, step_s])
    last = int(np.ceil(duration_s / step_s))
    spans = [np.arange(max(0, int(np.floor(a / step_s)) - 1),
                       min(last, int(np.ceil(b / step_s)) + 1) + 1) for a, b in up_s]
    k = np.unique(np.concatenate(spans))
    t_s = k * step_s
    if len(t_s) < 2:
        t_s = np.array([t_s[0], t_s[0] + step_s])
    return t_s


def link_geometries(windows, pairs, satellites, sites, *, step_s: float = 10.0,
                    names: dict | None = None) -> dict[str, LinkGeometry]:
    """Return a :class:`LinkGeometry` per ``(sat_index, site_index)`` in ``pairs``,
    keyed by access point name.

    ``windows`` (from :func:`~sigma_sn.visibility.find_windows` over ``satellites`` and
    ``sites``) gives the up intervals. Ranges are sampled every ``step_s`` seconds around
    the pair's windows (:func:`sample_times`; 10 s keeps the linear-interpolation error
    of the delay under a few microseconds for LEO). ``names`` maps a pair to the access
    point's name in the plan (default: the satellite's name); give each mobile its own
    call, since two mobiles share access point names.
    """
    out: dict[str, LinkGeometry] = {}
    for i, j in pairs:
        sel = (windows.sat == i) & (windows.site == j)
        name = (names or {}).get((i, j), satellites[i].name)
        los = np.where(windows.los_truncated[sel], windows.duration_s + TRUNCATED_PAD_S,
                       windows.los_s[sel])
        up = tuple(sorted(zip(windows.aos_s[sel].tolist(), los.tolist())))
        t_s = sample_times(up, windows.duration_s + TRUNCATED_PAD_S, step_s)
        eph = propagate([satellites[i].satrec], windows.epoch, t_s)
        site = [sites[j]]
        la = topocentric(eph.pos_itrs_km[0], eph.vel_itrs_km_s[0], itrs_km(site)[0],
                         enu_basis(site)[0])
        rng = np.nan_to_num(la.range_km, nan=float(np.nanmax(la.range_km, initial=1e4)))
        out[name] = LinkGeometry(name, t_s, rng, np.nan_to_num(la.elev_deg, nan=-90.0), up)
    return out
