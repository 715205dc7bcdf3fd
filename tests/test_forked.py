"""Forked workers: results in task order, a worker's error or death reaches the caller
promptly, and no worker outlives the ``with`` block."""

from __future__ import annotations

import itertools
import os
import signal
import time

import pytest

from sigma_sn.forked import ForkedMap, WorkerDied, can_fork

pytestmark = pytest.mark.skipif(not can_fork(2), reason="needs the fork start method")


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


def test_leaving_early_ends_every_worker_at_once():
    t0 = time.monotonic()
    with ForkedMap(_pid_then_sleep, range(4), 2) as results:
        pids = list(itertools.islice(results, 2))
    assert time.monotonic() - t0 < 30
    assert len(set(pids)) == 2 and os.getpid() not in pids
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _sigterm_handling(_):
    return signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, signal.getsignal(signal.SIGINT)


def test_workers_end_on_sigterm_even_when_the_caller_catches_it():
    # a Python-level handler runs only between bytecodes: a worker stuck in C would
    # ignore the caller's attempt to stop it
    previous = signal.signal(signal.SIGTERM, lambda *a: None)
    try:
        with ForkedMap(_sigterm_handling, range(2), 2) as results:
            got = list(results)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert got == [(True, signal.SIG_IGN)] * 2
