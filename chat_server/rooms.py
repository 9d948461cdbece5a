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

from protocol import Encoder, Event, RoomEvent, Topic, Users, room_key

M = TypeVar("M")


class Room(Generic[M]):
    """One room's members (in join order), topic and event ids."""

    __slots__ = ("name", "key", "topic", "last_id", "read_only", "slow_seconds", "last_said",
                 "rosters", "_members")

    def __init__(self, name: str, last_id: int = 0, topic: RoomEvent | None = None) -> None:
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
        self.last_id += 1
        stamped = RoomEvent(self.name, self.last_id, time_ms, event)
        if isinstance(event, Topic):
            self.topic = stamped
        return stamped

    @property
    def topic_text(self) -> str:
        """The topic, or "" when none was set."""
        return self.topic.event.text if self.topic is not None else ""  # type: ignore[attr-defined]


class Roster:
    """The names a room's USERS shows, in join order: only ever appended to.

    Every joiner is sent the whole list, and a thousand people may join in one turn of
    the scheduler, before the first of their USERS goes out: a copy of the list each
    would be a thousand copies of a list of thousands. So a joiner is queued a view
    instead (`RosterView`: this roster and how long it was), which becomes a USERS line
    when it is delivered. When a name changes or someone leaves, the room starts a new
    roster, and the views of this one still read it as it was.

    Besides the names, a roster keeps them encoded as a machine USERS line ends (` alice
    bob`), so that a joiner's line is a copy of bytes, not a walk over thousands of names.
    """

    __slots__ = ("room", "_names", "_spaced", "_heads")

    def __init__(self, room: str, names: Iterable[str]) -> None:
        self.room = room
        self._names: list[str] = []
        self._spaced = bytearray()  # b" alice bob": each name after a space, in UTF-8
        self._heads: dict[Encoder, bytes] = {}  # encoder -> its line of no names, no LF
        self.add(names)

    def __len__(self) -> int:
        return len(self._names)

    def add(self, names: Iterable[str]) -> None:
        """Append `names` (newcomers): each is checked once, here, as USERS needs it."""
        newcomers = list(names)
        Users.check_nicks(newcomers)
        self._names.extend(newcomers)
        self._spaced += "".join(f" {name}" for name in newcomers).encode("utf-8")

    def view(self) -> RosterView:
        """The roster as it is now, to be delivered as USERS later."""
        return RosterView(self, len(self._names), len(self._spaced))

    def users(self, count: int) -> Users:
        """USERS of the first `count` names (checked as they came: not checked again)."""
        return Users.of_checked(tuple(self._names[:count]), self.room)

    def line(self, encode: Encoder, end: int) -> bytes:
        """The line `encode` makes of USERS of the names in the first `end` bytes.

        `encode` is a machine encoder: its USERS line is its line of an empty list with
        each name appended after a space, then LF (see protocol/wire.py).
        """
        head = self._heads.get(encode)
        if head is None:
            head = self._heads[encode] = encode(Users.of_checked((), self.room))[:-1]
        return b"".join((head, memoryview(self._spaced)[:end], b"\n"))


class RosterView:
    """A roster as it was when someone joined: their USERS, made when delivered."""

    __slots__ = ("_roster", "_count", "_end")

    def __init__(self, roster: Roster, count: int, end: int) -> None:
        self._roster = roster  # which only appends after what this view reads
        self._count = count  # names
        self._end = end  # bytes of the names' encoding

    def users(self) -> Users:
        """The USERS event."""
        return self._roster.users(self._count)

    def line(self, encode: Encoder) -> bytes:
        """The line a machine encoder (wire.encode_event, encode_event_v2) makes of it."""
        return self._roster.line(encode, self._end)
