"""Look angles against skyfield's altaz(); footprints against DESIGN.md's published checks."""

from __future__ import annotations

import numpy as np
import pytest
from skyfield.api import EarthSatellite, load, wgs84

from sigma_sn.elements import read_tle
from sigma_sn.geometry import (footprint_half_angle_rad, footprint_polygon_deg, look_angles,
                               max_slant_range_km)
from sigma_sn.propagate import Epoch, propagate
from sigma_sn.sites import Site, WGS84_A_KM, itrs_km, read_sites_csv
from tests.conftest import START

MU_KM3_S2 = 398600.4418
TEN_MICRODEG = 1e-5
ONE_M_KM = 1e-3


def test_site_positions_match_skyfield_wgs84(shared_data):
    sites = read_sites_csv(shared_data / "stations" / "nen_core_stations.csv")
    ours = itrs_km(sites)
    for site, pos in zip(sites, ours):
        ref = wgs84.latlon(site.lat_deg, site.lon_deg, elevation_m=site.alt_m).itrs_xyz.km
        assert np.max(np.abs(pos - ref)) < 1e-9


def test_look_angles_match_skyfield_altaz(shared_data):
    sats = read_tle(shared_data / "tle" / "iridium_next_2026-08-22.tle")[:6]
    sites = read_sites_csv(shared_data / "stations" / "nen_core_stations.csv")[:5]
    ts = load.timescale()
    t_s = np.arange(0.0, 7200.0, 97.0)
    t = ts.utc(START.year, START.month, START.day, 0, 0, t_s)
    la = look_angles(propagate([s.satrec for s in sats], Epoch.at(START), t_s), sites)
    for i, sat in enumerate(sats):
        sky = EarthSatellite.from_satrec(sat.satrec, ts)
        for j, site in enumerate(sites):
            topos = wgs84.latlon(site.lat_deg, site.lon_deg, elevation_m=site.alt_m)
            alt, az, dist, _, _, rate = (sky - topos).at(t).frame_latlon_and_rates(topos)
            alt, az, _ = (sky - topos).at(t).altaz()
            assert np.max(np.abs(la.elev_deg[i, j] - alt.degrees)) < TEN_MICRODEG
            daz = (la.az_deg[i, j] - az.degrees + 180) % 360 - 180
            assert np.max(np.abs(daz)) < TEN_MICRODEG
            assert np.max(np.abs(la.range_km[i, j] - dist.km)) < ONE_M_KM
            assert np.max(np.abs(la.range_rate_km_s[i, j] - rate.km_per_s)) < 1e-6


def test_elevation_rate_is_the_derivative_of_elevation(shared_data):
    sats = read_tle(shared_data / "tle" / "gpm_core_2026-08-22.tle")
    site = [Site("Wallops", 37.92, -75.48)]
    dt = 0.01
    t_s = np.arange(0.0, 20000.0, 500.0)
    e = Epoch.at(START)
    la = look_angles(propagate([sats[0].satrec], e, t_s), site)
    up = look_angles(propagate([sats[0].satrec], e, t_s + dt), site)
    dn = look_angles(propagate([sats[0].satrec], e, t_s - dt), site)
    numeric = (up.elev_deg - dn.elev_deg) / (2 * dt)
    assert np.max(np.abs(la.elev_rate_deg_s - numeric)) < 1e-6


@pytest.mark.parametrize("alt_km, mask_deg, diameter_km, slant_km", [
    (550.0, 25.0, 1881.0, 1123.0),     # Starlink shell 1 (DESIGN.md)
    (780.0, 8.2, 4436.0, 2465.0),      # Iridium with ns-2's mask (DESIGN.md)
])
def test_footprint_matches_published_checks(alt_km, mask_deg, diameter_km, slant_km):
    lam = footprint_half_angle_rad(alt_km, mask_deg)
    assert 2 * lam * WGS84_A_KM == pytest.approx(diameter_km, abs=1.0)
    assert max_slant_range_km(alt_km, mask_deg) == pytest.approx(slant_km, abs=1.0)


@pytest.mark.parametrize("alt_km, mask_deg, minutes", [(550.0, 25.0, 4.5), (780.0, 8.2, 11.1)])
def test_longest_overhead_pass_matches_published_checks(alt_km, mask_deg, minutes):
    period_s = 2 * np.pi * np.sqrt((WGS84_A_KM + alt_km) ** 3 / MU_KM3_S2)
    longest_min = footprint_half_angle_rad(alt_km, mask_deg) / np.pi * period_s / 60
    assert longest_min == pytest.approx(minutes, abs=0.05)


def test_iridium_period_matches_published_value():
    period_s = 2 * np.pi * np.sqrt((WGS84_A_KM + 780.0) ** 3 / MU_KM3_S2)
    assert period_s == pytest.approx(6027.0, rel=0.002)


@pytest.mark.parametrize("lat, lon", [(0.0, 0.0), (45.0, 179.0), (-89.0, -120.0), (88.0, 10.0)])
def test_footprint_polygon_is_a_small_circle(lat, lon):
    half = footprint_half_angle_rad(550.0, 25.0)
    ring_lat, ring_lon = footprint_polygon_deg(lat, lon, half, n_points=90)
    assert ring_lat[0] == ring_lat[-1] and ring_lon[0] == ring_lon[-1]
    assert np.all((ring_lon >= -180) & (ring_lon < 180))
    p1, l1, p2, l2 = map(np.radians, (lat, lon, ring_lat, ring_lon))
    central = np.arccos(np.clip(np.sin(p1) * np.sin(p2)
                                + np.cos(p1) * np.cos(p2) * np.cos(l2 - l1), -1, 1))
    assert np.max(np.abs(central - half)) < 1e-9


def test_range_and_rate_are_topocentrics_bit_for_bit():
    """The planner's round trips use range_and_rate; the plan must not depend on whether
    the angles were computed alongside."""
    from sigma_sn.geometry import range_and_rate, topocentric

    rng = np.random.default_rng(5)
    pos = rng.normal(0, 7000, (200, 3))
    vel = rng.normal(0, 7, (200, 3))
    site = rng.normal(0, 6371, (200, 3))
    basis = np.linalg.qr(rng.normal(size=(200, 3, 3)))[0]
    la = topocentric(pos, vel, site, basis)
    r, rate = range_and_rate(pos, vel, site, basis)
    assert np.array_equal(r, la.range_km) and np.array_equal(rate, la.range_rate_km_s)
