"""Sites from CSV: what a user's station list may hold, and errors that name file and line."""

from __future__ import annotations

import re

import numpy as np
import pytest

from sigma_sn.errors import InputError
from sigma_sn.sites import (HorizonMask, Site, command_line_sites, read_site_files,
                            read_sites_csv)


def test_reads_the_shared_station_lists(shared_data):
    nen = read_sites_csv(shared_data / "stations" / "nasa_ndosl_2019.csv")
    assert len(nen) == 298
    cities = read_sites_csv(shared_data / "stations" / "hypatia_cities_top1000.csv")
    assert len(cities) == 1000 and cities[0].alt_m == 0.0
    assert any(c.name == "São-Paulo" for c in cities)


def test_optional_columns_and_comments(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("# my stations\nname,lat_deg,lon_deg,alt_m,min_elev_deg,capacity\n"
                 "A,10,20,5,12.5,3\n# B is down\nC,-10,-170,,,\n", encoding="utf-8")
    a, c = read_sites_csv(p)
    assert (a.min_elev_deg, a.capacity, a.alt_m) == (12.5, 3, 5.0)
    assert (c.min_elev_deg, c.capacity, c.alt_m) == (None, None, 0.0)
    assert a.mask_deg(5.0) == 12.5 and c.mask_deg(5.0) == 5.0


@pytest.mark.parametrize("body, where, what", [
    ("name,lat_deg\nA,1\n", ":1:", "header lacks column(s) lon_deg"),
    ("name,lat_deg,lon_deg\nA,north,3\n", ":2:", "lat_deg: not a number: 'north'"),
    ("name,lat_deg,lon_deg\nA,1,3\nB,95,3\n", ":3:", "latitude must be in [-90, 90], got 95"),
    ("name,lat_deg,lon_deg\nA,1\n", ":2:", "expected 3 fields, got 2"),
    ("name,lat_deg,lon_deg,capacity\nA,1,2,0\n", ":2:", "capacity must be >= 1, got 0"),
    ("", "", "empty file"),
])
def test_bad_rows_name_file_line_and_problem(tmp_path, body, where, what):
    p = tmp_path / "bad.csv"
    p.write_text(body, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_sites_csv(p)
    assert f"{p}{where}" in str(exc.value) and what in str(exc.value)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_sites_csv(tmp_path / "nope.csv")


def test_horizon_mask_interpolates_and_wraps():
    m = HorizonMask(az_deg=(10.0, 90.0, 350.0), elev_deg=(10.0, 30.0, 0.0))
    assert m.elev_at(50.0) == pytest.approx(20.0)
    assert m.elev_at(0.0) == pytest.approx(5.0)            # between 350 (0) and 370 (10)
    assert m.elev_at(-10.0) == pytest.approx(0.0)
    assert m.slope_at(np.array([50.0]))[0] == pytest.approx(0.25)
    assert m.slope_at(np.array([0.0]))[0] == pytest.approx(0.5)
    s = Site("X", 0, 0, min_elev_deg=2.0, horizon=m)
    assert s.lowest_mask_deg(0.0) == 2.0


def test_bad_horizon_mask_is_refused():
    with pytest.raises(ValueError, match="increase strictly"):
        HorizonMask(az_deg=(10.0, 5.0), elev_deg=(1.0, 2.0))


def test_a_name_repeated_in_a_file_gets_a_numbered_suffix(shared_data, tmp_path):
    # Hypatia's 1,000 cities hold two Hyderabads (India, Pakistan), two Santiagos, two
    # Valencias and two Anyangs: results keyed by name must not merge them
    cities = read_sites_csv(shared_data / "stations" / "hypatia_cities_top1000.csv")
    names = [c.name for c in cities]
    assert len(set(names)) == 1000
    by_name = {c.name: c for c in cities}
    assert by_name["Hyderabad"].lon_deg == pytest.approx(78.47444)      # the first row
    assert by_name["Hyderabad #2"].lon_deg == pytest.approx(68.3666667)
    assert by_name["Santiago #2"].lat_deg == pytest.approx(19.460205)
    assert {"Valencia #2", "Anyang #2"} <= set(names)
    p = tmp_path / "s.csv"
    p.write_text("name,lat_deg,lon_deg\nA,1,2\nA,3,4\nB,5,6\nA,7,8\n", encoding="utf-8")
    assert [(s.name, s.lat_deg) for s in read_sites_csv(p)] == [
        ("A", 1.0), ("A #2", 3.0), ("B", 5.0), ("A #3", 7.0)]


def test_a_suffixed_name_that_is_taken_is_refused_naming_file_and_line(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("name,lat_deg,lon_deg\nA,1,2\nA #2,3,4\nA,5,6\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"s\.csv:4: .*'A'.*line 2.*'A #2'.*line 3"):
        read_sites_csv(p)


def test_a_name_two_site_files_both_give_is_refused_naming_both_files_and_lines(
        shared_data, tmp_path):
    # NEN's Svalbard (line 5 of the shared list) again in a user's own file, on line 3
    nen = shared_data / "stations" / "nen_core_stations.csv"
    mine = tmp_path / "mine.csv"
    mine.write_text("name,lat_deg,lon_deg\nKiruna,67.86,20.96\n"
                    "Svalbard SG1 (SG1S 11m),78.23,15.40\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_site_files([nen, mine])
    assert (err.value.path, err.value.line) == (str(mine), 3)
    assert f"{nen}:5" in str(err.value) and "'Svalbard SG1 (SG1S 11m)'" in str(err.value)
    # apart, each file reads; together without the repeat, in order
    mine.write_text("name,lat_deg,lon_deg\nKiruna,67.86,20.96\n", encoding="utf-8")
    both = read_site_files([nen, mine])
    assert [s.name for s in both] == [s.name for s in read_sites_csv(nen)] + ["Kiruna"]


def test_a_command_line_site_the_stations_file_has_is_refused_naming_its_line(shared_data):
    nen = shared_data / "stations" / "nen_core_stations.csv"
    with pytest.raises(InputError, match=r"--site: site 'Svalbard SG1 \(SG1S 11m\)' is given "
                       rf"twice \(on {re.escape(str(nen))}:5 and by --site\)"):
        command_line_sites(nen, ["Svalbard SG1 (SG1S 11m)=78.23,15.40"])
    assert command_line_sites(nen, ["Kiruna=67.86,20.96"])[-1].name == "Kiruna"
