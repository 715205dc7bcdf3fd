"""The Fast Handovers for Mobile IPv6 baseline (FMIPv6, RFC 5568) on the same links.

Mobile IPv6's break-before-make movement (:class:`~sigma_sn.sim.mip.MobileIpHost`)
plus the fast handover: the previous access router (PAR) tunnels the MH's traffic to
the new one (NAR), which delivers it once the MH is on its link, until the HA's
binding moves to the new CoA (NCoA).

* **predictive** (RFC 5568 §3.1): before it leaves, the MH asks PAR about the next
  access point (RtSolPr / PrRtAdv), forms its NCoA and sends a Fast Binding Update
  (FBU); PAR checks the NCoA with NAR (HI / HAck, so no DAD on the new link), answers
  with FBack and tunnels to NAR from the moment the MH leaves. NAR buffers what
  arrives before the MH announces itself with UNA (up to ``fmip_buffer_pkts``, each
  for at most ``fmip_buffer_s``: a coverage gap is not bridged by the buffer). Like
  SIGMA-SN, the MH knows the next access point from the plan (the planner's
  prediction), and the exchange is done before the break.
* **reactive** (§3.2): the MH leaves without an FBack; once on NAR's link it sends UNA
  and the FBU through NAR, and PAR tunnels from when that FBU arrives: what PAR got in
  between went to the old link and is lost.

Either way the NCoA is known when the MH attaches (PrRtAdv gave the prefix), so the
binding update to the HA leaves at once: no RA wait, no DAD. Simplified: the
anticipation messages are counted but not replayed over the links (the plan leaves
them the whole pass to succeed); the tunnel ends when the HA's binding moves.
"""

from __future__ import annotations

import bisect
from collections import deque

from sigma_sn.sim.mip import BU_BYTES, TUNNEL_BYTES, MobileIpHost

# Wire sizes (bytes), IPv6 header included: ICMPv6 (RFC 5568 §6.1) with a link-layer
# or prefix option, and mobility-header messages (§6.2: HI and HAck §6.2.1.1-2, FBU
# §6.2.2, FBack §6.2.3) sized as the BU
RTSOLPR_BYTES = 40 + 8 + 8
PRRTADV_BYTES = 40 + 8 + 8 + 32
UNA_BYTES = 40 + 8 + 16 + 8
HI_BYTES = HACK_BYTES = FBACK_BYTES = FBU_BYTES = BU_BYTES


class FastHost(MobileIpHost):
    """MH, PAR/NAR, HA and CN of FMIPv6, predictive or reactive."""

    protocol = "fmip"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._breaks = [m.t_break_s for m in self.moves]
        self._held = [deque() for _ in self.moves]    # NAR's buffer: when each arrived
        predictive = self.mip.fmip_mode == "predictive"
        self.tunnel_from, self.una_at = [], []
        for m in self.moves:
            link = self.links[m.to_ap]
            una = m.t_attach_s + link.delay_s(m.t_attach_s)     # NAR hears the MH
            self.una_at.append(una)
            self.tunnel_from.append(m.t_break_s if predictive else una + self.mip.par_nar_s)
            self.stats.signal("UNA", UNA_BYTES)
            self.stats.signal("FBU", FBU_BYTES)
            self.stats.signal("HI", HI_BYTES)
            self.stats.signal("HAck", HACK_BYTES)
            self.stats.signal("FBack", FBACK_BYTES)
            if predictive:
                self.stats.signal("RtSolPr", RTSOLPR_BYTES)
                self.stats.signal("PrRtAdv", PRRTADV_BYTES)

    def _coa_s(self, t_attach: float, handover: int) -> float:
        return t_attach                              # NCoA formed ahead, checked by NAR

    def deliver_down(self, t_ha: float, size: int):
        """Tunnelled by the HA to the binding; if that is the access point the MH has
        just left and PAR forwards by then, on through NAR (buffered until the UNA)."""
        t_par = t_ha + self.anchor_ap_s
        k = bisect.bisect_right(self._breaks, t_par) - 1
        if (k < 0 or self.binding != self.moves[k].from_ap or t_par < self.tunnel_from[k]
                or not self.ha_alive(t_ha)):
            return super().deliver_down(t_ha, size)
        m = self.moves[k]
        t_nar = t_par + self.mip.par_nar_s
        if t_nar < self.una_at[k]:
            # RFC 5568 §6.2.1.1: HI's U (buffer) flag asks NAR to buffer for the MH until
            # its UNA; the RFC bounds neither the buffer's size nor its holding time, so
            # both are parameters. Held past fmip_buffer_s a packet is dropped, as the
            # other protocols lose what is sent into a coverage gap
            held, life_s = self._held[k], self.mip.fmip_buffer_s
            while held and held[0] + life_s <= t_nar:
                held.popleft()                        # expired: no longer takes space
            if len(held) >= self.mip.fmip_buffer_pkts:
                return m.to_ap, t_nar, "queue_overflow"   # NAR's buffer for the MH is full
            held.append(t_nar)
            if self.una_at[k] - t_nar > life_s:
                return m.to_ap, t_nar + life_s, "buffer_expired"   # the MH came too late
        arrival, cause = self.links[m.to_ap].send(max(t_nar, self.una_at[k]),
                                                  size + 2 * TUNNEL_BYTES, "down")
        if cause is None and self.attached(arrival) != m.to_ap:
            return m.to_ap, arrival, "coa_gone"
        return m.to_ap, arrival, cause

    def handover_times(self):
        """As Mobile IPv6's, but downlink data takes the new access point from when PAR
        starts tunnelling to NAR (in CN send-time terms), not from the HA's binding."""
        out = super().handover_times()
        if self.cfg.direction != "down":
            return out
        tunnel = {m.handover: t - self.anchor_ap_s - self.anchor_cn_s
                  for m, t in zip(self.moves, self.tunnel_from)}
        return [x if x is None or h.index not in tunnel
                else (x[0], tunnel[h.index] if x[1] is None else min(x[1], tunnel[h.index]),
                      x[2], x[3])
                for h, x in zip(self.replay.handovers, out)]
