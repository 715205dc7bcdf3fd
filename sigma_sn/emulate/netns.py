"""A mobile and a correspondent in two network namespaces, joined by a small pool of
veth pairs (the access points' links), driven with ``ip`` and ``tc``.

Everything lives inside the two namespaces: links are created there, addresses and
routes are set there, so nothing reaches the root namespace. Namespace names carry a
per-run prefix ``ssn-<pid>-<token>-``; :meth:`Testbed.close` removes them on every way
out, and :func:`remove_stale` removes those of runs whose process is gone.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field

#: every namespace an emulation makes starts with this
NS_PREFIX = "ssn-"
_NS_RE = re.compile(rf"^{NS_PREFIX}(\d+)-[0-9a-f]+-")
#: the policy-routing table of pool interface k is TABLE_BASE + k
TABLE_BASE = 100
#: sysctls set in both namespaces before any link exists
_SYSCTLS = (
    "net.mptcp.enabled=1",
    # no duplicate address detection on the emulated links: the plan's timing block
    # accounts for DAD (RFC 4862 §5.4); the kernel must not add its own second of it
    "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
    "net.ipv6.conf.all.accept_ra=0", "net.ipv6.conf.default.accept_ra=0",
)


class EmulationError(RuntimeError):
    """A command the emulation needed failed; the message holds its output."""


def requirements() -> list[str]:
    """What this machine lacks to emulate (empty when nothing): root, MPTCP, ip, tc."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)")
    try:
        with open("/proc/sys/net/mptcp/enabled", encoding="ascii") as fh:
            if fh.read().strip() != "1":
                missing.append("MPTCP: sysctl net.mptcp.enabled is 0 (set it to 1)")
    except OSError:
        missing.append("MPTCP: the kernel has no net.mptcp.enabled (built without "
                       "CONFIG_MPTCP)")
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            missing.append(f"the '{tool}' command (iproute2)")
    return missing


