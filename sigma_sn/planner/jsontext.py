"""The plan's JSON text (:func:`~sigma_sn.planner.plan.dumps`: sorted keys, indent 1),
made from columns and yielded a chunk at a time, byte for byte what :func:`json.dumps`
writes.

A plan of a thousand terminals for a day holds millions of rows (candidate windows,
handovers, their events). :func:`json.dumps` with an indent runs Python's pure-Python
encoder over every one and returns the whole text at once. Here each list of rows is cut
into chunks of about :data:`~sigma_sn.columnar.CHUNK_ROWS` rows (nested rows counted);
in each chunk every key's values become one column of cells (:mod:`sigma_sn.columnar`),
and the rows' text is the cells laid side by side, written once into one matrix
(:class:`_Laid`) whose NUL padding is dropped once. Rows of one shape (the same keys; a
nested list of the same length in each, as a handover's five events) lie in that one
matrix; nested lists of other lengths (a mobile's candidates) are cut from their rows'
text. A :class:`~sigma_sn.planner.rows.Table` whose rows were not made is written from
its columns (lists, numpy arrays, coded strings: each distinct text made once), without
making them. Whatever has no fast path (numbers outside it, other types, rows of other
keys) is left to :mod:`json`, value by value.
"""

from __future__ import annotations

import functools
import json
from itertools import chain
from operator import itemgetter
from typing import Iterator, Union

import numpy as np
from numpy.lib.stride_tricks import as_strided

from sigma_sn import columnar
from sigma_sn.planner.rows import Coded, Table, utc_texts

#: text: a cell matrix, a constant, rows laid out (:class:`_Laid`) or each row's bytes
Text = Union[np.ndarray, bytes, list, "_Laid"]

_PRINTABLE_LO, _PRINTABLE_HI = 0x20, 0x7E   # json escapes anything else (ensure_ascii)
_MUST_ESCAPE = b'"\\'


def blocks(plan: dict) -> Iterator[bytes | memoryview]:
    """Yield the UTF-8 bytes of ``dumps(plan)`` (``json.dumps(plan, sort_keys=True,
    indent=1) + "\\n"``) in chunks (bytes-like: ``bytes`` or a ``memoryview``): its lists
    of rows a chunk at a time."""
    if not plan:
        yield b"{}\n"
        return
    for k, key in enumerate(sorted(plan)):
        yield (b",\n " if k else b"{\n ") + _key(key)
        value = plan[key]
        if _is_rows(value):
            yield from _list_blocks(value, 1)
        else:
            yield _dump(value, 1).encode()
    yield b"\n}\n"


def _is_rows(value) -> bool:
    if isinstance(value, Table) and value.columns() is not None:
        return len(value) > 0
    return isinstance(value, list) and bool(value) and set(map(type, value)) == {dict}


def _key(key) -> bytes:
    return json.dumps(key).encode() + b": "


def _indent(level: int) -> bytes:
    return b" " * level


def _dump(value, level: int) -> str:
    """``value`` as json.dumps writes it nested ``level`` deep (each line's indent grows
    by the level)."""
    text = json.dumps(value, sort_keys=True, indent=1)
    return text.replace("\n", "\n" + " " * level)


def _list_blocks(rows: list | Table, level: int) -> Iterator[bytes | memoryview]:
    """The list ``rows`` (dicts) nested ``level`` deep, a chunk of rows at a time."""
    yield b"["
    item = _indent(level + 1)
    first, sep = b"\n" + item, b",\n" + item
    for part in _chunks(rows):
        # each row led by the separator; the list's first by ``first`` (a byte shorter)
        text = _rows(_part(rows, part), level + 1, sep)
        if isinstance(text, _Laid):
            matrix = text.matrix()
            if first:
                matrix[0, :len(sep)] = 0
                matrix[0, :len(first)] = np.frombuffer(first, np.uint8)
            yield _dropped(matrix)
        else:
            if first:
                text[0] = first + text[0][len(sep):]
            yield b"".join(text)
        first = b""
    yield b"\n" + _indent(level) + b"]"


