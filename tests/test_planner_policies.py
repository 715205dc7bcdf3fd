"""The five selection policies on crafted windows with closed-form look angles.

Passes rise and set at 0° (the fake mask) with elevation ``max_elev·sin(π·(t−AOS)/(LOS−AOS))``;
the slant range is ``altitude / sin(elev)`` (flat Earth), so a low satellite can beat a
higher one on signal while losing on elevation. Max-elevation and strongest-signal are
also checked against a plain per-time loop that applies the same rule.
"""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from sigma_sn.planner.core import changes, handovers, select, select_least_load
from sigma_sn.planner.kinds import PATH_POLICIES, Action, Policy, Selection, Serve, Window
from sigma_sn.planner.policies import received_power_dbw
from tests.test_planner_core import LEAD_S, RTT_S, TIMING, check_invariants, rtt

#: the policies that choose from windows and look angles (the path's own: test_planner_path)
GEOMETRY_OR_WINDOWS = [p for p in Policy if p not in PATH_POLICIES]

# the pure rules, without the default hysteresis (kinds.Selection explains the defaults)
PURE = Selection(min_dwell_s=0.0, elev_margin_deg=0.0, signal_margin_db=0.0)
ALT_KM = {"A": 500.0, "B": 1200.0, "C": 500.0, "D": 1200.0, "E": 500.0}


class Passes:
    """Look angles of sine-shaped passes; ``wobble`` adds ``amp·sin(2πt/period + phase)``."""

    def __init__(self, windows, alt_km=None, wobble=None):
        self.by_ap = {}
        for w in windows:
            self.by_ap.setdefault(w.ap, []).append(w)
        for ws in self.by_ap.values():
            ws.sort(key=lambda w: w.aos_s)
        self.alt_km = alt_km or {}
        self.wobble = wobble or {}
        self.calls = []

    def look(self, ap, t_s):
        t = np.asarray(t_s, dtype=float)
        self.calls.append((ap, len(t)))
        ws = self.by_ap[ap]
        k = np.clip(np.searchsorted([w.aos_s for w in ws], t, side="right") - 1, 0, None)
        aos = np.array([w.aos_s for w in ws])[k]
        los = np.array([w.los_s for w in ws])[k]
        top = np.array([w.max_elev_deg for w in ws])[k]
        up = (t >= aos) & (t <= los)
        elev = np.where(up, top * np.sin(np.pi * (t - aos) / (los - aos)), -1.0)
        if ap in self.wobble:
            amp, period, phase = self.wobble[ap]
            elev = elev + amp * np.sin(2 * np.pi * t / period + phase)
        sin_e = np.sin(np.radians(np.maximum(elev, 0.01)))
        return elev, self.alt_km.get(ap, 550.0) / sin_e


def aps(windows, seq):
    return [windows[s.index].ap for s in seq]


def elevation(elev_deg, range_km):
    return elev_deg


def reference(windows, duration_s, geometry, metric, margin, dwell_s, step_s):
    """The hysteresis rule, one grid time at a time (slow and plain, for comparison)."""
    def value(i, t):
        e, r = geometry.look(windows[i].ap, np.array([t]))
        return float(metric(e, r)[0])

    def candidate(i, t):  # the planner forgives 1e-9 of a step of rounding in t / step_s
        tol = 1e-9 * step_s
        return (max(windows[i].aos_s, 0.0) - tol <= t < windows[i].los_s - LEAD_S - tol
                and t <= duration_s)

    def best(t, ok):
        found = [(-value(i, t), i) for i in range(len(windows)) if candidate(i, t) and ok(i)]
        return min(found)[1] if found else -1

    def next_rising(t, min_los, c):
        found = [(max(w.aos_s, t), -w.los_s, i) for i, w in enumerate(windows)
                 if i != c and w.los_s > max(t, min_los)]
        return min(found)[2] if found else -1

    c = best(0.0, lambda i: True)
    c = c if c >= 0 else next_rising(0.0, 0.0, -1)
    seq, since = [Serve(c)], max(windows[c].aos_s, 0.0)
    while True:
        forced = windows[c].los_s - LEAD_S
        g_forced = math.floor(forced / step_s + 1e-9)
        switched = False
        for g in range(g_forced):
            t = g * step_s
            if t > since and t >= since + dwell_s - 1e-9 and candidate(c, t):
                b = best(t, lambda i: True)
                if value(b, t) - value(c, t) > margin:
                    c, since, switched = b, t, True
                    seq.append(Serve(c, t))
                    break
        if switched:
            continue
        if forced >= duration_s:
            return seq
        t_dec = g_forced * step_s
        on_grid = t_dec > since
        los_c = windows[c].los_s
        nxt = best(t_dec, lambda i: i != c and windows[i].los_s > los_c) if on_grid else -1
        t_dec = t_dec if on_grid else max(forced, since)
        if nxt < 0:
            nxt = next_rising(t_dec, los_c, c)
            if nxt < 0:
                return seq
        if windows[nxt].aos_s <= t_dec:
            seq.append(Serve(nxt, t_dec))
            since = t_dec
        else:
            seq.append(Serve(nxt))
            since = windows[nxt].aos_s
        c = nxt


