"""Windows to and from CSV, JSON and Parquet, atomically and in a stable order.

The files are written from the :class:`~sigma_sn.visibility.Windows` columns a chunk of
rows at a time (:mod:`sigma_sn.columnar`), so a day of Starlink over a hundred cities
(millions of windows) is written in seconds and memory does not grow with the rows.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Iterator

import numpy as np

from sigma_sn import columnar
from sigma_sn.atomic import atomic_open
from sigma_sn.visibility import COLUMNS, Windows

#: the file types ``write_windows`` writes, by suffix
SUFFIXES = (".csv", ".json", ".parquet")


def load_writer(path=None) -> None:
    """Load what writing windows to ``path`` needs (the compiled formatter and sort, or
    pyarrow for ``.parquet``): about half a CPU second, best spent while
    :func:`~sigma_sn.visibility.find_windows`' workers compute (its ``meanwhile``)."""
    if path is not None and Path(path).suffix == ".parquet":
        import pyarrow.parquet  # noqa: F401
    import sigma_sn.columnar_jit  # noqa: F401


def export_order(windows: Windows) -> np.ndarray:
    """Row order of every export: by AOS, then site, then NORAD id (as :meth:`Windows.rows`)."""
    order = columnar.stable_order(windows.aos_s)
    aos = windows.aos_s[order]
    # AOS rarely ties (mostly passes already up at the start): only those rows are sorted
    # by the other keys, which costs a fraction of a lexsort of every row
    same = aos[1:] == aos[:-1]
    tied = np.zeros(len(aos), bool)
    tied[1:] |= same
    tied[:-1] |= same
    rows = np.flatnonzero(tied)
    if rows.size:
        group = np.cumsum(np.concatenate([[True], ~same]))[rows]
        sub = order[rows]
        norad = np.asarray(windows.norad_ids, np.int64)[windows.sat[sub]]
        # (the index last: rows equal in all three keep their order, as in a stable sort)
        order[rows] = sub[np.lexsort((sub, norad, windows.site[sub], group))]
    return order


class _Text:
    """CSV or JSON text of chunks of the windows' rows in export order."""

    def __init__(self, windows: Windows, kind: str, order: np.ndarray):
        self.w, self.kind, self.order = windows, kind, order
        names = columnar.json_texts if kind == "json" else columnar.csv_texts
        self.sat_text = columnar.Texts.of(names(windows.sat_names))
        self.site_text = columnar.Texts.of(names(windows.site_names))
        self.norad = columnar.Texts.of([str(int(n)) for n in windows.norad_ids])
        self.pieces = (columnar.json_pieces(COLUMNS, ("aos_utc", "tca_utc", "los_utc"))
                       if kind == "json" else columnar.csv_pieces(len(COLUMNS)))

    def __call__(self, part: slice) -> memoryview:
        w, idx = self.w, self.order[part]
        sat = w.sat[idx]
        number = columnar.shortest_column if self.kind == "json" else columnar.fixed_column
        aos, los = w.aos_s[idx], w.los_s[idx]
        cols = [columnar.text_column(self.sat_text, sat),
                columnar.text_column(self.norad, sat),
                columnar.text_column(self.site_text, w.site[idx]),
                columnar.iso_column(w.epoch, aos),
                columnar.iso_column(w.epoch, w.tca_s[idx]),
                columnar.iso_column(w.epoch, los),
                number(w.max_elev_deg[idx]), number(los - aos),
                columnar.boolean_column(w.aos_truncated[idx]),
                columnar.boolean_column(w.los_truncated[idx])]
        block = columnar.format_rows(cols, self.pieces, len(idx))
        # "\n" alone before the first JSON row
        return block[1:] if self.kind == "json" and part.start == 0 else block