def _part(rows: list | Table, part: slice) -> list | Table:
    columns = rows.columns() if isinstance(rows, Table) else None
    return rows[part] if columns is None else rows.slice(part.start, part.stop)


def _chunks(rows: list | Table) -> Iterator[slice]:
    """Slices of ``rows`` of about CHUNK_ROWS rows each, a row's nested rows counted."""
    size = np.ones(len(rows), np.int64)
    columns = rows.columns() if isinstance(rows, Table) else None
    if columns is not None:   # a number of nested rows per row, or offsets
        for _, per in columns[1].values():
            size += per if isinstance(per, int) else np.diff(per)
    else:
        size = _sizes(rows, size)
    ends = np.cumsum(size)
    a = 0
    while a < len(rows):
        b = int(np.searchsorted(ends, ends[a] - size[a] + columnar.CHUNK_ROWS, "right"))
        b = max(b, a + 1)
        yield slice(a, b)
        a = b


def _sizes(rows: list, size: np.ndarray) -> np.ndarray:
    """Each row's size: one, and its nested rows."""
    try:   # the first row's nested lists, looked up in C
        for key, value in rows[0].items():
            if type(value) is list:
                size += np.fromiter(map(len, map(itemgetter(key), rows)), np.int64,
                                    len(rows))
    except (KeyError, TypeError):   # rows of other shapes: each its own
        size = np.fromiter((1 + sum(len(v) for v in r.values() if type(v) is list)
                            for r in rows), np.int64, len(rows))
    return size


class _Laid:
    """``n`` rows' text not yet laid out: parts side by side, each a constant (bytes), a
    cell matrix (``n`` rows), another :class:`_Laid` of ``n`` rows, or a :class:`_Block`.
    :meth:`matrix` writes them once into one matrix: no part is copied twice."""

    def __init__(self, parts: list, n: int):
        self.parts, self.n = parts, n
        self.width = sum(_width(p) for p in parts)

    def matrix(self) -> np.ndarray:
        out = np.empty((self.n, self.width), np.uint8)
        _fill(out, self.parts)
        return out


class _Block:
    """Lists of ``per`` rows each of ``rows`` (``n · per`` rows, each led by the list's
    separator), one list per row: the first of each led by ``first`` instead."""

    def __init__(self, per: int, rows: _Laid, first: bytes):
        self.per, self.rows, self.first = per, rows, np.frombuffer(first, np.uint8)


def _width(part) -> int:
    if isinstance(part, bytes):
        return len(part)
    if isinstance(part, np.ndarray):
        return part.shape[1]
    if isinstance(part, _Block):
        return part.per * part.rows.width
    return part.width


def _fill(out: np.ndarray, parts: list) -> None:
    """Write ``parts`` side by side into ``out`` (``(..., width)``: rows, or rows of
    lists of rows)."""
    col, rows = 0, out.shape[:-1]
    for p in parts:
        w = _width(p)
        if isinstance(p, bytes):
            out[..., col:col + w] = np.frombuffer(p, np.uint8)
        elif isinstance(p, np.ndarray):
            out[..., col:col + w] = p.reshape(rows + (w,))
        elif isinstance(p, _Block):   # each row's lists: the rows' last axis split
            inner = p.rows.width
            step = out.strides[-1]
            view = as_strided(out[..., col:], rows + (p.per, inner),
                              out.strides[:-1] + (inner * step, step))
            _fill(view, p.rows.parts)
            view[..., 0, :len(p.first)] = p.first
        else:
            _fill(out[..., col:col + w], p.parts)
        col += w


def _dropped(matrix: np.ndarray) -> memoryview:
    """A cell matrix's bytes, row after row, NUL padding dropped (a view: not copied
    again before the file gets them)."""
    flat = matrix.reshape(-1)
    return memoryview(flat[flat != 0])


