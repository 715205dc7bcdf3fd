"""GeoJSON (RFC 7946): footprints as polygons and ground tracks as lines, ready for any map.

RFC 7946 draws every edge as a straight line in longitude/latitude, so nothing may
cross the antimeridian: a track is cut there into a MultiLineString and a footprint
that straddles it becomes a MultiPolygon of pieces that meet along ±180°. A footprint
around a pole is closed through the pole: its ring runs along the footprint edge from
-180° to +180°, then back along the pole's latitude in 90° steps (RFC 7946 §3.1.9). Exterior rings
are counter-clockwise; coordinates are ``[lon, lat]`` rounded to ``ROUND_DEG``
decimals, and the text is written with sorted keys, so the same input gives the same
bytes.
"""

from __future__ import annotations

import json

import numpy as np

from sigma_sn.atomic import write_text
from sigma_sn.geometry import footprint_half_angle_rad, footprint_polygon_deg, subpoint_deg
from sigma_sn.sites import WGS84_A_KM

#: decimals kept in coordinates: 1e-6 deg is 0.1 m on the ground
ROUND_DEG = 6


# --------------------------------------------------------------------------- lines

def split_line_deg(lat_deg, lon_deg) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return a track as pieces ``(lat_deg, lon_deg)`` that never cross the antimeridian.

    Where consecutive points are more than 180° apart in longitude you get the short way
    round: the piece ends at ±180° and the next one starts at ∓180°, both at the
    interpolated latitude. NaN points (a satellite SGP4 could not propagate) end a
    piece too. Pieces of fewer than two points are dropped.
    """
    return [(a, b) for a, b, _ in split_line_indexed(lat_deg, lon_deg)]


def split_line_indexed(lat_deg, lon_deg) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Like :func:`split_line_deg`, with a third array per piece: the index of the input
    point each output point is (an added crossing point gets the index before it)."""
    lat = np.asarray(lat_deg, float).ravel()
    lon = np.asarray(lon_deg, float).ravel()
    ok = np.isfinite(lat) & np.isfinite(lon)
    pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    cur: list[tuple[float, float, int]] = []

    def flush():
        if len(cur) >= 2:
            a, b, c = zip(*cur)
            pieces.append((np.asarray(a), np.asarray(b), np.asarray(c, dtype=np.int64)))
        cur.clear()

    for k in range(len(lat)):
        if not ok[k]:
            flush()
            continue
        if cur and abs(lon[k] - cur[-1][1]) > 180.0:
            lat0, lon0, k0 = cur[-1]
            edge = 180.0 if lon0 > 0 else -180.0
            lon1 = lon[k] + (360.0 if lon0 > 0 else -360.0)
            f = (edge - lon0) / (lon1 - lon0) if lon1 != lon0 else 0.0
            lat_c = lat0 + f * (lat[k] - lat0)
            cur.append((lat_c, edge, k0))
            flush()
            cur.append((lat_c, -edge, k0))
        cur.append((float(lat[k]), float(lon[k]), k))
    flush()
    return pieces


# --------------------------------------------------------------------------- polygons

def _signed_area(points) -> float:
    """Shoelace area (deg²) of an open ring; > 0 when counter-clockwise."""
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _clip(points, x0: float, keep_east: bool):
    """Sutherland–Hodgman: the part of an open ring east (or west) of ``lon = x0``."""
    def inside(p):
        return p[0] >= x0 if keep_east else p[0] <= x0

    def cut(p, q):
        f = (x0 - p[0]) / (q[0] - p[0])
        return (x0, p[1] + f * (q[1] - p[1]))

    out = []
    for k in range(len(points)):
        prev, cur = points[k - 1], points[k]
        if inside(cur):
            if not inside(prev):
                out.append(cut(prev, cur))
            out.append(cur)
        elif inside(prev):
            out.append(cut(prev, cur))
    return out


