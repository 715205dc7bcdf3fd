"""The plan's JSON rows (docs/plan-format.md) from what the planning workers return.

Workers send back flat arrays (:class:`Planned`), not rows: a day of Starlink for a
thousand terminals has millions of rows, and pickling a dict costs three times what
making it does. The workers also round the times to the microsecond and write their UTC
text (:func:`packed`); the parent only turns columns into lists and makes the
dicts (:func:`rows`), addresses from the book.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter

import numpy as np

from sigma_sn.planner.kinds import Action

ROUND = 6  # microseconds: exports are byte-identical across runs
#: outage causes, by the code workers send (in the order of their names, so parts of a
#: gap sort by code as they would by name)
CAUSES = ("capacity", "hard_handover", "no_coverage")
_STEPS = (Action.ADDRESS_READY.value, Action.ADD_IP.value, Action.SET_PRIMARY.value,
          Action.LM_UPDATE.value)
_N_EVENTS = len(_STEPS) + 1   # and DELETE_IP or DEACTIVATE
_T_S, _FROM_S = itemgetter("t_s"), itemgetter("from_s")   # sort keys, looked up in C
_RETIRE = {False: Action.DELETE_IP.value, True: Action.DEACTIVATE.value}


def packed(serve_counts, serve_ap, serve_from_s, serve_to_s, outage_counts, outage_from_s,
           outage_to_s, outage_cause, tr, timed, epoch) -> Planned:
    """Return one group's :class:`Planned`: per mobile (in the group's order) how many
    serving intervals and outage parts it has, their columns, and its handovers (``tr``,
    ``timed``: events.Transitions and events.Timed). Times are rounded and written as UTC
    text here, in the worker: the parent, which makes every row, has enough to do."""
    f64 = np.float64
    counts = np.zeros((len(tr.counts), 3), np.int64)
    counts[:, 0], counts[:, 1], counts[:, 2] = serve_counts, tr.counts, outage_counts
    o_from, o_to = np.array(outage_from_s, f64), np.array(outage_to_s, f64)
    return Planned(
        counts, np.asarray(serve_ap, np.int64),
        *_timed(rounded_array(np.asarray(serve_from_s, f64)), epoch),
        *_timed(rounded_array(np.asarray(serve_to_s, f64)), epoch),
        tr.from_ap, tr.to_ap, timed.feasible,
        rounded_array(tr.from_los_s - tr.to_aos_s), rounded_array(timed.outage_s),
        rounded_array(timed.margin_s), timed.deactivate,
        *_timed(rounded_array(timed.times_s), epoch),
        *_timed(rounded_array(o_from), epoch), *_timed(rounded_array(o_to), epoch),
        rounded_array(o_to - o_from), np.array(outage_cause, np.int64))


def _timed(t_s: np.ndarray, epoch) -> tuple[np.ndarray, np.ndarray]:
    """Rounded times and their UTC text as ASCII bytes (a quarter of the size to send)."""
    return t_s, epoch.iso_ascii(t_s)


@dataclass(frozen=True)
class Planned:
    """One group's plan as arrays: per mobile (in the group's order) how many serving
    intervals, handovers and outage parts it has, then each kind's columns in that order.
    Access points are indices into the plan's access-point names; times are rounded to
    the microsecond, ``*_utc`` their ISO text as bytes."""

    counts: np.ndarray          # (n_mobiles, 3)
    serve_ap: np.ndarray
    serve_from_s: np.ndarray
    serve_from_utc: np.ndarray
    serve_to_s: np.ndarray
    serve_to_utc: np.ndarray
    ho_from: np.ndarray
    ho_to: np.ndarray
    ho_feasible: np.ndarray
    ho_overlap_s: np.ndarray
    ho_outage_s: np.ndarray
    ho_margin_s: np.ndarray
    ho_deactivate: np.ndarray
    ho_times_s: np.ndarray      # (n_handovers, 5): the events' times in action order
    ho_times_utc: np.ndarray
    outage_from_s: np.ndarray
    outage_from_utc: np.ndarray
    outage_to_s: np.ndarray
    outage_to_utc: np.ndarray
    outage_s: np.ndarray
    outage_cause: np.ndarray


def rounded_array(x) -> np.ndarray:
    """Return ``x`` with every value ``round(v, 6)``, vectorised. Python's round decides on
    the exact decimal value of v; rint(v·1e6) on a product that may be off by half an
    ulp, which can only matter next to a tie: those few are left to Python's round.
    Elsewhere both give the double nearest the same decimal (an exact integer over 1e6)."""
    x = np.asarray(x, float)
    with np.errstate(over="ignore", invalid="ignore"):  # inf, NaN: left to round below
        scaled = x * 10.0**ROUND
        whole = np.rint(scaled)
        out = whole / 10.0**ROUND
        near_tie = ~(np.abs(np.abs(scaled - whole) - 0.5) > 4 * np.spacing(np.abs(scaled)))
    for i in zip(*np.nonzero(near_tie)):   # (NaN lands here too: round keeps it)
        out[i] = round(float(x[i]), ROUND)
    return out


def rounded(x) -> list[float]:
    """Return ``[round(v, 6) for v in x]`` (flattened), vectorised: :func:`rounded_array`."""
    return rounded_array(x).ravel().tolist()


def utc_texts(utc: np.ndarray) -> list[str]:
    """Return the ASCII texts of a bytes array (``Epoch.iso_ascii``) as a flat list of str.
    A newline after each text, one decode and ``str.split`` make them in C: 1.7 times as
    fast as slicing the decoded text, four times as fast as ``astype("U").tolist()``,
    which is kept for arrays with shorter texts (``NaTZ``), padded with NULs it strips."""
    width = utc.dtype.itemsize
    text = np.empty((utc.size, width + 1), np.uint8)
    text[:, :width] = np.ascontiguousarray(utc).reshape(-1).view(np.uint8).reshape(-1, width)
    if not text[:, :width].all():   # a NUL: a shorter text
        return utc.ravel().astype("U").tolist()
    text[:, width] = ord("\n")
    out = text.tobytes().decode("ascii").split("\n")
    out.pop()   # after the last newline
    return out


class _Text:
    """One group's columns as JSON-ready lists."""

    def __init__(self, p: Planned):
        text = utc_texts
        self.serve_ap = p.serve_ap.tolist()
        self.serve_from, self.serve_to = p.serve_from_s.tolist(), p.serve_to_s.tolist()
        self.serve_from_utc, self.serve_to_utc = text(p.serve_from_utc), text(p.serve_to_utc)
        self.ho_from, self.ho_to = p.ho_from.tolist(), p.ho_to.tolist()
        self.ho_feasible = p.ho_feasible.tolist()
        self.ho_retire = [_RETIRE[d] for d in p.ho_deactivate.tolist()]
        self.ho_overlap, self.ho_outage = p.ho_overlap_s.tolist(), p.ho_outage_s.tolist()
        self.ho_margin = p.ho_margin_s.tolist()
        self.ev_t, self.ev_utc = p.ho_times_s.ravel().tolist(), text(p.ho_times_utc)
        self.out_from, self.out_to = p.outage_from_s.tolist(), p.outage_to_s.tolist()
        self.out_len = p.outage_s.tolist()
        self.out_from_utc, self.out_to_utc = text(p.outage_from_utc), text(p.outage_to_utc)
        self.out_cause = [CAUSES[c] for c in p.outage_cause.tolist()]


