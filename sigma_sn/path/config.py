"""The ``[path]`` scenario section as values: which path model, where the gateways and
the correspondent are, and the parameters of fibre and inter-satellite links."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from pathlib import Path

from sigma_sn.path.ground import Correspondent, Fibre


class PathMode(enum.Enum):
    """How traffic gets from the serving satellite to the ground."""

    BENT_PIPE = "bent_pipe"   # straight down to a gateway the same satellite sees
    ISL = "isl"               # over +Grid inter-satellite links to any gateway


class Anchor(enum.Enum):
    """Where the terminal's IP address is anchored, so what a handover is."""

    SATELLITE = "satellite"   # the paper's router mode: a new address per satellite
    GATEWAY = "gateway"       # one address per gateway (PoP): satellite changes under it
                              # are path changes, not handovers (sigma_sn.planner.anchor)


@dataclass(frozen=True)
class Isl:
    """+Grid inter-satellite links.

    ``max_range_km``: a link longer than this is down (5,000 km keeps the line of sight
    of a 550 km shell some 80 km above the ground). ``polar_cutoff_deg``: cross-plane
    links are down while either end is above this latitude (planes cross near the
    poles, and pointing cannot keep up: Iridium switches them off there).
    ``plane_tol_deg``: RAANs this close form one plane (see :mod:`sigma_sn.path.grid`).
    """

    max_range_km: float = 5000.0
    polar_cutoff_deg: float = 75.0
    plane_tol_deg: float = 2.0

    def __post_init__(self):
        if not self.max_range_km > 0:
            raise ValueError(f"max_range_km must be > 0, got {self.max_range_km}")
        if not 0 <= self.polar_cutoff_deg <= 90:
            raise ValueError(f"polar_cutoff_deg must be in [0, 90], got {self.polar_cutoff_deg}")
        if not self.plane_tol_deg > 0:
            raise ValueError(f"plane_tol_deg must be > 0, got {self.plane_tol_deg}")


@dataclass(frozen=True)
class SharedCapacity:
    """``[path] shared_capacity``: all mobiles of a scenario share each satellite's user
    link and each gateway's feeder link (max–min fair per routing step,
    :mod:`sigma_sn.path.load`).

    ``sat_capacity_mbps``: one satellite's user-link capacity. Default 20,000 Mb/s: the
    order of a Starlink v1 satellite's throughput (del Portillo, Cameron & Crawley,
    "A technical comparison of three low earth orbit satellite constellation systems to
    provide global broadband", Acta Astronautica 159, 2019, estimate some 20 Gb/s per
    satellite). ``gateway_capacity_mbps``: one gateway's feeder capacity; default
    80,000 Mb/s, assumed: a gateway of 8 antennas, each feeding one satellite at about
    half its capacity. ``offered_load_mbps``: each terminal's demand; default 100 Mb/s,
    a busy residential terminal's download rate.
    """

    sat_capacity_mbps: float = 20_000.0
    gateway_capacity_mbps: float = 80_000.0
    offered_load_mbps: float = 100.0

    def __post_init__(self):
        for name in ("sat_capacity_mbps", "gateway_capacity_mbps", "offered_load_mbps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class PathConfig:
    """A validated ``[path]`` section (see docs/scenario-format.md)."""

    mode: PathMode
    gateways_file: Path
    correspondent: Correspondent
    step_s: float = 1.0
    fibre: Fibre = field(default_factory=Fibre)
    isl: Isl = field(default_factory=Isl)
    shared: SharedCapacity | None = None    # None: each mobile has its own link
    anchor: Anchor = Anchor.SATELLITE


def path_parameters(cfg) -> dict:
    """Return a :class:`~sigma_sn.path.config.PathConfig` as the plan records it
    (``inputs.parameters.path``): plain JSON, the gateways written out."""
    from sigma_sn.sites import read_sites_csv

    gateways = [{"name": g.name, "lat_deg": g.lat_deg, "lon_deg": g.lon_deg,
                 "alt_m": g.alt_m, "min_elev_deg": g.min_elev_deg}
                for g in read_sites_csv(cfg.gateways_file)]
    out = {"mode": cfg.mode.value, "step_s": cfg.step_s,
            "correspondent": dataclasses.asdict(cfg.correspondent), "gateways": gateways,
            "fibre_per_hop_ms": cfg.fibre.per_hop_ms, "fibre_hop_km": cfg.fibre.hop_km,
            "isl_max_range_km": cfg.isl.max_range_km,
            "isl_polar_cutoff_deg": cfg.isl.polar_cutoff_deg,
            "isl_plane_tol_deg": cfg.isl.plane_tol_deg}
    # only when not the default, so plans without them keep their bytes
    if cfg.shared:
        out["shared_capacity"] = dataclasses.asdict(cfg.shared)
    if cfg.anchor is not Anchor.SATELLITE:
        out["anchor"] = cfg.anchor.value
    return out
