"""From a plan (``sigma-sn/plan/1``, docs/plan-format.md) to the timed actions an
emulation performs on a real stack, for SIGMA-SN or the Mobile IP baseline.

This reads the plan on its own (no import from ``sigma_sn.sim``): the emulation and the
SimPy replay are two independent routes from one plan to one table.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from sigma_sn.errors import InputError

PLAN_SCHEMA = "sigma-sn/plan/1"
#: the plan's actions that retire the old address (the rest are about the new one)
_RETIRE = ("DELETE_IP", "DEACTIVATE")


class Protocol(enum.Enum):
    SIGMA = "sigma"   # make-before-break: MPTCP subflows driven by the plan's events
    MIP = "mip"       # break-before-make: one address at a time, Mobile IPv6 style


class Op(enum.Enum):
    """What the emulation does to the stack; each maps to one plan step."""

    L2_UP = "l2_up"              # Mobile IP: the new link carries, the address forms
    ATTACH = "attach"            # Mobile IP: the new address's subflow; the old one goes
    ADD_IP = "add_ip"            # ADD_IP: MPTCP endpoint add ... subflow backup (MP_JOIN)
    SET_PRIMARY = "set_primary"  # SET_PRIMARY: backup flags swapped (MP_PRIO)
    DELETE_IP = "delete_ip"      # DELETE_IP / DEACTIVATE: endpoint delete (REMOVE_ADDR)
    LOS = "los"                  # the access point sets: its link goes down


@dataclass(frozen=True)
class Action:
    """One step at ``t_s`` seconds after the slice's start (plan time, which a run
    compresses) plus ``delay_s`` (a protocol's own wait, which it does not)."""

    t_s: float
    op: Op
    ap: str
    address: str
    handover: int          # the plan's handover index
    retire: str | None = None   # MIP's ATTACH: the old address it replaces
    delay_s: float = 0.0

    def wall_s(self, speedup: float) -> float:
        """Seconds after the run's start, with plan time compressed ``speedup`` times."""
        return self.t_s / speedup + self.delay_s


@dataclass(frozen=True)
class Timing:
    """The plan's timing block: what a break-before-make attachment waits for."""

    l2_s: float
    ra_s: float
    dad_s: float
    bu_rtt_s: float        # binding update to the home agent and back

    @property
    def attach_s(self) -> float:
        """From the old link's loss to the new address in use (Mobile IP)."""
        return self.l2_s + self.ra_s + self.dad_s + self.bu_rtt_s


@dataclass(frozen=True)
class HandoverInfo:
    index: int
    from_ap: str
    to_ap: str
    feasible: bool
    t_s: float             # the plan's SET_PRIMARY, after the slice's start
    los_s: float           # the old access point's LOS, after the slice's start


@dataclass(frozen=True)
class Schedule:
    """What one emulation run of one mobile does, in plan seconds from ``start_s``."""

    mobile: str
    protocol: Protocol
    start_s: float          # the slice's start, seconds after the plan's start
    duration_s: float
    first_ap: str
    first_address: str
    actions: tuple[Action, ...]
    handovers: tuple[HandoverInfo, ...]
    dropped: tuple[int, ...]          # handovers the slice cuts through, left out
    prefixes: dict                    # access point -> its prefix ("2001:db8:d::/48")
    correspondent: str                # the CN's address: subnet 0, which no AP gets
    timing: Timing


def _get(plan: dict, source: str, *keys, kind=None):
    value = plan
    for depth, k in enumerate(keys):
        if not isinstance(value, dict) or k not in value:
            raise InputError("missing", path=source, key=".".join(map(str, keys[:depth + 1])))
        value = value[k]
    if kind is not None and not isinstance(value, kind):
        raise InputError(f"has the wrong type ({type(value).__name__})", path=source,
                         key=".".join(map(str, keys)))
    return value


def check_plan(plan, source: str) -> None:
    """Raise InputError unless ``plan`` looks like a ``sigma-sn/plan/1`` object."""
    if not isinstance(plan, dict):
        raise InputError("a plan must be a JSON object", path=source)
    if plan.get("schema") != PLAN_SCHEMA:
        raise InputError(f"not a plan: expected {PLAN_SCHEMA!r}, got {plan.get('schema')!r}",
                         path=source, key="schema")


def timing_of(plan: dict, source: str = "plan") -> Timing:
    """The plan's timing block; the binding update's RTT is two terrestrial legs (the
    home agent sits behind the access network, DESIGN.md's Mobile IP baseline)."""
    t = _get(plan, source, "inputs", "parameters", "timing", kind=dict)
    try:
        return Timing(float(t.get("l2_s", 0.0)), float(t.get("ra_s", 0.0)),
                      float(t.get("dad_s", 0.0)),
                      2.0 * float(t.get("terrestrial_one_way_s", 0.0)))
    except (TypeError, ValueError) as exc:
        raise InputError(f"must hold numbers ({exc})", path=source,
                         key="inputs.parameters.timing") from None


def correspondent_address(plan: dict, source: str = "plan") -> str:
    """Host 1 of subnet 0 of the plan's prefix: access points get subnets 1, 2, ...
    (docs/plan-format.md), so the correspondent never collides with a mobile."""
    text = (plan.get("inputs", {}).get("parameters", {}).get("addresses") or {}).get(
        "prefix", "2001:db8::/32")
    try:
        net = ipaddress.IPv6Network(text)
    except ValueError as exc:
        raise InputError(str(exc), path=source, key="inputs.parameters.addresses.prefix") \
            from None
    return str(net.network_address + 1)


def build_schedule(plan: dict, protocol: Protocol, *, mobile: str | None = None,
                   start_s: float = 0.0, duration_s: float | None = None,
                   source: str = "plan") -> Schedule:
    """The actions for ``mobile`` (default: the plan's first) over ``[start_s, start_s +
    duration_s]``. The mobile starts where the protocol has it at ``start_s``; a slice
    may not start inside a handover (its steps, and for Mobile IP its break and
    attachment). One that the end cuts through is left out and listed in ``dropped``.
    Coverage gaps (the plan's outages) are not emulated."""
    check_plan(plan, source)
    plan_s = float(_get(plan, source, "duration_s", kind=(int, float)))
    if duration_s is None:
        duration_s = plan_s - start_s
    if not (0.0 <= start_s < plan_s) or not duration_s > 0:
        raise InputError(f"the slice [{start_s:g}, {start_s + duration_s:g}] s is not inside "
                         f"the plan's [0, {plan_s:g}] s", path=source, key="--start-s")
    end_s = min(start_s + duration_s, plan_s)
    mobiles = _get(plan, source, "mobiles", kind=list)
    names = [m.get("name") for m in mobiles]
    if not mobiles:
        raise InputError("the plan has no mobile", path=source, key="mobiles")
    name = names[0] if mobile is None else mobile
    if name not in names:
        raise InputError(f"no mobile named {name}; the plan has {', '.join(names)}",
                         path=source, key="mobiles")
    m = mobiles[names.index(name)]
    try:
        return _schedule(plan, m, protocol, start_s, end_s, source)
    except InputError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"malformed plan ({exc!r}); is it a sigma-sn/plan/1 file written by "
                         "'sigma-sn plan'?", path=source) from None


