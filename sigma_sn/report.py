"""One self-contained HTML report: tables and plotly figures that open with no network.

Call :func:`write_report` with a title, ``(caption, rows)`` tables and
``(caption, figure)`` figures; you get a single file that carries plotly.js once, the
world map plotly's geo figures need, and no link to anything outside it.

So that a browser (or a test driving a headless one) can tell the page drew, the page
keeps score on ``<body>``: ``data-figures-expected`` (figures in the page),
``data-figures-drawn`` (figures whose plot promise resolved with at least one trace
element drawn), and ``data-errors`` (script errors and rejected promises, one per line;
empty when all is well). Each figure ``<div>`` gets ``data-traces-drawn``.

:func:`plan_section`, :func:`simulation_section` and :func:`sweep_section` turn a plan,
a simulation report or comparison, and sweep rows into a :class:`Section` of tables and
figures for :func:`write_report`; ``sigma-sn report`` uses them for ``plan.json``,
``compare.json`` / ``report.json`` and ``sweep.csv``.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sigma_sn.atomic import write_text
from sigma_sn.errors import InputError

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

// Marker traces with meta "thin" show at most `most` markers inside the x range on
// screen, evenly picked: hundreds of handovers over a whole run would otherwise merge
// into a solid bar. Zooming in brings the rest back.
window.sigmaSnThin = function (id, most) {
  var gd = document.getElementById(id);
  if (!gd || !gd.data || !window.Plotly) { return; }
  var norm = function (x) { return String(x).replace("T", " "); };
  var full = gd.data.map(function (t) {
    return t.meta === "thin" ? {x: Array.from(t.x), y: Array.from(t.y),
                                text: t.hovertext ? Array.from(t.hovertext) : null} : null;
  });
  var thin = function () {
    var range = gd.layout.xaxis && gd.layout.xaxis.range;
    var lo = range ? norm(range[0]) : "", hi = range ? norm(range[1]) : "\\uffff";
    var xs = [], ys = [], texts = [], which = [];
    full.forEach(function (f, i) {
      if (!f) { return; }
      var inside = [];
      for (var k = 0; k < f.x.length; k++) {
        var x = norm(f.x[k]);
        if (x >= lo && x <= hi) { inside.push(k); }
      }
      var step = Math.max(1, Math.ceil(inside.length / most));
      var keep = inside.filter(function (k, j) { return j % step === 0; });
      xs.push(keep.map(function (k) { return f.x[k]; }));
      ys.push(keep.map(function (k) { return f.y[k]; }));
      texts.push(keep.map(function (k) { return f.text ? f.text[k] : ""; }));
      which.push(i);
    });
    if (!which.length) { return; }
    // new data make plotly guess the axis types (and fixed y ranges) again unless the
    // update restates them
    var keep = {};
    Object.keys(gd._fullLayout).forEach(function (k) {
      if (!/^[xy]axis\\d*$/.test(k)) { return; }
      keep[k + ".type"] = gd._fullLayout[k].type;
      var own = gd.layout[k];
      if (k.charAt(0) === "y" && own && own.range && own.autorange !== true) {
        keep[k + ".range"] = own.range.slice();
      }
    });
    Plotly.update(gd, {x: xs, y: ys, hovertext: texts}, keep, which);
  };
  thin();
  gd.on("plotly_relayout", function (e) {  // a zoom, a pan or the range slider
    if (Object.keys(e || {}).some(function (k) { return /^xaxis\\.(range|autorange)/.test(k); })) {
      thin();
    }
  });
};
"""
#: most markers a thinned trace shows within the visible time range
THIN_MARKERS = 60
#: a table longer than this is summarised, the full table one click away
SUMMARY_ABOVE = 20
#: a text column with at most this many values has them counted in the summary; a
#: column with more shows its first and last
SHOWN_VALUES = 6


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


