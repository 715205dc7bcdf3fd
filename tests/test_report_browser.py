"""The HTML report in a real headless Chromium with the network off: every figure draws,
no script fails, and nothing is fetched from outside.

Needs Debian's chromium: ``apt-get update && apt-get install -y chromium``. Without it
this test fails (it does not skip). When it fails it leaves a screenshot in
``test-artifacts/``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import plotly.offline
import pytest

from sigma_sn import plot
from sigma_sn.cli import main
from sigma_sn.coverage import coverage_by_latitude
from sigma_sn.elements import read_tle
from sigma_sn.geometry import footprint_half_angle_rad, look_angles
from sigma_sn.propagate import Epoch, propagate
from sigma_sn.report import plan_elevations, write_report
from sigma_sn.sites import Site
from sigma_sn.visibility import find_windows
from sigma_sn.windows_io import write_windows

from conftest import REPO, START
from results_fixtures import small_compare, small_plan, small_sweep, write_results

ARTIFACTS = REPO / "test-artifacts"
INSTALL = "apt-get update && apt-get install -y chromium"
# any fetch fails: a proxy that refuses and a resolver that resolves nothing
OFFLINE = ["--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(f"headless Chromium is needed for the report test; install it with: {INSTALL}")


def run_chromium(page: Path, profile: Path, *extra: str) -> str:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}", *OFFLINE,
           "--virtual-time-budget=15000", *extra, page.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Attributes(HTMLParser):
    """Every tag's attributes, and the <body> tag's."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parse(html: str) -> Attributes:
    parser = Attributes()
    parser.feed(html)
    return parser


def external_refs(tags) -> list[str]:
    return [f"<{t} {k}={v}>" for t, attrs in tags for k, v in attrs.items()
            if k in ("src", "href", "xlink:href") and v and re.match(r"\s*(https?:)?//", v)]


def check_in_browser(page: Path, tmp_path: Path) -> dict:
    """Render ``page`` offline and return the <body> attributes; screenshot on failure."""
    dom = run_chromium(page, tmp_path / "profile", "--dump-dom")
    tags = parse(dom).tags
    body = next(attrs for tag, attrs in tags if tag == "body")
    plots = [attrs for tag, attrs in tags if tag == "div" and
             "plotly-graph-div" in attrs.get("class", "")]
    try:
        assert body.get("data-errors") == "", f"script errors: {body.get('data-errors')}"
        assert body["data-figures-drawn"] == body["data-figures-expected"] == str(len(plots))
        for attrs in plots:
            assert int(attrs.get("data-traces-drawn", 0)) > 0, f"{attrs['id']} drew nothing"
            assert attrs.get("class", "").count("js-plotly-plot")     # plotly took the div
        assert dom.count('class="main-svg"') >= len(plots)
        assert external_refs(tags) == [], "the rendered page points outside"
    except AssertionError:
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"{page.stem}-{tmp_path.name}.png"
        run_chromium(page, tmp_path / "profile2", f"--screenshot={shot.resolve()}",
                     "--window-size=1400,3000")
        raise
    return body