def _schedule(plan, m, protocol, start_s, end_s, source) -> Schedule:
    prefixes = {a["name"]: str(ipaddress.IPv6Network(a["prefix"]))
                for a in _get(plan, source, "access_points", kind=list)}
    serving = m.get("serving") or []
    if not serving:
        raise InputError(f"mobile {m['name']} is never served", path=source, key="mobiles")
    address_of = {s["ap"]: s["address"] for s in serving}
    first_ap = serving[0]["ap"]
    candidates = m.get("candidates") or []
    timing = timing_of(plan, source)
    actions: list[Action] = []
    infos, dropped = [], []
    hos = sorted((h for h in _get(plan, source, "handovers", kind=list)
                  if h["mobile"] == m["name"]), key=lambda h: int(h["index"]))
    for h in hos:
        events = {e["action"]: e for e in h["events"]}
        t_sp = float(events["SET_PRIMARY"]["t_s"])
        los_s = _los(candidates, h["from"], t_sp)
        times = [float(e["t_s"]) for e in h["events"]] + [los_s]
        if protocol is Protocol.MIP:
            times = [los_s, los_s + timing.attach_s]
        if max(times) <= start_s:
            first_ap = h["to"]          # done before the slice: the mobile starts there
            continue
        if min(times) < start_s:
            # its steps would start half-done: say where a slice may start instead
            raise InputError(f"the slice starts inside handover {h['index']} of "
                             f"{m['name']} ({min(times):g} to {max(times):g} s for "
                             f"{protocol.value}); start before or after it", path=source,
                             key="--start-s")
        if max(times) > end_s:
            if min(times) <= end_s:
                dropped.append(int(h["index"]))
            continue
        k = int(h["index"])
        infos.append(HandoverInfo(k, h["from"], h["to"], bool(h.get("feasible", True)),
                                  t_sp - start_s, los_s - start_s))
        old = next(e["address"] for a, e in events.items() if a in _RETIRE)
        new = events["ADD_IP"]["address"]
        if protocol is Protocol.MIP:
            # break-before-make at the old access point's LOS (RFC 6275 §11.5.1 movement
            # detection after L2, RA wait, DAD (RFC 4862 §5.4), then the binding update)
            actions.append(Action(los_s - start_s, Op.LOS, h["from"], old, k))
            actions.append(Action(los_s - start_s, Op.L2_UP, h["to"], new, k,
                                  delay_s=timing.l2_s))
            actions.append(Action(los_s - start_s, Op.ATTACH, h["to"], new, k, retire=old,
                                  delay_s=timing.attach_s))
            continue
        for action, e in events.items():
            op = {"ADD_IP": Op.ADD_IP, "SET_PRIMARY": Op.SET_PRIMARY,
                  "DELETE_IP": Op.DELETE_IP, "DEACTIVATE": Op.DELETE_IP}.get(action)
            if op is not None:   # ADDRESS_READY coincides with ADD_IP; LM_UPDATE is DNS
                ap = h["from"] if action in _RETIRE else h["to"]
                actions.append(Action(float(e["t_s"]) - start_s, op, ap, e["address"], k))
        actions.append(Action(los_s - start_s, Op.LOS, h["from"], old, k))
    order = {op: n for n, op in enumerate(Op)}
    actions.sort(key=lambda a: (a.t_s + a.delay_s, a.handover, order[a.op]))
    return Schedule(m["name"], protocol, start_s, end_s - start_s, first_ap,
                    address_of[first_ap], tuple(actions), tuple(infos), tuple(dropped), prefixes,
                    correspondent_address(plan, source), timing)


def _los(candidates, ap: str, t_s: float) -> float:
    """The LOS of ``ap``'s last window to rise by ``t_s`` (the handover's switch; after
    that LOS when the handover is hard)."""
    risen = [c for c in candidates if c["ap"] == ap and c["aos_s"] <= t_s]
    if not risen:
        raise ValueError(f"no candidate window of {ap} rises by t = {t_s} s")
    return float(max(risen, key=lambda c: c["aos_s"])["los_s"])
