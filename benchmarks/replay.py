"""Benchmark: our packet replay against a bare SimPy loop that moves the same number of
packets, measured in the same run, CBR and bulk, for two or more run lengths: memory must
not grow with the run (the packet log streams to disk), so the last line per traffic
gives the peak RSS's growth in MB per simulated hour.

The floor is the least any SimPy replay can cost per packet: a source process, then a
process per packet that waits one link delay and puts the packet in a store a sink
process drains. Each measurement runs in its own subprocess; its peak resident memory is
that child's ``ru_maxrss`` (``os.wait4``), imports included.

The plan is the shipped ``iridium-router`` scenario stretched to each length. Bulk uses
``--capacity-mbps`` (default 2: about 230 packets/s) so that the default run takes a few
minutes; ``--capacity-mbps 20`` is the scenario's own link (16.9 M packets in 2 h).

Times are wall seconds and CPU seconds of the child (the machine may be shared: the CPU
ratio is the steadier one).

    python benchmarks/replay.py [--hours 1 4 8] [--traffic cbr bulk] [--capacity-mbps 2]
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

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "scenarios" / "iridium-router.toml"
GOAL_RATIO = 2.5          # ours / bare SimPy, per packet
FLOOR_DELAY_S = 0.020     # the floor's one link delay


def make_plan(hours: float, path: Path) -> None:
    """Plan the iridium-router scenario over ``hours`` into ``path`` (JSON)."""
    from sigma_sn.planner.plan import plan_scenario
    from sigma_sn.scenario import load_scenario

    text = SCENARIO.read_text().replace("duration_s = 7200", f"duration_s = {hours * 3600.0}")
    text = text.replace('"../tle_data/', f'"{(REPO / "tle_data").as_posix()}/')
    with tempfile.TemporaryDirectory() as tmp:
        sc = Path(tmp) / "scenario.toml"
        sc.write_text(text)
        plan = plan_scenario(load_scenario(sc), workers=1)
    path.write_text(json.dumps(plan))


def child_ours(plan_path: str, traffic: str, capacity_mbps: float) -> dict:
    from sigma_sn.sim.fromplan import config_from_plan, replays_from_plan
    from sigma_sn.sim.run import report_from_outcomes, run_replay

    plan = json.loads(Path(plan_path).read_text())
    (replay,) = replays_from_plan(plan)
    over = {"traffic": traffic}
    if traffic == "bulk":
        over["capacity_bps"] = capacity_mbps * 1e6
    cfg, _ = config_from_plan(plan, **over)
    t0, c0 = time.perf_counter(), time.process_time()
    out = run_replay(replay, cfg)
    report = report_from_outcomes([out], cfg)
    t1, c1 = time.perf_counter(), time.process_time()
    return {"s": t1 - t0, "cpu_s": c1 - c0, "packets": report["packets"]["sent"],
            "throughput_bps": report["throughput_bps"]}


def child_floor(packets: int, duration_s: float) -> dict:
    """A process per packet, one delay, a store: SimPy's floor for moving ``packets``."""
    import simpy

    env = simpy.Environment()
    store = simpy.Store(env)
    interval = duration_s / max(packets, 1)

    def packet(seq):
        yield env.timeout(FLOOR_DELAY_S)
        yield store.put(seq)

    def source():
        for seq in range(packets):
            env.process(packet(seq))
            yield env.timeout(interval)

    def sink():
        while True:
            yield store.get()

    env.process(source())
    env.process(sink())
    t0, c0 = time.perf_counter(), time.process_time()
    env.run()
    return {"s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
            "packets": packets}


def measure(args: list[str]) -> dict:
    """Run ``replay.py --child ...`` in a subprocess; its result and its peak RSS (MB)."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise RuntimeError(f"child {args} failed with status {proc.returncode}")
        out.seek(0)
        result = json.loads(out.read())
    result["peak_mb"] = usage.ru_maxrss / 1024.0         # Linux: KiB
    return result


def run(hours_list, traffic_list, capacity_mbps: float) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for hours in hours_list:
            plan = Path(tmp) / f"plan-{hours:g}h.json"
            measure(["plan", str(plan), str(hours)])   # apart: a fork copies our RSS
            for traffic in traffic_list:
                ours = measure(["ours", str(plan), traffic, str(capacity_mbps)])
                floor = measure(["floor", str(ours["packets"]), str(hours * 3600.0)])
                row = {"hours": hours, "traffic": traffic, "packets": ours["packets"],
                       "ours_s": ours["s"], "floor_s": floor["s"],
                       "ratio": ours["s"] / floor["s"],
                       "cpu_ratio": ours["cpu_s"] / floor["cpu_s"], "ours_mb": ours["peak_mb"],
                       "floor_mb": floor["peak_mb"]}
                rows.append(row)
                print(f"{traffic:4s} {hours:4g} h  {row['packets']:>10,} packets  ours "
                      f"{row['ours_s']:7.1f} s  bare SimPy {row['floor_s']:7.1f} s  ratio "
                      f"{row['ratio']:4.2f}, CPU {ours['cpu_s']:.1f} / {floor['cpu_s']:.1f} s "
                      f"= {row['cpu_ratio']:4.2f} (goal <= {GOAL_RATIO})  peak RSS ours "
                      f"{row['ours_mb']:6.0f} MB, SimPy {row['floor_mb']:5.0f} MB  "
                      f"({(row['ours_mb'] * 2**20) / max(row['packets'], 1):.0f} B/packet)",
                      flush=True)
    for traffic in traffic_list:
        mine = sorted((r for r in rows if r["traffic"] == traffic), key=lambda r: r["hours"])
        if len(mine) > 1 and mine[-1]["hours"] > mine[0]["hours"]:
            a, b = mine[0], mine[-1]
            print(f"{traffic:4s} peak RSS {a['ours_mb']:.0f} MB ({a['hours']:g} h) -> "
                  f"{b['ours_mb']:.0f} MB ({b['hours']:g} h): "
                  f"{(b['ours_mb'] - a['ours_mb']) / (b['hours'] - a['hours']):+.1f} MB per hour",
                  flush=True)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return rows


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, *rest = sys.argv[2:]
        if kind == "plan":
            make_plan(float(rest[1]), Path(rest[0]))
            result = {}
        elif kind == "ours":
            result = child_ours(rest[0], rest[1], float(rest[2]))
        else:
            result = child_floor(int(rest[0]), float(rest[1]))
        print(json.dumps(result))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, nargs="+", default=[1.0, 4.0])
    ap.add_argument("--traffic", nargs="+", default=["cbr", "bulk"], choices=["cbr", "bulk"])
    ap.add_argument("--capacity-mbps", type=float, default=2.0)
    a = ap.parse_args()
    print(f"replay vs bare SimPy (load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores)")
    run(a.hours, a.traffic, a.capacity_mbps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
