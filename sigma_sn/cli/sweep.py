"""``sigma-sn sweep SCENARIO.toml --param NAME=V1,V2,...``: plan and compare at every value."""

from __future__ import annotations

import argparse

from sigma_sn import compute


def register(sub) -> None:
    from sigma_sn.cli.compare import add_policies_option, add_run_options

    p = sub.add_parser(
        "sweep", help="compare every protocol over one or two parameters; tidy CSV",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Plan SCENARIO.toml and compare SIGMA-SN with MIPv6, FMIPv6 and HMIPv6 "
                    "(as 'sigma-sn compare') at every value of one or two parameters; "
                    "write a tidy CSV, one row per value, protocol and metric:\n"
                    "  param,value[,param2,value2],protocol,metric,unit,result\n\n"
                    "Parameters:\n"
                    "  timing.*    the timing block every protocol reads: timing.l2_s, "
                    "timing.ra_s and\n"
                    "              timing.dad_s are the access network's L2 time, RA "
                    "interval and DAD\n"
                    "  window.min_elev_deg   the elevation mask (a site's own mask wins)\n"
                    "  site.lat_deg          the terminal's latitude (router mode; every "
                    "terminal)\n"
                    "  link.*, traffic.*, mip.*   simulator parameters as in the scenario "
                    "file\n\n"
                    "Element-set age (elements.age_days) is not offered: the element sets on "
                    "disk have\none epoch per constellation, so there is no truth to replay "
                    "an older set against;\nshifting the window instead would replay the plan "
                    "against the very elements it was\nmade from, with no prediction error. "
                    "To see what prediction error costs, plan\nfrom one set and give a later "
                    "one with --truth-tle (and sweep timing.guard_s).")
    p.add_argument("scenario", metavar="SCENARIO.toml")
    p.add_argument("--param", action="append", required=True, metavar="NAME=V1,V2,...",
                   help="a parameter and its values; give --param twice for a 2-D sweep")
    p.add_argument("--out", metavar="FILE", help="write the CSV here (atomic); default stdout")
    add_run_options(p)
    add_policies_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from sigma_sn.atomic import write_text
    from sigma_sn.cli.outputs import prepare
    from sigma_sn.errors import InputError
    from sigma_sn.scenario import load_scenario
    from sigma_sn.sweep import grid, parse_param, run_sweep, sweep_csv

    prepare(args.out, "--out")
    params = [parse_param(spec) for spec in args.param]
    if args.rate is not None and not args.rate > 0:
        raise InputError(f"must be > 0, got {args.rate}", key="--rate")
    sc = load_scenario(args.scenario)
    compute.adopt(sc.compute)
    grid(sc, params)  # every value checked before the first run
    if args.policies:  # the sweep once per policy, rows led by the policy
        import dataclasses

        from sigma_sn.policy_compare import SweepHooks, parse_policies

        rows = []
        for policy in parse_policies(args.policies, sc.mode):
            hooks = SweepHooks()
            rows += [{"policy": policy.value, **r} for r in run_sweep(
                dataclasses.replace(sc, policy=policy), params, seed=args.seed,
                rate_pps=args.rate, truth_elements=args.truth_tle, log=sys.stderr,
                plan_fn=hooks.plan_fn, more_rows=hooks.more_rows)]
        text = sweep_csv(rows, len(params), policy=True)
    else:
        rows = run_sweep(sc, params, seed=args.seed, rate_pps=args.rate,
                         truth_elements=args.truth_tle, log=sys.stderr)
        text = sweep_csv(rows, len(params))
    if args.out:
        write_text(args.out, text)
        print(f"{len(rows)} rows written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
