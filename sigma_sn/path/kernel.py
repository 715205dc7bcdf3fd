"""Compiled shortest paths: one Dijkstra per time step over the inter-satellite links,
from every satellite that sees a gateway (its downlink plus fibre is where it starts).

scipy.sparse.csgraph does the same (:func:`sigma_sn.path.route.shortest_step_scipy` is
the reference a test holds this to), but costs a graph construction and ~0.5 ms of
checks per call; a day at 1 s is 86,400 calls, so the loop over steps is compiled.
"""

from __future__ import annotations

import numpy as np


def _njit(fn=None, **options):
    from numba import njit
    if fn is None:
        return lambda f: _njit(f, **options)
    try:
        return njit(cache=True, nogil=True, **options)(fn)
    except RuntimeError:   # numba cannot cache where the package has no writable locator
        return njit(nogil=True, **options)(fn)


@_njit(inline="always")   # a call per heap move would cost more than the move
def _sift_up(heap, where, dist, i):
    u = heap[i]
    d = dist[u]
    while i > 0:
        parent = (i - 1) >> 1
        p = heap[parent]
        if dist[p] <= d:
            break
        heap[i] = p
        where[p] = i
        i = parent
    heap[i] = u
    where[u] = i


@_njit(inline="always")
def _sift_down(heap, where, dist, i, size):
    u = heap[i]
    d = dist[u]
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and dist[heap[c + 1]] < dist[heap[c]]:
            c += 1
        if dist[heap[c]] >= d:
            break
        heap[i] = heap[c]
        where[heap[i]] = i
        i = c
    heap[i] = u
    where[u] = i


@_njit
def dijkstra_steps(adj_ptr, adj_nbr, adj_edge, weight_s, dist_s, hops, root, need):
    """Relax ``dist_s`` ``(n_step, n_sat)`` in place to shortest distances per step.

    ``dist_s`` holds each satellite's start (downlink plus fibre, ``inf`` where it sees
    no gateway), ``hops`` and ``root`` their link count and gateway; the edges of
    satellite ``u`` are ``adj_ptr[u]:adj_ptr[u+1]`` into ``adj_nbr`` (the other end) and
    ``adj_edge`` (the column of ``weight_s`` ``(n_step, n_edge)``, ``inf`` when down).
    A binary heap keyed on ``dist`` with decrease-key: each satellite enters it once.
    A step ends once the satellites ``need[k]`` marks are settled (the others' values are
    then only bounds).
    """
    n_step, n_sat = dist_s.shape
    heap = np.empty(n_sat, np.int64)
    where = np.empty(n_sat, np.int64)      # index in heap; -1 not yet reached, -2 settled
    for k in range(n_step):
        dist = dist_s[k]
        w = weight_s[k]
        size = 0
        wanted = 0
        for s in range(n_sat):
            wanted += need[k, s]
            where[s] = -1
            if dist[s] < np.inf:
                heap[size] = s
                where[s] = size
                size += 1
        for i in range((size >> 1) - 1, -1, -1):      # heapify the starts
            _sift_down(heap, where, dist, i, size)
        while size > 0 and wanted > 0:
            u = heap[0]
            size -= 1
            where[u] = -2
            wanted -= need[k, u]
            if size > 0:
                heap[0] = heap[size]
                where[heap[0]] = 0
                _sift_down(heap, where, dist, 0, size)
            d = dist[u]
            for e in range(adj_ptr[u], adj_ptr[u + 1]):
                v = adj_nbr[e]
                if where[v] == -2:
                    continue
                nd = d + w[adj_edge[e]]
                if nd < dist[v]:
                    dist[v] = nd
                    hops[k, v] = hops[k, u] + 1
                    root[k, v] = root[k, u]
                    if where[v] == -1:
                        where[v] = size
                        heap[size] = v
                        size += 1
                    _sift_up(heap, where, dist, where[v])


