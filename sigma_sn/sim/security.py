"""Security of SIGMA-SN (paper §5): authenticated address reconfiguration and location
updates, attackers as simulation actors, and ingress filtering for both protocols.

* SCTP-AUTH (RFC 4895) for real: every ASCONF chunk the MH sends carries an HMAC-SHA-256
  over the AUTH chunk (HMAC field zeroed) and the ASCONF chunk, serialised the way
  RFC 5061 lays it out, keyed with a per-association shared key. The CN recomputes it;
  a chunk whose tag does not verify is discarded (RFC 4895 §6.3). The CN's serial-number
  check (RFC 5061 §5.2, in :mod:`sigma_sn.sim.model`) rejects replays of genuine chunks.
* Location updates carry a sequence number and an HMAC-SHA-256 under a key the MH
  shares with the location manager (LM), as DNS UPDATE does with TSIG; the LM keeps
  the highest sequence seen, so a replayed update is stale.
* Attackers are SimPy processes on the association's clock: a hijacker (ADD_IP of its
  own address, then SET_PRIMARY to it), a bogus location update pointing new
  correspondents at the attacker, and a replay of captured genuine ASCONF chunks. The
  attacker is an on-path eavesdropper in the worst case: it knows the next serial
  number and sequence, but not the keys (it signs with a key of its own).

Keys are derived from the seed so runs stay byte-deterministic; what is modelled is the
check, not key management (RFC 4895 §6.1 derives the association key from the
endpoint-pair key and the INIT/INIT-ACK random numbers).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import struct
from dataclasses import dataclass, field, replace

import simpy

from sigma_sn.errors import InputError
from sigma_sn.sim.links import Link, LinkGeometry
from sigma_sn.sim.mip import MipConfig
from sigma_sn.sim.model import Association, PacketLog, Replay, SimConfig
from sigma_sn.sim import run
from sigma_sn.sim.run import Outcome
from sigma_sn.sim.tables import (check_keys, parse_location_manager, table_choice, table_items,
                                 table_value)

ATTACK_KINDS = ("hijack", "bogus_lm_update", "replay")

# Wire constants: RFC 4895 §4.2 (AUTH chunk), §6.1 (HMAC identifiers); RFC 5061 §3.
AUTH_CHUNK_TYPE = 0x0F
HMAC_SHA256_ID = 3
SHARED_KEY_ID = 0
ASCONF_CHUNK_TYPE = 0xC1
ASCONF_PARAM_TYPE = {"ADD_IP": 0xC001, "DELETE_IP": 0xC002, "SET_PRIMARY": 0xC004}
HMAC_BYTES = 32

#: the attackers' default addresses: 2001:db8:ffff::/48 is documentation space that a
#: plan's access-point subnets (2001:db8:k::/48, k from 1) reach only at 65,535 of them
ATTACKER_PREFIX = "2001:db8:ffff::"


# -- messages and tags ------------------------------------------------------------------

def _address_param(address: str) -> bytes:
    ip = ipaddress.ip_address(address)
    ptype = 6 if ip.version == 6 else 5                 # IPv6 / IPv4 Address parameter
    return struct.pack("!HH", ptype, 4 + len(ip.packed)) + ip.packed


def asconf_chunk(serial: int, action: str, address: str) -> bytes:
    """Serialise one ASCONF chunk with one request (RFC 5061 §3.1.1, §3.2): type, flags,
    length, serial, then the request with its correlation ID (= the serial) and address.
    The lookup Address Parameter is left out: the simulation knows the association."""
    addr = _address_param(address)
    request = struct.pack("!HHI", ASCONF_PARAM_TYPE[action], 8 + len(addr),
                          serial & 0xFFFFFFFF) + addr
    body = struct.pack("!I", serial & 0xFFFFFFFF) + request
    return struct.pack("!BBH", ASCONF_CHUNK_TYPE, 0, 4 + len(body)) + body


def auth_tag(key: bytes, chunk: bytes) -> bytes:
    """RFC 4895 §6.2: HMAC over the AUTH chunk (HMAC field zero) and the chunk after it."""
    auth = struct.pack("!BBHHH", AUTH_CHUNK_TYPE, 0, 8 + HMAC_BYTES, SHARED_KEY_ID,
                       HMAC_SHA256_ID) + bytes(HMAC_BYTES)
    return hmac.new(key, auth + chunk, hashlib.sha256).digest()


def lm_update_message(mobile: str, seq: int, address: str) -> bytes:
    """The signed part of a location update: who, which sequence number, where."""
    return b"LMUP" + struct.pack("!Q", seq) + mobile.encode() + b"\0" + _address_param(address)


def lm_tag(key: bytes, mobile: str, seq: int, address: str) -> bytes:
    return hmac.new(key, lm_update_message(mobile, seq, address), hashlib.sha256).digest()


def derive_key(seed: int, mobile: str, purpose: str) -> bytes:
    """A deterministic 256-bit key for ``purpose`` (association, LM, an attacker's)."""
    return hashlib.sha256(f"sigma-sn/{purpose}/{seed}/{mobile}".encode()).digest()


def verify_asconf(key: bytes | None, expected_serial: int, serial: int, action: str,
                  address: str, tag: bytes | None) -> str:
    """Judge an ASCONF the way the CN does: ``"accepted"``, ``"bad_tag"`` (AUTH on and the
    HMAC does not verify), ``"stale_serial"`` (an old serial: a retransmission or a
    replay, RFC 5061 §5.2 V1) or ``"serial_gap"`` (ahead of the next one, V3)."""
    if key is not None:
        good = auth_tag(key, asconf_chunk(serial, action, address))
        if tag is None or not hmac.compare_digest(tag, good):
            return "bad_tag"
    if serial < expected_serial:
        return "stale_serial"
    if serial > expected_serial:
        return "serial_gap"
    return "accepted"


@dataclass(frozen=True)
class Captured:
    """A genuine ASCONF as an eavesdropper records it off the wire."""

    serial: int
    action: str
    address: str
    src: str
    tag: bytes | None


class Guard:
    """The MH's signer and the CN's and LM's checkers for one association.

    With ``auth`` off nothing is signed and every tag passes (the serial check of the
    CN still applies); ``captured`` records every ASCONF the MH put on the wire.
    """

    def __init__(self, mobile: str, seed: int, auth: bool):
        self.mobile = mobile
        self.key = derive_key(seed, mobile, "association") if auth else None
        self.lm_key = derive_key(seed, mobile, "location-manager") if auth else None
        self.captured: list[Captured] = []
        self.lm_seq_sent = 0
        self.lm_seq_seen = 0
        self.rejected = {"asconf": 0, "lm_update": 0}

    def sign_asconf(self, serial: int, action: str, address: str, src: str) -> bytes | None:
        tag = None if self.key is None else auth_tag(self.key,
                                                     asconf_chunk(serial, action, address))
        self.captured.append(Captured(serial, action, address, src, tag))
        return tag

    def admit_asconf(self, serial: int, action: str, address: str, tag) -> bool:
        if verify_asconf(self.key, serial, serial, action, address, tag) == "bad_tag":
            self.rejected["asconf"] += 1
            return False
        return True

    def sign_lm(self, address: str) -> tuple[int, bytes | None]:
        self.lm_seq_sent += 1
        seq = self.lm_seq_sent
        return seq, None if self.lm_key is None else lm_tag(self.lm_key, self.mobile, seq,
                                                            address)

    def lm_verdict(self, address: str, auth) -> str:
        """``"accepted"``, ``"bad_tag"`` or ``"stale_sequence"`` for an update to the LM."""
        if self.lm_key is None:
            return "accepted"                # plain dynamic update: the LM takes anything
        if auth is None or auth[1] is None:
            return "bad_tag"
        seq, tag = auth
        if not hmac.compare_digest(tag, lm_tag(self.lm_key, self.mobile, seq, address)):
            return "bad_tag"
        return "accepted" if seq > self.lm_seq_seen else "stale_sequence"

    def admit_lm(self, address: str, auth) -> bool:
        verdict = self.lm_verdict(address, auth)
        if verdict != "accepted":
            self.rejected["lm_update"] += 1
            return False
        if auth is not None:
            self.lm_seq_seen = auth[0]
        return True


# -- configuration -----------------------------------------------------------------------

@dataclass(frozen=True)
class Attack:
    """One attacker: what it does, from when, how often. ``address`` is its own address
    (default: one per attack in ``2001:db8:ffff::/48``)."""

    kind: str
    t_s: float
    attempts: int = 1
    interval_s: float = 1.0
    address: str | None = None

    def __post_init__(self):
        if self.kind not in ATTACK_KINDS:
            raise ValueError(f"attack kind must be one of {', '.join(ATTACK_KINDS)}, "
                             f"got {self.kind!r}")
        if not (math.isfinite(self.t_s) and self.t_s >= 0):
            raise ValueError(f"attack t_s must be >= 0, got {self.t_s}")
        if self.attempts < 1:
            raise ValueError(f"attack attempts must be >= 1, got {self.attempts}")
        if not self.interval_s > 0:
            raise ValueError(f"attack interval_s must be > 0, got {self.interval_s}")
        if self.address is not None:
            ipaddress.ip_address(self.address)          # ValueError names the bad address


@dataclass(frozen=True)
class SecurityConfig:
    """Authentication on or off (ASCONF and LM updates together, as paper Fig. 12 protects
    both), ingress filtering at the access routers, and the attackers."""

    auth: bool = False
    ingress_filtering: bool = False
    prefix_len: int = 48                 # an access point's subnet (docs/plan-format.md)
    attacks: tuple[Attack, ...] = ()

    def __post_init__(self):
        if not 1 <= self.prefix_len <= 128:
            raise ValueError(f"prefix_len must be in [1, 128], got {self.prefix_len}")


_SECURITY_KEYS = {"auth", "ingress_filtering", "prefix_len", "attacks", "location_manager"}
_ATTACK_KEYS = {"kind", "t_s", "attempts", "interval_s", "address"}


def parse_security(raw, where: str) -> SecurityConfig:
    """Validate a scenario's raw ``[security]`` table (with ``[[security.attacks]]``; its
    ``[security.location_manager]`` is checked by :func:`tables.parse_location_manager`);
    raise :class:`InputError` naming ``where`` and the key."""
    check_keys(raw, _SECURITY_KEYS, where, "security.")
    parse_location_manager(raw.get("location_manager"), where)
    attacks = []
    for p, item in table_items(raw.get("attacks", []), where, "security.attacks",
                               _ATTACK_KEYS):
        kind = table_choice(item, "kind", ATTACK_KINDS, where, p)
        address = item.get("address")
        if address is not None:
            table_value(item, "address", str, where, p)
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise InputError(f"not an IP address: {address!r}", path=where,
                                 key=p + "address") from None
        attacks.append(Attack(
            kind=kind, t_s=table_value(item, "t_s", float, where, p, minimum=0),
            attempts=table_value(item, "attempts", int, where, p, 1, minimum=1),
            interval_s=table_value(item, "interval_s", float, where, p, 1.0, minimum=1e-6),
            address=address))
    prefix_len = table_value(raw, "prefix_len", int, where, "security.", 48, minimum=1)
    if prefix_len > 128:
        raise InputError(f"must be <= 128, got {prefix_len}", path=where,
                         key="security.prefix_len")
    return SecurityConfig(auth=table_value(raw, "auth", bool, where, "security.", False),
                          ingress_filtering=table_value(raw, "ingress_filtering", bool, where,
                                                        "security.", False),
                          prefix_len=prefix_len, attacks=tuple(attacks))


# -- the run -----------------------------------------------------------------------------

def run_hooked(replay: Replay, cfg: SimConfig, *, protocol: str = "sigma",
               mip: MipConfig | None = None, extra_links: dict[str, Link] | None = None,
               log_factory=PacketLog, prepare=None,
               association=Association) -> tuple[dict, Outcome]:
    """Run one replay as :func:`sigma_sn.sim.run.run_replay` does (same random streams,
    same report), with room for more: ``extra_links`` join the MH's links,
    ``log_factory(ap_names)`` makes the packet log, ``association`` is the SIGMA
    endpoint class, and ``prepare(env, endpoint)`` installs hooks and actors before the
    clock starts. Return ``(report, outcome)``."""
    out = run.run_replay(replay, cfg, protocol=protocol, mip=mip, extra_links=extra_links,
                         log_factory=log_factory, association=association, prepare=prepare)
    return run.report_from_outcomes([out], cfg, protocol), out


def prefix_filter(replay: Replay, prefix_len: int = 48):
    """The access routers' ingress filter: ``(ap, src) -> bool``, true when ``src`` lies in
    a subnet of ``ap`` (the ``prefix_len`` subnets of the addresses the plan gives it)."""
    nets: dict[str, set] = {}
    pairs = [(replay.initial_ap, replay.initial_address)]
    pairs += [(s.ap, s.address) for s in replay.steps]
    for ap, address in pairs:
        ip = ipaddress.ip_address(address)
        nets.setdefault(ap, set()).add(
            ipaddress.ip_network(f"{ip}/{min(prefix_len, ip.max_prefixlen)}", strict=False))
    verdicts: dict[tuple[str, str], bool] = {}

    def allowed(ap: str, src: str) -> bool:
        key = (ap, src)
        if key not in verdicts:
            ip = ipaddress.ip_address(src)
            verdicts[key] = any(ip in net for net in nets.get(ap, ()))
        return verdicts[key]

    return allowed


@dataclass
class AttackRecord:
    """What one attacker did and got."""

    attack: Attack
    address: str
    ap: str
    attempts: int = 0
    accepted: int = 0
    rejected: dict = field(default_factory=dict)
    valid_tags: int = 0                  # replayed chunks whose HMAC still verified
    packets_to_attacker: int = 0         # data and control packets that reached it
    data_to_attacker: int = 0
    associations_misdirected: int = 0    # new correspondents the LM sent to it

    def outcome(self, accepted: bool, verdict: str) -> None:
        self.attempts += 1
        if accepted:
            self.accepted += 1
        else:
            reason = "other" if verdict == "accepted" else verdict
            self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def summary(self) -> dict:
        a = self.attack
        return {"kind": a.kind, "t_s": a.t_s, "address": self.address,
                "attempts": self.attempts, "accepted": self.accepted,
                "rejected": sum(self.rejected.values()),
                "rejected_by": dict(sorted(self.rejected.items())),
                "replayed_with_valid_tag": self.valid_tags,
                "packets_to_attacker": self.packets_to_attacker,
                "data_packets_to_attacker": self.data_to_attacker,
                "associations_misdirected": self.associations_misdirected}


class _AttackerLink(Link):
    """The Internet path from the CN to an attacker: always up, counts what arrives."""

    def __init__(self, record: AttackRecord, cfg: SimConfig, end_s: float):
        super().__init__(LinkGeometry.constant(record.ap, 0.0, [(0.0, end_s + 3600.0)],
                                               end_s=end_s + 3600.0),
                         capacity_bps=cfg.capacity_bps, queue_pkts=cfg.queue_pkts)
        self.record = record

    def send(self, t_entry, size_bytes, direction):
        arrival, cause = super().send(t_entry, size_bytes, direction)
        if cause is None and direction == "down":
            self.record.packets_to_attacker += 1
        return arrival, cause


class _AttackLog(PacketLog):
    """A data packet the CN delivered to an attacker never reached the MH: log it as lost
    (``no_route``, relabelled ``to_attacker`` in the report) and count it."""

    def __init__(self, ap_names, records: dict[str, AttackRecord]):
        super().__init__(ap_names)
        self.records = records

    def add(self, sent, arrival, ap, cause):
        rec = self.records.get(ap)
        if rec is not None and cause is None:
            rec.data_to_attacker += 1
            cause = "no_route"
        super().add(sent, arrival, ap, cause)


def _deliver_asconf(assoc: Association, guard: Guard, rec: AttackRecord, c: Captured):
    """A forged or replayed ASCONF reaches the CN: judge it, hand it over, see what stuck."""
    before = assoc.cn_serial
    verdict = verify_asconf(guard.key, before + 1, c.serial, c.action, c.address, c.tag)
    if guard.key is not None and verdict != "bad_tag" and rec.attack.kind == "replay":
        rec.valid_tags += 1
    assoc.cn_receive_asconf(c.serial, c.action, c.address, c.src, c.tag)
    rec.outcome(assoc.cn_serial == c.serial != before, verdict)


def _deliver_lm(assoc: Association, guard: Guard, rec: AttackRecord, address: str, auth):
    verdict = guard.lm_verdict(address, auth)
    n = len(assoc.lm_history)
    assoc.lm_receive_update(address, auth)
    rec.outcome(len(assoc.lm_history) > n, verdict)


def _attacker(env: simpy.Environment, assoc: Association, guard: Guard, rec: AttackRecord,
              forger_key: bytes):
    """One attacker's process: ``attempts`` rounds ``interval_s`` apart from ``t_s``."""
    cfg, a = assoc.cfg, rec.attack
    for k in range(a.attempts):
        t = a.t_s + k * a.interval_s
        if t > env.now:
            yield env.timeout(t - env.now)
        if a.kind == "hijack":
            # ADD_IP its own address, then, once that is acknowledged, SET_PRIMARY to it;
            # as an on-path eavesdropper it knows the serial the CN expects next
            for action in ("ADD_IP", "SET_PRIMARY"):
                serial = assoc.cn_serial + 1
                forged = Captured(serial, action, rec.address, rec.address,
                                  auth_tag(forger_key, asconf_chunk(serial, action,
                                                                    rec.address)))
                assoc.at(env.now + cfg.terrestrial_s, _deliver_asconf, assoc, guard, rec,
                         forged)
                yield env.timeout(2 * cfg.terrestrial_s + 1e-3)
        elif a.kind == "replay":
            # every distinct genuine chunk captured so far, as it was on the wire
            first = {}
            for c in guard.captured:
                first.setdefault(c.serial, c)
            for serial in sorted(first):
                assoc.at(env.now + cfg.terrestrial_s, _deliver_asconf, assoc, guard, rec,
                         first[serial])
        else:
            seq = guard.lm_seq_seen + 1
            auth = (seq, lm_tag(forger_key, guard.mobile, seq, rec.address))
            assoc.at(env.now + cfg.lm_terrestrial_s, _deliver_lm, assoc, guard, rec,
                     rec.address, auth)


def simulate_with_attacks(replay: Replay, cfg: SimConfig,
                          security: SecurityConfig = SecurityConfig()) -> dict:
    """Replay ``replay`` with SIGMA-SN under ``security``: authentication on or off,
    ingress filtering, attackers. Return the normal report plus a ``"security"`` section;
    data delivered to an attacker counts as lost (``loss_causes["to_attacker"]``)."""
    if security.attacks and cfg.traffic != "cbr":
        raise ValueError("attacks are replayed with CBR traffic only")
    records: dict[str, AttackRecord] = {}
    for i, a in enumerate(security.attacks):
        address = a.address or f"{ATTACKER_PREFIX}{i + 1:x}"
        records[f"attacker-{i + 1}"] = AttackRecord(a, address, f"attacker-{i + 1}")
    extra = {ap: _AttackerLink(rec, cfg, replay.duration_s) for ap, rec in records.items()}
    guard = Guard(replay.mobile, cfg.seed, security.auth)
    by_address = {rec.address: rec for rec in records.values()}

    def lm_answer(asked: float, answer: str, reachable: bool) -> None:
        rec = by_address.get(answer)
        if rec is not None:             # a new correspondent's INIT goes to the attacker
            rec.associations_misdirected += 1
            rec.packets_to_attacker += 1

    def prepare(env, assoc: Association) -> None:
        assoc.guard = guard
        assoc.lm_answer_hook = lm_answer
        if security.ingress_filtering:
            assoc.ingress_filter = prefix_filter(replay, security.prefix_len)
        for ap, rec in records.items():
            assoc.addr_ap[rec.address] = ap
            forger = derive_key(cfg.seed, replay.mobile, f"attacker-{ap}")
            env.process(_attacker(env, assoc, guard, rec, forger))

    report, out = run_hooked(replay, cfg, extra_links=extra, prepare=prepare,
                             log_factory=lambda names: _AttackLog(names, records))
    assoc = out.endpoint
    hijacked = sum(rec.data_to_attacker for rec in records.values())
    if hijacked:
        report["loss_causes"]["no_route"] -= hijacked
    report["loss_causes"]["to_attacker"] = hijacked
    attacks = [rec.summary() for rec in records.values()]
    forged_rejections = {"asconf": 0, "lm_update": 0}
    for rec in records.values():
        kind = "lm_update" if rec.attack.kind == "bogus_lm_update" else "asconf"
        guarded = ("bad_tag", "stale_sequence") if kind == "lm_update" else ("bad_tag",)
        forged_rejections[kind] += sum(rec.rejected.get(r, 0) for r in guarded)
    report["security"] = {
        "auth": {"asconf": security.auth, "lm_update": security.auth,
                 "algorithm": "HMAC-SHA-256" if security.auth else None},
        "ingress_filtering": security.ingress_filtering,
        "genuine_rejected": {k: guard.rejected[k] - forged_rejections[k]
                             for k in sorted(guard.rejected)},
        "attacks": attacks,
        "packets_to_attacker": sum(a["packets_to_attacker"] for a in attacks),
        "cn_primary_at_end": assoc.primary,
        "lm_record_at_end": assoc.lm_record,
    }
    return report


def ingress_comparison(replay: Replay, cfg: SimConfig, mip: MipConfig | None = None,
                       prefix_len: int = 48) -> dict:
    """Uplink CBR through access routers that filter ingress (paper §5.1-5.2): SIGMA-SN
    with its topologically correct sources, Mobile IP without and with reverse
    tunnelling. Return one row per case and the reverse tunnel's detour."""
    up = replace(cfg, direction="up", traffic="cbr")
    mip = mip or MipConfig()
    cases = [("sigma", None,
              simulate_with_attacks(replay, up, SecurityConfig(ingress_filtering=True,
                                                               prefix_len=prefix_len)))]
    for rt in (False, True):
        m = replace(mip, ingress_filtering=True, reverse_tunnel=rt)
        cases.append(("mip", rt, run.simulate(replay, up, protocol="mip", mip=m)))
    rows = []
    for protocol, rt, rep in cases:
        p = rep["packets"]
        rows.append({"protocol": protocol, "reverse_tunnel": rt, "sent": p["sent"],
                     "delivered": p["delivered"], "lost": p["lost"],
                     "ingress_filtered": rep["loss_causes"]["ingress_filtered"],
                     "delivered_share": round(p["delivered"] / p["sent"], 6) if p["sent"]
                     else None,
                     "latency_p50_ms": rep["latency_ms"]["p50"]})
    sigma_p50, rt_p50 = rows[0]["latency_p50_ms"], rows[2]["latency_p50_ms"]
    detour = None if sigma_p50 is None or rt_p50 is None else round(rt_p50 - sigma_p50, 3)
    return {"rows": rows, "reverse_tunnel_detour_ms": detour}


__all__ = ["ATTACK_KINDS", "Attack", "Guard", "SecurityConfig", "asconf_chunk", "auth_tag",
           "derive_key", "ingress_comparison", "lm_update_message", "parse_security",
           "prefix_filter", "run_hooked", "simulate_with_attacks", "verify_asconf"]
