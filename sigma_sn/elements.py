"""Element sets in and out: TLE (with or without name lines) and CCSDS OMM.

Reading validates every record the way python-sgp4's own parser does, and more
(length, layout, checksum, matching catalogue numbers), and every error names the
file, the 1-based line and shows the official field template above your line.
Writing is atomic and deterministic. Each satellite carries an ``sgp4.api.Satrec``
ready to propagate.
"""

from __future__ import annotations

import copyreg
import csv
import io
import json
import os
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from math import pi
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence
from xml.parsers import expat

from sgp4.alpha5 import to_alpha5
from sgp4.api import WGS72, Satrec

from sigma_sn.atomic import write_text
from sigma_sn.errors import InputError

#: an epoch further than this from the planning window is stale: TLE along-track
#: error grows by roughly 1-3 km per day of age (DESIGN.md)
STALE_EPOCH_DAYS = 14.0
#: how many offenders a summary warning lists before it says "and N more"
WARNING_EXAMPLES = 5

TLE_LINE_LENGTH = 69
LINE1_TEMPLATE = "1 NNNNNC NNNNNAAA NNNNN.NNNNNNNN +.NNNNNNNN +NNNNN-N +NNNNN-N N NNNNN"
LINE2_TEMPLATE = "2 NNNNN NNN.NNNN NNN.NNNN NNNNNNN NNN.NNNN NNN.NNNN NN.NNNNNNNNNNNNNN"
#: Alpha-5 stops at 'Z9999'; larger catalogue numbers exist only in OMM
TLE_MAX_NORAD_ID = 339999

# The unit conversions of sgp4's own twoline2rv, so that elements read from OMM or
# built by sgp4init give bit-for-bit the Satrec that the same TLE text would.
DEG2RAD = pi / 180.0
XPDOTP = 1440.0 / (2.0 * pi)  # rev/day per rad/min

OMM_SUFFIXES = {".json": "json", ".csv": "csv", ".xml": "xml"}
_UNIX_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=timezone.utc)
_JD_UNIX_EPOCH = 2440587.5
_JD_1949_12_31 = 2433281.5  # sgp4init counts its epoch in days from here
_US_PER_DAY = 86_400_000_000
_US_PER_TLE_EPOCH_UNIT = 864  # a TLE epoch has 8 decimals of a day: 1e-8 day = 864 us


# Satrec cannot be pickled, and Dask ships the planner's satellites to its workers
# (sigma_sn/compute.py): rebuild it from its own elements by sgp4init, as twoline2rv does,
# so the copy has every field of the original bit for bit (tests/test_compute.py)
_SATREC_TAGS = ("classification", "intldesg", "ephtype", "elnum", "revnum")


def _satrec_state(satrec: Satrec):
    elements = tuple(getattr(satrec, k) for k in (
        "operationmode", "satnum", "jdsatepoch", "jdsatepochF", "bstar", "ndot", "nddot",
        "ecco", "argpo", "inclo", "mo", "no_kozai", "nodeo"))
    return _satrec_from_state, (elements, tuple(getattr(satrec, k) for k in _SATREC_TAGS))


def _satrec_from_state(elements: tuple, tags: tuple) -> Satrec:
    mode, satnum, jd, jd_fraction, *rest = elements
    satrec = Satrec()
    satrec.sgp4init(WGS72, mode, satnum, (jd - _JD_1949_12_31) + jd_fraction, *rest)
    satrec.jdsatepoch, satrec.jdsatepochF = jd, jd_fraction
    for k, v in zip(_SATREC_TAGS, tags):
        setattr(satrec, k, v)
    return satrec


copyreg.pickle(Satrec, _satrec_state)


class ElementsWarning(UserWarning):
    """Element sets loaded, but something about them deserves your attention."""


@dataclass(frozen=True)
class Satellite:
    """One element set: who it is, when it is valid, and a Satrec to propagate it."""

    name: str
    norad_id: int
    epoch_utc: datetime
    satrec: Satrec = field(compare=False, repr=False)
    source: str = ""


@dataclass(frozen=True)
class Catalog:
    """The satellites you loaded, in file order, and what was said while loading."""

    satellites: tuple[Satellite, ...]
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------- time

def _jd_pair(epoch_utc: datetime) -> tuple[float, float]:
    """Return (whole JD at midnight, exact day fraction), as twoline2rv stores them."""
    us = _microseconds_since_unix(epoch_utc)
    days, us_of_day = divmod(us, _US_PER_DAY)
    return _JD_UNIX_EPOCH + days, us_of_day / _US_PER_DAY


def _microseconds_since_unix(epoch_utc: datetime) -> int:
    delta = epoch_utc - _UNIX_EPOCH_UTC
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _epoch_from_satrec(satrec: Satrec) -> datetime:
    # jdsatepoch is a midnight (x.5) and jdsatepochF a day fraction; a TLE epoch is a
    # whole number of 864 us units, so rounding to the microsecond is exact.
    whole_us = round((satrec.jdsatepoch - _JD_UNIX_EPOCH) * _US_PER_DAY)
    return _UNIX_EPOCH_UTC + timedelta(
        microseconds=whole_us + round(satrec.jdsatepochF * _US_PER_DAY))


