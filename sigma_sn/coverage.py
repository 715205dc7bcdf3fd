"""Coverage by latitude: how many satellites a site sees, along one meridian, over time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from sigma_sn.propagate import Epoch
from sigma_sn.sites import Site
from sigma_sn.visibility import find_windows, time_grid


@dataclass(frozen=True)
class LatitudeCoverage:
    """Satellites above the mask at sites along one meridian: ``multiplicity`` is
    ``(n_lat, n_time)`` at ``t_s`` seconds after ``epoch.start_utc``."""

    epoch: Epoch
    lat_deg: np.ndarray
    lon_deg: float
    t_s: np.ndarray
    min_elev_deg: float
    multiplicity: np.ndarray


def coverage_by_latitude(satellites, lats_deg, start: datetime | str, duration_s: float,
                         min_elev_deg: float, *, lon_deg: float = 0.0, every_s: float = 60.0,
                         workers: int | None = None) -> LatitudeCoverage:
    """Return how many of ``satellites`` are above ``min_elev_deg`` from a site at each
    latitude in ``lats_deg`` (on meridian ``lon_deg``, sea level), every ``every_s``
    seconds over ``duration_s`` from ``start``.

    The counts come from exact visibility windows (:func:`sigma_sn.visibility.find_windows`),
    not from the sampling, so a short pass between samples is missed only in the picture.
    """
    lats = np.asarray(lats_deg, float)
    sites = [Site(f"lat {lat:+.2f}", float(lat), float(lon_deg)) for lat in lats]
    windows = find_windows(satellites, sites, start, duration_s, min_elev_deg=min_elev_deg,
                           workers=workers)
    t_s = time_grid(duration_s, every_s)
    return LatitudeCoverage(windows.epoch, lats, float(lon_deg), t_s, float(min_elev_deg),
                            windows.multiplicity(t_s))
