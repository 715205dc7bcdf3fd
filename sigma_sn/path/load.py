"""Shared capacity over a whole scenario (issue 16): every mobile's traffic is a flow on
its serving satellite's user link and on the feeder link of the gateway its path lands
at; per routing step the flows get max–min fair rates (:func:`~sigma_sn.path.flows.
path_flow_rates`, solved a chunk of steps at a time so memory stays bounded). From the
rates come each satellite's load and what each mobile's packet replay meets: per link
sample, the share of its capacity the other mobiles' flows leave
(:class:`~sigma_sn.sim.links.LinkGeometry` ``share``; docs/path.md, "Shared capacity").
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass

import numpy as np

from sigma_sn.forked import ForkedMap, can_fork, shared_array
from sigma_sn.path.config import SharedCapacity
from sigma_sn.path.flows import path_flow_rates
from sigma_sn.path.kernel import _njit
from sigma_sn.path.serving import serving_windows

#: routing steps solved in one call: 300 steps of 1,000 terminals is 0.6 M incidences.
#: Any size gives the same bytes (each step is its own problem); a smaller chunk keeps a
#: forked worker's temporaries small (on the 1,000-terminal benchmark 300 cost less CPU
#: than 600 with two workers, within the machine's noise)
CHUNK_STEPS = 300
#: the least share a replay link is given (LinkGeometry needs > 0): a link the others
#: fill still serves a packet now and then, as a max–min newcomer would be
MIN_SHARE = 1e-3
#: satellites drawn in the load-over-time figure and kept in the report's series
SERIES_SATELLITES = 8
#: the series in the report: one sample every this many seconds (at least one step)
SERIES_STEP_S = 60.0
#: sorts (link, step) pairs as one integer: more steps than any run has
_KEY = 1 << 40


@dataclass(frozen=True)
class SharedLoad:
    """The flows of all mobiles, per routing step ``k`` (time ``k * step_s``).

    Per mobile and step: ``sat`` and ``gateway`` (indices into ``sat_names`` and
    ``gateway_names``; -1 when not served or no gateway is reached) and ``rate_bps``
    (the max–min rate it gets). Per satellite and step: ``sat_load_bps`` (carried),
    ``sat_flows`` (how many flows cross it); per gateway and step: ``gw_load_bps``,
    ``gw_flows``.
    """

    capacity: SharedCapacity
    step_s: float
    mobiles: tuple[str, ...]
    sat_names: tuple[str, ...]
    gateway_names: tuple[str, ...]
    sat: np.ndarray
    gateway: np.ndarray
    rate_bps: np.ndarray
    sat_load_bps: np.ndarray
    sat_flows: np.ndarray
    gw_load_bps: np.ndarray
    gw_flows: np.ndarray

    def left_bps(self, mobile: int, sat, gateway, t_s) -> np.ndarray:
        """What the other mobiles' flows leave to mobile ``mobile`` over satellites ``sat``
        and gateways ``gateway`` (per sample; -1: none) at times ``t_s``: per link its
        capacity less the others' load, but never less than the fair share a flow
        joining them would get (capacity / (others + 1)); the lesser of the two links."""
        return self._left_at(mobile, np.asarray(sat, np.int64),
                             np.asarray(gateway, np.int64),
                             np.floor(np.asarray(t_s, float) / self.step_s + 1e-9)
                             .astype(np.int64))

    def _left_at(self, mobile: int, sat, gateway, k) -> np.ndarray:
        """:meth:`left_bps` at routing steps ``k`` (int64; held at the first and last)."""
        out = np.empty(len(k))
        _left_samples(np.ascontiguousarray(sat, np.int64),
                      np.ascontiguousarray(gateway, np.int64), np.ascontiguousarray(k, np.int64),
                      self._sat_free, self._gw_free, self.sat[mobile], self.gateway[mobile],
                      self.rate_bps[mobile], self.sat_load_bps, self.sat_flows,
                      self.gw_load_bps, self.gw_flows, self.capacity.sat_capacity_mbps * 1e6,
                      self.capacity.gateway_capacity_mbps * 1e6, out)
        return out

    @functools.cached_property
    def _sat_free(self) -> np.ndarray:
        """Per satellite and step (raveled) what its load leaves a flow not on it."""
        return _left(self.capacity.sat_capacity_mbps * 1e6, self.sat_load_bps,
                     self.sat_flows, 0.0).ravel()

    @functools.cached_property
    def _gw_free(self) -> np.ndarray:
        """Per gateway and step (raveled) what its load leaves a flow not on it."""
        return _left(self.capacity.gateway_capacity_mbps * 1e6, self.gw_load_bps,
                     self.gw_flows, 0.0).ravel()

    @functools.cached_property
    def _mobile_index(self) -> dict:
        """Each mobile's row; a name given twice is its first row (as tuple.index)."""
        return {m: i for i, m in reversed(list(enumerate(self.mobiles)))}

    def summary(self) -> dict:
        """The load block of a report: per satellite and per gateway that carried a flow
        its peak and mean utilisation (carried / capacity; the mean over the steps it
        carried any) and peak offered load (demand / capacity: above 1 it is congested),
        busiest first; per mobile its mean rate and mean share of its demand over the
        steps it was served with a path to a gateway (``served_s``: how long that was);
        and the busiest satellites' utilisation every :data:`SERIES_STEP_S` for the
        figure."""
        demand_bps = self.capacity.offered_load_mbps * 1e6
        util = self.sat_load_bps / (self.capacity.sat_capacity_mbps * 1e6)
        sats = _link_rows("satellite", self.sat_names, util, self.sat_flows,
                          demand_bps / (self.capacity.sat_capacity_mbps * 1e6), self.step_s)
        gws = _link_rows("gateway", self.gateway_names,
                         self.gw_load_bps / (self.capacity.gateway_capacity_mbps * 1e6),
                         self.gw_flows, demand_bps / (self.capacity.gateway_capacity_mbps * 1e6),
                         self.step_s)
        served = self.sat >= 0
        n_served = served.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(served, self.rate_bps, 0.0).sum(axis=1) / n_served
        mobiles = [{"mobile": m, "mean_rate_mbps": _r(r / 1e6) if n else None,
                    "mean_share": _r(r / demand_bps) if n else None,
                    "served_s": _r(n * self.step_s)}
                   for m, r, n in zip(self.mobiles, rate, n_served.tolist())]
        every = max(1, int(round(SERIES_STEP_S / self.step_s)))
        shown = [self.sat_names.index(r["satellite"]) for r in sats[:SERIES_SATELLITES]]
        ks = np.arange(0, util.shape[1], every)
        series = {"t_s": [_r(k * self.step_s) for k in ks],
                  "utilisation": {self.sat_names[s]: [_r(u) for u in util[s, ks]]
                                  for s in shown}}
        return {"sat_capacity_mbps": self.capacity.sat_capacity_mbps,
                "gateway_capacity_mbps": self.capacity.gateway_capacity_mbps,
                "offered_load_mbps": self.capacity.offered_load_mbps, "step_s": self.step_s,
                "satellites": sats, "gateways": gws, "mobiles": mobiles, "series": series}


