"""``check_plan_invariants``: the rules every plan obeys (issue 3, docs/plan-format.md),
checked on every plan the tests make. Elevations are checked with skyfield's ``altaz()``,
independently of the planner's own geometry."""

from __future__ import annotations

import ipaddress
import json
from datetime import datetime
from pathlib import Path

import jsonschema
import numpy as np

from sigma_sn.planner.lm import LocationManager

REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "sigma_sn" / "schemas" / "plan-1.json").read_text())
ORDER = ["ADDRESS_READY", "ADD_IP", "SET_PRIMARY", "LM_UPDATE"]
RETIRE = ("DELETE_IP", "DEACTIVATE")
ROUND_S = 2e-6          # times are exported to the microsecond
ELEV_TOL_DEG = 1e-3     # windows are exact to < 1 ms; LEO elevation moves < 0.1°/s at AOS
SAMPLE_S = 10.0         # issue 3: sample the primary's elevation at least this often


def _intervals_tile(pieces, duration_s):
    """Assert that ``pieces`` (from, to) cover [0, duration] once, without overlaps."""
    t = 0.0
    for a, b in sorted(pieces):
        assert abs(a - t) <= ROUND_S, f"gap or overlap at {t} .. {a}"
        assert b >= a
        t = b
    assert abs(t - duration_s) <= ROUND_S, f"covered up to {t}, plan ends at {duration_s}"


def _altaz_deg(plan, satellites, sites, sat_name, site_name, t_s):
    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale()
    start = datetime.fromisoformat(plan["start_utc"].replace("Z", "+00:00"))
    t = ts.utc(start.year, start.month, start.day, start.hour, start.minute,
               start.second + start.microsecond * 1e-6 + np.asarray(t_s, float))
    sat = EarthSatellite.from_satrec(satellites[sat_name].satrec, ts)
    s = sites[site_name]
    alt, az, _ = (sat - wgs84.latlon(s.lat_deg, s.lon_deg, elevation_m=s.alt_m)).at(t).altaz()
    return alt.degrees, az.degrees


def _mask_deg(site: dict, az_deg):
    """The plan's mask for ``site`` at azimuths ``az_deg``: flat, or a horizon above it."""
    flat = np.full(np.shape(az_deg), float(site["min_elev_deg"]))
    h = site.get("horizon")
    if h is None:
        return flat
    return np.maximum(flat, np.interp(np.mod(az_deg, 360.0), h["az_deg"], h["elev_deg"],
                                      period=360.0))


