"""Benchmark: plan N terminals for H hours against the Starlink shell-1 file (router mode,
25° mask), windows computed first; print visibility time, planning time per policy and
their ratio (wall and CPU, the forked workers' CPU included), peak RSS, the load average,
and with ``--write`` the time the plan JSON write takes (``sigma-sn plan --out``'s last
stage) next to the planning time.

With ``--cli``, first (before any other child process, so its peak RSS is its own) the
command a user runs, ``sigma-sn plan SCENARIO.toml --out plan.json``, on the same
terminals for each policy: a scenario and its sites file written to a temporary folder,
the command run as a subprocess, its wall and CPU seconds (workers included), peak RSS
and summary.

Run: python benchmarks/plan.py [--write] [--cli] [N_TERMINALS] [HOURS] [POLICY ...]
(defaults: 1000 terminals, 24 h, every router-mode policy). Heavy: run it alone.
Goals: planning ≤ 0.5× the visibility step for every policy (max-elevation ≤ 0.45×);
writing ≤ 50 % of planning CPU (then 25 %; in the end 10 %).
"""

import os
import resource
import subprocess
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


def run_cli(sites: list[Site], hours: float, policy: Policy, folder: Path) -> None:
    """Run ``sigma-sn plan`` on ``sites`` as a user would (a scenario and a sites file in
    ``folder``, the plan JSON written there) and print its wall and CPU seconds (it and
    its workers), peak RSS (the largest of them) and its summary."""
    csv = folder / "terminals.csv"
    csv.write_text("name,lat_deg,lon_deg\n" + "".join(
        f"{s.name},{s.lat_deg!r},{s.lon_deg!r}\n" for s in sites))
    toml = folder / "bench.toml"
    toml.write_text(f'name = "bench"\nmode = "router"\npolicy = "{policy.value}"\n'
                    f'elements = ["{SHELL1.as_posix()}"]\nsite_files = ["{csv.as_posix()}"]\n'
                    f'[window]\nstart_utc = "{EPOCH}"\nduration_s = {hours * 3600:g}\n'
                    f"min_elev_deg = {MIN_ELEV_DEG:g}\n")
    out = folder / "plan.json"
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sigma_sn", "plan", str(toml), "--out",
                           str(out)], capture_output=True, text=True, check=True)
    wall_s = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
    print(f"sigma-sn plan --out ({policy.value}, {len(sites)} terminals, {hours:g} h, "
          f"{out.stat().st_size / 1e6:.0f} MB): {wall_s:.1f} s wall, {cpu:.1f} s CPU, peak "
          f"RSS {ru.ru_maxrss / 1024:.0f} MB; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("  " + done.stdout.strip().replace("\n", "\n  "), flush=True)
    for p in (out, toml, csv):
        p.unlink()


def main(args: list[str]) -> None:
    write, cli = "--write" in args, "--cli" in args
    args = [a for a in args if a not in ("--write", "--cli")]
    n = int(args[0]) if len(args) > 0 else 1000
    hours = float(args[1]) if len(args) > 1 else 24.0
    policies = [Policy(p) for p in args[2:]] or list(POLICIES_BY_MODE[Mode.ROUTER])
    sites = terminals(n)
    sats = load_elements(SHELL1).satellites
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if cli:
        folder = Path(tempfile.mkdtemp(prefix="plan-cli-"))
        for policy in policies:
            run_cli(sites, hours, policy, folder)
        folder.rmdir()
    w, visibility_s, visibility_cpu_s = visibility(sats, sites, hours)
    print(f"visibility: {len(w)} windows, {len(sats)} satellites x {n} terminals, {hours:g} h: "
          f"{visibility_s:.1f} s wall, {visibility_cpu_s:.1f} s CPU")
    out_dir = Path(tempfile.mkdtemp(prefix="plan-bench-"))
    for policy in policies:
        stats: dict = {}
        plan, planning_s, planning_cpu_s = planned(w, sats, sites, policy, stats)
        hs = plan["handovers"]   # rows.Tables, as the plan's other rows: none is made
        print(f"planning ({policy.value}): {len(hs)} handovers "
              f"({hs.column('feasible').count(False)} infeasible), {len(plan['outages'])} "
              f"outages: {planning_s:.1f} s = {planning_s / visibility_s:.2f} x visibility "
              f"wall, {planning_cpu_s:.1f} s = {planning_cpu_s / visibility_cpu_s:.2f} x CPU "
              f"(in the parent: window columns {stats['candidates_s']:.1f} s, decision grid "
              f"{stats.get('grid_s', 0.0):.1f} s (SGP4's "
              f"own look angles at {stats.get('exact_looks', 0)} samples), the rows' "
              f"columns {stats['rows_s']:.1f} s; summed "
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
