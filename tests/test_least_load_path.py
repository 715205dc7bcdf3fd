"""Least-load over the path (issue 16): it takes only satellites from which the path
reaches the correspondent (a window without one is a last resort, like an outage), and
it weighs each mobile's offered rate against the satellite's capacity, the numbers the
load stage shares."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from conftest import REPO
from sigma_sn.planner.core import handovers, select_least_load
from sigma_sn.planner.kinds import Policy, Window
from sigma_sn.planner.pathpolicy import path_spans
from tests.test_planner_core import LEAD_S, RTT_S, TIMING, check_invariants, rtt
from tests.test_planner_policies import PURE, served_intervals

ALWAYS = ((0.0, 1e9),)


def _plan(candidates, spans, capacity=None, duration_s=600.0, **kw):
    seqs = select_least_load(candidates, capacity or {}, duration_s, TIMING, RTT_S,
                             selection=PURE, path_spans=spans, **kw)
    out = {}
    for m, seq in seqs.items():
        ws = candidates[m]
        plan = handovers(ws, seq, TIMING, rtt)
        check_invariants(ws, seq, plan)
        out[m] = (seq, plan, served_intervals(ws, seq, plan, duration_s))
    return out


def test_path_spans_are_the_steps_with_a_delay_held_for_their_step():
    # window 0 (0.4-5.5 s) is sampled at steps 1-5: a path at 1, 3 and 4; window 1 is too
    # short for a step; window 2 (6.5-8.2 s) has one at both its steps. A run reaching a
    # window's first or last sample reaches its AOS or LOS (the edges no step samples)
    nan = float("nan")
    paths = SimpleNamespace(step_s=1.0, first_step=np.array([1, 6, 7]),
                            offset=np.array([0, 5, 5, 7]),
                            delay_ms=np.array([1.0, nan, 2.0, 2.0, nan, 3.0, 3.0]))
    assert path_spans(paths, [0.4, 6.1, 6.5], [5.5, 6.3, 8.2]) == [
        ((0.4, 2.0), (3.0, 5.0)), (), ((6.5, 8.2),)]


def test_a_satellite_without_a_gateway_is_never_taken_while_one_with_a_gateway_has_room():
    # S1 is up longest and stays empty but never sees a gateway; S2 sees one throughout
    # and has one place; S3 sees one until 300 s. Counting mobiles alone (no spans) sends
    # T0 to the empty, longest S1; over the path T0 takes S2, T1 takes S3 and holds it
    # after its gateway sets (S2 full, S1 no better): S1 serves nobody
    windows = [Window("S1", 0, 900), Window("S2", 0, 800), Window("S3", 0, 700)]
    candidates = {"T0": windows, "T1": windows}
    spans = [(), ALWAYS, ((0.0, 300.0),)]
    got = _plan(candidates, {"T0": spans, "T1": spans}, {"S1": 2, "S2": 1, "S3": 2})
    assert [[windows[s.index].ap for s in seq] for seq, _, _ in got.values()] == [
        ["S2"], ["S3"]]
    old = select_least_load(candidates, {"S1": 2, "S2": 1, "S3": 2}, 600, TIMING, RTT_S,
                            selection=PURE)
    assert [windows[s.index].ap for s in old["T0"]] == ["S1"]


def test_the_mobile_leaves_before_its_gateway_sets():
    # S1 sees a gateway until 300 s, S2 (up from 100 s) throughout: the mobile switches at
    # the forced decision of S1's path, as it would before S1's LOS; a clean handover
    windows = [Window("S1", 0, 900), Window("S2", 100, 900)]
    (seq, plan, served), = _plan({"T0": windows},
                                 {"T0": [((0.0, 300.0),), ALWAYS]}).values()
    assert [(windows[s.index].ap, s.switch_s) for s in seq] == [
        ("S1", None), ("S2", pytest.approx(300.0 - LEAD_S))]
    assert plan[0].feasible and plan[0].outage_s == 0
    # unlimited capacity and no path: it would stay on S1 to the end of the run
    old = select_least_load({"T0": windows}, {}, 600, TIMING, RTT_S, selection=PURE)
    assert [s.index for s in old["T0"]] == [0]


def test_no_gateway_is_a_last_resort_left_as_soon_as_a_path_is_usable():
    # only S1 is up at first and it sees no gateway: it serves (like an outage) until
    # S2, with a gateway, is usable (its address set up and acknowledged)
    windows = [Window("S1", 0, 900), Window("S2", 200, 900)]
    (seq, plan, _), = _plan({"T0": windows}, {"T0": [(), ALWAYS]}).values()
    assert [(windows[s.index].ap, s.switch_s) for s in seq] == [
        ("S1", None), ("S2", pytest.approx(200 + TIMING.setup_s + RTT_S))]
    assert plan[0].feasible


def test_a_path_that_comes_back_on_the_same_window_is_no_handover():
    # S1 loses its gateway from 200 s to 260 s and nothing else is up: it stays, one entry
    windows = [Window("S1", 0, 900)]
    (seq, plan, _), = _plan({"T0": windows},
                            {"T0": [((0.0, 200.0), (260.0, 900.0))]}).values()
    assert [s.index for s in seq] == [0] and plan == []


def test_offered_rates_against_capacity_as_counts_when_every_mobile_offers_the_same():
    # six terminals offering 2,500 Mb/s on S1 (5,000) and S2 (2,500): the places a count
    # of 2 and 1 gives, and the same sequences (a count is a rate when demands are equal)
    def cands(shift):
        return [Window("S1", 0 + shift, 500 + shift), Window("S2", 100, 700),
                Window("S3", 600, 2000)]
    candidates = {f"T{k}": cands(10 * k) for k in range(6)}
    counts = select_least_load(candidates, {"S1": 2, "S2": 1}, 2000, TIMING, RTT_S,
                               selection=PURE)
    rates = select_least_load(candidates, {"S1": 5000.0, "S2": 2500.0}, 2000, TIMING, RTT_S,
                              selection=PURE, demand=2500.0)
    assert rates == counts
    # and over the path, with a gateway everywhere, the same again
    spans = {m: [ALWAYS] * 3 for m in candidates}
    assert select_least_load(candidates, {"S1": 5000.0, "S2": 2500.0}, 2000, TIMING, RTT_S,
                             selection=PURE, demand=2500.0, path_spans=spans) == counts


def test_a_rate_above_half_the_capacity_takes_a_satellite_alone():
    # each offers 3,000 Mb/s to 5,000 Mb/s satellites: one per satellite; the third finds
    # no room while they stay and is never served
    windows = [Window("S1", 0, 900), Window("S2", 0, 900)]
    candidates = {f"T{k}": windows for k in range(3)}
    got = _plan(candidates, {m: [ALWAYS, ALWAYS] for m in candidates},
                {"S1": 5000.0, "S2": 5000.0}, demand=3000.0)
    assert {m: [windows[s.index].ap for s in seq] for m, (seq, _, _) in got.items()} == {
        "T0": ["S1"], "T1": ["S2"], "T2": []}


@pytest.fixture(scope="module")
def shared_least_load():
    from sigma_sn.policy_compare import compare_policies
    from sigma_sn.scenario import load_scenario

    sc = load_scenario(REPO / "scenarios" / "starlink-shared.toml")
    return sc, *compare_policies(sc, [Policy.LEAST_LOAD])


def test_starlink_shared_least_load_keeps_every_path_up_and_no_satellite_over_capacity(
        shared_least_load):
    """The shipped case: 24 terminals offering 2,500 Mb/s to 20,000 Mb/s satellites (no
    ap_capacity: the rates decide). Every terminal is served with a path at every routing
    step, so SIGMA-SN never interrupts, and no satellite is offered more than it carries
    (three satellites would do; far more are in view)."""
    from sigma_sn.path.serving import serving_windows

    sc, doc, extra = shared_least_load
    assert sc.selection.ap_capacity is None
    (row,) = [r for r in doc["table"] if r["protocol"] == "sigma"]
    assert row["interruption_mean"] == 0 and row["loss_rate"] == 0
    load = doc["load"]["least-load"]
    assert load["satellites_congested"] == 0 and load["peak_offered"] <= 1.0
    assert load["share_min"] == 1.0
    plan, _ = extra["runs"]["least-load"]
    paths = extra["paths"]
    for mobile, served in serving_windows(plan, paths).items():
        t_s = paths.step_s * np.arange(len(served))
        served, t_s = served[t_s < plan["duration_s"]], t_s[t_s < plan["duration_s"]]
        assert (served >= 0).all(), mobile
        assert not np.isnan(paths.delay_ms_at(served, t_s)).any(), mobile
