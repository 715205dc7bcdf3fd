"""Forked workers: results in task order, a worker's error or death reaches the caller
promptly, and no worker outlives the ``with`` block."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from sigma_sn import compute, forked
from sigma_sn.forked import ForkedMap, WorkerDied, platform_forks

pytestmark = pytest.mark.skipif(not platform_forks(), reason="needs the fork start method")


def _square_after(task):
    value, delay_s = task
    time.sleep(delay_s)
    return value * value


def test_results_come_in_task_order_whatever_order_workers_finish():
    # the first tasks are the slowest, so later ones finish first
    tasks = [(k, 0.05 * (7 - k) if k < 7 else 0.0) for k in range(23)]
    for workers in (2, 3, 5, 40):
        with ForkedMap(_square_after, tasks, workers) as results:
            assert list(results) == [k * k for k in range(23)]


class Refused(ValueError):
    pass


def _refuse_seven(k):
    if k == 7:
        raise Refused(f"task {k} refused")
    return k


def test_a_worker_error_is_raised_in_the_caller_with_its_type_and_traceback():
    got = []
    with pytest.raises(Refused, match="task 7 refused") as info:
        with ForkedMap(_refuse_seven, range(12), 3) as results:
            for value in results:
                got.append(value)
    assert got == list(range(7))
    assert any("_refuse_seven" in note for note in info.value.__notes__)


class Unpicklable(Exception):
    def __init__(self, a, b):  # pickling calls __init__ with one argument: fails to load
        super().__init__(f"{a}/{b}")


def _raise_unpicklable(k):
    raise Unpicklable(k, "x")


def test_an_error_that_cannot_be_pickled_still_reaches_the_caller_as_text():
    with pytest.raises(RuntimeError, match="Unpicklable: 0/x"):
        with ForkedMap(_raise_unpicklable, range(4), 2) as results:
            list(results)


def _die_on_three(k):
    if k == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return k


def test_a_killed_worker_is_an_error_naming_the_signal_not_a_hang():
    t0 = time.monotonic()
    with pytest.raises(WorkerDied, match="killed by SIGKILL"):
        with ForkedMap(_die_on_three, range(10), 2) as results:
            list(results)
    assert time.monotonic() - t0 < 30


def _pid_then_sleep(k):
    if k >= 2:  # each worker's second task
        time.sleep(60)
    return os.getpid()


def _ended(pid: int) -> bool:
    """True once ``pid`` is gone or a zombie (an orphan's reaper may be slow or absent)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _wait_until_ended(pids, limit_s=20.0) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        if all(_ended(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


def test_leaving_early_ends_every_worker_at_once():
    t0 = time.monotonic()
    with ForkedMap(_pid_then_sleep, range(4), 2) as results:
        pids = list(itertools.islice(results, 2))
    assert time.monotonic() - t0 < 30
    assert len(set(pids)) == 2 and os.getpid() not in pids
    assert all(_ended(pid) for pid in pids)


def test_a_worker_ends_on_sigterm_even_when_the_caller_catches_it():
    # a Python-level handler inherited from the caller would only note the signal and
    # let the worker sleep on (or stay stuck in C)
    previous = signal.signal(signal.SIGTERM, lambda *a: None)
    try:
        with pytest.raises(WorkerDied, match="killed by SIGTERM"):
            with ForkedMap(_pid_then_sleep, range(4), 2) as results:
                for pid in results:
                    os.kill(pid, signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)


ORPHANS = """
import os, signal, sys, time
from sigma_sn.forked import ForkedMap

def big(k):  # more than a pipe holds: the worker waits on every send
    time.sleep(0.1)
    return os.getpid(), bytes(1 << 20)

with ForkedMap(big, range(400), 2) as results:
    it = iter(results)
    pids = {next(it)[0], next(it)[0]}
    print(*pids, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_workers_end_when_their_caller_is_killed():
    # otherwise they wait for ever on a full pipe, holding the caller's stdout open
    proc = subprocess.Popen([sys.executable, "-c", ORPHANS], stdout=subprocess.PIPE,
                            text=True)
    pids = [int(p) for p in proc.stdout.readline().split()]
    try:
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL and len(pids) == 2
        assert _wait_until_ended(pids), [p for p in pids if not _ended(p)]
        assert proc.stdout.read() == ""  # end of file: no worker holds the pipe
    finally:  # a failure leaves no orphans behind
        for pid in pids:
            if not _ended(pid):
                os.kill(pid, signal.SIGKILL)


def _big_then_killed(k):
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGKILL)).start()
    return bytes(50 << 20)  # the caller reads only after the timer has fired


def test_a_worker_killed_in_the_middle_of_a_result_is_named():
    with pytest.raises(WorkerDied, match="killed by SIGKILL"):
        with ForkedMap(_big_then_killed, range(2), 2) as results:
            time.sleep(1.5)
            list(results)


def _exit_three(k):
    sys.exit(3)


def test_sys_exit_in_a_worker_is_raised_in_the_caller_as_in_a_serial_run():
    with pytest.raises(SystemExit) as info:
        with ForkedMap(_exit_three, range(2), 2) as results:
            list(results)
    assert info.value.code == 3


def test_no_tasks_fork_nothing_and_results_are_read_once_inside_the_block():
    with ForkedMap(_square_after, [], 4) as results:
        assert list(results) == []
    assert results.workers == 0
    fm = ForkedMap(_square_after, [(2, 0.0)], 2)
    with pytest.raises(RuntimeError, match="inside its with block"):
        list(fm)
    with fm as results:
        assert list(results) == [4]
        with pytest.raises(RuntimeError, match="once"):
            list(results)


def test_errors_cross_as_python_pickles_them_even_after_dask_is_imported():
    pytest.importorskip("distributed")   # it installs tblib's reducer for every exception
    test_sys_exit_in_a_worker_is_raised_in_the_caller_as_in_a_serial_run()
    test_an_error_that_cannot_be_pickled_still_reaches_the_caller_as_text()


def test_a_thread_someone_else_started_stops_forking():
    # POSIX fork(): only the calling thread is copied, so a lock it holds stays held
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, name="not-ours")
    other.start()
    try:
        assert "not-ours" in forked.other_threads()
        assert not forked.can_fork(2)
    finally:
        stop.set()
        other.join()
    assert "not-ours" not in forked.other_threads()


def test_a_dask_session_stops_forking_even_before_its_client_starts(monkeypatch):
    monkeypatch.setattr(forked, "other_threads", lambda: [])   # this rule alone
    assert forked.can_fork(2)
    with compute.session(compute.Compute("dask-local", 2)):
        assert not forked.can_fork(2)
    assert forked.can_fork(2)


_COUNT_FORKS = """
import os, sys
from pathlib import Path
from sigma_sn.cli import main
from tests.test_compute import _grid_scenario

forks = []
real_fork = os.fork
def counting_fork():
    forks.append(1)
    return real_fork()
os.fork = counting_fork
tmp = Path(sys.argv[1])
sc = _grid_scenario(tmp)
assert main(["plan", str(sc), "--out", str(tmp / "plan.json"), "--scheduler", "local",
             "--workers", "2"]) == 0
print(len(forks))
"""


def test_a_plain_local_run_still_plans_in_the_fork_pool(tmp_path):
    # a fresh interpreter: this one may hold threads an earlier test's Dask left behind
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", _COUNT_FORKS, str(tmp_path)], cwd=repo,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) >= 4   # the grid's pool and the groups' pool


def test_the_suite_reaches_here_with_no_thread_but_its_own():
    # conftest runs the Dask tests last; were a thread left behind before this point,
    # the fork-pool tests above would have run in-process without saying so
    assert forked.other_threads() == [] and forked.can_fork(2)
