"""``sigma-sn simulate``: replay a plan packet by packet and report what it costs."""

from __future__ import annotations

import argparse

from sigma_sn import compute

#: how many handovers the summary lists one by one (the report has them all)
SHOWN_HANDOVERS = 12


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate", help="replay a plan packet by packet",
        description="Replay PLAN.json packet by packet over an SCTP-like multihomed "
                    "association (or the Mobile IPv6 baseline) and report loss, latency, "
                    "handover latency, throughput and signalling. Defaults for traffic "
                    "and links come from the plan's parameters.")
    p.add_argument("plan", metavar="PLAN.json")
    p.add_argument("--traffic", choices=("cbr", "bulk"),
                   help="CBR datagrams or a saturating reliable transfer")
    p.add_argument("--direction", choices=("down", "up"),
                   help="down: correspondent -> mobile; up: mobile -> correspondent")
    p.add_argument("--rate", type=_positive, metavar="PKT_PER_S", help="CBR packets per second")
    p.add_argument("--seed", type=int, help="random seed (same seed, same report)")
    p.add_argument("--protocol", choices=("sigma", "mip", "fmip", "hmip"), default="sigma",
                   help="SIGMA-SN (default) or a Mobile IPv6 baseline: MIPv6, FMIPv6 "
                        "(RFC 5568) or HMIPv6 (RFC 5380); the baselines replay CBR only")
    p.add_argument("--mobile", action="append", metavar="NAME",
                   help="simulate only this mobile (repeat for several)")
    p.add_argument("--truth-tle", metavar="F", action="append",
                   help="replay the plan against geometry from these elements (TLE or OMM; "
                        "repeatable), e.g. a later epoch, to see what prediction error costs")
    p.add_argument("--elements", metavar="F", nargs="+",
                   help="the plan's element files where they are now (after a move); each "
                        "must have the SHA-256 the plan recorded")
    p.add_argument("--bulk-detail-s", type=_positive, metavar="W",
                   help="bulk only: replay packet by packet within W s of every handover, "
                        "plan step, access-point rise or set and path event, and carry the "
                        "steady state between them as a flow (much faster on long runs; the "
                        "report's replay_mode says which numbers the flow made). Default: "
                        "every packet, or the plan's traffic.bulk_detail_s")
    p.add_argument("--out", metavar="REPORT.json", help="write the report here (atomic)")
    p.add_argument("--trace", metavar="TRACE.csv", help="write one row per packet here")
    compute.add_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import json
    import os

    from sigma_sn.atomic import write_text
    from sigma_sn.cli.outputs import prepare
    from sigma_sn.errors import InputError
    from sigma_sn.progress import Progress
    from sigma_sn.sim.fromplan import config_from_plan, simulate_plan, use_elements
    from sigma_sn.sim.trace import write_trace_csv

    plan = read_plan(args.plan)
    prepare(args.out, "--out")
    prepare(args.trace, "--trace")
    if args.elements:
        plan = use_elements(plan, args.elements, source=args.plan)
    for f in args.truth_tle or ():
        if not f.startswith("celestrak:") and not os.path.isfile(f):
            raise InputError("no such file (--truth-tle)", path=f)
    cfg, mip = config_from_plan(plan, source=args.plan, traffic=args.traffic,
                                direction=args.direction, rate_pps=args.rate, seed=args.seed,
                                keep_trace=bool(args.trace), bulk_detail_s=args.bulk_detail_s)
    if args.bulk_detail_s is not None and cfg.traffic != "bulk":
        raise InputError("--bulk-detail-s applies to bulk traffic; add --traffic bulk",
                         key="--bulk-detail-s")
    if args.protocol != "sigma" and cfg.traffic != "cbr":
        raise InputError("the Mobile IP baseline replays CBR traffic only; use --traffic cbr",
                         path=args.plan)
    report = simulate_plan(plan, cfg, protocol=args.protocol, mip=mip,
                           truth_elements=args.truth_tle, mobiles=args.mobile,
                           # as given, so messages name files as the user would
                           plan_dir=os.path.dirname(args.plan) or ".",
                           progress=Progress, source=args.plan)
    if args.trace:
        write_trace_csv(args.trace, report)
    report = {k: v for k, v in report.items() if not k.startswith("_")}
    if args.out:
        write_text(args.out, json.dumps(report, sort_keys=True, indent=1) + "\n")
    print(summary(report, plan.get("name", args.plan), truth=args.truth_tle))
    return 0


EXPECTS = ("simulate replays a plan: the JSON file 'sigma-sn plan SCENARIO.toml --out "
           "PLAN.json' writes ('sigma-sn run SCENARIO.toml' goes from a scenario to results "
           "in one go)")


