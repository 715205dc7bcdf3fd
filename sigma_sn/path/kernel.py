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
def dijkstra_steps(adj_ptr, adj_nbr, adj_edge, weight_s, dist_s, hops, root):
    """Relax ``dist_s`` ``(n_step, n_sat)`` in place to shortest distances per step.

    ``dist_s`` holds each satellite's start (downlink plus fibre, ``inf`` where it sees
    no gateway), ``hops`` and ``root`` their link count and gateway; the edges of
    satellite ``u`` are ``adj_ptr[u]:adj_ptr[u+1]`` into ``adj_nbr`` (the other end) and
    ``adj_edge`` (the column of ``weight_s`` ``(n_step, n_edge)``, ``inf`` when down).

    The first step is a full Dijkstra; each later one repairs the previous step's
    shortest-path tree (a second on, a few satellites change parent): the old tree with
    the new delays gives upper bounds, every link is checked once, and label correcting
    from the ones that improve converges to the exact distances (no link can then
    shorten any label, and every label is a real path's length).
    """
    no_pos = np.empty((0, dist_s.shape[1], 3))
    no_idx = np.empty(0, np.int64)
    _steps(adj_ptr, adj_nbr, adj_edge, weight_s, no_pos, no_idx, no_idx,
           np.empty(0, np.bool_), 0.0, 0.0, 1.0, dist_s, hops, root)


@_njit
def dijkstra_isl_steps(adj_ptr, adj_nbr, adj_edge, pos_km, a, b, cross, max_range_km,
                       sin_cutoff, c_km_s, dist_s, hops, root):
    """:func:`dijkstra_steps` with each step's link delays made from ``pos_km`` as
    :func:`isl_weights` makes them, one step at a time (a row stays in cache; the
    ``(n_step, n_edge)`` array is never written)."""
    _steps(adj_ptr, adj_nbr, adj_edge, np.empty((0, len(a))), pos_km, a, b, cross,
           max_range_km, sin_cutoff, c_km_s, dist_s, hops, root)


@_njit
def _steps(adj_ptr, adj_nbr, adj_edge, weight_s, pos_km, a, b, cross, max_range_km,
           sin_cutoff, c_km_s, dist_s, hops, root):
    """The loop of :func:`dijkstra_steps`: link delays from ``weight_s`` or, when it has
    no rows, from ``pos_km``."""
    n_step, n_sat = dist_s.shape
    n_entry = n_sat + len(adj_nbr) + 1
    where = np.empty(n_sat, np.int64)
    heap = np.empty(n_sat, np.int64)
    scratch = np.empty(n_sat, np.int64)
    entry_node = np.empty(n_entry, np.int64)
    entry_next = np.empty(n_entry, np.int64)
    par = np.empty(n_sat, np.int64)        # parent satellite; -1 a start, -2 unreached
    pe = np.empty(n_sat, np.int64)         # the link to the parent
    order = np.empty(n_sat, np.int64)      # the tree, parents before children
    children = np.empty(n_sat, np.int64)
    start = np.empty(n_sat)
    start_root = np.empty(n_sat, root.dtype)
    n_order = 0
    w = np.empty(weight_s.shape[1])
    polar = np.empty(n_sat, np.bool_)
    for k in range(n_step):
        if len(weight_s):
            w[:] = weight_s[k]
        else:
            _isl_weight_row(pos_km, k, a, b, cross, max_range_km, sin_cutoff, c_km_s, polar,
                            w)
        start[:] = dist_s[k]
        start_root[:] = root[k]
        if k == 0:
            if not _bucket_step(adj_ptr, adj_nbr, adj_edge, w, dist_s[k], where,
                                scratch, entry_node, entry_next, par, pe):
                _heap_step(adj_ptr, adj_nbr, adj_edge, w, dist_s[k], where, heap,
                           par, pe)
        elif not _repair_step(adj_ptr, adj_nbr, adj_edge, w, start, dist_s[k], par,
                              pe, order, n_order, scratch, where):
            _hops_and_roots(order, n_order, par, start_root, hops[k], root[k])
            continue                # the same tree: its order stands
        n_order = _tree_order(par, order, scratch, where, children)
        _hops_and_roots(order, n_order, par, start_root, hops[k], root[k])


