"""The replay on a path (issue 16): each packet's delay is the path stage's at its send
time, the same for every protocol; loss follows the link budget; the plan carries the
path model so a replay of the plan file rebuilds it."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from conftest import REPO
from sigma_sn.compare import compare_plan
from sigma_sn.path.ground import lower_bound_rtt_ms
from sigma_sn.path.linkbudget import LinkBudget, loss_probability, snr_db
from sigma_sn.path.route import compute_paths, model_for_scenario
from sigma_sn.planner.plan import plan_scenario
from sigma_sn.scenario import load_scenario
from sigma_sn.sim.fromplan import config_from_plan, replays_from_plan, simulate_plan
from sigma_sn.sim.links import Link, LinkGeometry
from sigma_sn.sim.model import DATA_HEADER_BYTES
from sigma_sn.visibility import find_windows

DURATION_S = 900.0


def _scenario(name: str):
    sc = load_scenario(REPO / "scenarios" / f"{name}.toml")
    return dataclasses.replace(sc, duration_s=DURATION_S)


@pytest.fixture(scope="module")
def runs():
    """Both shipped path scenarios, shortened: the plan (through JSON, as a file would
    carry it), its replays and the SIGMA-SN report with a packet trace."""
    out = {}
    for name in ("starlink-isl", "starlink-bent-pipe"):
        sc = _scenario(name)
        plan = json.loads(json.dumps(plan_scenario(sc)))
        cfg, mip = config_from_plan(plan, keep_trace=True)
        replays = replays_from_plan(plan, plan_dir=REPO / "scenarios")
        report = simulate_plan(plan, cfg, replays=replays)
        out[name] = (sc, plan, cfg, mip, replays, report)
    return out


def test_the_plan_carries_the_path_model(runs):
    sc, plan, *_ = runs["starlink-isl"]
    path = plan["inputs"]["parameters"]["path"]
    assert path["mode"] == "isl"
    assert path["correspondent"]["name"] == "New York"
    assert len(path["gateways"]) == 36
    # the replay's terrestrial leg is the path's fibre, not the timing block's constant
    cfg, _ = config_from_plan(plan)
    assert cfg.terrestrial_s == 0.0
    assert config_from_plan({**plan, "inputs": {**plan["inputs"], "parameters": {
        k: v for k, v in plan["inputs"]["parameters"].items() if k != "path"}}})[0] \
        .terrestrial_s == plan["inputs"]["parameters"]["timing"]["terrestrial_one_way_s"]


@pytest.mark.parametrize("name", ["starlink-isl", "starlink-bent-pipe"])
def test_each_packets_delay_is_the_path_stages_at_its_send_time(runs, name):
    sc, plan, cfg, _, replays, report = runs[name]
    # the path stage on its own, over the whole shell, as docs/path.md shows it
    from sigma_sn.elements import load_elements

    satellites = load_elements(sc.element_files).satellites
    model = model_for_scenario(sc, satellites)
    tw = find_windows(satellites, sc.sites, sc.start_utc, sc.duration_s,
                      min_elev_deg=sc.min_elev_deg, step_s=60.0)
    paths = compute_paths(model, sc.sites, tw, workers=1)
    log = report["_trace"]
    ok = log.cause < 0
    sent, arrival, ap = log.sent_s[ok], log.arrival_s[ok], log.ap[ok]
    # on an idle link a packet waits only for its own sending (CBR at 100 pkt/s)
    service_s = (cfg.payload_bytes + DATA_HEADER_BYTES) * 8.0 / cfg.capacity_bps
    index = {s.name: k for k, s in enumerate(satellites)}
    checked = 0
    for k, name_ap in enumerate(log.ap_names):
        sel = ap == k
        if not sel.any():
            continue
        t = sent[sel]
        w_rows = np.flatnonzero(tw.sat == index[name_ap])
        # each packet's window: the one whose routing steps hold its send time
        expect_ms = np.full(len(t), np.nan)
        for w in w_rows:
            d = paths.delay_ms_at(np.full(len(t), w), t)
            expect_ms = np.where(np.isnan(expect_ms), d, expect_ms)
        have = ~np.isnan(expect_ms)
        got_s = arrival[sel][have] - t[have] - service_s
        np.testing.assert_allclose(got_s, expect_ms[have] / 1e3, atol=1e-6)
        checked += int(have.sum())
    assert checked > 0.9 * ok.sum()


def test_no_path_rtt_beats_the_great_circle_at_c(runs):
    for sc, plan, *_, replays, _ in runs.values():
        bound_ms = lower_bound_rtt_ms(sc.sites[0].lat_deg, sc.sites[0].lon_deg,
                                      sc.path_config.correspondent)
        assert bound_ms > 38.0          # Madrid – New York, 5,770 km
        used = [g for g in replays[0].links if g.up_s]   # a link never up is never read
        assert used and all(g.delay_s is not None for g in used)
        assert 2e3 * min(g.delay_s.min() for g in used) >= bound_ms


def test_isl_beats_the_bent_pipe_for_madrid_to_new_york(runs):
    isl = runs["starlink-isl"][-1]["path_rtt_ms"]
    bent = runs["starlink-bent-pipe"][-1]["path_rtt_ms"]
    assert isl["mean"] < bent["mean"] - 5.0
    # and the one-way latency SIGMA-SN's packets met follows it
    assert runs["starlink-isl"][-1]["latency_ms"]["p50"] < \
        runs["starlink-bent-pipe"][-1]["latency_ms"]["p50"]


def test_a_report_on_a_path_validates_against_the_shipped_schema(runs):
    import importlib.resources

    import jsonschema

    schema = json.loads((importlib.resources.files("sigma_sn") / "schemas" / "report-1.json")
                        .read_text())
    assert "path_rtt_ms" in schema["properties"]
    for *_, report in runs.values():
        plain = json.loads(json.dumps({k: v for k, v in report.items()
                                       if not k.startswith("_")}))
        assert set(plain["path_rtt_ms"]) == {"mean", "p95"}
        jsonschema.validate(plain, schema)
        for bad in ({"mean": plain["path_rtt_ms"]["mean"]}, {**plain["path_rtt_ms"], "p95": -1},
                    {**plain["path_rtt_ms"], "median": 1.0}):
            with pytest.raises(jsonschema.ValidationError, match="path_rtt_ms|p95|median"):
                jsonschema.validate({**plain, "path_rtt_ms": bad}, schema)


def test_every_protocol_replays_the_same_paths(runs):
    sc, plan, cfg, mip, replays, _ = runs["starlink-isl"]
    doc = compare_plan(plan, dataclasses.replace(cfg, keep_trace=False), mip,
                       replays=replays)
    rows = {r["metric"]: r for r in doc["table"]}
    assert {"path_rtt_mean", "path_rtt_p95"} <= set(rows)
    means = [rows["path_rtt_mean"][p] for p in ("sigma", "mip", "fmip", "hmip")]
    # each takes its own links (Mobile IP stays on the old satellite to LOS), so the RTTs
    # differ a little, but all come from one geometry
    assert max(means) - min(means) < 5.0


def test_link_budget_sets_the_random_loss(runs):
    _, _, _, _, replays, _ = runs["starlink-isl"]
    g = next(g for g in replays[0].links if g.up_s)
    np.testing.assert_allclose(g.loss_prob, loss_probability(
        snr_db(g.range_km, g.elev_deg, LinkBudget())))
    # a link whose budget says "lost" loses every packet, one that says 0 none
    up = [(0.0, 100.0)]
    for p, want in ((1.0, "random_loss"), (0.0, None)):
        geom = LinkGeometry("x", np.array([0.0, 100.0]), np.array([600.0, 600.0]),
                            np.array([50.0, 50.0]), tuple(up), delay_s=np.array([0.03, 0.04]),
                            loss_prob=np.array([p, p]))
        link = Link(geom, capacity_bps=20e6, queue_pkts=10)
        assert {link.send(t, 100, "up")[1] for t in np.arange(1.0, 50.0, 0.5)} == {want}


def test_path_delay_is_held_between_routing_steps():
    geom = LinkGeometry("x", np.array([0.0, 1.0, 2.0]), np.full(3, 600.0), np.full(3, 50.0),
                        ((0.0, 3.0),), delay_s=np.array([0.030, 0.050, 0.040]))
    link = Link(geom, capacity_bps=1e12, queue_pkts=10)
    assert [link.delay_s(t) for t in (0.0, 0.99, 1.0, 1.5, 2.0, 2.5)] == \
        [0.030, 0.030, 0.050, 0.050, 0.040, 0.040]


def test_a_malformed_path_model_is_an_input_error_naming_the_key(runs):
    from sigma_sn.errors import InputError

    plan = runs["starlink-isl"][1]
    params = plan["inputs"]["parameters"]
    broken = {k: v for k, v in params["path"].items() if k != "gateways"}
    bad = {**plan, "inputs": {**plan["inputs"], "parameters": {**params, "path": broken}}}
    with pytest.raises(InputError) as err:
        replays_from_plan(bad, plan_dir=REPO / "scenarios", source="p.json")
    assert "inputs.parameters.path" in str(err.value) and "gateways" in str(err.value)
    host = {**plan, "mode": "host"}
    with pytest.raises(InputError, match="router-mode"):
        replays_from_plan(host, plan_dir=REPO / "scenarios", source="p.json")