def read_plan(path: str) -> dict:
    """Read the JSON plan at ``path``; anything else is an error that says what
    ``simulate`` expects (a scenario given instead of its plan, first of all)."""
    import json
    import tomllib

    from sigma_sn.errors import InputError

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read it: {exc.strerror}", path=path) from None
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"not UTF-8 text; {EXPECTS}", path=path) from None
    except json.JSONDecodeError as exc:
        try:
            tomllib.loads(data.decode("utf-8"))
        except tomllib.TOMLDecodeError:
            raise InputError(f"not valid JSON ({exc.msg}); {EXPECTS}", path=path,
                             line=exc.lineno) from None
        raise InputError(f"this is TOML (a scenario?), not a plan; {EXPECTS}",
                         path=path) from None


def summary(report: dict, name: str, truth=None) -> str:
    """Return the few lines ``sigma-sn simulate`` prints about ``report``."""
    t, p, lat = report["traffic"], report["packets"], report["latency_ms"]
    rate = f" {t['rate_pps']:g} pkt/s" if t["kind"] == "cbr" else ""
    mobiles = report["mobiles"]
    lines = [f"{name}: {report['protocol']}, {t['kind']} {t['direction']}{rate}, "
             f"seed {t['seed']}, {report['duration_s']:g} s, {len(mobiles)} mobile"
             f"{'s' if len(mobiles) != 1 else ''} ({', '.join(mobiles[:5])}"
             f"{', ...' if len(mobiles) > 5 else ''})"
             + (f", truth from {', '.join(truth)}" if truth else "")]
    lines.append(f"packets: {p['sent']} sent, {p['delivered']} delivered, {p['lost']} lost "
                 f"({100 * report['loss_rate']:.4g} %), {p['in_flight']} in flight")
    causes = [f"{c} {n}" for c, n in sorted(report["loss_causes"].items()) if n]
    if causes:
        lines.append("lost by cause: " + ", ".join(causes))

    def ms(x):
        return "-" if x is None else f"{x:.3f} ms"

    lines.append(f"latency: p50 {ms(lat['p50'])}, p99 {ms(lat['p99'])}, max {ms(lat['max'])}")
    mode = report.get("replay_mode") or {}
    if mode.get("mode") == "hybrid":
        lines.append(f"mode: hybrid, every packet within {mode['bulk_detail_s']:g} s of each "
                     f"event; {mode['flows']} flows carried {mode['flow_s']:.0f} s "
                     f"({mode['flow_packets_carried']} packets, {mode['flow_packets_lost']} "
                     "lost); latency from the packets only")
    else:
        lines.append("mode: packet level (every packet replayed)")
    lines.append(f"throughput: {report['throughput_bps'] / 1e3:.1f} kbit/s; signalling "
                 f"{report['signalling']['messages']} messages, "
                 f"{report['signalling']['bytes']} bytes")
    sctp = report.get("association") or {}
    events = sctp.get("path_events", [])
    if events or sctp.get("asconf_errors") or sctp.get("aborted"):
        failed = sum(1 for e in events if e["event"] == "failed")
        refused = ", ".join(f"{c} {n}" for c, n in sctp.get("asconf_errors", {}).items())
        lines.append(f"paths: {failed} failures, {len(events) - failed} recoveries"
                     + (f"; ASCONF refused: {refused}" if refused else "")
                     + "".join(f"; aborted at {a['t_utc']}" for a in sctp.get("aborted", [])))
    hos = report["handovers"]
    feasible = sum(1 for h in hos if h.get("feasible", True))
    lines.append(f"handovers: {len(hos)} ({feasible} feasible), "
                 f"{sum(h['lost'] for h in hos)} packets lost around them")
    for h in hos[:SHOWN_HANDOVERS]:
        who = f"{h['mobile']}: " if len(mobiles) > 1 else ""
        lines.append(f"  {h['t_utc']}  {who}{h['from']} -> {h['to']}"
                     f"{'' if h.get('feasible', True) else ' (hard)'}:"
                     + ("" if h.get("made", True) else " not made,")
                     + f" interruption {ms(h.get('interruption_ms'))}, "
                     f"latency {ms(h['handover_latency_ms'])}, lost {h['lost']}"
                     + (f", coverage gap {h['coverage_gap_s']:.1f} s"
                        if h.get("coverage_gap_s") else ""))
    if len(hos) > SHOWN_HANDOVERS:
        lines.append(f"  ... and {len(hos) - SHOWN_HANDOVERS} more (all in the report)")
    return "\n".join(lines)
