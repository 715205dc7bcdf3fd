"""What ``[security]`` and ``[[failures]]`` share: reading raw TOML tables with errors that
name the file and key, and the replicated location managers' settings
(``[security.location_manager]``), which both the attack runs and the failure runs use.

It imports neither :mod:`sigma_sn.sim.security` nor :mod:`sigma_sn.sim.survive`, so the
two import it, and survive imports security, never the other way round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sigma_sn.errors import InputError


def check_keys(table, allowed, where: str, prefix: str) -> None:
    """Raise :class:`InputError` unless ``table`` is a table of only ``allowed`` keys."""
    if not isinstance(table, dict):
        raise InputError(f"must be a table, got {table!r}", path=where, key=prefix.rstrip("."))
    for key in sorted(table):
        if key not in allowed:
            raise InputError(f"unknown key; expected one of {', '.join(sorted(allowed))}",
                             path=where, key=prefix + key)


def table_value(table: dict, key: str, kind: type, where: str, prefix: str, default=None,
                *, minimum=None):
    """``table[key]`` checked to be a ``kind`` (bool, int, float or str) and >= ``minimum``."""
    value = table.get(key, default)
    name = prefix + key
    if value is None:
        raise InputError("missing", path=where, key=name)
    if kind in (bool, str):
        ok = isinstance(value, kind)
    else:
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              and math.isfinite(value) and (kind is float or float(value).is_integer()))
    if not ok:
        what = {bool: "true or false", int: "a whole number", float: "a number",
                str: "a string"}[kind]
        raise InputError(f"must be {what}, got {value!r}", path=where, key=name)
    if minimum is not None and value < minimum:
        raise InputError(f"must be >= {minimum}, got {value}", path=where, key=name)
    return kind(value)


def table_items(items, where: str, name: str, allowed):
    """Yield ``(key_prefix, table)`` for each table of the array of tables ``name``."""
    if not isinstance(items, (list, tuple)):
        raise InputError(f"must be an array of tables ([[{name}]])", path=where, key=name)
    for i, item in enumerate(items):
        prefix = f"{name}[{i}]."
        check_keys(item, allowed, where, prefix)
        yield prefix, item


def table_choice(table: dict, key: str, choices, where: str, prefix: str) -> str:
    """``table[key]``, a string that must be one of ``choices``."""
    value = table_value(table, key, str, where, prefix)
    if value not in choices:
        raise InputError(f"must be one of {', '.join(choices)}, got {value!r}", path=where,
                         key=prefix + key)
    return value



@dataclass(frozen=True)
class LmReplicas:
    """How the location managers are replicated and how correspondents use them."""

    replicas: int = 3                     # primary + backups
    query_timeout_s: float = 2.0          # a resolver's wait before the next server
    ha_mode: bool = False                 # backups take over the primary's address
    heartbeat_interval_s: float = 1.0
    missed_heartbeats: int = 3
    new_assoc_interval_s: float = 1.0     # a new correspondent starts this often
    setup_deadline_s: float = 30.0        # a new association not set up by then failed

    def __post_init__(self):
        if self.replicas < 1 or self.missed_heartbeats < 1:
            raise ValueError("replicas and missed_heartbeats must be >= 1")
        for name in ("query_timeout_s", "heartbeat_interval_s", "new_assoc_interval_s",
                     "setup_deadline_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


_LM_KEYS = {"replicas", "query_timeout_s", "ha_mode", "heartbeat_interval_s",
            "missed_heartbeats", "new_assoc_interval_s", "setup_deadline_s"}


def parse_location_manager(raw, where: str) -> LmReplicas:
    """Validate ``[security.location_manager]`` (replicas, timeouts, HA mode)."""
    if raw is None:
        return LmReplicas()
    p = "security.location_manager."
    check_keys(raw, _LM_KEYS, where, p)
    d = LmReplicas()
    ints = {"replicas", "missed_heartbeats"}
    values = {}
    for key in sorted(_LM_KEYS):
        default = getattr(d, key)
        if key == "ha_mode":
            values[key] = table_value(raw, key, bool, where, p, default)
        elif key in ints:
            values[key] = table_value(raw, key, int, where, p, default, minimum=1)
        else:
            values[key] = table_value(raw, key, float, where, p, default, minimum=1e-3)
    return LmReplicas(**values)