# A, then B and C rise (C 5 s before A sets), D and E late; B and D fly at 1200 km,
# A, C, E at 500 km. Each policy's rule picks a different sequence:
FIVE = [Window("A", 0, 100, 30), Window("B", 50, 400, 80), Window("C", 95, 450, 40),
        Window("D", 300, 1000, 50), Window("E", 380, 990, 20)]


def test_each_policy_picks_the_sequence_its_rule_implies():
    geo = Passes(FIVE, ALT_KM)
    got = {p: select(p, FIVE, 1000, TIMING, RTT_S, geometry=geo, selection=PURE)
           for p in GEOMETRY_OR_WINDOWS if p is not Policy.LEAST_LOAD}
    # least-load: a second terminal holds D (one place) since 290 s
    blocker = [Window("D", 290, 1000, 60)]
    joint = select_least_load({"M": FIVE, "X": blocker}, {"D": 1}, 1000, TIMING, RTT_S,
                              selection=PURE)
    got[Policy.LEAST_LOAD] = joint["M"]
    assert [s.index for s in joint["X"]] == [0]
    names = {p: aps(FIVE, seq) for p, seq in got.items()}
    # longest remaining visibility at each forced decision: C (LOS 450) over B, then D
    assert names[Policy.LONGEST_VISIBILITY] == ["A", "C", "D"]
    # two handovers either way; A-B-D keeps the smallest overlap widest (50 s, not 5 s)
    assert names[Policy.MIN_HANDOVERS] == ["A", "B", "D"]
    # B overtakes A in elevation at 80 s, C overtakes B at 360 s, D overtakes C at 400 s
    assert [(n, s.switch_s) for n, s in zip(names[Policy.MAX_ELEVATION],
                                           got[Policy.MAX_ELEVATION])] == [
        ("A", None), ("B", 80.0), ("C", 360.0), ("D", 400.0)]
    # signal ~ sin(elev)/altitude: the 500 km E beats D around its peak, D wins late again
    assert names[Policy.STRONGEST_SIGNAL] == ["A", "B", "C", "D", "E", "D"]
    # like longest-visibility, but D is full at C's forced decision: E instead
    assert names[Policy.LEAST_LOAD] == ["A", "C", "E"]
    assert got[Policy.LEAST_LOAD][2].switch_s == pytest.approx(450 - LEAD_S)
    assert len({tuple(n) for n in names.values()}) == 5
    # the geometric ones follow their rule, step by step
    for policy, metric in ((Policy.MAX_ELEVATION, elevation),
                           (Policy.STRONGEST_SIGNAL,
                            lambda e, r: received_power_dbw(e, r, Selection()))):
        assert got[policy] == reference(FIVE, 1000, geo, metric, 0.0, 0.0, 10.0)
    for seq in got.values():
        check_invariants(FIVE, seq, handovers(FIVE, seq, TIMING, rtt))


def test_geometry_is_asked_once_per_access_point():
    geo = Passes(FIVE, ALT_KM)
    select(Policy.MAX_ELEVATION, FIVE, 1000, TIMING, RTT_S, geometry=geo)
    assert sorted(ap for ap, _ in geo.calls) == sorted(ALT_KM)


