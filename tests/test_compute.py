"""Where work runs (sigma_sn/compute.py): Dask gives the bytes the local run gives, a lost
worker fails the command cleanly, and ``--scheduler`` / ``[compute]`` are checked.

The Dask tests start their own LocalCluster: 2 worker processes, everything (the
dashboard too, on a free port) on loopback; the command reaches it as a user would,
with ``--scheduler tcp://...``."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sigma_sn import compute
from sigma_sn.cli import main
from sigma_sn.errors import InputError
from tests.test_cli_compare import short_scenario

distributed = pytest.importorskip("distributed")


def _cluster(**config):
    import dask

    with dask.config.set(config):
        return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                        host="127.0.0.1", dashboard_address="127.0.0.1:0")


@pytest.fixture(scope="module")
def cluster():
    with _cluster() as c:
        yield c


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    return short_scenario(tmp_path_factory.mktemp("scenario"), duration_s=600)


def _terminals_scenario(tmp_path: Path, n: int) -> Path:
    """The short Iridium scenario with ``n`` terminals (seeded) instead of its one."""
    rng = np.random.default_rng(17)
    lines = ["name,lat_deg,lon_deg"] + [f"T{i:03d},{lat:.3f},{lon:.3f}" for i, (lat, lon)
                                        in enumerate(zip(rng.uniform(-60, 60, n),
                                                         rng.uniform(-180, 180, n)))]
    (tmp_path / "terminals.csv").write_text("\n".join(lines) + "\n")
    text = short_scenario(tmp_path, duration_s=600).read_text()
    head, _, rest = text.partition("[[sites]]")
    _, _, rest = rest.partition("\n\n")   # drop the scenario's own site table
    path = tmp_path / "many.toml"
    path.write_text(head.replace('policy = ', 'site_files = ["terminals.csv"]\npolicy = ', 1)
                    + rest)
    return path


def test_sweep_on_dask_is_byte_identical_to_local(cluster, scenario, tmp_path):
    local, dask_out = tmp_path / "local.csv", tmp_path / "dask.csv"
    args = ["sweep", str(scenario), "--param", "timing.dad_s=0,1", "--param",
            "link.loss_prob=0,0.01", "--rate", "5"]
    assert main([*args, "--out", str(local), "--scheduler", "local"]) == 0
    assert main([*args, "--out", str(dask_out), "--scheduler", cluster.scheduler_address]) == 0
    assert local.read_bytes() == dask_out.read_bytes()
    assert len(local.read_text().splitlines()) > 100


def test_200_terminal_plan_and_replay_on_dask_are_byte_identical(cluster, tmp_path):
    sc = _terminals_scenario(tmp_path, 200)
    out = {}
    for name, where in (("local", "local"), ("dask", cluster.scheduler_address)):
        plan, report = tmp_path / f"{name}-plan.json", tmp_path / f"{name}-report.json"
        assert main(["plan", str(sc), "--out", str(plan), "--scheduler", where]) == 0
        assert main(["simulate", str(plan), "--rate", "1", "--out", str(report),
                     "--scheduler", where]) == 0
        out[name] = plan.read_bytes(), report.read_bytes()
    assert out["local"][0] == out["dask"][0]
    assert out["local"][1] == out["dask"][1]
    # and the replay's groups of mobiles in the local fork pool
    forked = tmp_path / "forked-report.json"
    assert main(["simulate", str(tmp_path / "local-plan.json"), "--rate", "1", "--out",
                 str(forked), "--scheduler", "local", "--workers", "2"]) == 0
    assert forked.read_bytes() == out["local"][1]
    assert out["local"][0].count(b'"mobile": "T') >= 200   # every terminal is planned


def test_compare_and_run_on_dask_are_byte_identical_to_local(cluster, tmp_path):
    sc = _terminals_scenario(tmp_path, 12)
    out = {}
    for name, where in (("local", "local"), ("dask", cluster.scheduler_address)):
        cmp_dir, run_dir = tmp_path / f"{name}-compare", tmp_path / f"{name}-run"
        assert main(["compare", str(sc), "--rate", "2", "--out-dir", str(cmp_dir),
                     "--scheduler", where]) == 0
        assert main(["run", str(sc), "--quiet", "--no-exports", "--out-dir", str(run_dir),
                     "--scheduler", where]) == 0
        out[name] = [(cmp_dir / f).read_bytes() for f in ("compare.json", "compare.csv",
                                                         "plan.json")]
        out[name] += [(run_dir / f).read_bytes() for f in ("report.json", "plan.json")]
    assert out["dask"] == out["local"]
    assert out["local"][0].count(b'"mobile": "T') >= 12 * 4   # every mobile, each protocol


def test_the_protocols_of_a_comparison_send_the_replays_to_dask_once(cluster, tmp_path,
                                                                      monkeypatch):
    """compare and run replay one geometry under four protocols: each group's replays
    are scattered once, to one worker (the one that replays them), not shipped again with
    every protocol's tasks, nor copied to every worker."""
    import json

    from sigma_sn.compare import compare_plan
    from sigma_sn.planner.plan import plan_scenario
    from sigma_sn.scenario import load_scenario
    from sigma_sn.sim.fromplan import config_from_plan, replays_from_plan

    plan = json.loads(json.dumps(plan_scenario(load_scenario(_terminals_scenario(tmp_path,
                                                                                   40)))))
    cfg, mip = config_from_plan(plan, rate_pps=2.0)
    replays = replays_from_plan(plan, plan_dir=tmp_path)
    here = compare_plan(plan, cfg, mip, replays=replays)
    sent = []
    scatter = distributed.Client.scatter
    monkeypatch.setattr(distributed.Client, "scatter",
                        lambda self, data, **kw: sent.append((data, kw))
                        or scatter(self, data, **kw))
    with compute.session(compute.Compute(cluster.scheduler_address)):
        there = compare_plan(plan, cfg, mip, replays=replays)
        placed = [fut for _, fut in compute._SESSION.placed.values()]
        who_has = compute._client().who_has(placed)
    assert json.dumps(there, sort_keys=True) == json.dumps(here, sort_keys=True)
    # one scatter, of every group's replays, none broadcast; each group on one worker,
    # and each worker holds some of them, not all
    [(blobs, kw)] = sent
    assert len(blobs) == len(placed) > 2 and not kw.get("broadcast")
    holders = [tuple(w) for w in who_has.values()]
    assert all(len(h) == 1 for h in holders) and len(set(holders)) == 2
    assert sum(len(b.blob) for b in blobs) > compute.INLINE_BYTES