@_njit
def _repair_step(adj_ptr, adj_nbr, adj_edge, w, start, dist, par, pe, order, n_order,
                 queue, in_queue):
    """Bring last step's tree (``par``, ``pe``, ``order``) to this step's delays ``w``
    and starts, exactly (see :func:`dijkstra_steps`). Returns whether any satellite
    changed parent (else ``order`` still lists the tree parents first)."""
    n_sat = len(dist)
    changed = False
    for i in range(n_order):                   # the old tree, new lengths: upper bounds
        v = order[i]
        if par[v] == -1:
            dist[v] = start[v]
        else:
            dist[v] = dist[par[v]] + w[pe[v]]
    for v in range(n_sat):
        if par[v] == -2:                       # not in the tree (its label is last step's)
            dist[v] = np.inf
        if start[v] < dist[v]:                 # a start better than the tree's path
            dist[v] = start[v]
            changed |= par[v] != -1
            par[v] = -1
        elif not dist[v] < np.inf:
            changed |= par[v] != -2
            par[v] = -2
    # every link is checked once, from each reached end in turn (a FIFO that starts
    # with every reached satellite, in index order); what improves is queued again
    in_queue[:] = 0
    pending = 0
    tail = 0
    for u in range(n_sat):
        du = dist[u]
        if not du < np.inf:
            continue
        for e in range(adj_ptr[u], adj_ptr[u + 1]):
            v = adj_nbr[e]
            nd = du + w[adj_edge[e]]
            if nd < dist[v]:
                dist[v] = nd
                par[v] = u
                pe[v] = adj_edge[e]
                changed = True
                if v < u and not in_queue[v]:  # a later one gets its turn in this pass
                    in_queue[v] = 1
                    queue[tail] = v
                    tail = (tail + 1) % n_sat
                    pending += 1
    head = 0
    while pending > 0:                         # label correcting (FIFO)
        u = queue[head]
        head = (head + 1) % n_sat
        in_queue[u] = 0
        pending -= 1
        for e in range(adj_ptr[u], adj_ptr[u + 1]):
            v = adj_nbr[e]
            nd = dist[u] + w[adj_edge[e]]
            if nd < dist[v]:
                dist[v] = nd
                par[v] = u
                pe[v] = adj_edge[e]
                if not in_queue[v]:
                    in_queue[v] = 1
                    queue[tail] = v
                    tail = (tail + 1) % n_sat
                    pending += 1
    return changed


@_njit
def _tree_order(par, order, count, first, children):
    """Fill ``order`` with the reached satellites, each after its parent (breadth first
    from the starts); return how many. ``children`` is scratch, as long as ``par``."""
    n_sat = len(par)
    count[:] = 0
    for v in range(n_sat):
        if par[v] >= 0:
            count[par[v]] += 1
    acc = 0
    for v in range(n_sat):                     # children of v at first[v] … in children[]
        first[v] = acc
        acc += count[v]
    count[:] = 0
    for v in range(n_sat):
        p = par[v]
        if p >= 0:
            children[first[p] + count[p]] = v
            count[p] += 1
    n = 0
    for v in range(n_sat):
        if par[v] == -1:
            order[n] = v
            n += 1
    i = 0
    while i < n:
        u = order[i]
        for j in range(first[u], first[u] + count[u]):
            order[n] = children[j]
            n += 1
        i += 1
    return n


@_njit
def _hops_and_roots(order, n_order, par, start_root, hops, root):
    """Links to the ground and the gateway of each satellite, down its tree."""
    for v in range(len(par)):
        hops[v] = 0
        root[v] = -1
    for i in range(n_order):
        v = order[i]
        if par[v] == -1:
            hops[v] = 1
            root[v] = start_root[v]
        else:
            hops[v] = hops[par[v]] + 1
            root[v] = root[par[v]]


