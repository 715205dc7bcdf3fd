"""Selection policies side by side (issue 21): plan one scenario under each policy (its
windows and paths computed once), replay each plan with SIGMA-SN and every baseline, and
report per policy and protocol the path RTT, handovers per hour, service interruption
and loss (``sigma-sn compare --policies``, ``sigma-sn sweep --policies``).

The RTT is the path stage's (:mod:`sigma_sn.path`) along the plan's serving intervals,
one value per policy: every protocol of a comparison follows the plan's sequence of
access points, and the replay does not take its delays from the path yet (issue 16's
replay side), so its own latency columns stay in ``compare``'s table.
"""

from __future__ import annotations

import csv
import io
import math
import textwrap

import numpy as np

from sigma_sn.errors import InputError
from sigma_sn.path.serving import serving_windows

SCHEMA = "sigma-sn/compare-policies/1"

#: (column, unit) of each (policy, protocol) row
COLUMNS = (("rtt_mean", "ms"), ("rtt_p95", "ms"), ("handovers_per_hour", "1/h"),
           ("interruption_mean", "ms"), ("loss_rate", "fraction"))

#: what handovers_per_hour counts, under every table of it: the protocols of one policy
#: differ by how they switch, which a bare column reads as one handing over more by itself
HANDOVERS_NOTE = (
    "handovers_per_hour: the handovers each protocol made in the replay, per mobile-hour. "
    "SIGMA-SN makes every handover the policy plans. MIPv6, FMIPv6 and HMIPv6 (with "
    "[mip] switch = \"los\", the default) leave a satellite only when it sets, so they "
    "make only the plan's handovers that a loss of signal forces and stay on a satellite "
    "through the policy's voluntary switches: the counts differ by how each protocol "
    "switches, on the same plan.")


def parse_policies(text: str, mode, key: str = "--policies") -> list:
    """The policies of a comma-separated list, checked against ``mode``."""
    from sigma_sn.planner.kinds import PATH_POLICIES, POLICIES_BY_MODE, Mode, Policy

    offered = list(POLICIES_BY_MODE[mode]) + (list(PATH_POLICIES) if mode is Mode.ROUTER
                                              else [])
    out = []
    for name in (t.strip() for t in text.split(",")):
        try:
            p = Policy(name)
        except ValueError:
            raise InputError(f"no policy {name!r}; choose from "
                             f"{', '.join(q.value for q in offered)}", key=key) from None
        if p not in offered:
            raise InputError(f"{p.value} is not offered in {mode.value} mode", key=key)
        if p in out:
            raise InputError(f"{p.value} is listed twice", key=key)
        out.append(p)
    return out


def serving_rtt_ms(plan: dict, paths) -> dict[str, np.ndarray]:
    """Per mobile, the path RTT (ms, twice the one-way delay) at each routing step along
    the plan's serving intervals; NaN where nothing serves or no gateway is reached.
    Under a gateway anchor (``paths`` one per gateway) the serving windows are the anchor
    windows and the RTT that of the quickest path under the gateway."""
    if isinstance(paths, (list, tuple)):
        from sigma_sn.planner.anchor import anchor_windows

        paths = anchor_windows(paths)
    out = {}
    for name, served in serving_windows(plan, paths).items():
        t = np.arange(len(served)) * paths.step_s
        rtt = 2.0 * paths.delay_ms_at(np.maximum(served, 0), t).astype(np.float64)
        out[name] = np.where(served >= 0, rtt, np.nan)
    return out


def _r(x) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 3)


def policy_rows(policy: str, plan: dict, doc: dict, rtt_ms: dict | None) -> list[dict]:
    """The rows of one policy: one per protocol of the comparison ``doc`` of ``plan``."""
    table = {r["metric"]: r for r in doc["table"]}
    hours = plan["duration_s"] / 3600.0 * max(1, len(plan["mobiles"]))
    rtt = (np.concatenate(list(rtt_ms.values())) if rtt_ms else np.zeros(0))
    rtt = rtt[np.isfinite(rtt)]
    mean, p95 = (float(rtt.mean()), float(np.percentile(rtt, 95))) if rtt.size else (None,
                                                                                     None)
    rows = []
    for protocol in doc["reports"]:
        made = table["handovers_made"][protocol]
        rows.append({"policy": policy, "protocol": protocol, "rtt_mean": _r(mean),
                     "rtt_p95": _r(p95),
                     "handovers_per_hour": _r(made / hours) if made is not None else None,
                     "interruption_mean": table["interruption_mean"][protocol],
                     "loss_rate": table["loss_rate"][protocol]})
    return rows