def _sum_of(task, shared):
    return task + int(shared.sum())


def test_a_shared_input_changed_in_place_is_sent_again(cluster):
    """Reuse goes by the bytes: an array changed in place between two calls of a session
    is not served from the workers' stale copy."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers lack tests/
    big = np.ones(20_000, dtype=np.int64)   # 160 KB: scattered, not inline
    with compute.session(compute.Compute(cluster.scheduler_address)):
        assert list(compute.ordered_map(_sum_of, [0, 1], big)) == [20_000, 20_001]
        big[:] = 2
        assert list(compute.ordered_map(_sum_of, [0, 1], big)) == [40_000, 40_001]
        assert len(compute._SESSION.scattered) == 2


def _own_total(task, shared):
    number, values = task
    return number, [int(v.sum()) + shared for v in values]


def test_tasks_own_inputs_are_placed_once_and_replaced_when_changed(cluster, monkeypatch):
    """A task's own input (ordered_map's ``own``) goes to one worker and is reused by a
    later call given the very same values; another value in its place is sent anew. The
    results are the ones a local run gives."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers lack tests/
    own = [(np.full(10, k), np.full(5, -k)) for k in range(4)]
    want = [(k, [10 * k + 1, -5 * k + 1]) for k in range(4)]
    assert list(compute.ordered_map(_own_total, range(4), 1, own=own)) == want
    sent = []
    scatter = distributed.Client.scatter
    monkeypatch.setattr(distributed.Client, "scatter",
                        lambda self, data, **kw: sent.append(len(data))
                        or scatter(self, data, **kw))
    with compute.session(compute.Compute(cluster.scheduler_address)):
        assert list(compute.ordered_map(_own_total, range(4), 1, own=own)) == want
        assert list(compute.ordered_map(_own_total, range(4), 1, own=list(own))) == want
        own[2] = (np.full(10, 7), own[2][1])
        assert list(compute.ordered_map(_own_total, range(4), 1, own=own)) == \
            [*want[:2], (2, [71, -9]), want[3]]
    assert sent == [4, 1]


def test_a_replay_on_a_path_builds_the_same_geometry_in_its_dask_task(cluster):
    """The path stage's routes are scattered with the windows; each task builds its
    mobile's links on the path (sigma_sn/sim/planned.py) as the local run does."""
    import dataclasses
    import json

    from conftest import REPO
    from sigma_sn.planner.plan import plan_scenario
    from sigma_sn.scenario import load_scenario
    from sigma_sn.sim.fromplan import config_from_plan, simulate_plan

    sc = dataclasses.replace(load_scenario(REPO / "scenarios" / "starlink-isl.toml"),
                             duration_s=600.0)
    plan = json.loads(json.dumps(plan_scenario(sc)))
    cfg, _ = config_from_plan(plan, rate_pps=5.0)
    here = simulate_plan(plan, cfg, plan_dir=REPO / "scenarios")
    with compute.session(compute.Compute(cluster.scheduler_address)):
        there = simulate_plan(plan, cfg, plan_dir=REPO / "scenarios")
    assert json.dumps(here, sort_keys=True) == json.dumps(there, sort_keys=True)
    assert here["path_rtt_ms"] is not None and here["packets"]["delivered"] > 0


