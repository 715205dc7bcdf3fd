"""Run one replay and turn its packet log into the report."""

from __future__ import annotations

import numpy as np
import simpy

from sigma_sn.sim.bulk import BulkTransfer
from sigma_sn.sim.mip import MipConfig, MobileIpHost, mip_cbr_source
from sigma_sn.sim.model import (CAUSES, Association, PacketLog, Replay, SimConfig,
                                build_links, cbr_source)

REPORT_SCHEMA = "sigma-sn/report/1"


def simulate(replay: Replay, cfg: SimConfig, *, protocol: str = "sigma",
             mip: MipConfig | None = None) -> dict:
    """Replay ``replay`` packet by packet under ``cfg`` with SIGMA-SN (``protocol="sigma"``)
    or the Mobile IPv6 baseline (``"mip"``, tuned by ``mip``); return the report.

    The same replay, config and seed give the same report, byte for byte.
    """
    if protocol not in ("sigma", "mip"):
        raise ValueError(f"protocol must be 'sigma' or 'mip', got {protocol!r}")
    rng = np.random.default_rng(cfg.seed)
    env = simpy.Environment()
    links = build_links(replay, cfg, rng)
    end_s = replay.duration_s
    ap_names = sorted(links)
    if protocol == "mip":
        if cfg.traffic != "cbr":
            raise ValueError("the Mobile IP baseline replays CBR traffic only")
        host = MobileIpHost(env, replay, cfg, mip or MipConfig(), links,
                            np.random.default_rng(rng.integers(0, 2**63)))
        log = PacketLog(ap_names)
        env.process(mip_cbr_source(host, log, cfg, end_s))
        env.process(host.run_plan())
        # downlink datagrams are handled at the HA, ha_cn_s after they leave the CN
        env.run(until=end_s + host.mip.ha_cn_s + 1e-6)
        return make_report(replay, cfg, host, log.trimmed(), None, protocol)
    assoc = Association(env, replay, cfg, links)
    if cfg.traffic == "cbr":
        log = PacketLog(ap_names)
        env.process(cbr_source(assoc, log, cfg, end_s))
        bulk = None
    else:
        log = PacketLog(ap_names)
        bulk = BulkTransfer(assoc, cfg, log, end_s)
        env.process(bulk.start())
    env.process(assoc.run_plan())
    env.process(assoc.lm_queries(np.random.default_rng(rng.integers(0, 2**63))))
    env.run(until=end_s)
    return make_report(replay, cfg, assoc, log.trimmed(), bulk, protocol)


def _ms(x) -> float:
    return round(float(x) * 1e3, 3)


def _percentiles_ms(values: np.ndarray) -> dict:
    if values.size == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    p = np.percentile(values, [50, 95, 99])
    return {"p50": _ms(p[0]), "p95": _ms(p[1]), "p99": _ms(p[2]), "max": _ms(values.max())}


def make_report(replay: Replay, cfg: SimConfig, assoc: Association, log: PacketLog,
                bulk: BulkTransfer | None, protocol: str) -> dict:
    end_s = replay.duration_s
    delivered_mask = log.cause < 0
    arrived_in_time = delivered_mask & (log.arrival_s <= end_s)
    in_flight = int((delivered_mask & (log.arrival_s > end_s)).sum())
    lost_mask = log.cause >= 0
    latency = log.arrival_s[arrived_in_time] - log.sent_s[arrived_in_time]
    causes = {c: int((log.cause == i).sum()) for i, c in enumerate(CAUSES)}

    if bulk is not None:
        throughput = bulk.delivered_bytes * 8.0 / end_s
    else:
        throughput = float(arrived_in_time.sum()) * cfg.payload_bytes * 8.0 / end_s

    handovers = []
    hos = list(replay.handovers)
    bounds = [0.0] + [0.5 * (a.t_s + b.t_s) for a, b in zip(hos, hos[1:])] + [end_s]
    switches = assoc.switch_times()
    for k, h in enumerate(hos):
        lo, hi = bounds[k], bounds[k + 1]
        seg = (log.sent_s >= lo) & (log.sent_s < hi)
        # the moment new data started to take the new access point
        t_cn = next((t for t, ap in switches if ap == h.to_ap and lo <= t < hi), None)
        last_old = first_new = latency_ms = None
        if t_cn is not None:
            ok = seg & arrived_in_time
            old = ok & (log.ap == log.ap_index.get(h.from_ap, -2)) & (log.sent_s < t_cn)
            new = ok & (log.ap == log.ap_index.get(h.to_ap, -2)) & (log.sent_s >= t_cn)
            last_old = float(log.arrival_s[old].max()) if old.any() else None
            first_new = float(log.arrival_s[new].min()) if new.any() else None
            if first_new is not None and last_old is not None:
                latency_ms = _ms(first_new - last_old)
        lost_here = seg & lost_mask & (log.cause != CAUSES.index("random_loss"))
        handovers.append({
            "index": h.index, "from": h.from_ap, "to": h.to_ap, "feasible": h.feasible,
            "t_s": round(h.t_s, 6), "t_utc": _iso(replay.start_utc, h.t_s),
            "cn_switch_s": None if t_cn is None else round(t_cn, 6),
            "handover_latency_ms": latency_ms,
            "last_old_arrival_s": None if last_old is None else round(last_old, 6),
            "first_new_arrival_s": None if first_new is None else round(first_new, 6),
            "lost": int(lost_here.sum()),
        })

    stats = assoc.stats
    lm_lat = np.array(stats.lm_query_latency_s)
    report = {
        "schema": REPORT_SCHEMA,
        "protocol": protocol,
        "mobile": replay.mobile,
        "start_utc": replay.start_utc,
        "duration_s": round(end_s, 6),
        "traffic": {"kind": cfg.traffic, "direction": cfg.direction,
                    "rate_pps": cfg.rate_pps if cfg.traffic == "cbr" else None,
                    "payload_bytes": cfg.payload_bytes, "seed": cfg.seed},
        "packets": {"sent": int(log.n), "delivered": int(arrived_in_time.sum()),
                    "lost": int(lost_mask.sum()), "in_flight": in_flight},
        "loss_causes": causes,
        "loss_rate": round(float(lost_mask.sum()) / log.n, 9) if log.n else 0.0,
        "latency_ms": _percentiles_ms(latency),
        "throughput_bps": round(throughput, 3),
        "signalling": {"messages": int(sum(stats.messages.values())),
                       "bytes": int(sum(stats.bytes.values())),
                       "by_kind": {k: {"messages": stats.messages[k], "bytes": stats.bytes[k]}
                                   for k in sorted(stats.messages)},
                       "retransmissions": dict(sorted(stats.retransmissions.items()))},
        "location_manager": {
            "queries": stats.lm_queries, "stale_answers": stats.lm_stale_answers,
            "query_latency_ms": _percentiles_ms(lm_lat),
            "updates_stored": assoc.lm_summary()[1]},
        "path_failures": [{"t_s": round(t, 6), "address": a} for t, a in stats.path_failures],
        "handovers": handovers,
    }
    if cfg.keep_trace:
        report["_trace"] = log
    return report


def _iso(start_utc: str, t_s: float) -> str:
    base = np.datetime64(start_utc.rstrip("Z"), "us")
    return str(np.datetime_as_string(base + np.timedelta64(int(round(t_s * 1e6)), "us"),
                                     unit="us")) + "Z"
