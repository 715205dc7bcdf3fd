"""Shared capacity under a gateway anchor (issue 16): each mobile's flow runs to its
planned anchor gateway over the satellite the anchor's path takes, so the load stage
charges that gateway, and the replay's gateway links are served at what the others
leave; and the load stage's forked workers give the bytes one process gives."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from test_shared_scenario import HEAD, PAYLOAD_BYTES, _replayed, _scenario

from sigma_sn.path.config import SharedCapacity
from sigma_sn.path.load import solve_load
from sigma_sn.sim.model import DATA_HEADER_BYTES

GW_CAPACITY_MBPS = 4.0
ANCHORED = f"""[path]
mode = "bent_pipe"
gateways = "gw.csv"
correspondent = "GW A"
anchor = "gateway"
shared_capacity = true
sat_capacity_mbps = 1000
gateway_capacity_mbps = {GW_CAPACITY_MBPS}
offered_load_mbps = 10
"""


def _anchored(tmp_path, n: int):
    p = _scenario(tmp_path, n, ANCHORED)
    p.write_text(p.read_text().replace('policy = "max-elevation"', 'policy = "min-path-delay"'))
    assert 'policy = "max-elevation"' in HEAD
    return p


@pytest.mark.parametrize("n", [2, 3])
def test_n_terminals_anchored_to_one_gateway_get_its_capacity_over_n(tmp_path, n):
    """N terminals offer 10 Mb/s each through one gateway of 4 Mb/s (the satellite has
    room for all): the load stage gives each gateway capacity / N, and each one's packet
    replay on its gateway link delivers it, on the wire over its served time, within 10 %."""
    replays, report = _replayed(_anchored(tmp_path, n))
    fair_bps = GW_CAPACITY_MBPS * 1e6 / n
    block = replays[0].shared_load.summary()
    assert [m["mobile"] for m in block["mobiles"]] == [f"T{k}" for k in range(n)]
    (gw,) = block["gateways"]
    assert gw["gateway"] == "GW A"
    assert gw["peak_offered"] == pytest.approx(10.0 * n / GW_CAPACITY_MBPS)
    (sat,) = block["satellites"]
    assert sat["peak_utilisation"] == pytest.approx(GW_CAPACITY_MBPS / 1000.0)
    for m, per, replay in zip(block["mobiles"], report["per_mobile"], replays):
        assert m["served_s"] > 150
        assert m["mean_rate_mbps"] * 1e6 == pytest.approx(fair_bps, rel=0.10)
        (link,) = [g for g in replay.links if g.up_s]
        assert link.ap == "GW A" and link.share is not None
        wire_bps = per["packets"]["delivered"] * (PAYLOAD_BYTES + DATA_HEADER_BYTES) * 8
        assert wire_bps / m["served_s"] == pytest.approx(fair_bps, rel=0.10)


@dataclasses.dataclass(frozen=True)
class _Windows:
    sat: np.ndarray


@dataclasses.dataclass(frozen=True)
class _Paths:
    step_s: float
    windows: _Windows
    gateway_names: tuple
    first_step: np.ndarray
    offset: np.ndarray
    gateway: np.ndarray


def _random_paths(seed: int, n_win: int = 30, n_step: int = 50, n_sat: int = 6, n_gw: int = 3):
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n_step - 5, n_win)
    count = np.minimum(rng.integers(3, 25, n_win), n_step - first)
    offset = np.concatenate([[0], np.cumsum(count)]).astype(np.int64)
    gateway = rng.integers(-1, n_gw, int(offset[-1])).astype(np.int16)
    paths = _Paths(1.0, _Windows(rng.integers(0, n_sat, n_win)),
                   tuple(f"g{k}" for k in range(n_gw)), first, offset, gateway)
    # each mobile at each step on one of the windows sampled then, or none
    served = np.full((8, n_step), -1)
    for k in range(n_step):
        on = np.flatnonzero((first <= k) & (k < first + count))
        if on.size:
            served[:, k] = np.where(rng.random(8) < 0.9, rng.choice(on, 8), -1)
    return paths, served


@pytest.mark.parametrize("anchored", [False, True])
def test_load_stage_in_forked_workers_equals_one_process_byte_for_byte(anchored):
    """Chunks of steps solved by three forked workers (or here, where forking is not
    safe) and in one chunk by this process: every array byte for byte, with the
    gateways from the paths or fixed by an anchor."""
    paths, served = _random_paths(3)
    gateway = (np.where(served >= 0, np.arange(served.size).reshape(served.shape) % 3, -1)
               if anchored else None)
    cap = SharedCapacity(sat_capacity_mbps=30.0, gateway_capacity_mbps=25.0,
                         offered_load_mbps=10.0)
    kw = dict(mobiles=[f"m{k}" for k in range(8)], sat_names=[f"s{k}" for k in range(6)],
              gateway=gateway)
    one = solve_load(paths, paths.windows.sat, served, cap, chunk_steps=50, workers=1, **kw)
    forked = solve_load(paths, paths.windows.sat, served, cap, chunk_steps=7, workers=3, **kw)
    for f in ("sat", "gateway", "rate_bps", "sat_load_bps", "sat_flows", "gw_load_bps",
              "gw_flows"):
        a, b = getattr(one, f), getattr(forked, f)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), f
    # flows were solved, some held below their 10 Mb/s demand by a shared link
    assert (one.rate_bps > 0).sum() > 150 and ((one.rate_bps > 0) & (one.rate_bps < 9e6)).any()
    if anchored:   # every flow with a path lands at its anchor
        on = one.gateway >= 0
        assert np.array_equal(one.gateway[on], gateway[on])
