"""One self-contained HTML report: tables and plotly figures that open with no network.

Call :func:`write_report` with a title, ``(caption, rows)`` tables and
``(caption, figure)`` figures; you get a single file that carries plotly.js once, the
world map plotly's geo figures need, and no link to anything outside it.

So that a browser (or a test driving a headless one) can tell the page drew, the page
keeps score on ``<body>``: ``data-figures-expected`` (figures in the page),
``data-figures-drawn`` (figures whose plot promise resolved with at least one trace
element drawn), and ``data-errors`` (script errors and rejected promises, one per line;
empty when all is well). Each figure ``<div>`` gets ``data-traces-drawn``.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from sigma_sn.atomic import write_text

#: trace types that draw on a geo subplot (and so need the inlined base map)
_GEO_TRACES = {"scattergeo", "choropleth"}

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 2em auto; max-width: 1300px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
p.meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; position: sticky; top: 0; }
td.text { text-align: left; }
.figure { min-height: 450px; margin-bottom: 1em; }
nav ul { columns: 2; }
"""

# Keeps the score on <body> (see the module docstring). It comes before plotly.js so an
# error anywhere on the page is counted.
_SCORE_JS = """
(function () {
  var errors = [], drawn = 0;
  function mark() {
    var b = document.body;
    if (!b) { return; }
    b.setAttribute("data-figures-drawn", String(drawn));
    b.setAttribute("data-errors", errors.join("\\n"));
  }
  window.addEventListener("error", function (e) {
    errors.push(String(e.message || e.type) + (e.filename ? " (" + e.filename + ":" +
                e.lineno + ")" : ""));
    mark();
  });
  window.addEventListener("unhandledrejection", function (e) {
    errors.push("unhandled rejection: " + String(e.reason && (e.reason.message || e.reason)));
    mark();
  });
  window.sigmaSnFigureDrawn = function (id) {
    var gd = document.getElementById(id);
    var n = gd ? gd.querySelectorAll("g.trace, g.hm, g.geo .trace").length : 0;
    if (gd) { gd.setAttribute("data-traces-drawn", String(n)); }
    if (n > 0) { drawn += 1; } else { errors.push("figure " + id + " drew no trace"); }
    mark();
  };
  document.addEventListener("DOMContentLoaded", mark);
})();
"""


def _cell(value) -> tuple[str, str]:
    """Text and CSS class of one table cell: numbers right-aligned, the rest left."""
    if isinstance(value, bool) or value is None:
        return ("" if value is None else str(value).lower()), "text"
    if isinstance(value, int):
        return str(value), ""
    if isinstance(value, float):
        return ("" if math.isnan(value) else f"{value:.6g}"), ""
    return str(value), "text"


def _table_html(rows: Sequence[dict]) -> str:
    if not rows:
        return "<p>(none)</p>"
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    out = ["<table><thead><tr>"]
    out += [f"<th>{html.escape(str(c))}</th>" for c in columns]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        for c in columns:
            text, cls = _cell(row.get(c))
            out.append(f'<td class="{cls}">{html.escape(text)}</td>' if cls
                       else f"<td>{html.escape(text)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _uses_geo(fig) -> bool:
    return any(t.type in _GEO_TRACES for t in fig.data)


def render_report(*, title: str, tables: Sequence[tuple[str, Sequence[dict]]] = (),
                  figures: Sequence[tuple[str, object]] = (), intro: str | None = None,
                  generated_utc: datetime | None = None) -> str:
    """Return the report as HTML text (see :func:`write_report`)."""
    import plotly.offline

    figures = list(figures)
    tables = list(tables)
    when = (generated_utc or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M:%S UTC")
    head = ['<!DOCTYPE html>', '<html lang="en">', "<head>", '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>", f"<style>{_CSS}</style>",
            f"<script>{_SCORE_JS}</script>"]
    if figures:
        head.append(f"<script>{plotly.offline.get_plotlyjs()}</script>")
    if any(_uses_geo(fig) for _, fig in figures):
        from sigma_sn.export.basemap import world_110m_topojson

        head.append("<script>window.PlotlyGeoAssets = window.PlotlyGeoAssets || "
                    "{topojson: {}};\nwindow.PlotlyGeoAssets.topojson.world_110m = "
                    f"{world_110m_topojson()};</script>")
    head.append("</head>")
    body = [f'<body data-figures-expected="{len(figures)}" data-figures-drawn="0" '
            'data-errors="">', f"<h1>{html.escape(title)}</h1>",
            f'<p class="meta">sigma-sn report, generated {when}</p>']
    if intro:
        body.append(f"<p>{html.escape(intro)}</p>")
    contents = ([(f"table-{k}", c) for k, (c, _) in enumerate(tables, 1)]
                + [(f"figure-{k}", c) for k, (c, _) in enumerate(figures, 1)])
    if len(contents) > 1:
        body.append("<nav><ul>" + "".join(f'<li><a href="#{a}">{html.escape(c)}</a></li>'
                                          for a, c in contents) + "</ul></nav>")
    for k, (caption, rows) in enumerate(tables, 1):
        body.append(f'<section id="table-{k}"><h2>{html.escape(caption)}</h2>'
                    f"{_table_html(list(rows))}</section>")
    for k, (caption, fig) in enumerate(figures, 1):
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"plot-{k}",
                          default_height="100%",
                          post_script=f"window.sigmaSnFigureDrawn({json.dumps(f'plot-{k}')});",
                          config={"displaylogo": False, "responsive": True})
        height = int(fig.layout.height or 450)
        body.append(f'<section id="figure-{k}"><h2>{html.escape(caption)}</h2>'
                    f'<div class="figure" style="height:{height}px">{div}</div></section>')
    body.append("</body></html>")
    return "\n".join(head + body) + "\n"


def write_report(path, *, title: str, tables: Sequence[tuple[str, Sequence[dict]]] = (),
                 figures: Sequence[tuple[str, object]] = (), intro: str | None = None,
                 generated_utc: datetime | None = None) -> Path:
    """Write one self-contained HTML report to ``path`` atomically and return the path.

    ``tables``: ``(caption, rows)`` with rows as dicts (columns in order of first
    appearance). ``figures``: ``(caption, plotly Figure)``. Tables come first, then the
    figures, in the order given. The file opens with no network: plotly.js is inlined
    once, and so is the world map if any figure is a map.
    """
    path = Path(path)
    write_text(path, render_report(title=title, tables=tables, figures=figures, intro=intro,
                                   generated_utc=generated_utc))
    return path
