"""Strongest-signal ranks by the link budget's numbers (issue 16): with a ``[path]`` the
SNR the replay's loss follows (sigma_sn.path.linkbudget.snr_db), else the received power,
which is the link budget's own less the receive gain every access point shares."""

import dataclasses

import numpy as np
import pytest

from sigma_sn.path.linkbudget import LinkBudget, received_power_dbw, snr_db
from sigma_sn.planner.core import metric_of, select
from sigma_sn.planner.kinds import Policy, Selection
from sigma_sn.planner.plan import (plan_scenario, plan_windows, scenario_link_budget,
                                   scenario_windows)
from sigma_sn.planner.sky import Sky
from sigma_sn.scenario import load_scenario
from tests.conftest import REPO
from tests.test_planner_core import RTT_S, TIMING
from tests.test_planner_policies import ALT_KM, FIVE, PURE, Passes, aps, reference

#: decibels: both sides compute the same terms, in another order at most
SAME_DB = 1e-9


@pytest.fixture(scope="module")
def madrid():
    """The starlink-bent-pipe scenario (a ``[path]``, router mode), its windows, and the
    exact look angles of its satellites from Madrid on a 10 s grid over 20 min."""
    sc = dataclasses.replace(load_scenario(REPO / "scenarios" / "starlink-bent-pipe.toml"),
                             duration_s=1200.0)
    sw = scenario_windows(sc)
    w = sw.windows
    sky = Sky(w.epoch, w.duration_s, sw.satellites, sw.sites)
    t_s = np.concatenate([np.arange(a, b, 10.0) for a, b in zip(w.aos_s, w.los_s)])
    sat = np.concatenate([np.full(len(np.arange(a, b, 10.0)), s)
                          for s, a, b in zip(w.sat, w.aos_s, w.los_s)])
    elev_deg = np.empty(len(t_s))
    range_km = np.empty(len(t_s))
    for s in np.unique(sat):
        on = sat == s
        elev_deg[on], range_km[on] = sky.elev_range(int(s), 0, t_s[on])
    return sc, sw, elev_deg, range_km


def test_with_a_path_strongest_signal_ranks_by_the_snr_the_replay_uses(madrid):
    sc, _, elev_deg, range_km = madrid
    assert len(elev_deg) > 1000 and elev_deg.min() > 24.9   # sampled over the passes
    budget = scenario_link_budget(sc)
    # the replay on the path takes each link's loss from the default budget's SNR
    assert budget == LinkBudget()
    metric, margin = metric_of(Policy.STRONGEST_SIGNAL, sc.selection, budget)
    assert np.array_equal(metric(elev_deg, range_km), snr_db(range_km, elev_deg, budget))
    assert margin == sc.selection.signal_margin_db


@pytest.mark.parametrize("zenith_db", [0.0, 0.5, 3.0])
def test_without_a_budget_received_power_is_the_link_budgets_less_the_receive_gain(
        madrid, zenith_db):
    _, _, elev_deg, range_km = madrid
    sel = Selection(frequency_hz=12.2e9, eirp_dbw=40.0, atmospheric_zenith_db=zenith_db)
    metric, _ = metric_of(Policy.STRONGEST_SIGNAL, sel)
    same = LinkBudget(frequency_hz=sel.frequency_hz, eirp_dbw=sel.eirp_dbw,
                      zenith_loss_db=zenith_db)
    ours = metric(elev_deg, range_km)
    theirs = received_power_dbw(range_km, elev_deg, same) - same.rx_gain_dbi
    assert np.max(np.abs(ours - theirs)) < SAME_DB
    # and the SNR differs from it by a constant: the two rank satellites alike
    offset = snr_db(range_km, elev_deg, same) - ours
    assert np.ptp(offset) < SAME_DB


def test_scenarios_without_a_path_keep_received_power():
    sc = load_scenario(REPO / "scenarios" / "starlink-router.toml")
    assert sc.path_config is None and scenario_link_budget(sc) is None


def test_the_link_budget_changes_the_choice_where_the_atmosphere_differs():
    # a thick atmosphere (10 dB at zenith) costs the low passes far more than free space
    # does: ranked by SNR, strongest-signal follows the high ones longer
    budget = LinkBudget(zenith_loss_db=10.0)
    geo = Passes(FIVE, ALT_KM)
    by_power = select(Policy.STRONGEST_SIGNAL, FIVE, 1000, TIMING, RTT_S, geometry=geo,
                      selection=PURE)
    by_snr = select(Policy.STRONGEST_SIGNAL, FIVE, 1000, TIMING, RTT_S, geometry=geo,
                    selection=PURE, link_budget=budget)
    assert aps(FIVE, by_snr) != aps(FIVE, by_power)
    # each follows its own metric, step by step (the plain per-time loop)
    assert by_snr == reference(FIVE, 1000, geo, lambda e, r: snr_db(r, e, budget),
                               0.0, 0.0, 10.0)


def test_a_path_scenarios_strongest_signal_plan_is_planned_on_the_snr(madrid):
    sc, sw, _, _ = madrid
    # a selection whose received power ranks far from the SNR (20 dB at zenith): the
    # selection's numbers must not decide where the link budget's do
    sel = dataclasses.replace(sc.selection, atmospheric_zenith_db=20.0, min_dwell_s=0.0)
    sc = dataclasses.replace(sc, policy=Policy.STRONGEST_SIGNAL, selection=sel)
    plan = plan_scenario(sc, windows=sw)
    args = (sw.windows, list(sw.satellites), list(sw.sites), sc.mode, sc.policy, sc.timing)
    kw = dict(selection=sel, prefix=sc.address_prefix, min_elev_deg=sc.min_elev_deg)
    on_snr = plan_windows(*args, link_budget=LinkBudget(), **kw)
    on_power = plan_windows(*args, **kw)
    assert len(plan["handovers"]) > 5
    assert plan["handovers"] == on_snr["handovers"] != on_power["handovers"]


def test_the_plan_records_what_ranked_strongest_signal(madrid):
    # with a [path] the link budget's SNR decides: the plan names it and its budget, not
    # the selection's received-power terms, which decided nothing
    sc, sw, _, _ = madrid
    sc = dataclasses.replace(sc, policy=Policy.STRONGEST_SIGNAL)
    recorded = plan_scenario(sc, windows=sw)["inputs"]["parameters"]["selection"]
    assert recorded["ranked_by"] == "snr_db"
    assert recorded["link_budget"] == dataclasses.asdict(LinkBudget())
    assert not {"frequency_hz", "eirp_dbw", "atmospheric_zenith_db"} & set(recorded)
    assert recorded["signal_margin_db"] == sc.selection.signal_margin_db
    # without one the received power decides, from the selection's own terms
    args = (sw.windows, list(sw.satellites), list(sw.sites), sc.mode, sc.policy, sc.timing)
    kw = dict(selection=sc.selection, prefix=sc.address_prefix, min_elev_deg=sc.min_elev_deg)
    recorded = plan_windows(*args, **kw)["inputs"]["parameters"]["selection"]
    assert recorded["ranked_by"] == "received_power_dbw"
    assert recorded["eirp_dbw"] == sc.selection.eirp_dbw and "link_budget" not in recorded
    # the other policies' records keep their bytes
    other = plan_windows(*args[:4], Policy.MAX_ELEVATION, sc.timing, **kw)
    assert "ranked_by" not in other["inputs"]["parameters"]["selection"]
