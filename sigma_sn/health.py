"""What is wrong with a run's element sets, said once: stale epochs and satellites SGP4
could not propagate, each as one short line; the full lists on request (``--verbose``)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Sequence


def element_notes(satellites: Sequence, start_utc: datetime | str, duration_s: float,
                  skipped: Sequence = (), *, verbose: bool = False) -> list[str]:
    """Return the lines a command prints about ``satellites`` over the window of
    ``duration_s`` seconds from ``start_utc`` (UTC): one for stale epochs, one for ``skipped`` (the
    :class:`~sigma_sn.visibility.Skipped` of the windows), each followed, when
    ``verbose``, by one indented line per satellite. Nothing when all is well."""
    from sigma_sn.elements import stale_elements, stale_summary
    from sigma_sn.propagate import as_utc

    start = as_utc(start_utc)
    lines = []
    stale = stale_elements(satellites, start, start + timedelta(seconds=duration_s))
    if stale:
        lines.append(stale_summary(stale, len(satellites)))
        if verbose:
            lines += [f"  {s}" for s in stale]
    if skipped:
        reasons = Counter(_short(s.reason) for s in skipped)
        lines.append(f"{len(skipped)} of {len(satellites)} satellites fail SGP4 ("
                     + ", ".join(f"{n} {r}" for r, n in reasons.most_common())
                     + ") and are left out where they fail")
        if verbose:
            lines += [f"  {s}" for s in skipped]
    if lines and not verbose:
        lines[-1] += "; --verbose lists them"
    return lines


def _short(reason: str) -> str:
    """sgp4's error text in a word or two."""
    for words, short in (("decayed", "decayed"), ("eccentricity", "eccentricity out of range")):
        if words in reason:
            return short
    return reason


def print_notes(lines: Sequence[str], stream=None) -> None:
    """Print :func:`element_notes` on ``stream`` (stderr): summaries as warnings, the
    verbose lists under them."""
    import sys

    for line in lines:
        print(line if line.startswith(" ") else f"warning: {line}",
              file=stream or sys.stderr)


__all__ = ["element_notes", "print_notes"]