def _summary_rows(rows: Sequence[dict]) -> list[dict]:
    """One row per column of ``rows``: count, and min / median / max of numbers or the
    commonest values of text."""
    from collections import Counter

    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    out = []
    for c in columns:
        values = [r.get(c) for r in rows if r.get(c) is not None]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if numbers and len(numbers) == len(values):
            out.append({"column": c, "values": len(values), "min": min(numbers),
                        "median": float(np.median(numbers)), "max": max(numbers)})
            continue
        texts = [_cell(v)[0] for v in values]
        common = Counter(texts).most_common()
        shown = (", ".join(f"{v} ({n})" for v, n in common) if len(common) <= SHOWN_VALUES
                 else f"{texts[0]} ... {texts[-1]}" if texts else "")
        out.append({"column": c, "values": len(values), "distinct": len(common),
                    "values seen": shown})
    return out


def _table_section(rows: Sequence[dict]) -> str:
    """A short table as it is; a long one as a summary with the rows in ``<details>``."""
    if len(rows) <= SUMMARY_ABOVE:
        return _table_html(rows)
    return (f"<p>{len(rows)} rows, summarised by column:</p>{_table_html(_summary_rows(rows))}"
            f"<details><summary>All {len(rows)} rows</summary>{_table_html(rows)}</details>")


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
                    f"{_table_section(list(rows))}</section>")
    for k, (caption, fig) in enumerate(figures, 1):
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"plot-{k}",
                          default_height="100%",
                          post_script=f"window.sigmaSnFigureDrawn({json.dumps(f'plot-{k}')});"
                                      f"window.sigmaSnThin({json.dumps(f'plot-{k}')}, "
                                      f"{THIN_MARKERS});",
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


# --- content for plans, simulation results and sweeps ----------------------------------
# These read results (dicts as docs/plan-format.md and the report/compare/sweep contracts
# define them) and return what write_report takes. Only plan_elevations computes
# anything: it samples look angles so that the plot module never propagates.


@dataclass(frozen=True)
class Section:
    """Tables, figures and notes (things left out, and why) for one part of a report."""

    tables: tuple = ()
    figures: tuple = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ElevationSamples:
    """Elevation of one mobile's candidate pairs: ``elev_deg[i]`` is the satellite of
    pair ``names[i]`` seen from its site, at ``t_s`` seconds after the plan's start."""

    mobile: str
    names: tuple[str, ...]
    t_s: np.ndarray
    elev_deg: np.ndarray      # (len(names), len(t_s))


