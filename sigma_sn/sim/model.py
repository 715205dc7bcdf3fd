"""The SimPy replay of a SIGMA-SN plan: an SCTP-like multihomed association between a
correspondent node (CN) and a mobile host (MH), packet by packet.

What happens, and where it happens:

* the plan's steps (ADDRESS_READY, ADD_IP, SET_PRIMARY, LM_UPDATE, DELETE_IP or
  DEACTIVATE) run at their planned times at the MH, except that a new address cannot
  be ready before its access point has really risen (:meth:`Association.step_times`);
* ASCONF chunks (ADD_IP, SET_PRIMARY, DELETE_IP) travel MH -> CN over the modelled
  links, the CN applies them on arrival (or refuses them with an Error Cause) and
  answers with an ASCONF-ACK to the source address of the ASCONF; an unanswered ASCONF
  is retransmitted on RTO (RFC 5061: one outstanding at a time, later ones wait) and
  the association is aborted after Assoc.Max.Retrans retransmissions;
* the MH sends SCTP packets other than ASCONF only from addresses the CN has
  acknowledged; the CN drops any other packet as out of the blue (RFC 4960 §8.4);
* each endpoint keeps one path state per destination address (RTO, error counter,
  active or not) that data, HEARTBEATs and ASCONFs share, and probes every destination
  with HEARTBEATs (:class:`Destination`, RFC 4960 §6.3, §8.2, §8.3);
* data goes to the CN's primary destination, or another active one (RFC 4960 §6.4);
  losses and delays come from the links (down, queue overflow, random), never from a
  number put in by hand;
* the location manager (LM) is updated by the MH and queried by new correspondents.

Times are seconds after the plan's start. Sizes are bytes on the wire.
"""

from __future__ import annotations

import math
import zlib
from typing import Any
from array import array
from dataclasses import dataclass, field, replace

import numpy as np
import simpy

from sigma_sn.sim.links import Link, LinkGeometry

# Wire sizes (bytes): IPv6 header 40 + SCTP common header 12 + chunk.
IP6_SCTP_BYTES = 52
ASCONF_BYTES = IP6_SCTP_BYTES + 8 + 24       # chunk header + serial, one IPv6 address param
ASCONF_ACK_BYTES = IP6_SCTP_BYTES + 8
SACK_BYTES = IP6_SCTP_BYTES + 16
ZERO_WINDOW_BYTES = SACK_BYTES                # a SACK advertising a_rwnd = 0 for the address
LM_UPDATE_BYTES = 40 + 8 + 60                 # IPv6 + UDP + a DNS UPDATE-sized record
DATA_HEADER_BYTES = IP6_SCTP_BYTES + 16       # DATA chunk header
# RFC 4960 §3.3.5-6: chunk header + Heartbeat Info (a send time and a nonce), echoed back
HEARTBEAT_BYTES = IP6_SCTP_BYTES + 4 + 4 + 16
# RFC 4895 §4.2: AUTH chunk = 8-byte header + HMAC (32 bytes for HMAC-SHA-256, 20 for SHA-1)
AUTH_CHUNK_BYTES = 8 + 32
# RFC 5061 §4.2.2, §5.2: an Error Cause Indication in an ASCONF-ACK (parameter header,
# correlation ID, then the cause with the offending address or request TLV)
ASCONF_ERROR_BYTES = {"unresolvable_address": 8 + 4 + 20,
                      "request_to_delete_source_address": 8 + 4 + 28,
                      "request_to_delete_last_remaining_address": 8 + 4 + 28}
#: the MH's one destination: the CN (not multihomed in this model)
CN = "CN"

#: steps about the new access point's address: none can happen before the address exists
NEW_ADDRESS_ACTIONS = ("ADDRESS_READY", "ADD_IP", "SET_PRIMARY", "LM_UPDATE")
#: the HEARTBEAT jitter's random stream, apart from the links' and the LM queries'
HB_STREAM = 0x4842
#: the router advertisements' random stream (:func:`ra_wait_s`), one draw per handover
RA_STREAM = 0x5241
#: a real rise within this of the plan's is the plan's (the same windows, rounded apart)
RISE_TOLERANCE_S = 1e-6

# new causes go at the end: a packet log stores the index. ``buffer_expired``: FMIPv6's
# NAR held the packet for the MH past ``fmip_buffer_s`` (a route existed, the MH did not
# come in time), apart from ``no_route`` so a reader can tell the two apart
CAUSES = ("link_down", "queue_overflow", "random_loss", "no_route", "coa_gone",
          "ingress_filtered", "out_of_the_blue", "association_aborted", "buffer_expired")


@dataclass(frozen=True)
class Step:
    """One planned action at the mobile host."""

    t_s: float
    action: str            # ADDRESS_READY, ADD_IP, SET_PRIMARY, LM_UPDATE, DELETE_IP, DEACTIVATE
    address: str           # the address the action is about
    ap: str                # the access point that owns ``address``
    handover: int          # index of the handover this step belongs to


@dataclass(frozen=True)
class Handover:
    index: int
    from_ap: str
    to_ap: str
    t_s: float             # planned SET_PRIMARY
    feasible: bool


