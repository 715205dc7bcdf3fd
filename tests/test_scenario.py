"""Scenario loading: good files load with every table, bad keys and values are named
(file and key) before anything is computed."""

import shutil
from pathlib import Path

import pytest

from sigma_sn.errors import InputError
from sigma_sn.planner.kinds import Mode, Policy
from sigma_sn.planner.plan import plan_scenario
from sigma_sn.scenario import load_scenario
from sigma_sn.sites import read_sites_csv

REPO = Path(__file__).resolve().parents[1]
HEAD = ('elements = ["a.tle"]\n[[sites]]\nname = "T"\nlat_deg = 1\nlon_deg = 2\n')
WINDOW = '[window]\nstart_utc = "2026-08-22T00:00:00Z"\nduration_s = 60\n'


def test_shipped_scenarios_load_with_paths_relative_to_the_file():
    sc = load_scenario(REPO / "scenarios" / "iridium-router.toml")
    assert sc.mode is Mode.ROUTER and sc.policy is Policy.MIN_HANDOVERS
    assert sc.element_files[0].resolve() == (REPO / "tle_data" / "iridium_like.tle").resolve()
    host = load_scenario(REPO / "scenarios" / "gpm-host.toml")
    stations = REPO / "scenarios" / "sites" / "nen_like.csv"
    assert host.site_files[0].resolve() == stations.resolve()
    assert host.sites == tuple(read_sites_csv(stations))
    assert {s.capacity for s in host.sites} == {1, 2, 3}   # antennas per station


def _write(tmp_path, text, *, head=HEAD, window=WINDOW):
    shutil.copy(REPO / "tle_data" / "gpm_like.tle", tmp_path / "a.tle")
    p = tmp_path / "x.toml"
    p.write_text(head + text + window)
    return p


def test_every_table_is_read(tmp_path):
    sc = load_scenario(_write(tmp_path, """
[selection]
min_dwell_s = 30
ap_capacity = 3
frequency_hz = 2.2e9
[addresses]
prefix = "2001:db8:ab00::/40"
[link]
capacity_bps = 1e6
queue_pkts = 50
loss_prob_at_horizon = 0.01
[traffic]
traffic = "bulk"
direction = "up"
seed = 7
[mip]
reverse_tunnel = false
map_ap_s = 0.01
[security]
auth = true
[[failures]]
kind = "ha_down"
t0_s = 5
t1_s = 9
[timing]
terrestrial_one_way_s = 0.03
""", head='mobiles = ["T"]\n' + HEAD,
        window='[window]\nstart_utc = "2026-08-22T00:00:00Z"\nend_utc = "2026-08-22T01:00:00Z"\n'))
    assert sc.mobiles == ("T",)
    assert (sc.selection.min_dwell_s, sc.selection.ap_capacity) == (30.0, 3)
    assert sc.selection.frequency_hz == 2.2e9
    assert sc.address_prefix == "2001:db8:ab00::/40"
    assert (sc.sim.capacity_bps, sc.sim.queue_pkts, sc.sim.loss_prob_at_horizon) == (1e6, 50,
                                                                                      0.01)
    assert (sc.sim.traffic, sc.sim.direction, sc.sim.seed) == ("bulk", "up", 7)
    assert sc.sim.terrestrial_s == sc.timing.terrestrial_one_way_s == 0.03
    assert sc.mip.reverse_tunnel is False and sc.mip.map_ap_s == 0.01
    # the access network's timing is the [timing] block's, for every protocol
    assert (sc.mip.t_l2_s, sc.mip.ra_min_s, sc.mip.ra_max_s, sc.mip.t_dad_s) == (
        sc.timing.l2_s, sc.timing.ra_s, sc.timing.ra_s, sc.timing.dad_s)
    assert sc.security == {"auth": True}
    assert sc.failures == ({"kind": "ha_down", "t0_s": 5, "t1_s": 9},)
    assert sc.duration_s == 3600.0


BAD = [
    # (TOML added to a good scenario, the key the message names, what it says)
    ("colour = 1\n", "colour", "unknown key"),
    ("[timing]\ngaurd_s = 1\n", "timing.gaurd_s", "unknown key"),
    ("[selection]\nmin_dwell_s = -3\n", "selection.min_dwell_s", "must be >= 0"),
    ("[selection]\nap_capacity = 0\n", "selection.ap_capacity", "integer >= 1"),
    ("[selection]\nhysteresis = 1\n", "selection.hysteresis", "unknown key"),
    ('[addresses]\nprefix = "192.0.2.0/24"\n', "addresses.prefix", "IPv6"),
    ('[addresses]\nprefix = "2001:db8::1/32"\n', "addresses.prefix", "host bits"),
    ("[link]\nloss_prob = 2\n", "link.loss_prob", "must be in [0, 1]"),
    ("[link]\nqueue_pkts = 1.5\n", "link.queue_pkts", "must be an integer"),
    ("[link]\nrate_pps = 10\n", "link.rate_pps", "unknown key"),
    ('[traffic]\ntraffic = "video"\n', "traffic.traffic", "'cbr' or 'bulk'"),
    ("[traffic]\nrate_pps = 0\n", "traffic.rate_pps", "must be > 0"),
    ("[mip]\nt_dad_s = 1\n", "mip.t_dad_s", "same for every protocol: set timing."),
    ('[mip]\nfmip_mode = "eager"\n', "mip.fmip_mode", "'predictive' or 'reactive'"),
    ("[mip]\nreverse_tunnel = 1\n", "mip.reverse_tunnel", "true or false"),
    ('mobiles = ["Nobody"]\n', "mobiles", "no site named 'Nobody'"),
    ("security = 3\n", "security", "must be a table"),
    ("[security]\nauth = 1\n", "security.auth", "true or false"),
    ('[[security.attacks]]\nkind = "dos"\nt_s = 1\n', "security.attacks[0].kind",
     "must be one of"),
    ('[[failures]]\nkind = "dos"\nt0_s = 1\nt1_s = 2\n', "failures[0].kind",
     "must be one of"),
]