def _rows(rows: list, level: int, lead: bytes = b"") -> Text:
    """The text of dicts ``rows``, each as an item of a list nested ``level - 1`` deep
    (its braces at indent ``level``), led by ``lead``."""
    if isinstance(rows, Table) and rows.columns() is not None:
        return _table(rows, level, lead)
    keys = sorted(rows[0])
    if not keys or set(map(len, rows)) != {len(keys)}:
        return _each(rows, level, lead)
    try:
        cols = [list(map(itemgetter(k), rows)) for k in keys]
    except KeyError:   # other keys
        return _each(rows, level, lead)
    return _laid_out(keys, [_values(col, level + 1) for col in cols], len(rows), level,
                     lead)


def _table(rows: Table, level: int, lead: bytes) -> Text:
    """:func:`_rows` of a table's columns."""
    columns, nested = rows.columns()
    keys = sorted(rows.keys)
    cells = []
    for key in keys:
        if key in nested:
            child, per = nested[key]
            cells.append(_nested_lists(len(rows), per, child, level + 1))
        else:
            cells.append(_values(columns[key], level + 1))
    return _laid_out(keys, cells, len(rows), level, lead)


def _laid_out(keys: list, cells: list, n: int, level: int, lead: bytes) -> Text:
    """Rows of ``keys`` from each key's cells (a matrix, a list of bytes or a constant)."""
    inner = b"\n" + _indent(level + 1)
    parts: list = []
    for k, (key, cell) in enumerate(zip(keys, cells)):
        parts += [(b"," if k else lead + b"{") + inner + _key(key), cell]
    parts.append(b"\n" + _indent(level) + b"}")
    if all(not isinstance(p, list) for p in parts):
        return _Laid(parts, n)
    texts = [p if isinstance(p, (bytes, list)) else _row_bytes(_Laid([p], n).matrix())
             for p in parts]
    return [b"".join(t if isinstance(t, bytes) else t[i] for t in texts)
            for i in range(n)]


def _each(rows: list, level: int, lead: bytes) -> list:
    return [lead + _dump(r, level).encode() for r in rows]


def _row_bytes(matrix: np.ndarray) -> list:
    """Each row of a cell matrix as bytes (NULs dropped)."""
    keep = matrix != 0
    flat = matrix[keep].tobytes()
    ends = np.cumsum(keep.sum(axis=1)).tolist()
    return [flat[a:b] for a, b in zip([0] + ends[:-1], ends)]


def _values(col, level: int) -> Text:
    """The cells of one key's values (a list, an array or :class:`Coded`), each nested
    ``level`` deep."""
    if isinstance(col, Coded):
        return _coded(col)
    if isinstance(col, np.ndarray):
        return _array(col, level)
    kinds = set(map(type, col))
    if kinds == {str}:
        return _strings(col)
    if kinds == {float}:
        x = np.array(col, float)
        if np.isfinite(x).all():    # NaN and infinities: json's own words, below
            return columnar.exact(x)
    elif kinds == {int}:
        try:
            return columnar.cells(np.array(col, np.int64).astype(bytes))
        except OverflowError:
            pass
    elif kinds == {bool}:
        return columnar.booleans(np.array(col, bool))
    elif kinds == {list}:
        children = list(chain.from_iterable(col))
        if set(map(type, children)) <= {dict}:
            return _nested(col, children, level)
    return _texts([_dump(v, level) for v in col])


def _array(x: np.ndarray, level: int) -> Text:
    """:func:`_values` of an array: numbers (repr's text, as json writes a float), or
    ASCII text (``S``) that needs no escaping; anything else as the list of its values."""
    kind = x.dtype.kind
    if kind == "f" and np.isfinite(x).all():
        return columnar.exact(x)
    if kind == "i":
        return columnar.cells(x.astype(np.int64).astype(bytes))
    if kind == "b":
        return columnar.booleans(x)
    if kind == "S":
        raw = columnar.cells(x)
        if not _unsafe(raw).any():
            return columnar.quoted(raw)
        return _strings(utc_texts(x))
    return _values(x.tolist(), level)


def _coded(col: Coded) -> np.ndarray:
    """:func:`_values` of coded strings: each distinct text made once, a part's cells
    taken by code and the parts laid side by side (their NUL padding drops out)."""
    tables = [_text_cells(t) for t in col.texts]
    if all(plain for plain, _ in tables):
        return columnar.quoted(np.hstack([table[codes] for (_, table), codes
                                          in zip(tables, col.codes)]))
    if len(col.codes) == 1:
        return columnar.Lookup(columnar.json_texts(col.texts[0]))[col.codes[0]]
    return _strings(col.tolist())


