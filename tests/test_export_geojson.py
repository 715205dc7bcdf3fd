"""GeoJSON export: RFC 7946 rings and lines that survive the antimeridian and the poles."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sigma_sn.elements import read_tle
from sigma_sn.export.geojson import (
    dumps_geojson,
    feature_collection,
    footprint_geometry,
    line_geometry,
)
from sigma_sn.propagate import Epoch, propagate

from conftest import REPO, START

# RFC 7946 asks for 6 decimals at most; we round to them, so compare at that grain
ONE_MICRODEG = 1e-6


def polygons(geom: dict) -> list[list]:
    """The polygons (lists of rings) of a Polygon or MultiPolygon."""
    return [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]


def signed_area(ring) -> float:
    x = np.array([p[0] for p in ring[:-1]])
    y = np.array([p[1] for p in ring[:-1]])
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def contains(ring, lon: float, lat: float) -> bool:
    """Even-odd ray casting; a point on an edge counts as inside."""
    inside = False
    for (x0, y0), (x1, y1) in zip(ring[:-1], ring[1:]):
        if min(x0, x1) - ONE_MICRODEG <= lon <= max(x0, x1) + ONE_MICRODEG and \
                min(y0, y1) - ONE_MICRODEG <= lat <= max(y0, y1) + ONE_MICRODEG:
            cross = (x1 - x0) * (lat - y0) - (y1 - y0) * (lon - x0)
            if abs(cross) <= ONE_MICRODEG * max(1.0, abs(x1 - x0) + abs(y1 - y0)):
                return True
        if (y0 > lat) != (y1 > lat):
            x_at = x0 + (lat - y0) * (x1 - x0) / (y1 - y0)
            if lon < x_at:
                inside = not inside
    return inside


def assert_valid_polygonal(geom: dict) -> None:
    assert geom["type"] in ("Polygon", "MultiPolygon")
    for poly in polygons(geom):
        for ring in poly:
            assert len(ring) >= 4
            assert ring[0] == ring[-1], "ring not closed"
            for lon, lat in ring:
                assert -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0, (lon, lat)
            for (x0, _), (x1, _) in zip(ring[:-1], ring[1:]):
                assert abs(x1 - x0) <= 180.0, "edge crosses the antimeridian"
        assert signed_area(poly[0]) > 0, "exterior ring is not counter-clockwise"


def assert_valid_line(geom: dict) -> None:
    lines = [geom["coordinates"]] if geom["type"] == "LineString" else geom["coordinates"]
    for line in lines:
        assert len(line) >= 2
        for lon, lat in line:
            assert -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0
        for (x0, _), (x1, _) in zip(line[:-1], line[1:]):
            assert abs(x1 - x0) <= 180.0


def area(geom: dict) -> float:
    return sum(signed_area(poly[0]) for poly in polygons(geom))


def test_footprint_across_the_antimeridian_is_two_pieces_that_still_hold_the_subpoint():
    geom = footprint_geometry(10.0, 179.0, np.radians(20.0))
    assert geom["type"] == "MultiPolygon" and len(geom["coordinates"]) == 2
    assert_valid_polygonal(geom)
    east, west = sorted(geom["coordinates"], key=lambda p: -max(x for x, _ in p[0]))
    assert max(x for x, _ in east[0]) == 180.0 and min(x for x, _ in west[0]) == -180.0
    assert contains(east[0], 179.0, 10.0)
    # cutting moves no area: same footprint centred on lon 0 has the same area
    assert np.isclose(area(geom), area(footprint_geometry(10.0, 0.0, np.radians(20.0))),
                      rtol=1e-6)


def test_footprint_around_the_north_pole_is_closed_through_the_pole():
    geom = footprint_geometry(85.0, 30.0, np.radians(20.0))
    assert geom["type"] == "Polygon"
    assert_valid_polygonal(geom)
    ring = geom["coordinates"][0]
    assert [180.0, 90.0] in ring and [-180.0, 90.0] in ring
    assert contains(ring, 30.0, 85.0)
    assert contains(ring, -150.0, 89.0)        # over the pole, on the far side
    assert not contains(ring, 30.0, 60.0)       # 25° from the centre: outside


def test_footprint_around_the_south_pole_right_at_the_antimeridian():
    geom = footprint_geometry(-88.0, -179.5, np.radians(10.0))
    assert_valid_polygonal(geom)
    ring = geom["coordinates"][0]
    assert min(lat for _, lat in ring) == -90.0
    assert contains(ring, -179.5, -88.0)
    assert contains(ring, 0.0, -89.5)


def test_footprint_touching_neither_is_one_ring_of_the_requested_size():
    geom = footprint_geometry(40.0, -75.0, np.radians(5.0), n_points=72)
    assert geom["type"] == "Polygon" and len(geom["coordinates"][0]) == 73
    assert_valid_polygonal(geom)
    lats = [lat for _, lat in geom["coordinates"][0]]
    assert np.isclose(max(lats) - min(lats), 10.0, atol=1e-6)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(lat=st.floats(-89.0, 89.0), lon=st.floats(-180.0, 179.999),
       half_deg=st.floats(1.0, 60.0))
def test_any_footprint_is_valid_and_holds_its_subpoint(lat, lon, half_deg):
    # a ring that passes within a sample spacing of a pole is ambiguous at 72 points
    if abs(abs(lat) + half_deg - 90.0) < 3.0:
        return
    geom = footprint_geometry(lat, lon, np.radians(half_deg))
    assert_valid_polygonal(geom)
    assert any(contains(p[0], lon, lat) for p in polygons(geom))
    pole_inside = abs(lat) + half_deg > 90.0
    pole = 90.0 if lat >= 0 else -90.0
    assert any(contains(p[0], lon, pole) for p in polygons(geom)) == pole_inside


def test_ground_track_is_cut_at_the_antimeridian_and_at_gaps():
    geom = line_geometry([0.0, 1.0, 2.0, np.nan, 4.0, 5.0], [170.0, 178.0, -178.0, 0.0, 10.0, 20.0])
    assert geom["type"] == "MultiLineString"
    assert geom["coordinates"] == [[[170.0, 0.0], [178.0, 1.0], [180.0, 1.5]],
                                   [[-180.0, 1.5], [-178.0, 2.0]],
                                   [[10.0, 4.0], [20.0, 5.0]]]


def iridium_ephemeris(n_sat=4, minutes=120):
    sats = read_tle(REPO / "tle_data" / "iridium_like.tle")[:n_sat]
    eph = propagate([s.satrec for s in sats], Epoch.at(START), np.arange(0, minutes * 60 + 1, 60.0))
    return sats, eph


def test_feature_collection_of_a_real_constellation_is_valid_and_byte_stable():
    sats, eph = iridium_ephemeris()
    names, ids = [s.name for s in sats], [s.norad_id for s in sats]
    doc = feature_collection(eph, names, ids, footprint_t_s=[0.0, 3600.0], min_elev_deg=8.2)
    text = dumps_geojson(doc)
    again = dumps_geojson(feature_collection(eph, names, ids, footprint_t_s=[0.0, 3600.0],
                                             min_elev_deg=8.2))
    assert text == again
    parsed = json.loads(text)
    assert parsed["type"] == "FeatureCollection"
    kinds = [f["properties"]["kind"] for f in parsed["features"]]
    assert kinds.count("ground_track") == 4 and kinds.count("footprint") == 8
    for f in parsed["features"]:
        props = f["properties"]
        assert props["sat_name"] in names and props["norad_id"] in ids
        if props["kind"] == "footprint":
            assert props["time_utc"] in ("2026-08-22T00:00:00.000000Z",
                                         "2026-08-22T01:00:00.000000Z")
            assert_valid_polygonal(f["geometry"])
            lon, lat = props["subpoint"]
            assert any(contains(p[0], lon, lat) for p in polygons(f["geometry"]))
            # Iridium at 780 km with an 8.2° mask: footprint diameter ≈ 4,436 km (DESIGN)
            assert np.isclose(2 * np.radians(props["half_angle_deg"]) * 6378.137, 4436, rtol=0.02)
        else:
            assert_valid_line(f["geometry"])
    # polar orbits over two hours cross the antimeridian: at least one cut track
    assert any(f["geometry"]["type"] == "MultiLineString" for f in parsed["features"])
