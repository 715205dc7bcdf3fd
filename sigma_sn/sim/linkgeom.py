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


def link_geometries(windows, pairs, satellites, sites, *, step_s: float = 10.0,
                    names: dict | None = None) -> dict[str, LinkGeometry]:
    """Return a :class:`LinkGeometry` per ``(sat_index, site_index)`` in ``pairs``.

    ``windows`` (from :func:`~sigma_sn.visibility.find_windows` over ``satellites`` and
    ``sites``) gives the up intervals. Ranges are sampled every ``step_s`` seconds over
    the span of the pair's windows (10 s keeps the linear-interpolation error of the
    delay under a few microseconds for LEO). ``names`` maps a pair to the access point's
    name in the plan (default: the satellite's name).
    """
    out: dict[str, LinkGeometry] = {}
    duration = windows.duration_s
    for i, j in pairs:
        sel = (windows.sat == i) & (windows.site == j)
        name = (names or {}).get((i, j), satellites[i].name)
        up = tuple(sorted(zip(windows.aos_s[sel].tolist(), windows.los_s[sel].tolist())))
        if not up:
            lo, hi = 0.0, step_s
        else:
            lo = max(0.0, np.floor(up[0][0] / step_s) * step_s - step_s)
            hi = min(duration, np.ceil(up[-1][1] / step_s) * step_s + step_s)
        t_s = np.arange(lo, hi + step_s / 2, step_s)
        if len(t_s) < 2:
            t_s = np.array([lo, lo + step_s])
        eph = propagate([satellites[i].satrec], windows.epoch, t_s)
        site = [sites[j]]
        la = topocentric(eph.pos_itrs_km[0], eph.vel_itrs_km_s[0], itrs_km(site)[0],
                         enu_basis(site)[0])
        rng = np.nan_to_num(la.range_km, nan=float(np.nanmax(la.range_km, initial=1e4)))
        out[name] = LinkGeometry(name, t_s, rng, np.nan_to_num(la.elev_deg, nan=-90.0), up)
    return out