def _as_utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None:
        raise InputError(f"{what} {moment.isoformat()} has no time zone; give it in UTC "
                         "(e.g. datetime(..., tzinfo=timezone.utc) or a trailing Z)")
    return moment.astimezone(timezone.utc)


def format_utc(moment: datetime) -> str:
    """Return ``moment`` as ISO 8601 UTC with a ``Z``, microseconds only when non-zero."""
    moment = moment.astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


# ----------------------------------------------------------- building satellites

def satellite_from_elements(*, name: str, norad_id: int, epoch_utc: datetime,
                            inclination_deg: float, raan_deg: float, eccentricity: float,
                            arg_perigee_deg: float, mean_anomaly_deg: float,
                            mean_motion_rev_per_day: float, bstar_per_earth_radius: float,
                            mean_motion_dot_rev_per_day2: float = 0.0,
                            mean_motion_ddot_rev_per_day3: float = 0.0,
                            classification: str = "U", intl_designator: str = "",
                            ephemeris_type: int = 0, element_set_no: int = 999,
                            rev_at_epoch: int = 0, source: str = "") -> Satellite:
    """Build a Satellite from mean elements in TLE units (degrees, rev/day).

    You get exactly the Satrec that ``Satrec.twoline2rv`` would build from a TLE
    holding the same decimal values.
    """
    epoch_utc = _as_utc(epoch_utc, "epoch")
    jd, jd_fraction = _jd_pair(epoch_utc)
    satrec = Satrec()
    # sgp4init refuses catalogue numbers beyond Alpha-5; the number itself lives on
    # in Satellite.norad_id, the Satrec only needs one for its own bookkeeping.
    satnum = norad_id if 0 <= norad_id <= TLE_MAX_NORAD_ID else 0
    satrec.sgp4init(WGS72, "i", satnum, (jd - _JD_1949_12_31) + jd_fraction,
                    bstar_per_earth_radius,
                    mean_motion_dot_rev_per_day2 / (XPDOTP * 1440.0),
                    mean_motion_ddot_rev_per_day3 / (XPDOTP * 1440.0 * 1440.0),
                    eccentricity, arg_perigee_deg * DEG2RAD, inclination_deg * DEG2RAD,
                    mean_anomaly_deg * DEG2RAD, mean_motion_rev_per_day / XPDOTP,
                    raan_deg * DEG2RAD)
    # sgp4init squeezes the epoch through one float of days since 1949 (0.3 us
    # resolution, 2 mm along-track); restore the exact split twoline2rv keeps.
    satrec.jdsatepoch, satrec.jdsatepochF = jd, jd_fraction
    satrec.classification = classification or "U"
    satrec.intldesg = intl_designator
    satrec.ephtype = ephemeris_type
    satrec.elnum = element_set_no
    satrec.revnum = rev_at_epoch
    return Satellite(name=name, norad_id=norad_id, epoch_utc=epoch_utc, satrec=satrec,
                     source=source)


# ------------------------------------------------------------------ reading TLE

# Each line as (what, first column, last column (1-based), pattern). The separators
# are the punch-card layout python-sgp4 checks; the fields are what twoline2rv parses.
_NUMBER = r" *[+-]?(?:\d+\.?\d*|\.\d+) *"
_EXPONENT = r"[ +-][ \d]{4}\d[ +-]\d"
_CATALOGUE = r"[0-9A-HJ-NP-Z]\d{4}| *\d+"
_LINE1_PIECES = (
    ("line number '1'", 1, 1, "1"), ("a blank", 2, 2, " "),
    ("catalogue number", 3, 7, _CATALOGUE), ("classification", 8, 8, r"[A-Z ]"),
    ("a blank", 9, 9, " "), ("international designator", 10, 17, r"[0-9A-Z ]{8}"),
    ("a blank", 18, 18, " "), ("epoch", 19, 32, r"[ \d]{5}\.[\d ]{8}"),
    ("a blank", 33, 33, " "), ("first derivative of mean motion", 34, 43, _NUMBER),
    ("a blank", 44, 44, " "), ("second derivative of mean motion", 45, 52, _EXPONENT),
    ("a blank", 53, 53, " "), ("BSTAR drag term", 54, 61, _EXPONENT),
    ("a blank", 62, 62, " "), ("ephemeris type", 63, 63, r"[\d ]"),
    ("a blank", 64, 64, " "), ("element set number", 65, 68, r" *\d*"),
    ("checksum", 69, 69, r"\d"),
)
_LINE2_PIECES = (
    ("line number '2'", 1, 1, "2"), ("a blank", 2, 2, " "),
    ("catalogue number", 3, 7, _CATALOGUE), ("a blank", 8, 8, " "),
    ("inclination", 9, 16, _NUMBER), ("a blank", 17, 17, " "),
    ("right ascension of the ascending node", 18, 25, _NUMBER), ("a blank", 26, 26, " "),
    ("eccentricity", 27, 33, r"[\d ]{6}\d"), ("a blank", 34, 34, " "),
    ("argument of perigee", 35, 42, _NUMBER), ("a blank", 43, 43, " "),
    ("mean anomaly", 44, 51, _NUMBER), ("a blank", 52, 52, " "),
    ("mean motion", 53, 63, _NUMBER), ("revolution number", 64, 68, r" *\d*"),
    ("checksum", 69, 69, r"\d"),
)