def _blocks(windows: Windows, kind: str, workers: int | None) -> Iterator[memoryview]:
    """The text of the windows' rows, a block per chunk of rows. ``workers`` threads
    format the chunks ahead (the compiled formatter holds no GIL) while the caller
    writes the one in hand."""
    order = export_order(windows)
    text = _Text(windows, kind, order)
    workers = (os.cpu_count() or 1) if workers is None else workers
    # the first chunk small: the caller writes while the threads still fill the pipeline
    parts = columnar.chunks(len(order), columnar.CHUNK_ROWS, first=columnar.CHUNK_ROWS // 8)
    yield from columnar.ordered_threads(text, parts, workers)


def csv_blocks(windows: Windows, workers: int | None = 1) -> Iterator[bytes | memoryview]:
    """The windows as CSV (header :data:`COLUMNS`), a block of bytes per chunk of rows."""
    yield (",".join(COLUMNS) + "\n").encode()
    yield from _blocks(windows, "csv", workers)


def json_blocks(windows: Windows, workers: int | None = 1) -> Iterator[bytes | memoryview]:
    """The windows as ``{"windows": [...]}`` (``json.dumps(..., indent=1)`` and a final
    newline), a block of bytes per chunk of rows."""
    if not len(windows):
        yield b'{\n "windows": []\n}\n'
        return
    yield b'{\n "windows": ['
    yield from _blocks(windows, "json", workers)
    yield b"\n ]\n}\n"


def write_parquet(fh, windows: Windows, workers: int | None = 1) -> None:
    """Write the windows to the binary file ``fh`` as Parquet, a row group per chunk:
    the columns of :data:`COLUMNS`, times as UTC timestamps (microseconds), numbers
    rounded as in the text files. ``workers`` threads gather the next chunks' columns
    while pyarrow encodes the one in hand (``None``: one per core)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    order = export_order(windows)
    stamp = pa.timestamp("us", tz="UTC")
    schema = pa.schema([("sat_name", pa.string()), ("norad_id", pa.int64()),
                        ("site", pa.string()), ("aos_utc", stamp), ("tca_utc", stamp),
                        ("los_utc", stamp), ("max_elev_deg", pa.float64()),
                        ("duration_s", pa.float64()), ("aos_truncated", pa.bool_()),
                        ("los_truncated", pa.bool_())])
    w = windows
    base_us = int(np.datetime64(w.epoch.start_utc.replace(tzinfo=None), "us").astype(np.int64))
    sat_names = pa.array(w.sat_names, pa.string())
    site_names = pa.array(w.site_names, pa.string())
    norad = np.asarray(w.norad_ids, np.int64)

    def us(t_s):
        return pa.array(base_us + np.round(t_s * 1e6).astype(np.int64), stamp)

    def table(part: slice):
        idx = order[part]
        sat = w.sat[idx]
        return pa.table([
            sat_names.take(sat), norad[sat], site_names.take(w.site[idx]),
            us(w.aos_s[idx]), us(w.tca_s[idx]), us(w.los_s[idx]),
            np.round(w.max_elev_deg[idx], columnar.DECIMALS),
            np.round(w.los_s[idx] - w.aos_s[idx], columnar.DECIMALS),
            w.aos_truncated[idx].astype(bool), w.los_truncated[idx].astype(bool)],
            schema=schema)

    workers = (os.cpu_count() or 1) if workers is None else workers
    with pq.ParquetWriter(fh, schema) as out:
        for part in columnar.ordered_threads(
                table, columnar.chunks(len(order), columnar.CHUNK_ROWS), workers):
            out.write_table(part)
        if not len(order):
            out.write_table(schema.empty_table())


def windows_csv(windows: Windows) -> str:
    """Return the windows as CSV text with the header :data:`COLUMNS`."""
    return b"".join(csv_blocks(windows)).decode("utf-8")


def windows_json(windows: Windows) -> str:
    """Return ``{"windows": [...]}`` with the keys of :data:`COLUMNS`."""
    return b"".join(json_blocks(windows)).decode("utf-8")


def write_windows(path, windows: Windows, *, workers: int | None = 1) -> None:
    """Write windows to ``path`` (``.csv``, ``.json`` or ``.parquet``) atomically, a
    chunk of rows at a time: an interrupted write leaves the old file, or none. The
    chunks are made by ``workers`` threads (``None``: one per core) while the one in hand
    is written."""
    suffix = Path(path).suffix
    with atomic_open(path, "wb") as fh:
        if suffix == ".parquet":
            write_parquet(fh, windows, workers)
            return
        for block in (json_blocks if suffix == ".json" else csv_blocks)(windows, workers):
            fh.write(block)


def print_windows_csv(windows: Windows, out=None, *, workers: int | None = 1) -> None:
    """Write the windows as CSV to the binary stream ``out`` (default: standard output)."""
    if out is None:
        sys.stdout.flush()   # what was printed before goes first
        out = sys.stdout.buffer
    for block in csv_blocks(windows, workers):
        out.write(block)
    out.flush()


def read_windows_csv(path) -> list[dict]:
    """Read a windows CSV back into rows typed like :meth:`Windows.rows`."""
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            rows.append({**r, "norad_id": int(r["norad_id"]),
                         "max_elev_deg": float(r["max_elev_deg"]),
                         "duration_s": float(r["duration_s"]),
                         "aos_truncated": r["aos_truncated"] == "true",
                         "los_truncated": r["los_truncated"] == "true"})
    return rows