_MAX_BUCKETS = 1 << 16


@_njit
def _bucket_step(adj_ptr, adj_nbr, adj_edge, w, dist, settled, order, entry_node,
                 entry_next, par, pe):
    """One step of Dinitz's bucketed Dijkstra: buckets as wide as the shortest link up,
    so every label in the lowest bucket is final and no heap is needed (no log factor).
    Labels lie within the longest link of the current bucket, so a ring of buckets does;
    the starts are fed in sorted. Returns False (nothing changed) when the ring would
    need more than ``_MAX_BUCKETS`` buckets (links of nearly zero length)."""
    n_sat = len(dist)
    w_min, w_max = np.inf, 0.0
    for e in range(len(w)):
        if w[e] < w_min:
            w_min = w[e]
        if w[e] < np.inf and w[e] > w_max:
            w_max = w[e]
    if not w_min < np.inf:          # no link up: the starts are the distances
        for s in range(n_sat):
            par[s] = -1 if dist[s] < np.inf else -2
        return True
    if not w_min > 0.0:
        return False
    width = w_min * (1.0 - 1e-9)    # a link always moves a label to a later bucket
    n_ring = int(w_max / width) + 2
    if n_ring > _MAX_BUCKETS:
        return False
    n_start = 0
    for s in range(n_sat):
        settled[s] = 0
        par[s] = -2
        if dist[s] < np.inf:
            order[n_start] = s
            n_start += 1
    starts = order[:n_start]
    starts[:] = starts[np.argsort(dist[starts])]
    start_d = dist[starts].copy()
    for s in range(n_start):        # a label enters when its bucket comes up
        dist[starts[s]] = np.inf
    head = np.full(n_ring, -1, np.int64)
    n_used = 0
    pending = 0
    i_start = 0
    b = int(start_d[0] / width) if n_start else 0
    while pending > 0 or i_start < n_start:
        if pending == 0:            # skip the empty stretch up to the next start
            b = max(b, int(start_d[i_start] / width))
        while i_start < n_start and int(start_d[i_start] / width) <= b:
            v = starts[i_start]
            if start_d[i_start] < dist[v]:
                dist[v] = start_d[i_start]
                par[v] = -1
                entry_node[n_used] = v
                entry_next[n_used] = head[b % n_ring]
                head[b % n_ring] = n_used
                n_used += 1
                pending += 1
            i_start += 1
        slot = b % n_ring
        e_at = head[slot]
        head[slot] = -1
        while e_at >= 0:
            u = entry_node[e_at]
            e_at = entry_next[e_at]
            pending -= 1
            if settled[u] or int(dist[u] / width) != b:
                continue            # stale: settled already, or moved to an earlier bucket
            settled[u] = 1
            d = dist[u]
            for e in range(adj_ptr[u], adj_ptr[u + 1]):
                v = adj_nbr[e]
                if settled[v]:
                    continue
                nd = d + w[adj_edge[e]]
                if nd < dist[v]:
                    dist[v] = nd
                    par[v] = u
                    pe[v] = adj_edge[e]
                    nb = int(nd / width) % n_ring
                    entry_node[n_used] = v
                    entry_next[n_used] = head[nb]
                    head[nb] = n_used
                    n_used += 1
                    pending += 1
        b += 1
    return True


@_njit
def _heap_step(adj_ptr, adj_nbr, adj_edge, w, dist, where, heap, par, pe):
    """One step of Dijkstra on a binary heap with decrease-key (each satellite enters once)."""
    n_sat = len(dist)
    size = 0
    for s in range(n_sat):
        where[s] = -1                   # -1 not reached, -2 settled, else index in heap
        par[s] = -1 if dist[s] < np.inf else -2
        if dist[s] < np.inf:
            heap[size] = s
            where[s] = size
            size += 1
    for i in range((size >> 1) - 1, -1, -1):      # heapify the starts
        _sift_down(heap, where, dist, i, size)
    while size > 0:
        u = heap[0]
        size -= 1
        where[u] = -2
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
                par[v] = u
                pe[v] = adj_edge[e]
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
    polar = np.empty(pos_km.shape[1], np.bool_)
    for k in range(pos_km.shape[0]):
        _isl_weight_row(pos_km, k, a, b, cross, max_range_km, sin_cutoff, c_km_s, polar,
                        out[k])


