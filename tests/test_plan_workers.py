"""Planning speed-ups that must not change a plan: the decision-grid look angles equal
the per-link ones bit for bit, and forked workers give byte-identical plans (selection,
events and rows)."""

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from sigma_sn.elements import load_elements
from sigma_sn.planner.kinds import Mode, Policy
from sigma_sn.planner.plan import dumps, plan_windows
from sigma_sn.planner import sky as sky_module
from sigma_sn.planner.sky import Sky
from sigma_sn.sites import Site
from sigma_sn.visibility import find_windows

REPO = Path(__file__).resolve().parents[1]
START = "2026-08-22T00:00:00Z"


def _terminals(n):
    rng = np.random.default_rng(7)
    return [Site(f"T{i:02d}", float(lat), float(lon))
            for i, (lat, lon) in enumerate(zip(rng.uniform(-50, 50, n),
                                               rng.uniform(-180, 180, n)))]


def test_grid_look_angles_equal_the_per_link_ones_bit_for_bit(monkeypatch):
    """With SGP4 at every sample (no interpolation), the decision grid's look angles are
    the per-link ones, bit for bit; so is Sky.exact_look, which the walk asks where the
    interpolated ones leave a decision open."""
    monkeypatch.setattr(sky_module, "HERMITE_NODE_S", None)
    sats = load_elements(REPO / "tle_data" / "starlink_shell1.tle").satellites[:40]
    sites = _terminals(5)
    w = find_windows(sats, sites, START, 1800.0, min_elev_deg=25.0, workers=1)
    sky = Sky(w.epoch, w.duration_s, sats, sites)
    # windows as the planner lays them out, plus one before the start and one too short
    # to be a candidate (no samples)
    aos = np.concatenate((w.aos_s, [-30.0, 101.0]))
    los = np.concatenate((w.los_s, [95.0, 103.0]))
    sat = np.concatenate((w.sat, [0, 1]))
    site = np.concatenate((w.site, [2, 3]))
    look = sky.grid_look(sat, site, aos, los, 10.0, 2.5)
    assert len(look.g) > 200
    for j in range(len(aos)):
        g = np.arange(look.g_lo[j], look.g_hi[j] + 1)
        assert np.all(g * 10.0 >= np.maximum(aos[j], 0.0))
        assert np.all(g * 10.0 < los[j] - 2.5) and np.all(g <= sky.g_last(10.0))
        k = look.off[j] + np.arange(len(g))
        assert np.all(look.win[k] == j) and np.all(look.g[k] == g)
        elev, rng_km = sky.elev_range(int(sat[j]), int(site[j]), g * 10.0)
        assert np.array_equal(elev, look.elev_deg[k]) and np.array_equal(rng_km,
                                                                         look.range_km[k])
    assert not look.pos_err_km.any()
    some = np.arange(0, len(look.g), 7)
    elev, rng_km = sky.exact_look(sat[look.win[some]], site[look.win[some]],
                                  look.g[some] * 10.0)
    assert np.array_equal(elev, look.elev_deg[some])
    assert np.array_equal(rng_km, look.range_km[some])
    assert look.g_hi[-1] < look.g_lo[-1]
    assert look.g_lo[-2] == 0


def test_interpolated_grid_is_within_its_bound_of_sgp4(monkeypatch):
    """The decision grid from SGP4 every 60 s and cubic Hermite between: every 10 s
    sample of a day of shell 1 within the bound the walk trusts (and within 1 m), the
    nodes SGP4's own bits."""
    sats = load_elements(REPO / "tle_data" / "starlink_shell1.tle").satellites[::8]
    sites = _terminals(1)
    epoch = find_windows(sats[:1], sites, START, 60.0, workers=1).epoch
    grid, err_km = Sky(epoch, 86400.0, sats, sites).grid_for(range(len(sats)), 10.0)
    monkeypatch.setattr(sky_module, "HERMITE_NODE_S", None)
    exact, exact_err_km = Sky(epoch, 86400.0, sats, sites).grid_for(range(len(sats)), 10.0)
    assert not exact_err_km.any() and grid.shape == exact.shape == (len(sats), 3, 8641)
    off_km = np.linalg.norm(grid - exact, axis=1).max(axis=1)
    assert np.all(off_km < err_km) and err_km.max() < 1e-3
    assert off_km.max() > 0.25 * err_km.max()    # the bound is not loose by orders
    assert np.array_equal(grid[:, :, ::6], exact[:, :, ::6])
    # an eccentric or deep-space orbit is not interpolated: SGP4 at every sample
    leo = sats[0].satrec
    for ecco, method in ((0.02, "n"), (0.001, "d")):
        orbit = SimpleNamespace(ecco=ecco, method=method, no_kozai=leo.no_kozai)
        assert sky_module.hermite_error_km(orbit, 60.0) == math.inf


