"""What the other mobiles leave a mobile (:meth:`SharedLoad.left_bps`), the quantity
every replay link's share is made from: the gathered, vectorised form must equal the
definition sample by sample, bit for bit (issue 16: faster, same numbers)."""

from __future__ import annotations

import numpy as np

from sigma_sn.path.config import SharedCapacity
from sigma_sn.path.load import SharedLoad

SAT_BPS, GW_BPS = 20e9, 40e9


def _load(seed: int = 7, n_mob: int = 6, n_sat: int = 5, n_gw: int = 3, n_step: int = 40):
    """A random but consistent load: each mobile on a satellite and gateway (or none),
    the links' loads and flow counts summed from the mobiles' rates."""
    rng = np.random.default_rng(seed)
    sat = rng.integers(-1, n_sat, (n_mob, n_step)).astype(np.int32)
    gw = np.where(sat >= 0, rng.integers(-1, n_gw, (n_mob, n_step)), -1).astype(np.int16)
    rate = np.where(gw >= 0, rng.uniform(1e8, 5e9, (n_mob, n_step)), 0.0).astype(np.float32)
    sat_load = np.zeros((n_sat, n_step), np.float32)
    gw_load = np.zeros((n_gw, n_step), np.float32)
    sat_flows = np.zeros((n_sat, n_step), np.int32)
    gw_flows = np.zeros((n_gw, n_step), np.int32)
    for m in range(n_mob):
        for k in range(n_step):
            if gw[m, k] >= 0:
                sat_load[sat[m, k], k] += rate[m, k]
                sat_flows[sat[m, k], k] += 1
                gw_load[gw[m, k], k] += rate[m, k]
                gw_flows[gw[m, k], k] += 1
    cap = SharedCapacity(sat_capacity_mbps=SAT_BPS / 1e6, gateway_capacity_mbps=GW_BPS / 1e6,
                         offered_load_mbps=2500.0)
    return SharedLoad(cap, 1.0, tuple(f"m{i}" for i in range(n_mob)),
                      tuple(f"s{i}" for i in range(n_sat)), tuple(f"g{i}" for i in range(n_gw)),
                      sat, gw, rate, sat_load, sat_flows, gw_load, gw_flows)


def _left_one(load: SharedLoad, mobile: int, s: int, g: int, t: float) -> float:
    """The definition for one sample: per link capacity less the others' load, never less
    than capacity / (others + 1); the lesser of the satellite and the gateway."""
    k = min(max(int(np.floor(t / load.step_s + 1e-9)), 0), load.rate_bps.shape[1] - 1)

    def left(cap, load_bps, flows, own_bps):
        others = float(load_bps) - own_bps
        n_others = float(flows) - (own_bps > 0)
        return max(cap - others, cap / (n_others + 1.0))

    own = float(load.rate_bps[mobile, k])
    out = left(SAT_BPS, load.sat_load_bps[s, k], load.sat_flows[s, k],
               own if load.sat[mobile, k] == s else 0.0)
    if g >= 0:
        out = min(out, left(GW_BPS, load.gw_load_bps[g, k], load.gw_flows[g, k],
                            own if load.gateway[mobile, k] == g else 0.0))
    return out


def test_left_equals_the_definition_bit_for_bit():
    load = _load()
    rng = np.random.default_rng(3)
    n = 400
    for mobile in range(len(load.mobiles)):
        # mostly the mobile's own links, so both the own and the others' branches are hit
        t = np.sort(rng.uniform(0.0, 45.0, n))          # past the end: the last step
        k = np.minimum(np.floor(t).astype(int), 39)
        own = rng.random(n) < 0.5
        s = np.where(own & (load.sat[mobile, k] >= 0), load.sat[mobile, k],
                     rng.integers(0, 5, n))
        g = np.where(own, load.gateway[mobile, k], rng.integers(-1, 3, n))
        got = load.left_bps(mobile, s, g, t)
        want = np.array([_left_one(load, mobile, int(a), int(b), float(c))
                         for a, b, c in zip(s, g, t)])
        assert got.dtype == np.float64
        assert got.tobytes() == want.tobytes()


