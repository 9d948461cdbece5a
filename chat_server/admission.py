"""Admission: whether a new connection may come in.

Two caps: connections in all (`--max-clients`), and connections from one address
(`--max-per-address`), so one student's script cannot take every seat in the room. By
default the per-address cap spares loopback, where tests and benchmarks open thousands of
connections from 127.0.0.1; given explicitly, it applies to every address.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass

DEFAULT_MAX_PER_ADDRESS = 16


@dataclass(frozen=True)
class Refusal:
    """Why a connection is turned away: the ERROR code and text, then the BYE reason."""

    text: str
    reason: str
    code: str = "SERVER_FULL"


class Admission:
    """Counts open connections, in all and per address, against their caps."""

    def __init__(self, max_clients: int, max_per_address: int | None,
                 *, spare_loopback: bool) -> None:
        self.max_clients = max_clients
        self.max_per_address = max_per_address  # None: no cap
        self.spare_loopback = spare_loopback
        self._open = 0
        self._per_address: Counter[str] = Counter()

    def refusal(self, host: str) -> Refusal | None:
        """Why a connection from `host` may not come in now, or None if it may."""
        if self._open >= self.max_clients:
            return Refusal(f"the room is full ({_connections(self.max_clients)}); "
                           "try again later", "server full")
        cap = self.max_per_address
        if cap is not None and self._per_address[host] >= cap and not self._spared(host):
            return Refusal(f"too many connections from {host} ({_connections(cap)}); "
                           "close one first",
                           "too many connections from your address")
        return None

    def admit(self, host: str) -> None:
        """Count a connection from `host` as open."""
        self._open += 1
        self._per_address[host] += 1

    def release(self, host: str) -> None:
        """A connection from `host` has closed."""
        self._open -= 1
        self._per_address[host] -= 1
        if not self._per_address[host]:
            del self._per_address[host]

    def _spared(self, host: str) -> bool:
        if not self.spare_loopback:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on an IPv6 socket
        return address.is_loopback or bool(mapped and mapped.is_loopback)


def _connections(count: int) -> str:
    """`1 connection`, `2 connections`."""
    return f"{count} connection" if count == 1 else f"{count} connections"