def plan_satellites(plan: dict, plan_dir=".") -> list:
    """Return the satellites the plan names, read from its element files (found as
    :func:`sigma_sn.sim.fromplan.element_files` finds them: from ``plan_dir``, the plan
    file's folder, else from the current folder)."""
    import warnings

    from sigma_sn.elements import load_elements
    from sigma_sn.sim.fromplan import element_files

    files = element_files(plan, plan_dir=plan_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the planner already said it
        sats = load_elements(files).satellites
    wanted = {s["name"] for s in plan["satellites"]}
    return [s for s in sats if s.name in wanted]


def plan_elevations(plan: dict, mobile: str | None = None, *, satellites=None,
                    plan_dir=".", step_s: float | None = None,
                    span_s=None) -> ElevationSamples:
    """Return elevation samples of one mobile's candidate access points (default: the
    plan's first mobile), for :func:`sigma_sn.plot.plan_elevation`.

    Router mode: each candidate satellite seen from the mobile's site. Host mode: the
    mobile satellite seen from each candidate station. ``satellites`` (objects with
    ``name`` and ``satrec``) saves reading the plan's element files. ``span_s``:
    ``(from_s, to_s)`` samples only that part of the plan and the candidates up in it.
    ``step_s`` defaults to about 1,500 samples, and never finer than 5 s.
    """
    from sigma_sn.geometry import look_angles
    from sigma_sn.plot import plan_mobile
    from sigma_sn.propagate import Epoch, propagate
    from sigma_sn.visibility import time_grid

    m = plan_mobile(plan, mobile)
    t0, t1 = (0.0, float(plan["duration_s"])) if span_s is None else map(float, span_s)
    first: dict[str, float] = {}
    for c in m["candidates"]:
        if c["los_s"] >= t0 and c["aos_s"] < t1:
            first[c["ap"]] = min(first.get(c["ap"], c["aos_s"]), c["aos_s"])
    names = tuple(sorted(first, key=lambda ap: (first[ap], ap)))
    t_s = t0 + time_grid(t1 - t0, step_s or max(5.0, (t1 - t0) / 1500.0))
    if satellites is None:
        satellites = plan_satellites(plan, plan_dir)
    sat_by_name = {s.name: s for s in satellites}
    sites = {s.name: s for s in _plan_sites(plan)}
    router = plan["mode"] == "router"
    wanted_sats = list(names) if router else [m["name"]]
    missing = [n for n in wanted_sats if n not in sat_by_name]
    if missing:
        raise InputError(f"no elements for satellite(s) {', '.join(missing[:5])}",
                         key="satellites")
    epoch = Epoch.at(plan["start_utc"])
    eph = propagate([sat_by_name[n].satrec for n in wanted_sats], epoch, t_s)
    if router:
        elev = look_angles(eph, [sites[m["name"]]]).elev_deg[:, 0, :]
    else:
        elev = look_angles(eph, [sites[n] for n in names]).elev_deg[0]
    return ElevationSamples(m["name"], names, t_s, elev)


def plan_section(plan: dict, *, plan_dir=".", satellites=None, max_mobiles: int = 6,
                 max_access_points: int = 30, max_rows: int = 5000) -> Section:
    """Return the report's plan part: a summary, the handovers and outages, a timeline
    for each of the ``max_mobiles`` mobiles with most handovers, and the elevation of the
    busiest one's candidates (left out, with a note, when the element files are gone).
    A mobile that meets more than ``max_access_points`` access points is drawn over the
    part of the plan where the first of them rise, so that the figures stay readable."""
    from sigma_sn import plot

    hos = plan["handovers"]
    per_mobile = {m["name"]: 0 for m in plan["mobiles"]}
    for h in hos:
        per_mobile[h["mobile"]] = per_mobile.get(h["mobile"], 0) + 1
    outages = plan.get("outages", [])
    summary = [{
        "name": plan.get("name"), "mode": plan["mode"], "policy": plan["policy"],
        "start (UTC)": plan["start_utc"], "duration (s)": plan["duration_s"],
        "mobiles": len(plan["mobiles"]), "access points": len(plan.get("access_points", ())),
        "handovers": len(hos), "hard handovers": sum(not h["feasible"] for h in hos),
        "outage total (s)": round(sum(o["duration_s"] for o in outages), 6),
        "location updates": len(plan.get("location_updates", ())),
    }]
    ho_rows = []
    for h in hos[:max_rows]:
        sp = next((e for e in h["events"] if e["action"] == "SET_PRIMARY"), None)
        ho_rows.append({"mobile": h["mobile"], "index": h["index"], "from": h["from"],
                        "to": h["to"], "feasible": h["feasible"],
                        "SET_PRIMARY (UTC)": sp["t_utc"] if sp else None,
                        "overlap (s)": h["overlap_s"], "margin (s)": h.get("margin_s"),
                        "predicted outage (s)": h["outage_s"]})
    tables = [("Plan", summary),
              ("Planned handovers" + (f" (first {max_rows} of {len(hos)})"
                                      if len(hos) > max_rows else ""), ho_rows)]
    if outages:
        tables.append(("Planned outages", [
            {k: o[k] for k in ("mobile", "from_utc", "to_utc", "duration_s", "cause")}
            for o in outages[:max_rows]]))
    busiest = sorted(per_mobile, key=lambda n: (-per_mobile[n], n))[:max_mobiles]
    figures, notes = [], []
    if len(per_mobile) > max_mobiles:
        notes.append(f"timelines of {max_mobiles} of {len(per_mobile)} mobiles, those with "
                     "most handovers")
    for name in busiest:  # the whole run: a range slider and zoom reach any part of it
        figures.append((f"Plan timeline: {name}", plot.plan_timeline(plan, name)))
    span = plot.busy_span_s(plan, busiest[0], max_access_points) if busiest else None
    if span is not None:
        notes.append(f"the elevation and ground tracks of {busiest[0]} show the first "
                     f"{span[1] / 60:.0f} min, where its first {max_access_points} access "
                     "points rise")
    if busiest:
        try:
            s = plan_elevations(plan, busiest[0], satellites=satellites, plan_dir=plan_dir,
                                span_s=span)
        except InputError as exc:
            notes.append(f"no elevation figure: {exc}")
        else:
            figures.append((f"Elevation of {s.mobile}'s candidates"
                            + (f" (first {span[1] / 60:.0f} min)" if span else ""),
                            plot.plan_elevation(plan, s.t_s, s.elev_deg, s.names, s.mobile)))
            caption, fig = plan_ground_tracks(plan, satellites=satellites, plan_dir=plan_dir,
                                              span_s=span)
            figures.append((caption, fig))
    return Section(tuple(tables), tuple(figures), tuple(notes))


def _plan_sites(plan: dict) -> list:
    from sigma_sn.sites import Site

    return [Site(s["name"], s["lat_deg"], s["lon_deg"], s.get("alt_m") or 0.0,
                 s.get("min_elev_deg"), s.get("capacity")) for s in plan["sites"]]


def plan_ground_tracks(plan: dict, *, satellites=None, plan_dir=".", span_s=None,
                       max_tracks: int = 12, step_s: float = 60.0):
    """Return ``(caption, figure)``: a map of the ground tracks and footprints of the
    satellites that serve (router mode; the first ``max_tracks`` to serve) or that are
    the mobiles (host mode), over ``span_s`` or the whole plan, with the plan's sites.

    Footprints use the plan's mask at each satellite's mean altitude.
    """
    from sigma_sn import plot
    from sigma_sn.geometry import footprint_half_angle_rad
    from sigma_sn.propagate import Epoch, propagate
    from sigma_sn.sites import WGS84_A_KM
    from sigma_sn.visibility import time_grid

    t0, t1 = (0.0, float(plan["duration_s"])) if span_s is None else map(float, span_s)
    if plan["mode"] == "router":
        first: dict[str, float] = {}
        for m in plan["mobiles"]:
            for s in m["serving"]:
                if s["to_s"] >= t0 and s["from_s"] < t1:
                    first[s["ap"]] = min(first.get(s["ap"], s["from_s"]), s["from_s"])
        names = sorted(first, key=lambda n: (first[n], n))[:max_tracks]
        caption = "Ground tracks of the serving satellites"
    else:
        names = [m["name"] for m in plan["mobiles"]][:max_tracks]
        caption = "Ground track" + ("s" if len(names) > 1 else "") + " of " + ", ".join(names)
    if satellites is None:
        satellites = plan_satellites(plan, plan_dir)
    by_name = {s.name: s for s in satellites}
    names = [n for n in names if n in by_name]
    t_s = t0 + time_grid(t1 - t0, step_s)
    eph = propagate([by_name[n].satrec for n in names], Epoch.at(plan["start_utc"]), t_s)
    alt_km = np.nanmean(np.linalg.norm(eph.pos_itrs_km, axis=-1), axis=1) - WGS84_A_KM
    mask = float(plan["inputs"]["parameters"].get("min_elev_deg") or 0.0)
    fig = plot.ground_tracks(eph, names, _plan_sites(plan),
                             footprint_half_angle_rad=footprint_half_angle_rad(alt_km, mask),
                             every_s=max(step_s, (t1 - t0) / 4.0))
    if span_s is not None:
        caption += f" (first {(t1 - t0) / 60:.0f} min)"
    return caption, fig


def simulation_section(results, *, max_rows: int = 5000) -> Section:
    """Return the report's simulation part for a report or a comparison: the metrics
    side by side (the comparison's own table when it has one), the handovers, and
    latency, cumulative loss and throughput over time with the protocols overlaid."""
    from sigma_sn import plot

    reports = plot.simulation_reports(results)
    labels = [plot.PROTOCOL_LABEL.get(k, k) for k in reports]
    if isinstance(results, dict) and results.get("table"):
        metrics = [{"metric": r["metric"], "unit": r.get("unit", ""),
                    **{plot.PROTOCOL_LABEL.get(k, k): r.get(k) for k in reports}}
                   for r in results["table"]]
    else:
        from sigma_sn.compare import METRICS, metrics_of

        values = [metrics_of(r) for r in reports.values()]
        metrics = [{"metric": name, "unit": unit,
                    **{label: v[name] for label, v in zip(labels, values)}}
                   for name, unit in METRICS]
    ho_rows = [{"protocol": label, "mobile": h.get("mobile", rep.get("mobile")),
                "from": h["from"], "to": h["to"], "t (UTC)": h["t_utc"],
                "feasible": h.get("feasible"), "handover latency (ms)":
                h.get("handover_latency_ms"), "lost": h.get("lost")}
               for label, rep in zip(labels, reports.values()) for h in rep["handovers"]]
    title = " and ".join(labels) if len(labels) < 3 else ", ".join(labels[:-1]) + " and " \
        + labels[-1]
    assumed = results.get("assumptions") if isinstance(results, dict) else None
    causes = _loss_cause_rows(reports, labels)
    tables = [(f"Simulation: {title}", metrics),
              *([("Packets lost, by cause", causes)] if causes else []),
              *([("Assumptions each protocol ran under (one timing block for all)",
                  [{"protocol": plot.PROTOCOL_LABEL.get(k, "every protocol"),
                    "assumptions": ", ".join(f"{n}={v}" for n, v in d.items())}
                   for k, d in assumed.items()])] if assumed else []),
              ("Simulated handovers" + (f" (first {max_rows} of {len(ho_rows)})"
                                        if len(ho_rows) > max_rows else ""),
               ho_rows[:max_rows])]
    if not all(r.get("timeseries") for r in reports.values()):
        return Section(tuple(tables), (), ("no time-series figures: a report has no "
                                           "timeseries",))
    figures = [(f"{caption}: {title}", fn(results)) for caption, fn in (
        ("One-way latency", plot.latency_plot), ("Cumulative loss", plot.loss_plot),
        ("Throughput", plot.throughput_plot))]
    load = results.get("load") if isinstance(results, dict) else None
    if load:    # shared capacity (docs/path.md): the busiest satellites, their load over time
        from sigma_sn.path.load import SERIES_SATELLITES, load_figure
        tables.append((f"Per-satellite load (the {SERIES_SATELLITES} busiest of "
                       f"{len(load['satellites'])})", load["satellites"][:SERIES_SATELLITES]))
        figures.append(("per-satellite load over time", load_figure(load)))
    return Section(tuple(tables), tuple(figures))


def _loss_cause_rows(reports: dict, labels: list) -> list[dict]:
    """One row per loss cause that any report has (in the order of
    :data:`sigma_sn.sim.model.CAUSES`, then others such as ``to_attacker``), one column
    per protocol, so that FMIPv6's expired NAR buffer (``buffer_expired``) reads apart
    from a missing route (``no_route``)."""
    from sigma_sn.sim.model import CAUSES

    named = {c for r in reports.values() for c, n in r.get("loss_causes", {}).items() if n}
    order = [c for c in CAUSES if c in named] + sorted(named - set(CAUSES))
    return [{"cause": c, **{label: r.get("loss_causes", {}).get(c, 0)
                            for label, r in zip(labels, reports.values())}} for c in order]


#: the columns every sweep CSV has (``param2, value2`` are optional)
SWEEP_COLUMNS = ("param", "value", "protocol", "metric", "unit", "result")


def read_sweep_csv(path) -> list[dict]:
    """Read a sweep CSV (``param,value[,param2,value2],protocol,metric,unit,result``) as
    dicts of strings; raise :class:`InputError` naming the file when it is not one."""
    import csv

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", path=str(path)) from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in SWEEP_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise InputError(f"not a sweep CSV: header lacks {', '.join(missing)}",
                         path=str(path), line=1)
    return list(reader)


