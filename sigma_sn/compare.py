"""SIGMA-SN and the Mobile IPv6 baseline side by side, on the same geometry, traffic and seed.

``compare_reports`` turns two simulation reports (``sigma-sn/report/1``) into one table
of rows ``{"metric", "unit", "sigma", "mip"}``; ``compare_replay`` and ``compare_plan``
run both protocols and return the comparison document (``sigma-sn/compare/1``);
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
PROTOCOLS = ("sigma", "mip")

#: (metric, unit) in table order; every comparison has exactly these rows
METRICS = (
    ("loss_rate", "fraction"),
    ("packets_lost", "packets"),
    ("handovers", "count"),
    ("lost_per_handover", "packets"),
    ("handover_latency_mean", "ms"),
    ("handover_latency_p95", "ms"),
    ("handover_latency_max", "ms"),
    ("handovers_without_latency", "count"),
    ("latency_p50", "ms"),
    ("latency_p99", "ms"),
    ("throughput", "bit/s"),
    ("signalling_messages", "messages"),
    ("signalling_bytes", "bytes"),
)


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(float(x), digits)


def metrics_of(report: dict) -> dict[str, float | int | None]:
    """Return the table's metrics for one report; ``None`` where there is nothing to measure
    (no handovers, or no packet delivered)."""
    hos = report["handovers"]
    lat = np.array([h["handover_latency_ms"] for h in hos
                    if h["handover_latency_ms"] is not None], dtype=float)
    # losses the report attributes to handovers (everything but configured random loss)
    lost_ho = sum(h["lost"] for h in hos)
    return {
        "loss_rate": report["loss_rate"],
        "packets_lost": report["packets"]["lost"],
        "handovers": len(hos),
        "lost_per_handover": _round(lost_ho / len(hos)) if hos else None,
        "handover_latency_mean": _round(lat.mean()) if lat.size else None,
        "handover_latency_p95": _round(np.percentile(lat, 95)) if lat.size else None,
        "handover_latency_max": _round(lat.max()) if lat.size else None,
        "handovers_without_latency": int(len(hos) - lat.size),
        "latency_p50": report["latency_ms"]["p50"],
        "latency_p99": report["latency_ms"]["p99"],
        "throughput": report["throughput_bps"],
        "signalling_messages": report["signalling"]["messages"],
        "signalling_bytes": report["signalling"]["bytes"],
    }


def compare_reports(sigma_report: dict, mip_report: dict) -> list[dict]:
    """Return the side-by-side table: one row ``{"metric", "unit", "sigma", "mip"}`` per
    metric of :data:`METRICS`, in that order."""
    for want, rep in zip(PROTOCOLS, (sigma_report, mip_report)):
        if rep.get("protocol") != want:
            raise ValueError(f"expected a {want!r} report, got protocol {rep.get('protocol')!r}")
    s, m = metrics_of(sigma_report), metrics_of(mip_report)
    return [{"metric": name, "unit": unit, "sigma": s[name], "mip": m[name]}
            for name, unit in METRICS]


def _public(report: dict) -> dict:
    """The report without in-memory extras (``_trace``)."""
    return {k: v for k, v in report.items() if not k.startswith("_")}


def comparison(sigma_report: dict, mip_report: dict, scenario: str | None = None) -> dict:
    """Return the ``sigma-sn/compare/1`` document for two reports."""
    return {"schema": SCHEMA, "scenario": scenario,
            "reports": {"sigma": _public(sigma_report), "mip": _public(mip_report)},
            "table": compare_reports(sigma_report, mip_report)}


def compare_replay(replay, cfg, mip_cfg=None, *, scenario: str | None = None) -> dict:
    """Run SIGMA-SN and Mobile IP on the same ``replay`` under the same ``cfg`` (and so the
    same seed); return the comparison document."""
    from sigma_sn.sim import simulate

    sigma = simulate(replay, cfg, protocol="sigma")
    mip = simulate(replay, cfg, protocol="mip", mip=mip_cfg)
    return comparison(sigma, mip, scenario)


def compare_plan(plan: dict, cfg, mip_cfg=None, *, plan_dir=".", truth_elements=None,
                 progress=None, replays=None) -> dict:
    """Run both protocols on ``plan`` (via ``simulate_plan``) with the same ``cfg`` and the
    same link geometry (``replays`` from ``replays_from_plan``, made here if not given);
    return the comparison document, named after the plan."""
    from sigma_sn.sim.fromplan import replays_from_plan, simulate_plan

    if replays is None:
        replays = replays_from_plan(plan, truth_elements=truth_elements, plan_dir=plan_dir,
                                    progress=progress)
    reports = [simulate_plan(plan, cfg, protocol=p, mip=mip_cfg, progress=progress,
                             replays=replays) for p in PROTOCOLS]
    return comparison(*reports, plan.get("name"))


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


def table_csv(table: list[dict]) -> str:
    """The table as CSV text, header ``metric,unit,sigma,mip``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("metric", "unit", *PROTOCOLS))
    for row in table:
        w.writerow((row["metric"], row["unit"], cell(row["sigma"]), cell(row["mip"])))
    return buf.getvalue()


def format_table(table: list[dict]) -> str:
    """The table as aligned text for a terminal; ``-`` where there is no value."""
    head = ("metric", "unit", "SIGMA-SN", "Mobile IPv6")
    rows = [(r["metric"], r["unit"], cell(r["sigma"]) or "-", cell(r["mip"]) or "-")
            for r in table]
    widths = [max(len(x[i]) for x in [head, *rows]) for i in range(4)]
    lines = []
    for x in [head, *rows]:
        lines.append(f"{x[0]:<{widths[0]}}  {x[1]:<{widths[1]}}  "
                     f"{x[2]:>{widths[2]}}  {x[3]:>{widths[3]}}")
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines) + "\n"


def write_compare(doc: dict, out_dir) -> tuple[Path, Path]:
    """Write ``compare.json`` and ``compare.csv`` into ``out_dir`` (atomically)."""
    out = Path(out_dir)
    paths = out / "compare.json", out / "compare.csv"
    write_text(paths[0], dumps(doc))
    write_text(paths[1], table_csv(doc["table"]))
    return paths