@dataclass(frozen=True)
class Replay:
    """Everything one mobile's replay needs: geometry of its links and its plan."""

    mobile: str
    start_utc: str
    duration_s: float
    links: tuple[LinkGeometry, ...]
    initial_ap: str
    initial_address: str
    steps: tuple[Step, ...]
    handovers: tuple[Handover, ...] = ()
    # L2 handover + router advertisement + DAD (the plan's timing): how long after the
    # new access point really rises its address can be ready, at the latest
    address_setup_s: float = 0.0
    # the RA interval within ``address_setup_s``: the plan waits all of it, the replay
    # the handover's seeded phase of it (:func:`ra_wait_s`), as every protocol does
    ra_interval_s: float = 0.0
    # shared capacity (a [path] with shared_capacity): the load of all the plan's mobiles
    # (sigma_sn.path.load.SharedLoad), the same object in every replay of the plan
    shared_load: Any = None


@dataclass(frozen=True)
class SimConfig:
    """How to drive the association. Defaults follow DESIGN.md (RFC 4960 timers)."""

    traffic: str = "cbr"                  # "cbr" (datagrams, no retransmission) or "bulk"
    direction: str = "down"               # "down": CN -> MH; "up": MH -> CN
    rate_pps: float = 100.0               # CBR packets per second
    payload_bytes: int = 1000             # user data per packet / chunk
    capacity_bps: float = 20e6            # space-link capacity, each direction
    queue_pkts: int = 200                 # drop-tail queue, packets
    loss_prob: float = 0.0                # random loss per packet per link
    loss_prob_at_horizon: float | None = None  # if set: loss grows towards the horizon
    terrestrial_s: float = 0.020          # access point <-> CN, one way
    lm_terrestrial_s: float = 0.020       # access point or CN <-> location manager, one way
    lm_query_rate_per_s: float = 0.05     # new correspondents asking the LM (Poisson)
    seed: int = 1
    rto_initial_s: float = 3.0
    rto_min_s: float = 1.0
    rto_max_s: float = 60.0
    path_max_retrans: int = 5
    assoc_max_retrans: int = 10
    hb_interval_s: float = 30.0
    sack_delay_s: float = 0.2
    mtu_bytes: int = 1500
    keep_trace: bool = False
    # bulk only: packet by packet within this many s of every event, a flow in between
    # (sim/hybrid.py); None replays every packet
    bulk_detail_s: float | None = None

    def __post_init__(self):
        if self.traffic not in ("cbr", "bulk"):
            raise ValueError(f"traffic must be 'cbr' or 'bulk', got {self.traffic!r}")
        if self.direction not in ("down", "up"):
            raise ValueError(f"direction must be 'down' or 'up', got {self.direction!r}")
        if not self.rate_pps > 0:
            raise ValueError(f"rate_pps must be > 0, got {self.rate_pps}")
        for name in ("loss_prob", "terrestrial_s", "lm_terrestrial_s", "lm_query_rate_per_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.loss_prob <= 1:
            raise ValueError(f"loss_prob must be in [0, 1], got {self.loss_prob}")
        if self.bulk_detail_s is not None and not 0 < self.bulk_detail_s < math.inf:
            raise ValueError(f"bulk_detail_s must be a positive number of seconds, got "
                             f"{self.bulk_detail_s}")


def ra_wait_s(seed: int, mobile: str, handover: int, ra_min_s: float,
              ra_max_s: float) -> float:
    """How long after attaching to handover ``handover``'s access point the mobile hears
    a router advertisement, the same for every protocol (common random numbers: where
    the protocols differ it is the protocol, not the dice).

    RFC 4861 §6.2.4: a router sends unsolicited RAs at intervals drawn uniformly in
    [MinRtrAdvInterval, MaxRtrAdvInterval] (RFC 6275 §7.5 lets a Mobile IPv6 router go
    down to 30-70 ms); the mobile arrives at a uniform phase of the current interval and,
    not soliciting one, waits for the next (RFC 6275 §11.5.1: movement detection by
    unsolicited RAs). Seeded by (seed, mobile, handover), apart from every other stream.
    """
    rng = np.random.default_rng([seed, zlib.crc32(mobile.encode()), RA_STREAM, handover])
    u_interval, u_phase = rng.random(2)
    return float(u_phase * (ra_min_s + u_interval * (ra_max_s - ra_min_s)))


def call_at(env: simpy.Environment, t: float, fn, *args) -> None:
    """Call ``fn(*args)`` at absolute time ``t`` (a callback, no process needed)."""
    ev = env.timeout(max(0.0, t - env.now))
    ev.callbacks.append(lambda _ev: fn(*args))


class RtoEstimator:
    """RFC 4960 §6.3: SRTT, RTTVAR, RTO with min/max and exponential backoff."""

    def __init__(self, cfg: SimConfig):
        self.cfg = cfg
        self.rto = cfg.rto_initial_s
        self.srtt = None
        self.rttvar = None

    def sample(self, rtt_s: float) -> None:
        if self.srtt is None:
            self.srtt, self.rttvar = rtt_s, rtt_s / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt_s)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt_s
        self.rto = min(max(self.srtt + 4 * self.rttvar, self.cfg.rto_min_s), self.cfg.rto_max_s)

    def backoff(self) -> None:
        self.rto = min(2 * self.rto, self.cfg.rto_max_s)


