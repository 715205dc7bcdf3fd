"""Reading, validating and writing element sets (TLE and OMM)."""

from __future__ import annotations

import dataclasses
import importlib.resources
import io
import json
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from sgp4 import omm as sgp4_omm
from sgp4.api import Satrec

from sigma_sn.elements import (LINE1_TEMPLATE, LINE2_TEMPLATE, OMM_FIELDS, ElementsWarning,
                               InputError, format_tle, load_elements, read_omm, read_tle,
                               read_tle_report, tle_checksum, write_omm_json, write_tle)

DATA = Path(__file__).resolve().parent / "data" / "elements"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SGP4_VER = importlib.resources.files("sgp4") / "SGP4-VER.TLE"

ONE_MM_KM = 1e-6
#: days after each epoch at which positions are compared
COMPARE_AT_DAYS = np.array([-0.5, 0.0, 0.25, 1.0, 3.0])

#: satellite counts per file, from ../shared/data/README.md
README_COUNTS = {
    "starlink_2026-08-22.tle": 10744, "oneweb_2026-08-22.tle": 651,
    "stations_2026-08-22.tle": 21, "iridium_next_2026-08-22.tle": 80,
    "orbcomm_2026-08-22.tle": 14, "gpm_core_2026-08-22.tle": 1,
}
STARLINK = SHARED_DATA / "tle" / "starlink_2026-08-22.tle"
SNAPSHOT_UTC = datetime(2026, 8, 22, tzinfo=timezone.utc)

MARIO_1 = "1 55123U 98067UQ  23115.44827133  .00787702  29408-3  15680-2 0  9999"
MARIO_2 = "2 55123  51.6242 216.2930 0014649 331.8976  28.1241 15.99081912 18396"


def positions_km(satrec: Satrec) -> tuple[np.ndarray, np.ndarray]:
    """Return sgp4's (error codes, positions) at COMPARE_AT_DAYS after the epoch."""
    n = len(COMPARE_AT_DAYS)
    e, r, _ = satrec.sgp4_array(np.full(n, satrec.jdsatepoch),
                                satrec.jdsatepochF + COMPARE_AT_DAYS)
    return e, r


def assert_same_positions(sats_a, sats_b, tolerance_km: float = 0.0):
    assert [s.norad_id for s in sats_a] == [s.norad_id for s in sats_b]
    for a, b in zip(sats_a, sats_b):
        ea, ra = positions_km(a.satrec)
        eb, rb = positions_km(b.satrec)
        assert list(ea) == list(eb), a.name
        good = ea == 0
        assert np.max(np.abs(ra[good] - rb[good]), initial=0.0) <= tolerance_km, a.name


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def with_checksum(line: str) -> str:
    return line[:68] + str(tle_checksum(line))


# ------------------------------------------------------------------ reading TLE

def test_3le_with_comments_and_blank_lines_reads_every_record_in_order():
    sats = read_tle(DATA / "two_records.tle")
    assert [s.name for s in sats] == ["VANGUARD 1", "MARIO"]  # CelesTrak's padding stripped
    assert [s.norad_id for s in sats] == [5, 55123]
    assert [s.source.rsplit(":", 1)[1] for s in sats] == ["3", "8"]
    assert sats[1].epoch_utc == datetime(2023, 4, 25, 10, 45, 30, 642912, tzinfo=timezone.utc)
    assert_same_positions(sats[1:], [dataclasses.replace(sats[1], satrec=Satrec.twoline2rv(
        MARIO_1, MARIO_2))])


def test_2le_with_crlf_reads_like_3le(tmp_path):
    lines = (DATA / "two_records.tle").read_text().splitlines()
    elements_only = [line for line in lines if line[:2] in ("1 ", "2 ")]
    path = write(tmp_path, "two.2le", "\r\n".join(elements_only) + "\r\n")
    sats = read_tle(path)
    assert [s.name for s in sats] == ["NORAD 5", "NORAD 55123"]
    assert_same_positions(sats, read_tle(DATA / "two_records.tle"))


def test_space_track_name_lines_lose_their_zero_marker(tmp_path):
    path = write(tmp_path, "st.3le", f"0 MARIO\n{MARIO_1}\n{MARIO_2}\n")
    assert read_tle(path)[0].name == "MARIO"