def compare_policies(scenario, policies, *, seed=None, rate_pps=None, truth_elements=None,
                     progress=None, log=None) -> tuple[dict, dict]:
    """Plan ``scenario`` under each of ``policies`` and compare the protocols on each plan.
    Returns the ``sigma-sn/compare-policies/1`` document and, per policy, the plan and
    the path RTT series (for :func:`rtt_figure`; None without a ``[path]`` section)."""
    import dataclasses

    from sigma_sn.compare import compare_plan
    from sigma_sn.planner.kinds import Mode
    from sigma_sn.planner.plan import plan_scenario, scenario_paths, scenario_windows
    from sigma_sn.sim.fromplan import config_from_plan, replays_from_plan

    sc = scenario
    sw = scenario_windows(sc)
    paths = (scenario_paths(sc, sw) if sc.path_config is not None and sc.mode is Mode.ROUTER
             else None)
    rows, runs, loads = [], {}, {}
    for policy in policies:
        plan = plan_scenario(dataclasses.replace(sc, policy=policy), windows=sw, paths=paths)
        cfg, mip = config_from_plan(plan, seed=seed, rate_pps=rate_pps)
        if cfg.traffic != "cbr":
            raise InputError("the comparison needs CBR traffic (the Mobile IP baseline "
                             f"replays CBR only), got {cfg.traffic!r}", path=str(sc.path),
                             key="traffic.traffic")
        replays = replays_from_plan(plan, truth_elements=truth_elements, progress=progress)
        doc = compare_plan(plan, cfg, mip, replays=replays)
        rtt = serving_rtt_ms(plan, paths) if paths is not None else None
        rows += policy_rows(policy.value, plan, doc, rtt)
        if "load" in doc:   # shared capacity: what the policy does to the satellites
            from sigma_sn.path.load import load_brief
            loads[policy.value] = load_brief(doc["load"])
        runs[policy.value] = (plan, rtt)
        if log is not None:
            print(f"compare --policies: {policy.value}: {len(plan['handovers'])} handovers",
                  file=log)
    doc = {"schema": SCHEMA, "scenario": sc.name,
           "policies": [p.value for p in policies],
           "rtt_source": None if paths is None else
           f"path stage ({_first(paths).mode.value}) along the plan's serving intervals",
           "table": rows, **({"load": loads} if loads else {})}
    return doc, {"paths": paths, "runs": runs}


def _first(paths):
    """The path stage's delays, or the first of a gateway anchor's (one per gateway)."""
    return paths[0] if isinstance(paths, (list, tuple)) else paths


class SweepHooks:
    """What ``sigma-sn sweep --policies`` adds to :func:`sigma_sn.sweep.run_sweep`: a
    ``plan_fn`` that keeps each plan's paths, and ``more_rows`` giving the path RTT and
    handovers per hour of each point (interruption and loss are sweep metrics already)."""

    def __init__(self):
        self._paths: dict[int, object] = {}

    def plan_fn(self, scenario) -> dict:
        from sigma_sn.planner.kinds import Mode
        from sigma_sn.planner.plan import plan_scenario, scenario_paths, scenario_windows

        sw = scenario_windows(scenario)
        paths = (scenario_paths(scenario, sw) if scenario.path_config is not None
                 and scenario.mode is Mode.ROUTER else None)
        plan = plan_scenario(scenario, windows=sw, paths=paths)
        self._paths[id(plan)] = (plan, paths)   # the plan kept alive: its id stays its own
        return plan

    def more_rows(self, plan: dict, doc: dict) -> list[dict]:
        paths = self._paths[id(plan)][1]
        rtt = serving_rtt_ms(plan, paths) if paths is not None else None
        return [{"protocol": r["protocol"], "metric": c, "unit": u, "result": r[c]}
                for r in policy_rows(plan["policy"], plan, doc, rtt)
                for c, u in COLUMNS[:3]]


