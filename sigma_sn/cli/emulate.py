"""``sigma-sn emulate``: replay a plan on Linux MPTCP in network namespaces."""

from __future__ import annotations

from sigma_sn.cli.simulate import _positive


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "emulate", help="replay a plan on a real stack (Linux MPTCP, needs root)",
        description="Replay one mobile of PLAN.json on Linux MPTCP in two network "
                    "namespaces (mobile and correspondent) joined by veth pairs that stand "
                    "for the access points' links: ADD_IP becomes an MP_JOIN, SET_PRIMARY "
                    "an MP_PRIO, DELETE_IP a REMOVE_ADDR, LOS a dead link; the Mobile IP "
                    "baseline breaks at LOS and joins after L2 + RA + DAD + BU. CBR runs "
                    "from the mobile to the correspondent; the report gives the replay's "
                    "metrics. Needs root and net.mptcp.enabled=1; everything it creates is "
                    "removed when it ends, however it ends.")
    p.add_argument("plan", metavar="PLAN.json")
    p.add_argument("--speedup", type=_positive, default=1.0, metavar="K",
                   help="run plan time K times faster (protocol waits are not compressed)")
    p.add_argument("--protocol", choices=("sigma", "mip", "both"), default="both")
    p.add_argument("--mobile", metavar="NAME", help="the mobile to emulate (default: first)")
    p.add_argument("--start-s", type=float, default=0.0, metavar="S",
                   help="start of the slice, seconds after the plan's start")
    p.add_argument("--duration-s", type=_positive, metavar="D",
                   help="length of the slice in plan seconds (default: to the plan's end)")
    p.add_argument("--rate", type=_positive, metavar="PKT_PER_S",
                   help="CBR rate (default: the plan's traffic.rate_pps)")
    p.add_argument("--deadline-ms", type=_positive, default=150.0, metavar="MS",
                   help="a message later than this counts as late (default 150 ms, "
                        "ITU-T G.114's one-way budget)")
    p.add_argument("--compare", action="store_true",
                   help="also replay the plan in SimPy and print both interruptions per "
                        "handover")
    p.add_argument("--out", metavar="F.json", help="write the reports here (atomic)")
    p.set_defaults(func=run)


def run(args) -> int:
    import json
    import os

    from sigma_sn.atomic import write_text
    from sigma_sn.emulate import Protocol, build_schedule, emulate, requirements
    from sigma_sn.emulate.compare import format_table, replay_interruptions, table_rows
    from sigma_sn.emulate.schedule import timing_of
    from sigma_sn.emulate.traffic import HEADER
    from sigma_sn.errors import InputError
    from sigma_sn.planner.io import read_plan_json

    plan = read_plan_json(args.plan)
    protocols = ("sigma", "mip") if args.protocol == "both" else (args.protocol,)
    schedules = [build_schedule(plan, Protocol(p), mobile=args.mobile, start_s=args.start_s,
                                duration_s=args.duration_s, source=args.plan)
                 for p in protocols]
    missing = requirements()
    if missing:
        raise InputError("cannot emulate here; missing: " + "; ".join(missing))
    params = plan.get("inputs", {}).get("parameters", {})
    traffic = params.get("traffic") or {}
    rate_pps = args.rate or float(traffic.get("rate_pps") or 50.0)
    payload_bytes = max(HEADER.size, int(traffic.get("payload_bytes") or 1000))
    capacity_bps = float((params.get("link") or {}).get("capacity_bps") or 20e6)
    runs = []
    for s in schedules:
        print(f"emulating {s.protocol.value}: {s.mobile}, {len(s.handovers)} handovers in "
              f"[{s.start_s:g}, {s.start_s + s.duration_s:g}] s at speedup {args.speedup:g}"
              + (f" (left out, cut by the slice: {list(s.dropped)})" if s.dropped else ""),
              flush=True)
        runs.append(emulate(s, speedup=args.speedup, rate_pps=rate_pps,
                            payload_bytes=payload_bytes, capacity_bps=capacity_bps,
                            deadline_ms=args.deadline_ms, name=plan.get("name", args.plan)))
    replay = None
    if args.compare:
        replay = replay_interruptions(
            plan, mobile=schedules[0].mobile, protocols=protocols, rate_pps=rate_pps,
            payload_bytes=payload_bytes, timing=timing_of(plan, args.plan),
            plan_dir=os.path.dirname(args.plan) or ".", source=args.plan)
    rows = table_rows(runs, replay)
    out = {"schema": "sigma-sn/emulation/1", "runs": runs, "handovers": rows}
    if args.out:
        write_text(args.out, json.dumps(out, sort_keys=True, indent=1) + "\n")
    for r in runs:
        p, lat = r["packets"], r["latency_ms"]
        print(f"{r['protocol']}: {p['sent']} sent, {p['delivered']} delivered, {p['lost']} "
              f"lost; latency p50 {lat['p50']} ms, max {lat['max']} ms; "
              f"{r['late']['messages']} later than {r['late']['deadline_ms']:g} ms")
    print(f"link delay: {runs[0]['links']['delay']}")
    print(format_table(rows, protocols, schedules[0].start_s))
    if replay is not None:
        from sigma_sn.emulate.compare import REPLAY_INTERRUPTION_KEY
        print(f"emulated: interruption_ms (longest time data was in the network "
              f"and none came out); replay: {REPLAY_INTERRUPTION_KEY}")
    return 0
