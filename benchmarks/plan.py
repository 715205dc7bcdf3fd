"""Benchmark: plan N terminals for H hours against the Starlink shell-1 file (router mode,
25° mask), windows computed first; print visibility time, planning time per policy and
their ratio.

Run: python benchmarks/plan.py [N_TERMINALS] [HOURS] [POLICY ...]
(defaults: 1000 terminals, 24 h, every router-mode policy). Heavy: run it alone.
"""

import sys
import time
from pathlib import Path

import numpy as np

from sigma_sn.elements import load_elements
from sigma_sn.planner.kinds import POLICIES_BY_MODE, Mode, Policy
from sigma_sn.planner.plan import plan_windows
from sigma_sn.sites import Site
from sigma_sn.visibility import find_windows

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
hours = float(sys.argv[2]) if len(sys.argv) > 2 else 24.0
policies = [Policy(p) for p in sys.argv[3:]] or list(POLICIES_BY_MODE[Mode.ROUTER])
rng = np.random.default_rng(1)
sites = [Site(f"T{i:04d}", float(lat), float(lon))
         for i, (lat, lon) in enumerate(zip(rng.uniform(-50, 50, n), rng.uniform(-180, 180, n)))]
SHELL1 = Path(__file__).resolve().parents[1] / "tle_data" / "starlink_shell1.tle"
sats = load_elements(SHELL1).satellites
t0 = time.perf_counter()
w = find_windows(sats, sites, "2026-08-22T00:00:00Z", hours * 3600, min_elev_deg=25.0)
visibility_s = time.perf_counter() - t0
print(f"visibility: {len(w)} windows, {len(sats)} satellites x {n} terminals, {hours:g} h: "
      f"{visibility_s:.1f} s")
for policy in policies:
    t1 = time.perf_counter()
    stats = {}
    # one worker per core, as the visibility step (find_windows' default) had
    plan = plan_windows(w, sats, sites, Mode.ROUTER, policy, min_elev_deg=25.0, stats=stats,
                        workers=None)
    planning_s = time.perf_counter() - t1
    hs = plan["handovers"]
    print(f"planning ({policy.value}): {len(hs)} handovers "
          f"({sum(not h['feasible'] for h in hs)} infeasible), {len(plan['outages'])} "
          f"outages: {planning_s:.1f} s = {planning_s / visibility_s:.2f} x visibility "
          f"(in the parent: window columns {stats['candidates_s']:.1f} s, decision grid "
          f"with the candidate rows made meanwhile {stats.get('grid_s', 0.0):.1f} s, other "
          f"JSON rows {stats['rows_s']:.1f} s; summed "
          f"over workers: selection {stats['select_s']:.1f} s, "
          f"events {stats['events_s']:.1f} s with {stats['rtt_batched']} batched RTTs and "
          f"{stats['rtt_exact_calls']} exact, packing {stats['output_s']:.1f} s)")
    del plan, hs  # freeing millions of rows belongs to no policy's time