def _line_regex(pieces) -> re.Pattern:
    # one regex per line keeps the good path to a single C call; the pieces are
    # only walked one by one to explain a line that does not match
    return re.compile("".join(f"(?:{pattern})" if len(pattern) > 1 else re.escape(pattern)
                              for _, _, _, pattern in pieces))


_LINE_LAYOUT = {
    "1": (LINE1_TEMPLATE, _LINE1_PIECES, _line_regex(_LINE1_PIECES)),
    "2": (LINE2_TEMPLATE, _LINE2_PIECES, _line_regex(_LINE2_PIECES)),
}
# checksum: digits count their value, '-' counts 1, everything else 0
_CHECKSUM_TABLE = bytes(range(10)).rjust(ord("9") + 1, b"\0").ljust(256, b"\0")
_CHECKSUM_TABLE = _CHECKSUM_TABLE[:ord("-")] + b"\1" + _CHECKSUM_TABLE[ord("-") + 1:]


def tle_checksum(line: str) -> int:
    """Return the modulo-10 checksum of a TLE line's first 68 columns."""
    return sum(line[:68].encode("ascii").translate(_CHECKSUM_TABLE)) % 10


def _template_detail(kind: str, line: str, column: int | None = None) -> str:
    """The official template for line ``kind`` above your line, python-sgp4 style."""
    text = f"{_LINE_LAYOUT[kind][0]}\n{line}"
    if column is not None:
        text += "\n" + " " * (column - 1) + "^"
    return text


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based line in the file
    text: str


def _tle_lines(text: str) -> Iterator[_Line]:
    # split on '\n' only: str.splitlines() also breaks at form feeds and other
    # characters, which would make our line numbers disagree with your editor's
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield _Line(number, line)


def _check_element_line(kind: str, line: _Line, path: str) -> str:
    """Return the 69 columns of TLE line ``kind`` or raise an InputError that says why."""
    text = line.text.rstrip()

    def fail(message: str, column: int | None = None) -> InputError:
        return InputError(message, path=path, line=line.number,
                          detail=_template_detail(kind, text, column))

    if not text.isascii():
        column, char = next((i, c) for i, c in enumerate(text, start=1) if not c.isascii())
        raise fail(f"TLE line {kind} has a non-ASCII character {char!r} (U+{ord(char):04X}) "
                   f"in column {column}; TLE lines are plain ASCII", column)
    if kind == "2" and len(text) > TLE_LINE_LENGTH and text[TLE_LINE_LENGTH] in " \t":
        # Vallado's verification file (SGP4-VER.TLE) appends start, stop and step
        # minutes after column 69 of line 2; sgp4's own tests cut them off too.
        text = text[:TLE_LINE_LENGTH]
    if len(text) != TLE_LINE_LENGTH:
        raise fail(f"TLE line {kind} is {len(text)} characters long; "
                   f"it must be exactly {TLE_LINE_LENGTH}")
    template, pieces, regex = _LINE_LAYOUT[kind]
    if not regex.fullmatch(text):
        for what, first, last, pattern in pieces:
            found = text[first - 1:last]
            if not re.fullmatch(pattern, found):
                columns = f"column {first}" if first == last else f"columns {first}-{last}"
                raise fail(f"TLE line {kind} {columns} should be {what} "
                           f"(template {template[first - 1:last]!r}) but is {found!r}", first)
    expected = tle_checksum(text)
    if int(text[68]) != expected:
        raise fail(f"TLE line gives its checksum as {text[68]} "
                   f"but in fact tallies to {expected}", TLE_LINE_LENGTH)
    return text


def _parse_record(name_line: _Line | None, line1: _Line, line2: _Line, path: str) -> Satellite:
    text1 = _check_element_line("1", line1, path)
    text2 = _check_element_line("2", line2, path)
    if text1[2:7] != text2[2:7]:
        raise InputError(
            f"the catalogue numbers of the two lines differ: line 1 (line {line1.number}) "
            f"says {text1[2:7]!r}, line 2 (line {line2.number}) says {text2[2:7]!r}",
            path=path, line=line2.number,
            detail=f"{text1}\n{text2}\n  ^^^^^")
    try:
        satrec = Satrec.twoline2rv(text1, text2)
    except ValueError as exc:
        raise InputError(f"sgp4 cannot parse this element set: {exc}", path=path,
                         line=line1.number, detail=f"{text1}\n{text2}") from None
    norad_id = satrec.satnum
    if name_line is None:
        name = f"NORAD {norad_id}"
    else:
        name = name_line.text.strip()
        if name.startswith("0 "):  # Space-Track's 3LE marks name lines with "0 "
            name = name[2:].strip()
    start = name_line or line1
    return Satellite(name=name, norad_id=norad_id, epoch_utc=_epoch_from_satrec(satrec),
                     satrec=satrec, source=f"{path}:{start.number}")


