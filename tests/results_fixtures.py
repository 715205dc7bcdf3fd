"""Small real results for testing figures and reports: a plan from the planner, a
comparison from the simulator, a sweep from ``run_sweep``, each over a short window of
the shipped Iridium-like router scenario (a terminal in Boulder), plus hand-made sweep
rows whose values the sweep figure's test can check exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import json

from conftest import REPO

#: the shipped Iridium-like router scenario
SCENARIO = REPO / "scenarios" / "iridium-router.toml"
DURATION_S = 3600.0
RATE_PPS = 10.0


def _scenario(duration_s: float = DURATION_S):
    from sigma_sn.scenario import load_scenario
    return dataclasses.replace(load_scenario(SCENARIO), duration_s=duration_s)


@functools.lru_cache(maxsize=None)
def _plan_json() -> str:
    from sigma_sn.planner.plan import dumps, plan_scenario
    return dumps(plan_scenario(_scenario()))


def small_plan() -> dict:
    """Return the planner's plan of the Boulder terminal over an hour (a fresh copy)."""
    return json.loads(_plan_json())


@functools.lru_cache(maxsize=None)
def _compare_json() -> str:
    from sigma_sn.compare import compare_plan, dumps
    from sigma_sn.sim.fromplan import config_from_plan
    plan = small_plan()
    cfg, mip = config_from_plan(plan, rate_pps=RATE_PPS)
    return dumps(compare_plan(plan, cfg, mip))


def small_compare(plan: dict | None = None) -> dict:
    """Return the simulator's comparison of SIGMA-SN and Mobile IP on :func:`small_plan`
    (``plan`` is accepted for symmetry and must be that plan)."""
    return json.loads(_compare_json())


def small_report(plan: dict | None = None, protocol: str = "sigma") -> dict:
    """Return one protocol's simulation report of :func:`small_plan`."""
    return small_compare()["reports"][protocol]


def small_sweep() -> list[dict]:
    """Return hand-made sweep rows (strings, as the CSV holds them): packets lost and
    latency against the guard time, two protocols, values a test can check exactly."""
    rows = []
    for guard in (0.5, 1.0, 2.0, 4.0):
        for protocol, lost in (("sigma", max(0, 40 - 20 * guard)), ("mip", 55)):
            rows.append({"param": "guard_s", "value": f"{guard:g}", "protocol": protocol,
                         "metric": "packets_lost", "unit": "", "result": f"{lost:g}"})
            rows.append({"param": "guard_s", "value": f"{guard:g}", "protocol": protocol,
                         "metric": "latency_p50", "unit": "ms",
                         "result": f"{30 + guard + (0 if protocol == 'sigma' else 20):g}"})
    return rows


@functools.lru_cache(maxsize=None)
def real_sweep_csv() -> str:
    """Return the sweep CSV ``sigma-sn sweep`` writes for two DAD times over 20 minutes."""
    from sigma_sn.sweep import parse_param, run_sweep, sweep_csv
    rows = run_sweep(_scenario(1200.0), [parse_param("timing.dad_s=0,1")], rate_pps=RATE_PPS)
    return sweep_csv(rows, 1)


def write_results(folder, *, plan=True, compare=True, report=False, sweep=True) -> dict:
    """Write plan.json, compare.json (with compare.csv), report.json (SIGMA-SN) and
    sweep.csv into ``folder`` with the writers the commands use; return the plan."""
    from sigma_sn.atomic import write_text
    from sigma_sn.compare import write_compare
    from sigma_sn.planner.io import write_plan_json

    p = small_plan()
    if plan:
        write_plan_json(folder / "plan.json", p)
    if compare:
        write_compare(small_compare(), folder)
    if report:
        write_text(folder / "report.json", json.dumps(small_report(), sort_keys=True, indent=1))
    if sweep:
        write_text(folder / "sweep.csv", real_sweep_csv())
    return p