def _finish(points) -> list[list[float]] | None:
    """Round, drop repeated points, orient counter-clockwise and close an open ring."""
    ring: list[list[float]] = []
    for x, y in points:
        p = [round(float(x), ROUND_DEG) + 0.0, round(float(y), ROUND_DEG) + 0.0]
        if not ring or p != ring[-1]:
            ring.append(p)
    while len(ring) > 1 and ring[-1] == ring[0]:
        ring.pop()
    if len(ring) < 3 or abs(_signed_area(ring)) < 1e-12:
        return None
    if _signed_area(ring) < 0:
        ring.reverse()
    return ring + [ring[0]]


def split_ring_deg(lat_deg, lon_deg) -> list[list[list[float]]]:
    """Return a closed ring (e.g. a footprint) as RFC 7946 exterior rings of ``[lon, lat]``.

    The ring may straddle the antimeridian (you get one ring per side) or go round a
    pole (you get one ring closed along the pole's latitude; the pole is the one on the
    side of the ring's mean latitude, which is right for any footprint smaller than a
    hemisphere). Every ring is closed, counter-clockwise, and within ±180°/±90°.
    """
    lat = np.asarray(lat_deg, float).ravel()
    lon = np.asarray(lon_deg, float).ravel()
    if len(lat) > 1 and lat[0] == lat[-1] and np.mod(lon[0] - lon[-1], 360.0) == 0:
        lat, lon = lat[:-1], lon[:-1]
    if len(lat) < 3 or not (np.all(np.isfinite(lat)) and np.all(np.isfinite(lon))):
        return []
    lon = np.mod(lon + 180.0, 360.0) - 180.0
    step = np.mod(np.diff(np.concatenate([lon, lon[:1]])) + 180.0, 360.0) - 180.0
    winding_deg = float(np.sum(step))
    if abs(winding_deg) > 180.0:
        return [r for r in [_polar_ring(lat, lon, winding_deg)] if r is not None]
    # no pole inside: unwrap, then cut the ring at every odd multiple of 180°
    ulon = lon[0] + np.concatenate([[0.0], np.cumsum(step[:-1])])
    points = list(zip(ulon, lat))
    rings = []
    k_lo = int(np.floor((ulon.min() + 180.0) / 360.0))
    k_hi = int(np.floor((ulon.max() + 180.0) / 360.0))
    for k in range(k_lo, k_hi + 1):
        piece = _clip(_clip(points, 360.0 * k - 180.0, True), 360.0 * k + 180.0, False)
        ring = _finish([(x - 360.0 * k, y) for x, y in piece]) if piece else None
        if ring is not None:
            rings.append(ring)
    return rings


def _polar_ring(lat, lon, winding_deg):
    """The ring of a footprint around a pole, cut where it crosses the antimeridian."""
    n = len(lat)
    nxt = np.roll(np.arange(n), -1)
    jumps = np.flatnonzero(np.abs(lon[nxt] - lon) > 180.0)
    start = int(nxt[jumps[0]]) if len(jumps) else 0
    order = np.roll(np.arange(n), -start)
    lat, lon = lat[order], lon[order]
    east = winding_deg > 0
    edge_in, edge_out = (-180.0, 180.0) if east else (180.0, -180.0)
    # crossing latitude between the last point and the first, the short way round
    lon_last = lon[-1] - 360.0 if east else lon[-1] + 360.0
    f = (edge_in - lon_last) / (lon[0] - lon_last) if lon[0] != lon_last else 0.0
    lat_c = lat[-1] + f * (lat[0] - lat[-1])
    pole = 90.0 if np.mean(lat) > 0 else -90.0
    # along the pole in 90° steps, so no edge spans more than 180° of longitude
    along_pole = [(x, pole) for x in np.linspace(edge_out, edge_in, 5)]
    points = [(edge_in, lat_c)] + list(zip(lon, lat)) + [(edge_out, lat_c)] + along_pole
    return _finish(points)


# --------------------------------------------------------------------------- geometries

def line_geometry(lat_deg, lon_deg) -> dict | None:
    """Return a track as a GeoJSON LineString (or MultiLineString when it is cut), or
    ``None`` when no two consecutive points are valid."""
    lines = [[[round(float(x), ROUND_DEG) + 0.0, round(float(y), ROUND_DEG) + 0.0]
              for y, x in zip(a, b)] for a, b in split_line_deg(lat_deg, lon_deg)]
    if not lines:
        return None
    if len(lines) == 1:
        return {"type": "LineString", "coordinates": lines[0]}
    return {"type": "MultiLineString", "coordinates": lines}


