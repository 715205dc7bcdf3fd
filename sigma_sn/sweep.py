"""Parameter sweeps: plan and compare a scenario at every value of one or two parameters,
and write the results as a tidy CSV (one row per value, protocol and metric).

What each parameter name changes (``PARAMETERS`` lists them):

* ``timing.<field>`` — the timing block (DESIGN.md) every protocol reads: ``timing.l2_s``,
  ``timing.ra_s`` and ``timing.dad_s`` are the access network's L2 handover, RA interval
  and DAD for SIGMA-SN and the Mobile IPv6 family alike (the plan records them and
  ``config_from_plan`` hands them to every protocol);
* ``window.min_elev_deg`` — the elevation mask (a site's own mask still overrides it);
* ``site.lat_deg`` — the terminal's latitude (router mode; every terminal moves);
* ``link.<field>``, ``traffic.<field>``, ``mip.<field>`` — the simulator's link, traffic
  and Mobile IP parameters, named as in the scenario file.

Element-set age is not offered: with one element set per constellation there is no truth
to replay an older set against, and shifting the window away from the set's epoch would
replay the plan against the same elements, i.e. with no prediction error at all.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import time
from dataclasses import dataclass
from typing import Any, Callable

from sigma_sn import compute
from sigma_sn.errors import InputError

#: traffic fields a sweep may not change: the Mobile IP baseline replays CBR only
FIXED_TRAFFIC = ("traffic",)

NO_AGE = ("not offered: the element sets on disk have one epoch per "
          "constellation, so there is no truth to replay an older set against (shifting the "
          "window would replay the plan against the same elements, with no prediction error)")


def _fields(cls) -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(cls)}


def parameters() -> dict[str, Any]:
    """Every sweepable name and an example of its type (the default)."""
    from sigma_sn.planner.core import Timing
    from sigma_sn.scenario import LINK_KEYS, TRAFFIC_KEYS
    from sigma_sn.sim import MipConfig, SimConfig
    from sigma_sn.sim.mip import ACCESS_FIELDS

    sim = _fields(SimConfig)
    out: dict[str, Any] = {f"timing.{k}": v for k, v in _fields(Timing).items()}
    out["window.min_elev_deg"] = 0.0
    out["site.lat_deg"] = 0.0
    out.update({f"link.{k}": sim[k] for k in LINK_KEYS})
    out.update({f"traffic.{k}": sim[k] for k in TRAFFIC_KEYS if k not in FIXED_TRAFFIC})
    out.update({f"mip.{k}": v for k, v in _fields(MipConfig).items() if k not in ACCESS_FIELDS})
    return out


@dataclass(frozen=True)
class Param:
    """One swept parameter: its name, its values, and the values as the user wrote them."""

    name: str
    values: tuple
    texts: tuple[str, ...]


def _typed(name: str, text: str, example):
    """``text`` as the type of ``example`` (bool, int, str, or float for floats and None)."""
    bad = InputError(f"value {text!r} is not a {type(example).__name__}", key=name)
    if isinstance(example, bool):
        if text.lower() not in ("true", "false"):
            raise InputError(f"value {text!r} must be true or false", key=name)
        return text.lower() == "true"
    if isinstance(example, str):
        return text
    try:
        value = int(text) if isinstance(example, int) else float(text)
    except ValueError:
        raise bad from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"value {text!r} must be finite", key=name)
    return value


def parse_param(spec: str) -> Param:
    """Parse ``NAME=V1,V2,...``; raise :class:`InputError` naming an unknown parameter or a
    value of the wrong type."""
    name, sep, rest = spec.partition("=")
    name = name.strip()
    if not sep or not name:
        raise InputError(f"expected NAME=V1,V2,..., got {spec!r}", key="--param")
    if name == "elements.age_days":
        raise InputError(NO_AGE, key=name)
    known = parameters()
    if name not in known:
        raise InputError("unknown sweep parameter; choose from "
                         + ", ".join(sorted(known)), key=name)
    texts = tuple(t.strip() for t in rest.split(","))
    if not texts or any(not t for t in texts):
        raise InputError(f"give one or more comma-separated values, got {rest!r}", key=name)
    if len(set(texts)) != len(texts):
        raise InputError(f"a value is given twice: {rest!r}", key=name)
    return Param(name, tuple(_typed(name, t, known[name]) for t in texts), texts)


@dataclass(frozen=True)
class Point:
    """One run of a sweep: the scenario to plan and the simulator overrides."""

    assignment: tuple[tuple[str, str], ...]    # (name, value as written), in --param order
    scenario: Any
    overrides: dict


def apply(scenario, assignment: list[tuple[str, Any]]):
    """Return ``(scenario, overrides)``: ``scenario`` with the planner-side values set, and
    the SimConfig / MipConfig field overrides for ``config_from_plan``. Values are checked
    here (a bad one raises :class:`InputError` naming the parameter) before anything runs."""
    from sigma_sn.planner.kinds import Mode
    from sigma_sn.sim import MipConfig, SimConfig

    sc = scenario
    sim_over: dict = {}
    mip_over: dict = {}
    for name, value in assignment:
        group, _, field = name.partition(".")
        if group == "timing":
            if value < 0:
                raise InputError(f"must be >= 0, got {value}", key=name)
            sc = dataclasses.replace(sc, timing=dataclasses.replace(sc.timing, **{field: value}))
        elif name == "window.min_elev_deg":
            if not -90 <= value < 90:
                raise InputError(f"must be in [-90, 90), got {value}", key=name)
            sc = dataclasses.replace(sc, min_elev_deg=value)
        elif name == "site.lat_deg":
            if sc.mode is not Mode.ROUTER:
                raise InputError("moves the terminal: router mode only (in host mode the "
                                 "sites are ground stations)", key=name)
            if not -90 <= value <= 90:
                raise InputError(f"must be in [-90, 90], got {value}", key=name)
            sc = dataclasses.replace(sc, sites=tuple(dataclasses.replace(s, lat_deg=value)
                                                     for s in sc.sites))
        elif group in ("link", "traffic"):
            sim_over[field] = value
        else:
            mip_over[field] = value
    # the configs' own checks, on the scenario's values plus these
    for cls, base, over in ((SimConfig, sc.sim, sim_over), (MipConfig, sc.mip, mip_over)):
        try:
            dataclasses.replace(base, **over)
        except ValueError as exc:
            names = ", ".join(f"{n}={v}" for n, v in assignment)
            raise InputError(f"{exc} (at {names})", key=assignment[0][0]) from None
    return sc, {**sim_over, **mip_over}


def grid(scenario, params: list[Param]) -> list[Point]:
    """Every combination of the parameters' values (first parameter outermost), checked."""
    if not 1 <= len(params) <= 2:
        raise InputError(f"sweep one or two parameters, got {len(params)}", key="--param")
    if len({p.name for p in params}) != len(params):
        raise InputError("the same parameter is swept twice", key=params[0].name)
    points = []
    for combo in itertools.product(*(range(len(p.values)) for p in params)):
        assignment = [(p.name, p.values[i]) for p, i in zip(params, combo)]
        sc, overrides = apply(scenario, assignment)
        points.append(Point(tuple((p.name, p.texts[i]) for p, i in zip(params, combo)), sc,
                            overrides))
    return points