def test_strongest_signal_is_free_space_loss_and_cosecant_atmosphere():
    sel = Selection(frequency_hz=12e9, eirp_dbw=40.0, atmospheric_zenith_db=0.5)
    # 1000 km at 12 GHz; at 30° the atmosphere costs twice A_z
    p = received_power_dbw(np.array([30.0]), np.array([1000.0]), sel)
    fspl = 20 * math.log10(4 * math.pi * 1e6 * 12e9 / 299_792_458.0)
    assert p[0] == pytest.approx(40.0 - fspl - 1.0)
    # the link-budget textbook form: 92.45 + 20·log10(d / km) + 20·log10(f / GHz)
    assert fspl == pytest.approx(92.45 + 60.0 + 20 * math.log10(12.0), abs=0.01)
    # the atmosphere alone can change the pick: a near, low pass loses to a far, high one
    windows = [Window("A", -1000, 1000, 12), Window("B", -1000, 1000, 70)]
    geo = Passes(windows, {"A": 100.0, "B": 500.0})
    clear = select(Policy.STRONGEST_SIGNAL, windows, 400, TIMING, RTT_S, geometry=geo,
                   selection=PURE)
    rainy = select(Policy.STRONGEST_SIGNAL, windows, 400, TIMING, RTT_S, geometry=geo,
                   selection=dataclasses.replace(PURE, atmospheric_zenith_db=3.0))
    assert aps(windows, clear) == ["A"] and aps(windows, rainy) == ["B"]


def test_nothing_is_served_after_the_plan_ends():
    windows = [Window("A", 0, 300, 40), Window("B", 400, 700, 40)]
    geo = Passes(windows)
    for policy in GEOMETRY_OR_WINDOWS:
        seq = select(policy, windows, 350, TIMING, RTT_S, geometry=geo)
        assert [s.index for s in seq] == [0], policy


def test_geometric_policies_need_geometry():
    with pytest.raises(ValueError, match="geometry"):
        select(Policy.MAX_ELEVATION, FIVE, 1000, TIMING, RTT_S)


@pytest.mark.parametrize("policy, margin", [(Policy.MAX_ELEVATION, {"elev_margin_deg": 5.0}),
                                            (Policy.STRONGEST_SIGNAL, {"signal_margin_db": 1.0})])
def test_hysteresis_stops_ping_pong(policy, margin):
    # two passes at the same height cross slowly at 1500 s (0.044°/s apart) while their
    # elevations wobble in opposition by ±2° (±4° apart, ~0.7 dB of signal)
    windows = [Window("A", -3000, 3000, 60), Window("B", 0, 6000, 60)]
    geo = Passes(windows, {"A": 550.0, "B": 550.0},
                 wobble={"A": (2.0, 30.0, 0.0), "B": (2.0, 30.0, math.pi)})

    def switches(**kw):
        seq = select(policy, windows, 3000, TIMING, RTT_S, geometry=geo,
                     selection=dataclasses.replace(PURE, **kw))
        check_invariants(windows, seq, handovers(windows, seq, TIMING, rtt))
        return seq

    plain = switches()
    assert len(plain) - 1 >= 6   # ping-pong around the crossing
    assert aps(windows, plain)[:3] == ["A", "B", "A"]
    # a margin above the wobble: one switch, once B is clearly ahead
    (a, b) = switches(**margin)
    assert (a.index, b.index) == (0, 1) and b.switch_s > 1500
    # a dwell: fewer switches, never two within the dwell
    dwelled = switches(min_dwell_s=60.0)
    assert 1 <= len(dwelled) - 1 < len(plain) - 1
    starts = [s.switch_s for s in dwelled[1:]]
    assert all(t1 - t0 >= 60.0 for t0, t1 in zip(starts, starts[1:]))


def test_ping_pong_within_a_pass_deactivates_the_address():
    windows = [Window("A", -2000, 2000, 60), Window("B", 0, 4000, 60)]
    seq = [Serve(0), Serve(1, 500.0), Serve(0, 700.0), Serve(1, 1500.0)]
    plan = handovers(windows, seq, TIMING, rtt)
    # A's pass serves again at 700 s: its address is kept, not deleted at 1998 s
    retire = plan[0].events[-1]
    assert retire.action is Action.DEACTIVATE and retire.t_s < 700.0
    assert plan[2].events[-1].action is Action.DELETE_IP
    check_invariants(windows, seq, plan)


