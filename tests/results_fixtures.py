"""Small results shaped as the contracts say (docs/plan-format.md, the report, compare
and sweep contracts in the notes), for testing figures and reports on their own.

The plan's candidate windows are real (Iridium-like over Boulder, 2 h); its serving
chain and event times come from a simple greedy rule here, not from the planner, so
these tests say nothing about planning, only about drawing what a plan holds.
"""

from __future__ import annotations

import json
import math

from sigma_sn.elements import read_tle
from sigma_sn.sites import Site
from sigma_sn.visibility import find_windows

from conftest import REPO, START

TLE = REPO / "tle_data" / "iridium_like.tle"
BOULDER = Site("Boulder", 40.015, -105.27, 1655.0)
MASK_DEG = 8.2
DURATION_S = 7200.0
RTT_S = 0.1
GUARD_S = 2.0


def _iso(epoch, t_s: float) -> str:
    return str(epoch.iso(t_s))


def small_plan() -> dict:
    """Return a router-mode plan (one mobile, Boulder) over real Iridium-like windows."""
    sats = read_tle(TLE)
    w = find_windows(sats, [BOULDER], START, DURATION_S, min_elev_deg=MASK_DEG, workers=1)
    ep = w.epoch
    cands = sorted(({"ap": w.sat_names[w.sat[k]], "aos_s": round(float(w.aos_s[k]), 6),
                     "tca_s": round(float(w.tca_s[k]), 6), "los_s": round(float(w.los_s[k]), 6),
                     "max_elev_deg": round(float(w.max_elev_deg[k]), 6)}
                    for k in range(len(w))), key=lambda c: (c["aos_s"], c["ap"]))
    aps = sorted({c["ap"] for c in cands})
    prefix = {ap: f"2001:db8:{k}::" for k, ap in enumerate(aps, 1)}
    addr = {ap: prefix[ap] + "1" for ap in aps}
    # greedy chain: stay until LOS, move to the overlapping window that lasts longest,
    # else to the next one that rises (an outage)
    chain = [cands[0]]
    while True:
        cur = chain[-1]
        later = [c for c in cands if c["los_s"] > cur["los_s"] and c is not cur]
        if not later:
            break
        overlap = [c for c in later if c["aos_s"] < cur["los_s"] - 10.0]
        chain.append(max(overlap, key=lambda c: c["los_s"]) if overlap
                     else min(later, key=lambda c: c["aos_s"]))
    handovers, serving, outages, updates = [], [], [], []
    t_from = chain[0]["aos_s"]
    updates.append({"mobile": "Boulder", "t_s": t_from, "t_utc": _iso(ep, t_from),
                    "address": addr[chain[0]["ap"]], "ap": chain[0]["ap"]})
    for k, (a, b) in enumerate(zip(chain, chain[1:])):
        ready = b["aos_s"] + 0.1
        delete = a["los_s"] - GUARD_S
        feasible = ready + RTT_S <= delete - RTT_S
        sp = min(max(ready + RTT_S, ready), delete - RTT_S) if feasible else ready
        times = [("ADDRESS_READY", ready, addr[b["ap"]]), ("ADD_IP", ready, addr[b["ap"]]),
                 ("SET_PRIMARY", sp, addr[b["ap"]]), ("LM_UPDATE", sp + RTT_S, addr[b["ap"]]),
                 ("DELETE_IP", delete if feasible else a["los_s"], addr[a["ap"]])]
        events = [{"action": n, "t_s": round(t, 6), "t_utc": _iso(ep, t), "address": x}
                  for n, t, x in times]
        end_a = sp if feasible else a["los_s"]
        serving.append({"ap": a["ap"], "address": addr[a["ap"]], "from_s": t_from,
                        "to_s": end_a, "from_utc": _iso(ep, t_from), "to_utc": _iso(ep, end_a)})
        if not feasible:
            outages.append({"mobile": "Boulder", "from_s": a["los_s"], "to_s": ready,
                            "from_utc": _iso(ep, a["los_s"]), "to_utc": _iso(ep, ready),
                            "duration_s": round(ready - a["los_s"], 6),
                            "cause": "no_coverage"})
        handovers.append({"mobile": "Boulder", "index": k, "from": a["ap"], "to": b["ap"],
                          "feasible": feasible,
                          "overlap_s": round(max(0.0, a["los_s"] - b["aos_s"]), 6),
                          "outage_s": 0.0 if feasible else round(ready - a["los_s"], 6),
                          "margin_s": round(a["los_s"] - (sp + RTT_S), 6), "events": events})
        updates.append({"mobile": "Boulder", "t_s": round(sp + RTT_S, 6),
                        "t_utc": _iso(ep, sp + RTT_S), "address": addr[b["ap"]], "ap": b["ap"]})
        t_from = sp if feasible else ready
    last = chain[-1]
    end = min(last["los_s"], DURATION_S)
    serving.append({"ap": last["ap"], "address": addr[last["ap"]], "from_s": t_from,
                    "to_s": end, "from_utc": _iso(ep, t_from), "to_utc": _iso(ep, end)})
    sat_ids = {s.name: s.norad_id for s in sats}
    return {
        "schema": "sigma-sn/plan/1", "name": "figures-test", "mode": "router",
        "policy": "longest-visibility", "start_utc": _iso(ep, 0.0),
        "end_utc": _iso(ep, DURATION_S), "duration_s": DURATION_S,
        "inputs": {"scenario": None,
                   "files": [{"role": "elements", "path": str(TLE), "sha256": "0" * 64}],
                   "parameters": {"min_elev_deg": MASK_DEG, "step_s": 60.0, "mobiles": None}},
        "satellites": [{"name": ap, "norad_id": sat_ids[ap]} for ap in aps],
        "sites": [{"name": "Boulder", "lat_deg": BOULDER.lat_deg, "lon_deg": BOULDER.lon_deg,
                   "alt_m": BOULDER.alt_m, "min_elev_deg": None, "capacity": None}],
        "access_points": [{"name": ap, "prefix": prefix[ap] + "/48"} for ap in aps],
        "mobiles": [{"name": "Boulder", "candidates": cands, "serving": serving}],
        "handovers": handovers, "outages": outages, "location_updates": updates}