def test_link_geometry_built_in_forked_workers_is_the_serial_one(tmp_path):
    import json

    from sigma_sn.planner.plan import plan_scenario
    from sigma_sn.scenario import load_scenario
    from sigma_sn.sim.fromplan import replays_from_plan

    sc = load_scenario(_terminals_scenario(tmp_path, 12))
    plan = json.loads(json.dumps(plan_scenario(sc)))
    serial = replays_from_plan(plan, plan_dir=tmp_path)
    with compute.session(compute.Compute("local", 2)):
        forked = replays_from_plan(plan, plan_dir=tmp_path)
    assert [r.mobile for r in forked] == sorted(f"T{i:03d}" for i in range(12))
    assert _plain(forked) == _plain(serial)
    assert all(len(r.links) >= 2 for r in serial)


def test_built_replays_replayed_in_forked_workers_give_the_serial_report(tmp_path):
    """compare's built replays, each group's its own input, reach forked workers by
    inheritance: the same report as replaying them here."""
    import json

    from sigma_sn.compare import compare_plan
    from sigma_sn.planner.plan import plan_scenario
    from sigma_sn.scenario import load_scenario
    from sigma_sn.sim.fromplan import config_from_plan, replays_from_plan

    plan = json.loads(json.dumps(plan_scenario(load_scenario(_terminals_scenario(tmp_path,
                                                                                   12)))))
    cfg, mip = config_from_plan(plan, rate_pps=2.0)
    replays = replays_from_plan(plan, plan_dir=tmp_path)
    here = compare_plan(plan, cfg, mip, replays=replays)
    with compute.session(compute.Compute("local", 2)):
        forked = compare_plan(plan, cfg, mip, replays=replays)
    assert json.dumps(forked, sort_keys=True) == json.dumps(here, sort_keys=True)
    assert json.dumps(here).count('"mobile": "T') >= 12 * 4


def _plain(x):
    """``x`` with dataclasses as tuples and arrays as their bytes: comparable with ==."""
    import dataclasses

    if dataclasses.is_dataclass(x):
        return tuple(_plain(getattr(x, f.name)) for f in dataclasses.fields(x))
    if isinstance(x, (list, tuple)):
        return tuple(map(_plain, x))
    if isinstance(x, np.ndarray):
        return x.dtype.str, x.shape, x.tobytes()
    return x


def _kill_a_busy_worker(cluster, stop: threading.Event) -> None:
    """Kill (SIGKILL) the first worker seen running a task."""
    with distributed.Client(cluster) as client:
        pids = client.run(os.getpid)
        while not stop.is_set():
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                return
            time.sleep(0.05)


def _main_while_a_worker_is_killed(args: list[str]) -> int:
    """``main(args + --scheduler ...)`` on a fresh cluster that allows no retries (a
    retry would hide the kill), while a busy worker is killed."""
    with _cluster(**{"distributed.scheduler.allowed-failures": 0}) as cluster:
        stop = threading.Event()
        killer = threading.Thread(target=_kill_a_busy_worker, args=(cluster, stop))
        killer.start()
        try:
            return main([*args, "--scheduler", cluster.scheduler_address])
        finally:
            stop.set()
            killer.join()


