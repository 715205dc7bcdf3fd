"""A plan's replays before their link geometry is built: the inputs every mobile shares,
and each mobile's own small part of the plan.

Building a mobile's links (:func:`replay_geometry`) propagates its candidate satellites
around their windows, which costs more than a short replay does. So it runs where the
replay runs: in the fork pool's workers or in a Dask task
(:func:`sigma_sn.sim.run.simulate_many` takes a :class:`PlannedReplays`), with the
shared :class:`ReplayInputs` inherited by the fork or scattered once to every Dask
worker, and only a :class:`MobileReplay` (a few hundred bytes) in each task. The local
run and every task call the same function, so the bytes are the same wherever it runs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from sigma_sn import compute
from sigma_sn.sim.linkgeom import link_geometries
from sigma_sn.sim.model import Handover, Replay, Step


@dataclass(frozen=True)
class ReplayInputs:
    """What every mobile's geometry reads: windows recomputed for the plan's satellites
    and sites (``satellites``, ``sites`` index ``windows``), the path model's routes
    (None off a path), the link sampling step and the plan's address set-up time."""

    start_utc: str
    duration_s: float
    windows: Any                      # sigma_sn.visibility.Windows
    satellites: tuple
    sites: tuple
    paths: Any = None                 # sigma_sn.sim.pathgeom paths, on a path
    step_s: float = 10.0
    address_setup_s: float = 0.0
    ra_interval_s: float = 0.0        # the RA interval within it (Replay.ra_interval_s)
    anchors: Any = None               # gateway anchor: sigma_sn.planner.anchor windows
    load: Any = None                  # shared capacity: sigma_sn.path.load.SharedLoad
    sat_index: dict | None = None     # satellite name -> index, for the shares
    capacity_bps: float = 0.0         # the replay link's own capacity, for the shares


@dataclass(frozen=True)
class MobileReplay:
    """One mobile's part of the plan: its links as ``(sat_index, site_index, ap)``, the
    rows of the shared windows that belong to it (its site's, or its satellite's in host
    mode; ascending), where it starts, and its steps and handovers."""

    name: str
    pairs: tuple[tuple[int, int, str], ...]
    rows: np.ndarray
    initial_ap: str
    initial_address: str
    steps: tuple[Step, ...]
    handovers: tuple[Handover, ...]
    site: int = -1


@dataclass(frozen=True)
class PlannedReplays:
    """The replays of a plan, one per mobile, whose geometry is built where they run."""

    inputs: ReplayInputs
    mobiles: tuple[MobileReplay, ...]

    def __len__(self) -> int:
        return len(self.mobiles)


def replay_geometry(inputs: ReplayInputs, mobile: MobileReplay) -> Replay:
    """Return ``mobile``'s :class:`Replay`: its links' geometry
    (:func:`~sigma_sn.sim.linkgeom.link_geometries`, on the path if there is one)."""
    # only this mobile's rows: selecting each link's windows among all of them would
    # cost (mobiles x links x windows), quadratic in the terminals
    if inputs.anchors is not None:
        from sigma_sn.sim.pathgeom import anchor_links

        share_of = None
        if inputs.load is not None:
            from sigma_sn.path.load import link_shares

            share_of = functools.partial(link_shares, inputs.load, mobile.name,
                                         capacity_bps=inputs.capacity_bps)
        links = anchor_links(inputs.anchors, inputs.windows, inputs.satellites, inputs.sites,
                             mobile.site, share_of)
    else:
        # only this mobile's rows: selecting each link's windows among all of them would
        # cost (mobiles x links x windows), quadratic in the terminals
        windows = inputs.windows.select(mobile.rows)
        pairs = {(i, j): ap for i, j, ap in mobile.pairs}
        links = link_geometries(windows, list(pairs), inputs.satellites, inputs.sites,
                                step_s=inputs.step_s, names=pairs)
        if inputs.paths is not None:
            from sigma_sn.sim.pathgeom import link_on_path

            rows = {ap: mobile.rows[(windows.sat == i) & (windows.site == j)]
                    for (i, j), ap in pairs.items()}
            links = {ap: link_on_path(links[ap], inputs.paths, rows[ap]) for ap in rows}
            if inputs.load is not None:
                from sigma_sn.path.load import shared_links

                links = shared_links(links, inputs.load, mobile.name, inputs.sat_index, rows,
                                     inputs.paths, inputs.capacity_bps)
    return Replay(mobile.name, inputs.start_utc, inputs.duration_s,
                  tuple(links[a] for a in sorted(links)), mobile.initial_ap,
                  mobile.initial_address, mobile.steps, mobile.handovers,
                  address_setup_s=inputs.address_setup_s,
                  ra_interval_s=inputs.ra_interval_s, shared_load=inputs.load)


def build_replays(planned: PlannedReplays, progress=None) -> list[Replay]:
    """Every mobile's :class:`Replay`, in the plan's order, built where the session says
    (:func:`sigma_sn.compute.ordered_map`); ``progress.advance(1)`` per mobile."""
    workers = compute.dask_workers() if compute.current().dask else compute.workers(1)
    groups = compute.chunks(list(planned.mobiles), workers)
    sizes = iter([len(g) for g in groups])
    tick = None if progress is None else (lambda n: progress.advance(next(sizes)))
    return [replay for got in compute.ordered_map(
                _geometries, groups, planned.inputs, workers=workers,
                label="group of link geometries", progress=tick,
                describe=lambda g: f"mobiles {g[0].name} .. {g[-1].name}")
            for replay in got]


def _geometries(group: list[MobileReplay], inputs: ReplayInputs) -> list[Replay]:
    return [replay_geometry(inputs, mobile) for mobile in group]


__all__ = ["MobileReplay", "PlannedReplays", "ReplayInputs", "build_replays",
           "replay_geometry"]
