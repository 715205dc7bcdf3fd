"""Plotly figures of results: ground tracks, a globe, visibility timelines, elevation and
coverage.

Every function only reads results (an ephemeris, windows, look angles, a plan's
intervals and events), returns a ``plotly.graph_objects.Figure`` and takes ``fig=None``
to draw into a figure you already have. Maps use ``Scattergeo``, which needs no token;
for them to draw with no network the page must carry plotly's base map, which
:func:`sigma_sn.report.write_report` does. Times are shown as UTC.
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
#: one colour per satellite, cycling (plotly's default colourway)
PALETTE = ("#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3", "#FF6692",
           "#B6E880", "#FF97FF", "#FECB52")


def utc_strings(epoch, t_s) -> list[str]:
    """Return ``t_s`` (seconds after ``epoch``) as ISO UTC strings plotly reads as dates.

    plotly has no time zones: it is given naive UTC (the ``Z`` dropped) and the axes
    say UTC.
    """
    return [s[:-1] if s.endswith("Z") else s for s in map(str, epoch.iso(np.asarray(t_s)))]


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
    """
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


def elevation_plot(look_angles_or_elev, t_s, names: Sequence[str], mask_deg: float,
                   events=None, *, site_index: int = 0, epoch=None,
                   fig: go.Figure | None = None) -> go.Figure:
    """Return elevation against time for the satellites one site could use.

    ``look_angles_or_elev``: :class:`~sigma_sn.geometry.LookAngles` shaped
    ``(n_sat, n_site, n_time)`` (``site_index`` picks the site) or an elevation array
    ``(n_sat, n_time)`` in degrees. Only satellites that rise above ``mask_deg`` are
    drawn, and only above the horizon. ``events``: dicts with ``action`` and ``t_s``,
    drawn as vertical lines with hover text. With ``epoch`` times are UTC, otherwise
    seconds after the start.
    """
    fig = fig if fig is not None else go.Figure()
    elev = getattr(look_angles_or_elev, "elev_deg", look_angles_or_elev)
    elev = np.asarray(elev, float)
    if elev.ndim == 3:
        elev = elev[:, site_index, :]
    t_s = np.asarray(t_s, float)
    x = utc_strings(epoch, t_s) if epoch is not None else t_s
    for i, name in enumerate(names):
        if not np.nanmax(elev[i], initial=-90.0) > mask_deg:
            continue
        y = np.where(elev[i] >= 0.0, np.round(elev[i], 3), np.nan)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, connectgaps=False,
                                 hovertemplate=f"{name}<br>%{{x}}<br>%{{y:.1f}}°"
                                               "<extra></extra>"))
    fig.add_hline(y=mask_deg, line={"color": MASK_COLOUR, "dash": "dash"},
                  annotation_text=f"mask {mask_deg:g}°", annotation_position="top left")
    if events:
        t_ev = np.asarray([e["t_s"] for e in events], float)
        x_ev = utc_strings(epoch, t_ev) if epoch is not None else t_ev
        for xv in x_ev:
            fig.add_vline(x=xv, line={"color": EVENT_COLOUR, "width": 1, "dash": "dot"})
        # the lines carry no hover, so a marker at the top of each says what happened
        fig.add_trace(go.Scatter(
            x=list(x_ev), y=[90.0] * len(events), mode="markers", name="events",
            marker={"symbol": "triangle-down", "size": 9, "color": EVENT_COLOUR},
            hovertext=["<br>".join(f"{k}: {getattr(v, 'value', v)}" for k, v in e.items())
                       for e in events], hoverinfo="text"))
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
