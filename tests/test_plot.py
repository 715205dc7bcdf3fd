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
    drawn = {t.name for t in fig.data} - {"ADD_IP", "SET_PRIMARY"}
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


# --- plan, simulation and sweep figures (results shaped as the contracts say) ----------

@pytest.fixture(scope="module")
def plan():
    from results_fixtures import small_plan
    return small_plan()


def test_plan_timeline_shows_every_window_the_serving_chain_and_each_action(plan):
    fig = plot.plan_timeline(plan)
    assert plot.visibility_timeline(plan, "Boulder").to_dict() == fig.to_dict()
    by_name = {t.name: t for t in fig.data}
    mobile = plan["mobiles"][0]
    windows, serving = by_name["candidate window"], by_name["serving"]
    assert len(windows.base) == len(mobile["candidates"])
    assert len(serving.base) == len(mobile["serving"])
    assert serving.marker.color != windows.marker.color
    # the serving bars sit on their access point's row, starting when the plan says
    assert list(serving.y) == [s["ap"] for s in mobile["serving"]]
    assert serving.base[1] == mobile["serving"][1]["from_utc"][:-1]
    # one marker per planned event, on the row of the access point it is about
    events = [(h, e) for h in plan["handovers"] for e in h["events"]]
    drawn = set(by_name) & set(plot.ACTION_STYLE)
    assert drawn == {e["action"] for _, e in events} >= {"ADD_IP", "SET_PRIMARY", "LM_UPDATE"}
    for action in drawn:
        trace = by_name[action]
        want_row = [h["from"] if action in ("DELETE_IP", "DEACTIVATE") else h["to"]
                    for h, e in events if e["action"] == action]
        assert list(trace.y) == want_row
    h = plan["handovers"][1]
    sp = next(k for k, (g, e) in enumerate(
        (g, e) for g, e in events if e["action"] == "SET_PRIMARY") if g is h)
    hover = by_name["SET_PRIMARY"].hovertext[sp]
    assert h["events"][2]["t_utc"][:-1] in hover and h["events"][2]["address"] in hover
    assert f"margin: {h['margin_s']:.3f} s" in hover and f"{h['from']} → {h['to']}" in hover
    assert set(fig.layout.yaxis.categoryarray) == {c["ap"] for c in mobile["candidates"]}
    assert fig.layout.xaxis.type == "date"


def test_plan_timeline_draws_outages_and_hard_handovers(plan):
    import copy
    hard = copy.deepcopy(plan)
    h = hard["handovers"][0]
    h["feasible"], h["outage_s"] = False, 4.5
    hard["outages"] = [{"mobile": "Boulder", "from_s": 100.0, "to_s": 104.5,
                        "from_utc": "2026-08-22T00:01:40Z", "to_utc": "2026-08-22T00:01:44.5Z",
                        "duration_s": 4.5, "cause": "hard_handover"}]
    fig = plot.plan_timeline(hard)
    outage = [t for t in fig.data if t.name == "outage"][0]
    assert list(outage.y) == ["outage"] and outage.x[0] == 4500.0
    assert "hard_handover" in outage.hovertext[0]
    assert "(hard handover)" in [t for t in fig.data if t.name == "ADD_IP"][0].hovertext[0]
    assert fig.layout.yaxis.categoryarray[-1] == "outage"
    with pytest.raises(ValueError, match="no mobile 'Nowhere'"):
        plot.plan_timeline(plan, "Nowhere")


def test_plan_elevation_samples_agree_with_the_windows_and_mark_events(plan):
    from sigma_sn.report import plan_elevations
    s = plan_elevations(plan, step_s=20.0)
    mobile = plan["mobiles"][0]
    assert s.mobile == "Boulder" and s.elev_deg.shape == (len(s.names), len(s.t_s))
    assert set(s.names) == {c["ap"] for c in mobile["candidates"]}
    # inside each candidate window the satellite is above the mask, outside it is below
    for c in mobile["candidates"]:
        row = s.elev_deg[s.names.index(c["ap"])]
        inside = (s.t_s > c["aos_s"] + 1.0) & (s.t_s < c["los_s"] - 1.0)
        assert np.all(row[inside] > 8.2)
        assert abs(row[np.argmin(abs(s.t_s - c["tca_s"]))] - c["max_elev_deg"]) < 1.0
    fig = plot.plan_elevation(plan, s.t_s, s.elev_deg, s.names)
    n_events = sum(len(h["events"]) for h in plan["handovers"])
    assert sum(sh.x0 == sh.x1 for sh in fig.layout.shapes) == n_events
    assert [sh.y0 for sh in fig.layout.shapes if sh.y0 == sh.y1] == [8.2]
    sp = [t for t in fig.data if t.name == "SET_PRIMARY"][0]
    assert len(sp.x) == len(plan["handovers"]) and sp.legendgroup == "events"
    assert "action: SET_PRIMARY" in sp.hovertext[0]
    assert plan["handovers"][0]["to"] in sp.hovertext[0]
    assert sp.marker.color == plot.ACTION_STYLE["SET_PRIMARY"][1]
    assert fig.layout.xaxis.type == "date"


