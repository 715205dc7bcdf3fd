"""The bulk replay with a detail window (``bulk_detail_s``, sim/hybrid.py) against the
full packet-level replay of the shipped plans, and how the option is given and checked."""

from __future__ import annotations

import dataclasses
import importlib.resources
import json

import jsonschema
import pytest

from sigma_sn.cli import main
from sigma_sn.errors import InputError
from sigma_sn.planner.plan import plan_scenario
from sigma_sn.scenario import load_scenario
from sigma_sn.sim import SimConfig
from sigma_sn.sim.fromplan import config_from_plan, replays_from_plan
from sigma_sn.sim.hybrid import detail_windows
from sigma_sn.sim.links import LinkGeometry
from sigma_sn.sim.model import Handover, Replay, Step
from sigma_sn.sim.run import report_from_outcomes, run_replay
from tests.conftest import REPO

DETAIL_S = 10.0
# a 2 Mb/s link (about 230 packets/s) keeps the slices short to replay; its drop-tail
# queue of 200 packets takes this long to drain
CAPACITY_BPS = 2e6
# Tolerances, and why. Between windows the flow hands back a window whose sawtooth is not
# at the exact replay's phase, so what rides on the standing queue may move by up to one
# full queue's worth: the switch (the ADD_IP's ACK waits in that queue) and the handover
# latency (the old path's queue drains after the switch).
THROUGHPUT_REL = 0.01      # both are capped by the same link; they differ at the edges
LOSS_REL = 0.25            # per made-before-break handover: overflows at another phase
TOTAL_LOSS_REL = 0.25      # the hard handover's extra slow-start overshoot dominates
# after a break, data comes back at a T3-rtx expiry (RFC 4960 §6.3.3): the timers' phase
# at the break may put it one backed-off RTO (1, 2, then 4 s) earlier or later
HARD_RETURN_S = 4.0
HARD_LOSS_REL = 0.60
# the slices: each has flows between windows and handovers inside it
SLICES = {"iridium-router": 700.0, "tight-overlap": 1000.0}


def queue_drain_s(cfg: SimConfig) -> float:
    return cfg.queue_pkts * (cfg.payload_bytes + 68) * 8.0 / cfg.capacity_bps


@pytest.fixture(scope="module", params=sorted(SLICES))
def both(request):
    """The full and the hybrid report of a shipped plan's first minutes, bulk down."""
    plan = plan_scenario(load_scenario(REPO / "scenarios" / f"{request.param}.toml"))
    (replay,) = replays_from_plan(plan)
    replay = dataclasses.replace(replay, duration_s=SLICES[request.param])
    out = {}
    for mode, w in (("full", None), ("hybrid", DETAIL_S)):
        cfg, _ = config_from_plan(plan, traffic="bulk", capacity_bps=CAPACITY_BPS,
                                  bulk_detail_s=w)
        out[mode] = report_from_outcomes([run_replay(replay, cfg)], cfg)
    return out["full"], out["hybrid"], cfg


def test_the_flow_carries_most_of_the_slice_and_says_so(both):
    full, hybrid, _ = both
    assert full["replay_mode"] == {"mode": "packet", "bulk_detail_s": None}
    mode = hybrid["replay_mode"]
    assert mode["mode"] == "hybrid" and mode["bulk_detail_s"] == DETAIL_S
    assert mode["flows"] >= 1 and mode["flow_s"] > 0.4 * hybrid["duration_s"]
    schema = json.loads((importlib.resources.files("sigma_sn") / "schemas" / "report-1.json")
                        .read_text())
    jsonschema.validate(hybrid, schema)
    jsonschema.validate(full, schema)
    # what the flow carried is counted, not hidden: sent and delivered add up
    p = hybrid["packets"]
    assert p["sent"] == p["delivered"] + p["lost"] + p["in_flight"]
    assert p["sent"] == pytest.approx(full["packets"]["sent"], rel=THROUGHPUT_REL)


def test_throughput_agrees_with_the_full_replay(both):
    full, hybrid, _ = both
    assert hybrid["throughput_bps"] == pytest.approx(full["throughput_bps"],
                                                     rel=THROUGHPUT_REL)
    assert sum(hybrid["timeseries"]["throughput_bps"]) == pytest.approx(
        sum(full["timeseries"]["throughput_bps"]), rel=THROUGHPUT_REL)


