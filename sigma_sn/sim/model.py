"""The SimPy replay of a SIGMA-SN plan: an SCTP-like multihomed association between a
correspondent node (CN) and a mobile host (MH), packet by packet.

What happens, and where it happens:

* the plan's steps (ADDRESS_READY, ADD_IP, SET_PRIMARY, LM_UPDATE, DELETE_IP or
  DEACTIVATE) run at their planned times at the MH, except that a new address cannot
  be ready before its access point has really risen (:meth:`Association.step_times`);
* ASCONF chunks (ADD_IP, SET_PRIMARY, DELETE_IP) travel MH -> CN over the modelled
  links, the CN applies them on arrival and answers with an ASCONF-ACK to the source
  address of the ASCONF; an unanswered ASCONF is retransmitted on RTO (RFC 5061: one
  outstanding at a time, later ones wait);
* data goes to the CN's primary destination; losses and delays come from the links
  (down, queue overflow, random), never from a number put in by hand;
* the location manager (LM) is updated by the MH and queried by new correspondents.

Times are seconds after the plan's start. Sizes are bytes on the wire.
"""

from __future__ import annotations

import math
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

#: steps about the new access point's address: none can happen before the address exists
NEW_ADDRESS_ACTIONS = ("ADDRESS_READY", "ADD_IP", "SET_PRIMARY", "LM_UPDATE")
#: a real rise within this of the plan's is the plan's (the same windows, rounded apart)
RISE_TOLERANCE_S = 1e-6

CAUSES = ("link_down", "queue_overflow", "random_loss", "no_route", "coa_gone",
          "ingress_filtered")


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
    # new access point really rises its address can be ready
    address_setup_s: float = 0.0


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
    sack_delay_s: float = 0.2
    mtu_bytes: int = 1500
    keep_trace: bool = False

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


