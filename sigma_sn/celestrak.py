"""Live element sets from CelesTrak's GP service, kept in a local cache.

``fetch("starlink")`` returns the path of the cached OMM JSON (or 3LE text) of a CelesTrak
group. CelesTrak updates GP data a few times a day and asks clients not to download a
group more than once per two hours (celestrak.org/NORAD/documentation/gp-data-formats.php),
so a copy younger than ``MIN_INTERVAL_S`` is used as it is. An older copy is revalidated
with ``If-Modified-Since`` (RFC 9110 §13.1.3; a 304 answer keeps it). Redirects are
followed (urllib does, keeping the request's headers). A download replaces the cache only
once it arrived whole and parses as element sets, and it is written atomically; when
CelesTrak cannot be reached (offline, 403/429, a timeout, a cut-off body) the cached copy
is used with a warning, and with no cached copy the error names the group and the cause.

Element files may be named ``celestrak:GROUP`` wherever a path is taken
(:func:`resolve`).
"""

from __future__ import annotations

import email.utils
import http.client
import json
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sigma_sn.errors import InputError

#: CelesTrak's GP query endpoint; ``SIGMA_SN_CELESTRAK_URL`` replaces it (a mirror, tests)
BASE_URL = "https://celestrak.org/NORAD/elements/gp.php"
URL_ENV = "SIGMA_SN_CELESTRAK_URL"
#: where cached element sets live unless a cache folder is given
CACHE_ENV = "SIGMA_SN_CACHE_DIR"
#: CelesTrak asks for at most one download of a group per two hours
MIN_INTERVAL_S = 2 * 3600.0
TIMEOUT_S = 30.0
PREFIX = "celestrak:"
#: file suffix and CelesTrak's FORMAT value of each format
FORMATS = {"omm": (".json", "json"), "tle": (".tle", "3le")}
_GROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class FetchWarning(UserWarning):
    """CelesTrak could not be reached; a cached copy stands in."""


@dataclass(frozen=True)
class Fetched:
    """The cached file of a group and how it got there: ``status`` is ``downloaded``,
    ``not-modified`` (304), ``recent`` (younger than two hours, not asked) or ``stale``
    (asking failed; the cached copy of ``downloaded_utc``)."""

    path: Path
    status: str
    downloaded_utc: str
    note: str = ""


def default_cache_dir() -> Path:
    """``$SIGMA_SN_CACHE_DIR``, else ``$XDG_CACHE_HOME/sigma-sn``, else ``~/.cache/sigma-sn``;
    element sets go in its ``celestrak`` folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sigma-sn"


def fetch(group: str, *, fmt: str = "omm", cache_dir=None, base_url: str | None = None,
          now: datetime | None = None, timeout_s: float = TIMEOUT_S) -> Fetched:
    """Return the cached element sets of CelesTrak group ``group`` (e.g. ``starlink``,
    ``gps-ops``) in format ``fmt`` (``omm``: OMM JSON; ``tle``: 3LE), downloading them
    when the copy is two hours old or more. ``base_url`` (else ``$SIGMA_SN_CELESTRAK_URL``,
    else CelesTrak) and ``now`` (UTC) are there for tests and mirrors."""
    if not _GROUP.match(group or ""):
        raise InputError(f"not a CelesTrak group name: {group!r} (e.g. starlink, gps-ops)",
                         key="GROUP")
    if fmt not in FORMATS:
        raise InputError(f"must be omm or tle, got {fmt!r}", key="--format")
    suffix, query_format = FORMATS[fmt]
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = folder / "celestrak"
    path = folder / f"{group.lower()}{suffix}"
    meta_path = path.with_name(path.name + ".meta.json")
    now = now or datetime.now(timezone.utc)
    meta = _read_meta(meta_path) if path.is_file() else None
    if meta and (now - _parse_utc(meta["checked_utc"])).total_seconds() < MIN_INTERVAL_S:
        return Fetched(path, "recent", meta["downloaded_utc"],
                       f"checked at {meta['checked_utc']}, under two hours ago")
    base = base_url or os.environ.get(URL_ENV) or BASE_URL
    url = f"{base}?{urllib.parse.urlencode({'GROUP': group, 'FORMAT': query_format})}"
    request = urllib.request.Request(url, headers={"User-Agent": "sigma-sn"})
    if meta:
        request.add_header("If-Modified-Since", meta.get("last_modified") or
                           email.utils.format_datetime(_parse_utc(meta["downloaded_utc"]),
                                                       usegmt=True))
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            body = answer.read()
            last_modified = answer.headers.get("Last-Modified")
        _store(path, body, suffix)
    except urllib.error.HTTPError as exc:
        if exc.code == 304 and meta:
            meta["checked_utc"] = _utc_text(now)
            _write_meta(meta_path, meta)
            return Fetched(path, "not-modified", meta["downloaded_utc"],
                           "not modified since the cached copy")
        why = f"HTTP {exc.code} {exc.reason}" + (
            " (CelesTrak refuses clients that ask too often)" if exc.code in (403, 429) else "")
        return _fallback(group, url, path, meta, why)
    except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(exc, http.client.IncompleteRead):
            reason = f"the download was cut off ({len(exc.partial)} bytes arrived)"
        return _fallback(group, url, path, meta, str(reason) or type(exc).__name__)
    except InputError as exc:
        return _fallback(group, url, path, meta, f"what arrived is not element sets: "
                                                 f"{exc.reason}")
    stamp = _utc_text(now)
    _write_meta(meta_path, {"url": url, "downloaded_utc": stamp, "checked_utc": stamp,
                            "last_modified": last_modified})
    return Fetched(path, "downloaded", stamp, f"{len(body)} bytes from {url}")


def resolve(name, *, cache_dir=None) -> Path:
    """Return the file an element source names: ``celestrak:GROUP`` (OMM JSON, fetched as
    :func:`fetch` does) or a path as it is."""
    text = os.fspath(name)
    if not text.startswith(PREFIX):
        return Path(text)
    return fetch(text[len(PREFIX):], cache_dir=cache_dir).path


def _store(path: Path, body: bytes, suffix: str) -> None:
    """Check ``body`` parses as element sets, then put it at ``path`` atomically; a bad
    body raises :class:`InputError` and leaves ``path`` as it was."""
    from sigma_sn.elements import load_elements

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{suffix}",
                               dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not load_elements(tmp).satellites:
                raise InputError("no element sets in it")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fallback(group: str, url: str, path: Path, meta: dict | None, why: str) -> Fetched:
    if meta is None:
        raise InputError(f"could not download CelesTrak group {group!r} from {url}: {why}; "
                         "no cached copy to fall back on", key=f"{PREFIX}{group}")
    note = (f"could not download CelesTrak group {group!r} ({why}); using the cached copy "
            f"downloaded {meta['downloaded_utc']}")
    warnings.warn(note, FetchWarning, stacklevel=3)
    return Fetched(path, "stale", meta["downloaded_utc"], note)


def _read_meta(path: Path) -> dict | None:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        _parse_utc(meta["checked_utc"]), _parse_utc(meta["downloaded_utc"])
        return meta
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no record of when: ask again (If-Modified-Since needs one)


def _write_meta(path: Path, meta: dict) -> None:
    from sigma_sn.atomic import write_text

    write_text(path, json.dumps(meta, sort_keys=True, indent=1) + "\n")


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


__all__ = ["BASE_URL", "CACHE_ENV", "FORMATS", "FetchWarning", "Fetched", "MIN_INTERVAL_S",
           "URL_ENV", "default_cache_dir", "fetch", "resolve"]
