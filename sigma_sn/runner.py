"""The whole pipeline as one library call: scenario → windows → plan → SIGMA-SN, MIPv6,
FMIPv6 and HMIPv6 replays → comparison → exports → HTML report, all into one results
folder.

:func:`run_scenario` validates the scenario first (a mistake fails before anything is
computed), then writes every file into a hidden temporary folder next to the results
folder and renames it into place only when every stage succeeded: a failure never leaves
a half-written folder that looks complete. ``run.json`` records what is needed to repeat
the run: the inputs' sha256, the tool version and every parameter (paths relative, never
a machine's absolute path).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sigma_sn import compute
from sigma_sn.planner.plan import display_path, sha256_of

__all__ = ["run_scenario", "RunResult", "Stage", "sha256_of", "summary_text", "OUTPUT_FILES"]
RUN_SCHEMA = "sigma-sn/run/1"

#: what a results folder holds, in the order the stages write it
OUTPUT_FILES = ("windows.csv", "plan.json", "plan.csv", "report.json", "plan.czml",
                "footprints.geojson", "report.html", "run.json")

#: most footprint snapshots in footprints.geojson
MAX_FOOTPRINT_TIMES = 13
#: most footprint polygons in footprints.geojson in all: a large constellation gets fewer
#: snapshots, so the file stays a few MB
MAX_FOOTPRINTS = 2000
#: corners of a footprint polygon (a 1,000 km footprint: edges of ~65 km)
FOOTPRINT_POINTS = 48
#: the exports, written unless the scenario's [exports] or the caller turn them off
EXPORT_FILES = ("plan.czml", "footprints.geojson")


@dataclass(frozen=True)
class Stage:
    """One finished stage: its name, wall time and a one-line note."""

    name: str
    seconds: float
    note: str = ""


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_scenario` made: the results folder and how it got there."""

    name: str
    out_dir: Path
    stages: tuple[Stage, ...]
    summary: tuple[tuple[str, str], ...]   # (what, value) rows of the planning summary
    table: tuple[dict, ...]                # the comparison table (compare contract rows)
    policies: dict                         # policy -> handover counts, every policy planned
    policy: str = ""                       # the policy the plan used
    assumptions: dict | None = None        # what each protocol of the table ran under
    load: dict | None = None               # shared capacity: the report's load block

    @property
    def report_html(self) -> Path:
        return self.out_dir / "report.html"


def default_out_dir(name: str, scenario_path) -> Path:
    """Return ``results/<name>`` (the scenario file's stem if the name is not a plain
    folder name)."""
    safe = name if name and "/" not in name and "\\" not in name and name not in (".", "..") \
        else Path(scenario_path).stem
    return Path("results") / safe


