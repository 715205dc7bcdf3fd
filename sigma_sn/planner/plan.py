"""Plan real visibility windows (docs/plan-format.md): each mobile's candidate windows, the
policy's serving sequence, the timing model's events with addresses, outages and the
location manager's timeline, as one JSON-ready dict.

This module assembles the plan: the candidate windows of every mobile, as columns; the
groups of mobiles planned by :mod:`sigma_sn.planner.groups` (in forked workers, with the
same bytes as one process) on the geometry of :mod:`sigma_sn.planner.sky`; their rows
(:mod:`sigma_sn.planner.rows`); and the plan's header. It also plans a loaded scenario.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from sigma_sn import compute
from sigma_sn.path.config import Anchor, path_parameters
from sigma_sn.planner import addresses, core, rows
from sigma_sn.planner.core import Timing
from sigma_sn.planner.groups import candidate_windows, run_groups
from sigma_sn.planner.kinds import (LINK_KEYS, PATH_POLICIES, PATH_SELECTION_KEYS,
                                    TRAFFIC_KEYS, Mode, Policy, Selection)
from sigma_sn.planner.pathpolicy import path_spans
from sigma_sn.planner.sky import LinkLook, Sky, rtt_bound_s

SCHEMA = "sigma-sn/plan/1"
_ROUND = rows.ROUND    # microseconds: exports are byte-identical across runs


def _r(x: float) -> float:
    return round(x, _ROUND)


def plan_windows(windows, satellites: Sequence, sites: Sequence, mode: Mode, policy: Policy,
                 timing: Timing = Timing(), rtt_bound: float | None = None, *,
                 selection: Selection = Selection(), prefix: str = addresses.DEFAULT_PREFIX,
                 min_elev_deg: float = 0.0, step_s: float = 60.0, mobiles=None,
                 name: str = "plan", sim=None, mip=None, sources: dict | None = None,
                 stats: dict | None = None, workers: int | None = 1, paths=None,
                 anchor: Anchor = Anchor.SATELLITE, link_budget=None, shared=None) -> dict:
    """Return the plan (docs/plan-format.md) for every mobile of ``windows``.

    Router mode: each site is a mobile, satellites are access points. Host mode: each
    satellite is a mobile, sites are access points. ``satellites`` and ``sites`` are the
    scenario's, in its order (the order gives interface identifiers; access points get
    subnets by name). ``rtt_bound``: the RTT bound the policies plan with (default:
    :func:`rtt_bound_s`). ``sources``: ``{"scenario": ..., "files": [...]}`` for
    ``inputs``; ``sim``/``mip``: SimConfig/MipConfig recorded as parameters. ``stats``,
    if given, receives the seconds each stage took and how many RTTs were evaluated.
    ``workers``: processes that share groups of mobiles (None: one per core); the plan is
    byte-identical whatever it is. ``stats`` stage seconds are then summed over them.
    ``paths``: the path stage's :class:`~sigma_sn.path.route.PathDelays` over ``windows``
    (router mode), which PATH_POLICIES plan by and least-load takes only windows with a
    path from (:func:`~sigma_sn.planner.pathpolicy.path_spans`); under a gateway anchor,
    a list of them, one per gateway (:func:`~sigma_sn.planner.anchor.paths_to_each_gateway`),
    or one.
    ``shared``: the path's :class:`~sigma_sn.path.config.SharedCapacity`, where least-load
    over ``paths`` weighs each mobile's offered rate against a satellite's capacity
    instead of counting mobiles (:func:`_rate_capacity`).
    ``anchor``: where the terminal's address is anchored; at a gateway
    (:mod:`sigma_sn.planner.anchor`) the access points are the gateways, handovers the
    gateway changes, and the plan lists the satellite changes under each gateway as
    ``path_changes``.
    ``link_budget``: the :class:`~sigma_sn.path.linkbudget.LinkBudget` strongest-signal
    ranks by (its SNR), as
    :func:`plan_scenario` passes for a scenario with a ``[path]``; None: the selection's
    received power.
    """
    # millions of small dicts and windows, no reference cycles: the cyclic collector would
    # rescan the growing heap again and again (a third of the time at 100 terminals)
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _plan_windows(windows, satellites, sites, mode, policy, timing, rtt_bound,
                             selection=selection, prefix=prefix, min_elev_deg=min_elev_deg,
                             step_s=step_s, mobiles=mobiles, name=name, sim=sim, mip=mip,
                             sources=sources, stats=stats, workers=workers, paths=paths,
                             anchor=anchor, link_budget=link_budget, shared=shared)
    finally:
        if enabled:
            gc.enable()


def _plan_windows(windows, satellites, sites, mode, policy, timing, rtt_bound, *, selection,
                  prefix, min_elev_deg, step_s, mobiles, name, sim, mip, sources, stats,
                  workers, paths, anchor, link_budget, shared):
    from sigma_sn.sim.mip import MipConfig
    from sigma_sn.sim.model import SimConfig

    stats = {} if stats is None else stats
    path_policy = policy in PATH_POLICIES
    if path_policy and (mode is not Mode.ROUTER or paths is None):
        raise ValueError(f"policy {policy.value} plans router mode over the path stage's "
                         "delays (paths=)")
    at_gateway = anchor is Anchor.GATEWAY
    if at_gateway and not path_policy:
        raise ValueError(f"anchor gateway plans with a path policy, not {policy.value}")
    sim = SimConfig() if sim is None else sim
    mip = MipConfig() if mip is None else mip
    router = mode is Mode.ROUTER
    bound_s = rtt_bound_s(satellites, sites, min_elev_deg, timing) if rtt_bound is None \
        else rtt_bound
    sat_names = _unique_names(satellites)
    site_names = [s.name for s in sites]
    ap_names, mobile_names = (sat_names, site_names) if router else (site_names, sat_names)
    aw = None
    if at_gateway:  # the gateways are the access points; the path stage's windows stay
        from sigma_sn.planner.anchor import anchor_windows

        aw = anchor_windows(paths)
        paths = paths[0] if isinstance(paths, (list, tuple)) else paths
        sat_windows, windows = windows, aw.windows
        ap_names = list(paths.gateway_names)
        if rtt_bound is None and len(aw.delay_ms):  # the RTT over a gateway is the path's
            bound_s = 2e-3 * float(aw.delay_ms.max())
    subnets = addresses.ap_subnets(ap_names, prefix)
    ap_index = {n: k for k, n in enumerate(ap_names)}
    sky = Sky(windows.epoch, windows.duration_s, satellites, sites)
    duration_s = float(windows.duration_s)

    # candidate windows per mobile, sorted by (AOS, AP name): Serve.index points here.
    # Kept as columns: the policies that need Window lists make them where they plan
    t0 = time.perf_counter()
    mob_of = windows.site if router else windows.sat
    ap_of = windows.sat if router else windows.site
    rank = np.empty(len(ap_names), np.int64)
    rank[sorted(range(len(ap_names)), key=ap_names.__getitem__)] = np.arange(len(ap_names))
    order, bounds = _by_mobile(mob_of, windows.aos_s, rank[ap_of], len(mobile_names))
    spans = {mobile: (bounds[m], bounds[m + 1]) for m, mobile in enumerate(mobile_names)}
    ap_col = [ap_names[k] for k in ap_of[order].tolist()]
    window_arrays = (ap_of[order], windows.aos_s[order], windows.los_s[order])
    elev = windows.max_elev_deg[order]
    looks = {mobile: LinkLook(sky, mode, m, ap_index) for m, mobile in enumerate(mobile_names)}
    stats["candidates_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    sequences = None
    capacity = _capacity(mode, sites, sat_names, selection)
    demand, reach = 1, None
    if policy is Policy.LEAST_LOAD and paths is not None and router:
        # least-load over the path: windows only where the path reaches the correspondent,
        # and, with shared capacity, rates against the satellite's capacity
        cut = path_spans(paths, windows.aos_s, windows.los_s)
        reach = {m: [cut[i] for i in order[lo:hi].tolist()] for m, (lo, hi) in spans.items()}
        if shared is not None:
            capacity, demand = _rate_capacity(sat_names, selection, shared)
    # least-load with capacities or a path is decided jointly, here; the rest per mobile
    # (without either no mobile's choice depends on another's: it is least-load alone)
    if policy is Policy.LEAST_LOAD and (capacity or reach is not None):
        candidates = {m: candidate_windows(ap_col, *window_arrays[1:], elev, lo, hi)
                      for m, (lo, hi) in spans.items()}
        joint = core.select_least_load(candidates, capacity, duration_s, timing, bound_s,
                                       geometry=looks, selection=selection, demand=demand,
                                       path_spans=reach)
        sequences = {m: list(joint.get(m, [])) for m in candidates}
    select_s = time.perf_counter() - t0
    workers = _workers(workers)
    job = {"ap_col": ap_col, "elev": elev, "spans": spans, "window_arrays": window_arrays,
           "looks": looks, "timing": timing, "bound_s": bound_s, "sky": sky,
           "sequences": sequences, "duration_s": duration_s, "policy": policy,
           "selection": selection, "link_budget": link_budget, "ap_index": ap_index,
           "mode": mode,
           "epoch": windows.epoch,
           # planner window i (sorted per mobile) is the path stage's window order[i]
           "path_delay": (lambda i, t_s: paths.delay_ms_at(order[i], t_s)) if path_policy
           else None,
           "anchor_rtt": None}
    if at_gateway:
        job["path_delay"] = lambda i, t_s: aw.delay_ms_at(order[i], t_s)
        job["anchor_rtt"] = aw.rtt_s
    t0 = time.perf_counter()
    made: dict = {}   # the candidate rows' columns, rounded

    def round_candidate_columns() -> None:
        # rounded on first use: once workers are forked, not before
        if not made:
            made.update((k, rows.rounded_array(getattr(windows, k)[order]))
                        for k in rows.CANDIDATE_KEYS[1:])

    iid = {m: k for k, m in enumerate(mobile_names, start=1)}
    book = addresses.AddressBook(subnets)
    rows_s = time.perf_counter() - t0
    if sequences is None and workers > 1 and policy in (Policy.MAX_ELEVATION,
                                                        Policy.STRONGEST_SIGNAL):
        # every satellite on the decision grid once, before the fork shares it (or the
        # job carries it to Dask's workers: filling it in each of them took more CPU in
        # all than this and shipping it); the parent, which would only wait for forked
        # fillers, rounds the candidate columns meanwhile
        t0 = time.perf_counter()
        sky.grid_for(range(len(sky.satrecs)), selection.decision_step_s, workers,
                     meanwhile=round_candidate_columns)
        stats["grid_s"] = time.perf_counter() - t0
    # else (on Dask, or no grid) the parent rounds them while the workers plan the first
    # groups
    meanwhile = (round_candidate_columns if (workers > 1 or compute.current().dask)
                 and not made else None)
    built = rows.PlanRows(ap_names, book, iid)   # columns: a day's millions of rows are
    # made on use, if ever
    # groups of mobiles in name order, so each group's rows append in the order the plan
    # lists them (by mobile name first)
    with contextlib.closing(run_groups(sorted(mobile_names), job, workers, stats,
                                       meanwhile=meanwhile)) as done:
        for names, part in done:
            t0 = time.perf_counter()
            built.add(names, part)
            rows_s += time.perf_counter() - t0
    t0 = time.perf_counter()
    round_candidate_columns()
    tables = built.tables(rows.candidates(built.names, spans, window_arrays[0], ap_names,
                                          made))
    out_mobiles = tables["mobiles"]
    rows_s += time.perf_counter() - t0
    sky.forget_grid()
    stats["select_s"] = stats.get("select_s", 0.0) + select_s
    stats["rows_s"] = rows_s
    mentioned_aps: set[str] = set(ap_col)
    # under a gateway anchor the satellites carry the paths: every one a terminal sees
    mentioned_sats = ({sat_names[k] for k in np.unique(sat_windows.sat).tolist()}
                      if at_gateway else mentioned_aps)

    # every list is sorted so the JSON diffs well
    sats_out = [{"name": n, "norad_id": int(s.norad_id)} for n, s in zip(sat_names, satellites)
                if not router or n in mentioned_sats]
    sites_out = [{"name": s.name, "lat_deg": s.lat_deg, "lon_deg": s.lon_deg,
                  "alt_m": s.alt_m, "min_elev_deg": s.mask_deg(min_elev_deg),
                  "capacity": s.capacity} for s in sites]
    for row, s in zip(sites_out, sites):
        if s.horizon is not None:  # so a replay recomputes the windows with it
            row["horizon"] = {"az_deg": list(s.horizon.az_deg),
                              "elev_deg": list(s.horizon.elev_deg)}
    plan = {
        "schema": SCHEMA, "name": name, "mode": mode.value, "policy": policy.value,
        "start_utc": str(windows.epoch.iso(0.0)),
        "end_utc": str(windows.epoch.iso(duration_s)),
        "duration_s": _r(duration_s),
        "inputs": {
            "scenario": (sources or {}).get("scenario"),
            "files": list((sources or {}).get("files", [])),
            "parameters": {
                "min_elev_deg": float(min_elev_deg), "step_s": float(step_s),
                "mobiles": None if mobiles is None else list(mobiles),
                "rtt_bound_s": _r(bound_s),
                "timing": dataclasses.asdict(timing),
                "selection": _selection_parameters(selection, path_policy, policy,
                                                   link_budget),
                "addresses": {"prefix": prefix},
                "link": {k: getattr(sim, k) for k in LINK_KEYS},
                "traffic": {k: getattr(sim, k) for k in TRAFFIC_KEYS},
                "mip": dataclasses.asdict(mip),
            },
        },
        "satellites": sorted(sats_out, key=lambda r: (r["name"], r["norad_id"])),
        "sites": sorted(sites_out, key=lambda r: r["name"]),
        "access_points": [{"name": n, "prefix": str(subnets[n])}
                          for n in sorted(mentioned_aps)],
        **tables,   # mobiles by name (the groups were made in name order), handovers,
        # outages and location updates by mobile
    }
    if path_policy:
        plan["inputs"]["parameters"]["path"] = {
            "mode": paths.mode.value, "step_s": float(paths.step_s),
            "gateways": list(paths.gateway_names),
            "correspondent": dataclasses.asdict(paths.correspondent)}
    if at_gateway:
        plan["inputs"]["parameters"]["path"]["anchor"] = anchor.value
        plan["path_changes"] = _path_changes(aw, sat_windows, out_mobiles, mobile_names,
                                             sat_names)
    return plan


def _path_changes(aw, sat_windows, mobile_rows: rows.Table, mobile_names,
                  sat_names) -> list[dict]:
    """The ``path_changes`` of a gateway-anchored plan (docs/plan-format.md): inside each
    serving interval, every routing step where the quickest path under the gateway moves
    to another satellite; by mobile, then time."""
    from sigma_sn.planner.anchor import path_changes

    w = aw.windows
    gw_index = {n: k for k, n in enumerate(w.sat_names)}
    term_index = {n: k for k, n in enumerate(mobile_names)}
    # each (terminal, gateway)'s anchor windows, by AOS
    by_pair: dict[tuple[int, int], list[int]] = {}
    for k in np.lexsort((w.aos_s, w.sat, w.site)).tolist():
        by_pair.setdefault((int(w.site[k]), int(w.sat[k])), []).append(k)
    # the serving intervals from the mobiles' columns (no candidate row is made)
    serving, offsets = mobile_rows.columns()[1]["serving"]
    ap, from_s, to_s = (serving.column(k) for k in ("ap", "from_s", "to_s"))
    out = []
    for name, lo, hi in zip(mobile_rows.column("name"), offsets[:-1].tolist(),
                            offsets[1:].tolist()):
        term = term_index[name]
        for gateway, start_s, end_s in zip(ap[lo:hi], from_s[lo:hi], to_s[lo:hi]):
            mine = by_pair[(term, gw_index[gateway])]
            # the anchor window the interval lies in: the last to rise at or before it
            k = mine[max(0, int(np.searchsorted(w.aos_s[mine], start_s + 1e-6,
                                                side="right")) - 1)]
            for t, a, b, da, db in path_changes(aw, k, start_s, end_s):
                out.append({"mobile": name, "gateway": gateway, "t_s": _r(t),
                            "from": sat_names[int(sat_windows.sat[a])],
                            "to": sat_names[int(sat_windows.sat[b])],
                            "from_delay_ms": _r(da), "to_delay_ms": _r(db)})
    for row, text in zip(out, w.epoch.iso([r["t_s"] for r in out]).tolist() if out else []):
        row["t_utc"] = text
    return out


def _selection_parameters(selection: Selection, path_policy: bool, policy: Policy,
                          link_budget=None) -> dict:
    """The selection a plan records: the path policies' own keys only in their plans, so
    other plans keep their bytes. Strongest-signal's says what ranked it: the link
    budget's SNR (the budget, not the selection's power terms, which decided nothing) or
    the received power (:func:`~sigma_sn.planner.core.metric_of`)."""
    out = dataclasses.asdict(selection)
    if out["handover_weight_ms_s"] == float("inf"):  # JSON has no infinity: None stands in
        out["handover_weight_ms_s"] = None
    if not path_policy:
        for k in PATH_SELECTION_KEYS:
            del out[k]
    if policy is Policy.STRONGEST_SIGNAL and link_budget is not None:
        for k in ("frequency_hz", "eirp_dbw", "atmospheric_zenith_db"):
            del out[k]
        out.update(ranked_by="snr_db", link_budget=dataclasses.asdict(link_budget))
    elif policy is Policy.STRONGEST_SIGNAL:
        out["ranked_by"] = "received_power_dbw"
    return out


def _by_mobile(mobile, aos_s, ap_rank, n_mobiles: int) -> tuple[np.ndarray, list[int]]:
    """Return the order of windows by (mobile, AOS, access point) and where each mobile's
    windows start in it (one more entry: the end). np.lexsort of the three keys at once
    takes twice as long as grouping by mobile, then sorting each mobile's few thousand."""
    by_mobile = np.argsort(mobile, kind="stable")
    bounds = np.searchsorted(mobile[by_mobile], np.arange(n_mobiles + 1)).tolist()
    aos_s, ap_rank = aos_s[by_mobile], ap_rank[by_mobile]
    order = np.empty_like(by_mobile)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        order[lo:hi] = by_mobile[lo:hi][np.lexsort((ap_rank[lo:hi], aos_s[lo:hi]))]
    return order, bounds


