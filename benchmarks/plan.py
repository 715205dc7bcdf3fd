"""Benchmark: plan N terminals against the Starlink shell-1 file; visibility vs planning time.

Run: /work/venv/bin/python benchmarks/plan.py [N_TERMINALS] [HOURS]
"""

import sys
import time
from pathlib import Path

import numpy as np

from sigma_sn.elements import load_elements
from sigma_sn.planner.kinds import Mode, Policy
from sigma_sn.planner.plan import plan_windows
from sigma_sn.sites import Site
from sigma_sn.visibility import find_windows

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
hours = float(sys.argv[2]) if len(sys.argv) > 2 else 24.0
rng = np.random.default_rng(1)
sites = [Site(f"T{i:04d}", float(lat), float(lon))
         for i, (lat, lon) in enumerate(zip(rng.uniform(-50, 50, n), rng.uniform(-180, 180, n)))]
SHELL1 = Path(__file__).resolve().parents[1] / "tle_data" / "starlink_shell1.tle"
sats = load_elements(SHELL1).satellites
t0 = time.perf_counter()
w = find_windows(sats, sites, "2026-08-22T00:00:00Z", hours * 3600, min_elev_deg=25.0)
t1 = time.perf_counter()
print(f"visibility: {len(w)} windows for {n} terminals, {hours} h: {t1 - t0:.1f} s")
for policy in (Policy.LONGEST_VISIBILITY, Policy.MIN_HANDOVERS):
    t1 = time.perf_counter()
    plan = plan_windows(w, sats, sites, Mode.ROUTER, policy)
    print(f"planning ({policy.value}): {len(plan['handovers'])} handovers: "
          f"{time.perf_counter() - t1:.1f} s")
