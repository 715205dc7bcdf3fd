"""Benchmark: the same work here (fork pool) and on Dask (``dask-local``), in one run.

Four workloads, each run with ``--scheduler local --workers W`` and with
``--scheduler dask-local --workers W`` (W = 2 by default):

* plan N terminals (router mode, Starlink shell 1 at 25°, max-elevation with
  hysteresis) — tasks: groups
  of mobiles;
* replay that plan, one association per terminal, as ``sigma-sn simulate`` does (windows
  recomputed here, each mobile's link geometry built in its task) — tasks: groups of
  mobiles;
* a P-point sweep (link.loss_prob) of a one-terminal scenario — tasks: one point each
  (its one plan is made here);
* plan + replay as one job (the plan, its JSON text read back, the replay).

Prints each workload's wall and CPU time both ways (the plan and the sweep run twice on
each side, the faster kept; the replays once; the local side first, before the Dask
cluster's threads run here, as nothing forks beside them) and the ratios Dask/local
(goal: <= 1.3 on a 2-core machine), checks that both ways give the same bytes, and says
how the work splits: the serial part (what the caller does: windows, checks, rows, the
report) and the sum of the Dask task times, so that the time on M machines of W workers
can be estimated as  serial + tasks / (M·W) + Dask's per-task overhead (a Dask task is a
run of units, at most compute.TASKS_PER_WORKER per worker: on M·W workers the same units
make more, shorter runs, so the task time spreads over all of them). Every Dask run
starts with nothing scattered, as a command does (a session keeps what it scattered).

Run: python benchmarks/scale.py [N_TERMINALS] [POINTS] [WORKERS] [DURATION_S]
(defaults: 1000 terminals, 32 points, 2 workers, 600 s). The Dask cluster's start-up is
timed on its own and not counted in the ratios.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GOAL_RATIO = 1.3
#: runs of each workload on each side (the faster kept): the replays are long enough once
REPEAT = {"plan": 2, "replay": 1, "sweep": 2, "plan+replay": 1}
ELEMENTS, MIN_ELEV_DEG = "starlink_shell1.tle", 25.0   # 1,584 satellites, as shell 1


def _scenario(folder: Path, n_terminals: int, duration_s: float) -> Path:
    rng = np.random.default_rng(1)
    rows = [f"T{i:04d},{lat:.3f},{lon:.3f}" for i, (lat, lon)
            in enumerate(zip(rng.uniform(-60, 60, n_terminals),
                             rng.uniform(-180, 180, n_terminals)))]
    sites = ""
    if n_terminals:
        (folder / "terminals.csv").write_text("name,lat_deg,lon_deg\n" + "\n".join(rows) + "\n")
        sites = 'site_files = ["terminals.csv"]\n'
    else:
        sites = "[[sites]]\nname = \"Boulder\"\nlat_deg = 40.015\nlon_deg = -105.27\n"
    elements = (REPO / "tle_data" / ELEMENTS).as_posix()
    path = folder / f"scale-{n_terminals}.toml"
    path.write_text(f'name = "scale"\nmode = "router"\npolicy = "max-elevation"\n'
                    f'elements = ["{elements}"]\n'
                    + (sites if n_terminals else "")
                    + f'\n[window]\nstart_utc = "2026-08-22T00:00:00Z"\n'
                    f"duration_s = {duration_s}\nmin_elev_deg = {MIN_ELEV_DEG}\n\n"
                    # the shipped starlink-router scenario's hysteresis
                    f"[selection]\nmin_dwell_s = 60.0\nelev_margin_deg = 5.0\n\n"
                    f"[traffic]\nrate_pps = 1.0\n"
                    + ("" if n_terminals else "\n" + sites))
    return path


def main() -> int:
    from sigma_sn import compute
    from sigma_sn.planner.plan import dumps, plan_scenario, scenario_windows
    from sigma_sn.scenario import load_scenario
    from sigma_sn.sim.fromplan import config_from_plan, simulate_plan
    from sigma_sn.sweep import parse_param, run_sweep, sweep_csv
    from distributed import get_task_stream

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    points = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    duration_s = float(sys.argv[4]) if len(sys.argv) > 4 else 600.0
    print(f"scale benchmark: {n} terminals, {duration_s:g} s, {points}-point sweep, "
          f"{workers} workers; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores "
          "(a shared machine: other users' load moves both sides of each ratio)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sc = load_scenario(_scenario(tmp, n, duration_s))
        one = load_scenario(_scenario(tmp, 0, duration_s))
        t0 = time.perf_counter()
        sw = scenario_windows(sc, workers=workers)
        windows_s = time.perf_counter() - t0
        plan_scenario(sc, windows=sw, workers=1)  # compiles the kernels, not timed
        run_sweep(one, [parse_param("link.loss_prob=0")], rate_pps=5.0)
        values = ",".join(f"{k * 0.001:g}" for k in range(points))
        param = [parse_param(f"link.loss_prob={values}")]

        def plan_job():
            return plan_scenario(sc, windows=sw, workers=compute.workers(1))

        def sweep_job():
            return sweep_csv(run_sweep(one, param, rate_pps=5.0), 1)

        def replay_job(where):
            plan = json.loads(dumps(results["plan", where][0]))
            cfg, _ = config_from_plan(plan)
            # what 'sigma-sn simulate' runs: windows and the checks here, each mobile's
            # link geometry and replay in the tasks
            return lambda: simulate_plan(plan, cfg)

        def plan_replay_job(where):
            def job():
                plan = json.loads(dumps(plan_job()))
                return simulate_plan(plan, config_from_plan(plan)[0])
            return job

        def keep(name, where, got):
            if (name, where) not in results or got[1] < results[name, where][1]:
                results[name, where] = got

        results = {}
        JOBS = (("plan", plan_job), ("replay", None), ("sweep", sweep_job),
                ("plan+replay", None))
        make = {"replay": replay_job, "plan+replay": plan_replay_job}
        # the fork pool first, while no Dask thread runs in this process: beside Dask's
        # threads nothing forks (sigma_sn/forked.py), and the local side would be serial.
        # Each side twice, the faster kept: others' load on a shared machine comes and goes
        with compute.session(compute.Compute("local", workers)):
            for name, job in JOBS:
                for _ in range(REPEAT[name]):
                    cpu0 = _cpu_s(None)
                    t1 = time.perf_counter()
                    value = (job or make[name]("local"))()
                    wall_s = time.perf_counter() - t1
                    # CPU seconds of this process and its forked workers
                    keep(name, "local", (value, wall_s, _cpu_s(None) - cpu0))
        t0 = time.perf_counter()
        with compute.session(compute.Compute("dask-local", workers)):
            on_dask_client = compute._client()
            start_s = time.perf_counter() - t0
            # every worker imports and loads the compiled kernels once, as the local run
            # did above: a long-lived cluster's workers are warm
            t0 = time.perf_counter()
            on_dask_client.run(_warm, one, param[0])
            warm_s = time.perf_counter() - t0
            # one cluster for every Dask run: its start-up is paid once per command
            for name, job in JOBS:
                for _ in range(REPEAT[name]):
                    # cold, as a command: nothing scattered by an earlier run
                    compute._SESSION.scattered.clear()
                    compute._SESSION.placed.clear()
                    cpu0 = _cpu_s(on_dask_client)
                    t1 = time.perf_counter()
                    with get_task_stream(on_dask_client) as ts:
                        value = (job or make[name]("dask-local"))()
                    wall_s = time.perf_counter() - t1
                    # CPU seconds of every process of the run: this one (Dask's scheduler
                    # and client threads included) and the Dask workers
                    keep(name, "dask-local", (value, wall_s, _task_seconds(ts), len(ts.data),
                                              _cpu_s(on_dask_client) - cpu0))
            peaks = on_dask_client.run(_peak_mb, resource.RUSAGE_SELF).values()
    print(f"windows (serial, before planning): {windows_s:.2f} s; Dask cluster start-up "
          f"({workers} workers): {start_s:.2f} s, warming its workers (imports, kernels): "
          f"{warm_s:.2f} s (neither in the ratios)")
    same = {
        "plan": dumps(results["plan", "local"][0]) == dumps(results["plan", "dask-local"][0]),
        "replay": json.dumps(results["replay", "local"][0], sort_keys=True, default=str)
        == json.dumps(results["replay", "dask-local"][0], sort_keys=True, default=str),
        "sweep": results["sweep", "local"][0] == results["sweep", "dask-local"][0],
        "plan+replay": json.dumps(results["plan+replay", "local"][0], sort_keys=True,
                                  default=str)
        == json.dumps(results["plan+replay", "dask-local"][0], sort_keys=True, default=str),
    }
    worst = 0.0
    for name, _ in JOBS:
        local, dask = results[name, "local"], results[name, "dask-local"]
        ratio = dask[1] / local[1]
        worst = max(worst, ratio, dask[-1] / local[-1])
        serial = max(0.0, dask[1] - dask[2] / workers)
        print(f"{name:11s}: local fork {local[1]:7.2f} s | dask-local {dask[1]:7.2f} s | "
              f"ratio {ratio:.2f} (goal <= {GOAL_RATIO}) | same bytes: {same[name]}")
        print(f"        CPU: local {local[-1]:7.2f} s | dask-local {dask[-1]:7.2f} s | "
              f"ratio {dask[-1] / local[-1]:.2f}")
        print(f"        {dask[3]} Dask tasks, {dask[2]:.2f} s of task time "
              f"({dask[2] / max(1, dask[3]) * 1e3:.1f} ms each); the rest "
              f"~{serial:.2f} s is serial here (the caller's share and Dask's)")
        for m in (1, 4, 16):
            print(f"        estimate on {m:2d} machine(s) x {workers} workers: "
                  f"{serial + dask[2] / (m * workers):.2f} s")
    print(f"worst Dask/local ratio {worst:.2f}, wall or CPU (goal <= {GOAL_RATIO}); peak RSS: this "
          f"process {_peak_mb(resource.RUSAGE_SELF):.0f} MB, its forked workers "
          f"{_peak_mb(resource.RUSAGE_CHILDREN):.0f} MB (the largest), Dask workers "
          f"{max(peaks):.0f} MB (the largest); load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if all(same.values()) else 1


def _warm(scenario, param) -> None:
    """Plan, replay and compare a small scenario here (on a Dask worker)."""
    from sigma_sn.sweep import Param, run_sweep

    run_sweep(scenario, [Param(param.name, param.values[:1], param.texts[:1])], rate_pps=5.0)


def _cpu_s(client) -> float:
    """CPU seconds so far of this process, its waited-for children and the Dask workers
    (``client``'s; none when None)."""
    here = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (here.ru_utime + here.ru_stime + kids.ru_utime + kids.ru_stime
            + (sum(client.run(time.process_time).values()) if client else 0.0))


def _peak_mb(who) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0


def _task_seconds(ts) -> float:
    return sum(sum(s["stop"] - s["start"] for s in t["startstops"] if s["action"] == "compute")
               for t in ts.data)


if __name__ == "__main__":
    sys.exit(main())
