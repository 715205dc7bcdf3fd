"""``sigma-sn plan`` as a user meets it: summary, files, overrides, exit 2 on bad input."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plan_checks import check_plan_invariants
from sigma_sn.cli import main
from sigma_sn.planner.io import event_rows, read_plan_csv, read_plan_json

REPO = Path(__file__).resolve().parents[1]
SCENARIO = str(REPO / "scenarios" / "iridium-router.toml")


def test_plan_writes_identical_files_twice_and_prints_a_summary(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["plan", SCENARIO, "--out", str(a), "--csv", str(tmp_path / "a.csv")]) == 0
    out = capsys.readouterr().out
    assert main(["plan", SCENARIO, "--out", str(b), "--csv", str(tmp_path / "b.csv"),
                 "--policy", "min-handovers"]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    plan = read_plan_json(a)
    check_plan_invariants(plan)
    assert read_plan_csv(tmp_path / "a.csv") == event_rows(plan)
    hs = plan["handovers"]
    lines = out.splitlines()
    assert lines[1].startswith(f"handovers: {len(hs)}, infeasible: 0, shortest overlap: "
                               f"{min(h['overlap_s'] for h in hs):.3f} s, smallest margin to "
                               f"LOS: {min(h['margin_s'] for h in hs):.3f} s")
    assert lines[2].startswith(f"outages: {len(plan['outages'])}, ")


def test_overrides_change_mode_policy_and_window(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["plan", SCENARIO, "--out", str(out), "--policy", "max-elevation",
                 "--start", "2026-08-22T06:00:00Z", "--hours", "0.5", "--min-elev", "20"]) == 0
    plan = json.loads(out.read_text())
    assert (plan["policy"], plan["start_utc"], plan["duration_s"]) == (
        "max-elevation", "2026-08-22T06:00:00.000000Z", 1800.0)
    assert plan["inputs"]["parameters"]["min_elev_deg"] == 20.0
    check_plan_invariants(plan)
    assert main(["plan", SCENARIO, "--out", str(out), "--mode", "host", "--duration-s",
                 "600", "--policy", "least-load"]) == 0
    plan = json.loads(out.read_text())
    assert plan["mode"] == "host" and plan["mobiles"][0]["name"].startswith("IRIDIUM")
    check_plan_invariants(plan)


def _scenario(tmp_path, body):
    shutil.copy(REPO / "tle_data" / "gpm_like.tle", tmp_path / "a.tle")
    p = tmp_path / "bad.toml"
    p.write_text(body)
    return p


GOOD = ('elements = ["a.tle"]\n[[sites]]\nname = "T"\nlat_deg = 1\nlon_deg = 2\n'
        '[window]\nstart_utc = "2026-08-22T00:00:00Z"\n')
BAD = [
    ('mode = "sideways"\n' + GOOD + "duration_s = 60\n", "mode: must be router or host"),
    ("speed = 3\n" + GOOD + "duration_s = 60\n", "speed: unknown key"),
    (GOOD + "duration_s = 60\n[timing]\nguard_s = -1\n", "timing.guard_s: must be >= 0"),
    (GOOD.replace("a.tle", "missing.tle") + "duration_s = 60\n",
     "elements[0]: no such file: "),
    (GOOD + 'end_utc = "2026-08-21T00:00:00Z"\n', "window.end_utc: must be at least 1 s"),
    (GOOD + "duration_s = 60\nmin_elev_deg = 91\n", "window.min_elev_deg: must be < 90"),
]


@pytest.mark.parametrize("body,says", BAD, ids=[b[1].split(":")[0] for b in BAD])
def test_bad_scenario_exits_2_naming_file_and_key(tmp_path, capsys, body, says):
    path = _scenario(tmp_path, body)
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sigma-sn plan: error: {path}: {says}"), err
    assert "Traceback" not in err


def test_a_site_name_repeated_across_site_files_exits_2_naming_both(tmp_path, capsys):
    body = GOOD.split("[[sites]]")[0] + 'site_files = ["one.csv", "two.csv"]\n' + \
        GOOD[GOOD.index("[window]"):] + "duration_s = 60\n"
    (tmp_path / "one.csv").write_text("name,lat_deg,lon_deg\nT,1,2\nU,3,4\n")
    (tmp_path / "two.csv").write_text("name,lat_deg,lon_deg\nV,5,6\nU,7,8\n")
    path = _scenario(tmp_path, body)
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sigma-sn plan: error: {tmp_path / 'two.csv'}:3: site 'U' is also "
                          f"on {tmp_path / 'one.csv'}:3"), err


def test_bad_override_exits_2_naming_the_option(capsys):
    assert main(["plan", SCENARIO, "--min-elev", "95"]) == 2
    assert "sigma-sn plan: error: --min-elev: must be in [-90, 90)" in capsys.readouterr().err
    assert main(["plan", SCENARIO, "--mode", "host", "--policy", "max-elevation"]) == 2
    assert "--policy: max-elevation is not offered in host mode" in capsys.readouterr().err


def test_exit_status_2_from_the_console_script(tmp_path):
    path = _scenario(tmp_path, GOOD + "duration_s = 60\nmin_elev_deg = 95\n")
    run = subprocess.run([sys.executable, "-m", "sigma_sn", "plan", str(path)],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr == (f"sigma-sn plan: error: {path}: window.min_elev_deg: must be < 90, "
                          "got 95\n")
