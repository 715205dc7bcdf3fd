"""What serving from the highest satellite costs on the path (issue 21): per routing step
of one terminal, the highest-elevation satellite in view and the one whose end-to-end path
is shortest, their RTTs, and the pass direction of each (northbound, i.e. ascending, or
southbound).

On a +Grid mesh a route follows the grid: in-plane links along the orbit, cross-plane
links to the same slot of the next plane. Away from the turning latitudes, neighbouring
planes' satellites that are linked move the same way, so the northbound and the southbound
satellites form two meshes that meet only near ±inclination. A route from a satellite of
the "wrong" direction must run to a turning point and back, or down at a farther gateway:
this is the penalty measured here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sigma_sn.geometry import topocentric
from sigma_sn.propagate import propagate_pairs
from sigma_sn.sites import enu_basis, itrs_km


@dataclass(frozen=True)
class StepChoices:
    """One terminal's choice at each routing step ``t_s`` with a satellite in view.

    ``highest`` / ``best``: the window (index into the path stage's windows) of the
    highest-elevation satellite and of the one with the least path delay (-1 when no
    satellite in view reaches a gateway); ``*_rtt_ms`` their path RTTs (NaN when no path);
    ``*_northbound`` whether that satellite moves north (on its ascending half)."""

    t_s: np.ndarray
    highest: np.ndarray
    best: np.ndarray
    highest_rtt_ms: np.ndarray
    best_rtt_ms: np.ndarray
    highest_elev_deg: np.ndarray
    highest_northbound: np.ndarray
    best_northbound: np.ndarray

    @property
    def penalty_ms(self) -> np.ndarray:
        """RTT over the highest satellite minus the best one's; NaN where either has no
        path."""
        return self.highest_rtt_ms - self.best_rtt_ms


def sample_geometry(paths, satellites, terminal) -> tuple[np.ndarray, np.ndarray]:
    """Elevation (deg) and northbound flag of the satellite of every path-stage sample
    (aligned with ``paths.delay_ms``) seen from ``terminal`` (the windows' one site).
    ``satellites`` are the ones the windows index (``paths.windows.sat``)."""
    w = paths.windows
    n = paths.offset[1:] - paths.offset[:-1]
    window = np.repeat(np.arange(len(w)), n)
    step = paths.first_step[window] + (np.arange(len(window)) - paths.offset[window])
    t_s = step * paths.step_s
    epoch = w.epoch
    pos, vel, _ = propagate_pairs([s.satrec for s in satellites], w.sat[window], epoch, t_s,
                                  epoch.gmst_rad)
    look = topocentric(pos, vel, itrs_km([terminal])[0], enu_basis([terminal])[0])
    # ITRS turns about z, so its z velocity is the inertial one: > 0 moving north
    return look.elev_deg, vel[:, 2] > 0.0


def step_choices(paths, satellites, terminal, site: int = 0) -> StepChoices:
    """The highest and the least-delay satellite of terminal ``site`` at each step."""
    elev, north = sample_geometry(paths, satellites, terminal)
    n = paths.offset[1:] - paths.offset[:-1]
    window = np.repeat(np.arange(len(paths.windows)), n)
    step = paths.first_step[window] + (np.arange(len(window)) - paths.offset[window])
    mine = paths.windows.site[window] == site
    idx = np.flatnonzero(mine)
    steps = np.unique(step[idx])
    k = np.searchsorted(steps, step[idx])
    rtt = 2.0 * paths.delay_ms.astype(np.float64)
    # highest: the largest elevation per step (ties to the lower sample index)
    order = idx[np.lexsort((idx, -elev[idx], k))]
    first = np.searchsorted(step[order], steps)
    hi = order[first]
    # best: the least finite RTT per step
    key = np.where(np.isfinite(rtt[idx]), rtt[idx], np.inf)
    order = idx[np.lexsort((idx, key, k))]
    be = order[np.searchsorted(step[order], steps)]
    reach = np.isfinite(rtt[be])
    return StepChoices(
        t_s=steps * paths.step_s, highest=window[hi], best=np.where(reach, window[be], -1),
        highest_rtt_ms=rtt[hi], best_rtt_ms=np.where(reach, rtt[be], np.nan),
        highest_elev_deg=elev[hi], highest_northbound=north[hi], best_northbound=north[be])


def direction_table(c: StepChoices) -> list[dict]:
    """Per pass direction of the highest satellite (and whether the best one moves the
    same way): the share of steps and the RTT penalty's median and mean there."""
    ok = np.isfinite(c.penalty_ms)
    rows = []
    for label, sel in (
            ("highest northbound", c.highest_northbound),
            ("highest southbound", ~c.highest_northbound),
            ("best moves the same way", c.highest_northbound == c.best_northbound),
            ("best moves the other way", c.highest_northbound != c.best_northbound),
            ("all", np.ones(len(ok), bool))):
        p = c.penalty_ms[sel & ok]
        rows.append({"case": label, "share": float(sel.mean()) if len(sel) else 0.0,
                     "median_ms": float(np.median(p)) if p.size else float("nan"),
                     "mean_ms": float(p.mean()) if p.size else float("nan"),
                     "over_20ms": float((p > 20.0).mean()) if p.size else float("nan")})
    return rows


__all__ = ["StepChoices", "direction_table", "sample_geometry", "step_choices"]
