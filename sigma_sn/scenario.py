"""Scenario files (TOML): what to plan and simulate, validated with messages naming file and
key, before anything is computed. The format is docs/scenario-format.md.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sigma_sn.compute import from_table
from sigma_sn.errors import InputError
from sigma_sn.path.config import Anchor, Isl, PathConfig, PathMode, SharedCapacity
from sigma_sn.path.ground import Correspondent, Fibre
from sigma_sn.planner.addresses import DEFAULT_PREFIX, parse_prefix
from sigma_sn.planner.core import Timing
from sigma_sn.planner.kinds import (LINK_KEYS, PATH_POLICIES, POLICIES_BY_MODE,
                                    TRAFFIC_KEYS, Mode, Policy, Selection)
from sigma_sn.propagate import as_utc
from sigma_sn.sim.mip import ACCESS_FIELDS, MipConfig, access_from_timing
from sigma_sn.sim.model import SimConfig
from sigma_sn.sites import HorizonMask, Site, read_site_files, read_sites_csv

_TOP = {"name", "mode", "policy", "elements", "site_files", "sites", "mobiles", "window",
        "timing", "selection", "addresses", "link", "traffic", "mip", "security", "failures",
        "path", "exports", "compute"}
_WINDOW = {"start_utc", "end_utc", "duration_s", "min_elev_deg", "step_s"}
_SITE = {"name", "lat_deg", "lon_deg", "alt_m", "min_elev_deg", "capacity", "horizon"}
_TIMING = {f.name: f.default for f in dataclasses.fields(Timing)}

#: sample step of the CZML and GeoJSON exports: Cesium interpolates between samples
#: (degree 5, metres off at this step); a 6 h Starlink terminal run writes a few MB
EXPORT_STEP_S = 300.0


@dataclass(frozen=True)
class Exports:
    """``[exports]``: whether ``sigma-sn run`` writes plan.czml and footprints.geojson, and
    the step (s) their satellite positions and ground tracks are sampled at."""

    enabled: bool = True
    step_s: float = EXPORT_STEP_S


@dataclass(frozen=True)
class Scenario:
    """A validated scenario; paths are already resolved against the scenario file.

    ``security`` and ``failures`` are the raw ``[security]`` and ``[[failures]]`` tables,
    kept as read (they are validated by the code that uses them).
    """

    path: Path
    name: str
    mode: Mode
    policy: Policy
    element_files: tuple[Path, ...]
    sites: tuple[Site, ...]
    start_utc: str
    duration_s: float
    min_elev_deg: float = 0.0
    step_s: float = 60.0
    timing: Timing = field(default_factory=Timing)
    site_files: tuple[Path, ...] = ()
    mobiles: tuple[str, ...] | None = None
    selection: Selection = field(default_factory=Selection)
    address_prefix: str = DEFAULT_PREFIX
    sim: SimConfig = field(default_factory=SimConfig)
    mip: MipConfig = field(default_factory=MipConfig)
    security: Any = None
    failures: tuple = ()
    path_config: PathConfig | None = None   # the [path] section
    exports: Exports = field(default_factory=Exports)
    compute: Any = None                     # the [compute] section (sigma_sn.compute.Compute)


class _Reader:
    """Typed access to one TOML table with errors that name ``file: key``."""

    def __init__(self, where: str, table: Any, prefix: str):
        if not isinstance(table, dict):
            raise InputError(f"must be a table, got {table!r}", path=where,
                             key=prefix.rstrip(".") or None)
        self.where, self.table, self.prefix = where, table, prefix

    def fail(self, key: str, message: str) -> InputError:
        return InputError(message, path=self.where, key=self.prefix + key)

    def only(self, allowed) -> None:
        for key in sorted(self.table):
            if key not in allowed:
                raise self.fail(key, f"unknown key; expected one of {', '.join(sorted(allowed))}")

    def number(self, key: str, default=None, *, minimum=None, maximum=None, below=None):
        value = self.table.get(key, default)
        if value is None:
            raise self.fail(key, "missing")
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value)):
            raise self.fail(key, f"must be a number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be >= {minimum:g}, got {value:g}")
        if maximum is not None and value > maximum:
            raise self.fail(key, f"must be <= {maximum:g}, got {value:g}")
        if below is not None and value >= below:
            raise self.fail(key, f"must be < {below:g}, got {value:g}")
        return float(value)

    def integer(self, key: str, default=None, *, minimum=None):
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be >= {minimum}, got {value}")
        return value

    def string(self, key: str, default=None) -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {value!r}")
        return value

    def files(self, key: str, base: Path, *, required: bool) -> tuple[Path, ...]:
        value = self.table.get(key, [] if not required else None)
        if (not isinstance(value, list) or (required and not value)
                or not all(isinstance(e, str) for e in value)):
            raise self.fail(key, "must be a " + ("non-empty " if required else "")
                            + "list of file names")
        from sigma_sn.celestrak import PREFIX, resolve

        try:  # celestrak:GROUP: the cached (or freshly fetched) file
            paths = tuple(resolve(e) if e.startswith(PREFIX) else base / e for e in value)
        except InputError as exc:
            raise self.fail(key, exc.reason) from None
        for i, p in enumerate(paths):
            if not p.is_file():
                raise self.fail(f"{key}[{i}]", f"no such file: {p}")
        return paths


def _typed_fields(reader: _Reader, cls, keys, defaults) -> dict:
    """Read ``keys`` of dataclass ``cls`` with the types of its defaults; the dataclass's
    own checks run later and their messages are mapped to the key."""
    out = {}
    for key in keys:
        if key not in reader.table:
            continue
        d = defaults[key]
        if isinstance(d, bool):
            if not isinstance(reader.table[key], bool):
                raise reader.fail(key, f"must be true or false, got {reader.table[key]!r}")
            out[key] = reader.table[key]
        elif isinstance(d, str):
            out[key] = reader.string(key)
        elif key == "handover_weight_ms_s" and reader.table[key] == math.inf:
            out[key] = math.inf   # min-handovers-delay: the fewest handovers, then delay
        elif isinstance(d, int) or (d is None and key.endswith("capacity")):
            out[key] = reader.integer(key)
        else:  # float, or None for an optional number
            out[key] = reader.number(key)
    return out


def _construct(cls, kwargs: dict, readers: dict[str, _Reader]):
    """Build ``cls(**kwargs)``; a ValueError naming a field becomes an InputError on its key."""
    try:
        return cls(**kwargs)
    except ValueError as exc:
        text = str(exc)
        for name in sorted(readers, key=len, reverse=True):  # loss_prob_at_horizon first
            reader = readers[name]
            if text.startswith(name):
                reason = text[len(name):].lstrip(": ")
                raise reader.fail(name, reason) from None
        reader = next(iter(readers.values()))
        raise InputError(text, path=reader.where, key=reader.prefix.rstrip(".")) from None


def _defaults(cls) -> dict:
    return {f.name: f.default for f in dataclasses.fields(cls)}


def load_scenario(path) -> Scenario:
    """Read and validate the scenario at ``path``; raise :class:`InputError` naming the key.

    Every check (keys, values, that the named files exist) runs here, before anything is
    computed. Host-mode ``mobiles`` are checked against the element files when they are
    loaded (:func:`sigma_sn.planner.plan.plan_scenario`).
    """
    path = Path(path)
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such file", path=where) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                         path=where) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path=where) from None
    top = _Reader(where, data, "")
    top.only(_TOP)
    name = top.string("name", path.stem)
    try:
        mode = Mode(top.string("mode", "router"))
    except ValueError:
        raise top.fail("mode", f"must be router or host, got {data.get('mode')!r}") from None
    try:
        policy = Policy(top.string("policy", "min-handovers"))
    except ValueError:
        raise top.fail("policy", f"must be one of {', '.join(p.value for p in Policy)}, got "
                       f"{data.get('policy')!r}") from None
    if policy in PATH_POLICIES and mode is Mode.ROUTER:
        if "path" not in data:  # the policy ranks access points by the path stage's delays
            raise InputError(f"policy {policy.value} needs a [path] section (gateways and "
                             "correspondent, docs/path.md)", path=where, key="path")
    elif policy not in POLICIES_BY_MODE[mode]:
        raise top.fail("policy", f"{policy.value} is not offered in {mode.value} mode; "
                       f"choose {', '.join(p.value for p in POLICIES_BY_MODE[mode])}")
    base = path.parent
    element_files = top.files("elements", base, required=True)
    site_files = top.files("site_files", base, required=False)
    sites = _sites(top, site_files, where)

    mobiles = data.get("mobiles")
    if mobiles is not None:
        if (not isinstance(mobiles, list) or not mobiles
                or not all(isinstance(m, str) for m in mobiles)):
            raise top.fail("mobiles", "must be a non-empty list of names")
        if len(set(mobiles)) != len(mobiles):
            raise top.fail("mobiles", "names a mobile twice")
        if mode is Mode.ROUTER:
            known = {s.name for s in sites}
            unknown = [m for m in mobiles if m not in known]
            if unknown:
                raise top.fail("mobiles", f"no site named {unknown[0]!r} (router mode: the "
                               "mobiles are terminals from sites or site_files)")
        mobiles = tuple(mobiles)

    window = _Reader(where, data.get("window", {}), "window.")
    window.only(_WINDOW)
    start_utc, duration_s = _window_span(window)

    timing_r = _Reader(where, data.get("timing", {}), "timing.")
    timing_r.only(_TIMING)
    timing = Timing(**{k: timing_r.number(k, d, minimum=0) for k, d in _TIMING.items()})

    sel_r = _Reader(where, data.get("selection", {}), "selection.")
    sel_defaults = _defaults(Selection)
    sel_r.only(sel_defaults)
    selection = _construct(Selection, _typed_fields(sel_r, Selection, sel_defaults,
                                                    sel_defaults),
                           {k: sel_r for k in sel_defaults})

    addr_r = _Reader(where, data.get("addresses", {}), "addresses.")
    addr_r.only({"prefix"})
    prefix = addr_r.string("prefix", DEFAULT_PREFIX)
    try:
        parse_prefix(prefix)
    except ValueError as exc:
        raise addr_r.fail("prefix", str(exc)) from None

    sim_defaults = _defaults(SimConfig)
    link_r = _Reader(where, data.get("link", {}), "link.")
    link_r.only(LINK_KEYS)
    traffic_r = _Reader(where, data.get("traffic", {}), "traffic.")
    traffic_r.only(TRAFFIC_KEYS)
    sim_kwargs = {**_typed_fields(link_r, SimConfig, LINK_KEYS, sim_defaults),
                  **_typed_fields(traffic_r, SimConfig, TRAFFIC_KEYS, sim_defaults),
                  "terrestrial_s": timing.terrestrial_one_way_s}
    for key in ("queue_pkts", "payload_bytes"):
        for r in (link_r, traffic_r):
            if key in r.table and r.table[key] < 1:
                raise r.fail(key, f"must be >= 1, got {r.table[key]}")
    if "capacity_bps" in link_r.table and link_r.table["capacity_bps"] <= 0:
        raise link_r.fail("capacity_bps", f"must be > 0, got {link_r.table['capacity_bps']}")
    if ("loss_prob_at_horizon" in link_r.table
            and not 0 <= link_r.table["loss_prob_at_horizon"] <= 1):
        raise link_r.fail("loss_prob_at_horizon",
                          f"must be in [0, 1], got {link_r.table['loss_prob_at_horizon']}")
    sim = _construct(SimConfig, sim_kwargs, {**{k: link_r for k in LINK_KEYS},
                                             **{k: traffic_r for k in TRAFFIC_KEYS}})

    mip_r = _Reader(where, data.get("mip", {}), "mip.")
    mip_defaults = {k: v for k, v in _defaults(MipConfig).items() if k not in ACCESS_FIELDS}
    for key in ACCESS_FIELDS:
        if key in mip_r.table:
            raise mip_r.fail(key, "the access network's timing is the same for every "
                                  "protocol: set timing.l2_s, timing.ra_s or timing.dad_s")
    mip_r.only(mip_defaults)
    mip = _construct(MipConfig, {**_typed_fields(mip_r, MipConfig, mip_defaults, mip_defaults),
                                 **access_from_timing(timing.l2_s, timing.ra_s, timing.dad_s)},
                     {k: mip_r for k in mip_defaults})

    security = data.get("security")
    if security is not None and not isinstance(security, dict):
        raise top.fail("security", "must be a table")
    failures = data.get("failures", [])
    if not isinstance(failures, list) or not all(isinstance(f, dict) for f in failures):
        raise top.fail("failures", "must be an array of tables ([[failures]])")
    # validated now, so a mistake there fails before any computation; kept as read
    from sigma_sn.sim.security import parse_security
    from sigma_sn.sim.survive import parse_failures
    if security is not None:
        parse_security(security, where)
    parse_failures(failures, where)

    exp_r = _Reader(where, data.get("exports", {}), "exports.")
    exp_r.only({"enabled", "step_s"})
    if not isinstance(exp_r.table.get("enabled", True), bool):
        raise exp_r.fail("enabled", f"must be true or false, got {exp_r.table['enabled']!r}")
    exports = Exports(exp_r.table.get("enabled", True),
                      exp_r.number("step_s", EXPORT_STEP_S, minimum=1))

    return Scenario(
        path=path, name=name, mode=mode, policy=policy, element_files=element_files,
        sites=tuple(sites), start_utc=start_utc, duration_s=duration_s,
        min_elev_deg=window.number("min_elev_deg", 0.0, minimum=-90, below=90),
        step_s=window.number("step_s", 60.0, minimum=1), timing=timing,
        site_files=site_files, mobiles=mobiles, selection=selection, address_prefix=prefix,
        sim=sim, mip=mip, security=security, failures=tuple(failures), exports=exports,
        path_config=_path(data, where, base, sites, mode, policy) if "path" in data else None,
        compute=from_table(data["compute"], where) if "compute" in data else None)


_PATH = {"mode", "gateways", "correspondent", "step_s", "fibre_per_hop_ms", "fibre_hop_km",
         "isl_max_range_km", "isl_polar_cutoff_deg", "isl_plane_tol_deg", "anchor",
         "shared_capacity", "sat_capacity_mbps", "gateway_capacity_mbps", "offered_load_mbps"}


def _path(data: dict, where: str, base: Path, sites, mode: Mode, policy: Policy) -> PathConfig:
    """The ``[path]`` section: path model, gateways file, correspondent, fibre, ISLs and
    where the IP address is anchored."""
    r = _Reader(where, data["path"], "path.")
    r.only(_PATH)
    try:
        anchor = Anchor(r.string("anchor", Anchor.SATELLITE.value))
    except ValueError:
        raise r.fail("anchor", "must be " + " or ".join(a.value for a in Anchor)
                     + f", got {r.table['anchor']!r}") from None
    if anchor is Anchor.GATEWAY and mode is not Mode.ROUTER:
        raise r.fail("anchor", "gateway applies in router mode only: in host mode the "
                     "mobile is a satellite and its access points are ground stations, "
                     "so there is no gateway behind them to anchor at")
    if anchor is Anchor.GATEWAY and policy not in PATH_POLICIES:
        raise r.fail("anchor", "gateway chooses the (satellite, gateway) pair by the "
                     "path's delay: use policy min-path-delay or min-handovers-delay, got "
                     f"{policy.value}")
    try:
        mode = PathMode(r.string("mode", "isl"))
    except ValueError:
        raise r.fail("mode", "must be " + " or ".join(m.value for m in PathMode)
                     + f", got {r.table['mode']!r}") from None
    if "gateways" not in r.table:
        raise r.fail("gateways", "missing: a CSV of gateway sites (as site_files)")
    gateways_file = base / r.string("gateways")
    if not gateways_file.is_file():
        raise r.fail("gateways", f"no such file: {gateways_file}")
    gateways = read_sites_csv(gateways_file)
    corr = r.table.get("correspondent")
    if isinstance(corr, str):
        known = {s.name: s for s in (*gateways, *sites)}
        if corr not in known:
            raise r.fail("correspondent", f"no gateway or site named {corr!r}; name one, or "
                         "give a table {name, lat_deg, lon_deg}")
        correspondent = Correspondent(corr, known[corr].lat_deg, known[corr].lon_deg)
    elif isinstance(corr, dict):
        c = _Reader(where, corr, "path.correspondent.")
        c.only({"name", "lat_deg", "lon_deg"})
        correspondent = Correspondent(c.string("name", "correspondent"),
                                      c.number("lat_deg", minimum=-90, maximum=90),
                                      c.number("lon_deg", minimum=-180, maximum=360))
    else:
        raise r.fail("correspondent", "missing: a gateway or site name, or a table "
                     "{name, lat_deg, lon_deg}" if corr is None else
                     f"must be a name or a table {{name, lat_deg, lon_deg}}, got {corr!r}")
    fibre = Fibre(per_hop_ms=r.number("fibre_per_hop_ms", Fibre.per_hop_ms, minimum=0),
                  hop_km=r.number("fibre_hop_km", Fibre.hop_km, minimum=1))
    isl = Isl(max_range_km=r.number("isl_max_range_km", Isl.max_range_km, minimum=1),
              polar_cutoff_deg=r.number("isl_polar_cutoff_deg", Isl.polar_cutoff_deg,
                                        minimum=0, maximum=90),
              plane_tol_deg=r.number("isl_plane_tol_deg", Isl.plane_tol_deg, minimum=0.001))
    shared = _shared_capacity(r)
    return PathConfig(mode=mode, gateways_file=gateways_file, correspondent=correspondent,
                      step_s=r.number("step_s", 1.0, minimum=0.001), fibre=fibre, isl=isl,
                      shared=shared, anchor=anchor)


def _shared_capacity(r: _Reader) -> SharedCapacity | None:
    """``[path]``'s shared-capacity keys: None unless ``shared_capacity = true``; the
    capacities without it are a mistake, not something to ignore quietly."""
    on = r.table.get("shared_capacity", False)
    if not isinstance(on, bool):
        raise r.fail("shared_capacity", f"must be true or false, got {on!r}")
    keys = {f.name: f.default for f in dataclasses.fields(SharedCapacity)}
    if not on:
        for key in sorted(keys):
            if key in r.table:
                raise r.fail(key, "needs shared_capacity = true")
        return None
    return SharedCapacity(**{k: r.number(k, d, minimum=0.001) for k, d in keys.items()})


def _horizon(r: _Reader) -> HorizonMask:
    """A site's ``horizon``: [[azimuth_deg, elevation_deg], ...] (buildings, terrain)."""
    rows = r.table["horizon"]
    if (not isinstance(rows, list) or not rows
            or not all(isinstance(p, list) and len(p) == 2 for p in rows)):
        raise r.fail("horizon", "must be a list of [azimuth_deg, elevation_deg] pairs, "
                                f"got {rows!r}")
    for p in rows:
        if not all(not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
                   for v in p):
            raise r.fail("horizon", f"must hold numbers, got {p!r}")
    try:
        return HorizonMask(tuple(float(a) for a, _ in rows), tuple(float(e) for _, e in rows))
    except ValueError as exc:
        raise r.fail("horizon", str(exc)) from None


