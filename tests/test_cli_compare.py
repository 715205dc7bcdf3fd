"""``sigma-sn compare`` as a user meets it: a shipped scenario, shortened to stay fast."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sigma_sn.cli import main
from sigma_sn.compare import METRICS, PROTOCOLS

REPO = Path(__file__).resolve().parents[1]


def shipped_scenario(kind: str) -> Path:
    """The shipped ``<kind>-router.toml`` scenario."""
    return REPO / "scenarios" / f"{kind}-router.toml"


def short_scenario(tmp_path: Path, duration_s: int = 1800, extra: str = "") -> Path:
    """The shipped Iridium router scenario with its window cut to ``duration_s`` and its
    element file found from ``tmp_path``."""
    text = shipped_scenario("iridium").read_text()
    assert "duration_s = 7200" in text and '"../tle_data/' in text
    text = text.replace("duration_s = 7200", f"duration_s = {duration_s}")
    text = text.replace('"../tle_data/', f'"{(REPO / "tle_data").as_posix()}/')
    path = tmp_path / "iridium_short.toml"
    path.write_text(text + extra)
    return path


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    return short_scenario(tmp_path_factory.mktemp("scenario"))


def test_compare_writes_both_files_and_prints_both_protocols(scenario, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compare", str(scenario), "--out-dir", str(out), "--rate", "20"]) == 0
    printed = capsys.readouterr().out
    assert all(x in printed for x in ("SIGMA-SN", "MIPv6", "FMIPv6", "HMIPv6"))
    for metric, _ in METRICS:
        assert metric in printed
    doc = json.loads((out / "compare.json").read_text())
    assert doc["schema"] == "sigma-sn/compare/1"
    assert doc["scenario"] == "iridium-router"
    assert doc["reports"]["sigma"]["protocol"] == "sigma"
    assert doc["reports"]["mip"]["protocol"] == "mip"
    assert doc["reports"]["sigma"]["traffic"]["rate_pps"] == 20.0
    rows = list(csv.DictReader((out / "compare.csv").open()))
    assert [r["metric"] for r in rows] == [m for m, _ in METRICS]
    plan = json.loads((out / "plan.json").read_text())
    assert plan["schema"] == "sigma-sn/plan/1"
    # the plan really has handovers, and both protocols went through all of them
    n = len(plan["handovers"])
    t = {r["metric"]: r for r in doc["table"]}
    assert n > 0 and all(t["handovers"][p] == n for p in PROTOCOLS)
    # ample Iridium overlaps: SIGMA-SN loses nothing, Mobile IP breaks before it makes
    assert t["packets_lost"]["sigma"] == 0
    assert t["lost_per_handover"]["mip"] > 0


@pytest.mark.parametrize("name", ["iridium-router", "starlink-router", "tight-overlap",
                                  "survivability", "gpm-host", "zigzag", "fleet-host-load"])
def test_every_shipped_scenario_compares_all_four_protocols(name, tmp_path, capsys):
    """Every shipped router and host scenario: the four protocols side by side under one
    timing block, interruption, latency, loss and coverage gaps in their own rows."""
    out = tmp_path / "out"
    assert main(["compare", str(REPO / "scenarios" / f"{name}.toml"), "--out-dir", str(out),
                 "--rate", "1"]) == 0
    printed = capsys.readouterr().out.splitlines()
    head = next(x for x in printed if x.startswith("metric"))
    assert head.split()[2:] == ["SIGMA-SN", "MIPv6", "FMIPv6", "HMIPv6"]
    assert any(x.startswith("assumptions, every protocol: t_l2_s=") for x in printed)
    doc = json.loads((out / "compare.json").read_text())
    t = {r["metric"]: r for r in doc["table"]}
    for metric in ("interruption_mean", "handover_latency_mean", "packets_lost",
                   "coverage_gaps"):
        assert set(PROTOCOLS) <= set(t[metric]), metric
    for p in PROTOCOLS:
        rep = doc["reports"][p]
        assert rep["packets"]["sent"] > 0, p
        # a handover latency never spans a coverage gap (gpm-host once reported a mean
        # of 1.5e6 ms: the gaps themselves)
        for h in rep["handovers"]:
            if h["handover_latency_ms"] is not None:
                a, b = h["last_old_arrival_s"], h["first_new_arrival_s"]
                assert not any(g["start_s"] < b and a < g["end_s"]
                               for g in rep["coverage_gaps"] if g["mobile"] == h["mobile"]), (
                    p, h)
                assert h["coverage_gap_s"] == 0, (p, h)
        assert t["coverage_gaps"][p] == len(rep["coverage_gaps"]), p
    # coverage aside, no baseline is down longer than its own sequence (L2, RA, DAD and
    # the binding update's round trip; space legs < 20 ms; one packet at 1/s) beyond
    # what the plan itself is down (a station at capacity: fleet-host-load)
    a = doc["assumptions"]
    sequence_ms = 1e3 * (a["shared"]["t_l2_s"] + a["shared"]["ra_interval_s"][1]
                         + a["shared"]["dad_s"] + 2 * (0.020 + a["mip"]["ha_ap_s"]) + 2.0)
    sigma = {(h["mobile"], h["index"]): h["interruption_ms"] or 0.0
             for h in doc["reports"]["sigma"]["handovers"]}
    for p in ("mip", "fmip", "hmip"):
        for h in doc["reports"][p]["handovers"]:
            assert (h["interruption_ms"] or 0.0) <= sigma[h["mobile"], h["index"]] \
                + sequence_ms, (p, h)


def test_same_seed_gives_identical_files(scenario, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d, seed in ((a, "5"), (b, "5"), (c, "6")):
        assert main(["compare", str(scenario), "--out-dir", str(d), "--rate", "20",
                     "--seed", seed]) == 0
    for name in ("compare.json", "compare.csv", "plan.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    # the seed reaches the simulation (MIP's RA waits are drawn from it)
    assert (a / "compare.json").read_bytes() != (c / "compare.json").read_bytes()


def test_bulk_traffic_is_refused_naming_the_key(tmp_path):
    bad = short_scenario(tmp_path)
    bad.write_text(bad.read_text().replace("[traffic]\n", '[traffic]\ntraffic = "bulk"\n'))
    run = subprocess.run([sys.executable, "-m", "sigma_sn", "compare", str(bad),
                          "--out-dir", str(tmp_path / "o")], capture_output=True, text=True)
    assert run.returncode == 2, run.stderr
    assert "traffic.traffic" in run.stderr and "CBR" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "o").exists()


def test_security_and_failure_findings_become_rows(tmp_path):
    """scenarios/survivability.toml: attacks, ingress filtering and failures add rows that
    show what the paper claims (authentication stops the hijack, SIGMA-SN passes ingress
    filtering, a home-agent failure stops Mobile IP only)."""
    out = tmp_path / "surv"
    assert main(["compare", str(REPO / "scenarios" / "survivability.toml"),
                 "--out-dir", str(out)]) == 0
    doc = json.loads((out / "compare.json").read_text())
    assert doc["findings"]["mobile"] == "Boulder"
    t = {r["metric"]: r for r in doc["table"]}
    assert [r["metric"] for r in doc["table"][:len(METRICS)]] == [m for m, _ in METRICS]
    assert t["hijack (no auth): messages accepted / sent"]["sigma"] > 0
    assert t["hijack (HMAC-SHA-256): messages accepted / sent"]["sigma"] == 0
    assert t["ingress filtering: uplink delivered (MIP reverse-tunnelled)"]["sigma"] == 1
    assert t["ingress filtering: uplink delivered (MIP reverse-tunnelled)"]["mip"] > 0.99
    assert t["ingress filtering: uplink delivered, MIP without reverse tunnel"]["mip"] == 0
    ha = next(r for m, r in t.items() if m.startswith("ha_down replica all")
              and "running" in m)
    assert ha["sigma"] == 1 and ha["mip"] < 0.5
    rows = list(csv.DictReader((out / "compare.csv").open()))
    assert len(rows) == len(doc["table"])
