"""Plan files: JSON and CSV load back to equal objects; writes are atomic; readers name
the file when something is wrong."""

import json
from pathlib import Path

import pytest

from sigma_sn.errors import InputError
from sigma_sn.planner.io import (CSV_HEADER, EventRow, event_rows, read_plan_csv,
                                 read_plan_json, write_plan_csv, write_plan_json)
from sigma_sn.planner.plan import dumps, plan_scenario
from sigma_sn.scenario import load_scenario
from tests.plan_checks import check_plan_invariants

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def plan():
    p = plan_scenario(load_scenario(REPO / "scenarios" / "gpm-host.toml"))
    check_plan_invariants(p)
    return p


def test_json_round_trip_gives_an_equal_dict_and_the_same_bytes(tmp_path, plan):
    path = tmp_path / "plan.json"
    write_plan_json(path, plan)
    back = read_plan_json(path)
    assert back == plan
    assert path.read_text() == dumps(plan)
    write_plan_json(tmp_path / "again.json", back)
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


def test_csv_round_trip_gives_the_rows_of_the_json(tmp_path, plan):
    path = tmp_path / "plan.csv"
    write_plan_csv(path, plan)
    rows = read_plan_csv(path)
    assert rows == event_rows(plan)
    assert len(rows) == 5 * len(plan["handovers"]) and rows
    assert path.read_text().splitlines()[0] == ",".join(CSV_HEADER)
    assert all(isinstance(r, EventRow) for r in rows)
    with pytest.raises(AttributeError):  # frozen
        rows[0].t_s = 0.0
    # a station name with a comma survives the CSV quoting
    h = plan["handovers"][0]
    odd = {**plan, "handovers": [{**h, "from": 'Wallops, "VA"'}]}
    write_plan_csv(path, odd)
    assert read_plan_csv(path) == event_rows(odd)


def test_csv_keeps_every_digit_of_t_s(tmp_path, plan):
    h = plan["handovers"][0]
    ev = [{**e, "t_s": 1234.567891} for e in h["events"]]
    odd = {**plan, "handovers": [{**h, "events": ev}]}
    write_plan_csv(tmp_path / "p.csv", odd)
    assert {r.t_s for r in read_plan_csv(tmp_path / "p.csv")} == {1234.567891}


def test_writes_are_atomic(tmp_path, plan):
    path = tmp_path / "plan.json"
    path.write_text("old")
    with pytest.raises(TypeError):
        write_plan_json(path, {**plan, "bad": object()})  # not JSON: nothing replaced
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_readers_name_the_file(tmp_path, plan):
    p = tmp_path / "p.json"
    p.write_text(json.dumps({**plan, "schema": "sigma-sn/report/1"}))
    with pytest.raises(InputError, match=rf"^{p}: schema: expected 'sigma-sn/plan/1'"):
        read_plan_json(p)
    p.write_text("{not json")
    with pytest.raises(InputError, match=rf"^{p}:1: not valid JSON"):
        read_plan_json(p)
    p.write_text(json.dumps({k: v for k, v in plan.items() if k != "handovers"}))
    with pytest.raises(InputError, match=rf"^{p}: handovers: missing"):
        read_plan_json(p)
    with pytest.raises(InputError, match="no such file"):
        read_plan_json(tmp_path / "none.json")
    c = tmp_path / "p.csv"
    c.write_text("mobile,action\n")
    with pytest.raises(InputError, match=rf"^{c}:1: header must be mobile,handover,"):
        read_plan_csv(c)
    c.write_text(",".join(CSV_HEADER) + "\nM,0,ADD_IP,2026-08-22T00:00:00Z,1.0,A,B,::1,yes\n")
    with pytest.raises(InputError, match=rf"^{c}:2: feasible: must be true or false"):
        read_plan_csv(c)