def test_alpha5_catalogue_number_decodes_and_writes_back(tmp_path):
    sats = read_tle(DATA / "alpha5.2le")
    assert sats[0].norad_id == 100123
    assert format_tle(sats[0])[1:] == tuple((DATA / "alpha5.2le").read_text().splitlines()[1:])


@pytest.mark.parametrize("name", sorted(README_COUNTS))
def test_shared_tle_files_load_with_the_readme_counts(name):
    assert SHARED_DATA.is_dir(), f"shared data missing: {SHARED_DATA} (see DESIGN.md)"
    sats = read_tle(SHARED_DATA / "tle" / name)
    assert len(sats) == README_COUNTS[name]
    assert len({s.norad_id for s in sats}) == len(sats)


def test_starlink_loads_every_satellite():
    # how fast it loads is benchmarks/ business, not a unit test's (a timed assert fails
    # on a loaded machine and proves nothing on a quiet one)
    catalog = load_elements(STARLINK)
    assert len(catalog.satellites) == 10744
    assert catalog.satellites[0].name == "STARLINK-1008"  # README: 1007 left the group


@pytest.mark.parametrize("name", sorted(README_COUNTS))
def test_shared_tle_files_write_back_byte_identical(tmp_path, name):
    source = SHARED_DATA / "tle" / name
    out = tmp_path / name
    write_tle(out, read_tle(source))
    assert out.read_bytes() == source.read_bytes()


def test_sgp4_verification_file_reports_exactly_the_three_bad_checksums():
    sats, errors = read_tle_report(SGP4_VER)
    # cases 33333-33335 carry deliberately wrong checksums (sgp4's own tests say so)
    assert [(e.line, e.reason.split(" but ")[0]) for e in errors] == [
        (100, "TLE line gives its checksum as 4"), (103, "TLE line gives its checksum as 9"),
        (106, "TLE line gives its checksum as 0")]
    assert all("in fact tallies to" in str(e) for e in errors)
    assert len(sats) == 30
    assert not {33333, 33334, 33335} & {s.norad_id for s in sats}
    # the rest propagate exactly as sgp4's own parser makes them (columns 70+ cut off)
    lines = SGP4_VER.read_text().splitlines()
    expected = []
    for i, line in enumerate(lines):
        if line.startswith("1 ") and not line.startswith(("1 33333", "1 33334", "1 33335")):
            satrec = Satrec.twoline2rv(line[:69], lines[i + 1][:69])
            expected.append(dataclasses.replace(sats[0], norad_id=satrec.satnum, satrec=satrec))
    assert_same_positions(sats, expected, ONE_MM_KM)


def test_strict_read_stops_at_the_first_bad_checksum():
    with pytest.raises(InputError) as info:
        read_tle(SGP4_VER)
    assert info.value.line == 100


def test_lenient_read_skips_bad_records_and_warns(tmp_path):
    bad_1 = MARIO_1[:68] + str((int(MARIO_1[68]) + 1) % 10)
    path = write(tmp_path, "x.tle", f"BAD\n{bad_1}\n{MARIO_2}\nGOOD\n{MARIO_1}\n{MARIO_2}\n")
    with pytest.warns(ElementsWarning, match="checksum"):
        sats = read_tle(path, strict=False)
    assert [s.name for s in sats] == ["GOOD"]


