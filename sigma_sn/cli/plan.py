"""``sigma-sn plan``: plan every SIGMA-SN handover of a scenario ahead of time."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("plan", help="plan the handovers of a scenario",
                              description="Plan every SIGMA-SN handover of SCENARIO.toml.")
    p.add_argument("scenario", metavar="SCENARIO.toml")
    p.add_argument("--out", help="write the plan as JSON here (atomic)")
    p.add_argument("--mode", choices=("router", "host"), help="override the scenario's mode")
    p.add_argument("--policy", choices=("longest-visibility", "min-handovers"),
                   help="override the scenario's policy")
    p.set_defaults(func=run)


def run(args) -> int:
    import dataclasses

    from sigma_sn.atomic import write_text
    from sigma_sn.elements import load_elements
    from sigma_sn.planner.kinds import Mode, Policy
    from sigma_sn.planner.plan import dumps, plan_windows
    from sigma_sn.scenario import load_scenario
    from sigma_sn.visibility import find_windows

    sc = load_scenario(args.scenario)
    if args.mode:
        sc = dataclasses.replace(sc, mode=Mode(args.mode))
    if args.policy:
        sc = dataclasses.replace(sc, policy=Policy(args.policy))
    sats = load_elements(sc.element_files).satellites
    w = find_windows(sats, sc.sites, sc.start_utc, sc.duration_s,
                     min_elev_deg=sc.min_elev_deg, step_s=sc.step_s, workers=1)
    plan = plan_windows(w, sats, sc.sites, sc.mode, sc.policy, sc.timing)
    if args.out:
        write_text(args.out, dumps(plan))
    hs = plan["handovers"]
    bad = [h for h in hs if not h["feasible"]]
    good = [h["overlap_s"] for h in hs if h["feasible"]]
    print(f"{sc.name}: {sc.mode.value} mode, {sc.policy.value}: {len(hs)} handovers, "
          f"{len(bad)} infeasible"
          + (f", shortest feasible overlap {min(good):.3f} s" if good else ""))
    return 0