@functools.lru_cache(maxsize=16)
def _text_cells(texts: tuple) -> tuple[bool, columnar.Lookup]:
    """Whether ``texts`` are JSON strings as they are in quotes (printable ASCII, nothing
    to escape), and their cells: made once for every chunk of a plan (the names of the
    access points, the mobiles, the actions)."""
    joined = "".join(texts)
    plain = joined.isascii() and joined.isprintable() and not {'"', "\\"} & set(joined)
    return plain, columnar.Lookup(texts)


def _unsafe(raw: np.ndarray) -> np.ndarray:
    """Where a cell matrix holds a byte json would escape (NUL is padding)."""
    bad = ((raw < _PRINTABLE_LO) & (raw != 0)) | (raw > _PRINTABLE_HI)
    for byte in _MUST_ESCAPE:
        bad |= raw == byte
    return bad


def _strings(col: list) -> np.ndarray:
    """JSON strings: as they are in quotes when printable ASCII with nothing to escape
    (names, times, addresses), else through :func:`json.dumps`."""
    try:
        raw = columnar.cells(np.array(col, dtype=bytes))
    except UnicodeEncodeError:
        raw = None
    # a NUL inside a string would pass for padding: such strings go to json
    if raw is not None and "\x00" not in "".join(col) and not _unsafe(raw).any():
        return columnar.quoted(raw)
    distinct, codes = columnar.factorized(col)
    return columnar.Lookup(columnar.json_texts(distinct))[codes]


def _texts(texts: list) -> np.ndarray:
    distinct, codes = columnar.factorized(texts)
    return columnar.Lookup(distinct)[codes]


def _nested(col: list, children: list, level: int) -> Text:
    """Lists of dicts as values nested ``level`` deep: ``[]``, or each list's rows (one
    shape) in brackets."""
    counts = np.fromiter(map(len, col), np.int64, len(col))
    if not children:
        return b"[]"
    return _lists(counts, children, level)


def _nested_lists(n: int, per, children: Table, level: int) -> Text:
    """``n`` lists of rows of the table ``children``: ``per`` rows each, or as the
    offsets ``per`` cut them."""
    if not n or not len(children):
        return b"[]"
    counts = np.full(n, per, np.int64) if isinstance(per, int) else np.diff(per)
    return _lists(counts, children, level)


def _lists(counts: np.ndarray, children, level: int) -> Text:
    """Lists of ``counts`` rows each of ``children`` (dicts or a table, in order), nested
    ``level`` deep."""
    item = _indent(level + 1)
    first, sep = b"[\n" + item, b",\n" + item   # the same length
    close = b"\n" + _indent(level) + b"]"
    text = _rows(children, level + 1, sep)
    c = int(counts[0])
    if isinstance(text, _Laid) and (counts == c).all():
        # the same number in every list: laid out in the rows' own matrix
        return _Laid([_Block(c, text, first), close], len(counts))
    full = counts > 0
    starts = (np.cumsum(counts) - counts)[full]
    if isinstance(text, _Laid):   # each list's rows in one piece of the matrix's bytes
        matrix = text.matrix()
        matrix[starts, :len(first)] = np.frombuffer(first, np.uint8)
        keep = matrix != 0
        flat = memoryview(matrix[keep])
        ends = np.cumsum([np.count_nonzero(keep[a:b]) for a, b in
                          zip(starts.tolist(), (starts + counts[full]).tolist())]).tolist()
        pieces = [flat[a:b] for a, b in zip([0] + ends[:-1], ends)]
    else:
        pieces = [first + b"".join(text[a:a + k])[len(sep):]
                  for a, k in zip(starts.tolist(), counts[full].tolist())]
    out = [b"[]"] * len(counts)
    for i, piece in zip(np.flatnonzero(full).tolist(), pieces):
        out[i] = b"".join((piece, close))
    return out


__all__ = ["blocks"]
