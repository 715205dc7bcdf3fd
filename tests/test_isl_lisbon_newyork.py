"""The shipped ``isl-lisbon-newyork`` scenario as its header tells a user to run it:
``sigma-sn compare --policies max-elevation,min-path-delay`` shows both policies, and
planning by the path does not cost RTT against planning by elevation (issue 21)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from conftest import REPO
from sigma_sn.compare import PROTOCOLS

SCENARIO = REPO / "scenarios" / "isl-lisbon-newyork.toml"
POLICIES = ("max-elevation", "min-path-delay")


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    out = tmp_path_factory.mktemp("lisbon") / "out"
    done = subprocess.run(
        [sys.executable, "-m", "sigma_sn", "compare", "scenarios/isl-lisbon-newyork.toml",
         "--policies", ",".join(POLICIES), "--out-dir", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout, out


def test_the_header_names_the_command_this_test_runs():
    assert ("sigma-sn compare scenarios/isl-lisbon-newyork.toml --policies "
            "max-elevation,min-path-delay") in SCENARIO.read_text()


def test_compare_shows_both_policies_for_every_protocol(compared):
    printed, out = compared
    table = [line.split() for line in printed.splitlines()
             if line.split()[:1] and line.split()[0] in POLICIES]
    assert [(r[0], r[1]) for r in table] == [
        (p, q) for p in POLICIES for q in ("SIGMA-SN", "MIPv6", "FMIPv6", "HMIPv6")]
    rows = list(csv.DictReader((out / "compare-policies.csv").open()))
    assert [(r["policy"], r["protocol"]) for r in rows] == [
        (p, q) for p in POLICIES for q in PROTOCOLS]
    html = (out / "compare-policies.html").read_text()
    assert all(p in html for p in POLICIES)


def test_min_path_delay_rtt_mean_is_not_above_max_elevations(compared):
    _, out = compared
    doc = json.loads((out / "compare-policies.json").read_text())
    rtt = {(r["policy"], r["protocol"]): r["rtt_mean"] for r in doc["table"]}
    for q in PROTOCOLS:
        assert 0 < rtt["min-path-delay", q] <= rtt["max-elevation", q], (q, rtt)
    # and the long-haul pair really is long: a path over the Atlantic, not a local hop
    assert rtt["max-elevation", "sigma"] > 30.0