def test_report_with_every_figure_draws_offline_without_errors(tmp_path):
    sats = read_tle(REPO / "tle_data" / "iridium_like.tle")
    sites = (Site("Svalbard", 78.23, 15.40, 500.0), Site("Singapore", 1.40, 103.83, 20.0))
    t_s = np.arange(0, 2 * 3600 + 1, 60.0)
    eph = propagate([s.satrec for s in sats], Epoch.at(START), t_s)
    names = [s.name for s in sats]
    windows = find_windows(sats, sites, START, 2 * 3600.0, min_elev_deg=8.2, workers=1)
    cov = coverage_by_latitude(sats, np.arange(-80.0, 81.0, 20.0), START, 7200.0, 8.2,
                               every_s=120.0, workers=1)
    events = [{"action": "ADD_IP", "t_s": 1100.0, "address": "2001:db8::1"}]
    figures = [
        ("Ground tracks", plot.ground_tracks(eph, names, sites, footprint_half_angle_rad=(
            footprint_half_angle_rad(780.0, 8.2)), every_s=1800.0, max_tracks=6)),
        ("Globe", plot.globe(eph, names, 0, sites=sites, every=10)),
        ("Timeline", plot.visibility_timeline(windows, "Svalbard", events=events,
                                              serving=[("IRIDIUM-LIKE-P1-S01", 600, 1200)])),
        ("Elevation", plot.elevation_plot(look_angles(eph, sites), t_s, names, 8.2,
                                          events=events, epoch=eph.epoch)),
        ("Coverage", plot.coverage_heatmap(cov.multiplicity, cov.lat_deg, cov.t_s,
                                           epoch=cov.epoch)),
    ]
    # every plan, simulation and sweep figure too
    plan = small_plan()
    comp = small_compare(plan)
    s = plan_elevations(plan, step_s=30.0)
    figures += [
        ("Plan timeline", plot.plan_timeline(plan)),
        ("Plan elevation", plot.plan_elevation(plan, s.t_s, s.elev_deg, s.names)),
        ("Latency", plot.latency_plot(comp)),
        ("Loss", plot.loss_plot(comp)),
        ("Throughput", plot.throughput_plot(comp["reports"]["sigma"])),
        ("Sweep", plot.sweep_plot(small_sweep(), "packets_lost")),
    ]
    page = write_report(tmp_path / "report.html", title="Browser test <&>",
                        tables=[("Windows", windows.rows()[:10])], figures=figures)
    html = page.read_text()
    assert external_refs(parse(html).tags) == []
    assert "<script src" not in html and "<link" not in html
    # plotly.js is inlined exactly once
    assert html.count(plotly.offline.get_plotlyjs()[:2000]) == 1
    assert "<title>Browser test &lt;&amp;&gt;</title>" in html
    body = check_in_browser(page, tmp_path)
    assert body["data-figures-drawn"] == str(len(figures))


def test_the_report_command_output_draws_offline(tmp_path):
    sats = read_tle(REPO / "tle_data" / "iridium_like.tle")
    stations = REPO / "scenarios" / "sites" / "nen_like.csv"
    from sigma_sn.sites import read_sites_csv
    windows = find_windows(sats, read_sites_csv(stations), START, 3600.0, min_elev_deg=5.0,
                           workers=1)
    write_windows(tmp_path / "windows.csv", windows)
    (tmp_path / "run.json").write_text(json.dumps({
        "tle": [str(REPO / "tle_data" / "iridium_like.tle")], "stations": str(stations),
        "start_utc": "2026-08-22T00:00:00Z", "hours": 1, "min_elev_deg": 5}))
    write_results(tmp_path)     # plan.json, compare.json and sweep.csv beside the windows
    assert main(["report", str(tmp_path)]) == 0
    body = check_in_browser(tmp_path / "report.html", tmp_path)
    # windows' 1 + 6 timelines, tracks, globe, elevation, coverage; plan 2, simulation 3,
    # sweep 2
    assert int(body["data-figures-drawn"]) >= 5 + 2 + 3 + 2


def test_many_handover_markers_are_thinned_at_wide_zoom(tmp_path):
    from sigma_sn.report import THIN_MARKERS
    sigma = small_compare(small_plan())["reports"]["sigma"]
    hos = sigma["handovers"]
    many = dict(sigma, handovers=[dict(hos[k % len(hos)], t_s=k * sigma["duration_s"] / 700)
                                  for k in range(700)])
    fig = plot.loss_plot(many)
    page = write_report(tmp_path / "report.html", title="thin", figures=[("Loss", fig)])
    check_in_browser(page, tmp_path)
    dom = run_chromium(page, tmp_path / "profile3", "--dump-dom")
    points = dom.count('class="point"')
    # the markers of the plot and of its range slider, each at most THIN_MARKERS
    assert 0 < points <= 2 * THIN_MARKERS, points
