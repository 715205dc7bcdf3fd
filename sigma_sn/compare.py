"""SIGMA-SN and the Mobile IPv6 family (MIPv6, FMIPv6, HMIPv6) side by side, on the same
geometry, traffic, seed and timing block.

``compare_reports`` turns simulation reports (``sigma-sn/report/1``) into one table of
rows ``{"metric", "unit", "sigma", "mip", "fmip", "hmip"}``; ``compare_replay`` and
``compare_plan`` run every protocol and return the comparison document
(``sigma-sn/compare/1``, with the ``assumptions`` each protocol ran under);
``write_compare`` writes ``compare.json`` and ``compare.csv`` atomically.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from sigma_sn.atomic import write_text

SCHEMA = "sigma-sn/compare/1"
#: every protocol of a comparison, in column order
PROTOCOLS = ("sigma", "mip", "fmip", "hmip")
LABELS = {"sigma": "SIGMA-SN", "mip": "MIPv6", "fmip": "FMIPv6", "hmip": "HMIPv6"}

#: (metric, unit) in table order; every comparison has exactly these rows. It leads with
#: the rate-independent service interruption per handover; handover latency (the SIGMA
#: papers' last packet on the old path to first on the new) follows; a handover that
#: spans a coverage gap (nothing visible) is counted there, never in either
METRICS = (
    ("interruption_mean", "ms"),
    ("interruption_p95", "ms"),
    ("interruption_max", "ms"),
    ("handover_latency_mean", "ms"),
    ("handover_latency_p95", "ms"),
    ("handover_latency_max", "ms"),
    ("handovers_reordered", "count"),
    ("handovers", "count"),
    ("handovers_made", "count"),
    ("coverage_gaps", "count"),
    ("coverage_gap_total", "s"),
    ("loss_rate", "fraction"),
    ("packets_lost", "packets"),
    ("lost_per_handover", "packets"),
    ("latency_p50", "ms"),
    ("latency_p99", "ms"),
    ("throughput", "bit/s"),
    ("signalling_messages", "messages"),
    ("signalling_bytes", "bytes"),
)
#: rows a comparison on a path (a scenario's [path]) adds: the path RTT the delivered
#: packets met at their send time, over the links each protocol had them take
PATH_METRICS = (("path_rtt_mean", "ms"), ("path_rtt_p95", "ms"))


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(float(x), digits)


def _stats(values) -> tuple:
    a = np.array([v for v in values if v is not None], dtype=float)
    if not a.size:
        return None, None, None
    return _round(a.mean()), _round(np.percentile(a, 95)), _round(a.max())


def metrics_of(report: dict) -> dict[str, float | int | None]:
    """Return the table's metrics for one report; ``None`` where there is nothing to measure
    (no handovers, or no packet delivered). A negative handover latency (reordering: the
    new path delivered before the old one's last packet) is counted in
    ``handovers_reordered`` and kept out of the latency statistics."""
    hos = report["handovers"]
    made = [h for h in hos if h.get("made", h["cn_switch_s"] is not None)]
    lat = [h["handover_latency_ms"] for h in made]
    reordered = sum(1 for x in lat if x is not None and x < 0)
    lat_mean, lat_p95, lat_max = _stats(x for x in lat if x is not None and x >= 0)
    int_mean, int_p95, int_max = _stats(h.get("interruption_ms") for h in made)
    gaps = report.get("coverage_gaps", [])
    # losses the report attributes to handovers (everything but configured random loss)
    lost_ho = sum(h["lost"] for h in hos)
    return {
        "interruption_mean": int_mean, "interruption_p95": int_p95,
        "interruption_max": int_max,
        "handover_latency_mean": lat_mean, "handover_latency_p95": lat_p95,
        "handover_latency_max": lat_max,
        "handovers_reordered": reordered,
        "handovers": len(hos),
        "handovers_made": len(made),
        "coverage_gaps": len(gaps),
        "coverage_gap_total": _round(sum(g["duration_s"] for g in gaps)),
        "loss_rate": report["loss_rate"],
        "packets_lost": report["packets"]["lost"],
        "lost_per_handover": _round(lost_ho / len(made)) if made else None,
        "latency_p50": report["latency_ms"]["p50"],
        "latency_p99": report["latency_ms"]["p99"],
        "throughput": report["throughput_bps"],
        "signalling_messages": report["signalling"]["messages"],
        "signalling_bytes": report["signalling"]["bytes"],
        "path_rtt_mean": (report.get("path_rtt_ms") or {}).get("mean"),
        "path_rtt_p95": (report.get("path_rtt_ms") or {}).get("p95"),
    }


def compare_reports(reports: dict[str, dict]) -> list[dict]:
    """Return the side-by-side table: one row ``{"metric", "unit", <protocol>...}`` per
    metric of :data:`METRICS`, in that order (then :data:`PATH_METRICS` when the replay
    ran on a path), for ``reports`` keyed by protocol."""
    for want, rep in reports.items():
        if rep.get("protocol") != want:
            raise ValueError(f"expected a {want!r} report, got protocol {rep.get('protocol')!r}")
    values = {p: metrics_of(r) for p, r in reports.items()}
    on_path = any("path_rtt_ms" in r for r in reports.values())
    return [{"metric": name, "unit": unit, **{p: v[name] for p, v in values.items()}}
            for name, unit in METRICS + (PATH_METRICS if on_path else ())]


def assumptions(cfg, mip) -> dict:
    """What each protocol of a comparison ran under: the one timing block they share
    (L2, RA interval, DAD, terrestrial leg, loss model, traffic) and the values only a
    protocol itself defines (home agent, FMIPv6 PAR-NAR leg and mode, MAP placement)."""
    from sigma_sn.sim.mip import MipConfig

    mip = mip or MipConfig()
    shared = {"t_l2_s": mip.t_l2_s, "ra_interval_s": [mip.ra_min_s, mip.ra_max_s],
              # sim.model.ra_wait_s: common random numbers, so the dice favour no protocol
              "ra_wait": "one seeded phase of the interval per handover, the same for "
                         "every protocol that waits (SIGMA-SN plans the whole interval)",
              "dad_s": mip.t_dad_s, "terrestrial_one_way_s": cfg.terrestrial_s,
              "loss_prob": cfg.loss_prob, "loss_prob_at_horizon": cfg.loss_prob_at_horizon,
              "traffic": f"{cfg.traffic} {cfg.direction} {cfg.rate_pps:g} pkt/s"}
    home = {"ha_cn_s": mip.ha_cn_s, "ha_ap_s": mip.ha_ap_s,
            "reverse_tunnel": mip.reverse_tunnel, "ingress_filtering": mip.ingress_filtering,
            "switch": mip.switch}
    return {
        "shared": shared,
        "sigma": {"make_before_break": "the plan's ADD_IP / SET_PRIMARY / DELETE_IP"},
        "mip": {"break_before_make": "L2 + RA + DAD + BU to the HA", **home},
        "fmip": {**home, "fmip_mode": mip.fmip_mode, "par_nar_s": mip.par_nar_s,
                 "fmip_buffer_pkts": mip.fmip_buffer_pkts, "fmip_buffer_s": mip.fmip_buffer_s,
                 "next_ap": "from the plan (the planner's prediction)",
                 "ra_wait": "none (NCoA formed ahead, RFC 5568)"},
        "hmip": {**home, "map_ap_s": mip.map_ap_s,
                 "local_binding": "BU to the MAP (one MAP domain)"},
    }


def assumptions_text(assumed: dict) -> str:
    """The assumptions as lines under a table."""
    def fmt(d):
        return ", ".join(f"{k}={v}" for k, v in d.items())

    lines = [f"assumptions, every protocol: {fmt(assumed['shared'])}"]
    lines += [f"  {LABELS[p]}: {fmt(assumed[p])}" for p in PROTOCOLS if p in assumed]
    return "\n".join(lines) + "\n"


def _public(report: dict) -> dict:
    """The report without in-memory extras (``_trace``)."""
    return {k: v for k, v in report.items() if not k.startswith("_")}


def comparison(reports: dict[str, dict], scenario: str | None = None, *, cfg=None,
               mip=None) -> dict:
    """Return the ``sigma-sn/compare/1`` document for ``reports`` keyed by protocol, with
    what each ran under (``cfg``, ``mip``) when given."""
    doc = {"schema": SCHEMA, "scenario": scenario,
           "reports": {p: _public(r) for p, r in reports.items()},
           "table": compare_reports(reports)}
    if cfg is not None:
        doc["assumptions"] = assumptions(cfg, mip)
    return doc


def compare_replay(replay, cfg, mip_cfg=None, *, scenario: str | None = None,
                   protocols=PROTOCOLS) -> dict:
    """Run every protocol on the same ``replay`` under the same ``cfg`` (and so the same
    seed) and the same timing block; return the comparison document."""
    from sigma_sn.sim import simulate

    reports = {p: simulate(replay, cfg, protocol=p, mip=mip_cfg) for p in protocols}
    return comparison(reports, scenario, cfg=cfg, mip=mip_cfg)


def compare_plan(plan: dict, cfg, mip_cfg=None, *, plan_dir=".", truth_elements=None,
                 progress=None, replays=None, protocols=PROTOCOLS) -> dict:
    """Run every protocol on ``plan`` (via ``simulate_plan``) with the same ``cfg`` and the
    same link geometry (``replays`` from ``replays_from_plan``, made here if not given);
    return the comparison document, named after the plan."""
    from sigma_sn.sim.fromplan import replays_from_plan, simulate_plan

    if replays is None:
        replays = replays_from_plan(plan, truth_elements=truth_elements, plan_dir=plan_dir,
                                    progress=progress)
    # one tuple for every protocol: on Dask it is scattered once, for all of them
    # (sigma_sn.sim.run.simulate_many)
    replays = tuple(replays)
    reports = {p: simulate_plan(plan, cfg, protocol=p, mip=mip_cfg, progress=progress,
                                replays=replays) for p in protocols}
    return add_load(comparison(reports, plan.get("name"), cfg=cfg, mip=mip_cfg), replays)


def add_load(doc: dict, replays) -> dict:
    """Add the shared-capacity load block (per-satellite utilisation, each mobile's share;
    :meth:`sigma_sn.path.load.SharedLoad.summary`) under ``"load"`` when the replays
    share capacity; else return ``doc`` as it is."""
    load = replays[0].shared_load if replays else None
    return doc if load is None else {**doc, "load": load.summary()}


def add_findings(doc: dict, plan: dict, cfg, mip_cfg=None, *, security=None, failures=(),
                 where: str = "scenario", truth_elements=None, replays=None) -> dict:
    """Add what a scenario's ``[security]`` and ``[[failures]]`` tables ask for (attacks
    without and with authentication, ingress filtering, location-manager and home-agent
    failures; :func:`sigma_sn.sim.survive.scenario_findings`) to ``doc``: the measurements
    under ``"findings"`` and their rows at the end of the table. They are measured on the
    plan's first mobile, which ``findings.mobile`` names (``replays`` already made from
    ``plan`` are reused). Without either table, ``doc`` is returned as it is."""
    if not security and not failures:
        return doc
    from sigma_sn.sim.fromplan import replays_from_plan
    from sigma_sn.sim.survive import findings_table, scenario_findings

    replay = (replays or replays_from_plan(plan, truth_elements=truth_elements))[0]
    found = scenario_findings(replay, cfg, security=security, failures=failures, where=where,
                              mip=mip_cfg)
    return {**doc, "findings": {"mobile": replay.mobile, **found},
            "table": doc["table"] + findings_table(found)}


def dumps(doc: dict) -> str:
    """The comparison as sorted, stable JSON text."""
    return json.dumps(doc, sort_keys=True, indent=1) + "\n"


def cell(value) -> str:
    """One value as CSV/table text: empty for ``None``, ints as ints, floats shortest-exact."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value) and value == int(value) \
            and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _columns(table: list[dict]) -> list[str]:
    return [p for p in PROTOCOLS if any(p in row for row in table)]


