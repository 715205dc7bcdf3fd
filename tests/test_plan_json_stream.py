"""The plan JSON written from columns, a chunk at a time: the same bytes as
``dumps`` (json.dumps, sorted, indent 1) that it replaces, and no partial file when
stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigma_sn import columnar
from sigma_sn.elements import load_elements
from sigma_sn.planner.io import read_plan_json, relative_to_plan, write_plan_json
from sigma_sn.planner.jsontext import blocks
from sigma_sn.planner.kinds import Mode, Policy
from sigma_sn.planner.plan import dumps, plan_scenario, plan_windows
from sigma_sn.scenario import load_scenario
from sigma_sn.sites import Site
from sigma_sn.visibility import find_windows
from tests.conftest import REPO
from tests.test_rows import _ragged


def assert_same_text(ours: bytes, reference: str) -> None:
    """Equal text; a failure names the first line that differs."""
    text = ours.decode("utf-8")
    if text != reference:
        for k, (a, b) in enumerate(zip(text.splitlines(), reference.splitlines()), 1):
            assert a == b, f"line {k} differs"
        assert len(text.splitlines()) == len(reference.splitlines()), "line counts differ"
        assert text == reference


def same_in_any_chunks(plan: dict, monkeypatch) -> None:
    """The streamed text equals dumps' in one chunk and in chunks of a few rows."""
    reference = dumps(plan)
    assert_same_text(b"".join(blocks(plan)), reference)
    for rows in (1, 7):
        monkeypatch.setattr(columnar, "CHUNK_ROWS", rows)
        assert_same_text(b"".join(blocks(plan)), reference)


@pytest.mark.parametrize("name", sorted(p.stem for p in (REPO / "scenarios").glob("*.toml")))
def test_plans_of_shipped_scenarios_are_written_as_dumps_writes_them(name, monkeypatch):
    plan = plan_scenario(load_scenario(REPO / "scenarios" / f"{name}.toml"))
    # a gateway-anchored plan may hand over nowhere: its rows are then the path changes
    assert plan["handovers"] or plan.get("path_changes")
    same_in_any_chunks(plan, monkeypatch)


@pytest.fixture(scope="module")
def starlink_plan():
    """Thirty terminals under Starlink shell 1 for 3 h, max-elevation: tens of thousands
    of candidate windows, thousands of handovers; and a terminal that sees nothing."""
    rng = np.random.default_rng(7)
    sites = [Site(f"T{i:02d}", float(a), float(b))
             for i, (a, b) in enumerate(zip(rng.uniform(-50, 50, 30),
                                            rng.uniform(-180, 180, 30)))]
    # and one at the pole, which a 53° shell never covers above 25°: no candidates, no
    # serving interval, no location update, one outage as long as the plan
    sites.append(Site("T99 pole", 89.9, 0.0))
    sats = load_elements(REPO / "tle_data" / "starlink_shell1.tle").satellites
    w = find_windows(sats, sites, "2026-08-22T00:00:00Z", 3 * 3600.0, min_elev_deg=25.0,
                     workers=1)
    return plan_windows(w, sats, sites, Mode.ROUTER, Policy.MAX_ELEVATION,
                        min_elev_deg=25.0)


_TABLES = ("mobiles", "handovers", "outages", "location_updates")


def test_a_big_plan_is_written_as_dumps_writes_it(starlink_plan, monkeypatch, tmp_path):
    handovers = starlink_plan["handovers"]
    assert len(handovers) > 2000
    _, candidate_offsets = starlink_plan["mobiles"].columns()[1]["candidates"]
    assert candidate_offsets[-1] > 10_000
    # the tables' columns first (the planner keeps them so), then the rows they make
    assert all(starlink_plan[k].columns() is not None for k in _TABLES)
    from_columns = [b"".join(blocks(starlink_plan))]
    monkeypatch.setattr(columnar, "CHUNK_ROWS", 999)
    from_columns.append(b"".join(blocks(starlink_plan)))
    assert all(starlink_plan[k].columns() is not None for k in _TABLES)   # no row made
    reference = dumps(starlink_plan)
    assert handovers.columns() is None and isinstance(handovers[0], dict)
    assert starlink_plan["mobiles"].columns() is None
    for text in from_columns:
        assert_same_text(text, reference)
    assert_same_text(b"".join(blocks(starlink_plan)), reference)
    monkeypatch.setattr(columnar, "CHUNK_ROWS", 5000)
    assert_same_text(b"".join(blocks(starlink_plan)), reference)
    # the file: the same text, input paths made relative to it, and it reads back equal
    path = tmp_path / "plan.json"
    write_plan_json(path, starlink_plan)
    assert path.read_text() == dumps(relative_to_plan(starlink_plan, path))
    assert read_plan_json(path) == json.loads(reference)