def _workers(workers: int | None) -> int:
    return (os.cpu_count() or 1) if workers is None else max(1, int(workers))


def _unique_names(satellites) -> list[str]:
    """Satellite names, with the catalogue number added where a name repeats (access
    points and mobiles are known by name)."""
    names = [s.name for s in satellites]
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    return [f"{s.name} ({s.norad_id})" if seen[s.name] > 1 else s.name for s in satellites]


def _capacity(mode: Mode, sites, sat_names, selection: Selection) -> dict[str, int]:
    """Per access point capacity for least-load: stations' own in host mode, the
    selection's ``ap_capacity`` for every satellite in router mode (absent: unlimited)."""
    if mode is Mode.HOST:
        return {s.name: int(s.capacity) for s in sites if s.capacity is not None}
    if selection.ap_capacity is None:
        return {}
    return {n: int(selection.ap_capacity) for n in sat_names}


def _rate_capacity(sat_names, selection: Selection, shared) -> tuple[dict[str, float], float]:
    """Per satellite the offered rate (Mb/s) least-load lets it carry and each mobile's
    demand: the satellite's capacity, as the load stage shares it (``sat_capacity_mbps``,
    ``offered_load_mbps``), and no more than ``ap_capacity`` mobiles' demand where that
    is set too (every mobile offers the same, so a count is a rate)."""
    cap = shared.sat_capacity_mbps
    if selection.ap_capacity is not None:
        cap = min(cap, selection.ap_capacity * shared.offered_load_mbps)
    return {n: cap for n in sat_names}, shared.offered_load_mbps


