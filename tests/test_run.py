"""``sigma-sn run`` as a user meets it: every shipped scenario end to end against its
golden, what each scenario is there to show, all-or-nothing results folders, ``--check``
failing with named differences, and scenario mistakes caught before any computation."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sigma_sn import golden, runner
from sigma_sn.cli import main
from tests.plan_checks import check_plan_invariants, count_load

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
GOLDEN = REPO / "tests" / "golden"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Run each shipped scenario at most once per test module, from the repository root
    (as the README does), and hand out its results folder."""
    made: dict[str, Path] = {}
    base = tmp_path_factory.mktemp("runs")

    def get(name: str) -> Path:
        if name not in made:
            cwd = os.getcwd()
            os.chdir(REPO)
            try:
                made[name] = runner.run_scenario(SCENARIOS / f"{name}.toml", base / name,
                                                 log=None).out_dir
            finally:
                os.chdir(cwd)
        return made[name]
    return get


def _json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", golden.SHIPPED_SCENARIOS)
def test_shipped_scenario_matches_its_golden(name, results):
    out = results(name)
    assert sorted(p.name for p in out.iterdir()) == sorted(runner.OUTPUT_FILES)
    check_plan_invariants(_json(out / "plan.json"))
    bad = golden.check(GOLDEN / name, out, scenario=name)
    assert not bad, ("results differ from the golden; if the change is intended, run "
                     "'python -m sigma_sn.golden regenerate " + name + "' and review the "
                     "diff\n" + golden.format_mismatches(bad))


@pytest.mark.parametrize("name", golden.SHIPPED_SCENARIOS)
def test_run_json_records_inputs_version_and_parameters_without_machine_paths(name, results):
    out = results(name)
    text = (out / "run.json").read_text(encoding="utf-8")
    info = json.loads(text)
    assert info["schema"] == runner.RUN_SCHEMA
    assert info["tool"]["version"] == __import__("sigma_sn").__version__
    assert info["command"] == f"sigma-sn run scenarios/{name}.toml"
    roles = {i["role"] for i in info["inputs"]}
    assert {"scenario", "elements"} <= roles
    for item in info["inputs"]:  # paths relative to where the run started: the repository
        assert not Path(item["path"]).is_absolute()
        assert item["sha256"] == runner.sha256_of(REPO / item["path"]), item
    params = info["parameters"]
    for key in ("plan", "simulation", "mip", "mode", "policy", "start_utc", "end_utc"):
        assert key in params
    assert params["simulation"]["seed"] == _json(out / "report.json")["reports"]["sigma"][
        "traffic"]["seed"]
    for f in ("run.json", "plan.json", "report.json", "plan.csv", "windows.csv"):
        body = (out / f).read_text(encoding="utf-8")
        assert str(REPO) not in body and str(Path.home()) + "/" not in body, f


def test_iridium_router_sigma_loses_nothing_at_handovers_mip_does(results):
    out = results("iridium-router")
    plan = _json(out / "plan.json")
    assert plan["handovers"] and all(h["feasible"] for h in plan["handovers"])
    # ns-2's Iridium mask: every candidate window is at least 8.2 deg high at its peak
    assert all(c["max_elev_deg"] >= 8.2 for m in plan["mobiles"] for c in m["candidates"])
    reports = _json(out / "report.json")["reports"]
    assert sum(h["lost"] for h in reports["sigma"]["handovers"]) == 0
    assert sum(h["lost"] for h in reports["mip"]["handovers"]) > 0


def test_starlink_router_compares_every_policy(results):
    info = _json(results("starlink-router") / "run.json")
    counts = {p: c["handovers"] for p, c in info["policies"].items() if "handovers" in c}
    assert len(counts) >= 3, info["policies"]
    assert counts["min-handovers"] == min(counts.values())
    assert counts["max-elevation"] > counts["min-handovers"]
    plan = _json(results("starlink-router") / "plan.json")
    assert plan["policy"] == "max-elevation"
    assert len(plan["handovers"]) == counts["max-elevation"]


def test_gpm_host_hands_the_satellite_between_stations_with_gaps(results):
    plan = _json(results("gpm-host") / "plan.json")
    assert plan["mode"] == "host"
    assert [m["name"] for m in plan["mobiles"]] == ["GPM-LIKE"]
    stations = {s["ap"] for s in plan["mobiles"][0]["serving"]}
    assert len(stations) >= 3
    assert any(o["cause"] == "no_coverage" for o in plan["outages"])


