"""+Grid inter-satellite links: each satellite links to the two satellites next to it in
its own plane and to one in each neighbouring plane.

Planes and slots are inferred from the orbits themselves (right ascension of the
ascending node and argument of latitude at the run's start), so Walker constellations
and real shells are treated alike. In a Walker delta shell the planes wrap around (the
last plane links to the first); a star pattern has a seam, which is left open.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sigma_sn.propagate import Epoch, propagate_teme


@dataclass(frozen=True)
class Grid:
    """The +Grid of a shell: plane and slot per satellite, and the links as edges.

    ``plane[i]`` and ``slot[i]`` count from 0, planes in order of RAAN and slots in
    order of argument of latitude. Edge ``e`` joins satellites ``a[e]`` and ``b[e]``;
    ``cross[e]`` says it runs between planes (the links a polar cut-off switches off).
    """

    plane: np.ndarray
    slot: np.ndarray
    a: np.ndarray
    b: np.ndarray
    cross: np.ndarray

    @property
    def n_planes(self) -> int:
        return int(self.plane.max()) + 1 if len(self.plane) else 0


def orbit_angles_deg(satrecs, epoch: Epoch) -> tuple[np.ndarray, np.ndarray]:
    """Return RAAN and argument of latitude (deg, [0, 360)) of each satellite at the
    start, from its TEME state (so element sets of different epochs compare)."""
    _, r, v = propagate_teme(satrecs, epoch, [0.0])
    r, v = r[:, 0], v[:, 0]
    h = np.cross(r, v)
    raan = np.arctan2(h[:, 0], -h[:, 1])
    # the node vector n = (cos Ω, sin Ω, 0); u is the angle from it to r in the plane
    n = np.stack([np.cos(raan), np.sin(raan), np.zeros_like(raan)], axis=1)
    h_unit = h / np.linalg.norm(h, axis=1, keepdims=True)
    u = np.arctan2(np.einsum("ij,ij->i", np.cross(n, r), h_unit), np.einsum("ij,ij->i", n, r))
    return np.degrees(raan) % 360.0, np.degrees(u) % 360.0


def _circular_gap_split(angles_deg, tol_deg):
    """Cluster angles on the circle: a gap wider than ``tol_deg`` starts a new cluster.
    Returns cluster labels ordered by angle, starting after the widest gap."""
    order = np.argsort(angles_deg, kind="stable")
    s = angles_deg[order]
    gaps = np.diff(np.concatenate([s, [s[0] + 360.0]]))
    start = (int(np.argmax(gaps)) + 1) % len(s)
    s_rot = np.roll(s, -start)
    step = np.diff(s_rot) % 360.0
    labels_rot = np.concatenate([[0], np.cumsum(step > tol_deg)])
    labels = np.empty(len(s), np.int64)
    labels[np.roll(order, -start)] = labels_rot
    return labels


def plus_grid(raan_deg, u_deg, *, plane_tol_deg: float = 2.0) -> Grid:
    """Return the +Grid of a shell from each satellite's RAAN and argument of latitude.

    Satellites whose RAANs lie within ``plane_tol_deg`` of each other (chained) share a
    plane. In-plane links join neighbours in argument of latitude (a ring); each
    satellite links to one satellite of the next plane, close in argument of latitude
    (:func:`_partners`).
    The last plane links back to the first when the planes span the whole circle (no
    gap between them wider than 1.5 times the usual spacing).
    """
    raan_deg = np.asarray(raan_deg, float)
    u_deg = np.asarray(u_deg, float)
    n = len(raan_deg)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return Grid(empty, empty, empty, empty, np.zeros(0, bool))
    plane = _circular_gap_split(raan_deg, plane_tol_deg)
    n_planes = int(plane.max()) + 1
    slot = np.empty(n, np.int64)
    members = []
    for p in range(n_planes):
        idx = np.flatnonzero(plane == p)
        idx = idx[np.argsort(u_deg[idx], kind="stable")]
        slot[idx] = np.arange(len(idx))
        members.append(idx)
    a, b, cross = [], [], []
    for idx in members:            # in-plane rings (one link for two satellites)
        if len(idx) >= 2:
            nxt = np.roll(idx, -1)
            pairs = np.stack([idx, nxt], 1)[: len(idx) if len(idx) > 2 else 1]
            a.append(pairs[:, 0])
            b.append(pairs[:, 1])
            cross.append(np.zeros(len(pairs), bool))
    mean_raan = np.array([np.degrees(np.angle(np.exp(1j * np.radians(raan_deg[m])).mean()))
                          % 360.0 for m in members])
    spacing = np.diff(np.concatenate([mean_raan, [mean_raan[0] + 360.0]])) % 360.0
    wraps = n_planes > 2 and spacing[-1] <= 1.5 * np.median(spacing[:-1])
    drift = 0.0
    for p in range(n_planes - 1 + int(wraps)):
        src, dst = members[p], members[(p + 1) % n_planes]
        partner, offset = _partners(u_deg[src], u_deg[dst], drift)
        drift += offset
        a.append(src)
        b.append(dst[partner])
        cross.append(np.ones(len(src), bool))
    a, b, cross = np.concatenate(a), np.concatenate(b), np.concatenate(cross)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    _, keep = np.unique(lo * n + hi, return_index=True)   # one edge per pair
    keep.sort()
    return Grid(plane, slot, lo[keep], hi[keep], cross[keep])


def _partners(u_src, u_dst, drift_deg: float = 0.0):
    """Index into ``u_dst`` of each source satellite's partner in the next plane (both
    sorted by argument of latitude), and the mean offset (deg) of the pairing.

    Planes of equal size pair one to one: the rotation of slots with the least total
    offset, so every satellite gets exactly one partner each side. On a tie (Hypatia's
    shells shift odd planes by half a slot, so both neighbours are as near) the one that
    brings the offset summed over the planes so far (``drift_deg``) back towards zero:
    the links zigzag (same slot index, as Hypatia's +Grid) instead of leaning one way
    around the globe. Planes of unequal size: each satellite takes the nearest.
    """
    diff = (u_dst[None, :] - u_src[:, None] + 180.0) % 360.0 - 180.0
    n = len(u_src)
    if n != len(u_dst):
        pick = np.argmin(np.abs(diff), axis=1)
        return pick, float(diff[np.arange(n), pick].mean())
    rot = (np.arange(n)[:, None] + np.arange(n)[None, :]) % n     # [i, r] -> (i + r) % n
    shifted = np.take_along_axis(diff, rot, axis=1)
    cost = np.round(np.abs(shifted).sum(axis=0), 6)
    best = np.flatnonzero(cost == cost.min())
    mean = shifted[:, best].mean(axis=0)
    k = np.lexsort((-mean, np.round(np.abs(drift_deg + mean), 6)))[0]   # then ahead first
    return (np.arange(n) + best[k]) % n, float(mean[k])


def grid_of(satellites, epoch: Epoch, *, plane_tol_deg: float = 2.0) -> Grid:
    """Return the +Grid of ``satellites`` (one shell) at the run's start."""
    raan, u = orbit_angles_deg([s.satrec for s in satellites], epoch)
    return plus_grid(raan, u, plane_tol_deg=plane_tol_deg)
