"""The association against the RFCs it claims to follow: out-of-the-blue packets
(RFC 4960 §8.4), ASCONF error causes and retransmission limits (RFC 5061), one RTO per
destination (RFC 4960 §6.3), AUTH chunks on the wire (RFC 4895)."""

from __future__ import annotations

import numpy as np
import pytest

from sigma_sn.geometry import C_KM_S
from sigma_sn.sim import LinkGeometry, Replay, SimConfig, Step
from sigma_sn.sim.model import AUTH_CHUNK_BYTES, call_at
from sigma_sn.sim.run import report_from_outcomes, run_replay
from sigma_sn.sim.security import SecurityConfig, simulate_with_attacks
from tests.test_sim import (A_ADDR, B_ADDR, RANGE_A_KM, RANGE_B_KM, TERRESTRIAL_S, cbr,
                            two_path_replay)

START = "2026-08-22T00:00:00Z"
ONE_WAY_A_S = RANGE_A_KM / C_KM_S + TERRESTRIAL_S
QUEUE_WAIT_S = 0.005
ASSOC_MAX_RETRANS = 10                  # RFC 4960 §15 default


def both_up(steps, duration_s=100.0) -> Replay:
    """A and B both up the whole time; the plan is ``steps``."""
    a = LinkGeometry.constant("A", RANGE_A_KM, [(0.0, 1000.0)])
    b = LinkGeometry.constant("B", RANGE_B_KM, [(0.0, 1000.0)])
    return Replay("T", START, duration_s, (a, b), "A", A_ADDR, tuple(steps), ())


def run(replay, cfg, prepare=None):
    out = run_replay(replay, cfg, prepare=prepare)
    return report_from_outcomes([out], cfg), out


def test_uplink_from_an_address_the_cn_has_not_added_is_dropped_out_of_the_blue():
    # B is ready at 20.1 s but its ADD_IP only leaves at 25 s; a mobile forced to send
    # from B at once sends ~5 s of packets from an address the CN does not know
    steps = (Step(20.1, "ADDRESS_READY", B_ADDR, "B", 0), Step(25.0, "ADD_IP", B_ADDR, "B", 0))

    def force_early(env, assoc):
        call_at(env, 20.1 + 1e-9, setattr, assoc, "src_primary", B_ADDR)

    rep, _ = run(both_up(steps, 40.0), cbr(direction="up", keep_trace=True), force_early)
    ootb = rep["loss_causes"]["out_of_the_blue"]
    # sent in [20.1, 25 + one way A - one way B): 100 packets/s
    expected = (25.0 + ONE_WAY_A_S - (RANGE_B_KM / C_KM_S + TERRESTRIAL_S) - 20.1) * 100
    assert abs(ootb - expected) <= 2
    assert rep["packets"]["lost"] == ootb
    log = rep["_trace"]
    dropped = log.cause == log_cause_index("out_of_the_blue")
    assert np.all(log.ap[dropped] == log.ap_index["B"]) and np.all(np.isnan(log.arrival_s[dropped]))
    assert 20.1 <= log.sent_s[dropped].min() and log.sent_s[dropped].max() < 25.0


def log_cause_index(name: str) -> int:
    from sigma_sn.sim.model import CAUSES
    return CAUSES.index(name)


def test_planned_uplink_switches_source_only_after_the_add_ip_is_acknowledged():
    # ADD_IP and SET_PRIMARY at the same instant: the MH must keep sending from A until
    # the CN has acknowledged B (RFC 5061), so nothing is out of the blue
    steps = (Step(20.1, "ADDRESS_READY", B_ADDR, "B", 0), Step(20.1, "ADD_IP", B_ADDR, "B", 0),
             Step(20.1, "SET_PRIMARY", B_ADDR, "B", 0))
    rep, _ = run(both_up(steps, 40.0), cbr(direction="up", keep_trace=True))
    assert rep["packets"]["lost"] == 0
    log = rep["_trace"]
    first_via_b = log.sent_s[log.ap == log.ap_index["B"]].min()
    assert 20.1 + 2 * ONE_WAY_A_S <= first_via_b <= 20.1 + 2 * ONE_WAY_A_S + QUEUE_WAIT_S + 0.01


def test_set_primary_for_an_address_the_peer_lacks_is_unresolvable_not_an_add():
    steps = (Step(20.1, "ADDRESS_READY", B_ADDR, "B", 0), Step(20.1, "SET_PRIMARY", B_ADDR, "B", 0))
    rep, out = run(both_up(steps, 60.0), cbr(keep_trace=True))
    assert out.endpoint.primary == A_ADDR and B_ADDR not in out.endpoint.dests
    assert rep["association"]["asconf_errors"] == {"unresolvable_address": 1}
    log = rep["_trace"]
    assert not np.any(log.ap == log.ap_index["B"])     # the CN never sent to B
    assert rep["packets"]["lost"] == 0
    # the ASCONF-ACK carries the Error Cause: it is larger than a plain one
    ack = rep["signalling"]["by_kind"]["ASCONF-ACK"]
    assert ack["bytes"] > 60 * ack["messages"]


