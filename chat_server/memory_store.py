"""The in-memory store, for `--store none`: the `EventStore` interface with no file.

It keeps the same rules as `SqliteStore` (one batch all or nothing, ids only grow, room
records outlive their events) so the server cannot tell them apart, except that history
is bounded (the newest `max_events_per_room` events of each room) and gone at exit.
Split from `store.py` only to keep each module short.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Sequence

from chat_server.store import (
    Ban, RoomRecord, StoredEvent, check_batch, check_count, record_after,
)


class MemoryStore:
    """History in memory: a bounded deque of events per room, gone at exit."""

    def __init__(self, max_events_per_room: int = 1000) -> None:
        """Keep at most `max_events_per_room` events of each room (the oldest go first)."""
        if max_events_per_room < 1:
            raise ValueError(f"max_events_per_room must be at least 1, got {max_events_per_room}")
        self.max_events_per_room = max_events_per_room
        self.events_stored = 0
        self.last_commit_ms = 0.0
        self.failures = 0  # stays 0: memory does not fill up the way a disk does
        self._rooms: dict[str, RoomRecord] = {}
        self._events: dict[str, deque[StoredEvent]] = {}
        self._bans: dict[str, Ban] = {}

    def rooms(self) -> dict[str, RoomRecord]:
        """Every room known, by key."""
        return dict(self._rooms)

    def append(self, events: Sequence[StoredEvent], rooms: Sequence[RoomRecord] = ()) -> None:
        """Add `events` and upsert `rooms`, all or nothing: the checks come before any change."""
        if not events and not rooms:
            return
        started = time.perf_counter()
        by_room = check_batch(events, rooms, self._rooms)
        for record in rooms:
            self._rooms[record.key] = record_after(record, self._rooms.get(record.key), 0)
        for key, part in by_room.items():
            self._room_events(key).extend(part.events)
            record = self._rooms[key]
            self._rooms[key] = record_after(record, record, part.ids[-1])
        self.last_commit_ms = (time.perf_counter() - started) * 1000
        self.events_stored += len(events)

    def latest(self, room: str, count: int) -> list[StoredEvent]:
        """The room's last `count` events, oldest first."""
        check_count(count)
        return list(self._events.get(room, ()))[-count:] if count else []

    def before(self, room: str, event_id: int, count: int) -> list[StoredEvent]:
        """The `count` events right before `event_id`, oldest first."""
        check_count(count)
        events = list(self._events.get(room, ()))
        end = bisect.bisect_left(events, event_id, key=_event_id)
        return events[max(0, end - count):end]

    def after(self, room: str, event_id: int, count: int) -> list[StoredEvent]:
        """The first `count` events after `event_id`, oldest first."""
        check_count(count)
        events = list(self._events.get(room, ()))
        start = bisect.bisect_right(events, event_id, key=_event_id)
        return events[start:start + count]

    def forget_older_than(self, time_ms: int) -> int:
        """Delete events older than `time_ms`; return how many. Room records stay."""
        forgotten = 0
        for key, events in self._events.items():
            kept = [event for event in events if event.time_ms >= time_ms]
            forgotten += len(events) - len(kept)
            self._events[key] = deque(kept, maxlen=self.max_events_per_room)
        return forgotten

    def bans(self) -> list[Ban]:
        """Every ban kept, by target."""
        return sorted(self._bans.values(), key=lambda ban: ban.target)

    def add_ban(self, ban: Ban) -> None:
        """Keep `ban`, replacing any ban on the same target."""
        self._bans[ban.target] = ban

    def remove_ban(self, target: str) -> bool:
        """Lift the ban on `target`; False if there was none."""
        return self._bans.pop(target, None) is not None

    def close(self) -> None:
        """Nothing to release: the history goes when the process does."""

    def _room_events(self, key: str) -> deque[StoredEvent]:
        if key not in self._events:
            self._events[key] = deque(maxlen=self.max_events_per_room)
        return self._events[key]


def _event_id(event: StoredEvent) -> int:
    return event.id