def _run(args: list[str], stdin: str | None = None) -> str:
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shown = " ".join(args) + (f" <<\n{stdin}" if stdin else "")
        raise EmulationError(f"{shown}\nfailed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def _mac(side: int, k: int) -> str:
    """A fixed, locally administered MAC: side 1 the mobile's end, 2 the CN's."""
    return f"02:00:00:00:{side:02x}:{k:02x}"


def namespaces() -> list[str]:
    """The names ``ip netns list`` shows."""
    return [line.split()[0] for line in _run(["ip", "netns", "list"]).splitlines()
            if line.strip()]


def remove_stale() -> list[str]:
    """Remove the namespaces of emulation runs whose process no longer exists (one
    killed with SIGKILL cannot clean up); return their names."""
    gone = []
    for name in namespaces():
        match = _NS_RE.match(name)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
            gone.append(name)
    return gone


@dataclass
class _Slot:
    """One veth pair of the pool: ``m<k>`` in the mobile, ``c<k>`` in the CN."""

    k: int
    address: str | None = None
    prefix: str | None = None
    link_up: bool = False
    endpoint: int | None = None   # MPTCP endpoint id, while the address is one


@dataclass
class Testbed:
    """Two namespaces and ``slots`` veth pairs; ``rate_bps`` shapes each direction of
    each pair with htb. Use as a context manager: leaving it removes everything."""

    slots: int
    rate_bps: float
    correspondent: str
    prefix: str = field(default_factory=lambda: f"{NS_PREFIX}{os.getpid()}-"
                                                f"{secrets.token_hex(3)}-")
    _pool: list = field(default_factory=list)
    _next_id: int = 1
    _made: list = field(default_factory=list)

    @property
    def mobile_ns(self) -> str:
        return self.prefix + "m"

    @property
    def cn_ns(self) -> str:
        return self.prefix + "c"

    # -- life cycle ---------------------------------------------------------------
    def __enter__(self) -> "Testbed":
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _build(self) -> None:
        for ns in (self.mobile_ns, self.cn_ns):
            _run(["ip", "netns", "add", ns])
            self._made.append(ns)
            _run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", *_SYSCTLS])
            self._ip(ns, "link set lo up")
            # the in-kernel path manager's largest limits (8): a subflow closed by
            # REMOVE_ADDR may still count for a while, and a refused join would stall
            self._ip(ns, "mptcp limits set subflows 8 add_addr_accepted 8")
        self._ip(self.cn_ns, f"address add {self.correspondent}/128 dev lo")
        for k in range(self.slots):
            self._ip(self.mobile_ns, f"link add m{k} address {_mac(1, k)} type veth peer "
                                     f"name c{k} address {_mac(2, k)} netns {self.cn_ns}")
            self._pool.append(_Slot(k))
            self._carry(self._pool[-1], False)
            # links stay administratively up for the whole run: a link that comes up
            # settles asynchronously (operstate, qdisc activation) and would drop the
            # first packets; LOS and re-use switch the qdisc instead (see _carry)
            self._ip(self.mobile_ns, f"link set m{k} up")
            self._ip(self.cn_ns, f"link set c{k} up")
        self._wait_up()

    def _wait_up(self, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            text = "".join(_run(["ip", "-n", ns, "-o", "link", "show"])
                           for ns in (self.mobile_ns, self.cn_ns))
            if text.count("state UP") >= 2 * self.slots:
                return
            if time.monotonic() > deadline:
                raise EmulationError(f"the pool's links did not come up in {timeout_s:g} s:"
                                     f"\n{text}")
            time.sleep(0.05)

    def _carry(self, s: _Slot, on: bool) -> None:
        """Make slot ``s``'s link carry packets (htb at the link's rate, each way) or
        drop every one of them (the blackhole qdisc: netem and tc actions are absent
        here, and this needs neither)."""
        rate = f"{max(8, int(self.rate_bps))}bit"
        for ns, dev in ((self.mobile_ns, f"m{s.k}"), (self.cn_ns, f"c{s.k}")):
            if on:
                _run(["tc", "-n", ns, "-batch", "-"],
                     f"qdisc replace dev {dev} root handle 1: htb default 1\n"
                     f"class add dev {dev} parent 1: classid 1:1 htb rate {rate}\n")
            else:
                _run(["tc", "-n", ns, "qdisc", "replace", "dev", dev, "root", "blackhole"])
        s.link_up = on

    def close(self) -> None:
        """Remove both namespaces (their links go with them). Safe to call twice."""
        while self._made:
            ns = self._made.pop()
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)

    # -- commands -----------------------------------------------------------------
    def _ip(self, ns: str, *lines: str) -> None:
        """Run ``lines`` in one ``ip -batch`` inside ``ns`` (one fork, not one a line)."""
        _run(["ip", "-6", "-n", ns, "-batch", "-"], "\n".join(lines) + "\n")

    def _slot_of(self, address: str) -> _Slot:
        for s in self._pool:
            if s.address == address:
                return s
        raise EmulationError(f"no interface holds {address}")

    def attach(self, address: str, prefix: str, *, flags: str | None) -> None:
        """Bring up a free pool interface with ``address`` (a host in ``prefix``) and add
        it as an MPTCP endpoint with ``flags`` ("subflow", "subflow backup", "" for the
        address the first connection binds to; None: not yet, see add_endpoint)."""
        free = [s for s in self._pool if s.address is None]
        if not free:
            raise EmulationError("the interface pool is exhausted")
        s = free[0]
        s.address, s.prefix = address, prefix
        self._carry(s, True)
        t = TABLE_BASE + s.k
        # static neighbours: no neighbour discovery on the emulated links (its delay is
        # not the plan's, and the CN's address sits on its loopback)
        lines = [f"address add {address}/128 dev m{s.k} nodad",
                 f"neigh replace {self.correspondent} lladdr {_mac(2, s.k)} dev m{s.k} "
                 "nud permanent",
                 # each source address leaves through its own access point's link
                 f"route replace {self.correspondent}/128 dev m{s.k} table {t}",
                 f"rule add from {address} table {t} pref {t}"]
        self._ip(self.cn_ns, f"route replace {prefix} dev c{s.k}",
                 f"neigh replace {address} lladdr {_mac(1, s.k)} dev c{s.k} nud permanent")
        self._ip(self.mobile_ns, *lines)
        self._wait_usable(s, address)
        if flags is not None:
            self.add_endpoint(address, flags)

    def add_endpoint(self, address: str, flags: str) -> None:
        """Make ``address`` (attached) an MPTCP endpoint with ``flags``."""
        s = self._slot_of(address)
        s.endpoint = self._next_id
        self._next_id += 1
        self._ip(self.mobile_ns, f"mptcp endpoint add {address} dev m{s.k} id {s.endpoint} "
                                 f"{flags}")

    def _wait_usable(self, s: _Slot, address: str, timeout_s: float = 5.0) -> None:
        """Wait until ``address`` is no longer tentative. Even with ``nodad`` the kernel
        finishes an address's (empty) DAD on a work queue; a join sent before that gets
        its SYN-ACK dropped (a tentative address accepts nothing, RFC 4862 §5.4) and
        waits a whole SYN retransmission timeout (1 s, RFC 6298 §2)."""
        deadline = time.monotonic() + timeout_s
        while True:
            text = _run(["ip", "-6", "-n", self.mobile_ns, "-o", "address", "show", "dev",
                         f"m{s.k}"])
            line = next((x for x in text.splitlines() if f" {address}/" in x), "")
            if line and "tentative" not in line:
                return
            if time.monotonic() > deadline:
                raise EmulationError(f"{address} did not become usable in {timeout_s:g} s")
            time.sleep(0.002)

    def wait_joined(self, address: str, timeout_s: float = 2.0) -> bool:
        """Wait until a subflow from ``address`` is established (its MP_JOIN done);
        return whether one is, by ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            out = _run(["ip", "netns", "exec", self.mobile_ns, "ss", "-tnH", "state",
                        "established", "src", f"[{address}]"])
            if out.strip():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)

    def set_primary(self, address: str) -> None:
        """MP_PRIO: ``address``'s endpoint becomes regular, every other one backup."""
        new = self._slot_of(address)
        lines = [f"mptcp endpoint change id {new.endpoint} nobackup"]
        lines += [f"mptcp endpoint change id {s.endpoint} backup" for s in self._pool
                  if s.endpoint is not None and s is not new]
        self._ip(self.mobile_ns, *lines)

    def delete(self, address: str) -> None:
        """REMOVE_ADDR: withdraw ``address``'s endpoint (its subflow closes)."""
        s = self._slot_of(address)
        if s.endpoint is not None:
            self._ip(self.mobile_ns, f"mptcp endpoint delete id {s.endpoint}")
            s.endpoint = None
        self._release(s)

    def link_down(self, address: str) -> None:
        """LOS: the link that holds ``address`` stops carrying packets, both ways, with
        no word to IP (as a radio link that sets: the stack learns it from timeouts)."""
        s = self._slot_of(address)
        self._carry(s, False)
        self._release(s)

    def _release(self, s: _Slot) -> None:
        """Return ``s`` to the pool once its link is down and its endpoint gone."""
        if s.link_up or s.endpoint is not None:
            return
        t = TABLE_BASE + s.k
        self._ip(self.mobile_ns, f"rule del from {s.address} table {t} pref {t}",
                 f"route del {self.correspondent}/128 table {t}",
                 f"address del {s.address}/128 dev m{s.k}")
        self._ip(self.cn_ns, f"route del {s.prefix} dev c{s.k}")
        s.address = s.prefix = None

    def exec_args(self, ns: str) -> list[str]:
        """The command prefix that runs a program inside ``ns``."""
        return ["ip", "netns", "exec", ns]
