"""Planning with the path (issue 21): min-path-delay and the joint optimum of handovers
and delay, on crafted and real +Grid constellations."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest

from conftest import REPO, START
from sigma_sn.elements import read_tle
from sigma_sn.errors import InputError
from sigma_sn.geometry import C_KM_S, subpoint_deg
from sigma_sn.path.config import Isl, PathMode
from sigma_sn.path.ground import Correspondent, Fibre, great_circle_km
from sigma_sn.path.route import PathModel, compute_paths
from sigma_sn.planner.core import Timing, changes, select
from sigma_sn.planner.kinds import Mode, Policy, Selection, Window
from sigma_sn.planner.pathpolicy import grid_layout
from sigma_sn.planner.plan import plan_windows
from sigma_sn.planner.sky import LinkLook, Sky, rtt_bound_s
from sigma_sn.propagate import Epoch, propagate
from sigma_sn.scenario import load_scenario
from sigma_sn.sites import Site, itrs_km, read_sites_csv
from sigma_sn.visibility import find_windows
from sigma_sn.walker import walker

TIMING = Timing()
PURE = Selection(min_dwell_s=0.0, elev_margin_deg=0.0, delay_margin_ms=0.0)
ONE_MICROSECOND_MS = 1e-3
SHELL1 = REPO / "tle_data" / "starlink_shell1.tle"
GATEWAYS = REPO / "scenarios" / "sites" / "gateways_world.csv"
LISBON = Site("Lisbon", 38.7223, -9.1393)
NEW_YORK = Correspondent("New York", 40.95, -74.55)


def test_crafted_ring_picks_the_satellite_with_the_shorter_route():
    # twelve satellites 30 deg apart in one plane, a gateway under satellite 0 and a
    # terminal 60 % of the way from satellite 2 to satellite 3: satellite 3 is higher,
    # but its route down is one link longer (3 -> 2 -> 1 -> 0) than satellite 2's
    sats = walker(12, 1, 0, 550.0, 20.0, START, name_prefix="RING")
    pos = propagate([s.satrec for s in sats], Epoch.at(START), [0.0]).pos_itrs_km[:, 0]
    lat, lon = subpoint_deg(pos)
    gateway = Site("GW", float(lat[0]), float(lon[0]), min_elev_deg=10.0)
    t_lat, t_lon = subpoint_deg((0.4 * pos[2] + 0.6 * pos[3])[None])
    terminal = Site("T", float(t_lat[0]), float(t_lon[0]))
    corr = Correspondent("C", float(lat[0]) + 1.0, float(lon[0]))
    fibre = Fibre(per_hop_ms=0.25, hop_km=1000.0)
    model = PathModel(sats, [gateway], corr, START, 60.0, mode=PathMode.ISL,
                      min_elev_deg=0.0, fibre=fibre, isl=Isl(max_range_km=8000.0), workers=1)
    tw = find_windows(sats, [terminal], START, 60.0, min_elev_deg=0.0, workers=1)
    assert sorted(tw.sat.tolist()) == [2, 3]
    paths = compute_paths(model, [terminal], tw, workers=1)
    t_km, gw_km = itrs_km([terminal])[0], itrs_km([gateway])[0]
    down_ms = (np.linalg.norm(pos[1] - pos[0]) + np.linalg.norm(pos[0] - gw_km)) / C_KM_S * 1e3
    fibre_ms = fibre.one_way_s(great_circle_km(gateway.lat_deg, gateway.lon_deg,
                                               corr.lat_deg, corr.lon_deg)) * 1e3
    via2_ms = (np.linalg.norm(pos[2] - t_km) + np.linalg.norm(pos[2] - pos[1])) / C_KM_S * 1e3
    via3_ms = (np.linalg.norm(pos[3] - t_km) + np.linalg.norm(pos[3] - pos[2])
               + np.linalg.norm(pos[2] - pos[1])) / C_KM_S * 1e3
    assert via2_ms < via3_ms
    plans = {p: plan_windows(tw, sats, [terminal], Mode.ROUTER, p, selection=PURE,
                             paths=paths)
             for p in (Policy.MIN_PATH_DELAY, Policy.MIN_HANDOVERS_DELAY)}
    plans[Policy.MAX_ELEVATION] = plan_windows(tw, sats, [terminal], Mode.ROUTER,
                                               Policy.MAX_ELEVATION, selection=PURE)
    first = {p: plan["mobiles"][0]["serving"][0]["ap"] for p, plan in plans.items()}
    assert first == {Policy.MIN_PATH_DELAY: sats[2].name,
                     Policy.MIN_HANDOVERS_DELAY: sats[2].name,
                     Policy.MAX_ELEVATION: sats[3].name}
    (w2,) = np.flatnonzero(tw.sat == 2)
    assert paths.delay_ms_at(w2, 0.0) == pytest.approx(via2_ms + down_ms + fibre_ms,
                                                       abs=ONE_MICROSECOND_MS)
    assert plans[Policy.MIN_PATH_DELAY]["inputs"]["parameters"]["path"]["mode"] == "isl"


@pytest.fixture(scope="module")
def lisbon():
    """Lisbon to a correspondent at New York over Starlink shell 1 with +Grid ISLs, 30 min:
    the terminal's windows as Windows, their path delays and look angles."""
    sats = read_tle(SHELL1)
    duration_s = 1800.0
    tw = find_windows(sats, [LISBON], START, duration_s, min_elev_deg=25.0, workers=1)
    model = PathModel(sats, read_sites_csv(GATEWAYS), NEW_YORK, START, duration_s,
                      mode=PathMode.ISL, min_elev_deg=25.0, workers=1)
    paths = compute_paths(model, [LISBON], tw, workers=1)
    windows = [Window(sats[s].name, float(a), float(b), float(e))
               for s, a, b, e in zip(tw.sat, tw.aos_s, tw.los_s, tw.max_elev_deg)]
    sky = Sky(tw.epoch, duration_s, sats, [LISBON])
    look = LinkLook(sky, Mode.ROUTER, 0, {s.name: k for k, s in enumerate(sats)})
    bound_s = rtt_bound_s(sats, [LISBON], 25.0, TIMING)
    return windows, paths, look, bound_s, duration_s


