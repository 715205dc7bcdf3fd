"""Plan real visibility windows: group them per mobile, select, time, export as JSON."""

from __future__ import annotations

import functools
import json
import math
from typing import Sequence

import numpy as np

from sigma_sn.geometry import C_KM_S
from sigma_sn.planner.core import Timing, Window, handovers, select
from sigma_sn.planner.kinds import Mode, Policy
from sigma_sn.sites import itrs_km

SCHEMA = "sigma-sn/plan/1"
_ROUND = 6  # microseconds: exports are byte-identical across runs


@functools.lru_cache(maxsize=None)
def itrs_of(site) -> tuple[float, float, float]:
    return tuple(float(v) for v in itrs_km([site])[0])


class _Ranges:
    """Slant range of one satellite from one site at any instant: scalar SGP4 plus GMST
    interpolated on a 60 s grid (the rotation angle is linear to far below 1 µs there)."""

    def __init__(self, epoch, duration_s: float):
        self.epoch = epoch
        self.t_grid = np.append(np.arange(0.0, duration_s, 60.0), duration_s)
        self.theta, self.theta_dot = epoch.gmst_rad(self.t_grid)

    def range_km(self, satellite, site, t_s: float) -> float:
        jd, fr = self.epoch.sgp4_times(t_s)
        err, r, v = satellite.satrec.sgp4(float(jd), float(fr))
        if err:
            return float("nan")
        theta = float(np.interp(t_s, self.t_grid, self.theta))
        c, s = math.cos(theta), math.sin(theta)
        x, y, z = itrs_of(site)
        # TEME -> ITRS about z (as teme_to_itrs), minus the site, without numpy overhead
        return math.dist((c * r[0] + s * r[1], -s * r[0] + c * r[1], r[2]), (x, y, z))


def plan_windows(windows, satellites: Sequence, sites: Sequence, mode: Mode, policy: Policy,
                 timing: Timing = Timing(), rtt_bound_s: float = 0.1) -> dict:
    """Return the plan (JSON-ready dict) for every mobile of ``windows``.

    Router mode: each site is a mobile, satellites are access points. Host mode: each
    satellite is a mobile, sites are access points. RTTs come from the slant range at
    the event times (propagated there, windows are not recomputed).
    """
    out_handovers = []
    ranges = _Ranges(windows.epoch, windows.duration_s)
    mobiles = range(len(sites)) if mode is Mode.ROUTER else range(len(satellites))
    for m in mobiles:
        rows = np.flatnonzero((windows.site if mode is Mode.ROUTER else windows.sat) == m)
        if mode is Mode.ROUTER:
            names = [satellites[windows.sat[k]].name for k in rows]
            mobile = sites[m].name
        else:
            names = [sites[windows.site[k]].name for k in rows]
            mobile = satellites[m].name
        cands = [Window(n, float(windows.aos_s[k]), float(windows.los_s[k]))
                 for n, k in zip(names, rows)]
        seq = select(policy, cands, windows.duration_s, timing, rtt_bound_s)

        row_of = dict(zip(names, rows))

        def rtt_s(ap, t_s, row_of=row_of):
            k = row_of[ap]
            rng = ranges.range_km(satellites[windows.sat[k]], sites[windows.site[k]], t_s)
            return 2.0 * (rng / C_KM_S + timing.terrestrial_one_way_s)

        for h in handovers(cands, seq, timing, rtt_s):
            out_handovers.append({
                "mobile": mobile, "from": h.from_ap, "to": h.to_ap, "feasible": h.feasible,
                "overlap_s": round(h.overlap_s, _ROUND), "outage_s": round(h.outage_s, _ROUND),
                "events": [{"action": e.action.value, "t_s": round(e.t_s, _ROUND)}
                           for e in h.events]})
    events = [e for h in out_handovers for e in h["events"]]
    for e, iso in zip(events, windows.epoch.iso([e["t_s"] for e in events])):
        e["t_utc"] = str(iso)
    out_handovers.sort(key=lambda h: (h["events"][2]["t_s"], h["mobile"]))
    return {"schema": SCHEMA, "mode": mode.value, "policy": policy.value,
            "start_utc": str(windows.epoch.iso(0.0)),
            "end_utc": str(windows.epoch.iso(windows.duration_s)),
            "handovers": out_handovers}


def dumps(plan: dict) -> str:
    """Return ``plan`` as sorted, stable JSON text."""
    return json.dumps(plan, sort_keys=True, indent=1) + "\n"