def _link_rows(kind: str, names, util, flows, demand_per_capacity: float, step_s: float):
    """Per link (satellite or gateway) that carried a flow: peak and mean utilisation
    (the mean over the steps it carried any), peak offered load (x capacity) and how long
    it was busy; busiest first."""
    busy = flows > 0
    used = np.flatnonzero(busy.any(axis=1))
    n_busy = busy[used].sum(axis=1)
    peak = util[used].max(axis=1)
    mean = np.where(busy[used], util[used], 0.0).sum(axis=1) / n_busy
    offered = flows[used].max(axis=1) * demand_per_capacity
    rows = [{kind: names[s], "peak_utilisation": _r(pu), "mean_utilisation": _r(mu),
             "peak_offered": _r(po), "busy_s": _r(nb * step_s)}
            for s, pu, mu, po, nb in zip(used.tolist(), peak, mean, offered, n_busy)]
    rows.sort(key=lambda r: (-r["peak_offered"], -r["mean_utilisation"], r[kind]))
    return rows


def _count(row, col, n_row: int, n_col: int) -> np.ndarray:
    """How many times each (row, col) pair occurs, as an ``(n_row, n_col)`` array."""
    return np.bincount(row * n_col + col, minlength=n_row * n_col).reshape(n_row, n_col)