def test_a_mobile_that_sees_nothing_has_empty_lists_and_one_outage(starlink_plan):
    pole = [m for m in starlink_plan["mobiles"] if m["name"] == "T99 pole"]
    assert pole == [{"name": "T99 pole", "candidates": [], "serving": []}]
    assert [(o["from_s"], o["to_s"], o["cause"]) for o in starlink_plan["outages"]
            if o["mobile"] == "T99 pole"] == [(0.0, 3 * 3600.0, "no_coverage")]
    assert not [u for u in starlink_plan["location_updates"] if u["mobile"] == "T99 pole"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=8), st.integers(1, 9))
def test_ragged_tables_are_written_as_json_writes_their_rows(counts, chunk_rows):
    """Nested rows by offsets (none for some rows), arrays and coded strings: the text
    of the rows they stand for, in any chunks."""
    columnar.CHUNK_ROWS, before = chunk_rows, columnar.CHUNK_ROWS
    try:
        # plain names, non-ASCII, and characters json escapes
        for texts in (("S-1", "S-2"), ("A", "Bé"), ("S-1", 'q"\\')):
            table, rows = _ragged(counts, texts)
            assert_same_text(b"".join(blocks({"mobiles": table})),
                             dumps({"mobiles": rows}))
            assert table.columns() is not None
    finally:
        columnar.CHUNK_ROWS = before


# values the fast paths must leave to json: escapes, non-ASCII, NUL, non-finite numbers,
# big integers, other types, rows of other keys, nested lists of other lengths
_scalar = (st.text(max_size=6) | st.floats() | st.integers(-2**70, 2**70) | st.booleans()
           | st.none() | st.sampled_from(["a", "a,b", 'q"', "\\", "é", "\x00", "\x7f", ""]))
_row = st.dictionaries(st.sampled_from(["a", "b", "t_s", "é"]), _scalar, max_size=4)
_nested_row = st.fixed_dictionaries(
    {"name": st.text(max_size=4), "events": st.lists(_row, max_size=3),
     "x": st.floats(allow_nan=False) | st.integers()})


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["handovers", "mobiles", "name", "outages"]),
                       st.lists(_row | _nested_row, max_size=8) | _scalar, max_size=4),
       st.integers(1, 5))
def test_any_rows_are_written_as_json_writes_them(plan, chunk_rows):
    columnar.CHUNK_ROWS, before = chunk_rows, columnar.CHUNK_ROWS
    try:
        assert_same_text(b"".join(blocks(plan)), dumps(plan))
    finally:
        columnar.CHUNK_ROWS = before


def test_rows_of_one_shape_take_the_fast_path_with_their_exact_numbers():
    # a handover's shape: every number as repr writes it, times and booleans as json
    t = [0.0, 1e-05, 123.456789, 86400.000001, -0.0, 5e-324, 1.7976931348623157e308]
    rows = [{"events": [{"t_s": v, "ok": v > 1}] * 5, "index": k, "mobile": "M\u00e9"}
            for k, v in enumerate(t)]
    assert_same_text(b"".join(blocks({"handovers": rows})), dumps({"handovers": rows}))


# --- stopped in the middle -----------------------------------------------------------------

_WRITER = """
import sys
from sigma_sn import columnar
from sigma_sn.planner.io import write_plan_json
columnar.CHUNK_ROWS = 2000
events = [{"action": "ADD_IP", "address": "2001:db8:1::1", "t_s": 1.5,
           "t_utc": "2026-08-22T00:00:01.500000Z"}] * 5
handovers = [{"events": events, "feasible": True, "from": "A", "index": k, "margin_s": 2.25,
              "mobile": "M", "outage_s": 0.0, "overlap_s": 3.0, "to": "B"}
             for k in range(400_000)]
plan = {"schema": "sigma-sn/plan/1", "inputs": {"files": [], "scenario": None},
        "handovers": handovers}
print("ready", flush=True)
write_plan_json(sys.argv[1], plan)
"""


def _temporary_size(folder, keep: str) -> int:
    """Bytes in the files of ``folder`` other than ``keep``: the write's temporary."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.name != keep)


def test_a_plan_write_stopped_by_sigint_leaves_the_old_file_and_nothing_else(tmp_path):
    out = tmp_path / "plan.json"
    out.write_text("previous result\n")
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert proc.stdout.readline() == b"ready\n"
    # interrupt once a megabyte is written: mid-write (a loaded machine takes a while)
    deadline = time.monotonic() + 150.0
    while _temporary_size(tmp_path, out.name) <= 1_000_000:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the write never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and b"KeyboardInterrupt" in err
    assert os.listdir(tmp_path) == ["plan.json"]
    assert out.read_text() == "previous result\n"
