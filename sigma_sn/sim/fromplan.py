"""From a plan (``sigma-sn/plan/1``, docs/plan-format.md) to replays and a report.

The plan says what to do and when; geometry says what the links do. Geometry comes
from the plan's own element files (recomputed only for the satellites and sites the
plan mentions), or, to see what prediction error costs, from another element set
(``truth_elements``): the same plan then meets the truth's rise and set times.
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from pathlib import Path

import numpy as np

from sigma_sn.errors import InputError
from sigma_sn.sim.mip import MipConfig, access_from_timing
from sigma_sn.sim.model import Handover, Replay, SimConfig, Step
from sigma_sn.sim.planned import (MobileReplay, PlannedReplays, ReplayInputs,
                                   build_replays)
from sigma_sn.sim.run import simulate_many
from sigma_sn.sites import HorizonMask, Site

PLAN_SCHEMA = "sigma-sn/plan/1"
#: the plan's actions (docs/plan-format.md) in the order they sort in at one instant; the
#: simulator keeps its own list so a replay never needs the planner
ACTIONS = ("ADDRESS_READY", "ADD_IP", "SET_PRIMARY", "LM_UPDATE", "DELETE_IP", "DEACTIVATE")
_ACTION_ORDER = {a: k for k, a in enumerate(ACTIONS)}
#: actions whose address is the new access point's (the rest retire the old one)
_NEW_ADDRESS = set(ACTIONS[:4])
#: how many missing satellites an error lists by name
MISSING_SHOWN = 5
#: plan parameters that may seed SimConfig / MipConfig, and the field each one sets
_TRAFFIC_KEYS = {"kind": "traffic", "traffic": "traffic", "direction": "direction",
                 "rate_pps": "rate_pps", "payload_bytes": "payload_bytes", "seed": "seed"}


class _Plan:
    """Typed access to a plan dict; every complaint names the file and the key."""

    def __init__(self, plan: dict, source: str):
        self.plan, self.source = plan, source
        if not isinstance(plan, dict):
            raise InputError("a plan must be a JSON object", path=source)
        if plan.get("schema") != PLAN_SCHEMA:
            raise InputError(f"not a plan: expected {PLAN_SCHEMA!r}, got "
                             f"{plan.get('schema')!r}", path=source, key="schema")

    def get(self, *keys, kind=None, default=...):
        value = self.plan
        for depth, k in enumerate(keys):
            if not isinstance(value, dict) or k not in value:
                if default is not ...:
                    return default
                raise InputError("missing", path=self.source,
                                 key=".".join(map(str, keys[:depth + 1])))
            value = value[k]
        if kind is not None and not isinstance(value, kind):
            raise InputError(f"must be {_kind_name(kind)}, got {value!r}", path=self.source,
                             key=".".join(map(str, keys)))
        return value

    def fail(self, message: str, key: str) -> InputError:
        return InputError(message, path=self.source, key=key)


def _kind_name(kind) -> str:
    names = {dict: "an object", list: "a list", str: "a string", (int, float): "a number",
             bool: "true or false"}
    return names.get(kind, str(kind))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def element_files(plan: dict, *, plan_dir=".", source: str = "plan") -> list[Path]:
    """Return the plan's element files (role ``elements``). A relative path is looked up
    from the plan file's folder ``plan_dir`` (where ``sigma-sn plan`` records it from),
    then from the working directory (plans written outside the folder they were made in,
    and older plans); the first file there whose SHA-256 is the one the plan recorded is
    used. A file found with another SHA-256 and none with the right one is an error:
    geometry from other elements would not match the plan (``--truth-tle`` replays against
    other elements on purpose; :func:`use_elements` points at moved files)."""
    p = _Plan(plan, source)
    files = p.get("inputs", "files", kind=list)
    out = []
    for k, f in enumerate(files):
        if not isinstance(f, dict) or f.get("role") != "elements":
            continue
        key = f"inputs.files[{k}].path"
        name = f.get("path")
        if not isinstance(name, str):
            raise p.fail("must be a path", key)
        options = [Path(name)] if Path(name).is_absolute() else [Path(plan_dir) / name,
                                                                   Path(name)]
        found = [c for c in dict.fromkeys(options) if c.is_file()]
        want = f.get("sha256")
        good = [c for c in found if not want or _sha256(c) == want]
        if good:
            out.append(good[0])
        elif found:
            raise p.fail(f"{found[0]} differs from the element file the plan was made from "
                         f"(sha256 {_sha256(found[0])[:12]}..., the plan recorded "
                         f"{want[:12]}...); give the original with --elements, or replay "
                         "against other elements on purpose with --truth-tle", key)
        else:
            raise p.fail(f"element file {name} not found (looked in "
                         f"{', '.join(str(c) for c in dict.fromkeys(options))}); if it "
                         "moved, give it with --elements FILE", key)
    if not out:
        raise p.fail("the plan lists no element file (role 'elements')", "inputs.files")
    return out


def use_elements(plan: dict, paths, *, source: str = "plan") -> dict:
    """Return ``plan`` with its element files replaced by ``paths`` (e.g. the files after
    a move), each matched to the plan's entry by SHA-256. A file that matches none is an
    error naming it; entries no file matches keep their recorded path."""
    p = _Plan(plan, source)
    files = p.get("inputs", "files", kind=list)
    wanted = {f.get("sha256"): k for k, f in enumerate(files)
              if isinstance(f, dict) and f.get("role") == "elements"}
    files = [dict(f) for f in files]
    for path in map(Path, paths):
        if not path.is_file():
            raise InputError("no such file (--elements)", path=str(path))
        digest = _sha256(path)
        if digest not in wanted:
            recorded = ", ".join(f"{files[k]['path']} ({h[:12]}...)" for h, k in wanted.items()
                                 if h)
            raise InputError(f"sha256 {digest[:12]}... matches none of the plan's element "
                             f"files ({recorded}); --elements takes the files the plan was "
                             "made from (--truth-tle replays against other elements)",
                             path=str(path))
        files[wanted[digest]]["path"] = str(path.resolve())
    return {**plan, "inputs": {**plan["inputs"], "files": files}}


def _sites(p: _Plan) -> dict[str, Site]:
    out = {}
    for k, s in enumerate(p.get("sites", kind=list)):
        key = f"sites[{k}]"
        horizon = _horizon(p, s.get("horizon"), f"{key}.horizon")
        try:
            out[s["name"]] = Site(s["name"], float(s["lat_deg"]), float(s["lon_deg"]),
                                  float(s.get("alt_m") or 0.0), s.get("min_elev_deg"),
                                  s.get("capacity"), horizon)
        except (KeyError, TypeError) as exc:
            raise p.fail(f"needs name, lat_deg and lon_deg ({exc!r})", key) from None
        except ValueError as exc:
            raise p.fail(str(exc), key) from None
    return out


def _horizon(p: _Plan, mask, key: str) -> HorizonMask | None:
    if mask is None:
        return None
    try:
        return HorizonMask(tuple(map(float, mask["az_deg"])),
                           tuple(map(float, mask["elev_deg"])))
    except (KeyError, TypeError) as exc:
        raise p.fail(f"must be {{\"az_deg\": [...], \"elev_deg\": [...]}} ({exc!r})",
                     key) from None
    except ValueError as exc:
        raise p.fail(str(exc), key) from None


def _match(wanted: list[tuple[str, int | None]], satellites, label: str):
    """Find each ``(name, norad_id)`` among ``satellites``: by NORAD id, then by name.
    Return ``(found: dict name -> Satellite, missing: list of descriptions)``."""
    by_id = {s.norad_id: s for s in satellites}
    by_name = {s.name: s for s in satellites}
    found, missing = {}, []
    for name, norad in wanted:
        sat = by_id.get(norad) if norad is not None else None
        sat = sat or by_name.get(name)
        if sat is None:
            missing.append(f"{name} ({norad if norad is not None else 'no NORAD id'})")
        else:
            found[name] = sat
    return found, missing


def replays_from_plan(plan: dict, *, truth_elements=None, plan_dir=".", step_s: float = 10.0,
                      progress=None, mobiles=None, source: str = "plan") -> list[Replay]:
    """Return one :class:`Replay` per mobile of ``plan`` (only ``mobiles``, if given).

    Geometry comes from the plan's element files (:func:`element_files`), or from
    ``truth_elements`` (a path or paths of TLE/OMM files) matched to the plan's
    satellites by NORAD id, then name. Windows are recomputed with the plan's mask and
    step for the satellites and sites the plan mentions; links are sampled every
    ``step_s`` seconds (:func:`~sigma_sn.sim.linkgeom.link_geometries`) for every
    candidate access point of each mobile, where the session runs work
    (:mod:`sigma_sn.compute`). ``source`` names the plan in messages.
    ``progress``: None, or a factory ``progress(label, total)`` of
    :class:`~sigma_sn.progress.Progress`-like objects (the class itself will do).
    """
    planned = plan_replays(plan, truth_elements=truth_elements, plan_dir=plan_dir,
                           step_s=step_s, progress=progress, mobiles=mobiles, source=source)
    with _stage(progress, "geometry", len(planned)) as bar:
        return build_replays(planned, progress=bar if progress else None)


def plan_replays(plan: dict, *, truth_elements=None, plan_dir=".", step_s: float = 10.0,
                 progress=None, mobiles=None, source: str = "plan") -> PlannedReplays:
    """What :func:`replays_from_plan` builds the replays from, checked, with no link
    geometry yet: :func:`~sigma_sn.sim.run.simulate_many` builds each mobile's where it
    replays it. Arguments as in :func:`replays_from_plan`."""
    p = _Plan(plan, source)
    try:
        return _planned(p, truth_elements, plan_dir, step_s, progress, mobiles)
    except KeyError as exc:
        # an entry of mobiles, serving, candidates, handovers or events lacks a key
        raise InputError(f"malformed plan: an entry lacks the key {exc}; is it a "
                         "sigma-sn/plan/1 file written by 'sigma-sn plan'?",
                         path=source) from None


def _planned(p: _Plan, truth_elements, plan_dir, step_s, progress,
             mobiles) -> PlannedReplays:
    from sigma_sn.elements import load_elements
    from sigma_sn.visibility import find_windows

    plan, source = p.plan, p.source
    mode = p.get("mode")
    if mode not in ("router", "host"):
        raise p.fail(f"must be router or host, got {mode!r}", "mode")
    start_utc = p.get("start_utc", kind=str)
    duration_s = float(p.get("duration_s", kind=(int, float)))
    params = p.get("inputs", "parameters", kind=dict)
    min_elev_deg = float(p.get("inputs", "parameters", "min_elev_deg", kind=(int, float)))
    plan_step_s = float(params.get("step_s") or 60.0)
    path = params.get("path")
    if path is not None and (mode != "router" or not isinstance(path, dict)):
        raise p.fail("a path model needs a router-mode plan and an object",
                     "inputs.parameters.path")
    # a gateway anchor: the access points are gateways and every satellite listed may
    # carry a path (sigma_sn.planner.anchor)
    at_gateway = path is not None and path.get("anchor", "satellite") == "gateway"
    if path is not None and path.get("anchor", "satellite") not in ("satellite", "gateway"):
        raise p.fail(f"must be satellite or gateway, got {path.get('anchor')!r}",
                     "inputs.parameters.path.anchor")
    sites = _sites(p)
    norad = {s["name"]: s.get("norad_id") for s in p.get("satellites", kind=list)}
    plan_mobiles = p.get("mobiles", kind=list)
    names = [m.get("name") for m in plan_mobiles]
    if mobiles is not None:
        unknown = sorted(set(mobiles) - set(names))
        if unknown:
            raise p.fail(f"no mobile named {', '.join(unknown)}; the plan has "
                         f"{', '.join(names)}", "mobiles")
        plan_mobiles = [m for m in plan_mobiles if m.get("name") in set(mobiles)]

    # who is who: router mode moves sites between satellites, host mode the reverse
    wanted_sats: dict[str, None] = {}
    wanted_sites: dict[str, None] = {}
    shared = isinstance(path, dict) and path.get("shared_capacity")
    # shared capacity: every mobile's flow loads the links, replayed or not
    for m in (p.get("mobiles") if shared else plan_mobiles):
        aps = [c["ap"] for c in m.get("candidates", [])] + [s["ap"] for s in m.get("serving", [])]
        sat_names, site_names = (aps, [m["name"]]) if mode == "router" else ([m["name"]], aps)
        if at_gateway:
            sat_names, site_names = list(norad), [m["name"]]
        wanted_sats.update(dict.fromkeys(sat_names))
        wanted_sites.update(dict.fromkeys(site_names))
    unknown_sites = [s for s in wanted_sites if s not in sites]
    if unknown_sites:
        raise p.fail(f"{', '.join(unknown_sites)} used but not listed", "sites")

    if truth_elements is None:
        paths = element_files(plan, plan_dir=plan_dir, source=source)
    else:
        paths = [truth_elements] if isinstance(truth_elements, (str, Path)) else truth_elements
        paths = [Path(x) for x in paths]
    label = ", ".join(map(str, paths))
    with warnings.catch_warnings():
        # staleness warnings belong to the planning step, not to the replay
        warnings.simplefilter("ignore")
        catalog = load_elements(paths)
    found, missing = _match([(n, norad.get(n)) for n in wanted_sats], catalog.satellites, label)
    if missing:
        missing.sort()
        shown = ", ".join(missing[:MISSING_SHOWN])
        more = f" and {len(missing) - MISSING_SHOWN} more" if len(missing) > MISSING_SHOWN else ""
        raise InputError(f"{len(missing)} satellite(s) the plan uses are not in it (matched "
                         f"by NORAD id, then name): {shown}{more}", path=label)
    sat_list = list(wanted_sats)
    site_list = list(wanted_sites)
    sat_objs = [found[n] for n in sat_list]
    site_objs = [sites[n] for n in site_list]
    with _stage(progress, "windows", len(sat_objs)) as bar:
        windows = find_windows(sat_objs, site_objs, start_utc, duration_s,
                               min_elev_deg=min_elev_deg, step_s=plan_step_s, workers=1,
                               progress=bar)
    sat_index = {n: i for i, n in enumerate(sat_list)}
    site_index = {n: j for j, n in enumerate(site_list)}
    paths = None
    if path is not None:
        from sigma_sn.sim.pathgeom import paths_for_replay

        with _stage(progress, "paths", 1) as bar:
            paths = paths_for_replay(path, catalog.satellites, sat_objs, site_objs, windows,
                                     start_utc=start_utc, duration_s=duration_s,
                                     min_elev_deg=min_elev_deg, source=source)
            bar.advance(1)
    anchors = None
    if at_gateway:
        from sigma_sn.planner.anchor import anchor_windows

        anchors = anchor_windows(paths)
    load = None
    if shared:
        from sigma_sn.path.load import load_for_plan

        with _stage(progress, "load", 1) as bar:
            load = load_for_plan(plan, paths, windows, sat_list, site_list, shared, anchors)
            bar.advance(1)

    # how long after its access point rises a new address is ready (the plan's step 1)
    timing = params.get("timing") or {}
    setup_s = sum(float(timing.get(k) or 0.0) for k in ("l2_s", "ra_s", "dad_s"))
    ra_s = float(timing.get("ra_s") or 0.0)       # of which the RA interval: drawn per handover
    by_mobile: dict[str, list] = {}
    for k, h in enumerate(p.get("handovers", kind=list)):
        by_mobile.setdefault(h.get("mobile"), []).append((k, h))
    # each mobile's windows: its site's (router mode) or its satellite's (host mode)
    owner = windows.site if mode == "router" else windows.sat
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(len(site_list if mode == "router"
                                                             else sat_list) + 1))
    mine = [order[a:b] for a, b in zip(bounds[:-1], bounds[1:])]   # stable: ascending
    parts = []
    for m in plan_mobiles:
        name = m["name"]
        serving = m.get("serving") or []
        if not serving:
            warnings.warn(f"{source}: mobile {name} is never served in the plan; "
                          "not simulated", stacklevel=2)
            continue
        aps = list(dict.fromkeys([c["ap"] for c in m.get("candidates", [])]
                                 + [s["ap"] for s in serving]))
        if at_gateway:   # the access points are gateways: anchor links, no pairs
            pairs, rows = (), mine[site_index[name]]
        elif mode == "router":
            pairs = tuple((sat_index[a], site_index[name], a) for a in aps)
            rows = mine[site_index[name]]
        else:
            pairs = tuple((sat_index[name], site_index[a], a) for a in aps)
            rows = mine[sat_index[name]]
        steps, hos = _steps(p, by_mobile.get(name, []), set(aps))
        parts.append(MobileReplay(name, pairs, rows, serving[0]["ap"],
                                  serving[0]["address"], steps, hos,
                                  site=site_index[name] if mode == "router" else -1))
    if not parts:
        raise p.fail("no mobile of the plan has a serving interval to replay", "mobiles")
    capacity_bps = float((params.get("link") or {}).get("capacity_bps",
                                                        SimConfig.capacity_bps))
    return PlannedReplays(ReplayInputs(start_utc, duration_s, windows, tuple(sat_objs),
                                       tuple(site_objs), paths, step_s, setup_s,
                                       ra_interval_s=ra_s,
                                       anchors=anchors, load=load,
                                       sat_index=sat_index, capacity_bps=capacity_bps),
                          tuple(parts))


def _steps(p: _Plan, handovers, aps: set) -> tuple[tuple[Step, ...], tuple[Handover, ...]]:
    """The plan's events of one mobile as replay steps, in time order."""
    steps, hos = [], []
    for n, (k, h) in enumerate(handovers):
        key = f"handovers[{k}]"
        index = int(h.get("index", n))
        for ap in (h.get("from"), h.get("to")):
            if ap not in aps:
                raise p.fail(f"access point {ap!r} is not among the mobile's candidates", key)
        t_sp = None
        for e in h.get("events", []):
            action = e.get("action")
            if action not in _ACTION_ORDER:
                raise p.fail(f"unknown action {action!r}", f"{key}.events")
            if "address" not in e:
                raise p.fail("event has no address", f"{key}.events")
            ap = h["to"] if action in _NEW_ADDRESS else h["from"]
            steps.append(Step(float(e["t_s"]), action, e["address"], ap, index))
            if action == "SET_PRIMARY":
                t_sp = float(e["t_s"])
        if t_sp is None:
            raise p.fail("no SET_PRIMARY event", f"{key}.events")
        hos.append(Handover(index, h["from"], h["to"], t_sp, bool(h.get("feasible", True))))
    steps.sort(key=lambda s: (s.t_s, s.handover, _ACTION_ORDER[s.action]))
    hos.sort(key=lambda h: (h.t_s, h.index))
    return tuple(steps), tuple(hos)