def _left(cap_bps: float, load_bps, flows, own_bps):
    # in place, two float64 temporaries: the per-(link, step) tables are tens of MB
    left = np.subtract(load_bps, own_bps, dtype=float)             # the others' load
    np.subtract(cap_bps, left, out=left)
    fair = np.subtract(flows, np.asarray(own_bps) > 0, dtype=float)   # the others
    fair += 1.0
    np.divide(cap_bps, fair, out=fair)
    return np.maximum(left, fair, out=left)


@_njit
def _left_samples(sat, gateway, k, sat_free, gw_free, own_sat, own_gw, own_rate, sat_load,
                  sat_flows, gw_load, gw_flows, sat_cap_bps, gw_cap_bps, out):
    """:meth:`SharedLoad._left_at` sample by sample into ``out``, in one pass: what each
    (link, step) leaves a mobile not on it, read from the tables ``sat_free`` and
    ``gw_free``; on the mobile's own satellite or gateway, redone without its flow. The
    arithmetic is :func:`_left`'s, in its order (the numpy form was ten passes)."""
    n_step = len(own_sat)
    for i in range(len(k)):
        j = min(max(k[i], 0), n_step - 1)
        s, g = sat[i], gateway[i]
        if own_sat[j] == s:
            a = _left_one(sat_cap_bps, sat_load[s, j], sat_flows[s, j], own_rate[j])
        else:
            a = sat_free[s * n_step + j]
        if g < 0:
            b = np.inf
        elif own_gw[j] == g:
            b = _left_one(gw_cap_bps, gw_load[g, j], gw_flows[g, j], own_rate[j])
        else:
            b = gw_free[g * n_step + j]
        out[i] = a if a <= b or a != a else b          # np.minimum: NaN wins


@_njit(inline="always")
def _left_one(cap_bps, load_bps, flows, own_bps):
    """:func:`_left` of one (link, step) with the mobile's own flow ``own_bps`` on it."""
    own = np.float64(own_bps)
    left = cap_bps - (np.float64(load_bps) - own)
    fair = cap_bps / ((np.float64(flows) - np.float64(own > 0)) + 1.0)
    return left if left >= fair or left != left else fair     # np.maximum: NaN wins


def _r(x) -> float:
    return round(float(x), 6)


