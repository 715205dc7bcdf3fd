"""Issue 21's reference numbers, recomputed: what starting the path at the highest
satellite costs against the best one in view.

The setting the issue names: Hypatia's Starlink shell (72 planes x 22, 53 deg, 15.19
rev/day, odd planes shifted half a slot, element for element as Hypatia's
generate_tles_from_scratch), +Grid ISLs (Hypatia's range: the line of sight 80 km above
the Earth), a 25 deg mask at both ends, and the destination's ground station as the only
gateway (no fibre). At each 1 s step the source city's terminal sees some satellites;
``highest`` is the one with the largest elevation, ``best`` the one whose path RTT is
least. Prints, per pair, the median RTT penalty highest - best, the share of seconds it
exceeds 20 ms, and the same split by the highest satellite's pass direction
(sigma_sn.path.penalty), next to the issue's median.

    python benchmarks/path_penalty.py [--hours 2] [--walker]

``--walker`` uses the 1584/72/39 Walker delta shell of ``sigma-sn constellation walker``
instead of Hypatia's half-slot shift.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "benchmarks"))

from path import _cpu_s as cpu_s  # noqa: E402
from path_hypatia import hypatia_isl_km, hypatia_shell  # noqa: E402

from sigma_sn.path.config import Isl, PathMode  # noqa: E402
from sigma_sn.path.ground import Correspondent, Fibre  # noqa: E402
from sigma_sn.path.penalty import direction_table, step_choices  # noqa: E402
from sigma_sn.path.route import PathModel, compute_paths  # noqa: E402
from sigma_sn.propagate import as_utc  # noqa: E402
from sigma_sn.sites import Site, read_sites_csv  # noqa: E402
from sigma_sn.visibility import find_windows  # noqa: E402
from sigma_sn.walker import walker  # noqa: E402

START = "2026-08-22T00:00:00Z"
MASK_DEG = 25.0
LISBON = Site("Lisbon", 38.7223, -9.1393)   # not among Hypatia's top 100 cities
#: (source, destination, the issue's median penalty in ms)
PAIRS = (("Toronto", "London", 5.0), ("Lisbon", "New-York-Newark", 23.0),
         ("Sydney", "Tokyo", 28.0), ("Rio-de-Janeiro", "Sankt-Peterburg-(Saint-Petersburg)",
                                     192.0))


def hypatia_starlink():
    """Hypatia's Starlink shell 1 (72 x 22, 53 deg, 550 km)."""
    return hypatia_shell("STARLINK", 72, 22, 53.0, 15.19, 70001)


def pair_paths(sats, src: Site, dst: Site, duration_s: float):
    """The :class:`PathModel` and the path delays of ``src``'s windows, paths landing at
    ``dst`` only."""
    corr = Correspondent(dst.name, dst.lat_deg, dst.lon_deg)
    gw = Site(dst.name, dst.lat_deg, dst.lon_deg, min_elev_deg=MASK_DEG)
    model = PathModel(sats, [gw], corr, START, duration_s, mode=PathMode.ISL,
                      min_elev_deg=MASK_DEG, fibre=Fibre(per_hop_ms=0.0),
                      isl=Isl(max_range_km=hypatia_isl_km(550.0)), workers=1)
    tw = find_windows(sats, [src], START, duration_s, min_elev_deg=MASK_DEG, workers=1)
    return model, compute_paths(model, [src], tw, workers=1)


def pair_choices(sats, src: Site, dst: Site, duration_s: float):
    """The highest and the best satellite of ``src`` at each step (:func:`pair_paths`)."""
    return step_choices(pair_paths(sats, src, dst, duration_s)[1], sats, src)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--walker", action="store_true")
    args = ap.parse_args()
    cities = {c.name: c for c in read_sites_csv(DATA / "stations" / "hypatia_cities_top100.csv")}
    cities[LISBON.name] = LISBON
    sats = (walker(1584, 72, 39, 550.0, 53.0, as_utc(START), name_prefix="WALKER")
            if args.walker else hypatia_starlink())
    shell = "Walker delta 1584/72/39" if args.walker else "Hypatia's Starlink 72 x 22"
    print(f"{shell}, 53 deg, +Grid, {MASK_DEG:g} deg mask, destination as the only gateway, "
          f"{args.hours:g} h from {START} at 1 s")
    print("| pair | issue: median (ms) | ours: median (ms) | > 20 ms | highest and best "
          "move the same way: share, median (ms) | opposite ways: share, median | highest "
          "northbound: share, median | highest southbound: share, median |")
    print("|---|---|---|---|---|---|---|---|")
    t0, c0 = time.perf_counter(), cpu_s()
    for a, b, issue in PAIRS:
        c = pair_choices(sats, cities[a], cities[b], args.hours * 3600.0)
        rows = {r["case"]: r for r in direction_table(c)}
        cells = " | ".join(f"{rows[k]['share']:.0%}, {rows[k]['median_ms']:.1f}" for k in (
            "best moves the same way", "best moves the other way", "highest northbound",
            "highest southbound"))
        print(f"| {a} → {b.split('-(')[0]} | {issue:g} | {rows['all']['median_ms']:.1f} | "
              f"{rows['all']['over_20ms']:.0%} | {cells} |")
        sys.stdout.flush()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{time.perf_counter() - t0:.1f} s wall, {cpu_s() - c0:.1f} s CPU (with child "
          f"processes), "
          f"peak RSS {rss:.0f} MB, load average {load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
