"""The per-packet trace as CSV: one row per packet the sender put on the wire."""

from __future__ import annotations

import os

from sigma_sn.atomic import atomic_open
from sigma_sn.sim.model import CAUSES, PacketLog

HEADER = "mobile,seq,sent_s,arrival_s,ap,cause,latency_ms"
_ROWS_PER_WRITE = 200_000


def _field(text: str) -> str:
    """Quote a CSV field when it needs it (RFC 4180)."""
    if any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _logs(report_or_log) -> list[tuple[str, PacketLog]]:
    if isinstance(report_or_log, PacketLog):
        return [("", report_or_log)]
    traces = report_or_log.get("_traces")
    if traces is None:
        raise ValueError("the report holds no packet log: simulate with keep_trace=True")
    return list(traces)


def write_trace_csv(path: str | os.PathLike, report_or_log) -> int:
    """Write the packet trace of a report (simulated with ``keep_trace=True``) or of one
    :class:`~sigma_sn.sim.model.PacketLog` to ``path``, atomically; return the rows.

    Columns: ``mobile`` (empty for a bare log), ``seq`` (0, 1, ... per mobile, in send
    order), ``sent_s`` and ``arrival_s`` (s after the start, microseconds; arrival empty
    if lost), ``ap`` (the access point it went through; empty if none), ``cause`` (the
    loss cause, empty if delivered), ``latency_ms`` (empty if lost). A packet delivered
    after the end of the run has its arrival time: the report counts it in flight.
    """
    logs = _logs(report_or_log)
    rows = 0
    with atomic_open(path, "w") as fh:
        fh.write(HEADER + "\n")
        for mobile, log in logs:
            mobile = _field(mobile)
            ap_names = [_field(a) for a in log.ap_names] + [""]     # index -1: none
            cause_names = list(CAUSES) + [""]                       # index -1: delivered
            # chunk by chunk: a log spilled to disk is read back a chunk at a time
            for lo, sent, arrival, aps, causes in log.chunks(_ROWS_PER_WRITE):
                hi = lo + len(sent)
                fh.writelines([
                    f"{mobile},{k},{s:.6f},{a:.6f},{ap_names[p]},,{(a - s) * 1e3:.3f}\n"
                    if c < 0 else f"{mobile},{k},{s:.6f},,{ap_names[p]},{cause_names[c]},\n"
                    for k, s, a, p, c in zip(range(lo, hi), sent.tolist(), arrival.tolist(),
                                             aps.tolist(), causes.tolist())])
                rows += hi - lo
    return rows
