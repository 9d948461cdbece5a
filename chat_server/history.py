"""History: the server's side of the store, where faults are survived and rooms remembered.

The audience hands `keep` every batch of room events before it fans them out ("stored
before seen"), and asks `read` for what a `/history` or a join replays. The store itself
(store.py) raises when the disk fails; here that becomes one log line when it starts,
one when it ends, and figures for `/stats`: the chat goes on, and the store is tried
again with the next batch.

An event is stored as its body (`MSG alice hi`, see `protocol.room_event_body`): its room,
id and time are the store's own fields, so the line need not say them again (about 30
bytes an event fewer for SQLite to write and its log to copy).

A room's record (its name, last id and topic) is kept here as the stored events say it
is, so what is written is always exactly what has been stored: a topic is recorded with
the batch that holds the TOPIC event that set it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from chat_server.rooms import Room
from chat_server.store import Ban, EventStore, RoomRecord, StoredEvent, StoreError
from protocol import (
    Event, MalformedEvent, RoomEvent, Topic, UnknownEvent, decode_event, decode_room_event_body,
    room_event_body,
)
from protocol.rooms import ROOM_PREFIX

log = logging.getLogger(__name__)


class History:
    """Room events kept in an `EventStore`, and what the server knows of its health."""

    def __init__(self, store: EventStore, where: str) -> None:
        self.store = store
        self.where = where  # for people: the file, or "memory only"
        self.failing = False
        self._records: dict[str, RoomRecord] = store.rooms()

    def known_rooms(self) -> dict[str, Room]:
        """Every room the store remembers, with its last id and topic, by key."""
        rooms: dict[str, Room] = {}
        for record in self._records.values():
            topic = None
            if record.topic is not None:
                topic = RoomEvent(record.name, record.topic_id or 0, record.topic_time_ms or 0,
                                  Topic(record.topic_by or "?", record.topic))
            rooms[record.key] = Room(record.name, record.last_id, topic)
        return rooms

    def keep(self, events: Sequence[tuple[Room, RoomEvent]]) -> None:
        """Store one batch of room events in one transaction, or log why it could not."""
        # Runs for every line said: comprehensions and a dict() rather than one loop of
        # statements, which took 5% longer.
        if not events:
            return
        stored = [StoredEvent(room.key, event.id, event.time, room_event_body(event))
                  for room, event in events]
        latest = dict(events)  # each room's last event in the batch (its top id)
        topics = {room: event for room, event in events  # each room's last TOPIC in it
                  if type(event.event) is Topic}
        # One record per room and batch, not per event.
        touched = {room.key: self._record_after(room, event.id, topics.get(room))
                   for room, event in latest.items()}
        try:
            self.store.append(stored, list(touched.values()))
        except StoreError as error:
            self._went_wrong(error)
            return
        except ValueError:  # a bug of ours (an id out of order): say so, keep serving
            log.exception("the store refused a batch of %d events", len(stored))
            return
        self._records.update(touched)
        if self.failing:
            self.failing = False
            log.warning("the history store works again (%s)", self.where)

    def read(self, room: Room, direction: str, event_id: int | None,
             count: int) -> list[RoomEvent]:
        """Stored events of `room`, oldest first: the latest `count`, or `count` before or
        after `event_id`. An unreadable store gives none (and is logged)."""
        try:
            if direction == "latest":
                rows = self.store.latest(room.key, count)
            elif direction == "before":
                rows = self.store.before(room.key, event_id or 0, count)
            else:
                rows = self.store.after(room.key, event_id or 0, count)
        except StoreError as error:
            self._went_wrong(error)
            return []
        return [event for row in rows if (event := _decoded(row, room.name)) is not None]

    def forget_older_than(self, time_ms: int) -> int:
        """Retention: drop events older than `time_ms`; how many went."""
        try:
            return self.store.forget_older_than(time_ms)
        except StoreError as error:
            self._went_wrong(error)
            return 0

    def bans(self) -> list[Ban]:
        """Every ban kept (expired ones too: the caller decides)."""
        try:
            return self.store.bans()
        except StoreError as error:
            self._went_wrong(error)
            return []

    def add_ban(self, ban: Ban) -> None:
        """Keep `ban` (it holds in memory even if the store cannot keep it)."""
        try:
            self.store.add_ban(ban)
        except StoreError as error:
            self._went_wrong(error)

    def remove_ban(self, target: str) -> None:
        """Forget the ban on `target`."""
        try:
            self.store.remove_ban(target)
        except StoreError as error:
            self._went_wrong(error)

    def figures(self) -> dict[str, object]:
        """What `/stats` says of the store."""
        return {
            "events_stored": self.store.events_stored,
            "store_commit_ms": f"{self.store.last_commit_ms:.3f}",
            "store_failures": self.store.failures,
            "store_ok": "no" if self.failing else "yes",
        }

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def _record_after(self, room: Room, last_id: int, topic: RoomEvent | None) -> RoomRecord:
        """The room's record once this batch is stored: its last id, and its topic if the
        batch set one."""
        record = self._records.get(room.key) or RoomRecord(room.key, room.name, 0)
        if topic is None:
            return replace(record, name=room.name, last_id=max(record.last_id, last_id))
        inner = topic.event
        return replace(record, name=room.name, last_id=max(record.last_id, last_id),
                       topic=inner.text, topic_by=inner.nick,  # type: ignore[attr-defined]
                       topic_time_ms=topic.time, topic_id=topic.id)

    def _went_wrong(self, error: StoreError) -> None:
        if not self.failing:
            self.failing = True
            log.error("the history store failed: %s; chat goes on, history is not kept "
                      "until it works again", error)


def _decoded(row: StoredEvent, room_name: str) -> RoomEvent | None:
    try:
        event = _event_of(row, room_name)
    except MalformedEvent:
        event = None
    if not isinstance(event, RoomEvent):
        log.warning("a stored line could not be read back: %r", row.line)
        return None
    return event


def _event_of(row: StoredEvent, room_name: str) -> RoomEvent | UnknownEvent | Event:
    """The event a stored row holds. Its line is the event's body (`MSG alice hi`): the
    row holds its room, id and time. Files written before that (30-odd bytes more an
    event) hold whole version 2 lines (`MSG #lobby 42 1764500000000 alice hi`), told apart
    by their second word: a room there, a nickname (which has no `#`) in a body."""
    words = row.line.split(" ", 2)
    if len(words) > 1 and words[1].startswith(ROOM_PREFIX):
        return decode_event(row.line, version=2)
    return decode_room_event_body(room_name, row.id, row.time_ms, row.line)
