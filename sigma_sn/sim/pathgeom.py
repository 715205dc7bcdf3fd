"""The replay on a path (a scenario's ``[path]``, issue 16): each link's delay is the path
stage's delay to the correspondent (uplink + ISL hops + downlink + fibre) at each routing
step, and its random loss the link budget's at that step's range and elevation.

The plan carries the path model (``inputs.parameters.path``, docs/plan-format.md), the
gateways written out in it, so ``sigma-sn simulate plan.json`` rebuilds the same paths.
Everything here is computed once per replay, with numpy, per routing step; the SimPy
model only reads the samples (:class:`~sigma_sn.sim.links.LinkGeometry`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sigma_sn.errors import InputError
from sigma_sn.sim.linkgeom import TRUNCATED_PAD_S
from sigma_sn.sim.links import LinkGeometry

#: the keys of ``inputs.parameters.path``
PATH_KEYS = ("mode", "step_s", "correspondent", "gateways", "fibre_per_hop_ms",
             "fibre_hop_km", "isl_max_range_km", "isl_polar_cutoff_deg", "isl_plane_tol_deg")


def path_model_from_plan(path: dict, satellites, start_utc: str, duration_s: float,
                         min_elev_deg: float, *, source: str = "plan"):
    """Return the :class:`~sigma_sn.path.route.PathModel` of a plan's
    ``inputs.parameters.path`` over ``satellites`` (the whole element set: ISLs route
    over satellites the plan never serves from)."""
    from sigma_sn.path.config import Isl, PathMode
    from sigma_sn.path.ground import Correspondent, Fibre
    from sigma_sn.path.route import PathModel
    from sigma_sn.sites import Site

    key = "inputs.parameters.path"
    missing = [k for k in PATH_KEYS if k not in path]
    if missing:
        raise InputError(f"missing {', '.join(missing)}", path=source, key=key)
    try:
        gateways = [Site(g["name"], float(g["lat_deg"]), float(g["lon_deg"]),
                         float(g.get("alt_m") or 0.0), g.get("min_elev_deg"))
                    for g in path["gateways"]]
        c = path["correspondent"]
        return PathModel(
            satellites, gateways,
            Correspondent(c["name"], float(c["lat_deg"]), float(c["lon_deg"])),
            start_utc, duration_s, mode=PathMode(path["mode"]), min_elev_deg=min_elev_deg,
            fibre=Fibre(float(path["fibre_per_hop_ms"]), float(path["fibre_hop_km"])),
            isl=Isl(float(path["isl_max_range_km"]), float(path["isl_polar_cutoff_deg"]),
                    float(path["isl_plane_tol_deg"])),
            step_s=float(path["step_s"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"malformed path model: {exc!r}", path=source, key=key) from None


def link_on_path(geometry: LinkGeometry, paths, rows) -> LinkGeometry:
    """Return ``geometry`` on the path: its samples at the routing steps of its windows
    ``rows`` (indices into ``paths.windows``, in AOS order, one per up interval of
    ``geometry``), the one-way delay to the correspondent and the link budget's loss
    probability at each; up only where the path reaches a gateway.

    A window starts before its first routing step (AOS is not on the grid): the first
    step's delay holds back to AOS, as the last one holds to LOS.
    """
    from sigma_sn.path.linkbudget import LinkBudget, loss_probability, snr_db

    t_parts, d_parts, up = [], [], []
    step = paths.step_s
    for (a, b), w in zip(geometry.up_s, rows):
        t_s, delay_ms, _, _ = paths.samples(int(w))
        ok = np.isfinite(delay_ms)
        t_parts.append(t_s[ok])
        d_parts.append(delay_ms[ok].astype(float) / 1000.0)
        # runs of reachable steps: each is up from its first step to one step past its
        # last, the window's ends standing in for the first and last steps
        edges = np.flatnonzero(np.diff(np.concatenate([[False], ok, [False]]).astype(int)))
        for r0, r1 in zip(edges[::2], edges[1::2] - 1):
            start = a if r0 == 0 else float(t_s[r0])
            end = b if r1 == len(t_s) - 1 else float(t_s[r1]) + step
            up.append((start, min(end, b)))
    t_s = np.concatenate(t_parts) if t_parts else np.zeros(0)
    delay_s = np.concatenate(d_parts) if d_parts else np.zeros(0)
    if len(t_s) == 0:       # never reaches a gateway: a link that is never up
        return LinkGeometry(geometry.ap, geometry.t_s, geometry.range_km, geometry.elev_deg,
                            ())
    if len(t_s) == 1:
        t_s, delay_s = np.append(t_s, t_s[0] + step), np.repeat(delay_s, 2)
    range_km = np.interp(t_s, geometry.t_s, geometry.range_km)
    elev_deg = np.interp(t_s, geometry.t_s, geometry.elev_deg)
    loss = loss_probability(snr_db(range_km, elev_deg, LinkBudget()))
    return LinkGeometry(geometry.ap, t_s, range_km, elev_deg, tuple(up), delay_s=delay_s,
                        loss_prob=loss)


def paths_for_replay(path: dict, catalog_satellites, sat_objs, site_objs, windows, *,
                     start_utc: str, duration_s: float, min_elev_deg: float,
                     source: str = "plan"):
    """Return the :class:`~sigma_sn.path.route.PathDelays` of ``windows`` (found over
    ``sat_objs`` and ``site_objs``, the plan's satellites and terminals), routed over
    the whole ``catalog_satellites``; their window indices are those of ``windows``.
    Under a gateway anchor, one per gateway, as the planner has them
    (:func:`~sigma_sn.planner.anchor.paths_to_each_gateway`)."""
    from sigma_sn.path.route import compute_paths

    model = path_model_from_plan(path, catalog_satellites, start_utc, duration_s,
                                 min_elev_deg, source=source)
    index = {id(s): k for k, s in enumerate(catalog_satellites)}
    in_catalog = np.array([index[id(s)] for s in sat_objs], np.int64)
    terminal_windows = dataclasses.replace(windows, sat=in_catalog[windows.sat]
                                           if len(windows) else windows.sat)
    paths = compute_paths(model, site_objs, terminal_windows)
    if path.get("anchor", "satellite") == "gateway":
        from sigma_sn.planner.anchor import paths_to_each_gateway

        return paths_to_each_gateway(model, site_objs, terminal_windows, paths)
    return paths


def path_rtt_s(links, log, mask) -> np.ndarray:
    """Return the path RTT (s, twice the one-way path delay) each packet of ``log``
    selected by ``mask`` met at its send time over the link it took; empty when no link
    of ``links`` (:class:`LinkGeometry`) is on a path. Looked up per link, vectorised."""
    on_path = {g.ap: g for g in links if g.delay_s is not None}
    if not on_path:
        return np.zeros(0)
    sent, ap = log.sent_s[mask], log.ap[mask]
    out = np.full(len(sent), np.nan)
    for k, name in enumerate(log.ap_names):
        g = on_path.get(name)
        sel = ap == k
        if g is None or not sel.any():
            continue
        # held from the last sample at or before the send time, as Link.delay_s
        i = np.clip(np.searchsorted(g.t_s, sent[sel], side="right") - 1, 0, len(g.t_s) - 1)
        out[sel] = 2.0 * g.delay_s[i]
    return out[np.isfinite(out)]


def path_rtt_summary_ms(rtt_s: np.ndarray) -> dict | None:
    """``{"mean", "p95"}`` (ms) of path RTTs, or None when there are none."""
    if not rtt_s.size:
        return None
    return {"mean": round(float(rtt_s.mean()) * 1e3, 3),
            "p95": round(float(np.percentile(rtt_s, 95)) * 1e3, 3)}


def anchor_links(aw, sat_windows, sat_objs, site_objs, terminal: int,
                 share_of=None) -> dict[str, LinkGeometry]:
    """Return the links of one terminal under a gateway anchor (``[path] anchor =
    "gateway"``, :mod:`sigma_sn.planner.anchor`): one per gateway, up inside its anchor
    windows, its delay per routing step the quickest path under that gateway, and its
    link budget that satellite's at that step (``sat_windows``: the path stage's
    windows over ``sat_objs`` and ``site_objs``; ``terminal``: a site index). With
    shared capacity, ``share_of(sat, gateway, step)`` gives each sample's share
    (:func:`sigma_sn.path.load.link_shares`): that satellite's and gateway's.

    A path change is a step of this link's delay, nothing more: each packet takes the
    delay of the path at the moment it leaves the queue (:meth:`Link.send
    <sigma_sn.sim.links.Link.send>`), so when the new path is quicker by Δ, packets sent
    in the last Δ on the old one arrive after the first ones on the new one (reordering,
    no loss); when it is slower, arrivals pause for Δ. No address changes and no
    ASCONF is sent.
    """
    from sigma_sn.path.linkbudget import LinkBudget, loss_probability, snr_db
    from sigma_sn.planner.sky import Sky

    w = aw.windows
    sky = Sky(w.epoch, w.duration_s, sat_objs, site_objs)
    out = {}
    for g in np.unique(w.sat[w.site == terminal]).tolist():
        mine = np.flatnonzero((w.sat == g) & (w.site == terminal))
        mine = mine[np.argsort(w.aos_s[mine], kind="stable")]
        parts = [aw.samples(int(k)) for k in mine]
        t_s = np.concatenate([p[0] for p in parts])
        delay_s = np.concatenate([p[1] for p in parts]) / 1000.0
        via = np.concatenate([p[2] for p in parts])
        look = sky.look(sat_windows.sat[via], sat_windows.site[via], t_s)
        # a window still up at the end stays up past it, as link_geometries has it
        up = tuple((float(w.aos_s[k]), float(w.duration_s + TRUNCATED_PAD_S
                                             if w.los_truncated[k] else w.los_s[k]))
                   for k in mine)
        range_km, elev_deg = look.range_km, look.elev_deg
        share = None
        if share_of is not None:   # the samples are the routing steps themselves
            share = share_of(sat_windows.sat[via], np.full(len(via), g),
                             np.rint(t_s / aw.step_s).astype(np.int64))
        if len(t_s) == 1:
            t_s, delay_s = np.append(t_s, t_s[0] + aw.step_s), np.repeat(delay_s, 2)
            range_km, elev_deg = np.repeat(range_km, 2), np.repeat(elev_deg, 2)
            share = None if share is None else np.repeat(share, 2)
        loss = loss_probability(snr_db(range_km, elev_deg, LinkBudget()))
        name = w.sat_names[g]
        out[name] = LinkGeometry(name, t_s, range_km, elev_deg, up, delay_s=delay_s,
                                 loss_prob=loss, share=share)
    return out
