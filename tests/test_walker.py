"""Walker constellation synthesis."""

from __future__ import annotations

from datetime import datetime, timezone
from math import pi

import numpy as np
import pytest

from sigma_sn.elements import InputError, read_tle, write_tle
from sigma_sn.walker import EARTH_RADIUS_KM, walker

EPOCH_UTC = datetime(2026, 8, 22, tzinfo=timezone.utc)
#: a TLE carries angles to 1e-4 deg, and walker rounds to what a TLE carries
TLE_ANGLE_QUANTUM_DEG = 1e-4
ONE_SECOND = 1.0
#: SGP4's short-period J2 terms move a circular orbit's radius by several km
MEAN_ALTITUDE_TOLERANCE_KM = 3.0


def iridium_like():
    return walker(66, 6, 2, 780.0, 86.4, EPOCH_UTC, pattern="star", name_prefix="IRIDIUM-LIKE")


def elements_deg(sats):
    raan = np.degrees([s.satrec.nodeo for s in sats])
    mean_anomaly = np.degrees([s.satrec.mo for s in sats])
    return raan, mean_anomaly


def angle_error_deg(a, b):
    return np.abs((np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0)


def test_star_pattern_spreads_planes_over_180_degrees():
    raan, mean_anomaly = elements_deg(iridium_like())
    plane, slot = np.divmod(np.arange(66), 11)
    assert np.all(angle_error_deg(raan, plane * 30.0) <= TLE_ANGLE_QUANTUM_DEG)
    expected = slot * 360.0 / 11 + plane * 2 * 360.0 / 66
    assert np.all(angle_error_deg(mean_anomaly, expected) <= TLE_ANGLE_QUANTUM_DEG)


def test_delta_pattern_spreads_planes_over_360_degrees():
    sats = walker(1584, 72, 65, 550.0, 53.0, EPOCH_UTC, pattern="delta", first_norad_id=91001)
    raan, mean_anomaly = elements_deg(sats)
    plane, slot = np.divmod(np.arange(1584), 22)
    assert np.all(angle_error_deg(raan, plane * 5.0) <= TLE_ANGLE_QUANTUM_DEG)
    expected = slot * 360.0 / 22 + plane * 65 * 360.0 / 1584
    assert np.all(angle_error_deg(mean_anomaly, expected) <= TLE_ANGLE_QUANTUM_DEG)
    assert [s.norad_id for s in sats] == list(range(91001, 92585))
    assert np.allclose(np.degrees([s.satrec.inclo for s in sats]), 53.0, rtol=0, atol=1e-12)


def test_names_say_plane_and_slot():
    sats = iridium_like()
    assert [sats[0].name, sats[12].name, sats[-1].name] == [
        "IRIDIUM-LIKE-P1-S01", "IRIDIUM-LIKE-P2-S02", "IRIDIUM-LIKE-P6-S11"]
    assert walker(1, 1, 0, 407.0, 65.0, EPOCH_UTC, name_prefix="GPM-LIKE")[0].name == "GPM-LIKE"


def test_iridium_like_period_is_about_6027_seconds():
    # DESIGN.md: Iridium, 780 km, period about 6027 s
    for sat in iridium_like():
        assert abs(2 * pi / sat.satrec.no_kozai * 60.0 - 6027.0) < ONE_SECOND


@pytest.mark.parametrize("altitude_km, inclination_deg", [(780.0, 86.4), (550.0, 53.0),
                                                           (407.0, 65.0)])
def test_propagated_mean_altitude_is_the_requested_one(altitude_km, inclination_deg):
    satrec = walker(1, 1, 0, altitude_km, inclination_deg, EPOCH_UTC)[0].satrec
    one_orbit_days = 2 * pi / satrec.no_kozai / 1440.0
    fr = satrec.jdsatepochF + np.linspace(0.0, one_orbit_days, 400, endpoint=False)
    error, r_km, _ = satrec.sgp4_array(np.full(fr.shape, satrec.jdsatepoch), fr)
    assert not error.any()
    mean_altitude_km = np.linalg.norm(r_km, axis=1).mean() - EARTH_RADIUS_KM
    assert abs(mean_altitude_km - altitude_km) < MEAN_ALTITUDE_TOLERANCE_KM


def test_round_trip_through_tle_text_is_exact(tmp_path):
    sats = iridium_like()
    write_tle(tmp_path / "iridium.tle", sats)
    back = read_tle(tmp_path / "iridium.tle")
    assert [(s.name, s.norad_id, s.epoch_utc) for s in back] == [
        (s.name, s.norad_id, s.epoch_utc) for s in sats]
    jd = np.full(5, sats[0].satrec.jdsatepoch)
    fr = np.linspace(0.0, 2.0, 5)
    for a, b in zip(sats, back):
        assert np.array_equal(a.satrec.sgp4_array(jd, fr)[1], b.satrec.sgp4_array(jd, fr)[1])


def test_bstar_is_kept_as_a_tle_can_say_it(tmp_path):
    sats = walker(4, 2, 1, 550.0, 53.0, EPOCH_UTC, bstar=1.23456e-4)
    write_tle(tmp_path / "w.tle", sats)
    assert read_tle(tmp_path / "w.tle")[0].satrec.bstar == sats[0].satrec.bstar
    assert sats[0].satrec.bstar == pytest.approx(1.2346e-4, rel=1e-15, abs=0)  # 5 digits


@pytest.mark.parametrize("kwargs, message", [
    (dict(total=66, planes=7), "total=66 satellites cannot be split into planes=7"),
    (dict(phasing=6), "phasing=6 must be between 0 and planes-1=5"),
    (dict(phasing=-1), "phasing=-1 must be between 0 and planes-1=5"),
    (dict(altitude_km=0.0), "altitude_km=0.0 must be above 0"),
    (dict(inclination_deg=181.0), "inclination_deg=181.0 must be between 0 and 180"),
    (dict(pattern="rosette"), "pattern 'rosette' is not one of delta, star"),
    (dict(first_norad_id=339990), "NORAD ids 339990..340055 must lie in 1..339999"),
    (dict(epoch_utc=datetime(2026, 8, 22)), "has no time zone"),
])
def test_bad_parameters_are_refused_with_the_value(kwargs, message):
    args = dict(total=66, planes=6, phasing=2, altitude_km=780.0, inclination_deg=86.4,
                epoch_utc=EPOCH_UTC) | kwargs
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(".", r"\.")):
        walker(**args)
