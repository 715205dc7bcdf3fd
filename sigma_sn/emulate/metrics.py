"""The replay's metrics, with the replay's names, from what the receiver logged."""

from __future__ import annotations

import numpy as np

from sigma_sn.emulate.schedule import Action, HandoverInfo

#: percentiles the reports give, as in the replay's ``latency_ms``
PERCENTILES = (("p50", 50), ("p95", 95), ("p99", 99))


def percentiles_ms(latency_s: np.ndarray) -> dict:
    if latency_s.size == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    out = {k: round(float(np.percentile(latency_s, q)) * 1e3, 3) for k, q in PERCENTILES}
    out["max"] = round(float(latency_s.max()) * 1e3, 3)
    return out


def handover_windows(actions: tuple[Action, ...], handovers: tuple[HandoverInfo, ...],
                     duration_s: float, speedup: float) -> dict[int, tuple[float, float]]:
    """Each handover's share of a run of ``duration_s`` wall seconds: its actions' span,
    widened to the midpoints between it and its neighbours (the run's ends outside)."""
    spans = {}
    for a in actions:
        t = a.wall_s(speedup)
        lo, hi = spans.get(a.handover, (t, t))
        spans[a.handover] = (min(lo, t), max(hi, t))
    order = [h.index for h in handovers if h.index in spans]
    out = {}
    for n, k in enumerate(order):
        lo = 0.0 if n == 0 else 0.5 * (spans[order[n - 1]][1] + spans[k][0])
        hi = duration_s if n == len(order) - 1 else 0.5 * (spans[k][1] + spans[order[n + 1]][0])
        out[k] = (lo, hi)
    return out


def longest_gap_s(arrival_s: np.ndarray, lo: float, hi: float) -> float:
    """The longest time in ``[lo, hi]`` with no delivery (``arrival_s`` sorted),
    counting from the last delivery before ``lo`` and to the first after ``hi``."""
    i, j = np.searchsorted(arrival_s, [lo, hi])
    i = max(i - 1, 0)
    j = min(j + 1, arrival_s.size)
    if j - i < 2:
        return hi - lo
    return float(np.diff(arrival_s[i:j]).max())


def longest_stall_s(sent_s: np.ndarray, arrival_s: np.ndarray, lo: float,
                    hi: float) -> float:
    """The longest time in ``[lo, hi]`` during which a message was in the network and
    nothing came out: per message (in stream order), its arrival less the later of its
    send and the previous arrival. Unlike a gap in delivery, a sender that the host ran
    late does not count, and a steady stream scores its one-way delay."""
    if arrival_s.size == 0:
        return hi - lo
    since = np.maximum(sent_s[1:], arrival_s[:-1])
    stall = arrival_s[1:] - since
    keep = (arrival_s[1:] >= lo) & (since <= hi)
    first = arrival_s[0] - sent_s[0] if lo <= arrival_s[0] <= hi else 0.0
    return float(max(stall[keep].max(initial=0.0), first))


def summarise(records: np.ndarray, *, sent: int, t0_ns: int, deadline_ms: float,
              windows: dict,
              handovers: tuple[HandoverInfo, ...]) -> dict:
    """The report's metric blocks from ``records`` (rows of sequence number, scheduled
    and actual send time, arrival time, in ns; in stream order, as TCP delivers).

    Per handover, in the handover's window (wall-clock seconds): ``delivery_gap_ms``,
    the longest time with no delivery; ``interruption_ms``, the longest time
    data was in the network and none came out (:func:`longest_stall_s`). Latency runs
    from the actual send; ``sender_lag_ms`` says how late the host ran the sender."""
    seq = records[:, 0]
    sent_s = (records[:, 2] - t0_ns) / 1e9
    arrival_s = (records[:, 3] - t0_ns) / 1e9
    latency_s = arrival_s - sent_s
    lag_s = (records[:, 2] - records[:, 1]) / 1e9
    delivered = int(np.unique(seq).size)
    per = []
    for h in handovers:
        if h.index not in windows:
            continue
        lo, hi = windows[h.index]
        per.append({"index": h.index, "from": h.from_ap, "to": h.to_ap,
                    "feasible": h.feasible, "t_s": round(h.t_s, 6),
                    "delivery_gap_ms": round(longest_gap_s(arrival_s, lo, hi) * 1e3, 3),
                    "interruption_ms": round(
                        longest_stall_s(sent_s, arrival_s, lo, hi) * 1e3, 3)})
    return {
        "packets": {"sent": sent, "delivered": delivered, "lost": sent - delivered,
                    "in_flight": 0},
        "in_order": bool(np.all(np.diff(seq) == 1) and (seq.size == 0 or seq[0] == 0)),
        "latency_ms": percentiles_ms(latency_s),
        "late": {"deadline_ms": deadline_ms,
                 "messages": int((latency_s * 1e3 > deadline_ms).sum())},
        "sender_lag_ms": percentiles_ms(lag_s),
        "handovers": per,
    }