def test_elevation_plot_draws_one_mask_line_per_distinct_mask():
    elev = np.array([[0, 10, 20, 10, 0], [0, 3, 6, 3, 0], [0, 30, 60, 30, 0]], float)
    fig = plot.elevation_plot(elev, np.arange(5) * 60.0, ["a", "b", "c"], [5.0, 10.0, 10.0])
    assert sorted(sh.y0 for sh in fig.layout.shapes) == [5.0, 10.0]
    assert [t.name for t in fig.data] == ["a", "c"]            # b never clears its 10° mask


def test_simulation_figures_overlay_protocols_and_mark_handovers(plan):
    from results_fixtures import small_compare
    comp = small_compare(plan)
    sigma, mip = comp["reports"]["sigma"], comp["reports"]["mip"]
    loss = plot.loss_plot(comp)
    lines = [t for t in loss.data if t.mode == "lines"]
    assert [t.name for t in lines] == ["SIGMA-SN", "MIPv6", "FMIPv6", "HMIPv6"]
    assert lines[1].y[-1] == mip["packets"]["lost"] and lines[0].y[-1] == 0
    assert np.all(np.diff(lines[1].y) >= 0)                     # cumulative
    marks = [t for t in loss.data if t.name == "MIPv6 handovers"][0]
    assert len(marks.x) == len(mip["handovers"]) and marks.yaxis == "y2"
    assert f"{mip['handovers'][0]['handover_latency_ms']:.1f} ms" in marks.hovertext[0]
    assert (sum(s.x0 == s.x1 for s in loss.layout.shapes)
            == sum(len(r["handovers"]) for r in comp["reports"].values()))
    many = dict(mip, handovers=mip["handovers"] * (plot.MAX_HANDOVER_LINES + 1))
    crowded = plot.loss_plot(many)
    assert len(crowded.layout.shapes) == 0                      # markers only
    assert len(crowded.data[1].x) == len(many["handovers"])
    lat = plot.latency_plot(sigma)                               # one report alone
    assert [t.name for t in lat.data if t.mode == "lines"] == ["SIGMA-SN"]
    y = lat.data[0].y
    assert len(y) == len(sigma["timeseries"]["t_s"]) and lat.layout.xaxis.type == "date"
    thr = plot.throughput_plot({"run A": sigma, "run B": mip})
    assert [t.name for t in thr.data if t.mode == "lines"] == ["run A", "run B"]
    assert np.allclose(thr.data[0].y, sigma["timeseries"]["throughput_bps"])
    with pytest.raises(ValueError, match="no timeseries"):
        plot.loss_plot({k: v for k, v in sigma.items() if k != "timeseries"})
    with pytest.raises(ValueError, match="not a simulation report"):
        plot.loss_plot(plan)


def test_sweep_plot_has_one_line_per_protocol_in_value_order():
    from results_fixtures import small_sweep
    rows = small_sweep()
    fig = plot.sweep_plot(rows[::-1], "packets_lost")
    assert [t.name for t in fig.data] == ["SIGMA-SN", "MIPv6"]
    sigma = fig.data[0]
    assert list(sigma.x) == [0.5, 1.0, 2.0, 4.0] and list(sigma.y) == [30.0, 20.0, 0.0, 0.0]
    assert fig.layout.xaxis.title.text == "guard_s"
    two = [dict(r, param2="rate_pps", value2=v) for r in rows for v in ("10", "100")]
    assert len(plot.sweep_plot(two, "latency_p50").data) == 4
    assert plot.sweep_plot(two, "latency_p50").layout.yaxis.title.text == "latency_p50 (ms)"
    with pytest.raises(ValueError, match="name the metric"):
        plot.sweep_plot(rows)