# One case per kind of bad input: what the file says, the message, the line, the
# template line python-sgp4 would show (None when no element line is involved).
BAD_TLE_CASES = {
    "wrong length": (f"ISS\n{MARIO_1[:40]}{MARIO_1[41:]}\n{MARIO_2}\n",
                     "TLE line 1 is 68 characters long; it must be exactly 69", 2, LINE1_TEMPLATE),
    "bad checksum": (f"ISS\n{MARIO_1}\n{MARIO_2[:68]}3\n",
                     "TLE line gives its checksum as 3 but in fact tallies to 6", 3,
                     LINE2_TEMPLATE),
    "catalogue numbers differ": (
        f"ISS\n{MARIO_1}\n{with_checksum(MARIO_2.replace('55123', '55124'))}\n",
        "line 1 (line 2) says '55123', line 2 (line 3) says '55124'", 3, None),
    "missing line 2 before a name": (f"ISS\n{MARIO_1}\nNEXT\n{MARIO_1}\n{MARIO_2}\n",
                                     "TLE line 1 (line 2) is not followed by a line 2: "
                                     "line 3 is 'NEXT'", 3, LINE2_TEMPLATE),
    "missing line 2 at the end": (f"ISS\n{MARIO_1}\n",
                                  "TLE line 1 (line 2) is not followed by a line 2: the file "
                                  "ends", 2,
                                  LINE2_TEMPLATE),
    "non-ASCII minus": (f"ISS\n{MARIO_1}\n{MARIO_2.replace(' 51.6242', '−51.6242')}\n",
                        "non-ASCII character '−' (U+2212) in column 9", 3, LINE2_TEMPLATE),
    "two name lines": (f"ISS\nISS AGAIN\n{MARIO_1}\n{MARIO_2}\n",
                       "expected TLE line 1 after the name line 'ISS', but line 2 is "
                       "'ISS AGAIN'", 2, LINE1_TEMPLATE),
    "line 2 first": (f"{MARIO_2}\n{MARIO_1}\n", "found TLE line 2 without a line 1 before it",
                     1, LINE2_TEMPLATE),
    "unparsable epoch": (f"ISS\n{with_checksum(MARIO_1.replace('23115.4', '2311X.4'))}\n"
                         f"{MARIO_2}\n",
                         "columns 19-32 should be epoch (template 'NNNNN.NNNNNNNN') but is "
                         "'2311X.44827133'", 2, LINE1_TEMPLATE),
    "misplaced blank": (f"ISS\n{MARIO_1}\n{with_checksum(MARIO_2[:16] + '_' + MARIO_2[17:])}\n",
                        "column 17 should be a blank", 3, LINE2_TEMPLATE),
    "empty file": ("# only a comment\n\n   \n", "no element sets found", None, None),
}


@pytest.mark.parametrize("case", sorted(BAD_TLE_CASES))
def test_bad_tle_input_names_file_line_and_shows_the_template(tmp_path, case):
    text, message, line, template = BAD_TLE_CASES[case]
    path = write(tmp_path, "bad.tle", text)
    with pytest.raises(InputError) as info:
        load_elements([path])
    error = info.value
    assert message in error.reason
    assert error.line == line
    assert str(error).startswith(f"{path}:{line}: " if line else f"{path}: ")
    if template:
        detail = error.detail.splitlines()
        offending = text.splitlines()[line - 1]
        # the template sits right above your line, as in python-sgp4's message
        assert detail[detail.index(template) + 1] in (offending, "(end of file)")


def test_bad_tle_crlf_line_numbers_match_the_file(tmp_path):
    text = f"# header\r\nISS\r\n{MARIO_1}\r\n{MARIO_2[:68]}0\r\n"
    with pytest.raises(InputError, match=r"bad\.tle:4: TLE line gives its checksum"):
        read_tle(write(tmp_path, "bad.tle", text))


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read the file"):
        load_elements([tmp_path / "nope.tle"])


# ------------------------------------------------------------------ reading OMM

@pytest.mark.parametrize("name", ["omm.json", "omm.csv", "omm.xml"])
def test_omm_forms_match_sgp4s_own_omm_reader(name):
    sats = read_omm(DATA / name)
    assert [(s.name, s.norad_id) for s in sats] == [("MARIO", 55123), ("SIXDIGIT-1", 100123)]
    expected = []
    for fields in sgp4_omm.parse_csv(io.StringIO((DATA / "omm.csv").read_text())):
        satrec = Satrec()
        sgp4_omm.initialize(satrec, fields)
        expected.append(dataclasses.replace(sats[0], norad_id=int(fields["NORAD_CAT_ID"]),
                                            satrec=satrec))
    assert_same_positions(sats, expected, ONE_MM_KM)


def test_omm_matches_the_same_elements_read_as_tle():
    mario_tle = read_tle(DATA / "two_records.tle")[1]
    mario_omm = read_omm(DATA / "omm.xml")[0]
    assert mario_omm.epoch_utc == mario_tle.epoch_utc
    assert_same_positions([mario_omm], [mario_tle])


