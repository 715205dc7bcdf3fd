"""The plan's JSON rows (docs/plan-format.md) from what the planning workers return.

Workers send back flat arrays (:class:`Planned`), not rows: a day of Starlink for a
thousand terminals has millions of rows, and pickling a dict costs three times what
making it does. The workers also round the times to the microsecond and write their UTC
text (:func:`packed`); the parent only turns columns into lists (:func:`rows`), addresses
from the book. The handovers, a million for that day, stay columns (:class:`Table`) until
a row is asked for; the plan JSON is written from the columns.
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
#: a handover row's keys, and its events', in the order of docs/plan-format.md
HANDOVER_KEYS = ("mobile", "index", "from", "to", "feasible", "overlap_s", "outage_s",
                 "margin_s", "events")
EVENT_KEYS = ("action", "t_s", "t_utc", "address")


class Table(list):
    """Rows of one shape (dicts of ``keys``) kept as columns: a list per key, or for a key
    holding a list of rows, a child table with a fixed number of rows per row.

    A list to every caller (``isinstance``, ``json``, jsonschema, pickling as a plain
    list): the first use of it as one makes the dicts, all at once, into the list itself,
    and from then on it is that list (edits stick). The plan JSON writer reads the
    columns instead while no row was made."""

    def __init__(self, keys: tuple, columns: dict, nested: dict | None = None):
        super().__init__()
        self.keys = tuple(keys)
        self._columns = columns                  # key -> list
        self._nested = nested or {}              # key -> (Table, rows per row)
        self._n = len(columns[next(k for k in keys if k in columns)])
        self._made = False

    def columns(self) -> tuple[dict, dict] | None:
        """The columns and nested tables, or None once the rows were made."""
        return None if self._made else (self._columns, self._nested)

    def column(self, key: str) -> list:
        """Every row's value of the (not nested) ``key``, without making the rows."""
        return [r[key] for r in self] if self._made else self._columns[key]

    def slice(self, start: int, stop: int) -> Table:
        """Rows ``start:stop`` as a table over the same columns (before rows are made)."""
        return Table(self.keys, {k: c[start:stop] for k, c in self._columns.items()},
                     {k: (t.slice(start * n, stop * n), n)
                      for k, (t, n) in self._nested.items()})

    def made(self) -> Table:
        """This table with its rows made (once) as dicts."""
        if not self._made:
            cols = []
            for k in self.keys:
                if k in self._nested:
                    child, n = self._nested[k]
                    cols.append(list(map(list, zip(*[iter(child.made())] * n))))
                else:
                    cols.append(self._columns[k])
            list.extend(self, [dict(zip(self.keys, vals)) for vals in zip(*cols)])
            self._made, self._columns, self._nested = True, None, None
        return self

    def __len__(self) -> int:
        return list.__len__(self) if self._made else self._n

    def __reduce_ex__(self, protocol):   # pickled (and copied) as the plain list
        return list, (list(self.made()),)

    def __radd__(self, other):
        return other + list(self.made())


def _made_first(name: str):
    method = getattr(list, name)

    def call(self, *args, **kwargs):   # another table's items too (==, +, extend)
        args = [a.made() if isinstance(a, Table) else a for a in args]
        return method(self.made(), *args, **kwargs)
    call.__name__ = name
    return call


# every other list method reads the list's own items: they are made first
for _name in ("__getitem__", "__setitem__", "__delitem__", "__iter__", "__reversed__",
              "__contains__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
              "__add__", "__iadd__", "__mul__", "__rmul__", "__imul__", "__repr__",
              "append", "extend", "insert", "pop", "remove", "index", "count", "sort",
              "reverse", "clear", "copy"):
    setattr(Table, _name, _made_first(_name))
del _name


class Handovers:
    """The plan's handover columns, a group's rows appended at a time."""

    def __init__(self):
        self.columns: dict[str, list] = {k: [] for k in HANDOVER_KEYS[:-1]}
        self.events: dict[str, list] = {k: [] for k in EVENT_KEYS}

    def table(self) -> Table:
        events = Table(EVENT_KEYS, self.events)
        return Table(HANDOVER_KEYS, self.columns, {"events": (events, _N_EVENTS)})


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
         iid: dict[str, int], candidate_rows, handovers: Handovers) -> tuple[list, list, list]:
    """Return the ``mobiles``, ``outages`` and ``location_updates`` rows of the mobiles
    ``names`` that ``part`` plans, in their order and each mobile's rows sorted as
    docs/plan-format.md says (by index or time), and append their handovers' columns to
    ``handovers``. ``candidate_rows(mobile)`` gives a mobile's candidate rows."""
    x = _Text(part)
    # each mobile's rows are the next slice of each kind's columns
    ends = np.cumsum(part.counts, axis=0).tolist()
    starts = [[0, 0, 0]] + ends[:-1]
    out_mobiles, out_outages, out_updates = [], [], []
    ho, ev = handovers.columns, handovers.events
    n_ho = part.counts[:, 1]
    ho["mobile"] += [names[k] for k in np.repeat(np.arange(len(names)), n_ho).tolist()]
    ho["index"] += (np.arange(int(n_ho.sum())) - np.repeat(np.cumsum(n_ho) - n_ho, n_ho)
                    ).tolist()
    ho["from"] += [ap_names[a] for a in x.ho_from]
    ho["to"] += [ap_names[b] for b in x.ho_to]
    ho["feasible"] += x.ho_feasible
    ho["overlap_s"] += x.ho_overlap
    ho["outage_s"] += x.ho_outage
    ho["margin_s"] += x.ho_margin
    ev["t_s"] += x.ev_t
    ev["t_utc"] += x.ev_utc
    # each handover's events in action order: four steps to the new address, the retire
    actions = [*_STEPS, None] * len(x.ho_retire)
    actions[_N_EVENTS - 1::_N_EVENTS] = x.ho_retire
    ev["action"] += actions
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
        new = [address[b] for b in ho_to]
        addresses = [None] * (_N_EVENTS * len(new))
        for k in range(_N_EVENTS - 1):   # the steps' address is the new one
            addresses[k::_N_EVENTS] = new
        addresses[_N_EVENTS - 1::_N_EVENTS] = [address[a] for a in ho_from]
        ev["address"] += addresses
        lm = _N_EVENTS * h0 + _STEPS.index(Action.LM_UPDATE.value)   # its LM_UPDATE event
        updates += [{"mobile": m, "t_s": t, "t_utc": u, "address": a, "ap": ap_names[b]}
                    for t, u, a, b in zip(x.ev_t[lm:_N_EVENTS * h1:_N_EVENTS],
                                          x.ev_utc[lm:_N_EVENTS * h1:_N_EVENTS], new, ho_to)]
        updates.sort(key=_T_S)  # stable: what sorting all of them by (mobile, t_s) gives
        out_updates += updates
        outages = [{"mobile": m, "from_s": f, "to_s": t, "duration_s": d, "cause": c,
                    "from_utc": fu, "to_utc": tu}
                   for f, t, d, c, fu, tu in zip(x.out_from[o0:o1], x.out_to[o0:o1],
                                                 x.out_len[o0:o1], x.out_cause[o0:o1],
                                                 x.out_from_utc[o0:o1], x.out_to_utc[o0:o1])]
        outages.sort(key=_FROM_S)
        out_outages += outages
    return out_mobiles, out_outages, out_updates
