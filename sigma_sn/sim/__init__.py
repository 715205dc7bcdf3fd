"""SimPy replay of a plan: links from geometry, an SCTP-like association, a report."""

from sigma_sn.sim.links import Link, LinkGeometry
from sigma_sn.sim.mip import MipConfig
from sigma_sn.sim.model import Handover, Replay, SimConfig, Step
from sigma_sn.sim.run import simulate

__all__ = ["Handover", "Link", "LinkGeometry", "MipConfig", "Replay", "SimConfig", "Step",
           "simulate"]
