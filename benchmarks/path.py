"""Benchmark: the path stage against the visibility step, in one run.

Starlink shell 1 (the 72 x 22 Walker shell in tle_data/) with +Grid ISLs, Hypatia's
100 most populous cities as terminals, the shipped world gateways, a correspondent in
London, 24 h: first the terminals' visibility windows (the step the path stage reads),
then every routing step (1 s) of every terminal's paths over every satellite it sees.
Prints wall time, CPU time (this process and its forked workers) and peak memory of each,
the ratios path / visibility and the load average (the machine is shared: under load the
wall ratio moves, the CPU ratio much less). Goal: wall ratio <= 2.

    python benchmarks/path.py [--hours 24] [--step-s 1] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"

from sigma_sn.elements import read_tle  # noqa: E402
from sigma_sn.path.config import PathMode  # noqa: E402
from sigma_sn.path.ground import Correspondent  # noqa: E402
from sigma_sn.path.route import PathModel, compute_paths  # noqa: E402
from sigma_sn.sites import read_sites_csv  # noqa: E402
from sigma_sn.visibility import find_windows  # noqa: E402

START = "2026-08-22T00:00:00Z"
MASK_DEG = 25.0
LONDON = Correspondent("London", 51.5074, -0.1278)
GOAL_RATIO = 2.0


def shell1_inputs(cities_csv: str, n_terminals: int | None = None):
    """Starlink shell 1's satellites, the first ``n_terminals`` cities of ``cities_csv``
    (a file in the shared data's stations) and the shipped world gateways."""
    sats = read_tle(REPO / "tle_data" / "starlink_shell1.tle")
    cities = read_sites_csv(DATA / "stations" / cities_csv)[:n_terminals]
    gateways = read_sites_csv(REPO / "scenarios" / "sites" / "gateways_world.csv")
    return sats, cities, gateways


def _reset_peak() -> None:
    """Reset this process's peak RSS (Linux: clear_refs 5), so each stage gets its own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_mb() -> float:
    """Peak RSS since the last reset (VmHWM), and of any worker process, MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                own = int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return own


def _kids_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and of its ended workers so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


class Clock:
    """Wall and CPU seconds (this process and its finished children) of one stage, and
    its peak RSS: the stage timer benchmarks/shared.py and anchor.py use too."""

    def __enter__(self):
        _reset_peak()
        self.wall, self.cpu = time.perf_counter(), _cpu_s()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = _cpu_s() - self.cpu
        self.peak_mb = _peak_mb()

    def __str__(self) -> str:
        return f"{self.wall:.1f} s wall, {self.cpu:.1f} s CPU, peak RSS {self.peak_mb:.0f} MB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--step-s", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    duration_s = args.hours * 3600.0
    sats, cities, gateways = shell1_inputs("hypatia_cities_top100.csv")
    # load the compiled kernels before timing (a first run compiles them once)
    warm = PathModel(sats[:44], gateways[:1], LONDON, START, 600.0, mode=PathMode.ISL,
                     min_elev_deg=MASK_DEG, workers=1)
    compute_paths(warm, cities[:3], find_windows(sats[:44], cities[:3], START, 600.0,
                                                 min_elev_deg=MASK_DEG, workers=1), workers=1)
    print(f"load average before: {_load()}")

    _reset_peak()
    c0, t0 = _cpu_s(), time.perf_counter()
    windows = find_windows(sats, cities, START, duration_s, min_elev_deg=MASK_DEG,
                           workers=args.workers)
    vis_s = time.perf_counter() - t0
    vis_cpu = _cpu_s() - c0
    vis_mb = max(_peak_mb(), _kids_mb())
    print(f"visibility: {len(sats)} satellites x {len(cities)} cities x {args.hours:g} h: "
          f"{len(windows)} windows in {vis_s:.1f} s ({vis_cpu:.1f} CPU s), "
          f"peak RSS {vis_mb:.0f} MB")

    _reset_peak()
    c0, t0 = _cpu_s(), time.perf_counter()
    model = PathModel(sats, gateways, LONDON, START, duration_s, mode=PathMode.ISL,
                      min_elev_deg=MASK_DEG, step_s=args.step_s, workers=args.workers)
    model_s = time.perf_counter() - t0
    paths = compute_paths(model, cities, windows, workers=args.workers)
    path_s = time.perf_counter() - t0
    path_cpu = _cpu_s() - c0
    path_mb = _peak_mb()
    kids_mb = _kids_mb()
    reach = np.isfinite(paths.delay_ms)
    print(f"path (isl, +Grid {len(model.grid.a)} links, {len(gateways)} gateways): "
          f"{model.n_steps} steps, {len(paths.delay_ms)} (terminal, satellite, step) samples "
          f"({reach.mean():.1%} reach a gateway) in {path_s:.1f} s ({path_cpu:.1f} CPU s), "
          f"peak RSS {path_mb:.0f} MB")
    print(f"  (its parts: model {model_s:.1f} s - propagation, gateway windows, +Grid; "
          f"routing {path_s - model_s:.1f} s; forked workers of both stages peaked at "
          f"{kids_mb:.0f} MB)")
    print(f"median one-way delay {np.median(paths.delay_ms[reach]):.1f} ms, "
          f"median hops {np.median(paths.hops[reach]):.0f}")
    ratio = path_s / vis_s
    print(f"ratio path / visibility: time {ratio:.2f}x (goal <= {GOAL_RATIO:g}), "
          f"CPU {path_cpu / vis_cpu:.2f}x, memory {path_mb / vis_mb:.2f}x; "
          f"load average after {_load()}")
    print("goal met" if ratio <= GOAL_RATIO else "GOAL MISSED")
    return 0 if ratio <= GOAL_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
