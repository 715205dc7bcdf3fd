"""Exports for other tools: CZML for Cesium, GeoJSON for any map.

Both read results only (an ephemeris, sites, intervals) and write byte-stable text.
"""

from sigma_sn.export.czml import czml_packets, dumps_czml, write_czml
from sigma_sn.export.geojson import (
    dumps_geojson,
    feature_collection,
    footprint_geometry,
    line_geometry,
    ring_geometry,
    split_line_deg,
    split_ring_deg,
    write_geojson,
)

__all__ = ["czml_packets", "dumps_czml", "write_czml", "dumps_geojson", "feature_collection",
           "footprint_geometry", "line_geometry", "ring_geometry", "split_line_deg",
           "split_ring_deg", "write_geojson"]
