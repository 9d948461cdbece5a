"""What the connection is given (its settings) and whom it reports to (its listener).

Kept apart from `connection.py` so the application and the tests can name them without
the connection's machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from protocol import Event, RoomEvent

from chat_client.state import ConnectionState


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Timings of the connection, in seconds (tests make them short)."""

    connect_timeout: float = 5.0
    first_retry_delay: float = 0.5
    max_retry_delay: float = 5.0
    keepalive_interval: float = 30.0  # silence before the client pings the server
    keepalive_timeout: float = 15.0  # silence after that ping before the link counts as lost
    quit_timeout: float = 1.0  # how long `/quit` waits for the server's goodbye
    greeting_timeout: float = 10.0  # connected, but no HELLO by then: try again
    first_refused_delay: float = 30.0  # the server turned us away: wait this long first
    max_refused_delay: float = 120.0  # ... doubling up to this
    stats_interval: float = 2.0  # `/stats on`: how often the live count asks the server
    tls: bool = False  # connect over TLS, and check the server's certificate pin


class ConnectionListener(Protocol):
    """What the connection tells the rest of the client."""

    def connection_changed(self, state: ConnectionState, detail: str) -> None:
        """The connection moved to `state`; `detail` says more (`in 2s (connection refused)`)."""

    def event_received(self, event: Event | RoomEvent) -> None:
        """An event from the server, after `/hello`, in order."""

    def notice(self, text: str, error: bool = False) -> None:
        """Something the connection itself has to say (`nickname alice is taken ...`)."""
