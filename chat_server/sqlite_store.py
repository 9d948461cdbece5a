"""The SQLite store: room history, room records and bans in one file.

`SqliteStore(path)` keeps them in a file, through the standard library's `sqlite3`, behind
the `EventStore` interface of `store.py` (which states the rules every store keeps, and
holds the checks of a batch it shares with `MemoryStore`). Here: the file's schema and
SQL, how events are packed into chunks, the migration from schema 1, and what survives a
crash.

Durability and threads, stated plainly. The file is in WAL journal mode with
`synchronous=NORMAL`:
- When `append` returns, its transaction is in the write-ahead log (the `-wal` file beside
  the database), in the operating system's page cache. Killing the process (even SIGKILL)
  loses nothing committed: the next open replays the log.
- About once a second (if anything was committed) a thread of the store's own (the
  checkpointer, in `checkpointer.py`), on a connection of its own, checkpoints: it syncs
  the log to the disk, copies it into the database file and syncs that. So a power cut or
  an OS crash can lose the transactions of the last second or so, but never corrupts the
  file: the database comes back as it was at some earlier commit. `synchronous=FULL`
  would close that window at the price of one sync per append.
- The server's loop never waits for those syncs: its connection never checkpoints by
  itself (`wal_autocheckpoint=0`), and the thread takes none of the store's locks and runs
  below the loop's priority (`checkpointer.py` says how).
- The log starts again from its beginning only when a writer finds it all copied. Once it
  is long, the thread hands the loop the little committed during its last checkpoint: the
  next `append` copies that in (a few pages, two short syncs), and the append after it
  starts the log again (SQLite syncs the log's first page: one more). That is the loop's
  whole share: three short syncs every few seconds under load (more only if the thread's
  passes are never quiet enough: see `checkpointer.py`).
- A checkpoint that fails (a full disk) is logged once and tried again every second;
  appends go on into the log while it has room, and fail (StoreError) once it has none.
- `close` stops and joins the thread, then closes the connection: SQLite's last close
  checkpoints the whole log into the file and removes the log.

Only parameterised queries. Every method holds a lock, so the server may call the store
from a worker thread as well as from its loop (one call runs at a time).

How events are kept: a batch's events of one room are one row, a chunk of at most
CHUNK_EVENTS: their ids and times packed, their lines joined by LF. Under load a batch is
hundreds of events, and a row per event (with an index entry per event for retention by
time) cost ~2.5 µs an event to insert; a chunk costs ~0.5. Reads and retention unpack
only the few chunks they touch; a room's row keeps its name and topic, and its last id
is the larger of the row's and its newest chunk's (see `_ROOM_LAST_ID`).

Small pages (PAGE_SIZE, 1 KiB, for the files this code creates): a commit writes every
page it changed into the log whole, and at a light load each commit is one line. With
SQLite's default 4 KiB pages that was ~6 KB of log a line, with 1 KiB ~1.5 KB, and the
copying and the log's tail latency shrank with it: at the benchmark's light load (f) the
store's p99 went from 1.25x to 1.18x that of `--store none` (medians of 3 turns each),
and saturation did not change (0.93x, 0.95x). A file made with other pages keeps them
(SQLite cannot change the page size of a file in WAL mode); it works the same.

Cost, measured on a 2-core virtual machine (ext4), ~80-byte lines, on the loop: one
`append` of 1 event takes 0.03 ms (median; ~0.05 in the running server, its caches
cold), of 100 events 0.08 ms, of 500 events 0.26 ms (a row per event: 0.29 and 1.2 ms).
`latest` of 50 takes 0.03 ms from big chunks, 0.06 from one-event ones. The loop's share
of the checkpoints is three syncs of a few pages every few seconds under load, ~0.5-3 ms
each (with SQLite's automatic checkpoint inside `append`, it was ~5-12 ms every thousand
pages). MemoryStore: 0.003 ms for 1 event, 0.015 ms for 100.
"""

from __future__ import annotations

import bisect
import os
import sqlite3
import sys
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import repeat
from pathlib import Path

from chat_server.checkpointer import Checkpointer
from chat_server.store import (
    MAX_ID, Ban, RoomPart, RoomRecord, StoredEvent, StoreError, check_batch, check_count,
    check_times_and_lines, record_after, room_part,
)