def table_csv(rows: list[dict]) -> str:
    """The rows as CSV text (``policy,protocol`` then :data:`COLUMNS` with units)."""
    from sigma_sn.compare import cell

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("policy", "protocol", *(f"{c}_{u}".replace("/", "per") for c, u in COLUMNS)))
    for r in rows:
        w.writerow((r["policy"], r["protocol"], *(cell(r[c]) for c, _ in COLUMNS)))
    return buf.getvalue()


def format_table(rows: list[dict]) -> str:
    """The rows as aligned text for a terminal (``-``: nothing to measure)."""
    from sigma_sn.compare import LABELS, cell

    head = ("policy", "protocol", *(f"{c} ({u})" for c, u in COLUMNS))
    body = [(r["policy"], LABELS.get(r["protocol"], r["protocol"]),
             *(cell(r[c]) or "-" for c, _ in COLUMNS)) for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(f"{v:<{w}}" if i < 2 else f"{v:>{w}}"
                       for i, (v, w) in enumerate(zip(x, widths))) for x in [head, *body]]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join([*lines, *textwrap.wrap(HANDOVERS_NOTE, 88, initial_indent="note: ",
                                             subsequent_indent="      ",
                                             break_on_hyphens=False)]) + "\n"


def rtt_figure(extra: dict, mobile: str | None = None):
    """Path RTT over time per policy for one mobile (the first by default), each policy's
    handovers (SET_PRIMARY) marked on its curve; None without path RTTs."""
    import plotly.graph_objects as go

    paths = extra["paths"]
    if paths is None:
        return None
    paths = _first(paths)
    fig = go.Figure()
    for policy, (plan, rtt) in extra["runs"].items():
        name = mobile or plan["mobiles"][0]["name"]
        series = rtt[name]
        t = np.arange(len(series)) * paths.step_s
        fig.add_trace(go.Scatter(x=t, y=series, mode="lines", name=policy))
        switch = [e["t_s"] for h in plan["handovers"] if h["mobile"] == name
                  for e in h["events"] if e["action"] == "SET_PRIMARY"]
        k = np.clip(np.round(np.array(switch, float) / paths.step_s).astype(int), 0,
                    len(series) - 1)
        fig.add_trace(go.Scatter(x=np.array(switch, float), y=series[k], mode="markers",
                                  marker={"symbol": "x", "size": 8}, showlegend=False,
                                  name=f"{policy} handovers"))
    fig.update_layout(xaxis_title="time since start (s)", yaxis_title="path RTT (ms)",
                      title=f"path RTT per policy, handovers marked (x) "
                            f"to {paths.correspondent.name}")
    return fig


def write_policies(doc: dict, extra: dict, out_dir) -> list:
    """Write ``compare-policies.json``, ``.csv`` and, with path RTTs, the report
    ``compare-policies.html`` (the table and the RTT figure) into ``out_dir``."""
    import json
    from pathlib import Path

    from sigma_sn.atomic import write_text
    from sigma_sn.report import write_report

    out = Path(out_dir)
    written = [out / "compare-policies.json", out / "compare-policies.csv"]
    write_text(written[0], json.dumps(doc, sort_keys=True, indent=1) + "\n")
    write_text(written[1], table_csv(doc["table"]))
    fig = rtt_figure(extra)
    if fig is not None:
        written.append(write_report(out / "compare-policies.html",
                                    title=f"{doc['scenario']}: policies side by side",
                                    tables=[("policies and protocols", doc["table"])],
                                    intro=HANDOVERS_NOTE,
                                    figures=[("path RTT over time", fig)]))
    return written


__all__ = ["COLUMNS", "HANDOVERS_NOTE", "SCHEMA", "SweepHooks", "compare_policies",
           "format_table", "parse_policies", "policy_rows", "rtt_figure", "serving_rtt_ms",
           "serving_windows", "table_csv", "write_policies"]
