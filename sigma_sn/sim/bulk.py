"""A saturating reliable transfer over the association: SCTP's data path, simplified
where the handover does not care (one stream, no receive-window limit, no bundling).

Per destination (RFC 4960 §6.3, §7): congestion window with slow start and congestion
avoidance, fast retransmit after three miss indications, T3-rtx expiry that collapses
the window and sends the retransmission to an alternate active destination (§6.4.1).
RTO, error counting, path failure and recovery are the association's
(:class:`~sigma_sn.sim.model.Destination`), shared with HEARTBEATs and ASCONFs: a
destination that answers a HEARTBEAT again takes data again. The receiver acknowledges
every second packet or after the delayed-SACK timer, at once when it sees a gap.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sigma_sn.sim.model import (DATA_HEADER_BYTES, SACK_BYTES, Association, Destination,
                                PacketLog, SimConfig)


@dataclass
class Chunk:
    tsn: int
    size: int
    dest: str = ""
    sent_s: float = 0.0
    retransmitted: bool = False
    misses: int = 0
    acked: bool = False
    in_flight: bool = False
    marked: bool = False       # waiting for retransmission


class PathState:
    """Congestion and retransmission state for one destination address ``d``. Its timer
    tokens come from the transfer's one counter (0: none issued yet), so a wake-up left
    pending by a deleted address's state never matches the state of the address re-added."""

    def __init__(self, cfg: SimConfig, d: Destination):
        mtu = cfg.mtu_bytes
        self.d = d
        self.cwnd = float(min(4 * mtu, max(2 * mtu, 4380)))
        self.ssthresh = 1e12
        self.flight = 0
        self.partial = 0
        self.timer_token = 0
        self.timer_running = False
        # RFC 4960 §6.3.2: one T3-rtx timer per destination. A restart only moves the
        # deadline; one SimPy event is pending at a time, at ``armed_at`` (None: none)
        self.deadline_s = 0.0
        self.armed_at = None
        self.wake_token = 0


