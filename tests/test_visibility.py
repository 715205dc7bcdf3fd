"""Visibility windows against the skyfield-only reference: same passes, AOS/LOS <= 1 ms."""

from __future__ import annotations

import numpy as np
import pytest

from sigma_sn.elements import read_tle
from sigma_sn.sites import HorizonMask, Site, read_sites_csv
from sigma_sn.visibility import find_windows
from tests.conftest import REPO, START
from tests.reference import reference_windows

ONE_MS = 1e-3
TEN_MS = 1e-2
ELEV_TOL_DEG = 1e-4
DAY_S = 86400.0


def assert_same_as_reference(sats, sites, mask_deg, duration_s=DAY_S, step_s=60.0,
                             ref_step_s=10.0):
    ours = find_windows(sats, sites, START, duration_s, min_elev_deg=mask_deg, step_s=step_s,
                        workers=1)
    ref = reference_windows([s.satrec for s in sats], [s.name for s in sats], sites, START,
                            duration_s, mask_deg, step_s=ref_step_s)
    got = sorted((ours.sat_names[ours.sat[k]], ours.site_names[ours.site[k]], ours.aos_s[k],
                  ours.tca_s[k], ours.los_s[k], ours.max_elev_deg[k],
                  bool(ours.aos_truncated[k]), bool(ours.los_truncated[k]))
                 for k in range(len(ours)))
    want = sorted(ref)
    keys = lambda rows: [(r[0], r[1], round(r[2] / 30)) for r in rows]  # noqa: E731
    assert keys(got) == keys(want), "pass sets differ"
    g = np.array([r[2:6] for r in got])
    w = np.array([r[2:6] for r in want])
    worst = np.abs(g - w).max(axis=0)
    assert worst[0] <= ONE_MS and worst[2] <= ONE_MS, f"AOS/LOS off by {worst[[0, 2]]} s"
    assert worst[1] <= TEN_MS, f"TCA off by {worst[1]} s"
    assert worst[3] <= ELEV_TOL_DEG, f"max elevation off by {worst[3]} deg"
    assert [r[6:] for r in got] == [r[6:] for r in want], "truncation flags differ"
    return ours


def test_iridium_next_over_nen_stations_24h(shared_data):
    sats = read_tle(shared_data / "tle" / "iridium_next_2026-08-22.tle")
    sites = read_sites_csv(shared_data / "stations" / "nen_core_stations.csv")
    w = assert_same_as_reference(sats, sites, mask_deg=10.0)
    assert len(w) > 4000 and w.aos_truncated.any() and w.los_truncated.any()


def test_starlink_sample_over_cities(shared_data):
    sats = read_tle(shared_data / "tle" / "starlink_2026-08-22.tle")
    rng = np.random.default_rng(20260822)
    sample = [sats[i] for i in sorted(rng.choice(len(sats), 25, replace=False))]
    cities = read_sites_csv(shared_data / "stations" / "hypatia_cities_top100.csv")[:12]
    assert_same_as_reference(sample, cities, mask_deg=25.0, duration_s=DAY_S / 2)


def test_gpm_core_over_nen_stations(shared_data):
    sats = read_tle(shared_data / "tle" / "gpm_core_2026-08-22.tle")
    sites = read_sites_csv(shared_data / "stations" / "nen_core_stations.csv")
    w = assert_same_as_reference(sats, sites, mask_deg=5.0)
    # GPM flies at 65°: polar stations see it only low on the horizon, mid-latitude ones high
    polar = np.array([abs(sites[j].lat_deg) > 75 for j in w.site])
    assert polar.any() and w.max_elev_deg[polar].max() < 15.0
    assert w.max_elev_deg[~polar].max() > 60.0


def test_azimuth_mask(shared_data):
    sats = read_tle(shared_data / "tle" / "iridium_next_2026-08-22.tle")[::8]
    # a ridge to the east (up to 30°), open to the west
    ridge = HorizonMask(az_deg=(0.0, 60.0, 90.0, 120.0, 180.0, 270.0),
                        elev_deg=(5.0, 20.0, 30.0, 20.0, 5.0, 2.0))
    site = Site("Ridge", 37.9, -75.5, alt_m=10.0, min_elev_deg=0.0, horizon=ridge)
    masked = assert_same_as_reference(sats, [site], mask_deg=0.0)
    open_sky = find_windows(sats, [Site("Open", 37.9, -75.5, alt_m=10.0)], START, DAY_S)
    assert masked.duration_s_each.sum() < open_sky.duration_s_each.sum()


def test_steep_azimuth_mask_dips_between_samples_are_found():
    """A ridge rising 22° within 5° of azimuth: a pass climbing past its foot dips under
    it for about 13 s between two 60 s samples that both see the satellite above the mask
    (values and rates at the samples say nothing of the corner). The pass must split
    there, as skyfield's altaz() sampled every 2 s says."""
    sats = read_tle(REPO / "tle_data" / "iridium_like.tle")
    ridge = HorizonMask(az_deg=(0.0, 40.0, 45.0, 135.0, 140.0),
                        elev_deg=(8.2, 8.2, 30.0, 30.0, 8.2))
    site = Site("Boulder", 40.015, -105.27, horizon=ridge)
    w = assert_same_as_reference(sats, [site], mask_deg=8.2, duration_s=7200.0,
                                 ref_step_s=2.0)
    k = [i for i in range(len(w)) if w.sat_names[w.sat[i]] == "IRIDIUM-LIKE-P3-S04"]
    gaps = [w.aos_s[j] - w.los_s[i] for i, j in zip(k, k[1:])]
    assert any(5.0 < g < 30.0 for g in gaps), gaps   # the dip, not two separate passes