def test_a_mobiles_own_flow_is_not_counted_against_it():
    load = _load()
    mobile, k = next((m, k) for m in range(6) for k in range(40)
                     if load.gateway[m, k] >= 0 and load.sat_flows[load.sat[m, k], k] == 1
                     and load.gw_flows[load.gateway[m, k], k] == 1)
    # alone on both its links: all of both capacities is left to it
    left = load.left_bps(mobile, [load.sat[mobile, k]], [load.gateway[mobile, k]], [k + 0.5])
    assert left[0] == SAT_BPS


def test_shared_links_takes_each_samples_gateway_from_its_own_window():
    """Per sample the gateway is that of the window (of its link) it lies in, none in
    the gaps, before the first window or past a window's end; the share is what the
    others leave over the replay capacity, clipped to [MIN_SHARE, 1]."""
    from types import SimpleNamespace

    from sigma_sn.path.load import MIN_SHARE, shared_links
    from sigma_sn.sim.links import LinkGeometry

    import dataclasses

    # gateways narrower than satellites, so the gateway found is the one that binds
    load = dataclasses.replace(_load(), capacity=SharedCapacity(
        sat_capacity_mbps=SAT_BPS / 1e6, gateway_capacity_mbps=8000.0,
        offered_load_mbps=2500.0))
    # windows 0 and 2 on link "s1" (steps 5-9 and 20-24), window 1 on "s3" (steps 0-29)
    first_step = np.array([5, 0, 20])
    offset = np.array([0, 5, 35, 40])
    rng = np.random.default_rng(11)
    gateway = rng.integers(-1, 3, 40).astype(np.int16)
    paths = SimpleNamespace(step_s=1.0, first_step=first_step, offset=offset, gateway=gateway)
    t1 = np.array([0.5, 5.0, 7.2, 9.9, 10.0, 15.0, 20.0, 24.5, 25.0, 39.0])
    t3 = np.arange(0.0, 30.0, 0.7)
    links = {name: LinkGeometry(name, t, np.zeros(len(t)), np.zeros(len(t)), ((0.0, 40.0),))
             for name, t in (("s1", t1), ("s3", t3))}
    got = shared_links(links, load, "m2", {"s1": 1, "s3": 3},
                       {"s1": np.array([0, 2]), "s3": np.array([1])}, paths, 3e9)

    def gw_of(t, windows):
        k = int(np.floor(t + 1e-9))
        for w in windows:
            if first_step[w] <= k < first_step[w] + offset[w + 1] - offset[w]:
                return int(gateway[offset[w] + k - first_step[w]])
        return -1

    for name, sat, windows in (("s1", 1, (0, 2)), ("s3", 3, (1,))):
        t = links[name].t_s
        g = [gw_of(x, windows) for x in t]
        want = np.clip(load.left_bps(2, np.full(len(t), sat), g, t) / 3e9, MIN_SHARE, 1.0)
        assert got[name].share.tobytes() == want.tobytes()
    assert gw_of(0.5, (0, 2)) == -1 and gw_of(15.0, (0, 2)) == -1    # the gaps are hit


def test_link_shares_are_checked_once_and_name_the_mobile():
    """The shares are checked where they are made (LinkGeometry.with_share trusts them):
    within [MIN_SHARE, 1], and a share that is not a number is refused by mobile."""
    import pytest

    from sigma_sn.path.load import MIN_SHARE, link_shares

    load = _load()
    share = link_shares(load, "m1", [0, 1, 2], [0, -1, 2], [0, 5, 39], 3e9)
    assert np.all((share >= MIN_SHARE) & (share <= 1.0))
    want = np.clip(load.left_bps(1, [0, 1, 2], [0, -1, 2], [0.0, 5.0, 39.0]) / 3e9,
                   MIN_SHARE, 1.0)
    assert share.tobytes() == want.tobytes()
    with pytest.raises(ValueError, match="mobile m1"):
        link_shares(load, "m1", [0], [0], [0], float("nan"))
