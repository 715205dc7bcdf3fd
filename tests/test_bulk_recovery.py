"""Path failure and recovery (RFC 4960 §8.2, §8.3): a destination that stops answering
is marked inactive, HEARTBEATs keep probing it, and traffic resumes on any address that
answers. The same path management serves CBR and bulk traffic."""

from __future__ import annotations

import numpy as np
import pytest

from sigma_sn.sim import LinkGeometry, Replay, SimConfig, Step, simulate
from tests.test_sim import A_ADDR, B_ADDR, RANGE_A_KM, RANGE_B_KM

START = "2026-08-22T00:00:00Z"
HB_INTERVAL_S = 30.0
RTO_MAX_S = 60.0
#: a HEARTBEAT round is HB.interval + RTO jittered by ±RTO/2; RTO is at most RTO.Max
LONGEST_HB_ROUND_S = HB_INTERVAL_S + 1.5 * RTO_MAX_S


def one_link_with_a_gap(gap_s=(30.0, 600.0), end_s=900.0) -> Replay:
    """A single access point, silent for ``gap_s`` (a pass ends, the next begins)."""
    a = LinkGeometry.constant("A", RANGE_A_KM, [(0.0, gap_s[0]), (gap_s[1], end_s)])
    return Replay("T", START, end_s, (a,), "A", A_ADDR, (), ())


def bulk(**kw) -> SimConfig:
    return SimConfig(traffic="bulk", capacity_bps=2e6, lm_query_rate_per_s=0.0,
                     keep_trace=True, **kw)


@pytest.mark.parametrize("traffic", ["bulk", "cbr"])
def test_a_path_that_fails_is_probed_and_recovers(traffic):
    cfg = bulk() if traffic == "bulk" else SimConfig(lm_query_rate_per_s=0.0, keep_trace=True)
    rep = simulate(one_link_with_a_gap(), cfg)
    events = [(e["address"], e["event"]) for e in rep["association"]["path_events"]
              if e["address"] == A_ADDR]
    assert events == [(A_ADDR, "failed"), (A_ADDR, "recovered")]
    failed, recovered = (e for e in rep["association"]["path_events"] if e["address"] == A_ADDR)
    assert 30.0 < failed["t_s"] < 600.0
    # the first probe after A is back answers: recovery within one HEARTBEAT round
    assert 600.0 < recovered["t_s"] <= 600.0 + LONGEST_HB_ROUND_S
    assert recovered["t_utc"] == "2026-08-22T00:%02d:%09.6fZ" % divmod(recovered["t_s"], 60)
    assert {"mobile": "T", "t_s": failed["t_s"], "address": A_ADDR} in rep["path_failures"]
    # the MH probes its one destination, the CN, the same way
    assert [e["event"] for e in rep["association"]["path_events"]
            if e["address"] == "CN"] == ["failed", "recovered"]
    log = rep["_trace"]
    delivered_after = ~np.isnan(log.arrival_s) & (log.sent_s > 600.0)
    assert delivered_after.sum() > 1000
    validate_report(rep)
    from sigma_sn.cli.simulate import summary

    assert "paths: 2 failures, 2 recoveries" in summary(rep, "gap")


def validate_report(rep: dict) -> None:
    import importlib.resources
    import json

    import jsonschema

    schema = json.loads((importlib.resources.files("sigma_sn") / "schemas" / "report-1.json")
                        .read_text())
    plain = {k: v for k, v in rep.items() if not k.startswith("_")}
    jsonschema.validate(json.loads(json.dumps(plain)), schema)


def test_bulk_resumes_on_a_new_address_added_after_the_old_one_failed():
    # gpm-host's hard handovers: A sets at 30 s, nothing is up until B rises at 100 s;
    # A fails meanwhile, then the MH adds B (its ASCONF goes from B) and makes it primary
    a = LinkGeometry.constant("A", RANGE_A_KM, [(0.0, 30.0)])
    b = LinkGeometry.constant("B", RANGE_B_KM, [(100.0, 1000.0)])
    steps = (Step(100.1, "ADDRESS_READY", B_ADDR, "B", 0), Step(100.1, "ADD_IP", B_ADDR, "B", 0),
             Step(100.1, "SET_PRIMARY", B_ADDR, "B", 0))
    rep = simulate(Replay("T", START, 300.0, (a, b), "A", A_ADDR, steps, ()), bulk())
    log = rep["_trace"]
    via_b = (log.ap == log.ap_index["B"]) & ~np.isnan(log.arrival_s)
    assert via_b.sum() > 10000                      # ~200 s at ~230 packets/s
    assert log.sent_s[via_b].min() < 100.1 + 1.0    # right after the SET_PRIMARY lands
    assert rep["throughput_bps"] > 0.5 * 2e6 * 200.0 / 300.0


def test_path_management_is_the_same_for_cbr_and_bulk():
    # one mechanism: the same gap is detected by both kinds of traffic, through the same
    # per-destination error counter; HEARTBEATs (not just data) drive it
    reps = {kind: simulate(one_link_with_a_gap(), cfg) for kind, cfg in
            (("bulk", bulk()), ("cbr", SimConfig(lm_query_rate_per_s=0.0)))}
    for rep in reps.values():
        assert rep["signalling"]["by_kind"]["HEARTBEAT"]["messages"] > 0
        assert rep["signalling"]["by_kind"]["HEARTBEAT-ACK"]["messages"] > 0
    for kind in reps:
        ev = [e["event"] for e in reps[kind]["association"]["path_events"]
              if e["address"] == A_ADDR]
        assert ev == ["failed", "recovered"], kind