def sweep_table(rows) -> list[dict]:
    """Return the sweep pivoted: one row per parameter point (``param = value``, and
    ``param2 = value2`` in a 2-D sweep), one column per metric and protocol, in the
    order they first appear (SIGMA-SN first)."""
    from sigma_sn import plot

    rows = list(rows)
    protocols = sorted(dict.fromkeys(r["protocol"] for r in rows),
                       key=lambda p: (p != "sigma", p not in plot.PROTOCOL_LABEL))
    columns = {}
    for r in rows:
        metric = r["metric"] + (f" ({r['unit']})" if r.get("unit") else "")
        columns.setdefault(r["metric"], metric)
    points: dict[tuple, dict] = {}
    for r in rows:
        key = (r["param"], r["value"], r.get("param2") or "", r.get("value2") or "")
        point = points.setdefault(key, {r["param"]: r["value"], **(
            {r["param2"]: r["value2"]} if r.get("param2") else {})})
        label = plot.PROTOCOL_LABEL.get(r["protocol"], r["protocol"])
        point[f"{columns[r['metric']]} {label}"] = plot._number_or_text(r["result"])
    order = [f"{c} {plot.PROTOCOL_LABEL.get(p, p)}" for c in columns.values()
             for p in protocols]
    return [{**{k: v for k, v in p.items() if k not in order},
             **{k: p.get(k) for k in order}} for p in points.values()]


