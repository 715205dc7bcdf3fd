"""The SimPy replay on crafted cases whose outcome follows from first principles."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sigma_sn.geometry import C_KM_S
from sigma_sn.sim import Handover, LinkGeometry, Replay, SimConfig, Step, simulate

A_ADDR, B_ADDR = "2001:db8:a::1", "2001:db8:b::1"
RANGE_A_KM, RANGE_B_KM = 1000.0, 1500.0
TERRESTRIAL_S = 0.020
RATE_PPS = 100.0
ONE_PACKET = 1


SETUP_S = 0.1                # the crafted plan's L2 + RA + DAD
QUEUE_WAIT_S = 0.005         # signalling behind a few 1 kB packets at 20 Mbit/s


def two_path_replay(*, los_a_s=60.0, aos_b_s=20.0, sp_s=30.0, delete_s=None, duration_s=100.0,
                    truth_los_a_s=None, truth_aos_b_s=None) -> Replay:
    """Terminal under A, handed to B: A up [0, LOS_A], B up [AOS_B, 1000]. Plan:
    address and ADD_IP at AOS_B + 0.1 s, SET_PRIMARY at ``sp_s``, LM update after it,
    DELETE_IP at ``delete_s`` (default LOS_A - 2 s). ``truth_los_a_s`` and
    ``truth_aos_b_s`` replay the same plan against access points that really set or
    rise at other times."""
    los_truth = los_a_s if truth_los_a_s is None else truth_los_a_s
    aos_truth = aos_b_s if truth_aos_b_s is None else truth_aos_b_s
    a = LinkGeometry.constant("A", RANGE_A_KM, [(0.0, los_truth)])
    b = LinkGeometry.constant("B", RANGE_B_KM, [(aos_truth, 1000.0)])
    t_ready = aos_b_s + SETUP_S
    delete_s = los_a_s - 2.0 if delete_s is None else delete_s
    steps = (Step(t_ready, "ADDRESS_READY", B_ADDR, "B", 0),
             Step(t_ready, "ADD_IP", B_ADDR, "B", 0),
             Step(sp_s, "SET_PRIMARY", B_ADDR, "B", 0),
             Step(sp_s + 0.1, "LM_UPDATE", B_ADDR, "B", 0),
             Step(max(delete_s, sp_s + 0.2), "DELETE_IP", A_ADDR, "A", 0))
    return Replay("T", "2026-08-22T00:00:00Z", duration_s, (a, b), "A", A_ADDR, steps,
                  (Handover(0, "A", "B", sp_s, sp_s < los_a_s),), address_setup_s=SETUP_S)


def cbr(**kw) -> SimConfig:
    return SimConfig(rate_pps=RATE_PPS, terrestrial_s=TERRESTRIAL_S, **kw)


def test_conservation_and_causality_with_a_trace():
    cfg = cbr(loss_prob=0.01, keep_trace=True)
    rep = simulate(two_path_replay(), cfg)
    p = rep["packets"]
    assert p["sent"] == p["delivered"] + p["lost"] + p["in_flight"]
    assert p["lost"] == sum(rep["loss_causes"].values())
    log = rep["_trace"]
    ok = ~np.isnan(log.arrival_s)
    geometric = (np.where(log.ap[ok] == log.ap_index["A"], RANGE_A_KM, RANGE_B_KM) / C_KM_S
                 + TERRESTRIAL_S)
    delay = log.arrival_s[ok] - log.sent_s[ok]
    assert np.all(delay >= geometric - 1e-12)           # never faster than light
    assert rep["latency_ms"]["p50"] >= (RANGE_A_KM / C_KM_S + TERRESTRIAL_S) * 1e3


def test_ample_overlap_loses_nothing_to_the_handover():
    rep = simulate(two_path_replay(), cbr())
    assert rep["packets"]["lost"] == 0
    h = rep["handovers"][0]
    assert h["lost"] == 0
    # the gap is one packet interval plus the difference of the two paths' delays
    expected_ms = 1e3 / RATE_PPS + (RANGE_B_KM - RANGE_A_KM) / C_KM_S * 1e3
    assert h["handover_latency_ms"] == pytest.approx(expected_ms, abs=0.01)


def test_only_configured_random_loss_with_ample_overlap():
    rep = simulate(two_path_replay(), cbr(loss_prob=0.02, seed=7))
    causes = rep["loss_causes"]
    assert causes["random_loss"] > 0
    assert causes["link_down"] == causes["no_route"] == causes["queue_overflow"] == 0
    assert rep["handovers"][0]["lost"] == 0


def test_overlap_shorter_than_the_asconf_exchange_loses_packets():
    # A sets 10 ms after SET_PRIMARY leaves the MH: the CN still sends to A until the
    # ASCONF arrives (one-way ≈ 23 ms), so those packets die on the dead link
    rep = simulate(two_path_replay(los_a_s=30.010, sp_s=30.0, delete_s=30.2), cbr())
    one_way_up_s = RANGE_A_KM / C_KM_S + TERRESTRIAL_S
    expected = (one_way_up_s - 0.010 + TERRESTRIAL_S) * RATE_PPS
    lost = rep["loss_causes"]["link_down"]
    assert lost > 0 and abs(lost - expected) <= ONE_PACKET + 1


def test_hard_handover_loses_what_the_outage_predicts():
    # A sets at 30 s, B rises at 35 s: nothing can carry the association in between
    los_a, aos_b = 30.0, 35.0
    rep = simulate(two_path_replay(los_a_s=los_a, aos_b_s=aos_b, sp_s=aos_b + 0.2,
                                   delete_s=aos_b + 0.4), cbr())
    # packets sent to A from (LOS_A - terrestrial) until the CN hears SET_PRIMARY over B
    cn_switch = rep["handovers"][0]["cn_switch_s"]
    predicted = (cn_switch - (los_a - TERRESTRIAL_S - RANGE_A_KM / C_KM_S)) * RATE_PPS
    assert rep["handovers"][0]["lost"] == pytest.approx(predicted, abs=ONE_PACKET)
    assert rep["handovers"][0]["feasible"] is False


@pytest.mark.parametrize("guard_s, loses", [(2.0, True), (6.0, False)])
def test_truth_shifted_beyond_the_guard_loses_packets(guard_s, loses):
    # the plan believes A sets at 60 s; in truth it sets 4 s earlier
    planned_los, shift = 60.0, 4.0
    sp = planned_los - guard_s - 0.5
    replay = two_path_replay(los_a_s=planned_los, sp_s=sp, delete_s=planned_los - guard_s,
                             truth_los_a_s=planned_los - shift)
    lost = simulate(replay, cbr())["loss_causes"]["link_down"]
    assert (lost > 0) == loses


@pytest.mark.parametrize("direction", ["down", "up"])
def test_new_access_point_rising_late_delays_the_handover_not_the_data(direction):
    # the plan expects B at 20 s and switches 0.3 s later; in truth B rises at 25 s,
    # long after the planned ADD_IP and SET_PRIMARY, while A stays up until 60 s
    aos_b, lag = 20.0, 5.0
    replay = two_path_replay(aos_b_s=aos_b, sp_s=aos_b + 0.3, truth_aos_b_s=aos_b + lag)
    rep = simulate(replay, cbr(direction=direction))
    assert rep["packets"]["lost"] == 0
    switch = rep["handovers"][0]["cn_switch_s"]
    ready = aos_b + lag + SETUP_S                 # step 1 starts at the real rise
    # ADD_IP leaves at ready over A, its ACK comes back (the MH's routing moves then:
    # RFC 5061 lets it use B only once the CN has it), then SET_PRIMARY goes and comes
    # back (the CN's primary moves); each may wait a few ms in A's queues behind the data
    one_way_a = RANGE_A_KM / C_KM_S + TERRESTRIAL_S
    trips = 3 if direction == "down" else 2
    assert ready + trips * one_way_a <= switch <= ready + trips * one_way_a + QUEUE_WAIT_S
    # the same plan against a B that rises on time switches when planned
    on_time = simulate(two_path_replay(aos_b_s=aos_b, sp_s=aos_b + 0.3), cbr(direction=direction))
    assert on_time["packets"]["lost"] == 0
    assert on_time["handovers"][0]["cn_switch_s"] < aos_b + 0.4


def test_a_rise_late_by_less_than_the_plans_slack_changes_nothing():
    # B rises 50 ms late but the plan only switches at 30 s: same report as on time
    late = simulate(two_path_replay(truth_aos_b_s=20.05), cbr(loss_prob=0.01))
    on_time = simulate(two_path_replay(), cbr(loss_prob=0.01))
    assert late["packets"] == on_time["packets"]
    assert late["handovers"] == on_time["handovers"]


def test_lost_asconf_is_retransmitted_and_the_handover_completes():
    rep = simulate(two_path_replay(duration_s=300.0), cbr(loss_prob=0.3, seed=3))
    assert rep["signalling"]["retransmissions"]["ASCONF"] > 0
    assert rep["handovers"][0]["cn_switch_s"] is not None


def test_rto_backs_off_and_retransmits_to_the_alternate_address():
    # bulk data to A; A dies at 30 s without any SET_PRIMARY; B was added at 20 s.
    a = LinkGeometry.constant("A", RANGE_A_KM, [(0.0, 30.0)])
    b = LinkGeometry.constant("B", RANGE_B_KM, [(20.0, 1000.0)])
    steps = (Step(20.1, "ADDRESS_READY", B_ADDR, "B", 0), Step(20.1, "ADD_IP", B_ADDR, "B", 0))
    replay = Replay("T", "2026-08-22T00:00:00Z", 120.0, (a, b), "A", A_ADDR, steps, ())
    rep = simulate(replay, SimConfig(traffic="bulk", capacity_bps=2e6, keep_trace=True,
                                     lm_query_rate_per_s=0.0))
    log = rep["_trace"]
    via_a = log.ap == log.ap_index["A"]
    via_b = log.ap == log.ap_index["B"]
    # Path.Max.Retrans = 5: the sixth T3-rtx expiry after A's death marks it failed,
    # after RTO backoff of at least 1 + 2 + 4 + 8 + 16 s
    failures = rep["path_failures"]
    assert [f["address"] for f in failures] == [A_ADDR]
    failed_at = failures[0]["t_s"]
    assert 30.0 + 1 + 2 + 4 + 8 + 16 <= failed_at <= 30.0 + 3 + 6 + 12 + 24 + 48 + 60
    # meanwhile every expiry retransmits to the alternate address, B
    assert np.any(via_b & (log.sent_s > 30.0) & (log.sent_s < failed_at))
    # after the failure nothing more goes to A and the transfer runs on B
    assert not np.any(via_a & (log.sent_s > failed_at))
    after = via_b & (log.sent_s > failed_at) & ~np.isnan(log.arrival_s)
    assert after.sum() > 1000


def test_congestion_control_fills_a_known_bottleneck():
    capacity_bps = 5e6
    link = LinkGeometry.constant("A", RANGE_A_KM, [(0.0, 1000.0)])
    replay = Replay("T", "2026-08-22T00:00:00Z", 60.0, (link,), "A", A_ADDR, (), ())
    cfg = SimConfig(traffic="bulk", capacity_bps=capacity_bps, queue_pkts=100,
                    lm_query_rate_per_s=0.0)
    rep = simulate(replay, cfg)
    goodput_max = capacity_bps * cfg.payload_bytes / (cfg.payload_bytes + 68)
    assert rep["throughput_bps"] == pytest.approx(goodput_max, rel=0.10)
    assert rep["loss_causes"]["queue_overflow"] > 0          # it probed the queue


def test_same_seed_same_report_byte_for_byte():
    replay = two_path_replay()
    a = json.dumps(simulate(replay, cbr(loss_prob=0.05, seed=11)), sort_keys=True)
    b = json.dumps(simulate(replay, cbr(loss_prob=0.05, seed=11)), sort_keys=True)
    c = json.dumps(simulate(replay, cbr(loss_prob=0.05, seed=12)), sort_keys=True)
    assert a == b and a != c


def test_location_manager_answers_go_stale_only_around_the_handover():
    rep = simulate(two_path_replay(duration_s=600.0), cbr(lm_query_rate_per_s=2.0, seed=5))
    lm = rep["location_manager"]
    assert lm["queries"] > 1000 and lm["updates_stored"] == 1
    # after LOS of A (60 s) any answer naming A would be stale; the update lands at ~30 s
    assert lm["stale_answers"] <= 2.0 * 1.0


def test_uplink_cbr_follows_the_mh_routing_table():
    rep = simulate(two_path_replay(), cbr(direction="up"))
    assert rep["packets"]["lost"] == 0
    assert rep["handovers"][0]["handover_latency_ms"] is not None


def test_reports_validate_against_the_shipped_schema():
    import importlib.resources

    import jsonschema

    schema = json.loads((importlib.resources.files("sigma_sn") / "schemas" / "report-1.json")
                        .read_text())
    for cfg in (cbr(), cbr(direction="up", loss_prob=0.1),
                SimConfig(traffic="bulk", capacity_bps=2e6)):
        rep = simulate(two_path_replay(), cfg)
        jsonschema.validate(json.loads(json.dumps(rep)), schema)


def test_link_delay_interpolates_on_an_uneven_grid_in_any_order():
    from sigma_sn.sim import Link

    t = np.array([0.0, 10.0, 100.0, 110.0])
    rng = np.array([1000.0, 1100.0, 2000.0, 1900.0])
    g = LinkGeometry("A", t, rng, np.full(4, 30.0), ((0.0, 15.0), (95.0, 110.0)))
    link = Link(g, capacity_bps=1e6, queue_pkts=10)
    probe = [105.0, 5.0, 0.0, 110.0, 50.0, 3.0, 200.0, -1.0, 109.999]
    expected = np.interp(probe, t, rng) / C_KM_S
    assert [link.delay_s(x) for x in probe] == pytest.approx(expected, abs=1e-12)
    assert [link.up_since(x) for x in (0.0, 15.0, 50.0, 100.0, 111.0)] == [
        0.0, 0.0, np.inf, 95.0, np.inf]
    assert [link.next_up(x) for x in (0.0, 50.0, 100.0)] == [95.0, 95.0, np.inf]
    with pytest.raises(ValueError, match="sample times must increase"):
        LinkGeometry("B", np.array([0.0, 5.0, 5.0]), np.ones(3), np.ones(3), ())


def test_trace_csv_of_a_bare_log_has_one_row_per_packet(tmp_path):
    import csv

    from sigma_sn.sim import write_trace_csv

    rep = simulate(two_path_replay(los_a_s=30.0, aos_b_s=35.0, sp_s=35.2, delete_s=35.4),
                   cbr(keep_trace=True))
    path = tmp_path / "t.csv"
    assert write_trace_csv(path, rep["_trace"]) == rep["packets"]["sent"]
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    lost = [r for r in rows if r["cause"]]
    assert len(lost) == rep["packets"]["lost"] > 0
    assert {r["cause"] for r in lost} == {"link_down"} and lost[0]["ap"] == "A"
    assert all(r["arrival_s"] == r["latency_ms"] == "" and r["mobile"] == "" for r in lost)
    assert [int(r["seq"]) for r in rows] == list(range(len(rows)))
    r = next(r for r in rows if not r["cause"])
    assert float(r["latency_ms"]) == pytest.approx(
        (float(r["arrival_s"]) - float(r["sent_s"])) * 1e3, abs=2e-3)


def test_a_coverage_gap_belongs_to_the_hard_handover_after_it_not_the_soft_one_before():
    # gpm-host's pattern: a soft handover A -> B early in B's pass, B sets at 300 s, and
    # nothing is up until C rises at 700 s (a hard handover). The gap's loss and the
    # interruption after it are the hard handover's; the soft one lost nothing.
    c_addr = "2001:db8:c::1"
    a = LinkGeometry.constant("A", RANGE_A_KM, [(0.0, 100.0)])
    b = LinkGeometry.constant("B", RANGE_B_KM, [(50.0, 300.0)])
    c = LinkGeometry.constant("C", RANGE_A_KM, [(700.0, 900.0)])
    steps = (Step(50.1, "ADDRESS_READY", B_ADDR, "B", 0), Step(50.1, "ADD_IP", B_ADDR, "B", 0),
             Step(60.0, "SET_PRIMARY", B_ADDR, "B", 0), Step(60.1, "LM_UPDATE", B_ADDR, "B", 0),
             Step(98.0, "DELETE_IP", A_ADDR, "A", 0),
             Step(700.1, "ADDRESS_READY", c_addr, "C", 1), Step(700.1, "ADD_IP", c_addr, "C", 1),
             Step(700.2, "SET_PRIMARY", c_addr, "C", 1),
             Step(700.3, "LM_UPDATE", c_addr, "C", 1), Step(700.3, "DELETE_IP", B_ADDR, "B", 1))
    replay = Replay("T", "2026-08-22T00:00:00Z", 900.0, (a, b, c), "A", A_ADDR, steps,
                    (Handover(0, "A", "B", 60.0, True), Handover(1, "B", "C", 700.2, False)),
                    address_setup_s=SETUP_S)
    rep = simulate(replay, SimConfig(rate_pps=10.0, terrestrial_s=TERRESTRIAL_S,
                                     lm_query_rate_per_s=0.0))
    soft, hard = rep["handovers"]
    assert (soft["interruption_ms"], soft["lost"], soft["coverage_gap_s"]) == (0.0, 0, 0)
    assert soft["handover_latency_ms"] is not None
    assert hard["break_s"] == 300.0                    # B's LOS, as Mobile IP's break
    assert hard["coverage_gap_s"] == 400.0
    assert hard["lost"] == rep["packets"]["lost"] >= 400.0 * 10
    # after the gap: C's address is ready 0.1 s after it rises, then the ASCONFs
    assert 100.0 <= hard["interruption_ms"] <= 300.0