def display_path(path) -> str:
    """Return ``path`` relative to the working directory, normalised, with ``/``."""
    p = os.path.abspath(path)
    try:
        rel = os.path.relpath(p)
    except ValueError:  # another drive (Windows): nothing relative exists
        return Path(p).as_posix()
    return Path(os.path.normpath(rel)).as_posix()


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class ScenarioWindows:
    """The satellites and sites a scenario plans (after its ``mobiles`` selection) and
    their visibility windows: computed once, planned under any policy."""

    satellites: tuple
    sites: tuple
    windows: object


def scenario_windows(scenario, *, progress=None, workers: int | None = 1) -> ScenarioWindows:
    """Load the elements of a loaded :class:`~sigma_sn.scenario.Scenario`, select its
    mobiles and compute the visibility windows (``sigma_sn.visibility.find_windows``).
    ``progress``: None, a Progress-like object (``advance(n)`` per satellite), or a
    callable that takes the number of satellites and returns one.

    Raises :class:`~sigma_sn.errors.InputError` naming the scenario's key when its
    ``mobiles`` name a satellite that is not in the element files (host mode).
    """
    from sigma_sn.elements import load_elements
    from sigma_sn.errors import InputError
    from sigma_sn.visibility import find_windows

    sc = scenario
    sats = list(load_elements(sc.element_files).satellites)
    sites = list(sc.sites)
    if sc.mobiles is not None:
        if sc.mode is Mode.ROUTER:
            by = {s.name: s for s in sites}
            sites = [by[n] for n in sc.mobiles]
        else:
            by = {}
            for s, n in zip(sats, _unique_names(sats)):
                by[n] = s
            unknown = [n for n in sc.mobiles if n not in by]
            if unknown:
                raise InputError(f"no satellite named {unknown[0]!r} in the element files",
                                 path=str(sc.path), key="mobiles")
            mob = [by[n] for n in sc.mobiles]
            sats = mob
    if not sats:
        raise InputError("the element files hold no satellites", path=str(sc.path),
                         key="elements")
    if progress is not None and not hasattr(progress, "advance"):
        progress = progress(len(sats))
    w = find_windows(sats, sites, sc.start_utc, sc.duration_s, min_elev_deg=sc.min_elev_deg,
                     step_s=sc.step_s, workers=workers, progress=progress)
    return ScenarioWindows(tuple(sats), tuple(sites), w)