def _plan_key(sc) -> tuple:
    """What the plan depends on among the values a sweep changes."""
    return sc.timing, sc.min_elev_deg, sc.sites


def run_sweep(scenario, params: list[Param], *, seed: int | None = None,
              rate_pps: float | None = None, truth_elements=None,
              plan_fn: Callable | None = None, log=None,
              more_rows: Callable | None = None) -> list[dict]:
    """Plan and compare ``scenario`` at every point of the grid; return the tidy rows
    ``{param, value[, param2, value2], protocol, metric, unit, result}``.

    A plan is made once per distinct planner-side setting and reused for simulator-side
    values. ``log`` (a text stream, e.g. ``sys.stderr``) gets one line per run.
    ``more_rows(plan, doc)``, if given, returns further ``{protocol, metric, unit, result}``
    rows for each point (``sigma-sn sweep --policies``: path RTT, handovers per hour).
    """
    from sigma_sn.compare import PROTOCOLS
    points = grid(scenario, params)
    # a plan and its link geometry per distinct planner-side setting, reused by
    # simulator-side values; then one task per point (sigma_sn.compute: in order, so the
    # same rows wherever they run)
    keys = list(dict.fromkeys(_plan_key(p.scenario) for p in points))
    first = {}
    for p in points:
        first.setdefault(_plan_key(p.scenario), p)
    describe = _describe_point
    plans = dict(zip(keys, compute.ordered_map(
        _plan_point, [first[k] for k in keys], (plan_fn, truth_elements),
        workers=compute.workers(1), label="sweep plan", describe=describe)))
    tasks = [(k, p, keys.index(_plan_key(p.scenario))) for k, p in enumerate(points, 1)]
    docs = compute.ordered_map(_compare_point, tasks,
                               (seed, rate_pps, scenario.path, [plans[k] for k in keys]),
                               workers=compute.workers(1), label="sweep point",
                               describe=lambda task: describe(task[1]))
    rows = []
    for (k, point, which), (doc, took_s) in zip(tasks, docs):
        head: dict = {}
        for j, (name, text) in enumerate(point.assignment):
            suffix = "" if j == 0 else str(j + 1)
            head[f"param{suffix}"], head[f"value{suffix}"] = name, text
        for protocol in PROTOCOLS:
            for r in doc["table"]:
                rows.append({**head, "protocol": protocol, "metric": r["metric"],
                             "unit": r["unit"], "result": r[protocol]})
        if more_rows is not None:
            plan = plans[keys[which]][0]
            rows += [{**head, **r} for r in more_rows(plan, doc)]
        if log is not None:
            t = {r["metric"]: r for r in doc["table"]}
            print(f"sweep [{k}/{len(points)}] {describe(point)}: loss SIGMA-SN "
                  f"{t['loss_rate']['sigma']} / MIP {t['loss_rate']['mip']}, handover latency"
                  f" mean {t['handover_latency_mean']['sigma']} / "
                  f"{t['handover_latency_mean']['mip']} ms ({took_s:.1f} s)", file=log)
            log.flush()
    return rows


