"""Windows files written from columns: the same bytes as the row-by-row writer they
replace, Parquet that reads back to the same rows, and no partial file when stopped."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigma_sn import columnar
from sigma_sn.elements import load_elements
from sigma_sn.planner.plan import scenario_windows
from sigma_sn.scenario import load_scenario
from sigma_sn.sites import read_sites_csv
from sigma_sn.visibility import COLUMNS, Windows, find_windows
from sigma_sn.windows_io import read_windows_csv, windows_csv, windows_json, write_windows
from tests.conftest import REPO

DATA = REPO.parent / "shared" / "data"
STARLINK = DATA / "tle" / "starlink_2026-08-22.tle"
CITIES = DATA / "stations" / "hypatia_cities_top100.csv"


# --- the writer these replace, row by row, kept here as the reference ---------------------

def reference_csv(windows) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in windows.rows():
        w.writerow({**row, "aos_truncated": str(row["aos_truncated"]).lower(),
                    "los_truncated": str(row["los_truncated"]).lower(),
                    "max_elev_deg": f"{row['max_elev_deg']:.6f}",
                    "duration_s": f"{row['duration_s']:.6f}"})
    return buf.getvalue()


def reference_json(windows) -> str:
    return json.dumps({"windows": windows.rows()}, indent=1, sort_keys=False) + "\n"


def assert_same_text(ours: str, reference: str) -> None:
    """Equal text; a failure names the first line that differs."""
    if ours != reference:
        for k, (a, b) in enumerate(zip(ours.splitlines(), reference.splitlines()), 1):
            assert a == b, f"line {k} differs"
        assert len(ours.splitlines()) == len(reference.splitlines()), "line counts differ"
        assert ours == reference


def all_texts_match(windows, monkeypatch) -> None:
    """CSV and JSON equal the reference, in one chunk and in many (formatted in forked
    workers too)."""
    ref_csv, ref_json = reference_csv(windows), reference_json(windows)
    assert_same_text(windows_csv(windows), ref_csv)
    assert_same_text(windows_json(windows), ref_json)
    monkeypatch.setattr(columnar, "CHUNK_ROWS", max(1, len(windows) // 7))
    from sigma_sn import windows_io
    for workers in (1, 2):
        assert b"".join(windows_io.csv_blocks(windows, workers)).decode() == ref_csv
        assert b"".join(windows_io.json_blocks(windows, workers)).decode() == ref_json


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "scenarios").glob("*.toml")))
def test_text_is_byte_identical_to_the_row_writer_on_shipped_scenarios(name, monkeypatch):
    windows = scenario_windows(load_scenario(REPO / "scenarios" / name)).windows
    assert len(windows)
    all_texts_match(windows, monkeypatch)


@pytest.fixture(scope="module")
def starlink_sample():
    """Every 40th Starlink satellite over the hundred cities for a day."""
    sats = load_elements(STARLINK).satellites[::40]
    return find_windows(sats, read_sites_csv(CITIES), datetime(2026, 8, 22, tzinfo=timezone.utc),
                        86400.0, min_elev_deg=25.0, workers=1)


def test_text_is_byte_identical_to_the_row_writer_on_starlink_windows(starlink_sample,
                                                                      monkeypatch):
    assert len(starlink_sample) > 10_000
    all_texts_match(starlink_sample, monkeypatch)


def test_no_windows_give_a_header_and_an_empty_list(starlink_sample):
    none = starlink_sample.select(np.zeros(len(starlink_sample), bool))
    assert windows_csv(none) == reference_csv(none) == ",".join(COLUMNS) + "\n"
    assert windows_json(none) == reference_json(none)


# --- numbers as Python writes them ----------------------------------------------------

# ties at the sixth decimal (k/128 is exact in binary), tiny, negative and huge values
EDGES = [0.0, -0.0, 1 / 128, 3 / 128, -5 / 128, 2.5e-7, 5e-7, -4e-7, 1e-5, 9.99999e-5,
         1e-4, 0.1, 0.3, 89.9999995, 86400.0, 123456789.0, 1e9, 3e12, 1e20, -1e20,
         math.inf, -math.inf, math.nan, 0.0000005000000001, 2.0000005]
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e13, max_value=1e13)


def fixed_texts(x):
    return columnar.csv_rows([columnar.fixed(x)], len(x)).decode().split("\n")[:-1]


def shortest_texts(x):
    return columnar.csv_rows([columnar.shortest(x)], len(x)).decode().split("\n")[:-1]


def test_numbers_at_the_edges_are_written_as_python_writes_them():
    x = np.array(EDGES)
    assert fixed_texts(x) == [f"{round(v, 6):.6f}" for v in EDGES]
    assert shortest_texts(x) == [json.dumps(round(v, 6)) for v in EDGES]


@settings(max_examples=300, deadline=None)
@given(st.lists(finite, min_size=1, max_size=50))
def test_numbers_are_written_as_python_writes_them(values):
    x = np.array(values)
    assert fixed_texts(x) == [f"{round(v, 6):.6f}" for v in values]
    assert shortest_texts(x) == [json.dumps(round(v, 6)) for v in values]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
                        max_size=12), min_size=1, max_size=8))
def test_names_are_quoted_and_escaped_as_csv_and_json_write_them(names):
    idx = np.arange(len(names))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for n in names:
        writer.writerow([n, 1])
    one = np.full((len(names), 1), ord("1"), np.uint8)
    ours = columnar.csv_rows([columnar.Lookup(columnar.csv_texts(names))[idx], one], len(names))
    assert ours.decode() == buf.getvalue()
    doc = json.dumps([{"n": n} for n in names], indent=1)
    rows = columnar.json_records(["n"], [columnar.Lookup(columnar.json_texts(names))[idx]],
                                 len(names), level=1)
    assert "[" + rows[1:].decode() + "\n]" == doc


# --- Parquet -----------------------------------------------------------------------------

def test_parquet_reads_back_to_the_same_rows(starlink_sample, tmp_path, monkeypatch):
    pq = pytest.importorskip("pyarrow.parquet")
    monkeypatch.setattr(columnar, "CHUNK_ROWS", 5000)   # several row groups
    write_windows(tmp_path / "w.parquet", starlink_sample)
    table = pq.read_table(tmp_path / "w.parquet")
    assert table.column_names == list(COLUMNS)
    rows = table.to_pylist()
    for r in rows:
        for k in ("aos_utc", "tca_utc", "los_utc"):
            r[k] = r[k].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert rows == starlink_sample.rows()


def test_cli_writes_parquet(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    from sigma_sn.cli import main
    base = ["windows", "--tle", str(REPO / "tle_data" / "iridium_like.tle"),
            "--stations", str(REPO / "scenarios" / "sites" / "nen_like.csv"),
            "--start", "2026-08-22T00:00:00Z", "--hours", "3", "--min-elev", "8.2"]
    assert main(base + ["--out", str(tmp_path / "w.parquet")]) == 0
    assert main(base + ["--out", str(tmp_path / "w.csv")]) == 0
    rows = pq.read_table(tmp_path / "w.parquet").to_pylist()
    assert [r["site"] for r in rows] == [r["site"] for r in read_windows_csv(tmp_path / "w.csv")]


# --- stopped in the middle -----------------------------------------------------------------

_WRITER = """
import sys, numpy as np
from sigma_sn import columnar
from sigma_sn.propagate import Epoch
from sigma_sn.visibility import Windows
from sigma_sn.windows_io import write_windows
columnar.CHUNK_ROWS = 2000
n = 3_000_000
t = np.sort(np.random.default_rng(1).uniform(0, 86400, n))
w = Windows(Epoch.at("2026-08-22T00:00:00Z"), 86400.0, ("A", "B"), (1, 2), ("X",),
            np.arange(n) % 2, np.zeros(n, int), t, t + 100, t + 200, np.full(n, 45.0),
            np.zeros(n, bool), np.zeros(n, bool))
