"""``sigma-sn sweep`` as a user meets it: tidy CSV, every row accounted for, bad names."""

from __future__ import annotations

import csv
import dataclasses
import subprocess
import sys

import pytest

from sigma_sn.cli import main
from sigma_sn.compare import METRICS, PROTOCOLS
from sigma_sn.sweep import parameters
from tests.test_cli_compare import short_scenario


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    return short_scenario(tmp_path_factory.mktemp("scenario"), duration_s=1200)


def read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_one_parameter_gives_one_row_per_value_protocol_and_metric(scenario, tmp_path, capsys):
    out = tmp_path / "sweep.csv"
    assert main(["sweep", str(scenario), "--param", "timing.dad_s=0,1", "--rate", "20",
                 "--out", str(out)]) == 0
    assert "sweep [2/2] timing.dad_s=1" in capsys.readouterr().err     # progress per run
    rows = read(out)
    assert list(rows[0]) == ["param", "value", "protocol", "metric", "unit", "result"]
    assert len(rows) == 2 * len(PROTOCOLS) * len(METRICS)
    keys = [(r["value"], r["protocol"], r["metric"]) for r in rows]
    assert len(set(keys)) == len(keys)
    assert {r["param"] for r in rows} == {"timing.dad_s"}
    res = {(r["value"], r["protocol"], r["metric"]): r["result"] for r in rows}
    # DAD is in Mobile IP's outage, not in SIGMA-SN's (its overlap hides it)
    mip0 = float(res[("0", "mip", "handover_latency_mean")])
    mip1 = float(res[("1", "mip", "handover_latency_mean")])
    assert mip1 - mip0 == pytest.approx(1000.0, abs=60.0)
    assert res[("0", "sigma", "packets_lost")] == res[("1", "sigma", "packets_lost")] == "0"


def test_two_parameters_give_the_full_grid(scenario, tmp_path):
    out = tmp_path / "sweep2.csv"
    assert main(["sweep", str(scenario), "--param", "mip.ha_ap_s=0.01,0.05,0.1",
                 "--param", "window.min_elev_deg=8.2,20", "--rate", "10",
                 "--out", str(out)]) == 0
    rows = read(out)
    assert list(rows[0]) == ["param", "value", "param2", "value2", "protocol", "metric", "unit",
                             "result"]
    assert len(rows) == 3 * 2 * len(PROTOCOLS) * len(METRICS)
    grid = sorted({(r["value"], r["value2"]) for r in rows})
    assert grid == sorted((a, b) for a in ("0.01", "0.05", "0.1") for b in ("8.2", "20"))
    p50 = {(r["value"], r["value2"], r["protocol"]): float(r["result"]) for r in rows
           if r["metric"] == "latency_p50"}
    # the HA leg is on Mobile IP's path only
    assert p50[("0.1", "8.2", "mip")] - p50[("0.01", "8.2", "mip")] == pytest.approx(90.0,
                                                                                      abs=5.0)
    assert p50[("0.1", "8.2", "sigma")] == p50[("0.01", "8.2", "sigma")]


def test_csv_to_stdout_is_the_same_bytes(scenario, tmp_path, capsysbinary):
    out = tmp_path / "s.csv"
    args = ["sweep", str(scenario), "--param", "link.capacity_bps=1e6", "--rate", "10"]
    assert main(args + ["--out", str(out)]) == 0
    capsysbinary.readouterr()
    assert main(args) == 0
    assert capsysbinary.readouterr().out == out.read_bytes()


@pytest.mark.parametrize("spec, says", [
    ("timing.warp_s=1", "timing.warp_s: unknown sweep parameter"),
    ("elements.age_days=1,2", "elements.age_days: not offered"),
    ("timing.l2_s=fast", "timing.l2_s: value 'fast' is not a float"),
    ("mip.par_nar_s=-0.1", "mip.par_nar_s: par_nar_s must be >= 0"),
    # the access network's steps are the timing block's, for every protocol alike
    ("mip.t_dad_s=1", "mip.t_dad_s: unknown sweep parameter"),
    ("timing.guard_s", "--param: expected NAME=V1,V2,..."),
])
def test_bad_param_exits_2_naming_it(scenario, spec, says):
    run = subprocess.run([sys.executable, "-m", "sigma_sn", "sweep", str(scenario),
                          "--param", spec], capture_output=True, text=True)
    assert run.returncode == 2, run.stderr
    assert says in run.stderr
    assert "Traceback" not in run.stderr


def test_site_latitude_is_router_mode_only():
    from sigma_sn.errors import InputError
    from sigma_sn.sweep import apply
    from sigma_sn.scenario import load_scenario
    from tests.test_cli_compare import REPO

    host = load_scenario(REPO / "scenarios" / "gpm-host.toml")
    with pytest.raises(InputError, match="site.lat_deg: moves the terminal"):
        apply(host, [("site.lat_deg", 10.0)])


def test_every_listed_parameter_sweeps_end_to_end(tmp_path):
    """Each name the sweep lists runs through plan, every protocol and the CSV (it once
    raised a TypeError for traffic.rate_pps: the rate was passed twice)."""
    from sigma_sn.scenario import load_scenario
    from sigma_sn.sweep import parse_param, run_sweep

    sc = load_scenario(short_scenario(tmp_path, duration_s=600))
    texts = {"traffic.direction": "up", "mip.switch": "plan", "mip.fmip_mode": "reactive",
             "window.min_elev_deg": "10", "site.lat_deg": "41", "traffic.rate_pps": "7",
             "traffic.payload_bytes": "500", "link.queue_pkts": "50", "traffic.seed": "3",
             "link.capacity_bps": "1e7", "link.loss_prob_at_horizon": "0.01",
             "mip.fmip_buffer_pkts": "10"}
    swept = []
    for name, example in sorted(parameters().items()):
        text = texts.get(name, {bool: "true"}.get(type(example), "0.02"))
        rows = run_sweep(sc, [parse_param(f"{name}={text}")], rate_pps=5.0)
        assert rows and {r["value"] for r in rows} == {text}, name
        swept.append(name)
    assert "traffic.rate_pps" in swept and len(swept) == len(parameters())


def test_shared_timing_steps_reach_mobile_ip_too():
    """L2, RA and DAD are the access network's: both protocols meet the swept value."""
    from sigma_sn.planner.plan import plan_scenario
    from sigma_sn.scenario import load_scenario
    from sigma_sn.sim.fromplan import config_from_plan
    from sigma_sn.sweep import apply
    from tests.test_cli_compare import shipped_scenario

    sc = load_scenario(shipped_scenario("iridium"))
    new, over = apply(sc, [("timing.l2_s", 0.3), ("timing.ra_s", 1.5)])
    assert (new.timing.l2_s, new.timing.ra_s) == (0.3, 1.5) and over == {}
    _, mip = config_from_plan(plan_scenario(dataclasses.replace(new, duration_s=600.0)))
    assert (mip.t_l2_s, mip.ra_min_s, mip.ra_max_s, mip.t_dad_s) == (0.3, 1.5, 1.5, 0.0)
    new, over = apply(sc, [("timing.guard_s", 5.0), ("mip.ha_ap_s", 0.2)])
    assert new.timing.guard_s == 5.0 and over == {"ha_ap_s": 0.2}     # guard: SIGMA-SN only
    new, over = apply(sc, [("link.loss_prob", 0.01), ("window.min_elev_deg", 20.0)])
    assert new.min_elev_deg == 20.0 and over == {"loss_prob": 0.01}
