"""Plan files: JSON (the whole plan) and CSV (one row per event), written atomically and
read back to equal objects."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sigma_sn.atomic import atomic_open
from sigma_sn.errors import InputError
from sigma_sn import columnar
from sigma_sn.planner import jsontext
from sigma_sn.planner.plan import SCHEMA
from sigma_sn.planner.rows import Coded, Table, as_list

CSV_HEADER = ("mobile", "handover", "action", "t_utc", "t_s", "from", "to", "address",
              "feasible")
_REQUIRED = ("mode", "policy", "start_utc", "end_utc", "duration_s", "mobiles", "handovers",
             "outages", "location_updates")


@dataclass(frozen=True)
class EventRow:
    """One planned event as a CSV row: handover ``handover`` (0, 1, ... per mobile) of
    ``mobile`` from access point ``from_ap`` to ``to_ap``."""

    mobile: str
    handover: int
    action: str
    t_utc: str
    t_s: float
    from_ap: str
    to_ap: str
    address: str
    feasible: bool


def event_rows(plan: dict) -> list[EventRow]:
    """Return the plan's events as rows, in the plan's order (mobile, handover, time)."""
    return [EventRow(h["mobile"], h["index"], e["action"], e["t_utc"], e["t_s"], h["from"],
                     h["to"], e["address"], h["feasible"])
            for h in plan["handovers"] for e in h["events"]]


def relative_to_plan(plan: dict, path) -> dict:
    """Return ``plan`` with its input paths (relative to the working directory, as the
    planner records them) made relative to the folder of ``path``, where the plan file
    goes: a replay from any folder finds them there. A plan file outside the working
    directory keeps them relative to it, so no plan names where a machine keeps its
    files; either way each file's SHA-256 identifies it."""
    plan_dir, cwd = os.path.dirname(os.path.abspath(path)), os.getcwd()
    if os.path.commonpath([plan_dir, cwd]) != cwd:
        return plan

    def move(entry: dict) -> dict:
        if os.path.isabs(entry["path"]):
            return entry
        rel = os.path.relpath(os.path.join(cwd, entry["path"]), plan_dir)
        return {**entry, "path": Path(rel).as_posix()}

    inputs = dict(plan["inputs"])
    inputs["files"] = [move(f) for f in inputs.get("files", [])]
    if inputs.get("scenario"):
        inputs["scenario"] = move(inputs["scenario"])
    return {**plan, "inputs": inputs}


def write_plan_json(path, plan: dict) -> None:
    """Write ``plan`` as sorted, stable JSON (atomic), its input paths relative to the
    plan file (:func:`relative_to_plan`): the text of :func:`~sigma_sn.planner.plan.dumps`,
    made from columns and written a chunk of rows at a time
    (:func:`~sigma_sn.planner.jsontext.blocks`)."""
    with atomic_open(path, "wb") as fh:
        for block in jsontext.blocks(relative_to_plan(plan, path)):
            fh.write(block)


