"""The selection and timing core on hand-made windows (constant 40 ms RTT)."""

from hypothesis import given, settings, strategies as st

from sigma_sn.planner.core import Timing, changes, handovers, select
from sigma_sn.planner.kinds import Action, Policy, Serve, Window

RTT_S = 0.04
TIMING = Timing()
LEAD_S = TIMING.guard_s + RTT_S   # a policy's forced decision comes this long before LOS


def rtt(ap, t_s):
    return RTT_S


def check_invariants(windows, sequence, plan):
    positions = changes(windows, sequence)
    assert len(positions) == len(plan)
    for j, h in zip(positions, plan):
        t = {e.action: e.t_s for e in h.events}
        retire = t.get(Action.DELETE_IP, t.get(Action.DEACTIVATE))
        a, b = windows[sequence[j - 1].index], windows[sequence[j].index]
        assert (h.from_ap, h.to_ap) == (a.ap, b.ap) and a.ap != b.ap
        assert t[Action.ADDRESS_READY] <= t[Action.ADD_IP] < t[Action.SET_PRIMARY]
        assert t[Action.SET_PRIMARY] <= t[Action.LM_UPDATE]
        assert t[Action.SET_PRIMARY] < retire
        assert t[Action.ADD_IP] > b.aos_s
        assert abs(h.margin_s - (a.los_s - t[Action.LM_UPDATE])) < 1e-9
        if h.feasible:
            assert retire < a.los_s
            assert h.margin_s >= TIMING.guard_s - 1e-9
            assert t[Action.SET_PRIMARY] < a.los_s
            switch = sequence[j].switch_s
            if switch is not None and t[Action.ADD_IP] + RTT_S <= switch <= a.los_s - LEAD_S:
                assert t[Action.SET_PRIMARY] == switch   # the policy's time is kept


def test_overlapping_chain_is_feasible_and_ordered():
    windows = [Window("A", 0, 300), Window("B", 200, 700), Window("C", 650, 1000)]
    seq = select(Policy.MIN_HANDOVERS, windows, 1000, TIMING, RTT_S)
    assert seq == [Serve(0), Serve(1), Serve(2)]
    plan = handovers(windows, seq, TIMING, rtt)
    assert all(h.feasible for h in plan)
    # switched as soon as the new address is acknowledged: B ready at 200.1, acked 200.14
    sp = [e.t_s for h in plan for e in h.events if e.action is Action.SET_PRIMARY]
    assert abs(sp[0] - (200 + TIMING.setup_s + RTT_S)) < 1e-9
    assert abs(plan[0].margin_s - (300 - sp[0] - RTT_S)) < 1e-9
    check_invariants(windows, seq, plan)


def test_short_overlap_is_a_hard_handover_with_its_outage():
    windows = [Window("A", 0, 300), Window("B", 299, 700)]
    seq = select(Policy.LONGEST_VISIBILITY, windows, 700, TIMING, RTT_S)
    (h,) = handovers(windows, seq, TIMING, rtt)
    assert not h.feasible
    # ready at 299.1 and switched at 299.14, before A sets at 300: no data outage
    assert h.outage_s == 0.0
    gap = [Window("A", 0, 300), Window("B", 400, 700)]
    (h,) = handovers(gap, [Serve(0), Serve(1)], TIMING, rtt)
    assert not h.feasible
    assert abs(h.outage_s - (400 + TIMING.setup_s + 2 * RTT_S - 300)) < 1e-9
    assert abs(h.margin_s + h.outage_s) < 1e-9


def test_preferred_switch_time_is_clamped_into_the_overlap():
    windows = [Window("A", 0, 300), Window("B", 200, 700)]
    for want, expect in ((250.0, 250.0), (100.0, 200 + TIMING.setup_s + RTT_S),
                         (299.0, 300 - TIMING.guard_s - RTT_S)):
        (h,) = handovers(windows, [Serve(0), Serve(1, want)], TIMING, rtt)
        t = {e.action: e.t_s for e in h.events}
        assert h.feasible
        assert abs(t[Action.SET_PRIMARY] - expect) < 1e-9
        assert abs(h.margin_s - (300 - expect - RTT_S)) < 1e-9


def test_waiting_past_the_old_los_is_a_gap_with_its_outage():
    # B is up from 200 but the policy switches only at 350 (e.g. waiting for capacity)
    windows = [Window("A", 0, 300), Window("B", 200, 700)]
    (h,) = handovers(windows, [Serve(0), Serve(1, 350.0)], TIMING, rtt)
    t = {e.action: e.t_s for e in h.events}
    assert not h.feasible
    assert abs(t[Action.ADDRESS_READY] - (350 + TIMING.setup_s)) < 1e-9
    assert abs(h.outage_s - (50 + TIMING.setup_s + 2 * RTT_S)) < 1e-9


