"""The Mobile IPv6 baseline (RFC 6275) on the same links, traffic and geometry.

One care-of address (CoA) at a time, break-before-make: the MH stays with the serving
access point until it sets (or until the plan's switch time), then does the L2
handover, waits for a router advertisement (movement detection), runs DAD, and sends
a binding update (BU) to its home agent (HA); the HA tunnels to the new CoA once the
BU arrives, and acknowledges it (BA). Data takes the triangle CN -> HA -> MH; the
uplink goes MH -> CN directly, or MH -> HA -> CN with reverse tunnelling (needed when
the access network filters ingress, paper §5.1).

The MH's attachment timeline follows from geometry and seeded RA waits and is fixed
at the start; the HA's binding changes only when a BU arrives, as a SimPy event.
Downlink datagrams are processed when they reach the HA, which is exact because the
CN -> HA leg is a pure delay.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import simpy

from sigma_sn.sim.model import (DATA_HEADER_BYTES, RISE_TOLERANCE_S, Replay, SimConfig, Stats,
                                call_at, ra_wait_s)

BU_BYTES = 40 + 8 + 16 + 24          # IPv6 + mobility header + BU + home-address option
BA_BYTES = 40 + 8 + 12 + 24
TUNNEL_BYTES = 40                    # IPv6-in-IPv6 encapsulation
BU_INITIAL_TIMEOUT_S = 1.0           # RFC 6275 InitialBindackTimeoutFirstReg is 1.5 s;
BU_MAX_TIMEOUT_S = 32.0              # MAX_BINDACK_TIMEOUT


#: the access network's steps, the same for every protocol of a comparison: they come
#: from the plan's timing block (``timing.l2_s``, ``ra_s``, ``dad_s``), never from [mip]
ACCESS_FIELDS = ("t_l2_s", "ra_min_s", "ra_max_s", "t_dad_s")
FMIP_MODES = ("predictive", "reactive")


def access_from_timing(l2_s: float, ra_s: float, dad_s: float) -> dict:
    """The :data:`ACCESS_FIELDS` of the plan's timing block: L2, the RA interval (an
    unsolicited RA comes a uniform phase of it after attachment, the same seeded phase
    for every protocol, :func:`~sigma_sn.sim.model.ra_wait_s`; SIGMA-SN plans for the
    whole interval) and DAD, as SIGMA-SN plans them."""
    return {"t_l2_s": float(l2_s), "ra_min_s": float(ra_s), "ra_max_s": float(ra_s),
            "t_dad_s": float(dad_s)}


@dataclass(frozen=True)
class MipConfig:
    """Mobile IPv6 family parameters (RFC 6275, 5568, 5380; defaults: DESIGN.md).

    The first four are the access network's and equal the planner's ``Timing``
    defaults (L2 50 ms, RA interval 50 ms, optimistic DAD, RFC 4429), so every protocol
    meets the same network; a scenario sets them in ``[timing]`` only. The rest exist
    because the protocols define them: where the home agent is, FMIPv6's
    PAR-NAR leg, mode and NAR buffer (packets and holding time), HMIPv6's MAP placement.
    """

    t_l2_s: float = 0.050             # link-layer handover
    ra_min_s: float = 0.050           # router advertisement interval (RFC 6275 §7.5)
    ra_max_s: float = 0.050
    t_dad_s: float = 0.0              # 0 = optimistic DAD (RFC 4429); RFC 4862: 1 s
    ha_cn_s: float = 0.025            # HA <-> CN, one way
    ha_ap_s: float = 0.025            # HA <-> access points, one way
    # RFC 6275 §11.3.1: without route optimisation the MH sends through a reverse tunnel
    # to its HA, so access networks that filter ingress (RFC 2827) pass it
    reverse_tunnel: bool = True
    ingress_filtering: bool = False   # access routers drop packets sourced from the HoA
    switch: str = "los"               # break at the serving AP's LOS, or "plan": at SET_PRIMARY
    par_nar_s: float = 0.010          # FMIPv6: previous <-> new access router, one way
    fmip_mode: str = "predictive"     # FMIPv6 (RFC 5568 §3.1): predictive or reactive
    fmip_buffer_pkts: int = 1000      # FMIPv6: NAR buffer for the MH until its UNA
    # FMIPv6: how long NAR holds a packet for the MH before dropping it. RFC 5568 leaves
    # the buffer's size and time to the router (HI's U flag, §6.2.1.1, only asks NAR to
    # buffer); 1 s covers the handover NAR buffers for (L2 + UNA, ~0.1 s here; ~273 ms
    # measured, DESIGN.md) several times over and no coverage gap of minutes
    fmip_buffer_s: float = 1.0
    map_ap_s: float = 0.005           # HMIPv6: MAP <-> access points, one way (MAP at the
    #                                   gateway; = ha_ap_s puts it as far as the home network)

    def __post_init__(self):
        for name in ("t_l2_s", "ra_min_s", "ra_max_s", "t_dad_s", "ha_cn_s", "ha_ap_s",
                     "par_nar_s", "map_ap_s", "fmip_buffer_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.ra_max_s < self.ra_min_s:
            raise ValueError(f"ra_max_s ({self.ra_max_s}) must be >= ra_min_s ({self.ra_min_s})")
        if self.switch not in ("los", "plan"):
            raise ValueError(f"switch must be 'los' or 'plan', got {self.switch!r}")
        if self.fmip_mode not in FMIP_MODES:
            raise ValueError(f"fmip_mode must be 'predictive' or 'reactive', got "
                             f"{self.fmip_mode!r}")
        if self.fmip_buffer_pkts < 0:
            raise ValueError(f"fmip_buffer_pkts must be >= 0, got {self.fmip_buffer_pkts}")


@dataclass(frozen=True)
class Move:
    """One break-before-make movement of the MH."""

    handover: int
    from_ap: str
    to_ap: str
    t_break_s: float       # leaves the old AP
    t_attach_s: float      # L2 up on the new AP
    t_coa_s: float         # RA heard and DAD done: the new CoA exists, the BU leaves


class MobileIpHost:
    """MH, HA and CN of Mobile IPv6 on one SimPy clock.

    The MH's binding lives at an *anchor*: the HA here; HMIPv6's MAP
    (:mod:`sigma_sn.sim.hmip`) moves it nearer. ``anchor_cn_s`` is CN -> anchor,
    ``anchor_ap_s`` anchor -> access point, both one way.
    """

    protocol = "mip"

    def __init__(self, env: simpy.Environment, replay: Replay, cfg: SimConfig,
                 mip: MipConfig, links):
        self.env, self.replay, self.cfg, self.mip, self.links = env, replay, cfg, mip, links
        self.anchor_cn_s, self.anchor_ap_s = self._anchor()
        self.stats = Stats()
        # per handover (by its plan index), when the plan starts the new access point's address (its
        # ADDRESS_READY less the setup): the MH attaches no earlier, as SIGMA-SN's steps
        # wait for it (Association.step_times). A station whose antennas all serve other
        # mobiles (least-load, site capacity) is visible but not granted until then.
        self._granted_s: dict[int, float] = {}
        for s in replay.steps:
            if s.action == "ADDRESS_READY" and s.handover not in self._granted_s:
                granted, link = s.t_s - replay.address_setup_s, links[s.ap]
                if link.is_up(granted) and granted - link.up_since(granted) <= RISE_TOLERANCE_S:
                    granted = link.up_since(granted)    # the rise itself, rounded apart
                self._granted_s[s.handover] = granted
        self.moves = self._timeline()
        # attachment: the MH is on ap_of[k] during [att_start[k], att_end[k])
        self.att_start = [0.0] + [m.t_attach_s for m in self.moves]
        self.att_end = [m.t_break_s for m in self.moves] + [math.inf]
        self.att_ap = [replay.initial_ap] + [m.to_ap for m in self.moves]
        self.coa_ready = [0.0] + [m.t_coa_s for m in self.moves]
        self.binding = replay.initial_ap         # the HA's current CoA (by access point)
        self.binding_history = [(0.0, replay.initial_ap)]
        self.binding_at: dict[int, float] = {}   # handover -> when its BU reached the HA
        # Optional hook (None: always up): ``ha_up(t) -> bool`` says whether the home
        # agent, and with it the home network, is alive at ``t`` (sim.survive).
        self.ha_up = None

    def _anchor(self) -> tuple[float, float]:
        return self.mip.ha_cn_s, self.mip.ha_ap_s

    def ha_alive(self, t: float) -> bool:
        return self.ha_up is None or self.ha_up(t)

    def anchor_alive(self, t: float) -> bool:
        """Can the anchor take a binding update at ``t``?"""
        return self.ha_alive(t)

    def _coa_s(self, t_attach: float, handover: int) -> float:
        """When the new CoA exists after attaching for ``handover``: the next unsolicited
        RA (movement detection, RFC 6275 §11.5.1; RA intervals RFC 6275 §7.5, RFC 4861
        §6.2.4), the same seeded wait SIGMA-SN's replay draws for the handover
        (:func:`~sigma_sn.sim.model.ra_wait_s`), then DAD (RFC 4862; 0 when optimistic,
        RFC 4429)."""
        wait = ra_wait_s(self.cfg.seed, self.replay.mobile, handover, self.mip.ra_min_s,
                         self.mip.ra_max_s)
        return t_attach + wait + self.mip.t_dad_s

    def _timeline(self) -> list[Move]:
        """Break, attach and CoA times, one move per handover in the plan's order:
        geometry plus the handovers' seeded RA waits.

        The MH leaves the access point it is on when that sets (``switch="los"``) or at
        the plan's switch (``"plan"``), never before it got there, so moves stay in order
        even when the plan switches mid-pass and the old access point sets after the
        plan's next switch. It goes to the access point the plan serves by then
        (:meth:`_target`): the handovers in between are skipped (Mobile IP never makes
        them, and the report shows no move). An access point that sets while the MH is
        still attaching is left at once, never waited for through its next pass; one the
        MH lost with nothing else in view is taken back if it rises again first (the
        re-association's L2 time is not modelled: no new CoA, no BU).
        """
        moves = []
        hos = self.replay.handovers
        cur, t_on = self.replay.initial_ap, 0.0
        k = 0
        while k < len(hos):
            link = self.links[cur]
            if self.mip.switch == "los":
                # the end of the pass the MH attached in; if that access point set during
                # the L2 handover, the MH has lost it already and moves on at once
                t_break = max(link.up_until(t_on), t_on)
            else:
                t_break = max(hos[k].t_s, t_on)
            j, t_up = self._target(k, t_break)
            back = link.next_up(t_break)
            if t_up > t_break and link.up_until(t_break) <= t_break and back < t_up:
                # nothing to move to yet, and the access point the MH is on (at the start:
                # the plan's first) rises again first: the MH takes it back, under the
                # same CoA and binding, and no move is made
                t_on = back
                continue
            h = hos[j]
            t_attach = t_up + self.mip.t_l2_s
            moves.append(Move(h.index, cur, h.to_ap, t_break, t_attach,
                              self._coa_s(t_attach, h.index)))
            if t_attach == math.inf:
                break                           # never attached again
            cur, t_on, k = h.to_ap, t_attach, j + 1
        return moves

    def _target(self, k: int, t_break: float) -> tuple[int, float]:
        """Return ``(j, t_up)``: the handover ``j >= k`` whose access point the MH moves
        to when it breaks at ``t_break``, and when that access point is up.

        The candidates are handover ``k`` and every later one due by ``t_break``. The MH
        takes the latest of them (the plan's current choice) whose access point is up,
        granted by the plan (:meth:`_up_from`) and stays up long enough to form a
        care-of address (L2 + RA + DAD); failing that, the latest one up at all; failing
        that, it waits for the first to rise (and be granted). Taking the earliest
        candidate instead once sent the MH to an access point that set during its L2
        handover, to wait there for that satellite's next pass.
        """
        hos = self.replay.handovers
        due = [k]
        for i in range(k + 1, len(hos)):
            if hos[i].t_s > t_break:
                break
            due.append(i)
        need_s = self.mip.t_l2_s + self.mip.ra_max_s + self.mip.t_dad_s
        for enough in (need_s, 0.0):
            for i in reversed(due):
                if (self._granted_s.get(hos[i].index, -math.inf) <= t_break
                        and self.links[hos[i].to_ap].up_until(t_break) > t_break + enough):
                    return i, t_break
        rises = [(self._up_from(i, t_break), i) for i in due]
        t_up, i = min(rises)
        # none of them is up again by the plan's grant (against other truth the plan's
        # access point may be gone by then): wait for the first later handover whose
        # access point is, as SIGMA-SN's replay drops the steps that cannot happen and
        # goes on to the next handover, instead of waiting out the run
        for j in range(due[-1] + 1, len(hos)):
            if t_up < math.inf:
                break
            t_up, i = self._up_from(j, t_break), j
        return i, t_up

    def _up_from(self, i: int, t: float) -> float:
        """The first time from ``t`` that handover ``i``'s access point is up and the plan
        lets the MH use it (:attr:`_granted_s`)."""
        ho = self.replay.handovers[i]
        link = self.links[ho.to_ap]
        t = max(t, self._granted_s.get(ho.index, -math.inf))
        return t if link.up_until(t) > t else link.next_up(t)     # not at a pass's very end

    def attached(self, t: float) -> str | None:
        """The AP the MH listens on at ``t`` (None between break and attach)."""
        k = bisect.bisect_right(self.att_start, t) - 1
        if k >= 0 and t < self.att_end[k]:
            return self.att_ap[k]
        return None

    def has_coa(self, t: float) -> str | None:
        k = bisect.bisect_right(self.att_start, t) - 1
        if k >= 0 and t < self.att_end[k] and t >= self.coa_ready[k]:
            return self.att_ap[k]
        return None

    def at(self, t: float, fn, *args) -> None:
        call_at(self.env, t, fn, *args)

    # -- binding updates --------------------------------------------------------------
    def run_plan(self):
        for m in self.moves:
            if m.t_coa_s == math.inf:
                return
            if m.t_coa_s > self.env.now:
                yield self.env.timeout(m.t_coa_s - self.env.now)
            if self.attached(self.env.now) == m.to_ap:
                self.send_bu(m, BU_INITIAL_TIMEOUT_S)

    def send_bu(self, m: Move, timeout_s: float) -> None:
        now = self.env.now
        if self.attached(now) != m.to_ap:
            return                                  # moved on already
        self.stats.signal("BU", BU_BYTES)
        arrival, cause = self.links[m.to_ap].send(now, BU_BYTES, "up")
        if cause is None:
            self.at(arrival + self.anchor_ap_s, self.ha_receive_bu, m)
        self.at(now + timeout_s, self._bu_timeout, m, timeout_s)

    def ha_receive_bu(self, m: Move) -> None:
        """The anchor (HA, or HMIPv6's MAP) takes the binding update and answers."""
        if not self.anchor_alive(self.env.now):
            return                                  # lost with the HA; the MH retransmits
        self.binding = m.to_ap
        self.binding_history.append((self.env.now, m.to_ap))
        self.binding_at.setdefault(m.handover, self.env.now)
        self.stats.events.append((self.env.now, "HA_BINDING", m.to_ap))
        self.stats.signal("BA", BA_BYTES)
        arrival, cause = self.links[m.to_ap].send(self.env.now + self.anchor_ap_s, BA_BYTES,
                                                  "down")
        if cause is None:
            self.at(arrival, self._mh_receive_ba, m)

    def _mh_receive_ba(self, m: Move) -> None:
        self.stats.events.append((self.env.now, "BA", m.to_ap))

    def _bu_timeout(self, m: Move, timeout_s: float) -> None:
        if any(what == "BA" and ap == m.to_ap and t >= m.t_coa_s
               for t, what, ap in self.stats.events):
            return
        if self.attached(self.env.now) == m.to_ap:
            self.stats.retransmit("BU")
            self.send_bu(m, min(2 * timeout_s, BU_MAX_TIMEOUT_S))

    # -- data --------------------------------------------------------------------------
    def deliver_down(self, t_ha: float, size: int):
        """A datagram tunnelled by the anchor at ``t_ha`` to the current binding."""
        ap = self.binding
        if not self.ha_alive(t_ha):
            return ap, t_ha, "no_route"             # nobody intercepts the home address
        arrival, cause = self.links[ap].send(t_ha + self.anchor_ap_s, size + TUNNEL_BYTES,
                                             "down")
        if self.attached(arrival) != ap:
            return ap, arrival, "coa_gone"          # the MH has left that access point
        return ap, arrival, cause

    def deliver_up(self, t: float, size: int):
        ap = self.has_coa(t)
        if ap is None:
            return self.attached(t), t, "no_route"
        if self.mip.reverse_tunnel:
            arrival, cause = self.links[ap].send(t, size + TUNNEL_BYTES, "up")
            at_ha = arrival + self.mip.ha_ap_s
            if cause is None and not self.ha_alive(at_ha):
                return ap, at_ha, "no_route"        # the tunnel ends at a dead HA
            return ap, at_ha + self.mip.ha_cn_s, cause
        if self.mip.ingress_filtering:
            return ap, t, "ingress_filtered"        # source = home address, not topological
        arrival, cause = self.links[ap].send(t, size, "up")
        return ap, arrival + self.cfg.terrestrial_s, cause

    def handover_times(self) -> list[tuple[float, float | None, str, str] | None]:
        """Per handover of the replay: ``(t_break_s, t_switch_s, old_ap, new_ap)`` of its
        move, None if Mobile IP skipped it. ``t_switch_s`` is when new data starts to take
        the new access point in send-time terms: the binding update's arrival at the HA
        less ``ha_cn_s`` for the downlink, the new CoA for the uplink (None if never)."""
        by_handover = {m.handover: m for m in self.moves}
        out = []
        for h in self.replay.handovers:
            m = by_handover.get(h.index)
            if m is None:
                out.append(None)
                continue
            if self.cfg.direction == "down":
                t = self.binding_at.get(m.handover)
                t = None if t is None else t - self.anchor_cn_s
            else:
                t = m.t_coa_s if m.t_coa_s < math.inf else None
            out.append((m.t_break_s, t, m.from_ap, m.to_ap))
        return out

    def lm_summary(self) -> tuple[list, int]:
        """Mobile IP has no location manager: the HA is the directory."""
        return [], 0


def mip_cbr_source(host: MobileIpHost, log, cfg: SimConfig, end_s: float):
    """CBR over Mobile IP; downlink datagrams are handled when they reach the HA."""
    env = host.env
    interval = 1.0 / cfg.rate_pps
    size = cfg.payload_bytes + DATA_HEADER_BYTES
    offset = host.anchor_cn_s if cfg.direction == "down" else 0.0
    n = int(math.ceil(end_s * cfg.rate_pps - 1e-9))
    k = 0
    while k < n:
        t = k * interval
        if t + offset > env.now:
            yield env.timeout(t + offset - env.now)
        horizon = env.peek()
        while True:
            if cfg.direction == "down":
                ap, arrival, cause = host.deliver_down(t + offset, size)
            else:
                ap, arrival, cause = host.deliver_up(t, size)
            log.add(t, arrival, ap, cause)
            k += 1
            t = k * interval
            if k >= n or t + offset >= horizon:
                break

