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
