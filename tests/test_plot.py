"""Figures: what a reader of the report depends on seeing."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from sigma_sn import plot
from sigma_sn.coverage import coverage_by_latitude
from sigma_sn.elements import read_tle
from sigma_sn.geometry import footprint_half_angle_rad, look_angles
from sigma_sn.propagate import Epoch, propagate
from sigma_sn.sites import Site
from sigma_sn.visibility import find_windows

from conftest import REPO, START

SITES = (Site("Svalbard", 78.23, 15.40, 500.0), Site("Singapore", 1.40, 103.83, 20.0))
EVENTS = [{"action": "ADD_IP", "t_s": 1100.0, "address": "2001:db8::1"},
          {"action": "SET_PRIMARY", "t_s": 1200.0, "address": "2001:db8::1"}]


@pytest.fixture(scope="module")
def run():
    sats = read_tle(REPO / "tle_data" / "iridium_like.tle")
    t_s = np.arange(0, 2 * 3600 + 1, 60.0)
    eph = propagate([s.satrec for s in sats], Epoch.at(START), t_s)
    windows = find_windows(sats, SITES, START, 2 * 3600, min_elev_deg=8.2, workers=1)
    return sats, eph, windows


def lon_runs(trace):
    """The non-None longitude runs of a line trace."""
    runs, cur = [], []
    for x in trace.lon:
        if x is None:
            runs.append(cur)
            cur = []
        else:
            cur.append(x)
    return runs + [cur]


def test_ground_tracks_never_draw_across_the_map_and_show_footprints_and_sites(run):
    sats, eph, _ = run
    names = [s.name for s in sats]
    fig = plot.ground_tracks(eph, names, SITES, footprint_half_angle_rad=footprint_half_angle_rad(
        780.0, 8.2), every_s=1800.0, max_tracks=6)
    assert isinstance(fig, go.Figure)
    tracks = [t for t in fig.data if t.name in names]
    footprints = [t for t in fig.data if t.name and t.name.endswith("footprint")]
    assert len(tracks) == 6 and len(footprints) == 6
    for trace in tracks + footprints:
        for lons in lon_runs(trace):
            assert np.all(np.abs(np.diff(lons)) <= 180.0)
    # two hours of polar orbits do cross the antimeridian: the cut is there, at ±180
    assert any(None in t.lon for t in tracks)
    assert any(180.0 in t.lon or -180.0 in t.lon for t in tracks)
    sites = [t for t in fig.data if t.name == "sites"][0]
    assert list(sites.text) == ["Svalbard", "Singapore"]
    assert "UTC" in tracks[0].hovertemplate and tracks[0].text[0] == "2026-08-22T00:00:00.000000"


def test_figures_draw_into_the_figure_you_pass(run):
    sats, eph, _ = run
    fig = go.Figure()
    assert plot.ground_tracks(eph, [s.name for s in sats], max_tracks=2, fig=fig) is fig
    assert len(fig.data) == 2


def test_globe_animates_over_time_with_a_slider(run):
    sats, eph, _ = run
    fig = plot.globe(eph, [s.name for s in sats], 10, sites=SITES, every=10)
    assert fig.layout.geo.projection.type == "orthographic"
    assert len(fig.frames) == len(range(0, len(eph.t_s), 10))
    assert len(fig.layout.sliders[0].steps) == len(fig.frames)
    assert fig.layout.sliders[0].active == 1            # t_index 10 is the second frame
    satellites = [t for t in fig.data if t.name == "satellites"][0]
    assert len(satellites.lat) == len(sats)


def test_timeline_has_one_bar_per_window_serving_and_events(run):
    _, _, windows = run
    serving = [("IRIDIUM-LIKE-P1-S01", 600.0, 1200.0), ("IRIDIUM-LIKE-P1-S02", 1200.0, 2000.0)]
    fig = plot.visibility_timeline(windows, "Svalbard", serving=serving, events=EVENTS)
    bars, serve, events = fig.data
    n_sval = int((windows.site == windows.site_names.index("Svalbard")).sum())
    assert len(bars.base) == n_sval
    assert fig.layout.xaxis.type == "date"
    assert serve.base[0] == "2026-08-22T00:10:00.000000" and serve.x[0] == 600_000.0
    assert serve.marker.color != bars.marker.color
    assert list(events.text) == ["ADD_IP", "SET_PRIMARY"]
    assert "address: 2001:db8::1" in events.hovertext[0]
    assert list(fig.layout.yaxis.categoryarray[-2:]) == ["serving", "events"]
    # without a site: one row per site
    assert set(plot.visibility_timeline(windows).data[0].y) == {"Svalbard", "Singapore"}
    with pytest.raises(ValueError, match="no site 'Nowhere'"):
        plot.visibility_timeline(windows, "Nowhere")


def test_elevation_plot_shows_the_mask_events_and_only_satellites_that_rise(run):
    sats, eph, windows = run
    la = look_angles(eph, SITES)
    fig = plot.elevation_plot(la, eph.t_s, [s.name for s in sats], 8.2, events=EVENTS,
                              site_index=0, epoch=eph.epoch)
    drawn = {t.name for t in fig.data} - {"events"}
    risen = {windows.sat_names[s] for s in windows.sat[windows.site == 0]}
    assert drawn == risen
    shapes = fig.layout.shapes
    assert any(s.y0 == 8.2 == s.y1 for s in shapes)                  # the mask
    assert sum(s.x0 == s.x1 for s in shapes) == len(EVENTS)          # one line per event
    assert fig.layout.xaxis.type == "date"


def test_coverage_by_latitude_counts_what_the_windows_count(run):
    sats, _, _ = run
    cov = coverage_by_latitude(sats, [0.0, 45.0, 80.0], START, 3600.0, 8.2, every_s=300.0,
                               workers=1)
    assert cov.multiplicity.shape == (3, len(cov.t_s)) and cov.t_s[-1] == 3600.0
    # Iridium's polar planes crowd together near the poles
    assert cov.multiplicity[2].mean() > cov.multiplicity[0].mean() >= 1.0
    fig = plot.coverage_heatmap(cov.multiplicity, cov.lat_deg, cov.t_s, epoch=cov.epoch)
    heat = fig.data[0]
    assert np.array_equal(np.asarray(heat.z), cov.multiplicity)
    assert list(heat.y) == [0.0, 45.0, 80.0]
