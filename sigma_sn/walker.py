"""Walker constellations (delta and star) as ready-to-propagate satellites.

Notation T/P/F: T satellites in P equally spaced planes, phasing F. Planes are
spread over 360 deg of right ascension (delta) or 180 deg (star, near-polar with a
seam); satellites are evenly spaced in each plane and plane p is shifted along the
track by p*F*360/T deg.
"""

from __future__ import annotations

from datetime import datetime
from math import pi, sqrt

import numpy as np

from sigma_sn.elements import (TLE_MAX_NORAD_ID, Satellite, satellite_from_elements,
                               tle_exponent)
from sigma_sn.errors import InputError

#: equatorial radius (WGS84, as everywhere in sigma-sn) that altitudes are counted from
EARTH_RADIUS_KM = 6378.137
#: gravitational parameter of WGS-72, the constant SGP4 itself uses
MU_WGS72_KM3_S2 = 398600.8
PATTERNS = ("delta", "star")
#: the spread of the planes' ascending nodes for each pattern
_NODE_SPREAD_DEG = {"delta": 360.0, "star": 180.0}

# Elements are rounded to what a TLE can carry, so that writing the constellation as
# TLE and reading it back gives bit-for-bit the same Satrec (1e-4 deg is 12 m).
_TLE_ANGLE_DECIMALS = 4
_TLE_MEAN_MOTION_DECIMALS = 8
_TLE_ECCENTRICITY_DECIMALS = 7


def mean_motion_rev_per_day(altitude_km: float) -> float:
    """Return the Keplerian mean motion of a circular orbit ``altitude_km`` up."""
    a_km = EARTH_RADIUS_KM + altitude_km
    return sqrt(MU_WGS72_KM3_S2 / a_km ** 3) * 86400.0 / (2.0 * pi)


def _validate(total: int, planes: int, phasing: int, altitude_km: float,
              inclination_deg: float, pattern: str, first_norad_id: int,
              eccentricity: float) -> None:
    if pattern not in PATTERNS:
        raise InputError(f"pattern {pattern!r} is not one of {', '.join(PATTERNS)}")
    if total < 1 or planes < 1:
        raise InputError(f"total={total} and planes={planes} must both be at least 1")
    if total % planes:
        raise InputError(f"total={total} satellites cannot be split into planes={planes} "
                         "equal planes; choose a total divisible by the number of planes")
    if not 0 <= phasing < planes:
        raise InputError(f"phasing={phasing} must be between 0 and planes-1={planes - 1}")
    if not altitude_km > 0:
        raise InputError(f"altitude_km={altitude_km} must be above 0")
    if not 0 <= inclination_deg <= 180:
        raise InputError(f"inclination_deg={inclination_deg} must be between 0 and 180")
    if not 0 <= eccentricity < 0.1:
        raise InputError(f"eccentricity={eccentricity} must be between 0 and 0.1 "
                         "for a Walker constellation of near-circular orbits")
    last = first_norad_id + total - 1
    if first_norad_id < 1 or last > TLE_MAX_NORAD_ID:
        raise InputError(f"NORAD ids {first_norad_id}..{last} must lie in "
                         f"1..{TLE_MAX_NORAD_ID} so that every satellite can be written as TLE")


def walker(total: int, planes: int, phasing: int, altitude_km: float,
           inclination_deg: float, epoch_utc: datetime, *, pattern: str = "delta",
           name_prefix: str = "WALKER", first_norad_id: int = 90001,
           eccentricity: float = 0.0, bstar: float = 0.0) -> list[Satellite]:
    """Return the T/P/F Walker constellation as satellites, plane by plane.

    Give ``altitude_km`` above the equatorial radius; the mean motion follows from
    Kepler's third law with SGP4's WGS-72 constant. Satellite ``k`` of plane ``p``
    (both from 0) is named ``<prefix>-P<p+1>-S<k+1>`` and numbered
    ``first_norad_id + p*T/P + k``; a single satellite is just ``<prefix>``.
    """
    _validate(total, planes, phasing, altitude_km, inclination_deg, pattern,
              first_norad_id, eccentricity)
    per_plane = total // planes
    plane = np.repeat(np.arange(planes), per_plane)
    slot = np.tile(np.arange(per_plane), planes)
    raan_deg = plane * (_NODE_SPREAD_DEG[pattern] / planes)
    mean_anomaly_deg = slot * (360.0 / per_plane) + plane * (phasing * 360.0 / total)
    # round first, then wrap, so 359.99999 becomes 0.0 rather than 360.0
    raan_deg = np.round(raan_deg % 360.0, _TLE_ANGLE_DECIMALS) % 360.0
    mean_anomaly_deg = np.round(mean_anomaly_deg % 360.0, _TLE_ANGLE_DECIMALS) % 360.0
    n_rev_per_day = round(mean_motion_rev_per_day(altitude_km), _TLE_MEAN_MOTION_DECIMALS)
    inclination_deg = round(float(inclination_deg), _TLE_ANGLE_DECIMALS)
    eccentricity = round(float(eccentricity), _TLE_ECCENTRICITY_DECIMALS)
    # BSTAR as the TLE's ' NNNNN-N' reads back, computed the way twoline2rv does
    bstar_text = tle_exponent(bstar, "BSTAR")
    bstar = float(bstar_text[0] + "." + bstar_text[1:6]) * 10.0 ** int(bstar_text[6:])
    plane_width, slot_width = len(str(planes)), len(str(per_plane))
    source = f"walker {pattern} {total}/{planes}/{phasing}"

    def name(p: int, k: int) -> str:
        if total == 1:
            return name_prefix
        return f"{name_prefix}-P{p + 1:0{plane_width}d}-S{k + 1:0{slot_width}d}"

    # one sgp4init per satellite is unavoidable: each Satrec is its own object
    return [satellite_from_elements(
        name=name(p, k), norad_id=first_norad_id + i, epoch_utc=epoch_utc,
        inclination_deg=inclination_deg, raan_deg=float(raan), eccentricity=eccentricity,
        arg_perigee_deg=0.0, mean_anomaly_deg=float(m), mean_motion_rev_per_day=n_rev_per_day,
        bstar_per_earth_radius=bstar, source=source)
        for i, (p, k, raan, m) in enumerate(zip(plane.tolist(), slot.tolist(),
                                               raan_deg, mean_anomaly_deg))]
