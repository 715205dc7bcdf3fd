"""`sigma-sn windows` as a user meets it: columns, formats, exit codes, atomic output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sigma_sn.cli import main
from sigma_sn.visibility import COLUMNS
from sigma_sn.windows_io import read_windows_csv
from tests.conftest import REPO
from tests.test_elements import BAD_TLE_CASES

IRIDIUM = str(REPO / "tle_data" / "iridium_like.tle")
STATIONS = str(REPO / "scenarios" / "sites" / "nen_like.csv")
BASE = ["windows", "--tle", IRIDIUM, "--stations", STATIONS,
        "--start", "2026-08-22T00:00:00Z", "--hours", "3", "--min-elev", "8.2"]


def test_csv_has_exactly_the_documented_columns(tmp_path, capsys):
    out = tmp_path / "w.csv"
    assert main(BASE + ["--out", str(out)]) == 0
    header = out.read_text().splitlines()[0]
    assert header == ",".join(COLUMNS)
    rows = read_windows_csv(out)
    assert rows and all(r["aos_utc"].endswith("Z") and len(r["aos_utc"]) == 27 for r in rows)
    assert all(r["aos_utc"] <= r["tca_utc"] <= r["los_utc"] for r in rows)
    assert "windows of 66 satellites over 12 sites" in capsys.readouterr().err


def test_json_has_the_same_keys_and_rows(tmp_path):
    assert main(BASE + ["--out", str(tmp_path / "w.csv")]) == 0
    assert main(BASE + ["--out", str(tmp_path / "w.json")]) == 0
    doc = json.loads((tmp_path / "w.json").read_text())
    assert list(doc) == ["windows"] and list(doc["windows"][0]) == list(COLUMNS)
    assert doc["windows"] == read_windows_csv(tmp_path / "w.csv")


def test_output_is_byte_identical_across_runs(tmp_path):
    for name in ("a.csv", "b.csv"):
        assert main(BASE + ["--out", str(tmp_path / name)]) == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_csv_on_stdout_without_out(capsys):
    assert main(BASE) == 0
    assert capsys.readouterr().out.startswith(",".join(COLUMNS) + "\n")


def test_bad_tle_exits_2_names_file_and_line_and_keeps_old_output(tmp_path, capsys):
    bad = tmp_path / "bad.tle"
    lines = (REPO / "tle_data" / "iridium_like.tle").read_text().splitlines()
    body = [line for line in lines if not line.startswith("#")][:6]
    body[4] = body[4][:-1] + str((int(body[4][-1]) + 1) % 10)   # break line 2's checksum
    bad.write_text("\n".join(body) + "\n")
    out = tmp_path / "w.csv"
    out.write_text("previous result\n")
    argv = BASE[:]
    argv[2] = str(bad)
    assert main(argv + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:5:" in err and "checksum" in err and "Traceback" not in err
    assert out.read_text() == "previous result\n"


def test_bad_arguments_exit_2_with_the_key(capsys):
    argv = BASE[:]
    argv[argv.index("--hours") + 1] = "-1"
    assert main(argv) == 2
    assert "--hours: must be > 0, got -1.0" in capsys.readouterr().err
    argv = BASE[:]
    argv[argv.index("--start") + 1] = "yesterday"
    assert main(argv) == 2
    assert "--start: not an ISO 8601 time: 'yesterday'" in capsys.readouterr().err


def test_subprocess_run_as_a_user_would(tmp_path):
    out = tmp_path / "w.json"
    ok = subprocess.run([sys.executable, "-m", "sigma_sn", *BASE, "--out", str(out)],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(out.read_text())["windows"]
    bad = subprocess.run([sys.executable, "-m", "sigma_sn", "windows", "--tle", "nope.tle",
                          "--stations", STATIONS, "--start", "2026-08-22T00:00:00Z",
                          "--hours", "1"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "nope.tle" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("case", sorted(BAD_TLE_CASES))
def test_every_bad_tle_case_through_the_cli(tmp_path, capsys, case):
    text, message, line, template = BAD_TLE_CASES[case]
    bad = tmp_path / "bad.tle"
    bad.write_text(text, encoding="utf-8")
    argv = BASE[:]
    argv[2] = str(bad)
    assert main(argv) == 2
    err = capsys.readouterr().err
    where = f"{bad}:{line}: " if line else f"{bad}: "
    assert err.startswith(f"sigma-sn windows: error: {where}")
    assert message in err and "Traceback" not in err
    if template:
        assert template in err
