"""Survivability (paper §4, Fig. 8): replicated location managers against home-agent
failure.

SIGMA-SN's location manager (LM) is replicated like DNS name servers: a primary and
backups sharing one database. A new correspondent asks the primary, waits
``query_timeout_s``, then asks backup 1, and so on round the list until
``setup_deadline_s``. In high-availability mode every query goes to the primary's
address, and a backup takes that address over once it has missed
``missed_heartbeats`` heartbeats (``heartbeat_interval_s`` apart); queries sent before
the takeover time out and are retried to the same address. The MH's location updates
go the same way. The data path never touches the LM.

Mobile IP's home agent (HA) is both directory and forwarder: while it (or the whole
home network) is down, nothing is tunnelled to the MH, binding updates are lost, and a
new correspondent's INIT to the home address goes unanswered; the correspondent
retransmits it on RTO (RFC 4960 T1-init: RTO.Initial doubling, Max.Init.Retransmits 8)
until the deadline.

Failures are intervals: ``lm_down`` (one replica, by index, 0 = primary, or all of them)
and ``ha_down``. For new associations started inside a failure the report gives the
share that succeed and their lookup and setup latency; for the association already
running, the share of its packets sent inside the failure that were delivered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from sigma_sn.errors import InputError
from sigma_sn.sim.mip import MipConfig, MobileIpHost
from sigma_sn.sim.model import Association, Replay, SimConfig
from sigma_sn.sim.security import (ingress_comparison, parse_security, run_hooked,
                                   simulate_with_attacks)
from sigma_sn.sim.tables import (LmReplicas, parse_location_manager, table_choice, table_items,
                                 table_value)

FAILURE_KINDS = ("lm_down", "ha_down")
ALL_REPLICAS = -1
MAX_INIT_RETRANSMITS = 8               # RFC 4960 §15 Max.Init.Retransmits


@dataclass(frozen=True)
class Failure:
    """Something down during ``[t0_s, t1_s)``: an LM replica or a Mobile IP home agent
    (``replica``: 0 is the primary, or the active HA; :data:`ALL_REPLICAS` every one)."""

    kind: str
    t0_s: float
    t1_s: float
    replica: int = 0

    def __post_init__(self):
        if self.kind not in FAILURE_KINDS:
            raise ValueError(f"failure kind must be one of {', '.join(FAILURE_KINDS)}, "
                             f"got {self.kind!r}")
        if not 0 <= self.t0_s < self.t1_s:
            raise ValueError(f"failure needs 0 <= t0_s < t1_s, got [{self.t0_s}, {self.t1_s})")
        if self.replica < ALL_REPLICAS:
            raise ValueError(f"replica must be >= 0 or {ALL_REPLICAS} (all), got {self.replica}")

    def covers(self, t: float) -> bool:
        return self.t0_s <= t < self.t1_s


class LocationService:
    """Which LM replica (or, with ``kind="ha_down"``, which home agent) answers a message
    that reaches it at ``t``."""

    def __init__(self, lm: LmReplicas, failures, one_way_s: float, kind: str = "lm_down"):
        self.lm, self.one_way_s = lm, one_way_s
        self.down = {i: [(f.t0_s, f.t1_s) for f in failures if f.kind == kind
                         and f.replica in (i, ALL_REPLICAS)] for i in range(lm.replicas)}

    def up(self, replica: int, t: float) -> bool:
        return not any(t0 <= t < t1 for t0, t1 in self.down[replica])

    def takeover_s(self, t: float) -> float:
        """When a backup holds the primary's address, for a primary outage covering ``t``:
        the ``missed_heartbeats``-th heartbeat (on a grid from 0) missed since it died."""
        t0 = max(t0 for t0, t1 in self.down[0] if t0 <= t < t1)
        hb = self.lm.heartbeat_interval_s
        return math.ceil(t0 / hb - 1e-9) * hb + (self.lm.missed_heartbeats - 1) * hb

    def server(self, target: int, t: float, takeover: bool | None = None) -> int | None:
        """The replica that answers a message to replica ``target``'s address at ``t``;
        ``takeover`` (default: the LM's ``ha_mode``): a backup takes over the primary's
        address once it has missed its heartbeats."""
        if self.up(target, t):
            return target
        takeover = self.lm.ha_mode if takeover is None else takeover
        if takeover and target == 0 and t >= self.takeover_s(t):
            return next((i for i in range(1, self.lm.replicas) if self.up(i, t)), None)
        return None

    def lookup(self, t_start: float) -> tuple[float, int, int] | None:
        """Ask round the replicas from ``t_start``: ``(t_reached, replica, tries)`` for the
        first message a live replica gets, or None if none does before the deadline."""
        lm = self.lm
        k = 0
        t = t_start
        while t < t_start + lm.setup_deadline_s:
            target = 0 if lm.ha_mode else k % lm.replicas
            reached = t + self.one_way_s
            s = self.server(target, reached)
            if s is not None:
                return reached, s, k + 1
            k += 1
            t = t_start + k * lm.query_timeout_s
        return None


@dataclass
class NewAssociation:
    """One new correspondent's attempt to reach the MH."""

    t_start_s: float
    ok: bool = False
    lookup_s: float | None = None
    setup_s: float | None = None


class ReplicatedAssociation(Association):
    """SIGMA-SN with a replicated LM: updates and queries go through
    :class:`LocationService`; new correspondents start on a grid, not at Poisson times."""

    def setup_replicas(self, service: LocationService, lm: LmReplicas) -> None:
        self.service, self.lm_cfg = service, lm
        self.new_assocs: list[NewAssociation] = []
        self.lm_updates_lost = 0
        self._pending: dict[float, NewAssociation] = {}
        self.lm_answer_hook = self._answered

    def lm_receive_update(self, address: str, auth=None) -> None:
        # the update reached the primary's address now; find who stores it, and when
        found = self.service.lookup(self.env.now - self.service.one_way_s)
        if found is None:
            self.lm_updates_lost += 1
        elif found[0] <= self.env.now:
            super().lm_receive_update(address, auth)
        else:
            self.at(found[0], super().lm_receive_update, address, auth)

    def lm_queries(self, rng: np.random.Generator):
        dt = self.lm_cfg.new_assoc_interval_s
        k = 1
        while True:
            yield self.env.timeout(k * dt - self.env.now)
            rec = NewAssociation(self.env.now)
            self.new_assocs.append(rec)
            found = self.service.lookup(rec.t_start_s)
            if found is not None:
                self._pending[rec.t_start_s] = rec
                # the replica reads the shared database when the query reaches it
                self.at(found[0], self._lm_answer, rec.t_start_s)
            k += 1

    def _answered(self, asked: float, answer: str, reachable: bool) -> None:
        rec = self._pending.pop(asked)
        now = self.env.now
        rec.lookup_s = now - asked
        if reachable:
            ap = self.addr_ap[answer]
            setup = rec.lookup_s + self.cfg.terrestrial_s + self.links[ap].delay_s(now)
            rec.ok = setup <= self.lm_cfg.setup_deadline_s
            rec.setup_s = setup


def mip_new_associations(host: MobileIpHost, lm: LmReplicas, records: list):
    """New correspondents of a Mobile IP host: an INIT to the home address, which only a
    live HA forwards to the current binding; retransmitted on RTO until the deadline."""
    env, cfg, mip = host.env, host.cfg, host.mip
    k = 1
    while True:
        t_start = k * lm.new_assoc_interval_s
        yield env.timeout(t_start - env.now)
        rec = NewAssociation(t_start)
        records.append(rec)
        env.process(_mip_init(host, rec, lm, cfg, mip))
        k += 1


def _mip_init(host: MobileIpHost, rec: NewAssociation, lm: LmReplicas, cfg: SimConfig,
              mip: MipConfig):
    env = host.env
    rto = cfg.rto_initial_s
    t_send = rec.t_start_s
    for _ in range(1 + MAX_INIT_RETRANSMITS):
        t_ha = t_send + mip.ha_cn_s
        if t_ha - rec.t_start_s > lm.setup_deadline_s:
            return
        yield env.timeout(t_ha - env.now)
        if host.ha_alive(t_ha):
            ap = host.binding
            arrival = t_ha + mip.ha_ap_s + host.links[ap].delay_s(t_ha)
            if host.attached(arrival) == ap and arrival - rec.t_start_s <= lm.setup_deadline_s:
                rec.ok, rec.setup_s = True, arrival - rec.t_start_s
                return
        t_send += rto
        rto = min(2 * rto, cfg.rto_max_s)


def _ms_stats(values) -> dict:
    v = np.array([x for x in values if x is not None], float)
    if v.size == 0:
        return {"p50": None, "p95": None, "max": None}
    p50, p95 = np.percentile(v, [50, 95])
    return {"p50": round(float(p50) * 1e3, 3), "p95": round(float(p95) * 1e3, 3),
            "max": round(float(v.max()) * 1e3, 3)}


def _new_assoc_summary(recs: list[NewAssociation]) -> dict:
    ok = [r for r in recs if r.ok]
    return {"started": len(recs), "succeeded": len(ok),
            "share": round(len(ok) / len(recs), 6) if recs else None,
            "lookup_latency_ms": _ms_stats(r.lookup_s for r in ok),
            "setup_latency_ms": _ms_stats(r.setup_s for r in ok)}


def _existing_summary(log, t0: float, t1: float) -> dict:
    sent = (log.sent_s >= t0) & (log.sent_s < t1)
    delivered = sent & (log.cause < 0)
    n = int(sent.sum())
    return {"sent": n, "delivered": int(delivered.sum()),
            "share": round(int(delivered.sum()) / n, 6) if n else None}


def _run_protocol(replay: Replay, cfg: SimConfig, failures, lm: LmReplicas, protocol: str,
                  mip: MipConfig | None) -> dict:
    new_assocs: list[NewAssociation] = []

    def prepare(env, endpoint) -> None:
        if protocol == "mip":
            # home-agent redundancy of the same count as the location managers: standby
            # HAs on the home link share the binding cache and take over the active
            # one's address once it missed its heartbeats (the HA-reliability schemes,
            # e.g. a standby HA in the home link), as SIGMA-SN's LM replicas in HA mode
            has = LocationService(lm, failures, 0.0, kind="ha_down")
            endpoint.ha_up = lambda t: has.server(0, t, takeover=True) is not None
            env.process(mip_new_associations(endpoint, lm, new_assocs))
        else:
            endpoint.setup_replicas(LocationService(lm, failures, cfg.lm_terrestrial_s), lm)

    report, out = run_hooked(replay, cfg, protocol=protocol, mip=mip, prepare=prepare,
                             association=ReplicatedAssociation)
    if protocol == "sigma":
        new_assocs = out.endpoint.new_assocs
    horizon = replay.duration_s - lm.setup_deadline_s      # later starts cannot be judged
    judged = [r for r in new_assocs if r.t_start_s <= horizon]
    per_failure = []
    for f in failures:
        per_failure.append({
            "kind": f.kind, "t0_s": f.t0_s, "t1_s": f.t1_s,
            "replica": "all" if f.replica == ALL_REPLICAS else f.replica,
            "new_associations": _new_assoc_summary([r for r in judged
                                                    if f.covers(r.t_start_s)]),
            "existing_association": _existing_summary(out.log, f.t0_s, f.t1_s)})
    calm = [r for r in judged if not any(f.covers(r.t_start_s) for f in failures)]
    return {"failures": per_failure,
            "outside_failures": {"new_associations": _new_assoc_summary(calm)},
            "lm_updates_lost": getattr(out.endpoint, "lm_updates_lost", None),
            "report": report}


def survivability_report(replay: Replay, cfg: SimConfig, failures, *,
                         lm: LmReplicas = LmReplicas(), mip: MipConfig | None = None) -> dict:
    """Run SIGMA-SN (``lm.replicas`` location managers) and Mobile IP (as many home
    agents: one active, the others standing by on the home link) through the same
    ``failures``; return, per protocol and failure, how new associations and the running
    one fared."""
    failures = tuple(failures)
    if cfg.traffic != "cbr":
        raise ValueError("survivability is measured with CBR traffic")
    for f in failures:
        if f.replica >= lm.replicas:
            raise ValueError(f"failure names replica {f.replica}, but there are "
                             f"{lm.replicas} (0 to {lm.replicas - 1})")
    return {
        "location_manager": {"replicas": lm.replicas, "query_timeout_s": lm.query_timeout_s,
                             "ha_mode": lm.ha_mode,
                             "heartbeat_interval_s": lm.heartbeat_interval_s,
                             "missed_heartbeats": lm.missed_heartbeats,
                             "new_assoc_interval_s": lm.new_assoc_interval_s,
                             "setup_deadline_s": lm.setup_deadline_s},
        "sigma": _run_protocol(replay, cfg, failures, lm, "sigma", None),
        "mip": _run_protocol(replay, cfg, failures, lm, "mip", mip),
    }


# -- what a scenario with attackers or failures adds to a comparison ----------------------

def scenario_findings(replay: Replay, cfg: SimConfig, *, security=None, failures=(),
                      where: str = "scenario", mip: MipConfig | None = None) -> dict:
    """Validate a scenario's raw ``[security]`` and ``[[failures]]`` tables (errors name
    ``where``) and measure what they ask for on ``replay``: the attacks against an
    association without and with authentication, ingress filtering for both protocols,
    and the failures. Sections whose tables are absent are left out."""
    sec = parse_security(security or {}, where)
    fails = parse_failures(list(failures), where)
    lm = parse_location_manager((security or {}).get("location_manager"), where)
    out: dict = {}
    if sec.attacks:
        out["security"] = {
            label: simulate_with_attacks(replay, cfg, replace(sec, auth=auth))["security"]
            for label, auth in (("without_auth", False), ("with_auth", True))}
    if sec.ingress_filtering:
        out["ingress"] = ingress_comparison(replay, cfg, mip, sec.prefix_len)
    if fails:
        surv = survivability_report(replay, cfg, fails, lm=lm, mip=mip)
        for protocol in ("sigma", "mip"):
            surv[protocol] = {k: v for k, v in surv[protocol].items() if k != "report"}
        out["survivability"] = surv
    return out


def findings_table(findings: dict) -> list[dict]:
    """Rows ``{"metric", "unit", "sigma", "mip"}`` (the comparison table's shape) for
    :func:`scenario_findings`; a protocol without the mechanism gets None."""
    rows = []
    for label, sec in findings.get("security", {}).items():
        auth = "no auth" if label == "without_auth" else "HMAC-SHA-256"
        for a in sec["attacks"]:
            rows.append({"metric": f"{a['kind']} ({auth}): messages accepted / sent",
                         "unit": "share", "sigma": round(a["accepted"] / a["attempts"], 6)
                         if a["attempts"] else None, "mip": None})
            rows.append({"metric": f"{a['kind']} ({auth}): packets to the attacker",
                         "unit": "packets", "sigma": a["packets_to_attacker"], "mip": None})
    if "ingress" in findings:
        sigma, plain, tunnelled = findings["ingress"]["rows"]
        # RFC 6275 §11.3.1: Mobile IPv6 reverse-tunnels through the HA by default; the
        # row without the tunnel shows what ingress filtering does to a direct uplink
        rows += [{"metric": "ingress filtering: uplink delivered (MIP reverse-tunnelled)",
                  "unit": "share", "sigma": sigma["delivered_share"],
                  "mip": tunnelled["delivered_share"]},
                 {"metric": "ingress filtering: uplink delivered, MIP without reverse tunnel",
                  "unit": "share", "sigma": sigma["delivered_share"],
                  "mip": plain["delivered_share"]},
                 {"metric": "ingress filtering: uplink one-way p50, MIP reverse-tunnelled",
                  "unit": "ms", "sigma": sigma["latency_p50_ms"],
                  "mip": tunnelled["latency_p50_ms"]}]
    surv = findings.get("survivability")
    if surv:
        for k, f in enumerate(surv["sigma"]["failures"]):
            m = surv["mip"]["failures"][k]
            what = f["kind"] + ("" if f["replica"] is None else f" replica {f['replica']}")
            name = f"{what} [{f['t0_s']:g}, {f['t1_s']:g}) s"
            pairs = ((f"{name}: new associations set up", "share",
                      lambda x: x["new_associations"]["share"]),
                     (f"{name}: new association setup p50", "ms",
                      lambda x: x["new_associations"]["setup_latency_ms"]["p50"]),
                     (f"{name}: running association delivered", "share",
                      lambda x: x["existing_association"]["share"]))
            for metric, unit, get in pairs:
                rows.append({"metric": metric, "unit": unit, "sigma": get(f), "mip": get(m)})
    return rows


# -- scenario tables -----------------------------------------------------------------------

_FAILURE_KEYS = {"kind", "t0_s", "t1_s", "replica"}
def parse_failures(raw, where: str) -> tuple[Failure, ...]:
    """Validate a scenario's raw ``[[failures]]`` tables; raise :class:`InputError` naming
    ``where`` and the key (``failures[0].kind``)."""
    out = []
    for p, item in table_items(raw, where, "failures", _FAILURE_KEYS):
        kind = table_choice(item, "kind", FAILURE_KINDS, where, p)
        t0 = table_value(item, "t0_s", float, where, p, minimum=0)
        t1 = table_value(item, "t1_s", float, where, p)
        if not t1 > t0:
            raise InputError(f"must be > t0_s ({t0}), got {t1}", path=where, key=p + "t1_s")
        replica = 0
        if "replica" in item:
            if item["replica"] == "all":
                replica = ALL_REPLICAS
            else:
                replica = table_value(item, "replica", int, where, p, minimum=0)
        out.append(Failure(kind, t0, t1, replica))
    return tuple(out)


__all__ = ["ALL_REPLICAS", "FAILURE_KINDS", "Failure", "LmReplicas", "LocationService",
           "findings_table", "parse_failures", "parse_location_manager", "scenario_findings",
           "survivability_report"]
