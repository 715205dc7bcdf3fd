"""Run replays and turn their packet logs into the report (``sigma-sn/report/1``).

One replay is one mobile's association. A plan with several mobiles runs one replay
per mobile; the report's top-level numbers aggregate over all of them, and each
handover and path failure says which mobile it belongs to.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import simpy

from sigma_sn import compute
from sigma_sn.sim.bulk import BulkTransfer
from sigma_sn.sim.fmip import FastHost
from sigma_sn.sim.hmip import HierarchicalHost
from sigma_sn.sim.hybrid import HybridBulk, flow_summary, replay_mode
from sigma_sn.sim.logpass import (InTimeLatencies, LatencyHistogram, LogPass,
                                  latency_percentiles_ms, weighted_summary_ms)
from sigma_sn.sim.mip import MipConfig, MobileIpHost, mip_cbr_source
from sigma_sn.sim.model import (CAUSES, Association, PacketLog, Replay, SimConfig,
                                build_links, cbr_source)
from sigma_sn.sim.planned import MobileReplay, PlannedReplays, ReplayInputs, replay_geometry
from sigma_sn.sim.spill import SpilledLog

REPORT_SCHEMA = "sigma-sn/report/1"
#: the Mobile IPv6 family's endpoints by protocol name
MIP_HOSTS = {"mip": MobileIpHost, "fmip": FastHost, "hmip": HierarchicalHost}
#: every protocol a replay runs: SIGMA-SN and the Mobile IPv6 family
PROTOCOLS = ("sigma", *MIP_HOSTS)
#: how many bins the report's time series aims at (figures need no more)
TIMESERIES_BINS = 2000
#: how many slices a run is cut into for progress reports (results do not change)
PROGRESS_SLICES = 100


def simulate(replay: Replay, cfg: SimConfig, *, protocol: str = "sigma",
             mip: MipConfig | None = None) -> dict:
    """Replay ``replay`` packet by packet under ``cfg`` with SIGMA-SN (``protocol="sigma"``)
    or a Mobile IPv6 baseline (``"mip"``, ``"fmip"`` or ``"hmip"``, tuned by ``mip``);
    return the report.

    The same replay, config and seed give the same report, byte for byte.
    """
    return simulate_many([replay], cfg, protocol=protocol, mip=mip)


def simulate_many(replays, cfg: SimConfig, *, protocol: str = "sigma",
                  mip: MipConfig | None = None, progress=None) -> dict:
    """Replay each of ``replays`` (one association per mobile; or a
    :class:`~sigma_sn.sim.planned.PlannedReplays`, whose geometry each replay builds where
    it runs) and return one report aggregating them. Mobile ``k`` draws its random
    numbers from ``[seed, k]`` (the first from ``seed`` alone), so mobiles do not share
    loss patterns. ``progress``
    (a :class:`~sigma_sn.progress.Progress`-like object) is advanced in simulated time.
    """
    if isinstance(replays, PlannedReplays):
        # geometry built in each task from the inputs every task shares (scattered once
        # on Dask), so only each mobile's small part of the plan is shipped
        mobiles, inputs = list(replays.mobiles), replays.inputs
        start_utc, end_s = inputs.start_utc, inputs.duration_s
    else:
        mobiles, inputs = tuple(replays), None
        if not mobiles:
            raise ValueError("nothing to simulate: no replays")
        if (len({r.duration_s for r in mobiles}) != 1
                or len({r.start_utc for r in mobiles}) != 1):
            raise ValueError("replays of one report must share start and duration")
        start_utc, end_s = mobiles[0].start_utc, mobiles[0].duration_s
    workers = compute.workers(1)
    if compute.current().dask or (workers > 1 and len(mobiles) > 1):
        # groups of mobiles, elsewhere (sigma_sn.compute); each mobile keeps its own random
        # stream, and the groups come back in order: the same bytes
        if compute.current().dask:
            workers = compute.dask_workers()
        groups = compute.chunks(list(enumerate(mobiles)), workers)
        sizes = iter([len(g) for g in groups])
        tick = None if progress is None else (
            lambda n: progress.advance(next(sizes) * PROGRESS_SLICES))
        if inputs is None:
            # built replays are each group's own input: inherited by a fork; on Dask each
            # group's go to one worker, where its task runs, once for every protocol of
            # a comparison given the same replays (no worker holds all of them)
            fn, tasks = _own_replay_parts, [[k for k, _ in g] for g in groups]
            own = [tuple(r for _, r in g) for g in groups]
        else:
            fn, tasks, own = _replay_parts, groups, None

        def describe(task) -> str:
            first, last = (x if inputs is None else x[0] for x in (task[0], task[-1]))
            return f"mobiles {_name(mobiles[first])} .. {_name(mobiles[last])}"

        parts = [part for got in compute.ordered_map(
                     fn, tasks, (cfg, protocol, mip, inputs), workers=workers,
                     label="group of replays", progress=tick, own=own, ship=_without_load,
                     describe=describe)
                 for part in got]
    else:
        parts = [_summarise(run_replay(_built(item, inputs), cfg, protocol=protocol,
                                       mip=mip, stream=k, progress=progress), cfg)
                 for k, item in enumerate(mobiles)]
    return _report(parts, start_utc, end_s, cfg, protocol)


def _replay_parts(group: list, shared: tuple) -> list[_Part]:
    """The mobiles' shares of the report (``group``: ``(k, replay)`` pairs, mobile ``k``
    drawing from stream ``k``, a replay being a :class:`MobileReplay` to build from
    ``inputs`` when they are :class:`ReplayInputs`, or a built :class:`Replay` when they
    are None; ``shared``: the config, protocol, Mobile IP config and the replay inputs
    every mobile runs under)."""
    cfg, protocol, mip, inputs = shared
    replays = [_built(replay, inputs) for _, replay in group]
    parts = [_summarise(run_replay(replay, cfg, protocol=protocol, mip=mip, stream=k), cfg)
             for (k, _), replay in zip(group, replays)]
    if not cfg.keep_trace:
        # the parent needs only the latencies of each log (for the percentiles over all
        # mobiles): send those, not the whole log
        end_s = replays[0].duration_s
        for p in parts:
            log, p.log = p.log, InTimeLatencies(p.log, end_s)
            log.close()
    return parts


def _own_replay_parts(task: tuple, shared: tuple) -> list[_Part]:
    """:func:`_replay_parts` of built replays: ``task``, the group's streams and, as its
    own input (:func:`sigma_sn.compute.ordered_map`), its replays."""
    streams, replays = task
    return _replay_parts(list(zip(streams, replays)), shared)


def _without_load(replays: tuple) -> tuple:
    """Built replays as a worker needs them: without the plan's shared load, which only
    the caller reads (the report's load block) and which would go once in every group."""
    return tuple(r if r.shared_load is None else dataclasses.replace(r, shared_load=None)
                 for r in replays)


def _built(replay, inputs: ReplayInputs | None) -> Replay:
    return replay if inputs is None else replay_geometry(inputs, replay)


def _name(replay) -> str:
    return replay.name if isinstance(replay, MobileReplay) else replay.mobile


def report_from_outcomes(outcomes, cfg: SimConfig, protocol: str = "sigma") -> dict:
    """Return the report of replays already run (by :func:`run_replay` or a variant of
    it that builds its own endpoints), one association per outcome."""
    outcomes = list(outcomes)
    if not outcomes:
        raise ValueError("nothing to report: no outcomes")
    first = outcomes[0].replay
    return _report([_summarise(o, cfg) for o in outcomes], first.start_utc, first.duration_s,
                   cfg, protocol)


@dataclass
class Outcome:
    """What one replay left behind: its endpoints, packet log and bulk sender."""

    replay: Replay
    endpoint: object              # Association (SIGMA) or MobileIpHost (MIP)
    log: PacketLog
    bulk: BulkTransfer | None


def run_replay(replay: Replay, cfg: SimConfig, *, protocol: str = "sigma",
               mip: MipConfig | None = None, stream: int = 0, progress=None,
               extra_links: dict | None = None, log_factory=None,
               association=Association, prepare=None) -> Outcome:
    """Run one replay to its end and return the :class:`Outcome`.

    Hooks for actors that are not part of the plan (attackers, failures):
    ``extra_links`` join the MH's links, ``log_factory(ap_names)`` makes the packet log
    (by default a :class:`~sigma_sn.sim.spill.SpilledLog`, whose memory stays flat),
    ``association`` is the SIGMA endpoint class, and ``prepare(env, endpoint)`` installs
    hooks and processes before the clock starts. The defaults change nothing.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    rng = np.random.default_rng(cfg.seed if stream == 0 else [cfg.seed, stream])
    env = simpy.Environment()
    links = build_links(replay, cfg, rng)
    links.update(extra_links or {})
    end_s = replay.duration_s
    log = (SpilledLog(sorted(links), lambda: env.now) if log_factory is None
           else log_factory(sorted(links)))
    bulk = None
    if protocol != "sigma":
        if cfg.traffic != "cbr":
            raise ValueError("the Mobile IP baselines replay CBR traffic only")
        endpoint = MIP_HOSTS[protocol](env, replay, cfg, mip or MipConfig(), links)
        env.process(mip_cbr_source(endpoint, log, cfg, end_s))
        env.process(endpoint.run_plan())
        # downlink datagrams are handled at the anchor, anchor_cn_s after they leave
        until = end_s + endpoint.anchor_cn_s + 1e-6
    else:
        endpoint = association(env, replay, cfg, links)
        if cfg.traffic == "cbr":
            env.process(cbr_source(endpoint, log, cfg, end_s))
        else:
            bulk = (BulkTransfer(endpoint, cfg, log, end_s, *_bins(end_s))
                    if cfg.bulk_detail_s is None else
                    HybridBulk(endpoint, cfg, log, end_s, *_bins(end_s),
                               detail_s=cfg.bulk_detail_s))
            env.process(bulk.start())
        env.process(endpoint.run_plan())
        env.process(endpoint.lm_queries(np.random.default_rng(rng.integers(0, 2**63))))
        until = end_s
    if prepare is not None:
        prepare(env, endpoint)
    if progress is None:
        env.run(until=until)
    else:
        # stopping and resuming SimPy changes no outcome, only when we look
        for k in range(1, PROGRESS_SLICES + 1):
            env.run(until=until * k / PROGRESS_SLICES)
            progress.advance(1)
    return Outcome(replay, endpoint, log.trimmed(), bulk)


def bin_seconds(duration_s: float) -> int:
    """Width of the report's time-series bins: ``max(1, duration / 2000)``, whole seconds."""
    return max(1, int(round(duration_s / TIMESERIES_BINS)))


def _bins(end_s: float) -> tuple[int, int]:
    """The report's time-series bins: ``(width_s, count)``."""
    bin_s = bin_seconds(end_s)
    return bin_s, max(1, int(math.ceil(end_s / bin_s - 1e-9)))


def _ms(x) -> float:
    return round(float(x) * 1e3, 3)


def _percentiles_ms(values: np.ndarray) -> dict:
    if values.size == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    p = np.percentile(values, [50, 95, 99])
    return {"p50": _ms(p[0]), "p95": _ms(p[1]), "p99": _ms(p[2]), "max": _ms(values.max())}


@dataclass
class _Part:
    """One mobile's share of the report, with the packet log reduced to what it needs."""

    mobile: str
    sent: int
    delivered: int
    lost: int
    in_flight: int
    causes: dict
    latency: LatencyHistogram
    delivered_bits: float
    handovers: list
    stats: object
    lm_updates: int
    coverage_gaps: list               # (start_s, end_s): no access point visible at all
    series: dict                      # per-bin arrays
    log: PacketLog | InTimeLatencies  # read again for the latency percentiles, then closed
    path_rtt: tuple                   # on a path: (RTT values, packets that met each)
    flow: dict | None = None          # bulk with a detail window: what the flow carried


def _summarise(out: Outcome, cfg: SimConfig) -> _Part:
    replay, log = out.replay, out.log
    end_s = replay.duration_s
    shares = _shares(replay, out.endpoint)
    bin_s, n_bins = _bins(end_s)
    tally = LogPass(end_s=end_s, bin_s=bin_s, n_bins=n_bins, bounds=shares["bounds"],
                    looks=_looks(shares, log),
                    interval_s=1.0 / cfg.rate_pps if cfg.traffic == "cbr" else None,
                    links=replay.links if any(g.delay_s is not None for g in replay.links)
                    else (), ap_names=log.ap_names)
    for chunk in log.chunks():
        tally.feed(chunk)
    tally.finish()
    if out.bulk is not None:
        bits = out.bulk.delivered_bytes * 8.0
        bin_bits = np.array(out.bulk.delivered_bits)
    else:
        bits = float(tally.delivered) * cfg.payload_bytes * 8.0
        bin_bits = tally.arrival_bins * (cfg.payload_bytes * 8.0)
    flow = flow_summary(out.bulk)
    carried = 0 if flow is None else flow["packets_carried"]   # delivered, not logged
    return _Part(
        mobile=replay.mobile, sent=tally.n + carried, delivered=tally.delivered + carried,
        lost=int(tally.causes.sum()), in_flight=tally.in_flight,
        causes={c: int(tally.causes[i]) for i, c in enumerate(CAUSES)},
        latency=tally.latency, delivered_bits=bits,
        handovers=_handovers(replay, shares, tally, cfg),
        coverage_gaps=coverage_gaps(replay),
        stats=out.endpoint.stats, lm_updates=out.endpoint.lm_summary()[1],
        series={"sent": tally.sent_bins, "delivered": tally.delivered_bins,
                "lost": tally.lost_bins, "latency_sum_s": tally.latency_sum_s,
                "bits": bin_bits},
        log=log, path_rtt=tally.path_rtt(), flow=flow)


def coverage_gaps(replay: Replay) -> list[tuple[float, float]]:
    """Return the ``(start_s, end_s)`` spans of the replay in which none of the mobile's
    access points is up: outages of coverage, not of any protocol."""
    spans = sorted((a, b) for g in replay.links for a, b in g.up_s
                   if b > 0.0 and a < replay.duration_s)
    gaps, covered = [], 0.0
    for a, b in spans:
        if a > covered:
            gaps.append((covered, min(a, replay.duration_s)))
        covered = max(covered, b)
    if covered < replay.duration_s:
        gaps.append((covered, replay.duration_s))
    return [(round(a, 6), round(b, 6)) for a, b in gaps if b > a]


def _overlap_s(gaps, a: float, b: float) -> float:
    return sum(max(0.0, min(e, b) - max(s, a)) for s, e in gaps)


def _shares(replay: Replay, endpoint) -> dict:
    """How the log's packets are shared out among the handovers the protocol made (see
    :func:`_handovers`): ``times`` (the endpoint's ``handover_times()``), ``made`` (their
    indices), ``spans`` (first, last) in send time, ``bounds`` (share ``i`` holds the
    packets sent in ``[bounds[i], bounds[i + 1])``) and ``share`` (handover index ->
    ``(i, lo, hi)``)."""
    end_s = replay.duration_s
    times = endpoint.handover_times()
    made = [k for k, t in enumerate(times) if t is not None]
    # each made handover spans [first, last] in send time: the break (or switch) to the
    # switch, or to the break when data never switched
    spans = [(times[k][0], max(times[k][0], times[k][1] if times[k][1] is not None
                               else times[k][0])) for k in made]
    bounds = [0.0]
    for (_, last), (first, _) in zip(spans, spans[1:]):
        bounds.append(min(max(bounds[-1], 0.5 * (last + first)), end_s))
    bounds.append(max(bounds[-1], end_s))
    share = {k: (i, bounds[i], bounds[i + 1]) for i, k in enumerate(made)}
    return {"times": times, "made": made, "spans": spans, "bounds": bounds, "share": share}


def _looks(shares: dict, log: PacketLog) -> list:
    """Per handover that switched, where to look for the old path's last packet and the
    new one's first (:class:`LogPass` ``looks``). The old path's last packet was sent
    before the break (the switch for SIGMA-SN), maybe long before the share when the
    handover is hard: look back to the previous handover's switch."""
    spans, out = shares["spans"], []
    for k, (i, _, hi) in shares["share"].items():
        _, t_cn, old_ap, new_ap = shares["times"][k]
        if t_cn is not None:
            prev_s = spans[i - 1][1] if i else 0.0
            out.append((i, prev_s, spans[i][0], log.ap_index.get(old_ap, -2), t_cn, hi,
                        log.ap_index.get(new_ap, -2)))
    return out


def _handovers(replay: Replay, shares: dict, tally: LogPass, cfg: SimConfig) -> list:
    """Per planned handover: when data switched, handover latency (last packet over the
    old path to first over the new one, as the SIGMA papers define it), packets lost.

    Packets are shared out around each protocol's own times (the endpoint's
    ``handover_times()``): SIGMA-SN's switch of primary; Mobile IP's break and binding,
    which come at the old access point's LOS, often minutes after the plan's switch.
    Two handovers part at the midpoint of the first's switch and the second's break
    (its switch for SIGMA-SN). A handover the protocol never made gets no packets.

    Each made handover also gets its service interruption (the runs of packets no path
    carried, :class:`LogPass`, in its share, less the time they spent in coverage gaps);
    one whose runs or latency cross a coverage gap reports no handover latency (that
    time is the sky's, not the protocol's). A negative latency (the new path delivers
    before the old one's last packet: reordering) is kept as it is. Every handover
    gets its coverage gap from geometry and the plan alone (:func:`_plan_gaps`), the
    same whatever the protocol or the traffic.
    """
    end_s = replay.duration_s
    times, share = shares["times"], shares["share"]
    gaps = coverage_gaps(replay)
    gap_of = _plan_gaps(replay, gaps)
    # the run's length is in send time, from one packet interval after the last usable
    # packet to the next usable one (to within one packet interval, whatever the rate);
    # a run belongs to the share its first packet was sent in
    run_t = np.array([r[0] for r in tally.runs])
    run_start = np.array([r[1] for r in tally.runs])
    run_len = np.array([r[2] for r in tally.runs])
    run_share = np.searchsorted(tally.bounds, run_t, side="right") - 1
    out = []
    for k, h in enumerate(replay.handovers):
        t_cn = last_old = first_new = latency_ms = interruption_ms = None
        t_break = None
        lost = 0
        in_gap_s = 0.0                  # of this share's runs, the time the sky took
        if k in share:
            i = share[k][0]
            t_cn = times[k][1]
            lost = int(tally.share_lost[i])
            t_break = times[k][0]
            mine = run_share == i
            total = float(run_len[mine].sum())
            in_gap_s = sum(_overlap_s(gaps, a, a + b) for a, b in zip(run_start[mine],
                                                                      run_len[mine]))
            if cfg.traffic == "cbr":
                interruption_ms = _ms(max(total - in_gap_s, 0.0))
        if t_cn is not None:
            last_old = tally.last_old.get(i)
            first_new = tally.first_new.get(i)
            if first_new is not None and last_old is not None:
                # a latency across a coverage gap is the sky's, not the protocol's
                if max(in_gap_s, _overlap_s(gaps, last_old, first_new)) == 0.0:
                    latency_ms = _ms(first_new - last_old)
        out.append({
            "mobile": replay.mobile, "index": h.index, "from": h.from_ap, "to": h.to_ap,
            "feasible": h.feasible, "t_s": round(h.t_s, 6),
            "made": k in share and times[k][0] < end_s,
            "break_s": None if t_break is None else round(t_break, 6),
            "t_utc": _iso(replay.start_utc, h.t_s),
            "cn_switch_s": None if t_cn is None else round(t_cn, 6),
            "handover_latency_ms": latency_ms,
            "interruption_ms": interruption_ms,
            "coverage_gap_s": round(gap_of[k], 6),
            "last_old_arrival_s": None if last_old is None else round(last_old, 6),
            "first_new_arrival_s": None if first_new is None else round(first_new, 6),
            "lost": lost,
        })
    return out


def _plan_gaps(replay: Replay, gaps: list[tuple[float, float]]) -> list[float]:
    """Per handover of the replay, the coverage gaps it spans, in s, from geometry and
    the plan alone, so every protocol and traffic rate reports the same (counting the
    gap time its lost packets met once gave FMIPv6, whose NAR delivers a gap's last
    second, a second less). A handover's break is its old access point's LOS before the
    planned switch, or the switch, as the protocols break; a whole gap is the handover's
    whose break it starts at or after, before the next one's (one before the first break
    is the first handover's: its share starts the run). A gap from the run's start or to
    its end is none's: no handover crosses it."""
    starts = {g.ap: np.array([a for a, _ in g.up_s], dtype=float) for g in replay.links}
    ends = {g.ap: [b for _, b in g.up_s] for g in replay.links}
    breaks = []
    for h in replay.handovers:
        t = h.t_s
        k = int(np.searchsorted(starts.get(h.from_ap, np.empty(0)), t, side="right")) - 1
        if k >= 0 and t > ends[h.from_ap][k]:
            t = ends[h.from_ap][k]          # the old access point set before the switch
        breaks.append(max(t, breaks[-1]) if breaks else t)    # in the plan's order
    out = [0.0] * len(breaks)
    for a, b in gaps:
        # coverage_gaps rounds to the microsecond: a gap from the old LOS is its break's
        k = max(int(np.searchsorted(breaks, a + 1e-6, side="right")) - 1, 0)
        if breaks and 0.0 < a and b < replay.duration_s:
            out[k] += b - a
    return out


def _timeseries(parts: list[_Part], end_s: float) -> dict:
    bin_s = bin_seconds(end_s)
    total = {k: sum(p.series[k] for p in parts) for k in parts[0].series}
    n = len(total["sent"])
    lat = [None if d == 0 else round(float(s) / float(d) * 1e3, 3)
           for s, d in zip(total["latency_sum_s"], total["delivered"])]
    # the last bin may be shorter than bin_s
    widths = np.minimum(bin_s, end_s - np.arange(n) * bin_s)
    return {"bin_s": bin_s, "t_s": [k * bin_s for k in range(n)],
            "sent": [int(x) for x in total["sent"]],
            "delivered": [int(x) for x in total["delivered"]],
            "lost": [int(x) for x in total["lost"]],
            "latency_ms_mean": lat,
            "throughput_bps": [round(float(b) / w, 3) for b, w in zip(total["bits"], widths)]}


def _sum_dicts(dicts) -> dict:
    out: dict = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))