def _scan_tle(text: str, path: str) -> Iterator[Satellite | InputError]:
    """Yield each record of a TLE file as a Satellite, or the InputError that sinks it.

    One pass, one record at a time. After an error the scan carries on at the next
    line that can start a record, so one bad record never hides the rest.
    """
    lines = _tle_lines(text)
    pending: _Line | None = None  # a line to look at again as a record start
    any_record = False
    while (first := pending or next(lines, None)) is not None:
        pending = None
        any_record = True
        name_line = None
        if first.text.startswith("2 "):
            yield InputError("found TLE line 2 without a line 1 before it", path=path,
                             line=first.number, detail=_template_detail("2", first.text))
            continue
        if not first.text.startswith("1 "):
            name_line, first = first, next(lines, None)
            if first is None or not first.text.startswith("1 "):
                yield InputError(
                    f"expected TLE line 1 after the name line {name_line.text.strip()!r}, "
                    f"but {_found(first)}; a record is an optional name line, then "
                    "line 1, then line 2",
                    path=path, line=(first or name_line).number,
                    detail=_template_detail("1", first.text if first else "(end of file)"))
                # a stray line 2 belongs to this broken record; anything else may
                # be the name of the next one
                if first is not None and not first.text.startswith("2 "):
                    pending = first
                continue
        second = next(lines, None)
        if second is None or not second.text.startswith("2 "):
            yield InputError(f"TLE line 1 (line {first.number}) is not followed by a line 2: "
                             f"{_found(second)}", path=path, line=(second or first).number,
                             detail=_template_detail(
                                 "2", second.text if second else "(end of file)"))
            pending = second
            continue
        try:
            yield _parse_record(name_line, first, second, path)
        except InputError as exc:
            yield exc
    if not any_record:
        yield InputError("no element sets found: the file holds only blank lines "
                         "and comments", path=path)


def _found(line: _Line | None) -> str:
    return "the file ends" if line is None else f"line {line.number} is {line.text.strip()!r}"


def _read_text(path: str | os.PathLike) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", path=str(path)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # one byte, one character: the column of a stray byte is still right
        return data.decode("latin-1")


def read_tle_report(path: str | os.PathLike) -> tuple[list[Satellite], list[InputError]]:
    """Read every good record of a TLE file; return them and the errors of the bad ones."""
    satellites, errors = [], []
    for item in _scan_tle(_read_text(path), str(path)):
        (errors if isinstance(item, InputError) else satellites).append(item)
    return satellites, errors


def read_tle(path: str | os.PathLike, *, strict: bool = True) -> list[Satellite]:
    """Read a TLE file (with or without name lines) in file order.

    With ``strict=True`` the first bad record raises an InputError. With
    ``strict=False`` bad records are skipped and each one is warned about; use
    :func:`read_tle_report` to get them as a list instead.
    """
    if strict:
        satellites = []
        for item in _scan_tle(_read_text(path), str(path)):
            if isinstance(item, InputError):
                raise item
            satellites.append(item)
        return satellites
    satellites, errors = read_tle_report(path)
    for error in errors:
        warnings.warn(f"skipped a bad element set: {error}", ElementsWarning, stacklevel=2)
    return satellites


# ------------------------------------------------------------------ reading OMM

_OMM_REQUIRED = ("NORAD_CAT_ID", "EPOCH", "MEAN_MOTION", "ECCENTRICITY", "INCLINATION",
                 "RA_OF_ASC_NODE", "ARG_OF_PERICENTER", "MEAN_ANOMALY", "BSTAR")
#: CelesTrak's JSON field order, which is also what we write
OMM_FIELDS = ("OBJECT_NAME", "OBJECT_ID", "EPOCH", "MEAN_MOTION", "ECCENTRICITY",
              "INCLINATION", "RA_OF_ASC_NODE", "ARG_OF_PERICENTER", "MEAN_ANOMALY",
              "EPHEMERIS_TYPE", "CLASSIFICATION_TYPE", "NORAD_CAT_ID", "ELEMENT_SET_NO",
              "REV_AT_EPOCH", "BSTAR", "MEAN_MOTION_DOT", "MEAN_MOTION_DDOT")
#: metadata that, when present, must say what SGP4 assumes
_OMM_EXPECTED_METADATA = {"CENTER_NAME": "EARTH", "REF_FRAME": "TEME", "TIME_SYSTEM": "UTC",
                          "MEAN_ELEMENT_THEORY": "SGP4"}
_OMM_EPOCH = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z?")


@dataclass(frozen=True)
class _OmmRecord:
    fields: dict
    where: Callable[[str], dict]  # field name -> InputError location keywords


def _omm_number(record: _OmmRecord, name: str, default=None, *, integer: bool = False):
    value = record.fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None:
            raise InputError(f"required OMM field {name} is missing", **record.where(name))
        return default
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError
        if integer:
            if number != int(number):
                raise ValueError
            return int(number)
        return number
    except (TypeError, ValueError):
        kind = "an integer" if integer else "a number"
        raise InputError(f"{name} should be {kind} but is {value!r}",
                         **record.where(name)) from None