def test_a_killed_worker_fails_the_command_and_writes_nothing(scenario, tmp_path, capsys):
    out = tmp_path / "sweep.csv"
    assert _main_while_a_worker_is_killed(
        ["sweep", str(scenario), "--param", "link.loss_prob=0,0.01,0.02,0.03",
         "--rate", "20", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "lost its Dask worker" in err and "nothing was written" in err
    assert "link.loss_prob=" in err          # the task's input is named
    assert not out.exists()


def test_a_killed_worker_fails_a_replay_and_writes_no_report(tmp_path, capsys):
    # the replay's tasks build their own geometry: a worker lost there is named too
    sc = _terminals_scenario(tmp_path, 24)
    plan, out = tmp_path / "plan.json", tmp_path / "report.json"
    assert main(["plan", str(sc), "--out", str(plan)]) == 0
    capsys.readouterr()
    assert _main_while_a_worker_is_killed(
        ["simulate", str(plan), "--rate", "20", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "lost its Dask worker" in err and "nothing was written" in err
    assert "group of replays" in err and "mobiles T0" in err   # the task's input is named
    assert not out.exists()


def _slow_first(task, shared):
    time.sleep(0.5)
    return task[0]


def test_a_worker_lost_with_tasks_own_inputs_fails_cleanly():
    """A task's own input lives on one worker only (ordered_map's ``own``): killed with
    it, it cannot be recomputed, and the call fails at once naming the task, not hangs."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers lack tests/
    with _cluster() as cluster:   # Dask's own retries allowed: they cannot help here
        stop = threading.Event()
        killer = threading.Thread(target=_kill_a_busy_worker, args=(cluster, stop))
        killer.start()
        try:
            with compute.session(compute.Compute(cluster.scheduler_address)):
                with pytest.raises(compute.WorkLost, match=r"task \d of 6 \(\d\) lost its "
                                                          "input with the Dask worker"):
                    list(compute.ordered_map(_slow_first, range(6), None,
                                             own=[(np.zeros(20_000),) for _ in range(6)]))
        finally:
            stop.set()
            killer.join()


def _fails_on_two(task, shared):
    if task == 2:
        raise InputError("not a good value", key="x")
    return task * shared


def test_a_failed_task_names_its_input_and_keeps_its_error(cluster):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers lack tests/
    with compute.session(compute.Compute(cluster.scheduler_address)):
        assert list(compute.ordered_map(_fails_on_two, [0, 1], 10)) == [0, 10]
        with pytest.raises(InputError) as got:
            list(compute.ordered_map(_fails_on_two, [0, 1, 2, 3], 10, label="point",
                                     describe=lambda t: f"value {t}"))
    assert "in point 3 of 4: value 2" in got.value.__notes__


def test_many_small_tasks_go_in_runs_in_order_and_a_failure_names_its_own_task(cluster):
    """More tasks than TASKS_PER_WORKER per worker travel in runs of neighbours: the
    results keep task order, Dask sees one task per run, and a task failing inside a run
    is named itself, not its run."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers lack tests/
    n = 3 * compute.TASKS_PER_WORKER * 2 + 1    # 2 workers: several tasks per run
    with compute.session(compute.Compute(cluster.scheduler_address)):
        ticks = []
        assert list(compute.ordered_map(_fails_on_two, range(3, 3 + n), 10,
                                        progress=ticks.append)) == \
            [10 * t for t in range(3, 3 + n)]
        assert len(ticks) == n          # progress still counts tasks, not runs
        with pytest.raises(InputError) as got:
            list(compute.ordered_map(_fails_on_two, [5, 6, 7, 8, 2] + [9] * n, 10,
                                     label="point", describe=lambda t: f"value {t}"))
    assert compute._runs(n + 5, 2)[1][1] == 4   # the second task of a run
    assert f"in point 5 of {n + 5}: value 2" in got.value.__notes__
    runs = compute._runs(n, 2)
    assert len(runs) == 2 * compute.TASKS_PER_WORKER
    assert [i for r in runs for i in r] == list(range(n))
    assert max(map(len, runs)) - min(map(len, runs)) <= 1


def _plus_sum(task, shared):
    return task + int(shared[1].sum())


def test_shared_inputs_are_reused_only_for_the_same_bytes(cluster):
    """A session keeps the last few scattered inputs for reuse, by their bytes: another
    value is scattered anew, past the few the oldest is dropped, and results follow."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers lack tests/
    with compute.session(compute.Compute(cluster.scheduler_address)):
        for k in [0, 1, 2, 3, 4, 5, 0, 5]:   # 160 KB each: scattered, not inline
            big = np.full(20_000, k, dtype=np.int64)
            assert list(compute.ordered_map(_plus_sum, [0, 1], ("small", big))) == \
                [20_000 * k, 20_000 * k + 1]
        assert len(compute._SESSION.scattered) == compute.KEEP_SCATTERED


@pytest.mark.parametrize("table, key", [
    ('scheduler = "yarn"', "compute.scheduler"),
    ("workers = 0", "compute.workers"),
    ('workers = "2"', "compute.workers"),
    ("threads = 2", "compute.threads"),
    ('scheduler = "tcp://10.0.0.1:8786"\nworkers = 4', "compute.workers"),
])
def test_a_bad_compute_section_is_named_with_exit_2(table, key, tmp_path, capsys):
    sc = short_scenario(tmp_path, extra=f"\n[compute]\n{table}\n")
    assert main(["plan", str(sc)]) == 2
    err = capsys.readouterr().err
    assert f"{sc}: {key}:" in err


def test_bad_scheduler_option_exits_2(scenario, capsys):
    assert main(["plan", str(scenario), "--scheduler", "tcp://nohost"]) == 2
    assert "--scheduler: must be local, dask-local or tcp://HOST:PORT" in capsys.readouterr().err


def test_the_command_line_wins_over_the_scenario(tmp_path):
    sc = short_scenario(tmp_path, extra='\n[compute]\nscheduler = "dask-local"\nworkers = 3\n')
    from sigma_sn.scenario import load_scenario

    loaded = load_scenario(sc).compute
    assert loaded == compute.Compute("dask-local", 3)
    with compute.session(compute.Compute("local", None), given=(True, False)):
        compute.adopt(loaded)
        assert compute.current() == compute.Compute("local", 3)


def test_satellites_survive_pickling_bit_for_bit():
    import pickle

    from sigma_sn.elements import load_elements

    sats = load_elements(Path(__file__).resolve().parents[1] / "tle_data"
                         / "iridium_like.tle").satellites
    for sat in sats:
        copy = pickle.loads(pickle.dumps(sat.satrec))
        fields = [n for n in dir(sat.satrec) if not n.startswith("_")
                  and not callable(getattr(sat.satrec, n))]
        assert [getattr(copy, n) for n in fields] == [getattr(sat.satrec, n) for n in fields]
        jd, fr = np.full(5, sat.satrec.jdsatepoch), sat.satrec.jdsatepochF + np.arange(5) / 7
        assert np.array_equal(copy.sgp4_array(jd, fr)[1], sat.satrec.sgp4_array(jd, fr)[1])


def _double(task, shared):
    return 2 * task + shared


def test_where_fork_is_unavailable_dask_stands_in_for_the_pool(monkeypatch):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers lack tests/
    monkeypatch.setattr(compute, "platform_forks", lambda: False)
    with compute.session(compute.Compute("local", 2)):
        assert list(compute.ordered_map(_double, range(5), 1, workers=2)) == [1, 3, 5, 7, 9]
        assert compute.current() == compute.Compute("dask-local", 2)


def test_meanwhile_runs_once_here_while_the_tasks_are_out(cluster):
    """The caller's own share (the planner's candidate rows) overlaps the workers': on
    Dask it runs after every task is submitted, before the first result is awaited;
    where the tasks run here, first. Results follow in task order either way."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers lack tests/
    for where in ("local", cluster.scheduler_address):
        seen = []

        def meanwhile():
            out = len(compute._client().futures) if compute.current().dask else None
            seen.append(("meanwhile", os.getpid(), out))

        with compute.session(compute.Compute(where)):
            for value in compute.ordered_map(_double, range(5), 1, workers=2,
                                             meanwhile=meanwhile):
                seen.append(value)
        assert seen == [("meanwhile", os.getpid(), None if where == "local" else 5),
                        1, 3, 5, 7, 9]


def test_an_unreachable_scheduler_is_named_with_exit_2(scenario, capsys):
    import socket

    import dask

    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert main(["sweep", str(scenario), "--param", "timing.dad_s=0",
                     "--scheduler", f"tcp://127.0.0.1:{port}"]) == 2
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in capsys.readouterr().err


def test_plan_and_replay_on_dask_never_fork_the_caller(cluster, tmp_path, monkeypatch):
    # the caller runs Dask's client threads: a child forked now could inherit a held lock
    scenario = _grid_scenario(tmp_path)
    out = {}
    for name, where in (("local", "local"), ("dask", cluster.scheduler_address)):
        if name == "dask":
            monkeypatch.setattr(os, "fork", _refuse_fork)
        plan, report = tmp_path / f"{name}-plan.json", tmp_path / f"{name}-report.json"
        assert main(["plan", str(scenario), "--out", str(plan), "--scheduler", where]) == 0
        assert main(["simulate", str(plan), "--rate", "2", "--out", str(report),
                     "--scheduler", where]) == 0
        out[name] = plan.read_bytes(), report.read_bytes()
    assert out["dask"] == out["local"]


def _grid_scenario(tmp_path: Path) -> Path:
    """24 terminals (one would plan in one process) under max-elevation: the planner
    fills its decision grid of satellite positions in forked processes where it may."""
    path = _terminals_scenario(tmp_path, 24)
    text = path.read_text()
    assert 'policy = "min-handovers"' in text
    path.write_text(text.replace('policy = "min-handovers"', 'policy = "max-elevation"'))
    return path


def _refuse_fork():
    raise AssertionError("forked in the caller while Dask's threads run")
