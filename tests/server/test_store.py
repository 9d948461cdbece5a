"""Tests for `chat_server.store` (SqliteStore) and `chat_server.memory_store` (MemoryStore).

Every behaviour the two share is one test run on both, so `--store none` cannot drift
from the file. The file's own promises are tested on real SQLite files in pytest's temp
dirs: ids and topics carry on after reopening, a failed batch leaves nothing, a damaged
or foreign file is refused at open with one line, and a full disk (simulated in a child
process with RLIMIT_FSIZE, never in this one) fails one append and not the next. A child
killed with SIGKILL right after `append` returned shows what "committed" means. The thread
that checkpoints the log has tests of its own, in test_store_checkpoints.py.
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

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat_server.memory_store import MemoryStore
from chat_server.store import (
    MAX_ID, SCHEMA_VERSION, Ban, EventStore, RoomRecord, SqliteStore, StoredEvent, StoreError,
    default_store_path, open_store,
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
    queries=st.lists(st.tuples(st.sampled_from(["latest", "before", "after"]),
                               st.integers(-1, 80), st.integers(0, 12)), max_size=10),
)
def test_the_file_and_memory_answer_every_query_alike(
    gaps: list[int], queries: list[tuple[str, int, int]]
) -> None:
    event_ids = [sum(gaps[:i + 1]) for i in range(len(gaps))]
    with tempfile.TemporaryDirectory() as directory:
        stores = [SqliteStore(Path(directory) / "h.sqlite3"), MemoryStore()]
        answers = []
        for store in stores:
            fill(store, "#a", event_ids)
            answers.append([ids(store.latest("#a", count)) if query == "latest"
                            else ids(getattr(store, query)("#a", event_id, count))
                            for query, event_id, count in queries])
            store.close()
    assert answers[0] == answers[1]


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


@pytest.mark.parametrize(("sql", "plan"), [
    ("SELECT * FROM events WHERE room = ? ORDER BY id DESC LIMIT ?", "(room=?)"),
    ("SELECT * FROM events WHERE room = ? AND id < ? ORDER BY id DESC LIMIT ?",
     "(room=? AND id<?)"),
    ("SELECT * FROM events WHERE room = ? AND id > ? ORDER BY id LIMIT ?", "(room=? AND id>?)"),
    ("DELETE FROM events WHERE time_ms < ?", "events_by_time (time_ms<?)"),
])
def test_the_range_queries_search_an_index_and_never_scan_or_sort(
    path: Path, sql: str, plan: str
) -> None:
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    plan_rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", [1] * sql.count("?"))
    steps = " | ".join(row[3] for row in plan_rows)
    conn.close()
    assert plan in steps and "SEARCH" in steps
    assert "SCAN" not in steps and "TEMP B-TREE" not in steps


def test_a_write_that_fails_mid_batch_leaves_nothing_and_the_store_goes_on(path: Path) -> None:
    store = SqliteStore(path)
    fill(store, "#a", [1])
    saboteur = sqlite3.connect(path)  # the third insert of the next batch will fail in SQLite
    saboteur.execute("CREATE TRIGGER fail BEFORE INSERT ON events WHEN NEW.id = 4 "
                     "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    saboteur.commit()
    with pytest.raises(StoreError, match="refused by the test") as caught:
        store.append([event("#a", 2), event("#a", 3), event("#a", 4)], [record("#a", 0, topic="x")])
    assert "\n" not in str(caught.value)
    assert ids(store.latest("#a", 10)) == [1] and store.rooms()["#a"] == record("#a", 1)
    assert (store.failures, store.events_stored) == (1, 1)
    saboteur.execute("DROP TRIGGER fail")
    saboteur.commit()
    saboteur.close()
    store.append([event("#a", 2), event("#a", 3), event("#a", 4)])
    assert ids(store.latest("#a", 10)) == [1, 2, 3, 4]
    store.close()


def test_a_committed_append_survives_sigkill(path: Path) -> None:
    child = run_child("""
        import os, signal, sys
        from chat_server.store import RoomRecord, SqliteStore, StoredEvent
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
        from chat_server.store import RoomRecord, SqliteStore, StoredEvent, StoreError
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