def _describe_point(point: Point) -> str:
    return " ".join(f"{n}={v}" for n, v in point.assignment)


def _plan_point(point: Point, shared: tuple) -> tuple:
    """The plan of ``point``'s scenario and its link geometry (``shared``: the plan
    function, or None for the planner's, and the truth elements)."""
    from sigma_sn.sim.fromplan import replays_from_plan

    plan_fn, truth_elements = shared
    if plan_fn is None:
        from sigma_sn.planner.plan import plan_scenario as plan_fn
    plan = plan_fn(point.scenario)
    return plan, replays_from_plan(plan, truth_elements=truth_elements)


def _compare_point(task: tuple, shared: tuple) -> tuple[dict, float]:
    """Every protocol compared at one point (``task``: its number, the point and which
    plan it replays; ``shared``: --seed, --rate, the scenario's path and every plan with
    its replays); the seconds it took."""
    from sigma_sn.compare import compare_plan
    from sigma_sn.sim.fromplan import config_from_plan

    t0 = time.monotonic()
    _, point, which = task
    seed, rate_pps, path, plans = shared
    plan, replays = plans[which]
    # a swept value wins over --seed / --rate (it was passed twice: a TypeError)
    cfg, mip = config_from_plan(plan, **{"seed": seed, "rate_pps": rate_pps,
                                         **point.overrides})
    if cfg.traffic != "cbr":
        raise InputError("the comparison needs CBR traffic (the Mobile IP baseline "
                         f"replays CBR only), the scenario has {cfg.traffic!r}",
                         path=str(path), key="traffic.traffic")
    return compare_plan(plan, cfg, mip, replays=replays), time.monotonic() - t0


def columns(n_params: int, policy: bool = False) -> tuple[str, ...]:
    """The CSV header for one or two swept parameters (led by ``policy`` with
    ``--policies``)."""
    lead = ("param", "value") if n_params == 1 else ("param", "value", "param2", "value2")
    return (*(("policy",) if policy else ()), *lead, "protocol", "metric", "unit", "result")


def sweep_csv(rows: list[dict], n_params: int, policy: bool = False) -> str:
    """The rows as tidy CSV text (``None`` results are empty cells)."""
    from sigma_sn.compare import cell

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = columns(n_params, policy)
    w.writerow(cols)
    for r in rows:
        w.writerow([cell(r[c]) if c == "result" else r[c] for c in cols])
    return buf.getvalue()


def describe() -> str:
    """Help text listing the sweepable names (for ``sigma-sn sweep --help``)."""
    names = sorted(parameters())
    groups: dict[str, list[str]] = {}
    for n in names:
        g, _, f = n.partition(".")
        groups.setdefault(g, []).append(f)
    return "; ".join(f"{g}.{{{','.join(fs)}}}" for g, fs in groups.items())