def test_heartbeats_come_every_interval_plus_a_jittered_rto():
    # a quiet association (CBR uplink: the CN sends no data, so A is idle at the CN)
    a = LinkGeometry.constant("A", RANGE_A_KM, [(0.0, 1000.0)])
    replay = Replay("T", START, 1000.0, (a,), "A", A_ADDR, (), ())
    from sigma_sn.sim.run import run_replay

    sent: list[float] = []

    def prepare(env, assoc):
        original = assoc._send_heartbeat

        def spy(d, now):
            if d.address == A_ADDR:
                sent.append(now)
            original(d, now)
        assoc._send_heartbeat = spy

    out = run_replay(replay, SimConfig(direction="up", rate_pps=1.0, lm_query_rate_per_s=0.0),
                     prepare=prepare)
    gaps = np.diff(sent)[1:]               # the first round ran on RTO.Initial, 3 s
    rto = out.endpoint.dests[A_ADDR].rto.rto         # RTO.Min: the RTT is ~30 ms
    assert rto == pytest.approx(1.0)
    assert np.all(gaps >= HB_INTERVAL_S + 0.5 * rto) and np.all(gaps <= HB_INTERVAL_S + 1.5 * rto)
    assert np.std(gaps) > 0.1                         # jittered (seeded: same run, same gaps)


def test_a_returning_address_is_usable_at_once_when_the_mobile_adds_it_again():
    # zig-zag: A is deactivated and away long enough to fail; when A is back the MH
    # adds it again and makes it primary: data takes A at once, not a HEARTBEAT later
    a = LinkGeometry.constant("A", RANGE_A_KM, [(0.0, 30.0), (400.0, 800.0)])
    b = LinkGeometry.constant("B", RANGE_B_KM, [(20.0, 500.0)])
    steps = (Step(20.1, "ADDRESS_READY", B_ADDR, "B", 0), Step(20.1, "ADD_IP", B_ADDR, "B", 0),
             Step(20.3, "SET_PRIMARY", B_ADDR, "B", 0), Step(28.0, "DEACTIVATE", A_ADDR, "A", 0),
             Step(400.1, "ADD_IP", A_ADDR, "A", 1), Step(400.3, "SET_PRIMARY", A_ADDR, "A", 1),
             Step(498.0, "DEACTIVATE", B_ADDR, "B", 1))
    replay = Replay("T", START, 600.0, (a, b), "A", A_ADDR, steps, ())
    rep = simulate(replay, SimConfig(rate_pps=10.0, lm_query_rate_per_s=0.0, keep_trace=True))
    events = [(e["event"], e["t_s"]) for e in rep["association"]["path_events"]
              if e["address"] == A_ADDR]
    assert events[0][0] == "failed" and events[0][1] < 400.0
    assert events[1][0] == "recovered" and 400.1 < events[1][1] < 400.2
    assert rep["packets"]["lost"] == 0


class _Clock:
    """Just enough of an association to drive one destination's T3-rtx timer by hand."""

    def __init__(self, cfg: SimConfig):
        from types import SimpleNamespace

        self.env = SimpleNamespace(now=0.0)
        self.dests: dict = {}
        self.listeners: list = []
        self.pending: list = []                  # (time, callback, args) as scheduled
        self.stats = SimpleNamespace(aborted_s=None)
        self.errors = 0
        self.cfg = cfg

    def at(self, t, fn, *args):
        self.pending.append((t, fn, args))

    def path_error(self, d):
        self.errors += 1

    def cn_destination(self):
        return None                              # nothing to retransmit to


def test_a_stale_t3_timer_of_a_deleted_address_does_not_fire_on_its_re_added_state():
    # RFC 4960 §6.3.2: the T3-rtx timer belongs to one destination. The address is
    # deleted while its timer is pending and added again (a new Destination, a fresh
    # PathState): the old wake-up must not touch the new timer.
    from sigma_sn.sim.bulk import BulkTransfer
    from sigma_sn.sim.model import Destination

    cfg = bulk()
    assoc = _Clock(cfg)
    transfer = BulkTransfer(assoc, cfg, log=None, end_s=100.0)
    assoc.dests[A_ADDR] = Destination(A_ADDR, "A", cfg, 0.0)
    transfer.start_timer(A_ADDR)                      # deadline RTO.Initial = 3 s
    (stale_t, stale_fn, stale_args), = assoc.pending
    assoc.env.now = 1.0
    del assoc.dests[A_ADDR]                           # DELETE_IP at 1 s ...
    assoc.env.now = 2.0
    assoc.dests[A_ADDR] = Destination(A_ADDR, "A", cfg, 2.0)   # ... ADD_IP at 2 s
    transfer.start_timer(A_ADDR)                      # the new state's deadline: 5 s
    new = transfer.path(A_ADDR)
    before = (new.armed_at, new.wake_token, new.timer_token, len(assoc.pending))
    assoc.env.now = stale_t
    stale_fn(*stale_args)                             # the old timer's wake-up, at 3 s
    assert (new.armed_at, new.wake_token, new.timer_token, len(assoc.pending)) == before
    assert new.timer_running and assoc.errors == 0
    # the new state's own wake-up still expires it on time
    t, fn, args = assoc.pending[-1]
    assert t == pytest.approx(5.0)
    assoc.env.now = t
    fn(*args)
    assert assoc.errors == 1