def _omm_epoch(record: _OmmRecord) -> datetime:
    value = record.fields.get("EPOCH")
    if value is None or not str(value).strip():
        raise InputError("required OMM field EPOCH is missing", **record.where("EPOCH"))
    match = _OMM_EPOCH.fullmatch(str(value).strip())
    try:
        if not match:
            raise ValueError
        year, month, day, hour, minute, second, fraction = match.groups()
        base = datetime(int(year), int(month), int(day), int(hour), int(minute),
                        int(second), tzinfo=timezone.utc)
    except ValueError:
        raise InputError(f"EPOCH should look like 2026-08-22T10:13:42.123456 but is {value!r}",
                         **record.where("EPOCH")) from None
    # more than 6 decimals: keep the nearest microsecond
    us = round(int(fraction) * 10 ** (6 - len(fraction))) if fraction else 0
    return base + timedelta(microseconds=us)


def _satellite_from_omm(record: _OmmRecord, source: str) -> Satellite:
    fields = record.fields
    for name, expected in _OMM_EXPECTED_METADATA.items():
        value = fields.get(name)
        if value not in (None, "") and str(value).strip().upper() != expected:
            raise InputError(f"{name} is {value!r}; SGP4 elements need {expected}",
                             **record.where(name))
    norad_id = _omm_number(record, "NORAD_CAT_ID", integer=True)
    if norad_id < 0:
        raise InputError(f"NORAD_CAT_ID should be positive but is {norad_id}",
                         **record.where("NORAD_CAT_ID"))
    numbers = {name: _omm_number(record, name) for name in _OMM_REQUIRED
               if name not in ("NORAD_CAT_ID", "EPOCH")}
    object_id = str(fields.get("OBJECT_ID") or "").strip()
    # "1998-067A" -> "98067A", the TLE's international designator
    intl = object_id[2:].replace("-", "") if re.fullmatch(r"\d{4}-\d{3}[A-Z]*", object_id) \
        else object_id
    name = str(fields.get("OBJECT_NAME") or "").strip() or f"NORAD {norad_id}"
    return satellite_from_elements(
        name=name, norad_id=norad_id, epoch_utc=_omm_epoch(record),
        inclination_deg=numbers["INCLINATION"], raan_deg=numbers["RA_OF_ASC_NODE"],
        eccentricity=numbers["ECCENTRICITY"], arg_perigee_deg=numbers["ARG_OF_PERICENTER"],
        mean_anomaly_deg=numbers["MEAN_ANOMALY"],
        mean_motion_rev_per_day=numbers["MEAN_MOTION"],
        bstar_per_earth_radius=numbers["BSTAR"],
        mean_motion_dot_rev_per_day2=_omm_number(record, "MEAN_MOTION_DOT", 0.0),
        mean_motion_ddot_rev_per_day3=_omm_number(record, "MEAN_MOTION_DDOT", 0.0),
        classification=str(fields.get("CLASSIFICATION_TYPE") or "U").strip(),
        intl_designator=intl,
        ephemeris_type=_omm_number(record, "EPHEMERIS_TYPE", 0, integer=True),
        element_set_no=_omm_number(record, "ELEMENT_SET_NO", 999, integer=True),
        rev_at_epoch=_omm_number(record, "REV_AT_EPOCH", 0, integer=True),
        source=source)


def _omm_json_records(text: str, path: str) -> Iterator[tuple[_OmmRecord, str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg} (column {exc.colno})", path=path,
                         line=exc.lineno) from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise InputError("OMM JSON should be a list of objects, one per satellite", path=path)
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise InputError(f"should be an object with OMM fields but is {item!r:.60}",
                             path=path, key=f"record [{index}]")
        yield _OmmRecord(item, lambda name, i=index: {
            "path": path, "key": f"record [{i}] (0-based) {name}"}), f"{path}:[{index}]"


