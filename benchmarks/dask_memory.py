"""Benchmark: how much memory each Dask worker takes for a comparison's built replays.

``sigma-sn compare`` (and ``run``) builds every mobile's link geometry once and replays
it under each of four protocols. On Dask the replays must reach the workers; this prints,
for a plan of N terminals (Starlink shell 1 at 25°, as benchmarks/scale.py), each
``dask-local`` worker's resident memory before the comparison (imports and kernels
loaded) and at its peak during it, and the comparison's wall and CPU seconds. Run it on
two commits to compare them; memory, not time, is what it measures (traffic is sparse, so
the replays are short and the geometry is most of what a worker holds).

Run: python benchmarks/dask_memory.py [N_TERMINALS] [HOURS] [WORKERS]
(defaults: 200 terminals, 2 h, 2 workers).
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale  # noqa: E402  (the scale benchmark's scenario)

RATE_PPS = 0.05   # a packet every 20 s per terminal: the replays stay short


def main() -> int:
    from sigma_sn import compute
    from sigma_sn.compare import compare_plan
    from sigma_sn.planner.plan import dumps, plan_scenario
    from sigma_sn.scenario import load_scenario
    from sigma_sn.sim.fromplan import config_from_plan, replays_from_plan
    from sigma_sn.sweep import parse_param

    import cloudpickle

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    hours = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    print(f"dask memory benchmark: compare of {n} terminals x {hours:g} h, {workers} "
          f"dask-local workers; load average {_load()}")
    with tempfile.TemporaryDirectory() as tmp:
        sc = load_scenario(scale._scenario(Path(tmp), n, hours * 3600.0))
        one = load_scenario(scale._scenario(Path(tmp), 0, 600.0))
        plan = json.loads(dumps(plan_scenario(sc, workers=1)))
        cfg, mip = config_from_plan(plan, rate_pps=RATE_PPS)
        with compute.session(compute.Compute("dask-local", workers)):
            client = compute._client()
            # imports and compiled kernels first (a one-terminal sweep point), as a
            # long-lived cluster's workers have them
            cloudpickle.register_pickle_by_value(scale)
            client.run(scale._warm, one, parse_param("link.loss_prob=0"))
            before = client.run(_rss_mb)
            cpu0 = _cpu_s(client)
            t0 = time.perf_counter()
            replays = tuple(replays_from_plan(plan, plan_dir=tmp))
            built = client.run(_peak_mb)   # the geometry is built in the workers' tasks
            doc = compare_plan(plan, cfg, mip, replays=replays)
            wall_s = time.perf_counter() - t0
            cpu_s = _cpu_s(client) - cpu0
            peaks = client.run(_peak_mb)
    links = sum(len(r.links) for r in replays)
    print(f"{len(replays)} replays, {links} links; compare took {wall_s:.1f} s wall, "
          f"{cpu_s:.1f} CPU s (every process); this process peaked at "
          f"{_peak_mb():.0f} MB")
    size_mb = len(pickle.dumps(replays, protocol=pickle.HIGHEST_PROTOCOL)) / 2**20
    print(f"the built replays: {size_mb:.0f} MB pickled")
    for addr in sorted(before):
        print(f"  worker {addr}: {before[addr]:.0f} MB before the comparison; peak "
              f"{built[addr]:.0f} MB (+{built[addr] - before[addr]:.0f}) once the geometry "
              f"was built, {peaks[addr]:.0f} MB (+{peaks[addr] - before[addr]:.0f}) by the "
              "end of the four replays")
    print(f"largest worker peak {max(peaks.values()):.0f} MB; report "
          f"{len(json.dumps(doc, default=str))} characters; load average {_load()}")
    return 0


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_s(client) -> float:
    here = resource.getrusage(resource.RUSAGE_SELF)
    return here.ru_utime + here.ru_stime + sum(client.run(time.process_time).values())


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
