"""What the report needs from a replay's packet log, read chunk by chunk: nothing in here
holds a value per packet, so a long run's report costs no more memory than a short one's.

One pass (:class:`LogPass`) leaves counts, per-bin sums, per-handover figures, service
interruptions and a histogram of the latencies. Percentiles stay exact
(:func:`latency_percentiles_ms`): the histogram says which buckets the wanted ranks fall
in, and a second pass reads only the latencies in those buckets. Sums run in the order
one pass over the whole log would add them, so the report is the same to the bit.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from sigma_sn.sim.model import CAUSES
from sigma_sn.sim.pathgeom import path_rtt_s

#: width of the latency histogram's buckets (s): a second pass reads a few of them
LATENCY_BUCKET_S = 1e-4
#: the latency percentiles the report gives
PERCENTILES = (50, 95, 99)
_RANDOM = CAUSES.index("random_loss")


def _ms(x) -> float:
    return round(float(x) * 1e3, 3)


def _bucket(latency_s: np.ndarray) -> np.ndarray:
    """Histogram bucket of each latency: monotone in the latency, so a bucket's values
    are a contiguous run of the sorted latencies."""
    return np.maximum(np.floor(latency_s * (1.0 / LATENCY_BUCKET_S)), 0).astype(np.int64)


def latencies_in_time(chunk, end_s: float):
    """``(arrived_in_time, latency_s)`` of one chunk: delivered by ``end_s``, and their
    latencies in log order."""
    _, sent, arrival, _, cause = chunk
    ok = (cause < 0) & (arrival <= end_s)
    latency = arrival[ok]
    latency -= sent[ok]
    return ok, latency


class InTimeLatencies:
    """A log reduced to its in-time latencies (8 bytes a delivered packet, not the log's
    21): what a worker process sends back for the report's percentiles."""

    def __init__(self, log, end_s: float):
        parts = [latencies_in_time(chunk, end_s)[1] for chunk in log.chunks()]
        self.latency_s = np.concatenate(parts) if parts else np.zeros(0)

    def close(self) -> None:
        """Nothing to release: the latencies are in memory."""


def _latency_chunks(source, end_s: float):
    if isinstance(source, InTimeLatencies):
        yield source.latency_s
    else:
        for chunk in source.chunks():
            yield latencies_in_time(chunk, end_s)[1]


class LatencyHistogram:
    """Counts of latencies per :data:`LATENCY_BUCKET_S` bucket, and the largest one."""

    def __init__(self):
        self.counts = np.zeros(0, np.int64)
        self.n = 0
        self.max_s = -np.inf

    def add(self, latency_s: np.ndarray) -> None:
        if not latency_s.size:
            return
        k = np.bincount(_bucket(latency_s))
        if len(k) > len(self.counts):
            self.counts = np.concatenate((self.counts,
                                          np.zeros(len(k) - len(self.counts), np.int64)))
        self.counts[:len(k)] += k
        self.n += int(latency_s.size)
        self.max_s = max(self.max_s, float(latency_s.max()))


def percentile_ranks(n: int, q=PERCENTILES):
    """NumPy's ``linear`` percentile method (Hyndman & Fan 7) for ``n`` sorted values:
    ``(below, above, gamma)`` per percentile, the value being ``lerp(x[below],
    x[above], gamma)``. The same float operations as ``np.percentile``."""
    virtual = (n - 1) * np.true_divide(np.asarray(q), 100)
    below = np.floor(virtual)
    above = below + 1
    top = virtual >= n - 1
    below[top] = -1
    above[top] = -1
    gamma = virtual - below
    return below.astype(np.int64) % n, above.astype(np.int64) % n, gamma


