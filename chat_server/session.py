"""A session: one client connection, as the directory, the audience and its two tasks see it.

It holds the connection's wire protocol object (framing, parsing and rendering, from
`protocol/`), its outbox, its flood allowance, its place in the chat (nickname, rooms),
and the two tasks that serve it: a reader that turns bytes into commands for the
directory, and a writer that drains the outbox into the socket.

Its end has one owner, `state`:

    OPEN --(quit, lost, cut off, kicked, shutdown)--> CLOSING --(writer done)--> CLOSED

While CLOSING no more input is handled; the writer sends what is owed (the outbox is
`finished` once the last item for it has been queued), closes politely, and the server
marks it CLOSED and frees it.
"""

from __future__ import annotations

import enum
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from chat_server.flood import FloodPolicy, TokenBucket
from chat_server.outbox import Outbox
from chat_server.outgoing import Connection
from chat_server.rooms import RosterView
from protocol import AnyEvent, Event

if TYPE_CHECKING:
    from chat_server.rooms import Room
    from chat_server.scheduler import Task


class SessionState(enum.Enum):
    """Where a connection is in its life."""

    OPEN = "open"  # reading commands
    CLOSING = "closing"  # no more input; sending what is owed, then closing
    CLOSED = "closed"  # the socket is closed and the session forgotten


class Session:
    """One client connection."""

    __slots__ = ("sock", "address", "host", "connection", "nick", "rooms", "current",
                 "outbox", "flood", "state", "pause", "reader", "writer", "_on_hang_up",
                 "__weakref__")

    def __init__(
        self,
        sock: socket.socket,
        address: str,
        connection: Connection,
        *,
        outbox_limit: int,
        flood: FloodPolicy | None,
        now: float,
        on_hang_up: Callable[[Session], None],
    ) -> None:
        self.sock = sock
        self.address = address  # "host:port", for logs and traces
        # Interned: the connections from one machine (a class behind one address, a
        # load test) share one string instead of a copy each.
        self.host = sys.intern(address.rsplit(":", 1)[0].strip("[]"))
        self.connection = connection
        self.nick: str | None = None
        self.rooms: list[Room[Session]] = []  # in the order they were joined
        self.current: Room[Session] | None = None
        self.outbox = Outbox(outbox_limit)
        self.flood = TokenBucket(flood, now) if flood is not None else None
        self.state = SessionState.OPEN
        self.pause = 0.0  # seconds the reader waits before reading on (see slow_down)
        self.reader: Task | None = None
        self.writer: Task | None = None
        self._on_hang_up = on_hang_up

    def __repr__(self) -> str:
        return f"<Session {self.nick or '(not joined)'} from {self.address} {self.state.value}>"

    def __str__(self) -> str:
        return self.nick or self.address

    @property
    def reading(self) -> bool:
        """True while commands from this connection are handled."""
        return self.state is SessionState.OPEN

    @property
    def hanging_up(self) -> bool:
        """True once nothing more will be queued for this connection."""
        return self.outbox.finished

    def task_name(self, role: str) -> TaskName:
        """A name for one of this session's tasks that shows its nickname once it has one."""
        return TaskName(role, self)

    def deliver(self, event: AnyEvent | RosterView) -> None:
        """Queue one event for this connection, in its rendering. A roster view (a
        joiner's USERS, see Roster) becomes its line only now."""
        if isinstance(event, RosterView):
            for piece in users_line(event, self.connection, self.nick):
                self.outbox.put(piece)
        else:
            self.outbox.put(self.connection.send(event, self.nick))

    def slow_down(self, seconds: float) -> None:
        """Read nothing more for `seconds`: the reader sleeps before its next command."""
        self.pause = max(self.pause, seconds)

    def stop_reading(self) -> None:
        """Handle no more input: the connection is closing."""
        if self.state is SessionState.OPEN:
            self.state = SessionState.CLOSING

    def hang_up(self) -> None:
        """Close the connection once everything queued has been sent."""
        if self.outbox.finished:
            return
        self.stop_reading()
        self.outbox.finish()  # wakes an idle writer, and a reader waiting for room
        self._on_hang_up(self)

    def abort(self, last_event: Event) -> None:
        """Drop everything queued, send `last_event` if the socket takes it, and close."""
        self.outbox.replace_with(self.connection.send(last_event, self.nick))
        self.hang_up()

    def closed(self) -> None:
        """The socket is closed: break the cycle through the task names, so the session
        is freed at once, not at the next run of the cycle collector."""
        self.state = SessionState.CLOSED
        self.reader = self.writer = None


def users_line(view: RosterView, connection: Connection, viewer: str | None) -> list[bytes]:
    """The bytes `connection` is sent for a joiner's USERS (queued as a roster view), in
    pieces to be queued one after the other.

    A connection that puts a machine encoder's bytes on the wire as they are gets the
    roster's encoded names as they are, mostly shared with the other joiners' (see
    Roster), without a walk over thousands of names; any other gets the event, rendered
    its way.
    """
    encoder = connection.machine_encoder
    if encoder is not None:
        return [piece for piece in view.line(encoder) if piece]
    return [connection.send(view.users(), viewer)]


class TaskName:
    """`reader(alice)`: a task's role and its session, printed as the session is now."""

    __slots__ = ("role", "session")

    def __init__(self, role: str, session: Session) -> None:
        self.role = role
        self.session = session

    def __str__(self) -> str:
        return f"{self.role}({self.session})"
