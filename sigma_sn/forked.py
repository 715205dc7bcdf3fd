"""Work shared among forked processes that never leaves the caller waiting on a dead one.

Why not :class:`multiprocessing.pool.Pool`: when one of its workers dies (killed for
memory, a crash) the pool forks a replacement from one of its own threads and waits for
the lost task for ever, and a process forked from a threaded one can deadlock on a lock
another thread held at the fork. Here the caller's thread forks every worker before any
work starts, a worker that dies is an error naming how it ended, and leaving the
``with`` block, normally or by an exception, ends every worker.

Forking is what lets the workers read the caller's large inputs (set in a module global
just before) without pickling them.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import traceback


def can_fork(workers: int) -> bool:
    """True when ``workers`` > 1 and this platform can fork."""
    return workers > 1 and "fork" in multiprocessing.get_all_start_methods()


class WorkerDied(RuntimeError):
    """A forked worker ended without returning its results."""


class ForkedMap:
    """``fn(task)`` for every task in ``workers`` forked processes: task ``i`` runs in
    worker ``i % workers``, each worker takes its tasks in order and sends each result
    as soon as it has it. Iterate inside the ``with`` block for the results in task
    order; the caller may do other work between entering and iterating."""

    def __init__(self, fn, tasks, workers: int, *, nice: int = 0):
        self.fn, self.tasks, self.nice = fn, list(tasks), nice
        self.workers = max(1, min(workers, len(self.tasks)))
        self._procs, self._conns = [], []

    def __enter__(self) -> ForkedMap:
        ctx = multiprocessing.get_context("fork")
        try:
            for k in range(self.workers):
                reader, writer = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_serve, daemon=True,
                                   args=(writer, self.fn, self.tasks[k::self.workers],
                                         self.nice))
                proc.start()
                writer.close()  # the worker's end: its exit is then end-of-file here
                self._procs.append(proc)
                self._conns.append(reader)
        except BaseException:
            self._stop()
            raise
        return self

    def __iter__(self):
        for i in range(len(self.tasks)):
            k = i % self.workers
            try:
                ok, value, text = self._conns[k].recv()
            except EOFError:
                proc = self._procs[k]
                proc.join()
                raise WorkerDied(f"worker process {proc.pid} {_ended(proc.exitcode)} "
                                 f"before finishing its tasks") from None
            if not ok:
                if isinstance(value, BaseException):
                    value.add_note(f"in forked worker:\n{text}")
                    raise value
                raise RuntimeError(f"forked worker failed:\n{text}")
            yield value

    def __exit__(self, *exc) -> None:
        self._stop()

    def _stop(self) -> None:
        for proc in self._procs:
            if proc.exitcode is None:
                proc.kill()  # idle or unfinished: nothing of a worker's is worth keeping
        for proc in self._procs:
            proc.join()
        for conn in self._conns:
            conn.close()
        self._procs, self._conns = [], []


def _ended(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        hint = " (out of memory?)" if -exitcode == signal.SIGKILL else ""
        return f"was killed by {name}{hint}"
    return f"exited with status {exitcode}"


def _serve(conn, fn, tasks, nice: int) -> None:
    """A worker: run ``fn`` on each task and send ``(ok, result or error, traceback)``."""
    # a Python-level handler inherited from the caller (sigma-sn run sets one) would only
    # run between bytecodes, so a worker stuck in C could not be stopped; the caller
    # stops the workers itself on Ctrl-C
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice:
        os.nice(nice)
    try:
        for task in tasks:
            conn.send((True, fn(task), ""))
    except Exception as exc:
        text = traceback.format_exc()
        try:  # an error that does not survive pickling goes as its text alone
            exc = pickle.loads(pickle.dumps(exc))
        except Exception:
            exc = None
        conn.send((False, exc, text))
    finally:
        conn.close()
