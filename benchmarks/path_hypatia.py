"""The numbers of docs/path.md: city-pair RTTs over +Grid ISLs, set up as Hypatia does.

Kassing et al., "Exploring the 'Internet from space' with Hypatia" (IMC 2020), route
between two cities' ground stations over a +Grid: each city uses any satellite in view,
the shortest path by delay wins. The same here: the source city is the terminal, the
destination city is both the correspondent and the only gateway (no fibre), and the
best RTT over the satellites the terminal sees is the pair's RTT at each 1 s step.
Constellations: Hypatia's Kuiper K1 (34 x 34, 630 km, 51.9 deg, odd planes shifted half a
slot: the one of their Fig. 3) and Starlink shell 1 (tle_data/), each with Hypatia's
ground-link cone turned into the elevation mask it amounts to, and its ISL range.

    python benchmarks/path_hypatia.py [--hours 24]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"

from sigma_sn.elements import read_tle, satellite_from_elements  # noqa: E402
from sigma_sn.path.config import Isl, PathMode  # noqa: E402
from sigma_sn.path.ground import Correspondent, Fibre, lower_bound_rtt_ms  # noqa: E402
from sigma_sn.path.route import PathModel, compute_paths  # noqa: E402
from sigma_sn.propagate import as_utc  # noqa: E402
from sigma_sn.sites import Site, read_sites_csv  # noqa: E402
from sigma_sn.visibility import find_windows  # noqa: E402

START = "2026-08-22T00:00:00Z"
PAIRS = (("Rio-de-Janeiro", "Sankt-Peterburg-(Saint-Petersburg)"), ("Manila", "Dalian"),
         ("Istanbul", "Nairobi"))
HYPATIA_EARTH_KM = 6378.135


def hypatia_isl_km(alt_km: float) -> float:
    """Hypatia's ISL limit: the line of sight stays 80 km above the Earth."""
    r = HYPATIA_EARTH_KM
    return 2 * np.sqrt((r + alt_km) ** 2 - (r + 80.0) ** 2)


def hypatia_mask_deg(alt_km: float, cone_radius_km: float) -> float:
    """The elevation at which Hypatia's ground link reaches its maximum length
    sqrt(cone² + h²) on its spherical Earth (its "30 deg" cone for Kuiper is 25.2 deg)."""
    r, d = HYPATIA_EARTH_KM, np.hypot(cone_radius_km, alt_km)
    return float(np.degrees(np.arcsin(((r + alt_km) ** 2 - r * r - d * d) / (2 * r * d))))


def hypatia_shell(prefix: str, planes: int, per_plane: int, inclination_deg: float,
                  rev_per_day: float, first_norad_id: int):
    """A shell as Hypatia's generate_tles_from_scratch makes it, element for element:
    circular, planes evenly in RAAN, odd planes shifted half a slot."""
    sats = []
    for orbit in range(planes):
        shift = 180.0 / per_plane if orbit % 2 else 0.0
        for k in range(per_plane):
            sats.append(satellite_from_elements(
                name=f"{prefix}-{orbit:02d}-{k:02d}",
                norad_id=first_norad_id + orbit * per_plane + k,
                epoch_utc=as_utc(START), inclination_deg=inclination_deg,
                raan_deg=orbit * 360.0 / planes, eccentricity=1e-7, arg_perigee_deg=0.0,
                mean_anomaly_deg=(shift + k * 360.0 / per_plane) % 360.0,
                mean_motion_rev_per_day=rev_per_day, bstar_per_earth_radius=0.0))
    return sats


def kuiper_k1():
    """Hypatia's Kuiper K1 shell (34 x 34, 51.9 deg, 630 km)."""
    return hypatia_shell("KUIPER", 34, 34, 51.9, 14.80, 80001)


def pair_rtts(sats, mask_deg, isl_km, src: Site, dst: Site, duration_s):
    corr = Correspondent(dst.name, dst.lat_deg, dst.lon_deg)
    gw = Site(dst.name, dst.lat_deg, dst.lon_deg, min_elev_deg=mask_deg)
    model = PathModel(sats, [gw], corr, START, duration_s, mode=PathMode.ISL,
                      min_elev_deg=mask_deg, fibre=Fibre(per_hop_ms=0.0),
                      isl=Isl(max_range_km=isl_km), workers=1)
    tw = find_windows(sats, [src], START, duration_s, min_elev_deg=mask_deg, workers=1)
    paths = compute_paths(model, [src], tw, workers=1)
    best = np.full(model.n_steps, np.inf)
    hops = np.zeros(model.n_steps, int)
    for w in range(len(tw)):
        t, d, h, _ = paths.samples(w)
        k = np.round(t / model.step_s).astype(int)
        better = 2 * d < best[k]
        best[k[better]] = 2 * d[better]
        hops[k[better]] = h[better]
    ok = np.isfinite(best)
    return best[ok], hops[ok], 1 - ok.mean()


