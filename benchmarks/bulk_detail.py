"""Benchmark: the bulk replay with a detail window (``--bulk-detail-s W``) against the
full packet-level replay of the same plan, measured in the same run.

The plan is the shipped ``iridium-router`` scenario (2 h by default) on its own 20 Mb/s
link: about 16.9 M packets at packet level. Each replay runs in its own subprocess; its
wall time, CPU time (user + system) and peak resident memory are that child's
(``os.wait4``), imports included. Printed: both times and their ratios, and how far the
hybrid's throughput, per-handover stall (handover latency) and loss are from the full
replay's. Goal: the hybrid 2 h run within a minute on this machine.

    python benchmarks/bulk_detail.py [--hours 2] [--detail-s 10] [--together]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replay import measure as replay_child  # noqa: E402  (it plans: the same stretched plan)

GOAL_S = 60.0             # the hybrid 2 h run, wall


def child(plan_path: str, detail_s: float | None) -> dict:
    from sigma_sn.sim.fromplan import config_from_plan, replays_from_plan
    from sigma_sn.sim.run import report_from_outcomes, run_replay

    plan = json.loads(Path(plan_path).read_text())
    (replay,) = replays_from_plan(plan)
    cfg, _ = config_from_plan(plan, traffic="bulk", bulk_detail_s=detail_s)
    t0 = time.perf_counter()
    report = report_from_outcomes([run_replay(replay, cfg)], cfg)
    return {"s": time.perf_counter() - t0, "packets": report["packets"],
            "throughput_bps": report["throughput_bps"], "mode": report["replay_mode"],
            "handovers": [{k: h[k] for k in ("index", "made", "cn_switch_s",
                                             "handover_latency_ms", "lost")}
                          for h in report["handovers"]]}


def start(args: list[str]):
    """Start this script as ``--child ARGS``; :func:`finish` collects it."""
    out = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=out)
    return proc, out, time.perf_counter(), args


def finish(started) -> dict:
    """The child's result, its wall and CPU seconds (user + system) and peak RSS (MB)."""
    proc, out, t0, args = started
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"child {args} failed with status {status}")
    out.seek(0)
    result = json.loads(out.read())
    out.close()
    result.update(wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime,
                  peak_mb=usage.ru_maxrss / 1024.0)
    return result


def differences(full: dict, hybrid: dict) -> dict:
    """How far the hybrid is from the full replay: throughput (relative), and per made
    handover the stall (handover latency, ms) and the packets lost around it."""
    pairs = [(f, h) for f, h in zip(full["handovers"], hybrid["handovers"]) if f["made"]]
    stalls = [abs(f["handover_latency_ms"] - h["handover_latency_ms"]) for f, h in pairs
              if f["handover_latency_ms"] is not None and h["handover_latency_ms"] is not None]
    return {"throughput_rel": hybrid["throughput_bps"] / full["throughput_bps"] - 1.0,
            "stall_ms_max": max(stalls, default=0.0),
            "lost_full": sum(f["lost"] for f, _ in pairs),
            "lost_hybrid": sum(h["lost"] for _, h in pairs),
            "lost_per_handover_max": max((abs(f["lost"] - h["lost"]) for f, h in pairs),
                                         default=0)}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        plan, detail = sys.argv[2:]
        print(json.dumps(child(plan, None if detail == "full" else float(detail))))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--detail-s", type=float, default=10.0)
    ap.add_argument("--together", action="store_true",
                    help="run both replays at once (on a busy machine: compare CPU seconds)")
    a = ap.parse_args()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"bulk replay, detail window ±{a.detail_s:g} s vs every packet, iridium-router "
          f"{a.hours:g} h, 20 Mb/s (load average {load}, {os.cpu_count()} cores)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        plan = Path(tmp) / "plan.json"
        replay_child(["plan", str(plan), str(a.hours)])   # apart: a fork copies our RSS
        if a.together:      # both at once: CPU seconds compare, wall times share the cores
            runs = [start([str(plan), str(a.detail_s)]), start([str(plan), "full"])]
            hybrid, full = (finish(r) for r in runs)
        else:
            hybrid = finish(start([str(plan), str(a.detail_s)]))
            full = finish(start([str(plan), "full"]))
    for name, r in (("hybrid", hybrid), ("full", full)):
        print(f"{name:6s} {r['wall_s']:7.1f} s wall {r['cpu_s']:7.1f} s CPU "
              f"(replay {r['s']:6.1f} s)  {r['packets']['sent']:>11,} packets sent, "
              f"{r['packets']['lost']:,} lost  {r['throughput_bps'] / 1e6:.4f} Mb/s  "
              f"peak RSS {r['peak_mb']:5.0f} MB", flush=True)
    m = hybrid["mode"]
    print(f"hybrid: {m['flows']} flows carried {m['flow_s']:.0f} s of "
          f"{a.hours * 3600:.0f} s ({m['flow_packets_carried']:,} packets, "
          f"{m['flow_packets_lost']:,} lost)")
    d = differences(full, hybrid)
    print(f"ratio hybrid/full: wall {hybrid['wall_s'] / full['wall_s']:.3f}, CPU "
          f"{hybrid['cpu_s'] / full['cpu_s']:.3f}; hybrid wall {hybrid['wall_s']:.1f} s "
          f"(goal <= {GOAL_S:g} s for 2 h)")
    print(f"differences: throughput {100 * d['throughput_rel']:+.3f} %, stall (handover "
          f"latency) at most {d['stall_ms_max']:.1f} ms, lost around handovers "
          f"{d['lost_hybrid']} vs {d['lost_full']} (at most {d['lost_per_handover_max']} "
          f"apart on one handover)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
