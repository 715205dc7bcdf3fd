"""FMIPv6 (RFC 5568) and HMIPv6 (RFC 5380) on the crafted two-access-point case of
test_sim: A up until 60 s, B from 20 s; every baseline breaks at A's LOS."""

from __future__ import annotations

import pytest

from sigma_sn.geometry import C_KM_S
from sigma_sn.sim import MipConfig, simulate
from tests.test_sim import RANGE_A_KM, RANGE_B_KM, RATE_PPS, cbr, two_path_replay

LOS_A_S = 60.0
D_A_S, D_B_S = RANGE_A_KM / C_KM_S, RANGE_B_KM / C_KM_S


def run(protocol: str, **mip):
    cfg = MipConfig(**mip)
    return cfg, simulate(two_path_replay(), cbr(), protocol=protocol, mip=cfg)


def test_predictive_fast_handover_buffers_at_nar_and_loses_only_the_old_links_flight():
    mip, rep = run("fmip")
    h = rep["handovers"][0]
    # PAR tunnels from the break; what was already on A's link when it set is lost
    in_flight = (D_A_S + 40 * 8 / 20e6) * RATE_PPS
    assert rep["packets"]["lost"] <= in_flight + 1, rep["loss_causes"]
    # the first packet over B is a buffered one, delivered when the UNA reaches NAR:
    # L2, the UNA's way up and the packet's way down
    expected_ms = 1e3 * (mip.t_l2_s + 2 * D_B_S)
    assert h["handover_latency_ms"] == pytest.approx(expected_ms, abs=1e3 / RATE_PPS + 1)
    assert {"RtSolPr", "PrRtAdv", "FBU", "HI", "HAck", "FBack", "UNA", "BU"} <= set(
        rep["signalling"]["by_kind"])


def test_reactive_fast_handover_loses_what_par_got_before_the_fbu():
    mip, rep = run("fmip", fmip_mode="reactive")
    _, predictive = run("fmip")
    # PAR starts tunnelling when the FBU, sent through NAR after attachment, arrives:
    # L2 + one way up B + PAR-NAR after the break, plus what was in flight on A
    gap_s = mip.t_l2_s + D_B_S + mip.par_nar_s + D_A_S
    assert rep["packets"]["lost"] == pytest.approx(gap_s * RATE_PPS, abs=1)
    assert rep["packets"]["lost"] > predictive["packets"]["lost"] + 5
    assert rep["handovers"][0]["interruption_ms"] > predictive["handovers"][0][
        "interruption_ms"]


def test_a_full_nar_buffer_drops_what_it_cannot_hold():
    _, small = run("fmip", fmip_buffer_pkts=2)
    _, big = run("fmip")
    assert small["loss_causes"]["queue_overflow"] > 0
    assert small["packets"]["lost"] > big["packets"]["lost"]


def test_hmip_local_binding_update_is_as_far_as_the_map():
    near, rep = run("hmip", map_ap_s=0.005, ra_min_s=0.05, ra_max_s=0.05)
    far, mip = run("mip", ra_min_s=0.05, ra_max_s=0.05)
    h, m = rep["handovers"][0], mip["handovers"][0]
    # the binding moves one MAP leg after the BU leaves instead of one HA leg: the
    # downlink switches (ha_ap - map_ap) sooner, data still crosses the HA
    assert (h["cn_switch_s"] + near.ha_cn_s + (near.ha_ap_s - near.map_ap_s)) == pytest.approx(
        m["cn_switch_s"] + far.ha_cn_s - (far.ha_ap_s - near.map_ap_s), abs=1e-6)
    assert rep["latency_ms"]["p50"] == pytest.approx(mip["latency_ms"]["p50"], abs=0.01)
    assert h["interruption_ms"] < m["interruption_ms"]


def test_hmip_with_the_map_at_the_home_network_is_mobile_ipv6():
    _, hmip = run("hmip", map_ap_s=0.025)
    _, mip = run("mip")
    for key in ("packets", "latency_ms"):
        assert hmip[key] == mip[key], key
    assert hmip["handovers"][0]["cn_switch_s"] == mip["handovers"][0]["cn_switch_s"]
