"""A replay's memory does not grow with its length: the packet log streams to disk in
chunks (sigma_sn.sim.spill), and the report is made from one pass over it that keeps
counts, per-bin sums and per-handover figures (sigma_sn.sim.logpass). The report must
not change: the same bytes as from the whole log held in memory, percentiles included."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from sigma_sn.sim import LinkGeometry, Replay, SimConfig, run, spill
from sigma_sn.sim.logpass import latency_percentiles_ms, weighted_summary_ms
from sigma_sn.sim.model import PacketLog
from sigma_sn.sim.run import _percentiles_ms, report_from_outcomes, run_replay
from sigma_sn.sim.trace import write_trace_csv
from tests.test_sim import A_ADDR, RANGE_A_KM, cbr, two_path_replay

#: packets per chunk in these tests: small, so that short runs spill many chunks
SMALL_CHUNK = 512


def _public(report: dict) -> str:
    return json.dumps({k: v for k, v in report.items() if not k.startswith("_")},
                      sort_keys=True)


def _report(replay, cfg, **kw):
    return report_from_outcomes([run_replay(replay, cfg, **kw)], cfg)


@pytest.mark.parametrize("cfg", [
    cbr(loss_prob=0.01),                                  # random loss: runs, causes
    cbr(direction="up"),
    SimConfig(traffic="bulk", capacity_bps=2e6, loss_prob=0.002),
], ids=["cbr-down-lossy", "cbr-up", "bulk"])
@pytest.mark.parametrize("hard", [False, True], ids=["soft", "hard"])
def test_spilled_log_gives_the_report_of_the_log_held_in_memory(monkeypatch, cfg, hard):
    """Handovers, interruptions, percentiles, time series: the same bytes, whether the log
    stays in memory or crosses many chunks on disk."""
    replay = two_path_replay(los_a_s=25.0 if hard else 60.0, aos_b_s=20.0,
                             sp_s=30.0, duration_s=400.0)
    whole = _report(replay, cfg, log_factory=PacketLog)
    monkeypatch.setattr(spill, "CHUNK_PACKETS", SMALL_CHUNK)
    out = run_replay(replay, cfg)
    assert isinstance(out.log, spill.SpilledLog)
    assert len(out.log._spilled) > 5                  # the pass really crossed chunks
    streamed = report_from_outcomes([out], cfg)
    assert _public(streamed) == _public(whole)


def test_trace_from_disk_is_the_trace_from_memory(monkeypatch, tmp_path):
    replay = two_path_replay(los_a_s=25.0, sp_s=30.0, duration_s=200.0)
    cfg = cbr(keep_trace=True, loss_prob=0.01)
    write_trace_csv(tmp_path / "memory.csv", _report(replay, cfg, log_factory=PacketLog))
    monkeypatch.setattr(spill, "CHUNK_PACKETS", SMALL_CHUNK)
    write_trace_csv(tmp_path / "disk.csv", _report(replay, cfg))
    assert (tmp_path / "disk.csv").read_bytes() == (tmp_path / "memory.csv").read_bytes()


class _Chunks:
    """A stand-in log: latencies as delivered packets sent at 0, in chunks."""

    def __init__(self, latency_s, size):
        self.latency_s, self.size = latency_s, size

    def chunks(self):
        for lo in range(0, len(self.latency_s), self.size):
            a = self.latency_s[lo:lo + self.size].copy()
            yield lo, np.zeros(len(a)), a, np.zeros(len(a), np.int32), np.full(len(a), -1,
                                                                               np.int8)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 100, 5001])
def test_streamed_percentiles_are_numpys_exactly(n):
    from sigma_sn.sim.logpass import LatencyHistogram

    rng = np.random.default_rng(n)
    # clustered values: many share a bucket, some are equal
    lat = np.round(rng.gamma(2.0, 0.01, n) + 0.02, 7)
    parts = []
    for piece in np.array_split(lat, 3):
        h = LatencyHistogram()
        for lo in range(0, len(piece), 97):
            h.add(piece[lo:lo + 97])
        parts.append((h, _Chunks(piece, 97)))
    assert latency_percentiles_ms(parts, end_s=1e9) == _percentiles_ms(lat)
    values, counts = np.unique(lat, return_counts=True)
    assert weighted_summary_ms(values, counts)["p95"] == round(
        float(np.percentile(lat, 95)) * 1e3, 3)


def peak_bytes_of_bulk_run(end_s: float) -> tuple[int, int]:
    """tracemalloc's peak over a bulk replay of ``end_s`` and its report, and the packets
    it sent."""
    a = LinkGeometry.constant("A", RANGE_A_KM, [(0.0, end_s)])
    replay = Replay("T", "2026-08-22T00:00:00Z", end_s, (a,), "A", A_ADDR, (), ())
    cfg = SimConfig(traffic="bulk", capacity_bps=1e6, lm_query_rate_per_s=0.0)
    tracemalloc.start()
    try:
        out = run_replay(replay, cfg)
        report = report_from_outcomes([out], cfg)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report["throughput_bps"] > 0.8e6      # the link was kept busy
    return peak, report["packets"]["sent"]


#: bytes the peak may grow by per packet more sent (the log alone was 21 before)
GROWTH_LIMIT_BYTES_PER_PACKET = 1.0


def test_bulk_replay_peak_memory_does_not_grow_with_its_length(monkeypatch):
    """tracemalloc's peak, 5 min against 20 min. The report's time series has as many
    bins as the run has seconds, up to 2000: a per-interval aggregate that grows until
    then by design, held still here so that what is left is what grows per packet."""
    monkeypatch.setattr(spill, "CHUNK_PACKETS", 4096)
    monkeypatch.setattr(run, "TIMESERIES_BINS", 100)
    peak_bytes_of_bulk_run(60.0)          # first-use allocations (caches, imports) go here
    peak_short, n_short = peak_bytes_of_bulk_run(300.0)
    peak_long, n_long = peak_bytes_of_bulk_run(1200.0)
    assert n_long > 3.5 * n_short
    per_packet = (peak_long - peak_short) / (n_long - n_short)
    assert per_packet < GROWTH_LIMIT_BYTES_PER_PACKET, (
        f"{per_packet:.2f} bytes per packet ({peak_short} -> {peak_long} bytes)")


def test_a_spilled_log_crosses_processes_whole(monkeypatch):
    """A worker's replay comes back pickled: its log's chunks must come with it."""
    import pickle

    monkeypatch.setattr(spill, "CHUNK_PACKETS", SMALL_CHUNK)
    out = run_replay(two_path_replay(duration_s=200.0), cbr())
    log = out.log.trimmed()
    back = pickle.loads(pickle.dumps(log))
    assert back.n == log.n > 4 * SMALL_CHUNK
    for column in ("sent_s", "arrival_s", "ap", "cause"):
        assert np.array_equal(getattr(back, column), getattr(log, column), equal_nan=True)


def test_mobiles_run_by_workers_give_the_report_of_mobiles_run_here(monkeypatch):
    """A worker sends back each mobile's latencies, not its log: the percentiles over all
    mobiles must not notice."""
    import dataclasses

    from sigma_sn.sim.run import _replay_parts, _report, simulate_many

    monkeypatch.setattr(spill, "CHUNK_PACKETS", SMALL_CHUNK)
    replays = [two_path_replay(duration_s=200.0),
               dataclasses.replace(two_path_replay(los_a_s=25.0, duration_s=200.0),
                                   mobile="U")]
    cfg = cbr(loss_prob=0.01)
    here = simulate_many(replays, cfg)
    parts = _replay_parts(list(enumerate(replays)), (cfg, "sigma", None, None))
    assert _public(_report(parts, replays[0].start_utc, replays[0].duration_s, cfg,
                           "sigma")) == _public(here)