def test_each_handover_stalls_and_loses_what_the_full_replay_does(both):
    full, hybrid, cfg = both
    drain_s = queue_drain_s(cfg)
    made = [(f, h) for f, h in zip(full["handovers"], hybrid["handovers"]) if f["made"]]
    assert made
    for f, h in made:
        assert h["made"]
        if f["feasible"]:
            assert abs(h["cn_switch_s"] - f["cn_switch_s"]) <= drain_s
            assert abs(h["handover_latency_ms"] - f["handover_latency_ms"]) <= drain_s * 1e3
            assert h["lost"] == pytest.approx(f["lost"], rel=LOSS_REL)
        else:
            assert abs(h["first_new_arrival_s"] - f["first_new_arrival_s"]) <= HARD_RETURN_S
            assert h["lost"] == pytest.approx(f["lost"], rel=HARD_LOSS_REL)
    assert hybrid["packets"]["lost"] == pytest.approx(full["packets"]["lost"],
                                                      rel=TOTAL_LOSS_REL)


def one_link(end_s: float = 120.0) -> Replay:
    g = LinkGeometry.constant("AP1", 1000.0, ((0.0, end_s + 10),))
    return Replay("M", "2026-08-22T00:00:00Z", end_s, (g,), "AP1", "a1", ())


def bulk(**kw) -> SimConfig:
    return SimConfig(traffic="bulk", capacity_bps=CAPACITY_BPS, **kw)


def test_a_window_as_long_as_the_run_replays_every_packet_as_before():
    replay = one_link(60.0)
    full = report_from_outcomes([run_replay(replay, bulk())], bulk())
    cfg = bulk(bulk_detail_s=120.0)
    hybrid = report_from_outcomes([run_replay(replay, cfg)], cfg)
    assert hybrid["replay_mode"]["flows"] == 0
    strip = ("replay_mode",)
    assert ({k: v for k, v in hybrid.items() if k not in strip}
            == {k: v for k, v in full.items() if k not in strip})


def test_the_hybrid_is_deterministic_and_keeps_tsns_in_step():
    # the link drops for 3 s at 100 s: a flow before, a window around, a flow after
    g = LinkGeometry.constant("AP1", 1000.0, ((0.0, 100.0), (103.0, 400.0)))
    replay = Replay("M", "2026-08-22T00:00:00Z", 200.0, (g,), "AP1", "a1", ())
    cfg = bulk(bulk_detail_s=5.0)
    runs = [run_replay(replay, cfg) for _ in range(2)]
    reports = [json.dumps(report_from_outcomes([o], cfg), sort_keys=True, default=str)
               for o in runs]
    assert reports[0] == reports[1]
    b = runs[0].bulk
    assert b.flows == 2
    # the first flow's chunks took their TSNs when it ended (the second's are owed at the
    # end of the run), and sender and receiver agree on where they are
    carried = b.flow_packets - b.flow_lost
    assert 0 < b.tsn_owed < carried <= b.next_tsn - 1 + b.tsn_owed
    assert b.cum_ack <= b.rcv_cum <= b.next_tsn - 1
    assert b.rcv_cum > carried - b.tsn_owed


def test_windows_merge_and_ignore_access_points_the_mobile_holds_no_address_on():
    used = LinkGeometry.constant("AP1", 1000.0, ((0.0, 300.0),))
    new = LinkGeometry.constant("AP2", 1000.0, ((100.0, 900.0),))
    unused = LinkGeometry.constant("AP3", 1000.0, ((400.0, 450.0),))
    steps = (Step(150.0, "ADDRESS_READY", "a2", "AP2", 0), Step(150.0, "ADD_IP", "a2", "AP2", 0),
             Step(155.0, "SET_PRIMARY", "a2", "AP2", 0), Step(250.0, "DELETE_IP", "a1", "AP1", 0))
    replay = Replay("M", "2026-08-22T00:00:00Z", 1000.0, (used, new, unused), "AP1", "a1",
                    steps, (Handover(0, "AP1", "AP2", 155.0, True),))
    # AP1's set at 300 s comes after its address was deleted; AP2 rose before its address
    # was ready; AP3 never held one: none of them is an event
    assert detail_windows(replay, steps, 1000.0, 10.0) == [(0.0, 10.0), (140.0, 165.0),
                                                           (240.0, 260.0), (890.0, 910.0)]