def check_plan_invariants(plan, *, satellites=None, sites=None, capacity_waits=None):
    """Check ``plan``; return the LocationManager built from it.

    ``satellites``/``sites``: the objects the plan was made from (by name); when given,
    the primary's elevation is checked with skyfield at <= 10 s steps over every serving
    interval. ``capacity_waits``: whether outages of cause ``capacity`` may appear
    (default: only under least-load).
    """
    jsonschema.validate(plan, SCHEMA)
    duration = plan["duration_s"]
    router = plan["mode"] == "router"
    masks = {s["name"]: s for s in plan["sites"]}
    prefixes = {a["name"]: ipaddress.ip_network(a["prefix"]) for a in plan["access_points"]}
    mobiles = {m["name"]: m for m in plan["mobiles"]}
    if capacity_waits is None:
        capacity_waits = plan["policy"] == "least-load"
    lm = LocationManager.from_plan(plan)
    by_mobile = {}
    for h in plan["handovers"]:
        by_mobile.setdefault(h["mobile"], []).append(h)
    outages = {}
    for o in plan["outages"]:
        outages.setdefault(o["mobile"], []).append(o)
        assert o["cause"] != "capacity" or capacity_waits, o
        assert abs(o["to_s"] - o["from_s"] - o["duration_s"]) <= ROUND_S

    for name, m in mobiles.items():
        cands, serving = m["candidates"], m["serving"]
        hos = by_mobile.get(name, [])
        assert [h["index"] for h in hos] == list(range(len(hos)))
        iids = set()
        # serving intervals: inside a candidate window, disjoint, tiled with the outages
        for s in serving:
            assert any(c["ap"] == s["ap"] and c["aos_s"] - ROUND_S <= s["from_s"]
                       and s["to_s"] <= c["los_s"] + ROUND_S for c in cands), s
            addr = ipaddress.ip_address(s["address"])
            assert addr in prefixes[s["ap"]], (s["address"], s["ap"])
            iids.add(int(addr) - int(prefixes[s["ap"]].network_address))
        assert len(iids) <= 1, f"{name}: one interface identifier per mobile, got {iids}"
        _intervals_tile([(s["from_s"], s["to_s"]) for s in serving]
                        + [(o["from_s"], o["to_s"]) for o in outages.get(name, [])], duration)
        # consecutive serving intervals on different access points are the handovers, in
        # order; the same access point twice in a row is its next pass after a gap (no
        # handover, same address, the gap an outage)
        pairs = handover_positions(serving)
        for k in range(len(serving) - 1):
            if serving[k]["ap"] == serving[k + 1]["ap"]:
                assert serving[k]["address"] == serving[k + 1]["address"]
                assert serving[k + 1]["from_s"] - serving[k]["to_s"] > ROUND_S, (
                    f"{name}: {serving[k]['ap']} re-acquired without a gap", serving[k:k + 2])
        assert len(pairs) == len(hos), (name, len(pairs), len(hos))
        for h, k in zip(hos, pairs):
            assert h["from"] != h["to"], f"{name}: handover {h['index']} to {h['to']} itself"
            assert (h["from"], h["to"]) == (serving[k]["ap"], serving[k + 1]["ap"])
            t = {e["action"]: e["t_s"] for e in h["events"]}
            acts = [e["action"] for e in h["events"]]
            assert acts[:4] == ORDER and acts[4] in RETIRE, acts
            t_ready, t_add, t_sp, t_lm = (t[a] for a in ORDER)
            t_ret = h["events"][4]["t_s"]
            assert t_ready <= t_add < t_sp <= t_lm, h
            assert t_sp < t_ret, h
            # ADD_IP after the new AP's AOS, on the window that then serves
            new = [c for c in cands if c["ap"] == h["to"]
                   and c["aos_s"] <= serving[k + 1]["from_s"] + ROUND_S <= c["los_s"] + ROUND_S]
            assert new and t_add >= new[0]["aos_s"], h
            old = [c for c in cands if c["ap"] == h["from"]
                   and c["aos_s"] - ROUND_S <= serving[k]["to_s"] <= c["los_s"] + ROUND_S]
            assert old
            if h["feasible"]:
                assert t_ret < old[0]["los_s"], "DELETE_IP before the old AP's LOS"
                assert h["outage_s"] == 0.0
                assert h["margin_s"] >= plan["inputs"]["parameters"]["timing"]["guard_s"] \
                    - ROUND_S
                assert abs(serving[k]["to_s"] - t_sp) <= ROUND_S
                assert abs(serving[k + 1]["from_s"] - t_sp) <= ROUND_S
            else:
                assert h["outage_s"] >= 0.0
            assert h["events"][0]["address"] == serving[k + 1]["address"]
            assert h["events"][4]["address"] == serving[k]["address"]
        # the location manager answers with the primary in force (it learns a new primary
        # at LM_UPDATE, one RTT after SET_PRIMARY, and keeps the last one through outages)
        lm_at = [(s["from_s"], s["address"]) for s in serving[:1]]
        lm_at += [(h["events"][3]["t_s"], h["events"][0]["address"]) for h in hos]
        probe = np.concatenate([np.arange(0.0, duration, SAMPLE_S),
                                [x for x, _ in lm_at], [x - 1e-3 for x, _ in lm_at]])
        times = [x for x, _ in lm_at]
        for t_s in probe:
            k = int(np.searchsorted(times, t_s, side="right")) - 1
            want = None if k < 0 else lm_at[k][1]
            assert lm.lookup(name, float(t_s)) == want, (name, t_s)
        if satellites is not None and serving:
            for s in serving:
                n = max(2, int(np.ceil((s["to_s"] - s["from_s"]) / SAMPLE_S)) + 1)
                t_s = np.linspace(s["from_s"], s["to_s"], n)
                sat, site = (s["ap"], name) if router else (name, s["ap"])
                elev, az = _altaz_deg(plan, satellites, sites, sat, site, t_s)
                below = elev - _mask_deg(masks[site], az)
                assert below.min() >= -ELEV_TOL_DEG, (
                    f"{name} served by {s['ap']} {-below.min():.4f}° under the mask at "
                    f"{t_s[below.argmin()]:.1f} s")
    return lm


def handover_positions(serving):
    """Return ``k`` for each pair of consecutive serving intervals ``k``, ``k + 1`` on
    different access points: the i-th handover of the mobile goes between them."""
    return [k for k in range(len(serving) - 1) if serving[k]["ap"] != serving[k + 1]["ap"]]


def count_load(plan):
    """Return the largest number of mobiles any access point serves at once."""
    points = []
    for m in plan["mobiles"]:
        for s in m["serving"]:
            points.append((s["from_s"], 1, s["ap"]))
            points.append((s["to_s"], -1, s["ap"]))
    load, peak = {}, {}
    for _, d, ap in sorted(points, key=lambda p: (p[0], p[1])):  # leave before enter
        load[ap] = load.get(ap, 0) + d
        peak[ap] = max(peak.get(ap, 0), load[ap])
    return peak