def sweep_section(rows) -> Section:
    """Return the report's sweep part: the table pivoted (:func:`sweep_table`), one
    figure per metric with one line per protocol."""
    from sigma_sn import plot

    rows = list(rows)
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    figures = tuple((f"Sweep: {m}", plot.sweep_plot(rows, m)) for m in metrics)
    return Section((("Sweep: parameter by metric (all rows in sweep.csv)",
                     sweep_table(rows)),), figures)


def path_section(plans: dict, paths) -> Section:
    """Path RTT over time per policy, handovers marked, and each policy's RTT mean and
    p95, for ``plans`` (policy -> plan of one scenario's windows) over the path stage's
    ``paths`` (issue 21: what planning by the path buys against planning by elevation)."""
    from sigma_sn.policy_compare import rtt_figure, serving_rtt_ms

    runs = {p: (plan, serving_rtt_ms(plan, paths)) for p, plan in plans.items()}
    rows = []
    for policy, (plan, rtt) in runs.items():
        ms = np.concatenate(list(rtt.values())) if rtt else np.zeros(0)
        ms = ms[np.isfinite(ms)]
        rows.append({"policy": policy, "handovers": len(plan["handovers"]),
                     "rtt_mean_ms": round(float(ms.mean()), 3) if ms.size else None,
                     "rtt_p95_ms": round(float(np.percentile(ms, 95)), 3) if ms.size
                     else None})
    return Section((("Path RTT by policy, along each plan's serving intervals", rows),),
                   (("Path RTT over time per policy, handovers marked",
                     rtt_figure({"paths": paths, "runs": runs})),))


