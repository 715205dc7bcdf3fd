"""Tables written from columns: each column becomes text in one numpy pass, rows are
joined as bytes, and a file is written a chunk of rows at a time.

A column's text is a *cell matrix*: a ``(n_rows, width)`` uint8 array holding each
cell's bytes, padded with NUL bytes anywhere in the row (NUL never occurs in the text
itself). Rows are joined by laying the cell matrices and the separators side by side and
dropping every NUL, so cells of different lengths cost nothing to join.

Millions of rows then cost seconds, not a Python object per cell; the text is the one
Python's ``csv`` and ``json`` modules write for the same values, byte for byte (numbers
next to a rounding tie, and the few values outside the fast path, are left to Python).
The plan's writers (:mod:`sigma_sn.planner.jsontext`, ``planner.io``) use these cell
matrices. The windows' writer uses :func:`format_rows` instead: :class:`Column` values
written by one compiled pass a chunk (:mod:`sigma_sn.columnar_jit`), with the same text.
"""

from __future__ import annotations

import csv
import io
import json
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

#: decimals of the numbers in exported tables: microseconds, micro-degrees
DECIMALS = 6
#: rows formatted and written at a time: a few tens of MB of text
CHUNK_ROWS = 100_000

_ZERO = ord("0")


def cells(values: np.ndarray) -> np.ndarray:
    """Return numpy ``S`` strings (any shape, flattened) as a cell matrix."""
    values = np.ascontiguousarray(values).ravel()
    width = max(values.dtype.itemsize, 1)
    return values.astype(f"S{width}").view(np.uint8).reshape(len(values), width)


class Lookup:
    """A column of names or codes: ``Lookup(texts)[index]`` gives the cells of
    ``texts[index]`` (UTF-8), the table encoded once."""

    def __init__(self, texts: Sequence[str]):
        self.table = np.array([t.encode("utf-8") for t in texts] or [b""], dtype=object
                              ).astype(bytes)

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        return cells(self.table[np.asarray(index, np.int64)])


def csv_texts(names: Sequence[str]) -> list[str]:
    """Return each name as a cell of a CSV row with ``\\n`` line ends (quoted where
    :mod:`csv` would quote it)."""
    out = []
    for name in names:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([name, ""])   # two: "" stays ""
        out.append(buf.getvalue()[:-2])
    return out


def json_texts(names: Sequence[str]) -> list[str]:
    """Return each name as a JSON string, as :func:`json.dumps` writes it."""
    return [json.dumps(name) for name in names]


def quoted(cells_: np.ndarray) -> np.ndarray:
    """Return cells in double quotes: JSON strings of text that needs no escaping
    (timestamps, codes)."""
    quote = np.full((len(cells_), 1), ord('"'), np.uint8)
    return np.hstack([quote, cells_, quote])


def booleans(x: np.ndarray) -> np.ndarray:
    """Return ``true``/``false`` cells (CSV and JSON alike)."""
    return _BOOLEANS[np.asarray(x, bool).astype(np.int64)]


def fixed(x: np.ndarray, decimals: int = DECIMALS) -> np.ndarray:
    """Return ``f"{v:.6f}"`` cells for 6 decimals (the same text as
    ``f"{round(v, 6):.6f}"``: both are the exact value rounded to 6 places)."""
    x = np.asarray(x, float).ravel()
    whole, fast = _scaled(x, decimals)
    out = _point(whole, np.signbit(x), decimals)
    return _patch(out, ~fast, [f"{v:.{decimals}f}" for v in x[~fast].tolist()])


def shortest(x: np.ndarray, decimals: int = DECIMALS) -> np.ndarray:
    """Return ``json.dumps(round(v, decimals))`` cells (``repr`` of the rounded value)."""
    x = np.asarray(x, float).ravel()
    whole, fast = _scaled(x, decimals)
    return _trimmed(x, whole, fast, decimals,
                    lambda v: json.dumps(round(v, decimals)))


