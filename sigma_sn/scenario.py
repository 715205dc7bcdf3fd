"""Scenario files (TOML): what to plan, validated with messages naming file and key.

Only a first subset of the format is read so far: see docs/scenario-format.md.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from sigma_sn.errors import InputError
from sigma_sn.planner.core import Timing
from sigma_sn.planner.kinds import POLICIES_BY_MODE, Mode, Policy
from sigma_sn.propagate import as_utc
from sigma_sn.sites import Site, read_sites_csv

_TOP = {"name", "mode", "policy", "elements", "site_files", "sites", "window", "timing"}
_WINDOW = {"start_utc", "duration_s", "min_elev_deg", "step_s"}
_SITE = {"name", "lat_deg", "lon_deg", "alt_m", "min_elev_deg", "capacity"}
_TIMING = {"l2_s": 0.05, "ra_s": 0.05, "dad_s": 0.0, "guard_s": 2.0,
           "terrestrial_one_way_s": 0.02, "address_lifetime_s": 600.0}


@dataclass(frozen=True)
class Scenario:
    """A validated scenario; paths are already resolved against the scenario file."""

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


def _unknown(table: dict, allowed, path: str, prefix: str) -> None:
    for key in sorted(table):
        if key not in allowed:
            raise InputError(f"unknown key; expected one of {', '.join(sorted(allowed))}",
                             path=path, key=prefix + key)


def _number(table: dict, key: str, path: str, prefix: str, default=None, *, minimum=None):
    value = table.get(key, default)
    if value is None:
        raise InputError("missing", path=path, key=prefix + key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"must be a number, got {value!r}", path=path, key=prefix + key)
    if minimum is not None and value < minimum:
        raise InputError(f"must be >= {minimum}, got {value}", path=path, key=prefix + key)
    return float(value)


def load_scenario(path) -> Scenario:
    """Read and validate the scenario at ``path``; raise :class:`InputError` naming the key."""
    path = Path(path)
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such file", path=where) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path=where) from None
    _unknown(data, _TOP, where, "")
    try:
        mode = Mode(data.get("mode", "router"))
    except ValueError:
        raise InputError(f"must be router or host, got {data.get('mode')!r}", path=where,
                         key="mode") from None
    try:
        policy = Policy(data.get("policy", "min-handovers"))
    except ValueError:
        raise InputError(f"must be one of {', '.join(p.value for p in Policy)}, got "
                         f"{data.get('policy')!r}", path=where, key="policy") from None
    if policy not in POLICIES_BY_MODE[mode]:
        raise InputError(f"{policy.value} is not offered in {mode.value} mode", path=where,
                         key="policy")
    base = path.parent
    elements = data.get("elements")
    if (not isinstance(elements, list) or not elements
            or not all(isinstance(e, str) for e in elements)):
        raise InputError("must be a non-empty list of file names", path=where, key="elements")
    sites: list[Site] = []
    for name in data.get("site_files", []):
        sites.extend(read_sites_csv(base / name))
    for i, row in enumerate(data.get("sites", [])):
        prefix = f"sites[{i}]."
        _unknown(row, _SITE, where, prefix)
        try:
            sites.append(Site(name=str(row.get("name", "")) or f"site{i}",
                              lat_deg=_number(row, "lat_deg", where, prefix),
                              lon_deg=_number(row, "lon_deg", where, prefix),
                              alt_m=_number(row, "alt_m", where, prefix, 0.0),
                              min_elev_deg=row.get("min_elev_deg"), capacity=row.get("capacity")))
        except ValueError as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(str(exc), path=where, key=f"sites[{i}]") from None
    if not sites:
        raise InputError("no sites: give site_files or [[sites]]", path=where, key="sites")
    window = data.get("window", {})
    _unknown(window, _WINDOW, where, "window.")
    start = window.get("start_utc")
    try:
        as_utc(start)
    except (TypeError, ValueError):
        raise InputError(f"must be an ISO 8601 UTC time, got {start!r}", path=where,
                         key="window.start_utc") from None
    timing = data.get("timing", {})
    _unknown(timing, _TIMING, where, "timing.")
    params = {k: _number(timing, k, where, "timing.", d, minimum=0) for k, d in _TIMING.items()}
    return Scenario(
        path=path, name=str(data.get("name", path.stem)), mode=mode, policy=policy,
        element_files=tuple(base / e for e in elements), sites=tuple(sites),
        start_utc=str(start),
        duration_s=_number(window, "duration_s", where, "window.", minimum=1),
        min_elev_deg=_number(window, "min_elev_deg", where, "window.", 0.0),
        step_s=_number(window, "step_s", where, "window.", 60.0, minimum=1),
        timing=Timing(**params))
