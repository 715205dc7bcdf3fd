"""Geometry: look angles from sites to satellites, footprints, coverage.

Elevation is geometric, from the WGS84 ellipsoid normal at the site (what skyfield's
``altaz()`` gives); azimuth is from north through east. Everything in ITRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sigma_sn.sites import WGS84_A_KM, enu_basis, itrs_km

C_KM_S = 299792.458


@dataclass(frozen=True)
class LookAngles:
    """Look angles shaped like the inputs (typically ``(n_sat, n_site, n_time)``)."""

    elev_deg: np.ndarray
    az_deg: np.ndarray
    range_km: np.ndarray
    range_rate_km_s: np.ndarray
    elev_rate_deg_s: np.ndarray
    az_rate_deg_s: np.ndarray


def topocentric(pos_km, vel_km_s, site_pos_km, site_enu) -> LookAngles:
    """Return look angles of satellites at ``pos_km``/``vel_km_s`` seen from sites.

    All arguments broadcast: ``pos_km``/``vel_km_s`` ``(..., 3)``, ``site_pos_km``
    ``(..., 3)`` and ``site_enu`` ``(..., 3, 3)`` (rows east, north, up).
    """
    return look_enu(*_enu(pos_km, vel_km_s, site_pos_km, site_enu))


def range_and_rate(pos_km, vel_km_s, site_pos_km, site_enu):
    """Return the slant range (km) and range rate (km/s) of :func:`topocentric`, bit for
    bit, without the angles (the planner's round trips need only these)."""
    e, n, u, de, dn, du = _enu(pos_km, vel_km_s, site_pos_km, site_enu)
    rng = np.sqrt(e * e + n * n + u * u)
    return rng, _range_rate(e, n, u, de, dn, du, rng)


def _enu(pos_km, vel_km_s, site_pos_km, site_enu):
    rel = pos_km - site_pos_km
    e, n, u = (np.einsum("...i,...i->...", rel, site_enu[..., k, :]) for k in range(3))
    de, dn, du = (np.einsum("...i,...i->...", vel_km_s, site_enu[..., k, :]) for k in range(3))
    return e, n, u, de, dn, du


def _range_rate(e, n, u, de, dn, du, rng):
    return (e * de + n * dn + u * du) / rng


def look_enu(e, n, u, de, dn, du) -> LookAngles:
    """Return look angles from a satellite's east/north/up offset (km) and its rate (km/s)."""
    h2 = e * e + n * n
    h = np.sqrt(h2)
    rng2 = h2 + u * u
    rng = np.sqrt(rng2)
    with np.errstate(invalid="ignore", divide="ignore"):
        dh = (e * de + n * dn) / h
        elev_rate = (h * du - u * dh) / rng2
        az_rate = (n * de - e * dn) / h2
    return LookAngles(
        elev_deg=np.degrees(np.arctan2(u, h)),
        az_deg=np.mod(np.degrees(np.arctan2(e, n)), 360.0),
        range_km=rng,
        range_rate_km_s=_range_rate(e, n, u, de, dn, du, rng),
        elev_rate_deg_s=np.degrees(elev_rate),
        az_rate_deg_s=np.degrees(az_rate),
    )


def look_angles(ephemeris, sites) -> LookAngles:
    """Return look angles for every (satellite, site, time): arrays ``(n_sat, n_site, n_time)``."""
    site_pos = itrs_km(sites)[None, :, None, :]
    site_enu = enu_basis(sites)[None, :, None, :, :]
    pos = ephemeris.pos_itrs_km[:, None, :, :]
    vel = ephemeris.vel_itrs_km_s[:, None, :, :]
    return topocentric(pos, vel, site_pos, site_enu)


def footprint_half_angle_rad(altitude_km, min_elev_deg, earth_radius_km=WGS84_A_KM):
    """Return the Earth central angle (rad) of the footprint edge for a satellite at
    ``altitude_km`` seen down to ``min_elev_deg``: λ = acos(R cos ε / (R + h)) − ε."""
    eps = np.radians(min_elev_deg)
    return np.arccos(earth_radius_km * np.cos(eps) / (earth_radius_km + altitude_km)) - eps


def max_slant_range_km(altitude_km, min_elev_deg, earth_radius_km=WGS84_A_KM):
    """Return the slant range (km) to a satellite at ``altitude_km`` seen at ``min_elev_deg``."""
    lam = footprint_half_angle_rad(altitude_km, min_elev_deg, earth_radius_km)
    r = earth_radius_km + altitude_km
    return np.sqrt(earth_radius_km**2 + r**2 - 2 * earth_radius_km * r * np.cos(lam))


def subpoint_deg(pos_itrs_km) -> tuple[np.ndarray, np.ndarray]:
    """Return geocentric latitude and longitude (deg) of the points under ``pos_itrs_km``."""
    x, y, z = pos_itrs_km[..., 0], pos_itrs_km[..., 1], pos_itrs_km[..., 2]
    return np.degrees(np.arctan2(z, np.hypot(x, y))), np.degrees(np.arctan2(y, x))


def footprint_polygon_deg(lat_deg, lon_deg, half_angle_rad, n_points: int = 72):
    """Return the footprint ring around the sub-satellite point as ``(lat_deg, lon_deg)``.

    The ring is a small circle of central angle ``half_angle_rad``, computed on the
    sphere by the destination-point formula, so it is right near the poles; longitudes
    are in [-180, 180) (splitting at the antimeridian is the exporter's job). The ring
    is closed: the last point repeats the first.
    """
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    bearing = np.linspace(0.0, 2 * np.pi, n_points + 1)
    d = half_angle_rad
    lat2 = np.arcsin(np.sin(lat) * np.cos(d) + np.cos(lat) * np.sin(d) * np.cos(bearing))
    lon2 = lon + np.arctan2(np.sin(bearing) * np.sin(d) * np.cos(lat),
                            np.cos(d) - np.sin(lat) * np.sin(lat2))
    lon2 = np.mod(lon2 + np.pi, 2 * np.pi) - np.pi
    return np.degrees(lat2), np.degrees(lon2)


def one_way_delay_s(range_km, terrestrial_s: float = 0.0):
    """Return the one-way delay (s) over a slant range plus a terrestrial segment."""
    return np.asarray(range_km) / C_KM_S + terrestrial_s
