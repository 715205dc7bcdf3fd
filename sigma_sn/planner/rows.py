"""The plan's rows (docs/plan-format.md) as columns, from what the planning workers return.

Workers send back flat arrays (:class:`Planned`), not rows: a day of Starlink for a
thousand terminals has millions of rows, and pickling a dict costs three times what
making it does. The workers also round the times to the microsecond and write their UTC
text (:func:`packed`). The parent lays the groups' arrays end to end, sorts and indexes
them with numpy (:class:`PlanRows`) and keeps every list of rows as columns
(:class:`Table`: names and addresses as codes into their distinct texts) until a row is
asked for; the plan JSON is written from the columns (:mod:`sigma_sn.planner.jsontext`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sigma_sn.planner.kinds import Action

ROUND = 6  # microseconds: exports are byte-identical across runs
#: outage causes, by the code workers send (in the order of their names, so parts of a
#: gap sort by code as they would by name)
CAUSES = ("capacity", "hard_handover", "no_coverage")
_STEPS = (Action.ADDRESS_READY.value, Action.ADD_IP.value, Action.SET_PRIMARY.value,
          Action.LM_UPDATE.value)
_N_EVENTS = len(_STEPS) + 1   # and DELETE_IP or DEACTIVATE
#: every event's action, by the code :class:`PlanRows` gives it
_ACTIONS = (*_STEPS, Action.DELETE_IP.value, Action.DEACTIVATE.value)
#: each kind of row's keys, in the order of docs/plan-format.md
MOBILE_KEYS = ("name", "candidates", "serving")
CANDIDATE_KEYS = ("ap", "aos_s", "tca_s", "los_s", "max_elev_deg")
SERVING_KEYS = ("ap", "address", "from_s", "to_s", "from_utc", "to_utc")
HANDOVER_KEYS = ("mobile", "index", "from", "to", "feasible", "overlap_s", "outage_s",
                 "margin_s", "events")
EVENT_KEYS = ("action", "t_s", "t_utc", "address")
OUTAGE_KEYS = ("mobile", "from_s", "to_s", "duration_s", "cause", "from_utc", "to_utc")
UPDATE_KEYS = ("mobile", "t_s", "t_utc", "address", "ap")


class Coded:
    """A column of strings kept as codes: row ``i`` is ``texts[0][codes[0][i]]`` joined
    to ``texts[1][codes[1][i]]`` and so on. One part: a name among a few thousand (an
    access point, an action); two: an address, its subnet's head and the mobile's
    identifier. Each distinct text is made (and written) once, not once per row."""

    __slots__ = ("codes", "texts")

    def __init__(self, codes, texts):
        self.codes = tuple(np.asarray(c, np.int64) for c in codes)
        self.texts = tuple(tuple(t) for t in texts)

    def __len__(self) -> int:
        return len(self.codes[0])

    def __getitem__(self, rows) -> Coded:
        return Coded([c[rows] for c in self.codes], self.texts)

    def tolist(self) -> list[str]:
        parts = [np.array(t or ("",), object)[c].tolist()
                 for c, t in zip(self.codes, self.texts)]
        return parts[0] if len(parts) == 1 else list(map("".join, zip(*parts)))


def as_list(column) -> list:
    """A column's values as a list: lists as they are, arrays and codes made into Python
    values, ASCII text arrays (``*_utc``) into str."""
    if isinstance(column, list):
        return column
    if isinstance(column, np.ndarray) and column.dtype.kind == "S":
        return utc_texts(column)
    return column.tolist()


class Table(list):
    """Rows of one shape (dicts of ``keys``) kept as columns: for each key a list, a
    numpy array (numbers, or ASCII text as ``S`` bytes) or :class:`Coded` strings, or for
    a key holding a list of rows, a child table and how many of its rows each row has:
    a number (the same for every row) or offsets (an array of ``n + 1``, from 0: row ``i``
    has the child's rows ``offsets[i]:offsets[i + 1]``).

    A list to every caller (``isinstance``, ``json``, jsontext, pickling as a plain
    list): the first use of it as one makes the dicts, all at once, into the list itself,
    and from then on it is that list (edits stick). The plan JSON writer reads the
    columns instead while no row was made."""

    def __init__(self, keys: tuple, columns: dict, nested: dict | None = None):
        super().__init__()
        self.keys = tuple(keys)
        self._columns = columns                  # key -> list, array or Coded
        self._nested = nested or {}              # key -> (Table, rows per row or offsets)
        self._n = len(columns[next(k for k in keys if k in columns)])
        self._made = False

    def columns(self) -> tuple[dict, dict] | None:
        """The columns and nested tables, or None once the rows were made."""
        return None if self._made else (self._columns, self._nested)

    def column(self, key: str) -> list:
        """Every row's value of the (not nested) ``key``, without making the rows."""
        return [r[key] for r in self] if self._made else as_list(self._columns[key])

    def slice(self, start: int, stop: int) -> Table:
        """Rows ``start:stop`` as a table over the same columns (before rows are made)."""
        nested = {}
        for k, (child, per) in self._nested.items():
            if isinstance(per, int):
                nested[k] = (child.slice(start * per, stop * per), per)
            else:
                off = per[start:stop + 1]
                nested[k] = (child.slice(int(off[0]), int(off[-1])), off - off[0])
        return Table(self.keys, {k: c[start:stop] for k, c in self._columns.items()},
                     nested)

    def made(self) -> Table:
        """This table with its rows made (once) as dicts."""
        if not self._made:
            cols = []
            for k in self.keys:
                if k in self._nested:
                    child, per = self._nested[k]
                    items = list(child.made())
                    if isinstance(per, int):
                        cols.append(list(map(list, zip(*[iter(items)] * per))) if per
                                    else [[] for _ in range(self._n)])
                    else:
                        ends = per.tolist()
                        cols.append([items[a:b] for a, b in zip(ends[:-1], ends[1:])])
                else:
                    cols.append(as_list(self._columns[k]))
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


def packed(serve_counts, serve_ap, serve_from_s, serve_to_s, outage_counts, outage_from_s,
           outage_to_s, outage_cause, tr, timed, epoch) -> Planned:
    """Return one group's :class:`Planned`: per mobile (in the group's order) how many
    serving intervals and outage parts it has, their columns, and its handovers (``tr``,
    ``timed``: events.Transitions and events.Timed). Times are rounded and written as UTC
    text here, in the worker: the parent, which gathers every group's columns, has
    enough to do."""
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


def candidates(names: list[str], spans: dict, ap: np.ndarray, ap_names: list[str],
               columns: dict) -> tuple[Table, np.ndarray]:
    """Return the candidate rows of the mobiles ``names``, in that order, as a table and
    each mobile's offsets into it: mobile ``m`` has the windows ``spans[m] = (lo, hi)``
    of ``ap`` (access point codes) and ``columns`` (the other keys', rounded)."""
    lo = np.array([spans[m][0] for m in names], np.int64)
    count = np.array([spans[m][1] for m in names], np.int64) - lo
    offsets = np.concatenate([[0], np.cumsum(count)]).astype(np.int64)
    at = np.repeat(lo - offsets[:-1], count) + np.arange(offsets[-1])
    cols = {"ap": Coded([ap[at]], [ap_names])}
    cols.update((k, columns[k][at]) for k in CANDIDATE_KEYS[1:])
    return Table(CANDIDATE_KEYS, cols), offsets


class PlanRows:
    """The plan's ``mobiles``, ``handovers``, ``outages`` and ``location_updates`` as
    tables (docs/plan-format.md), built a group of mobiles at a time from the workers'
    arrays with numpy: no row is made here (:class:`Table` makes them on first use).
    Groups come in the plan's order (by mobile name)."""

    def __init__(self, ap_names: list[str], book, iid: dict[str, int]):
        self.ap_names, self.book, self.iid = list(ap_names), book, iid
        self.names: list[str] = []
        self.pieces: dict[str, dict[str, list]] = {
            t: {} for t in ("serving", "handovers", "events", "outages", "updates")}

    def _put(self, table: str, **columns) -> None:
        for k, v in columns.items():
            self.pieces[table].setdefault(k, []).append(v)

    def add(self, names: list[str], p: Planned) -> None:
        """Add the rows of the mobiles ``names`` that ``p`` plans (in their order)."""
        base = len(self.names)
        self.names += names
        n_serve, n_ho, n_out = p.counts.T
        mobiles = np.arange(base, base + len(names))
        serve_mob, ho_mob = np.repeat(mobiles, n_serve), np.repeat(mobiles, n_ho)
        self._put("serving", count=n_serve, ap=p.serve_ap, mob=serve_mob,
                  from_s=p.serve_from_s, to_s=p.serve_to_s, from_utc=p.serve_from_utc,
                  to_utc=p.serve_to_utc)
        first_ho = np.cumsum(n_ho) - n_ho
        self._put("handovers", mob=ho_mob, index=np.arange(len(ho_mob))
                  - np.repeat(first_ho, n_ho), ap_from=p.ho_from, ap_to=p.ho_to,
                  feasible=p.ho_feasible, overlap_s=p.ho_overlap_s,
                  outage_s=p.ho_outage_s, margin_s=p.ho_margin_s)
        # each handover's events in action order: four steps to the new address, then
        # the old one's DELETE_IP or DEACTIVATE
        action = np.tile(np.arange(_N_EVENTS), (len(ho_mob), 1))
        action[:, -1] += p.ho_deactivate.astype(np.int64)
        ap = np.repeat(p.ho_to, _N_EVENTS).reshape(-1, _N_EVENTS)
        ap[:, -1] = p.ho_from
        self._put("events", action=action.ravel(), t_s=p.ho_times_s.ravel(),
                  t_utc=p.ho_times_utc.ravel(), ap=ap.ravel(),
                  mob=np.repeat(ho_mob, _N_EVENTS))
        # location updates: each mobile's first serving interval, then every handover's
        # LM_UPDATE; by mobile, then time, ties in that order (a stable sort's)
        first = (np.cumsum(n_serve) - n_serve)[n_serve > 0]
        lm = _STEPS.index(Action.LM_UPDATE.value)
        mob = np.concatenate([serve_mob[first], ho_mob])
        t_s = np.concatenate([p.serve_from_s[first], p.ho_times_s[:, lm]])
        order = np.lexsort((np.arange(len(mob)), t_s, mob))
        self._put("updates", mob=mob[order], t_s=t_s[order],
                  t_utc=np.concatenate([p.serve_from_utc[first],
                                        p.ho_times_utc[:, lm]])[order],
                  ap=np.concatenate([p.serve_ap[first], p.ho_to])[order])
        # outages: by mobile, then start, ties in the workers' order
        out_mob = np.repeat(mobiles, n_out)
        order = np.lexsort((np.arange(len(out_mob)), p.outage_from_s, out_mob))
        self._put("outages", mob=out_mob[order], from_s=p.outage_from_s[order],
                  to_s=p.outage_to_s[order], duration_s=p.outage_s[order],
                  cause=p.outage_cause[order], from_utc=p.outage_from_utc[order],
                  to_utc=p.outage_to_utc[order])

    def tables(self, candidates: tuple[Table, np.ndarray]) -> dict[str, Table]:
        """The plan's four tables; ``candidates``: the mobiles' candidate rows, in the
        order of the mobiles added (:func:`candidates`)."""
        s, h, e, o, u = (self._joined(t) for t in ("serving", "handovers", "events",
                                                    "outages", "updates"))
        aps, mobile = [self.ap_names], [self.names]
        serving = Table(SERVING_KEYS, {
            "ap": Coded([s["ap"]], aps), "address": self._addresses(s["ap"], s["mob"]),
            "from_s": s["from_s"], "to_s": s["to_s"], "from_utc": s["from_utc"],
            "to_utc": s["to_utc"]})
        serve_off = np.concatenate([[0], np.cumsum(s["count"])]).astype(np.int64)
        mobiles = Table(MOBILE_KEYS, {"name": list(self.names)},
                        {"candidates": candidates, "serving": (serving, serve_off)})
        events = Table(EVENT_KEYS, {
            "action": Coded([e["action"]], [_ACTIONS]), "t_s": e["t_s"], "t_utc": e["t_utc"],
            "address": self._addresses(e["ap"], e["mob"])})
        handovers = Table(HANDOVER_KEYS, {
            "mobile": Coded([h["mob"]], mobile), "index": h["index"],
            "from": Coded([h["ap_from"]], aps), "to": Coded([h["ap_to"]], aps),
            "feasible": h["feasible"], "overlap_s": h["overlap_s"],
            "outage_s": h["outage_s"], "margin_s": h["margin_s"]},
            {"events": (events, _N_EVENTS)})
        outages = Table(OUTAGE_KEYS, {
            "mobile": Coded([o["mob"]], mobile), "from_s": o["from_s"], "to_s": o["to_s"],
            "duration_s": o["duration_s"], "cause": Coded([o["cause"]], [CAUSES]),
            "from_utc": o["from_utc"], "to_utc": o["to_utc"]})
        updates = Table(UPDATE_KEYS, {
            "mobile": Coded([u["mob"]], mobile), "t_s": u["t_s"], "t_utc": u["t_utc"],
            "address": self._addresses(u["ap"], u["mob"]),
            "ap": Coded([u["ap"]], aps)})
        return {"mobiles": mobiles, "handovers": handovers, "outages": outages,
                "location_updates": updates}

    def _joined(self, table: str) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) for k, v in self.pieces.pop(table).items()}

    def _addresses(self, ap: np.ndarray, mob: np.ndarray) -> Coded:
        """The address of mobile ``mob[i]`` at access point ``ap[i]``, for every i: the
        subnet's head and the identifier in hex where the book writes them so, else
        (another prefix's shape, a big identifier) each distinct one from the book."""
        iid = [self.iid[m] for m in self.names]
        used = np.flatnonzero(np.bincount(ap, minlength=len(self.ap_names))).tolist()
        heads = dict(zip(used, (self.book.head(self.ap_names[a]) for a in used)))
        if all(h is not None for h in heads.values()) and all(1 <= i < 0x10000 for i in iid):
            return Coded([ap, mob], [[heads.get(a, "") for a in range(len(self.ap_names))],
                                     [f"{i:x}" for i in iid]])
        n = max(len(self.names), 1)
        pairs, codes = np.unique(ap * n + mob, return_inverse=True)
        return Coded([codes.ravel()], [[self.book.address(self.ap_names[k // n], iid[k % n])
                                        for k in pairs.tolist()]])
