"""Scenario loading: good files load, bad keys and values are named."""

from pathlib import Path

import pytest

from sigma_sn.errors import InputError
from sigma_sn.planner.kinds import Mode, Policy
from sigma_sn.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]


def test_shipped_scenarios_load_with_paths_relative_to_the_file():
    sc = load_scenario(REPO / "scenarios" / "iridium_router.toml")
    assert sc.mode is Mode.ROUTER and sc.policy is Policy.MIN_HANDOVERS
    assert sc.element_files[0].resolve() == (REPO / "tle_data" / "iridium_like.tle").resolve()
    host = load_scenario(REPO / "scenarios" / "gpm_host.toml")
    assert [s.capacity for s in host.sites] == [1, 2, 1, 2]


def _write(tmp_path, text):
    p = tmp_path / "x.toml"
    p.write_text('elements = ["a.tle"]\n[[sites]]\nname = "T"\nlat_deg = 1\nlon_deg = 2\n'
                 '[window]\nstart_utc = "2026-08-22T00:00:00Z"\nduration_s = 60\n' + text)
    return p


def test_negative_guard_is_rejected_naming_file_and_key(tmp_path):
    with pytest.raises(InputError) as exc:
        load_scenario(_write(tmp_path, "[timing]\nguard_s = -1\n"))
    assert str(exc.value) == f"{tmp_path / 'x.toml'}: timing.guard_s: must be >= 0, got -1"


def test_unknown_key_is_rejected(tmp_path):
    with pytest.raises(InputError, match=r"timing\.gaurd_s: unknown key"):
        load_scenario(_write(tmp_path, "[timing]\ngaurd_s = 1\n"))
