"""The timing model on arrays (planner/events.py) must give core.handovers' floats, bit for
bit, on any serving sequences; and the round trips it asks for come from the nearest
predicted instant of the same link, as bisect would pick it."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sigma_sn.planner import core, events
from sigma_sn.planner.kinds import Action, Serve, Window

APS = ["S0", "S1", "S2", "S3"]
CODE = {ap: k for k, ap in enumerate(APS)}
TIMING = core.Timing(l2_s=0.05, ra_s=0.05, dad_s=0.2, guard_s=2.0, address_lifetime_s=300.0)


def _rtt_scalar(mobile: int, failed=None):
    # any pure function of (link, time) will do; these steps are exact the same in numpy.
    # ``failed``: an access point SGP4 cannot propagate (NaN round trips)
    def rtt(ap, t):
        return math.nan if ap == failed else 0.03 + 0.0007 * CODE[ap] + 2e-7 * t + 0.0013 * mobile
    return rtt


def _rtt_array(ap, mobile, t, failed=None):
    out = 0.03 + 0.0007 * ap + 2e-7 * t + 0.0013 * mobile
    return out if failed is None else np.where(ap == CODE[failed], np.nan, out)


def _same(a: float, b: float) -> bool:
    """Equal as floats are: NaN with NaN, and the sign of a zero too."""
    return (a != a and b != b) or (a == b and math.copysign(1, a) == math.copysign(1, b))


window = st.builds(lambda ap, aos, dur: Window(APS[ap], float(aos), float(aos + dur)),
                   st.integers(0, 3), st.floats(-200, 3000), st.floats(5, 900))


@st.composite
def mobile(draw):
    wins = draw(st.lists(window, min_size=1, max_size=8))
    seq = []
    for _ in range(draw(st.integers(1, 7))):
        i = draw(st.integers(0, len(wins) - 1))
        w = wins[i]
        # as early as possible, inside the window, or at/after its LOS (a gap)
        switch = draw(st.one_of(st.none(), st.floats(w.aos_s - 50, w.los_s + 400)))
        seq.append(Serve(i, switch))
    return wins, seq


@settings(max_examples=300, deadline=None)
@given(st.lists(mobile(), min_size=1, max_size=4), st.sampled_from([None, "S1"]),
       st.sampled_from([300.0, math.inf]))
# a switch of 0.0 counts as none (core._resumed_s: ``switch or AOS``), which shows when the
# windows rose before the start
@example([([Window("S0", -100.0, 500.0), Window("S1", -50.0, 1000.0)],
           [Serve(0, 0.0), Serve(1)])], None, 300.0)
# S0 rises again exactly at its LOS: not after it, so the address is deleted
@example([([Window("S0", 0.0, 100.0), Window("S1", 50.0, 300.0), Window("S0", 100.0, 400.0)],
           [Serve(0), Serve(1)])], None, 300.0)
def test_batched_timing_is_core_handovers_bit_for_bit(mobiles, failed, lifetime_s):
    timing = core.Timing(**{**TIMING.__dict__, "address_lifetime_s": lifetime_s})
    names = [f"M{k}" for k in range(len(mobiles))]
    cands = {n: w for n, (w, _) in zip(names, mobiles)}
    seqs = {n: s for n, (_, s) in zip(names, mobiles)}
    tr = events.transitions(names, cands, seqs, CODE, timing.setup_s)
    timed = events.timing(tr, timing.setup_s, timing.guard_s, timing.address_lifetime_s,
                          lambda ap, mob, t: _rtt_array(ap, mob, t, failed))
    j = 0
    for k, n in enumerate(names):
        want = core.handovers(cands[n], seqs[n], timing, _rtt_scalar(k, failed))
        assert tr.counts[k] == len(want)
        for h in want:
            assert (APS[tr.from_ap[j]], APS[tr.to_ap[j]]) == (h.from_ap, h.to_ap)
            assert bool(timed.feasible[j]) == h.feasible
            got = [tr.from_los_s[j] - tr.to_aos_s[j], timed.outage_s[j], timed.margin_s[j],
                   *timed.times_s[j].tolist()]
            expect = [h.overlap_s, h.outage_s, h.margin_s, *(e.t_s for e in h.events)]
            assert all(_same(float(x), y) for x, y in zip(got, expect)), (got, expect)
            assert bool(timed.deactivate[j]) == (h.events[4].action is Action.DEACTIVATE)
            j += 1
    assert j == len(tr.mobile)


def test_a_chain_of_waiting_handovers_settles():
    # each new window rises before the previous switch: every ADD_IP waits for the
    # SET_PRIMARY before it, a chain the iteration must follow to the end
    wins = [Window(APS[k % 4], 10.0 * k, 10.0 * k + 2000.0) for k in range(12)]
    seq = [Serve(k, 10.0 * k + 60.0) for k in range(12)]
    tr = events.transitions(["M"], {"M": wins}, {"M": seq}, CODE, TIMING.setup_s)
    timed = events.timing(tr, TIMING.setup_s, TIMING.guard_s, TIMING.address_lifetime_s,
                          _rtt_array)
    want = core.handovers(wins, seq, TIMING, _rtt_scalar(0))
    assert timed.times_s.tolist() == [[e.t_s for e in h.events] for h in want]
    ready, add = timed.times_s[:, 0], timed.times_s[:, 1]
    assert (add[1:] > ready[1:]).all()   # the chain binds: ADD_IP waited every time


def _nearest_reference(pred, ap, mob, t, taylor_s=1.0):
    """The nearest predicted instant of the link by bisect, as the scalar code did."""
    same = sorted((p[2], j) for j, p in enumerate(pred) if p[0] == ap and p[1] == mob)
    if not same:
        return None
    times = [x for x, _ in same]
    import bisect
    k = bisect.bisect_left(times, t)
    if k == len(times) or (k > 0 and t - times[k - 1] <= times[k] - t):
        k -= 1
    dt = t - times[k]
    _, _, _, rng, rate = pred[same[k][1]]
    if -taylor_s <= dt <= taylor_s and rng == rng:
        return 2.0 * ((rng + rate * dt) / 299792.458 + 0.02)
    return None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1), st.floats(0, 50),
                          st.one_of(st.floats(500, 2000), st.just(math.nan)),
                          st.floats(-7, 7)), min_size=1, max_size=12),
       st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1), st.floats(-5, 55)),
                min_size=1, max_size=12))
def test_nearest_rtt_takes_the_nearest_instant_of_the_same_link(pred, asked):
    arr = [np.array(c) for c in zip(*pred)]
    exact_calls = []

    def exact(ap, mob, t):
        exact_calls.extend(zip(ap.tolist(), mob.tolist(), t.tolist()))
        return np.full(len(t), 1000.0)

    rtt = events.NearestRtt(arr[0], arr[1], arr[2].astype(float), arr[3].astype(float),
                            arr[4].astype(float), n_aps=3, terrestrial_s=0.02,
                            c_km_s=299792.458, taylor_s=1.0, exact=exact)
    ap, mob, t = (np.array(c) for c in zip(*asked))
    got = rtt(ap, mob, t.astype(float)).tolist()
    for (a, m, x), g in zip(asked, got):
        want = _nearest_reference(pred, a, m, x)
        if want is None:
            assert (a, m, x) in exact_calls
            assert g == 2.0 * (1000.0 / 299792.458 + 0.02)
        else:
            assert g == want


def test_nearest_rtt_takes_the_earlier_instant_on_a_tie():
    pred_t = np.array([10.0, 12.0, 11.0])
    rtt = events.NearestRtt(np.array([0, 0, 1]), np.array([0, 0, 0]), pred_t,
                            np.array([600.0, 900.0, 5000.0]), np.zeros(3), n_aps=2,
                            terrestrial_s=0.0, c_km_s=300000.0, taylor_s=1.0, exact=None)
    # 11 s is 1 s from both instants of link 0 (link 1's instant at 11 s is another link)
    assert rtt(np.array([0]), np.array([0]), np.array([11.0])).tolist() == [0.004]
