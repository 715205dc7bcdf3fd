"""Element sets far from the window: each command says so in one short line per concern
(how many, how stale, the worst), lists them with --verbose, and never lets a numpy
floating-point warning through. Run as a user runs them: a subprocess, stderr read."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import SHARED_DATA

#: 190 days after the shared snapshot (2026-08-22): drag has brought many sets down
LATE = "2027-02-28T00:00:00Z"
#: the first satellites of the shared Starlink file: enough that some no longer propagate
N_SATS = 600
#: what a "short" line is
SHORT = 200


@pytest.fixture(scope="module")
def stale(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stale")
    lines = (SHARED_DATA / "tle" / "starlink_2026-08-22.tle").read_text().splitlines()
    (folder / "starlink.tle").write_text("\n".join(lines[:3 * N_SATS]) + "\n")
    (folder / "sites.csv").write_text("name,lat_deg,lon_deg\nMadrid,40.4168,-3.7038\n"
                                      "Boulder,40.015,-105.27\n")
    (folder / "late.toml").write_text(f"""name = "late"
mode = "router"
policy = "max-elevation"
elements = ["starlink.tle"]
site_files = ["sites.csv"]
mobiles = ["Madrid"]

[window]
start_utc = "{LATE}"
duration_s = 900
min_elev_deg = 25.0
""")
    return folder


def sigma_sn(folder, *args):
    done = subprocess.run([sys.executable, "-m", "sigma_sn", *args], cwd=folder,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


COMMANDS = {
    "plan": ["plan", "late.toml"],
    "windows": ["windows", "--tle", "starlink.tle", "--stations", "sites.csv", "--start",
                LATE, "--hours", "0.25", "--out", "w.csv"],
    "run": ["run", "late.toml", "--out-dir", "results"],
    "compare": ["compare", "late.toml", "--out-dir", "compared"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_one_short_line_per_concern_and_no_numpy_warning(stale, command):
    err = sigma_sn(stale, *COMMANDS[command])
    text = "\n".join(err)
    assert "encountered" not in text and "RuntimeWarning" not in text, text
    warnings = [line.strip() for line in err if "warning:" in line]
    assert len(warnings) == 2, text
    assert all(len(line) <= SHORT for line in warnings), text
    (old,) = [w for w in warnings if "element sets are stale" in w]
    assert old.startswith(f"warning: {N_SATS} of {N_SATS} element sets are stale: epochs ")
    assert "the worst STARLINK-" in old and "190" in old  # 190 days on, give or take
    (fail,) = [w for w in warnings if "fail SGP4" in w]
    assert "decayed" in fail and fail.endswith("--verbose lists them")


def test_verbose_lists_every_stale_set(stale):
    err = sigma_sn(stale, *COMMANDS["plan"], "--verbose")
    listed = [line for line in err if line.startswith("  STARLINK-")]
    stale_sets = [line for line in listed if "days before the window starts" in line]
    assert len(stale_sets) == N_SATS
    assert len(listed) > N_SATS  # and the satellites SGP4 failed for
    assert not any("--verbose" in line for line in err)
