"""The DESIGN.md timing model on a serving sequence, and the entry points that pick one
(``select`` for one mobile, ``select_least_load`` for all mobiles at once). Geometry enters
the timing only through ``rtt_s``."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Callable, Mapping, NamedTuple, Sequence

import numpy as np

from sigma_sn.path.linkbudget import snr_db
from sigma_sn.planner import pathpolicy
from sigma_sn.planner.kinds import (PATH_POLICIES, Action, Geometry, Policy, Selection,
                                    Serve, Window)
from sigma_sn.planner.policies import (hysteresis, least_load, longest_visibility,
                                       longest_visibility_arrays, min_handovers,
                                       min_handovers_arrays, received_power_dbw, serves,
                                       walk, walk_within)

__all__ = ["Event", "Geometry", "Handover", "Selection", "Serve", "Timing", "Window",
           "changes", "handovers", "longest_visibility", "min_handovers",
           "metric_of", "select", "select_columns", "select_on_grid", "select_least_load",
           "select_path"]


@dataclass(frozen=True)
class Timing:
    """DESIGN.md timing parameters (seconds)."""

    l2_s: float = 0.05
    ra_s: float = 0.05
    dad_s: float = 0.0
    guard_s: float = 2.0
    terrestrial_one_way_s: float = 0.02
    address_lifetime_s: float = 600.0

    @property
    def setup_s(self) -> float:
        return self.l2_s + self.ra_s + self.dad_s


# Event and Handover are named tuples, as kinds.Window: a day of a thousand terminals
# plans a million handovers, and a frozen dataclass takes four times as long to make


class Event(NamedTuple):
    action: Action
    t_s: float


class Handover(NamedTuple):
    """One handover of a serving sequence. ``overlap_s``: old LOS minus new AOS (negative
    across a coverage gap); ``margin_s``: old LOS minus the SET_PRIMARY ack (LM_UPDATE),
    ``guard_s`` or more when feasible (up to the RTT's drift between the switch and
    LOS − guard); ``outage_s``: predicted loss of connectivity."""

    from_ap: str
    to_ap: str
    feasible: bool
    overlap_s: float
    outage_s: float
    margin_s: float
    events: tuple[Event, ...]


def select(policy: Policy, windows: Sequence[Window], duration_s: float, timing: Timing,
           rtt_bound_s: float, *, geometry: Geometry | None = None,
           selection: Selection = Selection(), path_delay=None,
           link_budget=None) -> list[Serve]:
    """Return the serving sequence ``policy`` picks for one mobile over [0, duration_s].

    ``rtt_bound_s`` bounds the round trip over any access point (it decides whether an
    overlap is long enough); ``geometry`` is needed by max-elevation and strongest-signal,
    ``path_delay(window indices, t_s)`` (one-way ms, NaN: no path) by PATH_POLICIES.
    ``link_budget`` (a :class:`~sigma_sn.path.linkbudget.LinkBudget`): strongest-signal
    ranks by its SNR instead of the selection's received power (:func:`metric_of`).
    """
    if policy in PATH_POLICIES:
        if path_delay is None:
            raise ValueError(f"policy {policy.value} needs the path delays (a [path] section)")
        names: dict[str, int] = {}
        ap = [names.setdefault(w.ap, len(names)) for w in windows]
        return serves(*select_path(policy, [w.aos_s for w in windows],
                                   [w.los_s for w in windows], ap, duration_s, timing,
                                   rtt_bound_s, path_delay, selection=selection))
    if policy is Policy.MIN_HANDOVERS:
        seq = min_handovers(windows, duration_s, _need_s(timing, rtt_bound_s),
                            timing.guard_s)
        return [Serve(i) for i in seq]
    if policy is Policy.LONGEST_VISIBILITY:
        return [Serve(i) for i in longest_visibility(windows, duration_s, timing.guard_s)]
    if policy is Policy.LEAST_LOAD:  # one mobile alone never meets a full access point
        return select_least_load({"": windows}, {}, duration_s, timing, rtt_bound_s,
                                 selection=selection)[""]
    if geometry is None:
        raise ValueError(f"policy {policy.value} needs the geometry (look angles)")
    metric, margin = metric_of(policy, selection, link_budget)
    return hysteresis(windows, duration_s, geometry, metric, margin, selection.min_dwell_s,
                      selection.decision_step_s, timing.guard_s + rtt_bound_s)


def select_on_grid(policy: Policy, aos_s, los_s, duration_s: float, timing: Timing,
                   rtt_bound_s: float, look, *, selection: Selection = Selection(),
                   link_budget=None, exact=None) -> tuple[np.ndarray, np.ndarray]:
    """``select`` for max-elevation or strongest-signal on a mobile's window columns (AOS,
    LOS) with the look angles at its decision-grid samples computed beforehand: ``look``
    has the layout :func:`~sigma_sn.planner.policies.walk` reads and ``elev_deg``,
    ``range_km`` per sample (the planner's :meth:`~sigma_sn.planner.sky.Sky.grid_look`).
    Returns the sequence as columns (:func:`~sigma_sn.planner.policies.serves` makes it
    Serves). ``link_budget``: as :func:`select`. Where ``look`` was interpolated
    (``pos_err_km``), ``exact(samples)`` gives SGP4's own elevations and ranges at those
    samples, and the sequence is the one they give everywhere."""
    metric, margin = metric_of(policy, selection, link_budget)
    args = (look, aos_s, los_s, duration_s, margin, selection.min_dwell_s,
            selection.decision_step_s, timing.guard_s + rtt_bound_s)
    err_km = look.pos_err_km
    if exact is None or not err_km.any():
        return walk(metric(look.elev_deg, look.range_km), *args)
    # interpolated look angles: walk with each value's slack; where a decision could go
    # the other way within it, take SGP4's own look angles at that grid index and walk
    # again, so the sequence is the one exact look angles give
    elev_deg, range_km, err_km = look.elev_deg.copy(), look.range_km.copy(), err_km.copy()
    while True:
        value = metric(elev_deg, range_km)
        index, switch_s, fragile = walk_within(
            value, _slack(metric, value, elev_deg, range_km, err_km), *args)
        if not len(fragile):
            return index, switch_s
        k = np.flatnonzero(np.isin(look.g, fragile) & (err_km > 0.0))
        elev_deg[k], range_km[k] = exact(k)
        err_km[k] = 0.0


def _slack(metric, value, elev_deg, range_km, err_km) -> np.ndarray:
    """A bound on how far ``metric`` at each sample can be from its value at SGP4's
    positions, given each position's error bound ``err_km``: the range moves by at most
    that, the direction (so the elevation) by at most its angle at the range less it.
    One bound for all: the metrics of metric_of are a function of the range plus one of
    the elevation, each changing fastest at the least range and the lowest elevation, so
    twice the largest change over the corners there bounds every sample's."""
    on = err_km > 0.0
    slack = np.zeros(len(value))
    if not on.any():
        return slack
    e_km = float(err_km.max())
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        r0, e0 = float(np.min(range_km[on])), float(np.min(elev_deg[on]))
        d_elev = float(np.degrees(e_km / max(r0 - e_km, 1e-3))) * 1.01
        v0 = metric(np.array([e0]), np.array([r0]))[0]
        worst = max(abs(metric(np.array([e0 + se * d_elev]), np.array([r0 + sr * e_km]))[0]
                        - v0) for se in (-1.0, 1.0) for sr in (-1.0, 1.0))
    bound = 2.0 * worst if 2.0 * worst < np.inf else np.inf   # NaN: unknown
    slack[on] = bound
    return slack


def select_path(policy: Policy, aos_s, los_s, ap, duration_s: float, timing: Timing,
                rtt_bound_s: float, path_delay, *, selection: Selection = Selection()
                ) -> tuple[np.ndarray, np.ndarray]:
    """``select`` for min-path-delay or min-handovers-delay on a mobile's window columns
    (AOS, LOS, an integer code per access point) and ``path_delay(window indices, t_s)``
    (one-way ms, NaN: no path). Returns the sequence as columns, as :func:`select_on_grid`."""
    step_s, lead_s = selection.decision_step_s, timing.guard_s + rtt_bound_s
    if policy is Policy.MIN_PATH_DELAY:
        return pathpolicy.min_path_delay(aos_s, los_s, path_delay, duration_s,
                                         selection.delay_margin_ms, selection.min_dwell_s,
                                         step_s, lead_s)
    if policy is Policy.MIN_HANDOVERS_DELAY:
        return pathpolicy.min_handovers_delay(aos_s, los_s, ap, path_delay, duration_s,
                                              selection.handover_weight_ms_s, step_s, lead_s)
    raise ValueError(f"policy {policy.value} does not read the path")


def metric_of(policy: Policy, selection: Selection, link_budget=None):
    """The metric a geometry-driven policy follows and the margin a switch must win by.

    Strongest-signal ranks by ``link_budget``'s SNR where the plan has one (a scenario
    with a ``[path]``: the numbers the replay's loss follows), else by the selection's
    received power; either way ``signal_margin_db`` is a difference of decibels, which
    the constant terms of the SNR (gain, noise, symbol rate) leave alone."""
    if policy is Policy.MAX_ELEVATION:
        def metric(elev_deg, range_km):
            return elev_deg
        return metric, selection.elev_margin_deg
    if link_budget is not None:
        def snr(elev_deg, range_km):
            return snr_db(range_km, elev_deg, link_budget)
        return snr, selection.signal_margin_db

    def power(elev_deg, range_km):
        return received_power_dbw(elev_deg, range_km, selection)
    return power, selection.signal_margin_db


def select_columns(policy: Policy, aos_s, los_s, ap, duration_s: float, timing: Timing,
                   rtt_bound_s: float) -> tuple[np.ndarray, np.ndarray]:
    """``select`` for min-handovers or longest-visibility on a mobile's window columns:
    AOS, LOS and an integer code per access point (the planner's, so no Window is made to
    choose). Returns the sequence as columns, as :func:`select_on_grid`."""
    if policy is Policy.MIN_HANDOVERS:
        seq = min_handovers_arrays(aos_s, los_s, ap, duration_s,
                                   _need_s(timing, rtt_bound_s), timing.guard_s)
    elif policy is Policy.LONGEST_VISIBILITY:
        seq = longest_visibility_arrays(aos_s, los_s, duration_s, timing.guard_s)
    else:
        raise ValueError(f"policy {policy.value} does not choose from columns alone")
    return seq, np.full(len(seq), np.nan)


def _need_s(timing: Timing, rtt_bound_s: float) -> float:
    """The overlap a clean handover needs: the new address up and acknowledged, then the
    SET_PRIMARY acknowledged, each over the slowest link."""
    return timing.setup_s + 2 * rtt_bound_s


def select_least_load(candidates: Mapping[str, Sequence[Window]],
                      capacity: Mapping[str, float], duration_s: float, timing: Timing,
                      rtt_bound_s: float, *, geometry: Mapping[str, Geometry] | None = None,
                      selection: Selection = Selection(), demand: float = 1,
                      path_spans=None) -> dict[str, list[Serve]]:
    """Return every mobile's serving sequence under least-load, decided jointly:
    ``candidates`` maps mobile -> its windows, ``capacity`` maps AP -> the ``demand`` it
    carries at once (default: mobiles; APs missing from it are unlimited).
    ``path_spans``: mobile -> per window the spans with a path to the correspondent
    (:func:`~sigma_sn.planner.pathpolicy.path_spans`; None: no path model).
    ``geometry`` is accepted for symmetry with ``select``; the load rule does not need
    look angles."""
    return least_load(candidates, capacity, duration_s, timing.setup_s, timing.guard_s,
                      rtt_bound_s, selection.min_dwell_s, demand=demand,
                      path_spans=path_spans)


def handovers(windows: Sequence[Window], sequence: Sequence[Serve], timing: Timing,
              rtt_s: Callable[[str, float], float]) -> list[Handover]:
    """Turn a serving sequence into SIGMA-SN events (DESIGN.md timing table), one
    handover at a time: the readable model. The planner runs the same arithmetic on
    arrays (:func:`sigma_sn.planner.events.timing`), held to these floats by the tests.

    ``rtt_s(ap, t_s)``: round trip over access point ``ap`` at ``t_s`` (slant range
    both ways plus the terrestrial segment). A handover across a gap (the new window rises
    after the old one sets, or ``switch_s`` is at or after the old LOS) is a hard handover
    whose outage is the gap plus the time to bring the new path up.

    Consecutive entries on the same access point (its next pass after a gap) are no
    handover: the mobile keeps its address there, so nothing is signalled and the gap is
    an outage. The result has one entry per change of access point, in order
    (:func:`changes` gives their positions in ``sequence``).
    """
    if not sequence:
        return []
    out = []
    first = windows[sequence[0].index]
    primary_since = _resumed_s(first, sequence[0])
    rises: dict[str, list[float]] = {}  # AOS times per access point, for the zig-zag test
    for w in windows:
        rises.setdefault(w.ap, []).append(w.aos_s)
    for times in rises.values():
        times.sort()
    last_use = {s.index: k for k, s in enumerate(sequence)}
    guard, setup_s, lifetime_s = timing.guard_s, timing.setup_s, timing.address_lifetime_s
    for k in range(1, len(sequence)):
        a, b = windows[sequence[k - 1].index], windows[sequence[k].index]
        if a.ap == b.ap:  # re-acquired: the path comes back with the same address
            primary_since = max(primary_since, _resumed_s(b, sequence[k]) + setup_s)
            continue
        switch_s = sequence[k].switch_s
        waits = switch_s is not None and switch_s >= a.los_s  # the policy leaves a gap
        t_up = max(b.aos_s, switch_s) if waits else b.aos_s
        t_ready = t_up + setup_s
        t_add = max(t_ready, primary_since)
        # ASCONFs travel over the old primary; its ack must be back before LOS_A - guard
        lo = t_add + rtt_s(a.ap, t_add)
        hi = a.los_s - guard - rtt_s(a.ap, a.los_s - guard)
        feasible = not waits and lo <= hi
        if feasible:
            t_sp = min(max(switch_s if switch_s is not None else lo, lo), hi)
            t_lm = t_sp + rtt_s(a.ap, t_sp)
            t_del = a.los_s - guard
            outage = 0.0
        else:  # hard handover: the old path is gone before the switch completes
            rtt_b = rtt_s(b.ap, t_add)
            t_sp = t_add + rtt_b
            t_lm = t_sp + rtt_b
            t_del = t_lm
            outage = max(0.0, t_lm - a.los_s)
        later = rises[a.ap]
        k_next = bisect.bisect_right(later, a.los_s)
        comes_back = (k_next < len(later)
                      and later[k_next] <= t_del + lifetime_s)
        if last_use[sequence[k - 1].index] > k - 1:
            # the same pass serves again later (ping-pong): keep the address, zero window
            comes_back, t_del = True, min(t_del, t_lm)
        retire = Action.DEACTIVATE if comes_back else Action.DELETE_IP
        events = (Event(Action.ADDRESS_READY, t_ready), Event(Action.ADD_IP, t_add),
                  Event(Action.SET_PRIMARY, t_sp), Event(Action.LM_UPDATE, t_lm),
                  Event(retire, t_del))
        out.append(Handover(a.ap, b.ap, feasible, a.los_s - b.aos_s, outage,
                            a.los_s - t_lm, events))
        primary_since = t_sp
    return out


def changes(windows: Sequence[Window], sequence: Sequence[Serve]) -> list[int]:
    """Return the positions ``k`` in ``sequence`` where the access point changes (entry
    ``k - 1`` -> ``k`` is a handover): the i-th handover :func:`handovers` returns enters
    ``sequence[changes(...)[i]]``."""
    return [k for k in range(1, len(sequence))
            if windows[sequence[k - 1].index].ap != windows[sequence[k].index].ap]


def _resumed_s(w: Window, serve: Serve) -> float:
    """When serving on ``w`` starts without a handover into it: the first entry, or the
    same access point's next pass (at its AOS, or later when the policy waited)."""
    return max(w.aos_s, serve.switch_s or w.aos_s)