def lerp(a, b, t):
    """``np.percentile``'s interpolation, operation for operation (numpy ``_lerp``)."""
    a, b, t = np.float64(a), np.float64(b), np.float64(t)
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def latency_percentiles_ms(sources, end_s: float) -> dict:
    """``{"p50", "p95", "p99", "max"}`` (ms) of the in-time latencies of every log in
    ``sources`` (``(histogram, log)`` pairs; a log may be :class:`InTimeLatencies`),
    exactly as ``np.percentile`` over all of them at once would give."""
    hists = [h for h, _ in sources]
    n = sum(h.n for h in hists)
    if n == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    width = max(len(h.counts) for h in hists)
    counts = np.zeros(width, np.int64)
    for h in hists:
        counts[:len(h.counts)] += h.counts
    below, above, gamma = percentile_ranks(n)
    ranks = np.concatenate((below, above))
    cum = np.cumsum(counts)
    buckets = np.searchsorted(cum, ranks, side="right")
    wanted = np.unique(buckets)
    # pass 2: the latencies in the wanted buckets, as sorted distinct values and counts
    values, weights = [], []
    for _, source in sources:
        for latency in _latency_chunks(source, end_s):
            v = latency[np.isin(_bucket(latency), wanted)]
            if v.size:
                u, c = np.unique(v, return_counts=True)
                values.append(u)
                weights.append(c)
    u, inverse = np.unique(np.concatenate(values), return_inverse=True)
    c = np.cumsum(np.bincount(inverse, np.concatenate(weights)).astype(np.int64))
    # the rank of a value among all latencies: those in lower buckets, then these
    u_bucket = _bucket(u)
    at = {}
    for r, b in zip(ranks.tolist(), buckets.tolist()):
        first = np.searchsorted(u_bucket, b, side="left")
        before = int(cum[b - 1]) if b else 0
        inside = r - before + (int(c[first - 1]) if first else 0)
        at[r] = u[np.searchsorted(c, inside, side="right")]
    p = [lerp(at[int(lo)], at[int(hi)], g) for lo, hi, g in zip(below, above, gamma)]
    return {"p50": _ms(p[0]), "p95": _ms(p[1]), "p99": _ms(p[2]),
            "max": _ms(max(h.max_s for h in hists))}


def weighted_summary_ms(values: np.ndarray, counts: np.ndarray) -> dict | None:
    """``{"mean", "p95"}`` (ms) of ``values`` (sorted, distinct), each ``counts`` times."""
    n = int(counts.sum())
    if n == 0:
        return None
    below, above, gamma = percentile_ranks(n, (95,))
    cum = np.cumsum(counts)
    lo, hi = values[np.searchsorted(cum, [below[0], above[0]], side="right")]
    return {"mean": round(float(np.dot(values, counts) / n) * 1e3, 3),
            "p95": round(float(lerp(lo, hi, gamma[0])) * 1e3, 3)}