def served_intervals(windows, seq, plan, duration_s):
    """(ap, from_s, to_s) of each entry: from its SET_PRIMARY (or start) to the next
    SET_PRIMARY, or to its LOS when the next one comes after it."""
    if not seq:   # never found a place
        return []
    starts = [max(windows[s.index].aos_s, s.switch_s or 0.0, 0.0) for s in seq]
    for k, h in zip(changes(windows, seq), plan):  # the same AP's next pass: no handover
        starts[k] = next(e.t_s for e in h.events if e.action is Action.SET_PRIMARY)
    out = []
    for k, s in enumerate(seq):
        w = windows[s.index]
        end = min(w.los_s, starts[k + 1]) if k + 1 < len(seq) else min(w.los_s, duration_s)
        out.append((w.ap, starts[k], end))
    return out


def test_least_load_waits_for_a_place_and_never_overfills():
    # six terminals, two satellites S1 (2 places) and S2 (1 place) up for all of them;
    # S3 rises at 600 s with room for everyone
    def cands(shift):
        return [Window("S1", 0 + shift, 500 + shift), Window("S2", 100, 700),
                Window("S3", 600, 2000)]
    candidates = {f"T{k}": cands(10 * k) for k in range(6)}
    capacity = {"S1": 2, "S2": 1}
    plans = select_least_load(candidates, capacity, 2000, TIMING, RTT_S, selection=PURE)
    intervals = []
    waited = []
    for m, seq in plans.items():
        ws = candidates[m]
        plan = handovers(ws, seq, TIMING, rtt)
        check_invariants(ws, seq, plan)
        intervals += served_intervals(ws, seq, plan, 2000)
        # what the policy counted: from each switch to the next, or to LOS across a gap
        for k, s in enumerate(seq):
            if s.wait_from_s is not None:
                waited.append((m, s))
                assert s.switch_s > s.wait_from_s
                if k:  # a gap: hard handover, its outage covers the wait
                    assert not plan[k - 1].feasible
                    assert plan[k - 1].outage_s >= s.switch_s - ws[seq[k - 1].index].los_s
    for ap, cap in capacity.items():
        mine = [(t0, t1) for a, t0, t1 in intervals if a == ap]
        for t in sorted({t0 for t0, _ in mine}):   # the load peaks where someone joins
            assert sum(t0 <= t < t1 for t0, t1 in mine) <= cap, (ap, t)
    # three places on S1 and S2 until S3 rises at 600 s: T2 waits for S2 to rise, T3-T5
    # wait for S1 to free, and whoever sets before 600 s waits for S3
    got = {m: [(candidates[m][s.index].ap, s.switch_s, s.wait_from_s) for s in seq]
           for m, seq in plans.items()}
    assert got == {
        "T0": [("S1", None, None), ("S3", 600, 500)],
        "T1": [("S1", None, None), ("S3", 600, 510)],
        "T2": [("S2", 100, 20), ("S3", pytest.approx(600 + TIMING.setup_s + RTT_S), None)],
        "T3": [("S1", 500, 30), ("S3", 600, 530)],    # S1 freed by T0 at its LOS
        "T4": [("S1", 510, 40), ("S3", 600, 540)],
        "T5": [("S1", 530, 50), ("S3", 600, 550)]}
    assert len(waited) == 9


def test_least_load_prefers_the_emptier_satellite_and_moves_after_the_dwell():
    # S1 holds 2 of 4 places when S2 (4 places, empty) rises at 100 s: the terminals move
    # there once their dwell is over, until both are equally loaded (1/4 vs 1/4 is no gain)
    candidates = {f"T{k}": [Window("S1", 0, 1000), Window("S2", 100, 1000)] for k in range(2)}
    capacity = {"S1": 4, "S2": 4}
    quick = select_least_load(candidates, capacity, 1000, TIMING, RTT_S, selection=PURE)
    assert [[s.index for s in seq] for seq in quick.values()] == [[0, 1], [0]]
    assert quick["T0"][1].switch_s == pytest.approx(100 + TIMING.setup_s + RTT_S)
    slow = select_least_load(candidates, capacity, 1000, TIMING, RTT_S,
                             selection=Selection(min_dwell_s=250.0))
    assert slow["T0"][1].switch_s == pytest.approx(250.0)


