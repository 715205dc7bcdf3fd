"""'sigma-sn report' as a user meets it: a results folder in, report.html out."""

from __future__ import annotations

import json
import shutil

import pytest

from sigma_sn.cli import main
from sigma_sn.compare import METRICS
from sigma_sn.elements import read_tle
from sigma_sn.sites import read_sites_csv
from sigma_sn.visibility import find_windows
from sigma_sn.windows_io import write_windows

from conftest import REPO, START
from results_fixtures import write_results

STATIONS = REPO / "scenarios" / "sites" / "nen_like.csv"
TLE = REPO / "tle_data" / "iridium_like.tle"


def results_dir(tmp_path, suffix=".csv", run=True):
    sats = read_tle(TLE)
    windows = find_windows(sats, read_sites_csv(STATIONS), START, 2 * 3600.0,
                           min_elev_deg=5.0, workers=1)
    write_windows(tmp_path / f"windows{suffix}", windows)
    if run:
        shutil.copy(TLE, tmp_path / "elements.tle")   # relative to RESULTS_DIR
        (tmp_path / "run.json").write_text(json.dumps({
            "tle": ["elements.tle"], "stations": str(STATIONS),
            "start_utc": "2026-08-22T00:00:00Z", "hours": 2, "min_elev_deg": 5}))
    return tmp_path, windows


def test_report_of_windows_and_run_json(tmp_path, capsys):
    folder, windows = results_dir(tmp_path)
    assert main(["report", str(folder)]) == 0
    html = (folder / "report.html").read_text()
    assert "written to" in capsys.readouterr().err
    n_fig = html.count('class="plotly-graph-div"')
    assert f'data-figures-expected="{n_fig}"' in html
    # timelines + ground tracks, globe, elevation, coverage
    assert n_fig >= 5 and "Ground tracks" in html and "by latitude" in html
    assert html.count(windows.rows()[0]["aos_utc"]) >= 1


def test_report_of_a_windows_json_alone(tmp_path):
    folder, _ = results_dir(tmp_path, ".json", run=False)
    assert main(["report", str(folder), "--title", "Just windows"]) == 0
    html = (folder / "report.html").read_text()
    assert "<title>Just windows</title>" in html and "Ground tracks" not in html


@pytest.mark.parametrize("setup, message", [
    (lambda d: None, "holds no results: none of windows.csv"),
    (lambda d: (d / "windows.csv").write_text("a,b\n1,2\n"), "not a windows file"),
])
def test_a_folder_without_usable_windows_exits_2(tmp_path, capsys, setup, message):
    setup(tmp_path)
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("run_json, message", [
    ("{not json", "run.json:1: not valid JSON"),
    ('{"tle": ["x.tle"], "colour": 1}', "unknown keys ['colour']"),
    ('{"hours": "two"}', "hours: has the wrong type"),
    ('{"schema": "sigma-sn/run/1"}', "run.json: parameters: a sigma-sn/run/1 record without"),
    ('{"tle": ["missing.tle"], "stations": "s.csv", "start_utc": "2026-08-22T00:00:00Z"}',
     "names 'missing.tle'"),
])
def test_a_bad_run_json_exits_2_naming_it(tmp_path, capsys, run_json, message):
    folder, _ = results_dir(tmp_path, run=False)
    (folder / "run.json").write_text(run_json)
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "run.json" in err and message in err


def test_a_missing_folder_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_report_is_listed_in_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "report" in capsys.readouterr().out


# --- plan, simulation and sweep results (shaped as the contracts say) -------------------

def test_report_of_a_plan_a_comparison_and_a_sweep(tmp_path):
    plan = write_results(tmp_path)
    assert main(["report", str(tmp_path)]) == 0
    html = (tmp_path / "report.html").read_text()
    # timeline, elevation, tracks; latency, loss, throughput; one figure per swept metric
    assert html.count('class="plotly-graph-div"') == 3 + 3 + len(METRICS)
    for caption in ("Plan timeline: Boulder", "Elevation of Boulder",
                    "Ground tracks of the serving satellites", "One-way latency",
                    "Cumulative loss", "Throughput", "Sweep: packets_lost",
                    "Sweep: handover_latency_mean", "Planned handovers",
                    "SIGMA-SN, MIPv6, FMIPv6 and HMIPv6"):
        assert caption in html, caption
    assert plan["handovers"][0]["events"][2]["t_utc"] in html   # in the handovers table
    assert "Left out" not in html


def test_report_of_one_simulation_report_alone(tmp_path):
    write_results(tmp_path, plan=False, compare=False, report=True, sweep=False)
    assert main(["report", str(tmp_path)]) == 0
    html = (tmp_path / "report.html").read_text()
    assert html.count('class="plotly-graph-div"') == 3 and "Mobile IP" not in html


