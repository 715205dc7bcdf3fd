"""The ground side of a path: gateways, the correspondent and the fibre between them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sigma_sn.geometry import C_KM_S

#: mean Earth radius (IUGG R1), km: great circles are measured on this sphere
MEAN_EARTH_RADIUS_KM = 6371.0088
#: light in glass fibre: refractive index ~1.5, so 2/3 of c
FIBRE_KM_S = C_KM_S * 2.0 / 3.0


@dataclass(frozen=True)
class Correspondent:
    """Where the correspondent node (the far end of every association) sits."""

    name: str
    lat_deg: float
    lon_deg: float


@dataclass(frozen=True)
class Fibre:
    """The terrestrial leg: great-circle distance at 2/3 c plus ``per_hop_ms`` for each
    router, one router every ``hop_km`` and at least one (the gateway's)."""

    per_hop_ms: float = 0.1
    hop_km: float = 1000.0

    def __post_init__(self):
        if not self.per_hop_ms >= 0:
            raise ValueError(f"per_hop_ms must be >= 0, got {self.per_hop_ms}")
        if not self.hop_km > 0:
            raise ValueError(f"hop_km must be > 0, got {self.hop_km}")

    def one_way_s(self, distance_km):
        """Return the one-way delay (s) over ``distance_km`` of fibre."""
        d = np.asarray(distance_km, float)
        hops = 1 + np.floor(d / self.hop_km)
        return d / FIBRE_KM_S + hops * self.per_hop_ms / 1000.0


def great_circle_km(lat1_deg, lon1_deg, lat2_deg, lon2_deg):
    """Return the great-circle distance (km) on the mean sphere (haversine, broadcast)."""
    p1, p2 = np.radians(lat1_deg), np.radians(lat2_deg)
    dl = np.radians(np.asarray(lon2_deg, float) - lon1_deg)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * MEAN_EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def gateway_fibre_s(gateways, correspondent: Correspondent, fibre: Fibre) -> np.ndarray:
    """Return each gateway's one-way fibre delay (s) to the correspondent, ``(n_gw,)``."""
    lat = np.array([g.lat_deg for g in gateways], float)
    lon = np.array([g.lon_deg for g in gateways], float)
    return fibre.one_way_s(great_circle_km(lat, lon, correspondent.lat_deg,
                                           correspondent.lon_deg))


def lower_bound_rtt_ms(lat_deg, lon_deg, correspondent: Correspondent) -> float:
    """Return the RTT (ms) no path can beat: twice the great circle to the correspondent
    at c (a path through space is longer than the arc it spans)."""
    d = great_circle_km(lat_deg, lon_deg, correspondent.lat_deg, correspondent.lon_deg)
    return float(2.0 * d / C_KM_S * 1000.0) if math.isfinite(d) else math.nan