@_njit
def _isl_weight_row(pos_km, k, a, b, cross, max_range_km, sin_cutoff, c_km_s, polar, out):
    """One step (row ``k`` of ``pos_km``) of :func:`isl_weights` into ``out``."""
    for s in range(pos_km.shape[1]):
        x, y, z = pos_km[k, s, 0], pos_km[k, s, 1], pos_km[k, s, 2]
        polar[s] = not (abs(z) <= sin_cutoff * np.sqrt(x * x + y * y + z * z))
    for e in range(len(a)):
        i, j = a[e], b[e]
        dx = pos_km[k, i, 0] - pos_km[k, j, 0]
        dy = pos_km[k, i, 1] - pos_km[k, j, 1]
        dz = pos_km[k, i, 2] - pos_km[k, j, 2]
        d = np.sqrt(dx * dx + dy * dy + dz * dz)
        if not d <= max_range_km or (cross[e] and (polar[i] or polar[j])):
            out[e] = np.inf
        else:
            out[e] = d / c_km_s


@_njit
def _range_km(pos_km, k, sat, ground_km, site):
    dx = pos_km[k, sat, 0] - ground_km[site, 0]
    dy = pos_km[k, sat, 1] - ground_km[site, 1]
    dz = pos_km[k, sat, 2] - ground_km[site, 2]
    return np.sqrt(dx * dx + dy * dy + dz * dz)


@_njit
def downlink_starts(first, end, sat, site, k0, pos_km, ground_km, fibre_s, c_km_s,
                    dist_s, root):
    """For every window (satellite ``sat[i]`` over gateway ``site[i]`` at routing steps
    ``first[i] … end[i]-1``) inside rows ``k0 …`` of ``pos_km`` ``(n_t, n_sat, 3)``, keep
    per (step, satellite) the cheapest downlink + fibre in ``dist_s`` and its gateway in
    ``root`` (ties: the lower gateway index)."""
    k1 = k0 + pos_km.shape[0]
    for i in range(len(first)):
        a = max(first[i], k0)
        b = min(end[i], k1)
        s, g = sat[i], site[i]
        for k in range(a, b):
            c = _range_km(pos_km, k - k0, s, ground_km, g) / c_km_s + fibre_s[g]
            d = dist_s[k - k0, s]
            if c < d or (c == d and g < root[k - k0, s]):
                dist_s[k - k0, s] = c
                root[k - k0, s] = g


@_njit
def terminal_samples(first, end, sat, site, offset, k0, pos_km, ground_km, c_km_s,
                     dist_s, hops, root, delay_ms, hops_out, gateway_out):
    """Write each terminal window's samples at steps ``k0 …`` (rows of ``pos_km``): uplink
    plus the satellite's distance (ms; NaN when it reaches no gateway), hops (uplink
    included) and gateway, at ``offset[i] + step - first[i]``."""
    k1 = k0 + pos_km.shape[0]
    for i in range(len(first)):
        s, g = sat[i], site[i]
        for k in range(max(first[i], k0), min(end[i], k1)):
            at = offset[i] + k - first[i]
            r = root[k - k0, s]
            gateway_out[at] = r
            if r < 0:
                delay_ms[at] = np.nan
                hops_out[at] = 0
            else:
                up_s = _range_km(pos_km, k - k0, s, ground_km, g) / c_km_s
                delay_ms[at] = (up_s + dist_s[k - k0, s]) * 1000.0
                hops_out[at] = hops[k - k0, s] + 1
