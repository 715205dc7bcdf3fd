"""``sigma-sn plan``: plan every SIGMA-SN handover of a scenario ahead of time."""

from __future__ import annotations

from collections import Counter
from itertools import compress

from sigma_sn import compute

POLICIES = ("max-elevation", "longest-visibility", "strongest-signal", "least-load",
            "min-handovers", "min-path-delay", "min-handovers-delay")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "plan", help="plan the handovers of a scenario",
        description="Plan every SIGMA-SN handover of SCENARIO.toml (docs/scenario-format.md) "
                    "and print a summary; write the plan as JSON (docs/plan-format.md) "
                    "and/or one CSV row per event.")
    p.add_argument("scenario", metavar="SCENARIO.toml")
    p.add_argument("--out", metavar="PLAN.json", help="write the plan as JSON here (atomic)")
    p.add_argument("--csv", metavar="PLAN.csv", help="write one row per event here (atomic)")
    p.add_argument("--mode", choices=("router", "host"), help="override the scenario's mode")
    p.add_argument("--policy", choices=POLICIES, help="override the scenario's policy")
    p.add_argument("--start", metavar="ISO", help="override window.start_utc (ISO 8601 UTC)")
    span = p.add_mutually_exclusive_group()
    span.add_argument("--duration-s", type=float, metavar="S",
                      help="override the window's length in seconds")
    span.add_argument("--hours", type=float, metavar="H",
                      help="override the window's length in hours")
    p.add_argument("--min-elev", type=float, metavar="DEG",
                   help="override window.min_elev_deg (sites' own masks still apply)")
    p.add_argument("--site", action="append", metavar="NAME=LAT,LON[,ALT_M]",
                   help="add a site to the scenario's (degrees, metres; router mode: a "
                        "terminal); repeatable")
    p.add_argument("--verbose", action="store_true",
                   help="list every stale element set and every satellite SGP4 fails for")
    compute.add_options(p)
    p.set_defaults(func=run)


def apply_overrides(sc, args):
    """Return scenario ``sc`` with the command line's overrides, each checked like the key
    it replaces (errors name the option)."""
    import dataclasses

    from sigma_sn.errors import InputError
    from sigma_sn.planner.kinds import PATH_POLICIES, POLICIES_BY_MODE, Mode, Policy
    from sigma_sn.propagate import as_utc

    changes = {}
    if args.mode:
        changes["mode"] = Mode(args.mode)
    if args.policy:
        changes["policy"] = Policy(args.policy)
    mode, policy = changes.get("mode", sc.mode), changes.get("policy", sc.policy)
    path_ok = policy in PATH_POLICIES and mode is Mode.ROUTER  # needs [path]: plan_scenario
    if policy not in POLICIES_BY_MODE[mode] and not path_ok:
        raise InputError(f"{policy.value} is not offered in {mode.value} mode; choose "
                         f"{', '.join(p.value for p in POLICIES_BY_MODE[mode])}",
                         key="--policy" if args.policy else "--mode")
    if sc.mobiles is not None and args.mode and mode is not sc.mode:
        raise InputError("the scenario's mobiles name the other mode's mobiles; drop --mode "
                         "or the scenario's mobiles", path=str(sc.path), key="mobiles")
    if args.start is not None:
        try:
            as_utc(args.start)
        except ValueError:
            raise InputError(f"must be an ISO 8601 UTC time, got {args.start!r}",
                             key="--start") from None
        changes["start_utc"] = args.start
    for option, value in (("--duration-s", args.duration_s),
                          ("--hours", None if args.hours is None else args.hours * 3600)):
        if value is not None:
            if not value >= 1:
                raise InputError(f"must give at least 1 s, got {value:g} s", key=option)
            changes["duration_s"] = float(value)
    if getattr(args, "site", None):
        from sigma_sn.sites import command_line_sites

        added = command_line_sites(None, args.site)
        clash = sorted({s.name for s in added} & {s.name for s in sc.sites})
        if clash:
            raise InputError(f"the scenario already has a site named {clash[0]!r}",
                             key="--site")
        changes["sites"] = tuple(sc.sites) + added
    if args.min_elev is not None:
        if not -90 <= args.min_elev < 90:
            raise InputError(f"must be in [-90, 90), got {args.min_elev:g}", key="--min-elev")
        changes["min_elev_deg"] = float(args.min_elev)
    return dataclasses.replace(sc, **changes)


def _column(rows: list, key: str) -> list:
    """Every row's ``key``: read from the columns of a planned table (no row is made)."""
    from sigma_sn.planner.rows import Table

    return rows.column(key) if isinstance(rows, Table) else [r[key] for r in rows]


def summary(plan: dict) -> list[str]:
    """Return the summary lines ``sigma-sn plan`` prints."""
    hs = plan["handovers"]
    feasible = _column(hs, "feasible")
    n_bad = feasible.count(False)
    lines = [f"{plan['name']}: {plan['mode']} mode, {plan['policy']}, "
             f"{len(plan['mobiles'])} mobile(s), {plan['duration_s']:g} s from "
             f"{plan['start_utc']}"]
    text = f"handovers: {len(hs)}, infeasible: {n_bad}"
    if n_bad < len(feasible):
        overlap = compress(_column(hs, "overlap_s"), feasible)
        margin = compress(_column(hs, "margin_s"), feasible)
        text += (f", shortest overlap: {min(overlap):.3f} s"
                 f", smallest margin to LOS: {min(margin):.3f} s")
    lines.append(text)
    outages = plan["outages"]
    causes = _column(outages, "cause")
    text = (f"outages: {len(outages)}, {sum(_column(outages, 'duration_s')):.3f} s in "
            f"total")
    if causes:
        text += " (" + ", ".join(f"{c}: {n}" for c, n in sorted(Counter(causes).items())) + ")"
    lines.append(text)
    return lines


def run(args) -> int:
    from sigma_sn.cli.outputs import prepare
    from sigma_sn.health import element_notes, print_notes
    from sigma_sn.planner.io import write_plan_csv, write_plan_json
    from sigma_sn.planner.plan import plan_scenario, scenario_windows
    from sigma_sn.progress import Progress
    from sigma_sn.scenario import load_scenario

    sc = apply_overrides(load_scenario(args.scenario), args)
    compute.adopt(sc.compute)
    prepare(args.out, "--out")
    prepare(args.csv, "--csv")
    bars = []

    def bar(total):
        bars.append(Progress("visibility", total))
        return bars[-1]

    try:
        sw = scenario_windows(sc, progress=bar, workers=None)
    finally:
        for b in bars:
            b.close()
    print_notes(element_notes(sw.satellites, sc.start_utc, sc.duration_s,
                              sw.windows.skipped, verbose=args.verbose))
    plan = plan_scenario(sc, windows=sw, workers=compute.workers(None))
    if args.out:
        write_plan_json(args.out, plan)
    if args.csv:
        write_plan_csv(args.csv, plan)
    print("\n".join(summary(plan)))
    return 0