def solve_load(paths, sat_of_window, served: np.ndarray, capacity: SharedCapacity, *,
               mobiles, sat_names, gateway: np.ndarray | None = None,
               chunk_steps: int = CHUNK_STEPS, workers: int | None = None) -> SharedLoad:
    """Return the :class:`SharedLoad` of flows over ``paths``
    (:class:`~sigma_sn.path.route.PathDelays`). ``served``: (mobile, step) the window
    (row of ``paths.windows``) serving each mobile at each routing step, -1 for none
    (:func:`sigma_sn.path.serving.serving_windows`); ``sat_of_window``: each window's
    satellite, an index into ``sat_names``. Every mobile offers
    ``capacity.offered_load_mbps``, over the gateway its path lands at, or under a
    gateway anchor over ``gateway`` (mobile, step: the anchor's, an index into
    ``paths.gateway_names``; -1 for none). ``workers`` processes (default: one per core) take
    the chunks of ``chunk_steps`` steps in turn and write into shared memory; the chunks
    are the same whatever their number, so the result is too."""
    n_mob, n_step = served.shape
    n_sat, n_gw = len(sat_names), len(paths.gateway_names)
    starts = list(range(0, n_step, chunk_steps))
    workers = min(os.cpu_count() or 1 if workers is None else workers, len(starts))
    parallel = can_fork(workers)
    out = (shared_array((n_mob, n_step), np.int32, parallel, fill=-1),      # sat
           shared_array((n_mob, n_step), np.int16 if n_gw < 2**15 else np.int32, parallel,
                        fill=-1),                                          # gateway
           shared_array((n_mob, n_step), np.float32, parallel),            # rate
           shared_array((n_sat, n_step), np.float32, parallel),            # sat load
           shared_array((n_sat, n_step), np.int32, parallel),              # sat flows
           shared_array((n_gw, n_step), np.float32, parallel),             # gw load
           shared_array((n_gw, n_step), np.int32, parallel))               # gw flows
    local = dataclasses.replace(paths, windows=dataclasses.replace(
        paths.windows, sat=np.asarray(sat_of_window, np.int64)))
    solve = functools.partial(_solve_chunk, job=(local, served, gateway, capacity,
                                                 chunk_steps, out))
    if parallel:   # the workers inherit the job by the fork: nothing large is pickled
        with ForkedMap(solve, starts, workers) as results:
            for _ in results:
                pass
    else:
        for k0 in starts:
            solve(k0)
    return SharedLoad(capacity, float(paths.step_s), tuple(mobiles), tuple(sat_names),
                      tuple(paths.gateway_names), *out)


def _solve_chunk(k0: int, job) -> None:
    """Solve the flows of routing steps ``k0 …`` (one chunk) into the job's arrays."""
    paths, served, anchor, capacity, chunk_steps, out = job
    sat, gw, rate, sat_load, sat_flows, gw_load, gw_flows = out
    n_sat, n_gw = sat_load.shape[0], gw_load.shape[0]
    sat_of_window = paths.windows.sat
    k1 = min(k0 + chunk_steps, served.shape[1])
    m, j = np.nonzero(served[:, k0:k1] >= 0)   # by mobile, then step
    window, step = served[m, k0 + j], k0 + j
    # a step the path stage did not sample (the window's edges) carries no flow
    i = step - paths.first_step[window]
    inside = (i >= 0) & (i < paths.offset[window + 1] - paths.offset[window])
    m, window, step, i = m[inside], window[inside], step[inside], i[inside]
    if not len(m):
        return
    g = (paths.gateway[paths.offset[window] + i] if anchor is None
         else anchor[m, step]).astype(np.int64)
    state, links = path_flow_rates(paths, window, step, capacity.sat_capacity_mbps * 1e6,
                                   capacity.gateway_capacity_mbps * 1e6,
                                   np.full(len(m), capacity.offered_load_mbps * 1e6), g)
    reach = g >= 0
    s = sat_of_window[window]
    sat[m[reach], step[reach]] = s[reach]
    gw[m[reach], step[reach]] = g[reach]
    rate[m, step] = state.rate_bps
    sat_flows[:, k0:k1] = _count(s[reach], step[reach] - k0, n_sat, k1 - k0)
    gw_flows[:, k0:k1] = _count(g[reach], step[reach] - k0, n_gw, k1 - k0)
    on_sat = links[:, 1] == 0
    sat_load[links[on_sat, 2], links[on_sat, 0]] = state.load_bps[on_sat]
    gw_load[links[~on_sat, 2], links[~on_sat, 0]] = state.load_bps[~on_sat]