def test_omm_format_is_sniffed_when_the_extension_says_nothing(tmp_path):
    path = write(tmp_path, "elements.dat", (DATA / "omm.xml").read_text())
    assert [s.norad_id for s in load_elements(path).satellites] == [55123, 100123]


def test_catalogue_number_beyond_alpha5_reads_but_cannot_be_written_as_tle(tmp_path):
    record = json.loads((DATA / "omm.json").read_text())[1]
    record["NORAD_CAT_ID"] = 400000
    path = write(tmp_path, "big.json", json.dumps([record]))
    sat = read_omm(path)[0]
    assert sat.norad_id == 400000
    with pytest.raises(InputError, match="cannot be written as a TLE .*339999"):
        write_tle(tmp_path / "big.tle", [sat])
    write_omm_json(tmp_path / "big-out.json", [sat])
    assert read_omm(tmp_path / "big-out.json")[0].norad_id == 400000


def _csv_with(field: str, value: str) -> str:
    header, mario, six = (DATA / "omm.csv").read_text().splitlines()
    names = header.split(",")
    cells = six.split(",")
    if value is None:
        del names[names.index(field)]
        mario = ",".join(c for n, c in zip(header.split(","), mario.split(",")) if n != field)
        del cells[header.split(",").index(field)]
    else:
        cells[names.index(field)] = value
    return "\n".join([",".join(names), mario, ",".join(cells)]) + "\n"


def test_omm_csv_bad_number_names_field_and_line(tmp_path):
    path = write(tmp_path, "bad.csv", _csv_with("MEAN_MOTION", "15.0x"))
    with pytest.raises(InputError) as info:
        read_omm(path)
    assert str(info.value) == (f"{path}:3: MEAN_MOTION: MEAN_MOTION should be a number "
                               "but is '15.0x'")


def test_omm_csv_missing_column_names_it(tmp_path):
    path = write(tmp_path, "bad.csv", _csv_with("BSTAR", None))
    with pytest.raises(InputError, match=r"bad\.csv:2: BSTAR: required OMM field BSTAR is missing"):
        read_omm(path)


def test_omm_json_errors_name_the_record_index(tmp_path):
    records = json.loads((DATA / "omm.json").read_text())
    del records[1]["INCLINATION"]
    path = write(tmp_path, "bad.json", json.dumps(records))
    with pytest.raises(InputError, match=r"record \[1\] .*INCLINATION: required OMM field"):
        read_omm(path)
    records[1]["INCLINATION"] = "steep"
    write(tmp_path, "bad.json", json.dumps(records))
    with pytest.raises(InputError, match=r"record \[1\] .*INCLINATION should be a number "
                                         r"but is 'steep'"):
        read_omm(path)


def test_omm_json_syntax_error_gives_the_line(tmp_path):
    path = write(tmp_path, "bad.json", '[\n{"NORAD_CAT_ID": 5,\n}]\n')
    with pytest.raises(InputError, match=r"bad\.json:3: not valid JSON"):
        read_omm(path)


def test_omm_xml_missing_field_gives_its_segment_line(tmp_path):
    text = (DATA / "omm.xml").read_text().replace("<ECCENTRICITY>.0002126</ECCENTRICITY>", "")
    path = write(tmp_path, "bad.xml", text)
    with pytest.raises(InputError, match=r"bad\.xml:5: <omm> 2 ECCENTRICITY: required"):
        read_omm(path)


def test_omm_with_another_theory_is_refused(tmp_path):
    text = (DATA / "omm.xml").read_text().replace(">SGP4<", ">SGP4-XP<", 1)
    with pytest.raises(InputError, match="MEAN_ELEMENT_THEORY is 'SGP4-XP'; SGP4 elements"):
        read_omm(write(tmp_path, "xp.xml", text))


def test_empty_omm_json_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no element sets found"):
        read_omm(write(tmp_path, "empty.json", "[]"))


# ------------------------------------------------------------------ round trips

def test_tle_to_tle_round_trip_is_exact(tmp_path):
    sats = read_tle(SHARED_DATA / "tle" / "stations_2026-08-22.tle")
    write_tle(tmp_path / "out.tle", sats)
    assert_same_positions(read_tle(tmp_path / "out.tle"), sats)


