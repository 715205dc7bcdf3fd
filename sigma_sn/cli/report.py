"""``sigma-sn report RESULTS_DIR``: one self-contained HTML report of a results folder.

Reads what it finds in RESULTS_DIR, each part optional but at least one needed:

- ``windows.csv`` (or ``windows.json``) as ``sigma-sn windows`` writes it, and
  ``run.json`` describing that run::

    {"tle": ["tle_data/iridium_like.tle"], "stations": "scenarios/sites/nen_like.csv",
     "start_utc": "2026-08-22T00:00:00Z", "hours": 24, "min_elev_deg": 5}

  (with ``run.json`` the report also gets maps, elevations and coverage by latitude);
- ``plan.json`` as ``sigma-sn plan`` writes it (timelines, events, elevations);
- ``compare.json`` (both protocols overlaid) or else ``report.json`` (one simulation);
- ``sweep.csv`` (one figure per metric, one line per protocol).

Relative paths in ``run.json`` are taken from the current directory, else from
RESULTS_DIR; the plan's inputs from RESULTS_DIR (where the plan is), else from the current
directory. Writes ``RESULTS_DIR/report.html``.
"""

from __future__ import annotations

import argparse

#: most satellites drawn on the ground-track map, so it stays readable
MAX_TRACKS = 12
#: most per-site timelines
MAX_SITE_TIMELINES = 6
#: most window rows listed in the report's table
MAX_TABLE_ROWS = 500
#: the result files a report can be made of
RESULT_FILES = ("windows.csv", "windows.json", "plan.json", "compare.json", "report.json",
                "sweep.csv")


def register(sub) -> None:
    p = sub.add_parser(
        "report", help="self-contained HTML report of a results folder",
        description="Write RESULTS_DIR/report.html from the results in RESULTS_DIR "
                    "(windows and run.json, plan.json, compare.json or report.json, "
                    "sweep.csv): tables and figures that open with no network.")
    p.add_argument("results_dir", metavar="RESULTS_DIR",
                   help="folder holding any of " + ", ".join(RESULT_FILES))
    p.add_argument("--title", help="report title; default: 'sigma-sn: RESULTS_DIR'")
    p.add_argument("--elements", metavar="F", nargs="+",
                   help="the plan's element files where they are now (after a move); each "
                        "must have the SHA-256 the plan recorded")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from sigma_sn.errors import InputError

    results = Path(args.results_dir)
    if not results.is_dir():
        raise InputError("no such folder", path=str(results))
    if not any((results / name).exists() for name in RESULT_FILES):
        raise InputError("holds no results: none of " + ", ".join(RESULT_FILES) + "; write "
                         "one with 'sigma-sn windows ... --out RESULTS_DIR/windows.csv' or "
                         "'sigma-sn plan ... --out RESULTS_DIR/plan.json'", path=str(results))
    tables, figures, notes = [], [], []
    run_info = _read_run_json(results)
    if (results / "windows.csv").exists() or (results / "windows.json").exists():
        rows, source = _read_window_rows(results)
        windows = windows_from_rows(rows, start_utc=run_info.get("start_utc"),
                                    duration_s=_duration_s(run_info), source=source)
        tables, figures = _content(windows, run_info, results)
    if run_info.get("_policies"):  # a 'sigma-sn run' folder: every policy on the same windows
        tables.insert(0, (f"Handovers by policy (the plan uses {run_info['_policy']})",
                          [{"policy": p, **c} for p, c in run_info["_policies"].items()]))
    for part in _result_sections(results, args.elements):
        tables += part.tables
        figures += part.figures
        notes += part.notes
    from sigma_sn.report import write_report

    out = write_report(results / "report.html", title=args.title or f"sigma-sn: {results}",
                       tables=tables, figures=figures,
                       intro="Left out: " + "; ".join(notes) + "." if notes else None)
    print(f"report with {len(tables)} tables and {len(figures)} figures written to {out}",
          file=sys.stderr)
    return 0