def load_for_plan(plan: dict, paths, windows, sat_names, site_names, shared: dict,
                  anchors=None) -> SharedLoad:
    """Return the :class:`SharedLoad` of every mobile of ``plan`` along its serving
    intervals. ``windows``: the replay's windows (the rows of ``paths.windows``) over
    the plan's satellites ``sat_names`` and sites ``site_names``; ``shared``: the plan's
    ``inputs.parameters.path.shared_capacity``. Under a gateway anchor ``paths`` is one
    :class:`~sigma_sn.path.route.PathDelays` per gateway and ``anchors`` their
    :class:`~sigma_sn.planner.anchor.AnchorWindows`: the plan serves each mobile by an
    anchor gateway, and its flow runs over the satellite the anchor's path takes at each
    step (the anchor window's ``via``) to that gateway."""
    local = dataclasses.replace(windows, sat_names=tuple(sat_names),
                                site_names=tuple(site_names))
    if anchors is None:
        served = serving_windows(plan, dataclasses.replace(paths, windows=local))
    else:
        paths = paths[0]    # the same windows in all: the gateways come from the anchors
        served = serving_windows(plan, dataclasses.replace(anchors, windows=dataclasses.replace(
            anchors.windows, site_names=tuple(site_names))))
    mobiles = list(served)
    grid = np.stack([served[m] for m in mobiles]) if mobiles else np.zeros((0, 1), np.int64)
    gateway = None
    if anchors is not None:
        grid, gateway = _via_anchors(anchors, grid)
    return solve_load(paths, local.sat, grid, SharedCapacity(**shared), mobiles=mobiles,
                      sat_names=sat_names, gateway=gateway)


def _via_anchors(anchors, served: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The path stage's window each mobile's flow takes at each step and its gateway,
    from the anchor window ``served`` (mobile, step; -1 none) serving it: the anchor's
    satellite window at that step and the anchor's gateway (-1 off the anchor's steps)."""
    window = np.full(served.shape, -1, np.int64)
    gateway = np.full(served.shape, -1, np.int64)
    m, k = np.nonzero(served >= 0)
    a = served[m, k]
    i = k - anchors.first_step[a]
    inside = (i >= 0) & (i < anchors.offset[a + 1] - anchors.offset[a])
    m, k, a, i = m[inside], k[inside], a[inside], i[inside]
    window[m, k] = anchors.via[anchors.offset[a] + i]
    gateway[m, k] = anchors.windows.sat[a]
    return window, gateway


def link_shares(load: SharedLoad, mobile: str, sat, gateway, k, capacity_bps: float):
    """Per sample (satellite ``sat``, gateway ``gateway``, routing step ``k``) the share of
    a replay link of ``capacity_bps`` that the other mobiles leave ``mobile``
    (:meth:`SharedLoad.left_bps` over the capacity), within [:data:`MIN_SHARE`, 1]."""
    share = load._left_at(load._mobile_index[mobile], np.asarray(sat, np.int64),
                          np.asarray(gateway, np.int64), np.asarray(k, np.int64))
    share /= capacity_bps
    np.clip(share, MIN_SHARE, 1.0, out=share)
    if not share.min(initial=MIN_SHARE) >= MIN_SHARE:  # NaN passes the clip: checked here
        raise ValueError(f"mobile {mobile}: a share is not a number (capacity_bps "
                         f"{capacity_bps!r})")
    return share


def shared_links(links: dict, load: SharedLoad, mobile: str, sat_index: dict, rows: dict,
                 paths, capacity_bps: float) -> dict:
    """Return ``links`` (access point name -> :class:`LinkGeometry` on the path) with each
    link's ``share`` set: per sample, what the others leave (:meth:`SharedLoad.left_bps`)
    over the replay link's own ``capacity_bps``, within [:data:`MIN_SHARE`, 1].
    ``rows``: per access point its windows (rows of ``paths.windows``) in AOS order.
    One lookup for all the mobile's samples: a terminal-hour has some 200 links."""
    aps = [ap for ap, g in links.items() if g.up_s]
    if not aps:
        return dict(links)
    n = np.array([len(links[ap].t_s) for ap in aps])
    t_s = np.concatenate([links[ap].t_s for ap in aps])
    k = t_s / paths.step_s
    k += 1e-9
    k = np.floor(k, out=k).astype(np.int64)
    # each sample's window: the last of its link's rows that starts at or before it, if
    # the sample is before that row's end. Found per row, not per sample: the samples
    # (by link, then time) from the row's start to its end or the next row's start.
    # Rows come in AOS order, so their keys are sorted as the samples' are.
    row = np.concatenate([rows[ap] for ap in aps]).astype(np.int64)
    row_link = np.repeat(np.arange(len(aps), dtype=np.int64) * _KEY,
                         [len(rows[ap]) for ap in aps])
    first = paths.first_step[row]
    end = first + (paths.offset[row + 1] - paths.offset[row])   # past its last sample
    key = np.repeat(np.arange(len(aps), dtype=np.int64) * _KEY, n)
    key += k
    lo = np.searchsorted(key, row_link + first)
    hi = np.minimum(np.searchsorted(key, row_link + end), np.append(lo[1:], len(key)))
    cnt = np.maximum(hi - lo, 0)
    at = np.repeat(paths.offset[row] - first, cnt)          # path sample = base + step
    gw = np.full(len(key), -1, paths.gateway.dtype)
    if cnt.sum() == len(key):                               # every sample in a window
        gw[:] = paths.gateway[at + k]
    else:
        inside = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(len(at))
        gw[inside] = paths.gateway[at + k[inside]]
    sat = np.repeat([sat_index[ap] for ap in aps], n)
    share = link_shares(load, mobile, sat, gw, k, capacity_bps)   # checked once for all
    out = dict(links)
    ends = np.cumsum(n).tolist()
    for ap, a, b in zip(aps, [0] + ends[:-1], ends):
        out[ap] = links[ap].with_share(share[a:b], checked=True)   # one per sample
    return out


