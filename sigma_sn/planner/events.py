"""The DESIGN.md timing model over many mobiles' serving sequences at once, in numpy.

:func:`sigma_sn.planner.core.handovers` is the model, one handover at a time; this is the
same arithmetic on arrays of handovers, for plans of a million of them, and it gives the
same floats (tests/test_planner_events.py holds it to that). The one sequential step, a
handover's ADD_IP waiting for the previous SET_PRIMARY, is solved by iterating to the
fixed point: each pass settles at least one more handover of every chain of waits, and
such chains are short (a pass or two).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import numpy as np

from sigma_sn.planner import policies
from sigma_sn.planner.jit import njit, pymax

#: rtt(ap, mobile, t_s) -> round trips (s), all arrays of one length: ``ap`` and
#: ``mobile`` are the caller's integer codes
Rtt = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Transitions:
    """The handovers of a group of mobiles (each change of access point in a serving
    sequence), in mobile then sequence order, before any timing: the windows they leave
    and enter, and what the chain of SET_PRIMARYs needs."""

    mobile: np.ndarray          # index into the group's names
    position: np.ndarray        # k: sequence[k - 1] -> sequence[k]
    from_ap: np.ndarray         # access point codes
    to_ap: np.ndarray
    from_los_s: np.ndarray
    to_aos_s: np.ndarray
    switch_s: np.ndarray        # NaN: as early as possible
    since_s: np.ndarray         # the primary's start that is not a previous handover's
    previous: np.ndarray        # the mobile's previous handover, or -1
    next_rise_s: np.ndarray     # the old access point's next AOS after its LOS (inf: none)
    ping_pong: np.ndarray       # the old window serves again later in the sequence
    counts: list[int]           # handovers per mobile


def transitions(names: Sequence[str], candidates: dict, sequences: dict, ap_code: dict,
                setup_s: float) -> Transitions:
    """Return the handovers of the mobiles ``names`` (``candidates[m]``: their windows,
    ``sequences[m]``: their serving sequences, ``ap_code``: access point -> integer).
    Consecutive entries on the same access point are no handover (core.handovers)."""
    spans, n = [], 0
    for m in names:
        spans.append((n, n + len(candidates[m])))
        n += len(candidates[m])
    wins = [w for m in names for w in candidates[m]]
    columns = (np.array([ap_code[w.ap] for w in wins], np.int64),
               np.array([w.aos_s for w in wins], np.float64),
               np.array([w.los_s for w in wins], np.float64))
    flat = flatten(spans, [policies.columns(sequences[m]) for m in names])
    return transitions_columns(columns, flat, setup_s)


class Flat(NamedTuple):
    """A group's serving sequences flattened for compiled loops: mobile i's windows are
    ``span_lo[i]``..``span_hi[i]`` of the window columns and its entries
    ``seq_off[i]``..``seq_off[i + 1]``; per entry, its window (an index into the columns)
    and switch time (NaN: None)."""

    span_lo: np.ndarray
    span_hi: np.ndarray
    seq_off: np.ndarray
    seq_win: np.ndarray
    seq_switch_s: np.ndarray


def flatten(spans: Sequence[tuple[int, int]], sequences: Sequence) -> Flat:
    """Return :class:`Flat` for mobiles with windows ``spans[i]`` (first, end) of the
    columns and serving sequences ``sequences[i]`` as columns (window indices, switch
    times; policies.columns)."""
    span = np.array(spans, np.int64).reshape(-1, 2)
    lengths = [len(index) for index, _ in sequences]
    seq_off = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    seq_win = np.concatenate([np.zeros(0, np.int64)] + [
        lo + index for lo, (index, _) in zip(span[:, 0].tolist(), sequences)])
    seq_switch_s = np.concatenate([np.zeros(0)] + [switch for _, switch in sequences])
    return Flat(span[:, 0].copy(), span[:, 1].copy(), seq_off, seq_win.astype(np.int64),
                seq_switch_s.astype(np.float64))


def transitions_columns(columns, flat: Flat, setup_s: float) -> Transitions:
    """:func:`transitions` on window columns (access point code, AOS, LOS) and the
    sequences as :class:`Flat`."""
    ap, aos, los = columns
    cols = _transitions(np.ascontiguousarray(ap, np.int64), np.asarray(aos, np.float64),
                        np.asarray(los, np.float64), *flat, float(setup_s),
                        int(ap.max()) + 1 if len(ap) else 1)
    return Transitions(*cols[:-1], cols[-1].tolist())


@njit
def _transitions(ap, aos, los, span_lo, span_hi, seq_off, seq_win, seq_switch_s, setup_s,
                 n_ap):
    """The loop of :func:`transitions` (compiled: a million handovers a day for a
    thousand terminals). Sequence entries are window indices into the columns and their
    switch times (NaN: None)."""
    cap = len(seq_win)
    mob, pos, frm, to = (np.empty(cap, np.int64), np.empty(cap, np.int64),
                         np.empty(cap, np.int64), np.empty(cap, np.int64))
    from_los, to_aos, switch, since = np.empty(cap), np.empty(cap), np.empty(cap), np.empty(cap)
    prev, rise = np.empty(cap, np.int64), np.empty(cap)
    ping_pong = np.empty(cap, np.bool_)
    counts = np.zeros(len(span_lo), np.int64)
    last_seen = np.full(n_ap, -1)
    h = 0
    for i in range(len(span_lo)):
        s0, s1, lo, hi = seq_off[i], seq_off[i + 1], span_lo[i], span_hi[i]
        if s1 == s0:
            continue
        # the old access point's next AOS after its LOS: along each AP's windows in AOS
        # order (a window rises after another's LOS only if it also rises after its AOS)
        order = lo + np.argsort(aos[lo:hi], kind="mergesort")
        rank = np.empty(hi - lo, np.int64)
        nxt = np.full(hi - lo, -1)
        for r in range(hi - lo - 1, -1, -1):
            w = order[r]
            rank[w - lo] = r
            nxt[r] = last_seen[ap[w]]
            last_seen[ap[w]] = r
        for w in range(lo, hi):
            last_seen[ap[w]] = -1
        last_use = np.full(hi - lo, -1)   # the last position of each window in seq
        for k in range(s0, s1):
            last_use[seq_win[k] - lo] = k - s0
        base = _resumed_s(aos[seq_win[s0]], seq_switch_s[s0])
        j_prev = -1
        h0 = h
        for k in range(1, s1 - s0):
            a, b = seq_win[s0 + k - 1], seq_win[s0 + k]
            if ap[a] == ap[b]:  # re-acquired: the path comes back with the same address
                base = pymax(base, _resumed_s(aos[b], seq_switch_s[s0 + k]) + setup_s)
                continue
            r = nxt[rank[a - lo]]
            while r >= 0 and not aos[order[r]] > los[a]:
                r = nxt[r]
            mob[h], pos[h], frm[h], to[h] = i, k, ap[a], ap[b]
            from_los[h], to_aos[h], switch[h], since[h] = los[a], aos[b], seq_switch_s[s0 + k], base
            prev[h] = j_prev
            rise[h] = aos[order[r]] if r >= 0 else np.inf
            ping_pong[h] = last_use[a - lo] > k - 1
            j_prev, base = h, -np.inf
            h += 1
        counts[i] = h - h0
    return (mob[:h], pos[:h], frm[:h], to[:h], from_los[:h], to_aos[:h], switch[:h],
            since[:h], prev[:h], rise[:h], ping_pong[:h], counts)


@njit
def _resumed_s(aos_s, switch_s):
    """core._resumed_s: max(AOS, switch or AOS), where a switch of None (NaN here) or of
    zero (falsy) means the AOS."""
    return pymax(aos_s, aos_s if np.isnan(switch_s) or switch_s == 0.0 else switch_s)


def _primary_before(tr: Transitions, t_sp: np.ndarray) -> np.ndarray:
    """When the primary before each handover took over: the previous handover's
    SET_PRIMARY, or later re-acquisitions (max is exact: order does not matter)."""
    has = tr.previous >= 0
    out = tr.since_s.copy()
    # max(SET_PRIMARY, re-acquisitions after it), in the order core.handovers takes them
    out[has] = _max(t_sp[tr.previous[has]], out[has])
    return out


def _max(a, b):
    """The builtin max(a, b) elementwise: ``a`` unless ``b`` is greater (so a NaN ``b``
    leaves ``a``, and of two zeros the first is kept), unlike np.maximum."""
    return np.where(b > a, b, a)


def _min(a, b):
    """The builtin min(a, b) elementwise: ``a`` unless ``b`` is smaller."""
    return np.where(b < a, b, a)


def _ready(tr: Transitions, setup_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Whether the policy leaves a gap (switch at or after the old LOS; False for NaN),
    and when the new address is ready: the new AOS, or the switch after such a gap, plus
    L2, RA and DAD."""
    waits = tr.switch_s >= tr.from_los_s
    return waits, np.where(waits, _max(tr.to_aos_s, tr.switch_s), tr.to_aos_s) + setup_s


