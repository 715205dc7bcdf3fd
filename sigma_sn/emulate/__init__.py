"""Emulation of a plan on a real multipath stack: Linux MPTCP in network namespaces.

Beside the SimPy replay (``sigma_sn.sim``), not on top of it: this package reads the
plan on its own and imports nothing of the replay, so the two can check each other.
MP_JOIN plays ADD_IP, MP_PRIO (the backup flag) SET_PRIMARY, REMOVE_ADDR DELETE_IP.
"""

from sigma_sn.emulate.netns import EmulationError, Testbed, namespaces, requirements
from sigma_sn.emulate.run import emulate
from sigma_sn.emulate.schedule import Protocol, Schedule, build_schedule

__all__ = ["EmulationError", "Protocol", "Schedule", "Testbed", "build_schedule", "emulate",
           "namespaces", "requirements"]
