"""The room-history store: where room events, room records and bans are kept.

Plain code, no sockets and no scheduler. The server commits each batch of room events here
*before* any client is sent them ("stored before seen"), and reads history back by id.
Two implementations share one interface, `EventStore`:

- `SqliteStore(path)` (in `sqlite_store.py`): a file, through the standard library's `sqlite3`.
- `MemoryStore()` (in `memory_store.py`): for `--store none`; bounded, gone at exit.

This module is what they share: the interface, what is kept (`StoredEvent`, `RoomRecord`,
`Ban`), the one error (`StoreError`), `open_store` for `--store SPEC`, and the checks of a
batch that both stores run before they write anything, so that they keep the same rules.
What survives a crash is the file's business: see `sqlite_store.py`.

Rules they keep:
- Each `append` is exactly one transaction: all of its events and room records, or none.
- A room's ids only grow: an event's id must be above every id the room ever had
  (`RoomRecord.last_id` remembers it even after retention deletes the events).
- Errors the operator must hear about (cannot open, disk full) are `StoreError`, one line.
  A caller's mistake (an event for a room with no record, an id not above the last, a
  number beyond SQLite's integers, a line holding a line feed) is `ValueError`, and
  nothing is written either way. The checks read the room records kept in memory (the
  store writes them all, and reads them at open), not the file.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import NamedTuple, Protocol

MAX_ID = 2**63 - 1
"""SQLite's largest INTEGER: no stored id is above it, and a larger Python int given as a
parameter raises OverflowError (not sqlite3.Error), so ids from clients are bounded here."""
_MIN_INT = -(2**63)


class StoredEvent(NamedTuple):
    """One room event as kept: which room, its id there, when, and its protocol line.

    A named tuple, not a dataclass: one is built for every line said (0.25 µs, where a
    frozen dataclass took 0.5)."""

    room: str  # the room's key (its name after NFKC+casefold); opaque to the store
    id: int  # increasing within the room, never reused
    time_ms: int  # server time, ms since the Unix epoch, UTC
    line: str  # the event's line without LF, opaque to the store (History writes its body)


@dataclass(frozen=True, slots=True)
class RoomRecord:
    """What outlives a room's events: its name, its last id and its topic."""

    key: str  # same key as StoredEvent.room
    name: str  # the display name, e.g. "#Games"
    last_id: int  # the highest id ever given in the room, kept when retention deletes events
    topic: str | None = None
    topic_by: str | None = None
    topic_time_ms: int | None = None
    topic_id: int | None = None  # the id of the TOPIC event that set it


@dataclass(frozen=True, slots=True)
class Ban:
    """An operator's ban: on a nick key or an address, until a time or (None) until lifted."""

    target: str  # what is banned: a nick key or an address (the caller's choice of form)
    kind: str  # "nick" or "address"; opaque to the store
    until_ms: int | None  # ms since the Unix epoch, or None for "until lifted"
    reason: str
    by: str  # the operator's nick


class StoreError(Exception):
    """The store could not do its job: one line that says what and where, for a log line or
    for `chat-server: ...` at exit. Not raised for a caller's mistake (that is ValueError)."""


class EventStore(Protocol):
    """What the server needs of a store. Figures for /stats are attributes:
    `events_stored` (appended by this process), `last_commit_ms` (how long the last
    successful append took) and `failures` (appends that raised StoreError)."""

    events_stored: int
    last_commit_ms: float
    failures: int

    def rooms(self) -> dict[str, RoomRecord]:
        """Every room known, by key (read at start-up)."""

    def append(self, events: Sequence[StoredEvent], rooms: Sequence[RoomRecord] = ()) -> None:
        """Insert `events` and upsert `rooms` in one transaction, committed on return."""

    def latest(self, room: str, count: int) -> list[StoredEvent]:
        """The room's last `count` events, oldest first."""

    def before(self, room: str, event_id: int, count: int) -> list[StoredEvent]:
        """The `count` events right before `event_id`, oldest first."""

    def after(self, room: str, event_id: int, count: int) -> list[StoredEvent]:
        """The first `count` events after `event_id`, oldest first."""

    def forget_older_than(self, time_ms: int) -> int:
        """Delete events older than `time_ms`; return how many. Room records stay."""

    def bans(self) -> list[Ban]:
        """Every ban kept, expired or not (the caller decides what has expired)."""

    def add_ban(self, ban: Ban) -> None:
        """Keep `ban`, replacing any ban on the same target."""

    def remove_ban(self, target: str) -> bool:
        """Lift the ban on `target`; False if there was none."""

    def close(self) -> None:
        """Release the store; closing twice is harmless."""


