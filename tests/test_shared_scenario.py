"""Shared capacity through a scenario (issue 16): every mobile of the scenario in one
load stage, each satellite's and gateway's capacity shared max–min, each mobile's packet
replay served at what the others leave; read from ``[path]`` key by key."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from sigma_sn.errors import InputError
from sigma_sn.scenario import load_scenario
from sigma_sn.sim.model import DATA_HEADER_BYTES

SAT_CAPACITY_MBPS = 4.0
PAYLOAD_BYTES = 1000
#: the one satellite (a 407 km, 65 deg Walker 1/1/0) passes over the terminals from about
#: 4 s to 164 s of this window, 37 deg at its highest; a gateway beside them sees it too
HEAD = """name = "one-sat"
mode = "router"
policy = "max-elevation"
elements = ["a.tle"]
[window]
start_utc = "2026-08-22T03:15:00Z"
duration_s = 180
min_elev_deg = 25
step_s = 10
[link]
capacity_bps = 10e6
[traffic]
rate_pps = 250
"""
PATH = f"""[path]
mode = "bent_pipe"
gateways = "gw.csv"
correspondent = "GW A"
shared_capacity = true
sat_capacity_mbps = {SAT_CAPACITY_MBPS}
gateway_capacity_mbps = 1000
offered_load_mbps = 10
"""


def _scenario(tmp_path, n_terminals: int, path: str = PATH):
    shutil.copy(REPO / "tle_data" / "gpm_like.tle", tmp_path / "a.tle")
    (tmp_path / "gw.csv").write_text("name,lat_deg,lon_deg,alt_m,min_elev_deg\n"
                                     "GW A,40.0,-3.7,0,25\n")
    sites = "".join(f'[[sites]]\nname = "T{k}"\nlat_deg = {40 + 0.001 * k}\n'
                    f"lon_deg = -3.7\n" for k in range(n_terminals))
    p = tmp_path / "s.toml"
    p.write_text(HEAD + sites + path)
    return p


def _replayed(path):
    from sigma_sn.planner.plan import plan_scenario
    from sigma_sn.sim.fromplan import config_from_plan, replays_from_plan, simulate_plan

    plan = plan_scenario(load_scenario(path))
    replays = replays_from_plan(plan, plan_dir=str(path.parent))
    cfg, _ = config_from_plan(plan)
    return replays, simulate_plan(plan, cfg, replays=replays)


@pytest.mark.parametrize("n", [2, 4])
def test_n_terminals_on_one_satellite_get_capacity_over_n(tmp_path, n):
    """Each of N terminals offers 10 Mb/s to a 4 Mb/s satellite: the load stage gives each
    capacity / N, and each one's packet replay (CBR at about twice that) delivers it,
    counted on the wire over the time it is served, within 10 %."""
    replays, report = _replayed(_scenario(tmp_path, n))
    fair_bps = SAT_CAPACITY_MBPS * 1e6 / n
    block = replays[0].shared_load.summary()
    assert [m["mobile"] for m in block["mobiles"]] == [f"T{k}" for k in range(n)]
    for m in block["mobiles"]:
        assert m["mean_rate_mbps"] * 1e6 == pytest.approx(fair_bps, rel=0.10)
        assert m["served_s"] > 150
    (sat,) = block["satellites"]
    assert sat["peak_offered"] == pytest.approx(10.0 * n / SAT_CAPACITY_MBPS)
    for m, per in zip(block["mobiles"], report["per_mobile"]):
        wire_bps = per["packets"]["delivered"] * (PAYLOAD_BYTES + DATA_HEADER_BYTES) * 8
        assert wire_bps / m["served_s"] == pytest.approx(fair_bps, rel=0.10)


def test_a_mobile_alone_is_not_held_back(tmp_path):
    """The same terminal alone: its 10 Mb/s demand exceeds the satellite, so it gets all
    4 Mb/s, and its replay link the share 0.4 of its own 10 Mb/s."""
    replays, _ = _replayed(_scenario(tmp_path, 1))
    (m,) = replays[0].shared_load.summary()["mobiles"]
    assert m["mean_rate_mbps"] == pytest.approx(SAT_CAPACITY_MBPS)
    (link,) = [g for g in replays[0].links if g.up_s]
    assert np.allclose(link.share, SAT_CAPACITY_MBPS / 10.0)


def test_shared_replay_is_deterministic_and_in_the_compare_output(tmp_path):
    """``sigma-sn compare`` twice: byte-identical compare.json with the load block, the
    load printed, and drawn by ``sigma-sn report``."""
    p = _scenario(tmp_path, 3)
    texts = []
    for k in range(2):
        out = tmp_path / f"out{k}"
        r = subprocess.run([sys.executable, "-m", "sigma_sn", "compare", str(p), "--out-dir",
                            str(out)], capture_output=True, text=True, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "shared capacity: 4 Mb/s per satellite" in r.stdout
        texts.append((out / "compare.json").read_text())
    assert texts[0] == texts[1]
    # 'sigma-sn report' on the compare folder draws the load as 'sigma-sn run' does
    r = subprocess.run([sys.executable, "-m", "sigma_sn", "report", str(tmp_path / "out0")],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "per-satellite load over time" in (tmp_path / "out0" / "report.html").read_text()
    load = json.loads(texts[0])["load"]
    assert [s["satellite"] for s in load["satellites"]] == ["GPM-LIKE"]
    assert load["series"]["utilisation"]["GPM-LIKE"][1] == pytest.approx(1.0)


def test_without_shared_capacity_each_mobile_has_its_own_link(tmp_path):
    replays, _ = _replayed(_scenario(tmp_path, 2, PATH.replace("shared_capacity = true\n",
                                                               "").split("sat_capacity")[0]))
    assert replays[0].shared_load is None
    assert all(g.share is None for r in replays for g in r.links)


@pytest.mark.parametrize("lines, key, words", [
    ("shared_capacity = 1\n", "path.shared_capacity", "true or false"),
    ("shared_capacity = true\nsat_capacity_mbps = -5\n", "path.sat_capacity_mbps", ">= 0.001"),
    ("shared_capacity = true\ngateway_capacity_mbps = \"big\"\n",
     "path.gateway_capacity_mbps", "number"),
    ("shared_capacity = true\noffered_load_mbps = 0\n", "path.offered_load_mbps", ">= 0.001"),
    ("offered_load_mbps = 50\n", "path.offered_load_mbps", "needs shared_capacity = true"),
    ("shared_capacity = true\nsat_capacity = 5\n", "path.sat_capacity", "unknown key"),
])
def test_bad_shared_capacity_keys_are_named(tmp_path, lines, key, words):
    head = PATH.split("shared_capacity")[0]
    with pytest.raises(InputError) as err:
        load_scenario(_scenario(tmp_path, 1, head + lines))
    assert err.value.key == key and words in str(err.value)


def test_defaults_and_the_plan_record(tmp_path):
    """On with no capacities given: the documented defaults, recorded in the plan so
    'sigma-sn simulate plan.json' shares the same way."""
    from sigma_sn.path.config import path_parameters

    sc = load_scenario(_scenario(tmp_path, 1, PATH.split("shared_capacity")[0]
                                 + "shared_capacity = true\n"))
    shared = sc.path_config.shared
    assert (shared.sat_capacity_mbps, shared.gateway_capacity_mbps,
            shared.offered_load_mbps) == (20_000.0, 80_000.0, 100.0)
    assert path_parameters(sc.path_config)["shared_capacity"] == {
        "sat_capacity_mbps": 20_000.0, "gateway_capacity_mbps": 80_000.0,
        "offered_load_mbps": 100.0}


def test_run_prints_writes_and_draws_the_load(tmp_path):
    """``sigma-sn run``: the summary's load lines, report.json's load block and the
    "per-satellite load over time" figure in report.html."""
    from sigma_sn import runner

    result = runner.run_scenario(_scenario(tmp_path, 2), tmp_path / "out", log=None)
    text = runner.summary_text(result)
    assert "GPM-LIKE: utilisation peak 1.000" in text
    assert "mobiles' mean share of their demand: min 0.200" in text
    doc = json.loads((result.out_dir / "report.json").read_text())
    assert [g["gateway"] for g in doc["load"]["gateways"]] == ["GW A"]
    html = (result.out_dir / "report.html").read_text()
    assert "per-satellite load over time" in html and "Per-satellite load" in html


def test_with_share_checks_the_share_and_keeps_the_rest():
    from sigma_sn.sim.links import LinkGeometry

    g = LinkGeometry.constant("sat", 600.0, [(0.0, 100.0)])
    s = g.with_share([0.5, 0.25])
    assert s.share.tolist() == [0.5, 0.25] and g.share is None
    assert (s.ap, s.up_s, s.range_km.tolist()) == (g.ap, g.up_s, g.range_km.tolist())
    for bad in ([0.5], [0.0, 0.5], [0.5, 1.5]):
        with pytest.raises(ValueError, match="share needs one value in"):
            g.with_share(bad)