def _read_json(path, *schemas: str) -> dict:
    import json

    from sigma_sn.errors import InputError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", path=str(path), line=exc.lineno) from None
    if not isinstance(data, dict) or data.get("schema") not in schemas:
        got = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise InputError(f"expected {' or '.join(map(repr, schemas))}, got {got!r}",
                         path=str(path), key="schema")
    return data


def _result_sections(results, elements=None):
    """The plan, simulation and sweep parts of the report, for the files that exist."""
    from sigma_sn import report
    from sigma_sn.errors import InputError
    from sigma_sn.sim.fromplan import use_elements

    parts = []
    simulated = ("sigma-sn/compare/1", "sigma-sn/report/1")
    for name, schemas, build in (
            ("plan.json", ("sigma-sn/plan/1",),
             lambda d: report.plan_section(
                 use_elements(d, elements) if elements else d, plan_dir=results)),
            # 'sigma-sn run' writes its comparison as report.json
            ("compare.json", simulated, report.simulation_section),
            ("report.json", simulated, report.simulation_section)):
        path = results / name
        if not path.exists() or (name == "report.json" and (results / "compare.json").exists()):
            continue
        data = _read_json(path, *schemas)
        schema = data["schema"]
        try:
            parts.append(build(data))
        except InputError as exc:
            raise InputError(exc.reason, path=str(path), key=exc.key) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a {schema} file as sigma-sn writes it ({exc!r})",
                             path=str(path)) from None
    if (results / "plan.json").exists():   # a plan on a path: its RTT over time
        plan = _read_json(results / "plan.json", "sigma-sn/plan/1")
        try:
            part = report.plan_path_section(
                use_elements(plan, elements) if elements else plan, plan_dir=results)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise InputError(exc.reason, path=str(results / "plan.json"),
                                 key=exc.key) from None
            raise InputError(f"not a sigma-sn/plan/1 file as sigma-sn writes it ({exc!r})",
                             path=str(results / "plan.json")) from None
        if part is not None:
            parts.append(part)
    if (results / "sweep.csv").exists():
        path = results / "sweep.csv"
        try:
            parts.append(report.sweep_section(report.read_sweep_csv(path)))
        except (KeyError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"not a sweep CSV as sigma-sn writes it ({exc})",
                             path=str(path)) from None
    return parts


def _read_run_json(results) -> dict:
    import json

    from sigma_sn.errors import InputError

    path = results / "run.json"
    if not path.exists():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", path=str(path), line=exc.lineno) from None
    if not isinstance(info, dict):
        raise InputError("must hold a JSON object", path=str(path))
    if info.get("schema") == "sigma-sn/run/1":
        return _from_run_record(info, str(path))
    known = {"tle", "stations", "start_utc", "hours", "min_elev_deg"}
    unknown = sorted(set(info) - known)
    if unknown:
        raise InputError(f"unknown keys {unknown}; known are {sorted(known)}", path=str(path))
    if isinstance(info.get("tle"), str):
        info["tle"] = [info["tle"]]
    for key, kind in (("hours", (int, float)), ("min_elev_deg", (int, float)),
                      ("start_utc", str), ("stations", str), ("tle", list)):
        if key in info and not isinstance(info[key], kind) or isinstance(info.get(key), bool):
            raise InputError(f"has the wrong type ({type(info[key]).__name__})",
                             path=str(path), key=key)
    if "start_utc" in info:
        from sigma_sn.propagate import as_utc
        try:
            as_utc(info["start_utc"])
        except ValueError:
            raise InputError(f"not an ISO 8601 time: {info['start_utc']!r}", path=str(path),
                             key="start_utc") from None
    info["_path"] = str(path)
    return info


