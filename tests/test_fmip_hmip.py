"""FMIPv6 (RFC 5568) and HMIPv6 (RFC 5380) on the crafted two-access-point case of
test_sim: A up until 60 s, B from 20 s; every baseline breaks at A's LOS."""

from __future__ import annotations

import importlib.resources
import json

import jsonschema
import pytest

from sigma_sn.geometry import C_KM_S
from sigma_sn.sim import MipConfig, simulate
from sigma_sn.sim.model import CAUSES
from tests.test_sim import (RANGE_A_KM, RANGE_B_KM, RATE_PPS, TERRESTRIAL_S, cbr,
                            two_path_replay)

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


GAP_FROM_S, GAP_TO_S = 60.0, 300.0          # A sets at 60 s, B rises 4 min later


@pytest.mark.parametrize("protocol", ["sigma", "mip", "fmip", "hmip"])
def test_no_protocol_carries_packets_across_a_coverage_gap_past_its_buffer(protocol):
    # a hard handover over a 240 s gap: what is sent into it is lost, except what FMIPv6's
    # NAR may hold for fmip_buffer_s; nothing arrives later than that plus the path
    replay = two_path_replay(los_a_s=GAP_FROM_S, aos_b_s=GAP_TO_S, sp_s=GAP_TO_S + 0.5,
                             duration_s=400.0)
    mip = MipConfig()
    rep = simulate(replay, cbr(), protocol=protocol, mip=mip)
    # the slowest path: CN -> HA -> (PAR -> NAR) -> B, or the terrestrial leg
    path_s = max(mip.ha_cn_s + mip.ha_ap_s + mip.par_nar_s, TERRESTRIAL_S) + D_B_S + 0.001
    held_s = mip.fmip_buffer_s if protocol == "fmip" else 0.0
    assert rep["latency_ms"]["max"] <= 1e3 * (held_s + path_s)
    gap_pkts = (GAP_TO_S - GAP_FROM_S) * RATE_PPS
    assert rep["packets"]["lost"] >= gap_pkts - (held_s + mip.t_l2_s + 1.0) * RATE_PPS


def test_nar_drops_what_it_held_past_its_lifetime_and_a_bad_lifetime_is_refused():
    replay = two_path_replay(los_a_s=GAP_FROM_S, aos_b_s=GAP_TO_S, sp_s=GAP_TO_S + 0.5,
                             duration_s=400.0)
    short = simulate(replay, cbr(), protocol="fmip", mip=MipConfig(fmip_buffer_s=0.5))
    long = simulate(replay, cbr(), protocol="fmip", mip=MipConfig(fmip_buffer_s=2.0))
    # 1.5 s more of holding delivers 1.5 s more of the gap's packets, late
    assert short["packets"]["lost"] - long["packets"]["lost"] == pytest.approx(
        1.5 * RATE_PPS, abs=2)
    assert long["latency_ms"]["max"] > 1e3 * 1.5
    with pytest.raises(ValueError, match="fmip_buffer_s"):
        MipConfig(fmip_buffer_s=-1.0)


def test_what_nar_held_too_long_is_booked_as_buffer_expired_not_no_route():
    # the MH comes 240 s after the break: NAR holds each packet fmip_buffer_s, then drops
    # it; that is its own cause, apart from no_route (nothing could carry the packet)
    replay = two_path_replay(los_a_s=GAP_FROM_S, aos_b_s=GAP_TO_S, sp_s=GAP_TO_S + 0.5,
                             duration_s=400.0)
    mip = MipConfig()
    rep = simulate(replay, cbr(), protocol="fmip", mip=mip)
    causes = rep["loss_causes"]
    assert causes["no_route"] == 0, causes
    # sent from the break (PAR tunnels from there) until fmip_buffer_s before the MH is
    # back on B (its UNA: L2 and one way up B); the last second's packets NAR delivers
    una_s = GAP_TO_S + mip.t_l2_s + D_B_S
    expired = (una_s - mip.fmip_buffer_s - GAP_FROM_S) * RATE_PPS
    assert causes["buffer_expired"] == pytest.approx(expired, abs=3), causes
    assert sum(causes.values()) == rep["packets"]["lost"]
    # the report schema names every cause a report can hold, this one too
    schema = json.loads((importlib.resources.files("sigma_sn") / "schemas" / "report-1.json")
                        .read_text())
    named = schema["properties"]["loss_causes"]["propertyNames"]["enum"]
    assert set(named) == set(CAUSES) | {"to_attacker"}
    jsonschema.validate(rep, schema)


