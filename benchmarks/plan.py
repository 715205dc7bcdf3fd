"""Benchmark: plan N terminals for H hours against the Starlink shell-1 file (router mode,
25° mask), windows computed first; print visibility time, planning time per policy and
their ratio (wall and CPU, the forked workers' CPU included), peak RSS, the load average,
and with ``--write`` the time the plan JSON write takes (``sigma-sn plan --out``'s last
stage) next to the planning time.

Run: python benchmarks/plan.py [--write] [N_TERMINALS] [HOURS] [POLICY ...]
(defaults: 1000 terminals, 24 h, every router-mode policy). Heavy: run it alone.
Goals: planning ≤ 0.5× the visibility step for every policy; writing ≤ 10 % of planning.
"""

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sigma_sn.elements import load_elements
from sigma_sn.planner.io import write_plan_json
from sigma_sn.planner.kinds import POLICIES_BY_MODE, Mode, Policy
from sigma_sn.planner.plan import plan_windows
from sigma_sn.sites import Site
from sigma_sn.visibility import find_windows


def cpu_s() -> float:
    """CPU seconds of this process and its reaped (forked) workers."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory (MB) of this process, and of its largest worker."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


SHELL1 = Path(__file__).resolve().parents[1] / "tle_data" / "starlink_shell1.tle"
EPOCH = "2026-08-22T00:00:00Z"
MIN_ELEV_DEG = 25.0
GOAL_RATIO = 0.5   # planning / visibility step, wall and CPU, every policy


def terminals(n: int) -> list[Site]:
    """``n`` terminals, seeded, between 50° S and 50° N."""
    rng = np.random.default_rng(1)
    return [Site(f"T{i:04d}", float(lat), float(lon))
            for i, (lat, lon) in enumerate(zip(rng.uniform(-50, 50, n),
                                               rng.uniform(-180, 180, n)))]


def visibility(sats, sites, hours: float):
    """The windows, and the wall and CPU seconds finding them took."""
    t0, c0 = time.perf_counter(), cpu_s()
    w = find_windows(sats, sites, EPOCH, hours * 3600, min_elev_deg=MIN_ELEV_DEG)
    return w, time.perf_counter() - t0, cpu_s() - c0


def planned(w, sats, sites, policy: Policy, stats: dict):
    """The plan, and the wall and CPU seconds planning took (one worker per core, as the
    visibility step, find_windows' default, had)."""
    t0, c0 = time.perf_counter(), cpu_s()
    plan = plan_windows(w, sats, sites, Mode.ROUTER, policy, min_elev_deg=MIN_ELEV_DEG,
                        stats=stats, workers=None)
    return plan, time.perf_counter() - t0, cpu_s() - c0


def main(args: list[str]) -> None:
    write = "--write" in args
    args = [a for a in args if a != "--write"]
    n = int(args[0]) if len(args) > 0 else 1000
    hours = float(args[1]) if len(args) > 1 else 24.0
    policies = [Policy(p) for p in args[2:]] or list(POLICIES_BY_MODE[Mode.ROUTER])
    sites = terminals(n)
    sats = load_elements(SHELL1).satellites
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    w, visibility_s, visibility_cpu_s = visibility(sats, sites, hours)
    print(f"visibility: {len(w)} windows, {len(sats)} satellites x {n} terminals, {hours:g} h: "
          f"{visibility_s:.1f} s wall, {visibility_cpu_s:.1f} s CPU")
    out_dir = Path(tempfile.mkdtemp(prefix="plan-bench-"))
    for policy in policies:
        stats: dict = {}
        plan, planning_s, planning_cpu_s = planned(w, sats, sites, policy, stats)
        hs = plan["handovers"]   # a rows.Table: its rows are not made, the write reads columns
        print(f"planning ({policy.value}): {len(hs)} handovers "
              f"({hs.column('feasible').count(False)} infeasible), {len(plan['outages'])} "
              f"outages: {planning_s:.1f} s = {planning_s / visibility_s:.2f} x visibility "
              f"wall, {planning_cpu_s:.1f} s = {planning_cpu_s / visibility_cpu_s:.2f} x CPU "
              f"(in the parent: window columns {stats['candidates_s']:.1f} s, decision grid "
              f"with the candidate rows made meanwhile {stats.get('grid_s', 0.0):.1f} s (SGP4's "
              f"own look angles at {stats.get('exact_looks', 0)} samples), other "
              f"JSON rows {stats['rows_s']:.1f} s; summed "
              f"over workers: selection {stats['select_s']:.1f} s, "
              f"events {stats['events_s']:.1f} s with {stats['rtt_batched']} batched RTTs and "
              f"{stats['rtt_exact_calls']} exact, packing {stats['output_s']:.1f} s)")
        if write:
            path = out_dir / f"{policy.value}.json"
            t2, c2 = time.perf_counter(), cpu_s()
            write_plan_json(path, plan)
            write_s, write_cpu_s = time.perf_counter() - t2, cpu_s() - c2
            print(f"  write plan JSON ({path.stat().st_size / 1e6:.0f} MB): {write_s:.1f} s = "
                  f"{write_s / planning_s:.0%} of planning wall, {write_cpu_s:.1f} s CPU "
                  f"({write_cpu_s / planning_cpu_s:.0%})")
            path.unlink()
        del plan, hs  # freeing millions of rows belongs to no policy's time
        print(f"  peak RSS so far: {peak_rss_mb()[0]:.0f} MB here, {peak_rss_mb()[1]:.0f} MB "
              f"the largest worker; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
              flush=True)
    out_dir.rmdir()


if __name__ == "__main__":
    main(sys.argv[1:])
