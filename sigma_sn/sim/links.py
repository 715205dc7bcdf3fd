"""Links of the replay: geometry in, delay and up/down out; a drop-tail queue on each.

A link joins the mobile host to one access point. Its one-way delay is the slant range
over c (read from precomputed samples, linearly interpolated) plus, towards the
correspondent, the terrestrial segment; or, on a path (a scenario's ``[path]``), the
path stage's whole delay to the correspondent, held from one routing step to the next.
It is up only inside the access point's visibility windows. The simulation never
propagates an orbit: everything here comes
from :class:`LinkGeometry`.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from sigma_sn.geometry import C_KM_S


@dataclass(frozen=True)
class LinkGeometry:
    """Where one access point is, seen from the mobile: range samples and up intervals.

    ``t_s`` must increase; it need not be evenly spaced, so samples can be taken only
    around the up intervals (a day of one Starlink terminal would otherwise hold a
    day of samples for every satellite it ever sees). ``up_s`` holds sorted, disjoint
    ``(start, end)`` intervals in which the access point is above the mask.

    On a path (:mod:`sigma_sn.sim.pathgeom`), ``delay_s`` holds the one-way delay to the
    correspondent at each sample (uplink + ISLs + downlink + fibre), held until the next
    sample as the path stage defines it, and ``loss_prob`` the link budget's loss
    probability at each sample; None for the slant range alone and no budget loss.
    ``share``: the fraction (0, 1] of the link's capacity that other mobiles' flows leave
    at each sample (docs/path.md, "Shared capacity"); None: the mobile's own link.
    """

    ap: str
    t_s: np.ndarray
    range_km: np.ndarray
    elev_deg: np.ndarray
    up_s: tuple[tuple[float, float], ...]
    delay_s: np.ndarray | None = None
    loss_prob: np.ndarray | None = None
    share: np.ndarray | None = None

    def __post_init__(self):
        if len(self.t_s) < 2 or len(self.t_s) != len(self.range_km):
            raise ValueError(f"link {self.ap}: need >= 2 range samples, one per time")
        if np.any(np.diff(self.t_s) <= 0):
            raise ValueError(f"link {self.ap}: sample times must increase")
        for name in ("delay_s", "loss_prob"):
            v = getattr(self, name)
            if v is not None and (len(v) != len(self.t_s) or not np.all(np.isfinite(v))):
                raise ValueError(f"link {self.ap}: {name} needs one finite value per time")
        if self.share is not None and not np.all((self.share > 0) & (self.share <= 1)):
            raise ValueError(f"link {self.ap}: share must lie in (0, 1]")
        if np.any(self.range_km < 0):
            raise ValueError(f"link {self.ap}: negative range {self.range_km.min()}")
        for (a, b), (c, _) in zip(self.up_s, self.up_s[1:]):
            if not a <= b <= c:
                raise ValueError(f"link {self.ap}: up intervals must be sorted and disjoint")

    def with_share(self, share, *, checked: bool = False) -> "LinkGeometry":
        """Return this geometry with ``share`` (one value in (0, 1] per sample). Only the
        share is checked, and not at all when ``checked``: a shared replay sets it on
        every link of every terminal, and its caller checks them all at once
        (:func:`sigma_sn.path.load.shared_links`; re-checking each link here was a third
        of the shares' cost, dataclasses.replace re-checking all of it half)."""
        share = np.asarray(share, float)
        if not checked and (len(share) != len(self.t_s)
                            or not (share.min() > 0 and share.max() <= 1)):
            raise ValueError(f"link {self.ap}: share needs one value in (0, 1] per time")
        out = object.__new__(LinkGeometry)
        out.__dict__.update(self.__dict__, share=share)     # frozen: as __init__ would
        return out

    @classmethod
    def constant(cls, ap: str, range_km: float, up_s, *, elev_deg: float = 45.0,
                 end_s: float = 1e9) -> "LinkGeometry":
        """A link at a fixed range (for crafted cases and tests)."""
        return cls(ap, np.array([0.0, end_s]), np.array([range_km, range_km]),
                   np.array([elev_deg, elev_deg]), tuple((float(a), float(b)) for a, b in up_s))


class Link:
    """The space segment between the mobile host and one access point, both directions.

    Each direction has its own drop-tail queue of ``queue_pkts`` packets served at
    ``capacity_bps``; a packet is lost if the link is down when it leaves the queue or
    when it would arrive, or (seeded) at random with a probability that may grow as the
    elevation falls.
    """

    def __init__(self, geometry: LinkGeometry, *, capacity_bps: float, queue_pkts: int,
                 loss_prob: float = 0.0, loss_prob_at_horizon: float | None = None,
                 rng: np.random.Generator | None = None):
        if capacity_bps <= 0:
            raise ValueError(f"link {geometry.ap}: capacity must be > 0, got {capacity_bps}")
        if queue_pkts < 1:
            raise ValueError(f"link {geometry.ap}: queue must hold >= 1 packet, got {queue_pkts}")
        self.geometry = geometry
        self.ap = geometry.ap
        self.capacity_bps = float(capacity_bps)
        self.queue_pkts = int(queue_pkts)
        self._t = np.asarray(geometry.t_s, float).tolist()
        self._k = 0                                    # sample interval of the last lookup
        self._held = geometry.delay_s is not None      # a path: steps, not a slope
        self._delay = (np.asarray(geometry.range_km, float) / C_KM_S if not self._held
                       else np.asarray(geometry.delay_s, float)).tolist()
        self._budget = (None if geometry.loss_prob is None
                        else np.asarray(geometry.loss_prob, float).tolist())
        self._share = (None if geometry.share is None
                       else np.asarray(geometry.share, float).tolist())
        self._elev = np.asarray(geometry.elev_deg, float).tolist()
        self._starts = [a for a, _ in geometry.up_s]
        self._ends = [b for _, b in geometry.up_s]
        self._hit_start, self._hit_end = math.inf, -math.inf
        self.loss_prob = float(loss_prob)
        self.loss_prob_at_horizon = loss_prob_at_horizon
        self._lossless = (self.loss_prob <= 0 and not loss_prob_at_horizon
                          and self._budget is None)
        self._rng = rng if rng is not None else np.random.default_rng(0)
        self._uniform: list[float] = []
        self._queues = {"down": deque(), "up": deque()}
        self._last_dep = {"down": -math.inf, "up": -math.inf}

    def is_up(self, t: float) -> bool:
        """Is the access point above the mask at ``t``?"""
        if self._hit_start <= t <= self._hit_end:      # most calls: the same interval again
            return True
        k = bisect.bisect_right(self._starts, t) - 1
        if k >= 0 and t <= self._ends[k]:
            self._hit_start, self._hit_end = self._starts[k], self._ends[k]
            return True
        return False

    def up_until(self, t: float) -> float:
        """Return when the current up interval ends (``-inf`` if down at ``t``)."""
        k = bisect.bisect_right(self._starts, t) - 1
        return self._ends[k] if k >= 0 and t <= self._ends[k] else -math.inf

    def up_since(self, t: float) -> float:
        """Return when the current up interval began (``inf`` if down at ``t``)."""
        k = bisect.bisect_right(self._starts, t) - 1
        return self._starts[k] if k >= 0 and t <= self._ends[k] else math.inf

    def set_before(self, t: float) -> float:
        """Return when the access point last set before ``t`` (``inf`` if it is up at
        ``t`` or was never up before it)."""
        k = bisect.bisect_right(self._starts, t) - 1
        return self._ends[k] if k >= 0 and t > self._ends[k] else math.inf

    def next_up(self, t: float) -> float:
        """Return when the access point next rises after ``t`` (``inf`` if never)."""
        k = bisect.bisect_right(self._starts, t)
        return self._starts[k] if k < len(self._starts) else math.inf

    def _interval(self, t: float) -> tuple[int, float]:
        """Return ``(k, f)``: ``t`` lies the fraction ``f`` from sample ``k`` to ``k + 1``
        (clamped to the ends). Calls come in time order, so the last ``k`` usually fits."""
        ts = self._t
        k = self._k
        if not ts[k] <= t < ts[k + 1]:
            k = min(max(bisect.bisect_right(ts, t) - 1, 0), len(ts) - 2)
            self._k = k
        f = (t - ts[k]) / (ts[k + 1] - ts[k])
        return k, (0.0 if f < 0.0 else 1.0 if f > 1.0 else f)

    def delay_s(self, t: float) -> float:
        """One-way propagation delay of the space segment (on a path: to the
        correspondent) at ``t`` (s)."""
        if self._held:
            return self._held_at(self._delay, t)
        k, f = self._interval(t)
        d = self._delay
        return d[k] + (d[k + 1] - d[k]) * f

    def _held_at(self, values: list, t: float) -> float:
        """``values`` sampled at ``t_s``, held from each sample to the next."""
        k, f = self._interval(t)
        return values[k + 1] if f >= 1.0 else values[k]

    def elev_deg(self, t: float) -> float:
        k, f = self._interval(t)
        e = self._elev
        return e[k] + (e[k + 1] - e[k]) * f

    def _random_loss(self, t: float) -> bool:
        if self._lossless:
            return False
        p = self.loss_prob
        if self.loss_prob_at_horizon is not None:
            # grows linearly from loss_prob at zenith to loss_prob_at_horizon at 0°
            e = self.elev_deg(t)
            p = p + (self.loss_prob_at_horizon - p) * (1.0 - max(0.0, min(e, 90.0)) / 90.0)
        if self._budget is not None:
            # the link budget's loss at this sample (held like the path's delay)
            p += self._held_at(self._budget, t)
        if p <= 0.0:
            return False
        if not self._uniform:
            self._uniform = self._rng.random(4096).tolist()
        return self._uniform.pop() < p

    def send(self, t_entry: float, size_bytes: int, direction: str) -> tuple[float, str | None]:
        """Send a packet into the link at ``t_entry``.

        Return ``(arrival_time, None)``, or ``(drop_time, cause)`` with cause
        ``"link_down"``, ``"queue_overflow"`` or ``"random_loss"``.
        """
        q = self._queues[direction]
        while q and q[0] <= t_entry:
            q.popleft()
        rate_bps, limit = self.capacity_bps, self.queue_pkts
        if self._share is not None:
            # shared with other mobiles' flows: served at the capacity they leave, with
            # that share of the buffer (a processor-sharing view of the FIFO: the sojourn
            # is the service time over 1 - their utilisation, as M/M/1's)
            share = self._held_at(self._share, t_entry)
            rate_bps, limit = rate_bps * share, max(1, int(limit * share))
        if len(q) > limit:                  # one in service plus queue_pkts waiting
            return t_entry, "queue_overflow"
        dep = max(t_entry, self._last_dep[direction]) + size_bytes * 8.0 / rate_bps
        self._last_dep[direction] = dep
        q.append(dep)
        if not self.is_up(dep):
            return dep, "link_down"
        arrival = dep + self.delay_s(dep)
        if not self.is_up(arrival):
            return arrival, "link_down"
        if self._random_loss(dep):
            return arrival, "random_loss"
        return arrival, None
