"""Survivability (paper §4, Fig. 8): replicated location managers against a home agent,
on the crafted two-access-point case of tests/test_sim (A -> B at 30 s)."""

from __future__ import annotations

import json
import math

import pytest

from sigma_sn.errors import InputError
from sigma_sn.sim import MipConfig
from sigma_sn.sim.survive import (ALL_REPLICAS, Failure, LmReplicas, LocationService,
                                  parse_failures, parse_location_manager,
                                  survivability_report)
from tests.conftest import REPO
from tests.test_sim import cbr, two_path_replay

T0, T1 = 100.0, 200.0            # the failure, well after the handover
ONE_WAY_S = 0.020                # SimConfig.lm_terrestrial_s default: CN <-> LM
DURATION_S = 300.0


def run(failures, lm=LmReplicas(), mip=None):
    return survivability_report(two_path_replay(duration_s=DURATION_S), cbr(), failures,
                                lm=lm, mip=mip)


def starts_in_failure(lm: LmReplicas) -> list[float]:
    dt = lm.new_assoc_interval_s
    return [k * dt for k in range(1, int(DURATION_S / dt) + 1) if T0 <= k * dt < T1]


def test_a_backup_answers_after_one_timeout_when_the_primary_is_down():
    lm = LmReplicas(replicas=3, query_timeout_s=2.0)
    out = run([Failure("lm_down", T0, T1, replica=0)], lm)["sigma"]
    f = out["failures"][0]
    new = f["new_associations"]
    assert new["started"] == len(starts_in_failure(lm)) and new["share"] == 1.0, new
    # primary: no answer; after the timeout backup 1 answers one round trip later
    slow_ms = (lm.query_timeout_s + 2 * ONE_WAY_S) * 1e3
    assert new["lookup_latency_ms"] == {"p50": slow_ms, "p95": slow_ms, "max": slow_ms}, new
    calm = out["outside_failures"]["new_associations"]
    assert calm["share"] == 1.0 and calm["lookup_latency_ms"]["max"] == 2 * ONE_WAY_S * 1e3
    # the running association never asks the LM; the shared database stays current
    assert f["existing_association"]["share"] == 1.0, f
    assert out["report"]["location_manager"]["stale_answers"] == 0


def test_high_availability_hides_the_failure_after_the_takeover():
    lm = LmReplicas(ha_mode=True, heartbeat_interval_s=1.0, missed_heartbeats=3)
    service = LocationService(lm, [Failure("lm_down", T0, T1)], ONE_WAY_S)
    takeover = service.takeover_s(T0 + 1.0)
    assert takeover == T0 + 2.0                   # heartbeats due at 100, 101, 102 missed
    fast_s, slow_s = ONE_WAY_S, lm.query_timeout_s + ONE_WAY_S
    for t in starts_in_failure(lm):
        reached, replica, tries = service.lookup(t)
        # before the takeover the query times out and is sent again to the same address
        expected = slow_s if t + ONE_WAY_S < takeover else fast_s
        assert reached - t == pytest.approx(expected), (t, reached)
        assert replica == 1 and tries == (2 if expected == slow_s else 1)
    new = run([Failure("lm_down", T0, T1)], lm)["sigma"]["failures"][0]["new_associations"]
    assert new["share"] == 1.0 and new["lookup_latency_ms"]["p50"] == 2 * ONE_WAY_S * 1e3, new
    assert new["lookup_latency_ms"]["max"] == (lm.query_timeout_s + 2 * ONE_WAY_S) * 1e3


def test_with_every_replica_down_only_late_starters_get_through():
    lm = LmReplicas(query_timeout_s=2.0, setup_deadline_s=30.0)
    out = run([Failure("lm_down", T0, T1, replica=ALL_REPLICAS)], lm)["sigma"]
    f = out["failures"][0]
    # a start at t is answered if one of its tries t + k*timeout (k*timeout < deadline)
    # reaches a replica after T1
    last_try_s = (math.ceil(lm.setup_deadline_s / lm.query_timeout_s) - 1) * lm.query_timeout_s
    expected = sum(t + last_try_s + ONE_WAY_S >= T1 for t in starts_in_failure(lm))
    assert f["new_associations"]["succeeded"] == expected == 28, f
    assert f["existing_association"]["share"] == 1.0, f


def test_a_standby_home_agent_takes_over_as_a_backup_location_manager_would():
    """Equal terms: Mobile IP gets as many home agents as SIGMA-SN has location managers
    (three); when the active one fails, a standby on the home link takes its address
    once three 1 s heartbeats are missed, and the running association resumes."""
    mip = MipConfig()
    lm = LmReplicas(replicas=3, heartbeat_interval_s=1.0, missed_heartbeats=3)
    out = run([Failure("ha_down", T0, T1, replica=0)], lm, mip)
    existing = out["mip"]["failures"][0]["existing_association"]
    takeover_s = (lm.missed_heartbeats - 1) * lm.heartbeat_interval_s   # T0 on the grid
    lost = existing["sent"] - existing["delivered"]
    assert lost == pytest.approx(takeover_s * 100, abs=3), existing
    assert out["mip"]["failures"][0]["new_associations"]["share"] == 1.0
    assert out["sigma"]["failures"][0]["existing_association"]["share"] == 1.0


