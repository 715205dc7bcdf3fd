"""``sigma-sn plan`` as a user meets it."""

import json
import subprocess
import sys
from pathlib import Path

from sigma_sn.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_plan_writes_identical_json_twice_and_prints_a_summary(tmp_path, capsys):
    scenario = str(REPO / "scenarios" / "iridium_router.toml")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["plan", scenario, "--out", str(a)]) == 0
    assert main(["plan", scenario, "--out", str(b), "--policy", "min-handovers"]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert json.loads(a.read_text())["schema"] == "sigma-sn/plan/1"
    assert "handovers" in capsys.readouterr().out


def test_bad_scenario_exits_2_naming_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('mode = "sideways"\n')
    run = subprocess.run([sys.executable, "-m", "sigma_sn", "plan", str(bad)],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert f"{bad}: mode: must be router or host" in run.stderr
    assert "Traceback" not in run.stderr
