"""A room: who is in it, in what order, its topic, and the ids of its events.

Plain data with no I/O: the directory (directory.py) decides what happens, a room only
remembers. A room is kept once it has been used, even when everyone has left, because
its ids must never be reused and its topic outlives its people (the store keeps both
across restarts).

A room also keeps its rosters: the names its USERS shows, which every joiner is sent
(see `Roster`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Generic, TypeVar

from protocol import (
    ROOM_EVENTS, Encoder, Event, Message, RoomEvent, Topic, Users, room_key,
)

M = TypeVar("M")


class Room(Generic[M]):
    """One room's members (in join order), topic and event ids."""

    __slots__ = ("name", "key", "topic", "last_id", "read_only", "slow_seconds", "last_said",
                 "rosters", "_members")

    def __init__(self, name: str, last_id: int = 0, topic: RoomEvent | None = None) -> None:
        if name.split() != [name] or last_id < 0:  # checked once here, not at every stamp
            raise ValueError(f"a room needs a one-word name and an id from 0: {name!r}, {last_id}")
        self.name = name  # as first typed: `#Games`
        self.key = room_key(name)  # as compared: `#games`
        self.topic = topic  # the TOPIC event that set the current topic, if any
        self.last_id = last_id  # the id of the room's latest event
        self.read_only = False  # only operators may speak (/readonly)
        self.slow_seconds = 0.0  # each other member may say one line per this (/slow)
        self.last_said: dict[M, int] = {}  # member -> when (ms) they last spoke, in slow mode
        # The names USERS shows, by whether it marks operators (version 2): extended
        # when someone joins, dropped when anything else changes them.
        self.rosters: dict[bool, Roster] = {}
        self._members: dict[M, None] = {}  # a dict keeps join order and finds in O(1)

    def __repr__(self) -> str:
        return f"<Room {self.name} ({len(self._members)})>"

    def __contains__(self, member: object) -> bool:
        return member in self._members

    def __iter__(self) -> Iterator[M]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def add(self, member: M) -> None:
        """`member` joins (last in join order)."""
        self._members[member] = None

    def remove(self, member: M) -> None:
        """`member` leaves; nothing happens if it was not here."""
        self._members.pop(member, None)
        self.last_said.pop(member, None)
        self.forget_rosters()

    def forget_rosters(self) -> None:
        """Someone's name in USERS changed (or someone left): start new rosters."""
        self.rosters.clear()

    def newest(self, count: int) -> list[M]:
        """The last `count` members to join, in join order (without walking the others)."""
        return list(islice(reversed(self._members), count))[::-1]

    def stamp(self, event: Event, time_ms: int) -> RoomEvent:
        """`event` as this room's next event: the next id, and `time_ms`."""
        if time_ms < 0 or not isinstance(event, ROOM_EVENTS):
            raise ValueError(f"cannot stamp {event!r} at {time_ms} in {self.name}")
        self.last_id += 1
        stamped = RoomEvent.of_checked(self.name, self.last_id, time_ms, event)
        if isinstance(event, Topic):
            self.topic = stamped
        return stamped

    def stamp_said(self, messages: list[Message], time_ms: int) -> list[RoomEvent]:
        """`messages`, said at `time_ms`, as this room's next events (one id each, in order)."""
        if time_ms < 0:
            raise ValueError(f"cannot stamp lines at {time_ms} in {self.name}")
        first, name, of_checked = self.last_id + 1, self.name, RoomEvent.of_checked
        self.last_id += len(messages)
        return [of_checked(name, first + index, time_ms, message)
                for index, message in enumerate(messages)]

    @property
    def topic_text(self) -> str:
        """The topic, or "" when none was set."""
        return self.topic.event.text if self.topic is not None else ""  # type: ignore[attr-defined]


PIECE_BYTES = 2048  # a roster's encoded names are kept in pieces of about this size


class Roster:
    """The names a room's USERS shows, in join order: only ever appended to.

    Every joiner is sent the whole list, and a thousand people may join in one turn of
    the scheduler, before the first of their USERS goes out: a copy of the list each
    would be a thousand copies of a list of thousands. So a joiner is queued a view
    instead (`RosterView`: this roster and how long it was), which becomes a USERS line
    when it is delivered. When a name changes or someone leaves, the room starts a new
    roster, and the views of this one still read it as it was.

    Besides the names, a roster keeps them encoded as a machine USERS line ends them
    (b" alice bob"), in pieces: all full but the last, which is made anew (a new bytes)
    when a name is added. A joiner's line is the pieces there were when it joined, put
    in its outbox as they are: until they are sent (a thousand joiners' lines may wait
    for their writers' turn) its own is only the last piece; the others are shared.
    """

    __slots__ = ("room", "_names", "_pieces", "_heads")

    def __init__(self, room: str, names: Iterable[str]) -> None:
        self.room = room
        self._names: list[str] = []
        self._pieces: list[bytes] = [b""]  # b" alice bob", in UTF-8, about PIECE_BYTES each
        self._heads: dict[Encoder, bytes] = {}  # encoder -> its USERS line of no names, no LF
        self.add(names)

    def __len__(self) -> int:
        return len(self._names)

    def add(self, names: Iterable[str]) -> None:
        """Append `names` (newcomers): each is checked once, here, as USERS needs it."""
        newcomers = list(names)
        Users.check_nicks(newcomers)
        self._names.extend(newcomers)
        encoded = "".join(f" {name}" for name in newcomers).encode("utf-8")
        if len(self._pieces[-1]) < PIECE_BYTES:
            self._pieces[-1] += encoded  # a new bytes: views keep the one they saw
        else:
            self._pieces.append(encoded)

    def view(self) -> RosterView:
        """The roster as it is now, to be delivered as USERS later."""
        return RosterView(self, len(self._names), len(self._pieces), self._pieces[-1])

    def users(self, count: int) -> Users:
        """USERS of the first `count` names (checked as they came: not checked again)."""
        return Users.of_checked(tuple(self._names[:count]), self.room)

    def line(self, encode: Encoder, full: int, last: bytes) -> list[bytes]:
        """The line `encode` makes of USERS of the names in the first `full` pieces and
        `last`, in pieces to be sent one after the other.

        `encode` is a machine encoder: its USERS line is its line of an empty list with
        each name appended after a space, then LF (see protocol/wire.py).
        """
        head = self._heads.get(encode)
        if head is None:
            head = self._heads[encode] = encode(Users.of_checked((), self.room))[:-1]
        return [head, *self._pieces[:full], last, b"\n"]


class RosterView:
    """A roster as it was when someone joined: their USERS, made when delivered."""

    __slots__ = ("_roster", "_count", "_full", "_last")

    def __init__(self, roster: Roster, count: int, pieces: int, last: bytes) -> None:
        self._roster = roster
        self._count = count  # names
        self._full = pieces - 1  # pieces full then, which never change
        self._last = last  # the last piece as it was then

    def users(self) -> Users:
        """The USERS event."""
        return self._roster.users(self._count)

    def line(self, encode: Encoder) -> list[bytes]:
        """The line a machine encoder (wire.encode_event, encode_event_v2) makes of it,
        in pieces to be sent one after the other."""
        return self._roster.line(encode, self._full, self._last)
