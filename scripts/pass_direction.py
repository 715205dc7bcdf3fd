"""The figure and the numbers of docs/path-planning.md's "pass direction" section.

For the shipped scenario scenarios/isl-lisbon-newyork.toml (Lisbon, Starlink shell 1,
+Grid ISLs, 25 deg mask, correspondent New York), over its whole window and at 1 s:

* how often the highest-elevation satellite moves north (ascending) or south, whether
  the least-delay satellite moves the same way, and the RTT penalty of serving from the
  highest one in each case, with the shipped 36 gateways and with New York's gateway
  as the only one (the setting of issue 21's reference computation);
* a globe (plotly, one self-contained HTML that opens with no network) at one instant:
  every satellite in view of Lisbon as a triangle pointing the way it moves, the
  highest-elevation and the least-delay satellite, and the two ISL routes to New York,
  plus the shell's other satellites over the Atlantic, faint, to show the two meshes.

    python scripts/pass_direction.py [--out results/pass-direction.html]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from sigma_sn.geometry import subpoint_deg
from sigma_sn.path.penalty import direction_table, step_choices
from sigma_sn.path.route import PathModel, compute_paths, model_for_scenario, route_points
from sigma_sn.planner.plan import scenario_windows
from sigma_sn.plot import _geo_layout
from sigma_sn.report import write_report
from sigma_sn.scenario import load_scenario
from sigma_sn.sites import Site

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import path_penalty  # noqa: E402  (Hypatia's shell, as issue 21's reference used)

SCENARIO = REPO / "scenarios" / "isl-lisbon-newyork.toml"
NORTH, SOUTH = "#2ca02c", "#9467bd"       # northbound (ascending), southbound
HIGHEST, BEST = "#d62728", "#1f77b4"
ATLANTIC = (-95.0, 25.0, 10.0, 70.0)      # lon min, lon max, lat min, lat max drawn


def destination_only(model: PathModel, sc) -> PathModel:
    """The same model with the correspondent's own ground station as the only gateway
    and no fibre beyond it (issue 21's reference setting)."""
    from sigma_sn.path.ground import Fibre

    c = model.correspondent
    gw = Site(c.name, c.lat_deg, c.lon_deg, min_elev_deg=sc.min_elev_deg)
    return PathModel(model.satellites, [gw], c, sc.start_utc, sc.duration_s, mode=model.mode,
                     min_elev_deg=sc.min_elev_deg, fibre=Fibre(per_hop_ms=0.0),
                     isl=model.isl, step_s=model.step_s)


def choose_step(c) -> int:
    """A representative instant: highest and best move opposite ways and the penalty is
    the median of such steps (the first step closest to it)."""
    opposite = np.flatnonzero((c.highest_northbound != c.best_northbound)
                              & np.isfinite(c.penalty_ms))
    if not opposite.size:
        return int(np.nanargmax(c.penalty_ms))
    p = c.penalty_ms[opposite]
    return int(opposite[np.argmin(np.abs(p - np.median(p)))])


def globe(model, paths, c, k: int, terminal: Site) -> go.Figure:
    """The figure at step index ``k`` of ``c`` (:class:`StepChoices`)."""
    step = int(round(c.t_s[k] / paths.step_s))
    pos = model.positions_km([step, step + 1])
    lat, lon = subpoint_deg(pos[0])
    lat1, _ = subpoint_deg(pos[1])
    north = lat1 > lat
    fig = go.Figure()
    box = (lon > ATLANTIC[0]) & (lon < ATLANTIC[1]) & (lat > ATLANTIC[2]) & (lat < ATLANTIC[3])
    for sel, colour, label in ((north, NORTH, "northbound"), (~north, SOUTH, "southbound")):
        s = box & sel
        fig.add_trace(go.Scattergeo(
            lat=np.round(lat[s], 3), lon=np.round(lon[s], 3), mode="markers",
            marker={"symbol": "triangle-up" if label == "northbound" else "triangle-down",
                    "size": 5, "color": colour, "opacity": 0.35},
            name=f"shell, {label}", hoverinfo="skip"))
    w = paths.windows
    inview = [i for i in range(len(w)) if paths.first_step[i] <= step
              < paths.first_step[i] + paths.offset[i + 1] - paths.offset[i]]
    sats = np.array([w.sat[i] for i in inview])
    rtt = np.array([2 * float(paths.delay_ms_at(i, c.t_s[k])) for i in inview])
    for sel, colour, label in ((north[sats], NORTH, "northbound"),
                               (~north[sats], SOUTH, "southbound")):
        fig.add_trace(go.Scattergeo(
            lat=np.round(lat[sats[sel]], 3), lon=np.round(lon[sats[sel]], 3),
            mode="markers",
            marker={"symbol": "triangle-up" if label == "northbound" else "triangle-down",
                    "size": 11, "color": colour, "line": {"width": 1, "color": "black"}},
            text=[f"{w.sat_names[s]}: RTT {r:.1f} ms" for s, r in zip(sats[sel], rtt[sel])],
            name=f"in view of {terminal.name}, {label}"))
    for win, colour, label, rtt_ms in ((c.highest[k], HIGHEST, "highest elevation",
                                        c.highest_rtt_ms[k]),
                                       (c.best[k], BEST, "least path delay", c.best_rtt_ms[k])):
        route = route_points(model, step, int(w.sat[win]))
        r_lat = [terminal.lat_deg, *route.sat_lat_deg, route.gateway_lat_lon_deg[0]]
        r_lon = [terminal.lon_deg, *route.sat_lon_deg, route.gateway_lat_lon_deg[1]]
        fig.add_trace(go.Scattergeo(
            lat=np.round(r_lat, 3), lon=np.round(r_lon, 3), mode="lines+markers",
            line={"color": colour, "width": 2.5}, marker={"size": 4, "color": colour},
            name=f"{label}: {w.sat_names[w.sat[win]]}, "
                 f"{'north' if north[w.sat[win]] else 'south'}bound, "
                 f"{len(route.sat_names) - 1} ISL hops, RTT {rtt_ms:.1f} ms"))
    cor = model.correspondent
    fig.add_trace(go.Scattergeo(lat=[terminal.lat_deg, cor.lat_deg],
                                lon=[terminal.lon_deg, cor.lon_deg], mode="markers+text",
                                text=[terminal.name, cor.name], textposition="top center",
                                marker={"size": 8, "color": "black"}, showlegend=False))
    _geo_layout(fig, projection="orthographic", projection_rotation={"lon": -40, "lat": 40})
    fig.update_layout(title=f"{terminal.name} → {cor.name} at t = {c.t_s[k]:g} s: "
                            "highest satellite against least-delay satellite",
                      legend={"yanchor": "bottom", "y": 0.0})
    return fig


def table(label: str, c) -> None:
    print(f"\n{label}: {len(c.t_s)} steps")
    print("| case | share of seconds | median penalty (ms) | mean (ms) | > 20 ms |")
    print("|---|---|---|---|---|")
    for r in direction_table(c):
        print(f"| {r['case']} | {r['share']:.0%} | {r['median_ms']:.1f} | {r['mean_ms']:.1f} "
              f"| {r['over_20ms']:.0%} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/pass-direction.html")
    args = ap.parse_args()
    sc = load_scenario(SCENARIO)
    sw = scenario_windows(sc)
    sats, terminal = list(sw.satellites), sw.sites[0]
    shipped = model_for_scenario(sc, sats)
    c_site = Site(shipped.correspondent.name, shipped.correspondent.lat_deg,
                  shipped.correspondent.lon_deg)
    alone = destination_only(shipped, sc)
    hyp = path_penalty.hypatia_starlink()
    cases = [(f"{sc.name} as shipped (shell-1 TLEs, 36 gateways)", shipped,
              compute_paths(shipped, [terminal], sw.windows), sats),
             (f"shell-1 TLEs, {c_site.name} as the only gateway", alone,
              compute_paths(alone, [terminal], sw.windows), sats),
             (f"Hypatia's 72 x 22 shell, {c_site.name} as the only gateway",
              *path_penalty.pair_paths(hyp, terminal, c_site, sc.duration_s), hyp)]
    figures = []
    for label, model, paths, shell in cases:
        c = step_choices(paths, shell, terminal)
        table(label, c)
        k = choose_step(c)
        name = paths.windows.sat_names
        print(f"figure at t = {c.t_s[k]:g} s: highest {name[paths.windows.sat[c.highest[k]]]} "
              f"({c.highest_elev_deg[k]:.1f} deg, RTT {c.highest_rtt_ms[k]:.1f} ms), best "
              f"{name[paths.windows.sat[c.best[k]]]} (RTT {c.best_rtt_ms[k]:.1f} ms)")
        figures.append((label, globe(model, paths, c, k, terminal)))
    out = write_report(Path(args.out), title=f"{sc.name}: pass direction on a +Grid mesh",
                       figures=figures)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
