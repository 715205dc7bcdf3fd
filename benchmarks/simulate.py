"""Benchmark: 24 h of one Starlink shell-1 terminal at CBR 100 packets/s (8.64 M packets).

Times each stage (plan, geometry, simulation, report) and prints packets per second of
wall time and the peak resident memory (``resource.getrusage``; tracemalloc would slow
the run down several times).

Run: python benchmarks/simulate.py [HOURS] [RATE_PPS] [POLICY]
"""

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from sigma_sn.planner.plan import plan_scenario
from sigma_sn.scenario import load_scenario
from sigma_sn.sim.fromplan import config_from_plan, replays_from_plan
from sigma_sn.sim.run import report_from_outcomes, run_replay

hours = float(sys.argv[1]) if len(sys.argv) > 1 else 24.0
rate_pps = float(sys.argv[2]) if len(sys.argv) > 2 else 100.0
policy = sys.argv[3] if len(sys.argv) > 3 else "min-handovers"
SHELL1 = Path(__file__).resolve().parents[1] / "tle_data" / "starlink_shell1.tle"
SCENARIO = f"""name = "starlink-terminal-{hours:g}h"
mode = "router"
policy = "{policy}"
elements = ["{SHELL1.as_posix()}"]

[[sites]]
name = "Madrid"
lat_deg = 40.4168
lon_deg = -3.7038
alt_m = 650.0

[window]
start_utc = "2026-08-22T00:00:00Z"
duration_s = {hours * 3600.0}
min_elev_deg = 25.0
"""


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # Linux: KiB


print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
      f"{os.cpu_count()} cores")
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "scenario.toml"
    path.write_text(SCENARIO)
    t0 = time.perf_counter()
    plan = plan_scenario(load_scenario(path), workers=None)
t1 = time.perf_counter()
(mobile,) = plan["mobiles"]
print(f"plan:       {t1 - t0:6.1f} s  {len(mobile['candidates'])} candidate windows, "
      f"{len(plan['handovers'])} handovers ({policy})  peak {peak_mb():.0f} MB")
(replay,) = replays_from_plan(plan)
t2 = time.perf_counter()
samples = sum(len(g.t_s) for g in replay.links)
print(f"geometry:   {t2 - t1:6.1f} s  {len(replay.links)} links, {samples} range samples  "
      f"peak {peak_mb():.0f} MB")
cfg, _ = config_from_plan(plan, rate_pps=rate_pps)
out = run_replay(replay, cfg)
t3 = time.perf_counter()
n = out.log.n
print(f"simulation: {t3 - t2:6.1f} s  {n} packets, {n / (t3 - t2):,.0f} packets per wall "
      f"second  peak {peak_mb():.0f} MB")
report = report_from_outcomes([out], cfg)
t4 = time.perf_counter()
p = report["packets"]
print(f"report:     {t4 - t3:6.1f} s  sent {p['sent']}, delivered {p['delivered']}, lost "
      f"{p['lost']}, in flight {p['in_flight']}; latency p50 {report['latency_ms']['p50']} ms, "
      f"p99 {report['latency_ms']['p99']} ms  peak {peak_mb():.0f} MB")
print(f"total:      {t4 - t0:6.1f} s; load average after: "
      f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
