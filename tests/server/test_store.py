"""Tests for `chat_server.sqlite_store` (SqliteStore) and `chat_server.memory_store` (MemoryStore).

Every behaviour the two share is one test run on both, so `--store none` cannot drift
from the file. The file's own promises are tested on real SQLite files in pytest's temp
dirs: ids and topics carry on after reopening, a failed batch leaves nothing, a damaged
or foreign file is refused at open with one line, a version 1 file (a row per event) is
moved into chunks at open, all or nothing, and a full disk (simulated in a child process
with RLIMIT_FSIZE, never in this one) fails one append and not the next. A child killed
with SIGKILL right after `append` returned shows what "committed" means. The thread that
checkpoints the log has tests of its own, in test_store_checkpoints.py.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat_server import sqlite_store
from chat_server.memory_store import MemoryStore
from chat_server.sqlite_store import (
    CHUNK_EVENTS, PAGE_SIZE, RANGE_QUERIES, SCHEMA_VERSION, SqliteStore,
)
from chat_server.store import (
    MAX_ID, Ban, EventStore, RoomRecord, StoredEvent, StoreError, default_store_path,
    open_store,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    """Each shared test runs once on a file and once in memory."""
    made: EventStore
    made = SqliteStore(tmp_path / "history.sqlite3") if request.param == "sqlite" else MemoryStore()
    yield made
    made.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "lanchat" / "history.sqlite3"


def event(room: str, event_id: int, time_ms: int | None = None) -> StoredEvent:
    return StoredEvent(room, event_id, event_id * 1000 if time_ms is None else time_ms,
                       f"MSG {event_id} alice :line {event_id} in {room}")


def record(key: str, last_id: int = 0, **fields: object) -> RoomRecord:
    return RoomRecord(key, key.title(), last_id, **fields)  # type: ignore[arg-type]


def fill(store: EventStore, room: str, ids: Sequence[int]) -> None:
    store.append([event(room, i) for i in ids], [record(room)])


def ids(events: Sequence[StoredEvent]) -> list[int]:
    return [e.id for e in events]


def run_child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh Python, so process-wide limits and signals stay out of pytest."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


# Appending and reading back


def test_a_new_store_knows_no_rooms_and_has_no_events(store: EventStore) -> None:
    assert store.rooms() == {}
    assert store.latest("#nowhere", 10) == []
    assert store.before("#nowhere", 5, 10) == []
    assert store.after("#nowhere", 0, 10) == []


def test_events_and_room_records_read_back_exactly(store: EventStore) -> None:
    events = [StoredEvent("#games", 1, 1_700_000_000_123, "JOIN 1 bob"),
              StoredEvent("#games", 2, 1_700_000_000_456, "MSG 2 bob :héllo ☃ \t")]
    games = RoomRecord("#games", "#Games", 2, "chess at 8", "bob", 1_700_000_000_000)
    store.append(events, [games])
    assert store.latest("#games", 10) == events
    assert store.rooms() == {"#games": games}


@pytest.mark.parametrize(("count", "expected"), [
    (0, []), (1, [10]), (3, [8, 9, 10]), (10, list(range(1, 11))), (50, list(range(1, 11))),
])
def test_latest_gives_the_last_count_oldest_first(
    store: EventStore, count: int, expected: list[int]
) -> None:
    fill(store, "#a", range(1, 11))
    assert ids(store.latest("#a", count)) == expected


@pytest.mark.parametrize(("event_id", "count", "expected"), [
    (5, 2, [3, 4]), (5, 10, [1, 2, 3, 4]), (5, 0, []), (1, 5, []), (0, 5, []),
    (11, 3, [8, 9, 10]), (100, 2, [9, 10]),
])
def test_before_gives_the_count_right_before_an_id_oldest_first(
    store: EventStore, event_id: int, count: int, expected: list[int]
) -> None:
    fill(store, "#a", range(1, 11))
    assert ids(store.before("#a", event_id, count)) == expected


@pytest.mark.parametrize(("event_id", "count", "expected"), [
    (0, 3, [1, 2, 3]), (5, 2, [6, 7]), (5, 0, []), (9, 5, [10]), (10, 5, []), (-5, 2, [1, 2]),
])
def test_after_gives_the_first_count_after_an_id_oldest_first(
    store: EventStore, event_id: int, count: int, expected: list[int]
) -> None:
    fill(store, "#a", range(1, 11))
    assert ids(store.after("#a", event_id, count)) == expected


def test_ids_with_gaps_are_found_by_position_not_by_arithmetic(store: EventStore) -> None:
    fill(store, "#a", [2, 4, 6, 8])
    assert ids(store.before("#a", 6, 5)) == [2, 4]
    assert ids(store.before("#a", 7, 1)) == [6]
    assert ids(store.after("#a", 3, 2)) == [4, 6]


def test_rooms_are_kept_apart(store: EventStore) -> None:
    store.append([event("#a", 1), event("#b", 1), event("#a", 2), event("#b", 2), event("#b", 3)],
                 [record("#a"), record("#b")])
    assert [(e.room, e.id) for e in store.latest("#a", 10)] == [("#a", 1), ("#a", 2)]
    assert ids(store.after("#b", 1, 10)) == [2, 3]
    assert {key: r.last_id for key, r in store.rooms().items()} == {"#a": 2, "#b": 3}


@pytest.mark.parametrize("query", ["latest", "before", "after"])
def test_a_negative_count_is_a_mistake_not_everything(store: EventStore, query: str) -> None:
    fill(store, "#a", [1, 2])
    with pytest.raises(ValueError, match="count"):
        if query == "latest":
            store.latest("#a", -1)
        else:
            getattr(store, query)("#a", 1, -1)


@settings(max_examples=40, deadline=None)
@given(
    gaps=st.lists(st.integers(1, 3), max_size=30),
    cuts=st.lists(st.integers(1, 8), max_size=10),
    queries=st.lists(st.tuples(st.sampled_from(["latest", "before", "after"]),
                               st.integers(-1, 80), st.integers(0, 12)), max_size=10),
)
def test_the_file_and_memory_answer_every_query_alike(
    gaps: list[int], cuts: list[int], queries: list[tuple[str, int, int]]
) -> None:
    # Appended in batches of `cuts` sizes, kept 3 to a chunk: reads cross chunk edges.
    event_ids = [sum(gaps[:i + 1]) for i in range(len(gaps))]
    batches = []
    for size in [*cuts, len(event_ids)]:
        batches.append(event_ids[sum(len(batch) for batch in batches):][:size])
    with tempfile.TemporaryDirectory() as directory, \
            mock.patch.object(sqlite_store, "CHUNK_EVENTS", 3):
        stores = [SqliteStore(Path(directory) / "h.sqlite3"), MemoryStore()]
        answers = []
        for store in stores:
            for batch in batches:
                fill(store, "#a", batch)
            answers.append([ids(store.latest("#a", count)) if query == "latest"
                            else ids(getattr(store, query)("#a", event_id, count))
                            for query, event_id, count in queries])
            store.close()
    assert answers[0] == answers[1]


def test_a_batch_of_many_chunks_reads_back_across_their_edges(store: EventStore) -> None:
    size = 2 * CHUNK_EVENTS + 7
    fill(store, "#a", range(1, size + 1))
    assert store.latest("#a", size + 10) == [event("#a", i) for i in range(1, size + 1)]
    edge = CHUNK_EVENTS  # the last id of the first chunk
    assert ids(store.before("#a", edge + 2, 3)) == [edge - 1, edge, edge + 1]
    assert ids(store.after("#a", edge - 1, 3)) == [edge, edge + 1, edge + 2]
    assert ids(store.latest("#a", CHUNK_EVENTS + 9)) == list(range(size - CHUNK_EVENTS - 8,
                                                                   size + 1))


def test_appending_nothing_changes_nothing(store: EventStore) -> None:
    store.append([])
    assert (store.rooms(), store.events_stored) == ({}, 0)


# Room records and ids


def test_last_id_follows_the_events_even_when_the_record_lags(store: EventStore) -> None:
    fill(store, "#a", [1, 2, 3])
    store.append([event("#a", 4), event("#a", 5)])  # no record in this batch
    assert store.rooms()["#a"].last_id == 5


def test_a_record_replaces_the_topic_but_never_lowers_last_id(store: EventStore) -> None:
    fill(store, "#a", [1, 2, 3])
    store.append([], [record("#a", 1, topic="new", topic_by="carol", topic_time_ms=7)])
    assert store.rooms()["#a"] == RoomRecord("#a", "#A", 3, "new", "carol", 7)


def test_an_event_for_a_room_with_no_record_is_refused(store: EventStore) -> None:
    with pytest.raises(ValueError, match="no record"):
        store.append([event("#ghost", 1)])
    assert store.rooms() == {} and store.latest("#ghost", 5) == []


@pytest.mark.parametrize("batch_ids", [[3], [4, 4], [5, 4], [4, 5, 2]])
def test_an_id_not_above_the_last_refuses_the_whole_batch(
    store: EventStore, batch_ids: list[int]
) -> None:
    fill(store, "#a", [1, 2, 3])
    with pytest.raises(ValueError, match="not above"):
        store.append([event("#a", i) for i in batch_ids] + [event("#b", 1)],
                     [record("#a", 9, topic="lost"), record("#b")])
    assert ids(store.latest("#a", 10)) == [1, 2, 3]
    assert store.rooms() == {"#a": record("#a", 3)}
    assert store.events_stored == 3 and store.failures == 0


@pytest.mark.parametrize("bad", [
    StoredEvent("#a", MAX_ID + 1, 3000, "MSG big"),
    StoredEvent("#a", 3, MAX_ID + 1, "MSG late"),
    StoredEvent("#a", 3, -(2**63) - 1, "MSG early"),
])
def test_an_id_or_time_beyond_sqlite_refuses_the_batch(store: EventStore, bad: StoredEvent) -> None:
    fill(store, "#a", [1])
    with pytest.raises(ValueError, match="beyond"):
        store.append([event("#a", 2), bad])
    assert ids(store.latest("#a", 10)) == [1] and store.rooms()["#a"].last_id == 1


def test_a_line_holding_a_line_feed_refuses_the_batch(store: EventStore) -> None:
    # The file joins a batch's lines with LF; a protocol line never holds one.
    fill(store, "#a", [1])
    with pytest.raises(ValueError, match="line feed"):
        store.append([event("#a", 2), StoredEvent("#a", 3, 3000, "MSG 3 bob :two\nlines")])
    assert ids(store.latest("#a", 10)) == [1] and store.rooms()["#a"].last_id == 1


# Retention


def test_retention_deletes_old_events_and_keeps_rooms_and_last_id(store: EventStore) -> None:
    fill(store, "#a", [1, 2, 3, 4])  # at 1000, 2000, 3000, 4000 ms
    fill(store, "#b", [1])
    assert store.forget_older_than(3000) == 3
    assert ids(store.latest("#a", 10)) == [3, 4]
    assert store.latest("#b", 10) == []
    assert {key: r.last_id for key, r in store.rooms().items()} == {"#a": 4, "#b": 1}
    assert store.forget_older_than(3000) == 0


def test_ids_deleted_by_retention_are_never_given_again(store: EventStore) -> None:
    fill(store, "#a", [1, 2])
    store.forget_older_than(10**15)
    with pytest.raises(ValueError):
        store.append([event("#a", 2)])
    store.append([event("#a", 3)])
    assert ids(store.latest("#a", 10)) == [3]


def test_retention_keeps_the_newer_events_of_a_batch_it_cuts_through(store: EventStore) -> None:
    fill(store, "#a", range(1, 11))  # one batch (one chunk in the file), at 1000..10000 ms
    fill(store, "#a", range(11, 14))
    assert store.forget_older_than(4500) == 4
    assert ids(store.latest("#a", 50)) == list(range(5, 14))
    assert ids(store.before("#a", 7, 50)) == [5, 6]
    assert ids(store.after("#a", 0, 3)) == [5, 6, 7]
    assert store.latest("#a", 1) == [event("#a", 13)]
    assert store.forget_older_than(4500) == 0


def test_retention_goes_by_each_event_time_even_when_the_clock_went_back(
    store: EventStore
) -> None:
    times = [5000, 6000, 1000, 7000, 2000, 8000]  # ids 1..6: the clock was set back twice
    store.append([event("#a", i, t) for i, t in enumerate(times, 1)], [record("#a")])
    store.append([event("#a", 7, 1500), event("#a", 8, 9000)])
    assert store.forget_older_than(5500) == 4  # 5000, 1000, 2000 and 1500 went
    assert ids(store.latest("#a", 50)) == [2, 4, 6, 8]
    assert store.rooms()["#a"].last_id == 8


# Bans and figures


def test_bans_are_added_replaced_listed_and_lifted(store: EventStore) -> None:
    forever = Ban("10.0.0.7", "address", None, "spam", "op")
    store.add_ban(Ban("mallory", "nick", 1_700_000_000_000, "rude", "op"))
    store.add_ban(forever)
    store.add_ban(Ban("mallory", "nick", None, "still rude", "op2"))
    assert store.bans() == [forever, Ban("mallory", "nick", None, "still rude", "op2")]
    assert store.remove_ban("mallory") is True
    assert store.remove_ban("mallory") is False
    assert store.bans() == [forever]


def test_figures_count_events_and_time_the_last_append(store: EventStore) -> None:
    fill(store, "#a", [1, 2, 3])
    store.append([event("#a", 4)])
    assert store.events_stored == 4 and store.failures == 0
    assert 0 < store.last_commit_ms < 5000


# The file: what survives, and how


def test_a_reopened_file_gives_back_rooms_topics_ids_events_and_bans(path: Path) -> None:
    first = SqliteStore(path)
    fill(first, "#a", [1, 2, 3])
    first.append([], [record("#a", 0, topic="hi", topic_by="bob", topic_time_ms=99)])
    first.add_ban(Ban("mallory", "nick", None, "", "op"))
    first.forget_older_than(2500)
    first.close()
    second = SqliteStore(path)
    assert second.rooms() == {"#a": RoomRecord("#a", "#A", 3, "hi", "bob", 99)}
    assert ids(second.latest("#a", 10)) == [3]
    assert second.bans() == [Ban("mallory", "nick", None, "", "op")]
    with pytest.raises(ValueError):
        second.append([event("#a", 3)])
    second.append([event("#a", 4)])
    assert (second.events_stored, ids(second.latest("#a", 10))) == (1, [3, 4])
    second.close()


def test_a_reopened_file_remembers_last_ids_after_retention_deleted_every_event(
    path: Path
) -> None:
    first = SqliteStore(path)
    fill(first, "#a", [1, 2, 3])
    first.append([event("#b", 7)], [record("#b", topic="kept", topic_by="bob")])
    assert first.forget_older_than(10**15) == 4
    first.close()
    second = SqliteStore(path)
    assert second.rooms() == {"#a": record("#a", 3),
                              "#b": record("#b", 7, topic="kept", topic_by="bob")}
    with pytest.raises(ValueError, match="not above 3"):
        second.append([event("#a", 3)])
    second.close()


def test_a_file_opened_on_one_thread_can_be_written_from_another(path: Path) -> None:
    # The server may hand appends to a worker thread, as curio's run_in_thread does.
    store = SqliteStore(path)
    worker = threading.Thread(target=fill, args=(store, "#a", [1, 2]))
    worker.start()
    worker.join()
    assert ids(store.latest("#a", 10)) == [1, 2]
    store.close()


def test_the_file_is_created_with_its_directories_in_wal_mode_with_a_version(path: Path) -> None:
    store = SqliteStore(path)
    # synchronous is per connection, so only the store's own connection can show it.
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    other = sqlite3.connect(path)
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert other.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    other.close()
    store.close()


def test_a_new_file_has_small_pages_and_an_older_file_keeps_its_own(
    path: Path, tmp_path: Path
) -> None:
    SqliteStore(path).close()
    assert page_size(path) == PAGE_SIZE == 1024  # a one-line commit logs ~1.5 KB, not ~6
    older = tmp_path / "older.sqlite"  # as this code made them before: SQLite's 4 KiB
    with mock.patch.object(sqlite_store, "PAGE_SIZE", 4096):
        store = SqliteStore(older)
        fill(store, "#a", [1, 2])
        store.close()
    store = SqliteStore(older)
    fill(store, "#a", [3])
    assert ids(store.latest("#a", 10)) == [1, 2, 3]
    store.close()
    assert page_size(older) == 4096


def page_size(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("sql", RANGE_QUERIES)
def test_the_queries_search_the_chunks_by_an_index_and_never_scan_or_sort_them(
    path: Path, sql: str
) -> None:
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    plan_rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", [1] * sql.count("?"))
    steps = [row[3] for row in plan_rows]
    conn.close()
    assert any(step.startswith("SEARCH chunks USING") for step in steps), steps
    assert not [step for step in steps if "SCAN chunks" in step or "TEMP B-TREE" in step]
    # Only the rooms table, a row per room, is ever read whole.
    assert all(step.startswith(("SEARCH chunks", "CORRELATED")) or step == "SCAN rooms"
               for step in steps), steps


@pytest.mark.parametrize("with_more", [True, False])
def test_a_write_that_fails_leaves_nothing_and_the_store_goes_on(
    path: Path, with_more: bool
) -> None:
    # with_more: the failing insert comes after a room's record and another room's chunk
    # (BEGIN..COMMIT); without, the batch is the lone INSERT of the usual append.
    store = SqliteStore(path)
    fill(store, "#a", [1])
    fill(store, "#b", [1])
    saboteur = sqlite3.connect(path)  # the insert of #b's chunk will fail in SQLite
    saboteur.execute("CREATE TRIGGER fail BEFORE INSERT ON chunks WHEN NEW.room = '#b' "
                     "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    saboteur.commit()
    batch = [event("#a", 2), event("#a", 3), event("#b", 2)] if with_more else [event("#b", 2)]
    with pytest.raises(StoreError, match="refused by the test") as caught:
        store.append(batch, [record("#a", 0, topic="x")] if with_more else [])
    assert "\n" not in str(caught.value)
    assert ids(store.latest("#a", 10)) == [1] and ids(store.latest("#b", 10)) == [1]
    assert store.rooms() == {"#a": record("#a", 1), "#b": record("#b", 1)}
    assert (store.failures, store.events_stored) == (1, 2)
    saboteur.execute("DROP TRIGGER fail")
    saboteur.commit()
    saboteur.close()
    store.append(batch)
    assert ids(store.latest("#a", 10)) == ([1, 2, 3] if with_more else [1])
    assert ids(store.latest("#b", 10)) == [1, 2]
    store.close()
    reopened = SqliteStore(path)  # and the file says the same
    assert {key: r.last_id for key, r in reopened.rooms().items()} == {
        "#a": 3 if with_more else 1, "#b": 2}
    reopened.close()


def test_a_committed_append_survives_sigkill(path: Path) -> None:
    child = run_child("""
        import os, signal, sys
        from chat_server.sqlite_store import SqliteStore
        from chat_server.store import RoomRecord, StoredEvent
        store = SqliteStore(sys.argv[1])
        store.append([StoredEvent("#a", i, i, f"line {i}") for i in (1, 2, 3)],
                     [RoomRecord("#a", "#A", 0, "kept", "bob", 1)])
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint, no atexit
    """, str(path))
    assert child.returncode == -9, child.stderr
    store = SqliteStore(path)
    assert [e.line for e in store.latest("#a", 10)] == ["line 1", "line 2", "line 3"]
    assert store.rooms()["#a"] == RoomRecord("#a", "#A", 3, "kept", "bob", 1)
    store.close()


def test_a_full_disk_fails_one_append_and_the_store_works_once_space_returns(path: Path) -> None:
    # RLIMIT_FSIZE makes the kernel refuse to grow any file past the limit (EFBIG, with
    # SIGXFSZ ignored): the real write() failing, as on a full disk, not an SQLite setting.
    child = run_child("""
        import os, resource, signal, sys
        from chat_server.sqlite_store import SqliteStore
        from chat_server.store import RoomRecord, StoredEvent, StoreError
        path = sys.argv[1]
        store = SqliteStore(path)
        store.append([StoredEvent("#a", i, i, "x" * 100) for i in range(1, 11)],
                     [RoomRecord("#a", "#A", 0)])
        big_batch = [StoredEvent("#a", i, i, "y" * 2000) for i in range(11, 211)]
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        full = max(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
        resource.setrlimit(resource.RLIMIT_FSIZE, (full, hard))
        try:
            store.append(big_batch)
            print("no error")
        except StoreError as error:
            print("error:", error)
        print(len(store.latest("#a", 1000)), store.rooms()["#a"].last_id, store.failures)
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        store.append(big_batch)
        print(len(store.latest("#a", 1000)), store.rooms()["#a"].last_id, store.failures)
        store.close()
    """, str(path))
    assert child.returncode == 0, child.stderr
    refused, during, after = child.stdout.splitlines()
    assert refused.startswith(f"error: cannot write to store {path}: ")
    assert during == "10 10 1"  # nothing of the failed batch, and it counts as a failure
    assert after == "210 210 1"
    store = SqliteStore(path)
    assert store.rooms()["#a"].last_id == 210 and len(store.latest("#a", 1000)) == 210
    store.close()


# Version 1 files: a row per event, moved into chunks at open

V1_SCHEMA = (
    """CREATE TABLE rooms (key TEXT PRIMARY KEY, name TEXT NOT NULL, last_id INTEGER NOT NULL,
        topic TEXT, topic_by TEXT, topic_time_ms INTEGER, topic_id INTEGER)""",
    """CREATE TABLE events (room TEXT NOT NULL, id INTEGER NOT NULL, time_ms INTEGER NOT NULL,
        line TEXT NOT NULL, PRIMARY KEY (room, id)) WITHOUT ROWID""",
    "CREATE INDEX events_by_time ON events (time_ms)",
    """CREATE TABLE bans (target TEXT PRIMARY KEY, kind TEXT NOT NULL, until_ms INTEGER NULL,
        reason TEXT NOT NULL, by TEXT NOT NULL)""",
)


def make_version_1_file(path: Path, events: Sequence[StoredEvent],
                        rooms: Sequence[RoomRecord], bans: Sequence[Ban]) -> None:
    """A store as the code of schema version 1 wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    for statement in V1_SCHEMA:
        conn.execute(statement)
    conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", events)
    conn.executemany("INSERT INTO rooms VALUES (?, ?, ?, ?, ?, ?, ?)",
                     [(r.key, r.name, r.last_id, r.topic, r.topic_by, r.topic_time_ms,
                       r.topic_id) for r in rooms])
    conn.executemany("INSERT INTO bans VALUES (?, ?, ?, ?, ?)",
                     [(b.target, b.kind, b.until_ms, b.reason, b.by) for b in bans])
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def tables(path: Path) -> tuple[int, list[str]]:
    conn = sqlite3.connect(path)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    names = [name for (name,) in conn.execute("SELECT name FROM sqlite_master ORDER BY name")]
    conn.close()
    return version, names


def test_a_version_1_file_is_moved_into_chunks_at_open_and_reads_back_the_same(
    path: Path
) -> None:
    events = ([event("#a", i) for i in range(3, 3 + 2 * CHUNK_EVENTS + 5)]  # 1, 2 forgotten
              + [event("#b", i) for i in (1, 5, 6, 9)])
    rooms = [record("#a", 2 * CHUNK_EVENTS + 7, topic="old", topic_by="bob", topic_id=3),
             record("#b", 12)]  # #b: its last ids were deleted by retention
    bans = [Ban("mallory", "nick", None, "spam", "op")]
    make_version_1_file(path, events, rooms, bans)
    store = SqliteStore(path)
    assert tables(path) == (2, ["bans", "chunks", "chunks_by_time", "rooms",
                                "sqlite_autoindex_bans_1", "sqlite_autoindex_rooms_1"])
    assert store.rooms() == {r.key: r for r in rooms} and store.bans() == bans
    assert store.latest("#a", 1000) == events[:-4] and store.latest("#b", 10) == events[-4:]
    assert ids(store.before("#b", 6, 10)) == [1, 5]
    assert ids(store.after("#a", 130, 2)) == [131, 132]
    with pytest.raises(ValueError, match="not above 12"):
        store.append([event("#b", 12)])
    store.append([event("#b", 13)])
    assert store.forget_older_than(6000) == 3 + 2  # #a 3..5, #b 1 and 5
    store.close()
    reopened = SqliteStore(path)  # a version 2 file now: opened as it is
    assert ids(reopened.latest("#b", 10)) == [6, 9, 13] and reopened.rooms()["#b"].last_id == 13
    reopened.close()


def test_a_version_1_file_that_cannot_be_moved_is_refused_and_left_as_it_was(
    path: Path
) -> None:
    events = [event("#a", 1), StoredEvent("#a", 2, 2000, "MSG 2 bob :a line\nfeed")]
    make_version_1_file(path, events, [record("#a", 2)], [])
    message = open_error(path)
    assert "line feed" in message
    assert tables(path) == (1, ["bans", "events", "events_by_time", "rooms",
                                "sqlite_autoindex_bans_1", "sqlite_autoindex_rooms_1"])
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT room, id, time_ms, line FROM events").fetchall() == events
    conn.close()


# Files that cannot be used: one line at open, naming the file


def open_error(path: Path) -> str:
    with pytest.raises(StoreError) as caught:
        SqliteStore(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


def test_a_file_of_random_bytes_is_refused_at_open(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(os.urandom(8192))
    assert "not a database" in open_error(path)


def test_a_store_damaged_after_its_header_is_refused_at_open(path: Path) -> None:
    store = SqliteStore(path)
    fill(store, "#a", [1, 2, 3])
    store.add_ban(Ban("x", "nick", None, "", "op"))
    store.close()
    data = path.read_bytes()
    path.write_bytes(data[:100] + os.urandom(len(data) - 100))  # keep the header, ruin the pages
    open_error(path)


def test_a_directory_is_refused_at_open(path: Path) -> None:
    path.mkdir(parents=True)
    assert "directory" in open_error(path)


def test_a_file_where_a_directory_should_be_is_refused_at_open(path: Path) -> None:
    path.parent.parent.mkdir(parents=True)
    path.parent.write_text("not a directory")
    open_error(path)


def test_an_sqlite_file_of_another_program_is_refused_and_left_alone(path: Path) -> None:
    path.parent.mkdir(parents=True)
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE notes (text TEXT)")
    other.commit()
    other.close()
    assert "not a lanchat store" in open_error(path)
    other = sqlite3.connect(path)
    assert [row[0] for row in other.execute("SELECT name FROM sqlite_master")] == ["notes"]
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    other.close()


def test_a_newer_schema_version_is_refused(path: Path) -> None:
    SqliteStore(path).close()
    newer = sqlite3.connect(path)
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer.commit()
    newer.close()
    assert f"schema version is {SCHEMA_VERSION + 1}" in open_error(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_a_file_without_permission_is_refused_at_open(path: Path) -> None:
    SqliteStore(path).close()
    path.chmod(0)
    try:
        open_error(path)
    finally:
        path.chmod(0o600)


# The memory store's own rules


def test_the_memory_store_keeps_only_the_newest_events_of_each_room() -> None:
    store = MemoryStore(max_events_per_room=3)
    fill(store, "#a", range(1, 8))
    fill(store, "#b", [1])
    assert ids(store.latest("#a", 10)) == [5, 6, 7]
    assert ids(store.before("#a", 6, 10)) == [5]
    assert ids(store.after("#a", 0, 2)) == [5, 6]
    assert store.rooms()["#a"].last_id == 7 and ids(store.latest("#b", 10)) == [1]


def test_the_memory_store_needs_room_for_at_least_one_event() -> None:
    with pytest.raises(ValueError):
        MemoryStore(max_events_per_room=0)


# Choosing the store


def test_the_default_path_is_under_xdg_state_home_when_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_store_path() == tmp_path / "state" / "lanchat" / "history.sqlite3"


@pytest.mark.parametrize("xdg", [None, "", "relative/state"])
def test_the_default_path_is_under_the_home_otherwise(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, xdg: str | None
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_STATE_HOME", xdg)
    assert default_store_path() == tmp_path / ".local" / "state" / "lanchat" / "history.sqlite3"


def test_open_store_none_keeps_history_in_memory() -> None:
    assert isinstance(open_store("none"), MemoryStore)


def test_open_store_with_a_path_opens_a_file_there(path: Path) -> None:
    store = open_store(str(path))
    assert isinstance(store, SqliteStore) and store.path == path and path.exists()
    store.close()


def test_open_store_refuses_an_empty_path() -> None:
    with pytest.raises(StoreError, match="empty"):
        open_store(" ")
