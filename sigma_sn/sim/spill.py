"""A packet log whose memory does not grow with the run: packets go to a temporary file
in fixed-size chunks, and only the newest chunks stay in memory.

A packet's entry can still change after it is logged (:meth:`PacketLog.drop`: the CN
finds it out of the blue when it arrives), so a chunk leaves memory only once the
simulated clock is past every arrival in it, with a margin. The file is anonymous (it
vanishes with the process) and holds each chunk's four columns back to back.
"""

from __future__ import annotations

import math
import tempfile
from array import array

import numpy as np

from sigma_sn.sim.model import PacketLog

#: packets per chunk on disk (21 bytes each: about 1.4 MB a chunk)
CHUNK_PACKETS = 1 << 16
#: a chunk leaves memory once the clock is this far past its last send and arrival: a
#: drop comes at a packet's arrival, so this is slack, not a bound anything relies on
SETTLE_S = 60.0
_COLUMNS = (("d", np.float64), ("d", np.float64), ("i", np.int32), ("b", np.int8))


class SpilledLog(PacketLog):
    """A :class:`PacketLog` that streams settled chunks to a temporary file.

    ``clock()`` is the simulation's time. Read it back with :meth:`chunks` after
    :meth:`trimmed`; ``sent_s`` and the other whole columns are loaded on demand (for
    small runs and tests: they cost the memory this class saves)."""

    def __init__(self, ap_names: list[str], clock, chunk_packets: int | None = None):
        super().__init__(ap_names)
        self._clock = clock
        self._chunk = chunk_packets = chunk_packets or CHUNK_PACKETS
        self._base = 0                     # index of the first packet still in memory
        self._spill_at = 2 * chunk_packets
        self._file = None
        self._spilled: list[int] = []      # packets per chunk on disk, in order
        self._frozen = False

    # -- writing -------------------------------------------------------------------------
    def _full(self) -> None:
        """Two chunks are in memory: write the older one out if it has settled."""
        c = self._chunk
        arrival = np.frombuffer(self._arrival, np.float64, count=c)
        last = max(self._sent[c - 1], float(arrival.max(where=arrival == arrival,
                                                        initial=-math.inf)))
        del arrival                        # a live view would pin the array's buffer
        if last + SETTLE_S < self._clock():
            self._write(c)
        self._spill_at = self.n + c

    def _write(self, count: int) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="sigma-sn-log-")
        for col in (self._sent, self._arrival, self._ap, self._cause):
            self._file.write(col[:count].tobytes())
            del col[:count]
        self._spilled.append(count)
        self._base += count

    def drop(self, index: int, cause: str) -> None:
        if index < self._base:
            raise RuntimeError(f"packet {index} was dropped after its chunk left memory")
        super().drop(index - self._base, cause)

    def trimmed(self) -> "SpilledLog":
        """The run is over: write what is left, and read only from now on."""
        if not self._frozen:
            self._frozen = True
            self._spill_at = -1
            if self.n > self._base:
                self._write(self.n - self._base)
        return self

    # -- reading -------------------------------------------------------------------------
    def chunks(self, size: int | None = None):
        """Yield ``(first_index, sent_s, arrival_s, ap, cause)`` per chunk on disk, in send
        order (``size`` is ignored: the chunks are the ones written)."""
        if not self._frozen:
            raise RuntimeError("read a SpilledLog only after trimmed()")
        if self._spilled and self._file is None:
            raise RuntimeError("this packet log was closed: its report is made")
        if self._file is None:
            return
        self._file.seek(0)
        lo = 0
        for count in self._spilled:
            cols = []
            for code, dtype in _COLUMNS:
                buf = array(code)
                buf.frombytes(self._file.read(count * buf.itemsize))
                cols.append(np.frombuffer(buf, dtype=dtype))
            yield (lo, *cols)
            lo += count

    def _column(self, k: int) -> np.ndarray:
        parts = [c[1 + k] for c in self.chunks()]
        return np.concatenate(parts) if parts else np.zeros(0, _COLUMNS[k][1])

    sent_s = property(lambda self: self._column(0))
    arrival_s = property(lambda self: self._column(1))
    ap = property(lambda self: self._column(2))
    cause = property(lambda self: self._column(3))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- across processes (a replay run by a worker) -----------------------------------
    def __getstate__(self):
        state = {k: v for k, v in self.__dict__.items() if k not in ("_file", "_clock")}
        if self._file is not None:
            self._file.seek(0)
            state["_bytes"] = self._file.read()
        return state

    def __setstate__(self, state):
        data = state.pop("_bytes", None)
        self.__dict__.update(state)
        self._clock = None
        self._file = None
        if data is not None:
            self._file = tempfile.TemporaryFile(prefix="sigma-sn-log-")
            self._file.write(data)
