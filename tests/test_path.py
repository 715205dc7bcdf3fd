"""The path stage: gateways, fibre, +Grid, shortest paths over time."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import REPO, START
from sigma_sn.elements import read_tle
from sigma_sn.geometry import C_KM_S, subpoint_deg
from sigma_sn.path.config import Isl, PathMode
from sigma_sn.path.ground import (FIBRE_KM_S, Correspondent, Fibre, great_circle_km,
                                  lower_bound_rtt_ms)
from sigma_sn.path.grid import grid_of, plus_grid
from sigma_sn.path.route import PathModel, compute_paths, route_at, shortest_step_scipy
from sigma_sn.propagate import Epoch, propagate
from sigma_sn.sites import Site, itrs_km, read_sites_csv
from sigma_sn.visibility import find_windows
from sigma_sn.walker import walker

SHELL1 = REPO / "tle_data" / "starlink_shell1.tle"
GATEWAYS = REPO / "scenarios" / "sites" / "gateways_world.csv"
MASK_DEG = 25.0
DURATION_S = 600.0
RIO = Site("Rio de Janeiro", -22.9068, -43.1729)
MANILA = Site("Manila", 14.5995, 120.9842)
ST_PETERSBURG = Correspondent("St Petersburg", 59.9343, 30.3351)
ONE_MICROSECOND_MS = 1e-3


@pytest.fixture(scope="module")
def shell1():
    return read_tle(SHELL1)


@pytest.fixture(scope="module")
def long_haul(shell1):
    """Rio de Janeiro and Manila to a correspondent in St. Petersburg, both modes."""
    terminals = (RIO, MANILA)
    tw = find_windows(shell1, terminals, START, DURATION_S, min_elev_deg=MASK_DEG, workers=1)
    gateways = read_sites_csv(GATEWAYS)
    out = {}
    for mode in PathMode:
        model = PathModel(shell1, gateways, ST_PETERSBURG, START, DURATION_S, mode=mode,
                          min_elev_deg=MASK_DEG, workers=1)
        paths = compute_paths(model, terminals, tw, chunk_steps=256, workers=2)
        out[mode] = (model, paths)
    return terminals, tw, out


def best_rtt_ms(paths, site: int) -> np.ndarray:
    """The lowest RTT over the satellites terminal ``site`` sees, per routing step."""
    n = int(paths.windows.duration_s / paths.step_s) + 1
    best = np.full(n, np.inf)
    for w in np.flatnonzero(paths.windows.site == site):
        t, d, _, _ = paths.samples(w)
        k = np.round(t / paths.step_s).astype(int)
        best[k] = np.fmin(best[k], 2 * d)
    return best


def test_fibre_is_great_circle_at_two_thirds_c_plus_a_cost_per_router():
    fibre = Fibre(per_hop_ms=0.5, hop_km=1000.0)
    # 2,500 km: routers at the gateway, after 1,000 and after 2,000 km
    assert fibre.one_way_s(2500.0) == pytest.approx(2500.0 / (C_KM_S * 2 / 3) + 3 * 0.5e-3)
    assert FIBRE_KM_S == pytest.approx(199861.6386)
    # a quarter meridian on the mean sphere
    assert great_circle_km(0.0, 0.0, 90.0, 0.0) == pytest.approx(np.pi / 2 * 6371.0088)


def test_no_path_beats_the_great_circle_at_c(long_haul):
    terminals, _, out = long_haul
    for mode, (_, paths) in out.items():
        for j, site in enumerate(terminals):
            bound = lower_bound_rtt_ms(site.lat_deg, site.lon_deg, ST_PETERSBURG)
            best = best_rtt_ms(paths, j)
            assert np.isfinite(best).sum() > 500, (mode, site.name)
            assert best[np.isfinite(best)].min() >= bound, (mode, site.name)


def test_isl_beats_bent_pipe_on_a_long_haul_pair(long_haul):
    # Rio to St. Petersburg is ~11,000 km; a bent pipe lands at the Rio gateway and
    # crosses the Atlantic in fibre at 2/3 c, the ISL path stays in vacuum
    assert great_circle_km(RIO.lat_deg, RIO.lon_deg, ST_PETERSBURG.lat_deg,
                           ST_PETERSBURG.lon_deg) > 5000
    _, _, out = long_haul
    isl, bent = best_rtt_ms(out[PathMode.ISL][1], 0), best_rtt_ms(out[PathMode.BENT_PIPE][1], 0)
    both = np.isfinite(isl) & np.isfinite(bent)
    assert both.sum() > 500
    assert (isl[both] < bent[both]).all()
    assert np.median(bent[both] - isl[both]) > 10.0     # ms: not a rounding matter


def test_bent_pipe_goes_up_and_straight_down(long_haul):
    _, _, out = long_haul
    paths = out[PathMode.BENT_PIPE][1]
    reach = paths.gateway >= 0
    assert reach.any()
    assert (paths.hops[reach] == 2).all()
    assert np.isnan(paths.delay_ms[~reach]).all() and (paths.hops[~reach] == 0).all()


def _walk_down(pred, reached, n):
    """Along scipy's predecessors: links down to a start (1) and the satellite that
    lands, per satellite reached."""
    hops, lands = np.zeros(n, int), np.full(n, -1)
    for v in np.flatnonzero(reached):
        u, h = v, 1
        while pred[u] != n:
            u, h = pred[u], h + 1
        hops[v], lands[v] = h, u
    return hops, lands


def test_compiled_dijkstra_agrees_with_scipy(long_haul):
    # one chunk of 600 steps: a full Dijkstra, then 599 repairs of the tree
    model = long_haul[2][PathMode.ISL][0]
    pos = model.positions_km(np.arange(600))
    dist, hops, root = model.distances(0, 600, pos)
    start, start_root = model.downlink_start(0, 600, pos)
    weight = model.isl_weight_s(pos)
    n = len(model.satellites)
    for k in range(0, 600, 37):
        ref, pred = shortest_step_scipy(n, model.grid, weight[k], start[k])
        np.testing.assert_allclose(dist[k], ref, rtol=0, atol=1e-12)
        reached = np.isfinite(ref)
        expect_hops, lands = _walk_down(pred, reached, n)
        assert (hops[k][reached] == expect_hops[reached]).all()
        assert (root[k][reached] == start_root[k][lands[reached]]).all()


def test_walker_shell_gets_a_four_link_plus_grid(shell1):
    grid = grid_of(shell1, Epoch.at(START))
    assert grid.n_planes == 72
    assert np.bincount(grid.plane).tolist() == [22] * 72
    degree = np.bincount(np.concatenate([grid.a, grid.b]), minlength=len(shell1))
    assert (degree == 4).all()
    assert grid.cross.sum() == 72 * 22 and (~grid.cross).sum() == 72 * 22
    # in-plane links join consecutive slots, cross links adjacent planes (72 wraps to 1)
    same = ~grid.cross
    assert (grid.plane[grid.a[same]] == grid.plane[grid.b[same]]).all()
    step = (grid.plane[grid.b[grid.cross]] - grid.plane[grid.a[grid.cross]]) % 72
    assert set(step.tolist()) == {1, 71}


def test_real_shell_planes_survive_raan_scatter():
    # a real shell's RAANs scatter by a fraction of a degree within a plane
    rng = np.random.default_rng(16)
    planes, per = 12, 10
    raan = np.repeat(np.arange(planes) * 30.0, per) + rng.uniform(-0.4, 0.4, planes * per)
    u = np.tile(np.arange(per) * 36.0, planes) + rng.uniform(-2, 2, planes * per)
    clean = plus_grid(np.repeat(np.arange(planes) * 30.0, per) % 360,
                      np.tile(np.arange(per) * 36.0, planes))
    noisy = plus_grid(raan % 360, u % 360)
    assert noisy.n_planes == planes
    assert set(zip(noisy.a.tolist(), noisy.b.tolist())) == set(zip(clean.a.tolist(),
                                                                   clean.b.tolist()))


def test_star_pattern_leaves_the_seam_open():
    # Iridium-like: 6 planes over 180 deg of RAAN; plane 6 does not link back to plane 1
    raan = np.repeat(np.arange(6) * 30.0, 11)
    u = np.tile(np.arange(11) * 360 / 11, 6)
    grid = plus_grid(raan, u)
    assert grid.cross.sum() == 5 * 11


def test_shortest_path_on_a_crafted_ring_is_the_hand_computed_one():
    # six satellites 60 deg apart in one plane; a gateway under satellite 0 and a
    # terminal under satellite 2: the short way round is 2 -> 1 -> 0 (two chords),
    # the long way 2 -> 3 -> 4 -> 5 -> 0 four
    sats = walker(6, 1, 0, 550.0, 20.0, START, name_prefix="RING")
    epoch = Epoch.at(START)
    pos = propagate([s.satrec for s in sats], epoch, [0.0]).pos_itrs_km[:, 0]
    lat, lon = subpoint_deg(pos)
    gateway = Site("GW", float(lat[0]), float(lon[0]), min_elev_deg=10.0)
    terminal = Site("T", float(lat[2]), float(lon[2]))
    corr = Correspondent("C", float(lat[0]) + 1.0, float(lon[0]))
    fibre = Fibre(per_hop_ms=0.25, hop_km=1000.0)
    model = PathModel(sats, [gateway], corr, START, 60.0, mode=PathMode.ISL,
                      min_elev_deg=10.0, fibre=fibre, isl=Isl(max_range_km=8000.0), workers=1)
    tw = find_windows(sats, [terminal], START, 60.0, min_elev_deg=10.0, workers=1)
    paths = compute_paths(model, [terminal], tw)
    (w,) = np.flatnonzero(tw.sat == 2)
    gw_km, t_km = itrs_km([gateway])[0], itrs_km([terminal])[0]
    by_hand_km = (np.linalg.norm(pos[2] - t_km) + np.linalg.norm(pos[2] - pos[1])
                  + np.linalg.norm(pos[1] - pos[0]) + np.linalg.norm(pos[0] - gw_km))
    by_hand_ms = (by_hand_km / C_KM_S
                  + fibre.one_way_s(great_circle_km(gateway.lat_deg, gateway.lon_deg,
                                                    corr.lat_deg, corr.lon_deg))) * 1000.0
    _, delay_ms, hops, gw = paths.samples(w)
    assert paths.first_step[w] == 0
    assert delay_ms[0] == pytest.approx(by_hand_ms, abs=ONE_MICROSECOND_MS)
    assert hops[0] == 4 and gw[0] == 0
    assert route_at(model, 0, 2) == ([2, 1, 0], 0)


def test_delay_at_holds_the_last_step(long_haul):
    paths = long_haul[2][PathMode.ISL][1]
    w = int(np.argmax(paths.offset[1:] - paths.offset[:-1]))
    t, d, _, _ = paths.samples(w)
    got = paths.delay_ms_at(np.array([w, w, w]), np.array([t[3], t[3] + 0.999, t[-1] + 5.0]))
    assert got[0] == d[3] and got[1] == d[3] and np.isnan(got[2])


def test_positions_between_grid_samples_follow_sgp4(long_haul):
    model = long_haul[2][PathMode.ISL][0]
    steps = np.array([1, 59, 61, 119, 333, 599])
    exact = propagate([s.satrec for s in model.satellites], model.epoch, steps * model.step_s)
    got = model.positions_km(steps)
    err_km = np.linalg.norm(got - exact.pos_itrs_km.transpose(1, 0, 2), axis=-1)
    assert err_km.max() < 0.010


def test_figures_draw_the_rtt_the_route_and_the_load(long_haul):
    from sigma_sn.path.figures import path_rtt_plot, route_map, satellite_load_plot
    from sigma_sn.path.flows import path_flow_rates
    from sigma_sn.path.route import route_points

    model, paths = long_haul[2][PathMode.ISL]
    fig = path_rtt_plot(paths, 0, handovers_t_s=[100.0, 250.0])
    rio = np.flatnonzero(paths.windows.site == 0)
    assert len(fig.data) == len(rio) + 1 and len(fig.layout.shapes) == 2
    best = np.asarray(fig.data[-1].y, float)
    expect = best_rtt_ms(paths, 0)
    np.testing.assert_allclose(best, np.where(np.isinf(expect), np.nan, expect), rtol=1e-6,
                               equal_nan=True)
    w = int(rio[0])
    route = route_points(model, int(paths.first_step[w]), int(paths.windows.sat[w]))
    _, _, hops, gw = paths.samples(w)
    assert len(route.sat_names) == hops[0] - 1          # uplink and downlink not ISLs
    assert route.gateway == paths.gateway_names[gw[0]]
    fig = route_map(route, (RIO.lat_deg, RIO.lon_deg))
    assert len(fig.data[1].lat) == len(route.sat_names)
    k = int(paths.first_step[w])
    state, links = path_flow_rates(paths, rio[paths.first_step[rio] == k],
                                   np.full(np.sum(paths.first_step[rio] == k), k), 1e9, 1e10)
    fig = satellite_load_plot(links, state, k, [s.name for s in model.satellites])
    assert len(fig.data[0].x) == np.sum((links[:, 0] == k) & (links[:, 1] == 0))


def test_half_slot_phasing_still_gives_every_satellite_four_links():
    # Hypatia's shells shift odd planes by half a slot: both neighbours in the next plane
    # are equally near, and the pairing must stay one to one
    planes, per = 34, 34
    raan = np.repeat(np.arange(planes) * 360.0 / planes, per)
    u = (np.tile(np.arange(per) * 360.0 / per, planes)
         + np.repeat(np.arange(planes) % 2, per) * 180.0 / per) % 360.0
    grid = plus_grid(raan, u)
    assert (np.bincount(np.concatenate([grid.a, grid.b])) == 4).all()
    # and zigzag, slot k to slot k (Hypatia's +Grid), rather than lean half a slot each
    # plane, which would add in-plane hops to every path across the planes
    c = grid.cross
    assert ((grid.a[c] % per) == (grid.b[c] % per)).all()


def test_a_pass_in_progress_at_the_end_covers_the_last_step(long_haul):
    paths = long_haul[2][PathMode.ISL][1]
    assert np.isfinite(best_rtt_ms(paths, 0)[-1]) and np.isfinite(best_rtt_ms(paths, 1)[-1])


def test_bucket_and_heap_dijkstra_agree_with_scipy_on_random_graphs():
    from sigma_sn.path.grid import Grid
    from sigma_sn.path.kernel import dijkstra_steps

    rng = np.random.default_rng(1616)
    n, n_edge, n_step = 60, 150, 6
    a = rng.integers(0, n, 3 * n_edge)
    b = (a + rng.integers(1, n, 3 * n_edge)) % n
    # one edge per pair (scipy would add up the weights of a pair given twice)
    _, first = np.unique(np.minimum(a, b) * n + np.maximum(a, b), return_index=True)
    keep = np.sort(first)[:n_edge]
    a, b = a[keep], b[keep]
    grid = Grid(np.zeros(n, np.int64), np.zeros(n, np.int64), a, b, np.zeros(n_edge, bool))
    weight = rng.uniform(1e-3, 2e-2, (n_step, n_edge))
    # step 0 is a full Dijkstra, the others repair the tree of the step before
    weight[0, 0] = 1e-12                      # nearly zero long: too many buckets, heap
    weight[1, :10] = np.inf                   # links down
    start = np.where(rng.random((n_step, n)) < 0.1, rng.uniform(0.01, 0.08, (n_step, n)),
                     np.inf)
    start[3] = np.inf                         # nothing sees a gateway
    start[5, :] = np.where(np.isfinite(start[4]), start[4] * 3, 0.05)   # starts move
    ends = np.concatenate([a, b])
    order = np.argsort(ends, kind="stable")
    adj_nbr = np.concatenate([b, a])[order]
    adj_edge = np.tile(np.arange(n_edge), 2)[order]
    adj_ptr = np.searchsorted(ends[order], np.arange(n + 1))
    dist = start.copy()
    hops = np.where(np.isfinite(start), 1, 0).astype(np.int16)
    root = np.where(np.isfinite(start), np.arange(n)[None, :] % 7, -1).astype(np.int16)
    dijkstra_steps(adj_ptr, adj_nbr, adj_edge, weight, dist, hops, root)
    for k in range(n_step):
        ref, pred = shortest_step_scipy(n, grid, weight[k], start[k])
        np.testing.assert_allclose(dist[k], ref, rtol=0, atol=1e-15)
        # hops: one more than the predecessor's, down to a start (1)
        reached = np.isfinite(ref)
        assert (hops[k][reached] == _walk_down(pred, reached, n)[0][reached]).all()


def test_forked_workers_give_the_same_paths_as_one_process(long_haul):
    terminals, tw, out = long_haul
    model, forked = out[PathMode.ISL]
    alone = compute_paths(model, terminals, tw, chunk_steps=256, workers=1)
    for name in ("delay_ms", "hops", "gateway", "first_step", "offset"):
        np.testing.assert_array_equal(getattr(alone, name), getattr(forked, name))


def test_chunk_size_and_reused_buffers_change_no_bit(long_haul):
    # each process reuses its chunk buffers: chunks of 97 steps (the last one short, in
    # the same buffers) must give bit for bit what the fixture's forked 256s gave
    terminals, tw, out = long_haul
    model, forked = out[PathMode.ISL]
    small = compute_paths(model, terminals, tw, chunk_steps=97, workers=1)
    for name in ("delay_ms", "hops", "gateway", "first_step", "offset"):
        assert getattr(small, name).tobytes() == getattr(forked, name).tobytes(), name


def test_link_delays_made_inside_the_loop_match_the_full_delay_array(long_haul):
    from sigma_sn.path.kernel import dijkstra_steps

    model = long_haul[2][PathMode.ISL][0]
    pos = model.positions_km(np.arange(300))
    dist, hops, root = model.distances(0, 300, pos)
    ref_dist, ref_root = model.downlink_start(0, 300, pos)
    ref_hops = (ref_root >= 0).astype(np.int16)
    dijkstra_steps(model.adj_ptr, model.adj_nbr, model.adj_edge, model.isl_weight_s(pos),
                   ref_dist, ref_hops, ref_root)
    assert dist.tobytes() == ref_dist.tobytes()
    assert hops.tobytes() == ref_hops.tobytes()
    assert root.tobytes() == ref_root.tobytes()