def test_a_plan_whose_element_files_are_gone_still_reports_without_elevation(tmp_path):
    plan = write_results(tmp_path, compare=False, sweep=False)
    for f in plan["inputs"]["files"]:
        if f["role"] == "elements":
            f["path"] = "gone/elements.tle"
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    assert main(["report", str(tmp_path)]) == 0
    html = (tmp_path / "report.html").read_text()
    assert "Left out: no elevation figure" in html and "gone/elements.tle" in html
    assert html.count('class="plotly-graph-div"') == 1


def test_report_of_a_sigma_sn_run_folder(tmp_path):
    """What 'sigma-sn run' leaves: windows.csv, plan.json, its comparison as report.json
    and a sigma-sn/run/1 run.json (not the windows command's run.json)."""
    from results_fixtures import small_compare
    folder, _ = results_dir(tmp_path, run=False)
    plan = write_results(folder, compare=False, sweep=False)
    (folder / "report.json").write_text(json.dumps(small_compare()))
    (folder / "run.json").write_text(json.dumps({
        "schema": "sigma-sn/run/1", "scenario": plan["name"],
        "policies": {"min-handovers": {"handovers": 3, "infeasible": 0, "outage_s": 0.0},
                     "max-elevation": {"handovers": 5, "infeasible": 1, "outage_s": 2.5}},
        "parameters": {"start_utc": plan["start_utc"], "end_utc": plan["end_utc"],
                       "policy": "min-handovers"}}))
    assert main(["report", str(folder)]) == 0
    html = (folder / "report.html").read_text()
    assert "Plan timeline: Boulder" in html and "SIGMA-SN, MIPv6, FMIPv6 and HMIPv6" in html
    # the windows' timelines; the map comes from the plan, not from a windows run.json
    assert "Visibility windows by site" in html and "Ground tracks and footprints (" not in html
    assert "Ground tracks of the serving satellites" in html
    # the run's policy comparison stays when the report is rebuilt from the folder
    assert "Handovers by policy (the plan uses min-handovers)" in html
    assert "max-elevation" in html


@pytest.mark.parametrize("name, text, message", [
    ("plan.json", "{", "plan.json:1: not valid JSON"),
    ("plan.json", '{"schema": "sigma-sn/report/1"}', "schema: expected 'sigma-sn/plan/1'"),
    ("report.json", '{"schema": "sigma-sn/plan/1"}',
     "schema: expected 'sigma-sn/compare/1' or 'sigma-sn/report/1'"),
    ("plan.json", '{"schema": "sigma-sn/plan/1", "mobiles": []}', "plan.json: not a sigma-sn"),
    ("compare.json", '{"schema": "sigma-sn/compare/1", "reports": {"sigma": 1}}',
     "compare.json: not a sigma-sn/compare/1 file"),
    ("sweep.csv", "a,b\n1,2\n", "sweep.csv:1: not a sweep CSV: header lacks param"),
])
def test_bad_result_files_exit_2_naming_the_file(tmp_path, capsys, name, text, message):
    (tmp_path / name).write_text(text)
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_comparison_report_states_what_each_protocol_ran_under(tmp_path):
    from sigma_sn.compare import compare_replay
    from sigma_sn.report import simulation_section
    from tests.test_sim import cbr, two_path_replay

    section = simulation_section(compare_replay(two_path_replay(duration_s=40.0), cbr()))
    caption, rows = next(t for t in section.tables if t[0].startswith("Assumptions"))
    assert [r["protocol"] for r in rows] == ["every protocol", "SIGMA-SN", "MIPv6", "FMIPv6",
                                             "HMIPv6"]
    assert "dad_s=0.0" in rows[0]["assumptions"]


def test_a_comparison_report_lists_the_packets_lost_by_cause():
    from sigma_sn.compare import compare_replay
    from sigma_sn.report import simulation_section
    from tests.test_sim import cbr, two_path_replay

    # a hard handover over a 240 s gap: FMIPv6's NAR holds each packet 1 s, then drops it
    replay = two_path_replay(los_a_s=60.0, aos_b_s=300.0, sp_s=300.5, duration_s=400.0)
    results = compare_replay(replay, cbr())
    section = simulation_section(results)
    caption, rows = next(t for t in section.tables if t[0] == "Packets lost, by cause")
    by_cause = {r["cause"]: r for r in rows}
    assert by_cause["buffer_expired"]["FMIPv6"] == \
        results["reports"]["fmip"]["loss_causes"]["buffer_expired"] > 0
    assert by_cause["buffer_expired"]["SIGMA-SN"] == 0
    assert "no_route" not in by_cause            # nobody lost a packet for want of a route
    for label, key in (("SIGMA-SN", "sigma"), ("MIPv6", "mip"), ("FMIPv6", "fmip")):
        assert sum(r[label] for r in rows) == results["reports"][key]["packets"]["lost"]