def _fixed_point(tr: Transitions, t_ready: np.ndarray, switch_time,
                 guess_sp: np.ndarray | None = None) -> tuple:
    """Iterate ``t_add = max(t_ready, primary before)`` and ``switch_time(t_add)`` (the
    SET_PRIMARY and whatever else it returns) until no ADD_IP moves, starting from the
    SET_PRIMARYs ``guess_sp`` (None: no handover waits for the one before)."""
    t_add = _max(t_ready, tr.since_s if guess_sp is None else _primary_before(tr, guess_sp))
    for _ in range(len(t_add) + 1):
        got = switch_time(t_add)
        again = _max(t_ready, _primary_before(tr, got[0]))
        if np.array_equal(again, t_add, equal_nan=True):   # (NaN: SGP4 failed there)
            return t_add, got
        t_add = again
    raise AssertionError("the SET_PRIMARY chain did not settle")  # each pass settles one


def predicted_instants(tr: Transitions, setup_s: float, guard_s: float, bound_s: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (access point, mobile, instant) of the round trips :func:`timing` will ask
    for, predicted with the RTT bound in place of each RTT: per handover, at ADD_IP and
    at LOS − guard over the old path, then at SET_PRIMARY over the old one or at ADD_IP
    over the new one (4 per handover, in that order); and the predicted SET_PRIMARYs."""
    _, t_ready = _ready(tr, setup_s)
    hi = tr.from_los_s - guard_s - bound_s

    def switch_time(t_add):
        lo = t_add + bound_s
        return (_min(np.where(np.isnan(tr.switch_s), lo, _max(tr.switch_s, lo)),
                     _max(hi, lo)),)

    t_add, (t_sp,) = _fixed_point(tr, t_ready, switch_time)
    ap = np.stack([tr.from_ap, tr.from_ap, tr.from_ap, tr.to_ap], axis=1).ravel()
    mobile = np.repeat(tr.mobile, 4)
    t_s = np.stack([t_add, tr.from_los_s - guard_s, t_sp, t_add], axis=1).ravel()
    return ap, mobile, t_s, t_sp


@dataclass(frozen=True)
class Timed:
    """The timing model's answer per handover (arrays in the order of Transitions)."""

    feasible: np.ndarray
    outage_s: np.ndarray
    margin_s: np.ndarray
    times_s: np.ndarray         # (n, 5): ADDRESS_READY, ADD_IP, SET_PRIMARY, LM_UPDATE,
    deactivate: np.ndarray      # and the retirement (DEACTIVATE where this is True)


def timing(tr: Transitions, setup_s: float, guard_s: float, lifetime_s: float, rtt: Rtt,
           guess_sp: np.ndarray | None = None) -> Timed:
    """Return the events of every handover of ``tr`` (core.handovers' arithmetic).
    ``guess_sp``: SET_PRIMARYs to start the iteration from (the predicted ones: the
    questions then stay next to the predicted instants); the answer does not depend on
    it."""
    waits, t_ready = _ready(tr, setup_s)
    t_end = tr.from_los_s - guard_s
    hi = t_end - rtt(tr.from_ap, tr.mobile, t_end)
    no_switch = np.isnan(tr.switch_s)

    def switch_time(t_add):
        lo = t_add + rtt(tr.from_ap, tr.mobile, t_add)
        feasible = ~waits & (lo <= hi)
        t_sp = np.empty_like(t_add)
        t_lm = np.empty_like(t_add)
        f, h = feasible, ~feasible
        t_sp[f] = _min(np.where(no_switch[f], lo[f], _max(tr.switch_s[f], lo[f])), hi[f])
        t_lm[f] = t_sp[f] + rtt(tr.from_ap[f], tr.mobile[f], t_sp[f])
        # hard handover: the old path is gone before the switch completes
        rtt_b = rtt(tr.to_ap[h], tr.mobile[h], t_add[h])
        t_sp[h] = t_add[h] + rtt_b
        t_lm[h] = t_sp[h] + rtt_b
        return t_sp, t_lm, feasible

    t_add, (t_sp, t_lm, feasible) = _fixed_point(tr, t_ready, switch_time, guess_sp)
    t_del = np.where(feasible, t_end, t_lm)
    outage = np.where(feasible, 0.0, _max(0.0, t_lm - tr.from_los_s))
    comes_back = np.isfinite(tr.next_rise_s) & (tr.next_rise_s <= t_del + lifetime_s)
    # the same pass serves again later (ping-pong): keep the address, zero window
    comes_back |= tr.ping_pong
    t_del = np.where(tr.ping_pong, _min(t_del, t_lm), t_del)
    return Timed(feasible, outage, tr.from_los_s - t_lm,
                 np.stack([t_ready, t_add, t_sp, t_lm, t_del], axis=1), comes_back)


class NearestRtt:
    """Round trips from exact ranges and range rates at predicted instants (the
    :data:`Rtt` protocol): a question within ``taylor_s`` of the nearest instant predicted
    for the same link is range + rate·dt; any other is ``exact(ap, mobile, t_s)`` (km).
    The nearer neighbour, the earlier on a tie, as bisect over the sorted instants."""

    def __init__(self, ap: np.ndarray, mobile: np.ndarray, t_s: np.ndarray,
                 range_km: np.ndarray, rate_km_s: np.ndarray, *, n_aps: int,
                 terrestrial_s: float, c_km_s: float, taylor_s: float, exact):
        self.code_scale = max(1, n_aps)
        key = self._key(ap, mobile, t_s)
        order = np.argsort(key, kind="stable")
        self.key, self.t_s = key[order], t_s[order]
        self.range_km, self.rate_km_s = range_km[order], rate_km_s[order]
        self.terrestrial_s, self.c_km_s, self.taylor_s = terrestrial_s, c_km_s, taylor_s
        self.exact = exact
        self.exact_calls = 0

    def _key(self, ap, mobile, t_s):
        # complex numbers sort by real part, then imaginary: link first, then time,
        # both exact (a float holds these integers and every time as it is)
        return (mobile.astype(np.float64) * self.code_scale + ap) + 1j * t_s

    def __call__(self, ap: np.ndarray, mobile: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        t_s = np.asarray(t_s, float)
        if not len(t_s):
            return np.empty(0)
        q = self._key(ap, mobile, t_s)
        n = len(self.key)
        k = np.searchsorted(self.key, q, side="left")
        link = q.real
        right = np.minimum(k, n - 1)
        left = np.maximum(k - 1, 0)
        has_r = (k < n) & (self.key.real[right] == link) if n else np.zeros(len(q), bool)
        has_l = (k > 0) & (self.key.real[left] == link) if n else np.zeros(len(q), bool)
        use_l = has_l & (~has_r | (t_s - self.t_s[left] <= self.t_s[right] - t_s))
        pick = np.where(use_l, left, right)
        dt = t_s - self.t_s[pick] if n else np.zeros(len(q))
        rng = self.range_km[pick] if n else np.full(len(q), np.nan)
        ok = (has_l | has_r) & (-self.taylor_s <= dt) & (dt <= self.taylor_s) & (rng == rng)
        out = np.empty(len(t_s))
        out[ok] = 2.0 * ((rng[ok] + self.rate_km_s[pick[ok]] * dt[ok]) / self.c_km_s
                         + self.terrestrial_s)
        miss = np.flatnonzero(~ok)
        if len(miss):
            self.exact_calls += len(miss)
            exact_km = self.exact(ap[miss], mobile[miss], t_s[miss])
            out[miss] = 2.0 * (exact_km / self.c_km_s + self.terrestrial_s)
        return out
