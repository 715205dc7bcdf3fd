"""Where the IP address is anchored (``[path] anchor``, issue 16): at a gateway only
gateway changes are handovers; satellite changes under a gateway are path changes."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from conftest import REPO, START
from plan_checks import check_plan_invariants
from sigma_sn.errors import InputError
from sigma_sn.path.config import Anchor, PathMode
from sigma_sn.path.ground import Correspondent
from sigma_sn.path.route import PathDelays
from sigma_sn.planner.anchor import anchor_windows
from sigma_sn.planner.kinds import Mode, Policy, Selection
from sigma_sn.planner.plan import plan_windows
from sigma_sn.propagate import Epoch
from sigma_sn.scenario import load_scenario
from sigma_sn.sites import Site
from sigma_sn.visibility import Windows
from sigma_sn.walker import walker

PURE = Selection(min_dwell_s=0.0, elev_margin_deg=0.0, delay_margin_ms=0.0)
DURATION_S = 600.0
SATS = walker(3, 1, 0, 550.0, 53.0, START, name_prefix="S")
TERMINAL = Site("T", 40.0, -3.0)
GA, GB = 0, 1


def _crafted():
    """Three satellites over one terminal, each path's gateway and one-way delay (ms)
    given per routing step (1 s), as the path stage would report them:

    - S0 up [0, 250): lands at GA, 30 ms;
    - S1 up [100, 600): lands at GA at 25 ms until 350, then at GB at 40 ms;
    - S2 up [300, 600): lands at GB, 35 ms until 500, then 45 ms.
    """
    aos = np.array([0.0, 100.0, 300.0])
    los = np.array([250.0, DURATION_S, DURATION_S])
    truncated = los >= DURATION_S
    first = np.ceil(aos).astype(np.int64)
    end = np.where(truncated, int(DURATION_S) + 1, np.ceil(los).astype(np.int64))
    gateway, delay = [], []
    for k, (a, b) in enumerate(zip(first, end)):
        t = np.arange(a, b)
        if k == 0:
            g, d = np.full(len(t), GA), np.full(len(t), 30.0)
        elif k == 1:
            g, d = np.where(t < 350, GA, GB), np.where(t < 350, 25.0, 40.0)
        else:
            g, d = np.full(len(t), GB), np.where(t < 500, 35.0, 45.0)
        gateway.append(g)
        delay.append(d)
    windows = Windows(Epoch.at(START), DURATION_S, tuple(s.name for s in SATS),
                      tuple(int(s.norad_id) for s in SATS), ("T",),
                      sat=np.arange(3), site=np.zeros(3, np.int64), aos_s=aos,
                      tca_s=(aos + los) / 2, los_s=los, max_elev_deg=np.full(3, 60.0),
                      aos_truncated=np.zeros(3, bool), los_truncated=truncated)
    offset = np.concatenate([[0], np.cumsum(end - first)]).astype(np.int64)
    delay_ms = np.concatenate(delay).astype(np.float32)
    return PathDelays(PathMode.ISL, 1.0, windows, ("GA", "GB"), Correspondent("C", 0.0, 0.0),
                      first, offset, delay_ms, np.full(len(delay_ms), 3, np.int16),
                      np.concatenate(gateway).astype(np.int16))


def _plan(anchor):
    paths = _crafted()
    return plan_windows(paths.windows, SATS, [TERMINAL], Mode.ROUTER, Policy.MIN_PATH_DELAY,
                        selection=PURE, paths=paths, anchor=anchor)


def test_anchor_windows_are_the_runs_of_steps_a_gateway_is_reachable():
    aw = anchor_windows(_crafted())
    w = aw.windows
    spans = sorted(zip(w.sat.tolist(), w.aos_s.tolist(), w.los_s.tolist()))
    assert spans == [(GA, 0.0, 350.0), (GB, 300.0, DURATION_S)]
    (ga,) = np.flatnonzero(w.sat == GA)
    (gb,) = np.flatnonzero(w.sat == GB)
    # the quickest satellite under each gateway, step by step
    assert aw.delay_ms_at([ga, ga, gb, gb], [50.0, 200.0, 400.0, 550.0]).tolist() == [
        30.0, 25.0, 35.0, 40.0]
    # the timing model's RTT over a gateway is twice that path's delay
    assert aw.rtt_s([GA, GB], [0, 0], [200.0, 550.0]) == pytest.approx([0.050, 0.080])


def test_at_a_gateway_the_handovers_are_exactly_the_gateway_changes():
    plan = _plan(Anchor.GATEWAY)
    assert [(h["from"], h["to"]) for h in plan["handovers"]] == [("GA", "GB")]
    assert [a["name"] for a in plan["access_points"]] == ["GA", "GB"]
    serving = plan["mobiles"][0]["serving"]
    assert [s["ap"] for s in serving] == ["GA", "GB"]
    # GA (25 ms) is kept while it lasts and left only before its last path is gone
    # (LOS 350, less the guard and the RTT bound), at a decision of the grid
    switch = serving[0]["to_s"]
    set_primary = [e["t_s"] for e in plan["handovers"][0]["events"]
                   if e["action"] == "SET_PRIMARY"]
    assert [switch] == set_primary
    assert 350.0 - PURE.decision_step_s - 2.1 < switch < 350.0 - 2.0
    assert len({s["address"] for s in serving}) == 2
    # every satellite change under one gateway is a path change, with the delays of the
    # quickest path just before and at the change
    changes = [(c["gateway"], c["t_s"], c["from"], c["to"], c["from_delay_ms"],
                c["to_delay_ms"]) for c in plan["path_changes"]]
    assert changes == [("GA", 100.0, SATS[0].name, SATS[1].name, 30.0, 25.0),
                       ("GB", 500.0, SATS[2].name, SATS[1].name, 35.0, 40.0)]
    assert plan["inputs"]["parameters"]["path"]["anchor"] == "gateway"
    check_plan_invariants(plan)   # the schema, path_changes included, and the plan's rules


def test_at_the_satellite_every_satellite_change_is_a_handover():
    plan = _plan(Anchor.SATELLITE)
    hops = [(h["from"], h["to"]) for h in plan["handovers"]]
    assert hops == [(SATS[0].name, SATS[1].name), (SATS[1].name, SATS[2].name),
                    (SATS[2].name, SATS[1].name)]
    assert "path_changes" not in plan
    assert "anchor" not in plan["inputs"]["parameters"]["path"]


def test_the_default_anchor_plans_as_before(tmp_path):
    # a scenario that says anchor = "satellite" plans byte for byte as one that says
    # nothing: the golden of isl-lisbon-newyork (made before anchors existed) holds the
    # latter, tests/test_golden.py compares it
    from sigma_sn.planner.plan import dumps, plan_scenario

    text = (REPO / "scenarios" / "isl-lisbon-newyork.toml").read_text()
    text = text.replace("../tle_data", str(REPO / "tle_data")).replace(
        '"sites/gateways_world.csv"', f'"{REPO / "scenarios" / "sites" / "gateways_world.csv"}"')
    short = text.replace("duration_s = 1800", "duration_s = 300")
    plain, said = tmp_path / "plain.toml", tmp_path / "said.toml"
    plain.write_text(short)
    said.write_text(short + 'anchor = "satellite"\n')
    a, b = (json.loads(dumps(plan_scenario(load_scenario(p)))) for p in (plain, said))
    for plan in (a, b):
        plan["inputs"].pop("scenario")
        plan["name"] = "x"
    assert a == b


def _scenario(tmp_path, extra: str, mode="router", policy="min-path-delay"):
    text = (f'name = "a"\nmode = "{mode}"\npolicy = "{policy}"\n'
            f'elements = ["{REPO / "tle_data" / "starlink_shell1.tle"}"]\n'
            '[[sites]]\nname = "T"\nlat_deg = 40.0\nlon_deg = -3.0\n'
            '[window]\nstart_utc = "2026-08-22T00:00:00Z"\nduration_s = 600\n'
            f'[path]\ngateways = "{REPO / "scenarios" / "sites" / "gateways_world.csv"}"\n'
            f'correspondent = "T"\n{extra}')
    p = tmp_path / "a.toml"
    p.write_text(text)
    return p


def test_anchor_is_read_from_the_path_section(tmp_path):
    sc = load_scenario(_scenario(tmp_path, 'anchor = "gateway"\n'))
    assert sc.path_config.anchor is Anchor.GATEWAY
    assert load_scenario(_scenario(tmp_path, "")).path_config.anchor is Anchor.SATELLITE


@pytest.mark.parametrize("extra, mode, policy, words", [
    ('anchor = "pop"\n', "router", "min-path-delay", "must be satellite or gateway"),
    ('anchor = "gateway"\n', "host", "min-handovers", "router mode only"),
    ('anchor = "gateway"\n', "router", "max-elevation", "min-path-delay"),
])
def test_an_anchor_that_does_not_apply_names_the_key(tmp_path, extra, mode, policy, words):
    with pytest.raises(InputError) as err:
        load_scenario(_scenario(tmp_path, extra, mode, policy))
    assert "path.anchor" in str(err.value) and words in str(err.value)


def test_a_path_change_is_a_step_of_the_delay_that_reorders_packets_in_flight():
    from sigma_sn.sim.links import Link
    from sigma_sn.sim.pathgeom import anchor_links

    paths = _crafted()
    aw = anchor_windows(paths)
    links = anchor_links(aw, paths.windows, SATS, [TERMINAL], 0)
    assert sorted(links) == ["GA", "GB"]
    ga = links["GA"]
    assert ga.up_s == ((0.0, 350.0),)
    # the crafted satellites are not really overhead: their link budget is left out
    link = Link(dataclasses.replace(ga, loss_prob=None), capacity_bps=1e9, queue_pkts=1000)
    assert link.delay_s(99.5) == pytest.approx(0.030)
    assert link.delay_s(100.0) == pytest.approx(0.025)
    # a packet every 0.7 ms across the change: those sent in the old path's last 5 ms
    # (its delay less the new one's) arrive after the first one on the new path, none lost
    sent = 99.99 + 0.0007 * np.arange(30)
    arrivals = [link.send(float(t), 100, "down") for t in sent]
    assert all(cause is None for _, cause in arrivals)
    times = np.array([a for a, _ in arrivals])
    first_new = sent[sent >= 100.0].min()
    late = sent[(sent < 100.0) & (times > times[sent >= 100.0].min())]
    assert late.tolist() == sent[(sent < 100.0) & (sent > first_new - 0.005)].tolist()
    assert len(late) == 7
    # a slower path after the change (GB: S2's 35 ms, then S1's 40 ms at 500) pauses
    # the arrivals for the 5 ms difference, nothing reordered
    gb = Link(dataclasses.replace(links["GB"], loss_prob=None), capacity_bps=1e9,
              queue_pkts=1000)
    before, _ = gb.send(499.999, 100, "down")
    after, _ = gb.send(500.0, 100, "down")
    assert after - before == pytest.approx(0.001 + 0.005, abs=1e-5)


def test_routes_to_each_gateway_give_back_the_best_route_at_their_minimum():
    # a ring of twelve satellites, a gateway under satellite 0 and one under satellite
    # 5, a terminal between satellites 2 and 3: the best route of each satellite is the
    # quicker of its routes to the two gateways, sample for sample
    from sigma_sn.geometry import subpoint_deg
    from sigma_sn.path.config import Isl
    from sigma_sn.path.route import PathModel, compute_paths
    from sigma_sn.planner.anchor import paths_to_each_gateway
    from sigma_sn.propagate import propagate
    from sigma_sn.visibility import find_windows

    sats = walker(12, 1, 0, 550.0, 20.0, START, name_prefix="RING")
    pos = propagate([s.satrec for s in sats], Epoch.at(START), [0.0]).pos_itrs_km[:, 0]
    lat, lon = subpoint_deg(pos)
    gateways = [Site(f"G{k}", float(lat[k]), float(lon[k]), min_elev_deg=10.0) for k in (0, 5)]
    t_lat, t_lon = subpoint_deg((0.4 * pos[2] + 0.6 * pos[3])[None])
    terminal = Site("T", float(t_lat[0]), float(t_lon[0]))
    corr = Correspondent("C", float(lat[0]) + 1.0, float(lon[0]))
    model = PathModel(sats, gateways, corr, START, 600.0, mode=PathMode.ISL, min_elev_deg=0.0,
                      isl=Isl(max_range_km=8000.0), workers=1)
    tw = find_windows(sats, [terminal], START, 600.0, min_elev_deg=0.0, workers=1)
    best = compute_paths(model, [terminal], tw, workers=1)
    each = paths_to_each_gateway(model, [terminal], tw, best, workers=1)
    assert sorted({int(g) for p in each for g in np.unique(p.gateway)} - {-1}) == sorted(
        set(np.unique(best.gateway).tolist()) - {-1})
    assert len(each) == 2   # both gateways are some satellite's best
    for p in each:  # each lands at its own gateway only
        assert len(np.unique(p.gateway[p.gateway >= 0])) == 1
    stacked = np.vstack([np.where(np.isnan(p.delay_ms), np.inf, p.delay_ms) for p in each])
    assert np.array_equal(stacked.min(axis=0), np.where(np.isnan(best.delay_ms), np.inf,
                                                        best.delay_ms))


def test_compare_policies_reads_the_rtt_of_the_serving_gateways_path():
    from sigma_sn.policy_compare import serving_rtt_ms

    plan = _plan(Anchor.GATEWAY)
    rtt = serving_rtt_ms(plan, [_crafted()])["T"]
    # twice the quickest path under GA (S0, then S1 from 100), then under GB (S2, then S1)
    assert rtt[[50, 200, 400, 550]].tolist() == [60.0, 50.0, 70.0, 80.0]


def test_the_replay_of_a_gateway_plan_carries_its_path_changes():
    # the shipped gateway scenario, shortened: the replay rebuilds the paths from the
    # plan file alone, and its link's delay steps where the plan says, by what it says
    from sigma_sn.planner.plan import plan_scenario
    from sigma_sn.sim.fromplan import config_from_plan, replays_from_plan, simulate_plan

    sc = dataclasses.replace(load_scenario(REPO / "scenarios" /
                                           "isl-lisbon-newyork-gateway.toml"), duration_s=600.0)
    plan = json.loads(json.dumps(plan_scenario(sc)))
    (replay,) = replays_from_plan(plan, plan_dir=REPO / "scenarios")
    links = {g.ap: g for g in replay.links}
    changes = plan["path_changes"]
    assert changes and set(links) == {a["name"] for a in plan["access_points"]}
    for c in changes:
        g = links[c["gateway"]]
        k = int(np.searchsorted(g.t_s, c["t_s"]))
        assert g.t_s[k] == c["t_s"]
        assert g.delay_s[k] * 1e3 == pytest.approx(c["to_delay_ms"], abs=1e-6)
        assert g.delay_s[k - 1] * 1e3 == pytest.approx(c["from_delay_ms"], abs=1e-6)
    # all those path changes and not one handover, and nothing lost over them
    cfg, _ = config_from_plan(plan)
    report = simulate_plan(plan, cfg, replays=[replay])
    assert plan["handovers"] == [] and report["handovers"] == []
    assert report["packets"]["lost"] == 0
