"""A slow, independent reference for visibility windows, built on skyfield alone.

It samples skyfield's own ``altaz()`` every ``step_s`` seconds, brackets every mask
crossing and every local maximum of elevation, and refines them with
``scipy.optimize.brentq`` / ``minimize_scalar`` to 1e-4 s. Nothing in it comes from
sigma_sn's geometry, so agreement means something.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from skyfield.api import EarthSatellite, load, wgs84

XTOL_S = 1e-4


def reference_windows(satrecs, names, sites, start_utc: datetime, duration_s: float,
                      min_elev_deg: float, step_s: float = 10.0):
    """Return ``[(sat_name, site_name, aos_s, tca_s, los_s, max_elev_deg,
    aos_truncated, los_truncated)]`` from skyfield, brute force."""
    ts = load.timescale()
    s = start_utc

    def times(t_s):
        return ts.utc(s.year, s.month, s.day, s.hour, s.minute,
                      s.second + s.microsecond * 1e-6 + np.asarray(t_s, float))

    grid = np.arange(0.0, duration_s + step_s / 2, step_s)
    grid[-1] = min(grid[-1], duration_s)
    grid = np.unique(np.append(grid, duration_s))
    t_grid = times(grid)
    out = []
    for satrec, name in zip(satrecs, names):
        sat = EarthSatellite.from_satrec(satrec, ts)
        for site in sites:
            topos = wgs84.latlon(site.lat_deg, site.lon_deg, elevation_m=site.alt_m)
            diff = sat - topos
            mask = site.mask_deg(min_elev_deg)

            def mask_at(az_deg):
                if site.horizon is None:
                    return mask
                return max(mask, float(site.horizon.elev_at(az_deg)))

            def f(t):
                alt, az, _ = diff.at(times(t)).altaz()
                return alt.degrees - mask_at(az.degrees)

            def elev(t):
                return diff.at(times(t)).altaz()[0].degrees

            alt, az, _ = diff.at(t_grid).altaz()
            fg = alt.degrees - (mask if site.horizon is None else
                                np.maximum(mask, site.horizon.elev_at(az.degrees)))
            # refine local maxima of f between samples: a grazing pass can hide there
            events = []  # (t, +1 rise / -1 set)
            for k in range(1, len(grid) - 1):
                if fg[k] >= fg[k - 1] and fg[k] >= fg[k + 1] and fg[k] < 0 and fg[k] > -1.0:
                    res = minimize_scalar(lambda x: -f(x), bounds=(grid[k - 1], grid[k + 1]),
                                          method="bounded", options={"xatol": XTOL_S})
                    if -res.fun >= 0:
                        events.append((brentq(f, grid[k - 1], res.x, xtol=XTOL_S), 1))
                        events.append((brentq(f, res.x, grid[k + 1], xtol=XTOL_S), -1))
            for k in range(len(grid) - 1):
                if (fg[k] < 0) != (fg[k + 1] < 0):
                    events.append((brentq(f, grid[k], grid[k + 1], xtol=XTOL_S),
                                   1 if fg[k] < 0 else -1))
            if fg[0] >= 0:
                events.append((0.0, 2))
            if fg[-1] >= 0:
                events.append((float(duration_s), -2))
            events.sort()
            for (ta, ka), (tb, kb) in zip(events, events[1:]):
                if ka > 0 and kb < 0:
                    res = minimize_scalar(lambda x: -elev(x), bounds=(ta, tb), method="bounded",
                                          options={"xatol": XTOL_S})
                    cands = [(-res.fun, res.x), (elev(ta), ta), (elev(tb), tb)]
                    top, t_top = max(cands)
                    out.append((name, site.name, ta, t_top, tb, top, ka == 2, kb == -2))
    return out