class LogPass:
    """Everything the report takes from one mobile's log, fed one chunk at a time.

    ``bounds`` part the send times into handover shares (share ``i`` is
    ``bounds[i] <= sent < bounds[i + 1]``); ``looks`` are, per handover that switched,
    ``(i, prev_s, break_s, old_ap, switch_s, hi_s, new_ap)``: the last packet over the
    old access point sent in ``[prev_s, break_s)`` and the first over the new one sent
    in ``[switch_s, hi_s)``. ``interval_s`` (CBR only, else None) finds the runs of
    packets no path carried."""

    def __init__(self, *, end_s: float, bin_s: float, n_bins: int, bounds, looks,
                 interval_s: float | None, links=(), ap_names=()):
        self.end_s, self.bin_s, self.n_bins = end_s, bin_s, n_bins
        self.bounds = np.asarray(bounds, float)
        self.looks = looks
        self.interval_s = interval_s
        self.links, self.ap_names = links, list(ap_names)
        self.n = self.delivered = self.in_flight = 0
        self.causes = np.zeros(len(CAUSES), np.int64)
        self.latency = LatencyHistogram()
        self.sent_bins = np.zeros(n_bins, np.int64)
        self.delivered_bins = np.zeros(n_bins, np.int64)
        self.lost_bins = np.zeros(n_bins, np.int64)
        self.arrival_bins = np.zeros(n_bins, np.int64)
        self.latency_sum_s = np.zeros(n_bins)
        self.share_lost = np.zeros(len(self.bounds), np.int64)
        self.last_old = {}
        self.first_new = {}
        self.runs: list[tuple[float, float, float]] = []   # (first packet's send, start, length)
        self._usable = (-1, -interval_s if interval_s else 0.0, None)
        self._last_sent = -np.inf
        self._rtt: list[tuple[np.ndarray, np.ndarray]] = []

    def _bin(self, t):
        return np.minimum(t // self.bin_s, self.n_bins - 1).astype(np.int32)

    def feed(self, chunk) -> None:
        lo, sent, arrival, ap, cause = chunk
        m = len(sent)
        if not m:
            return
        if sent[0] < self._last_sent or np.any(np.diff(sent) < 0):
            raise RuntimeError("packet log is not in send order")
        self._last_sent = sent[-1]
        ok, latency = latencies_in_time(chunk, self.end_s)
        lost = cause >= 0
        self.n += m
        self.delivered += int(ok.sum())
        self.in_flight += int(((cause < 0) & ~ok).sum())
        self.causes += np.bincount(cause[lost], minlength=len(CAUSES))[:len(CAUSES)]
        self.latency.add(latency)
        k = self._bin(sent)
        k_ok = k[ok]
        self.sent_bins += np.bincount(k, minlength=self.n_bins)
        self.delivered_bins += np.bincount(k_ok, minlength=self.n_bins)
        self.lost_bins += np.bincount(k[lost], minlength=self.n_bins)
        self.arrival_bins += np.bincount(self._bin(arrival[ok]), minlength=self.n_bins)
        # each bin's sum starts from its running total: the order one bincount over the
        # whole log adds in
        self.latency_sum_s = np.bincount(
            np.concatenate((np.arange(self.n_bins, dtype=np.int32), k_ok)),
            np.concatenate((self.latency_sum_s, latency)), minlength=self.n_bins)
        share = np.searchsorted(self.bounds, sent[lost & (cause != _RANDOM)], side="right") - 1
        self.share_lost += np.bincount(share, minlength=len(self.bounds))[:len(self.bounds)]
        self._look(sent, arrival, ap, ok)
        if self.interval_s is not None:
            self._runs(lo, sent, cause)
        if self.links:
            rtt = path_rtt_s(self.links, SimpleNamespace(sent_s=sent, ap=ap,
                                                         ap_names=self.ap_names), ok)
            if rtt.size:
                self._rtt.append(np.unique(rtt, return_counts=True))

    def _look(self, sent, arrival, ap, ok) -> None:
        first, last = sent[0], sent[-1]
        for i, prev_s, break_s, old, switch_s, hi_s, new in self.looks:
            if prev_s <= last and break_s > first:
                sel = ok & (sent >= prev_s) & (sent < break_s) & (ap == old)
                if sel.any():
                    self.last_old[i] = max(self.last_old.get(i, -np.inf),
                                           float(arrival[sel].max()))
            if switch_s <= last and hi_s > first:
                sel = ok & (sent >= switch_s) & (sent < hi_s) & (ap == new)
                if sel.any():
                    self.first_new[i] = min(self.first_new.get(i, np.inf),
                                            float(arrival[sel].min()))

    def _runs(self, lo: int, sent, cause) -> None:
        """Runs of packets no path carried (configured random loss aside), bracketed by
        usable packets: the last one before carries over from the previous chunk."""
        interval = self.interval_s
        usable = (cause < 0) | (cause == _RANDOM)
        local = np.flatnonzero(usable)
        prev_idx, prev_t, prev_after = self._usable
        ext = np.concatenate(([prev_idx], local + lo))
        t = np.concatenate(([prev_t], sent[local]))
        # send time of the packet after each usable one (NaN: in the next chunk)
        after = np.empty(len(ext))
        after[0] = sent[0] if prev_after is None else prev_after
        nxt = local + 1
        after[1:] = np.where(nxt < len(sent), sent[np.minimum(nxt, len(sent) - 1)], np.nan)
        for r in np.flatnonzero(np.diff(ext) > 1):
            start = t[r] + interval
            self.runs.append((float(after[r]), float(start), max(float(t[r + 1] - start), 0.0)))
        self._usable = (int(ext[-1]), float(t[-1]),
                        None if np.isnan(after[-1]) else float(after[-1]))

    def finish(self) -> None:
        """The log is read: close the last run, at the end of the replay."""
        if self.interval_s is not None and self.n - self._usable[0] > 1:
            _, prev_t, after = self._usable
            start = prev_t + self.interval_s
            self.runs.append((after, start, max(self.end_s - start, 0.0)))

    def path_rtt(self) -> tuple[np.ndarray, np.ndarray]:
        """The path RTTs delivered packets met: sorted distinct values and their counts."""
        if not self._rtt:
            return np.zeros(0), np.zeros(0, np.int64)
        u, inverse = np.unique(np.concatenate([v for v, _ in self._rtt]),
                               return_inverse=True)
        return u, np.bincount(inverse, np.concatenate([c for _, c in self._rtt])
                              ).astype(np.int64)