@_njit
def hermite_positions(pos_km, vel_km_s, t_grid, t_s, out):
    """Fill ``out`` ``(n_t, n_sat, 3)`` with the cubic Hermite interpolant of ``pos_km``
    and ``vel_km_s`` ``(n_grid, n_sat, 3)`` (sampled at ``t_grid``) at times ``t_s``."""
    n_sat = pos_km.shape[1]
    n_grid = len(t_grid)
    j = 0
    for k in range(len(t_s)):
        t = t_s[k]
        while j < n_grid - 2 and t_grid[j + 1] <= t:
            j += 1
        while j > 0 and t_grid[j] > t:
            j -= 1
        h = t_grid[j + 1] - t_grid[j]
        u = (t - t_grid[j]) / h
        u2 = u * u
        u3 = u2 * u
        c0 = 2 * u3 - 3 * u2 + 1
        c1 = (u3 - 2 * u2 + u) * h
        c2 = 3 * u2 - 2 * u3
        c3 = (u3 - u2) * h
        for s in range(n_sat):
            for x in range(3):
                out[k, s, x] = (c0 * pos_km[j, s, x] + c1 * vel_km_s[j, s, x]
                                + c2 * pos_km[j + 1, s, x] + c3 * vel_km_s[j + 1, s, x])


@_njit
def isl_weights(pos_km, a, b, cross, max_range_km, sin_cutoff, c_km_s, out):
    """Fill ``out`` ``(n_t, n_edge)`` with each link's delay (s) at positions ``pos_km``
    ``(n_t, n_sat, 3)``: ``inf`` beyond ``max_range_km`` (or NaN positions), and for
    cross-plane links while either end's |sin latitude| exceeds ``sin_cutoff``."""
    n_t, n_sat = pos_km.shape[0], pos_km.shape[1]
    polar = np.empty(n_sat, np.bool_)
    for k in range(n_t):
        for s in range(n_sat):
            x, y, z = pos_km[k, s, 0], pos_km[k, s, 1], pos_km[k, s, 2]
            polar[s] = not (abs(z) <= sin_cutoff * np.sqrt(x * x + y * y + z * z))
        for e in range(len(a)):
            i, j = a[e], b[e]
            dx = pos_km[k, i, 0] - pos_km[k, j, 0]
            dy = pos_km[k, i, 1] - pos_km[k, j, 1]
            dz = pos_km[k, i, 2] - pos_km[k, j, 2]
            d = np.sqrt(dx * dx + dy * dy + dz * dz)
            if not d <= max_range_km or (cross[e] and (polar[i] or polar[j])):
                out[k, e] = np.inf
            else:
                out[k, e] = d / c_km_s


@_njit
def ranges_km(pos_km, step, sat, ground_km, site):
    """Return the range (km) from ground point ``site[i]`` to satellite ``sat[i]`` at
    row ``step[i]`` of ``pos_km`` ``(n_t, n_sat, 3)``."""
    out = np.empty(len(step))
    for i in range(len(step)):
        dx = pos_km[step[i], sat[i], 0] - ground_km[site[i], 0]
        dy = pos_km[step[i], sat[i], 1] - ground_km[site[i], 1]
        dz = pos_km[step[i], sat[i], 2] - ground_km[site[i], 2]
        out[i] = np.sqrt(dx * dx + dy * dy + dz * dz)
    return out


@_njit
def cheapest_downlink(step, sat, gw, cost_s, dist_s, root):
    """For every sample ``i`` (a satellite ``sat[i]`` seeing gateway ``gw[i]`` at row
    ``step[i]``, at ``cost_s[i]``), keep the cheapest per (step, satellite) in
    ``dist_s`` and its gateway in ``root`` (ties: the lower gateway index)."""
    for i in range(len(step)):
        c = cost_s[i]
        d = dist_s[step[i], sat[i]]
        if c < d or (c == d and gw[i] < root[step[i], sat[i]]):
            dist_s[step[i], sat[i]] = c
            root[step[i], sat[i]] = gw[i]