def table_csv(table: list[dict]) -> str:
    """The table as CSV text, header ``metric,unit,<protocols>``."""
    cols = _columns(table)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("metric", "unit", *cols))
    for row in table:
        w.writerow((row["metric"], row["unit"], *(cell(row.get(p)) for p in cols)))
    return buf.getvalue()


def format_table(table: list[dict], assumed: dict | None = None) -> str:
    """The table as aligned text for a terminal; ``-`` where there is no value; what each
    protocol ran under below it when ``assumed`` is given."""
    cols = _columns(table)
    head = ("metric", "unit", *(LABELS[p] for p in cols))
    rows = [(r["metric"], r["unit"], *(cell(r.get(p)) or "-" for p in cols)) for r in table]
    widths = [max(len(x[i]) for x in [head, *rows]) for i in range(len(head))]
    lines = []
    for x in [head, *rows]:
        lines.append("  ".join([f"{x[0]:<{widths[0]}}", f"{x[1]:<{widths[1]}}"]
                               + [f"{v:>{w}}" for v, w in zip(x[2:], widths[2:])]))
    lines.insert(1, "-" * len(lines[0]))
    text = "\n".join(lines) + "\n"
    return text + (assumptions_text(assumed) if assumed else "")


def write_compare(doc: dict, out_dir) -> tuple[Path, Path]:
    """Write ``compare.json`` and ``compare.csv`` into ``out_dir`` (atomically)."""
    out = Path(out_dir)
    paths = out / "compare.json", out / "compare.csv"
    write_text(paths[0], dumps(doc))
    write_text(paths[1], table_csv(doc["table"]))
    return paths