@pytest.mark.parametrize("text,key,says", BAD, ids=[b[1] for b in BAD])
def test_bad_key_or_value_is_named_with_the_file(tmp_path, text, key, says):
    path = _write(tmp_path, "", head=text + HEAD) if not text.startswith("[") \
        else _write(tmp_path, text)
    _assert_named(path, key, says)


def _assert_named(path, key, says):
    with pytest.raises(InputError) as exc:
        load_scenario(path)
    assert str(exc.value).startswith(f"{path}: {key}: "), str(exc.value)
    assert says in str(exc.value)


def test_negative_guard_message_is_exact(tmp_path):
    path = _write(tmp_path, "[timing]\nguard_s = -1\n")
    with pytest.raises(InputError) as exc:
        load_scenario(path)
    assert str(exc.value) == f"{path}: timing.guard_s: must be >= 0, got -1"


WINDOWS = [
    ("start_utc = 2026-08-22T00:00:00Z\nend_utc = 2026-08-21T00:00:00Z\n", "window.end_utc",
     "at least 1 s after window.start_utc"),
    ('start_utc = "2026-08-22T00:00:00Z"\nduration_s = 60\nend_utc = "2026-08-23T00:00:00Z"\n',
     "window.duration_s", "exactly one of"),
    ('start_utc = "2026-08-22T00:00:00Z"\n', "window.end_utc", "exactly one of"),
    ('start_utc = "yesterday"\nduration_s = 60\n', "window.start_utc", "ISO 8601"),
    ('start_utc = "2026-08-22T00:00:00Z"\nduration_s = 60\nmin_elev_deg = 95\n',
     "window.min_elev_deg", "must be < 90, got 95"),
    ('start_utc = "2026-08-22T00:00:00Z"\nduration_s = 0.5\n', "window.duration_s",
     "must be >= 1"),
]


@pytest.mark.parametrize("text,key,says", WINDOWS, ids=[w[1] + str(i) for i, w in
                                                        enumerate(WINDOWS)])
def test_bad_window_is_named(tmp_path, text, key, says):
    _assert_named(_write(tmp_path, "", window="[window]\n" + text), key, says)


def test_site_mask_above_90_is_named(tmp_path):
    path = _write(tmp_path, "", head=HEAD + "min_elev_deg = 91\n")
    with pytest.raises(InputError, match=r"sites\[0\]\.min_elev_deg: must be < 90"):
        load_scenario(path)


@pytest.mark.parametrize("mask,says", [
    ("[[0, 5], [90]]", "[azimuth_deg, elevation_deg] pairs"),
    ("[]", "[azimuth_deg, elevation_deg] pairs"),
    ('[[0, "low"]]', "must hold numbers"),
    ("[[90, 5], [10, 5]]", "must increase strictly"),
    ("[[0, 95]]", "[-90, 90)"),
])
def test_bad_horizon_mask_is_named(tmp_path, mask, says):
    _assert_named(_write(tmp_path, "", head=HEAD + f"horizon = {mask}\n"), "sites[0].horizon",
                  says)


def test_horizon_mask_is_read(tmp_path):
    path = _write(tmp_path, "", head=HEAD + "horizon = [[0, 5], [90, 30.5], [270, 5]]\n")
    (site,) = load_scenario(path).sites
    assert site.horizon.az_deg == (0.0, 90.0, 270.0)
    assert site.horizon.elev_deg == (5.0, 30.5, 5.0)


def test_missing_files_are_named_with_key_and_path(tmp_path):
    path = _write(tmp_path, "", head='elements = ["a.tle", "gone.tle"]\n' + HEAD.split("\n", 1)[1])
    with pytest.raises(InputError) as exc:
        load_scenario(path)
    assert str(exc.value) == f"{path}: elements[1]: no such file: {tmp_path / 'gone.tle'}"
    path = _write(tmp_path, "", head='site_files = ["sites/none.csv"]\n' + HEAD)
    with pytest.raises(InputError) as exc:
        load_scenario(path)
    assert str(exc.value) == (f"{path}: site_files[0]: no such file: "
                              f"{tmp_path / 'sites' / 'none.csv'}")


def test_host_mode_mobiles_are_checked_against_the_elements(tmp_path):
    path = _write(tmp_path, "", head='mode = "host"\npolicy = "least-load"\n'
                  'mobiles = ["GPM-LIKE", "NOT-A-SAT"]\n' + HEAD)
    sc = load_scenario(path)  # satellites are known once the elements are loaded
    with pytest.raises(InputError) as exc:
        plan_scenario(sc)
    assert str(exc.value) == (f"{path}: mobiles: no satellite named 'NOT-A-SAT' in the "
                              "element files")


def test_policy_not_offered_in_the_mode_is_named(tmp_path):
    path = _write(tmp_path, "", head='mode = "host"\npolicy = "max-elevation"\n' + HEAD)
    with pytest.raises(InputError, match=r"x\.toml: policy: max-elevation is not offered"):
        load_scenario(path)
