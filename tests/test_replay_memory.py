"""A replay's memory grows with its packets only by the packet log (sent, arrival,
access point, cause: 21 bytes a packet): everything else it keeps is per window, per
handover or per report bin, so a long bulk run does not pile up per-packet objects."""

from __future__ import annotations

import tracemalloc

from sigma_sn.sim import LinkGeometry, Replay, SimConfig
from sigma_sn.sim.run import report_from_outcomes, run_replay
from tests.test_sim import A_ADDR, RANGE_A_KM

LOG_BYTES_PER_PACKET = 8 + 8 + 4 + 1
#: the log's arrays over-allocate by up to 1/8 as they grow; the rest is slack
GROWTH_LIMIT_BYTES = 1.5 * LOG_BYTES_PER_PACKET


def held_after_bulk_run(end_s: float) -> tuple[int, int]:
    """Bytes still allocated after a bulk replay of ``end_s`` (its outcome alive), and
    the packets it sent."""
    a = LinkGeometry.constant("A", RANGE_A_KM, [(0.0, end_s)])
    replay = Replay("T", "2026-08-22T00:00:00Z", end_s, (a,), "A", A_ADDR, (), ())
    cfg = SimConfig(traffic="bulk", capacity_bps=1e6, lm_query_rate_per_s=0.0)
    tracemalloc.start()
    try:
        out = run_replay(replay, cfg)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    report = report_from_outcomes([out], cfg)
    assert report["throughput_bps"] > 0.8e6      # the link was kept busy
    return held, out.log.n


def test_bulk_replay_grows_only_by_its_packet_log():
    held_short, n_short = held_after_bulk_run(200.0)
    held_long, n_long = held_after_bulk_run(600.0)
    assert n_long > 2.5 * n_short
    per_packet = (held_long - held_short) / (n_long - n_short)
    assert per_packet < GROWTH_LIMIT_BYTES, f"{per_packet:.0f} bytes per packet"