class Destination:
    """One destination transport address and its path state, as its sender sees it: the
    CN's view of one of the MH's addresses, or the MH's view of the CN (``ap`` None).

    Data, HEARTBEATs and ASCONFs sent to it share one RTO estimator (RFC 4960 §6.3,
    RFC 5061 §5.1 B3) and one error counter (§8.2).
    """

    __slots__ = ("address", "ap", "rto", "errors", "active", "zero_window", "removed",
                 "last_data_s", "hb_round_s", "hb_sent_s")

    def __init__(self, address: str, ap: str | None, cfg: SimConfig, now_s: float):
        self.address = address
        self.ap = ap
        self.rto = RtoEstimator(cfg)    # RTO.Initial for a new address (§6.3.1 C1)
        self.errors = 0
        self.active = True              # not failed (path failure after Path.Max.Retrans)
        self.zero_window = False        # deactivated by the MH (SIGMA's zig-zag case)
        self.removed = False            # deleted from the association: stop probing
        # last DATA sent to it that will be acknowledged: bulk data makes a destination
        # busy (no HEARTBEAT needed, §8.3); CBR datagrams are not acknowledged in this
        # model, so their destination is probed as if idle
        self.last_data_s = -math.inf
        self.hb_round_s = now_s         # when the HEARTBEAT timer last ran
        self.hb_sent_s = None           # send time of an unanswered HEARTBEAT

    def usable(self) -> bool:
        return self.active and not self.zero_window


@dataclass
class Stats:
    """Counters the report is made of."""

    messages: dict = field(default_factory=lambda: {})
    bytes: dict = field(default_factory=lambda: {})
    retransmissions: dict = field(default_factory=lambda: {})
    lm_queries: int = 0
    lm_stale_answers: int = 0
    lm_query_latency_s: list = field(default_factory=list)
    path_failures: list = field(default_factory=list)
    path_events: list = field(default_factory=list)   # (t_s, address, "failed"/"recovered")
    asconf_errors: dict = field(default_factory=lambda: {})
    aborted_s: float | None = None                    # Assoc.Max.Retrans exceeded
    events: list = field(default_factory=list)     # (t_s, what, detail) at the CN/MH/LM

    def retransmit(self, kind: str) -> None:
        self.retransmissions[kind] = self.retransmissions.get(kind, 0) + 1

    def signal(self, kind: str, size: int) -> None:
        self.messages[kind] = self.messages.get(kind, 0) + 1
        self.bytes[kind] = self.bytes.get(kind, 0) + size


