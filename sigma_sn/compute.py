"""Where work runs: here (the fork pool, :mod:`sigma_sn.forked`) or on Dask distributed.

One place decides. A command opens a :func:`session` with the user's choice
(``--scheduler local|dask-local|tcp://HOST:PORT``, ``--workers N``, or the scenario's
``[compute]``); the code that has units of work (groups of mobiles for planning, one
mobile for a replay, one parameter point for a sweep) calls :func:`ordered_map`, which
runs them in forked processes, here, or as Dask tasks (also where this platform cannot
fork: a ``dask-local`` cluster then stands in for the fork pool). Whatever runs them, the results
come back in task order, so every output is byte-identical.

On Dask the large input every task reads (``shared``: the planner's job, a replay's
inputs and config) is scattered to every worker once, not shipped with each task; a
tuple's large parts each on their own, and a part with the bytes of one scattered earlier
in the session is not sent again. A task's own large input (``own``: a group's built
replays, which every protocol of a comparison reads) goes to one worker only, where its
task runs, once per session. Every such input, each task and each result cross as one
pickled blob (:class:`_Packed`), out of band. A single task runs here: Dask would only
add its round trips. A worker that dies is retried by Dask
(``distributed.scheduler.allowed-failures``); past that, or when it held a task's own
input, the command fails naming the task, and writes nothing.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import importlib.util
import os
import pickle
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from sigma_sn.errors import InputError
from sigma_sn.forked import ForkedMap, can_fork, platform_forks

SCHEDULERS = ("local", "dask-local")
#: what ``--scheduler`` accepts, for help texts
SCHEDULER_HELP = ("where work runs: local (forked processes on this machine, the default), "
                  "dask-local (a Dask cluster started here) or tcp://HOST:PORT (a running "
                  "Dask scheduler; docs/scale-out.md)")


@dataclass(frozen=True)
class Compute:
    """Where work runs. ``workers``: processes here (``local``: None is the command's own
    default) or the Dask workers ``dask-local`` starts (None: one per core)."""

    scheduler: str = "local"
    workers: int | None = None

    @property
    def dask(self) -> bool:
        return self.scheduler != "local"


def parse(scheduler: str | None, workers: int | None, *, where: str | None = None,
          prefix: str = "--") -> Compute:
    """Return the checked :class:`Compute`; a bad value raises :class:`InputError` naming
    ``where`` (a file) and the key (``--scheduler`` or ``compute.scheduler``)."""
    sep = "" if prefix == "--" else "."
    scheduler = "local" if scheduler is None else scheduler
    if not isinstance(scheduler, str) or not (
            scheduler in SCHEDULERS or _address(scheduler)):
        raise InputError(f"must be local, dask-local or tcp://HOST:PORT, got {scheduler!r}",
                         path=where, key=f"{prefix}{sep}scheduler")
    if scheduler != "local" and importlib.util.find_spec("distributed") is None:
        raise InputError("needs Dask: pip install 'sigma-sn[dask]'", path=where,
                         key=f"{prefix}{sep}scheduler")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise InputError(f"must be a whole number >= 1, got {workers!r}", path=where,
                         key=f"{prefix}{sep}workers")
    if workers is not None and _address(scheduler):
        raise InputError("a running scheduler has the workers it has: start more with "
                         "'dask worker' (docs/scale-out.md)", path=where,
                         key=f"{prefix}{sep}workers")
    return Compute(scheduler, workers)


def _address(text: str) -> bool:
    host, _, port = text.removeprefix("tcp://").rpartition(":")
    return text.startswith("tcp://") and bool(host) and port.isdigit()


def from_table(table: Any, where: str) -> Compute:
    """The scenario's ``[compute]`` table, checked key by key."""
    if not isinstance(table, dict):
        raise InputError("must be a table ([compute])", path=where, key="compute")
    unknown = sorted(set(table) - {"scheduler", "workers"})
    if unknown:
        raise InputError("unknown key; expected scheduler, workers", path=where,
                         key=f"compute.{unknown[0]}")
    return parse(table.get("scheduler"), table.get("workers"), where=where, prefix="compute")


