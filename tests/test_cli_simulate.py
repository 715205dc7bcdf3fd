"""``sigma-sn simulate`` as a user meets it: summary, report, trace, exit 2 on bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import jsonschema
import pytest

from sigma_sn.cli import main
from tests.conftest import REPO
from tests.test_fromplan import IRIDIUM, report_schema, write_truth_tle

RATE = "20"        # packets per second: a 2 h plan replays in about a second


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    assert main(["plan", str(IRIDIUM), "--out", str(path)]) == 0
    return path


def simulate(*args) -> int:
    return main(["simulate", *map(str, args)])


def test_report_summary_and_trace(plan_file, tmp_path, capsys):
    out, trace = tmp_path / "r.json", tmp_path / "t.csv"
    assert simulate(plan_file, "--rate", RATE, "--out", out, "--trace", trace) == 0
    text = capsys.readouterr().out
    rep = json.loads(out.read_text())
    jsonschema.validate(rep, report_schema())
    p = rep["packets"]
    assert p["sent"] == 7200 * int(RATE)
    lines = text.splitlines()
    assert lines[0].startswith("iridium-router: sigma, cbr down 20 pkt/s, seed 1, 7200 s, "
                               "1 mobile (Boulder)")
    assert lines[1] == (f"packets: {p['sent']} sent, {p['delivered']} delivered, 0 lost (0 %), "
                        f"{p['in_flight']} in flight")
    assert f"p50 {rep['latency_ms']['p50']:.3f} ms" in text
    assert f"handovers: {len(rep['handovers'])} ({len(rep['handovers'])} feasible)" in text
    first = rep["handovers"][0]
    assert (f"{first['from']} -> {first['to']}: interruption "
            f"{first['interruption_ms']:.3f} ms, latency "
            f"{first['handover_latency_ms']:.3f} ms, lost 0") in text
    with open(trace, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["mobile", "seq", "sent_s", "arrival_s", "ap", "cause", "latency_ms"]
    assert len(rows) - 1 == p["sent"]
    assert rows[1][:3] == ["Boulder", "0", "0.000000"]


def test_same_seed_same_report_byte_for_byte(plan_file, tmp_path):
    a, b, c = (tmp_path / f"{x}.json" for x in "abc")
    for path, seed in ((a, 5), (b, 5), (c, 6)):
        assert simulate(plan_file, "--rate", RATE, "--seed", seed, "--out", path) == 0
    assert a.read_bytes() == b.read_bytes()
    # the seed drives the location manager's correspondents
    assert a.read_bytes() != c.read_bytes()


def test_options_reach_the_report(plan_file, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert simulate(plan_file, "--rate", "10", "--direction", "up", "--protocol", "mip",
                    "--mobile", "Boulder", "--out", out) == 0
    rep = json.loads(out.read_text())
    assert rep["protocol"] == "mip" and rep["mobiles"] == ["Boulder"]
    assert rep["traffic"]["direction"] == "up" and rep["traffic"]["rate_pps"] == 10.0
    capsys.readouterr()


def test_truth_tle_is_replayed_and_named(plan_file, tmp_path, capsys):
    truth = tmp_path / "truth.tle"
    write_truth_tle(truth, 0.0)
    assert simulate(plan_file, "--rate", RATE, "--truth-tle", truth) == 0
    assert f"truth from {truth}" in capsys.readouterr().out


@pytest.mark.parametrize("setup, args, message", [
    (None, ["missing.json"], "missing.json: no such file"),
    ("{ not json", ["bad.json"], "bad.json:1: not valid JSON"),
    ('{"schema": "sigma-sn/report/1"}', ["bad.json"], "bad.json: schema: not a plan"),
    ("PLAN", ["--mobile", "Nowhere"], "mobiles: no mobile named Nowhere; the plan has Boulder"),
    ("PLAN", ["--protocol", "mip", "--traffic", "bulk"], "replays CBR traffic only"),
    ("PLAN", ["--truth-tle", "nope.tle"], "nope.tle: no such file (--truth-tle)"),
    ("FEW", [], "satellite(s) the plan uses are not in it"),
])
def test_bad_input_exits_2_naming_the_file(plan_file, tmp_path, capsys, monkeypatch, setup,
                                           args, message):
    monkeypatch.chdir(tmp_path)
    if setup == "PLAN":
        args = [plan_file, *args]
    elif setup == "FEW":
        write_truth_tle(tmp_path / "few.tle", 0.0, keep=2)
        args = [plan_file, "--truth-tle", "few.tle"]
    elif setup is not None:
        (tmp_path / args[0]).write_text(setup)
    assert simulate(*args) == 2
    err = capsys.readouterr().err
    assert err.startswith("sigma-sn simulate: error: ") and message in err
    assert "Traceback" not in err


def test_as_a_process_bad_rate_exits_2(plan_file):
    proc = subprocess.run([sys.executable, "-m", "sigma_sn", "simulate", str(plan_file),
                           "--rate", "0"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert "argument --rate: must be a positive number, got 0" in proc.stderr
    assert proc.stdout == ""