class Association:
    """The CN and MH endpoints of one SCTP association, plus the LM, on one SimPy clock."""

    def __init__(self, env: simpy.Environment, replay: Replay, cfg: SimConfig,
                 links: dict[str, Link]):
        self.env = env
        self.replay = replay
        self.cfg = cfg
        self.links = links
        self.stats = Stats()
        self.addr_ap = {replay.initial_address: replay.initial_ap}
        for s in replay.steps:
            self.addr_ap[s.address] = s.ap
        # HEARTBEAT jitter (RFC 4960 §8.3), seeded per mobile
        self.hb_rng = np.random.default_rng(
            [cfg.seed, zlib.crc32(replay.mobile.encode()), HB_STREAM])
        # called when a destination becomes usable or the primary moves (senders resume)
        self.listeners: list = []
        # MH side
        self.bound = {replay.initial_address}
        # addresses the CN has acknowledged: the only sources of SCTP packets other than
        # ASCONF (RFC 5061 §4.2.1, §5.1: an added address takes effect with its ACK)
        self.confirmed = {replay.initial_address}
        self.src_primary = replay.initial_address
        self.pending_primary = None         # SET_PRIMARY to an address not yet confirmed
        self.asconf_queue: list[tuple[str, str]] = []     # (action, address) waiting
        self.asconf_outstanding = None                    # (serial, action, address, t_sent, tries)
        self.asconf_serial = 0
        self.peer = Destination(CN, None, cfg, 0.0)       # the MH's path state to the CN
        # CN side
        self.dests: dict[str, Destination] = {}
        self.primary = replay.initial_address
        self.cn_serial = 0                                # next ASCONF serial the CN expects
        self.cn_last_error = None                         # the answer to ``cn_serial``
        # LM
        self.lm_record = replay.initial_address
        self.lm_history = [(0.0, replay.initial_address)]
        self.steps = self.step_times()
        # per handover: when the MH's routing and the CN's primary moved to the new address
        self.mh_switch: dict[int, float] = {}
        self.cn_switch: dict[int, float] = {}
        self.asconf_sent: dict[int, tuple] = {}           # serial -> (action, address, handover)
        # Optional hooks (None: no effect). ``guard`` signs and checks ASCONF chunks and
        # LM updates (sim.security.Guard); ``ingress_filter(ap, src) -> bool`` is the
        # access router's source-address check; ``lm_answer_hook(t_asked, answer,
        # reachable)`` sees every answer a new correspondent gets from the LM.
        self.guard = None
        self.ingress_filter = None
        self.lm_answer_hook = None
        self._add_dest(replay.initial_address)
        self._start_heartbeat(self.peer)

    # -- plumbing ------------------------------------------------------------------
    def _add_dest(self, address: str) -> Destination:
        d = self.dests[address] = Destination(address, self.addr_ap[address], self.cfg,
                                              self.env.now)
        self._start_heartbeat(d)
        return d

    def at(self, t: float, fn, *args) -> None:
        call_at(self.env, t, fn, *args)

    def notify(self) -> None:
        for fn in self.listeners:
            fn()

    def down(self, t: float, address: str, size: int, terrestrial_s: float | None = None):
        """CN (or LM) -> MH at ``address``: terrestrial, then the access point's link."""
        ap = self.addr_ap[address]
        ter = self.cfg.terrestrial_s if terrestrial_s is None else terrestrial_s
        return self.links[ap].send(t + ter, size, "down")

    def up(self, t: float, src: str, size: int, terrestrial_s: float | None = None):
        """MH from address ``src`` -> CN (or LM): the link, then terrestrial."""
        ap = self.addr_ap[src]
        if self.ingress_filter is not None and not self.ingress_filter(ap, src):
            return t, "ingress_filtered"
        arrival, cause = self.links[ap].send(t, size, "up")
        ter = self.cfg.terrestrial_s if terrestrial_s is None else terrestrial_s
        return (arrival + ter if cause is None else arrival), cause

    def mh_route(self, t: float, among: set | None = None) -> str | None:
        """The MH's source address for a packet now: its primary if that link is up,
        else any confirmed address (``among``, if given) whose link is up, newest first."""
        if self.links[self.addr_ap[self.src_primary]].is_up(t):
            return self.src_primary
        for a in sorted(self.confirmed if among is None else among, reverse=True):
            if self.links[self.addr_ap[a]].is_up(t):
                return a
        return None

    def judge_at_cn(self, log, index: int, arrival_s: float, src: str) -> None:
        """A packet from ``src``, logged at ``index``, reaches the CN at ``arrival_s``:
        if the CN does not know ``src`` then, it is out of the blue (RFC 4960 §8.4) and
        dropped. Call this only for a source the CN does not know yet when sent."""
        self.at(arrival_s, self._judge_at_cn, log, index, src)

    def _judge_at_cn(self, log, index: int, src: str) -> None:
        if src not in self.dests:
            log.drop(index, "out_of_the_blue")

    # -- path management (RFC 4960 §8.2, §8.3) -----------------------------------------
    def path_error(self, d: Destination) -> None:
        """A T3-rtx or T-4 expiry, or a HEARTBEAT unanswered, on ``d``: back off its RTO
        (§6.3.3 E2), count an error, and past Path.Max.Retrans mark it inactive (§8.2)."""
        d.rto.backoff()
        d.errors += 1
        if d.active and d.errors > self.cfg.path_max_retrans:
            d.active = False
            self.stats.path_failures.append((self.env.now, d.address))
            self.stats.path_events.append((self.env.now, d.address, "failed"))

    def path_ok(self, d: Destination, rtt_s: float | None = None) -> None:
        """Something sent to ``d`` was acknowledged: take the RTT sample, clear the error
        counter and mark ``d`` active again (§8.3); senders waiting for a path resume."""
        if rtt_s is not None:
            d.rto.sample(rtt_s)
        d.errors = 0
        if not d.active and not d.removed:
            d.active = True
            self.stats.path_events.append((self.env.now, d.address, "recovered"))
            self.notify()

    def _start_heartbeat(self, d: Destination) -> None:
        self.at(self.env.now + self._hb_period(d), self._heartbeat, d)

    def _hb_period(self, d: Destination) -> float:
        """RFC 4960 §8.3: HB.interval plus the destination's RTO, jittered by ±RTO/2."""
        return self.cfg.hb_interval_s + d.rto.rto * (0.5 + float(self.hb_rng.random()))

    def _heartbeat(self, d: Destination) -> None:
        """The HEARTBEAT timer of ``d``: count the last probe if unanswered (its period
        exceeds the RTO it was sent with), probe again if ``d`` was idle, re-arm. An
        inactive destination is probed the same way, so it recovers when it answers."""
        if d.removed or self.stats.aborted_s is not None:
            return
        now = self.env.now
        if d.hb_sent_s is not None:
            d.hb_sent_s = None
            self.path_error(d)
        if d.last_data_s < d.hb_round_s:        # idle: no acknowledged data since
            d.hb_sent_s = now
            self._send_heartbeat(d, now)
        d.hb_round_s = now
        self.at(now + self._hb_period(d), self._heartbeat, d)

    def _send_heartbeat(self, d: Destination, now: float) -> None:
        if d.ap is not None:                    # CN -> MH address
            self.stats.signal("HEARTBEAT", HEARTBEAT_BYTES)
            arrival, cause = self.down(now, d.address, HEARTBEAT_BYTES)
            if cause is None:
                self.at(arrival, self._mh_heartbeat, d, now)
            return
        src = self.mh_route(now)                # MH -> CN
        if src is None:
            return
        self.stats.signal("HEARTBEAT", HEARTBEAT_BYTES)
        arrival, cause = self.up(now, src, HEARTBEAT_BYTES)
        if cause is None:
            self.at(arrival, self._cn_heartbeat, d, now, src)

    def _mh_heartbeat(self, d: Destination, sent_s: float) -> None:
        # RFC 4960 §8.3: the ACK goes back to the HEARTBEAT's source; the MH answers over
        # the address the HEARTBEAT reached, if it still holds it
        if d.address not in self.bound:
            return
        self.stats.signal("HEARTBEAT-ACK", HEARTBEAT_BYTES)
        arrival, cause = self.up(self.env.now, d.address, HEARTBEAT_BYTES)
        if cause is None:
            self.at(arrival, self._heartbeat_ack, d, sent_s)

    def _cn_heartbeat(self, d: Destination, sent_s: float, src: str) -> None:
        if src not in self.dests:               # §8.4: out of the blue, discarded
            return
        self.stats.signal("HEARTBEAT-ACK", HEARTBEAT_BYTES)
        arrival, cause = self.down(self.env.now, src, HEARTBEAT_BYTES)
        if cause is None:
            self.at(arrival, self._heartbeat_ack, d, sent_s)

    def _heartbeat_ack(self, d: Destination, sent_s: float) -> None:
        if d.hb_sent_s == sent_s:
            d.hb_sent_s = None
        self.path_ok(d, self.env.now - sent_s)

    # -- the plan, at the MH -----------------------------------------------------------
    def step_times(self) -> tuple[Step, ...]:
        """The plan's steps at the times they really happen.

        Step 1 (L2 handover, router advertisement, DAD) starts when the plan starts it
        (its ADDRESS_READY less ``address_setup_s``), or when the new access point really
        rises if that is later: the real rise is the start of the up interval the plan's
        ready time falls in, or the next one. The plan waits the whole RA interval; the
        address is really ready the handover's seeded RA wait (:func:`ra_wait_s`, the
        same draw every protocol meets) after L2. A hard handover's ADD_IP, SET_PRIMARY
        and LM_UPDATE are timed from the ready address (DESIGN.md: ``t_add = t_ready``,
        then one RTT each), so an early address brings them forward as much; a soft
        handover's keep the plan's times (the address was ready long before). None runs
        before its address is ready; a SET_PRIMARY then follows ADD_IP's ack, one ASCONF
        being outstanding at a time. Steps that can never happen are dropped.
        """
        replay = self.replay
        ready: dict[int, tuple[float, float]] = {}    # handover -> (planned, real) ready
        for s in replay.steps:
            if s.action == "ADDRESS_READY" and s.handover not in ready:
                link = self.links[s.ap]
                rise = link.up_since(s.t_s) if link.is_up(s.t_s) else link.next_up(s.t_s)
                start = s.t_s - replay.address_setup_s
                start = rise if rise > start + RISE_TOLERANCE_S else start
                wait = ra_wait_s(self.cfg.seed, replay.mobile, s.handover,
                                 replay.ra_interval_s, replay.ra_interval_s)
                ready[s.handover] = (s.t_s, start + replay.address_setup_s
                                     - replay.ra_interval_s + wait)
        hard = {h.index for h in replay.handovers if not h.feasible}
        out = []
        for s in replay.steps:
            if s.action in NEW_ADDRESS_ACTIONS and s.handover in ready:
                planned, real = ready[s.handover]
                t = (real if s.action == "ADDRESS_READY"
                     else max(s.t_s + min(real - planned, 0.0), real) if s.handover in hard
                     else max(s.t_s, real))
                s = replace(s, t_s=t)
            out.append(s)
        # stable: steps that meet at one instant keep the plan's order
        return tuple(sorted((s for s in out if s.t_s < math.inf), key=lambda s: s.t_s))

    def run_plan(self):
        for step in self.steps:
            if step.t_s > self.env.now:
                yield self.env.timeout(step.t_s - self.env.now)
            if self.stats.aborted_s is not None:
                return
            self.stats.events.append((self.env.now, step.action, step.address))
            if step.action == "ADDRESS_READY":
                self.bound.add(step.address)
            elif step.action in ("ADD_IP", "DELETE_IP"):
                self.queue_asconf(step.action, step.address, step.handover)
            elif step.action == "SET_PRIMARY":
                self.queue_asconf(step.action, step.address, step.handover)
                # the MH's routing table follows at once if the CN has the address, else
                # when the ADD_IP is acknowledged
                self.pending_primary = (step.address, step.handover)
                self._switch_source()
            elif step.action == "LM_UPDATE":
                self.send_lm_update(step.address, tries=0)
            elif step.action == "DEACTIVATE":
                self.send_zero_window(step.address)
            else:
                raise ValueError(f"unknown plan action {step.action!r}")

    def _switch_source(self) -> None:
        if self.pending_primary is None or self.pending_primary[0] not in self.confirmed:
            return
        address, handover = self.pending_primary
        self.pending_primary = None
        self.src_primary = address
        if handover is not None:
            self.mh_switch.setdefault(handover, self.env.now)
        self.notify()

    # -- ASCONF (RFC 5061) ----------------------------------------------------------------
    def queue_asconf(self, action: str, address: str, handover: int | None = None) -> None:
        self.asconf_queue.append((action, address, handover))
        if self.asconf_outstanding is None:
            self._send_next_asconf()

    def _send_next_asconf(self) -> None:
        if not self.asconf_queue:
            self.asconf_outstanding = None
            return
        action, address, handover = self.asconf_queue.pop(0)
        self.asconf_serial += 1
        self.asconf_sent[self.asconf_serial] = (action, address, handover)
        self.asconf_outstanding = [self.asconf_serial, action, address, self.env.now, 0]
        self._transmit_asconf()

    def auth_bytes(self) -> int:
        """The AUTH chunk bundled before an ASCONF or ASCONF-ACK when SCTP-AUTH is on
        (RFC 5061 §4.1.1: both MUST be authenticated; RFC 4895 §4.2)."""
        return 0 if self.guard is None or self.guard.key is None else AUTH_CHUNK_BYTES

    def _transmit_asconf(self) -> None:
        serial, action, address, _, tries = self.asconf_outstanding
        now = self.env.now
        self.asconf_outstanding[3] = now
        size = ASCONF_BYTES + self.auth_bytes()
        self.stats.signal("ASCONF", size)
        # an ASCONF may come from any address the MH holds (RFC 5061 §4.2.1: the CN finds
        # the association by the address parameter), e.g. the new one after a hard break
        src = self.mh_route(now, self.bound)
        if src is not None:
            arrival, cause = self.up(now, src, size)
            if cause is None:
                tag = (None if self.guard is None
                       else self.guard.sign_asconf(serial, action, address, src))
                self.at(arrival, self.cn_receive_asconf, serial, action, address, src, tag)
        # T-4 RTO timer, on the RTO of the destination (RFC 5061 §5.1 B3)
        token = (serial, tries)
        self.at(now + self.peer.rto.rto, self._asconf_timeout, token)

    def _asconf_timeout(self, token) -> None:
        out = self.asconf_outstanding
        if out is None or (out[0], out[4]) != token or self.stats.aborted_s is not None:
            return
        self.path_error(self.peer)                    # RFC 5061 §5.1 B1, B3
        if out[4] >= self.cfg.assoc_max_retrans:      # B2, RFC 4960 §8.1: the peer is gone
            self.abort()
            return
        out[4] += 1
        self.stats.retransmit("ASCONF")
        self._transmit_asconf()

    def abort(self) -> None:
        """Assoc.Max.Retrans exceeded (RFC 4960 §8.1): the association is aborted; no
        data flows and no plan step runs after this."""
        now = self.env.now
        self.stats.aborted_s = now
        self.stats.events.append((now, "ABORT", ""))
        self.asconf_outstanding = None
        self.asconf_queue.clear()
        for d in self.dests.values():          # no destination is left to send to
            d.removed = True
        self.dests.clear()

    def cn_receive_asconf(self, serial, action, address, src, tag=None) -> None:
        """An ASCONF arrives at the CN from ``src``; ``tag`` is its SCTP-AUTH HMAC."""
        now = self.env.now
        if self.guard is not None and not self.guard.admit_asconf(serial, action, address,
                                                                  tag):
            return                     # RFC 4895 §6.3: an unauthenticated ASCONF is discarded
        if serial == self.cn_serial + 1:
            self.cn_serial = serial
            self.cn_last_error = error = self._cn_apply(serial, action, address, src)
            self.stats.events.append((now, f"CN_{action}" if error is None
                                      else f"CN_{action}_REFUSED", address))
            if error is not None:
                self.stats.asconf_errors[error] = self.stats.asconf_errors.get(error, 0) + 1
        # the ACK goes to the ASCONF's source address (RFC 5061 §4.2); duplicates of the
        # last one are re-ACKed with the same answer (§5.2)
        if serial <= self.cn_serial:
            error = self.cn_last_error if serial == self.cn_serial else None
            size = (ASCONF_ACK_BYTES + self.auth_bytes()
                    + (0 if error is None else ASCONF_ERROR_BYTES[error]))
            self.stats.signal("ASCONF-ACK", size)
            arrival, cause = self.down(now, src, size)
            if cause is None:
                self.at(arrival, self.mh_receive_asconf_ack, serial, error)

    def _cn_apply(self, serial, action, address, src) -> str | None:
        """Apply one ASCONF request at the CN; return its Error Cause, or None."""
        if action == "ADD_IP":
            if address in self.dests:
                # the MH says the address works again (SIGMA's zig-zag: it was
                # deactivated, and failed while its access point was away)
                d = self.dests[address]
                d.zero_window = False
                self.path_ok(d)
            else:
                self._add_dest(address)
            self.notify()
        elif action == "SET_PRIMARY":
            if address not in self.dests:
                return "unresolvable_address"          # RFC 5061 §4.2.4, not an add
            self.primary = address
            self.dests[address].zero_window = False
            sent = self.asconf_sent.get(serial)
            if sent is not None and sent[:2] == (action, address) and sent[2] is not None:
                self.cn_switch.setdefault(sent[2], self.env.now)  # the MH's own, not a forgery
            self.notify()
        elif action == "DELETE_IP":
            if address in self.dests and len(self.dests) == 1:
                return "request_to_delete_last_remaining_address"   # RFC 5061 §5.3 F7
            if address == src:
                return "request_to_delete_source_address"           # RFC 5061 §5.3 F8
            if address in self.dests and address != self.primary:
                self.dests.pop(address).removed = True
        return None

    def mh_receive_asconf_ack(self, serial, error=None) -> None:
        out = self.asconf_outstanding
        if out is None or out[0] != serial:
            return
        # Karn: no RTT sample from a retransmission
        self.path_ok(self.peer, self.env.now - out[3] if out[4] == 0 else None)
        if error is None:
            if out[1] == "ADD_IP":
                self.confirmed.add(out[2])
                self._switch_source()
            elif out[1] == "DELETE_IP":
                self.bound.discard(out[2])
                self.confirmed.discard(out[2])
        self._send_next_asconf()

    def send_zero_window(self, address: str) -> None:
        """Deactivate ``address``: a SACK advertising a zero window for it."""
        now = self.env.now
        self.stats.signal("ZERO_WINDOW", ZERO_WINDOW_BYTES)
        src = self.mh_route(now)
        if src is None:
            return
        arrival, cause = self.up(now, src, ZERO_WINDOW_BYTES)
        if cause is None:
            self.at(arrival, self._cn_zero_window, address)

    def _cn_zero_window(self, address: str) -> None:
        if address in self.dests and address != self.primary:
            self.dests[address].zero_window = True

    # -- location manager (paper §2.3) -----------------------------------------------
    def send_lm_update(self, address: str, tries: int) -> None:
        now = self.env.now
        self.stats.signal("LM_UPDATE", LM_UPDATE_BYTES)
        src = self.mh_route(now, self.bound)        # not SCTP: any address will do
        ok = False
        if src is not None:
            arrival, cause = self.up(now, src, LM_UPDATE_BYTES, self.cfg.lm_terrestrial_s)
            if cause is None:
                ok = True
                auth = None if self.guard is None else self.guard.sign_lm(address)
                self.at(arrival, self.lm_receive_update, address, auth)
        if not ok and tries < self.cfg.path_max_retrans:
            self.at(now + self.cfg.rto_min_s, self.send_lm_update, address, tries + 1)

    def lm_receive_update(self, address: str, auth=None) -> None:
        """A location update reaches the LM; ``auth`` is its (sequence, HMAC) if signed."""
        if self.guard is not None and not self.guard.admit_lm(address, auth):
            return
        self.lm_record = address
        self.lm_history.append((self.env.now, address))

    def lm_queries(self, rng: np.random.Generator):
        """New correspondents ask the LM where the MH is, at Poisson times."""
        rate = self.cfg.lm_query_rate_per_s
        if rate <= 0:
            return
        one_way = self.cfg.lm_terrestrial_s
        while True:
            yield self.env.timeout(float(rng.exponential(1.0 / rate)))
            asked = self.env.now
            # the answer is what the LM holds when the query arrives; check it on return
            self.at(asked + one_way, self._lm_answer, asked)

    def _lm_answer(self, asked: float) -> None:
        answer = self.lm_record
        self.at(self.env.now + self.cfg.lm_terrestrial_s, self._lm_judge, asked, answer)

    def _lm_judge(self, asked: float, answer: str) -> None:
        now = self.env.now
        self.stats.lm_queries += 1
        self.stats.lm_query_latency_s.append(now - asked)
        reachable = (answer in self.bound and answer in self.dests
                     and self.links[self.addr_ap[answer]].is_up(now))
        if self.lm_answer_hook is not None:
            self.lm_answer_hook(asked, answer, reachable)
        if not reachable:
            self.stats.lm_stale_answers += 1

    def handover_times(self) -> list[tuple[float, float | None, str, str] | None]:
        """Per handover of the replay: ``(t_first_s, t_switch_s, old_ap, new_ap)``, where
        ``t_switch_s`` is when new data starts to take the new access point in send-time
        terms (the CN's switch for the downlink, the MH's routing change for the uplink;
        None if it never did) and ``t_first_s`` the same, or the planned switch, or the
        old access point's LOS where it set before that (a hard handover: the packets
        lost from then on are this handover's, as Mobile IP's break)."""
        switched = self.cn_switch if self.cfg.direction == "down" else self.mh_switch
        out = []
        for h in self.replay.handovers:
            t = switched.get(h.index)
            first = h.t_s if t is None else t
            old = self.links.get(h.from_ap)
            if old is not None:
                first = min(first, old.set_before(first))
            out.append((first, t, h.from_ap, h.to_ap))
        return out

    def lm_summary(self) -> tuple[list, int]:
        return self.lm_history, len(self.lm_history) - 1

    # -- where data goes ------------------------------------------------------------------
    def cn_destination(self) -> str | None:
        """The CN's destination for new data (RFC 4960 §6.4): the primary if usable, else
        another active one; with none active, the primary still (§6.4 leaves this case
        open; common stacks keep sending, so data, too, finds a path that came back).
        None once the association is aborted (it has no destinations left)."""
        d = self.dests.get(self.primary)
        if d is not None and d.usable():
            return self.primary
        for a in sorted(self.dests):
            if self.dests[a].usable():
                return a
        if d is None or d.zero_window:
            return None
        return self.primary

    def no_route_cause(self) -> str:
        """Why data found no destination: the association is gone, or no address is."""
        return "no_route" if self.stats.aborted_s is None else "association_aborted"