print("ready", flush=True)
write_windows(sys.argv[1], w, workers=int(sys.argv[2]))
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_a_write_stopped_by_sigint_leaves_the_old_file_and_nothing_else(tmp_path, workers):
    out = tmp_path / "w.csv"
    out.write_text("previous result\n")
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(out), str(workers)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert proc.stdout.readline() == b"ready\n"
    # stop it once the temporary file has grown: the write is under way (a loaded
    # machine may take a while to get there)
    for _ in range(3000):
        temps = [p for p in tmp_path.iterdir() if p.name != "w.csv"]
        if temps and temps[0].stat().st_size > 1_000_000:
            break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    else:
        pytest.fail("the write never started")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and b"KeyboardInterrupt" in err
    assert sorted(os.listdir(tmp_path)) == ["w.csv"]
    assert out.read_text() == "previous result\n"


def test_rows_equal_in_every_sort_key_keep_their_order(starlink_sample):
    # the same satellite listed twice under two names (two element files): its windows
    # tie in AOS, site and NORAD id, and are written in the order a stable sort gives
    w = starlink_sample.select(np.arange(len(starlink_sample)) < 400)
    n_sat = len(w.sat_names)
    cols = {k: np.concatenate([getattr(w, k)] * 2) for k in
            ("sat", "site", "aos_s", "tca_s", "los_s", "max_elev_deg", "aos_truncated",
             "los_truncated")}
    cols["sat"][len(w):] += n_sat   # the second copy of each window: the second name
    doubled = Windows(w.epoch, w.duration_s, w.sat_names + tuple(f"{n} (again)" for n in
                                                                 w.sat_names),
                      w.norad_ids * 2, w.site_names, **cols)
    assert windows_csv(doubled) == reference_csv(doubled)


def test_the_writer_loads_while_find_windows_workers_compute(monkeypatch):
    # the command hands find_windows the writer's loading: it runs once, in this
    # process, after the workers were forked, and changes nothing found
    from sigma_sn import forked, visibility
    from sigma_sn.windows_io import load_writer
    started, seen = [], []

    class Recorded(forked.ForkedMap):
        def __enter__(self):
            entered = super().__enter__()
            started.append(len(self._procs))
            return entered

    def meanwhile():
        load_writer()
        seen.append((os.getpid(), list(started)))

    monkeypatch.setattr(visibility, "ForkedMap", Recorded)
    sats = load_elements(STARLINK).satellites[:300]
    sites = read_sites_csv(CITIES)[:5]
    start = datetime(2026, 8, 22, tzinfo=timezone.utc)
    got = find_windows(sats, sites, start, 7200.0, min_elev_deg=25.0, workers=2,
                       chunk_cells=100_000, meanwhile=meanwhile)
    assert seen == [(os.getpid(), [2])]
    plain = find_windows(sats, sites, start, 7200.0, min_elev_deg=25.0, workers=1,
                         meanwhile=lambda: seen.append("serial"))
    assert seen[1:] == ["serial"]
    assert windows_csv(got) == windows_csv(plain)
