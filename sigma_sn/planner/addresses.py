"""Deterministic, real-looking addresses: one documentation subnet per access point.

The access points of a scenario, sorted by name, get subnets ``k = 1, 2, ...`` of the
configured prefix (``2001:db8:k::/48`` for the default ``2001:db8::/32``, RFC 3849); a
mobile's address there is that subnet plus the mobile's interface identifier (its
1-based position among the scenario's mobiles). A mobile that comes back to an access
point therefore gets its old address back, which is what makes the zig-zag case work.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable

DEFAULT_PREFIX = "2001:db8::/32"
_SUBNET_BITS = 16   # one /48 per access point under a /32


def parse_prefix(text: str) -> ipaddress.IPv6Network:
    """Return ``text`` as an IPv6 network with room for access-point subnets.

    Raises ValueError (with the reason) for anything else: IPv4, host bits set, a prefix
    longer than /63.
    """
    if not isinstance(text, str):
        raise ValueError(f"must be an IPv6 prefix such as {DEFAULT_PREFIX}, got {text!r}")
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError(f"not a network prefix ({exc}); e.g. {DEFAULT_PREFIX}") from None
    if net.version != 6:
        raise ValueError(f"must be an IPv6 prefix (addresses are IPv6 SCTP endpoints), "
                         f"got {text!r}")
    if net.prefixlen > 63:
        raise ValueError(f"must be /63 or shorter to leave room for subnets, got {text!r}")
    return net


def subnet_length(net: ipaddress.IPv6Network) -> int:
    """Return the prefix length of each access point's subnet: 16 bits more, at most /64."""
    return min(net.prefixlen + _SUBNET_BITS, 64)


def ap_subnets(ap_names: Iterable[str], prefix: str = DEFAULT_PREFIX
               ) -> dict[str, ipaddress.IPv6Network]:
    """Return each access point's subnet: names sorted, the k-th (1-based) gets subnet k."""
    net = parse_prefix(prefix)
    length = subnet_length(net)
    names = sorted(set(ap_names))
    room = 2 ** (length - net.prefixlen) - 1
    if len(names) > room:
        raise ValueError(f"{prefix} has room for {room} access-point subnets "
                         f"(/{length}), the scenario has {len(names)}")
    step = 2 ** (128 - length)
    base = int(net.network_address)
    return {name: ipaddress.IPv6Network((base + k * step, length))
            for k, name in enumerate(names, start=1)}


def address(subnet: ipaddress.IPv6Network, interface_id: int) -> str:
    """Return the address of the mobile with ``interface_id`` (>= 1) in ``subnet``."""
    if not 1 <= interface_id < subnet.num_addresses:
        raise ValueError(f"interface id {interface_id} does not fit in {subnet}")
    return str(subnet.network_address + interface_id)


class AddressBook:
    """Addresses of mobiles at access points, formatted fast: a plan of a thousand mobiles
    needs hundreds of thousands, and ``ipaddress`` takes ~30 µs to format one."""

    def __init__(self, subnets: dict[str, ipaddress.IPv6Network]):
        self.subnets = subnets
        self._head: dict[str, str | None] = {}

    def head(self, ap: str) -> str | None:
        """Return the text every address at ``ap`` of an interface identifier from 1 to
        0xFFFF starts with (the identifier in hex follows), or None where they are not
        written so."""
        head = self._head.get(ap, "")
        if head == "":
            head = self._head[ap] = self._template(self.subnets[ap])
        return head

    def address(self, ap: str, interface_id: int) -> str:
        head = self.head(ap)
        if head is not None and 1 <= interface_id < 0x10000:
            return f"{head}{interface_id:x}"
        return address(self.subnets[ap], interface_id)

    def addresses(self, aps: Iterable[str], interface_id: int) -> list[str]:
        """Return the mobile's address at each of ``aps``, in order (one mobile meets
        hundreds of access points a day: its identifier is formatted once)."""
        if not 1 <= interface_id < 0x10000:
            return [self.address(ap, interface_id) for ap in aps]
        tail, heads = f"{interface_id:x}", self._head
        return [heads[ap] + tail if heads.get(ap) else self.address(ap, interface_id)
                for ap in aps]

    @staticmethod
    def _template(net: ipaddress.IPv6Network) -> str | None:
        """Return the text before the last group when every address with a one-group
        interface identifier prints as that text plus the group, else None. The zero
        groups between prefix and identifier are then the run ``::`` stands for; that
        holds for one identifier exactly when it holds for all of them, so one check
        against ``ipaddress`` decides."""
        text = str(net.network_address)
        if net.prefixlen > 64 or not text.endswith("::"):
            return None
        for iid in (1, 0xFFFF):
            if str(net.network_address + iid) != f"{text}{iid:x}":
                return None
        return text