def build_links(replay: Replay, cfg: SimConfig, rng: np.random.Generator) -> dict[str, Link]:
    """One :class:`Link` per access point, each with its own seeded loss stream."""
    seeds = rng.integers(0, 2**63, size=len(replay.links))
    return {g.ap: Link(g, capacity_bps=cfg.capacity_bps, queue_pkts=cfg.queue_pkts,
                       loss_prob=cfg.loss_prob, loss_prob_at_horizon=cfg.loss_prob_at_horizon,
                       rng=np.random.default_rng(int(s)))
            for g, s in zip(replay.links, seeds)}


class PacketLog:
    """Per-packet outcome: send time, arrival (NaN if lost), access point index, loss
    cause (-1 if delivered). Appends go to compact arrays; ``trimmed()`` gives numpy.

    This log holds every packet in memory; :class:`sigma_sn.sim.spill.SpilledLog` keeps
    only the newest ones and streams the rest to disk. Readers go through
    :meth:`chunks`, which both provide."""

    #: a subclass hook: :meth:`_full` runs when ``n`` reaches this (never, here)
    _spill_at = -1

    def __init__(self, ap_names: list[str]):
        self.ap_names = ap_names
        self.ap_index = {a: i for i, a in enumerate(ap_names)}
        self._sent = array("d")
        self._arrival = array("d")
        self._ap = array("i")
        self._cause = array("b")
        self.n = 0

    def add(self, sent: float, arrival: float, ap: str | None, cause: str | None) -> None:
        self._sent.append(sent)
        if cause is None:
            self._arrival.append(arrival)
            self._cause.append(-1)
        else:
            self._arrival.append(math.nan)
            self._cause.append(CAUSES.index(cause))
        self._ap.append(-1 if ap is None else self.ap_index[ap])
        self.n += 1
        if self.n == self._spill_at:
            self._full()

    def _full(self) -> None:
        """Called when ``n`` reaches ``_spill_at``: a subclass moves packets out."""

    def drop(self, index: int, cause: str) -> None:
        """The packet logged at ``index`` turns out lost on arrival (e.g. out of the blue)."""
        self._arrival[index] = math.nan
        self._cause[index] = CAUSES.index(cause)

    def trimmed(self) -> "PacketLog":
        """Freeze the log into numpy arrays ``sent_s``, ``arrival_s``, ``ap``, ``cause``."""
        self.sent_s = np.frombuffer(self._sent, dtype=np.float64)
        self.arrival_s = np.frombuffer(self._arrival, dtype=np.float64)
        self.ap = np.frombuffer(self._ap, dtype=np.int32)
        self.cause = np.frombuffer(self._cause, dtype=np.int8)
        return self

    def chunks(self, size: int = 1 << 16):
        """Yield ``(first_index, sent_s, arrival_s, ap, cause)`` numpy slices of the
        (trimmed) log, in send order, ``size`` packets at a time."""
        for lo in range(0, self.n, size):
            hi = min(lo + size, self.n)
            yield (lo, self.sent_s[lo:hi], self.arrival_s[lo:hi], self.ap[lo:hi],
                   self.cause[lo:hi])

    def close(self) -> None:
        """Release what the log holds outside memory (nothing, here)."""


