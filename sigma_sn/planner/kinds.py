"""Kinds that flow through a plan: mode, selection policy, protocol action."""

from __future__ import annotations

from enum import Enum


class Mode(str, Enum):
    """Who moves (paper §3.2): a terminal between satellites, or a satellite between stations."""

    ROUTER = "router"  # satellites are access routers; ground terminals are the mobiles
    HOST = "host"      # ground stations are access routers; satellites are the mobiles


class Policy(str, Enum):
    """How the next access point is chosen."""

    MAX_ELEVATION = "max-elevation"
    LONGEST_VISIBILITY = "longest-visibility"
    STRONGEST_SIGNAL = "strongest-signal"
    LEAST_LOAD = "least-load"
    MIN_HANDOVERS = "min-handovers"


#: the policies each mode offers (host mode: the paper's three plus the optimum)
POLICIES_BY_MODE = {
    Mode.ROUTER: tuple(Policy),
    Mode.HOST: (Policy.STRONGEST_SIGNAL, Policy.LEAST_LOAD, Policy.LONGEST_VISIBILITY,
                Policy.MIN_HANDOVERS),
}


class Action(str, Enum):
    """One SIGMA step (paper §2.1) as a planned event."""

    ADDRESS_READY = "ADDRESS_READY"  # step 1: L2 handover done, new address configured
    ADD_IP = "ADD_IP"                # step 2: ASCONF adding the new address
    SET_PRIMARY = "SET_PRIMARY"      # step 3: ASCONF redirecting traffic to it
    LM_UPDATE = "LM_UPDATE"          # step 4: location manager learns the new primary
    DELETE_IP = "DELETE_IP"          # step 5: ASCONF removing the old address
    DEACTIVATE = "DEACTIVATE"        # step 5, zig-zag: old address kept, zero window


#: the order actions sort in when they share an instant
ACTION_ORDER = {a: i for i, a in enumerate(Action)}
