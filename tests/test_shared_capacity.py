"""Shared capacity in two layers (DESIGN.md, "Shared capacity at scale"): ten mobiles on
one satellite, every packet through one FIFO, against one mobile's packets over the
capacity that the other nine, as max–min flows, leave it (LinkGeometry.share)."""

from __future__ import annotations

import numpy as np
import pytest

from sigma_sn.path.flows import incidence, max_min_rates
from sigma_sn.sim.links import Link, LinkGeometry
from sigma_sn.sim.model import DATA_HEADER_BYTES

CAPACITY_BPS = 20e6
QUEUE_PKTS = 200
SIZE_BYTES = 1000 + DATA_HEADER_BYTES
PACKET_TIME_S = SIZE_BYTES * 8.0 / CAPACITY_BPS
DURATION_S = 30.0
N_MOBILES = 10


def _send_times(pps: float, seed: int = 1) -> np.ndarray:
    """Mobile 0 sends CBR (the measured association's traffic); the other nine, the load
    of many users, Poisson at the same mean rate. ``(N_MOBILES, n)`` send times."""
    rng = np.random.default_rng(seed)
    n = int(DURATION_S * pps)
    t = np.cumsum(rng.exponential(1.0 / pps, (N_MOBILES, n)), axis=1)
    t[0] = np.arange(n) / pps + rng.uniform(0.0, 1.0 / pps)
    return t


def _link(share=None) -> Link:
    geom = LinkGeometry("sat", np.array([0.0, 1e6]), np.zeros(2), np.full(2, 45.0),
                        ((0.0, 1e6),), share=None if share is None else np.full(2, share))
    return Link(geom, capacity_bps=CAPACITY_BPS, queue_pkts=QUEUE_PKTS)


def _measure(link: Link, times, who) -> tuple[float, float]:
    """Mobile 0's throughput (bit/s) and mean sojourn (s) when ``times`` (sorted, of
    mobiles ``who``) go through ``link``."""
    delivered, sojourn = 0, []
    for t, w in zip(times, who):
        arrival, cause = link.send(float(t), SIZE_BYTES, "up")
        if w == 0 and cause is None:
            delivered += 1
            sojourn.append(arrival - t)
    return delivered * SIZE_BYTES * 8.0 / DURATION_S, float(np.mean(sojourn))


def _both_layers(pps: float):
    t = _send_times(pps)
    who = np.repeat(np.arange(N_MOBILES), t.shape[1])
    order = np.argsort(t.ravel(), kind="stable")
    all_packets = _measure(_link(), t.ravel()[order], who[order])
    # the nine others as flows: max-min rates on the one satellite link, their demands
    demand = np.full(N_MOBILES, pps * SIZE_BYTES * 8.0)
    state = max_min_rates(incidence(np.arange(N_MOBILES), np.zeros(N_MOBILES, int),
                                    N_MOBILES, 1), [CAPACITY_BPS], demand)
    share = (CAPACITY_BPS - state.rate_bps[1:].sum()) / CAPACITY_BPS
    one_packet = _measure(_link(share), t[0], np.zeros(t.shape[1], int))
    return all_packets, one_packet


def test_below_saturation_the_layers_agree():
    """Utilisation 0.84: every demand is met (throughput within 1 %) and the mean sojourn
    agrees within 1.5 packet times. The flow layer's processor-sharing view gives
    service / (1 - 0.75) = 4 packet times at most, a FIFO of Poisson neighbours with
    equal packets less (M/D/1: 1 + 0.84 / (2 · 0.16) ≈ 3.6 for Poisson arrivals, less
    for the measured CBR stream); both far above the single packet time of a link of
    its own."""
    (tp_all, d_all), (tp_one, d_one) = _both_layers(200.0)
    assert tp_one == pytest.approx(tp_all, rel=0.01)
    assert abs(d_one - d_all) < 1.5 * PACKET_TIME_S
    assert d_all > 2 * PACKET_TIME_S            # the neighbours do make it wait


def test_at_twice_the_capacity_the_layers_agree():
    """Offered load twice the capacity: max-min gives each mobile a tenth, the FIFO's
    drop-tail gives the smooth CBR mobile a little more (within 12 %); both queues sit
    full, so the sojourn is the buffer's, within 10 %."""
    (tp_all, d_all), (tp_one, d_one) = _both_layers(480.0)
    assert tp_one == pytest.approx(CAPACITY_BPS / N_MOBILES, rel=0.01)
    assert tp_one == pytest.approx(tp_all, rel=0.12)
    assert d_one == pytest.approx(d_all, rel=0.10)
    assert d_all > 0.5 * QUEUE_PKTS * PACKET_TIME_S


def test_a_link_of_its_own_ignores_the_neighbours():
    """The regression guard: without a share the one mobile's packets meet no queue."""
    t = _send_times(480.0)[0]
    _, d = _measure(_link(), t, np.zeros(len(t), int))
    assert d == pytest.approx(PACKET_TIME_S)
