"""Kinds that flow through a plan: mode, selection policy, protocol action, candidate
windows, serving sequences and the selection parameters."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple, Protocol

import numpy as np


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
    MIN_PATH_DELAY = "min-path-delay"            # the least end-to-end path delay (issue 21)
    MIN_HANDOVERS_DELAY = "min-handovers-delay"  # the optimum of handovers x weight + delay


#: the policies that read the path stage: router mode, with a scenario's [path] section
PATH_POLICIES = (Policy.MIN_PATH_DELAY, Policy.MIN_HANDOVERS_DELAY)

#: the policies each mode offers on its own (host mode: the paper's three plus the
#: optimum); router mode also offers PATH_POLICIES where the scenario has a [path]
POLICIES_BY_MODE = {
    Mode.ROUTER: tuple(p for p in Policy if p not in PATH_POLICIES),
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


class Window(NamedTuple):
    """One candidate window of one mobile: access point ``ap``, AOS and LOS (s after the
    plan's start) and the pass's highest elevation (deg). A named tuple, not a frozen
    dataclass: a day of Starlink for a thousand terminals makes four million of them, and
    a tuple is made four times faster."""

    ap: str
    aos_s: float
    los_s: float
    max_elev_deg: float = 90.0


class Serve(NamedTuple):
    """One entry of a serving sequence: ``index`` into the mobile's candidate windows and
    the preferred SET_PRIMARY time ``switch_s`` (None: as early as possible). On the first
    entry ``switch_s`` is when serving starts (None: at the window's AOS). A ``switch_s`` at
    or after the old window's LOS means the policy leaves a gap; ``wait_from_s`` (least-load)
    says the mobile waited for a full access point from then until ``switch_s``. A named
    tuple, as Window: max-elevation makes a million a day for a thousand terminals."""

    index: int
    switch_s: float | None = None
    wait_from_s: float | None = None


@dataclass(frozen=True)
class Selection:
    """Policy parameters (the scenario's ``[selection]`` table)."""

    # Hysteresis, so that the geometry-driven policies do not ping-pong (with none,
    # max-elevation switches a Starlink terminal every minute, some stays lasting one
    # 10 s decision step). Defaults a cellular engineer would expect:
    # - min_dwell_s: Starlink's scheduler reassigns terminals to satellites every 15 s
    #   (Tanveer et al., "Making Sense of Constellations", ACM CoNEXT 2023 companion);
    #   staying at least two such periods keeps a switch from being undone at the next.
    # - signal_margin_db: 3 dB, a common setting of LTE's A3 event (neighbour better than
    #   the serving cell by an offset plus hysteresis, 3GPP TS 36.331 §5.5.4.4): a
    #   neighbour must deliver twice the power before it is worth a handover.
    # - elev_margin_deg: a few degrees, well above the elevation error of a day-old TLE
    #   (a few km along-track at 550 km is well under a degree) so a switch is never made
    #   on prediction noise, yet small next to the spread of the satellites in view.
    # Set them to 0 for the pure rule (the crafted policy tests do).
    min_dwell_s: float = 30.0           # least time on an AP before a voluntary switch
    elev_margin_deg: float = 3.0        # max-elevation: switch only to an AP this much higher
    signal_margin_db: float = 3.0       # strongest-signal: switch only to an AP this much stronger
    decision_step_s: float = 10.0       # grid on which geometry-driven policies decide
    # Ku-band user downlink: the middle of the 10.7-12.7 GHz FSS space-to-Earth band that
    # Starlink's user beams use (SpaceX FCC application SAT-LOA-20161115-00118; Kozhaya,
    # Saroufim and Kassas, NAVIGATION 72(1), 2025, measure a carrier at 11.325 GHz in it).
    frequency_hz: float = 11.7e9
    # EIRP of one LEO Ku user beam: a representative value (no per-beam figure is
    # published). Every AP shares it, so it shifts received powers, never a selection.
    eirp_dbw: float = 36.7
    atmospheric_zenith_db: float = 0.0  # loss at zenith A_z; A_z / sin(elev) (cosecant law)
    ap_capacity: int | None = None      # least-load: mobiles per AP at once (None: unlimited)
    # min-path-delay: switch only to an AP whose one-way path delay is this much lower.
    # 2 ms is above what a switch can promise (Starlink's RTT varies by several ms from
    # one 15 s scheduling period to the next, Tanveer et al. as above) yet far below the
    # tens of ms a route across a +Grid mesh can cost (issue 21's medians: 5-192 ms RTT)
    delay_margin_ms: float = 2.0
    # min-handovers-delay: what one handover is worth against the integral of one-way path
    # delay (ms·s): 1000 switches when it saves 10 ms for 100 s, a third of a pass. 0: the
    # least delay at every decision; inf: the fewest handovers, then the least delay
    handover_weight_ms_s: float = 1000.0

    def __post_init__(self):
        for name in ("min_dwell_s", "elev_margin_deg", "signal_margin_db",
                     "atmospheric_zenith_db", "delay_margin_ms"):
            _check_number(name, getattr(self, name), minimum=0.0)
        if self.handover_weight_ms_s != math.inf:
            _check_number("handover_weight_ms_s", self.handover_weight_ms_s, minimum=0.0)
        for name in ("decision_step_s", "frequency_hz"):
            _check_number(name, getattr(self, name), minimum=0.0, strict=True)
        _check_number("eirp_dbw", self.eirp_dbw)
        cap = self.ap_capacity
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ValueError(f"ap_capacity: must be an integer >= 1 or None, got {cap!r}")


#: the Selection fields only the path policies read: a plan of any other policy leaves
#: them out of its parameters, so its bytes do not change with them
PATH_SELECTION_KEYS = ("delay_margin_ms", "handover_weight_ms_s")


def _check_number(name: str, value, minimum: float | None = None, strict: bool = False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}: must be a finite number, got {value!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{name}: must be {'>' if strict else '>='} {minimum:g}, got {value!r}")


#: the replay's parameters a plan records (``inputs.parameters.link`` and ``.traffic``,
#: docs/plan-format.md): the SimConfig fields the scenario's [link] and [traffic] tables
#: set (terrestrial_s comes from timing.terrestrial_one_way_s)
LINK_KEYS = ("capacity_bps", "queue_pkts", "loss_prob", "loss_prob_at_horizon",
             "lm_terrestrial_s", "lm_query_rate_per_s")
TRAFFIC_KEYS = ("traffic", "direction", "rate_pps", "payload_bytes", "seed", "bulk_detail_s")


class Geometry(Protocol):
    """Look angles of one mobile's links, for the geometry-driven policies."""

    def look(self, ap: str, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (elev_deg, range_km) of the link mobile<->``ap`` at times ``t_s`` (s after
        the plan's start)."""
        ...