def _plans(sats, sites, w, policies, **kw):
    return [dumps(plan_windows(w, sats, sites, Mode.ROUTER, p, min_elev_deg=25.0, **kw))
            for p in policies]


@pytest.mark.parametrize("node_s", [60.0, 600.0])
def test_interpolated_grid_gives_the_exact_plans(monkeypatch, node_s):
    """Plans on the interpolated grid are the plans on SGP4 at every sample, byte for
    byte: where a decision lies within the interpolation's error, the walk takes SGP4's
    own look angles there. Nodes 600 s apart (errors of kilometres) make that happen
    often; it must still give the same plans."""
    from sigma_sn.path.linkbudget import LinkBudget

    sats = load_elements(REPO / "tle_data" / "starlink_shell1.tle").satellites
    sites = _terminals(16)
    w = find_windows(sats, sites, START, 3600.0, min_elev_deg=25.0, workers=1)
    policies = (Policy.MAX_ELEVATION, Policy.STRONGEST_SIGNAL)
    asked = []
    exact_look = Sky.exact_look
    monkeypatch.setattr(Sky, "exact_look",
                        lambda self, *a: asked.append(len(a[2])) or exact_look(self, *a))
    monkeypatch.setattr(sky_module, "HERMITE_NODE_S", node_s)
    fast = _plans(sats, sites, w, policies) + _plans(sats, sites, w, policies[1:],
                                                     link_budget=LinkBudget())
    if node_s > 60.0:
        assert sum(asked) > 100
    monkeypatch.setattr(sky_module, "HERMITE_NODE_S", None)
    exact = _plans(sats, sites, w, policies) + _plans(sats, sites, w, policies[1:],
                                                      link_budget=LinkBudget())
    assert fast == exact
    assert all('"handovers": [\n  {' in p for p in exact)


def test_workers_give_byte_identical_plans():
    sats = load_elements(REPO / "tle_data" / "starlink_shell1.tle").satellites
    # listed out of name order: workers plan groups in name order, interface ids follow
    # the list
    sites = _terminals(24)[::-1]
    w = find_windows(sats, sites, START, 3600.0, min_elev_deg=25.0, workers=1)
    for policy in (Policy.MAX_ELEVATION, Policy.STRONGEST_SIGNAL, Policy.MIN_HANDOVERS,
                   Policy.LONGEST_VISIBILITY, Policy.LEAST_LOAD):
        one = dumps(plan_windows(w, sats, sites, Mode.ROUTER, policy, min_elev_deg=25.0))
        two = dumps(plan_windows(w, sats, sites, Mode.ROUTER, policy, min_elev_deg=25.0,
                                 workers=2))
        assert one == two, policy
        assert '"handovers": [\n  {' in one   # a plan with handovers, not an empty one


def test_workers_give_byte_identical_host_mode_plans():
    """Host mode turns the pairs around (the mobile is a satellite, sites are access
    points): the decision grid, its samples and the round trips must follow."""
    sats = load_elements(REPO / "tle_data" / "starlink_shell1.tle").satellites[:60]
    stations = [Site(s.name, s.lat_deg, s.lon_deg, capacity=2) for s in _terminals(12)]
    w = find_windows(sats, stations, START, 3600.0, min_elev_deg=25.0, workers=1)
    for policy in (Policy.MAX_ELEVATION, Policy.MIN_HANDOVERS, Policy.LEAST_LOAD):
        one = dumps(plan_windows(w, sats, stations, Mode.HOST, policy, min_elev_deg=25.0))
        two = dumps(plan_windows(w, sats, stations, Mode.HOST, policy, min_elev_deg=25.0,
                                 workers=2))
        assert one == two, policy
        assert '"handovers": [\n  {' in one


def test_kernels_loaded_before_the_fork_are_the_ones_the_groups_call():
    """groups.load_kernels loads, in the parent, the overloads the workers then call: a
    group planned here after it adds no overload (else each worker would load or compile
    its own again)."""
    from sigma_sn.planner import events, groups, policies, sky

    sats = load_elements(REPO / "tle_data" / "starlink_shell1.tle").satellites[:60]
    sites = _terminals(4)
    w = find_windows(sats, sites, START, 1800.0, min_elev_deg=25.0, workers=1)
    kernels = (events._transitions, groups._serving, sky._grid_look,
               policies._hysteresis_walk, policies._longest_visibility,
               policies._min_handovers_dp)
    for policy in (Policy.MAX_ELEVATION, Policy.STRONGEST_SIGNAL,
                   Policy.LONGEST_VISIBILITY, Policy.MIN_HANDOVERS, Policy.LEAST_LOAD):
        groups.load_kernels(policy)
        loaded = [set(k.signatures) for k in kernels]
        assert all(loaded[:2])
        plan = plan_windows(w, sats, sites, Mode.ROUTER, policy, min_elev_deg=25.0,
                            workers=1)
        assert plan["handovers"]
        assert [set(k.signatures) for k in kernels] == loaded
