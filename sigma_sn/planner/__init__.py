"""Predictive SIGMA-SN planner: selection policies and the timing model (``core``), whole
plans from scenarios (``plan``), plan files (``io``), addresses and the location manager."""

from sigma_sn.planner.core import (Event, Handover, Timing, handovers, select,
                                   select_least_load)
from sigma_sn.planner.kinds import Action, Geometry, Mode, Policy, Selection, Serve, Window

__all__ = ["Action", "Event", "Geometry", "Handover", "Mode", "Policy", "Selection", "Serve",
           "Timing", "Window", "handovers", "select", "select_least_load"]
