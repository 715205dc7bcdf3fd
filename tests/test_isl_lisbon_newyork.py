"""The shipped ``isl-lisbon-newyork`` scenario as its header tells a user to run it:
``sigma-sn compare --policies max-elevation,min-path-delay`` shows both policies, and
planning by the path does not cost RTT against planning by elevation (issue 21)."""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys

import pytest

from conftest import REPO
from sigma_sn.cli import main
from sigma_sn.compare import PROTOCOLS
from sigma_sn.planner.kinds import Policy

SCENARIO = REPO / "scenarios" / "isl-lisbon-newyork.toml"
POLICIES = ("max-elevation", "min-path-delay")


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    out = tmp_path_factory.mktemp("lisbon") / "out"
    done = subprocess.run(
        [sys.executable, "-m", "sigma_sn", "compare", "scenarios/isl-lisbon-newyork.toml",
         "--policies", ",".join(POLICIES), "--out-dir", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout, out


def test_the_header_names_the_command_this_test_runs():
    assert ("sigma-sn compare scenarios/isl-lisbon-newyork.toml --policies "
            "max-elevation,min-path-delay") in SCENARIO.read_text()


def test_compare_shows_both_policies_for_every_protocol(compared):
    printed, out = compared
    table = [line.split() for line in printed.splitlines()
             if line.split()[:1] and line.split()[0] in POLICIES]
    assert [(r[0], r[1]) for r in table] == [
        (p, q) for p in POLICIES for q in ("SIGMA-SN", "MIPv6", "FMIPv6", "HMIPv6")]
    rows = list(csv.DictReader((out / "compare-policies.csv").open()))
    assert [(r["policy"], r["protocol"]) for r in rows] == [
        (p, q) for p in POLICIES for q in PROTOCOLS]
    html = (out / "compare-policies.html").read_text()
    assert all(p in html for p in POLICIES)


def test_min_path_delay_rtt_mean_is_not_above_max_elevations(compared):
    _, out = compared
    doc = json.loads((out / "compare-policies.json").read_text())
    rtt = {(r["policy"], r["protocol"]): r["rtt_mean"] for r in doc["table"]}
    for q in PROTOCOLS:
        assert 0 < rtt["min-path-delay", q] <= rtt["max-elevation", q], (q, rtt)
    # and the long-haul pair really is long: a path over the Atlantic, not a local hop
    assert rtt["max-elevation", "sigma"] > 30.0


def test_run_report_draws_path_rtt_per_policy_with_handovers_marked(tmp_path, monkeypatch):
    from sigma_sn import report, runner
    from sigma_sn.planner.plan import plan_scenario, scenario_paths, scenario_windows
    from sigma_sn.scenario import load_scenario

    monkeypatch.chdir(REPO)
    out = runner.run_scenario(SCENARIO, tmp_path / "run", log=None).out_dir
    page = (out / "report.html").read_text()
    assert "Path RTT over time per policy, handovers marked" in page
    info = json.loads((out / "run.json").read_text())
    # the plan's own policy and the joint one are counted beside the elevation policies
    assert {"max-elevation", "min-path-delay", "min-handovers-delay"} <= set(info["policies"])

    sc = load_scenario(SCENARIO)
    sw = scenario_windows(sc)
    paths = scenario_paths(sc, sw)
    plans = {p: plan_scenario(dataclasses.replace(sc, policy=Policy(p)), windows=sw,
                              paths=paths) for p in POLICIES}
    part = report.path_section(plans, paths)
    (_, fig), = part.figures
    for policy, plan in plans.items():
        line, marks = [tr for tr in fig.data if tr.name in (policy, f"{policy} handovers")]
        switches = [e["t_s"] for h in plan["handovers"] for e in h["events"]
                    if e["action"] == "SET_PRIMARY"]
        assert len(marks.x) == len(switches) == info["policies"][policy]["handovers"]
    (_, rows), = part.tables
    rtt = {r["policy"]: r["rtt_mean_ms"] for r in rows}
    assert rtt["min-path-delay"] <= rtt["max-elevation"]

    # 'sigma-sn report' on the results folder rebuilds the path from plan.json alone and
    # draws the plan's own policy: the same numbers as planned here
    plan = json.loads((out / "plan.json").read_text())
    (_, again), = report.plan_path_section(plan, plan_dir=out).tables
    assert again == [r for r in rows if r["policy"] == "min-path-delay"]
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0
    assert "Path RTT over time per policy, handovers marked" in (out / "report.html").read_text()


def test_report_of_a_plan_whose_elements_moved_says_so_instead_of_failing(tmp_path):
    from sigma_sn import report
    from sigma_sn.planner.plan import plan_scenario
    from sigma_sn.scenario import load_scenario

    text = SCENARIO.read_text().replace("duration_s = 1800", "duration_s = 120")
    text = text.replace('"../tle_data/', f'"{(REPO / "tle_data").as_posix()}/')
    text = text.replace('"sites/', f'"{(REPO / "scenarios" / "sites").as_posix()}/')
    (tmp_path / "s.toml").write_text(text)
    plan = plan_scenario(load_scenario(tmp_path / "s.toml"))
    assert report.plan_path_section(plan, plan_dir=tmp_path).figures   # found: drawn
    for f in plan["inputs"]["files"]:
        if f["role"] == "elements":
            f["path"] = "moved/starlink_shell1.tle"
    part = report.plan_path_section(plan, plan_dir=tmp_path)
    assert not part.figures and "no path RTT figure" in part.notes[0]
    assert "moved/starlink_shell1.tle" in part.notes[0]
