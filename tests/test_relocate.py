"""Plans travel: their input paths are relative to the plan file and carry a SHA-256, so
a replay works from any folder, ``--elements`` finds moved files, and a changed file is an
error, never a silent replay against other geometry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sigma_sn.cli import main

REPO = Path(__file__).resolve().parents[1]
SCENARIO = """name = "moved"
mode = "router"
policy = "max-elevation"
elements = ["../tle_data/iridium_like.tle"]

[[sites]]
name = "Boulder"
lat_deg = 40.015
lon_deg = -105.27

[window]
start_utc = "2026-08-22T00:00:00Z"
duration_s = 1800
min_elev_deg = 8.2
"""


@pytest.fixture()
def project(tmp_path, monkeypatch):
    """A project folder (scenario, elements) planned into ``results/plan.json`` from its
    own root, as a user would; the test then runs from another folder."""
    root = tmp_path / "project"
    (root / "scenarios").mkdir(parents=True)
    (root / "tle_data").mkdir()
    shutil.copy(REPO / "tle_data" / "iridium_like.tle", root / "tle_data")
    (root / "scenarios" / "moved.toml").write_text(SCENARIO)
    monkeypatch.chdir(root)
    assert main(["plan", "scenarios/moved.toml", "--out", "results/plan.json"]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return root


def test_plan_records_paths_relative_to_the_plan_file(project):
    plan = json.loads((project / "results" / "plan.json").read_text())
    (elements,) = [f for f in plan["inputs"]["files"] if f["role"] == "elements"]
    assert elements["path"] == "../tle_data/iridium_like.tle"
    assert plan["inputs"]["scenario"]["path"] == "../scenarios/moved.toml"


def test_simulate_and_report_work_from_another_folder(project, capsys):
    assert main(["simulate", str(project / "results" / "plan.json"),
                 "--out", "report.json"]) == 0
    assert json.loads(Path("report.json").read_text())["packets"]["sent"] > 0
    assert main(["report", str(project / "results")]) == 0
    html = (project / "results" / "report.html").read_text()
    assert "no elevation figure" not in html  # the elements were found for the figures


def test_moved_elements_are_found_with_elements_option(project, capsys):
    moved = project.parent / "archive" / "iridium.tle"
    moved.parent.mkdir()
    shutil.move(project / "tle_data" / "iridium_like.tle", moved)
    plan = str(project / "results" / "plan.json")
    assert main(["simulate", plan]) == 2
    err = capsys.readouterr().err
    assert "iridium_like.tle not found" in err and "--elements" in err
    assert main(["simulate", plan, "--elements", str(moved)]) == 0
    assert main(["report", str(project / "results"), "--elements", str(moved)]) == 0
    assert "no elevation figure" not in (project / "results" / "report.html").read_text()


def test_a_changed_element_file_is_an_error(project, capsys):
    tle = project / "tle_data" / "iridium_like.tle"
    other = project.parent / "other.tle"
    other.write_text(tle.read_text().replace("IRIDIUM-LIKE-P1-S01", "IRIDIUM-RENAMED"))
    plan = str(project / "results" / "plan.json")
    assert main(["simulate", plan, "--elements", str(other)]) == 2
    err = capsys.readouterr().err
    assert str(other) in err and "matches none of the plan's element files" in err
    shutil.copy(other, tle)
    assert main(["simulate", plan]) == 2
    err = capsys.readouterr().err
    assert "differs from the element file the plan was made from" in err


def test_simulate_given_a_scenario_says_it_wants_a_plan(project, capsys):
    assert main(["simulate", str(project / "scenarios" / "moved.toml")]) == 2
    err = capsys.readouterr().err
    assert "moved.toml" in err and "this is TOML (a scenario?), not a plan" in err
    assert "sigma-sn plan SCENARIO.toml --out PLAN.json" in err


def test_messages_name_the_files_relative_as_the_plan_was_given(project, monkeypatch, capsys):
    # the user gave a relative plan path: no message turns it into this machine's path
    monkeypatch.chdir(project)
    tle = project / "tle_data" / "iridium_like.tle"
    shutil.move(tle, project / "kept.tle")
    assert main(["simulate", "results/plan.json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sigma-sn simulate: error: results/plan.json: ")
    assert "(looked in results/../tle_data/iridium_like.tle, ../tle_data/iridium_like.tle)" \
        in err
    assert str(project) not in err
    (project / "kept.tle").write_text(
        (project / "kept.tle").read_text().replace("IRIDIUM-LIKE-P1-S01", "IRIDIUM-RENAMED"))
    shutil.move(project / "kept.tle", tle)
    assert main(["simulate", "results/plan.json"]) == 2
    err = capsys.readouterr().err
    assert "results/../tle_data/iridium_like.tle differs from the element file" in err
    assert str(project) not in err


def test_scenario_messages_keep_a_relative_scenario_path_relative(project, monkeypatch):
    import dataclasses

    from sigma_sn.errors import InputError
    from sigma_sn.planner.kinds import Policy
    from sigma_sn.planner.plan import scenario_paths
    from sigma_sn.scenario import load_scenario

    monkeypatch.chdir(project)
    sc = load_scenario("scenarios/moved.toml")
    with pytest.raises(InputError) as err:      # a path policy swapped in, no [path]
        scenario_paths(dataclasses.replace(sc, policy=Policy.MIN_PATH_DELAY), windows=None)
    assert str(err.value).startswith("scenarios/moved.toml: path: policy min-path-delay")
    (project / "scenarios" / "moved.toml").write_text(SCENARIO.replace("1800", "-1"))
    with pytest.raises(InputError, match=r"^scenarios/moved\.toml: window\.duration_s: "):
        load_scenario("scenarios/moved.toml")
