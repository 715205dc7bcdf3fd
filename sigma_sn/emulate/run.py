"""Run one schedule on the real stack: build the testbed, start the traffic, perform
the actions at their (compressed) instants, collect what the receiver saw, clean up."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from sigma_sn.emulate import metrics, traffic
from sigma_sn.emulate.netns import EmulationError, Testbed, remove_stale
from sigma_sn.emulate.schedule import Op, Schedule

REPORT_SCHEMA = "sigma-sn/emulation/1"
#: how long a child may take to start (Python start-up plus the MPTCP handshake)
START_TIMEOUT_S = 15.0
#: what the report says about per-link delay: netem is not in this kernel and no relay
#: adds it, so links carry the stack's own (sub-millisecond) delay only
DELAY_NOTE = ("none added: netem is absent from this kernel and no delay relay runs; the "
              "links carry the host's own sub-millisecond delay, the plan's path delays "
              "are not emulated")


def in_wall_order(actions, speedup: float) -> list:
    """``actions`` in the order a run at ``speedup`` performs them (compression can
    move a protocol's uncompressed wait past the next handover's first step)."""
    return sorted(actions, key=lambda a: a.wall_s(speedup))


def pool_size(schedule: Schedule, speedup: float) -> int:
    """How many veth pairs the run needs at once: an address holds its pair from its
    attachment until both its link is down and its endpoint deleted."""
    link, endpoint = {schedule.first_address: True}, {schedule.first_address: True}
    most = 1
    for a in in_wall_order(schedule.actions, speedup):
        if a.op in (Op.L2_UP, Op.ADD_IP):
            link[a.address] = endpoint[a.address] = True
            most = max(most, len(link))
        if a.op is Op.DELETE_IP or a.retire:
            endpoint[a.retire or a.address] = False
        if a.op is Op.LOS:
            link[a.address] = False
        for x in [x for x in link if not (link[x] or endpoint[x])]:
            del link[x], endpoint[x]
    return most


@contextmanager
def _signals_raise():
    """SIGTERM (and SIGHUP) end the run the way SIGINT does, so cleanup runs; restored
    afterwards. Only the main thread may set handlers; elsewhere nothing changes."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextmanager
