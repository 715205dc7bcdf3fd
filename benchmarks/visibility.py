"""Benchmark: visibility windows for the whole Starlink snapshot over 100 cities, 24 h.

Prints our wall time and peak memory, skyfield's ``find_events`` on a random sample
of (satellite, city) pairs timed in the same run, the ratio
(skyfield per pair x all pairs) / ours, and the largest AOS/LOS difference from the
slow brentq reference on that sample. Targets: <= 30 s, <= 3 GB, ratio >= 100, <= 1 ms.

    python benchmarks/visibility.py [--pairs 200] [--workers N]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

from reference import reference_windows  # noqa: E402
from windows_cli import sample_pairs, skyfield_per_pair_s  # noqa: E402

from sigma_sn.elements import load_elements  # noqa: E402
from sigma_sn.sites import read_sites_csv  # noqa: E402
from sigma_sn.visibility import find_windows  # noqa: E402

START = datetime(2026, 8, 22, tzinfo=timezone.utc)
HOURS = 24.0
MASK_DEG = 25.0


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()

    catalog = load_elements(DATA / "tle" / "starlink_2026-08-22.tle")
    sats = catalog.satellites
    cities = read_sites_csv(DATA / "stations" / "hypatia_cities_top100.csv")
    duration_s = HOURS * 3600.0

    t0 = time.perf_counter()
    w = find_windows(sats, cities, START, duration_s, min_elev_deg=MASK_DEG,
                     workers=args.workers)
    ours_s = time.perf_counter() - t0
    rss = peak_rss_mb()
    print(f"ours: {len(sats)} satellites x {len(cities)} cities x {HOURS:g} h at {MASK_DEG:g} deg: "
          f"{len(w)} windows in {ours_s:.1f} s, peak RSS {rss:.0f} MB, "
          f"{len(w.skipped)} satellite(s) skipped by SGP4")

    # skyfield's find_events on a random sample of pairs, the same window and mask
    pairs = sample_pairs(len(sats), len(cities), args.pairs)
    sky_per_pair, _ = skyfield_per_pair_s(sats, cities, HOURS, pairs)
    all_pairs = len(sats) * len(cities)
    ratio = sky_per_pair * all_pairs / ours_s
    print(f"skyfield find_events: {sky_per_pair * 1e3:.2f} ms per pair-day -> "
          f"{sky_per_pair * all_pairs / 60:.0f} min for all {all_pairs} pairs; "
          f"ratio {ratio:.0f}x (target >= 100)")

    # timing error against the slow reference on the same sample
    worst_s, n_ref, n_ours = 0.0, 0, 0
    index = {(int(s), int(j)): [] for s, j in zip(w.sat, w.site)}
    for k, (s, j) in enumerate(zip(w.sat, w.site)):
        index[(int(s), int(j))].append(k)
    for i, j in sorted(set(pairs)):
        ref = reference_windows([sats[i].satrec], [sats[i].name], [cities[j]], START,
                                duration_s, MASK_DEG)
        ours = sorted(index.get((i, j), []), key=lambda k: w.aos_s[k])
        n_ref += len(ref)
        n_ours += len(ours)
        if len(ref) != len(ours):
            print(f"  pass count differs for {sats[i].name} / {cities[j].name}: "
                  f"ours {len(ours)}, reference {len(ref)}")
            continue
        for r, k in zip(ref, ours):
            worst_s = max(worst_s, abs(r[2] - w.aos_s[k]), abs(r[4] - w.los_s[k]))
    print(f"reference on the sample: {n_ref} passes, ours {n_ours}; "
          f"largest AOS/LOS difference {worst_s * 1e3:.3f} ms (target <= 1 ms)")
    ok = ours_s <= 30 and rss <= 3072 and ratio >= 100 and worst_s <= 1e-3 and n_ref == n_ours
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
