"""Propagation against sgp4's scalar API (TEME) and skyfield's ITRS."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skyfield.api import EarthSatellite, load
from skyfield.framelib import itrs

from sigma_sn.elements import read_tle
from sigma_sn.propagate import Epoch, propagate, propagate_teme
from tests.conftest import START

ONE_MM_KM = 1e-6
ONE_M_KM = 1e-3
ONE_MM_S_KM_S = 1e-6
T_S = np.array([0.0, 1234.5, 43200.0, 86399.0])


def assert_matches_scalar_api(sats, t_s) -> int:
    """Compare our vectorised TEME output with ``Satrec.sgp4`` one call at a time;
    return how many (satellite, time) positions were compared."""
    epoch = Epoch.at(START)
    err, r, v = propagate_teme([s.satrec for s in sats], epoch, t_s)
    jd, fr = epoch.sgp4_times(t_s)
    compared = 0
    for i, sat in enumerate(sats):
        for k in range(len(t_s)):
            e1, r1, v1 = sat.satrec.sgp4(jd[k], fr[k])
            assert err[i, k] == e1, sat.name
            if e1 == 0:
                assert np.max(np.abs(r[i, k] - r1)) < ONE_MM_KM, sat.name
                assert np.max(np.abs(v[i, k] - v1)) < ONE_MM_S_KM_S, sat.name
                compared += 1
    return compared


@pytest.mark.parametrize("name", ["iridium_next", "gpm_core", "stations", "orbcomm", "oneweb"])
def test_teme_matches_sgp4_scalar_api_on_real_files(shared_data, name):
    sats = read_tle(shared_data / "tle" / f"{name}_2026-08-22.tle")
    assert assert_matches_scalar_api(sats, T_S) == len(sats) * len(T_S)


def test_teme_matches_scalar_api_on_starlink_sample(shared_data):
    sats = read_tle(shared_data / "tle" / "starlink_2026-08-22.tle")[::97]
    assert assert_matches_scalar_api(sats, T_S) > 0.99 * len(sats) * len(T_S)


def test_itrs_matches_skyfield_frame_xyz(shared_data):
    sats = read_tle(shared_data / "tle" / "iridium_next_2026-08-22.tle")[:10]
    sats += read_tle(shared_data / "tle" / "gpm_core_2026-08-22.tle")
    ts = load.timescale()
    t = ts.utc(START.year, START.month, START.day, 0, 0, T_S)
    eph = propagate([s.satrec for s in sats], Epoch.at(START), T_S)
    for i, sat in enumerate(sats):
        sky = EarthSatellite.from_satrec(sat.satrec, ts)
        pos, vel = sky.at(t).frame_xyz_and_velocity(itrs)
        assert np.max(np.abs(eph.pos_itrs_km[i] - pos.km.T)) < ONE_M_KM, sat.name
        assert np.max(np.abs(eph.vel_itrs_km_s[i] - vel.km_per_s.T)) < 1e-6, sat.name


def test_failed_propagation_is_flagged_not_raised(shared_data):
    # STARLINK-1623 is re-entering: sgp4 gives up on it a day after the snapshot
    sats = [s for s in read_tle(shared_data / "tle" / "starlink_2026-08-22.tle")
            if s.norad_id == 46129]
    eph = propagate([s.satrec for s in sats], Epoch.at(START), [0.0, 86400.0 * 1.5])
    assert eph.valid[0, 0] and not eph.valid[0, 1]
    assert np.isnan(eph.pos_itrs_km[0, 1]).all()


def test_epoch_splits_julian_date_like_skyfield():
    ts = load.timescale()
    e = Epoch.at("2026-08-22T06:30:00Z")
    t = ts.utc(2026, 8, 22, 6, 30, 0)
    utc_jd = t.whole + t.tai_fraction - t._leap_seconds() / 86400
    assert e.jd_utc + e.fr_utc == pytest.approx(utc_jd, abs=1e-12)
    assert str(e.iso(np.array([1.5]))[0]) == "2026-08-22T06:30:01.500000Z"


def test_teme_matches_scalar_api_on_sgp4_verification_set():
    import importlib.resources

    from sigma_sn.elements import read_tle_report

    sats, bad = read_tle_report(importlib.resources.files("sgp4") / "SGP4-VER.TLE")
    assert len(bad) == 3 and len(sats) > 25           # the three wrong checksums are reported
    assert assert_matches_scalar_api(sats, np.array([0.0, 3600.0, 86400.0 * 3])) > 40


@settings(max_examples=60, deadline=None)
@given(start_us=st.integers(0, 10**15),
       t_us=st.lists(st.one_of(st.integers(-10**12, 10**12), st.integers(-10**7, 10**7)),
                     max_size=40))
def test_iso_text_is_the_datetime_of_each_instant(start_us, t_us):
    """Epoch.iso writes the seconds and the microsecond digits separately (fast); each
    string must still be that instant as the standard library prints it."""
    start = datetime(2000, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=start_us)
    e = Epoch.at(start)
    got = e.iso(np.array(t_us, float) / 1e6).tolist()
    want = [(start + timedelta(microseconds=u)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            for u in t_us]
    assert got == want
    assert str(e.iso(0.0)) == start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")   # a scalar too


def test_iso_of_no_instant_or_of_years_of_two_lengths_spoils_nothing_else():
    e = Epoch.at("2026-08-22T00:00:00Z")
    assert e.iso(np.array([1.0, np.nan, 2.5])).tolist() == [
        "2026-08-22T00:00:01.000000Z", "NaTZ", "2026-08-22T00:00:02.500000Z"]
    # a year of five digits next to one of four (datetime itself stops at 9999)
    got = e.iso(np.array([0.0, 3e11])).tolist()
    assert got[0] == "2026-08-22T00:00:00.000000Z" and got[1].startswith("11533-")


def test_teme_to_itrs_is_the_rotation_written_plainly_bit_for_bit():
    """teme_to_itrs fills its outputs in place for speed; the numbers must be the plain
    formula's, bit for bit (plans and windows are byte-identical across versions)."""
    from sigma_sn.propagate import teme_to_itrs

    def plain(r, v, theta, w):
        c, s = np.cos(theta), np.sin(theta)
        px, py = c * r[..., 0] + s * r[..., 1], -s * r[..., 0] + c * r[..., 1]
        return (np.stack([px, py, r[..., 2]], axis=-1),
                np.stack([c * v[..., 0] + s * v[..., 1] + w * py,
                          -s * v[..., 0] + c * v[..., 1] - w * px, v[..., 2]], axis=-1))

    rng = np.random.default_rng(11)
    r, v = rng.normal(0, 7000, (4, 50, 3)), rng.normal(0, 7, (4, 50, 3))
    theta, w = rng.uniform(0, 7, 50), 7.29e-5 + rng.normal(0, 1e-9, 50)
    # (satellite, time) as propagate(); (time,) as propagate_pairs; a scalar rate
    for args in ((r, v, theta, w), (r[0], v[0], theta, w), (r[0], v[0], theta, 7.29e-5)):
        for got, want in zip(teme_to_itrs(*args), plain(*args)):
            assert got.shape == want.shape and np.array_equal(got, want)