def test_a_bad_detail_window_is_refused_with_its_key(tmp_path):
    with pytest.raises(ValueError, match="bulk_detail_s"):
        SimConfig(bulk_detail_s=0.0)
    text = (REPO / "scenarios" / "iridium-router.toml").read_text().replace(
        "[traffic]", "[traffic]\nbulk_detail_s = -5")
    text = text.replace('"../tle_data/', f'"{(REPO / "tle_data").as_posix()}/')
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(InputError, match=r"traffic\.bulk_detail_s"):
        load_scenario(bad)


def test_the_scenario_key_travels_through_the_plan(tmp_path):
    text = (REPO / "scenarios" / "iridium-router.toml").read_text().replace(
        "[traffic]", "[traffic]\nbulk_detail_s = 15").replace("duration_s = 7200",
                                                             "duration_s = 600")
    text = text.replace('"../tle_data/', f'"{(REPO / "tle_data").as_posix()}/')
    sc = tmp_path / "s.toml"
    sc.write_text(text)
    plan = plan_scenario(load_scenario(sc))
    assert plan["inputs"]["parameters"]["traffic"]["bulk_detail_s"] == 15
    cfg, _ = config_from_plan(plan)
    assert cfg.bulk_detail_s == 15


def test_simulate_takes_the_option_and_prints_the_mode(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    text = (REPO / "scenarios" / "iridium-router.toml").read_text().replace(
        "duration_s = 7200", "duration_s = 120")
    sc = tmp_path / "s.toml"
    sc.write_text(text.replace('"../tle_data/', f'"{(REPO / "tle_data").as_posix()}/'))
    plan = tmp_path / "plan.json"
    assert main(["plan", str(sc), "--out", str(plan)]) == 0
    capsys.readouterr()
    out = tmp_path / "r.json"
    assert main(["simulate", str(plan), "--traffic", "bulk", "--bulk-detail-s", "20",
                 "--out", str(out)]) == 0
    assert "mode: hybrid" in capsys.readouterr().out
    assert json.loads(out.read_text())["replay_mode"]["bulk_detail_s"] == 20
    assert main(["simulate", str(plan), "--traffic", "cbr", "--bulk-detail-s", "20"]) == 2
    assert "--bulk-detail-s" in capsys.readouterr().err


@pytest.mark.parametrize("direction", ["down", "up"])
def test_both_directions_carry_the_same_bytes_across_a_link_gap(direction):
    g = LinkGeometry.constant("AP1", 1000.0, ((0.0, 150.0), (153.0, 400.0)))
    replay = Replay("M", "2026-08-22T00:00:00Z", 300.0, (g,), "AP1", "a1", ())
    reports = []
    for w in (None, 10.0):
        cfg = bulk(direction=direction, bulk_detail_s=w)
        reports.append(report_from_outcomes([run_replay(replay, cfg)], cfg))
    full, hybrid = reports
    assert hybrid["replay_mode"]["flows"] == 2
    # the break may bring data back one backed-off RTO apart (HARD_RETURN_S of the run)
    assert hybrid["throughput_bps"] == pytest.approx(
        full["throughput_bps"], rel=THROUGHPUT_REL + HARD_RETURN_S / replay.duration_s)


def test_the_busy_destination_is_not_probed_during_a_flow():
    g = LinkGeometry.constant("AP1", 1000.0, ((0.0, 150.0), (153.0, 400.0)))
    replay = Replay("M", "2026-08-22T00:00:00Z", 300.0, (g,), "AP1", "a1", ())
    probes = []

    def prepare(env, assoc):
        send = assoc._send_heartbeat

        def spy(d, now):
            probes.append((now, d.address))
            send(d, now)
        assoc._send_heartbeat = spy

    out = run_replay(replay, bulk(bulk_detail_s=10.0), prepare=prepare)
    spans = out.bulk.flow_spans
    assert len(spans) == 1 and spans[0][1] - spans[0][0] > 100   # the first, ended by the gap
    # RFC 4960 §8.3: data keeps a destination from being probed, the flow's data too;
    # the MH's probes of the CN (it sends no data downlink) go on as before
    assert [t for t, a in probes if a == "a1" and any(s <= t < e for s, e, _ in spans)] == []
    assert any(a == "CN" and spans[0][0] <= t < spans[0][1] for t, a in probes)