def test_a_busy_mobile_is_drawn_over_the_span_where_its_first_access_points_rise(plan):
    from sigma_sn.report import plan_elevations, plan_section
    mobile = plan["mobiles"][0]
    first = {}
    for c in sorted(mobile["candidates"], key=lambda c: c["aos_s"]):
        first.setdefault(c["ap"], c["aos_s"])
    assert len(first) > 5
    assert plot.busy_span_s(plan, max_access_points=len(first)) is None
    span = plot.busy_span_s(plan, max_access_points=5)
    assert span == (0.0, sorted(first.values())[5])
    crowded = dict(plan, mobiles=[dict(mobile, candidates=[dict(c, aos_s=0.0) for c in
                                                           mobile["candidates"]])])
    assert plot.busy_span_s(crowded, max_access_points=5) == (0.0, plot.MIN_SPAN_S)
    fig = plot.plan_timeline(plan, span_s=span)
    assert len(fig.layout.yaxis.categoryarray) == 5
    assert list(fig.layout.xaxis.range) == plot.utc_strings(plan["start_utc"], span)
    for trace in fig.data:
        if trace.name in plot.ACTION_STYLE:
            assert all(x < fig.layout.xaxis.range[1] for x in trace.x)
    s = plan_elevations(plan, span_s=span, step_s=10.0)
    assert s.t_s[0] == 0.0 and s.t_s[-1] == span[1] and len(s.names) == 5
    elev = plot.plan_elevation(plan, s.t_s, s.elev_deg, s.names)
    n_in_span = sum(span[0] <= e["t_s"] <= span[1] for h in plan["handovers"]
                    for e in h["events"])
    assert sum(sh.x0 == sh.x1 for sh in elev.layout.shapes) == n_in_span
    section = plan_section(plan, max_access_points=5)
    assert "elevation and ground tracks of Boulder show the first" in section.notes[0]
    captions = [c for c, _ in section.figures]
    minutes = f"(first {span[1] / 60:.0f} min)"
    assert captions == ["Plan timeline: Boulder", f"Elevation of Boulder's candidates {minutes}",
                        f"Ground tracks of the serving satellites {minutes}"]
    # the timeline covers the whole run: every event, a range slider to move about
    timeline = section.figures[0][1]
    assert timeline.layout.xaxis.range is None and timeline.layout.xaxis.rangeslider.visible
    n_events = sum(len(t.x) for t in timeline.data if t.name in plot.ACTION_STYLE)
    assert n_events == sum(len(h["events"]) for h in plan["handovers"])


def test_plan_ground_tracks_follow_the_serving_satellites_over_the_sites(plan):
    from sigma_sn.report import plan_ground_tracks
    caption, fig = plan_ground_tracks(plan)
    serving = list(dict.fromkeys(s["ap"] for s in plan["mobiles"][0]["serving"]))
    tracks = [t.name for t in fig.data if t.name and t.name.startswith("IRIDIUM")
              and not t.name.endswith("footprint")]
    assert tracks == serving[:12] and caption == "Ground tracks of the serving satellites"
    sites = [t for t in fig.data if t.name == "sites"][0]
    assert list(sites.text) == ["Boulder"]
    # the first serving satellite passes within its footprint of Boulder
    track = [t for t in fig.data if t.name == serving[0]][0]
    lat = np.array([np.nan if v is None else v for v in track.lat], float)
    lon = np.array([np.nan if v is None else v for v in track.lon], float)
    assert np.nanmin(np.hypot(lat - 40.0, (lon + 105.3) * np.cos(np.radians(40.0)))) < 25.0


def test_decimate_keeps_every_spike_and_the_length_bounded():
    t_s = np.arange(100_000, dtype=float)
    y = np.zeros_like(t_s)
    y[12_345], y[77_777] = 9.0, -4.0
    y[50_000:50_010] = np.nan
    t, d = plot.decimate(t_s, y, most=1000)
    assert len(t) <= 1000 and np.all(np.diff(t) > 0)
    assert d.max() == 9.0 and t[np.argmax(d)] == 12_345
    assert d.min() == -4.0 and t[np.argmin(d)] == 77_777
    short = np.arange(10.0)
    assert plot.decimate(short, short, most=1000)[0] is short


def test_long_simulation_series_are_decimated_with_a_range_slider():
    from results_fixtures import small_compare
    comp = small_compare()
    sigma = comp["reports"]["sigma"]
    n = 3 * plot.MAX_POINTS
    ts = {k: (list(np.resize(v, n)) if isinstance(v, list) else v)
          for k, v in sigma["timeseries"].items()}
    ts["t_s"] = list(np.arange(n, dtype=float))
    fig = plot.latency_plot(dict(sigma, timeseries=ts))
    line = fig.data[0]
    assert len(line.x) <= plot.MAX_POINTS and fig.layout.xaxis.rangeslider.visible
    assert line.x[-1] == plot.utc_strings(sigma["start_utc"], [n - 1])[0]  # the whole run
    marks = [t for t in fig.data if t.name == "SIGMA-SN handovers"][0]
    assert marks.meta == "thin"  # the report's page shows a few at a time