def exact(x: np.ndarray) -> np.ndarray:
    """Return ``repr(float(v))`` cells: the shortest text that reads back to ``v``. Fast
    for values already rounded to :data:`DECIMALS` places (times in plans), where it is
    :func:`shortest`'s text."""
    x = np.asarray(x, float).ravel()
    whole, fast = _scaled(x, DECIMALS)
    with np.errstate(invalid="ignore"):
        fast &= np.abs(x) == whole / 10.0**DECIMALS
    return _trimmed(x, whole, fast, DECIMALS, repr)


def _trimmed(x, whole, fast, decimals: int, slow_text) -> np.ndarray:
    """Cells of ``±whole / 10^decimals`` without trailing zeros, and ``slow_text(v)``
    where not ``fast``. That text is ``repr(round(v, decimals))``: the rounded value is
    the double nearest a decimal with ``decimals`` places, and its shortest repr is that
    decimal, where repr writes no exponent and doubles are finer than the last place."""
    with np.errstate(invalid="ignore"):
        mag = np.abs(x)
        # (zero too: whole 0 is written 0.0 or -0.0, as repr writes it)
        fast = fast & ((mag >= 1e-4) | (x == 0)) & (mag < 1e9)
    out = _point(whole, np.signbit(x), decimals)
    # trailing zeros after the first decimal place go (1.500000 -> 1.5, 2.000000 -> 2.0)
    tail = np.ones(len(out), bool)
    for col in range(out.shape[1] - 1, out.shape[1] - decimals, -1):
        tail &= out[:, col] == _ZERO
        out[tail, col] = 0
    return _patch(out, ~fast, [slow_text(v) for v in x[~fast].tolist()])


def csv_strings(values: Sequence[str]) -> np.ndarray:
    """Return the cells of a column of strings as a CSV row (``\\n`` line ends) holds
    them: as they are when ASCII with nothing to quote (timestamps, addresses), else
    through :func:`csv_texts`."""
    try:
        out = cells(np.array(values, dtype=bytes))
    except UnicodeEncodeError:
        out = None
    if out is None or np.isin(out, np.frombuffer(b',"\r\n', np.uint8)).any():
        distinct, codes = factorized(values)
        return Lookup(csv_texts(distinct))[codes]
    return out


def factorized(values: Sequence) -> tuple[list, np.ndarray]:
    """Return the distinct ``values`` (in order of first appearance) and each value's
    index among them: a column of few distinct strings, ready for :class:`Lookup`."""
    index: dict = {}
    codes = [index.setdefault(v, len(index)) for v in values]
    return list(index), np.array(codes, np.int64)


def _scaled(x: np.ndarray, decimals: int) -> tuple[np.ndarray, np.ndarray]:
    """``|x|·10^decimals`` rounded to an integer, and where that is surely what rounding
    the exact decimal value of x gives (not next to a tie, finite, in range)."""
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.abs(x) * 10.0**decimals
        whole = np.rint(scaled)
        fast = (np.abs(np.abs(scaled - whole) - 0.5) > 4 * np.spacing(scaled)) & (scaled < 2**62)
    return np.where(fast, whole, 0).astype(np.int64), fast


def _point(whole: np.ndarray, negative: np.ndarray, decimals: int) -> np.ndarray:
    """Cells of ``±whole / 10^decimals`` with all ``decimals`` places."""
    ip, fp = np.divmod(whole, 10**decimals)
    width = len(str(int(ip.max()))) if len(ip) else 1
    head = _digits(ip, negative, width)
    tail = np.empty((len(whole), decimals + 1), np.uint8)
    tail[:, 0] = ord(".")
    for k in range(decimals, 0, -1):
        fp, tail[:, k] = np.divmod(fp, 10)
    tail[:, 1:] += _ZERO
    return np.hstack([head, tail])


def _digits(n: np.ndarray, negative: np.ndarray, width: int) -> np.ndarray:
    """Cells of ``±n`` (n >= 0), right-aligned in ``width`` digits plus a sign column."""
    out = np.zeros((len(n), width + 1), np.uint8)
    rest = n.copy()
    lead = np.full(len(n), width)   # column of the leading digit
    for col in range(width, 0, -1):
        rest, d = np.divmod(rest, 10)
        out[:, col] = d + _ZERO
        lead = np.where((d > 0) | (col == width), col, lead)
    # digits left of the leading one are padding
    out[np.arange(width + 1)[None, :] < lead[:, None]] = 0
    rows = np.flatnonzero(negative)
    out[rows, lead[rows] - 1] = ord("-")
    return out