def test_least_load_sees_every_window_rising_at_the_same_instant():
    # all up at the start: the emptier satellite, then on a tie the longer visibility
    windows = [Window("S1", 0, 100), Window("S2", 0, 500), Window("S3", 0, 400)]
    assert [s.index for s in select(Policy.LEAST_LOAD, windows, 500, TIMING, RTT_S,
                                    selection=PURE)] == [1]
    # S2 has one place: T0 takes it, T1 the longer of the unlimited ones (S3); once S3 is
    # usable T0 finds it emptier than its full S2 and moves; at S3's forced decision T0
    # goes back to S2 (first in turn) and T1, finding S2 full, holds S3 to its LOS and
    # then waits in vain
    seqs = select_least_load({"T0": windows, "T1": windows}, {"S2": 1}, 500, TIMING, RTT_S,
                             selection=PURE)
    assert {m: [s.index for s in seq] for m, seq in seqs.items()} == {"T0": [1, 2, 1],
                                                                      "T1": [2]}
    assert seqs["T0"][1].switch_s == pytest.approx(TIMING.setup_s + RTT_S)
    assert seqs["T0"][2].switch_s == pytest.approx(400 - LEAD_S)


def test_selection_names_the_bad_field():
    for field, bad in (("min_dwell_s", -1.0), ("decision_step_s", 0.0),
                       ("frequency_hz", float("nan")), ("ap_capacity", 0),
                       ("ap_capacity", True), ("eirp_dbw", "40")):
        with pytest.raises(ValueError, match=f"^{field}: "):
            Selection(**{field: bad})


def _covered(windows, seq, duration_s):
    """Seconds of [0, duration_s] inside the union of [switch-in, LOS] of the entries."""
    spans = sorted((max(windows[s.index].aos_s, s.switch_s or 0.0, 0.0),
                    min(windows[s.index].los_s, duration_s)) for s in seq)
    total, reach = 0.0, 0.0
    for t0, t1 in spans:
        if t1 > max(t0, reach):
            total += t1 - max(t0, reach)
            reach = t1
    return total


windows_strategy = st.lists(
    st.tuples(st.integers(0, 5), st.floats(0, 2000), st.floats(20, 600), st.floats(5, 90)),
    min_size=1, max_size=20)


def _passes(rows):
    windows, last_los = [], {}
    for ap, aos, dur, top in sorted(rows):   # an AP's passes of one mobile never overlap
        if aos > last_los.get(ap, -1.0):
            windows.append(Window(f"S{ap}", aos, aos + dur, top))
            last_los[ap] = aos + dur
    return windows


@settings(max_examples=150, deadline=None, derandomize=True)
@given(windows_strategy, st.sampled_from([0.0, 60.0]))
def test_min_handovers_never_needs_more_handovers_than_any_policy(rows, dwell_s):
    windows = _passes(rows)
    geo = Passes(windows, {f"S{k}": 400.0 + 250.0 * k for k in range(6)})
    sel = dataclasses.replace(PURE, min_dwell_s=dwell_s)
    seqs = {p: select(p, windows, 2600, TIMING, RTT_S, geometry=geo, selection=sel)
            for p in GEOMETRY_OR_WINDOWS}
    best = seqs[Policy.MIN_HANDOVERS]
    for policy, seq in seqs.items():
        assert (len(changes(windows, best)) <= len(changes(windows, seq))
                or _covered(windows, best, 2600) > _covered(windows, seq, 2600) + 1e-6), policy
        check_invariants(windows, seq, handovers(windows, seq, TIMING, rtt))
    assert seqs[Policy.MAX_ELEVATION] == reference(windows, 2600, geo, elevation, 0.0,
                                                   dwell_s, 10.0)
    assert seqs[Policy.STRONGEST_SIGNAL] == reference(
        windows, 2600, geo, lambda e, r: received_power_dbw(e, r, sel), 0.0, dwell_s, 10.0)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(windows_strategy, min_size=2, max_size=5), st.sampled_from([0.0, 100.0]))
