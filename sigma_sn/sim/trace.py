"""The per-packet trace as CSV: one row per packet the sender put on the wire."""

from __future__ import annotations

import os

import numpy as np

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
            ap_names = np.array([_field(a) for a in log.ap_names] + [""], dtype=object)
            cause_names = np.array(list(CAUSES) + [""], dtype=object)
            for lo in range(0, log.n, _ROWS_PER_WRITE):
                hi = min(lo + _ROWS_PER_WRITE, log.n)
                sent = log.sent_s[lo:hi]
                arrival = log.arrival_s[lo:hi]
                ok = log.cause[lo:hi] < 0
                sent_txt = np.char.mod("%.6f", sent)
                arr_txt = np.where(ok, np.char.mod("%.6f", np.where(ok, arrival, 0.0)), "")
                lat_txt = np.where(ok, np.char.mod("%.3f", np.where(ok, arrival - sent, 0.0)
                                                   * 1e3), "")
                ap_txt = ap_names[log.ap[lo:hi]]            # -1 picks the trailing ""
                cause_txt = cause_names[log.cause[lo:hi]]   # -1 picks the trailing ""
                lines = [f"{mobile},{k},{s},{a},{p},{c},{m}\n" for k, s, a, p, c, m in zip(
                    range(lo, hi), sent_txt, arr_txt, ap_txt, cause_txt, lat_txt)]
                fh.writelines(lines)
                rows += hi - lo
    return rows
