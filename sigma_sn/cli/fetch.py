"""``sigma-sn fetch celestrak GROUP``: download a CelesTrak group's element sets into the
local cache (at most once per two hours) and print where they are."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser(
        "fetch", help="live element sets from CelesTrak, cached",
        description="Download the element sets of a CelesTrak group into a local cache and "
                    "print the file's path. A copy younger than two hours is used as it is "
                    "(CelesTrak asks clients not to poll more often); an older one is "
                    "revalidated with If-Modified-Since. When CelesTrak cannot be reached "
                    "the cached copy is used, with a warning. Anywhere an element file is "
                    "taken, celestrak:GROUP does the same (OMM JSON).")
    sources = p.add_subparsers(dest="source", metavar="SOURCE", required=True)
    c = sources.add_parser("celestrak", help="CelesTrak GP data (celestrak.org)")
    c.add_argument("group", metavar="GROUP", help="CelesTrak group, e.g. starlink, gps-ops")
    c.add_argument("--format", choices=("omm", "tle"), default="omm",
                   help="OMM JSON (default; carries 6-digit catalogue numbers) or 3LE text")
    c.add_argument("--cache-dir", metavar="D",
                   help="cache folder (default $SIGMA_SN_CACHE_DIR, else ~/.cache/sigma-sn)")
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from sigma_sn.celestrak import fetch

    got = fetch(args.group, fmt=args.format, cache_dir=args.cache_dir)
    if got.status != "stale":  # a stale copy's warning has said why already
        print(f"{args.group}: {got.status} ({got.note})", file=sys.stderr)
    print(got.path)
    return 0