def ring_geometry(lat_deg, lon_deg) -> dict | None:
    """Return a closed ring as a GeoJSON Polygon, or a MultiPolygon when it straddles the
    antimeridian (see :func:`split_ring_deg`); ``None`` for a degenerate ring."""
    rings = split_ring_deg(lat_deg, lon_deg)
    if not rings:
        return None
    if len(rings) == 1:
        return {"type": "Polygon", "coordinates": rings}
    return {"type": "MultiPolygon", "coordinates": [[r] for r in rings]}


def footprint_geometry(lat_deg: float, lon_deg: float, half_angle_rad: float,
                       n_points: int = 72) -> dict | None:
    """Return the footprint of central angle ``half_angle_rad`` around a sub-satellite
    point as a GeoJSON Polygon or MultiPolygon."""
    ring_lat, ring_lon = footprint_polygon_deg(lat_deg, lon_deg, half_angle_rad, n_points)
    return ring_geometry(ring_lat, ring_lon)


# --------------------------------------------------------------------------- documents

def feature_collection(ephemeris, names, norad_ids=None, *, footprint_t_s=(),
                       min_elev_deg: float = 0.0, tracks: bool = True,
                       n_points: int = 72) -> dict:
    """Return a FeatureCollection of ground tracks and footprints from an ephemeris.

    ``names`` (and ``norad_ids``, optional) follow the ephemeris' satellite order. You
    get one ``ground_track`` feature per satellite over the whole ephemeris (with
    ``tracks``), and one ``footprint`` feature per satellite per time in
    ``footprint_t_s`` (seconds after the start; the nearest ephemeris sample is used
    and its time is the one recorded), for an elevation mask of ``min_elev_deg``.
    Footprints are geocentric small circles on a sphere of the WGS84 equatorial radius.
    """
    names = list(names)
    n_sat = ephemeris.pos_itrs_km.shape[0]
    if len(names) != n_sat:
        raise ValueError(f"{len(names)} names for {n_sat} satellites")
    ids = list(norad_ids) if norad_ids is not None else [None] * n_sat
    lat, lon = subpoint_deg(ephemeris.pos_itrs_km)
    t_s = np.asarray(ephemeris.t_s, float)
    iso = ephemeris.epoch.iso(t_s)
    features = []
    if tracks:
        for i in range(n_sat):
            geom = line_geometry(lat[i], lon[i])
            if geom is None:
                continue
            features.append(_feature(geom, kind="ground_track", sat_name=names[i],
                                     norad_id=ids[i], start_utc=str(iso[0]),
                                     end_utc=str(iso[-1])))
    for t in footprint_t_s:
        k = int(np.argmin(np.abs(t_s - float(t))))
        for i in range(n_sat):
            pos = ephemeris.pos_itrs_km[i, k]
            if not np.all(np.isfinite(pos)):
                continue
            alt_km = float(np.linalg.norm(pos)) - WGS84_A_KM
            half = float(footprint_half_angle_rad(alt_km, min_elev_deg))
            geom = footprint_geometry(float(lat[i, k]), float(lon[i, k]), half, n_points)
            if geom is None:
                continue
            features.append(_feature(
                geom, kind="footprint", sat_name=names[i], norad_id=ids[i],
                time_utc=str(iso[k]), t_s=round(float(t_s[k]), 6),
                min_elev_deg=float(min_elev_deg),
                half_angle_deg=round(float(np.degrees(half)), ROUND_DEG),
                subpoint=[round(float(lon[i, k]), ROUND_DEG) + 0.0,
                          round(float(lat[i, k]), ROUND_DEG) + 0.0]))
    return {"type": "FeatureCollection", "features": features}


def _feature(geometry: dict, **properties) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def dumps_geojson(document: dict) -> str:
    """Return GeoJSON text: sorted keys, compact, one trailing newline (byte-stable)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"),
                      allow_nan=False) + "\n"


def write_geojson(path, document: dict) -> None:
    """Write a GeoJSON document to ``path`` atomically."""
    write_text(path, dumps_geojson(document))