def cbr_source(assoc: Association, log: PacketLog, cfg: SimConfig, end_s: float):
    """Constant-bit-rate datagrams (no retransmission), CN -> MH or MH -> CN.

    A datagram's fate depends only on state that changes at other events, and sending
    one schedules nothing, so every datagram due before the next scheduled event is
    sent in one go: the same order of events as one SimPy event per datagram, without
    paying for 8.6 million of them a day.
    """
    env = assoc.env
    interval = 1.0 / cfg.rate_pps
    size = cfg.payload_bytes + DATA_HEADER_BYTES
    add = log.add
    addr_ap = assoc.addr_ap
    stats, dests = assoc.stats, assoc.dests
    downlink = cfg.direction == "down"
    n = int(math.ceil(end_s * cfg.rate_pps - 1e-9))
    k = 0
    while k < n:
        t = k * interval
        if t > env.now:
            yield env.timeout(t - env.now)
        horizon = env.peek()
        while True:
            if downlink:
                dest = assoc.cn_destination()
                if dest is None:
                    add(t, t, None, assoc.no_route_cause())
                else:
                    arrival, cause = assoc.down(t, dest, size)
                    add(t, arrival, addr_ap[dest], cause)
            elif stats.aborted_s is not None:
                add(t, t, None, "association_aborted")
            else:
                src = assoc.src_primary
                arrival, cause = assoc.up(t, src, size)
                add(t, arrival, addr_ap[src], cause)
                if cause is None and src not in dests:
                    assoc.judge_at_cn(log, log.n - 1, arrival, src)
            k += 1
            t = k * interval
            if k >= n or t >= horizon:
                break