def _report(parts: list[_Part], start_utc: str, end_s: float, cfg: SimConfig,
            protocol: str) -> dict:
    sent = sum(p.sent for p in parts)
    lost = sum(p.lost for p in parts)
    messages = _sum_dicts(p.stats.messages for p in parts)
    sizes = _sum_dicts(p.stats.bytes for p in parts)
    lm_lat = np.array([x for p in parts for x in p.stats.lm_query_latency_s])
    handovers = sorted((h for p in parts for h in p.handovers),
                       key=lambda h: (h["t_s"], h["mobile"], h["index"]))
    names = [p.mobile for p in parts]
    report = {
        "schema": REPORT_SCHEMA,
        "protocol": protocol,
        "mobile": ", ".join(names),
        "mobiles": names,
        "start_utc": start_utc,
        "duration_s": round(end_s, 6),
        "traffic": {"kind": cfg.traffic, "direction": cfg.direction,
                    "rate_pps": cfg.rate_pps if cfg.traffic == "cbr" else None,
                    "payload_bytes": cfg.payload_bytes, "seed": cfg.seed},
        "packets": {"sent": sent, "delivered": sum(p.delivered for p in parts),
                    "lost": lost, "in_flight": sum(p.in_flight for p in parts)},
        "loss_causes": _sum_dicts(p.causes for p in parts),
        "loss_rate": round(lost / sent, 9) if sent else 0.0,
        "latency_ms": latency_percentiles_ms([(p.latency, p.log) for p in parts], end_s),
        "throughput_bps": round(sum(p.delivered_bits for p in parts) / end_s, 3),
        "signalling": {"messages": int(sum(messages.values())),
                       "bytes": int(sum(sizes.values())),
                       "by_kind": {k: {"messages": messages[k], "bytes": sizes[k]}
                                   for k in messages},
                       "retransmissions": _sum_dicts(p.stats.retransmissions for p in parts)},
        "location_manager": {
            "queries": sum(p.stats.lm_queries for p in parts),
            "stale_answers": sum(p.stats.lm_stale_answers for p in parts),
            "query_latency_ms": _percentiles_ms(lm_lat),
            "updates_stored": sum(p.lm_updates for p in parts)},
        "coverage_gaps": [{"mobile": p.mobile, "start_s": a, "end_s": b,
                           "duration_s": round(b - a, 6)}
                          for p in parts for a, b in p.coverage_gaps],
        "path_failures": [{"mobile": p.mobile, "t_s": round(t, 6), "address": a}
                          for p in parts for t, a in p.stats.path_failures],
        "handovers": handovers,
        "association": _association(parts, start_utc),
        "per_mobile": [{
            "mobile": p.mobile,
            "packets": {"sent": p.sent, "delivered": p.delivered, "lost": p.lost,
                        "in_flight": p.in_flight},
            "latency_ms": latency_percentiles_ms([(p.latency, p.log)], end_s),
            "throughput_bps": round(p.delivered_bits / end_s, 3),
            "handovers": len(p.handovers)} for p in parts],
        "timeseries": _timeseries(parts, end_s),
    }
    values, inverse = np.unique(np.concatenate([p.path_rtt[0] for p in parts]),
                                return_inverse=True)
    rtt = weighted_summary_ms(values, np.bincount(
        inverse, np.concatenate([p.path_rtt[1] for p in parts])).astype(np.int64))
    report["replay_mode"] = replay_mode(cfg, [p.flow for p in parts])
    if rtt is not None:     # on a path (a scenario's [path]): the RTT the packets met
        report["path_rtt_ms"] = rtt
    if cfg.keep_trace:      # the logs stay on disk for the trace writer
        report["_trace"] = parts[0].log
        report["_traces"] = [(p.mobile, p.log) for p in parts]
    else:
        for p in parts:
            p.log.close()
    return report


def _association(parts: list[_Part], start_utc: str) -> dict:
    """SCTP path management and ASCONF outcomes: when each destination failed and came
    back (RFC 4960 §8.2, §8.3), ASCONF requests refused by cause (RFC 5061), and
    associations aborted after Assoc.Max.Retrans (RFC 4960 §8.1)."""
    return {
        "path_events": [{"mobile": p.mobile, "t_s": round(t, 6), "t_utc": _iso(start_utc, t),
                         "address": a, "event": e}
                        for p in parts for t, a, e in p.stats.path_events],
        "asconf_errors": _sum_dicts(p.stats.asconf_errors for p in parts),
        "aborted": [{"mobile": p.mobile, "t_s": round(p.stats.aborted_s, 6),
                     "t_utc": _iso(start_utc, p.stats.aborted_s)}
                    for p in parts if p.stats.aborted_s is not None]}


def _iso(start_utc: str, t_s: float) -> str:
    base = np.datetime64(start_utc.rstrip("Z"), "us")
    return str(np.datetime_as_string(base + np.timedelta64(int(round(t_s * 1e6)), "us"),
                                     unit="us")) + "Z"
