"""``sigma-sn windows``: visibility windows of satellites over sites."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser(
        "windows", help="visibility windows (AOS, TCA, LOS) of satellites over sites",
        description="Compute every visibility window of every satellite over every site, "
                    "AOS and LOS within 1 ms of the true mask crossing.")
    p.add_argument("--tle", action="append", required=True, metavar="FILE",
                   help="element set: TLE (2LE/3LE) or OMM (.json, .csv, .xml); repeatable")
    p.add_argument("--stations", metavar="CSV",
                   help="sites: name,lat_deg,lon_deg[,alt_m][,min_elev_deg][,capacity]")
    p.add_argument("--site", action="append", metavar="NAME=LAT,LON[,ALT_M]",
                   help="a site from the command line (degrees, metres); repeatable, and "
                        "added to --stations")
    p.add_argument("--start", required=True, metavar="ISO8601",
                   help="window start, UTC (e.g. 2026-08-22T00:00:00Z)")
    p.add_argument("--hours", type=float, required=True, help="window length in hours")
    p.add_argument("--min-elev", type=float, default=0.0, metavar="DEG",
                   help="elevation mask in degrees (a site's own min_elev_deg wins); default 0")
    p.add_argument("--step", type=float, default=60.0, metavar="S",
                   help="coarse search step in seconds (accuracy does not depend on it); "
                        "default 60")
    p.add_argument("--out", metavar="FILE",
                   help="write windows to FILE (.csv, .json or .parquet); default: CSV on "
                        "stdout")
    p.add_argument("--verbose", action="store_true",
                   help="list every stale element set and every satellite SGP4 fails for")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from sigma_sn.cli.outputs import prepare
    from sigma_sn.elements import load_elements
    from sigma_sn.errors import InputError
    from sigma_sn.health import element_notes, print_notes
    from sigma_sn.progress import Progress
    from sigma_sn.propagate import as_utc
    from sigma_sn.sites import command_line_sites
    from sigma_sn.visibility import find_windows
    from sigma_sn.windows_io import SUFFIXES, load_writer, print_windows_csv, write_windows

    try:
        start = as_utc(args.start)
    except ValueError:
        raise InputError(f"not an ISO 8601 time: {args.start!r}", key="--start") from None
    if not args.hours > 0:
        raise InputError(f"must be > 0, got {args.hours}", key="--hours")
    if not -90 <= args.min_elev < 90:
        raise InputError(f"must be in [-90, 90), got {args.min_elev}", key="--min-elev")
    if not args.step > 0:
        raise InputError(f"must be > 0, got {args.step}", key="--step")
    if args.out and not args.out.endswith(SUFFIXES):
        raise InputError(f"must end in {', '.join(SUFFIXES)}, got {args.out!r}", key="--out")
    prepare(args.out, "--out")
    duration_s = args.hours * 3600.0
    catalog = load_elements(args.tle)
    sites = command_line_sites(args.stations, args.site)
    with Progress("windows", len(catalog.satellites)) as bar:
        # the writer's code loads while the workers compute, not after them
        windows = find_windows(catalog.satellites, sites, start, duration_s,
                               min_elev_deg=args.min_elev, step_s=args.step, progress=bar,
                               meanwhile=lambda: load_writer(args.out))
    print_notes(element_notes(catalog.satellites, start, duration_s, windows.skipped,
                              verbose=args.verbose))
    if args.out:
        write_windows(args.out, windows, workers=None)
        print(f"{len(windows)} windows of {len(catalog.satellites)} satellites over "
              f"{len(sites)} sites written to {args.out}", file=sys.stderr)
    else:
        print_windows_csv(windows, workers=None)
    return 0