def _omm_csv_records(text: str, path: str) -> Iterator[tuple[_OmmRecord, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames or []
        for name in ("NORAD_CAT_ID", "EPOCH"):
            if name not in header:
                raise InputError(f"the CSV header has no {name} column; OMM CSV starts with "
                                 "a header row like CelesTrak's (OBJECT_NAME,OBJECT_ID,EPOCH,...)",
                                 path=path, line=1)
        for row in reader:
            line = reader.line_num
            yield _OmmRecord(row, lambda name, n=line: {
                "path": path, "line": n, "key": name}), f"{path}:{line}"
    except csv.Error as exc:
        raise InputError(f"not valid CSV: {exc}", path=path, line=reader.line_num) from None


def _omm_xml_records(text: str, path: str) -> list[tuple[_OmmRecord, str]]:
    # expat rather than ElementTree: it knows the line of every element, and it lets
    # us ignore namespace prefixes and a missing <tleParameters> gracefully
    parser = expat.ParserCreate()
    records: list[tuple[dict, dict, int]] = []
    stack: list[str] = []
    text_parts: list[str] = []

    def start(tag, attrs):
        tag = tag.rsplit(":", 1)[-1]
        stack.append(tag)
        text_parts.clear()
        if tag == "omm":
            records.append(({}, {}, parser.CurrentLineNumber))
        elif records and "segment" in stack:
            records[-1][1][tag] = parser.CurrentLineNumber

    def end(tag):
        tag = stack.pop()
        if records and "segment" in stack and tag != "segment":
            records[-1][0].setdefault(tag, "".join(text_parts).strip())
        text_parts.clear()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text_parts.append
    try:
        parser.Parse(text.encode("utf-8"), True)
    except expat.ExpatError as exc:
        raise InputError(f"not valid XML: {expat.errors.messages[exc.code]} "
                         f"(column {exc.offset + 1})", path=path, line=exc.lineno) from None
    out = []
    for index, (fields, lines, omm_line) in enumerate(records):
        # container elements were recorded too; only leaves carry values
        for container in ("metadata", "data", "meanElements", "tleParameters",
                          "userDefinedParameters", "covarianceMatrix", "spacecraftParameters"):
            fields.pop(container, None)
        out.append((_OmmRecord(fields, lambda name, ln=lines, o=omm_line, i=index: {
            "path": path, "line": ln.get(name, o), "key": f"<omm> {i + 1} {name}"}),
            f"{path}:{omm_line}"))
    return out


def _omm_kind(path: str, text: str) -> str | None:
    """Return 'json', 'csv' or 'xml' by extension, else by content; None if not OMM."""
    kind = OMM_SUFFIXES.get(Path(path).suffix.lower())
    if kind:
        return kind
    head = text.lstrip()[:200]
    if head.startswith(("[", "{")):
        return "json"
    if head.startswith("<"):
        return "xml"
    if "NORAD_CAT_ID" in head.split("\n", 1)[0]:
        return "csv"
    return None


def _read_omm_text(path: str, text: str, kind: str) -> list[Satellite]:
    records = {"json": _omm_json_records, "csv": _omm_csv_records,
               "xml": _omm_xml_records}[kind](text, path)
    satellites = [_satellite_from_omm(record, source) for record, source in records]
    if not satellites:
        raise InputError(f"no element sets found in this OMM {kind.upper()} file", path=path)
    return satellites


def read_omm(path: str | os.PathLike) -> list[Satellite]:
    """Read CCSDS OMM as CelesTrak serves it: JSON (a list), CSV (header row) or XML.

    The format comes from the extension (.json, .csv, .xml), else from the content.
    6-digit catalogue numbers are fine.
    """
    text = _read_text(path)
    kind = _omm_kind(str(path), text)
    if kind is None:
        raise InputError("not an OMM file: expected JSON ('['), XML ('<') or CSV with a "
                         "NORAD_CAT_ID column in its header", path=str(path))
    return _read_omm_text(str(path), text, kind)


# --------------------------------------------------------------------- loading

def _summary_warnings(items: Sequence[str], summary: str) -> list[str]:
    """One warning per item, or, for many, one that counts them and shows a few."""
    if len(items) <= WARNING_EXAMPLES:
        return list(items)
    shown = "; ".join(items[:WARNING_EXAMPLES])
    return [f"{summary.format(count=len(items))}, e.g. {shown}; "
            f"and {len(items) - WARNING_EXAMPLES} more"]


def _describe(sat: Satellite) -> str:
    return f"{sat.name} ({sat.norad_id}, epoch {format_utc(sat.epoch_utc)}, {sat.source})"


def load_elements(paths: str | os.PathLike | Iterable[str | os.PathLike], *,
                  window_start_utc: datetime | None = None,
                  window_end_utc: datetime | None = None) -> Catalog:
    """Load TLE and OMM files (or ``celestrak:GROUP``, :mod:`sigma_sn.celestrak`) into one
    Catalog, in file order.

    A catalogue number given more than once keeps its newest epoch (ties: the first
    one read), at the position where it first appeared. With a window, every
    satellite whose epoch lies more than ``STALE_EPOCH_DAYS`` outside it is warned
    about. Every warning is in ``Catalog.warnings`` and also goes to ``warnings.warn``.
    """
    from sigma_sn.celestrak import resolve

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [resolve(p) for p in paths]  # celestrak:GROUP -> the cached file
    kept: dict[int, int] = {}  # norad_id -> index in satellites
    satellites: list[Satellite] = []
    duplicates: list[str] = []
    for path in paths:
        text = _read_text(path)
        kind = _omm_kind(str(path), text)
        loaded = (_read_omm_text(str(path), text, kind) if kind
                  else [item for item in _checked(_scan_tle(text, str(path)))])
        for sat in loaded:
            index = kept.get(sat.norad_id)
            if index is None:
                kept[sat.norad_id] = len(satellites)
                satellites.append(sat)
                continue
            old = satellites[index]
            newer = sat if sat.epoch_utc > old.epoch_utc else old
            duplicates.append(f"catalogue number {sat.norad_id} is given twice, as "
                              f"{_describe(old)} and as {_describe(sat)}; keeping the newer "
                              f"from {newer.source}")
            satellites[index] = newer
    messages = _summary_warnings(
        duplicates, "{count} catalogue numbers are given more than once; keeping the newest epoch")
    messages += _stale_warnings(satellites, window_start_utc, window_end_utc)
    for message in messages:
        warnings.warn(message, ElementsWarning, stacklevel=2)
    return Catalog(satellites=tuple(satellites), warnings=tuple(messages))


def _checked(items: Iterable[Satellite | InputError]) -> Iterator[Satellite]:
    for item in items:
        if isinstance(item, InputError):
            raise item
        yield item


@dataclass(frozen=True)
class Stale:
    """A satellite whose epoch lies ``days`` outside the window (``side``: before its start
    or after its end)."""

    satellite: Satellite
    days: float
    side: str

    def __str__(self) -> str:
        return (f"{_describe(self.satellite)} is {self.days:.1f} days {self.side}; expect "
                f"position errors of {self.days:.0f}-{3 * self.days:.0f} km or more")


def stale_elements(satellites: Sequence[Satellite], start_utc: datetime,
                   end_utc: datetime) -> list[Stale]:
    """Return the satellites whose epochs lie more than ``STALE_EPOCH_DAYS`` outside
    [``start_utc``, ``end_utc``], stalest first."""
    start_utc = _as_utc(start_utc, "window start")
    end_utc = _as_utc(end_utc, "window end")
    limit, day = timedelta(days=STALE_EPOCH_DAYS), timedelta(days=1)
    stale = []
    for sat in satellites:
        if sat.epoch_utc < start_utc - limit:
            stale.append(Stale(sat, (start_utc - sat.epoch_utc) / day,
                               f"before the window starts ({format_utc(start_utc)})"))
        elif sat.epoch_utc > end_utc + limit:
            stale.append(Stale(sat, (sat.epoch_utc - end_utc) / day,
                               f"after the window ends ({format_utc(end_utc)})"))
    return sorted(stale, key=lambda s: -s.days)


def stale_summary(stale: Sequence[Stale], total: int) -> str:
    """Return one short line about ``stale`` (of ``total`` satellites): how many, how
    stale, the worst."""
    worst = stale[0]
    least = min(s.days for s in stale)
    span = f"{worst.days:.0f}" if round(least) == round(worst.days) else \
        f"{least:.0f}-{worst.days:.0f}"
    return (f"{len(stale)} of {total} element sets are stale: epochs {span} days from the "
            f"window, the worst {worst.satellite.name} ({worst.satellite.norad_id}) "
            f"{worst.days:.1f} days (position errors of {worst.days:.0f} km or more)")


def _stale_warnings(satellites: Sequence[Satellite], start_utc: datetime | None,
                    end_utc: datetime | None) -> list[str]:
    if start_utc is None and end_utc is None:
        return []
    stale = stale_elements(satellites, start_utc or end_utc, end_utc or start_utc)
    if len(stale) == 1:
        return [str(stale[0])]
    return [stale_summary(stale, len(satellites))] if stale else []


# --------------------------------------------------------------------- writing

def tle_exponent(value: float, what: str, name: str = "") -> str:
    """Format ``value`` as the TLE's assumed-decimal ' NNNNN-N' (0.NNNNN x 10^-N)."""
    if value == 0.0:
        return " 00000+0"
    mantissa, exponent = f"{value:.4e}".split("e")
    digits = mantissa.lstrip("-").replace(".", "")
    power = int(exponent) + 1
    if not -9 <= power <= 9:
        raise InputError(f"{name + ': ' if name else ''}{what} {value!r} does not fit "
                         "the TLE's one-digit exponent")
    return f"{'-' if value < 0 else ' '}{digits}{power:+d}"


def _fixed(value: float, width: int, decimals: int, what: str, name: str) -> str:
    text = f"{value:{width}.{decimals}f}"
    if len(text) > width:
        raise InputError(f"{name}: {what} {value!r} does not fit in {width} TLE columns")
    return text


def _with_checksum(line: str) -> str:
    return line + str(tle_checksum(line))


def format_tle(sat: Satellite) -> tuple[str, str, str]:
    """Return (name line, line 1, line 2) for ``sat``.

    Catalogue numbers above 99999 are written in Alpha-5; above 339999 they
    cannot be written as TLE at all, and you get an InputError saying so.
    """
    s, name = sat.satrec, sat.name
    if not 0 <= sat.norad_id <= TLE_MAX_NORAD_ID:
        raise InputError(f"{name}: catalogue number {sat.norad_id} cannot be written as a TLE "
                         f"(Alpha-5 stops at {TLE_MAX_NORAD_ID}, 'Z9999'); write OMM instead")
    catalogue = to_alpha5(sat.norad_id)
    # round the epoch to the TLE's 1e-8 day first, so a carry lands in the right day/year
    us = _microseconds_since_unix(sat.epoch_utc)
    units = (us + _US_PER_TLE_EPOCH_UNIT // 2) // _US_PER_TLE_EPOCH_UNIT
    epoch = _UNIX_EPOCH_UTC + timedelta(microseconds=units * _US_PER_TLE_EPOCH_UNIT)
    if not 1957 <= epoch.year <= 2056:
        raise InputError(f"{name}: epoch {format_utc(epoch)} is outside 1957-2056, "
                         "the years a TLE's two-digit year can say")
    day_us = _microseconds_since_unix(epoch) - _microseconds_since_unix(
        datetime(epoch.year, 1, 1, tzinfo=timezone.utc))
    day, fraction_us = divmod(day_us, _US_PER_DAY)
    epoch_field = f"{epoch.year % 100:02d}{day + 1:03d}.{fraction_us // _US_PER_TLE_EPOCH_UNIT:08d}"
    ndot = s.ndot * (XPDOTP * 1440.0)
    ndot_text = f"{abs(ndot):.8f}"
    if not ndot_text.startswith("0."):
        raise InputError(f"{name}: first derivative of mean motion {ndot!r} rev/day^2 "
                         "does not fit a TLE (it must be below 1)")
    ndot_field = ("-" if ndot < 0 and float(ndot_text) else " ") + ndot_text[1:]
    intl = (s.intldesg or "").strip()
    if len(intl) > 8:
        raise InputError(f"{name}: international designator {intl!r} is longer than 8 columns")
    nddot = tle_exponent(s.nddot * (XPDOTP * 1440.0 * 1440.0),
                         "second derivative of mean motion", name)
    line1 = _with_checksum(
        f"1 {catalogue}{(s.classification or 'U')[:1]} {intl:<8} {epoch_field} {ndot_field} "
        f"{nddot} "
        f"{tle_exponent(s.bstar, 'BSTAR', name)} {int(s.ephtype or 0) % 10} "
        f"{int(s.elnum) % 10000:4d}")
    ecc = f"{s.ecco:.7f}"
    if not ecc.startswith("0."):
        raise InputError(f"{name}: eccentricity {s.ecco!r} does not fit a TLE (it must be < 1)")
    angles = [_fixed(value / DEG2RAD, 8, 4, what, name) for value, what in (
        (s.inclo, "inclination"), (s.nodeo, "right ascension of the ascending node"),
        (s.argpo, "argument of perigee"), (s.mo, "mean anomaly"))]
    line2 = _with_checksum(
        f"2 {catalogue} {angles[0]} {angles[1]} {ecc[2:]} {angles[2]} {angles[3]} "
        f"{_fixed(s.no_kozai * XPDOTP, 11, 8, 'mean motion', name)}"
        f"{int(s.revnum) % 100000:5d}")
    return name, line1, line2


def write_tle(path: str | os.PathLike, satellites: Iterable[Satellite], *,
              header_comments: Sequence[str] = ()) -> None:
    """Write ``satellites`` as 3LE (name line, line 1, line 2) to ``path``, atomically.

    Each of ``header_comments`` becomes a ``# `` line at the top of the file.
    """
    out = [f"# {comment}".rstrip() for comment in header_comments]
    for sat in satellites:
        out.extend(format_tle(sat))
    write_text(path, "\n".join(out) + "\n")


def _shortest(value: float, to_internal: Callable[[float], float], internal: float) -> float:
    """Return the shortest decimal of ``value`` that reads back to exactly ``internal``.

    So a TLE's 15.49560066 rev/day is written as that, not 15.495600660000002,
    and reading the OMM back gives bit-for-bit the same Satrec.
    """
    for digits in range(1, 18):
        candidate = float(f"{value:.{digits}g}")
        if to_internal(candidate) == internal:
            return candidate
    return value


def _omm_record(sat: Satellite) -> dict:
    s = sat.satrec
    intl = (s.intldesg or "").strip()
    if re.fullmatch(r"\d{5}[A-Z]*", intl):
        year = int(intl[:2])
        intl = f"{year + (1900 if year >= 57 else 2000)}-{intl[2:]}"

    def degrees(radians: float) -> float:
        return _shortest(radians / DEG2RAD, lambda deg: deg * DEG2RAD, radians)

    ndot_units, nddot_units = XPDOTP * 1440.0, XPDOTP * 1440.0 * 1440.0
    return {
        "OBJECT_NAME": sat.name,
        "OBJECT_ID": intl,
        "EPOCH": sat.epoch_utc.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "MEAN_MOTION": _shortest(s.no_kozai * XPDOTP, lambda n: n / XPDOTP, s.no_kozai),
        "ECCENTRICITY": _shortest(s.ecco, float, s.ecco),
        "INCLINATION": degrees(s.inclo),
        "RA_OF_ASC_NODE": degrees(s.nodeo),
        "ARG_OF_PERICENTER": degrees(s.argpo),
        "MEAN_ANOMALY": degrees(s.mo),
        "EPHEMERIS_TYPE": int(s.ephtype or 0),
        "CLASSIFICATION_TYPE": s.classification or "U",
        "NORAD_CAT_ID": sat.norad_id,
        "ELEMENT_SET_NO": int(s.elnum),
        "REV_AT_EPOCH": int(s.revnum),
        "BSTAR": _shortest(s.bstar, float, s.bstar),
        "MEAN_MOTION_DOT": _shortest(s.ndot * ndot_units, lambda v: v / ndot_units, s.ndot),
        "MEAN_MOTION_DDOT": _shortest(s.nddot * nddot_units, lambda v: v / nddot_units,
                                      s.nddot),
    }


def write_omm_json(path: str | os.PathLike, satellites: Iterable[Satellite]) -> None:
    """Write ``satellites`` as OMM JSON with CelesTrak's field names, atomically."""
    records = [_omm_record(sat) for sat in satellites]
    write_text(path, json.dumps(records, indent=1) + "\n")
