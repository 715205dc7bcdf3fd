"""Shared capacity as flows: each flow's rate by max–min fairness over the links it
crosses, vectorised over flows and links, and from the rates each link's utilisation and
queueing delay (DESIGN.md, "Shared capacity at scale": the load of all mobiles as flows;
the associations being measured are replayed packet by packet on top).

Time steps are independent problems: give each (step, link) its own link index and one
call solves every step at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

#: shares within this relative tolerance count as equal (floating-point sums)
_REL_TOL = 1e-12


@dataclass(frozen=True)
class FlowState:
    """Rates and what they do to the links: ``rate_bps`` per flow, ``load_bps`` and
    ``utilisation`` (load / capacity) per link."""

    rate_bps: np.ndarray
    load_bps: np.ndarray
    utilisation: np.ndarray


def incidence(flow, link, n_flow: int, n_link: int) -> csr_matrix:
    """Return the flow × link incidence matrix from pairs (flow ``flow[i]`` crosses link
    ``link[i]``); a pair given twice counts once."""
    m = csr_matrix((np.ones(len(flow)), (np.asarray(flow), np.asarray(link))),
                   shape=(n_flow, n_link))
    m.data[:] = 1.0
    return m


def max_min_rates(crosses: csr_matrix, capacity_bps, demand_bps=None) -> FlowState:
    """Return the max–min fair rates of flows over links (progressive filling).

    ``crosses``: flow × link incidence (:func:`incidence`); ``capacity_bps`` per link;
    ``demand_bps`` per flow (``inf`` or None: elastic, takes what it can). Each round
    every link's fair share is its remaining capacity over its unfrozen flows; a link
    whose share is the smallest along every one of its flows is a bottleneck, and its
    flows freeze at that share (all such links in one round: they are independent).
    A flow that crosses no link gets its demand.
    """
    a = crosses.tocsr().astype(float)
    n_flow, n_link = a.shape
    cap = np.asarray(capacity_bps, float).copy()
    if np.any(cap < 0):
        raise ValueError("link capacities must be >= 0")
    demand = (np.full(n_flow, np.inf) if demand_bps is None
              else np.asarray(demand_bps, float).copy())
    # a demand is a private link of that capacity
    if np.isfinite(demand).any():
        own = np.flatnonzero(np.isfinite(demand))
        extra = csr_matrix((np.ones(len(own)), (own, np.arange(len(own)))),
                           shape=(n_flow, len(own)))
        from scipy.sparse import hstack
        a = hstack([a, extra], format="csr")
        cap = np.concatenate([cap, demand[own]])
    at = a.T.tocsr()
    rate = np.zeros(n_flow)
    active = a.getnnz(axis=1) > 0
    rate[~active] = np.where(np.isfinite(demand[~active]), demand[~active], np.inf)
    remaining = cap.copy()
    while active.any():
        n_on = at @ active.astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(n_on > 0, remaining / n_on, np.inf)
        # each active flow's smallest share along its links
        flow_min = _row_min(a, share)
        flow_min[~active] = np.inf
        # a link is a bottleneck when no active flow on it sees a smaller share elsewhere
        worst = _row_min(at, np.where(active, flow_min, np.inf))
        bottleneck = (n_on > 0) & (share <= worst * (1 + _REL_TOL) + 1e-300)
        freeze = active & ((a @ bottleneck.astype(float)) > 0)
        rate[freeze] = flow_min[freeze]
        active &= ~freeze
        remaining = np.maximum(remaining - at @ np.where(freeze, rate, 0.0), 0.0)
    load = crosses.T.tocsr().astype(float) @ np.where(np.isfinite(rate), rate, 0.0)
    base_cap = np.asarray(capacity_bps, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(base_cap > 0, load / base_cap, np.where(load > 0, np.inf, 0.0))
    return FlowState(rate, load, util)


def _row_min(m: csr_matrix, values) -> np.ndarray:
    """Return, per row of ``m``, the least of ``values`` over its columns (inf if none)."""
    out = np.full(m.shape[0], np.inf)
    nz = np.flatnonzero(np.diff(m.indptr))
    if len(nz):
        v = values[m.indices]
        out[nz] = np.minimum.reduceat(v, m.indptr[nz])
    return out


def queueing_delay_s(utilisation, capacity_bps, packet_bytes: int = 1500,
                     buffer_pkts: int = 100):
    """Mean queueing delay (s) of a packet at a link this busy: M/M/1's ρ/(1−ρ) packet
    times, capped by a full buffer (elastic flows keep a bottleneck saturated, so it
    sits at the cap)."""
    rho = np.asarray(utilisation, float)
    service_s = packet_bytes * 8.0 / np.asarray(capacity_bps, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.where(rho < 1.0, rho / (1.0 - rho), np.inf) * service_s
    return np.minimum(wait, buffer_pkts * service_s)


def path_flow_rates(paths, window, step, sat_capacity_bps: float,
                    gateway_capacity_bps: float, demand_bps=None, gateway=None):
    """Max–min rates of flows over the paths of :class:`~sigma_sn.path.route.PathDelays`.

    Flow ``i`` runs over terminal window ``window[i]`` (its serving satellite) at routing
    step ``step[i]``; it crosses that satellite's user link and the feeder link of the
    gateway its path lands at (``gateway[i]`` if given: a gateway anchor's), each step a
    link of its own (inter-satellite links are taken not to bind). A flow without a path
    (gateway -1) gets rate 0. Returns the :class:`FlowState` and per link its
    ``(step, kind, index)`` (kind 0: satellite, 1: gateway).
    """
    window = np.asarray(window, np.int64)
    step = np.asarray(step, np.int64)
    j = step - paths.first_step[window]
    n = paths.offset[window + 1] - paths.offset[window]
    if np.any((j < 0) | (j >= n)):
        raise ValueError("a flow's step lies outside its window")
    gw = (paths.gateway[paths.offset[window] + j] if gateway is None
          else np.asarray(gateway)).astype(np.int64)
    sat = paths.windows.sat[window]
    ok = gw >= 0
    flow = np.flatnonzero(ok)
    # (step, kind, index) as one integer in the same order, numbered by a table over its
    # range instead of np.unique(axis=0), which sorts rows as records (30x slower on 1 M
    # flows): the steps of a call are a chunk, so the range stays small
    n_idx = int(max(sat[ok].max(initial=0), gw[ok].max(initial=0))) + 1
    k0 = int(step[ok].min(initial=0))
    kind = np.repeat(np.array([0, 1], np.int64), ok.sum())
    code = ((np.concatenate([step[ok], step[ok]]) - k0) * 2 + kind) * n_idx \
        + np.concatenate([sat[ok], gw[ok]])
    present = np.zeros(int(code.max(initial=-1)) + 1, bool)
    present[code] = True
    # each present code's rank: set at the few present entries, not a cumsum of the table
    rank = np.zeros(len(present), np.int64)
    used = np.flatnonzero(present)
    rank[used] = np.arange(len(used))
    which = rank[code]
    code = used
    links = np.stack([code // (2 * n_idx) + k0, (code // n_idx) % 2, code % n_idx], 1)
    crosses = incidence(np.concatenate([flow, flow]), which.ravel(), len(window), len(links))
    capacity = np.where(links[:, 1] == 0, sat_capacity_bps, gateway_capacity_bps)
    state = max_min_rates(crosses, capacity, demand_bps)
    rate = np.where(ok, state.rate_bps, 0.0)
    return FlowState(rate, state.load_bps, state.utilisation), links