class BulkTransfer:
    """CN -> MH ("down") or MH -> CN ("up"), always with data to send."""

    def __init__(self, assoc: Association, cfg: SimConfig, log: PacketLog, end_s: float,
                 bin_s: float = 1.0, n_bins: int = 1):
        self.a = assoc
        self.cfg = cfg
        self.log = log
        self.end_s = end_s
        self.size = cfg.payload_bytes + DATA_HEADER_BYTES
        self.paths: dict[str, PathState] = {}
        self.tokens = itertools.count(1)   # T3-rtx tokens, unique across all PathStates
        self.chunks: dict[int, Chunk] = {}     # by TSN, in TSN order (sent in that order)
        self.next_tsn = 1
        self.cum_ack = 0                   # sender's view: highest TSN acked in order
        self.fast_recovery_until = 0       # RFC 4960 §7.2.4: one window reduction per loss
        # some chunk may be marked for retransmission: saves pump() a scan of the window
        # per packet (cleared by a scan that finds none)
        self.maybe_marked = False
        # receiver
        self.rcv_cum = 0
        self.rcv_above: set[int] = set()
        self.rcv_unacked = 0
        self.sack_token = 0
        self.delivered_bytes = 0
        # in-order payload bits delivered per report bin (arrival time), summed as they
        # come: a per-interval aggregate, not a per-packet list
        self.bin_s = bin_s
        self.delivered_bits = [0.0] * n_bins
        assoc.listeners.append(self.pump)         # a path came back, or the primary moved

    # -- where packets go ------------------------------------------------------------------
    def destinations(self) -> list[str]:
        if self.cfg.direction == "down":
            return [d for d in sorted(self.a.dests) if self.a.dests[d].usable()]
        return ["CN"]

    def primary(self) -> str | None:
        if self.cfg.direction == "down":
            return self.a.cn_destination()
        return "CN"

    def path(self, dest: str) -> PathState:
        """The state for ``dest``; fresh when the address is new to the association (a
        deleted and re-added address starts again from RTO.Initial and the initial
        window). A deleted address keeps its state while its chunks are out."""
        d = self.a.dests.get(dest) if self.cfg.direction == "down" else self.a.peer
        p = self.paths.get(dest)
        if p is None or (d is not None and p.d is not d):
            p = self.paths[dest] = PathState(self.cfg, d)
        return p

    def transmit(self, t: float, dest: str):
        """Send one DATA packet to ``dest``; return ``(arrival, ap, cause, src)`` where
        ``src`` is the MH's source address of an uplink packet (None downlink)."""
        if self.cfg.direction == "down":
            arrival, cause = self.a.down(t, dest, self.size)
            return arrival, self.a.addr_ap[dest], cause, None
        src = self.a.mh_route(t) or self.a.src_primary
        arrival, cause = self.a.up(t, src, self.size)
        return arrival, self.a.addr_ap[src], cause, src

    def send_sack(self, t: float):
        """Receiver -> sender: the SACK's way back; return ``(arrival, src)`` or None,
        ``src`` being the MH's source address of a SACK sent uplink."""
        self.a.stats.signal("SACK", SACK_BYTES)
        if self.cfg.direction == "down":
            src = self.a.mh_route(t)
            if src is None:
                return None
            arrival, cause = self.a.up(t, src, SACK_BYTES)
        else:
            src = None
            dest = self.a.cn_destination()
            if dest is None:
                return None
            arrival, cause = self.a.down(t, dest, SACK_BYTES)
        return None if cause else (arrival, src)

    # -- sender ------------------------------------------------------------------------------
    def start(self):
        self.pump()
        yield self.a.env.timeout(0)

    def pump(self) -> None:
        """Send what the windows allow: retransmissions first, then new data."""
        now = self.a.env.now
        if now >= self.end_s or self.a.stats.aborted_s is not None:
            return
        marked = sorted((c for c in self.chunks.values() if c.marked),
                        key=lambda c: c.tsn) if self.maybe_marked else ()
        self.maybe_marked = bool(marked)
        for c in marked:
            dest = self.alternate(c.dest)
            if dest is None or self.path(dest).flight + c.size > self.path(dest).cwnd:
                break
            self.send_chunk(c, dest, now)
        while True:
            dest = self.primary()
            if dest is None:
                return
            p = self.path(dest)
            if p.flight + self.size > p.cwnd:
                return
            c = Chunk(self.next_tsn, self.size)
            self.next_tsn += 1
            self.chunks[c.tsn] = c
            self.send_chunk(c, dest, now)

    def alternate(self, previous: str) -> str | None:
        """RFC 4960 §6.4.1: retransmit to an active destination other than the last one."""
        options = [d for d in self.destinations() if d != previous]
        return options[0] if options else self.primary()

    def send_chunk(self, c: Chunk, dest: str, now: float) -> None:
        if c.marked:
            c.retransmitted = True
        c.marked, c.in_flight, c.dest, c.sent_s, c.misses = False, True, dest, now, 0
        p = self.path(dest)
        p.flight += c.size
        p.d.last_data_s = now                  # not idle: no HEARTBEAT needed (§8.3)
        arrival, ap, cause, src = self.transmit(now, dest)
        self.log.add(now, arrival, ap, cause)
        if cause is None:
            self.a.at(arrival, self.receive, c.tsn, c.size, src, self.log.n - 1)
        if not p.timer_running:
            self.start_timer(dest)

    def start_timer(self, dest: str) -> None:
        """(Re)start the T3-rtx timer of ``dest`` (RFC 4960 §6.3.2 R1, R3). Most SACKs
        restart it: that moves the deadline and schedules nothing, unless the deadline
        comes before the pending wake-up (a shorter RTO)."""
        p = self.path(dest)
        p.timer_token = next(self.tokens)
        p.timer_running = True
        p.deadline_s = self.a.env.now + p.d.rto.rto
        if p.armed_at is None or p.deadline_s < p.armed_at:
            self._arm(dest, p)

    def _arm(self, dest: str, p: PathState) -> None:
        p.armed_at = p.deadline_s
        p.wake_token = next(self.tokens)
        self.a.at(p.deadline_s, self._t3_wake, dest, p.wake_token)

    def _t3_wake(self, dest: str, token: int) -> None:
        p = self.path(dest)
        if token != p.wake_token:
            return                              # superseded by an earlier wake-up
        p.armed_at = None
        if not p.timer_running:
            return
        if self.a.env.now < p.deadline_s:       # restarted since: sleep until then
            self._arm(dest, p)
            return
        self.t3_expired(dest, p.timer_token)

    def t3_expired(self, dest: str, token: int) -> None:
        p = self.path(dest)
        if token != p.timer_token or not p.timer_running:
            return
        mtu = self.cfg.mtu_bytes
        p.ssthresh = max(p.cwnd / 2, 4 * mtu)
        p.cwnd = mtu
        p.partial = 0
        self.a.path_error(p.d)                 # §6.3.3 E2 backoff, §8.2 error count
        for c in self.chunks.values():
            if c.in_flight and not c.acked and c.dest == dest:
                c.in_flight, c.marked = False, True
                self.maybe_marked = True
                c.retransmitted = True          # so it goes to an alternate address
        p.flight = 0
        p.timer_running = False
        self.pump()
        if any(c.in_flight and c.dest == dest for c in self.chunks.values()):
            self.start_timer(dest)

    def on_sack(self, cum: int, gaps: frozenset, src: str | None = None) -> None:
        now = self.a.env.now
        if src is not None and src not in self.a.dests:
            return                             # RFC 4960 §8.4: out of the blue
        mtu = self.cfg.mtu_bytes
        newly = []
        for tsn in range(self.cum_ack + 1, cum + 1):
            c = self.chunks.get(tsn)
            if c is not None and not c.acked:
                newly.append(c)
        for tsn in gaps:
            c = self.chunks.get(tsn)
            if c is not None and not c.acked:
                newly.append(c)
        acked_per_dest: dict[str, int] = {}
        answered = set()
        for c in newly:
            c.acked = True
            if c.in_flight:
                c.in_flight = False
                p = self.path(c.dest)
                p.flight = max(0, p.flight - c.size)
                acked_per_dest[c.dest] = acked_per_dest.get(c.dest, 0) + c.size
                if not c.retransmitted:
                    p.d.rto.sample(now - c.sent_s)
                    answered.add(c.dest)
            c.marked = False
        for dest, nbytes in acked_per_dest.items():
            p = self.path(dest)
            if dest in answered:
                # §8.3: an ack clears the error counter of the address the chunk went to;
                # not for a retransmission, whose ack may be for an earlier copy sent
                # elsewhere (the ambiguity §8.3 allows resolving this way)
                self.a.path_ok(p.d)
            if p.cwnd <= p.ssthresh:                       # slow start
                p.cwnd += min(nbytes, mtu)
            else:                                          # congestion avoidance
                p.partial += nbytes
                if p.partial >= p.cwnd:
                    p.partial -= p.cwnd
                    p.cwnd += mtu
            if p.flight == 0:
                p.timer_running = False
            else:
                self.start_timer(dest)
        # chunks holds every TSN above the old cumulative ack: forget those now acked
        for tsn in range(self.cum_ack + 1, cum + 1):
            self.chunks.pop(tsn, None)
        self.cum_ack = max(self.cum_ack, cum)
        # miss indications (RFC 4960 §7.2.4, HTNA): an outstanding TSN below the highest
        # newly acked one, sent before that one was, has been passed over once more
        if newly and gaps:
            top = max(newly, key=lambda c: c.tsn)
            lost_dests = set()
            for c in self.chunks.values():            # in TSN order: stop at the top
                if c.tsn >= top.tsn:
                    break
                if c.in_flight and not c.acked and c.sent_s <= top.sent_s:
                    c.misses += 1
                    if c.misses == 3:
                        c.in_flight, c.marked = False, True
                        self.maybe_marked = True
                        self.path(c.dest).flight = max(0, self.path(c.dest).flight - c.size)
                        if c.tsn > self.fast_recovery_until:
                            lost_dests.add(c.dest)
            for dest in lost_dests:                        # fast retransmit
                p = self.path(dest)
                p.ssthresh = max(p.cwnd / 2, 4 * mtu)
                p.cwnd = p.ssthresh
                p.partial = 0
                self.fast_recovery_until = self.next_tsn - 1
        self.pump()

    # -- receiver --------------------------------------------------------------------------
    def receive(self, tsn: int, size: int, src: str | None = None, index: int = -1) -> None:
        """DATA ``tsn`` arrives; uplink from ``src``, logged at ``index``."""
        now = self.a.env.now
        if src is not None and src not in self.a.dests:
            self.log.drop(index, "out_of_the_blue")      # RFC 4960 §8.4
            return
        if tsn <= self.rcv_cum or tsn in self.rcv_above:
            self.sack_now()                                # duplicate: tell at once
            return
        self.rcv_above.add(tsn)
        advanced = 0
        while self.rcv_cum + 1 in self.rcv_above:
            self.rcv_cum += 1
            self.rcv_above.discard(self.rcv_cum)
            advanced += size - DATA_HEADER_BYTES
        if advanced:
            self.delivered_bytes += advanced
            k = min(int(now // self.bin_s), len(self.delivered_bits) - 1)
            self.delivered_bits[k] += advanced * 8.0
        self.rcv_unacked += 1
        if self.rcv_above or self.rcv_unacked >= 2:
            self.sack_now()
        elif self.rcv_unacked == 1:
            self.sack_token += 1
            self.a.at(now + self.cfg.sack_delay_s, self._sack_timer, self.sack_token)

    def _sack_timer(self, token: int) -> None:
        if token == self.sack_token and self.rcv_unacked:
            self.sack_now()

    def sack_now(self) -> None:
        now = self.a.env.now
        self.rcv_unacked = 0
        self.sack_token += 1
        sent = self.send_sack(now)
        if sent is not None:
            self.a.at(sent[0], self.on_sack, self.rcv_cum, frozenset(self.rcv_above), sent[1])
