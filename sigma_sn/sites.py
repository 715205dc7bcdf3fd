"""Ground sites: stations and terminals on the WGS84 ellipsoid, with elevation masks."""

from __future__ import annotations

import collections

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sigma_sn.errors import InputError

WGS84_A_KM = 6378.137
WGS84_F = 1.0 / 298.257223563
_E2 = WGS84_F * (2.0 - WGS84_F)


@dataclass(frozen=True)
class HorizonMask:
    """An azimuth-dependent elevation mask: (azimuth, elevation) points, linearly
    interpolated and wrapping around at 360°."""

    az_deg: tuple[float, ...]
    elev_deg: tuple[float, ...]

    def __post_init__(self):
        if len(self.az_deg) != len(self.elev_deg) or not self.az_deg:
            raise ValueError("a horizon mask needs as many elevations as azimuths, at least one")
        az = np.asarray(self.az_deg, float)
        if np.any(az < 0) or np.any(az >= 360) or np.any(np.diff(az) <= 0):
            raise ValueError("mask azimuths must increase strictly within [0, 360), "
                             f"got {az.tolist()}")
        el = np.asarray(self.elev_deg, float)
        if np.any(el < -90) or np.any(el >= 90):
            raise ValueError(f"mask elevations must lie in [-90, 90), got {el.tolist()}")

    def elev_at(self, az_deg):
        """Return the mask elevation (deg) at azimuth(s) ``az_deg``."""
        az = np.asarray(self.az_deg, float)
        el = np.asarray(self.elev_deg, float)
        return np.interp(np.mod(az_deg, 360.0), az, el, period=360.0)

    def slope_at(self, az_deg):
        """Return d(mask elevation)/d(azimuth) (deg per deg) at ``az_deg``."""
        az = np.asarray(self.az_deg, float)
        el = np.asarray(self.elev_deg, float)
        if len(az) == 1:
            return np.zeros_like(np.asarray(az_deg, float))
        az_ext = np.concatenate([az, [az[0] + 360.0]])
        el_ext = np.concatenate([el, [el[0]]])
        slopes = np.diff(el_ext) / np.diff(az_ext)
        a = np.mod(np.asarray(az_deg, float) - az[0], 360.0) + az[0]
        k = np.clip(np.searchsorted(az_ext, a, side="right") - 1, 0, len(slopes) - 1)
        return slopes[k]

    @property
    def lowest_deg(self) -> float:
        return float(min(self.elev_deg))


@dataclass(frozen=True)
class Site:
    """A ground station or terminal.

    ``min_elev_deg`` (if set) overrides the run's mask; ``horizon`` adds an
    azimuth-dependent mask on top (the higher of the two applies).
    """

    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    min_elev_deg: float | None = None
    capacity: int | None = None
    horizon: HorizonMask | None = field(default=None)

    def __post_init__(self):
        if not -90.0 <= self.lat_deg <= 90.0:
            raise ValueError(f"site {self.name!r}: latitude must be in [-90, 90], "
                             f"got {self.lat_deg}")
        if not -180.0 <= self.lon_deg <= 360.0:
            raise ValueError(f"site {self.name!r}: longitude must be in [-180, 360], "
                             f"got {self.lon_deg}")
        if self.min_elev_deg is not None and not -90.0 <= self.min_elev_deg < 90.0:
            raise ValueError(f"site {self.name!r}: min_elev_deg must be in [-90, 90), "
                             f"got {self.min_elev_deg}")
        if self.capacity is not None and self.capacity < 1:
            raise ValueError(f"site {self.name!r}: capacity must be >= 1, got {self.capacity}")

    def mask_deg(self, default_min_elev_deg: float) -> float:
        """Return the site's flat mask: its own ``min_elev_deg`` or the run's default."""
        return default_min_elev_deg if self.min_elev_deg is None else self.min_elev_deg

    def lowest_mask_deg(self, default_min_elev_deg: float) -> float:
        """Return the lowest elevation at which this site can see anything."""
        flat = self.mask_deg(default_min_elev_deg)
        return flat if self.horizon is None else max(flat, self.horizon.lowest_deg)


def itrs_km(sites) -> np.ndarray:
    """Return the sites' ITRS positions, shape ``(n_site, 3)``, km (WGS84, as skyfield)."""
    lat = np.radians([s.lat_deg for s in sites])
    lon = np.radians([s.lon_deg for s in sites])
    alt_km = np.array([s.alt_m for s in sites], float) / 1000.0
    sin_lat = np.sin(lat)
    n = WGS84_A_KM / np.sqrt(1.0 - _E2 * sin_lat**2)
    xy = (n + alt_km) * np.cos(lat)
    return np.stack([xy * np.cos(lon), xy * np.sin(lon), (n * (1.0 - _E2) + alt_km) * sin_lat],
                    axis=-1)


def enu_basis(sites) -> np.ndarray:
    """Return east, north, up unit vectors per site in ITRS, shape ``(n_site, 3, 3)``."""
    lat = np.radians([s.lat_deg for s in sites])
    lon = np.radians([s.lon_deg for s in sites])
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    z = np.zeros_like(lat)
    east = np.stack([-so, co, z], axis=-1)
    north = np.stack([-sl * co, -sl * so, cl], axis=-1)
    up = np.stack([cl * co, cl * so, sl], axis=-1)
    return np.stack([east, north, up], axis=1)


_REQUIRED = ("name", "lat_deg", "lon_deg")
_OPTIONAL = ("alt_m", "min_elev_deg", "capacity", "source")