SCHEMA_VERSION = 2  # PRAGMA user_version of the files this code writes; bump and migrate

PAGE_SIZE = 1024  # bytes a page in the files this code creates: see the module docstring
CHUNK_EVENTS = 128  # at most this many events a row: a read of a few unpacks little
LOG_SIZE_LIMIT = 64 * 2**20  # a log that grew past this in a burst is cut back when it restarts

_ROOMS_TABLE = """CREATE TABLE rooms (
    key TEXT PRIMARY KEY, name TEXT NOT NULL, last_id INTEGER NOT NULL,
    topic TEXT, topic_by TEXT, topic_time_ms INTEGER, topic_id INTEGER)"""
# The room's key is its name after NFKC+casefold; the caller computes it. A room's chunks
# never overlap (ids only grow), so the chunk holding an id is the last one starting at
# or before it. WITHOUT ROWID: the rows are stored in (room, first_id) order, so every read
# is one range scan of the primary key with no second lookup per row.
_CHUNKS_TABLE = """CREATE TABLE chunks (
    room TEXT NOT NULL, first_id INTEGER NOT NULL, last_id INTEGER NOT NULL,
    oldest_ms INTEGER NOT NULL, newest_ms INTEGER NOT NULL,
    ids BLOB NOT NULL, times BLOB NOT NULL, lines TEXT NOT NULL,
    PRIMARY KEY (room, first_id)) WITHOUT ROWID"""
# Retention deletes by time across all rooms: one index entry per chunk keeps it a range scan.
_CHUNKS_INDEX = "CREATE INDEX chunks_by_time ON chunks (oldest_ms)"
_BANS_TABLE = """CREATE TABLE bans (
    target TEXT PRIMARY KEY, kind TEXT NOT NULL, until_ms INTEGER NULL,
    reason TEXT NOT NULL, by TEXT NOT NULL)"""
_SCHEMA = (_ROOMS_TABLE, _CHUNKS_TABLE, _CHUNKS_INDEX, _BANS_TABLE)

# Read at open: one real query per table and index, so a damaged file is refused then.
_PROBES = (
    "SELECT * FROM rooms LIMIT 1",
    "SELECT * FROM chunks ORDER BY room DESC, first_id DESC LIMIT 1",
    "SELECT * FROM chunks ORDER BY oldest_ms LIMIT 1",
    "SELECT * FROM bans LIMIT 1",
)

_ROOM_COLUMNS = "key, name, last_id, topic, topic_by, topic_time_ms, topic_id"
_BAN_COLUMNS = "target, kind, until_ms, reason, by"
_CHUNK_COLUMNS = "room, first_id, last_id, oldest_ms, newest_ms, ids, times, lines"

# A room's last id is the larger of its row's `last_id` and its newest chunk's: an append
# whose room record changed in nothing but its last id writes only its chunk (one page
# less, one statement less), so the row lags until retention deletes chunks (which
# first brings the rows up to date) or the record changes.
_ROOM_LAST_ID = """max(last_id, coalesce((SELECT chunks.last_id FROM chunks
    WHERE chunks.room = rooms.key ORDER BY chunks.first_id DESC LIMIT 1), 0))"""
_READ_ROOMS = f"""SELECT key, name, {_ROOM_LAST_ID}, topic, topic_by, topic_time_ms, topic_id
    FROM rooms"""
_SETTLE_LAST_IDS = f"UPDATE rooms SET last_id = {_ROOM_LAST_ID}"
_UPSERT_ROOM = f"""INSERT INTO rooms ({_ROOM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET name = excluded.name,
        last_id = max(last_id, excluded.last_id), topic = excluded.topic,
        topic_by = excluded.topic_by, topic_time_ms = excluded.topic_time_ms,
        topic_id = excluded.topic_id"""
_INSERT_CHUNK = f"INSERT INTO chunks ({_CHUNK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"

# The reads: each one range of the primary key, newest or oldest first, bounded (a chunk
# holds at least one event, so `count` chunks always hold `count` events). first_id and
# oldest_ms are all a chunk of one event needs besides its line (see `_unpacked`).
_PACKED = "first_id, oldest_ms, ids, times, lines"
_LATEST = f"SELECT {_PACKED} FROM chunks WHERE room = ? ORDER BY first_id DESC LIMIT ?"
_BEFORE = (f"SELECT {_PACKED} FROM chunks WHERE room = ? AND first_id < ? "
           "ORDER BY first_id DESC LIMIT ?")
