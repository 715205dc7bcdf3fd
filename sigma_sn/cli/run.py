"""``sigma-sn run SCENARIO.toml``: from a scenario to the plan, both replays, the
comparison, the exports and the HTML report, in one results folder."""

from __future__ import annotations

import argparse


from sigma_sn import compute


def register(sub) -> None:
    p = sub.add_parser(
        "run", help="scenario to results in one go: plan, simulations, comparison, report",
        description="Compute the visibility windows, the SIGMA-SN plan, its replay and the "
                    "Mobile IPv6 baseline of SCENARIO.toml, and write windows.csv, plan.json, "
                    "plan.csv, report.json (both protocols), report.html, plan.czml, "
                    "footprints.geojson and run.json into DIR. DIR appears only once every "
                    "stage has succeeded.")
    p.add_argument("scenario", metavar="SCENARIO.toml")
    p.add_argument("--out-dir", metavar="DIR",
                   help="results folder (replaced as a whole); default results/<scenario name>")
    p.add_argument("--check", metavar="EXPECTED_DIR",
                   help="compare the results with a golden folder (or an earlier results "
                        "folder): exit status 1 on any difference, each one named")
    p.add_argument("--quiet", action="store_true",
                   help="print nothing but errors and --check differences")
    p.add_argument("--no-exports", action="store_true",
                   help="skip plan.czml and footprints.geojson (as [exports] enabled = false)")
    p.add_argument("--verbose", action="store_true",
                   help="list every stale element set and every satellite SGP4 fails for")
    compute.add_options(p)
    p.set_defaults(func=run)


def _terminate(signum, frame):
    # turn a kill into an exception, so the runner removes its half-written folder
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> int:
    import signal
    import sys

    from sigma_sn.golden import check, format_mismatches, load_expected
    from sigma_sn.runner import run_scenario, summary_text

    if args.check:
        load_expected(args.check)  # a wrong folder fails now, not after the run
    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    # only for the run: main() may be called by a longer-lived program (a test, a notebook)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        result = run_scenario(args.scenario, args.out_dir, log=None if args.quiet else log,
                              verbose=args.verbose,
                              exports=False if args.no_exports else None)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not args.quiet:
        print(summary_text(result), end="")
        print(f"results in {result.out_dir}/; open {result.report_html} in a browser")
    if args.check:
        bad = check(args.check, result.out_dir, scenario=result.name)
        if bad:
            print(f"{len(bad)} difference{'s' if len(bad) != 1 else ''} from {args.check}:",
                  file=sys.stderr)
            print(format_mismatches(bad), file=sys.stderr)
            return 1
        if not args.quiet:
            print(f"matches {args.check}")
    return 0