def config_from_plan(plan: dict, *, source: str = "plan", **overrides) -> tuple[SimConfig,
                                                                              MipConfig]:
    """Return ``(SimConfig, MipConfig)`` with defaults from the plan's
    ``inputs.parameters`` (``link``, ``traffic``, ``mip``; the terrestrial delay from
    ``timing.terrestrial_one_way_s``, the one number planner and simulator share),
    then ``overrides`` (SimConfig or MipConfig field names; ``None`` means "keep")."""
    p = _Plan(plan, source)
    params = p.get("inputs", "parameters", kind=dict)
    sim_fields = {f.name for f in dataclasses.fields(SimConfig)}
    mip_fields = {f.name for f in dataclasses.fields(MipConfig)}
    sim: dict = {}
    mip: dict = {}
    terrestrial = p.get("inputs", "parameters", "timing", "terrestrial_one_way_s", default=None)
    if terrestrial is not None:
        sim["terrestrial_s"] = float(terrestrial)
    if params.get("path") is not None:
        # on a path each link's delay already reaches the correspondent (fibre included)
        sim["terrestrial_s"] = 0.0
    for group, target, fields, rename in (("link", sim, sim_fields, {}),
                                          ("traffic", sim, sim_fields, _TRAFFIC_KEYS),
                                          ("mip", mip, mip_fields, {})):
        table = params.get(group) or {}
        if not isinstance(table, dict):
            raise p.fail("must be an object", f"inputs.parameters.{group}")
        for key, value in sorted(table.items()):
            name = rename.get(key, key)
            if name not in fields:
                # a parameter this simulator has no use for: say so, do not guess
                warnings.warn(f"{source}: inputs.parameters.{group}.{key}: not a simulator "
                              "parameter; ignored", stacklevel=2)
                continue
            target[name] = value
    # one timing block for every protocol: the access network's steps are the plan's
    timing = p.get("inputs", "parameters", "timing", default=None) or {}
    if isinstance(timing, dict) and {"l2_s", "ra_s", "dad_s"} <= set(timing):
        mip.update(access_from_timing(timing["l2_s"], timing["ra_s"], timing["dad_s"]))
    for key, value in overrides.items():
        if value is None:
            continue
        if key in sim_fields:
            sim[key] = value
        elif key in mip_fields:
            mip[key] = value
        else:
            raise TypeError(f"config_from_plan: unknown parameter {key!r}")
    try:
        return SimConfig(**sim), MipConfig(**mip)
    except (TypeError, ValueError) as exc:
        raise p.fail(str(exc), "inputs.parameters") from None