def scenario_paths(scenario, windows: ScenarioWindows, *, workers: int | None = 1):
    """Return the path stage's :class:`~sigma_sn.path.route.PathDelays` of a scenario's
    ``[path]`` section over its windows (router mode: the sites are the terminals);
    under a gateway anchor, one per gateway it lands at, each routed to that gateway
    (:func:`~sigma_sn.planner.anchor.paths_to_each_gateway`).

    Raises :class:`~sigma_sn.errors.InputError` naming the ``path`` key when the scenario
    has no such section."""
    from sigma_sn.errors import InputError
    from sigma_sn.path.route import compute_paths, model_for_scenario

    if scenario.path_config is None:
        raise InputError(f"policy {scenario.policy.value} needs a [path] section (gateways "
                         "and correspondent, docs/path.md)", path=str(scenario.path),
                         key="path")
    model = model_for_scenario(scenario, list(windows.satellites), workers=workers)
    paths = compute_paths(model, list(windows.sites), windows.windows, workers=workers)
    if scenario.path_config.anchor is Anchor.GATEWAY:
        from sigma_sn.planner.anchor import paths_to_each_gateway

        return paths_to_each_gateway(model, list(windows.sites), windows.windows, paths,
                                     workers=workers)
    return paths


def plan_scenario(scenario, *, progress=None, workers: int | None = 1,
                  windows: ScenarioWindows | None = None, paths=None) -> dict:
    """Return the plan of a loaded :class:`~sigma_sn.scenario.Scenario`: its windows
    (``windows`` if given, e.g. to plan one set under several policies, else
    :func:`scenario_windows` with ``progress``) planned by :func:`plan_windows`. A policy
    that reads the path plans over ``paths`` (else :func:`scenario_paths`)."""
    sc = scenario
    anchor = sc.path_config.anchor if sc.path_config else Anchor.SATELLITE
    if anchor is Anchor.GATEWAY and sc.policy not in PATH_POLICIES:
        from sigma_sn.errors import InputError

        # the scenario loader says so too; this catches a policy swapped in afterwards
        raise InputError(f"anchor gateway chooses by the path's delay; policy "
                         f"{sc.policy.value} does not", path=display_path(sc.path),
                         key="path.anchor")
    sw = windows or scenario_windows(sc, progress=progress, workers=workers)
    # least-load reads the path too where there is one (router mode: the path stage's)
    reads_path = sc.policy in PATH_POLICIES or (
        sc.policy is Policy.LEAST_LOAD and sc.path_config is not None
        and sc.mode is Mode.ROUTER)
    if reads_path and paths is None:
        paths = scenario_paths(sc, sw, workers=workers)
    files = [{"role": "elements", "path": display_path(p), "sha256": sha256_of(p)}
             for p in sc.element_files]
    files += [{"role": "sites", "path": display_path(p), "sha256": sha256_of(p)}
              for p in sc.site_files]
    sources = {"scenario": {"path": display_path(sc.path), "sha256": sha256_of(sc.path)},
               "files": files}
    plan = plan_windows(sw.windows, list(sw.satellites), list(sw.sites), sc.mode, sc.policy,
                        sc.timing, selection=sc.selection, prefix=sc.address_prefix,
                        min_elev_deg=sc.min_elev_deg, step_s=sc.step_s, mobiles=sc.mobiles,
                        name=sc.name, sim=sc.sim, mip=sc.mip, sources=sources,
                        workers=workers, paths=paths if reads_path else None,
                        anchor=anchor, link_budget=scenario_link_budget(sc),
                        shared=sc.path_config.shared if sc.path_config else None)
    if sc.path_config is not None:  # the whole model, so a replay rebuilds the same paths
        plan["inputs"]["parameters"]["path"] = path_parameters(sc.path_config)
    return plan


def scenario_link_budget(scenario):
    """Return the link budget a scenario's replay takes each link's loss from, which its
    strongest-signal plans rank by: with a ``[path]`` in router mode (the replay on the
    path, :func:`sigma_sn.sim.pathgeom.link_on_path`), the default
    :class:`~sigma_sn.path.linkbudget.LinkBudget`; else None (no link budget: the replay's
    loss does not follow one, and strongest-signal ranks by received power)."""
    from sigma_sn.path.linkbudget import LinkBudget

    if scenario.path_config is None or scenario.mode is not Mode.ROUTER:
        return None
    return LinkBudget()


def dumps(plan: dict) -> str:
    """Return ``plan`` as sorted, stable JSON text."""
    return json.dumps(plan, sort_keys=True, indent=1) + "\n"


__all__ = ["SCHEMA", "ScenarioWindows", "display_path", "dumps", "plan_scenario",
           "plan_windows", "scenario_link_budget", "scenario_paths", "scenario_windows",
           "sha256_of"]
