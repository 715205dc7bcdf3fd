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

import replay  # noqa: E402
import windows_cli  # noqa: E402

EVERY = 10     # every 10th Starlink satellite: 1,075 over 100 cities for a day
PAIRS = 40
REPLAY_HOURS = 0.25   # iridium-router: 45 k CBR packets, about 210 k bulk ones


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
    failed = 0
    for name, value, goal, higher in checks:
        limit = goal / 2 if higher else goal * 2
        bad = value < limit if higher else value > limit
        failed += bad
        sign = ">=" if higher else "<="
        print(f"{'FAIL' if bad else 'ok  '} {name}: {value:.3g} (goal {sign} {goal:g}, "
              f"fails {'<' if higher else '>'} {limit:g})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