def test_on_gpm_core_over_nen_nar_drops_each_crossed_gap_but_its_buffers_worth(
        shared_data, tmp_path):
    # 6 h of the real GPM-CORE handed between NASA's NEN stations (host mode): every
    # move after the first crosses a coverage gap of minutes. PAR tunnels from the break,
    # NAR holds each packet fmip_buffer_s and delivers the last second's at the UNA: what
    # it drops is each crossed gap's sends less that second, booked as buffer_expired
    from sigma_sn.compare import compare_plan
    from sigma_sn.sim.fromplan import config_from_plan

    plan = _gpm_core_over_nen_plan(shared_data, tmp_path)
    rate_pps = 2.0
    cfg, mip = config_from_plan(plan, rate_pps=rate_pps)
    fmip = compare_plan(plan, cfg, mip, protocols=("fmip",))["reports"]["fmip"]
    causes = fmip["loss_causes"]
    assert causes["no_route"] == 0, causes
    # the gaps between passes (not the one from the last set to the run's end), each
    # crossed by one move: the MH breaks as it starts and attaches L2 after it ends
    gaps = [g for g in fmip["coverage_gaps"] if 0.0 < g["start_s"] and g["end_s"] < 21600.0]
    breaks = sorted(h["break_s"] for h in fmip["handovers"] if h["made"])
    assert len(gaps) >= 10 and all(g["start_s"] in breaks for g in gaps), (gaps, breaks)
    expected = sum((g["duration_s"] + mip.t_l2_s - mip.fmip_buffer_s) * rate_pps for g in gaps)
    assert causes["buffer_expired"] == pytest.approx(expected, abs=len(gaps)), causes


def _gpm_core_over_nen_plan(shared_data, tmp_path):
    """6 h of the real GPM-CORE handed between NASA's NEN stations (host mode)."""
    from sigma_sn.planner.plan import plan_scenario
    from sigma_sn.scenario import load_scenario
    from tests.test_real_scenarios import _toml_path, _write_scenario

    nen = _toml_path(shared_data / "stations" / "nen_core_stations.csv")
    path = _write_scenario(
        tmp_path, "gpm-core-6h", elements=shared_data / "tle" / "gpm_core_2026-08-22.tle",
        mode="host", policy="longest-visibility", duration_s=21600, mask_deg=5.0,
        sites=f'site_files = ["{nen}"]\n')
    return plan_scenario(load_scenario(path))


def test_on_gpm_core_over_nen_every_protocol_and_rate_reports_the_same_coverage_gaps(
        shared_data, tmp_path):
    # a coverage gap is the sky's: per handover it must not move with the protocol (FMIPv6's
    # NAR delivers the gap's last second, which once made its gaps a second shorter) nor
    # with the traffic (a run of lost packets ends within one interval of the gap's end)
    from sigma_sn.compare import compare_plan
    from sigma_sn.sim.fromplan import config_from_plan, replays_from_plan

    plan = _gpm_core_over_nen_plan(shared_data, tmp_path)
    replays = replays_from_plan(plan)
    per_handover = {}
    for rate_pps in (2.0, 7.0):
        cfg, mip = config_from_plan(plan, rate_pps=rate_pps)
        reports = compare_plan(plan, cfg, mip, replays=replays)["reports"]
        for protocol, rep in reports.items():
            per_handover[protocol, rate_pps] = [(h["index"], h["coverage_gap_s"])
                                                for h in rep["handovers"]]
    gaps = reports["sigma"]["coverage_gaps"]
    between = [g["duration_s"] for g in gaps if 0.0 < g["start_s"] and g["end_s"] < 21600.0]
    assert len(between) >= 10, gaps
    first = per_handover["sigma", 2.0]
    for key, got in per_handover.items():
        assert got == first, key
    # every gap between passes is some handover's, counted once; the one to the run's end
    # is none's
    assert sum(g for _, g in first) == pytest.approx(sum(between), abs=1e-5)