def test_fleet_host_load_makes_satellites_wait_for_antennas(results):
    plan = _json(results("fleet-host-load") / "plan.json")
    assert plan["policy"] == "least-load" and len(plan["mobiles"]) == 6
    assert any(o["cause"] == "capacity" for o in plan["outages"]), plan["outages"]
    capacity = {s["name"]: s["capacity"] for s in plan["sites"]}
    assert set(capacity.values()) <= {1, 2}
    # never more satellites on a station than it has antennas
    peak = count_load(plan)
    assert all(peak[ap] <= capacity[ap] for ap in peak), (peak, capacity)
    assert any(peak[ap] == capacity[ap] for ap in peak)


def test_zigzag_deactivates_and_gets_the_old_address_back(results):
    plan = _json(results("zigzag") / "plan.json")
    hs = plan["handovers"]
    # A -> B retiring A's address with DEACTIVATE, later B -> A with that same address
    zigzags = [(h, later) for k, h in enumerate(hs) for later in hs[k + 1:]
               if h["from"] != h["to"] and h["events"][-1]["action"] == "DEACTIVATE"
               and later["to"] == h["from"]
               and later["events"][0]["address"] == h["events"][-1]["address"]]
    assert zigzags, [(h["from"], h["to"], h["events"][-1]["action"]) for h in hs]
    # one address per station: the satellite gets its old one back, never a new one
    by_ap: dict[str, set] = {}
    for s in plan["mobiles"][0]["serving"]:
        by_ap.setdefault(s["ap"], set()).add(s["address"])
    assert len(by_ap) == 2 and all(len(a) == 1 for a in by_ap.values()), by_ap


def test_tight_overlap_has_feasible_and_infeasible_handovers_near_the_exchange(results):
    plan = _json(results("tight-overlap") / "plan.json")
    hs = plan["handovers"]
    feasible = [h for h in hs if h["feasible"]]
    infeasible = [h for h in hs if not h["feasible"]]
    assert feasible and infeasible
    # some overlaps are within a few seconds of what the exchange needs, on both sides
    assert any(0 < h["overlap_s"] < 5 for h in infeasible) or \
        any(h["overlap_s"] < 5 for h in feasible)
    assert all(h["outage_s"] > 0 for h in infeasible)
    assert all(h["margin_s"] >= 0 for h in feasible)


