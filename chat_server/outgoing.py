"""What the chat logic asks to have delivered, in order, and what it needs of a member.

The directory never writes to a socket or an outbox: it appends these items to one
ordered queue, and the broadcaster task hands them to the audience (audience.py), which
carries them out in that order. One queue for everything is what makes the order exact:
a joiner gets its history and USERS before its own JOIN, and a quitter gets every room
event from before its /quit, then BYE, then nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chat_server.outbox import Outbox
from chat_server.rooms import Room
from protocol import AnyEvent, Encoder, Error, Event, RoomEvent


class Connection(Protocol):
    """What the chat logic and the fan-out need of a member's wire protocol object."""

    said_hello: bool
    version: int
    shared_encoder: Encoder

    def send(self, event: AnyEvent, viewer: str | None = None) -> bytes:
        """The bytes for `event` in this connection's rendering."""

    def set_in_several_rooms(self, several: bool) -> None:
        """Tell the rendering whether room lines must name their room."""

    def with_cause(self, error: Error) -> object:
        """`error` as it is to be delivered, tied to the command being handled now if
        this connection's rendering of it depends on that (IRC numbers an error by the
        command that caused it), made while that command is still the one being read."""

    def data_to_send(self) -> bytes:
        """Bytes the protocol owes the peer by itself (an HTTP answer, a pong), or b""."""

    @property
    def machine_encoder(self) -> Encoder | None:
        """The machine encoder (protocol/wire.py) whose bytes this connection puts on the
        wire exactly as they come, or None when its bytes are anything else: a person's
        rendering, WebSocket frames, IRC lines. Given one, a joiner's USERS is sent as
        the roster's pre-encoded pieces (see Roster) instead of `send`'s bytes."""


class Member(Protocol):
    """One connection as the chat logic sees it (the server's `Session` is one)."""

    nick: str | None  # None until it joins the server
    address: str  # "host:port", for the console log
    host: str
    rooms: list[Room[Member]]  # the rooms it is in, in the order it joined them
    current: Room[Member] | None  # where plain text goes
    connection: Connection
    outbox: Outbox

    @property
    def hanging_up(self) -> bool:
        """True once no more output will be queued for it."""

    def deliver(self, event: AnyEvent) -> None:
        """Queue one event for this member, in its rendering."""

    def stop_reading(self) -> None:
        """Handle no more commands from this member."""

    def slow_down(self, seconds: float) -> None:
        """Read nothing more from this member for `seconds` (after a wrong password)."""

    def hang_up(self) -> None:
        """Close once what is queued has been sent."""

    def abort(self, last_event: Event) -> None:
        """Drop what is queued, send `last_event` if the socket takes it, and close."""


# ToRoom, Said and ToMember are made for the lines said and dropped once delivered: plain
# slots, not frozen (a frozen dataclass's __init__ costs a call per field, 4x the time).
@dataclass(slots=True)
class ToRoom:
    """A room event for everyone in `room`.

    `joining` enters the room's audience just before it (so a joiner hears its own JOIN);
    `leaving` leaves it just before (a quitter does not hear its own PART), or just after
    when `leaver_hears` (someone who typed /part sees it done).
    """

    room: Room[Member]
    event: RoomEvent
    joining: Member | None = None
    leaving: Member | None = None
    leaver_hears: bool = False


@dataclass(slots=True)
class Said:
    """Lines said in `room` at once (a `SayLines`), in order: nobody joins or leaves with
    them, so they go to the room's audience as it is, like as many `ToRoom`s."""

    room: Room[Member]
    events: list[RoomEvent]


@dataclass(slots=True)
class ToMember:
    """An event for one member only."""

    member: Member
    event: AnyEvent


@dataclass(frozen=True, slots=True)
class Replay:
    """`HISTORY ROOM N` and N stored events of `room`, for one member.

    Read from the store when its turn comes, after every event queued before it has been
    stored, so it holds exactly the events before it in the one order.
    """

    member: Member
    room: Room[Member]
    direction: str  # "latest", "before" or "after"
    event_id: int | None
    count: int


@dataclass(frozen=True, slots=True)
class HangUp:
    """Nothing more for this member: close it once what is queued is sent."""

    member: Member


Outgoing = ToRoom | Said | ToMember | Replay | HangUp
