"""SimPy replay of a plan: links from geometry, an SCTP-like association, a report."""

from sigma_sn.sim.fromplan import config_from_plan, replays_from_plan, simulate_plan
from sigma_sn.sim.links import Link, LinkGeometry
from sigma_sn.sim.mip import MipConfig
from sigma_sn.sim.model import Handover, Replay, SimConfig, Step
from sigma_sn.sim.run import simulate, simulate_many
from sigma_sn.sim.trace import write_trace_csv

__all__ = ["Handover", "Link", "LinkGeometry", "MipConfig", "Replay", "SimConfig", "Step",
           "config_from_plan", "replays_from_plan", "simulate", "simulate_many",
           "simulate_plan", "write_trace_csv"]
