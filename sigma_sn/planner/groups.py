"""Planning groups of mobiles, in forked workers or here: each mobile's serving sequence
(the policy), its handovers' events (the timing model, every round trip of a group in one
batched propagation), serving intervals and outages, returned as arrays
(:class:`~sigma_sn.planner.rows.Planned`) for :mod:`sigma_sn.planner.rows` to make rows of.

One mobile is wholly in one group, so any number of workers makes the same numbers.
"""

from __future__ import annotations

import contextlib
import time
from typing import NamedTuple

import numpy as np
from numba import types

from sigma_sn import compute
from sigma_sn.geometry import C_KM_S
from sigma_sn.planner import core, events, policies, rows
from sigma_sn.planner.jit import B1, F8, I8, load, njit, pymax, pymin
from sigma_sn.planner.kinds import PATH_POLICIES, Mode, Policy, Window
from sigma_sn.planner.sky import _grid_look

_TAYLOR_S = 1.0       # use range + rate·dt from a pass-1 instant at most this far away
_SLIVER_S = 1e-6      # coverage or gaps shorter than this are rounding, not events


def _select_group(names: list, job: dict, stats: dict) -> dict:
    """Serving sequences of the mobiles ``names``, as columns (policies.columns). All but
    least-load read the window columns: the geometry policies' look angles come from each
    satellite propagated once on the decision grid for all mobiles
    (:meth:`~sigma_sn.planner.sky.Sky.grid_look`), not one call per mobile and access
    point (interpolated; ``stats["exact_looks"]`` counts the samples where a decision
    needed SGP4's own). Least-load gets each mobile's Window list."""
    policy, duration_s, timing, bound_s, selection = (
        job["policy"], job["duration_s"], job["timing"], job["bound_s"], job["selection"])
    ap, aos, los = job["window_arrays"]
    spans = job["spans"]
    out = {}
    if policy in (Policy.MIN_HANDOVERS, Policy.LONGEST_VISIBILITY):
        for m in names:
            lo, hi = spans[m]
            out[m] = core.select_columns(policy, aos[lo:hi], los[lo:hi], ap[lo:hi],
                                         duration_s, timing, bound_s)
    elif policy in (Policy.MAX_ELEVATION, Policy.STRONGEST_SIGNAL):
        sky, looks, step_s = job["sky"], job["looks"], selection.decision_step_s
        router = job["mode"] is Mode.ROUTER
        for m in names:
            lo, hi = spans[m]
            mobile = np.full(hi - lo, looks[m].mobile)
            sat, site = (ap[lo:hi], mobile) if router else (mobile, ap[lo:hi])
            look = sky.grid_look(sat, site, aos[lo:hi], los[lo:hi], step_s,
                                 timing.guard_s + bound_s)

            def exact(k, look=look, sat=sat, site=site):  # SGP4's own, where it matters
                stats["exact_looks"] = stats.get("exact_looks", 0) + len(k)
                w = look.win[k]
                return sky.exact_look(sat[w], site[w], look.g[k] * step_s)

            out[m] = core.select_on_grid(policy, aos[lo:hi], los[lo:hi], duration_s,
                                         timing, bound_s, look, selection=selection,
                                         link_budget=job["link_budget"], exact=exact)
    elif policy in PATH_POLICIES:
        delay_of = job["path_delay"]
        for m in names:
            lo, hi = spans[m]
            out[m] = core.select_path(
                policy, aos[lo:hi], los[lo:hi], ap[lo:hi], duration_s, timing, bound_s,
                lambda win, t_s, lo=lo: delay_of(lo + win, t_s), selection=selection)
    else:
        for m in names:
            windows = candidate_windows(job["ap_col"], aos, los, job["elev"], *spans[m])
            out[m] = policies.columns(core.select(policy, windows, duration_s, timing,
                                                  bound_s, geometry=job["looks"][m],
                                                  selection=selection,
                                                  link_budget=job["link_budget"]))
    return out


