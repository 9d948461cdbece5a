"""A session: one client connection, as the room, the audience and its two tasks see it.

It holds the connection's own state (framer, nickname, rendering mode, outbox, flood
allowance) and the two tasks that serve it: a reader that turns bytes into lines for the
room, and a writer that drains the outbox into the socket.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from chat_server.flood import FloodPolicy, TokenBucket
from chat_server.outbox import Outbox
from chat_server.scheduler import Task
from protocol import Event, Hello, LineFramer, encode_event, encode_for_people


class Session:
    """One client connection."""

    __slots__ = ("sock", "address", "host", "nick", "said_hello", "machine", "framer",
                 "outbox", "flood", "reading", "hanging_up", "reader", "writer",
                 "_on_hang_up", "__weakref__")

    def __init__(
        self,
        sock: socket.socket,
        address: str,
        *,
        outbox_limit: int,
        flood: FloodPolicy | None,
        now: float,
        on_hang_up: Callable[[Session], None],
    ) -> None:
        self.sock = sock
        self.address = address  # "host:port", for logs and traces
        self.host = address.rsplit(":", 1)[0].strip("[]")
        self.nick: str | None = None
        self.said_hello = False  # the room handled this connection's /hello
        self.machine = False  # output in machine events (from the HELLO on) or for people
        self.framer = LineFramer()
        self.outbox = Outbox(outbox_limit)
        self.flood = TokenBucket(flood, now) if flood is not None else None
        self.reading = True  # False once no more input will be handled
        self.hanging_up = False  # True once the session is to close after its outbox drains
        self.reader: Task | None = None
        self.writer: Task | None = None
        self._on_hang_up = on_hang_up

    def __repr__(self) -> str:
        return f"<Session {self.nick or '(not joined)'} from {self.address}>"

    def __str__(self) -> str:
        return self.nick or self.address

    def task_name(self, role: str) -> TaskName:
        """A name for one of this session's tasks that shows its nickname once it has one."""
        return TaskName(role, self)

    def deliver(self, event: Event) -> None:
        """Queue one event for this connection, in its rendering."""
        if isinstance(event, Hello):
            self.machine = True  # the HELLO itself is the first machine event
        self.outbox.put(self._encode(event))

    def stop_reading(self) -> None:
        """Handle no more input from this connection."""
        self.reading = False

    def hang_up(self) -> None:
        """Close the connection once everything queued has been sent."""
        if self.hanging_up:
            return
        self.reading = False
        self.hanging_up = True
        self.outbox.has_data.wake_all()  # an idle writer must notice
        self.outbox.has_room.wake_all()  # and a reader waiting for the client to catch up
        self._on_hang_up(self)

    def abort(self, last_event: Event) -> None:
        """Drop everything queued, send `last_event` if the socket takes it, and close."""
        self.outbox.replace_with(self._encode(last_event))
        self.hang_up()

    def _encode(self, event: Event) -> bytes:
        """`event` in this connection's rendering: machine events, or lines for people."""
        if self.machine:
            return encode_event(event)
        return encode_for_people(event, viewer=self.nick)


class TaskName:
    """`reader(alice)`: a task's role and its session, printed as the session is now."""

    __slots__ = ("role", "session")

    def __init__(self, role: str, session: Session) -> None:
        self.role = role
        self.session = session

    def __str__(self) -> str:
        return f"{self.role}({self.session})"