def simulate_plan(plan: dict, cfg: SimConfig, *, protocol: str = "sigma",
                  mip: MipConfig | None = None, truth_elements=None, plan_dir=".",
                  progress=None, mobiles=None, source: str = "plan",
                  step_s: float = 10.0, replays=None) -> dict:
    """Replay ``plan`` (one association per mobile) under ``cfg`` and return the report
    (``sigma-sn/report/1``). ``truth_elements``, ``plan_dir``, ``mobiles``, ``step_s``,
    ``source`` and ``progress`` (a factory of progress bars) as in
    :func:`replays_from_plan`; ``replays`` already made from ``plan`` by it skip that
    step (one geometry for both protocols of a comparison)."""
    from sigma_sn.sim.run import PROGRESS_SLICES

    if replays is None:
        # each mobile's geometry is built where it is replayed (sigma_sn.sim.planned)
        replays = plan_replays(plan, truth_elements=truth_elements, plan_dir=plan_dir,
                               step_s=step_s, mobiles=mobiles, source=source,
                               progress=progress)
    with _stage(progress, "simulate", PROGRESS_SLICES * len(replays)) as bar:
        return simulate_many(replays, cfg, protocol=protocol, mip=mip,
                             progress=bar if progress else None)


class _Quiet:
    """A progress bar that shows nothing."""

    def advance(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def _stage(progress, label: str, total: int):
    return _Quiet() if progress is None else progress(label, total)
