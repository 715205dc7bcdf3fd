"""CZML export: what Cesium needs to load and animate a run."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from sigma_sn.elements import read_tle
from sigma_sn.export.czml import czml_packets, dumps_czml
from sigma_sn.propagate import Epoch, propagate
from sigma_sn.sites import Site

from conftest import REPO, START

# LEO position norms in metres: 6378 km + a few hundred km .. well under GEO
LEO_NORM_M = (6.5e6, 8.0e6)
SITES = (Site("Svalbard", 78.23, 15.40, 500.0), Site("Singapore", 1.40, 103.83, 20.0))


def scene(n_sat=5, minutes=60, access=(("Svalbard", "IRIDIUM-LIKE-P1-S01", 60.0, 600.0),
                                        ("Svalbard", "IRIDIUM-LIKE-P1-S01", 1200.0, 1500.0),
                                        ("Singapore", "IRIDIUM-LIKE-P1-S02", 0.0, 300.0))):
    sats = read_tle(REPO / "tle_data" / "iridium_like.tle")[:n_sat]
    eph = propagate([s.satrec for s in sats], Epoch.at(START),
                    np.arange(0, minutes * 60 + 1, 60.0))
    return sats, eph, czml_packets(eph, [s.name for s in sats], [s.norad_id for s in sats],
                                   SITES, access=access)


def test_document_packet_comes_first_with_a_clock_over_the_run():
    _, _, packets = scene()
    doc = json.loads(dumps_czml(packets))
    assert doc[0]["id"] == "document" and doc[0]["version"] == "1.0"
    assert doc[0]["clock"]["interval"] == "2026-08-22T00:00:00.000000Z/2026-08-22T01:00:00.000000Z"
    assert doc[0]["clock"]["currentTime"] == "2026-08-22T00:00:00.000000Z"
    assert all("id" in p for p in doc[1:])
    assert len({p["id"] for p in doc}) == len(doc), "packet ids must be unique"


def test_satellite_positions_are_sampled_in_metres_in_the_fixed_frame():
    sats, eph, packets = scene()
    by_id = {p["id"]: p for p in json.loads(dumps_czml(packets))}
    for i, sat in enumerate(sats):
        pos = by_id[f"sat/{sat.norad_id}"]["position"]
        assert pos["referenceFrame"] == "FIXED"
        assert pos["epoch"] == "2026-08-22T00:00:00.000000Z"
        samples = np.array(pos["cartesian"]).reshape(-1, 4)
        assert len(pos["cartesian"]) == 4 * len(eph.t_s)
        assert np.array_equal(samples[:, 0], eph.t_s)
        norms = np.linalg.norm(samples[:, 1:], axis=1)
        assert np.all((norms > LEO_NORM_M[0]) & (norms < LEO_NORM_M[1]))
        # the very ITRS positions, in metres, to the exported millimetre
        assert np.allclose(samples[:, 1:], eph.pos_itrs_km[i] * 1000.0, atol=5e-4, rtol=0)
        assert by_id[f"sat/{sat.norad_id}"]["properties"]["norad_id"] == sat.norad_id


def test_sites_sit_on_the_ellipsoid_and_links_show_only_in_their_intervals():
    _, _, packets = scene()
    by_id = {p["id"]: p for p in packets}
    for site in SITES:
        xyz = np.array(by_id[f"site/{site.name}"]["position"]["cartesian"])
        assert 6.35e6 < np.linalg.norm(xyz) < 6.38e6
    link = by_id["link/site/Svalbard/sat/90001"]
    assert link["availability"] == ["2026-08-22T00:01:00.000000Z/2026-08-22T00:10:00.000000Z",
                                    "2026-08-22T00:20:00.000000Z/2026-08-22T00:25:00.000000Z"]
    assert link["polyline"]["positions"]["references"] == ["site/Svalbard#position",
                                                           "sat/90001#position"]
    assert by_id["link/site/Singapore/sat/90002"]["availability"] == \
        "2026-08-22T00:00:00.000000Z/2026-08-22T00:05:00.000000Z"


def test_same_input_gives_the_same_bytes():
    assert dumps_czml(scene()[2]) == dumps_czml(scene()[2])


def test_samples_sgp4_could_not_compute_are_left_out():
    sats, eph, _ = scene(access=())
    pos = eph.pos_itrs_km.copy()
    pos[0, 10:] = np.nan
    err = eph.error.copy()
    err[0, 10:] = 1
    bad = dataclasses.replace(eph, pos_itrs_km=pos, error=err)
    packets = czml_packets(bad, [s.name for s in sats], [s.norad_id for s in sats])
    sat0 = packets[1]
    assert len(sat0["position"]["cartesian"]) == 4 * 10
    assert sat0["availability"] == "2026-08-22T00:00:00.000000Z/2026-08-22T00:09:00.000000Z"
    json.loads(dumps_czml(packets))   # no NaN reaches the JSON


def test_an_access_interval_naming_an_unknown_site_is_refused():
    with pytest.raises(ValueError, match="site 'Nowhere'"):
        scene(access=(("Nowhere", "IRIDIUM-LIKE-P1-S01", 0.0, 60.0),))