def parse_site(text: str, option: str = "--site") -> Site:
    """Return the site ``NAME=LAT,LON[,ALT_M]`` (degrees, metres) given on the command
    line; a mistake raises :class:`InputError` naming ``option`` and showing the form."""
    form = ("expected NAME=LAT_DEG,LON_DEG[,ALT_M] (e.g. Boulder=40.015,-105.27,1655), "
            f"got {text!r}")
    name, sep, rest = text.partition("=")
    parts = rest.split(",")
    if not sep or not name.strip() or len(parts) not in (2, 3):
        raise InputError(form, key=option)
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise InputError(form, key=option) from None
    try:
        return Site(name.strip(), *numbers)
    except ValueError as exc:
        raise InputError(str(exc), key=option) from None


def command_line_sites(stations=None, site_texts=None) -> tuple[Site, ...]:
    """Return the sites of ``--stations FILE`` (if given) followed by each ``--site``;
    neither, or a name given twice, is an error (naming the file's line if it is there)."""
    in_file = _read_sites_lines(stations) if stations else []
    sites = [s for s, _ in in_file] + [parse_site(t) for t in site_texts or ()]
    if not sites:
        raise InputError("no sites: give --stations FILE or --site NAME=LAT,LON[,ALT_M]",
                         key="--site")
    twice = sorted(n for n, k in collections.Counter(s.name for s in sites).items() if k > 1)
    if twice:
        line = {s.name: n for s, n in in_file}.get(twice[0])
        where = "" if line is None else f" (on {stations}:{line} and by --site)"
        raise InputError(f"site {twice[0]!r} is given twice{where}", key="--site")
    return tuple(sites)


def read_sites_csv(path) -> tuple[Site, ...]:
    """Read ``name,lat_deg,lon_deg[,alt_m][,min_elev_deg][,capacity]`` rows from a CSV file.

    Other columns (such as ``source``) are ignored. Errors name the file, line and column.
    A name the file repeats (Hypatia's 1,000 cities hold two Hyderabads) keeps it on its
    first row and becomes ``NAME #2``, ``NAME #3`` ... on the later ones, in file order,
    so results keyed by name never merge two places; a suffixed name the file already
    uses is an error.
    """
    return tuple(site for site, _ in _read_sites_lines(path))


def read_site_files(paths) -> tuple[Site, ...]:
    """The sites of several CSV files (:func:`read_sites_csv`), in order. A name that two
    files both give is refused naming both files and lines: a repeat within one file is
    numbered (``NAME #2``), but across files nothing says which place the name means."""
    sites: list[Site] = []
    where: dict[str, tuple[str, int]] = {}      # name -> (file, line) that gave it
    for path in paths:
        for site, line_no in _read_sites_lines(path):
            if site.name in where:
                first_path, first_line = where[site.name]
                raise InputError(f"site {site.name!r} is also on {first_path}:{first_line}; "
                                 "names must be unique across site files: rename one",
                                 path=str(path), line=line_no)
            where[site.name] = (str(path), line_no)
            sites.append(site)
    return tuple(sites)


def _read_sites_lines(path) -> list[tuple[Site, int]]:
    """Each site of the CSV file ``path`` with the line it is on (:func:`read_sites_csv`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("no such file", path=str(path)) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                         path=str(path)) from None
    rows = csv.reader(text.splitlines())
    header = next(rows, None)
    while header is not None and header and header[0].lstrip().startswith("#"):
        header = next(rows, None)
    if header is None:
        raise InputError("empty file: expected a header row name,lat_deg,lon_deg,...",
                         path=str(path))
    header = [h.strip() for h in header]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise InputError(f"header lacks column(s) {', '.join(missing)}; "
                         f"got {','.join(header)}", path=str(path), line=1)
    col = {name: i for i, name in enumerate(header)}
    sites = []
    rows_of: dict[str, int] = {}          # name as written -> its rows so far
    lines: dict[str, int] = {}            # name given out -> its line
    for line_no, row in enumerate(rows, start=2):
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        if len(row) != len(header):
            raise InputError(f"expected {len(header)} fields, got {len(row)}",
                             path=str(path), line=line_no)

        def number(name, kind=float, default=None):
            if name not in col or row[col[name]].strip() == "":
                if name in _REQUIRED:
                    raise InputError(f"{name}: empty", path=str(path), line=line_no)
                return default
            raw = row[col[name]].strip()
            try:
                value = kind(raw)
            except ValueError:
                raise InputError(f"{name}: not a number: {raw!r}", path=str(path),
                                 line=line_no) from None
            if kind is float and not math.isfinite(value):
                raise InputError(f"{name}: not a finite number: {raw!r}", path=str(path),
                                 line=line_no)
            return value

        name = row[col["name"]].strip()
        if not name:
            raise InputError("name: empty", path=str(path), line=line_no)
        name = _unique_name(name, rows_of, lines, str(path), line_no)
        try:
            sites.append((Site(name=name, lat_deg=number("lat_deg"), lon_deg=number("lon_deg"),
                               alt_m=number("alt_m", default=0.0),
                               min_elev_deg=number("min_elev_deg"),
                               capacity=number("capacity", int)), line_no))
        except ValueError as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(str(exc), path=str(path), line=line_no) from None
    if not sites:
        raise InputError("no sites in file", path=str(path))
    return sites


def _unique_name(name: str, rows: dict[str, int], lines: dict[str, int], path: str,
                 line_no: int) -> str:
    """``name`` on its first row in the file, ``name #k`` on its k-th (``rows`` counts each
    name's rows so far; ``lines`` maps each name given out to its line)."""
    k = rows[name] = rows.get(name, 0) + 1
    taken = name if k == 1 else f"{name} #{k}"
    if taken in lines:
        said = (f"a repeated {name!r} (first on line {lines[name]}) would be {taken!r}, "
                "which" if k > 1 else repr(name))
        raise InputError(f"{said} is already the name on line {lines[taken]}; rename one",
                         path=path, line=line_no)
    lines[taken] = line_no
    return taken