_HOLDING = (f"SELECT {_PACKED} FROM chunks WHERE room = ? AND first_id <= ? "
            "ORDER BY first_id DESC LIMIT 1")
_AFTER = (f"SELECT {_PACKED} FROM chunks WHERE room = ? AND first_id > ? "
          "ORDER BY first_id LIMIT ?")
# Retention: whole chunks older than the time go in SQL; the few that straddle it are
# rewritten with the events they keep.
_OLD_COUNT = "SELECT total(length(ids)) FROM chunks WHERE oldest_ms < ? AND newest_ms < ?"
_OLD_DELETE = "DELETE FROM chunks WHERE oldest_ms < ? AND newest_ms < ?"
_STRADDLING = f"SELECT room, {_PACKED} FROM chunks WHERE oldest_ms < ?"
_DELETE_CHUNK = "DELETE FROM chunks WHERE room = ? AND first_id = ?"
RANGE_QUERIES = (_READ_ROOMS, _SETTLE_LAST_IDS, _LATEST, _BEFORE, _HOLDING, _AFTER,
                 _OLD_COUNT, _OLD_DELETE, _STRADDLING, _DELETE_CHUNK)
"""Every query that reads or deletes chunks: each must search an index (a test checks)."""


@contextmanager
def _failing_as(what: str, *also: type[Exception]) -> Iterator[None]:
    """Turn SQLite's errors (and `also`) into a one-line StoreError that starts with `what`."""
    try:
        yield
    except (sqlite3.Error, *also) as error:
        raise _store_error(what, error) from error


def _store_error(what: str, error: Exception) -> StoreError:
    text = " ".join(str(error).split()) or type(error).__name__
    return StoreError(f"{what}: {text}")


