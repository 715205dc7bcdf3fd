"""The location manager's timeline (paper §2.3): identity -> primary address over time."""

from __future__ import annotations

import bisect
from typing import Iterable, Mapping


class LocationManager:
    """Answer "who is X at time t" from a plan's ``location_updates``.

    An update holds from its ``t_s`` until the next update of the same mobile; before a
    mobile's first update the answer is ``None``. ``mobiles`` names mobiles that may have
    no update at all (never served); a mobile it has never heard of raises KeyError. Like
    the DNS-like database it models, it keeps the last address it was told, also through
    an outage.
    """

    def __init__(self, location_updates: Iterable[Mapping], mobiles: Iterable[str] = ()):
        rows: dict[str, list[tuple[float, str, str]]] = {m: [] for m in mobiles}
        for u in location_updates:
            rows.setdefault(u["mobile"], []).append((float(u["t_s"]), u["address"], u["ap"]))
        self._t_s: dict[str, list[float]] = {}
        self._rows: dict[str, list[tuple[float, str, str]]] = {}
        for mobile, updates in rows.items():
            updates.sort(key=lambda r: r[0])  # stable: equal times keep the plan's order
            self._rows[mobile] = updates
            self._t_s[mobile] = [r[0] for r in updates]

    @classmethod
    def from_plan(cls, plan: Mapping) -> "LocationManager":
        return cls(plan["location_updates"], (m["name"] for m in plan["mobiles"]))

    @property
    def mobiles(self) -> tuple[str, ...]:
        return tuple(sorted(self._rows))

    def _at(self, mobile: str, t_s: float):
        times = self._t_s.get(mobile)
        if times is None:
            raise KeyError(f"the location manager has no mobile {mobile!r}")
        k = bisect.bisect_right(times, t_s) - 1
        return None if k < 0 else self._rows[mobile][k]

    def lookup(self, mobile: str, t_s: float) -> str | None:
        """Return the primary address of ``mobile`` registered at ``t_s`` (None before the
        first registration). An unknown mobile raises KeyError."""
        row = self._at(mobile, t_s)
        return None if row is None else row[1]

    def lookup_ap(self, mobile: str, t_s: float) -> str | None:
        """Return the access point owning the address :meth:`lookup` returns."""
        row = self._at(mobile, t_s)
        return None if row is None else row[2]

    def history(self, mobile: str) -> list[tuple[float, str, str]]:
        """Return ``(t_s, address, ap)`` of every update of ``mobile`` in time order."""
        return list(self._rows.get(mobile, ()))