def add_options(parser) -> None:
    """``--scheduler`` and ``--workers`` on a command."""
    parser.add_argument("--scheduler", metavar="WHERE", help=SCHEDULER_HELP)
    parser.add_argument("--workers", type=int, metavar="N",
                        help="worker processes (local: forked here; dask-local: Dask "
                             "workers); default one per core")


#: how ``dask-local`` runs its cluster (docs/scale-out.md has the measurements): every task
#: sent to a worker as soon as it is submitted (the scheduler's default queue sends a
#: worker its next task only when one finishes, a round trip of about 5 ms a task here);
#: no sampling profiler in the workers (8-10 % of their CPU); and the event loops' watchdog
#: tick and the memory and system monitors woken once a second or less, not 10-50 times
#: (an idle 2-worker cluster took 0.077 CPU s a second, 0.014 s with these)
DASK_LOCAL_CONFIG = {
    "distributed.scheduler.worker-saturation": "inf",
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


class WorkLost(RuntimeError):
    """Work that could not be finished because the workers running it were lost."""


class _Session:
    def __init__(self, compute: Compute, given: tuple[bool, bool]):
        self.compute, self.given, self.client, self.cluster = compute, given, None, None
        # the shared parts scattered so far, by their bytes' digest: the most recent few
        # (their futures keep them on the workers, unpickled, until the session ends)
        self.scattered: collections.OrderedDict = collections.OrderedDict()
        # the last call's own inputs of its tasks, each on one worker, by the identities
        # of the values in it (held here with their futures, so an id stays theirs)
        self.placed: dict = {}


_SESSION: _Session | None = None


def from_args(args) -> Compute:
    """The command line's :class:`Compute` (``--scheduler``, ``--workers``)."""
    return parse(args.scheduler, args.workers)


@contextlib.contextmanager
def session(compute: Compute, *, given: tuple[bool, bool] = (True, True)):
    """Run the body's work where ``compute`` says; a Dask client is made on first use and
    closed (with the cluster ``dask-local`` started) on leaving. ``given``: whether the
    scheduler and the worker count were chosen (else a scenario's ``[compute]`` may)."""
    global _SESSION
    outer, _SESSION = _SESSION, _Session(compute, given)
    try:
        yield _SESSION
    finally:
        mine, _SESSION = _SESSION, outer
        if mine.client is not None:
            mine.client.close()
        if mine.cluster is not None:
            mine.cluster.close()


def command_session(args):
    """The session of a command with ``--scheduler``/``--workers`` (else a no-op)."""
    if not hasattr(args, "scheduler"):
        return contextlib.nullcontext()
    return session(from_args(args), given=(args.scheduler is not None,
                                           args.workers is not None))


def current() -> Compute:
    """The session's :class:`Compute` (local, command defaults, outside any session)."""
    return Compute() if _SESSION is None else _SESSION.compute


def adopt(scenario_compute: Compute | None) -> None:
    """Let the scenario's ``[compute]`` decide what the command line left unset."""
    s = _SESSION
    if s is None or scenario_compute is None or s.client is not None:
        return
    s.compute = parse(s.compute.scheduler if s.given[0] else scenario_compute.scheduler,
                      s.compute.workers if s.given[1] else scenario_compute.workers)


def workers(default: int | None) -> int | None:
    """The worker count for local work: the session's, else ``default``."""
    chosen = current().workers
    return default if chosen is None else chosen


def _client():
    s = _SESSION
    if s.client is None:
        from distributed import Client, LocalCluster

        if s.compute.scheduler == "dask-local":
            import dask

            # loopback only (the dashboard too, on a free port): nothing listens beyond
            # this machine. With DASK_LOCAL_CONFIG (docs/scale-out.md, measured there)
            with dask.config.set(DASK_LOCAL_CONFIG):
                s.cluster = LocalCluster(n_workers=s.compute.workers or os.cpu_count() or 1,
                                         threads_per_worker=1, processes=True,
                                         host="127.0.0.1", dashboard_address="127.0.0.1:0")
            s.client = Client(s.cluster)
        else:
            try:
                # waits distributed.comm.timeouts.connect (Dask's default: 30 s)
                s.client = Client(s.compute.scheduler)
            except OSError as exc:  # refused, unreachable, or timed out
                raise InputError(f"cannot reach the Dask scheduler at {s.compute.scheduler}: "
                                 f"{exc}", key="--scheduler") from None
    return s.client


def dask_workers() -> int:
    """How many Dask workers the session's scheduler has now (at least 1)."""
    return max(1, len(_client().scheduler_info()["workers"]))


def chunks(items: list, workers: int) -> list[list]:
    """``items`` in consecutive groups, about 8 per worker: even loads, and a task per
    item would cost more in Dask's bookkeeping than a short one does."""
    size = max(1, -(-len(items) // (8 * workers)))
    return [items[k:k + size] for k in range(0, len(items), size)]


def ordered_map(fn: Callable, tasks: Iterable, shared: Any = None, *, workers: int = 1,
                label: str = "task", describe: Callable[[Any], str] = repr,
                nice: int = 0, progress: Callable[[int], None] | None = None,
                meanwhile: Callable[[], None] | None = None,
                own: list[tuple] | None = None,
                ship: Callable[[tuple], tuple] | None = None) -> Iterator:
    """Yield ``fn(task, shared)`` for every task, in task order: as Dask tasks when the
    session says so and there are several (``shared`` scattered once to every worker), else
    in ``workers`` forked processes where forking is safe
    (:func:`sigma_sn.forked.can_fork`; ``shared`` inherited by the fork), else here.
    ``label`` and ``describe(task)`` name a task that failed; ``progress(1)`` is called
    per result. ``meanwhile()``, if given, runs here once, before the first result is
    awaited: while the workers run the tasks (or first, when they run here).
    ``own``, if given, holds each task's own large input (a tuple of values): ``fn`` then
    gets ``(task, own[i])`` as its task. On Dask each is scattered to one worker, where its
    task runs, not to all of them, and reused by later calls of the session that give the
    very same values (so they must not be changed in place; the built replays, frozen, are
    not); here, it is read from memory (inherited by a fork). ``ship(own[i])``, if given,
    is what a Dask worker gets of it instead (what the caller alone reads left out)."""
    tasks = list(tasks)
    if own is not None and len(own) != len(tasks):
        raise ValueError(f"own: {len(own)} inputs for {len(tasks)} tasks")
    if (_SESSION is not None and not current().dask and workers > 1 and len(tasks) > 1
            and not platform_forks() and importlib.util.find_spec("distributed")):
        # no fork here (macOS, Windows): Dask's own worker processes instead
        _SESSION.compute = Compute("dask-local", workers)
    if current().dask and len(tasks) > 1:
        yield from _dask_map(fn, tasks, shared, own, ship, label, describe, progress, meanwhile)
        return
    global _CALL
    if own is not None:   # a task names its own input by number, not pickled for a fork
        fn, tasks = functools.partial(_with_own, fn, own), list(enumerate(tasks))
    if can_fork(min(workers, len(tasks))):
        _CALL = fn, shared
        try:
            with ForkedMap(_forked_call, tasks, workers, nice=nice) as results:
                _call(meanwhile)
                for value in results:
                    _tick(progress)
                    yield value
        finally:
            _CALL = None
        return
    _call(meanwhile)
    for task in tasks:
        yield fn(task, shared)
        _tick(progress)


_CALL: tuple | None = None   # (fn, shared) the forked workers read


def _forked_call(task):
    global _SESSION
    _SESSION = None   # what a task runs inside runs here, in this worker: no pool in a pool
    fn, shared = _CALL
    return fn(task, shared)


def _with_own(fn, own, numbered, shared):
    i, task = numbered
    return fn((task, own[i]), shared)


def _call(meanwhile) -> None:
    if meanwhile is not None:
        meanwhile()


def _tick(progress) -> None:
    if progress is not None:
        progress(1)


#: a shared part smaller than this (pickled) goes inside the tasks' arguments: scattering
#: it would cost a round trip to the scheduler and a copy to each worker
INLINE_BYTES = 64 * 1024
#: how many scattered parts a session keeps for reuse (the most recent)
KEEP_SCATTERED = 4
#: at most this many Dask tasks per worker: more tasks than that go in runs of neighbours,
#: one Dask task each (a Dask task costs the caller and the scheduler a few ms of CPU:
#: a 32-point sweep of 60 ms points paid 10-20 % more than the fork pool one by one)
TASKS_PER_WORKER = 4


def _dask_map(fn, tasks, shared, own, ship, label, describe, progress, meanwhile) -> Iterator:
    from distributed import KilledWorker, as_completed
    from distributed.client import FutureCancelledError

    client = _client()
    n_workers = len(client.scheduler_info()["workers"])
    if not n_workers:
        # tasks would wait for ever
        raise WorkLost(f"the Dask scheduler at {current().scheduler} has no workers; start "
                       f"some with 'dask worker {current().scheduler}' (docs/scale-out.md)")
    futures = []
    try:
        parts = shared if isinstance(shared, tuple) else (shared,)
        # a task's own input lives on one worker: its task goes alone, to it
        runs = (_runs(len(tasks), n_workers) if own is None
                else [range(i, i + 1) for i in range(len(tasks))])
        args = [[_scattered(client, part)] * len(runs) for part in parts]
        if own is not None:
            args.append(_placed(client, own, ship))
        # one graph for every run, and their results fetched by Dask's event loop as
        # each finishes (not one round trip from here per result); taken in task order
        futures = client.map(functools.partial(_dask_call, fn, isinstance(shared, tuple),
                                               own is not None),
                             [_Packed.of([tasks[i] for i in run]) for run in runs], *args,
                             pure=False)
        _call(meanwhile)   # here, while the workers run the tasks
        order = {f.key: k for k, f in enumerate(futures)}
        arrived = {}
        done = as_completed(futures, with_results=True, raise_errors=False)
        for k, (fut, run) in enumerate(zip(futures, runs)):
            while k not in arrived:
                got, value = next(done)
                arrived[order[got.key]] = value
            value = arrived.pop(k)
            try:
                if fut.status != "finished":
                    fut.result()   # raises the task's error (or KilledWorker)
                values = value.value()
            except KilledWorker:
                raise WorkLost(
                    f"{_which(label, run, tasks, describe)} lost its Dask worker more times "
                    "than distributed.scheduler.allowed-failures allows (killed, out of "
                    "memory, or its machine went away); nothing was written") from None
            except FutureCancelledError:
                # its own input, scattered to one worker, went with it: Dask cannot
                # recompute scattered data
                raise WorkLost(
                    f"{_which(label, run, tasks, describe)} lost its input with the Dask "
                    "worker holding it (killed, out of memory, or its machine went away); "
                    "nothing was written") from None
            except Exception as exc:
                i = run[getattr(exc, "sigma_sn_task", 0)]   # which of the run failed
                exc.add_note(f"in {label} {i + 1} of {len(tasks)}: {describe(tasks[i])}")
                raise
            fut.release()
            for value in values:
                _tick(progress)
                yield value
        futures = []
    finally:
        if futures:
            client.cancel(futures)


def _runs(n_tasks: int, n_workers: int) -> list[range]:
    """Tasks ``0..n_tasks-1`` cut into runs of neighbours, at most
    :data:`TASKS_PER_WORKER` per worker, as even as they go."""
    n = max(1, min(n_tasks, TASKS_PER_WORKER * max(1, n_workers)))
    bounds = [n_tasks * k // n for k in range(n + 1)]
    return [range(a, b) for a, b in zip(bounds, bounds[1:])]


def _which(label: str, run: range, tasks: list, describe) -> str:
    """The tasks of ``run`` named for a message: "sweep point 3 of 32 (x=1)", or for a
    run of several "sweep points 3-6 of 32 (x=1; ...; x=4)"."""
    if len(run) == 1:
        return f"{label} {run[0] + 1} of {len(tasks)} ({describe(tasks[run[0]])})"
    return (f"{label}s {run[0] + 1}-{run[-1] + 1} of {len(tasks)} "
            f"({'; '.join(describe(tasks[i]) for i in run)})")


def _scattered(client, part):
    """``part`` as a task argument: packed, if small; else the future of its packed copy
    on every worker, scattered now unless the session scattered the same bytes before
    (by their digest: a part changed in place since is packed anew, and sent again)."""
    s = _SESSION
    packed = _Packed.of(part)
    if len(packed.blob) < INLINE_BYTES:
        return packed
    digest = hashlib.blake2b(packed.blob, digest_size=20).hexdigest()
    if digest in s.scattered:
        s.scattered.move_to_end(digest)
    else:
        [s.scattered[digest]] = client.scatter([packed], broadcast=True, hash=False,
                                               direct=_direct())
        while len(s.scattered) > KEEP_SCATTERED:
            # a future forgotten here is released once no task of this call holds it
            s.scattered.popitem(last=False)
    return s.scattered[digest]


def _direct() -> bool:
    """Whether to send scattered data straight to the workers, not through the scheduler
    (about half the time here): on ``dask-local``, whose workers this process reaches;
    a remote scheduler's workers may not be (behind its SSH tunnel, say)."""
    return current().scheduler == "dask-local"


def _placed(client, own: list[tuple], ship) -> list:
    """The futures of each task's own input, each on one worker: those the session placed
    before for the very same values (by identity: held with their futures, so their ids
    stay theirs), the rest packed and scattered now, spread over the workers."""
    s = _SESSION
    keys = [tuple(map(id, values)) for values in own]
    new = [k for k, key in enumerate(keys) if key not in s.placed]
    if new:
        # no broadcast: Dask puts each on one worker, in turn, and runs its task there
        sent = client.scatter([_Packed.of(own[k] if ship is None else ship(own[k]))
                               for k in new], hash=False, direct=_direct())
        for k, fut in zip(new, sent):
            s.placed[keys[k]] = (own[k], fut)
    # only this call's are kept: the others' futures forgotten, their workers free them
    s.placed = {key: s.placed[key] for key in keys}
    return [s.placed[key][1] for key in keys]


class _Packed:
    """A value as one pickled blob, for Dask to move as it is: Dask's own serialization
    walks dicts and lists item by item (scattering the planner's job took 0.4-1.2 s,
    its dict of 1,000 look-ups alone 130 s, against 0.05 s as one blob). A worker
    unpickles a scattered blob once, for every task that reads it (a task's own input
    once per task: :func:`_dask_call`)."""

    __slots__ = ("blob", "_value")

    def __init__(self, blob: bytes):
        self.blob = blob

    @classmethod
    def of(cls, value) -> "_Packed":
        try:
            # pickle's own: a third faster than cloudpickle's on the planner's job
            blob = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            if b"__main__" in blob:   # names something of a script, which workers lack
                raise pickle.PicklingError("by reference to __main__")
        except (pickle.PicklingError, AttributeError, TypeError):
            import cloudpickle   # Dask's own dependency; pickles the lambdas a job may hold

            blob = cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        return cls(blob)

    def value(self):
        try:
            return self._value
        except AttributeError:
            self._value = pickle.loads(self.blob)
            return self._value

    def __reduce_ex__(self, protocol):
        if protocol >= 5:
            # out of band where the pickler takes buffers, as Dask's does: the blob moves
            # as a frame of its own, not copied into its message (scattering 4.2 MB to two
            # workers took 104-157 ms in-band here, 20-49 ms so)
            return _Packed, (pickle.PickleBuffer(self.blob),)
        return _Packed, (self.blob,)


def _dask_call(fn, as_tuple: bool, with_own: bool, run: _Packed, *parts: _Packed
               ) -> _Packed:
    """``[fn(task, shared) for task in run]`` on a Dask worker (``shared``: the parts as
    a tuple, or the one part; the run's one task's own input, if any, the last part), the
    results packed for the way back. A task's error leaves with its place in the run."""
    tasks = run.value()
    if with_own:
        # read by this task alone, once per call: unpickled afresh, not kept beside its blob
        tasks, parts = [(tasks[0], pickle.loads(parts[-1].blob))], parts[:-1]
    shared = tuple(p.value() for p in parts) if as_tuple else parts[0].value()
    out = []
    for k, task in enumerate(tasks):
        try:
            out.append(fn(task, shared))
        except Exception as exc:
            exc.sigma_sn_task = k   # travels in the exception's __dict__
            raise
    return _Packed.of(out)


__all__ = ["Compute", "SCHEDULERS", "add_options", "adopt", "chunks", "current",
           "dask_workers", "WorkLost", "from_args", "from_table", "ordered_map", "parse",
           "session", "workers"]