def test_every_home_agent_down_stops_mobile_ip_but_not_sigma():
    mip = MipConfig()
    lm = LmReplicas()
    out = run([Failure("ha_down", T0, T1, replica=ALL_REPLICAS)], lm, mip)
    sigma, base = out["sigma"]["failures"][0], out["mip"]["failures"][0]
    # SIGMA has no home agent: both kinds of association carry on
    assert sigma["existing_association"]["share"] == 1.0, sigma
    assert sigma["new_associations"]["share"] == 1.0, sigma
    # Mobile IP: nothing the CN sends while the HA is gone is tunnelled; only datagrams
    # sent in the last ha_cn_s before T1 reach a live HA again
    existing = base["existing_association"]
    assert existing["delivered"] <= mip.ha_cn_s * 100 + 1, existing
    # a new correspondent's INIT is retransmitted at RTO 3, 6, 12 s: tries at +0, +3,
    # +9, +21 s; it gets through only if a try reaches the HA after T1
    tries = [0.0, 3.0, 9.0, 21.0]
    expected = sum(any(t + d + mip.ha_cn_s >= T1 for d in tries)
                   for t in starts_in_failure(lm))
    assert base["new_associations"]["succeeded"] == expected == 21, base
    assert base["new_associations"]["setup_latency_ms"]["p50"] >= 21e3


def test_sigma_hands_over_while_every_location_manager_is_down():
    # all replicas down across the handover at 30 s: data moves to B regardless, and the
    # MH's location update is stored once a replica is back
    out = survivability_report(two_path_replay(duration_s=120.0), cbr(),
                               [Failure("lm_down", 20.0, 50.0, ALL_REPLICAS)])
    sigma = out["sigma"]
    assert sigma["failures"][0]["existing_association"]["share"] == 1.0
    assert sigma["report"]["handovers"][0]["lost"] == 0
    assert sigma["report"]["location_manager"]["updates_stored"] == 1
    assert sigma["lm_updates_lost"] == 0


def test_same_inputs_same_report():
    failures = [Failure("lm_down", T0, T1), Failure("ha_down", 150.0, 160.0, ALL_REPLICAS)]
    a = json.dumps(run(failures), sort_keys=True)
    assert a == json.dumps(run(failures), sort_keys=True)


def test_failures_and_lm_tables_are_validated_naming_file_and_key():
    got = parse_failures([{"kind": "lm_down", "t0_s": 1, "t1_s": 2, "replica": "all"},
                          {"kind": "ha_down", "t0_s": 3, "t1_s": 4.5}], "x.toml")
    assert got == (Failure("lm_down", 1.0, 2.0, ALL_REPLICAS), Failure("ha_down", 3.0, 4.5))
    bad = [([{"kind": "flood", "t0_s": 1, "t1_s": 2}],
            "x.toml: failures[0].kind: must be one of lm_down, ha_down, got 'flood'"),
           ([{"kind": "ha_down", "t0_s": 5, "t1_s": 2}],
            "x.toml: failures[0].t1_s: must be > t0_s (5.0), got 2.0"),
           ([{"kind": "lm_down", "t0_s": 1}], "x.toml: failures[0].t1_s: missing"),
           ([{"kind": "lm_down", "t0_s": 1, "t1_s": 2, "when": 3}],
            "x.toml: failures[0].when: unknown key; expected one of kind, replica, t0_s, t1_s")]
    for raw, message in bad:
        with pytest.raises(InputError) as exc:
            parse_failures(raw, "x.toml")
        assert str(exc.value) == message
    lm = parse_location_manager({"replicas": 2, "ha_mode": True}, "x.toml")
    assert lm.replicas == 2 and lm.ha_mode and lm.query_timeout_s == 2.0
    with pytest.raises(InputError) as exc:
        parse_location_manager({"replicas": 0}, "x.toml")
    assert str(exc.value) == "x.toml: security.location_manager.replicas: must be >= 1, got 0"


def test_a_failure_must_name_an_existing_replica():
    with pytest.raises(ValueError, match="replica 3"):
        run([Failure("lm_down", T0, T1, replica=3)])



def test_shipped_scenario_shows_attacks_and_failures():
    from sigma_sn.planner.plan import plan_scenario
    from sigma_sn.scenario import load_scenario
    from sigma_sn.sim.fromplan import config_from_plan, replays_from_plan
    from sigma_sn.sim.survive import findings_table, scenario_findings

    sc = load_scenario(REPO / "scenarios" / "survivability.toml")
    plan = plan_scenario(sc)
    cfg, mip = config_from_plan(plan)
    [replay] = replays_from_plan(plan, plan_dir=REPO)
    found = scenario_findings(replay, cfg, security=sc.security, failures=sc.failures,
                              where=str(sc.path), mip=mip)
    rows = {r["metric"]: r for r in findings_table(found)}
    assert rows["hijack (no auth): messages accepted / sent"]["sigma"] == 1.0
    assert rows["hijack (no auth): packets to the attacker"]["sigma"] > 0
    for kind in ("hijack", "bogus_lm_update", "replay"):
        assert rows[f"{kind} (HMAC-SHA-256): messages accepted / sent"]["sigma"] == 0.0
        assert rows[f"{kind} (HMAC-SHA-256): packets to the attacker"]["sigma"] == 0
    assert rows["ingress filtering: uplink delivered, MIP without reverse tunnel"]["mip"] == 0.0
    assert rows["ingress filtering: uplink delivered (MIP reverse-tunnelled)"]["mip"] > 0.99
    # the active HA fails: a standby takes over within seconds; all of them: Mobile IP stops
    ha = "ha_down replica 0 [3600, 4200) s: running association delivered"
    assert rows[ha]["sigma"] == 1.0 and 0.99 < rows[ha]["mip"] < 1.0, rows[ha]
    ha = "ha_down replica all [4500, 4560) s: running association delivered"
    assert rows[ha]["sigma"] == 1.0 and rows[ha]["mip"] == 0.0, rows[ha]
    lm = "lm_down replica 0 [1800, 2400) s: new associations set up"
    assert rows[lm]["sigma"] == 1.0, rows[lm]
