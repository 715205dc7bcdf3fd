"""The numbers of docs/path.md: city-pair RTTs over +Grid ISLs, set up as Hypatia does.

Kassing et al., "Exploring the 'Internet from space' with Hypatia" (IMC 2020), route
between two cities' ground stations over a +Grid: each city uses any satellite in view,
the shortest path by delay wins. The same here: the source city is the terminal, the
destination city is both the correspondent and the only gateway (no fibre), and the
best RTT over the satellites the terminal sees is the pair's RTT at each 1 s step.
Constellations: Hypatia's Kuiper K1 (34 x 34, 630 km, 51.9 deg, odd planes shifted half a
slot: the one of their Fig. 3) and Starlink shell 1 (tle_data/), each with Hypatia's
ground-link cone turned into the elevation mask it amounts to, and its ISL range.

First, the same instant as Hypatia's own data (:func:`against_hypatia`): their Kuiper K1
shell rebuilt with :func:`sigma_sn.walker.walker` from its published parameters, their
epoch (2000-01-01 00:00 UTC), their 1,260 km ground-link limit and ISL range, and their
computed RTTs for Manila–Dalian (the pair of their Fig. 3(b)), Manila–Saint Petersburg
and Saint Petersburg–Dalian (tests/data/hypatia/), printed next to ours second by second.

    python benchmarks/path_hypatia.py [--hours 24] [--against-only]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"

from sigma_sn.elements import read_tle, satellite_from_elements  # noqa: E402
from sigma_sn.path.config import Isl, PathMode  # noqa: E402
from sigma_sn.path.ground import Correspondent, Fibre, lower_bound_rtt_ms  # noqa: E402
from sigma_sn.path.route import PathModel, compute_paths  # noqa: E402
from sigma_sn.propagate import as_utc  # noqa: E402
from sigma_sn.sites import Site, itrs_km, read_sites_csv  # noqa: E402
from sigma_sn.visibility import find_windows  # noqa: E402
from sigma_sn.walker import EARTH_RADIUS_KM, MU_WGS72_KM3_S2, walker  # noqa: E402

START = "2026-08-22T00:00:00Z"
PAIRS = (("Rio-de-Janeiro", "Sankt-Peterburg-(Saint-Petersburg)"), ("Manila", "Dalian"),
         ("Istanbul", "Nairobi"))
HYPATIA_EARTH_KM = 6378.135
HYPATIA_START = "2000-01-01T00:00:00Z"      # their TLE epoch (00001.00000000), their t = 0
HYPATIA_DATA = REPO / "tests" / "data" / "hypatia" / "kuiper630_rtt_1s.csv"
#: (source, destination, column of HYPATIA_DATA): their nodes 1173 → 1241, 1173 → 1229,
#: 1229 → 1241 (satgenpy/tests/data_to_match/kuiper_630)
HYPATIA_PAIRS = (("Manila", "Dalian", "manila_dalian_ms"),
                 ("Manila", "Sankt-Peterburg-(Saint-Petersburg)", "manila_saint_petersburg_ms"),
                 ("Sankt-Peterburg-(Saint-Petersburg)", "Dalian", "saint_petersburg_dalian_ms"))


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


def pair_rtt_series(sats, src: Site, dst: Site, duration_s, *, isl_km, polar_cutoff_deg=75.0,
                    start=START, max_gsl_km=None):
    """Best RTT (ms) from ``src`` to ``dst`` at each 1 s step (NaN: no path) and its links:
    ``dst`` is the correspondent and the only gateway (no fibre), each end's mask its
    ``min_elev_deg``; with ``max_gsl_km``, a ground link is up at the steps its slant
    range is at most that long instead (Hypatia's rule; the sites' masks must be low
    enough to hold those links)."""
    corr = Correspondent(dst.name, dst.lat_deg, dst.lon_deg)
    isl = Isl(max_range_km=isl_km, polar_cutoff_deg=polar_cutoff_deg)

    def model(gw_windows=None):
        return PathModel(sats, [dst], corr, start, duration_s, mode=PathMode.ISL,
                         fibre=Fibre(per_hop_ms=0.0), isl=isl, gateway_windows=gw_windows,
                         workers=1)

    m = model()
    tw = find_windows(sats, [src], start, duration_s, workers=1)
    if max_gsl_km is not None:
        m = model(range_limited(m.gateway_windows, m, [dst], max_gsl_km))
        tw = range_limited(tw, m, [src], max_gsl_km)
    paths = compute_paths(m, [src], tw, workers=1)
    best = np.full(m.n_steps, np.inf)
    hops = np.zeros(m.n_steps, int)
    for w in range(len(tw)):
        t, d, h, _ = paths.samples(w)
        k = np.round(t / m.step_s).astype(int)
        better = 2 * d < best[k]
        best[k[better]] = 2 * d[better]
        hops[k[better]] = h[better]
    return np.where(np.isfinite(best), best, np.nan), hops


def range_limited(windows, model: PathModel, sites, max_km: float):
    """``windows`` cut down to the routing steps of ``model`` at which the satellite is at
    most ``max_km`` from the site (each window then spans those steps). For short runs:
    it holds every step's positions."""
    step = model.step_s
    first = np.clip(np.ceil(windows.aos_s / step - 1e-9), 0, model.n_steps).astype(int)
    end = np.clip(np.ceil(windows.los_s / step - 1e-9), 0, model.n_steps).astype(int)
    end[windows.los_truncated.astype(bool)] = model.n_steps
    pos = model.positions_km(np.arange(model.n_steps))
    ground = itrs_km(sites)
    aos, los = windows.aos_s.copy(), windows.los_s.copy()
    los_truncated = windows.los_truncated.copy()
    keep = np.zeros(len(windows), bool)
    for i in range(len(windows)):
        k = np.arange(first[i], max(end[i], first[i]))
        r = np.linalg.norm(pos[k, windows.sat[i]] - ground[windows.site[i]], axis=-1)
        near = k[r <= max_km]
        if near.size:
            keep[i] = True
            aos[i], los[i] = near[0] * step, (near[-1] + 0.5) * step
            los_truncated[i] &= near[-1] == model.n_steps - 1
    return replace(windows, aos_s=aos, los_s=los, los_truncated=los_truncated).select(keep)