def load_lines(block: dict, shown: int = 5) -> list[str]:
    """The load block (:meth:`SharedLoad.summary`) as a few lines for a terminal: the
    busiest satellites and the spread of the mobiles' shares of their demand."""
    sats = block["satellites"]
    mobs = [m for m in block["mobiles"] if m["mean_share"] is not None]
    lines = [f"shared capacity: {block['sat_capacity_mbps']:g} Mb/s per satellite, "
             f"{block['gateway_capacity_mbps']:g} Mb/s per gateway, each mobile offers "
             f"{block['offered_load_mbps']:g} Mb/s; {len(sats)} satellites carried flows"]
    lines += [f"  {s['satellite']}: utilisation peak {s['peak_utilisation']:.3f}, mean "
              f"{s['mean_utilisation']:.3f}; offered peak {s['peak_offered']:.2f}x capacity"
              for s in sats[:shown]]
    lines += [f"  gateway {g['gateway']}: utilisation peak {g['peak_utilisation']:.3f}, mean "
              f"{g['mean_utilisation']:.3f}; offered peak {g['peak_offered']:.2f}x capacity"
              for g in block["gateways"][:1]]
    if mobs:
        share = np.array([m["mean_share"] for m in mobs])
        lines.append(f"  mobiles' mean share of their demand: min {share.min():.3f}, mean "
                     f"{share.mean():.3f}, max {share.max():.3f} ({len(mobs)} served)")
    return lines


def load_figure(block: dict):
    """Plotly figure: the busiest satellites' user-link utilisation over time (the load
    block's ``series``)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    series = block["series"]
    for name, util in series["utilisation"].items():
        fig.add_trace(go.Scatter(x=series["t_s"], y=util, mode="lines", name=name))
    fig.update_layout(xaxis_title="time since start (s)",
                      yaxis_title="user-link utilisation (carried / capacity)",
                      title=f"per-satellite load over time (the {len(series['utilisation'])} "
                            "busiest satellites)")
    return fig


def load_brief(block: dict) -> dict:
    """The load block in one row, to set policies side by side: how many satellites were
    offered more than their capacity, the highest offered load (x capacity), and the
    least and the mean of the mobiles' mean shares of their demand."""
    sats = block["satellites"]
    share = np.array([m["mean_share"] for m in block["mobiles"] if m["mean_share"] is not None])
    return {"satellites_used": len(sats),
            "satellites_congested": sum(s["peak_offered"] > 1.0 for s in sats),
            "peak_offered": max((s["peak_offered"] for s in sats), default=None),
            "share_min": _r(share.min()) if share.size else None,
            "share_mean": _r(share.mean()) if share.size else None}
