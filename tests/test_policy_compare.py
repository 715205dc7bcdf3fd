"""``sigma-sn compare --policies`` and ``sweep --policies``: policies side by side, with
the path RTT along each plan's serving intervals."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from conftest import REPO
from sigma_sn.cli import main
from sigma_sn.compare import PROTOCOLS
from sigma_sn.planner.kinds import Mode, Policy
from sigma_sn.planner.plan import plan_scenario, scenario_paths, scenario_windows
from sigma_sn.policy_compare import COLUMNS, serving_rtt_ms
from sigma_sn.scenario import load_scenario
from tests.plan_checks import check_plan_invariants

ISL = f"""name = "isl-lisbon"
mode = "router"
policy = "min-path-delay"
elements = ["{(REPO / 'tle_data' / 'starlink_shell1.tle').as_posix()}"]

[[sites]]
name = "Lisbon"
lat_deg = 38.7223
lon_deg = -9.1393

[window]
start_utc = "2026-08-22T00:00:00Z"
duration_s = 300
min_elev_deg = 25.0

[path]
mode = "isl"
gateways = "{(REPO / 'scenarios' / 'sites' / 'gateways_world.csv').as_posix()}"
correspondent = "GW New York"
"""
POLICIES = "max-elevation,min-path-delay"


@pytest.fixture(scope="module")
def isl(tmp_path_factory):
    p = tmp_path_factory.mktemp("isl") / "isl.toml"
    p.write_text(ISL)
    return p


def test_serving_rtt_is_the_path_of_the_window_serving_each_step(isl):
    sc = load_scenario(isl)
    sw = scenario_windows(sc)
    paths = scenario_paths(sc, sw)
    plan = plan_scenario(sc, windows=sw, paths=paths)
    check_plan_invariants(plan)   # the schema and the timing model's invariants hold
    rtt = serving_rtt_ms(plan, paths)["Lisbon"]
    w = paths.windows
    sat = {n: k for k, n in enumerate(w.sat_names)}
    checked = 0
    for iv in plan["mobiles"][0]["serving"]:
        for k in range(int(np.ceil(iv["from_s"])), int(np.ceil(iv["to_s"]))):
            t = k * paths.step_s
            (win,) = [i for i in range(len(w)) if w.site[i] == 0
                      and w.sat[i] == sat[iv["ap"]] and w.aos_s[i] <= t < w.los_s[i]]
            a, _ = int(paths.offset[win]), int(paths.offset[win + 1])
            assert rtt[k] == 2 * float(paths.delay_ms[a + k - paths.first_step[win]])
            checked += 1
    assert checked >= 290 and np.isfinite(rtt[:checked]).all()


def test_compare_policies_reports_each_policy_and_protocol(isl, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compare", str(isl), "--policies", POLICIES, "--out-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "min-path-delay" in printed and "SIGMA-SN" in printed
    rows = list(csv.DictReader((out / "compare-policies.csv").open()))
    assert [(r["policy"], r["protocol"]) for r in rows] == [
        (p, q) for p in POLICIES.split(",") for q in PROTOCOLS]
    doc = json.loads((out / "compare-policies.json").read_text())
    assert doc["schema"] == "sigma-sn/compare-policies/1"
    for r in doc["table"]:
        assert set(r) == {"policy", "protocol", *(c for c, _ in COLUMNS)}
        assert r["rtt_mean"] > 0 and r["rtt_p95"] >= r["rtt_mean"]
    html = (out / "compare-policies.html").read_text()
    assert "path RTT over time" in html and "plotly" in html.lower()
    # each handover count says what it counts: Mobile IP moves only at loss of signal
    made = {r["protocol"]: r["handovers_per_hour"] for r in doc["table"]
            if r["policy"] == "max-elevation"}
    assert made["mip"] < made["sigma"]
    flat = " ".join(printed.split())
    for text in (flat, " ".join(html.split())):
        assert "handovers_per_hour: the handovers each protocol made" in text
        assert "leave a satellite only when it sets" in text


def test_sweep_policies_adds_the_policy_column_and_path_metrics(isl, tmp_path):
    out = tmp_path / "sweep.csv"
    assert main(["sweep", str(isl), "--param", "timing.l2_s=0.05", "--policies", POLICIES,
                 "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert {r["policy"] for r in rows} == set(POLICIES.split(","))
    got = {(r["policy"], r["protocol"], r["metric"]) for r in rows}
    for p in POLICIES.split(","):
        for q in PROTOCOLS:
            for m in ("rtt_mean", "rtt_p95", "handovers_per_hour", "interruption_mean",
                      "loss_rate"):
                assert (p, q, m) in got


def test_unknown_policy_is_an_input_error(isl, capsys):
    assert main(["compare", str(isl), "--policies", "max-elevation,fastest"]) == 2
    assert "--policies" in capsys.readouterr().err


def test_path_policy_in_host_mode_is_refused():
    from sigma_sn.errors import InputError
    from sigma_sn.policy_compare import parse_policies

    with pytest.raises(InputError, match="not offered in host mode"):
        parse_policies("strongest-signal,min-path-delay", Mode.HOST)
    assert parse_policies("min-path-delay", Mode.ROUTER) == [Policy.MIN_PATH_DELAY]
