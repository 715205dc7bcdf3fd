"""Big runs stay small: a 6 h Starlink terminal run writes under 20 MB by default and
says how long every stage took; exports follow ``[exports]`` and ``--no-exports``."""

from __future__ import annotations

import json
import re

import pytest

from sigma_sn.cli import main
from sigma_sn.errors import InputError
from sigma_sn.scenario import EXPORT_STEP_S, load_scenario

from conftest import REPO

MB = 1e6
STAGES = ("scenario", "windows", "plan", "policies", "link geometry", "simulate SIGMA-SN",
          "simulate MIPv6", "simulate FMIPv6", "simulate HMIPv6", "compare", "exports",
          "report")


def scenario(folder, hours: float, extra: str = "") -> str:
    path = folder / "starlink.toml"
    path.write_text(f"""name = "starlink-terminal"
mode = "router"
policy = "max-elevation"
elements = ["{(REPO / 'tle_data' / 'starlink_shell1.tle').as_posix()}"]

[[sites]]
name = "Madrid"
lat_deg = 40.4168
lon_deg = -3.7038

[window]
start_utc = "2026-08-22T00:00:00Z"
duration_s = {hours * 3600:g}
min_elev_deg = 25.0
{extra}""")
    return str(path)


def test_six_hour_starlink_run_is_small_and_times_every_stage(tmp_path, capsys):
    out = tmp_path / "results"
    assert main(["run", scenario(tmp_path, 6), "--out-dir", str(out)]) == 0
    captured = capsys.readouterr()
    sizes = {p.name: p.stat().st_size for p in out.iterdir()}
    assert sum(sizes.values()) < 20 * MB, sizes
    for stage in STAGES:  # each stage's line, then its time
        assert re.search(rf"\] {re.escape(stage)} \.\.\.\n.*\(\d+\.\d\d s\)\n", captured.err), \
            stage
    (line,) = [x for x in captured.out.splitlines() if x.startswith("stages: ")]
    assert [s.rsplit(" ", 2)[0] for s in line.removeprefix("stages: ").split(", ")] == \
        list(STAGES)
    czml = json.loads((out / "plan.czml").read_text())
    samples = czml[1]["position"]["cartesian"]
    assert samples[4] - samples[0] == EXPORT_STEP_S  # [t, x, y, z, t, ...]
    assert len(samples) // 4 == 6 * 3600 / EXPORT_STEP_S + 1


def test_no_exports_and_the_exports_table(tmp_path, capsys):
    out = tmp_path / "a"
    assert main(["run", scenario(tmp_path, 0.25), "--out-dir", str(out), "--no-exports"]) == 0
    names = {p.name for p in out.iterdir()}
    assert not names & {"plan.czml", "footprints.geojson"} and "report.html" in names
    assert "exports" not in json.loads((out / "run.json").read_text())["outputs"]
    err = capsys.readouterr().err
    assert "[1/11] scenario" in err and "[11/11] report" in err

    out = tmp_path / "b"
    path = scenario(tmp_path, 0.25, "[exports]\nstep_s = 30\n")
    assert main(["run", path, "--out-dir", str(out)]) == 0
    samples = json.loads((out / "plan.czml").read_text())[1]["position"]["cartesian"]
    assert samples[4] - samples[0] == 30.0

    path = scenario(tmp_path, 0.25, "[exports]\nenabled = false\n")
    assert load_scenario(path).exports.enabled is False
    for bad, message in (("enabled = 1", "exports.enabled: must be true or false"),
                         ("step_s = 0", "exports.step_s: must be >= 1"),
                         ("every = 3", "exports.every: unknown key")):
        with pytest.raises(InputError, match=message):
            load_scenario(scenario(tmp_path, 0.25, f"[exports]\n{bad}\n"))