def _serving_at(windows, seq, t_s):
    """The window served at ``t_s`` by a serving sequence: the last entry started by
    then (an entry without a switch time starts at its window's AOS)."""
    starts = [windows[s.index].aos_s if s.switch_s is None else s.switch_s for s in seq]
    k = np.searchsorted(starts, t_s, side="right") - 1
    return np.array([seq[i].index if i >= 0 else -1 for i in k])


def _grid(windows, paths, bound_s, duration_s, step_s):
    lay = grid_layout([w.aos_s for w in windows], [w.los_s for w in windows], duration_s,
                      step_s, TIMING.guard_s + bound_s)
    delay = paths.delay_ms_at(lay.win, lay.g * step_s)
    return lay, delay


def _plan(policy, lisbon, selection):
    windows, paths, look, bound_s, duration_s = lisbon
    return select(policy, windows, duration_s, TIMING, bound_s, geometry=look,
                  selection=selection, path_delay=paths.delay_ms_at)


def test_without_hysteresis_the_delay_is_the_least_in_view_and_never_above_max_elevation(
        lisbon):
    windows, paths, _, bound_s, duration_s = lisbon
    step_s = PURE.decision_step_s
    lay, delay = _grid(windows, paths, bound_s, duration_s, step_s)
    best = np.full(lay.g_last + 1, np.inf)
    np.minimum.at(best, lay.g, delay)
    t = np.arange(lay.g_last + 1) * step_s
    mine = _serving_at(windows, _plan(Policy.MIN_PATH_DELAY, lisbon, PURE), t)
    theirs = _serving_at(windows, _plan(Policy.MAX_ELEVATION, lisbon, PURE), t)
    mine_ms = paths.delay_ms_at(mine, t)
    theirs_ms = paths.delay_ms_at(theirs, t)
    candidate = np.zeros((len(windows), lay.g_last + 1), bool)
    candidate[lay.win, lay.g] = True
    idx = np.arange(len(t))
    up = np.isfinite(best)   # instants with a window that can serve (not the plan's end)
    assert up.mean() > 0.95
    assert candidate[mine, idx][up].all()   # every decision instant: on a candidate
    np.testing.assert_array_equal(mine_ms[up], best[up])
    compared = candidate[theirs, idx] & up
    assert compared.mean() > 0.9
    assert (mine_ms[compared] <= theirs_ms[compared]).all()
    assert (mine_ms[compared] < theirs_ms[compared]).any()  # the choice matters here


def test_with_hysteresis_no_switch_gains_less_than_the_margin_or_comes_before_the_dwell(
        lisbon):
    windows, paths, _, bound_s, duration_s = lisbon
    sel = dataclasses.replace(PURE, delay_margin_ms=3.0, min_dwell_s=60.0)
    seq = _plan(Policy.MIN_PATH_DELAY, lisbon, sel)
    step_s = sel.decision_step_s
    lay, _ = _grid(windows, paths, bound_s, duration_s, step_s)
    voluntary = 0
    for k in range(1, len(seq)):
        old, new, t = seq[k - 1].index, seq[k].index, seq[k].switch_s
        if t is None:
            continue
        g = round(t / step_s)
        if g > lay.g_hi[old]:
            continue  # the forced decision: the old window is no candidate any more
        voluntary += 1
        gain_ms = paths.delay_ms_at(old, t) - paths.delay_ms_at(new, t)
        assert gain_ms > sel.delay_margin_ms
        since = seq[k - 1].switch_s if seq[k - 1].switch_s is not None else \
            max(windows[old].aos_s, 0.0)
        assert t - since >= sel.min_dwell_s
    assert voluntary >= 1
    pure = _plan(Policy.MIN_PATH_DELAY, lisbon, PURE)
    assert len(changes(windows, seq)) < len(changes(windows, pure))