def rows(names: list[str], part: Planned, *, ap_names: list[str], book,
         iid: dict[str, int], candidate_rows) -> tuple[list, list, list, list]:
    """Return the ``mobiles``, ``handovers``, ``outages`` and ``location_updates`` rows of
    the mobiles ``names`` that ``part`` plans, in their order and each mobile's rows
    sorted as docs/plan-format.md says (by index or time). ``candidate_rows(mobile)``
    gives a mobile's candidate rows."""
    x = _Text(part)
    # each mobile's rows are the next slice of each kind's columns
    ends = np.cumsum(part.counts, axis=0).tolist()
    starts = [[0, 0, 0]] + ends[:-1]
    out_mobiles, out_handovers, out_outages, out_updates = [], [], [], []
    ready, add, primary, lm_update = _STEPS
    for m, (s0, h0, o0), (s1, h1, o1) in zip(names, starts, ends):
        serve_ap, ho_from, ho_to = x.serve_ap[s0:s1], x.ho_from[h0:h1], x.ho_to[h0:h1]
        codes = list(set(serve_ap) | set(ho_from) | set(ho_to))
        address = dict(zip(codes, book.addresses([ap_names[k] for k in codes], iid[m])))
        serving = [{"ap": ap_names[a], "address": address[a], "from_s": f, "to_s": t,
                    "from_utc": fu, "to_utc": tu}
                   for a, f, t, fu, tu in zip(serve_ap, x.serve_from[s0:s1],
                                              x.serve_to[s0:s1], x.serve_from_utc[s0:s1],
                                              x.serve_to_utc[s0:s1])]
        out_mobiles.append({"name": m, "candidates": candidate_rows(m), "serving": serving})
        updates = []
        if serving:
            first = serving[0]
            updates.append({"mobile": m, "t_s": first["from_s"], "t_utc": first["from_utc"],
                            "address": first["address"], "ap": first["ap"]})
        # each handover's five times and texts are the next five of the flat columns:
        # zip over one iterator five times hands them out without indexing
        t = iter(x.ev_t[_N_EVENTS * h0:_N_EVENTS * h1])
        u = iter(x.ev_utc[_N_EVENTS * h0:_N_EVENTS * h1])
        for k, (a, b, retire, feasible, overlap, outage, margin, t0, t1, t2, t3, t4, u0, u1,
                u2, u3, u4) in enumerate(zip(ho_from, ho_to, x.ho_retire[h0:h1],
                                             x.ho_feasible[h0:h1], x.ho_overlap[h0:h1],
                                             x.ho_outage[h0:h1], x.ho_margin[h0:h1],
                                             t, t, t, t, t, u, u, u, u, u)):
            new, to = address[b], ap_names[b]
            # written out, not a loop: a million handovers make five million of these
            events = [{"action": ready, "t_s": t0, "t_utc": u0, "address": new},
                      {"action": add, "t_s": t1, "t_utc": u1, "address": new},
                      {"action": primary, "t_s": t2, "t_utc": u2, "address": new},
                      {"action": lm_update, "t_s": t3, "t_utc": u3, "address": new},
                      {"action": retire, "t_s": t4, "t_utc": u4, "address": address[a]}]
            updates.append({"mobile": m, "t_s": t3, "t_utc": u3, "address": new, "ap": to})
            out_handovers.append({
                "mobile": m, "index": k, "from": ap_names[a], "to": to,
                "feasible": feasible, "overlap_s": overlap, "outage_s": outage,
                "margin_s": margin, "events": events})
        updates.sort(key=_T_S)  # stable: what sorting all of them by (mobile, t_s) gives
        out_updates += updates
        outages = [{"mobile": m, "from_s": f, "to_s": t, "duration_s": d, "cause": c,
                    "from_utc": fu, "to_utc": tu}
                   for f, t, d, c, fu, tu in zip(x.out_from[o0:o1], x.out_to[o0:o1],
                                                 x.out_len[o0:o1], x.out_cause[o0:o1],
                                                 x.out_from_utc[o0:o1], x.out_to_utc[o0:o1])]
        outages.sort(key=_FROM_S)
        out_outages += outages
    return out_mobiles, out_handovers, out_outages, out_updates
