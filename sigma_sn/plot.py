"""Plotly figures of results: ground tracks, a globe, visibility timelines, elevation,
coverage, a plan's handovers, simulation time series and sweeps.

Every function only reads results (an ephemeris, windows, look angles, a plan as
``docs/plan-format.md`` defines it, simulation reports, comparisons, sweep rows),
returns a ``plotly.graph_objects.Figure`` and takes ``fig=None`` to draw into a figure
you already have. Nothing here propagates an orbit: elevation samples come in as
arrays (:func:`sigma_sn.report.plan_elevations` makes them for a plan). Maps use
``Scattergeo``, which needs no token; for them to draw with no network the page must
carry plotly's base map, which :func:`sigma_sn.report.write_report` does. Times are
shown as UTC.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from sigma_sn.export.geojson import split_line_deg, split_line_indexed
from sigma_sn.geometry import footprint_polygon_deg, subpoint_deg

#: colours shared by every figure, so a satellite, a site or a serving link looks the
#: same everywhere in a report
SITE_COLOUR = "#d62728"
WINDOW_COLOUR = "#9ecae1"
SERVING_COLOUR = "#ff7f0e"
EVENT_COLOUR = "#2ca02c"
MASK_COLOUR = "#7f7f7f"
#: marker symbol and colour of each planned action, the same in every figure
ACTION_STYLE = {
    "ADDRESS_READY": ("circle-open", "#7f7f7f"),
    "ADD_IP": ("triangle-right", "#2ca02c"),
    "SET_PRIMARY": ("star", "#9467bd"),
    "LM_UPDATE": ("square", "#8c564b"),
    "DELETE_IP": ("x", "#d62728"),
    "DEACTIVATE": ("x-open", "#e377c2"),
}
OUTAGE_COLOUR = "#d62728"
#: one colour per satellite, cycling (plotly's default colourway)
PALETTE = ("#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3", "#FF6692",
           "#B6E880", "#FF97FF", "#FECB52")


def utc_strings(epoch, t_s) -> list[str]:
    """Return ``t_s`` (seconds after ``epoch``) as ISO UTC strings plotly reads as dates.

    ``epoch``: a :class:`~sigma_sn.propagate.Epoch` or the start as an ISO 8601 UTC
    string (a plan's or a report's ``start_utc``). plotly has no time zones: it is given
    naive UTC (the ``Z`` dropped) and the axes say UTC.
    """
    t_s = np.asarray(t_s, float)
    if hasattr(epoch, "iso"):
        iso = epoch.iso(t_s)
    else:
        base = np.datetime64(str(epoch).rstrip("Z"), "us")
        us = np.round(t_s * 1e6).astype("int64").astype("timedelta64[us]")
        iso = np.datetime_as_string(base + us, unit="us")
    return [s[:-1] if s.endswith("Z") else s for s in map(str, np.atleast_1d(iso))]


def _with_gaps(pieces) -> tuple[list, list]:
    """Join line pieces into one lat/lon list with ``None`` between them (plotly breaks
    a line at ``None``)."""
    lat: list = []
    lon: list = []
    for a, b in pieces:
        if lat:
            lat.append(None)
            lon.append(None)
        lat.extend(np.round(a, 4).tolist())
        lon.extend(np.round(b, 4).tolist())
    return lat, lon


def _geo_layout(fig: go.Figure, projection: str = "natural earth", **kw) -> None:
    fig.update_geos(projection_type=projection, showland=True, landcolor="#eeeeee",
                    showocean=True, oceancolor="#f4f8fb", showcountries=True,
                    countrycolor="#cccccc", coastlinecolor="#999999",
                    lataxis_showgrid=True, lonaxis_showgrid=True,
                    lataxis_dtick=30, lonaxis_dtick=30, **kw)


def _add_sites(fig: go.Figure, sites, *, text: bool = True) -> None:
    if not sites:
        return
    fig.add_trace(go.Scattergeo(
        lat=[s.lat_deg for s in sites], lon=[s.lon_deg for s in sites],
        mode="markers+text" if text else "markers", text=[s.name for s in sites],
        textposition="top center", textfont={"size": 10},
        marker={"symbol": "triangle-up", "size": 9, "color": SITE_COLOUR},
        name="sites", legendgroup="sites",
        hovertemplate="%{text}<br>%{lat:.2f}°, %{lon:.2f}°<extra>site</extra>"))


def ground_tracks(ephemeris, names: Sequence[str], sites=None, *,
                  footprint_half_angle_rad=None, every_s: float = 600.0,
                  max_tracks: int | None = None, fig: go.Figure | None = None) -> go.Figure:
    """Return a map of the satellites' ground tracks, footprints and the sites.

    Tracks are cut where they cross the antimeridian, so no line runs across the map.
    With ``footprint_half_angle_rad`` (one value, or one per satellite; see
    :func:`sigma_sn.geometry.footprint_half_angle_rad`) you also get each footprint
    every ``every_s`` seconds. ``max_tracks`` keeps the first satellites only, for
    readable maps of big constellations.
    """
    fig = fig if fig is not None else go.Figure()
    names = list(names)
    n_sat = len(names) if max_tracks is None else min(len(names), max_tracks)
    lat, lon = subpoint_deg(ephemeris.pos_itrs_km[:n_sat])
    utc = utc_strings(ephemeris.epoch, ephemeris.t_s)
    t_s = np.asarray(ephemeris.t_s, float)
    picks = np.unique(np.searchsorted(t_s, np.arange(t_s[0], t_s[-1] + 1e-9, every_s)))
    picks = picks[picks < len(t_s)]
    half = (None if footprint_half_angle_rad is None
            else np.broadcast_to(np.asarray(footprint_half_angle_rad, float), (n_sat,)))
    for i in range(n_sat):
        pieces = split_line_indexed(lat[i], lon[i])
        plat, plon = _with_gaps((a, b) for a, b, _ in pieces)
        text = _with_gaps((idx, idx) for _, _, idx in pieces)[0]
        text = [None if k is None else utc[int(k)] for k in text]
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scattergeo(
            lat=plat, lon=plon, mode="lines", line={"width": 1.5, "color": colour},
            name=names[i],
            legendgroup=names[i], text=text,
            hovertemplate=f"{names[i]}<br>%{{text}} UTC<br>%{{lat:.2f}}°, %{{lon:.2f}}°"
                          "<extra></extra>"))
        if half is not None and len(picks):
            rings = []
            for k in picks:
                if not (np.isfinite(lat[i, k]) and np.isfinite(lon[i, k])):
                    continue
                rlat, rlon = footprint_polygon_deg(lat[i, k], lon[i, k], half[i], 72)
                rings.extend(split_line_deg(rlat, rlon))
            flat, flon = _with_gaps(rings)
            fig.add_trace(go.Scattergeo(
                lat=flat, lon=flon, mode="lines",
                line={"width": 0.8, "dash": "dot", "color": colour},
                name=f"{names[i]} footprint", legendgroup=names[i], showlegend=False,
                hoverinfo="skip"))
    _add_sites(fig, sites)
    _geo_layout(fig)
    fig.update_layout(title="Ground tracks" + (" and footprints" if half is not None else ""),
                      legend_title_text="satellite", height=560,
                      margin={"l": 0, "r": 0, "t": 40, "b": 0})
    return fig


def globe(ephemeris, names: Sequence[str], t_index=None, *, sites=None, every: int = 1,
          trail_samples: int = 10, centre_lat_deg: float = 30.0,
          centre_lon_deg: float = 0.0, fig: go.Figure | None = None) -> go.Figure:
    """Return an orthographic globe of the satellites with a time slider and play button.

    ``t_index`` picks the sample shown first (default the first); the animation has one
    frame every ``every`` samples, each showing the satellites and a trail of their last
    ``trail_samples`` sub-satellite points. Drawn in SVG, so it needs no WebGL.
    """
    fig = fig if fig is not None else go.Figure()
    names = list(names)
    lat, lon = subpoint_deg(ephemeris.pos_itrs_km)
    utc = utc_strings(ephemeris.epoch, ephemeris.t_s)
    n_time = len(utc)
    frames_at = list(range(0, n_time, max(1, int(every))))
    first = 0 if t_index is None else int(t_index)
    if first not in frames_at:
        frames_at = sorted(set(frames_at) | {first})

    def traces(k):
        lo = max(0, k - trail_samples)
        tlat, tlon = _with_gaps([p for i in range(len(names))
                                 for p in split_line_deg(lat[i, lo:k + 1], lon[i, lo:k + 1])])
        return [
            go.Scattergeo(lat=tlat, lon=tlon, mode="lines", line={"width": 1},
                          name="trail", hoverinfo="skip", showlegend=False),
            go.Scattergeo(lat=np.round(lat[:, k], 4), lon=np.round(lon[:, k], 4),
                          mode="markers", text=names, name="satellites",
                          marker={"size": 6},
                          hovertemplate="%{text}<br>%{lat:.2f}°, %{lon:.2f}°<extra></extra>"),
        ]

    n_before = len(fig.data)
    for tr in traces(first):
        fig.add_trace(tr)
    _add_sites(fig, sites, text=False)
    moving = list(range(n_before, n_before + 2))
    fig.frames = [go.Frame(data=traces(k), traces=moving, name=utc[k]) for k in frames_at]
    _geo_layout(fig, "orthographic",
                projection_rotation={"lat": centre_lat_deg, "lon": centre_lon_deg})
    slider_steps = [{"label": utc[k][11:16], "method": "animate",
                     "args": [[utc[k]], {"mode": "immediate", "frame": {"duration": 0,
                                                                          "redraw": True},
                                         "transition": {"duration": 0}}]}
                    for k in frames_at]
    fig.update_layout(
        title=f"Satellites at {utc[first]} UTC",
        margin={"l": 0, "r": 0, "t": 40, "b": 0}, height=600,
        sliders=[{"active": frames_at.index(first), "steps": slider_steps,
                  "currentvalue": {"prefix": "UTC "}, "pad": {"t": 30}}],
        updatemenus=[{"type": "buttons", "showactive": False, "x": 0.05, "y": 0.05,
                      "buttons": [{"label": "play", "method": "animate",
                                   "args": [None, {"frame": {"duration": 150, "redraw": True},
                                                   "fromcurrent": True}]},
                                  {"label": "pause", "method": "animate",
                                   "args": [[None], {"mode": "immediate",
                                                     "frame": {"duration": 0}}]}]}])
    return fig


def visibility_timeline(windows, site: str | None = None, serving=None, events=None, *,
                        fig: go.Figure | None = None) -> go.Figure:
    """Return a Gantt chart of visibility windows against UTC.

    With ``site`` you get one row per satellite seen from that site; without, one row
    per site (every satellite's window on it, hover says which). Truncated windows
    (cut by the run's start or end) are hatched. ``serving``: ``(ap_name, start_s,
    end_s)`` intervals, drawn on a "serving" row in their own colour. ``events``: dicts
    with at least ``action`` and ``t_s`` (any other keys, e.g. ``address``, go into the
    hover text), drawn as markers on an "events" row.

    Given a plan (a dict as ``docs/plan-format.md`` defines it) instead of windows, you
    get :func:`plan_timeline` of the mobile named by ``site``.
    """
    if isinstance(windows, dict):
        return plan_timeline(windows, site, fig=fig)
    fig = fig if fig is not None else go.Figure()
    epoch = windows.epoch
    sel = np.arange(len(windows))
    if site is not None:
        if site not in windows.site_names:
            raise ValueError(f"no site {site!r} in these windows; sites are "
                             f"{', '.join(windows.site_names)}")
        sel = sel[windows.site[sel] == windows.site_names.index(site)]
    sat = windows.sat[sel]
    rows = ([windows.sat_names[s] for s in sat] if site is not None
            else [windows.site_names[s] for s in windows.site[sel]])
    aos, los = windows.aos_s[sel], windows.los_s[sel]
    trunc = windows.aos_truncated[sel] | windows.los_truncated[sel]
    hover = [f"{windows.sat_names[s]} ({windows.norad_ids[s]}) over "
             f"{windows.site_names[windows.site[k]]}<br>AOS {a}<br>LOS {b}<br>"
             f"max elevation {e:.1f}°, {d / 60:.1f} min" + (" (truncated)" if t else "")
             for s, k, a, b, e, d, t in zip(sat, sel, utc_strings(epoch, aos),
                                            utc_strings(epoch, los),
                                            windows.max_elev_deg[sel], los - aos, trunc)]
    order = sorted(set(rows), key=lambda r: (min(a for a, q in zip(aos, rows) if q == r), r))
    fig.add_trace(go.Bar(
        base=utc_strings(epoch, aos), x=np.round((los - aos) * 1000.0, 3), y=rows,
        orientation="h", name="visible", hovertext=hover, hoverinfo="text",
        marker={"color": WINDOW_COLOUR, "line": {"color": "#3182bd", "width": 0.5},
                "pattern": {"shape": ["/" if t else "" for t in trunc]}},
        opacity=0.8 if site is None else 1.0))
    extra_rows = []
    if serving:
        ap, s0, s1 = zip(*serving)
        s0, s1 = np.asarray(s0, float), np.asarray(s1, float)
        fig.add_trace(go.Bar(
            base=utc_strings(epoch, s0), x=np.round((s1 - s0) * 1000.0, 3),
            y=["serving"] * len(ap), orientation="h", name="serving", text=list(ap),
            textposition="inside", insidetextanchor="middle",
            hovertext=[f"serving: {a}<br>{b} – {c}" for a, b, c in
                       zip(ap, utc_strings(epoch, s0), utc_strings(epoch, s1))],
            hoverinfo="text", marker={"color": SERVING_COLOUR}))
        extra_rows.append("serving")
    if events:
        t_ev = np.asarray([e["t_s"] for e in events], float)
        actions = [str(getattr(e["action"], "value", e["action"])) for e in events]
        text = ["<br>".join(f"{k}: {getattr(v, 'value', v)}" for k, v in e.items()
                            if k != "t_s") for e in events]
        fig.add_trace(go.Scatter(
            x=utc_strings(epoch, t_ev), y=["events"] * len(events), mode="markers",
            name="events", text=actions,
            hovertext=[f"{u} UTC<br>{t}" for u, t in zip(utc_strings(epoch, t_ev), text)],
            hoverinfo="text", marker={"symbol": "diamond", "size": 9,
                                      "color": EVENT_COLOUR}))
        extra_rows.append("events")
    categories = list(reversed(order)) + extra_rows
    fig.update_layout(
        title="Visibility windows" + (f" over {site}" if site else ""),
        barmode="overlay", height=max(300, 22 * len(categories) + 120),
        xaxis={"type": "date", "title": "UTC"},
        yaxis={"type": "category", "categoryorder": "array", "categoryarray": categories,
               "title": "satellite" if site else "site", "automargin": True},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"})
    return fig


def _vlines(fig: go.Figure, xs, colours, opacity: float = 1.0) -> None:
    """Add dotted full-height vertical lines at ``xs``, all in one layout update
    (``add_vline`` one by one takes seconds for a few hundred)."""
    fig.update_layout(shapes=list(fig.layout.shapes) + [
        {"type": "line", "xref": "x", "yref": "y domain", "x0": x, "x1": x, "y0": 0, "y1": 1,
         "opacity": opacity, "line": {"color": c, "width": 1, "dash": "dot"}}
        for x, c in zip(xs, colours)])


def elevation_plot(look_angles_or_elev, t_s, names: Sequence[str], mask_deg,
                   events=None, *, site_index: int = 0, epoch=None,
                   fig: go.Figure | None = None) -> go.Figure:
    """Return elevation against time for the satellites one site could use.

    ``look_angles_or_elev``: :class:`~sigma_sn.geometry.LookAngles` shaped
    ``(n_sat, n_site, n_time)`` (``site_index`` picks the site) or an elevation array
    ``(n_sat, n_time)`` in degrees (one row per name; rows may also be the satellite
    seen from several stations, as in host mode). ``mask_deg``: one mask, or one per
    name; each distinct mask is a dashed line. Only rows that rise above their mask are
    drawn, and only above the horizon. ``events``: dicts with ``action`` and ``t_s``,
    drawn as vertical lines with hover text. With ``epoch`` (an Epoch or an ISO start)
    times are UTC, otherwise seconds after the start.
    """
    fig = fig if fig is not None else go.Figure()
    elev = getattr(look_angles_or_elev, "elev_deg", look_angles_or_elev)
    elev = np.asarray(elev, float)
    if elev.ndim == 3:
        elev = elev[:, site_index, :]
    masks = np.broadcast_to(np.asarray(mask_deg, float), (len(names),))
    t_s = np.asarray(t_s, float)
    x = utc_strings(epoch, t_s) if epoch is not None else t_s
    for i, name in enumerate(names):
        if not np.nanmax(elev[i], initial=-90.0) > masks[i]:
            continue
        y = np.where(elev[i] >= 0.0, np.round(elev[i], 3), np.nan)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, connectgaps=False,
                                 hovertemplate=f"{name}<br>%{{x}}<br>%{{y:.1f}}°"
                                               "<extra></extra>"))
    for mask in sorted(set(masks.tolist())):
        fig.add_hline(y=mask, line={"color": MASK_COLOUR, "dash": "dash"},
                      annotation_text=f"mask {mask:g}°", annotation_position="top left")
    if events:
        t_ev = np.asarray([e["t_s"] for e in events], float)
        x_ev = utc_strings(epoch, t_ev) if epoch is not None else t_ev
        actions = [str(getattr(e["action"], "value", e["action"])) for e in events]
        colour = {a: ACTION_STYLE.get(a, (None, EVENT_COLOUR))[1] for a in actions}
        _vlines(fig, x_ev, [colour[a] for a in actions])
        # the lines carry no hover, so a marker at the top of each says what happened
        for a in dict.fromkeys(actions):
            mine = [k for k, b in enumerate(actions) if b == a]
            fig.add_trace(go.Scatter(
                x=[x_ev[k] for k in mine], y=[90.0] * len(mine), mode="markers", name=a,
                legendgroup="events", legendgrouptitle_text="events",
                marker={"symbol": "triangle-down", "size": 9, "color": colour[a]},
                hovertext=["<br>".join(f"{k}: {getattr(v, 'value', v)}"
                                       for k, v in events[j].items()) for j in mine],
                hoverinfo="text"))
    fig.update_layout(title="Elevation of candidate satellites",
                      xaxis={"title": "UTC" if epoch is not None else "time since start (s)",
                             "type": "date" if epoch is not None else "linear"},
                      yaxis={"title": "elevation (°)", "range": [0, 92]},
                      hovermode="closest")
    return fig


def coverage_heatmap(multiplicity, lat_deg, t_s, *, epoch=None,
                     fig: go.Figure | None = None) -> go.Figure:
    """Return a heatmap of how many satellites are above the mask, by latitude and time.

    ``multiplicity``: ``(n_lat, n_time)`` counts (see
    :func:`sigma_sn.coverage.coverage_by_latitude`). With ``epoch`` times are UTC.
    """
    fig = fig if fig is not None else go.Figure()
    m = np.asarray(multiplicity)
    top = max(int(m.max(initial=0)), 1)
    t_s = np.asarray(t_s, float)
    x = utc_strings(epoch, t_s) if epoch is not None else t_s
    fig.add_trace(go.Heatmap(
        z=m, x=x, y=np.asarray(lat_deg, float), zmin=-0.5, zmax=top + 0.5,
        colorscale="Viridis", colorbar={"title": {"text": "satellites<br>in view"},
                                        "tickvals": list(range(top + 1))},
        hovertemplate="lat %{y:.1f}°<br>%{x}<br>%{z} in view<extra></extra>"))
    fig.update_layout(title="Satellites above the mask by latitude",
                      xaxis={"title": "UTC" if epoch is not None else "time since start (s)"},
                      yaxis={"title": "latitude (°)"})
    return fig


# --- a plan (docs/plan-format.md) ------------------------------------------------------

#: actions about the old access point (the rest are about the new one)
_OLD_AP_ACTIONS = {"DELETE_IP", "DEACTIVATE"}


def plan_mobile(plan: dict, mobile: str | None = None) -> dict:
    """Return the plan's entry for ``mobile`` (default: its first mobile)."""
    mobiles = plan["mobiles"]
    if not mobiles:
        raise ValueError("the plan has no mobiles")
    if mobile is None:
        return mobiles[0]
    for m in mobiles:
        if m["name"] == mobile:
            return m
    raise ValueError(f"no mobile {mobile!r} in this plan; mobiles are "
                     f"{', '.join(m['name'] for m in mobiles)}")


def plan_events(plan: dict, mobile: str) -> list[dict]:
    """Return the planned events of one mobile in time order, each with the handover it
    belongs to (``handover``: its index, ``from``, ``to``, ``feasible``, ``overlap_s``,
    ``outage_s``, ``margin_s``) and ``ap``, the access point the action is about."""
    out = []
    for h in plan["handovers"]:
        if h["mobile"] != mobile:
            continue
        for e in h["events"]:
            out.append({**e, "ap": h["from"] if e["action"] in _OLD_AP_ACTIONS else h["to"],
                        "handover": {k: h.get(k) for k in ("index", "from", "to", "feasible",
                                                           "overlap_s", "outage_s",
                                                           "margin_s")}})
    out.sort(key=lambda e: e["t_s"])
    return out


def _event_hover(e: dict, utc: str) -> str:
    h = e["handover"]
    lines = [f"<b>{e['action']}</b> at {utc} UTC (t = {e['t_s']:.3f} s)",
             f"address: {e.get('address') or '–'}",
             f"handover {h['index']}: {h['from']} → {h['to']}"
             + ("" if h.get("feasible", True) else " (hard handover)")]
    for key, label in (("margin_s", "margin"), ("overlap_s", "overlap"),
                       ("outage_s", "predicted outage")):
        if h.get(key) is not None:
            lines.append(f"{label}: {h[key]:.3f} s")
    return "<br>".join(lines)


def _interval_bars(fig: go.Figure, start_utc: str, items, from_key: str, to_key: str, rows,
                   hover, **bar) -> None:
    """Add one horizontal bar per item from ``item[from_key]`` to ``item[to_key]``
    (seconds after ``start_utc``) on ``rows``; ``hover(k, item, from_utc, to_utc)``."""
    t0 = np.array([it[from_key] for it in items], float)
    t1 = np.array([it[to_key] for it in items], float)
    a, b = utc_strings(start_utc, t0), utc_strings(start_utc, t1)
    fig.add_trace(go.Bar(base=a, x=np.round((t1 - t0) * 1000.0, 3), y=list(rows),
                         orientation="h", hoverinfo="text",
                         hovertext=[hover(k, it, a[k], b[k]) for k, it in enumerate(items)],
                         **bar))


def _within(items, from_key: str, to_key: str, span_s) -> list:
    """The items whose ``[from, to]`` meets ``[span_s[0], span_s[1])`` (all of them when
    ``span_s`` is None)."""
    if span_s is None:
        return list(items)
    return [it for it in items if it[to_key] >= span_s[0] and it[from_key] < span_s[1]]


#: the shortest span :func:`busy_span_s` returns
MIN_SPAN_S = 300.0


def busy_span_s(plan: dict, mobile: str | None = None,
                max_access_points: int = 30) -> tuple[float, float] | None:
    """Return ``(0, t)`` covering the part of the plan where the mobile's first
    ``max_access_points`` access points rise, or None when it has no more than that
    (a day of a Starlink terminal meets over a thousand satellites: too many rows).
    The span is never shorter than :data:`MIN_SPAN_S` (or the plan), even when more
    than that many are up at the start."""
    m = plan_mobile(plan, mobile)
    first: dict[str, float] = {}
    for c in sorted(m["candidates"], key=lambda c: c["aos_s"]):
        first.setdefault(c["ap"], c["aos_s"])
    if len(first) <= max_access_points:
        return None
    return 0.0, max(sorted(first.values())[max_access_points],
                    min(MIN_SPAN_S, float(plan["duration_s"])))


#: tallest plan timeline (px) and most rows it labels: a long run meets hundreds of
#: access points, one thin row each
MAX_TIMELINE_PX = 900
LABELLED_ROWS = 40


def plan_timeline(plan: dict, mobile: str | None = None, *, span_s=None,
                  fig: go.Figure | None = None) -> go.Figure:
    """Return a Gantt chart of one mobile's plan (default: the plan's first mobile).

    One row per candidate access point, in order of first AOS: every candidate window as
    a pale bar, the serving intervals on top of it in their own colour, and the planned
    ADDRESS_READY / ADD_IP / SET_PRIMARY / LM_UPDATE / DELETE_IP (or DEACTIVATE) events
    as markers on the row of the access point they are about, one legend entry per
    action. Hover gives UTC times, addresses, margins and overlaps. Outages get an
    "outage" row. ``span_s``: ``(from_s, to_s)`` draws only that part of the plan (see
    :func:`busy_span_s`).
    """
    fig = fig if fig is not None else go.Figure()
    m = plan_mobile(plan, mobile)
    start = plan["start_utc"]
    cands = _within(m["candidates"], "aos_s", "los_s", span_s)
    serving = _within(m["serving"], "from_s", "to_s", span_s)
    first_aos: dict[str, float] = {}
    for c in cands:
        first_aos[c["ap"]] = min(first_aos.get(c["ap"], c["aos_s"]), c["aos_s"])
    for s in serving:     # a plan may serve from a window its candidates truncate
        first_aos.setdefault(s["ap"], s["from_s"])
    rows = sorted(first_aos, key=lambda ap: (first_aos[ap], ap))
    if cands:
        tca = utc_strings(start, [c.get("tca_s", c["aos_s"]) for c in cands])
        _interval_bars(
            fig, start, cands, "aos_s", "los_s", [c["ap"] for c in cands],
            lambda k, c, a, b: (f"{c['ap']} seen by {m['name']}<br>AOS {a}<br>TCA {tca[k]}"
                                f"<br>LOS {b}<br>max elevation "
                                f"{c.get('max_elev_deg', float('nan')):.1f}°, "
                                f"{(c['los_s'] - c['aos_s']) / 60:.1f} min"),
            name="candidate window", width=0.8,
            marker={"color": WINDOW_COLOUR, "line": {"color": "#3182bd", "width": 0.5}})
    if serving:
        _interval_bars(
            fig, start, serving, "from_s", "to_s", [s["ap"] for s in serving],
            lambda k, s, a, b: (f"serving: {s['ap']}<br>address {s.get('address') or '–'}"
                                f"<br>{a} – {b} UTC<br>{(s['to_s'] - s['from_s']) / 60:.1f} min"),
            name="serving", width=0.4, marker={"color": SERVING_COLOUR})
    outages = _within([o for o in plan.get("outages", ()) if o["mobile"] == m["name"]],
                      "from_s", "to_s", span_s)
    if outages:
        _interval_bars(
            fig, start, outages, "from_s", "to_s", ["outage"] * len(outages),
            lambda k, o, a, b: f"outage ({o['cause']})<br>{a} – {b} UTC<br>"
                               f"{o['duration_s']:.3f} s",
            name="outage", width=0.6, marker={"color": OUTAGE_COLOUR})
    events = _within(plan_events(plan, m["name"]), "t_s", "t_s", span_s)
    for action, (symbol, colour) in ACTION_STYLE.items():
        mine = [e for e in events if e["action"] == action]
        if not mine:
            continue
        utc = utc_strings(start, [e["t_s"] for e in mine])
        fig.add_trace(go.Scatter(
            x=utc, y=[e["ap"] for e in mine], mode="markers", name=action, meta="thin",
            hovertext=[_event_hover(e, u) for e, u in zip(mine, utc)], hoverinfo="text",
            marker={"symbol": symbol, "size": 10, "color": colour,
                    "line": {"width": 1, "color": colour}}))
    categories = list(reversed(rows)) + (["outage"] if outages else [])
    fig.update_layout(
        title=f"{plan.get('name', 'plan')}: {m['name']} ({plan.get('mode', '?')} mode, "
              f"{plan.get('policy', '?')})",
        barmode="overlay", height=min(MAX_TIMELINE_PX, max(320, 26 * len(categories) + 160)),
        xaxis={"type": "date", "title": "UTC",
               "rangeslider": {"visible": True, "thickness": 0.06},
               **({} if span_s is None else {"range": utc_strings(start, span_s)})},
        yaxis={"type": "category", "categoryorder": "array", "categoryarray": categories,
               "title": "access point", "automargin": True,
               # too many rows to label: hover names them, box zoom spreads them
               "showticklabels": len(categories) <= LABELLED_ROWS},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"}, hovermode="closest")
    return fig


def plan_masks_deg(plan: dict, mobile: str, names: Sequence[str]) -> list[float]:
    """Return the elevation mask (degrees) that applies to each access point ``names`` of
    ``mobile``: the ground site's own ``min_elev_deg``, else the plan's."""
    default = float(plan["inputs"]["parameters"].get("min_elev_deg") or 0.0)
    site_mask = {s["name"]: s.get("min_elev_deg") for s in plan["sites"]}

    def mask(site):
        value = site_mask.get(site)
        return default if value is None else float(value)

    if plan["mode"] == "router":        # the mobile is the ground site
        return [mask(mobile)] * len(names)
    return [mask(ap) for ap in names]


def plan_elevation(plan: dict, t_s, elev_deg, names: Sequence[str],
                   mobile: str | None = None, *, fig: go.Figure | None = None) -> go.Figure:
    """Return elevation against time of one mobile's candidate access points, with its
    planned events as vertical lines and the mask(s) as dashed lines.

    ``elev_deg`` ``(len(names), len(t_s))``: the elevation of each candidate pair (the
    satellite seen from the site), sampled elsewhere (see
    :func:`sigma_sn.report.plan_elevations`); this function only draws.
    """
    m = plan_mobile(plan, mobile)
    t_s = np.asarray(t_s, float)
    # only the events the samples cover, so a zoomed sample keeps its zoom
    events = [{"action": e["action"], "t_s": e["t_s"], "address": e.get("address"),
               "ap": e["ap"], "handover": f"{e['handover']['from']} → {e['handover']['to']}"}
              for e in plan_events(plan, m["name"])
              if len(t_s) and t_s[0] <= e["t_s"] <= t_s[-1]]
    fig = elevation_plot(elev_deg, t_s, names, plan_masks_deg(plan, m["name"], names),
                         events=events, epoch=plan["start_utc"], fig=fig)
    what = "satellites seen from" if plan["mode"] == "router" else "stations seeing"
    fig.update_layout(title=f"Elevation of the {what} {m['name']}, planned events dotted")
    return fig


# --- simulation reports and comparisons ------------------------------------------------

#: above this many handovers in a report only the markers show them: thousands of
#: full-height lines hide the data and make the page slow
MAX_HANDOVER_LINES = 200
#: most points a time series keeps in a figure: longer ones are decimated
MAX_POINTS = 4000


def decimate(t_s: np.ndarray, y: np.ndarray, most: int = MAX_POINTS):
    """Return ``(t_s, y)`` with at most about ``most`` points: for a longer series, the
    smallest and largest value of each of ``most / 2`` equal slices, in time order, so
    every spike and dip of a whole run still shows (NaN gaps where a slice has no data)."""
    n = len(t_s)
    if n <= most:
        return t_s, y
    edges = np.linspace(0, n, most // 2 + 1).astype(int)
    keep = []
    for a, b in zip(edges[:-1], edges[1:]):
        part = y[a:b]
        if np.all(np.isnan(part)):
            keep.append(a)
            continue
        lo, hi = a + int(np.nanargmin(part)), a + int(np.nanargmax(part))
        keep.extend(sorted({lo, hi}))
    keep = np.asarray(keep)
    return t_s[keep], y[keep]


#: how each protocol is labelled and coloured
PROTOCOL_LABEL = {"sigma": "SIGMA-SN", "mip": "MIPv6", "fmip": "FMIPv6", "hmip": "HMIPv6"}
PROTOCOL_COLOUR = {"sigma": "#1f77b4", "mip": "#d62728", "fmip": "#2ca02c", "hmip": "#9467bd"}

_SERIES = {
    "latency": ("latency_ms_mean", "one-way latency (ms)", "One-way latency"),
    "loss": ("lost", "packets lost (cumulative)", "Cumulative loss"),
    "throughput": ("throughput_bps", "throughput (bit/s)", "Throughput"),
}


def simulation_reports(results) -> dict[str, dict]:
    """Return ``{protocol or label: report}`` from a report (``sigma-sn/report/1``), a
    comparison (``sigma-sn/compare/1``) or a mapping of labels to reports."""
    schema = results.get("schema") if isinstance(results, dict) else None
    if schema == "sigma-sn/report/1":
        return {results["protocol"]: results}
    if schema == "sigma-sn/compare/1":
        # compare.json is written with sorted keys; SIGMA-SN still comes first
        reports = results["reports"]
        order = list(PROTOCOL_LABEL)
        return {k: reports[k] for k in sorted(reports, key=lambda k: (
            order.index(k) if k in order else len(order), k))}
    if schema is None and isinstance(results, dict) and all(
            isinstance(r, dict) and r.get("schema") == "sigma-sn/report/1"
            for r in results.values()):
        return dict(results)
    raise ValueError(f"not a simulation report or comparison (schema {schema!r})")


def simulation_plot(results, what: str, *, fig: go.Figure | None = None) -> go.Figure:
    """Return one time series of simulation results against UTC: ``what`` is
    ``"latency"`` (mean one-way latency per bin, gaps where nothing arrived),
    ``"loss"`` (cumulative packets lost) or ``"throughput"`` (bit/s per bin).

    ``results``: a report, a comparison (SIGMA-SN and Mobile IP overlaid) or a mapping
    ``{label: report}``; each report needs its ``timeseries``. Every report's handovers
    are marked: a hover marker along the top and, up to :data:`MAX_HANDOVER_LINES` of
    them, a dotted line.
    """
    if what not in _SERIES:
        raise ValueError(f"what must be one of {', '.join(_SERIES)}, got {what!r}")
    key, y_title, title = _SERIES[what]
    fig = fig if fig is not None else go.Figure()
    reports = simulation_reports(results)
    lines_x, lines_colour = [], []   # all reports' lines in one layout update, at the end:
    # adding them report by report re-validates every earlier shape (9 s for 4 x 190)
    for k, (label, rep) in enumerate(reports.items()):
        ts = rep.get("timeseries")
        if not ts:
            raise ValueError(f"report {label!r} has no timeseries; re-run 'sigma-sn simulate'")
        name = PROTOCOL_LABEL.get(label, label)
        colour = PROTOCOL_COLOUR.get(label, PALETTE[k % len(PALETTE)])
        y = np.array([np.nan if v is None else v for v in ts[key]], float)
        if what == "loss":
            y = np.cumsum(y)
        t_s, y = decimate(np.asarray(ts["t_s"], float), y)
        x = utc_strings(rep["start_utc"], t_s)
        fig.add_trace(go.Scatter(
            x=x, y=np.round(y, 6), mode="lines", name=name, connectgaps=False,
            line={"color": colour, "width": 1.5, "shape": "hv" if what == "loss" else None},
            legendgroup=label,
            hovertemplate=f"{name}<br>%{{x}} UTC<br>%{{y:.6g}}<extra></extra>"))
        hos = rep.get("handovers", ())
        if hos:
            t_ho = utc_strings(rep["start_utc"], [h["t_s"] for h in hos])
            if len(t_ho) <= MAX_HANDOVER_LINES:
                lines_x += t_ho
                lines_colour += [colour] * len(t_ho)
            fig.add_trace(go.Scatter(
                x=t_ho, y=[1.0 - 0.04 * k] * len(hos), yaxis="y2", mode="markers",
                name=f"{name} handovers", legendgroup=label, meta="thin",
                marker={"symbol": "triangle-down", "size": 9, "color": colour},
                hovertext=[f"{name} handover{' of ' + h['mobile'] if h.get('mobile') else ''}"
                           f"<br>{u} UTC<br>{h['from']} → {h['to']}<br>handover latency "
                           + ("–" if h.get("handover_latency_ms") is None
                              else f"{h['handover_latency_ms']:.1f} ms")
                           + f"<br>lost {h.get('lost', 0)}" for h, u in zip(hos, t_ho)],
                hoverinfo="text"))
    if lines_x:
        _vlines(fig, lines_x, lines_colour, opacity=0.5)
    fig.update_layout(
        title=title + (" with handovers marked" if any(r.get("handovers")
                                                        for r in reports.values()) else ""),
        xaxis={"type": "date", "title": "UTC", "rangeslider": {"visible": True,
                                                               "thickness": 0.08}},
        yaxis={"title": y_title, "rangemode": "tozero"},
        # the handover markers sit on their own hidden axis, at the top whatever the data
        yaxis2={"overlaying": "y", "range": [0.0, 1.05], "visible": False},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"}, hovermode="closest")
    return fig


def latency_plot(results, *, fig: go.Figure | None = None) -> go.Figure:
    """Return mean one-way latency over time (see :func:`simulation_plot`)."""
    return simulation_plot(results, "latency", fig=fig)


def loss_plot(results, *, fig: go.Figure | None = None) -> go.Figure:
    """Return cumulative packets lost over time (see :func:`simulation_plot`)."""
    return simulation_plot(results, "loss", fig=fig)


def throughput_plot(results, *, fig: go.Figure | None = None) -> go.Figure:
    """Return throughput over time (see :func:`simulation_plot`)."""
    return simulation_plot(results, "throughput", fig=fig)


# --- sweeps ----------------------------------------------------------------------------

def _number_or_text(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def sweep_plot(rows, metric: str | None = None, *, fig: go.Figure | None = None) -> go.Figure:
    """Return one metric of a sweep against the swept value, one line per protocol.

    ``rows``: dicts with the keys of the sweep CSV (``param, value[, param2, value2],
    protocol, metric, unit, result``; strings are fine). With a second swept parameter
    you get one line per protocol and ``value2``. ``metric`` may be left out when the
    rows hold one metric only.
    """
    rows = list(rows)
    metrics = sorted({r["metric"] for r in rows})
    if metric is None:
        if len(metrics) != 1:
            raise ValueError(f"name the metric to draw; the sweep holds {', '.join(metrics)}")
        metric = metrics[0]
    mine = [r for r in rows if r["metric"] == metric]
    if not mine:
        raise ValueError(f"no metric {metric!r} in this sweep; it holds {', '.join(metrics)}")
    fig = fig if fig is not None else go.Figure()
    params = sorted({r["param"] for r in mine})
    series: dict[tuple, list] = {}
    for r in mine:
        second = (r.get("param2") or "", r.get("value2") or "")
        series.setdefault((r["protocol"], second), []).append(
            (_number_or_text(r["value"]), _number_or_text(r["result"])))
    order = sorted(series, key=lambda key: (key[0] != "sigma", key))    # SIGMA-SN first
    for k, (protocol, (p2, v2)) in enumerate(order):
        points = series[(protocol, (p2, v2))]
        points.sort(key=lambda p: (isinstance(p[0], str), p[0]))
        label = PROTOCOL_LABEL.get(protocol, protocol) + (f", {p2} = {v2}" if p2 else "")
        colour = PROTOCOL_COLOUR.get(protocol) if not p2 else PALETTE[k % len(PALETTE)]
        fig.add_trace(go.Scatter(
            x=[p[0] for p in points], y=[None if p[1] == "" else p[1] for p in points],
            mode="lines+markers", name=label,
            line={"color": colour, "dash": "solid" if protocol == "sigma" else "dash"},
            hovertemplate=f"{label}<br>{'/'.join(params)} = %{{x}}<br>{metric} = %{{y:.6g}}"
                          "<extra></extra>"))
    unit = next((r.get("unit") for r in mine if r.get("unit")), "")
    fig.update_layout(title=f"{metric} against {', '.join(params)}",
                      xaxis={"title": ", ".join(params)},
                      yaxis={"title": metric + (f" ({unit})" if unit else "")},
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"})
    return fig