# ---------------------------------------------------------------- the joint optimum
# four windows of three access points over 60 s at a 10 s grid, with delays made up
SMALL = [Window("A", 0, 32, 40), Window("B", 5, 61, 40), Window("C", 18, 47, 40),
         Window("A", 45, 80, 40)]
SMALL_DELAY_MS = {0: [30, 31, 39, 50], 1: [0, 35, 33, 30, 36, 20, 20],
                  2: [0, 0, 29, 20, 40], 3: [0, 0, 0, 0, 0, 25, 26, 27]}
SMALL_RTT_S = 0.04


def _small_delay(win, t_s):
    return np.array([SMALL_DELAY_MS[w][round(t / 10)] for w, t in zip(win.tolist(),
                                                                      t_s.tolist())], float)


def _cost(choice, weight):
    """Handovers (a change of access point) and the delay integral of one choice per grid
    index."""
    h = sum(SMALL[a].ap != SMALL[b].ap for a, b in zip(choice, choice[1:]))
    d = sum(SMALL_DELAY_MS[w][g] * 10.0 for g, w in enumerate(choice))
    return (h, d) if weight == math.inf else h * weight + d


def _choice(seq, g_last):
    return _serving_at(SMALL, seq, np.arange(g_last + 1) * 10.0).tolist()


@pytest.mark.parametrize("weight", [0.0, 25.0, 90.0, 400.0, math.inf])
def test_joint_optimum_matches_brute_force(weight):
    lay = grid_layout([w.aos_s for w in SMALL], [w.los_s for w in SMALL], 70.0, 10.0,
                      TIMING.guard_s + SMALL_RTT_S)
    per_g = [sorted(lay.win[lay.g == g].tolist()) for g in range(lay.g_last + 1)]
    assert all(per_g)  # every index has a candidate: no gap to reason about
    best = min(_cost(c, weight) for c in itertools.product(*per_g))
    sel = dataclasses.replace(PURE, handover_weight_ms_s=weight)
    seq = select(Policy.MIN_HANDOVERS_DELAY, SMALL, 70.0, TIMING, SMALL_RTT_S,
                 selection=sel, path_delay=_small_delay)
    choice = _choice(seq, lay.g_last)
    assert all(w in per_g[g] for g, w in enumerate(choice))
    assert _cost(choice, weight) == best


def test_joint_optimum_at_its_limits_gives_the_plain_policies():
    zero = select(Policy.MIN_HANDOVERS_DELAY, SMALL, 70.0, TIMING, SMALL_RTT_S,
                  selection=dataclasses.replace(PURE, handover_weight_ms_s=0.0),
                  path_delay=_small_delay)
    plain = select(Policy.MIN_PATH_DELAY, SMALL, 70.0, TIMING, SMALL_RTT_S, selection=PURE,
                   path_delay=_small_delay)
    assert _choice(zero, 7) == _choice(plain, 7)
    never = select(Policy.MIN_HANDOVERS_DELAY, SMALL, 70.0, TIMING, SMALL_RTT_S,
                   selection=dataclasses.replace(PURE, handover_weight_ms_s=math.inf),
                   path_delay=_small_delay)
    fewest = select(Policy.MIN_HANDOVERS, SMALL, 70.0, TIMING, SMALL_RTT_S)
    assert len(changes(SMALL, never)) == len(changes(SMALL, fewest))
    assert len(changes(SMALL, zero)) > len(changes(SMALL, never))


def test_path_policy_without_a_path_section_names_the_key(tmp_path):
    toml = (REPO / "scenarios" / "starlink-router.toml").read_text()
    toml = toml.replace('policy = "max-elevation"', 'policy = "min-path-delay"')
    toml = toml.replace('"../tle_data/', f'"{(REPO / "tle_data").as_posix()}/')
    p = tmp_path / "x.toml"
    p.write_text(toml)
    with pytest.raises(InputError) as err:
        load_scenario(p)
    assert err.value.key == "path" and "[path]" in str(err.value)


def test_other_policies_record_no_path_parameters(lisbon):
    windows, paths, _, _, _ = lisbon
    tw = paths.windows
    sats = read_tle(SHELL1)
    plan = plan_windows(tw, sats, [LISBON], Mode.ROUTER, Policy.MIN_HANDOVERS)
    assert "delay_margin_ms" not in plan["inputs"]["parameters"]["selection"]
    assert "path" not in plan["inputs"]["parameters"]


def test_an_infinite_handover_weight_is_read_from_the_scenario(tmp_path):
    toml = (REPO / "scenarios" / "starlink-router.toml").read_text()
    toml = toml.replace('"../tle_data/', f'"{(REPO / "tle_data").as_posix()}/')
    p = tmp_path / "x.toml"
    p.write_text(toml + "handover_weight_ms_s = inf\n")
    assert load_scenario(p).selection.handover_weight_ms_s == math.inf
    p.write_text(toml + "handover_weight_ms_s = -1\n")
    with pytest.raises(InputError) as err:
        load_scenario(p)
    assert err.value.key == "selection.handover_weight_ms_s"