class SqliteStore:
    """History in an SQLite file: see the module docstring for what survives a crash."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open (or create) the store at `path`; StoreError if it cannot be used."""
        self.path = Path(path)
        self.events_stored = 0
        self.last_commit_ms = 0.0
        self.failures = 0
        self.commits = 0  # successful appends: the checkpointer watches it
        self._lock = threading.Lock()
        self._conn = _open(self.path)
        try:
            with _failing_as(f"cannot open store {self.path}"):
                self._records = self._read_rooms()
                self._checkpointer = Checkpointer(self.path, _connect, lambda: self.commits)
        except StoreError:
            self._conn.close()
            raise

    def rooms(self) -> dict[str, RoomRecord]:
        """Every room known, by key."""
        with self._lock:
            return dict(self._records)

    def append(self, events: Sequence[StoredEvent], rooms: Sequence[RoomRecord] = ()) -> None:
        """Insert `events` and upsert `rooms` in one transaction, committed on return.

        A room record's `last_id` never goes down, and is raised to its events' highest id.
        """
        if not events and not rooms:
            return
        with self._lock:
            started = time.perf_counter()
            by_room = check_batch(events, rooms, self._records)
            records = self._records_after(rooms, by_room)
            room_rows = [_room_row(record) for record in records.values()
                         if self._must_write(record, by_room)]
            self._commit(room_rows, list(_chunk_rows(by_room)))
            self._records.update(records)
            self.last_commit_ms = (time.perf_counter() - started) * 1000
            self.events_stored += len(events)
            self.commits += 1
            if self._checkpointer.due:
                self._catch_up()

    def latest(self, room: str, count: int) -> list[StoredEvent]:
        """The room's last `count` events, oldest first."""
        check_count(count)
        return self._backwards(room, None, count)

    def before(self, room: str, event_id: int, count: int) -> list[StoredEvent]:
        """The `count` events right before `event_id`, oldest first."""
        check_count(count)
        if event_id > MAX_ID:  # every id is before it (`/history #r before 99999...`)
            return self.latest(room, count)
        return self._backwards(room, event_id, count)

    def after(self, room: str, event_id: int, count: int) -> list[StoredEvent]:
        """The first `count` events after `event_id`, oldest first."""
        check_count(count)
        if event_id >= MAX_ID or count == 0:  # no id is after it
            return []
        event_id = max(event_id, 0)  # ids start at 1: anything below is "from the start"
        found: list[StoredEvent] = []
        with self._lock, _failing_as(f"cannot read store {self.path}"):
            for row in self._conn.execute(_HOLDING, (room, event_id)).fetchall():
                found += _unpacked(room, *row, above=event_id)[:count]
            rows = self._conn.execute(_AFTER, (room, event_id, count))
            for row in rows:  # oldest chunk first, read only as far as needed
                if len(found) >= count:
                    break
                if len(row[2]) == 8:  # one event (after `event_id`, as the query asked)
                    found.append(StoredEvent(room, row[0], row[1], row[4]))
                else:
                    found += _unpacked(room, *row)[:count - len(found)]
            rows.close()
        return found

    def forget_older_than(self, time_ms: int) -> int:
        """Delete events older than `time_ms`; return how many. Room records stay."""
        with self._lock, self._transaction():
            self._conn.execute(_SETTLE_LAST_IDS)  # before the chunks that carry them go
            gone = int(self._conn.execute(_OLD_COUNT, (time_ms, time_ms)).fetchone()[0]) // 8
            self._conn.execute(_OLD_DELETE, (time_ms, time_ms))
            straddling = self._conn.execute(_STRADDLING, (time_ms,)).fetchall()
            for room, first_id, *packed in straddling:
                events = _unpacked(room, first_id, *packed)
                kept = [event for event in events if event.time_ms >= time_ms]
                gone += len(events) - len(kept)
                self._conn.execute(_DELETE_CHUNK, (room, first_id))
                self._conn.executemany(_INSERT_CHUNK, _chunk_rows({room: room_part(kept)}))
        return gone

    def bans(self) -> list[Ban]:
        """Every ban kept, by target."""
        with self._lock, _failing_as(f"cannot read store {self.path}"):
            rows = self._conn.execute(f"SELECT {_BAN_COLUMNS} FROM bans ORDER BY target")
            return [Ban(*row) for row in rows.fetchall()]

    def add_ban(self, ban: Ban) -> None:
        """Keep `ban`, replacing any ban on the same target."""
        with self._lock, self._transaction():
            self._conn.execute(
                f"INSERT OR REPLACE INTO bans ({_BAN_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (ban.target, ban.kind, ban.until_ms, ban.reason, ban.by),
            )

    def remove_ban(self, target: str) -> bool:
        """Lift the ban on `target`; False if there was none."""
        with self._lock, self._transaction():
            cursor = self._conn.execute("DELETE FROM bans WHERE target = ?", (target,))
        return cursor.rowcount > 0

    def close(self) -> None:
        """Stop the checkpointer, then close the file (SQLite checkpoints the whole log into
        it and removes the log); closing twice is harmless."""
        self._checkpointer.stop()
        with self._lock:
            self._conn.close()

    # Writing

    def _records_after(
        self, rooms: Sequence[RoomRecord], by_room: Mapping[str, RoomPart]
    ) -> dict[str, RoomRecord]:
        """The record of every room the batch touches, as it will be stored."""
        records = {record.key: record for record in rooms}
        for key in by_room:
            if key not in records:
                records[key] = self._records[key]  # check_batch made sure it is there
        return {key: record_after(record, self._records.get(key), _highest(by_room, key))
                for key, record in records.items()}

    def _commit(self, room_rows: list[tuple[object, ...]],
                chunk_rows: list[tuple[object, ...]]) -> None:
        """Write the rows in one transaction; StoreError (counted) if SQLite cannot.

        The usual append (one room, nothing new but events) is one INSERT, which SQLite
        runs as a transaction of its own; otherwise BEGIN..COMMIT. This runs for every line
        said, so it is written out rather than with the context managers used elsewhere."""
        try:
            if not room_rows and len(chunk_rows) == 1:
                self._conn.execute(_INSERT_CHUNK, chunk_rows[0])
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if room_rows:
                    self._conn.executemany(_UPSERT_ROOM, room_rows)
                self._conn.executemany(_INSERT_CHUNK, chunk_rows)
                self._conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        except sqlite3.Error as error:
            self.failures += 1
            raise _store_error(f"cannot write to store {self.path}", error) from error

    def _must_write(self, record: RoomRecord,
                    by_room: Mapping[str, RoomPart]) -> bool:
        """Whether the batch must write the room's row: a new room, a new name or topic, or
        a last id above what its events carry (the chunks keep the rest: see `_ROOM_LAST_ID`)."""
        old = self._records.get(record.key)
        if old is None or record.last_id > max(old.last_id, _highest(by_room, record.key)):
            return True
        return (record.name, record.topic, record.topic_by, record.topic_time_ms,
                record.topic_id) != (old.name, old.topic, old.topic_by, old.topic_time_ms,
                                     old.topic_id)

    def _catch_up(self) -> None:
        """Copy into the file what was committed while the checkpointer ran, so that the
        log starts again from its beginning at the next append (see the module docstring)."""
        self._checkpointer.due = False
        try:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            pass  # already committed; the checkpointer's next try says what is wrong, once

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction, committed at the end, rolled back on any exception.

        The connection is opened with isolation_level=None, so the sqlite3 module never
        begins or commits on its own: the transaction is exactly the BEGIN..COMMIT here.
        IMMEDIATE takes the write lock at once, so what is read is what will be written to.
        """
        with _failing_as(f"cannot write to store {self.path}"):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        # A failed COMMIT (disk full) may already have rolled back; do not mask the error.
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    # Reading

    def _read_rooms(self) -> dict[str, RoomRecord]:
        rows = self._conn.execute(_READ_ROOMS).fetchall()
        return {row[0]: RoomRecord(*row) for row in rows}

    def _backwards(self, room: str, below: int | None, count: int) -> list[StoredEvent]:
        """The last `count` events of `room` (with ids below `below`), oldest first."""
        newest_first: list[StoredEvent] = []
        if count == 0:
            return newest_first
        with self._lock, _failing_as(f"cannot read store {self.path}"):
            if below is None:
                rows = self._conn.execute(_LATEST, (room, count))
            else:
                rows = self._conn.execute(_BEFORE, (room, below, count))
            for row in rows:  # newest chunk first, read only as far as needed
                if len(row[2]) == 8:  # one event (below `below`, as the query asked)
                    newest_first.append(StoredEvent(room, row[0], row[1], row[4]))
                else:
                    last = count - len(newest_first)
                    newest_first += reversed(_unpacked(room, *row, below=below, last=last))
                if len(newest_first) >= count:
                    break
            rows.close()
        newest_first.reverse()
        return newest_first


def _highest(by_room: Mapping[str, RoomPart], key: str) -> int:
    """The highest id of the room's events in the batch (they are in order), or 0."""
    part = by_room.get(key)
    return part.ids[-1] if part else 0