# T0 leaves a full S0 for S2 the moment S2 is usable and T1 takes its place: both times
# must be the same float (256 + 0.14 is not 256.1 + 0.04)
@example([[(0, 0.0, 259.0, 5.0), (2, 256.0, 20.0, 5.0)], [(0, 0.0, 259.0, 5.0)]], 0.0)
def test_least_load_never_overfills_an_access_point(mobiles, dwell_s):
    candidates = {f"T{k}": _passes(rows) for k, rows in enumerate(mobiles)}
    capacity = {"S0": 1, "S1": 1, "S2": 2}   # S3-S5 unlimited
    plans = select_least_load(candidates, capacity, 2600, TIMING, RTT_S,
                              selection=dataclasses.replace(PURE, min_dwell_s=dwell_s))
    intervals = []
    for m, seq in plans.items():
        plan = handovers(candidates[m], seq, TIMING, rtt)
        check_invariants(candidates[m], seq, plan)
        intervals += served_intervals(candidates[m], seq, plan, 2600)
    for ap, cap in capacity.items():
        mine = [(t0, t1) for a, t0, t1 in intervals if a == ap]
        for t in {t0 for t0, _ in mine}:
            assert sum(t0 <= t < t1 for t0, t1 in mine) <= cap, (ap, t)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(windows_strategy, min_size=2, max_size=5))
def test_least_load_without_capacities_is_each_mobile_alone(per_mobile):
    """The planner decides least-load per mobile (in parallel) when no access point has a
    capacity: no mobile's choice can depend on another's, so it must equal the joint run."""
    candidates = {f"T{k}": _passes(rows) for k, rows in enumerate(per_mobile)}
    joint = select_least_load(candidates, {}, 2600, TIMING, RTT_S)
    for m, windows in candidates.items():
        assert select(Policy.LEAST_LOAD, windows, 2600, TIMING, RTT_S) == joint[m]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(1, 15)), min_size=1, max_size=15),
       st.integers(-2, 40), st.integers(-2, 40))
def test_first_up_is_the_longest_up_else_the_first_to_rise(rows, t, min_los):
    """The fallback of the geometry policies: among windows setting after max(t, min_los),
    the one up at t that sets last (lowest index on a tie), else the first to rise after
    t (the longest, then the lowest index, on a tie). Whole numbers make ties common."""
    from sigma_sn.planner.policies import _first_up

    aos = [float(a) for a, _ in rows]
    los = [float(a + d) for a, d in rows]
    floor = max(t, min_los)
    up = [i for i in range(len(aos)) if aos[i] <= t]
    best_up = min(up, key=lambda i: (-los[i], i)) if up else None
    if best_up is not None and los[best_up] > floor:
        want = best_up
    else:
        later = [i for i in range(len(aos)) if aos[i] > t and los[i] > floor]
        want = min(later, key=lambda i: (aos[i], -los[i], i)) if later else -1
    assert _first_up(np.array(aos), np.array(los), float(t), float(min_los)) == want


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(-50, 600), st.integers(0, 150),
                          st.sampled_from([0.0, 0.25, 0.5000005])),
                min_size=1, max_size=30),
       st.sampled_from([0.0, 5.0, 40.0]), st.sampled_from([600.0, 700.5]))
# A→X→D and A→Y→D both cover all and take two handovers; X's overlaps (3 s, 3 s) are both
# too short, Y's (1 s, 100 s) only one: fewer infeasible handovers beats a wider smallest one
@example([(0, 0, 100, 0.0), (1, 97, 106, 0.0), (2, 99, 201, 0.0), (3, 200, 200, 0.0)],
         5.0, 600.0)
def test_min_handovers_kernel_is_the_readable_dp(rows, need_s, duration_s):
    """The compiled DP against the plain Python one, on windows with many ties: equal
    AOS and LOS, contained windows, the same AP's passes after gaps, overlaps too short to
    be feasible, windows before the start and past the end, half-microsecond boundaries.
    Same sequence, index for index."""
    from sigma_sn.planner.policies import min_handovers
    from tests.reference_policies import min_handovers as readable

    windows = [Window(f"S{ap}", aos + frac, aos + frac + dur) for ap, aos, dur, frac in rows]
    assert (min_handovers(windows, duration_s, need_s, TIMING.guard_s)
            == readable(windows, duration_s, need_s, TIMING.guard_s))


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(-50, 600), st.integers(0, 150),
                          st.sampled_from([0.0, 0.25])),
                min_size=0, max_size=30),
       st.sampled_from([0.0, 2.0, 40.0]), st.sampled_from([600.0, 700.5]))
