"""The [path] scenario section: read key by key, every mistake named by file and key."""

from __future__ import annotations

import shutil

import pytest

from conftest import REPO
from sigma_sn.errors import InputError
from sigma_sn.path.config import PathMode
from sigma_sn.scenario import load_scenario

HEAD = ('elements = ["a.tle"]\n[[sites]]\nname = "Rio"\nlat_deg = -22.9\nlon_deg = -43.2\n'
        '[window]\nstart_utc = "2026-08-22T00:00:00Z"\nduration_s = 60\n')


def _write(tmp_path, path_table: str):
    shutil.copy(REPO / "tle_data" / "gpm_like.tle", tmp_path / "a.tle")
    shutil.copy(REPO / "scenarios" / "sites" / "gateways_world.csv", tmp_path / "gw.csv")
    p = tmp_path / "x.toml"
    p.write_text(HEAD + "[path]\n" + path_table)
    return p


def test_path_section_is_read(tmp_path):
    sc = load_scenario(_write(tmp_path, 'mode = "bent_pipe"\ngateways = "gw.csv"\n'
                              'correspondent = "GW London"\nstep_s = 2\nfibre_per_hop_ms = 0.3\n'
                              'fibre_hop_km = 800\nisl_max_range_km = 4000\n'
                              'isl_polar_cutoff_deg = 70\nisl_plane_tol_deg = 1\n'))
    p = sc.path_config
    assert p.mode is PathMode.BENT_PIPE and p.gateways_file == tmp_path / "gw.csv"
    assert (p.correspondent.name, p.correspondent.lat_deg) == ("GW London", 51.78)
    assert (p.step_s, p.fibre.per_hop_ms, p.fibre.hop_km) == (2.0, 0.3, 800.0)
    assert (p.isl.max_range_km, p.isl.polar_cutoff_deg, p.isl.plane_tol_deg) == (4000, 70, 1)


def test_correspondent_at_a_site_or_given_by_coordinates(tmp_path):
    assert load_scenario(_write(tmp_path, 'gateways = "gw.csv"\ncorrespondent = "Rio"\n')
                         ).path_config.correspondent.lon_deg == -43.2
    sc = load_scenario(_write(tmp_path, 'gateways = "gw.csv"\n[path.correspondent]\n'
                              'name = "Oslo"\nlat_deg = 59.9\nlon_deg = 10.7\n'))
    assert sc.path_config.mode is PathMode.ISL and sc.path_config.correspondent.name == "Oslo"


def test_no_path_section_means_none(tmp_path):
    p = _write(tmp_path, "")
    p.write_text(HEAD)
    assert load_scenario(p).path_config is None


@pytest.mark.parametrize("table, key, words", [
    ('mode = "laser"\ngateways = "gw.csv"\ncorrespondent = "Rio"\n', "path.mode", "bent_pipe"),
    ('correspondent = "Rio"\n', "path.gateways", "missing"),
    ('gateways = "nope.csv"\ncorrespondent = "Rio"\n', "path.gateways", "no such file"),
    ('gateways = "gw.csv"\n', "path.correspondent", "missing"),
    ('gateways = "gw.csv"\ncorrespondent = "Atlantis"\n', "path.correspondent", "Atlantis"),
    ('gateways = "gw.csv"\ncorrespondent = 3\n', "path.correspondent", "must be a name"),
    ('gateways = "gw.csv"\ncorrespondent = "Rio"\nfibre_per_hop_ms = -1\n',
     "path.fibre_per_hop_ms", ">= 0"),
    ('gateways = "gw.csv"\ncorrespondent = "Rio"\nisl_polar_cutoff_deg = 95\n',
     "path.isl_polar_cutoff_deg", "<= 90"),
    ('gateways = "gw.csv"\ncorrespondent = "Rio"\nstep_s = "1"\n', "path.step_s", "number"),
    ('gateways = "gw.csv"\ncorrespondent = "Rio"\nhops = 3\n', "path.hops", "unknown key"),
    ('gateways = "gw.csv"\n[path.correspondent]\nname = "X"\nlat_deg = 91\nlon_deg = 0\n',
     "path.correspondent.lat_deg", "<= 90"),
])
def test_bad_path_keys_are_named(tmp_path, table, key, words):
    with pytest.raises(InputError) as err:
        load_scenario(_write(tmp_path, table))
    assert err.value.key == key and words in str(err.value)


def test_bad_gateway_file_names_file_and_line(tmp_path):
    p = _write(tmp_path, 'gateways = "gw.csv"\ncorrespondent = "Rio"\n')
    (tmp_path / "gw.csv").write_text("name,lat_deg,lon_deg\nGW A,95,0\n")
    with pytest.raises(InputError) as err:
        load_scenario(p)
    assert err.value.path.endswith("gw.csv") and err.value.line == 2


def test_a_scenario_path_section_builds_its_model(tmp_path):
    from sigma_sn.elements import read_tle
    from sigma_sn.path.route import model_for_scenario

    p = _write(tmp_path, 'mode = "bent_pipe"\ngateways = "gw.csv"\ncorrespondent = "GW Madrid"\n'
                         'step_s = 5\nfibre_per_hop_ms = 0.5\n')
    sc = load_scenario(p)
    model = model_for_scenario(sc, read_tle(tmp_path / "a.tle"), workers=1)
    assert model.mode is PathMode.BENT_PIPE and model.step_s == 5.0 and model.n_steps == 13
    assert len(model.gateways) == 36 and model.correspondent.name == "GW Madrid"
    # the Madrid gateway's fibre is one router's worth: it sits at the correspondent
    assert model.gw_fibre_s[[g.name for g in model.gateways].index("GW Madrid")] == 0.5e-3
