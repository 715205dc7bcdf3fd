"""Quick benchmarks for CI: the benchmarks' ratios on a subset, in under a minute.

Prints each ratio next to its goal and exits non-zero only when one is worse than HALF
its goal: a regression of that size, not the noise of a shared machine. The full-size
numbers come from the full benchmarks (see README, Benchmarks).

    python benchmarks/quick.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import plan  # noqa: E402
import replay  # noqa: E402
import windows_cli  # noqa: E402

EVERY = 10     # every 10th Starlink satellite: 1,075 over 100 cities for a day
PAIRS = 40
REPLAY_HOURS = 0.25   # iridium-router: 45 k CBR packets, about 210 k bulk ones
PLAN_TERMINALS, PLAN_HOURS = 200, 3.0   # plan.py's inputs, a fifth of the terminals, 3 h


def main() -> int:
    print(f"quick benchmarks (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{os.cpu_count()} cores); failing only below half a goal")
    m = windows_cli.measure(every=EVERY, hours=24.0, n_pairs=PAIRS)
    windows_cli.report(m)
    # (name, ours, goal, higher is better)
    checks = [
        ("windows CLI end to end vs skyfield find_events", m["ratio"], windows_cli.GOAL_RATIO,
         True),
        ("find_windows vs skyfield find_events", m["skyfield_all_s"] / m["find_s"],
         windows_cli.GOAL_RATIO, True),
        ("windows write stage / find_windows", m["write_share"], windows_cli.GOAL_WRITE_SHARE,
         False),
    ]
    for row in replay.run([REPLAY_HOURS], ["cbr", "bulk"], capacity_mbps=2.0):
        checks.append((f"{row['traffic']} replay / bare SimPy", row["ratio"], replay.GOAL_RATIO,
                       False))
    checks += planning_checks()
    failed = 0
    for name, value, goal, higher in checks:
        limit = goal / 2 if higher else goal * 2
        bad = value < limit if higher else value > limit
        failed += bad
        sign = ">=" if higher else "<="
        print(f"{'FAIL' if bad else 'ok  '} {name}: {value:.3g} (goal {sign} {goal:g}, "
              f"fails {'<' if higher else '>'} {limit:g})")
    return 1 if failed else 0


def planning_checks() -> list[tuple[str, float, float, bool]]:
    """max-elevation planning against the visibility step of the same inputs (plan.py's,
    smaller), wall and CPU. A small plan first loads the planner's compiled kernels, as
    the visibility step's were by the windows check: compiling is not planning."""
    sats = plan.load_elements(plan.SHELL1).satellites
    policy = plan.Policy.MAX_ELEVATION
    w, _, _ = plan.visibility(sats, plan.terminals(10), 0.5)
    plan.planned(w, sats, plan.terminals(10), policy, {})
    sites = plan.terminals(PLAN_TERMINALS)
    w, vis_s, vis_cpu_s = plan.visibility(sats, sites, PLAN_HOURS)
    _, plan_s, plan_cpu_s = plan.planned(w, sats, sites, policy, {})
    print(f"planning {PLAN_TERMINALS} terminals x {PLAN_HOURS:g} h ({policy.value}): "
          f"{plan_s:.1f} s wall, {plan_cpu_s:.1f} s CPU; visibility {vis_s:.1f} s wall, "
          f"{vis_cpu_s:.1f} s CPU")
    name = f"{policy.value} planning / visibility step"
    return [(f"{name} (wall)", plan_s / vis_s, plan.GOAL_RATIO, False),
            (f"{name} (CPU)", plan_cpu_s / vis_cpu_s, plan.GOAL_RATIO, False)]


if __name__ == "__main__":
    sys.exit(main())
