"""'sigma-sn report' as a user meets it: a results folder in, report.html out."""

from __future__ import annotations

import json
import shutil

import pytest

from sigma_sn.cli import main
from sigma_sn.elements import read_tle
from sigma_sn.sites import read_sites_csv
from sigma_sn.visibility import find_windows
from sigma_sn.windows_io import write_windows

from conftest import REPO, START

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
    (lambda d: None, "holds neither windows.csv nor windows.json"),
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
