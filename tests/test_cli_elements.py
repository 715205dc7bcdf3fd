"""``sigma-sn constellation walker`` as a user meets it."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from sigma_sn.cli import main
from sigma_sn.elements import load_elements, read_omm, read_tle

REPO = Path(__file__).resolve().parents[1]
IRIDIUM_ARGS = ["constellation", "walker", "--total", "66", "--planes", "6", "--phasing", "2",
                "--altitude-km", "780", "--inclination-deg", "86.4",
                "--epoch", "2026-08-22T00:00:00Z", "--pattern", "star", "--name", "IRIDIUM-LIKE"]
SHIPPED = ["iridium_like.tle", "starlink_shell1.tle", "gpm_like.tle"]


def test_walker_writes_a_tle_whose_header_says_how_to_regenerate_it(tmp_path, capsys):
    out = tmp_path / "iridium.tle"
    assert main(IRIDIUM_ARGS + ["--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote 66 satellites to {out}\n"
    lines = out.read_text().splitlines()
    assert lines[0].startswith("# IRIDIUM-LIKE: Walker star 66/6/2, 780 km, 86.4 deg")
    assert "sigma-sn 0.1.0" in lines[1]
    assert lines[2] == "# " + shlex.join(["sigma-sn"] + IRIDIUM_ARGS + [
        "--first-norad-id", "90001", "--format", "tle", "--out", str(out)])
    sats = read_tle(out)
    assert len(sats) == 66 and sats[0].norad_id == 90001


def test_walker_output_is_byte_identical_across_runs(tmp_path):
    for name in ("a.tle", "b.tle"):
        main(IRIDIUM_ARGS + ["--out", str(tmp_path / "same.tle")])
        (tmp_path / "same.tle").rename(tmp_path / name)
    assert (tmp_path / "a.tle").read_bytes() == (tmp_path / "b.tle").read_bytes()


def test_omm_json_output_holds_the_same_satellites(tmp_path):
    main(IRIDIUM_ARGS + ["--out", str(tmp_path / "w.tle")])
    main(IRIDIUM_ARGS + ["--format", "omm-json", "--out", str(tmp_path / "w.json")])
    from_tle, from_omm = read_tle(tmp_path / "w.tle"), read_omm(tmp_path / "w.json")
    assert [s.name for s in from_omm] == [s.name for s in from_tle]
    assert [s.satrec.sgp4(s.satrec.jdsatepoch, 0.3) for s in from_omm] == [
        s.satrec.sgp4(s.satrec.jdsatepoch, 0.3) for s in from_tle]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_sets_regenerate_byte_identically_from_their_header(tmp_path, monkeypatch,
                                                                   capsys, name):
    shipped = REPO / "tle_data" / name
    command = shlex.split(shipped.read_text().splitlines()[2].removeprefix("# "))
    assert command[:3] == ["sigma-sn", "constellation", "walker"]
    monkeypatch.chdir(tmp_path)  # the header's --out is relative to the repository root
    assert main(command[1:]) == 0
    assert (tmp_path / "tle_data" / name).read_bytes() == shipped.read_bytes()


def test_shipped_sets_do_not_share_catalogue_numbers_with_each_other_or_the_real_ones():
    catalog = load_elements([REPO / "tle_data" / name for name in SHIPPED])
    ids = [s.norad_id for s in catalog.satellites]
    assert len(ids) == len(set(ids)) == 66 + 1584 + 1
    assert catalog.warnings == ()
    assert min(ids) > 69999 and max(ids) < 100000  # real TLEs stop at 69999, OMM starts at 100000


def test_bad_walker_arguments_exit_2_with_the_message(tmp_path, capsys):
    args = IRIDIUM_ARGS.copy()
    args[args.index("--planes") + 1] = "7"
    assert main(args + ["--out", str(tmp_path / "x.tle")]) == 2
    err = capsys.readouterr().err
    assert err == ("sigma-sn constellation: error: total=66 satellites cannot be split into "
                   "planes=7 equal planes; choose a total divisible by the number of planes\n")
    assert not (tmp_path / "x.tle").exists()


def test_epoch_without_time_zone_exits_2(tmp_path, capsys):
    args = IRIDIUM_ARGS.copy()
    args[args.index("--epoch") + 1] = "2026-08-22T00:00:00"
    assert main(args + ["--out", str(tmp_path / "x.tle")]) == 2
    assert "--epoch '2026-08-22T00:00:00' has no time zone; add a Z" in capsys.readouterr().err


def test_bad_walker_arguments_via_python_m_exit_2_without_traceback(tmp_path):
    args = IRIDIUM_ARGS.copy()
    args[args.index("--phasing") + 1] = "6"
    result = subprocess.run([sys.executable, "-m", "sigma_sn", *args, "--out",
                             str(tmp_path / "x.tle")], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert result.returncode == 2
    assert "error: phasing=6 must be between 0 and planes-1=5" in result.stderr
    assert "Traceback" not in result.stderr
