"""Plotly figures of the path stage: path RTT over time (handovers marked), a route on
the globe with its inter-satellite hops, per-satellite load.

Like :mod:`sigma_sn.plot`, these only read results (:class:`~sigma_sn.path.route.PathDelays`,
:class:`~sigma_sn.path.route.Route`, flow states) and take ``fig=None``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from sigma_sn.plot import SERVING_COLOUR, SITE_COLOUR, WINDOW_COLOUR, _geo_layout, _vlines

ISL_COLOUR = "#1f77b4"
FIBRE_COLOUR = "#7f7f7f"


def path_rtt_plot(paths, site: int, *, serving=None, handovers_t_s=(),
                  fig: go.Figure | None = None) -> go.Figure:
    """RTT (ms) over time of terminal ``site``'s path over every satellite it sees (thin)
    and, bold, over the best one each step or over ``serving`` (window index per routing
    step, -1 for none); ``handovers_t_s`` are marked as vertical lines."""
    fig = fig or go.Figure()
    windows = np.flatnonzero(paths.windows.site == site)
    n = int(np.floor(paths.windows.duration_s / paths.step_s + 1e-9)) + 1
    best = np.full(n, np.nan)
    t_all = np.arange(n) * paths.step_s
    for w in windows:
        t, d, _, _ = paths.samples(w)
        fig.add_trace(go.Scatter(x=t, y=2 * d, mode="lines", showlegend=False,
                                 line={"width": 1, "color": WINDOW_COLOUR},
                                 name=paths.windows.sat_names[paths.windows.sat[w]]))
        k = np.round(t / paths.step_s).astype(int)
        best[k] = np.fmin(best[k], 2 * d)
    if serving is not None:
        serving = np.asarray(serving)
        best = np.where(serving >= 0, 2 * paths.delay_ms_at(np.maximum(serving, 0), t_all),
                        np.nan)
    fig.add_trace(go.Scatter(x=t_all, y=best, mode="lines", name="serving" if serving
                             is not None else "best satellite",
                             line={"width": 2.5, "color": SERVING_COLOUR}))
    _vlines(fig, list(handovers_t_s), [SITE_COLOUR] * len(handovers_t_s), 0.6)
    fig.update_layout(xaxis_title="time since start (s)", yaxis_title="path RTT (ms)",
                      title=f"{paths.windows.site_names[site]} to "
                            f"{paths.correspondent.name} ({paths.mode.value})")
    return fig


def route_map(route, terminal_lat_lon_deg, *, fig: go.Figure | None = None) -> go.Figure:
    """The route of a :class:`~sigma_sn.path.route.Route` on the globe: uplink from the
    terminal, each inter-satellite hop, the downlink and the fibre to the correspondent."""
    fig = fig or go.Figure()
    t_lat, t_lon = terminal_lat_lon_deg
    g_lat, g_lon = route.gateway_lat_lon_deg
    c = route.correspondent
    fig.add_trace(go.Scattergeo(lat=[t_lat, route.sat_lat_deg[0]],
                                lon=[t_lon, route.sat_lon_deg[0]], mode="lines",
                                line={"color": SERVING_COLOUR, "width": 2}, name="uplink"))
    fig.add_trace(go.Scattergeo(lat=np.round(route.sat_lat_deg, 4),
                                lon=np.round(route.sat_lon_deg, 4), mode="lines+markers",
                                line={"color": ISL_COLOUR, "width": 2},
                                text=list(route.sat_names),
                                name=f"ISL hops ({len(route.sat_names) - 1})"))
    fig.add_trace(go.Scattergeo(lat=[route.sat_lat_deg[-1], g_lat],
                                lon=[route.sat_lon_deg[-1], g_lon], mode="lines",
                                line={"color": SERVING_COLOUR, "width": 2}, name="downlink"))
    fig.add_trace(go.Scattergeo(lat=[g_lat, c.lat_deg], lon=[g_lon, c.lon_deg], mode="lines",
                                line={"color": FIBRE_COLOUR, "width": 2, "dash": "dash"},
                                name="fibre"))
    fig.add_trace(go.Scattergeo(lat=[t_lat, g_lat, c.lat_deg], lon=[t_lon, g_lon, c.lon_deg],
                                mode="markers+text", marker={"color": SITE_COLOUR, "size": 7},
                                text=["terminal", route.gateway, c.name],
                                textposition="top center", showlegend=False))
    _geo_layout(fig)
    fig.update_layout(title=f"route at t = {route.t_s:g} s")
    return fig


def satellite_load_plot(links, state, step: int, sat_names, *,
                        fig: go.Figure | None = None) -> go.Figure:
    """Utilisation of each satellite's user link at routing ``step``, from
    :func:`sigma_sn.path.flows.path_flow_rates` (``links``, ``state``)."""
    fig = fig or go.Figure()
    sel = (links[:, 0] == step) & (links[:, 1] == 0)
    order = np.argsort(-state.utilisation[sel], kind="stable")
    fig.add_trace(go.Bar(x=[sat_names[i] for i in links[sel, 2][order]],
                         y=state.utilisation[sel][order], marker_color=ISL_COLOUR))
    fig.update_layout(xaxis_title="satellite", yaxis_title="user-link utilisation",
                      title=f"per-satellite load at step {step}")
    return fig