def _patch(out: np.ndarray, where: np.ndarray, texts: list[str]) -> np.ndarray:
    """Put Python's ``texts`` in the rows ``where`` (widening the matrix as needed)."""
    if not texts:
        return out
    fix = cells(np.array([t.encode("ascii") for t in texts], dtype=bytes))
    width = max(out.shape[1], fix.shape[1])
    wide = np.zeros((len(out), width), np.uint8)
    wide[:, :out.shape[1]] = out
    wide[where] = 0
    wide[np.flatnonzero(where)[:, None], np.arange(fix.shape[1])] = fix
    return wide


def join(parts: Iterable[np.ndarray | bytes], n_rows: int) -> bytes:
    """Return the rows of cell matrices and constant byte strings laid side by side, NUL
    padding dropped: the text of ``n_rows`` rows."""
    cols = []
    for p in parts:
        if isinstance(p, bytes):
            p = np.broadcast_to(np.frombuffer(p, np.uint8), (n_rows, len(p)))
        cols.append(p)
    flat = np.hstack(cols).ravel() if n_rows else np.zeros(0, np.uint8)
    return flat[flat != 0].tobytes()


def csv_rows(columns: Sequence[np.ndarray], n_rows: int) -> bytes:
    """CSV text (``\\n`` line ends) of rows whose cells are ``columns``."""
    parts: list = []
    for k, col in enumerate(columns):
        parts += [b","] if k else []
        parts.append(col)
    return join(parts + [b"\n"], n_rows)


def json_records(keys: Sequence[str], columns: Sequence[np.ndarray], n_rows: int, *,
                 indent: int = 1, level: int = 2) -> bytes:
    """The objects ``{key: cell, ...}`` of ``n_rows`` rows as :func:`json.dumps` with
    ``indent`` writes them as items of a list nested ``level`` deep, each item preceded
    by ``,\\n`` (drop it before the first item)."""
    pad = b" " * (indent * level)
    inner = b" " * (indent * (level + 1))
    parts: list = [b",\n" + pad + b"{"]
    for key, col in zip(keys, columns):
        parts += [(b",\n" if len(parts) > 1 else b"\n") + inner + json.dumps(key).encode()
                  + b": ", col]
    return join(parts + [b"\n" + pad + b"}"], n_rows)


_BOOLEANS = Lookup(("false", "true"))


def chunks(n_rows: int, size: int = CHUNK_ROWS, *, first: int | None = None
           ) -> Iterator[slice]:
    """Slices of ``size`` rows covering ``range(n_rows)``; the first of ``first`` rows
    if given (a small first chunk starts a pipeline's writing sooner)."""
    a = 0
    if first is not None and n_rows:
        a = min(max(first, 1), n_rows)
        yield slice(0, a)
    for a in range(a, n_rows, size):
        yield slice(a, min(a + size, n_rows))


# --- rows written by one compiled pass (sigma_sn.columnar_jit) ---------------------------

#: the kinds of :class:`Column`: an entry of a text table; microseconds since 1970 (ISO
#: 8601 text); a number scaled by ``10^decimals`` written with all places, or without
#: the zeros after the first
TEXT, TIME, FIXED, TRIMMED = 0, 1, 2, 3
#: width of a TIME cell, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``
TIME_WIDTH = 27


