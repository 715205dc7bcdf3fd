"""sigma-sn emulate: a plan on Linux MPTCP in network namespaces.

The tests that touch the stack make and remove their own namespaces; they skip, with
the reason, only where this machine cannot emulate (no root, no MPTCP, no iproute2).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO

from sigma_sn.cli import main
from sigma_sn.emulate import Protocol, build_schedule, emulate, namespaces, requirements
from sigma_sn.emulate import netns
from sigma_sn.emulate.metrics import longest_gap_s, longest_stall_s
from sigma_sn.emulate.run import pool_size
from sigma_sn.emulate.schedule import Op
from sigma_sn.errors import InputError

MISSING = requirements()
needs_stack = pytest.mark.skipif(bool(MISSING), reason="cannot emulate here: "
                                 + "; ".join(MISSING))

#: the crafted plan: one handover every SPACING_S, CBR at RATE_PPS (5 ms apart)
SPACING_S = 2.0
RATE_PPS = 200.0
TIMING = {"l2_s": 0.05, "ra_s": 0.05, "dad_s": 0.3, "guard_s": 0.2,
          "terrestrial_one_way_s": 0.02}
#: make-before-break may stall delivery (data in the network, none coming out: the
#: report's interruption_ms) for no longer than this. The new subflow is joined
#: and made primary before the old one is withdrawn, so no byte waits for a timer: what
#: is left is the receiver's wake-up on a shared machine (milliseconds; tens when
#: loaded). Any fallback on a timer costs more: TCP's minimum RTO is 200 ms (Linux
#: TCP_RTO_MIN), a lost join waits the 1 s SYN retransmission (RFC 6298 §2), and
#: break-before-make here waits L2 + RA + DAD = 400 ms.
MBB_BOUND_MS = 100.0


def crafted_plan(n: int = 3) -> dict:
    """``n`` feasible handovers SAT-A -> SAT-B -> ...: ADD_IP at k * SPACING_S,
    SET_PRIMARY 0.2 s later, DELETE_IP at 0.7 s, the old LOS at 0.9 s."""
    aps = [f"SAT-{c}" for c in "ABCDEFGH"[:n + 1]]
    addr = [f"2001:db8:{k + 1:x}::1" for k in range(n + 1)]
    duration_s = SPACING_S * (n + 1)
    candidates = [{"ap": ap, "aos_s": max(0.0, k * SPACING_S - 0.2), "tca_s": k * SPACING_S,
                   "los_s": (k + 1) * SPACING_S + 0.9 if k < n else duration_s,
                   "max_elev_deg": 40.0} for k, ap in enumerate(aps)]
    handovers = []
    for k in range(n):
        t = (k + 1) * SPACING_S
        events = [("ADDRESS_READY", t, addr[k + 1]), ("ADD_IP", t, addr[k + 1]),
                  ("SET_PRIMARY", t + 0.2, addr[k + 1]), ("LM_UPDATE", t + 0.3, addr[k + 1]),
                  ("DELETE_IP", t + 0.7, addr[k])]
        handovers.append({"mobile": "M", "index": k, "from": aps[k], "to": aps[k + 1],
                          "feasible": True, "events": [{"action": a, "t_s": s, "address": x}
                                                       for a, s, x in events]})
    bounds = [0.0] + [(k + 1) * SPACING_S + 0.2 for k in range(n)] + [duration_s]
    serving = [{"ap": aps[k], "address": addr[k], "from_s": bounds[k], "to_s": bounds[k + 1]}
               for k in range(n + 1)]
    return {"schema": "sigma-sn/plan/1", "name": "crafted", "mode": "router",
            "policy": "max-elevation", "start_utc": "2026-01-01T00:00:00Z",
            "end_utc": f"2026-01-01T00:00:{duration_s:02.0f}Z", "duration_s": duration_s,
            "inputs": {"parameters": {
                "timing": TIMING, "addresses": {"prefix": "2001:db8::/32"},
                "link": {"capacity_bps": 20e6},
                "traffic": {"rate_pps": RATE_PPS, "payload_bytes": 100}}},
            "access_points": [{"name": ap, "prefix": f"2001:db8:{k + 1:x}::/48"}
                              for k, ap in enumerate(aps)],
            "mobiles": [{"name": "M", "candidates": candidates, "serving": serving}],
            "handovers": handovers, "outages": [], "location_updates": []}


def ours() -> list[str]:
    """Namespaces this test process (or its children) made and left behind."""
    return [n for n in namespaces() if n.startswith(f"{netns.NS_PREFIX}{os.getpid()}-")]


# -- the schedule (no stack needed) ---------------------------------------------------
def test_sigma_schedule_follows_the_plan():
    s = build_schedule(crafted_plan(), Protocol.SIGMA)
    assert [a.op for a in s.actions[:4]] == [Op.ADD_IP, Op.SET_PRIMARY, Op.DELETE_IP, Op.LOS]
    assert [a.t_s for a in s.actions[:4]] == pytest.approx([2.0, 2.2, 2.7, 2.9])
    assert s.first_address == "2001:db8:1::1" and s.correspondent == "2001:db8::1"
    assert pool_size(s, 1.0) == 2   # old and new, never more


def test_mip_breaks_at_los_and_attaches_after_l2_ra_dad_bu():
    s = build_schedule(crafted_plan(), Protocol.MIP)
    los, l2, attach = s.actions[:3]
    assert (los.op, l2.op, attach.op) == (Op.LOS, Op.L2_UP, Op.ATTACH)
    assert los.t_s == l2.t_s == attach.t_s == pytest.approx(2.9)
    assert l2.delay_s == pytest.approx(0.05)
    # 50 + 50 + 300 ms, plus a binding update's RTT of two 20 ms terrestrial legs
    assert attach.delay_s == pytest.approx(0.44)
    assert attach.wall_s(10.0) == pytest.approx(0.29 + 0.44)   # waits are not compressed
    assert attach.retire == "2001:db8:1::1"


def test_a_slice_keeps_whole_handovers_only():
    s = build_schedule(crafted_plan(), Protocol.SIGMA, start_s=3.0, duration_s=3.5)
    assert [h.index for h in s.handovers] == [1]
    assert s.dropped == (2,)                    # 6.0 to 6.9 s, cut by the end at 6.5 s
    assert s.first_address == "2001:db8:2::1"   # handover 0 done by 2.9 s: on SAT-B
    assert min(a.t_s for a in s.actions) == pytest.approx(4.0 - 3.0)
    # Mobile IP is still on SAT-A at 2.95 s: its break comes at LOS, 2.9 s, and its
    # attachment 0.44 s later
    with pytest.raises(InputError, match="^[^(]*slice starts inside handover 0"):
        build_schedule(crafted_plan(), Protocol.MIP, start_s=3.0)
    assert build_schedule(crafted_plan(), Protocol.MIP, start_s=3.5).first_ap == "SAT-B"
    with pytest.raises(InputError, match="inside handover 1"):
        build_schedule(crafted_plan(), Protocol.SIGMA, start_s=4.1)


def test_longest_gap_counts_from_the_delivery_before_the_window():
    arrivals = np.array([0.0, 0.1, 0.2, 1.0, 1.1])
    assert longest_gap_s(arrivals, 0.5, 0.9) == pytest.approx(0.8)
    assert longest_gap_s(arrivals, 1.05, 1.2) == pytest.approx(0.1)


def test_a_stall_counts_data_in_the_network_not_a_late_sender():
    sent = np.array([0.0, 0.1, 0.2, 0.3, 1.0])
    # a path breaks: message 2 leaves at 0.2 s and arrives at 0.8 s, behind it message 3
    arrivals = np.array([0.001, 0.101, 0.8, 0.8, 1.001])
    assert longest_stall_s(sent, arrivals, 0.0, 1.1) == pytest.approx(0.6)
    # the host runs the sender late: a gap in delivery, but no stall of the network
    assert longest_gap_s(arrivals, 0.0, 1.1) == pytest.approx(0.699)
    late = np.array([0.0, 0.1, 0.75, 0.8, 1.0])
    on_time = np.array([0.001, 0.101, 0.751, 0.801, 1.001])
    assert longest_stall_s(late, on_time, 0.0, 1.1) == pytest.approx(0.001)


def test_requirements_name_root_when_not_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert any(m.startswith("root") for m in requirements())


def test_cli_exits_2_saying_what_is_missing(tmp_path, monkeypatch, capsys):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(crafted_plan()))
    monkeypatch.setattr(netns, "requirements", lambda: ["MPTCP: sysctl net.mptcp.enabled "
                                                        "is 0 (set it to 1)"])
    monkeypatch.setattr("sigma_sn.emulate.requirements", netns.requirements)
    assert main(["emulate", str(plan)]) == 2
    err = capsys.readouterr().err
    assert "net.mptcp.enabled" in err and "missing" in err


# -- on the stack ----------------------------------------------------------------------
@needs_stack
def test_make_before_break_delivers_every_byte_without_a_gap():
    r = emulate(build_schedule(crafted_plan(), Protocol.SIGMA), speedup=1.0,
                rate_pps=RATE_PPS, payload_bytes=100)
    assert r["packets"]["lost"] == 0 and r["packets"]["delivered"] == r["packets"]["sent"]
    assert r["in_order"]
    assert [h["index"] for h in r["handovers"]] == [0, 1, 2]
    worst = max(h["interruption_ms"] for h in r["handovers"])
    assert worst <= MBB_BOUND_MS, r["handovers"]
    assert ours() == []


@needs_stack
def test_set_primary_moves_the_traffic_before_the_old_link_dies():
    # each old link dies 0.15 s after SET_PRIMARY and before DELETE_IP, as when LOS
    # comes earlier than predicted (what the plan's guard is for): the traffic is on
    # the new path already, so nothing waits for the dead one's retransmission timer
    # (without the MP_PRIO this costs 300+ ms a handover here)
    plan = crafted_plan()
    for c in plan["mobiles"][0]["candidates"][:-1]:
        c["los_s"] -= 0.55
    r = emulate(build_schedule(plan, Protocol.SIGMA), speedup=1.0, rate_pps=RATE_PPS,
                payload_bytes=100)
    assert r["packets"]["lost"] == 0
    assert max(h["interruption_ms"] for h in r["handovers"]) <= MBB_BOUND_MS, \
        r["handovers"]


@needs_stack
def test_break_before_make_pauses_at_least_l2_ra_dad():
    r = emulate(build_schedule(crafted_plan(), Protocol.MIP), speedup=1.0,
                rate_pps=RATE_PPS, payload_bytes=100)
    floor_ms = 1e3 * (TIMING["l2_s"] + TIMING["ra_s"] + TIMING["dad_s"])
    assert [h["index"] for h in r["handovers"]] == [0, 1, 2]
    for h in r["handovers"]:
        assert h["delivery_gap_ms"] >= floor_ms, h
        # data sent just after the break waits out the attachment, less one CBR period
        assert h["interruption_ms"] >= floor_ms - 1e3 / RATE_PPS, h
    assert r["packets"]["lost"] == 0   # TCP: late, never lost
    assert ours() == []


@needs_stack
def test_a_failing_run_leaves_nothing_behind(monkeypatch):
    seen = {}

    def broken(self, address):
        # mid-run, with both addresses up: none of them reached the root namespace
        seen["root"] = subprocess.run(["ip", "-6", "address", "show"], capture_output=True,
                                      text=True).stdout + subprocess.run(
            ["ip", "-6", "route", "show", "table", "all"], capture_output=True,
            text=True).stdout
        seen["mobile"] = subprocess.run(["ip", "-6", "-n", self.mobile_ns, "address",
                                         "show"], capture_output=True, text=True).stdout
        raise RuntimeError("injected failure at SET_PRIMARY")

    monkeypatch.setattr(netns.Testbed, "set_primary", broken)
    with pytest.raises(RuntimeError, match="injected"):
        emulate(build_schedule(crafted_plan(1), Protocol.SIGMA), rate_pps=RATE_PPS,
                payload_bytes=100)
    assert ours() == []
    assert "2001:db8:2::1" in seen["mobile"]
    assert "2001:db8:" not in seen["root"]


@needs_stack
def test_sigint_leaves_nothing_behind(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(crafted_plan()))
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "sigma_sn", "emulate", str(plan),
                             "--protocol", "sigma"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    mine = f"{netns.NS_PREFIX}{proc.pid}-"
    deadline = time.monotonic() + 30.0
    while not any(n.startswith(mine) for n in namespaces()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    time.sleep(1.5)   # traffic flowing, the first handover under way
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert not [n for n in namespaces() if n.startswith(mine)]
    # nor a traffic process (they run from a temporary folder under TMPDIR)
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if str(tmp_path).encode() in fh.read():
                    left.append(pid)
        except OSError:
            pass
    assert left == []


# -- --compare: the replay's side ------------------------------------------------------
def test_replay_side_runs_under_the_emulations_timing_block():
    from results_fixtures import small_plan

    from sigma_sn.emulate.compare import replay_interruptions, table_rows
    from sigma_sn.emulate.schedule import timing_of

    plan = small_plan()
    # a Mobile IP block that disagrees with the timing block (as plans of earlier
    # versions carry): DAD 1 s there, 0 in the timing block
    plan["inputs"]["parameters"]["mip"]["t_dad_s"] = 1.0
    assert plan["inputs"]["parameters"]["timing"]["dad_s"] == 0.0
    timing = timing_of(plan)
    replay = replay_interruptions(plan, mobile="Boulder", protocols=("sigma", "mip"),
                                  rate_pps=50.0, payload_bytes=100, timing=timing,
                                  plan_dir=str(REPO))
    indices = [h["index"] for h in plan["handovers"]]
    assert sorted(replay["mip"]) == sorted(replay["sigma"]) == indices
    # last packet on the old path to first on the new: the outage (L2 + RA + DAD + BU)
    # less the old path's longer delay, tens of ms; under the mip block's 1 s of DAD
    # every one would exceed a second
    for ms in replay["mip"].values():
        assert 50.0 < ms < 1000.0
    for ms in replay["sigma"].values():
        assert ms < 50.0
    run = {"protocol": "mip", "handovers": [
        {"index": k, "from": "A", "to": "B", "t_s": 0.0, "interruption_ms": 1.0}
        for k in indices]}
    rows = table_rows([run], replay)
    assert [r["replay_ms"]["mip"] for r in rows] == [replay["mip"][k] for k in indices]
