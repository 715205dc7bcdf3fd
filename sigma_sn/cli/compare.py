"""``sigma-sn compare SCENARIO.toml``: SIGMA-SN, MIPv6, FMIPv6 and HMIPv6 side by side on one
plan, under one timing block."""

from __future__ import annotations

import argparse

from sigma_sn import compute


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options ``compare`` and ``sweep`` share: seed, rate and replay truth."""
    p.add_argument("--seed", type=int,
                   help="random seed for both protocols (default: the scenario's traffic.seed)")
    p.add_argument("--rate", type=float, metavar="PKT_PER_S",
                   help="CBR rate for both protocols (default: the scenario's "
                        "traffic.rate_pps)")
    p.add_argument("--truth-tle", metavar="FILE", action="append",
                   help="replay against geometry from this element set (matched by NORAD id, "
                        "then name) instead of the one the plan was made from; repeatable")
    compute.add_options(p)


def register(sub) -> None:
    p = sub.add_parser(
        "compare", help="SIGMA-SN against MIPv6, FMIPv6 and HMIPv6 on the same plan, "
                        "traffic, seed and timing",
        description="Plan SCENARIO.toml, replay the plan with SIGMA-SN and with the Mobile "
                    "IPv6 baselines (MIPv6, FMIPv6, HMIPv6) on the same geometry, CBR "
                    "traffic, seed and timing block ([timing]: L2, RA, DAD), print one "
                    "table side by side (service interruption, handover latency, loss, "
                    "coverage gaps) with the assumptions each protocol ran under, and "
                    "write compare.json, compare.csv and plan.json "
                    "(so the run can be replayed with 'sigma-sn simulate') into DIR. A "
                    "scenario with [security] or [[failures]] adds their findings (attacks "
                    "without and with authentication, ingress filtering, location-manager "
                    "and home-agent failures) as further rows.")
    p.add_argument("scenario", metavar="SCENARIO.toml")
    p.add_argument("--out-dir", metavar="DIR",
                   help="where to write; default results/<scenario name>-compare")
    add_run_options(p)
    p.add_argument("--verbose", action="store_true",
                   help="list every stale element set and every satellite SGP4 fails for")
    add_policies_option(p)
    p.set_defaults(func=run)


def add_policies_option(p: argparse.ArgumentParser) -> None:
    """``--policies``, which ``compare`` and ``sweep`` share."""
    p.add_argument("--policies", metavar="P1,P2,...",
                   help="plan under each of these selection policies (e.g. "
                        "max-elevation,min-path-delay) and report, per policy and protocol, "
                        "path RTT mean and p95 (with a [path] section), handovers per hour, "
                        "service interruption and loss")


def run_policies(args: argparse.Namespace, sc, out) -> int:
    """``compare --policies``: the policies side by side (sigma_sn.policy_compare)."""
    import sys

    from sigma_sn.policy_compare import (compare_policies, format_table, parse_policies,
                                         write_policies)
    from sigma_sn.progress import Progress

    policies = parse_policies(args.policies, sc.mode)
    if args.rate is not None and not args.rate > 0:
        from sigma_sn.errors import InputError
        raise InputError(f"must be > 0, got {args.rate}", key="--rate")
    doc, extra = compare_policies(sc, policies, seed=args.seed, rate_pps=args.rate,
                                  truth_elements=args.truth_tle, progress=Progress,
                                  log=sys.stderr)
    written = write_policies(doc, extra, out)
    print(format_table(doc["table"]), end="")
    for policy, b in doc.get("load", {}).items():    # shared capacity, per policy
        print(f"load under {policy}: {b['satellites_congested']} of {b['satellites_used']} "
              f"satellites offered more than their capacity (peak {b['peak_offered']}x); "
              f"mobiles' mean share of demand: min {b['share_min']}, mean {b['share_mean']}")
    print(f"wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    return 0


def out_dir_for(name: str, scenario_path) -> str:
    """``results/<name>-compare`` (the file's stem if the name is not a plain folder name):
    beside, not inside, the folder 'sigma-sn run' replaces as a whole."""
    from pathlib import Path

    plain = name and "/" not in name and "\\" not in name and name not in (".", "..")
    return str(Path("results") / f"{name if plain else Path(scenario_path).stem}-compare")


def configs(plan: dict, args, scenario_path: str):
    """SimConfig and MipConfig from the plan, with --seed and --rate; CBR checked."""
    from sigma_sn.errors import InputError
    from sigma_sn.sim.fromplan import config_from_plan

    if args.rate is not None and not args.rate > 0:
        raise InputError(f"must be > 0, got {args.rate}", key="--rate")
    cfg, mip = config_from_plan(plan, seed=args.seed, rate_pps=args.rate)
    if cfg.traffic != "cbr":
        raise InputError("the comparison needs CBR traffic (the Mobile IP baseline replays "
                         f"CBR only), got {cfg.traffic!r}", path=scenario_path,
                         key="traffic.traffic")
    return cfg, mip


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from sigma_sn.compare import add_findings, compare_plan, format_table, write_compare
    from sigma_sn.planner.io import write_plan_json
    from sigma_sn.health import element_notes, print_notes
    from sigma_sn.planner.plan import plan_scenario, scenario_windows
    from sigma_sn.progress import Progress
    from sigma_sn.scenario import load_scenario
    from sigma_sn.sim.fromplan import replays_from_plan

    sc = load_scenario(args.scenario)
    compute.adopt(sc.compute)
    out = Path(args.out_dir or out_dir_for(sc.name, args.scenario))
    if args.policies:
        return run_policies(args, sc, out)
    sw = scenario_windows(sc)
    print_notes(element_notes(sw.satellites, sc.start_utc, sc.duration_s, sw.windows.skipped,
                              verbose=args.verbose))
    plan = plan_scenario(sc, windows=sw, workers=compute.workers(1))
    cfg, mip = configs(plan, args, args.scenario)
    replays = replays_from_plan(plan, truth_elements=args.truth_tle, progress=Progress)
    doc = compare_plan(plan, cfg, mip, progress=Progress, replays=replays)
    doc = add_findings(doc, plan, cfg, mip, security=sc.security, failures=sc.failures,
                       where=str(sc.path), replays=replays)
    write_plan_json(out / "plan.json", plan)
    paths = write_compare(doc, out)
    hs = plan["handovers"]
    bad = sum(not h["feasible"] for h in hs)
    print(f"{sc.name}: {len(hs)} handovers ({bad} infeasible), CBR {cfg.rate_pps:g} pkt/s "
          f"{cfg.direction}, seed {cfg.seed}"
          + (f", truth {', '.join(args.truth_tle)}" if args.truth_tle else ""))
    print(format_table(doc["table"], doc.get("assumptions")), end="")
    if doc.get("load"):     # shared capacity: the busiest satellites, the mobiles' shares
        from sigma_sn.path.load import load_lines
        print("\n".join(load_lines(doc["load"])))
    print(f"wrote {paths[0]}, {paths[1]} and {out / 'plan.json'}", file=sys.stderr)
    return 0