def plan_path_section(plan: dict, *, plan_dir=".") -> Section | None:
    """:func:`path_section` of a router-mode plan that records a path model
    (``inputs.parameters.path``): its path rebuilt from its element files, as the replay
    does, for its own policy (only a note when they cannot be found); None when the plan
    has no path."""
    import warnings

    from sigma_sn.elements import load_elements
    from sigma_sn.path.route import compute_paths
    from sigma_sn.sim.fromplan import _Plan, _sites, element_files
    from sigma_sn.sim.pathgeom import path_model_from_plan
    from sigma_sn.visibility import find_windows

    params = plan.get("inputs", {}).get("parameters", {})
    if plan.get("mode") != "router" or not isinstance(params.get("path"), dict):
        return None
    try:
        with warnings.catch_warnings():   # staleness belongs to the planning step
            warnings.simplefilter("ignore")
            catalog = load_elements(element_files(plan, plan_dir=plan_dir))
    except InputError as exc:   # moved element files: the rest of the report still stands
        return Section(notes=(f"no path RTT figure: {exc}",))
    sites = _sites(_Plan(plan, "plan"))
    terminals = [sites[m["name"]] for m in plan["mobiles"]]
    mask = float(params["min_elev_deg"])
    model = path_model_from_plan(params["path"], catalog.satellites, plan["start_utc"],
                                 float(plan["duration_s"]), mask)
    windows = find_windows(catalog.satellites, terminals, plan["start_utc"],
                           float(plan["duration_s"]), min_elev_deg=mask,
                           step_s=float(params.get("step_s") or 60.0), workers=1)
    return path_section({plan["policy"]: plan}, compute_paths(model, terminals, windows))
