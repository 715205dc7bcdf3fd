"""Where outputs go and where sites come from: --out into a folder that does not exist
makes it and says so; --site NAME=LAT,LON[,ALT_M] works wherever a stations file does."""

from __future__ import annotations

import json

from sigma_sn.cli import main

from conftest import REPO

IRIDIUM = str(REPO / "tle_data" / "iridium_like.tle")
WINDOWS = ["windows", "--tle", IRIDIUM, "--start", "2026-08-22T00:00:00Z", "--hours", "1"]


def test_out_into_a_missing_folder_makes_it_and_says_so(tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "w.csv"
    assert main([*WINDOWS, "--site", "Boulder=40.015,-105.27", "--out", str(out)]) == 0
    assert out.is_file()
    assert f"made folder {out.parent}/ for --out {out}" in capsys.readouterr().err


def test_out_under_a_file_is_an_error_naming_the_option(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code = main([*WINDOWS, "--site", "Boulder=40.015,-105.27",
                 "--out", str(tmp_path / "file" / "w.csv")])
    assert code == 2
    assert "--out: cannot make the folder" in capsys.readouterr().err


def test_sites_from_the_command_line_equal_a_stations_file(tmp_path, capsys):
    stations = tmp_path / "stations.csv"
    stations.write_text("name,lat_deg,lon_deg,alt_m\nBoulder,40.015,-105.27,1655\n"
                        "Quito,-0.18,-78.47,0\n")
    assert main([*WINDOWS, "--stations", str(stations), "--out", str(tmp_path / "a.csv")]) == 0
    assert main([*WINDOWS, "--site", "Boulder=40.015,-105.27,1655", "--site",
                 "Quito=-0.18,-78.47", "--out", str(tmp_path / "b.csv")]) == 0
    a, b = (tmp_path / "a.csv").read_text(), (tmp_path / "b.csv").read_text()
    assert a == b and "Quito" in a
    # and together: the file's sites, then the command line's
    assert main([*WINDOWS, "--stations", str(stations), "--site", "Madrid=40.4168,-3.7038",
                 "--out", str(tmp_path / "c.csv")]) == 0
    assert "Madrid" in (tmp_path / "c.csv").read_text()


def test_bad_sites_say_the_form(capsys):
    for bad in ("Boulder=40.015", "Boulder", "=1,2", "Boulder=north,-105", "Pole=91,0"):
        assert main([*WINDOWS, "--site", bad]) == 2, bad
        err = capsys.readouterr().err
        assert "--site: " in err, bad
    assert main(WINDOWS) == 2
    assert "no sites: give --stations FILE or --site" in capsys.readouterr().err
    assert main([*WINDOWS, "--site", "A=1,2", "--site", "A=3,4"]) == 2
    assert "site 'A' is given twice" in capsys.readouterr().err


def test_plan_takes_extra_sites(tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert main(["plan", str(REPO / "scenarios" / "iridium-router.toml"), "--hours", "0.5",
                 "--site", "Quito=-0.18,-78.47", "--out", str(out)]) == 0
    plan = json.loads(out.read_text())
    assert [m["name"] for m in plan["mobiles"]] == ["Boulder", "Quito"]
    assert main(["plan", str(REPO / "scenarios" / "iridium-router.toml"),
                 "--site", "Boulder=1,2"]) == 2
    assert "already has a site named 'Boulder'" in capsys.readouterr().err