def test_zig_zag_deactivates_instead_of_deleting():
    windows = [Window("A", 0, 300), Window("B", 200, 500), Window("A", 450, 900)]
    seq = select(Policy.MIN_HANDOVERS, windows, 900, TIMING, RTT_S)
    plan = handovers(windows, seq, TIMING, rtt)
    assert [e.action for e in plan[0].events][-1] is Action.DEACTIVATE
    check_invariants(windows, seq, plan)


def test_min_handovers_prefers_the_wider_overlap_on_a_tie():
    # both A-B-D and A-C-D take two handovers; A-C overlaps 5 s only, A-B 50 s
    windows = [Window("A", 0, 100), Window("B", 50, 400), Window("C", 95, 450),
               Window("D", 300, 1000)]
    assert _indices(select(Policy.LONGEST_VISIBILITY, windows, 1000, TIMING, RTT_S)) == [0, 2, 3]
    assert _indices(select(Policy.MIN_HANDOVERS, windows, 1000, TIMING, RTT_S)) == [0, 1, 3]


def test_longest_visibility_goes_on_past_a_pass_that_sets_first():
    # B is still up at A's forced decision but sets before A: of no use, and no reason to
    # stop planning (C rises after a gap)
    windows = [Window("A", 0, 500), Window("B", 300, 499), Window("C", 600, 900)]
    assert _indices(select(Policy.LONGEST_VISIBILITY, windows, 900, TIMING, RTT_S)) == [0, 2]


def _indices(sequence):
    return [s.index for s in sequence]


windows_strategy = st.lists(
    st.tuples(st.integers(0, 5), st.floats(0, 2000), st.floats(10, 600)),
    min_size=1, max_size=25)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(windows_strategy)
def test_min_handovers_never_needs_more_handovers_than_longest_visibility(rows):
    windows, last_los = [], {}
    for ap, aos, dur in sorted(rows):  # one AP's passes over one mobile never overlap
        if aos > last_los.get(ap, -1.0):
            windows.append(Window(f"S{ap}", aos, aos + dur))
            last_los[ap] = aos + dur
    best = select(Policy.MIN_HANDOVERS, windows, 2600, TIMING, RTT_S)
    greedy = select(Policy.LONGEST_VISIBILITY, windows, 2600, TIMING, RTT_S)
    assert (len(changes(windows, best)) <= len(changes(windows, greedy))
            or _uncovered(windows, best) < _uncovered(windows, greedy))
    check_invariants(windows, best, handovers(windows, best, TIMING, rtt))


def _uncovered(windows, seq, duration_s=2600):
    t, gap = 0.0, 0.0
    for s in seq:
        gap += max(0.0, windows[s.index].aos_s - t)
        t = max(t, windows[s.index].los_s)
    return gap + max(0.0, duration_s - t)


def test_the_same_access_point_after_a_gap_is_no_handover():
    # A serves, sets, nothing is up, A's next pass, then a real handover to B
    windows = [Window("A", 0, 300), Window("A", 500, 900), Window("B", 800, 1200)]
    for policy in (Policy.MIN_HANDOVERS, Policy.LONGEST_VISIBILITY):
        seq = select(policy, windows, 1200, TIMING, RTT_S)
        assert _indices(seq) == [0, 1, 2], policy
        assert changes(windows, seq) == [2]
        (h,) = handovers(windows, seq, TIMING, rtt)
        assert (h.from_ap, h.to_ap) == ("A", "B") and h.feasible
        t = {e.action: e.t_s for e in h.events}
        # B is ready at 800.1; the ASCONF goes over A, which is back since 500.1
        assert abs(t[Action.ADD_IP] - (800 + TIMING.setup_s)) < 1e-9
        check_invariants(windows, seq, [h])
    # ADD_IP over A waits until A's path is back after the gap
    late = [Window("A", 0, 300), Window("A", 500, 900), Window("B", 450, 1200)]
    (h,) = handovers(late, [Serve(0), Serve(1), Serve(2)], TIMING, rtt)
    t = {e.action: e.t_s for e in h.events}
    assert abs(t[Action.ADD_IP] - (500 + TIMING.setup_s)) < 1e-9
    assert handovers(windows, [Serve(0), Serve(1)], TIMING, rtt) == []