def anchor_preview(hours: float) -> None:
    """How often the address would change under each anchor: a terminal stays on its
    satellite until LOS, then takes the one with the lowest path RTT; anchor=satellite
    changes address at every satellite change, anchor=gateway only when the gateway
    its path lands at changes (Starlink shell 1, shipped gateways, 25 deg)."""
    sats = read_tle(REPO / "tle_data" / "starlink_shell1.tle")
    gateways = read_sites_csv(REPO / "scenarios" / "sites" / "gateways_world.csv")
    cities = {c.name: c for c in read_sites_csv(DATA / "stations" / "hypatia_cities_top100.csv")}
    duration_s = hours * 3600.0
    print("\n| mode | terminal → correspondent | satellite changes | gateway changes | "
          "median RTT (ms) |")
    print("|---|---|---|---|---|")
    for a, b in (("Madrid", "London"), ("Rio-de-Janeiro", "Sankt-Peterburg-(Saint-Petersburg)")):
        src, dst = cities[a], cities[b]
        corr = Correspondent(b, dst.lat_deg, dst.lon_deg)
        tw = find_windows(sats, [src], START, duration_s, min_elev_deg=25.0, workers=1)
        for mode in PathMode:
            model = PathModel(sats, gateways, corr, START, duration_s, mode=mode,
                              min_elev_deg=25.0, workers=1)
            paths = compute_paths(model, [src], tw, workers=1)
            sat_changes, gw_changes, rtts = _stay_until_los(paths, model.n_steps)
            print(f"| {mode.value} | {a} → {b.split('-(')[0]} | {sat_changes} | {gw_changes} | "
                  f"{np.median(rtts):.1f} |")


def _stay_until_los(paths, n_steps):
    t_s = np.arange(n_steps) * paths.step_s
    current, gw_now = -1, -1
    sat_changes = gw_changes = 0
    rtts = []
    windows = np.arange(len(paths.windows))
    for k, t in enumerate(t_s):
        if current < 0 or not np.isfinite(paths.delay_ms_at(current, t)):
            d = paths.delay_ms_at(windows, np.full(len(windows), t))
            if not np.isfinite(d).any():
                current = -1
                continue
            nxt = int(np.nanargmin(d))
            sat_changes += current >= 0 and nxt != current
            current = nxt
        j = k - int(paths.first_step[current])
        at = int(paths.offset[current]) + j
        g = int(paths.gateway[at])
        gw_changes += gw_now >= 0 and g >= 0 and g != gw_now
        gw_now = g if g >= 0 else gw_now
        rtts.append(2 * float(paths.delay_ms[at]))
    return sat_changes, gw_changes, np.array(rtts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    args = ap.parse_args()
    cities = {c.name: c for c in read_sites_csv(DATA / "stations" / "hypatia_cities_top100.csv")}
    # Hypatia's ground-link cones: Kuiper 630 km / tan(30 deg), Starlink 940.7 km
    shells = (("Kuiper K1 (Hypatia's)", kuiper_k1(),
               hypatia_mask_deg(630.0, 630.0 / np.tan(np.radians(30.0))), hypatia_isl_km(630.0)),
              ("Starlink shell 1", read_tle(REPO / "tle_data" / "starlink_shell1.tle"),
               hypatia_mask_deg(550.0, 940.7), hypatia_isl_km(550.0)))
    for label, _, mask, isl_km in shells:
        print(f"{label}: mask {mask:.1f} deg, ISL range {isl_km:.0f} km")
    print("| constellation | pair | geodesic RTT at c (ms) | span | RTT min / median / max "
          "(ms) | hops (radio + ISL) min–max | no path |")
    print("|---|---|---|---|---|---|---|")
    for label, sats, mask, isl_km in shells:
        for a, b in PAIRS:
            src, dst = cities[a], cities[b]
            bound = lower_bound_rtt_ms(src.lat_deg, src.lon_deg,
                                       Correspondent(b, dst.lat_deg, dst.lon_deg))
            for span_s in (200.0, args.hours * 3600.0):
                rtt, hops, gap = pair_rtts(sats, mask, isl_km, src, dst, span_s)
                print(f"| {label} | {a} – {b.split('-(')[0]} | {bound:.1f} | {span_s:g} s | "
                      f"{rtt.min():.1f} / {np.median(rtt):.1f} / {rtt.max():.1f} | "
                      f"{hops.min()}–{hops.max()} | {gap:.1%} |")
    anchor_preview(args.hours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
