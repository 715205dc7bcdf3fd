"""Which path-stage window serves each mobile at each routing step, from a plan's serving
intervals: what the load stage (:mod:`sigma_sn.path.load`) and the policy comparison's
RTT series (:mod:`sigma_sn.policy_compare`) both read."""

from __future__ import annotations

import numpy as np


def serving_windows(plan: dict, paths) -> dict[str, np.ndarray]:
    """Per mobile, the path stage's window (index into ``paths.windows``) serving at each
    routing step, from the plan's serving intervals; -1 where nothing serves. ``paths``
    may be :class:`~sigma_sn.planner.anchor.AnchorWindows` (their windows, gateways)."""
    w = paths.windows
    step = paths.step_s
    n = int(np.floor(w.duration_s / step + 1e-9)) + 1
    sat = {name: k for k, name in enumerate(w.sat_names)}
    site = {name: k for k, name in enumerate(w.site_names)}
    by_pair: dict[tuple[int, int], np.ndarray] = {}
    for i in np.lexsort((w.aos_s, w.sat, w.site)).tolist():
        by_pair.setdefault((int(w.site[i]), int(w.sat[i])), []).append(i)
    by_pair = {k: np.array(v) for k, v in by_pair.items()}
    out = {}
    for mob in plan["mobiles"]:
        served = np.full(n, -1, np.int64)
        for iv in mob["serving"]:
            wins = by_pair.get((site[mob["name"]], sat[iv["ap"]]))
            k0 = int(np.ceil(iv["from_s"] / step - 1e-9))
            k1 = min(int(np.ceil(iv["to_s"] / step - 1e-9)), n)
            if wins is None or k1 <= k0:
                continue
            t = np.arange(k0, k1) * step
            j = np.searchsorted(w.aos_s[wins], t + 1e-9, side="right") - 1
            inside = (j >= 0) & (t < w.los_s[wins[np.maximum(j, 0)]] + 1e-9)
            served[k0:k1] = np.where(inside, wins[np.maximum(j, 0)], -1)
        out[mob["name"]] = served
    return out
