"""Predictive SIGMA-SN planner (work in progress: core selection and timing model only)."""

from sigma_sn.planner.core import (Event, Handover, Timing, Window, handovers,
                                   longest_visibility, min_handovers, select)
from sigma_sn.planner.kinds import Action, Mode, Policy

__all__ = ["Action", "Event", "Handover", "Mode", "Policy", "Timing", "Window", "handovers",
           "longest_visibility", "min_handovers", "select"]
