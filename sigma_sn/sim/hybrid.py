"""Bulk replay in detail where something happens, as a flow where nothing does.

A saturating transfer between handovers is in its steady state: the window saws up by
one MTU a round trip and halves at each queue overflow, and nothing else changes. With
``SimConfig.bulk_detail_s = W`` the transfer runs packet by packet (:class:`BulkTransfer`)
within ±W s of every event (planned step, handover, access-point rise or set) and while
the association is not steady; in between it is carried as a fluid flow, one round trip
a step, that starts from the state the packet replay had reached:

* the flow's rate is ``cwnd / RTT``, the RTT being the link's round trip now plus the
  queue the window beyond the bandwidth-delay product builds, so the rate is capped by
  the link's capacity;
* the window grows as SCTP's does (RFC 4960 §7.2.1 slow start, §7.2.2 congestion
  avoidance) and halves at each queue overflow or configured random loss (§7.2.3,
  §7.2.4, once a round trip); each queue overflow loses as many packets as the last
  overflow the packet replay saw did;
* every round trip gives the RTO estimator a sample (§6.3.1) and marks the destination
  busy, so no HEARTBEAT goes to it (§8.3), as data would;
* the flow's chunks take TSNs (the receiver's cumulative ack moves with them), and its
  lost packets are logged at the step they fall in, so per-handover loss and the loss
  causes count them;
* when the flow ends, the next window starts from the carried window, ssthresh and RTO,
  its first round trip paced at the flow's rate (a real sender is ACK-clocked; one that
  found an empty pipe and a full window would burst it into the queue).

The flow never starts while a retransmission, fast recovery or slow start is under way,
nor on a destination with errors; an event the association raises during a flow (a
primary moved, a path came back) ends it and opens a window of W s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sigma_sn.sim.bulk import BulkTransfer, Chunk
from sigma_sn.sim.model import Association, PacketLog, Replay, SimConfig

#: a flow shorter than this is not worth the stop and restart: stay packet by packet
MIN_FLOW_S = 5.0
#: while the association is not steady, look again this much later
RETRY_S = 1.0
#: packets lost at a queue overflow before the packet replay has seen one in congestion
#: avoidance (one window growing by one MTU a round trip overflows by about one packet,
#: and the round trip before the loss is detected adds about one more)
DEFAULT_OVERFLOW_LOSSES = 2


def detail_windows(replay: Replay, steps, end_s: float, detail_s: float
                   ) -> list[tuple[float, float]]:
    """Return the merged ``(start_s, end_s)`` spans within ``detail_s`` of an event: the
    start of the run, every handover, every plan step (at its real time, ``steps``) and
    every rise and set of an access point while the mobile holds an address on it (an
    access point it holds no address on changes nothing for the association)."""
    events = [0.0, *(h.t_s for h in replay.handovers), *(s.t_s for s in steps)]
    held = _held_spans(replay, steps, end_s)
    events += [t for g in replay.links for a, b in g.up_s for t in (a, b)
               if any(lo <= t <= hi for lo, hi in held.get(g.ap, ()))]
    spans: list[tuple[float, float]] = []
    for t in sorted(t for t in events if -detail_s <= t <= end_s + detail_s):
        a, b = max(0.0, t - detail_s), min(end_s, t + detail_s)
        if spans and a <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], b))
        else:
            spans.append((a, b))
    return spans


def _held_spans(replay: Replay, steps, end_s: float) -> dict[str, list[tuple[float, float]]]:
    """Per access point, the ``(from_s, to_s)`` spans in which the mobile holds an address
    on it: from the start (its first address) or ADDRESS_READY to DELETE_IP or the end."""
    since = {replay.initial_address: (replay.initial_ap, 0.0)}
    held: dict[str, list[tuple[float, float]]] = {}
    for s in steps:
        if s.action == "ADDRESS_READY":
            since.setdefault(s.address, (s.ap, s.t_s))
        elif s.action == "DELETE_IP" and s.address in since:
            ap, t0 = since.pop(s.address)
            held.setdefault(ap, []).append((t0, s.t_s))
    for ap, t0 in since.values():
        held.setdefault(ap, []).append((t0, end_s))
    return held


@dataclass
class _Flow:
    """The fluid state of one flow span."""

    dest: str
    start_s: float
    until_s: float
    cwnd: float
    ssthresh: float
    partial: float
    overflow_losses: int
    packets: float = 0.0             # sent so far (fractions carry to the next step)
    random_debt: float = 0.0         # expected random losses not yet taken


class HybridBulk(BulkTransfer):
    """:class:`BulkTransfer` packet by packet within ``detail_s`` of events, a flow
    between them (module docstring). ``flow_packets``, ``flow_s`` and ``flow_lost``
    say how much of the run the flow carried."""

    def __init__(self, assoc: Association, cfg: SimConfig, log: PacketLog, end_s: float,
                 bin_s: float = 1.0, n_bins: int = 1, *, detail_s: float):
        super().__init__(assoc, cfg, log, end_s, bin_s, n_bins)
        self.detail_s = detail_s
        self.windows = detail_windows(assoc.replay, assoc.steps, end_s, detail_s)
        self.flow: _Flow | None = None
        self.detail_until = 0.0            # an event the association raised: detail to here
        self.flow_packets = 0
        self.flow_s = 0.0
        self.flow_lost = 0
        self.flows = 0
        self.flow_spans: list[tuple[float, float, str]] = []   # (start_s, end_s, dest)
        # the packet replay's queue overflows: losses since the last window reduction,
        # and how many the last one in congestion avoidance had
        self._overflows = 0
        self._overflow_losses = DEFAULT_OVERFLOW_LOSSES
        self.tsn_owed = 0
        self._pace_until = -math.inf
        self._pace_next = 0.0
        self._pace_gap_s = 0.0
        self._pace_token = 0
        for _, b in self.windows:
            if b < end_s:
                self.a.at(b, self._try_flow)
        assoc.listeners.append(self._on_event)

    # -- packet replay, watched --------------------------------------------------------------
    def primary(self) -> str | None:
        """No new data while a flow carries it, nor ahead of the pacing after one."""
        if self.flow is not None:
            return None
        now = self.a.env.now
        if now < self._pace_until and now < self._pace_next - 1e-12:
            self._pace_token += 1
            self.a.at(self._pace_next, self._paced, self._pace_token)
            return None
        return super().primary()

    def _paced(self, token: int) -> None:
        if token == self._pace_token:
            self.pump()

    def send_chunk(self, c: Chunk, dest: str, now: float) -> None:
        if not c.marked and now < self._pace_until:
            self._pace_next = max(self._pace_next, now) + self._pace_gap_s
        super().send_chunk(c, dest, now)

    def transmit(self, t: float, dest: str):
        out = super().transmit(t, dest)
        if out[2] == "queue_overflow":
            self._overflows += 1
        return out

    def on_sack(self, cum: int, gaps: frozenset, src: str | None = None) -> None:
        before = {d: (p.cwnd, p.ssthresh) for d, p in self.paths.items()}
        super().on_sack(cum, gaps, src)
        for d, (cwnd, ssthresh) in before.items():
            p = self.paths.get(d)
            if p is not None and p.cwnd < cwnd and self._overflows:
                # a fast retransmit cut the window: the losses that led to it are what one
                # overflow costs in congestion avoidance (slow start overshoots far more)
                if cwnd > ssthresh:
                    self._overflow_losses = self._overflows
                self._overflows = 0

    def _on_event(self) -> None:
        """The association raised something (primary moved, path back): detail now."""
        now = self.a.env.now
        self.detail_until = max(self.detail_until, now + self.detail_s)
        if self.flow is not None:
            self._end_flow()
        self.a.at(self.detail_until, self._try_flow)

    # -- the flow ------------------------------------------------------------------------------
    def _steady(self) -> str | None:
        """The primary destination if the transfer is steady there, else None."""
        if self.a.stats.aborted_s is not None or self.maybe_marked:
            return None
        dest = super().primary()
        if dest is None or self.cum_ack < self.fast_recovery_until:
            return None
        p = self.path(dest)
        if p.cwnd <= p.ssthresh or p.d.errors or p.d.rto.srtt is None:
            return None                     # slow start, or a path in trouble
        if any(c.dest != dest for c in self.chunks.values()):
            return None
        return dest

    def _next_window_s(self, now: float) -> float:
        for a, b in self.windows:
            if a > now:
                return a
        return self.end_s

    def _try_flow(self) -> None:
        now = self.a.env.now
        if self.flow is not None or now >= self.end_s:
            return
        if now < self.detail_until - 1e-9:
            self.a.at(self.detail_until, self._try_flow)
            return
        if any(a <= now < b for a, b in self.windows):
            return                          # windows overlap a retry: the window's end calls
        until = self._next_window_s(now)
        if until - now < MIN_FLOW_S:
            return
        dest = self._steady()
        if dest is None:
            self.a.at(now + RETRY_S, self._try_flow)
            return
        p = self.path(dest)
        self.flow = _Flow(dest, now, until, p.cwnd, p.ssthresh, p.partial,
                          self._overflow_losses)
        self.flows += 1
        self._flow_step()

    def _link(self, dest: str):
        if self.cfg.direction == "down":
            return self.a.links[self.a.addr_ap[dest]], dest
        src = self.a.mh_route(self.a.env.now) or self.a.src_primary
        return self.a.links[self.a.addr_ap[src]], src

    def _flow_step(self) -> None:
        """One round trip of the flow: send a window's worth, grow or halve it."""
        f, cfg = self.flow, self.cfg
        if f is None:
            return
        now = self.a.env.now
        link, addr = self._link(f.dest)
        if (now >= f.until_s - 1e-9 or super().primary() != f.dest
                or not link.is_up(now) or addr not in self.a.dests and cfg.direction == "down"):
            self._end_flow()
            return
        size, mtu = self.size, cfg.mtu_bytes
        bytes_per_s = link.capacity_bps / 8.0
        one_way_s = cfg.terrestrial_s + link.delay_s(now)
        base_rtt_s = 2.0 * one_way_s + size / bytes_per_s
        bdp = bytes_per_s * base_rtt_s
        queue_bytes = max(0.0, f.cwnd - bdp)
        rtt_s = base_rtt_s + queue_bytes / bytes_per_s
        dt = min(rtt_s, f.until_s - now)
        sent = f.cwnd * dt / rtt_s                      # cwnd per RTT, capped by the link
        f.packets += sent / size
        whole = int(f.packets)
        f.packets -= whole
        if whole:
            self._carry(whole, now, one_way_s + queue_bytes / bytes_per_s, dt, addr)
        cut = False
        if queue_bytes > cfg.queue_pkts * size:         # drop-tail overflow (§7.2.3, §7.2.4)
            self._log_lost(f.overflow_losses, now, addr, "queue_overflow")
            cut = True
        f.random_debt += whole * cfg.loss_prob
        if f.random_debt >= 1.0:
            n = int(f.random_debt)
            f.random_debt -= n
            self._log_lost(n, now, addr, "random_loss")
            cut = True
        if cut:                                         # one reduction per round trip
            f.ssthresh = max(f.cwnd / 2, 4 * mtu)
            f.cwnd, f.partial = f.ssthresh, 0.0
        elif f.cwnd <= f.ssthresh:
            # §7.2.1: one MTU per SACK (of 2 DATA) while cwnd <= ssthresh: after a cut to
            # ssthresh that is one SACK's worth, then congestion avoidance
            f.cwnd = min(f.cwnd + mtu * sent / (2 * size), f.ssthresh + mtu)
        else:                                           # §7.2.2: one MTU per window acked
            f.partial += sent
            while f.partial >= f.cwnd:
                f.partial -= f.cwnd
                f.cwnd += mtu
        d = self.path(f.dest).d
        d.rto.sample(rtt_s)
        d.last_data_s = now                             # busy: no HEARTBEAT (§8.3)
        self.a.at(now + dt, self._flow_step)

    def _carry(self, n: int, now: float, one_way_s: float, dt: float, addr: str) -> None:
        """``n`` chunks of the flow, sent over ``[now, now + dt)``, arrive ``one_way_s``
        later: their payload counts where it arrives, their TSNs are taken."""
        payload = n * self.cfg.payload_bytes
        self.delivered_bytes += payload
        arrival = now + one_way_s + dt / 2
        k = min(int(arrival // self.bin_s), len(self.delivered_bits) - 1)
        self.delivered_bits[k] += payload * 8.0
        self.flow_packets += n
        self.tsn_owed += n

    def _log_lost(self, n: int, now: float, addr: str, cause: str) -> None:
        """The flow's lost packets go in the log as the packet replay's would."""
        ap = self.a.addr_ap.get(addr)
        for _ in range(n):
            self.log.add(now, now, ap, cause)
        self.flow_lost += n
        self.flow_packets += n                   # sent too; retransmitted within the flow

    def _end_flow(self) -> None:
        """Hand the carried state back to the packet replay; pace its first round trip."""
        f, self.flow = self.flow, None
        now = self.a.env.now
        self.flow_s += now - f.start_s
        self.flow_spans.append((f.start_s, now, f.dest))
        p = self.path(f.dest)
        p.cwnd, p.ssthresh, p.partial = f.cwnd, f.ssthresh, f.partial
        p.d.errors = 0                           # the stop before the flow was not a fault
        # the flow's chunks are all acknowledged: sender and receiver agree they arrived.
        # Their TSNs are taken once the packets sent before the flow are all acknowledged
        # (in a few round trips, long before a flow ends); until then they are owed, so
        # that no gap opens that no chunk will ever fill.
        if not self.chunks and not self.rcv_above and self.rcv_cum == self.next_tsn - 1:
            self.next_tsn += self.tsn_owed
            self.cum_ack = self.rcv_cum = self.next_tsn - 1
            self.tsn_owed = 0
        srtt = p.d.rto.srtt or 0.1
        self._pace_until = now + srtt
        self._pace_next = now
        self._pace_gap_s = self.size * srtt / max(p.cwnd, self.size)
        self.pump()


def flow_summary(bulk) -> dict | None:
    """What the flow carried in one replay (None for a replay without a flow)."""
    if not isinstance(bulk, HybridBulk):
        return None
    flow_s = bulk.flow_s
    if bulk.flow is not None:              # still flowing when the run ended
        flow_s += bulk.end_s - bulk.flow.start_s
    return {"flows": bulk.flows, "flow_s": flow_s,
            "packets_carried": bulk.flow_packets - bulk.flow_lost,
            "packets_lost": bulk.flow_lost}


def replay_mode(cfg: SimConfig, flows: list[dict | None]) -> dict:
    """The report's ``replay_mode``: which numbers every packet produced and which the
    flow did. ``packet``: all of them. ``hybrid``: latency percentiles and the time
    series' packet counts come from the packets within the detail windows only;
    throughput, packet and loss counts include the flow's."""
    if cfg.traffic != "bulk" or cfg.bulk_detail_s is None:
        return {"mode": "packet", "bulk_detail_s": None}
    got = [f for f in flows if f is not None]
    return {"mode": "hybrid", "bulk_detail_s": cfg.bulk_detail_s,
            "flows": sum(f["flows"] for f in got),
            "flow_s": round(sum(f["flow_s"] for f in got), 6),
            "flow_packets_carried": sum(f["packets_carried"] for f in got),
            "flow_packets_lost": sum(f["packets_lost"] for f in got)}