def pair_rtts(sats, mask_deg, isl_km, src: Site, dst: Site, duration_s):
    src = Site(src.name, src.lat_deg, src.lon_deg, min_elev_deg=mask_deg)
    dst = Site(dst.name, dst.lat_deg, dst.lon_deg, min_elev_deg=mask_deg)
    best, hops = pair_rtt_series(sats, src, dst, duration_s, isl_km=isl_km)
    ok = np.isfinite(best)
    return best[ok], hops[ok], 1 - ok.mean()


def altitude_km_for(mean_motion_rev_per_day: float) -> float:
    """The altitude :func:`sigma_sn.walker.walker` turns back into this mean motion."""
    n_rad_s = mean_motion_rev_per_day * 2.0 * np.pi / 86400.0
    return (MU_WGS72_KM3_S2 / n_rad_s ** 2) ** (1.0 / 3.0) - EARTH_RADIUS_KM


def hypatia_kuiper_k1(epoch_utc=HYPATIA_START):
    """Hypatia's Kuiper K1 from its published parameters: 34 planes of 34 at 51.9 deg,
    14.80 rev/day, e = 1e-7, odd planes half a slot on. Shifting plane p by p half
    slots (Walker phasing 17 of 1156) places the same satellites: even planes move by
    whole slots."""
    return walker(1156, 34, 17, altitude_km_for(14.80), 51.9, as_utc(epoch_utc),
                  name_prefix="KUIPER-K1", eccentricity=1e-7)


def hypatia_starlink_s1(epoch_utc=HYPATIA_START):
    """Hypatia's Starlink S1 likewise: 72 x 22 at 53 deg, 15.19 rev/day, half-slot shift
    (phasing 36 of 1584)."""
    return walker(1584, 72, 36, altitude_km_for(15.19), 53.0, as_utc(epoch_utc),
                  name_prefix="STARLINK-S1", eccentricity=1e-7)


def gsl_mask_deg(site: Site, orbit_radius_km: float, max_gsl_km: float) -> float:
    """The elevation at ``site`` at which a satellite ``orbit_radius_km`` from the
    Earth's centre is ``max_gsl_km`` away: Hypatia's ground-link length limit as a mask.
    The site's own geocentric radius on WGS84 (Hypatia measures the range from an
    observer on an ellipsoid too), elevation from the geocentric vertical."""
    r_site = float(np.linalg.norm(itrs_km([site])[0]))
    d = max_gsl_km
    sin_e = (orbit_radius_km ** 2 - r_site ** 2 - d * d) / (2.0 * r_site * d)
    return float(np.degrees(np.arcsin(sin_e)))


