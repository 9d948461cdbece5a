"""History and catching up: which lines are replayed, and what to ask after a reconnect.

A `HISTORY ROOM N` line announces exactly N room events of ROOM, oldest first, with
nothing in between (PROTOCOL.md, version 2); `HistoryBlock` says which of the events that
follow belong to it. The server sends such a block when you join a room (its last lines),
and in reply to `/history`.

After a reconnect the client puts itself back where it was (`rejoin_lines`): it joins
every room it was in, the server's current room last so it is current again, and asks
each room for what it missed: `/history ROOM after LAST-ID` (LAST-ID: the highest id seen
there). A reply that is full (`CATCH_UP_COUNT` lines) may not be all of it: the client
asks again from the newest line it got. The join's own replay overlaps what was already
seen; windows drop the ids they hold, so no line is shown twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from protocol import HISTORY_MAX_COUNT, RoomEvent, room_key

CATCH_UP_COUNT = HISTORY_MAX_COUNT
"""Lines asked for at a time when catching up (the most the server gives at once)."""

OLDER_PAGE = 50
"""Lines asked for when PageUp reaches the top of a window."""


@dataclass
class HistoryBlock:
    """The `HISTORY ROOM N` block being received, if any: its room and the lines still due."""

    room: str = ""
    count: int = 0
    remaining: int = 0

    def start(self, room: str, count: int) -> None:
        """A `HISTORY room count` line arrived: the next `count` events of `room` are history."""
        self.room, self.count, self.remaining = room, count, count

    def take(self, event: RoomEvent) -> bool:
        """True if `event` belongs to the block (it is replayed, not live)."""
        if self.remaining <= 0 or room_key(event.room) != room_key(self.room):
            return False
        self.remaining -= 1
        return True

    @property
    def just_finished(self) -> bool:
        """True right after the block's last event (or for an empty block)."""
        return self.remaining == 0


def rejoin_lines(rooms: Sequence[str], current: str | None,
                 last_ids: dict[str, int]) -> list[str]:
    """What to send after a reconnect to be back in `rooms`, with `current` current again,
    and to fetch what was missed in each room since `last_ids[room]` (by room name)."""
    others = [room for room in rooms if current is None or room_key(room) != room_key(current)]
    joins = [*others, current] if current is not None and any(
        room_key(room) == room_key(current) for room in rooms) else others
    lines = [f"/join {room}" for room in joins]
    lines += [catch_up_line(room, last_ids[room]) for room in rooms if last_ids.get(room)]
    return lines


def catch_up_line(room: str, after_id: int) -> str:
    """The request for the lines of `room` after `after_id`."""
    return f"/history {room} after {after_id} {CATCH_UP_COUNT}"


def older_line(room: str, before_id: int) -> str:
    """The request for the page of lines of `room` before `before_id`."""
    return f"/history {room} before {before_id} {OLDER_PAGE}"
