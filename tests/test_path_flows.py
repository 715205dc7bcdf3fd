"""Shared capacity as flows: max-min fair rates, utilisation, queueing delay."""

from __future__ import annotations

import numpy as np

from conftest import START
from sigma_sn.elements import read_tle
from sigma_sn.path.config import PathMode
from sigma_sn.path.flows import (incidence, max_min_rates, path_flow_rates,
                                 queueing_delay_s)
from sigma_sn.path.ground import Correspondent
from sigma_sn.path.route import PathModel, compute_paths
from sigma_sn.sites import Site, read_sites_csv
from sigma_sn.visibility import find_windows
from test_path import GATEWAYS, SHELL1

TEN_PERCENT = 0.10


def test_textbook_max_min_example():
    # link 0 (10) carries flows 0 and 1, link 1 (4) flows 1 and 2: link 1 is the
    # bottleneck (2 each), flow 0 takes what link 0 has left (8)
    state = max_min_rates(incidence([0, 1, 1, 2], [0, 0, 1, 1], 3, 2), [10.0, 4.0])
    np.testing.assert_allclose(state.rate_bps, [8.0, 2.0, 2.0])
    np.testing.assert_allclose(state.utilisation, [1.0, 1.0])


def test_demands_below_the_fair_share_are_met_and_the_rest_shared():
    state = max_min_rates(incidence(range(5), [0] * 5, 5, 1), [10.0],
                          demand_bps=[1.0, 1.0, np.inf, np.inf, np.inf])
    np.testing.assert_allclose(state.rate_bps, [1.0, 1.0, 8 / 3, 8 / 3, 8 / 3])


def test_independent_steps_solve_in_one_call():
    # two steps, each its own link: 4 flows share 8 in one, 2 share 8 in the other
    state = max_min_rates(incidence(range(6), [0, 0, 0, 0, 1, 1], 6, 2), [8.0, 8.0])
    np.testing.assert_allclose(state.rate_bps, [2, 2, 2, 2, 4, 4])


def test_n_terminals_on_one_satellite_get_a_fair_share_each():
    # ten terminals around Madrid, all on the one satellite they all see, for 30 steps
    sats = read_tle(SHELL1)
    rng = np.random.default_rng(16)
    terminals = [Site(f"T{i}", 40.4 + d_lat, -3.7 + d_lon)
                 for i, (d_lat, d_lon) in enumerate(rng.uniform(-0.1, 0.1, (10, 2)))]
    tw = find_windows(sats, terminals, START, 300.0, min_elev_deg=25.0, workers=1)
    model = PathModel(sats, read_sites_csv(GATEWAYS), Correspondent("Madrid", 40.4, -3.7),
                      START, 300.0, mode=PathMode.BENT_PIPE, min_elev_deg=25.0, workers=1)
    paths = compute_paths(model, terminals, tw, workers=1)
    common = [s for s in np.unique(tw.sat) if np.sum(tw.sat == s) == len(terminals)]
    sat = common[0]
    windows = np.flatnonzero(tw.sat == sat)
    first = max(int(paths.first_step[w]) for w in windows)
    steps = np.arange(first, first + 30)
    window = np.repeat(windows, len(steps))
    step = np.tile(steps, len(windows))
    capacity = 1e9
    state, links = path_flow_rates(paths, window, step, sat_capacity_bps=capacity,
                                   gateway_capacity_bps=20e9)
    assert np.all(np.abs(state.rate_bps / (capacity / len(terminals)) - 1) <= TEN_PERCENT)
    user = links[:, 1] == 0
    np.testing.assert_allclose(state.utilisation[user], 1.0)


def test_queueing_delay_grows_with_load_up_to_a_full_buffer():
    cap = 10e6
    d = queueing_delay_s(np.array([0.0, 0.5, 0.9, 1.0, 3.0]), cap, packet_bytes=1250,
                         buffer_pkts=50)
    service = 1250 * 8 / cap
    np.testing.assert_allclose(d, [0.0, service, 9 * service, 50 * service, 50 * service])