def read_hypatia_rtts(path=HYPATIA_DATA) -> dict[str, np.ndarray]:
    """Hypatia's RTT columns (ms, NaN where they found no path), and ``t_s``."""
    rows = [line.split(",") for line in Path(path).read_text().splitlines()
            if line and not line.startswith("#")]
    names, data = rows[0], rows[1:]
    return {n: np.array([float(r[i]) if r[i] else np.nan for r in data])
            for i, n in enumerate(names)}


def mean_orbit_radius_km(sats, start) -> float:
    """Mean distance of the shell's satellites from the Earth's centre at ``start``."""
    from sigma_sn.propagate import Epoch, propagate
    eph = propagate([s.satrec for s in sats], Epoch.at(start), np.array([0.0]))
    return float(np.linalg.norm(eph.pos_itrs_km, axis=-1).mean())


def hypatia_limits_km(alt_km: float, cone_radius_km: float) -> tuple[float, float]:
    """Hypatia's longest ground link (its cone's edge) and ISL for a shell ``alt_km`` up."""
    return float(np.hypot(cone_radius_km, alt_km)), float(hypatia_isl_km(alt_km))


#: per shell: how to build it and Hypatia's altitude and cone radius (km) for the limits
HYPATIA_SHELLS = {"Kuiper K1": (hypatia_kuiper_k1, 630.0, 630.0 / np.tan(np.radians(30.0))),
                  "Starlink S1": (hypatia_starlink_s1, 550.0, 940.7)}


def against_hypatia(duration_s: float = 200.0, pairs=HYPATIA_PAIRS, shell="Kuiper K1"):
    """Our RTTs at Hypatia's instant, with a shell's limits, for its pairs, next to
    Hypatia's Kuiper K1 RTTs: yields ``(source, destination, t_s, ours_ms, theirs_ms)``."""
    cities = {c.name: c for c in read_sites_csv(DATA / "stations" / "hypatia_cities_top100.csv")}
    theirs = read_hypatia_rtts()
    build, alt_km, cone_km = HYPATIA_SHELLS[shell]
    sats = build()
    max_gsl_km, isl_km = hypatia_limits_km(alt_km, cone_km)
    radius_km = mean_orbit_radius_km(sats, HYPATIA_START)
    n = int(duration_s) + 1
    for a, b, column in pairs:
        # masks 3 deg under the limit's (it moves with the orbit's radius), then the range
        src, dst = (Site(x, cities[x].lat_deg, cities[x].lon_deg,
                         min_elev_deg=gsl_mask_deg(cities[x], radius_km, max_gsl_km) - 3.0)
                    for x in (a, b))
        ours, _ = pair_rtt_series(sats, src, dst, duration_s, isl_km=isl_km,
                                  polar_cutoff_deg=90.0, start=HYPATIA_START,
                                  max_gsl_km=max_gsl_km)
        k = min(n, len(theirs["t_s"]))
        yield a, b, theirs["t_s"][:k], ours[:k], theirs[column][:k]


def print_against_hypatia(duration_s: float = 200.0) -> None:
    print("| pair (2000-01-01 00:00 UTC + 0–200 s) | Hypatia's K1: min / mean / max (ms) | "
          "ours, K1 | ours − Hypatia, K1: max abs (ms) | no path, s: Hypatia / ours | "
          "ours, Hypatia's Starlink S1 |")
    print("|---|---|---|---|---|---|")
    starlink = {(a, b): ours for a, b, _, ours, _ in against_hypatia(duration_s,
                                                                     shell="Starlink S1")}
    for a, b, _, ours, theirs in against_hypatia(duration_s):
        both = np.isfinite(ours) & np.isfinite(theirs)
        s1 = starlink[(a, b)]
        print(f"| {a} – {b.split('-(')[0]} | {_span(theirs)} | {_span(ours)} | "
              f"{np.abs(ours - theirs)[both].max():.4f} | {np.isnan(theirs).sum()} / "
              f"{np.isnan(ours).sum()} | {_span(s1)}, no path {np.isnan(s1).sum()} s |")


def _span(rtt_ms) -> str:
    return f"{np.nanmin(rtt_ms):.2f} / {np.nanmean(rtt_ms):.2f} / {np.nanmax(rtt_ms):.2f}"


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
    ap.add_argument("--against-only", action="store_true",
                    help="only the comparison with Hypatia's data")
    args = ap.parse_args()
    print_against_hypatia()
    if args.against_only:
        return 0
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