def _grazing_case(shared_data, above_deg):
    """A real pass with the mask set just under (or over) its peak."""
    sat = read_tle(shared_data / "tle" / "gpm_core_2026-08-22.tle")
    site = Site("Wallops", 37.92, -75.48)
    w = find_windows(sat, [site], START, DAY_S, min_elev_deg=0.0)
    k = int(np.argmax(np.where(w.aos_truncated | w.los_truncated, -1, w.max_elev_deg)))
    peak = float(w.max_elev_deg[k])
    graze = Site("Wallops", 37.92, -75.48, min_elev_deg=peak - above_deg)
    return sat, graze, w.tca_s[k], peak


def test_grazing_pass_shorter_than_the_step_is_found(shared_data):
    sat, site, tca, peak = _grazing_case(shared_data, above_deg=0.01)
    w = assert_same_as_reference(sat, [site], mask_deg=0.0)
    k = int(np.argmin(np.abs(w.tca_s - tca)))
    assert abs(w.tca_s[k] - tca) < 1.0
    assert 0 < w.duration_s_each[k] < 60.0


def test_pass_that_only_touches_the_mask_is_found(shared_data):
    sat, site, tca, peak = _grazing_case(shared_data, above_deg=1e-6)
    w = find_windows(sat, [site], START, DAY_S, min_elev_deg=0.0)
    k = int(np.argmin(np.abs(w.tca_s - tca)))
    assert abs(w.tca_s[k] - tca) < 1.0
    assert w.duration_s_each[k] < 1.0


def test_pass_just_above_the_peak_is_not_invented(shared_data):
    sat, site, tca, peak = _grazing_case(shared_data, above_deg=-1e-3)
    w = find_windows(sat, [site], START, DAY_S, min_elev_deg=0.0)
    assert not np.any(np.abs(w.tca_s - tca) < 300)


@pytest.mark.parametrize("step_s", [20.0, 45.0, 120.0])
def test_result_does_not_depend_on_the_step(shared_data, step_s):
    sats = read_tle(shared_data / "tle" / "iridium_next_2026-08-22.tle")[:20]
    sites = read_sites_csv(shared_data / "stations" / "nen_core_stations.csv")
    base = find_windows(sats, sites, START, DAY_S / 4, min_elev_deg=10.0)
    other = find_windows(sats, sites, START, DAY_S / 4, min_elev_deg=10.0, step_s=step_s)
    assert len(base) == len(other)
    assert np.max(np.abs(base.aos_s - other.aos_s)) < ONE_MS
    assert np.max(np.abs(base.los_s - other.los_s)) < ONE_MS


def test_windows_in_progress_at_the_edges_are_kept_and_flagged(shared_data):
    sats = read_tle(shared_data / "tle" / "iridium_next_2026-08-22.tle")
    sites = read_sites_csv(shared_data / "stations" / "nen_core_stations.csv")
    w = find_windows(sats, sites, START, 3600.0, min_elev_deg=10.0)
    assert np.all(w.aos_s[w.aos_truncated] == 0.0)
    assert np.all(w.los_s[w.los_truncated] == 3600.0)
    assert np.all(w.aos_s[~w.aos_truncated] > 0.0)
    assert np.all(w.los_s[~w.los_truncated] < 3600.0)
    assert w.aos_truncated.sum() > 0 and w.los_truncated.sum() > 0


def test_decayed_satellite_is_skipped_and_reported(shared_data):
    sats = [s for s in read_tle(shared_data / "tle" / "starlink_2026-08-22.tle")
            if s.norad_id in (46129, 44714)]        # STARLINK-1623 re-enters; 1008 is fine
    sites = read_sites_csv(shared_data / "stations" / "hypatia_cities_top100.csv")[:20]
    w = find_windows(sats, sites, START, 2 * DAY_S, min_elev_deg=25.0)
    assert [s.norad_id for s in w.skipped] == [46129]
    assert "STARLINK-1623" in str(w.skipped[0]) and w.skipped[0].bad_samples > 0
    assert len(w) > 0


def test_parallel_and_serial_agree(shared_data):
    sats = read_tle(shared_data / "tle" / "iridium_next_2026-08-22.tle")
    sites = read_sites_csv(shared_data / "stations" / "nen_core_stations.csv")
    serial = find_windows(sats, sites, START, DAY_S / 2, min_elev_deg=10.0, workers=1,
                          chunk_cells=100_000)
    parallel = find_windows(sats, sites, START, DAY_S / 2, min_elev_deg=10.0, workers=2,
                            chunk_cells=100_000)
    assert serial.rows() == parallel.rows()


def test_coverage_multiplicity_counts_satellites_above_the_mask(shared_data):
    from sigma_sn.geometry import look_angles
    from sigma_sn.propagate import Epoch, propagate

    sats = read_tle(shared_data / "tle" / "iridium_next_2026-08-22.tle")
    sites = read_sites_csv(shared_data / "stations" / "nen_core_stations.csv")[:6]
    w = find_windows(sats, sites, START, 7200.0, min_elev_deg=8.2)
    t_s = np.arange(0.5, 7200.0, 37.0)
    la = look_angles(propagate([s.satrec for s in sats], Epoch.at(START), t_s), sites)
    brute = (la.elev_deg >= 8.2).sum(axis=0)
    assert np.array_equal(w.multiplicity(t_s), brute)
    one, two = w.coverage_share(t_s)
    assert np.all(one >= two)
