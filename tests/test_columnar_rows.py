"""Rows written by the compiled pass (columnar.format_rows): each kind of cell gives the
text Python gives for the same value, and the compiled sort is numpy's stable argsort."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sigma_sn import columnar
from sigma_sn.propagate import Epoch

# ties at the sixth decimal (k/128 is exact in binary), tiny, negative and huge values
EDGES = [0.0, -0.0, 1 / 128, 3 / 128, -5 / 128, 2.5e-7, 5e-7, -4e-7, 1e-5, 9.99999e-5,
         1e-4, 0.1, 0.3, 89.9999995, 86400.0, 123456789.0, 1e9, 3e12, 1e20, -1e20,
         float("inf"), float("-inf"), float("nan"), 0.0000005000000001, 2.0000005,
         4.6e12, -4.6e12, 9.2e12]
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e13, max_value=1e13)


def lines(column) -> list[str]:
    n = len(column.values)
    return bytes(columnar.format_rows([column], columnar.csv_pieces(1), n)).decode().split(
        "\n")[:-1]


def test_numbers_at_the_edges_are_written_as_python_writes_them():
    x = np.array(EDGES)
    assert lines(columnar.fixed_column(x)) == [f"{round(v, 6):.6f}" for v in EDGES]
    assert lines(columnar.shortest_column(x)) == [json.dumps(round(v, 6)) for v in EDGES]


@settings(max_examples=300, deadline=None)
@given(st.lists(finite, min_size=1, max_size=50))
def test_numbers_are_written_as_python_writes_them(values):
    x = np.array(values)
    assert lines(columnar.fixed_column(x)) == [f"{round(v, 6):.6f}" for v in values]
    assert lines(columnar.shortest_column(x)) == [json.dumps(round(v, 6)) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 1)),
       st.lists(st.floats(min_value=-4e7, max_value=4e7, allow_nan=False), min_size=1,
                max_size=30))
def test_timestamps_are_epoch_iso(start, t_s):
    # across month, year and leap-day ends, before and after the start
    epoch = Epoch.at(start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    t_s = np.array(t_s)
    assert lines(columnar.iso_column(epoch, t_s)) == [str(s) for s in epoch.iso(t_s)]


def test_timestamps_outside_four_digit_years_and_nan_are_epoch_iso_too():
    for start, t_s in ((datetime(1000, 1, 1, 0, 0, 1), [-1.5, 0.0, 3.25]),
                       (datetime(9999, 12, 31, 23, 59, 58), [1.0, 2.5]),
                       (datetime(2026, 8, 22), [0.0, float("nan"), 60.0])):
        epoch = Epoch.at(start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        t_s = np.array(t_s)
        assert lines(columnar.iso_column(epoch, t_s)) == [str(s) for s in epoch.iso(t_s)]


def test_every_day_of_four_centuries_has_its_calendar_date():
    days = np.arange(-200_000, 200_000, 1)   # 1422 to 2517: leap and century years
    got = lines(columnar.iso_column(Epoch.at("1970-01-01T00:00:00Z"), days * 86400.0))
    first = datetime(1970, 1, 1) + timedelta(days=-200_000)
    assert got[0] == first.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert got == [str(d) + "T00:00:00.000000Z" for d in
                   np.datetime64("1970-01-01") + days.astype("timedelta64[D]")]


def test_cells_of_every_kind_side_by_side_make_csv_and_json_rows():
    names = ["Zürich", 'say "hi"', "a,b", "plain"]
    codes = np.array([0, 1, 2, 3, 3])
    x = np.array([1.5, -0.25, 7e-7, 1e21, 2.0])
    flags = np.array([True, False, True, False, True])
    cols = [columnar.text_column(columnar.Texts.of(columnar.csv_texts(names)), codes),
            columnar.fixed_column(x), columnar.boolean_column(flags)]
    text = bytes(columnar.format_rows(cols, columnar.csv_pieces(3), 5)).decode()
    want = "".join(f"{columnar.csv_texts([names[c]])[0]},{v:.6f},{str(f).lower()}\n"
                   for c, v, f in zip(codes, x, flags))
    assert text == want
    cols = [columnar.text_column(columnar.Texts.of(columnar.json_texts(names)), codes),
            columnar.shortest_column(x), columnar.boolean_column(flags)]
    pieces = columnar.json_pieces(["name", "x", "flag"], level=1)
    rows = bytes(columnar.format_rows(cols, pieces, 5))
    doc = json.dumps([{"name": names[c], "x": round(v, 6), "flag": bool(f)}
                      for c, v, f in zip(codes, x, flags)], indent=1)
    assert "[" + rows[1:].decode() + "\n]" == doc


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6,
                          max_value=1e6) | st.sampled_from([0.0, 1.0, 86400.0]),
                max_size=400))
def test_the_compiled_order_is_numpys_stable_argsort(keys):
    keys = np.array(keys, float)
    assert np.array_equal(columnar.stable_order(keys), np.argsort(keys, kind="stable"))


def test_the_compiled_order_on_a_crowded_start_and_with_nan():
    rng = np.random.default_rng(7)
    keys = np.concatenate([np.zeros(5000), rng.uniform(0, 86400, 50_000), np.zeros(300)])
    assert np.array_equal(columnar.stable_order(keys), np.argsort(keys, kind="stable"))
    keys[10] = np.nan
    assert np.array_equal(columnar.stable_order(keys), np.argsort(keys, kind="stable"))


def test_threads_give_the_results_in_order_and_stop_with_the_caller():
    started = []

    def work(k):
        started.append(k)
        return k * k

    assert list(columnar.ordered_threads(work, range(50), 3)) == [k * k for k in range(50)]
    started.clear()
    blocks = columnar.ordered_threads(work, range(1000), 2)
    assert next(blocks) == 0
    blocks.close()   # the writer stopped: nothing more starts, no thread is left
    assert len(started) <= 4
    assert not [t for t in threading.enumerate() if t.name.startswith("sigma-sn-text")]


def test_chunks_cover_the_rows_once_in_order_with_a_small_first_one():
    for n, size, first in ((0, 10, 3), (1, 10, 3), (5, 10, 3), (25, 10, 3), (25, 10, None),
                           (25, 10, 0), (30, 10, 10)):
        parts = list(columnar.chunks(n, size, first=first))
        assert [i for p in parts for i in range(p.start, p.stop)] == list(range(n))
        assert all(p.stop - p.start <= size for p in parts)
        if n and first:
            assert parts[0] == slice(0, min(first, n))


def test_the_compiled_order_of_keys_too_close_to_divide():
    # a range of one subnormal step: n / range overflows to inf (0 x inf is NaN)
    keys = np.array([5e-324, 0.0, 5e-324, 0.0] * 3)
    assert np.array_equal(columnar.stable_order(keys), np.argsort(keys, kind="stable"))
