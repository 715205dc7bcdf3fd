"""Benchmark: shared capacity (the load stage and the replay's shares) against the
visibility step, in one run.

Starlink shell 1 (tle_data/) over Hypatia's 1,000 most populous cities as terminals, a
25 deg mask, 1 h, +Grid ISLs to the shipped world gateways and a correspondent in
London. In order: the terminals' visibility windows (the baseline), the path stage
(the load stage's input, timed for context), each terminal's serving satellite per
1 s step (longest remaining visibility, greedy), then

* the load stage (:func:`sigma_sn.path.load.solve_load`): every terminal's flow on its
  satellite and gateway, max-min fair per step, its chunks of steps in forked workers;
* the replay's shares for all 1,000 terminals (:func:`sigma_sn.path.load.shared_links`
  on every window of every terminal), groups of terminals in forked workers as a plan's
  replays are built (:func:`sigma_sn.sim.planned.build_replays`);
* the packet replay (SIGMA-SN, CBR 10 pkt/s) of a sample of terminals with their full
  link geometry on the path, per terminal.

Prints wall and CPU time, peak RSS and the ratios to the visibility step, with the load
average. Goal: load stage + shares <= 2x the visibility step in wall and in CPU (issue
16's speed budget); ``--workers`` sets the processes of every stage (default: one per
core).

    python benchmarks/shared.py [--hours 1] [--terminals 1000] [--sample 5]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys

import numpy as np


from path import Clock, shell1_inputs  # noqa: E402  (benchmarks/path.py)
from sigma_sn.compute import chunks  # noqa: E402
from sigma_sn.forked import ForkedMap, can_fork, shared_array  # noqa: E402
from sigma_sn.path.config import PathMode, SharedCapacity  # noqa: E402
from sigma_sn.path.ground import Correspondent  # noqa: E402
from sigma_sn.path.load import shared_links, solve_load  # noqa: E402
from sigma_sn.path.route import PathModel, compute_paths  # noqa: E402
from sigma_sn.sim.links import LinkGeometry  # noqa: E402
from sigma_sn.visibility import find_windows  # noqa: E402

START = "2026-08-22T00:00:00Z"
MASK_DEG = 25.0
LONDON = Correspondent("London", 51.5074, -0.1278)
#: each terminal stands for the users behind it (as scenarios/starlink-shared.toml)
CAPACITY = SharedCapacity(offered_load_mbps=2500.0)
GOAL_RATIO = 2.0


def longest_visibility(windows, n_sites: int, n_steps: int, step_s: float) -> np.ndarray:
    """(terminal, step) the window serving each terminal: greedily the one in view that
    sets last, kept until it sets (the planner's longest-visibility without its timing)."""
    served = np.full((n_sites, n_steps), -1, np.int64)
    order = np.lexsort((windows.aos_s, windows.site))
    starts = np.searchsorted(windows.site[order], np.arange(n_sites + 1))
    for j in range(n_sites):
        rows = order[starts[j]:starts[j + 1]]
        aos, los = windows.aos_s[rows], windows.los_s[rows]
        t = 0.0
        while t < windows.duration_s:
            up = (aos <= t) & (los > t)
            if not up.any():
                later = aos[aos > t]
                if not later.size:
                    break
                t = float(later.min())
                continue
            k = int(np.flatnonzero(up)[np.argmax(los[up])])
            k0, k1 = int(np.ceil(t / step_s)), min(int(np.ceil(los[k] / step_s)), n_steps)
            served[j, k0:k1] = rows[k]
            t = float(los[k])
    return served


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--terminals", type=int, default=1000)
    ap.add_argument("--sample", type=int, default=5,
                    help="terminals whose packets are replayed (default 5)")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    duration_s = args.hours * 3600.0
    sats, cities, gateways = shell1_inputs("hypatia_cities_top1000.csv", args.terminals)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    # compile the path kernels before timing (a first run compiles them once)
    PathModel(sats[:44], gateways[:1], LONDON, START, 60.0, mode=PathMode.ISL,
              min_elev_deg=MASK_DEG, workers=1).distances(0, 2)

    with Clock() as vis:
        windows = find_windows(sats, cities, START, duration_s, min_elev_deg=MASK_DEG,
                               workers=args.workers)
    print(f"visibility (baseline): {len(sats)} satellites x {len(cities)} terminals x "
          f"{args.hours:g} h, {len(windows)} windows: {vis}")
    with Clock() as path:
        model = PathModel(sats, gateways, LONDON, START, duration_s, mode=PathMode.ISL,
                          min_elev_deg=MASK_DEG, workers=args.workers)
        paths = compute_paths(model, cities, windows, workers=args.workers)
    print(f"path stage (input, isl): {len(paths.delay_ms)} samples: {path}")
    served = longest_visibility(windows, len(cities), model.n_steps, paths.step_s)
    print(f"serving: {int((served >= 0).sum())} (terminal, step) flows over "
          f"{model.n_steps} steps")

    with Clock() as load_c:
        load = solve_load(paths, windows.sat, served, CAPACITY,
                          mobiles=[c.name for c in cities], sat_names=windows.sat_names,
                          workers=args.workers)
    block = load.summary()
    congested = sum(s["peak_offered"] > 1 for s in block["satellites"])
    share = np.array([m["mean_share"] for m in block["mobiles"] if m["mean_share"] is not None])
    print(f"load stage: {len(block['satellites'])} satellites carried flows, {congested} "
          f"offered more than capacity; mean share of demand {share.mean():.3f} "
          f"(min {share.min():.3f}): {load_c}")

    built = []      # each terminal's links on the path (no ranges: the shares are timed)
    for j in range(len(cities)):
        mine = np.flatnonzero(windows.site == j)
        by_sat: dict[int, list[int]] = {}
        for i in mine[np.argsort(windows.aos_s[mine], kind="stable")].tolist():
            by_sat.setdefault(int(windows.sat[i]), []).append(i)
        links, rows = {}, {}
        for s, ws in by_sat.items():
            t = np.concatenate([paths.samples(i)[0] for i in ws])
            if len(t) < 2:
                continue
            name = windows.sat_names[s]
            links[name] = LinkGeometry(name, t, np.zeros(len(t)), np.zeros(len(t)),
                                       tuple((float(windows.aos_s[i]),
                                              float(windows.los_s[i])) for i in ws))
            rows[name] = np.array(ws)
        built.append((links, rows, {windows.sat_names[s]: s for s in by_sat}))
    # every terminal's shares, spread over forked workers as a plan's replays are
    # (sigma_sn.sim.planned.build_replays), each writing into its terminals' slice of
    # one shared array; hashed afterwards, outside the timed stage, in terminal order:
    # a faster load or shares stage must leave the fingerprint unchanged
    with Clock() as share_c:
        shares, ends, n_links = all_shares(built, load, cities, paths, args.workers)
    digest = hashlib.sha256()
    for (links, _, _), a in zip(built, [0, *ends[:-1]]):
        for ap in sorted(links):
            b = a + len(links[ap].t_s)
            digest.update(ap.encode() + shares[a:b].tobytes())
            a = b
    del built, shares
    print(f"replay shares: {n_links} links of {len(cities)} terminals: {share_c}; "
          f"shares sha256 {digest.hexdigest()[:16]}")

    replay_s = _replay_sample(args, sats, cities, windows, paths, load, served)
    stages = load_c.wall + share_c.wall
    cpu = load_c.cpu + share_c.cpu
    ratio, cpu_ratio = stages / vis.wall, cpu / vis.cpu
    print(f"ratio (load stage + shares) / visibility: wall {ratio:.2f}x, CPU {cpu_ratio:.2f}x "
          f"(goal <= {GOAL_RATIO:g}); packet replay {replay_s:.2f} s per terminal-hour; "
          f"load average {os.getloadavg()[0]:.1f}")
    met = ratio <= GOAL_RATIO and cpu_ratio <= GOAL_RATIO     # in wall and in CPU
    print("goal met" if met else "GOAL MISSED")
    return 0 if met else 1


def all_shares(built, load, cities, paths, workers):
    """Every terminal's shares (:func:`sigma_sn.path.load.shared_links`), its links by
    name, in one array; each terminal's end in it; how many links. ``workers``
    processes (default: one per core) take groups of terminals, if forking is safe."""
    sizes = [sum(len(g.t_s) for g in links.values()) for links, _, _ in built]
    ends = np.cumsum(sizes).tolist()
    workers = min(os.cpu_count() or 1 if workers is None else workers, len(built))
    groups = chunks(list(range(len(built))), max(1, workers))
    parallel = can_fork(workers)
    shares = shared_array(ends[-1] if ends else 0, float, parallel)
    # the load's tables and its compiled kernel made once here, for every worker to inherit
    load.left_bps(0, [0], [-1], [0.0])

    def fill(group: list[int]) -> int:
        n_links = 0
        for j in group:
            links, rows, index = built[j]
            out = shared_links(links, load, cities[j].name, index, rows, paths,
                               CAPACITY.offered_load_mbps * 1e6)
            shares[ends[j] - sizes[j]:ends[j]] = np.concatenate(
                [out[ap].share for ap in sorted(out)])
            n_links += len(out)
        return n_links

    if parallel:
        with ForkedMap(fill, groups, workers) as results:
            n_links = sum(results)
    else:
        n_links = sum(fill(g) for g in groups)
    return shares, ends, n_links


def _replay_sample(args, sats, cities, windows, paths, load, served) -> float:
    """Replay ``args.sample`` terminals packet by packet (SIGMA-SN, CBR 10 pkt/s) on their
    full link geometry with shares; return wall seconds per terminal-hour."""
    from sigma_sn.sim.linkgeom import link_geometries
    from sigma_sn.sim.model import Handover, Replay, SimConfig, Step
    from sigma_sn.sim.pathgeom import link_on_path
    from sigma_sn.sim.run import simulate

    cfg = SimConfig(rate_pps=10.0, capacity_bps=CAPACITY.offered_load_mbps * 1e6)
    picks = np.linspace(0, len(cities) - 1, args.sample).astype(int)
    with Clock() as c:
        for j in picks.tolist():
            seq = served[j][served[j] >= 0]
            first = int(seq[0])
            pairs = {(int(windows.sat[i]), j): windows.sat_names[int(windows.sat[i])]
                     for i in np.flatnonzero(windows.site == j).tolist()}
            geo = link_geometries(windows, list(pairs), sats, cities, names=pairs)
            rows = {ap: np.flatnonzero((windows.sat == i) & (windows.site == j))
                    for (i, _), ap in pairs.items()}
            geo = {ap: link_on_path(geo[ap], paths, rows[ap]) for ap in rows}
            geo = shared_links(geo, load, cities[j].name, {v: k[0] for k, v in pairs.items()},
                               rows, paths, cfg.capacity_bps)
            # the serving sequence as SET_PRIMARY steps (addresses: the satellite names)
            change = np.flatnonzero(np.diff(served[j]) != 0) + 1
            steps, hos = [], []
            prev = windows.sat_names[int(windows.sat[first])]
            for n, k in enumerate(change.tolist()):
                if served[j][k] < 0:
                    continue
                ap = windows.sat_names[int(windows.sat[served[j][k]])]
                if ap == prev:
                    continue
                t = k * paths.step_s
                steps += [Step(t, "ADD_IP", ap, ap, n), Step(t, "SET_PRIMARY", ap, ap, n)]
                hos.append(Handover(n, prev, ap, t, True))
                prev = ap
            replay = Replay(cities[j].name, START, windows.duration_s,
                            tuple(geo[a] for a in sorted(geo)),
                            windows.sat_names[int(windows.sat[first])],
                            windows.sat_names[int(windows.sat[first])], tuple(steps),
                            tuple(hos), shared_load=load)
            simulate(replay, cfg)
    per = c.wall / len(picks) / (windows.duration_s / 3600.0)
    print(f"packet replay of {len(picks)} terminals (SIGMA-SN, CBR 10 pkt/s, geometry on "
          f"the path with shares): {c}; {per:.2f} s wall per terminal-hour")
    return per


if __name__ == "__main__":
    sys.exit(main())
