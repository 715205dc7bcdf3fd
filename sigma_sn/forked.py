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

import io
import mmap
import multiprocessing
import os
import pickle
import signal
import threading
import traceback

import numpy as np


def platform_forks() -> bool:
    """True when this platform can fork at all (not macOS's default, not Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


def can_fork(workers: int) -> bool:
    """True when ``workers`` > 1, this platform can fork, and forking here is safe: the
    session does not run on Dask and no thread but the caller's is alive
    (:func:`other_threads`). Code that would fork runs its work here otherwise."""
    return workers > 1 and platform_forks() and not _on_dask() and not other_threads()


def other_threads() -> list[str]:
    """The names of the live threads other than the caller's. A child forked while one of
    them holds a lock (malloc's, logging's, an import's, Dask's event loop's) inherits
    it held, with no thread left to release it, and can hang on it (POSIX fork():
    "only the calling thread is replicated"). sigma-sn's own threads (the windows
    writer's formatting threads) end before write_windows or print_windows_csv returns, so
    any other thread is someone else's: Dask's client and cluster, an embedding
    application's."""
    here = threading.current_thread()
    return [t.name for t in threading.enumerate() if t is not here]


def _on_dask() -> bool:
    # imported here: sigma_sn.compute imports this module. On Dask the client's threads
    # run (or will, once the first task is sent), and the work has Dask's own workers
    from sigma_sn import compute

    return compute.current().dask


def shared_array(shape, dtype, shared: bool, fill=0) -> np.ndarray:
    """An array of ``fill``, in memory the caller's forked workers write into too (an
    anonymous shared mmap) if ``shared``: their results then need no pickling back."""
    if not shared:
        return np.full(shape, fill, dtype) if fill else np.zeros(shape, dtype)
    n = int(np.prod(shape))
    out = np.frombuffer(mmap.mmap(-1, max(1, n * np.dtype(dtype).itemsize)), dtype=dtype,
                        count=n).reshape(shape)
    if fill:
        out[...] = fill     # a new mapping reads as zeros
    return out


class WorkerDied(RuntimeError):
    """A forked worker ended without returning its results."""


# one pipe-and-fork at a time: a worker forked by another thread in between would inherit
# this pipe's writing end and keep it open, hiding the death of this pipe's worker
_FORK_LOCK = threading.Lock()


class ForkedMap:
    """``fn(task)`` for every task in ``workers`` forked processes: task ``i`` runs in
    worker ``i % workers``, each worker takes its tasks in order and sends each result
    as soon as it has it. Iterate once, inside the ``with`` block, for the results in
    task order. The caller may do other work between entering and iterating, but a
    worker waits on its pipe until the caller reads, so it gets about one result ahead
    of the reading, no more."""

    def __init__(self, fn, tasks, workers: int, *, nice: int = 0):
        self.fn, self.tasks, self.nice = fn, list(tasks), nice
        self.workers = max(0, min(workers, len(self.tasks)))
        self._procs, self._conns = [], []
        self._state = "new"

    def __enter__(self) -> ForkedMap:
        ctx = multiprocessing.get_context("fork")
        try:
            for k in range(self.workers):
                with _FORK_LOCK:
                    reader, writer = ctx.Pipe(duplex=False)
                    proc = ctx.Process(target=_serve, daemon=True,
                                       args=(writer, [*self._conns, reader], self.fn,
                                             self.tasks[k::self.workers], self.nice))
                    proc.start()
                    writer.close()  # the worker's end: its exit is then end-of-file here
                self._procs.append(proc)
                self._conns.append(reader)
        except BaseException:
            self._stop()
            raise
        self._state = "entered"
        return self

    def __iter__(self):
        if self._state != "entered":
            raise RuntimeError("read a ForkedMap's results once, inside its with block")
        self._state = "read"
        for i in range(len(self.tasks)):
            proc, conn = self._procs[i % self.workers], self._conns[i % self.workers]
            try:
                data = conn.recv_bytes()
            except (EOFError, OSError):  # OSError: it ended in the middle of a message
                proc.join()
                raise WorkerDied(f"worker process {proc.pid} {_ended(proc.exitcode)} "
                                 f"before finishing its tasks") from None
            try:
                ok, value, text = pickle.loads(data)
            except Exception as exc:
                raise RuntimeError(f"the result of task {i} from worker process {proc.pid} "
                                   f"cannot be rebuilt here: {exc!r}") from exc
            if not ok:
                raise _rebuilt(value, text)
            yield value

    def __exit__(self, *exc) -> None:
        self._stop()
        self._state = "done"

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


def _rebuilt(pickled: bytes | None, text: str) -> BaseException:
    """The worker's exception with its traceback as a note, or its text alone when the
    exception cannot be rebuilt here."""
    try:
        exc = pickle.loads(pickled) if pickled is not None else None
    except Exception:
        exc = None
    if not isinstance(exc, BaseException):
        return RuntimeError(f"forked worker failed:\n{text}")
    exc.add_note(f"in forked worker:\n{text}")
    return exc


def _serve(conn, inherited, fn, tasks, nice: int) -> None:
    """A worker: run ``fn`` on each task and send ``(ok, result or error, traceback)``."""
    # only the caller may hold the reading ends, so that when it is gone a send fails
    # and the worker ends instead of waiting on a full pipe for ever
    for other in inherited:
        other.close()
    # a Python-level handler inherited from the caller (sigma-sn run sets one) would only
    # run between bytecodes, so a worker stuck in C could not be stopped; the caller
    # stops the workers itself on Ctrl-C
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice:
        os.nice(nice)
    try:
        for task in tasks:
            try:
                data = pickle.dumps((True, fn(task), ""), pickle.HIGHEST_PROTOCOL)
            except BaseException as exc:  # sys.exit() in fn too: the caller must know
                conn.send_bytes(pickle.dumps((False, _pickled(exc), traceback.format_exc())))
                return
            conn.send_bytes(data)
    except OSError:  # the caller is gone: nobody to tell
        pass
    finally:
        conn.close()


def _pickled(exc: BaseException) -> bytes | None:
    """``exc`` pickled, or None when it would not load again."""
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf)
    # Python's own way for exceptions, not a reducer registered with copyreg: importing
    # Dask installs tblib's for every exception, which loses SystemExit's code
    pickler.dispatch_table = {}
    try:
        pickler.dump(exc)
        data = buf.getvalue()
        pickle.loads(data)
        return data
    except Exception:
        return None