class _Stages:
    """Times each stage and tells the user about it (``log=None``: silently)."""

    def __init__(self, total: int, log: Callable[[str], None] | None):
        self.total, self.log, self.done = total, log, []
        self._t0 = 0.0

    def start(self, name: str, t0: float | None = None) -> None:
        """Start stage ``name``, timed from ``t0`` (a ``time.monotonic()``; default now)."""
        self._name = name
        self._t0 = time.monotonic() if t0 is None else t0
        if self.log:
            self.log(f"[{len(self.done) + 1}/{self.total}] {name} ...")

    def end(self, note: str = "") -> None:
        dt = time.monotonic() - self._t0
        self.done.append(Stage(self._name, dt, note))
        if self.log:
            self.log(f"      {note + ' ' if note else ''}({dt:.2f} s)")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_scenario(scenario_path, out_dir=None, *, log: Callable[[str], None] | None = _stderr,
                 verbose: bool = False, exports: bool | None = None) -> RunResult:
    """Run the scenario at ``scenario_path`` end to end into ``out_dir`` (default
    ``results/<scenario name>``) and return what was made.

    Stale element sets and satellites SGP4 cannot propagate are logged as one line each
    (``verbose``: with the full lists). ``exports``: write plan.czml and
    footprints.geojson (None: as the scenario's ``[exports] enabled`` says).

    ``out_dir`` is replaced as a whole: if it exists it must be an earlier results folder
    (it holds ``run.json``) or empty. Bad input raises
    :class:`~sigma_sn.errors.InputError` naming the file and key, before any computation.
    """
    from sigma_sn.errors import InputError
    from sigma_sn.scenario import load_scenario

    scenario_path = Path(scenario_path)
    t0 = time.monotonic()
    sc = load_scenario(scenario_path)
    compute.adopt(sc.compute)
    if exports is not None:
        sc = dataclasses.replace(sc, exports=dataclasses.replace(sc.exports, enabled=exports))
    # the count is known once the scenario says whether exports are written
    stages = _Stages(12 - (not sc.exports.enabled), log)
    stages.start("scenario", t0)
    out = Path(out_dir) if out_dir is not None else default_out_dir(sc.name, scenario_path)
    if out.exists() and (not out.is_dir() or (any(out.iterdir())
                                              and not (out / "run.json").exists())):
        raise InputError("exists and is not an earlier results folder (no run.json); "
                         "choose another --out-dir", path=str(out))
    stages.end(f"{sc.name}: {sc.mode.value} mode, {sc.policy.value}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as exc:
        raise InputError(f"cannot write here ({exc.strerror}); choose another --out-dir",
                         path=str(out)) from None
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; give the mode mkdir would
    try:
        result = _run_stages(sc, scenario_path, tmp, stages, verbose)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dataclasses.replace(result, out_dir=out)


def _replace_dir(new: Path, out: Path) -> None:
    """Put folder ``new`` where ``out`` is, removing an earlier ``out`` only afterwards."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, old / "previous")
    os.replace(new, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _run_stages(sc, scenario_path: Path, tmp: Path, stages: _Stages, verbose: bool
                ) -> RunResult:
    from sigma_sn import compare as cmp
    from sigma_sn.atomic import write_text
    from sigma_sn.health import element_notes
    from sigma_sn.planner.io import write_plan_csv, write_plan_json
    from sigma_sn.planner.kinds import Mode
    from sigma_sn.planner.plan import plan_scenario, scenario_paths, scenario_windows
    from sigma_sn.progress import Progress
    from sigma_sn.sim.fromplan import config_from_plan, replays_from_plan, simulate_plan
    from sigma_sn.windows_io import write_windows

    stages.start("windows")
    # the windows of the mobiles the scenario plans, no others; computed once for the
    # plan and every policy compared. A bar on a terminal only (and never when quiet).
    bars = []

    def bar(n_satellites: int) -> Progress:
        bars.append(Progress("      windows", n_satellites,
                             enabled=None if stages.log else False))
        return bars[-1]

    sw = scenario_windows(sc, progress=bar)
    for b in bars:
        b.close()
    satellites, sites, windows = list(sw.satellites), sw.sites, sw.windows
    write_windows(tmp / "windows.csv", windows)
    stages.end(f"{len(windows)} windows of {_n(len(satellites), 'satellite')} over "
               f"{_n(len(sites), 'site')}")
    if stages.log:
        for line in element_notes(satellites, sc.start_utc, sc.duration_s, windows.skipped,
                                  verbose=verbose):
            stages.log(line if line.startswith(" ") else f"      warning: {line}")

    stages.start("plan")
    # a scenario with a path: its delays once, for path policies and the report's RTT
    paths = (scenario_paths(sc, sw, workers=compute.workers(1))
             if sc.path_config is not None and sc.mode is Mode.ROUTER else None)
    plan = plan_scenario(sc, windows=sw, workers=compute.workers(1), paths=paths)
    write_plan_json(tmp / "plan.json", plan)
    write_plan_csv(tmp / "plan.csv", plan)
    hs = plan["handovers"]
    stages.end(f"{len(hs)} handovers, {sum(not h['feasible'] for h in hs)} infeasible")

    stages.start("policies")
    plans: dict = {}
    policies = policy_counts(sc, plan, sw, paths=paths, plans=plans)
    stages.end(", ".join(f"{p}: {c['handovers']}" for p, c in policies.items()
                         if "handovers" in c))

    def progress(label: str, total: int) -> Progress:  # a bar on a terminal only
        return Progress(f"      {label}", total, enabled=None if stages.log else False)

    cfg, mip_cfg = config_from_plan(plan)
    stages.start("link geometry")
    # one geometry for every replay, in one tuple: on Dask it is scattered once, for every
    # protocol (sigma_sn.sim.run.simulate_many)
    replays = tuple(replays_from_plan(plan, plan_dir=".", progress=progress))
    stages.end(f"{sum(len(r.links) for r in replays)} links")
    reports = {}
    for protocol in cmp.PROTOCOLS:
        stages.start(f"simulate {cmp.LABELS[protocol]}")
        reports[protocol] = simulate_plan(plan, cfg, protocol=protocol, mip=mip_cfg,
                                          replays=replays, progress=progress)
        p = reports[protocol]["packets"]
        stages.end(f"{p['sent']} packets sent, {p['lost']} lost")

    stages.start("compare")
    doc = cmp.add_load(cmp.comparison(reports, plan.get("name", sc.name), cfg=cfg,
                                       mip=mip_cfg), replays)
    # a scenario's [security] and [[failures]] add their findings, as 'sigma-sn compare'
    doc = cmp.add_findings(doc, plan, cfg, mip_cfg, security=sc.security,
                           failures=sc.failures, where=str(sc.path), replays=replays)
    write_text(tmp / "report.json", cmp.dumps(doc))
    stages.end()

    if sc.exports.enabled:
        stages.start("exports")
        n_czml, n_geo = write_exports(tmp, plan, satellites, sc)
        stages.end(f"{n_czml} CZML packets, {n_geo} GeoJSON features, sampled every "
                   f"{sc.exports.step_s:g} s")

    run_info = run_record(sc, scenario_path, plan, cfg, mip_cfg, policies)
    stages.start("report")
    write_html_report(tmp, sc, plan, doc, windows, policies, satellites,
                      paths=paths, plans=plans)
    stages.end()
    write_text(tmp / "run.json", json.dumps(run_info, sort_keys=True, indent=1) + "\n")
    return RunResult(name=plan.get("name", sc.name), out_dir=tmp, stages=tuple(stages.done),
                     summary=tuple(plan_summary(plan)), table=tuple(doc["table"]),
                     assumptions=doc.get("assumptions"),
                     policies=policies, policy=plan["policy"], load=doc.get("load"))


def policy_counts(sc, plan: dict, windows=None, *, paths=None, plans: dict | None = None
                  ) -> dict:
    """Return, for every policy the scenario's mode offers, how the plan would come out:
    ``{policy: {"handovers", "infeasible", "outage_s"}}`` (the scenario's own policy from
    ``plan``; a policy the planner cannot run here is listed with its reason). ``windows``
    (:func:`~sigma_sn.planner.plan.scenario_windows`) saves finding them again; with the
    scenario's ``paths`` the path policies count too. ``plans``, if given, receives each
    policy's plan."""
    from sigma_sn.errors import InputError
    from sigma_sn.planner.kinds import PATH_POLICIES, POLICIES_BY_MODE
    from sigma_sn.planner.plan import plan_scenario

    out = {}
    offered = POLICIES_BY_MODE[sc.mode] + (PATH_POLICIES if paths is not None else ())
    for policy in offered:
        if policy is sc.policy:
            other = plan
        else:
            try:
                other = plan_scenario(dataclasses.replace(sc, policy=policy),
                                      windows=windows, paths=paths)
            except (NotImplementedError, InputError) as exc:
                out[policy.value] = {"not_planned": str(exc)}
                continue
        if plans is not None:
            plans[policy.value] = other
        hs = other["handovers"]
        out[policy.value] = {
            "handovers": len(hs),
            "infeasible": sum(1 for h in hs if not h["feasible"]),
            "outage_s": round(sum(o["duration_s"] for o in other.get("outages", [])), 6)}
    return out


def plan_summary(plan: dict) -> list[tuple[str, str]]:
    """Return (what, value) rows that say what the plan found."""
    hs = plan["handovers"]
    good = [h for h in hs if h["feasible"]]
    outages = plan.get("outages", [])
    rows = [("mode, policy", f"{plan['mode']}, {plan['policy']}"),
            ("window", f"{plan['start_utc']} to {plan['end_utc']}"),
            ("mobiles", str(len(plan.get("mobiles", [])))),
            ("handovers (infeasible)", f"{len(hs)} ({len(hs) - len(good)})"),
            ("DEACTIVATE instead of DELETE_IP",
             str(sum(1 for h in hs if h["events"][-1]["action"] == "DEACTIVATE")))]
    if good:
        rows.append(("shortest feasible overlap", f"{min(h['overlap_s'] for h in good):.3f} s"))
        margins = [h["margin_s"] for h in good if h.get("margin_s") is not None]
        if margins:
            rows.append(("smallest margin to LOS", f"{min(margins):.3f} s"))
    rows.append(("planned outages", f"{len(outages)}, "
                 f"{sum(o['duration_s'] for o in outages):.3f} s in all"))
    path = plan.get("inputs", {}).get("parameters", {}).get("path")
    if path:
        rows.append(("path (replay)", f"{path['mode']} to {path['correspondent']['name']} "
                     f"over {len(path['gateways'])} gateways"))
    return rows


def run_record(sc, scenario_path: Path, plan: dict, cfg, mip_cfg, policies: dict) -> dict:
    """Return ``run.json``: inputs with sha256 (paths as the plan records them, relative
    to the current folder), the tool version, every parameter."""
    from sigma_sn import __version__

    scenario = display_path(scenario_path)
    inputs = [{"role": "scenario", "path": scenario, "sha256": sha256_of(scenario_path)}]
    inputs += [dict(f) for f in plan.get("inputs", {}).get("files", [])]
    return {
        "schema": RUN_SCHEMA,
        "tool": {"name": "sigma-sn", "version": __version__},
        "command": f"sigma-sn run {scenario}",
        "scenario": plan.get("name", sc.name),
        "inputs": inputs,
        "parameters": {
            "plan": plan.get("inputs", {}).get("parameters", {}),
            "mode": plan["mode"], "policy": plan["policy"],
            "start_utc": plan["start_utc"], "end_utc": plan["end_utc"],
            "simulation": _plain(dataclasses.asdict(cfg)),
            "mip": _plain(dataclasses.asdict(mip_cfg)) if mip_cfg is not None else None,
        },
        "policies": policies,
        "outputs": outputs(sc),
    }


def outputs(sc) -> list[str]:
    """The files a run of scenario ``sc`` writes (the exports only when enabled)."""
    return [f for f in OUTPUT_FILES if sc.exports.enabled or f not in EXPORT_FILES]


def _plain(d: dict) -> dict:
    return {k: v for k, v in d.items() if not k.startswith("_")}


def _plan_ephemeris(plan: dict, satellites, sc):
    """Propagate the satellites the plan mentions on the export grid."""
    import numpy as np

    from sigma_sn.propagate import Epoch, propagate
    from sigma_sn.visibility import time_grid

    wanted = {s["name"] for s in plan.get("satellites", [])}
    shown = [s for s in satellites if s.name in wanted] or list(satellites)
    epoch = Epoch.at(plan["start_utc"])
    t_s = time_grid(float(plan.get("duration_s", sc.duration_s)), sc.exports.step_s)
    eph = propagate([s.satrec for s in shown], epoch, np.asarray(t_s))
    return shown, eph


def write_exports(out: Path, plan: dict, satellites, sc) -> tuple[int, int]:
    """Write ``plan.czml`` (satellites, sites, serving links) and ``footprints.geojson``
    (ground tracks, footprints at evenly spaced times); return their item counts."""
    import numpy as np

    from sigma_sn.export.czml import czml_packets, write_czml
    from sigma_sn.export.geojson import feature_collection, write_geojson

    shown, eph = _plan_ephemeris(plan, satellites, sc)
    names = [s.name for s in shown]
    router = plan["mode"] == "router"
    access = []
    for mobile in plan.get("mobiles", []):
        for s in mobile.get("serving", []):
            if s["to_s"] > s["from_s"]:
                site, sat = (mobile["name"], s["ap"]) if router else (s["ap"], mobile["name"])
                if sat in names:
                    access.append((site, sat, s["from_s"], s["to_s"]))
    packets = czml_packets(eph, names, [s.norad_id for s in shown], sc.sites, access=access,
                           document_name=plan.get("name", sc.name))
    write_czml(out / "plan.czml", packets)
    n_times = max(1, min(MAX_FOOTPRINT_TIMES, MAX_FOOTPRINTS // max(len(shown), 1)))
    times = np.linspace(0.0, float(eph.t_s[-1]), n_times)
    doc = feature_collection(eph, names, [s.norad_id for s in shown], footprint_t_s=times,
                             min_elev_deg=sc.min_elev_deg, n_points=FOOTPRINT_POINTS)
    write_geojson(out / "footprints.geojson", doc)
    return len(packets), len(doc["features"])


def write_html_report(out: Path, sc, plan: dict, doc: dict, windows, policies: dict,
                      satellites=None, *, paths=None, plans: dict | None = None) -> None:
    """Write ``report.html``: the policies compared, then the report's plan part
    (summary, handovers, outages, timelines, elevations), with a path the path RTT of
    each policy's ``plans`` over time, and the simulation part (both protocols side by
    side, latency, loss and throughput over time)."""
    from sigma_sn import report

    name = plan.get("name", sc.name)
    sections = [report.plan_section(plan, satellites=satellites),
                report.simulation_section(doc)]
    if paths is not None and plans:   # the plan's own policy first
        order = [plan["policy"]] + [p for p in plans if p != plan["policy"]]
        sections.insert(1, report.path_section({p: plans[p] for p in order}, paths))
    tables = [("Handovers by policy (the plan uses " + plan["policy"] + ")",
               [{"policy": p, **c} for p, c in policies.items()])]
    figures, notes = [], []
    for part in sections:
        tables += part.tables
        figures += part.figures
        notes += part.notes
    intro = (f"{len(windows)} visibility windows; files: " + ", ".join(outputs(sc)) + "."
             + (" Left out: " + "; ".join(notes) + "." if notes else ""))
    report.write_report(out / "report.html", title=f"sigma-sn run: {name}", tables=tables,
                        figures=figures, intro=intro)


def summary_text(result: RunResult) -> str:
    """Return the final summary: the plan, the policies, SIGMA-SN next to Mobile IP."""
    from sigma_sn.compare import LABELS, PROTOCOLS, format_table

    width = max(len(k) for k, _ in result.summary)
    lines = [f"{result.name}"] + [f"  {k:<{width}}  {v}" for k, v in result.summary]
    counted = {p: c for p, c in result.policies.items() if "handovers" in c}
    if len(counted) > 1:
        lines.append("handovers by policy, on the same windows:")
        w = max(len(p) for p in counted)
        lines += [f"  {p:<{w}}  {c['handovers']:>4} ({c['infeasible']} infeasible)"
                  + ("  <- planned" if p == result.policy else "") for p, c in counted.items()]
    rtt = {r["metric"]: r for r in result.table if r["metric"].startswith("path_rtt_")}
    if rtt:     # on a path: the RTT each protocol's packets met, and what it did to them
        lines.append("path RTT mean / p95 (ms), one-way latency p50: " + ", ".join(
            f"{LABELS[p]} {rtt['path_rtt_mean'][p]} / {rtt['path_rtt_p95'][p]}, "
            f"{next(r[p] for r in result.table if r['metric'] == 'latency_p50')}"
            for p in PROTOCOLS if p in rtt["path_rtt_mean"]))
    if result.load:     # shared capacity: the busiest satellites, the mobiles' shares
        from sigma_sn.path.load import load_lines
        lines += load_lines(result.load)
    lines += ["", format_table(list(result.table), result.assumptions).rstrip("\n"), "",
              "stages: " + ", ".join(f"{s.name} {s.seconds:.1f} s" for s in result.stages)]
    return "\n".join(lines) + "\n"
