"""The golden comparison itself: text exact, numbers within named tolerances, messages
that name the scenario, the field and both values; the checked-in goldens are sorted,
stable JSON (tests/test_run.py compares each shipped scenario's run with them)."""

import json
from pathlib import Path

import pytest

from sigma_sn import golden
from sigma_sn.errors import InputError

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"


def test_text_is_compared_exactly():
    bad = golden.compare({"to": "IRIDIUM-LIKE-P1-S02"}, {"to": "IRIDIUM-LIKE-P1-S03"},
                         scenario="iridium-router", path="plan.handovers[0]")
    assert [str(m) for m in bad] == [
        "iridium-router: plan.handovers[0].to: expected 'IRIDIUM-LIKE-P1-S02', "
        "got 'IRIDIUM-LIKE-P1-S03'"]


def test_times_within_a_millisecond_pass_and_beyond_it_fail_naming_the_tolerance():
    e = {"events": [{"action": "ADD_IP", "t_s": 100.0}]}
    assert golden.compare(e, {"events": [{"action": "ADD_IP", "t_s": 100.0009}]},
                          scenario="s") == []
    (m,) = golden.compare(e, {"events": [{"action": "ADD_IP", "t_s": 100.002}]}, scenario="s")
    assert m.path == "events[0].t_s"
    assert "expected 100.0, got 100.002" in str(m)
    assert "TIME_S = 0.001" in str(m)


def test_each_kind_of_number_gets_its_named_tolerance():
    assert golden.tolerance_for("reports.sigma.latency_ms.p99", 12.0) is golden.LATENCY_MS
    assert golden.tolerance_for("handovers[3].handover_latency_ms", 1.0) is golden.LATENCY_MS
    assert golden.tolerance_for("handovers[3].overlap_s", 1.0) is golden.TIME_S
    assert golden.tolerance_for("reports.mip.throughput_bps", 1e5) is golden.RATE_REL
    assert golden.tolerance_for("reports.mip.loss_rate", 0.1) is golden.LOSS_RATE
    assert golden.tolerance_for("reports.mip.packets.lost", 10) is golden.PACKETS
    assert golden.tolerance_for("reports.mip.handovers[2].lost", 10) is golden.PACKETS
    assert golden.tolerance_for("counts.handovers", 14) is golden.EXACT
    assert golden.tolerance_for("reports.sigma.signalling.bytes", 900) is golden.EXACT
    assert golden.tolerance_for("table.signalling_bytes.sigma", 900, "bytes") is golden.EXACT
    assert golden.tolerance_for("table.latency_p50.mip", 30.0, "ms") is golden.LATENCY_MS
    # a count is exact: one handover more is a change of behaviour, never noise
    (m,) = golden.compare({"counts": {"handovers": 14}}, {"counts": {"handovers": 15}},
                          scenario="s")
    assert "tolerance EXACT = 0" in str(m)


def test_booleans_and_nulls_are_not_numbers():
    assert golden.compare({"feasible": True}, {"feasible": 1}, scenario="s")
    assert golden.compare({"x": None}, {"x": 0.0}, scenario="s")
    assert golden.compare({"x": 0}, {"x": 0.0}, scenario="s") == []


def test_lists_of_other_length_and_missing_keys_are_named():
    bad = golden.compare({"handovers": [{"to": "A"}, {"to": "B"}], "k": 1},
                         {"handovers": [{"to": "A"}], "extra": 2}, scenario="zigzag")
    text = golden.format_mismatches(bad)
    assert "zigzag: handovers (length): expected 2, got 1" in text
    assert "zigzag: k: expected 1, got None (missing from the actual result)" in text
    assert "zigzag: extra: expected None, got 2 (not in the expected result)" in text


def test_many_mismatches_are_cut_short_with_a_count():
    bad = golden.compare(list(range(40)), [x + 1 for x in range(40)], scenario="s")
    text = golden.format_mismatches(bad, limit=5)
    assert text.splitlines()[-1] == "... and 35 more"


def test_comparison_table_is_keyed_by_metric_so_messages_name_it():
    doc = {"scenario": "s", "reports": {},
           "table": [{"metric": "handovers", "unit": "count", "sigma": 3, "mip": 3}]}
    view = golden.report_metrics(doc)
    assert view["table"] == {"handovers": {"unit": "count", "sigma": 3, "mip": 3}}
    other = golden.report_metrics({**doc, "table": [{**doc["table"][0], "mip": 4}]})
    (m,) = golden.compare(view, other, scenario="s", path="report-metrics")
    assert m.path == "report-metrics.table.handovers.mip"


def test_load_expected_refuses_a_folder_without_goldens(tmp_path):
    with pytest.raises(InputError, match="holds neither the golden files"):
        golden.load_expected(tmp_path)
    with pytest.raises(InputError, match="no such folder"):
        golden.load_expected(tmp_path / "nope")


@pytest.mark.parametrize("name", golden.SHIPPED_SCENARIOS)
def test_every_shipped_scenario_has_a_sorted_stable_golden(name):
    for file in golden.GOLDEN_FILES:
        path = GOLDEN / name / file
        assert path.is_file(), f"{path} missing: run python -m sigma_sn.golden regenerate"
        text = path.read_text(encoding="utf-8")
        assert text == golden.dumps(json.loads(text)), f"{path} is not sorted, stable JSON"
    plan = json.loads((GOLDEN / name / golden.PLAN_FILE).read_text())
    assert plan["scenario"] == name
    assert plan["counts"]["handovers"] == len(plan["handovers"])


def test_the_documented_regenerate_command_writes_what_the_golden_holds(tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.chdir(REPO)
    assert golden._main(["regenerate", "zigzag", "--golden-dir", str(tmp_path)]) == 0
    assert f"wrote {tmp_path / 'zigzag' / golden.PLAN_FILE}" in capsys.readouterr().out
    for file in golden.GOLDEN_FILES:
        fresh = json.loads((tmp_path / "zigzag" / file).read_text())
        kept = json.loads((GOLDEN / "zigzag" / file).read_text())
        assert golden.compare(kept, fresh, scenario="zigzag") == []
