"""The plan's numbers as JSON text: times rounded to the microsecond as Python's round
does, whichever way the rows are made."""

from __future__ import annotations

import copy
import json
import math
import pickle

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sigma_sn.planner.rows import Table, rounded


def _same(a: float, b: float) -> bool:
    return (a != a and b != b) or (a == b and math.copysign(1, a) == math.copysign(1, b))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e7, 1e7),
    # half a microsecond after a whole one: the ties where x·1e6 and the exact decimal
    # value of x can fall on different sides
    st.integers(-10**13, 10**13).map(lambda k: (k + 0.5) / 1e6)), max_size=50))
def test_rounded_is_pythons_round_to_the_microsecond(values):
    got = rounded(np.array(values, float))
    assert all(_same(g, round(v, 6)) for g, v in zip(got, values))
    assert len(got) == len(values)


def test_rounded_differs_from_numpy_round_where_numpy_is_wrong():
    # 76552.6912475 is stored a little below the half microsecond: the correct rounding
    # is down, and numpy's x·1e6 product rounds up (a real window time from a plan)
    x = 76552.6912475
    assert round(x, 6) == 76552.691247 != float(np.round(x, 6))
    assert rounded(np.array([x])) == [76552.691247]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e5, 1e6), st.just(math.nan)), max_size=20),
       st.sampled_from([(3,), (-1, 5)]))
def test_utc_texts_are_each_time_as_epoch_iso_writes_it(times, shape):
    """The fast decode (fixed-width slices) and the fallback for NaN (``NaTZ``, shorter,
    NUL-padded) both give what each time formatted alone gives, flattened."""
    from sigma_sn.planner.rows import utc_texts
    from sigma_sn.propagate import Epoch

    epoch = Epoch.at("2026-08-22T00:00:00Z")
    t = np.array(times * shape[-1], float)
    t = t.reshape(-1, shape[-1]) if len(shape) == 2 and len(t) else t
    want = [str(epoch.iso(float(x))) for x in t.ravel()]
    assert utc_texts(epoch.iso_ascii(t)) == want


def _table() -> Table:
    events = Table(("action", "t_s"), {"action": ["a", "b", "c", "d"], "t_s": [1.0, 2.0, 3.0,
                                                                            4.5]})
    return Table(("mobile", "index", "events"), {"mobile": ["M1", "M2"], "index": [0, 1]},
                 {"events": (events, 2)})


_ROWS = [{"mobile": "M1", "index": 0, "events": [{"action": "a", "t_s": 1.0},
                                                 {"action": "b", "t_s": 2.0}]},
         {"mobile": "M2", "index": 1, "events": [{"action": "c", "t_s": 3.0},
                                                 {"action": "d", "t_s": 4.5}]}]


def test_a_table_is_the_list_of_its_rows_to_every_caller():
    assert len(_table()) == 2 and _table() and isinstance(_table(), list)
    assert _table() == _ROWS and list(_table()) == _ROWS and _table()[1] == _ROWS[1]
    assert _table() == _table() and not _table() != _table() and _table() != _ROWS[:1]
    assert _table() + _table() == _ROWS * 2 and _ROWS[1] in _table()
    assert _table()[::-1] == _ROWS[::-1] and [0] + _table() == [0, *_ROWS]
    assert json.dumps(_table()) == json.dumps(_ROWS)
    assert json.dumps(_table(), indent=1) == json.dumps(_ROWS, indent=1)
    copied = pickle.loads(pickle.dumps(_table()))
    assert type(copied) is list and copied == _ROWS
    assert copy.deepcopy(_table()) == _ROWS
    assert not Table(("a",), {"a": []}) and json.dumps(Table(("a",), {"a": []})) == "[]"


def test_edits_to_a_tables_rows_stick_and_its_columns_are_then_gone():
    t = _table()
    assert t.columns() is not None and t.column("index") == [0, 1]
    t[1]["events"][0]["t_s"] = 9.0
    t.append({"mobile": "M3"})
    assert t.columns() is None and t[1]["events"][0]["t_s"] == 9.0 and len(t) == 3
    assert t.column("mobile") == ["M1", "M2", "M3"]