def test_longest_visibility_kernel_is_the_heap_version(rows, guard_s, duration_s):
    """The compiled longest-visibility (a running best instead of a heap) against the
    plain heap version, on windows with equal AOS and LOS, contained ones, gaps and
    windows before the start: same sequence, index for index."""
    from sigma_sn.planner.policies import longest_visibility
    from tests.reference_policies import longest_visibility as readable

    windows = [Window(f"S{ap}", aos + frac, aos + frac + dur) for ap, aos, dur, frac in rows]
    assert (longest_visibility(windows, duration_s, guard_s)
            == readable(windows, duration_s, guard_s))


class _CoarseLooks:
    """Look 'angles' that are small whole numbers (ties everywhere) and sometimes NaN (a
    failed propagation), a pure function of (access point, time) and a seed."""

    def __init__(self, seed: int, nan_every: int):
        self.seed, self.nan_every = seed, nan_every

    def look(self, ap, t_s):
        k = np.asarray(t_s, float) // 10.0 * 13 + int(ap[1:]) * 7 + self.seed
        value = (k % 5).astype(float)
        if self.nan_every:
            value[k % self.nan_every == 0] = np.nan
        return value, np.ones_like(value)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(-50, 600), st.integers(0, 200),
                          st.sampled_from([0.0, 0.5])), max_size=8),
       st.integers(0, 50), st.sampled_from([0, 0, 11]), st.sampled_from([600.0, 605.0]),
       st.sampled_from([0.0, 1.0]), st.sampled_from([0.0, 20.0]),
       st.sampled_from([0.0, 2.5, 15.0]))
def test_hysteresis_walk_is_the_numpy_version(rows, seed, nan_every, duration_s, margin,
                                              dwell_s, lead_s):
    """The compiled walk against the numpy hysteresis it replaced: ties between equal
    values, NaN samples (no best there), windows before the start, half-step edges, both
    margins, dwells and forced leads. Same sequence, switch times included."""
    from sigma_sn.planner.policies import hysteresis
    from tests.reference_policies import hysteresis as readable

    windows = [Window(f"S{ap}", aos + frac, aos + frac + dur) for ap, aos, dur, frac in rows]
    geo = _CoarseLooks(seed, nan_every)
    args = (windows, duration_s, geo, elevation, margin, dwell_s, 10.0, lead_s)
    assert hysteresis(*args) == readable(*args)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(-50, 600), st.integers(0, 200)),
                max_size=8),
       st.integers(0, 2**32 - 1), st.sampled_from([0.0, 1.0]), st.sampled_from([0.0, 20.0]),
       st.sampled_from([0.0, 15.0]))
def test_walk_within_slack_is_the_walk_of_any_values_within_it(rows, seed, margin, dwell_s,
                                                               lead_s):
    """walk_within's promise: where it reports no open decision, every set of values
    within the slacks walks to the same sequence; with no slack it reports none. Values
    on a coarse lattice make ties and near-margin comparisons common."""
    from sigma_sn.planner.policies import Samples, walk, walk_within

    windows = [Window(f"S{ap}", float(aos), float(aos + dur)) for ap, aos, dur in rows]
    lay = Samples(windows, 600.0, 10.0, lead_s)
    rng = np.random.default_rng(seed)
    n = len(lay.g)
    value = rng.integers(0, 6, n) * 0.5
    slack = np.where(rng.random(n) < 0.5, 0.0, rng.choice([1e-3, 0.3], n))
    aos, los = [w.aos_s for w in windows], [w.los_s for w in windows]
    args = (lay, aos, los, 600.0, margin, dwell_s, 10.0, lead_s)
    index, switch_s, fragile = walk_within(value, slack, *args)
    assert not len(walk_within(value, np.zeros(n), *args)[2])
    if len(fragile):
        return
    for _ in range(5):
        moved = value + slack * rng.uniform(-1.0, 1.0, n)
        other = walk(moved, *args)
        assert np.array_equal(other[0], index)
        assert np.array_equal(other[1], switch_s, equal_nan=True)