def _no_interrupts():
    """Let cleanup finish: a second Ctrl-C during it is ignored."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _start(args: list[str], word: str, stdin=None) -> subprocess.Popen:
    """Start a child; return once it printed ``word`` (else raise with its stderr)."""
    proc = subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
    line = proc.stdout.readline() if ready else ""
    if line.strip() != word:
        proc.kill()
        _, err = proc.communicate()
        raise EmulationError(f"{' '.join(args[4:7])}: did not start ({err.strip() or line})")
    return proc


def _stop(procs: list) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def emulate(schedule: Schedule, *, speedup: float = 1.0, rate_pps: float = 50.0,
            payload_bytes: int = 1000, capacity_bps: float = 20e6,
            deadline_ms: float = 150.0, name: str = "plan") -> dict:
    """Emulate ``schedule`` on Linux MPTCP in two fresh namespaces and return the report
    (``sigma-sn/emulation/1``). CBR of ``payload_bytes`` messages at ``rate_pps`` flows
    from the mobile to the correspondent; plan time runs ``speedup`` times faster, a
    protocol's own waits (Mobile IP's L2 + RA + DAD + BU) do not. Needs root and
    ``net.mptcp.enabled`` (:func:`~sigma_sn.emulate.netns.requirements`)."""
    if payload_bytes < traffic.HEADER.size:
        raise ValueError(f"payload_bytes must be >= {traffic.HEADER.size} (sequence number "
                         f"and times), got {payload_bytes}")
    remove_stale()
    last_s = max([a.wall_s(speedup) for a in schedule.actions], default=0.0)
    run_s = max(schedule.duration_s / speedup, last_s + 1.0)
    count = max(1, round(run_s * rate_pps))
    procs: list = []
    with _signals_raise(), tempfile.TemporaryDirectory(prefix="sigma-sn-emulate-") as tmp:
        tb = Testbed(pool_size(schedule, speedup), capacity_bps, schedule.correspondent)
        try:
            with tb:
                lag_s = _drive(tb, schedule, speedup, rate_pps, payload_bytes, count, run_s,
                               Path(tmp) / "recv.bin", procs)
                records = np.frombuffer((Path(tmp) / "recv.bin").read_bytes(),
                                        dtype=np.dtype("<i8")).reshape(-1, 4)
                t0_ns = lag_s.pop("t0_ns")
        finally:
            with _no_interrupts():
                _stop(procs)
                tb.close()
    windows = metrics.handover_windows(schedule.actions, schedule.handovers, run_s, speedup)
    summary = metrics.summarise(records, sent=count, t0_ns=t0_ns, deadline_ms=deadline_ms,
                                windows=windows,
                                handovers=schedule.handovers)
    t = schedule.timing
    return {
        "schema": REPORT_SCHEMA, "plan": name, "mobile": schedule.mobile,
        "protocol": schedule.protocol.value,
        "stack": f"Linux {os.uname().release} MPTCP, in-kernel path manager",
        "speedup": speedup,
        "slice": {"start_s": schedule.start_s, "duration_s": schedule.duration_s,
                  "wall_s": round(run_s, 3)},
        "traffic": {"kind": "cbr", "direction": "up", "rate_pps": rate_pps,
                    "payload_bytes": payload_bytes},
        "links": {"rate_bps": capacity_bps, "shaper": "htb, each direction",
                  "delay": DELAY_NOTE},
        "timing": {"l2_s": t.l2_s, "ra_s": t.ra_s, "dad_s": t.dad_s, "bu_rtt_s": t.bu_rtt_s},
        "dropped_handovers": list(schedule.dropped),
        "action_lag_ms": lag_s,
        **summary,
    }


def _drive(tb: Testbed, schedule: Schedule, speedup: float, rate_pps: float,
           payload_bytes: int, count: int, run_s: float, out: Path, procs: list) -> dict:
    """Start receiver and sender, perform the actions on time; return the lag stats."""
    first_prefix = schedule.prefixes[schedule.first_ap]
    tb.attach(schedule.first_address, first_prefix, flags="")
    # the module as a script: a child starts without importing the package (or numpy)
    py = [sys.executable, traffic.__file__]
    # the receiver's deadline is set before t0 is known: generous, START_TIMEOUT_S more
    until_ns = time.monotonic_ns() + int((START_TIMEOUT_S + run_s + traffic.DRAIN_S) * 1e9)
    procs.append(_start(tb.exec_args(tb.cn_ns) + py + [
        "recv", schedule.correspondent, str(payload_bytes), str(out), str(until_ns),
        str(count)], "ready"))
    sender = _start(tb.exec_args(tb.mobile_ns) + py + [
        "send", schedule.first_address, schedule.correspondent, repr(rate_pps),
        str(payload_bytes), str(count)], "connected", stdin=subprocess.PIPE)
    procs.append(sender)
    t0_ns = time.monotonic_ns() + 20_000_000
    sender.stdin.write(f"{t0_ns}\n")
    sender.stdin.flush()
    lags = []
    for a in in_wall_order(schedule.actions, speedup):
        due_ns = t0_ns + int(a.wall_s(speedup) * 1e9)
        wait = due_ns - time.monotonic_ns()
        if wait > 0:
            time.sleep(wait / 1e9)
        prefix = schedule.prefixes[a.ap]
        if a.op is Op.ADD_IP:
            # ADD_IP (RFC 5061 §4.2.1) ~ MP_JOIN; backup until SET_PRIMARY
            tb.attach(a.address, prefix, flags="subflow backup")
        elif a.op is Op.SET_PRIMARY:
            tb.set_primary(a.address)   # RFC 5061 §4.2.4 ~ MP_PRIO
        elif a.op is Op.DELETE_IP:
            tb.delete(a.address)        # RFC 5061 §4.2.2 ~ REMOVE_ADDR
        elif a.op is Op.LOS:
            tb.link_down(a.address)
        elif a.op is Op.L2_UP:
            # Mobile IP: the link and the address come up during the wait (only an
            # endpoint lets MPTCP use the address), so the host's commands for them
            # do not lengthen the outage
            tb.attach(a.address, prefix, flags=None)
        elif a.op is Op.ATTACH:
            # the new care-of address carries the traffic from now on; the old one goes
            # once the new path is up (the binding is acknowledged), so the connection
            # is never left without a subflow
            tb.add_endpoint(a.address, "subflow")
            tb.wait_joined(a.address)
            if a.retire:
                tb.delete(a.retire)
        lags.append((time.monotonic_ns() - due_ns) / 1e6)   # done this late
    for p in procs:
        left = until_ns - time.monotonic_ns()
        try:
            p.wait(timeout=max(1.0, left / 1e9 + 2.0))
        except subprocess.TimeoutExpired:
            raise EmulationError("the traffic did not finish in time") from None
    for p, role in zip(procs, ("receiver", "sender")):
        if p.returncode != 0:
            raise EmulationError(f"the {role} failed: {p.stderr.read().strip()}")
    lag = np.array(lags) if lags else np.zeros(1)
    return {"t0_ns": t0_ns, "max": round(float(lag.max()), 3),
            "mean": round(float(lag.mean()), 3)}