def _ragged(counts: list[int], texts=("A", "Bé")) -> tuple[Table, list[dict]]:
    """A table of mobiles, each with ``counts[i]`` nested rows, built from numpy columns,
    coded strings (one part, and two joined) and offsets, and the rows it stands for."""
    from sigma_sn.planner.rows import Coded

    n = sum(counts)
    t = np.arange(n) * 1.5
    sat = np.arange(n) % len(texts)
    child = Table(("ap", "t_s", "n", "ok", "utc", "addr"),
                  {"ap": Coded([sat], [texts]), "t_s": t, "n": np.arange(n) * 7,
                   "ok": np.arange(n) % 3 == 0, "utc": np.array([b"2026-%d" % k for k in
                                                                  range(n)], "S"),
                   "addr": Coded([sat, np.arange(n) % 2], [[f"{x}:" for x in texts],
                                                              ("1", "ff")])})
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    table = Table(("name", "rows"), {"name": [f"M{i}" for i in range(len(counts))]},
                  {"rows": (child, offsets)})
    flat = [{"ap": texts[s], "t_s": float(v), "n": 7 * k, "ok": k % 3 == 0,
             "utc": f"2026-{k}", "addr": f"{texts[s]}:" + ("1", "ff")[k % 2]}
            for k, (s, v) in enumerate(zip(sat.tolist(), t.tolist()))]
    rows = [{"name": f"M{i}", "rows": flat[offsets[i]:offsets[i + 1]]}
            for i in range(len(counts))]
    return table, rows


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4), max_size=6), st.integers(0, 6), st.integers(0, 6))
def test_a_table_with_ragged_nested_rows_and_array_columns_is_its_rows(counts, a, b):
    """Offsets (rows with no nested rows among them), numpy numbers, booleans, ASCII
    text and coded strings: the same rows as plain lists, whole and sliced, and as json,
    pickle and the column reader see them."""
    table, rows = _ragged(counts)
    assert len(table) == len(rows) and table.column("name") == [r["name"] for r in rows]
    lo, hi = sorted((min(a, len(rows)), min(b, len(rows))))
    assert table.slice(lo, hi) == rows[lo:hi]
    child = table.columns()[1]["rows"][0]
    assert child.column("ap") == [r["ap"] for m in rows for r in m["rows"]]
    assert child.column("utc") == [r["utc"] for m in rows for r in m["rows"]]
    assert json.dumps(table, indent=1) == json.dumps(rows, indent=1)
    copied = pickle.loads(pickle.dumps(_ragged(counts)[0]))
    assert type(copied) is list and copied == rows
    assert all(type(r["t_s"]) is float and type(r["n"]) is int and type(r["ok"]) is bool
               for m in table for r in m["rows"])


def test_edits_to_ragged_nested_rows_stick():
    table, rows = _ragged([2, 0, 1])
    table[2]["rows"][0]["t_s"] = -1.0
    table[1]["rows"].append({"ap": "C"})
    assert table[2]["rows"][0]["t_s"] == -1.0 and table[1]["rows"] == [{"ap": "C"}]
    assert table.columns() is None and table[0] == rows[0]


class _NoHeads:
    """An address book that writes every address whole (as for a prefix whose addresses
    are not its subnet's text and the identifier in hex)."""

    def __init__(self, book):
        self.book = book

    def head(self, ap):
        return None

    def address(self, ap, interface_id):
        return self.book.address(ap, interface_id)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), max_size=30),
       st.sampled_from(["2001:db8::/32", "fd00:1:2::/48", "2001:db8:0:8::/61"]),
       st.booleans())
def test_coded_addresses_are_the_address_books(pairs, prefix, whole):
    """Every event's address, coded as the subnet's head and the identifier (or, where
    the book writes no head, each distinct address whole), is the book's own."""
    from sigma_sn.planner.addresses import AddressBook, ap_subnets
    from sigma_sn.planner.rows import PlanRows

    aps = ["S-1", "S-2", "S-3", "S-4"]
    book = AddressBook(ap_subnets(aps, prefix))
    built = PlanRows(aps, _NoHeads(book) if whole else book,
                     {"B": 1, "A": 2, "C": 0xFFFF})
    built.names = ["A", "B", "C"]
    ap = np.array([a for a, _ in pairs], np.int64)
    mob = np.array([m for _, m in pairs], np.int64)
    got = built._addresses(ap, mob)
    assert len(got.codes) == (1 if whole and pairs else 2)
    assert got.tolist() == [book.address(aps[a], built.iid[built.names[m]])
                            for a, m in pairs]