def _from_run_record(record: dict, path: str) -> dict:
    """The window of a 'sigma-sn run' record (its plan.json carries the geometry)."""
    from sigma_sn.errors import InputError
    from sigma_sn.propagate import as_utc

    try:
        par = record["parameters"]
        start, end = as_utc(par["start_utc"]), as_utc(par["end_utc"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"a sigma-sn/run/1 record without a usable window ({exc!r})",
                         path=path, key="parameters") from None
    return {"start_utc": par["start_utc"], "hours": (end - start).total_seconds() / 3600.0,
            "_path": path, "_policies": record.get("policies") or {},
            "_policy": par.get("policy")}


def _duration_s(run_info: dict) -> float | None:
    return float(run_info["hours"]) * 3600.0 if "hours" in run_info else None


def _read_window_rows(results) -> tuple[list[dict], str]:
    import json

    from sigma_sn.errors import InputError
    from sigma_sn.windows_io import read_windows_csv

    csv_path, json_path = results / "windows.csv", results / "windows.json"
    if csv_path.exists():
        try:
            return read_windows_csv(csv_path), str(csv_path)
        except (KeyError, ValueError) as exc:
            raise InputError(f"not a windows file written by 'sigma-sn windows' ({exc})",
                             path=str(csv_path)) from None
    if json_path.exists():
        try:
            rows = json.loads(json_path.read_text(encoding="utf-8"))["windows"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputError(f"not a windows file written by 'sigma-sn windows' ({exc})",
                             path=str(json_path)) from None
        return rows, str(json_path)
    raise InputError("holds neither windows.csv nor windows.json; write one with "
                     "'sigma-sn windows ... --out RESULTS_DIR/windows.csv'", path=str(results))


def windows_from_rows(rows: list[dict], *, start_utc=None, duration_s: float | None = None,
                      source: str = "windows"):
    """Return a :class:`~sigma_sn.visibility.Windows` rebuilt from window rows (as
    :func:`sigma_sn.windows_io.read_windows_csv` gives them).

    The run's start is ``start_utc`` or else the earliest AOS; its length is
    ``duration_s`` or else up to the latest LOS.
    """
    import numpy as np

    from sigma_sn.errors import InputError
    from sigma_sn.propagate import Epoch, as_utc
    from sigma_sn.visibility import Windows

    try:
        aos = [as_utc(r["aos_utc"]) for r in rows]
        tca = [as_utc(r["tca_utc"]) for r in rows]
        los = [as_utc(r["los_utc"]) for r in rows]
    except (KeyError, ValueError) as exc:
        raise InputError(f"a window row lacks a valid time ({exc})", path=source) from None
    if start_utc is None and not rows:
        raise InputError("holds no windows and run.json gives no start_utc", path=source)
    start = as_utc(start_utc) if start_utc is not None else min(aos)
    epoch = Epoch.at(start)

    def secs(times):
        return np.array([(t - start).total_seconds() for t in times], float)

    aos_s, tca_s, los_s = secs(aos), secs(tca), secs(los)
    if duration_s is None:
        duration_s = float(los_s.max()) if len(los_s) else 0.0
    sat_keys = sorted({(int(r["norad_id"]), r["sat_name"]) for r in rows})
    sat_index = {k: i for i, k in enumerate(sat_keys)}
    site_names = sorted({r["site"] for r in rows})
    site_index = {s: j for j, s in enumerate(site_names)}
    return Windows(
        epoch, float(duration_s), tuple(k[1] for k in sat_keys), tuple(k[0] for k in sat_keys),
        tuple(site_names),
        sat=np.array([sat_index[(int(r["norad_id"]), r["sat_name"])] for r in rows], np.int64),
        site=np.array([site_index[r["site"]] for r in rows], np.int64),
        aos_s=aos_s, tca_s=tca_s, los_s=los_s,
        max_elev_deg=np.array([float(r["max_elev_deg"]) for r in rows], float),
        aos_truncated=np.array([bool(r["aos_truncated"]) for r in rows], bool),
        los_truncated=np.array([bool(r["los_truncated"]) for r in rows], bool))


def _resolve(name: str, results, run_path: str):
    from pathlib import Path

    from sigma_sn.errors import InputError

    for candidate in (Path(name), Path(results) / name):
        if candidate.exists():
            return candidate
    raise InputError(f"names {name!r}, which is neither in the current folder nor in "
                     f"{results}", path=run_path)


def _site_summary(windows) -> list[dict]:
    import numpy as np

    from sigma_sn.visibility import time_grid

    t = time_grid(max(windows.duration_s, 1.0), 60.0)
    one, two = windows.coverage_share(t)
    out = []
    for j, name in enumerate(windows.site_names):
        sel = windows.site == j
        dur = windows.los_s[sel] - windows.aos_s[sel]
        out.append({"site": name, "windows": int(sel.sum()),
                    "satellites": int(len(np.unique(windows.sat[sel]))),
                    "mean duration (min)": round(float(dur.mean()) / 60.0, 2) if len(dur) else None,
                    "best max elevation (°)": (round(float(windows.max_elev_deg[sel].max()), 2)
                                               if len(dur) else None),
                    "time with ≥1 in view (%)": round(100.0 * float(one[j]), 1),
                    "time with ≥2 in view (%)": round(100.0 * float(two[j]), 1)})
    return out


def _content(windows, run_info: dict, results):
    import numpy as np

    from sigma_sn import plot

    rows = windows.rows()
    listed = rows[:MAX_TABLE_ROWS]
    caption = "Visibility windows" + (f" (first {MAX_TABLE_ROWS} of {len(rows)})"
                                      if len(rows) > MAX_TABLE_ROWS else "")
    tables = [("Sites", _site_summary(windows)), (caption, listed)]
    figures = [("Visibility windows by site", plot.visibility_timeline(windows))]
    counts = np.bincount(windows.site, minlength=len(windows.site_names))
    for j in np.argsort(-counts, kind="stable")[:MAX_SITE_TIMELINES]:
        if counts[j]:
            name = windows.site_names[j]
            figures.append((f"Windows over {name}", plot.visibility_timeline(windows, name)))
    if "tle" in run_info and "stations" in run_info and "start_utc" in run_info:
        figures += _geometry_figures(windows, run_info, results)
    return tables, figures


def _geometry_figures(windows, run_info, results):
    import warnings

    import numpy as np

    from sigma_sn import plot
    from sigma_sn.coverage import coverage_by_latitude
    from sigma_sn.elements import load_elements
    from sigma_sn.geometry import footprint_half_angle_rad, look_angles
    from sigma_sn.propagate import propagate
    from sigma_sn.sites import WGS84_A_KM, read_sites_csv
    from sigma_sn.visibility import time_grid

    run_path = run_info["_path"]
    tle = [_resolve(p, results, run_path) for p in run_info["tle"]]
    stations = _resolve(run_info["stations"], results, run_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'sigma-sn windows' already said it
        sats = load_elements(tle).satellites
    sites = read_sites_csv(stations)
    mask = float(run_info.get("min_elev_deg", 0.0))
    duration_s = windows.duration_s
    t_s = time_grid(duration_s, 60.0)
    shown = sats[:MAX_TRACKS]
    eph = propagate([s.satrec for s in shown], windows.epoch, t_s)
    names = [s.name for s in shown]
    alt_km = np.nanmean(np.linalg.norm(eph.pos_itrs_km, axis=-1), axis=1) - WGS84_A_KM
    figures = [
        (f"Ground tracks and footprints (first {len(shown)} of {len(sats)} satellites)",
         plot.ground_tracks(eph, names, sites,
                            footprint_half_angle_rad=footprint_half_angle_rad(alt_km, mask),
                            every_s=max(600.0, duration_s / 8))),
        ("Globe", plot.globe(eph, names, 0, sites=sites,
                             every=max(1, len(t_s) // 120))),
    ]
    busiest = windows.site_names[int(np.argmax(np.bincount(
        windows.site, minlength=len(windows.site_names))))] if len(windows) else sites[0].name
    site = next((s for s in sites if s.name == busiest), sites[0])
    all_eph = propagate([s.satrec for s in sats], windows.epoch, t_s)
    la = look_angles(all_eph, [site])
    figures.append((f"Elevation seen from {site.name}",
                    plot.elevation_plot(la, t_s, [s.name for s in sats],
                                        site.mask_deg(mask), epoch=windows.epoch)))
    cov = coverage_by_latitude(sats, np.arange(-85.0, 86.0, 5.0), windows.epoch.start_utc,
                               duration_s, mask, every_s=60.0)
    figures.append((f"Satellites above {mask:g}° by latitude (meridian 0°)",
                    plot.coverage_heatmap(cov.multiplicity, cov.lat_deg, cov.t_s,
                                          epoch=cov.epoch)))
    return figures
