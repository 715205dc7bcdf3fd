"""The plan CSV written from columns: the same bytes as the row-by-row writer it
replaces, on every shipped scenario and on a plan of hundreds of handovers."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from sigma_sn import columnar
from sigma_sn.planner.io import event_rows, write_plan_csv
from sigma_sn.planner.plan import plan_scenario
from sigma_sn.scenario import load_scenario
from tests.conftest import REPO

SCENARIOS = sorted(p.name for p in (REPO / "scenarios").glob("*.toml"))


def reference_csv(plan: dict) -> str:
    """The writer these replace, row by row."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("mobile", "handover", "action", "t_utc", "t_s", "from", "to", "address",
                "feasible"))
    for r in event_rows(plan):
        w.writerow([r.mobile, r.handover, r.action, r.t_utc, repr(float(r.t_s)), r.from_ap,
                    r.to_ap, r.address, "true" if r.feasible else "false"])
    return buf.getvalue()


@pytest.fixture(scope="module", params=SCENARIOS)
def plan(request):
    return plan_scenario(load_scenario(REPO / "scenarios" / request.param))


def test_plan_csv_is_byte_identical_to_the_row_writer(plan, tmp_path, monkeypatch):
    # a plan anchored at the gateway may hand over never (isl-lisbon-newyork-gateway):
    # then the header alone is compared
    path = plan["inputs"]["parameters"].get("path") or {}
    assert plan["handovers"] or path.get("anchor") == "gateway"
    reference = reference_csv(plan)
    write_plan_csv(tmp_path / "one.csv", plan)
    assert (tmp_path / "one.csv").read_text() == reference
    monkeypatch.setattr(columnar, "CHUNK_ROWS", 7)     # a handover or two a chunk
    write_plan_csv(tmp_path / "many.csv", plan)
    assert (tmp_path / "many.csv").read_text() == reference


def test_names_that_need_quoting_and_unrounded_times_are_written_as_csv_writes_them(
        tmp_path):
    plan = plan_scenario(load_scenario(REPO / "scenarios" / "zigzag.toml"))
    rng = np.random.default_rng(3)
    for k, h in enumerate(plan["handovers"]):
        h["mobile"] = ['Sat, "one"', "line\nbreak", "", "plain"][k % 4]   # ASCII
        h["from"] = ["Zürich", "Zürich, Nord"][k % 2]
        for e in h["events"]:
            e["t_s"] = float(rng.uniform(-1e5, 1e5))   # every digit, not six places
    write_plan_csv(tmp_path / "p.csv", plan)
    assert (tmp_path / "p.csv").read_text() == reference_csv(plan)


def test_exact_is_repr_for_any_value():
    x = np.array([0.0, -0.0, 1e-7, 0.1, 1 / 3, 123.456789, 86400.000001, 1e15, 1e17,
                  np.nan, np.inf, -2.5, 5e-5, 0.0001])
    assert columnar.csv_rows([columnar.exact(x)], len(x)).decode().split("\n")[:-1] == \
        [repr(float(v)) for v in x]


@pytest.mark.parametrize("name", ["zigzag", "gpm-host", "starlink-router",
                                  "isl-lisbon-newyork"])
def test_a_planned_table_is_written_from_its_columns(name, tmp_path, monkeypatch):
    """Before any row is made (the planner's tables), in one chunk and in many: the
    same bytes as the row writer, and still no row made."""
    plan = plan_scenario(load_scenario(REPO / "scenarios" / f"{name}.toml"))
    write_plan_csv(tmp_path / "one.csv", plan)
    monkeypatch.setattr(columnar, "CHUNK_ROWS", 7)
    write_plan_csv(tmp_path / "many.csv", plan)
    assert plan["handovers"].columns() is not None
    reference = reference_csv(plan)
    assert (tmp_path / "one.csv").read_text() == reference
    assert (tmp_path / "many.csv").read_text() == reference