@pytest.mark.parametrize("source", ["two_records.tle", "alpha5.2le", "omm.json", "omm.xml"])
def test_omm_json_round_trip_keeps_positions_within_a_millimetre(tmp_path, source):
    sats = load_elements([DATA / source]).satellites
    write_omm_json(tmp_path / "out.json", sats)
    back = read_omm(tmp_path / "out.json")
    assert [s.epoch_utc for s in back] == [s.epoch_utc for s in sats]
    assert_same_positions(back, sats, ONE_MM_KM)


def test_omm_json_uses_celestraks_field_names_and_short_numbers(tmp_path):
    write_omm_json(tmp_path / "out.json", read_tle(DATA / "two_records.tle"))
    record = json.loads((tmp_path / "out.json").read_text())[1]
    assert tuple(record) == OMM_FIELDS
    assert record["OBJECT_ID"] == "1998-067UQ"
    assert record["EPOCH"] == "2023-04-25T10:45:30.642912"
    assert record["MEAN_MOTION"] == 15.99081912 and record["BSTAR"] == 0.001568


def test_writing_is_deterministic(tmp_path):
    sats = read_omm(DATA / "omm.json")
    for n in (1, 2):
        write_tle(tmp_path / f"{n}.tle", sats)
        write_omm_json(tmp_path / f"{n}.json", sats)
    assert (tmp_path / "1.tle").read_bytes() == (tmp_path / "2.tle").read_bytes()
    assert (tmp_path / "1.json").read_bytes() == (tmp_path / "2.json").read_bytes()


# ------------------------------------------------------------------ load_elements

def test_duplicates_keep_the_newest_epoch_and_warn_naming_both(tmp_path):
    old = write(tmp_path, "old.tle", (DATA / "two_records.tle").read_text())
    newer_1 = with_checksum(MARIO_1.replace("23115.44827133", "23116.44827133"))
    new = write(tmp_path, "new.tle", f"MARIO NEW\n{newer_1}\n{MARIO_2}\n")
    with pytest.warns(ElementsWarning) as record:
        catalog = load_elements([old, new])
    assert [s.name for s in catalog.satellites] == ["VANGUARD 1", "MARIO NEW"]
    (message,) = catalog.warnings
    assert "55123" in message and f"{old}:8" in message and f"{new}:1" in message
    assert message.endswith(f"keeping the newer from {new}:1")
    assert [str(w.message) for w in record] == [message]


def test_many_duplicates_give_one_summary_warning(tmp_path):
    path = SHARED_DATA / "tle" / "oneweb_2026-08-22.tle"
    with pytest.warns(ElementsWarning):
        catalog = load_elements([path, path])
    assert len(catalog.satellites) == 651
    (message,) = catalog.warnings
    assert message.startswith("651 catalogue numbers are given more than once")


def test_stale_epoch_warns_with_its_age_in_days():
    with pytest.warns(ElementsWarning, match="STARLINK-5885"):
        catalog = load_elements([STARLINK], window_start_utc=SNAPSHOT_UTC,
                                window_end_utc=SNAPSHOT_UTC.replace(day=23))
    (message,) = catalog.warnings  # README: only 5885 is more than two weeks old
    assert "(56352," in message and "is 22.4 days before the window starts" in message


def test_fresh_elements_give_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        catalog = load_elements([SHARED_DATA / "tle" / "iridium_next_2026-08-22.tle"],
                                window_start_utc=SNAPSHOT_UTC,
                                window_end_utc=SNAPSHOT_UTC.replace(day=24))
    assert catalog.warnings == ()


def test_many_stale_epochs_give_one_summary_warning():
    later = datetime(2026, 10, 1, tzinfo=timezone.utc)
    with pytest.warns(ElementsWarning):
        catalog = load_elements(SHARED_DATA / "tle" / "oneweb_2026-08-22.tle",
                                window_start_utc=later, window_end_utc=later)
    (message,) = catalog.warnings
    assert message.startswith("651 of 651 element sets are stale: epochs ")
    assert " days from the window, the worst ONEWEB-" in message and len(message) < 200