def write_plan_csv(path, plan: dict) -> None:
    """Write one row per event with header ``mobile,handover,action,t_utc,t_s,from,to,
    address,feasible`` (atomic). ``t_s`` keeps every digit, so it reads back equal.
    Written from columns, a chunk of handovers at a time (the text of a ``csv`` writer):
    a planned :class:`~sigma_sn.planner.rows.Table`'s own, else the rows'."""
    handovers = plan["handovers"]
    per_chunk = max(1, columnar.CHUNK_ROWS // 5)   # five events a handover
    with atomic_open(path, "wb") as fh:
        fh.write((",".join(CSV_HEADER) + "\n").encode())
        planned = isinstance(handovers, Table) and handovers.columns() is not None
        for part in columnar.chunks(len(handovers), per_chunk):
            if planned:
                cols, n = _table_event_cells(handovers.slice(part.start, part.stop))
            else:
                cols, n = _row_event_cells(handovers[part])
            fh.write(columnar.csv_rows(cols, n))


def _row_event_cells(hs: list) -> tuple[list, int]:
    """The CSV cells of the events of handover rows ``hs``, and how many."""
    events = [e for h in hs for e in h["events"]]
    each = np.array([len(h["events"]) for h in hs], np.int64)

    def of_handover(cells):
        return np.repeat(cells, each, axis=0)

    return [of_handover(columnar.csv_strings([h["mobile"] for h in hs])),
            of_handover(columnar.csv_strings([str(h["index"]) for h in hs])),
            columnar.csv_strings([e["action"] for e in events]),
            columnar.csv_strings([e["t_utc"] for e in events]),
            columnar.exact(np.array([e["t_s"] for e in events], float)),
            of_handover(columnar.csv_strings([h["from"] for h in hs])),
            of_handover(columnar.csv_strings([h["to"] for h in hs])),
            columnar.csv_strings([e["address"] for e in events]),
            of_handover(columnar.booleans([bool(h["feasible"]) for h in hs]))], len(events)


def _table_event_cells(hs: Table) -> tuple[list, int]:
    """:func:`_row_event_cells` of a table's columns: no row made."""
    columns, nested = hs.columns()
    events, per = nested["events"]
    ev = events.columns()[0]
    each = np.full(len(hs), per, np.int64) if isinstance(per, int) else np.diff(per)

    def of_handover(cells):
        return np.repeat(cells, each, axis=0)

    return [of_handover(_csv_cells(columns["mobile"])),
            of_handover(_csv_cells(columns["index"])), _csv_cells(ev["action"]),
            _csv_cells(ev["t_utc"]), columnar.exact(np.asarray(ev["t_s"], float)),
            of_handover(_csv_cells(columns["from"])), of_handover(_csv_cells(columns["to"])),
            _csv_cells(ev["address"]),
            of_handover(columnar.booleans(np.asarray(columns["feasible"], bool)))
            ], len(events)


def _csv_cells(column) -> np.ndarray:
    """A table column's CSV cells: coded strings by their distinct texts, integers as
    ``str`` writes them, the rest through :func:`~sigma_sn.columnar.csv_strings`."""
    if isinstance(column, Coded):
        if len(column.codes) == 1:
            return columnar.Lookup(columnar.csv_texts(column.texts[0]))[column.codes[0]]
        if not any(c in t for texts in column.texts for t in texts for c in ',"\r\n'):
            return np.hstack([columnar.Lookup(t)[c]
                              for c, t in zip(column.codes, column.texts)])
    if isinstance(column, np.ndarray) and column.dtype.kind == "i":
        return columnar.cells(column.astype(bytes))
    if isinstance(column, np.ndarray) and column.dtype.kind == "S":
        return columnar.cells(column)   # UTC texts (Epoch.iso_ascii): nothing to quote
    return columnar.csv_strings([str(v) for v in as_list(column)])


def read_plan_json(path) -> dict:
    """Read a plan written by :func:`write_plan_json`; an unreadable file, another schema
    or a missing part raises :class:`InputError` naming the file (and key)."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", path=where) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                         path=where) from None
    try:
        plan = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", path=where, line=exc.lineno) from None
    if not isinstance(plan, dict):
        raise InputError("not a plan: expected a JSON object", path=where)
    if plan.get("schema") != SCHEMA:
        raise InputError(f"expected {SCHEMA!r}, got {plan.get('schema')!r} (is this a plan "
                         "written by 'sigma-sn plan'?)", path=where, key="schema")
    for key in _REQUIRED:
        if key not in plan:
            raise InputError("missing", path=where, key=key)
    return plan


def read_plan_csv(path) -> list[EventRow]:
    """Read the rows :func:`write_plan_csv` wrote; a bad header or value raises
    :class:`InputError` naming the file, line and column."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", path=where) from None
    rows = csv.reader(text.splitlines())
    header = next(rows, None)
    if header is None or tuple(header) != CSV_HEADER:
        raise InputError(f"header must be {','.join(CSV_HEADER)}, got "
                         f"{','.join(header or [])}", path=where, line=1)
    out = []
    for line, row in enumerate(rows, start=2):
        if len(row) != len(CSV_HEADER):
            raise InputError(f"expected {len(CSV_HEADER)} fields, got {len(row)}",
                             path=where, line=line)
        mobile, handover, action, t_utc, t_s, from_ap, to_ap, address, feasible = row
        try:
            k, t = int(handover), float(t_s)
        except ValueError:
            raise InputError(f"handover and t_s must be numbers, got {handover!r}, {t_s!r}",
                             path=where, line=line) from None
        if feasible not in ("true", "false"):
            raise InputError(f"feasible: must be true or false, got {feasible!r}", path=where,
                             line=line)
        out.append(EventRow(mobile, k, action, t_utc, t, from_ap, to_ap, address,
                            feasible == "true"))
    return out


__all__ = ["CSV_HEADER", "EventRow", "event_rows", "read_plan_csv", "read_plan_json",
           "relative_to_plan", "write_plan_csv", "write_plan_json"]
