"""Golden-file regression: checked-in expected results, compared the way python-sgp4
compares its verification output — text exactly, numbers within a named tolerance, and
every failure naming the scenario, the field and both values.

A golden folder holds two files extracted from a ``sigma-sn run`` results folder:

* ``plan-events.json``: every handover of the plan with its five events, the outages;
* ``report-metrics.json``: the metrics of both protocols' reports and the comparison
  table (no packet trace, no time series: those are derived, bulky and not reviewable).

Both are sorted, indented JSON so a changed golden reads as a line diff. Regenerate
every shipped scenario's golden with one command, from the repository root::

    python -m sigma_sn.golden regenerate

(``python -m sigma_sn.golden regenerate zigzag`` for one; ``check`` compares instead.)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

PLAN_FILE = "plan-events.json"
METRICS_FILE = "report-metrics.json"
GOLDEN_FILES = (PLAN_FILE, METRICS_FILE)

#: the scenarios that ship in ``scenarios/`` with a golden in ``tests/golden/<name>/``
SHIPPED_SCENARIOS = ("iridium-router", "starlink-router", "gpm-host", "fleet-host-load",
                     "zigzag", "tight-overlap", "starlink-isl", "starlink-bent-pipe",
                     "isl-lisbon-newyork", "starlink-shared", "isl-lisbon-newyork-gateway")

#: most mismatches listed before the rest are only counted
MAX_MESSAGES = 25


@dataclass(frozen=True)
class Tolerance:
    """How far a number may move before it counts as changed: ``abs + rel·|expected|``."""

    name: str
    abs: float
    rel: float = 0.0
    why: str = ""

    def allows(self, expected: float, actual: float) -> bool:
        return abs(actual - expected) <= self.abs + self.rel * abs(expected)

    def __str__(self) -> str:
        rel = f" + {self.rel:g}·|expected|" if self.rel else ""
        return f"{self.name} = {self.abs:g}{rel}"


# Runs are byte-deterministic on one machine; these absorb what another platform's libm
# or numpy may move, and nothing a change of behaviour would.
TIME_S = Tolerance("TIME_S", 1e-3, why="AOS/LOS are solved to 1 ms")
LATENCY_MS = Tolerance("LATENCY_MS", 0.5, why="packet latencies, ms")
ANGLE_DEG = Tolerance("ANGLE_DEG", 1e-4, why="elevations, deg")
RATE_REL = Tolerance("RATE_REL", 0.0, 1e-4, why="throughput: relative")
LOSS_RATE = Tolerance("LOSS_RATE", 1e-5, 1e-3, why="a fraction of the packets sent")
PACKETS = Tolerance("PACKETS", 2.0, why="a send time on a link edge may flip one packet")
EXACT = Tolerance("EXACT", 0.0, why="counts of handovers, messages, bytes")
NUMBER = Tolerance("NUMBER", 1e-9, 1e-9, why="any other number")

# (pattern on the field path, tolerance); the first match wins
_RULES: tuple[tuple[re.Pattern, Tolerance], ...] = tuple(
    (re.compile(p), t) for p, t in (
        (r"_ms(\.\w+)?$", LATENCY_MS),
        (r"_s$", TIME_S),
        (r"_deg$", ANGLE_DEG),
        (r"_bps$", RATE_REL),
        (r"loss_rate$", LOSS_RATE),
        (r"(^|\.)(packets\.\w+|loss_causes\.\w+|lost|delivered|sent|in_flight)$", PACKETS),
    ))


#: tolerances by the unit a comparison-table row names
_UNITS = {"ms": LATENCY_MS, "s": TIME_S, "bit/s": RATE_REL, "fraction": LOSS_RATE,
          "packets": PACKETS, "count": EXACT, "messages": EXACT, "bytes": EXACT}


def tolerance_for(path: str, expected, unit: str | None = None) -> Tolerance:
    """Return the tolerance for the number at field ``path`` (in a table row of ``unit``)."""
    if unit in _UNITS:
        return _UNITS[unit]
    bare = re.sub(r"\[[^\]]*\]", "", path)
    for pattern, tol in _RULES:
        if pattern.search(bare):
            return tol
    return EXACT if isinstance(expected, int) else NUMBER


@dataclass(frozen=True)
class Mismatch:
    """One difference between an expected and an actual result."""

    scenario: str
    path: str
    expected: object
    actual: object
    note: str = ""

    def __str__(self) -> str:
        text = (f"{self.scenario}: {self.path}: expected {_show(self.expected)}, "
                f"got {_show(self.actual)}")
        return text + (f" ({self.note})" if self.note else "")


def _show(value) -> str:
    if isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True)
        return text if len(text) <= 120 else text[:117] + "..."
    return repr(value)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compare(expected, actual, *, scenario: str, path: str = "") -> list[Mismatch]:
    """Return every difference between ``expected`` and ``actual`` (JSON-like values).

    Text, booleans and ``null`` must match exactly; numbers within the tolerance their
    field path names (:func:`tolerance_for`); lists item by item (a length change is one
    mismatch, then the common items are compared); dicts key by key.
    """
    out: list[Mismatch] = []
    _compare(expected, actual, scenario, path, out)
    return out


def _compare(e, a, scenario: str, path: str, out: list[Mismatch], unit=None) -> None:
    where = path or "(top)"
    if isinstance(e, dict) and isinstance(a, dict):
        unit = e.get("unit", unit)
        for key in sorted(set(e) | set(a)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a:
                out.append(Mismatch(scenario, sub, e[key], None, "missing from the actual result"))
            elif key not in e:
                out.append(Mismatch(scenario, sub, None, a[key], "not in the expected result"))
            else:
                _compare(e[key], a[key], scenario, sub, out, unit)
    elif isinstance(e, list) and isinstance(a, list):
        if len(e) != len(a):
            out.append(Mismatch(scenario, f"{where} (length)", len(e), len(a),
                                "a different number of items; common ones compared below"))
        for k, (x, y) in enumerate(zip(e, a)):
            _compare(x, y, scenario, f"{path}[{k}]", out, unit)
    elif _is_number(e) and _is_number(a):
        tol = tolerance_for(path, e, unit)
        if not (math.isfinite(e) and math.isfinite(a)):
            if not (e == a or (math.isnan(e) and math.isnan(a))):
                out.append(Mismatch(scenario, where, e, a))
        elif not tol.allows(e, a):
            out.append(Mismatch(scenario, where, e, a,
                                f"differs by {abs(a - e):.6g}; tolerance {tol}"))
    elif type(e) is not type(a) or e != a:
        out.append(Mismatch(scenario, where, e, a))


def format_mismatches(mismatches: list[Mismatch], limit: int = MAX_MESSAGES) -> str:
    """Return the mismatches one per line, the first ``limit`` of them."""
    lines = [str(m) for m in mismatches[:limit]]
    if len(mismatches) > limit:
        lines.append(f"... and {len(mismatches) - limit} more")
    return "\n".join(lines)


# ------------------------------------------------------------------------ extraction

_HANDOVER_KEYS = ("mobile", "index", "from", "to", "feasible", "overlap_s", "outage_s",
                  "margin_s")
_EVENT_KEYS = ("action", "t_s", "address")
_OUTAGE_KEYS = ("mobile", "from_s", "to_s", "duration_s", "cause")
_PATH_CHANGE_KEYS = ("mobile", "gateway", "t_s", "from", "to", "from_delay_ms", "to_delay_ms")
_REPORT_KEYS = ("protocol", "mobiles", "duration_s", "traffic", "packets", "loss_causes",
                "loss_rate", "latency_ms", "throughput_bps", "path_failures", "coverage_gaps")
_REPORT_HANDOVER_KEYS = ("mobile", "index", "from", "to", "feasible", "t_s", "made",
                         "handover_latency_ms", "interruption_ms", "coverage_gap_s", "lost")


def _pick(d: dict, keys) -> dict:
    return {k: d[k] for k in keys if k in d}


def plan_events(plan: dict) -> dict:
    """Return the golden view of a plan: handovers with their events, outages, counts.

    UTC strings are left out: they restate ``t_s`` and would make a sub-microsecond
    float change look like a text change.
    """
    handovers = []
    for h in plan.get("handovers", []):
        item = _pick(h, _HANDOVER_KEYS)
        item["events"] = [_pick(e, _EVENT_KEYS) for e in h.get("events", [])]
        handovers.append(item)
    out = {
        "scenario": plan.get("name"),
        "mode": plan.get("mode"), "policy": plan.get("policy"),
        "start_utc": plan.get("start_utc"), "end_utc": plan.get("end_utc"),
        "counts": {"handovers": len(handovers),
                   "infeasible": sum(1 for h in handovers if h.get("feasible") is False),
                   "outages": len(plan.get("outages", []))},
        "handovers": handovers,
        "outages": [_pick(o, _OUTAGE_KEYS) for o in plan.get("outages", [])],
    }
    if "path_changes" in plan:  # a gateway anchor's satellite changes (plans without keep theirs)
        out["path_changes"] = [_pick(c, _PATH_CHANGE_KEYS) for c in plan["path_changes"]]
    return out


def _report_metrics(report: dict) -> dict:
    out = _pick(report, _REPORT_KEYS)
    sig = report.get("signalling", {})
    out["signalling"] = _pick(sig, ("messages", "bytes"))
    lm = report.get("location_manager", {})
    out["location_manager"] = _pick(lm, ("queries", "stale_answers", "updates_stored"))
    out["handovers"] = [_pick(h, _REPORT_HANDOVER_KEYS) for h in report.get("handovers", [])]
    return out


def report_metrics(compare_doc: dict, run_info: dict | None = None) -> dict:
    """Return the golden view of ``report.json`` (the compare contract): both protocols'
    metrics and handover tables, the comparison table, and the policy counts of
    ``run.json`` when given."""
    out = {"scenario": compare_doc.get("scenario"),
           "reports": {p: _report_metrics(r)
                       for p, r in sorted(compare_doc.get("reports", {}).items())},
           # keyed by metric, so a failure names the metric, not a row number
           "table": {row["metric"]: {k: v for k, v in row.items() if k != "metric"}
                     for row in compare_doc.get("table", [])}}
    if "load" in compare_doc:   # shared capacity: per satellite and mobile, not the series
        out["load"] = {k: v for k, v in compare_doc["load"].items() if k != "series"}
    if run_info and "policies" in run_info:
        out["policies"] = run_info["policies"]
    return out


def _read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def extract(results_dir) -> dict[str, dict]:
    """Return ``{file name: golden content}`` from a ``sigma-sn run`` results folder."""
    results_dir = Path(results_dir)
    run_json = results_dir / "run.json"
    run_info = _read_json(run_json) if run_json.exists() else None
    return {PLAN_FILE: plan_events(_read_json(results_dir / "plan.json")),
            METRICS_FILE: report_metrics(_read_json(results_dir / "report.json"), run_info)}


def dumps(doc) -> str:
    """Return ``doc`` as sorted, indented, stable JSON (one item per line: readable diffs)."""
    return json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def write_golden(results_dir, golden_dir) -> list[Path]:
    """Extract the golden files from ``results_dir`` into ``golden_dir``; return them."""
    from sigma_sn.atomic import write_text

    golden_dir = Path(golden_dir)
    written = []
    for name, doc in extract(results_dir).items():
        write_text(golden_dir / name, dumps(doc))
        written.append(golden_dir / name)
    return written


def load_expected(expected_dir) -> dict[str, dict]:
    """Return the golden content of ``expected_dir``: its golden files, or, for a full
    results folder (one with ``plan.json``), what :func:`extract` takes from it."""
    from sigma_sn.errors import InputError

    expected_dir = Path(expected_dir)
    if not expected_dir.is_dir():
        raise InputError("no such folder", path=str(expected_dir))
    if all((expected_dir / n).exists() for n in GOLDEN_FILES):
        return {n: _read_json(expected_dir / n) for n in GOLDEN_FILES}
    if (expected_dir / "plan.json").exists() and (expected_dir / "report.json").exists():
        return extract(expected_dir)
    raise InputError(f"holds neither the golden files {', '.join(GOLDEN_FILES)} nor a "
                     "results folder's plan.json and report.json", path=str(expected_dir))


def check(expected_dir, results_dir, *, scenario: str) -> list[Mismatch]:
    """Compare the results in ``results_dir`` with the golden in ``expected_dir``."""
    expected = load_expected(expected_dir)
    actual = extract(results_dir)
    out: list[Mismatch] = []
    for name in GOLDEN_FILES:
        out += compare(expected[name], actual[name], scenario=scenario,
                       path=name.removesuffix(".json"))
    return out


# ------------------------------------------------------------------------ command line

def _main(argv=None) -> int:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(
        prog="python -m sigma_sn.golden",
        description="Regenerate or check the goldens of the shipped scenarios (run from the "
                    "repository root).")
    parser.add_argument("action", choices=("regenerate", "check"))
    parser.add_argument("scenarios", nargs="*", metavar="NAME",
                        help=f"scenario names; default all: {', '.join(SHIPPED_SCENARIOS)}")
    parser.add_argument("--scenarios-dir", default="scenarios")
    parser.add_argument("--golden-dir", default="tests/golden")
    args = parser.parse_args(argv)
    from sigma_sn.runner import run_scenario

    failed = 0
    for name in args.scenarios or SHIPPED_SCENARIOS:
        scenario = Path(args.scenarios_dir) / f"{name}.toml"
        with tempfile.TemporaryDirectory() as tmp:
            result = run_scenario(scenario, Path(tmp) / name, log=None)
            golden = Path(args.golden_dir) / name
            if args.action == "regenerate":
                for path in write_golden(result.out_dir, golden):
                    print(f"wrote {path}")
            else:
                bad = check(golden, result.out_dir, scenario=name)
                print(format_mismatches(bad) if bad else f"{name}: matches {golden}")
                failed += bool(bad)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(_main())
