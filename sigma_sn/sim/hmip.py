"""The Hierarchical Mobile IPv6 baseline (RFC 5380) on the same links and traffic.

A Mobility Anchor Point (MAP) between the home agent and the access points holds the
MH's local binding: regional CoA (RCoA, on the MAP's link, registered with the HA once)
to on-link CoA (LCoA, on the serving access point). A handover inside the MAP's domain
is the Mobile IPv6 sequence (L2, RA, DAD) ending in a *local* binding update to the MAP
(RFC 5380 §6.1), so the BU round trip is the MAP's distance, not the HA's. Data takes
CN -> HA -> MAP -> access point; the MAP lies on the HA's way to the access points.

Where the MAP is is a parameter, ``map_ap_s`` (MAP <-> access points, one way): at the
gateway (the default, 5 ms) or as far as the home network (``map_ap_s = ha_ap_s``:
then HMIPv6 is Mobile IPv6 plus nothing). Simplified: one MAP domain covers every
access point of a run (no inter-MAP handover, no RCoA change); the MAP never fails.
"""

from __future__ import annotations

from sigma_sn.sim.mip import MobileIpHost


class HierarchicalHost(MobileIpHost):
    """MH, MAP, HA and CN of HMIPv6: the anchor of the binding is the MAP."""

    protocol = "hmip"

    def _anchor(self) -> tuple[float, float]:
        # CN -> HA -> MAP: the HA's leg to the access points less the MAP's own
        ha_map_s = max(self.mip.ha_ap_s - self.mip.map_ap_s, 0.0)
        return self.mip.ha_cn_s + ha_map_s, self.mip.map_ap_s

    def anchor_alive(self, t: float) -> bool:
        return True                                 # the MAP, not the HA, binds locally