def small_report(plan: dict, protocol: str, *, bin_s: float = 60.0) -> dict:
    """Return a simulation report of ``plan`` whose numbers follow simple formulas (a
    latency that swings with the pass, loss at each handover, more of it for Mobile IP)."""
    n = int(plan["duration_s"] // bin_s)
    t_s = [k * bin_s for k in range(n)]
    ho_t = [next(e["t_s"] for e in h["events"] if e["action"] == "SET_PRIMARY")
            for h in plan["handovers"]]
    per_ho = 0 if protocol == "sigma" else 7
    lost = [sum(per_ho for t in ho_t if t0 <= t < t0 + bin_s) for t0 in t_s]
    sent = [int(10 * bin_s)] * n
    delivered = [s - x for s, x in zip(sent, lost)]
    latency = [None if x == sent[0] else round(30.0 + 8.0 * math.sin(t0 / 900.0), 3)
               for t0, x in zip(t_s, lost)]
    through = [d * 1000 * 8 / bin_s for d in delivered]
    hos = [{"mobile": h["mobile"], "index": h["index"], "from": h["from"], "to": h["to"],
            "feasible": h["feasible"], "t_s": t,
            "t_utc": next(e["t_utc"] for e in h["events"] if e["action"] == "SET_PRIMARY"),
            "handover_latency_ms": 12.5 if protocol == "sigma" else 870.0, "lost": per_ho}
           for h, t in zip(plan["handovers"], ho_t)]
    pct = {"p50": 30.0, "p95": 37.0, "p99": 38.0, "max": 38.5}
    return {
        "schema": "sigma-sn/report/1", "protocol": protocol, "mobile": "Boulder",
        "mobiles": ["Boulder"], "start_utc": plan["start_utc"],
        "duration_s": plan["duration_s"],
        "traffic": {"kind": "cbr", "direction": "down", "rate_pps": 10.0,
                    "payload_bytes": 1000, "seed": 1},
        "packets": {"sent": sum(sent), "delivered": sum(delivered), "lost": sum(lost),
                    "in_flight": 0},
        "loss_causes": {"link_down": sum(lost), "queue_overflow": 0, "random_loss": 0},
        "loss_rate": round(sum(lost) / sum(sent), 9), "latency_ms": pct,
        "throughput_bps": round(sum(through) / n, 3),
        "signalling": {"messages": 12 * len(hos), "bytes": 900 * len(hos)},
        "location_manager": {"queries": 3, "stale_answers": 0, "query_latency_ms": pct},
        "path_failures": [], "handovers": hos,
        "timeseries": {"bin_s": bin_s, "t_s": t_s, "sent": sent, "delivered": delivered,
                       "lost": lost, "latency_ms_mean": latency, "throughput_bps": through}}


def small_compare(plan: dict) -> dict:
    """Return a comparison of the two protocols on ``plan``."""
    reports = {p: small_report(plan, p) for p in ("sigma", "mip")}
    table = [{"metric": "packets lost", "unit": "", **{p: r["packets"]["lost"]
                                                        for p, r in reports.items()}},
             {"metric": "latency p50", "unit": "ms", **{p: r["latency_ms"]["p50"]
                                                         for p, r in reports.items()}}]
    return {"schema": "sigma-sn/compare/1", "scenario": plan["name"], "reports": reports,
            "table": table}


def small_sweep() -> list[dict]:
    """Return sweep rows: packets lost against the guard time, two protocols, two
    metrics (as the sweep CSV holds them: strings)."""
    rows = []
    for guard in (0.5, 1.0, 2.0, 4.0):
        for protocol, lost in (("sigma", max(0, 40 - 20 * guard)), ("mip", 55)):
            rows.append({"param": "guard_s", "value": f"{guard:g}", "protocol": protocol,
                         "metric": "packets_lost", "unit": "", "result": f"{lost:g}"})
            rows.append({"param": "guard_s", "value": f"{guard:g}", "protocol": protocol,
                         "metric": "latency_p50", "unit": "ms",
                         "result": f"{30 + guard + (0 if protocol == 'sigma' else 20):g}"})
    return rows


def write_results(folder, *, plan=True, compare=True, report=False, sweep=True) -> dict:
    """Write plan.json, compare.json, report.json (SIGMA-SN) and sweep.csv into
    ``folder`` as their writers would; return the plan."""
    p = small_plan()
    if plan:
        (folder / "plan.json").write_text(json.dumps(p, sort_keys=True, indent=1))
    if compare:
        (folder / "compare.json").write_text(json.dumps(small_compare(p)))
    if report:
        (folder / "report.json").write_text(json.dumps(small_compare(p)["reports"]["sigma"]))
    if sweep:
        rows = small_sweep()
        lines = [",".join(rows[0])] + [",".join(r.values()) for r in rows]
        (folder / "sweep.csv").write_text("\n".join(lines) + "\n")
    return p