@dataclass(frozen=True)
class Texts:
    """A table of byte strings laid end to end: entry ``i`` is
    ``flat[offsets[i]:offsets[i + 1]]``."""

    flat: np.ndarray      # uint8
    offsets: np.ndarray   # int64, one more than the entries

    @classmethod
    def of(cls, texts: Sequence[str | bytes]) -> "Texts":
        """The table of ``texts`` (``str`` as UTF-8)."""
        encoded = [t if isinstance(t, bytes) else t.encode("utf-8") for t in texts]
        offsets = np.zeros(len(encoded) + 1, np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return cls(np.frombuffer(bytearray(b"".join(encoded)), np.uint8), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def width(self) -> int:
        """The longest entry's length in bytes."""
        return int(np.diff(self.offsets).max()) if len(self) else 0


@dataclass(frozen=True)
class Column:
    """A column of cells for :func:`format_rows`: ``kind`` (:data:`TEXT`, ...) says what
    ``values`` hold; ``texts`` is the table a TEXT column indexes, or the numbers Python
    wrote where a number column holds ``-(i + 1)``; ``negative``: a number's sign."""

    kind: int
    values: np.ndarray                 # int64
    negative: np.ndarray | None = None
    texts: Texts | None = None


def text_column(table: Texts, codes: np.ndarray) -> Column:
    """The entries ``codes`` of ``table``."""
    return Column(TEXT, np.asarray(codes, np.int64), texts=table)


BOOLEAN_TEXTS = Texts.of(("false", "true"))


def boolean_column(x: np.ndarray) -> Column:
    """``true``/``false`` (CSV and JSON alike)."""
    return text_column(BOOLEAN_TEXTS, np.asarray(x, bool))


def iso_column(epoch, t_s: np.ndarray) -> Column:
    """``epoch.iso(t_s)`` (a :class:`~sigma_sn.propagate.Epoch`): ISO 8601 UTC with
    microseconds and ``Z``. Instants that are not finite or not in years 1000-9999 take
    the epoch's own text instead."""
    t_s = np.asarray(t_s, float).ravel()
    base = np.datetime64(epoch.start_utc.replace(tzinfo=None), "us").astype(np.int64)
    if np.isfinite(t_s).all():
        us = base + np.round(t_s * 1e6).astype(np.int64)   # as Epoch.iso_ascii rounds
        if not len(us) or (us.min() >= _YEAR_1000_US and us.max() < _YEAR_10000_US):
            return Column(TIME, us)
    distinct, codes = np.unique(epoch.iso_ascii(t_s), return_inverse=True)
    return text_column(Texts.of(distinct.tolist()), codes)


_YEAR_1000_US = int(np.datetime64("1000-01-01", "us").astype(np.int64))
_YEAR_10000_US = int(np.datetime64("9999-12-31T23:59:59.999999", "us").astype(np.int64)) + 1


def fixed_column(x: np.ndarray, decimals: int = DECIMALS) -> Column:
    """:func:`fixed`'s text: ``f"{v:.6f}"``."""
    x = np.asarray(x, float).ravel()
    whole, fast = _scaled(x, decimals)
    return _number_column(FIXED, x, whole, fast,
                          lambda v: f"{v:.{decimals}f}")


def shortest_column(x: np.ndarray, decimals: int = DECIMALS) -> Column:
    """:func:`shortest`'s text: ``json.dumps(round(v, decimals))``."""
    x = np.asarray(x, float).ravel()
    whole, fast = _scaled(x, decimals)
    with np.errstate(invalid="ignore"):
        mag = np.abs(x)
        fast &= (mag >= 1e-4) & (mag < 1e9)   # as _trimmed: where repr writes no exponent
    return _number_column(TRIMMED, x, whole, fast,
                          lambda v: json.dumps(round(v, decimals)))


def _number_column(kind: int, x, whole, fast, slow_text) -> Column:
    slow = np.flatnonzero(~fast)
    values = whole.copy()
    values[slow] = -1 - np.arange(len(slow))
    texts = Texts.of([slow_text(v) for v in x[slow].tolist()]) if len(slow) else None
    return Column(kind, values, np.signbit(x), texts)


def format_rows(columns: Sequence[Column], pieces: Sequence[bytes], n_rows: int,
                decimals: int = DECIMALS) -> memoryview:
    """The text of ``n_rows`` rows: ``pieces[0]``, a cell of ``columns[0]``,
    ``pieces[1]``, ..., ``pieces[-1]`` (one piece more than columns), each row in one
    compiled pass that holds no GIL. A view of the buffer it was written to (files and
    ``bytes.join`` take it as it is; a copy to ``bytes`` would cost a pass more)."""
    assert len(pieces) == len(columns) + 1
    cells = np.empty((len(columns), n_rows), np.int64)
    negative = np.zeros((len(columns), n_rows), bool)
    tables, base, width = [], 0, sum(map(len, pieces))
    for k, col in enumerate(columns):
        values = col.values
        if col.texts is not None:
            # the column's table goes after the ones before it in one table
            values = values + base if col.kind == TEXT else np.where(
                values < 0, values - base, values)
            tables.append(col.texts)
            base += len(col.texts)
        cells[k] = values
        if col.negative is not None:
            negative[k] = col.negative
        width += max(_cell_width(col, decimals),
                     col.texts.width if col.texts is not None else 0)
    texts = _joined(tables)
    piece_table = Texts.of(pieces)
    out = np.empty(n_rows * width, np.uint8)
    from sigma_sn.columnar_jit import format_rows as kernel
    used = kernel(cells, negative, np.array([c.kind for c in columns], np.int64),
                               decimals, piece_table.flat, piece_table.offsets, texts.flat,
                               texts.offsets, out)
    return memoryview(out[:used])


def stable_order(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")``, compiled and in linear time for keys spread
    over a range (times of day): a third of numpy's cost on millions of window times."""
    keys = np.ascontiguousarray(keys, float)
    if not np.isfinite(keys).all():
        return np.argsort(keys, kind="stable")
    from sigma_sn.columnar_jit import stable_order as kernel
    return kernel(keys)


def _cell_width(col: Column, decimals: int) -> int:
    """The most bytes a cell of ``col`` the kernel writes takes (its texts apart)."""
    if col.kind == TEXT:
        return 0
    if col.kind == TIME:
        return TIME_WIDTH
    head = int(col.values.max()) // 10**decimals if len(col.values) else 0
    return 1 + len(str(max(head, 0))) + 1 + decimals   # sign, digits, point, places


def _joined(tables: Sequence[Texts]) -> Texts:
    """One table of the entries of ``tables``, in order."""
    if not tables:
        return Texts(np.zeros(0, np.uint8), np.zeros(1, np.int64))
    offsets, end = [np.zeros(1, np.int64)], 0
    for t in tables:
        offsets.append(t.offsets[1:] + end)
        end += int(t.offsets[-1])
    return Texts(np.concatenate([t.flat for t in tables]), np.concatenate(offsets))


def csv_pieces(n_columns: int) -> list[bytes]:
    """The pieces of :func:`format_rows` that make CSV rows (``\\n`` line ends)."""
    return [b""] + [b","] * (n_columns - 1) + [b"\n"]


def json_pieces(keys: Sequence[str], quoted_keys: Iterable[str] = (), *, indent: int = 1,
                level: int = 2) -> list[bytes]:
    """The pieces of :func:`format_rows` that make :func:`json_records`' text; the cells
    of ``quoted_keys`` go in double quotes (text that needs no escaping: timestamps)."""
    pad, inner = b" " * (indent * level), b" " * (indent * (level + 1))
    quoted_keys = set(quoted_keys)
    pieces = [b",\n" + pad + b"{"]
    for k, key in enumerate(keys):
        pieces[-1] += (b",\n" if k else b"\n") + inner + json.dumps(key).encode() + b": "
        pieces[-1] += b'"' if key in quoted_keys else b""
        pieces.append(b'"' if key in quoted_keys else b"")
    pieces[-1] += b"\n" + pad + b"}"
    return pieces


def ordered_threads(fn: Callable, items: Iterable, workers: int) -> Iterator:
    """``fn(item)`` of each item, in order, computed by ``workers`` threads at most
    ``workers`` items ahead of the caller (so memory stays a few chunks); one
    worker: in the caller. For work that holds no GIL (:func:`format_rows`), the caller
    writes a block while the threads format the next ones."""
    if workers <= 1:
        yield from map(fn, items)
        return
    ahead: deque = deque()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="sigma-sn-text")
    try:
        for item in items:
            ahead.append(pool.submit(fn, item))
            if len(ahead) >= workers:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()
    finally:
        # stopped early (an error, Ctrl-C, the caller gone): what has not started never
        # does, and no thread outlives the call (forking later stays safe)
        pool.shutdown(wait=True, cancel_futures=True)
