"""The Mobile IPv6 baseline on the crafted two-access-point case of test_sim."""

from __future__ import annotations

import pytest

from sigma_sn.geometry import C_KM_S
from sigma_sn.sim import MipConfig, simulate
from tests.test_sim import RANGE_A_KM, RANGE_B_KM, RATE_PPS, TERRESTRIAL_S, cbr, two_path_replay

ONE_PACKET = 1


def bu_one_way_s(mip: MipConfig) -> float:
    return RANGE_B_KM / C_KM_S + mip.ha_ap_s


@pytest.mark.parametrize("t_dad_s", [0.0, 1.0])
def test_break_before_make_outage_is_l2_ra_dad_and_the_binding_update(t_dad_s):
    mip = MipConfig(t_dad_s=t_dad_s, ra_min_s=0.05, ra_max_s=0.05)
    rep = simulate(two_path_replay(), cbr(), protocol="mip", mip=mip)
    h = rep["handovers"][0]
    # the MH leaves A at its LOS (60 s); the HA tunnels to B once the BU arrives
    outage_min = mip.t_l2_s + t_dad_s + bu_one_way_s(mip)
    outage_max = outage_min + mip.ra_max_s
    switch = h["cn_switch_s"] + mip.ha_cn_s           # the HA's binding change
    assert 60.0 + outage_min <= switch <= 60.0 + outage_max + 1e-9
    # what the HA tunnelled to A after the MH left is lost, ~ rate x outage
    in_flight_to_a = (mip.ha_cn_s + mip.ha_ap_s + RANGE_A_KM / C_KM_S)
    predicted = (switch - 60.0 + in_flight_to_a) * RATE_PPS
    assert rep["packets"]["lost"] == pytest.approx(predicted, abs=ONE_PACKET + 1)
    assert rep["loss_causes"]["coa_gone"] == rep["packets"]["lost"]
    assert h["handover_latency_ms"] > 1e3 * outage_min


def test_triangle_routing_costs_the_detour_on_every_packet():
    mip = MipConfig(ha_cn_s=0.030, ha_ap_s=0.040)
    before_any_handover = two_path_replay(duration_s=15.0)      # both served by A alone
    sigma = simulate(before_any_handover, cbr())
    base = simulate(before_any_handover, cbr(), protocol="mip", mip=mip)
    detour_ms = (mip.ha_cn_s + mip.ha_ap_s - TERRESTRIAL_S) * 1e3
    tunnel_header_ms = 40 * 8 / 20e6 * 1e3                     # serialising 40 more bytes
    assert base["latency_ms"]["p50"] - sigma["latency_ms"]["p50"] == pytest.approx(
        detour_ms + tunnel_header_ms, abs=0.002)


def test_sigma_loses_nothing_where_mobile_ip_loses_rate_times_outage():
    sigma = simulate(two_path_replay(), cbr())
    base = simulate(two_path_replay(), cbr(), protocol="mip")
    assert sigma["packets"]["lost"] == 0
    assert base["packets"]["lost"] > 0.5 * RATE_PPS          # DAD alone is 1 s


def test_ingress_filtering_drops_the_uplink_unless_reverse_tunnelled():
    filtered = simulate(two_path_replay(), cbr(direction="up"), protocol="mip",
                        mip=MipConfig(ingress_filtering=True))
    assert filtered["loss_causes"]["ingress_filtered"] > 0.9 * filtered["packets"]["sent"]
    tunnelled = simulate(two_path_replay(), cbr(direction="up"), protocol="mip",
                         mip=MipConfig(ingress_filtering=True, reverse_tunnel=True))
    assert tunnelled["loss_causes"]["ingress_filtered"] == 0
    sigma = simulate(two_path_replay(), cbr(direction="up"))
    assert tunnelled["latency_ms"]["p50"] > sigma["latency_ms"]["p50"]


def test_mip_reports_use_the_same_schema():
    import importlib.resources
    import json

    import jsonschema

    schema = json.loads((importlib.resources.files("sigma_sn") / "schemas" / "report-1.json")
                        .read_text())
    rep = simulate(two_path_replay(), cbr(), protocol="mip")
    assert rep["protocol"] == "mip"
    jsonschema.validate(json.loads(json.dumps(rep)), schema)


def test_switch_at_the_plan_breaks_at_set_primary_not_at_los():
    mip = MipConfig(switch="plan", ra_min_s=0.05, ra_max_s=0.05)
    rep = simulate(two_path_replay(sp_s=30.0), cbr(), protocol="mip", mip=mip)
    switch = rep["handovers"][0]["cn_switch_s"] + mip.ha_cn_s
    outage_min = mip.t_l2_s + mip.t_dad_s + bu_one_way_s(mip)
    assert 30.0 + outage_min <= switch <= 30.0 + outage_min + mip.ra_max_s + 1e-9
    # breaking early does not make it lossless: the outage is the same, only earlier
    assert rep["packets"]["lost"] > outage_min * RATE_PPS - ONE_PACKET


@pytest.mark.parametrize("ra_min_s, ra_max_s", [(0.03, 0.07), (3.0, 10.0)])
def test_movement_detection_waits_at_most_one_ra_interval(ra_min_s, ra_max_s):
    """RFC 6275 §7.5 (30-70 ms) against plain RFC 4861 routers (here 3-10 s): the binding
    lands between L2 + DAD + BU and that plus the longest RA interval, for every seed."""
    mip = MipConfig(ra_min_s=ra_min_s, ra_max_s=ra_max_s)
    outage_min = mip.t_l2_s + mip.t_dad_s + bu_one_way_s(mip)
    waits = []
    for seed in range(8):
        rep = simulate(two_path_replay(duration_s=120.0), cbr(seed=seed), protocol="mip",
                       mip=mip)
        switch = rep["handovers"][0]["cn_switch_s"] + mip.ha_cn_s
        waits.append(switch - 60.0 - outage_min)
    assert all(-1e-9 <= w <= ra_max_s + 1e-9 for w in waits), waits
    assert len(set(waits)) > 1                                   # the phase is random, seeded


def test_lost_binding_updates_are_retransmitted():
    rep = simulate(two_path_replay(duration_s=200.0), cbr(loss_prob=0.5, seed=2),
                   protocol="mip")
    assert rep["signalling"]["retransmissions"].get("BU", 0) > 0
    assert rep["handovers"][0]["cn_switch_s"] is not None       # it got through in the end


def test_uplink_without_a_care_of_address_has_no_route():
    mip = MipConfig(ra_min_s=0.05, ra_max_s=0.05)
    rep = simulate(two_path_replay(), cbr(direction="up"), protocol="mip", mip=mip)
    # from LOS of A until the new CoA exists (L2 + RA wait + DAD) the MH cannot send
    no_coa_s = mip.t_l2_s + mip.t_dad_s
    assert rep["loss_causes"]["no_route"] == pytest.approx(
        no_coa_s * RATE_PPS, abs=mip.ra_max_s * RATE_PPS + ONE_PACKET)