def default_store_path() -> Path:
    """`$XDG_STATE_HOME/lanchat/history.sqlite3`, else `~/.local/state/lanchat/...`.

    As the XDG spec says, a relative `$XDG_STATE_HOME` is ignored.
    """
    state_home = os.environ.get("XDG_STATE_HOME", "")
    base = Path(state_home) if os.path.isabs(state_home) else Path.home() / ".local" / "state"
    return base / "lanchat" / "history.sqlite3"


def open_store(spec: str) -> EventStore:
    """The store `--store SPEC` asks for: "none" keeps history in memory, else a file path."""
    if spec == "none":
        from chat_server.memory_store import MemoryStore  # here: it imports this module

        return MemoryStore()
    if not spec.strip():
        raise StoreError("cannot open store: the path is empty")
    from chat_server.sqlite_store import SqliteStore  # here: it imports this module

    return SqliteStore(Path(spec).expanduser())


# Checking a batch (both stores)


class RoomPart(NamedTuple):
    """One room's events of a batch, in order, and their columns (taken apart once, at C
    speed, for the checks and for the file's chunks)."""

    events: Sequence[StoredEvent]
    ids: tuple[int, ...]
    times: tuple[int, ...]
    lines: tuple[str, ...]


def check_batch(
    events: Sequence[StoredEvent],
    rooms: Sequence[RoomRecord],
    known: Mapping[str, RoomRecord],
) -> dict[str, RoomPart]:
    """Check an append before anything is written; return its events by room, in order.

    `known` holds the room records as stored. Raises ValueError for an event whose room
    has no record (known or in `rooms`), whose id is not above the room's last id and the
    batch's earlier ids for that room, whose id or time is beyond SQLite's integers, or
    whose line holds a line feed. Runs at C speed for the usual batch (one room, in order).
    """
    parts = _by_room(events)
    for key, part in parts.items():
        record = known.get(key)
        if record is None and all(given.key != key for given in rooms):
            raise ValueError(f"event {part.ids[0]} for room {key!r}, which has no record")
        _check_ids(key, part.ids, record.last_id if record else 0)
        check_times_and_lines(part)
    return parts


def _by_room(events: Sequence[StoredEvent]) -> dict[str, RoomPart]:
    if not events:
        return {}
    keys, ids, times, lines = zip(*events)
    if keys.count(keys[0]) == len(keys):  # the usual batch: one room
        return {keys[0]: RoomPart(events, ids, times, lines)}
    by_room: dict[str, list[StoredEvent]] = {}
    for event in events:
        by_room.setdefault(event.room, []).append(event)
    return {key: room_part(part) for key, part in by_room.items()}


def room_part(events: Sequence[StoredEvent]) -> RoomPart:
    """`events` (of one room, not empty) with their columns."""
    _, ids, times, lines = zip(*events)
    return RoomPart(events, ids, times, lines)


def _check_ids(key: str, ids: tuple[int, ...], last_id: int) -> None:
    first = ids[0]
    if first > last_id and (ids == tuple(range(first, first + len(ids)))  # usual: no gaps
                            or all(map(operator.lt, ids, islice(ids, 1, None)))):
        if ids[-1] > MAX_ID:
            raise ValueError(f"event id {ids[-1]} in room {key!r} is beyond {MAX_ID}")
        return
    highest = last_id  # the slow way, only to say which id is wrong
    for event_id in ids:
        if event_id <= highest:
            raise ValueError(f"event id {event_id} in room {key!r} is not above {highest}")
        highest = event_id


def check_times_and_lines(part: RoomPart) -> None:
    oldest, newest = min(part.times), max(part.times)
    if oldest < _MIN_INT or newest > MAX_ID:
        raise ValueError(f"an event time in {oldest}..{newest} is beyond SQLite's integers")
    if "\n" in "".join(part.lines):
        raise ValueError("an event line holds a line feed (LF)")


def check_count(count: int) -> None:
    """A negative count is a caller's mistake (SQLite would read LIMIT -1 as "no limit")."""
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")


def record_after(record: RoomRecord, known: RoomRecord | None, highest: int) -> RoomRecord:
    """`record` as stored after a batch: its `last_id` never goes down, and is raised to the
    batch's highest id for the room."""
    last_id = max(record.last_id, known.last_id if known else 0, highest)
    return record if last_id == record.last_id else replace(record, last_id=last_id)

