"""The side-by-side table: every metric from both reports, files as the contract says."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from sigma_sn.compare import (METRICS, SCHEMA, compare_replay, compare_reports, format_table,
                              metrics_of, write_compare)
from sigma_sn.sim import MipConfig, simulate
from tests.test_sim import RATE_PPS, cbr, two_path_replay


@pytest.fixture(scope="module")
def doc():
    return compare_replay(two_path_replay(), cbr(loss_prob=0.01, seed=3), MipConfig(),
                          scenario="two-path")


def test_table_has_every_metric_once_in_order(doc):
    assert doc["schema"] == SCHEMA and doc["scenario"] == "two-path"
    assert [(r["metric"], r["unit"]) for r in doc["table"]] == list(METRICS)
    assert set(doc["reports"]) == {"sigma", "mip"}
    assert doc["reports"]["sigma"]["protocol"] == "sigma"
    assert doc["reports"]["mip"]["protocol"] == "mip"


def test_table_values_come_from_the_reports(doc):
    t = {r["metric"]: r for r in doc["table"]}
    for proto in ("sigma", "mip"):
        rep = doc["reports"][proto]
        assert t["loss_rate"][proto] == rep["loss_rate"]
        assert t["packets_lost"][proto] == rep["packets"]["lost"]
        assert t["latency_p50"][proto] == rep["latency_ms"]["p50"]
        assert t["latency_p99"][proto] == rep["latency_ms"]["p99"]
        assert t["throughput"][proto] == rep["throughput_bps"]
        assert t["signalling_messages"][proto] == rep["signalling"]["messages"]
        assert t["signalling_bytes"][proto] == rep["signalling"]["bytes"]
        hos = rep["handovers"]
        assert t["handovers"][proto] == len(hos) == 1
        assert t["lost_per_handover"][proto] == hos[0]["lost"]
        lat = hos[0]["handover_latency_ms"]
        assert (t["handover_latency_mean"][proto] == t["handover_latency_p95"][proto]
                == t["handover_latency_max"][proto] == pytest.approx(lat, abs=1e-3))
    # the comparison shows what the baseline costs on the same links and seed
    assert t["lost_per_handover"]["sigma"] == 0
    assert t["lost_per_handover"]["mip"] > 0.5 * RATE_PPS
    assert t["latency_p50"]["mip"] > t["latency_p50"]["sigma"]


def test_handover_latency_statistics_over_several_handovers():
    rep = simulate(two_path_replay(), cbr())
    fake = dict(rep, handovers=[dict(rep["handovers"][0], handover_latency_ms=v, lost=n)
                                for v, n in ((10.0, 0), (30.0, 2), (None, 4), (20.0, 0))])
    m = metrics_of(fake)
    assert m["handovers"] == 4 and m["handovers_without_latency"] == 1
    assert m["handover_latency_mean"] == 20.0
    assert m["handover_latency_p95"] == pytest.approx(np.percentile([10, 30, 20], 95))
    assert m["handover_latency_max"] == 30.0
    assert m["lost_per_handover"] == 1.5


def test_no_handovers_gives_empty_handover_cells():
    rep = simulate(two_path_replay(duration_s=15.0), cbr())
    m = metrics_of(dict(rep, handovers=[]))
    assert m["handovers"] == 0
    assert m["lost_per_handover"] is m["handover_latency_mean"] is None


def test_reports_must_be_in_protocol_order(doc):
    with pytest.raises(ValueError, match="expected a 'sigma' report"):
        compare_reports(doc["reports"]["mip"], doc["reports"]["sigma"])


def test_files_are_written_stable_and_readable(doc, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_compare(doc, a)
    again = compare_replay(two_path_replay(), cbr(loss_prob=0.01, seed=3), MipConfig(),
                           scenario="two-path")
    write_compare(again, b)
    for name in ("compare.json", "compare.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert json.loads((a / "compare.json").read_text()) == json.loads(json.dumps(doc))
    rows = list(csv.DictReader((a / "compare.csv").open()))
    assert [r["metric"] for r in rows] == [m for m, _ in METRICS]
    t = {r["metric"]: r for r in doc["table"]}
    assert float(rows[0]["mip"]) == t["loss_rate"]["mip"]
    assert int(rows[[m for m, _ in METRICS].index("signalling_bytes")]["sigma"]) == \
        t["signalling_bytes"]["sigma"]


def test_trace_stays_out_of_the_document():
    doc = compare_replay(two_path_replay(), cbr(keep_trace=True))
    assert "_trace" not in doc["reports"]["sigma"]
    json.dumps(doc)


def test_printed_table_is_aligned_with_both_protocols(doc):
    text = format_table(doc["table"])
    lines = text.splitlines()
    assert "SIGMA-SN" in lines[0] and "Mobile IPv6" in lines[0]
    assert len({len(x) for x in lines}) == 1            # every line the same width
    assert len(lines) == 2 + len(METRICS)
