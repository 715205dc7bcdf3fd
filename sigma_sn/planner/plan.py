"""Plan real visibility windows: group them per mobile, select, time, export as JSON."""

from __future__ import annotations

import json
from typing import Sequence

import numpy as np

from sigma_sn.geometry import C_KM_S, topocentric
from sigma_sn.planner.core import Timing, Window, handovers, select
from sigma_sn.planner.kinds import Mode, Policy
from sigma_sn.propagate import propagate
from sigma_sn.sites import enu_basis, itrs_km

SCHEMA = "sigma-sn/plan/1"
_ROUND = 6  # microseconds: exports are byte-identical across runs


def _rtt_function(satellite, site, epoch, terrestrial_one_way_s):
    pos_site = itrs_km([site])[0]
    enu = enu_basis([site])[0]

    def rtt_s(_ap, t_s):
        eph = propagate([satellite.satrec], epoch, [t_s])
        look = topocentric(eph.pos_itrs_km[0, 0], eph.vel_itrs_km_s[0, 0], pos_site, enu)
        return 2.0 * (float(look.range_km) / C_KM_S + terrestrial_one_way_s)
    return rtt_s


def plan_windows(windows, satellites: Sequence, sites: Sequence, mode: Mode, policy: Policy,
                 timing: Timing = Timing(), rtt_bound_s: float = 0.1) -> dict:
    """Return the plan (JSON-ready dict) for every mobile of ``windows``.

    Router mode: each site is a mobile, satellites are access points. Host mode: each
    satellite is a mobile, sites are access points. RTTs come from the slant range at
    the event times (propagated there, windows are not recomputed).
    """
    out_handovers = []
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

        def rtt_s(ap, t_s, rows=rows, names=names):
            k = rows[names.index(ap)]
            sat = satellites[windows.sat[k]]
            site = sites[windows.site[k]]
            return _rtt_function(sat, site, windows.epoch, timing.terrestrial_one_way_s)(ap, t_s)

        for h in handovers(cands, seq, timing, rtt_s):
            out_handovers.append({
                "mobile": mobile, "from": h.from_ap, "to": h.to_ap, "feasible": h.feasible,
                "overlap_s": round(h.overlap_s, _ROUND), "outage_s": round(h.outage_s, _ROUND),
                "events": [{"action": e.action.value, "t_s": round(e.t_s, _ROUND),
                            "t_utc": str(windows.epoch.iso(e.t_s))} for e in h.events]})
    out_handovers.sort(key=lambda h: (h["events"][2]["t_s"], h["mobile"]))
    return {"schema": SCHEMA, "mode": mode.value, "policy": policy.value,
            "start_utc": str(windows.epoch.iso(0.0)),
            "end_utc": str(windows.epoch.iso(windows.duration_s)),
            "handovers": out_handovers}


def dumps(plan: dict) -> str:
    """Return ``plan`` as sorted, stable JSON text."""
    return json.dumps(plan, sort_keys=True, indent=1) + "\n"
