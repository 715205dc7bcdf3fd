"""Long tables are summarised, every row one click away; sweeps are pivoted."""

from __future__ import annotations

from sigma_sn.report import SUMMARY_ABOVE, _summary_rows, render_report, sweep_table

from results_fixtures import small_sweep


def test_a_long_table_is_summarised_with_every_row_in_details():
    rows = [{"mobile": "Boulder", "t (UTC)": f"2026-08-22T00:{k:02d}:00Z", "lost": k % 3,
             "feasible": k != 7} for k in range(60)]
    page = render_report(title="t", tables=[("Handovers", rows)])
    summary, details = page.split("<details>")
    assert "60 rows, summarised by column" in summary
    lost = [r for r in _summary_rows(rows) if r["column"] == "lost"][0]
    assert (lost["values"], lost["min"], lost["median"], lost["max"]) == (60, 0, 1, 2)
    assert "true (59), false (1)" in summary
    assert "2026-08-22T00:00:00Z ... 2026-08-22T00:59:00Z" in summary
    assert "<summary>All 60 rows</summary>" in details
    assert details.count("<tr>") == 60 + 1  # every row and the header

    short = render_report(title="t", tables=[("Few", rows[:SUMMARY_ABOVE])])
    assert "<details>" not in short and short.count("<tr>") == SUMMARY_ABOVE + 1


def test_the_sweep_table_is_parameter_by_metric():
    rows = small_sweep()
    table = sweep_table(rows)
    values = sorted({r["value"] for r in rows}, key=float)
    assert [t["guard_s"] for t in sorted(table, key=lambda t: float(t["guard_s"]))] == values
    first = table[0]
    metric = rows[0]["metric"] + (f" ({rows[0]['unit']})" if rows[0]["unit"] else "")
    assert list(first)[0] == "guard_s"
    assert f"{metric} SIGMA-SN" in first and f"{metric} MIPv6" in first
    assert list(first).index(f"{metric} SIGMA-SN") < list(first).index(f"{metric} MIPv6")
    cells = len(table) * (len(first) - 1)
    assert cells == len(rows)  # every result once
