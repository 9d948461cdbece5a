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
from dataclasses import replace

from chat_server.store import Ban, RoomRecord, StoredEvent, check_batch, check_count


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
        highest = check_batch(events, rooms, self._stored_last_id)
        for record in rooms:
            self._upsert(record)
        for event in events:
            self._room_events(event.room).append(event)
        for key, last_id in highest.items():
            self._upsert(self._rooms[key], last_id)
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

    def _stored_last_id(self, key: str) -> int | None:
        record = self._rooms.get(key)
        return None if record is None else record.last_id

    def _upsert(self, record: RoomRecord, last_id: int = 0) -> None:
        # As in SqliteStore: the record replaces the old one, but last_id never goes down.
        old_last_id = self._stored_last_id(record.key) or 0
        self._rooms[record.key] = replace(record, last_id=max(old_last_id, record.last_id, last_id))

    def _room_events(self, key: str) -> deque[StoredEvent]:
        if key not in self._events:
            self._events[key] = deque(maxlen=self.max_events_per_room)
        return self._events[key]


def _event_id(event: StoredEvent) -> int:
    return event.id