def _room_row(record: RoomRecord) -> tuple[object, ...]:
    return (record.key, record.name, record.last_id, record.topic, record.topic_by,
            record.topic_time_ms, record.topic_id)


# Chunks: a room's events of one batch in a row, ids and times packed as 8-byte integers
# (little-endian, so a file moves between machines), lines joined by LF.

_SWAP = sys.byteorder != "little"


def _chunk_rows(by_room: Mapping[str, RoomPart]) -> Iterator[tuple[object, ...]]:
    """The rows of `chunks` that keep these (checked) events, CHUNK_EVENTS at most a row."""
    for key, part in by_room.items():
        for start in range(0, len(part.ids), CHUNK_EVENTS):
            ids = part.ids[start:start + CHUNK_EVENTS]
            times = part.times[start:start + CHUNK_EVENTS]
            yield (key, ids[0], ids[-1], min(times), max(times), _packed(ids), _packed(times),
                   "\n".join(part.lines[start:start + CHUNK_EVENTS]))


def _packed(values: Iterable[int]) -> bytes:
    numbers = array("q", values)
    if _SWAP:
        numbers.byteswap()
    return numbers.tobytes()


def _numbers(blob: bytes) -> array[int]:
    numbers = array("q")
    numbers.frombytes(blob)
    if _SWAP:
        numbers.byteswap()
    return numbers