def candidate_windows(ap_col: list, aos, los, elev, lo: int, hi: int) -> list[Window]:
    """One mobile's candidate windows (``lo``..``hi`` of the planner's columns)."""
    return list(map(Window, ap_col[lo:hi], aos[lo:hi].tolist(), los[lo:hi].tolist(),
                    elev[lo:hi].tolist()))


def _plan_group(names: list, job: dict) -> tuple[rows.Planned, dict]:
    """Plan the mobiles ``names``: their serving sequences (unless least-load decided
    them jointly beforehand), events, serving intervals and outages, as arrays. Runs in a
    forked worker or a Dask worker too; one mobile is wholly in one group, so a serial
    run makes the same numbers."""
    stats = {"select_s": 0.0}
    t0 = time.perf_counter()
    if job["sequences"] is None:
        seqs = _select_group(names, job, stats)
        stats["select_s"] = time.perf_counter() - t0
    else:
        seqs = {m: policies.columns(job["sequences"][m]) for m in names}
    t0 = time.perf_counter()
    flat = events.flatten([job["spans"][m] for m in names], [seqs[m] for m in names])
    tr, timed = _plan_events(names, flat, job, stats)
    stats["events_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = _collect(names, flat, tr, timed, job)
    stats["output_s"] = time.perf_counter() - t0
    return out, stats


def _collect(names, flat: events.Flat, tr: events.Transitions, timed: events.Timed,
             job) -> rows.Planned:
    """Return the serving intervals, handovers and outages of the mobiles ``names``."""
    duration_s, policy, timing = job["duration_s"], job["policy"], job["timing"]
    ap, aos, los = job["window_arrays"]
    at = flat.seq_win
    into = np.full(len(at), -1, np.int64)   # per entry, the handover into it
    into[flat.seq_off[tr.mobile] + tr.position] = np.arange(len(tr.position))
    ready_s, primary_s = timed.times_s[:, 0].copy(), timed.times_s[:, 2].copy()
    serve_k, serve_from, serve_to, serve_off, gaps = _serving(
        flat.seq_off, aos[at], los[at], flat.seq_switch_s, into, timed.feasible,
        timed.outage_s, primary_s, float(duration_s))
    o_from, o_to, o_cause, o_count = [], [], [], []
    for i in range(len(names)):
        n0 = len(o_from)
        if gaps[i]:  # rare under a dense constellation: the plain way
            s0, s1, k0, k1 = serve_off[i], serve_off[i + 1], flat.seq_off[i], flat.seq_off[i + 1]
            serving = list(zip((serve_k[s0:s1] - k0).tolist(), serve_from[s0:s1].tolist(),
                               serve_to[s0:s1].tolist()))
            entry_into = [None if j < 0 else _Into(bool(timed.feasible[j]),
                                                   float(timed.outage_s[j]),
                                                   float(ready_s[j]), float(primary_s[j]))
                          for j in into[k0:k1].tolist()]
            windows = (aos, los, flat.span_lo[i], flat.span_hi[i])
            for a, b, cause in _outages(windows, aos[at[k0:k1]].tolist(), entry_into,
                                        serving, duration_s, policy, timing):
                o_from.append(a)
                o_to.append(b)
                o_cause.append(cause)
        o_count.append(len(o_from) - n0)
    return rows.packed(np.diff(serve_off), ap[at][serve_k], serve_from, serve_to,
                       np.array(o_count, np.int64), o_from, o_to, o_cause, tr, timed,
                       job["epoch"])


class _Into(NamedTuple):
    """What the serving intervals and outages need of the handover into an entry."""

    feasible: bool
    outage_s: float
    ready_s: float      # ADDRESS_READY
    primary_s: float    # SET_PRIMARY


def run_groups(names: list, job: dict, workers: int, stats: dict, meanwhile=None):
    """Yield ``(group, result)`` for groups of ``names`` in order, planned by
    :func:`_plan_group` in ``workers`` forked processes when there is more than one (the
    caller makes the rows of one group while the workers plan the next), or as Dask tasks
    when the session says so (:mod:`sigma_sn.compute`: the job scattered once); add the
    groups' stage seconds to ``stats``. ``meanwhile()`` runs here while the workers plan
    the first groups (:func:`sigma_sn.compute.ordered_map`)."""
    on_dask = compute.current().dask
    if on_dask:
        workers = compute.dask_workers()
    workers = min(workers, max(1, len(names) // 8))
    if workers > 1:
        # several groups per worker: even loads, and little left for the rows at the end.
        # On Dask half as many: a task costs the command's scheduler and client a few ms
        # of CPU (1,000 terminals: 16 groups 395-400 ms of CPU in all, 8 groups 342 ms,
        # and no slower), where a forked group costs little. Not left to compute's runs:
        # two groups a Dask task came back together, later, and the plan took 1.16-1.30x
        # the fork pool's wall against 1.15-1.24x so
        size = -(-len(names) // ((4 if on_dask else 8) * workers))
        groups = [names[k:k + size] for k in range(0, len(names), size)]
    else:
        groups = [names]
    # the parent makes the rows of one group while the workers plan the next, and it is
    # the longer job: the workers yield the CPU to it (nice +5)
    if workers > 1 and not on_dask:
        load_kernels(job["policy"])
    results = compute.ordered_map(_plan_group, groups, job, workers=workers, nice=5,
                                  label="group of mobiles",
                                  describe=lambda g: f"mobiles {g[0]} .. {g[-1]}",
                                  meanwhile=meanwhile)
    with contextlib.closing(results):
        for group, (got, st) in zip(groups, results):
            _add(stats, st)
            yield group, got


def load_kernels(policy: Policy) -> None:
    """Load here, before the workers fork, the compiled kernels every group of ``policy``
    calls, for the argument types it calls them with (jit.load)."""
    f8 = types.float64
    load(events._transitions, I8, F8, F8, I8, I8, I8, I8, F8, f8, types.int64)
    load(_serving, I8, F8, F8, F8, I8, B1, F8, F8, f8)
    if policy in (Policy.MAX_ELEVATION, Policy.STRONGEST_SIGNAL):
        load(_grid_look, types.float64[:, :, ::1], types.float64[:, ::1],
             types.float64[:, ::1], I8, I8, F8, F8, types.int64, f8, f8)
        load(policies._hysteresis_walk, F8, F8, I8, I8, I8, I8, I8, types.int64, F8, F8,
             f8, f8, f8, f8, f8)
    elif policy is Policy.LONGEST_VISIBILITY:
        load(policies._longest_visibility, F8, F8, I8, f8, f8)
    elif policy is Policy.MIN_HANDOVERS:
        load(policies._min_handovers_dp, F8, F8, I8, types.int64, I8, f8, f8, f8)


def _add(stats: dict, more: dict) -> None:
    for k, v in more.items():
        stats[k] = stats.get(k, 0) + v


def _plan_events(names, flat: events.Flat, job, stats: dict
                 ) -> tuple[events.Transitions, events.Timed]:
    """Return the handovers of the mobiles ``names`` and their events: predict which
    (link, instant) pairs the timing model asks about, evaluate all of them in one
    batched propagation, then run the timing model on arrays with those answers."""
    timing, bound_s, sky, ap_index = job["timing"], job["bound_s"], job["sky"], job["ap_index"]
    looks = job["looks"]
    tr = events.transitions_columns(job["window_arrays"], flat, timing.setup_s)
    ap, mob, t_s, guess_sp = events.predicted_instants(tr, timing.setup_s, timing.guard_s,
                                                        bound_s)
    mobile_k = np.array([looks[m].mobile for m in names], np.int64)
    router = job["mode"] is Mode.ROUTER

    def pairs(ap, mob):
        site_or_sat = mobile_k[mob]
        return (ap, site_or_sat) if router else (site_or_sat, ap)

    if job.get("anchor_rtt") is not None:  # the access points are gateways: the path's RTT
        rtt = _AnchorRtt(job["anchor_rtt"], mobile_k)
    else:
        rtt = _nearest_rtt(sky, pairs, ap, mob, t_s, timing, len(ap_index))
    timed = events.timing(tr, timing.setup_s, timing.guard_s, timing.address_lifetime_s,
                          rtt, guess_sp)
    stats["rtt_batched"] = stats.get("rtt_batched", 0) + len(t_s)
    stats["rtt_exact_calls"] = stats.get("rtt_exact_calls", 0) + rtt.exact_calls
    return tr, timed


def _nearest_rtt(sky, pairs, ap, mob, t_s, timing, n_aps: int) -> events.NearestRtt:
    """The round trips over satellites: the predicted instants' slant ranges in one
    batched propagation, Taylor steps from there, an exact look where none is near."""
    range_km = rate_km_s = np.empty(0)
    if len(t_s):
        range_km, rate_km_s = sky.range_and_rate(*pairs(ap, mob), t_s)

    def exact_km(ap, mob, t_s):
        out = np.empty(len(t_s))
        sat, site = pairs(ap, mob)
        for k in range(len(t_s)):  # rare: a question far from every predicted instant
            out[k] = sky.elev_range(int(sat[k]), int(site[k]), t_s[k:k + 1])[1][0]
        return out

    return events.NearestRtt(ap, mob, t_s, range_km, rate_km_s, n_aps=n_aps,
                             terrestrial_s=timing.terrestrial_one_way_s, c_km_s=C_KM_S,
                             taylor_s=_TAYLOR_S, exact=exact_km)


class _AnchorRtt:
    """The timing model's ``rtt(ap, mobile, t_s)`` over gateway anchors: twice the one-way
    delay of the quickest path under the gateway (:meth:`AnchorWindows.rtt_s
    <sigma_sn.planner.anchor.AnchorWindows.rtt_s>`), so no slant range is asked for."""

    exact_calls = 0

    def __init__(self, rtt_s, mobile_k):
        self.rtt_s, self.mobile_k = rtt_s, mobile_k

    def __call__(self, ap, mobile, t_s):
        return self.rtt_s(ap, self.mobile_k[np.asarray(mobile)], t_s)


def _merge(intervals) -> list[list[float]]:
    out: list[list[float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1] + _SLIVER_S:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def _clip(intervals, lo: float, hi: float) -> list[tuple[float, float]]:
    return [(max(a, lo), min(b, hi)) for a, b in intervals
            if min(b, hi) - max(a, lo) > _SLIVER_S]


def _minus(lo: float, hi: float, covered) -> list[tuple[float, float]]:
    """Return the parts of [lo, hi] outside the (merged, sorted) ``covered`` intervals."""
    out, t = [], lo
    for a, b in covered:
        if b <= t or a >= hi:
            continue
        if a > t:
            out.append((t, a))
        t = max(t, b)
    if hi > t:
        out.append((t, hi))
    return [(a, b) for a, b in out if b - a > _SLIVER_S]


@njit
def _serving(seq_off, aos_s, los_s, switch_s, into, feasible, outage_s, primary_s,
             duration_s):
    """The serving intervals (docs/plan-format.md) of a group's entries (``aos_s``,
    ``los_s`` of each entry's window; ``into``: the handover into it, or -1): an interval ends at
    the next SET_PRIMARY, or at LOS when the handover is hard (the old path dies there)
    or when the access point is re-acquired on its next pass; after a hard handover the
    new one starts when its outage ends, after a re-acquisition at its AOS (or when the
    policy chose). Returns per interval its entry, from_s and to_s; where each mobile's
    intervals start; and whether a mobile has a gap between them (an outage)."""
    n = len(aos_s)
    entry, start_s, end_s = np.empty(n, np.int64), np.empty(n), np.empty(n)
    off = np.zeros(len(seq_off), np.int64)
    gaps = np.zeros(len(seq_off) - 1, np.bool_)
    m = 0
    for i in range(len(seq_off) - 1):
        last = 0.0   # the end of the previous interval (the plan starts at 0)
        for k in range(seq_off[i], seq_off[i + 1]):
            h = into[k]
            if h < 0:
                start = aos_s[k] if np.isnan(switch_s[k]) else pymax(aos_s[k], switch_s[k])
            elif feasible[h] or outage_s[h] <= 0:
                start = primary_s[h]
            else:
                start = los_s[k - 1] + outage_s[h]
            h = into[k + 1] if k + 1 < seq_off[i + 1] else -1
            if h < 0:
                end = los_s[k]
            else:
                end = primary_s[h] if feasible[h] or outage_s[h] <= 0 else los_s[k]
            start = pymax(pymax(start, aos_s[k]), 0.0)
            end = pymin(pymin(end, los_s[k]), duration_s)
            if end - start > _SLIVER_S:
                if not start - last <= _SLIVER_S:
                    gaps[i] = True
                entry[m], start_s[m], end_s[m] = k, start, end
                m += 1
                last = end
        if not duration_s - last <= _SLIVER_S:
            gaps[i] = True
        off[i + 1] = m
    return entry[:m], start_s[:m], end_s[:m], off, gaps


def _outages(windows, entry_aos: list[float], into, serving, duration_s, policy, timing
             ) -> list[tuple[float, float, int]]:
    """Return the gaps between serving intervals as (from_s, to_s, cause code) parts, each
    with its cause (:data:`rows.CAUSES`): no candidate up (``no_coverage``); the new
    access point attaching and the switch completing after a hard handover
    (``hard_handover``); coverage left unused before that, which under least-load is
    waiting for a free slot (``capacity``). ``windows``: the AOS and LOS columns and the
    mobile's span of them; ``entry_aos``, ``into``: per sequence entry, its window's AOS
    and the handover into it (or None); ``serving``: (entry, from_s, to_s) per interval."""
    ends = [0.0] + [b for _, _, b in serving]
    begins = [a for _, a, _ in serving] + [duration_s]
    if all(hi - lo <= _SLIVER_S for lo, hi in zip(ends, begins)):
        return []  # served throughout (the usual case under a dense constellation)
    aos, los, first, end = windows
    covered = _merge(_clip(zip(aos[first:end].tolist(), los[first:end].tolist()), 0.0,
                           duration_s))
    capacity, hard, no_coverage = range(3)  # rows.CAUSES: sorted as their names
    out = []
    for i, (lo, hi) in enumerate(zip(ends, begins)):
        if hi - lo <= _SLIVER_S:
            continue
        parts = [(a, b, no_coverage) for a, b in _minus(lo, hi, covered)]
        h = into[serving[i][0]] if i < len(serving) else None
        if h is not None:  # the gap ends with the handover into serving[i]: attach from L2
            attach_s = max(entry_aos[serving[i][0]], h.ready_s - timing.setup_s)
        else:  # before the first interval, after the last, or until a re-acquisition
            attach_s = hi
        waiting = capacity if policy is Policy.LEAST_LOAD else (
            hard if h is not None else no_coverage)
        for a, b in _clip(covered, lo, hi):
            if a < attach_s:
                parts.append((a, min(b, attach_s), waiting))
            if b > attach_s:
                parts.append((max(a, attach_s), b, hard))
        out += [(a, b, c) for a, b, c in sorted(parts) if b - a > _SLIVER_S]
    return out


__all__ = ["candidate_windows", "run_groups"]
