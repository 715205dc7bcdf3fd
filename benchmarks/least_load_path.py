"""Benchmark: least-load over the path (issue 16) against least-load counting mobiles,
in one run.

Starlink shell 1 (tle_data/) over Hypatia's most populous cities as terminals, a 25 deg
mask, bent pipe to the shipped world gateways, a correspondent in London, every terminal
offering 2,500 Mb/s to 20,000 Mb/s satellites (as scenarios/starlink-shared.toml). Both
plans take the same windows:

* baseline: least-load as it plans without a ``[path]``: ``ap_capacity = 8`` mobiles per
  satellite (the same limit as a count), blind to the gateways;
* ours: least-load over the path stage (:func:`~sigma_sn.planner.pathpolicy.path_spans`)
  with the shared capacity's rates.

Prints wall and CPU seconds of each plan and their ratio (the path stage ours reads is
timed for context: a scenario with a ``[path]`` computes it for its replay anyway), and
what each plan does: the share of (terminal, step) served without a path though the
terminal had a window with one then, and the satellites offered more than capacity.

    python benchmarks/least_load_path.py [--terminals 100] [--hours 1]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from path import LONDON, MASK_DEG, START, Clock, _load, shell1_inputs  # benchmarks/path.py
from sigma_sn.path.config import PathMode, SharedCapacity
from sigma_sn.path.route import PathModel, compute_paths
from sigma_sn.path.serving import serving_windows
from sigma_sn.planner.kinds import Mode, Policy, Selection
from sigma_sn.planner.plan import plan_windows
from sigma_sn.visibility import find_windows

#: each terminal stands for the users behind it (as scenarios/starlink-shared.toml)
CAPACITY = SharedCapacity(offered_load_mbps=2500.0)


def what_it_does(plan: dict, paths, sat_names) -> str:
    """Steps served without a path while one was in view, and congested satellites."""
    w = paths.windows
    served = serving_windows(plan, paths)
    n = len(next(iter(served.values())))
    t_s = np.arange(n) * paths.step_s
    site = {name: k for k, name in enumerate(w.site_names)}
    dead = avoidable = total = 0
    offered = np.zeros((len(sat_names), n))
    for mobile, win in served.items():
        on = (win >= 0) & (t_s < plan["duration_s"])
        total += int(on.sum())
        no_path = on & np.isnan(paths.delay_ms_at(np.maximum(win, 0), t_s))
        dead += int(no_path.sum())
        mine = np.flatnonzero(w.site == site[mobile])
        any_path = np.zeros(n, bool)
        for i in mine.tolist():
            t_i, delay = paths.samples(i)[:2]
            any_path[np.rint(t_i[~np.isnan(delay)] / paths.step_s).astype(np.int64)] = True
        avoidable += int((no_path & any_path).sum())
        # offered rate on the serving satellite at steps with a path (the load stage's)
        flow = on & ~no_path
        np.add.at(offered, (w.sat[win[flow]], np.flatnonzero(flow)), CAPACITY.offered_load_mbps)
    congested = int((offered.max(axis=1) > CAPACITY.sat_capacity_mbps).sum())
    return (f"{len(plan['handovers'])} handovers; served without a path {dead} of {total} "
            f"(terminal, step), {avoidable} of them while a window with one was up; "
            f"{congested} satellites offered more than capacity "
            f"(peak {offered.max() / CAPACITY.sat_capacity_mbps:.2f}x)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--terminals", type=int, default=100)
    ap.add_argument("--hours", type=float, default=1.0)
    args = ap.parse_args()
    duration_s = args.hours * 3600.0
    sats, cities, gateways = shell1_inputs("hypatia_cities_top1000.csv", args.terminals)
    print(f"load average before: {_load()} on {os.cpu_count()} cores")
    windows = find_windows(sats, cities, START, duration_s, min_elev_deg=MASK_DEG)
    with Clock() as path:
        model = PathModel(sats, gateways, LONDON, START, duration_s, mode=PathMode.BENT_PIPE,
                          min_elev_deg=MASK_DEG)
        paths = compute_paths(model, cities, windows)
    print(f"{len(cities)} terminals x {args.hours:g} h, {len(windows)} windows; path stage "
          f"(context) {path}")
    common = dict(selection=Selection(ap_capacity=8), min_elev_deg=MASK_DEG, workers=1)
    # one plan each before timing, so neither pays for compiling or first imports
    plan_windows(windows, sats, cities, Mode.ROUTER, Policy.LEAST_LOAD, **common)
    with Clock() as base:
        old = plan_windows(windows, sats, cities, Mode.ROUTER, Policy.LEAST_LOAD, **common)
    with Clock() as ours:
        new = plan_windows(windows, sats, cities, Mode.ROUTER, Policy.LEAST_LOAD,
                           paths=paths, shared=CAPACITY, **common)
    names = windows.sat_names
    for what, clock, plan in (("baseline, least-load counting mobiles", base, old),
                              ("ours, least-load over the path", ours, new)):
        print(f"{what}: {clock.wall:.3f} s wall, {clock.cpu:.3f} s CPU\n  "
              f"{what_it_does(plan, paths, names)}")
    print(f"ratio ours / baseline: wall {ours.wall / base.wall:.2f}x, CPU "
          f"{ours.cpu / base.cpu:.2f}x; load average after: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
