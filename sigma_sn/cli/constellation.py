"""``sigma-sn constellation walker``: write a Walker constellation as TLE or OMM JSON."""

from __future__ import annotations

import argparse
import shlex


def register(subparsers) -> None:
    """Add ``constellation`` and its ``walker`` sub-command to ``subparsers``."""
    parser = subparsers.add_parser(
        "constellation", help="synthesise constellations as element sets",
        description="Synthesise constellations and write them as element sets.")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    walker = kinds.add_parser(
        "walker", help="a Walker delta or star constellation T/P/F",
        description="Write a Walker constellation: TOTAL satellites in PLANES equally "
                    "spaced circular orbits with phasing PHASING, as TLE (with a header "
                    "that records this command) or CelesTrak-style OMM JSON.")
    walker.add_argument("--total", type=int, required=True, help="number of satellites T")
    walker.add_argument("--planes", type=int, required=True, help="number of planes P")
    walker.add_argument("--phasing", type=int, required=True, help="phasing F, 0..P-1")
    walker.add_argument("--altitude-km", type=float, required=True,
                        help="altitude above the equatorial radius, km")
    walker.add_argument("--inclination-deg", type=float, required=True, help="inclination, deg")
    walker.add_argument("--epoch", required=True,
                        help="element epoch, ISO 8601 UTC, e.g. 2026-08-22T00:00:00Z")
    walker.add_argument("--pattern", choices=("delta", "star"), default="delta",
                        help="planes over 360 deg (delta) or 180 deg (star); default delta")
    walker.add_argument("--name", required=True, help="name prefix of the satellites")
    walker.add_argument("--first-norad-id", type=int, default=90001,
                        help="catalogue number of the first satellite (default 90001)")
    walker.add_argument("--eccentricity", type=float, default=0.0,
                        help="eccentricity of every orbit (default 0)")
    walker.add_argument("--format", choices=("tle", "omm-json"), default="tle",
                        help="output format (default tle)")
    walker.add_argument("--out", required=True, help="output file, written atomically")
    walker.set_defaults(func=run)


def _number(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def command_line(args: argparse.Namespace, epoch_text: str) -> str:
    """Return the canonical command that regenerates exactly this output."""
    words = ["sigma-sn", "constellation", "walker",
             "--total", str(args.total), "--planes", str(args.planes),
             "--phasing", str(args.phasing), "--altitude-km", _number(args.altitude_km),
             "--inclination-deg", _number(args.inclination_deg), "--epoch", epoch_text,
             "--pattern", args.pattern, "--name", args.name,
             "--first-norad-id", str(args.first_norad_id)]
    if args.eccentricity:
        words += ["--eccentricity", _number(args.eccentricity)]
    words += ["--format", args.format, "--out", args.out]
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from sigma_sn import __version__
    from sigma_sn.cli.outputs import prepare
    from sigma_sn.elements import format_utc, write_omm_json, write_tle
    from sigma_sn.errors import InputError
    from sigma_sn.walker import walker

    try:
        epoch = datetime.fromisoformat(args.epoch)
    except ValueError:
        raise InputError(f"--epoch {args.epoch!r} is not an ISO 8601 time "
                         "like 2026-08-22T00:00:00Z") from None
    if epoch.tzinfo is None:
        raise InputError(f"--epoch {args.epoch!r} has no time zone; add a Z for UTC")
    epoch = epoch.astimezone(timezone.utc)
    satellites = walker(args.total, args.planes, args.phasing, args.altitude_km,
                        args.inclination_deg, epoch, pattern=args.pattern,
                        name_prefix=args.name, first_norad_id=args.first_norad_id,
                        eccentricity=args.eccentricity)
    prepare(args.out, "--out")
    if args.format == "tle":
        # no wall-clock date here on purpose: the same command must give the same
        # bytes, and git already records when the file was made
        header = [
            f"{args.name}: Walker {args.pattern} {args.total}/{args.planes}/{args.phasing}, "
            f"{_number(args.altitude_km)} km, {_number(args.inclination_deg)} deg, "
            f"epoch {format_utc(epoch)}",
            f"NORAD ids {args.first_norad_id}-{args.first_norad_id + args.total - 1} "
            f"(synthetic); written by sigma-sn {__version__} with:",
            command_line(args, format_utc(epoch)),
        ]
        write_tle(args.out, satellites, header_comments=header)
    else:
        write_omm_json(args.out, satellites)
    print(f"wrote {len(satellites)} satellite{'' if len(satellites) == 1 else 's'} to {args.out}")
    return 0