def _unpacked(room: str, first_id: int, oldest_ms: int, ids_blob: bytes, times_blob: bytes,
              lines: str, *, above: int | None = None, below: int | None = None,
              last: int | None = None) -> list[StoredEvent]:
    """A chunk's events with ids above `above` and below `below` (the `last` of them at
    most), in order."""
    if len(ids_blob) == 8:  # one event, as every chunk of a quiet room: nothing to unpack
        if (above is not None and first_id <= above) or (below is not None and first_id >= below):
            return []
        return [StoredEvent(room, first_id, oldest_ms, lines)]
    ids = _numbers(ids_blob)
    start = 0 if above is None else bisect.bisect_right(ids, above)
    stop = len(ids) if below is None else bisect.bisect_left(ids, below)
    if last is not None:
        start = max(start, stop - last)
    if start >= stop:
        return []
    times = _numbers(times_blob)
    if stop == len(ids):  # a tail, as `latest` wants: split off only that
        texts = lines.rsplit("\n", stop - start)[-(stop - start):]
    else:
        texts = lines.split("\n")[start:stop]
    return list(map(StoredEvent, repeat(room, stop - start), ids[start:stop],
                    times[start:stop], texts))



# Opening


def _connect(path: Path) -> sqlite3.Connection:
    # check_same_thread=False: the server may hand writes to a worker thread (the store's
    # lock keeps calls one at a time), and the checkpointer's connection is opened on the
    # loop's thread, used by its own and closed by whichever closes the store.
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False)


def _open(path: Path) -> sqlite3.Connection:
    """Connect, check the file is a store this code can use, and set it up; or StoreError."""
    if path.is_dir():
        raise StoreError(f"cannot open store {path}: it is a directory")
    with _failing_as(f"cannot open store {path}", OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(path)
    try:
        with _failing_as(f"cannot open store {path}"):
            _prepare(conn, path)
    except (StoreError, ValueError) as error:
        conn.close()
        if isinstance(error, ValueError):
            raise StoreError(f"cannot open store {path}: {error}") from error
        raise
    return conn


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    # Reading the version reads the file's first page: a file of random bytes fails here.
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"cannot open store {path}: its schema version is {version}, and this "
            f"chat-server knows only up to {SCHEMA_VERSION} (use a newer chat-server)"
        )
    # Refused before anything changes it, even its journal mode: someone else's file.
    if version == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise StoreError(f"cannot open store {path}: it is an SQLite file, but not a lanchat store")
    if version == 0:  # a new file: its page size is set now or never (not once in WAL)
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # a pragma takes no parameters
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode != "wal":
        raise StoreError(f"cannot open store {path}: it cannot use WAL journal mode ({mode})")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it, off the loop
    conn.execute(f"PRAGMA journal_size_limit={LOG_SIZE_LIMIT}")
    if version == 0:
        _in_one_transaction(conn, _create_schema)
    elif version == 1:
        _in_one_transaction(conn, _migrate_from_1)
    for sql in _PROBES:
        conn.execute(sql).fetchall()


def _in_one_transaction(conn: sqlite3.Connection,
                        change: Callable[[sqlite3.Connection], None]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        change(conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")  # a pragma takes no parameters
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _create_schema(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA:
        conn.execute(statement)


def _migrate_from_1(conn: sqlite3.Connection) -> None:
    """Version 1 kept a row per event (`events`, indexed by time): move them into chunks
    (consecutive events of a room, CHUNK_EVENTS at most a row), then drop the old table."""
    conn.execute(_CHUNKS_TABLE)
    conn.execute(_CHUNKS_INDEX)
    rows = conn.execute("SELECT room, id, time_ms, line FROM events ORDER BY room, id")
    conn.executemany(_INSERT_CHUNK, _chunk_rows_of(map(StoredEvent._make, rows)))
    conn.execute("DROP TABLE events")  # its index goes with it


def _chunk_rows_of(events: Iterable[StoredEvent]) -> Iterator[tuple[object, ...]]:
    """Chunk rows for events in (room, id) order, read as they come (a big file is not
    held in memory): CHUNK_EVENTS at most a row, each checked as an append would be."""
    run: list[StoredEvent] = []
    for event in events:
        if run and (event.room != run[0].room or len(run) == CHUNK_EVENTS):
            yield from _checked_chunk_rows(run)
            run = []
        run.append(event)
    if run:
        yield from _checked_chunk_rows(run)


def _checked_chunk_rows(run: list[StoredEvent]) -> Iterator[tuple[object, ...]]:
    part = room_part(run)
    check_times_and_lines(part)
    yield from _chunk_rows({run[0].room: part})