@dataclass
class Destination:
    """The CN's view of one of the MH's addresses."""

    address: str
    ap: str
    active: bool = True             # not failed (path failure after Path.Max.Retrans)
    zero_window: bool = False       # deactivated by the MH (SIGMA's zig-zag case)

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
        # MH side
        self.bound = {replay.initial_address}
        self.src_primary = replay.initial_address
        self.asconf_queue: list[tuple[str, str]] = []     # (action, address) waiting
        self.asconf_outstanding = None                    # (serial, action, address, t_sent, tries)
        self.asconf_serial = 0
        self.mh_rto = RtoEstimator(cfg)
        # CN side
        self.dests = {replay.initial_address: self._new_dest(replay.initial_address)}
        self.primary = replay.initial_address
        self.cn_serial = 0                                # next ASCONF serial the CN expects
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

    # -- plumbing ------------------------------------------------------------------
    def _new_dest(self, address: str) -> Destination:
        return Destination(address, self.addr_ap[address])

    def at(self, t: float, fn, *args) -> None:
        call_at(self.env, t, fn, *args)

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

    def mh_route(self, t: float) -> str | None:
        """The MH's source address for a packet now: its primary if that link is up,
        else any bound address whose link is up (newest first)."""
        if self.links[self.addr_ap[self.src_primary]].is_up(t):
            return self.src_primary
        for a in sorted(self.bound, reverse=True):
            if self.links[self.addr_ap[a]].is_up(t):
                return a
        return None

    # -- the plan, at the MH -----------------------------------------------------------
    def step_times(self) -> tuple[Step, ...]:
        """The plan's steps at the times they can really happen.

        Step 1 (L2 handover, router advertisement, DAD) cannot start before the new
        access point is above the mask, so a handover's address is ready at
        ``max(planned, real rise + address_setup_s)``; its ADD_IP, SET_PRIMARY and
        LM_UPDATE wait for it (a SET_PRIMARY then follows ADD_IP's ack, one ASCONF being
        outstanding at a time). The real rise is the start of the up interval the plan's
        ready time falls in, or the next one. Steps that can never happen are dropped.
        """
        ready: dict[int, float] = {}
        for s in self.replay.steps:
            if s.action == "ADDRESS_READY" and s.handover not in ready:
                link = self.links[s.ap]
                rise = link.up_since(s.t_s) if link.is_up(s.t_s) else link.next_up(s.t_s)
                t = rise + self.replay.address_setup_s
                ready[s.handover] = t if t > s.t_s + RISE_TOLERANCE_S else s.t_s
        out = [replace(s, t_s=ready[s.handover])
               if s.action in NEW_ADDRESS_ACTIONS and ready.get(s.handover, -math.inf) > s.t_s
               else s for s in self.replay.steps]
        # stable: steps that meet at one instant keep the plan's order
        return tuple(sorted((s for s in out if s.t_s < math.inf), key=lambda s: s.t_s))

    def run_plan(self):
        for step in self.steps:
            if step.t_s > self.env.now:
                yield self.env.timeout(step.t_s - self.env.now)
            self.stats.events.append((self.env.now, step.action, step.address))
            if step.action == "ADDRESS_READY":
                self.bound.add(step.address)
            elif step.action in ("ADD_IP", "DELETE_IP"):
                self.queue_asconf(step.action, step.address, step.handover)
            elif step.action == "SET_PRIMARY":
                self.queue_asconf(step.action, step.address, step.handover)
                self.src_primary = step.address     # the MH's routing table follows at once
                self.mh_switch.setdefault(step.handover, self.env.now)
            elif step.action == "LM_UPDATE":
                self.send_lm_update(step.address, tries=0)
            elif step.action == "DEACTIVATE":
                self.send_zero_window(step.address)
            else:
                raise ValueError(f"unknown plan action {step.action!r}")

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

    def _transmit_asconf(self) -> None:
        serial, action, address, _, tries = self.asconf_outstanding
        now = self.env.now
        self.asconf_outstanding[3] = now
        self.stats.signal("ASCONF", ASCONF_BYTES)
        src = self.mh_route(now)
        if src is not None:
            arrival, cause = self.up(now, src, ASCONF_BYTES)
            if cause is None:
                tag = (None if self.guard is None
                       else self.guard.sign_asconf(serial, action, address, src))
                self.at(arrival, self.cn_receive_asconf, serial, action, address, src, tag)
        # T-4 RTO timer: retransmit unless acknowledged
        token = (serial, tries)
        self.at(now + self.mh_rto.rto, self._asconf_timeout, token)

    def _asconf_timeout(self, token) -> None:
        out = self.asconf_outstanding
        if out is None or (out[0], out[4]) != token:
            return
        self.mh_rto.backoff()
        out[4] += 1
        self.stats.retransmit("ASCONF")
        self._transmit_asconf()

    def cn_receive_asconf(self, serial, action, address, src, tag=None) -> None:
        """An ASCONF arrives at the CN from ``src``; ``tag`` is its SCTP-AUTH HMAC."""
        now = self.env.now
        if self.guard is not None and not self.guard.admit_asconf(serial, action, address,
                                                                  tag):
            return                     # RFC 4895 §6.3: an unauthenticated ASCONF is discarded
        if serial == self.cn_serial + 1:
            self.cn_serial = serial
            self.stats.events.append((now, f"CN_{action}", address))
            if action == "ADD_IP":
                if address in self.dests:
                    d = self.dests[address]
                    d.zero_window, d.active = False, True
                else:
                    self.dests[address] = self._new_dest(address)
            elif action == "SET_PRIMARY":
                if address not in self.dests:
                    self.dests[address] = self._new_dest(address)
                self.primary = address
                self.dests[address].zero_window = False
                sent = self.asconf_sent.get(serial)
                if sent is not None and sent[:2] == (action, address) and sent[2] is not None:
                    self.cn_switch.setdefault(sent[2], now)     # the MH's own, not a forgery
            elif action == "DELETE_IP":
                if address in self.dests and address != self.primary:
                    del self.dests[address]
        # the ACK goes to the ASCONF's source address (RFC 5061 §4.2); duplicates are re-ACKed
        if serial <= self.cn_serial:
            self.stats.signal("ASCONF-ACK", ASCONF_ACK_BYTES)
            arrival, cause = self.down(now, src, ASCONF_ACK_BYTES)
            if cause is None:
                self.at(arrival, self.mh_receive_asconf_ack, serial)

    def mh_receive_asconf_ack(self, serial) -> None:
        out = self.asconf_outstanding
        if out is None or out[0] != serial:
            return
        if out[4] == 0:                               # Karn: no sample from a retransmission
            self.mh_rto.sample(self.env.now - out[3])
        if out[1] == "DELETE_IP":
            self.bound.discard(out[2])
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
        src = self.mh_route(now)
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
        None if it never did) and ``t_first_s`` the same, or the planned switch."""
        switched = self.cn_switch if self.cfg.direction == "down" else self.mh_switch
        out = []
        for h in self.replay.handovers:
            t = switched.get(h.index)
            out.append((h.t_s if t is None else t, t, h.from_ap, h.to_ap))
        return out

    def lm_summary(self) -> tuple[list, int]:
        return self.lm_history, len(self.lm_history) - 1

    # -- where data goes ------------------------------------------------------------------
    def cn_destination(self) -> str | None:
        """The CN's destination for new data: the primary if usable, else another."""
        d = self.dests.get(self.primary)
        if d is not None and d.usable():
            return self.primary
        for a in sorted(self.dests):
            if self.dests[a].usable():
                return a
        return None


def build_links(replay: Replay, cfg: SimConfig, rng: np.random.Generator) -> dict[str, Link]:
    """One :class:`Link` per access point, each with its own seeded loss stream."""
    seeds = rng.integers(0, 2**63, size=len(replay.links))
    return {g.ap: Link(g, capacity_bps=cfg.capacity_bps, queue_pkts=cfg.queue_pkts,
                       loss_prob=cfg.loss_prob, loss_prob_at_horizon=cfg.loss_prob_at_horizon,
                       rng=np.random.default_rng(int(s)))
            for g, s in zip(replay.links, seeds)}


class PacketLog:
    """Per-packet outcome: send time, arrival (NaN if lost), access point index, loss
    cause (-1 if delivered). Appends go to compact arrays; ``trimmed()`` gives numpy."""

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

    def trimmed(self) -> "PacketLog":
        """Freeze the log into numpy arrays ``sent_s``, ``arrival_s``, ``ap``, ``cause``."""
        self.sent_s = np.frombuffer(self._sent, dtype=np.float64)
        self.arrival_s = np.frombuffer(self._arrival, dtype=np.float64)
        self.ap = np.frombuffer(self._ap, dtype=np.int32)
        self.cause = np.frombuffer(self._cause, dtype=np.int8)
        return self


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
                    add(t, t, None, "no_route")
                else:
                    arrival, cause = assoc.down(t, dest, size)
                    add(t, arrival, addr_ap[dest], cause)
            else:
                src = assoc.src_primary
                arrival, cause = assoc.up(t, src, size)
                add(t, arrival, addr_ap[src], cause)
            k += 1
            t = k * interval
            if k >= n or t >= horizon:
                break
