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


def summarise(records: np.ndarray, *, sent: int, t0_ns: int, rate_pps: float,
              deadline_ms: float, windows: dict,
              handovers: tuple[HandoverInfo, ...]) -> dict:
    """The report's metric blocks from ``records`` (``seq, sent_ns, recv_ns`` rows).

    ``service_interruption_ms`` per handover is the longest time without a delivery
    in the handover's window, less the CBR spacing (a steady stream scores 0);
    ``delivery_gap_ms`` is the raw gap. Windows and gaps are wall-clock seconds."""
    seq = records[:, 0]
    latency_s = (records[:, 2] - records[:, 1]) / 1e9
    arrival_s = np.sort((records[:, 2] - t0_ns) / 1e9)
    delivered = int(np.unique(seq).size)
    spacing_s = 1.0 / rate_pps
    per = []
    for h in handovers:
        if h.index not in windows:
            continue
        lo, hi = windows[h.index]
        gap_s = longest_gap_s(arrival_s, lo, hi)
        per.append({"index": h.index, "from": h.from_ap, "to": h.to_ap,
                    "feasible": h.feasible, "t_s": round(h.t_s, 6),
                    "delivery_gap_ms": round(gap_s * 1e3, 3),
                    "service_interruption_ms": round(max(0.0, gap_s - spacing_s) * 1e3, 3)})
    return {
        "packets": {"sent": sent, "delivered": delivered, "lost": sent - delivered,
                    "in_flight": 0},
        "in_order": bool(np.all(np.diff(seq) == 1) and (seq.size == 0 or seq[0] == 0)),
        "latency_ms": percentiles_ms(latency_s),
        "late": {"deadline_ms": deadline_ms,
                 "messages": int((latency_s * 1e3 > deadline_ms).sum())},
        "handovers": per,
    }