def test_check_passes_gives_the_same_bytes_and_names_a_perturbed_value(tmp_path, capsys,
                                                                       results, monkeypatch):
    name = "zigzag"
    monkeypatch.chdir(REPO)  # as the fixture ran: run.json records paths from here
    handler = signal.getsignal(signal.SIGTERM)
    assert main(["run", str(SCENARIOS / f"{name}.toml"), "--out-dir", str(tmp_path / "ok"),
                 "--check", str(GOLDEN / name)]) == 0
    assert signal.getsignal(signal.SIGTERM) == handler  # the caller's, back after the run
    out = capsys.readouterr()
    assert f"open {tmp_path / 'ok' / 'report.html'}" in out.out
    assert f"matches {GOLDEN / name}" in out.out
    assert "[1/12] scenario" in out.err
    # the same scenario twice: the same bytes (report.html carries its generation time)
    for f in runner.OUTPUT_FILES:
        if f != "report.html":
            assert (tmp_path / "ok" / f).read_bytes() == (results(name) / f).read_bytes(), f
    bad = tmp_path / "bad"
    shutil.copytree(GOLDEN / name, bad)
    doc = _json(bad / golden.PLAN_FILE)
    was = doc["handovers"][0]["events"][2]["t_s"]
    doc["handovers"][0]["events"][2]["t_s"] = was + 0.5
    (bad / golden.PLAN_FILE).write_text(golden.dumps(doc))
    assert main(["run", str(SCENARIOS / f"{name}.toml"), "--out-dir", str(tmp_path / "b"),
                 "--check", str(bad), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert (f"{name}: plan-events.handovers[0].events[2].t_s: expected {was + 0.5!r}, "
            f"got {was!r}") in err
    assert "TIME_S" in err


def test_a_failing_stage_leaves_no_folder_and_keeps_the_earlier_one(tmp_path, monkeypatch):
    out = tmp_path / "res"

    def boom(*a, **k):
        raise RuntimeError("report stage failed")
    monkeypatch.setattr(runner, "write_html_report", boom)
    with pytest.raises(RuntimeError):
        runner.run_scenario(SCENARIOS / "zigzag.toml", out, log=None)
    assert list(tmp_path.iterdir()) == []
    out.mkdir()
    (out / "run.json").write_text("{}")
    with pytest.raises(RuntimeError):
        runner.run_scenario(SCENARIOS / "zigzag.toml", out, log=None)
    assert [p.name for p in tmp_path.iterdir()] == ["res"]
    assert [p.name for p in out.iterdir()] == ["run.json"]


def test_a_run_stopped_by_sigterm_leaves_no_folder_and_keeps_the_earlier_one(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    (out / "run.json").write_text("{}")
    proc = subprocess.Popen([sys.executable, "-m", "sigma_sn", "run",
                             str(SCENARIOS / "zigzag.toml"), "--out-dir", str(out)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        for line in proc.stderr:  # stop it mid-way, once the third stage has begun
            if line.startswith("[3/"):
                proc.send_signal(signal.SIGTERM)
                break
        assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    finally:  # the run and any worker it forked
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert [p.name for p in tmp_path.iterdir()] == ["res"]
    assert [p.name for p in out.iterdir()] == ["run.json"]


def test_run_refuses_to_replace_a_folder_that_is_not_results(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["run", str(SCENARIOS / "zigzag.toml"), "--out-dir", str(tmp_path)]) == 2
    assert "is not an earlier results folder" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


BAD = [
    ("missing-file", 'elements = ["../nowhere.tle"]\n', "elements[0]"),
    ("unknown-key", 'elements = ["{tle}"]\ncolour = "blue"\n', "colour"),
    ("start-after-end", 'elements = ["{tle}"]\n[window]\nstart_utc = "2026-08-22T02:00:00Z"\n'
                        'end_utc = "2026-08-22T01:00:00Z"\n', "window.end_utc"),
    ("mask-above-90", 'elements = ["{tle}"]\n[window]\nstart_utc = "2026-08-22T00:00:00Z"\n'
                      'duration_s = 600\nmin_elev_deg = 95\n', "window.min_elev_deg"),
]
_SITE = '[[sites]]\nname = "T"\nlat_deg = 40.0\nlon_deg = -105.0\n'
_WINDOW = '[window]\nstart_utc = "2026-08-22T00:00:00Z"\nduration_s = 600\n'


@pytest.mark.parametrize("case,body,key", BAD, ids=[b[0] for b in BAD])
def test_scenario_mistakes_exit_2_naming_file_and_key_before_computing(case, body, key,
                                                                       tmp_path):
    tle = (REPO / "tle_data" / "iridium_like.tle").as_posix()
    text = body.format(tle=tle)
    if "[window]" not in text:
        text += _WINDOW
    scenario = tmp_path / f"{case}.toml"
    # sites go before any table header so they stay top-level keys
    scenario.write_text(text.replace("[window]", _SITE + "[window]", 1))
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "sigma_sn", "run", str(scenario),
                          "--out-dir", str(out)], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert f"{scenario}: {key}: " in run.stderr
    assert "Traceback" not in run.stderr
    assert "[2/12]" not in run.stderr  # nothing was computed
    assert not out.exists()


def test_a_scenario_file_that_is_not_there_exits_2(tmp_path, capsys):
    missing = tmp_path / "nowhere.toml"
    assert main(["run", str(missing), "--out-dir", str(tmp_path / "out")]) == 2
    assert f"sigma-sn run: error: {missing}: no such file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_results_folder_gets_the_mode_mkdir_would_give(results):
    umask = os.umask(0)
    os.umask(umask)
    assert results("zigzag").stat().st_mode & 0o777 == 0o777 & ~umask


def test_the_run_report_draws_offline_in_a_browser(tmp_path, results):
    from test_report_browser import check_in_browser

    body = check_in_browser(results("iridium-router") / "report.html", tmp_path)
    assert int(body["data-figures-expected"]) >= 4   # timeline, elevation, simulation


def test_an_out_dir_that_cannot_be_made_exits_2(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    out = tmp_path / "file" / "res"
    assert main(["run", str(SCENARIOS / "zigzag.toml"), "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out}: cannot write here" in err and "--out-dir" in err