def test_delete_of_the_asconfs_own_source_address_is_refused():
    # DELETE_IP of A sent from A (still the MH's primary): rule F8
    steps = (Step(20.1, "ADDRESS_READY", B_ADDR, "B", 0), Step(20.1, "ADD_IP", B_ADDR, "B", 0),
             Step(30.0, "DELETE_IP", A_ADDR, "A", 0))
    rep, out = run(both_up(steps, 60.0), cbr(keep_trace=True))
    assert A_ADDR in out.endpoint.bound               # the MH knows it was refused
    assert A_ADDR in out.endpoint.dests               # the CN keeps it
    assert rep["association"]["asconf_errors"] == {"request_to_delete_source_address": 1}
    log = rep["_trace"]
    assert rep["packets"]["lost"] == 0
    assert np.any((log.ap == log.ap_index["A"]) & (log.sent_s > 31.0))


def test_delete_of_the_last_remaining_address_is_refused():
    # A is the only address the CN holds; the MH (A's link down, B's up but never
    # added) asks from B to delete A: rule F7 wins over everything else
    a = LinkGeometry.constant("A", RANGE_A_KM, [(0.0, 30.0)])
    b = LinkGeometry.constant("B", RANGE_B_KM, [(0.0, 1000.0)])
    steps = (Step(20.1, "ADDRESS_READY", B_ADDR, "B", 0), Step(40.0, "DELETE_IP", A_ADDR, "A", 0))
    replay = Replay("T", START, 60.0, (a, b), "A", A_ADDR, steps, ())
    rep, out = run(replay, SimConfig(rate_pps=10.0, lm_query_rate_per_s=0.0))
    assert A_ADDR in out.endpoint.bound and A_ADDR in out.endpoint.dests
    assert rep["association"]["asconf_errors"] == {"request_to_delete_last_remaining_address": 1}


def test_asconf_retransmission_stops_at_assoc_max_retrans_and_aborts():
    # the CN never answers ASCONFs: after Assoc.Max.Retrans retransmissions the MH
    # gives up and the association is aborted (RFC 4960 §8.1, RFC 5061 §5.1 B2)
    steps = (Step(20.1, "ADDRESS_READY", B_ADDR, "B", 0), Step(20.1, "ADD_IP", B_ADDR, "B", 0))

    def deaf_cn(env, assoc):
        assoc.cn_receive_asconf = lambda *a, **k: None

    cfg = SimConfig(rate_pps=10.0, lm_query_rate_per_s=0.0)
    rep, _ = run(both_up(steps, 1200.0), cfg, deaf_cn)
    assert rep["signalling"]["retransmissions"]["ASCONF"] == ASSOC_MAX_RETRANS
    assert rep["signalling"]["by_kind"]["ASCONF"]["messages"] == ASSOC_MAX_RETRANS + 1
    (abort,) = rep["association"]["aborted"]
    # at least RTO.Min doubling each time, at most RTO.Max each time
    assert 20.1 + 1 + 2 + 4 + 8 + 16 + 32 <= abort["t_s"] <= 20.1 + 11 * 60.0
    # data stops with it, and says why
    after = rep["loss_causes"]["association_aborted"]
    assert after == pytest.approx((1200.0 - abort["t_s"]) * 10.0, abs=1.0)
    assert rep["packets"]["lost"] == after


def test_each_destination_has_its_own_rto():
    # uplink bulk over A teaches the MH's RTO for its destination (the CN) ~RTO.Min;
    # an ASCONF to the same destination is retransmitted on that RTO, not on a
    # separate association-wide estimator still at RTO.Initial (RFC 4960 §6.3,
    # RFC 5061 §5.1 B3)
    steps = (Step(20.1, "ADDRESS_READY", B_ADDR, "B", 0), Step(20.1, "ADD_IP", B_ADDR, "B", 0))
    sent: list[float] = []

    def lose_first_asconf(env, assoc):
        receive, transmit = assoc.cn_receive_asconf, assoc._transmit_asconf
        seen = []

        def cn(*args, **kw):
            seen.append(1)
            if len(seen) > 1:
                receive(*args, **kw)

        def tx():
            sent.append(env.now)
            transmit()
        assoc.cn_receive_asconf, assoc._transmit_asconf = cn, tx

    cfg = SimConfig(traffic="bulk", direction="up", capacity_bps=2e6, lm_query_rate_per_s=0.0)
    _, out = run(both_up(steps, 40.0), cfg, lose_first_asconf)
    assert len(sent) == 2
    assert sent[1] - sent[0] < cfg.rto_initial_s
    rto_cn = out.endpoint.peer.rto
    assert sent[1] - sent[0] == pytest.approx(max(cfg.rto_min_s, rto_cn.srtt), abs=0.5)
    # the CN's view of the MH: one estimator per address; B, new, starts at RTO.Initial
    dests = out.endpoint.dests
    assert dests[A_ADDR].rto is not dests[B_ADDR].rto


def test_auth_chunks_count_in_the_signalling_bytes():
    replay = two_path_replay()
    plain = simulate_with_attacks(replay, cbr(), SecurityConfig(auth=False))["signalling"]
    signed = simulate_with_attacks(replay, cbr(), SecurityConfig(auth=True))["signalling"]
    for kind in ("ASCONF", "ASCONF-ACK"):               # RFC 5061 §4.1.1: both signed
        n = signed["by_kind"][kind]["messages"]
        assert n == plain["by_kind"][kind]["messages"] > 0
        assert (signed["by_kind"][kind]["bytes"] - plain["by_kind"][kind]["bytes"]
                == n * AUTH_CHUNK_BYTES)
    assert AUTH_CHUNK_BYTES == 8 + 32                   # RFC 4895 §4.2, HMAC-SHA-256
    assert signed["by_kind"]["LM_UPDATE"] == plain["by_kind"]["LM_UPDATE"]