def _sites(top: _Reader, site_files, where: str) -> list[Site]:
    sites: list[Site] = list(read_site_files(site_files))
    rows = top.table.get("sites", [])
    if not isinstance(rows, list):
        raise top.fail("sites", "must be an array of tables ([[sites]])")
    for i, row in enumerate(rows):
        r = _Reader(where, row, f"sites[{i}].")
        r.only(_SITE)
        mask = r.number("min_elev_deg", minimum=-90, below=90) if "min_elev_deg" in row \
            else None
        cap = r.integer("capacity", minimum=1) if "capacity" in row else None
        horizon = _horizon(r) if "horizon" in row else None
        try:
            sites.append(Site(name=r.string("name", f"site{i}") or f"site{i}",
                              lat_deg=r.number("lat_deg", minimum=-90, maximum=90),
                              lon_deg=r.number("lon_deg", minimum=-180, maximum=360),
                              alt_m=r.number("alt_m", 0.0), min_elev_deg=mask, capacity=cap,
                              horizon=horizon))
        except ValueError as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(str(exc), path=where, key=f"sites[{i}]") from None
    if not sites:
        raise top.fail("sites", "no sites: give site_files or [[sites]]")
    seen: set[str] = set()
    for s in sites:
        if s.name in seen:
            raise top.fail("sites", f"two sites are named {s.name!r}; names must be unique")
        seen.add(s.name)
    return sites


def _window_span(window: _Reader) -> tuple[str, float]:
    """Return ``(start_utc, duration_s)`` from start plus exactly one of duration or end."""
    start_text = window.table.get("start_utc")
    start = _utc(window, "start_utc")
    has_end, has_duration = "end_utc" in window.table, "duration_s" in window.table
    if has_end == has_duration:
        raise window.fail("duration_s" if has_duration else "end_utc",
                          "give exactly one of window.duration_s and window.end_utc")
    if has_duration:
        duration_s = window.number("duration_s", minimum=1)
    else:
        end = _utc(window, "end_utc")
        duration_s = (end - start).total_seconds()
        if duration_s < 1:
            raise window.fail("end_utc", f"must be at least 1 s after window.start_utc "
                              f"({start_text}), got {window.table['end_utc']}")
    return (start_text if isinstance(start_text, str) else start.isoformat()), duration_s


def _utc(window: _Reader, key: str):
    value = window.table.get(key)
    try:
        return as_utc(value if isinstance(value, str) else value.isoformat())
    except (AttributeError, TypeError, ValueError):
        raise window.fail(key, f"must be an ISO 8601 UTC time, got {value!r}") from None
