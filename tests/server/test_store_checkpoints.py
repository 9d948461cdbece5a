"""Tests for SqliteStore's checkpointer: the thread that copies the log into the file.

What the store promises about it (see the docstrings of sqlite_store.py and
checkpointer.py): the log is copied into the database file in the background, about once
a second, without the store's lock; under a load that never pauses the log still starts
again rather than grow; a checkpoint that fails is logged once and tried again, and
appends go on meanwhile; `close` stops the thread and leaves everything in the file, with
no log beside it. A full disk is simulated in a child process with RLIMIT_FSIZE, never in
this one.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chat_server import checkpointer as checkpointer_module
from chat_server.sqlite_store import SqliteStore
from test_store import event, fill, run_child

__all__: list[str] = []


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite3"


def log_of(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def events_in_the_file_alone(path: Path) -> int:
    """How many events the database file holds by itself, its log aside (`immutable`
    reads the file as it is); -1 while a checkpoint is halfway through a page."""
    try:
        conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            return int(conn.execute("SELECT total(length(ids)) FROM chunks").fetchone()[0]) // 8
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return -1


def soon(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_the_log_is_copied_into_the_file_in_the_background_without_the_store_lock(
    path: Path
) -> None:
    store = SqliteStore(path)
    fill(store, "#a", range(1, 51))
    assert events_in_the_file_alone(path) <= 0  # only in the log so far
    with store._lock:  # held as a long append would: the checkpointer never waits for it
        assert soon(lambda: events_in_the_file_alone(path) == 50)
    store.close()


def test_closing_stops_the_checkpointer_and_leaves_everything_in_the_file_alone(
    path: Path
) -> None:
    store = SqliteStore(path)
    thread = store._checkpointer._thread
    fill(store, "#a", range(1, 21))
    store.close()
    assert not thread.is_alive()
    assert not log_of(path).exists()  # the last close checkpointed it all and removed it
    assert events_in_the_file_alone(path) == 20
    store.close()  # harmless twice


def test_the_log_starts_again_instead_of_growing_under_a_load_that_never_pauses(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small figures, so that a second of appends one after another shows it: written one
    # after another with no pause, the log could never be fully copied in between.
    monkeypatch.setattr(checkpointer_module, "RESTART_FRAMES", 64)
    monkeypatch.setattr(checkpointer_module, "CHECKPOINT_SECONDS", 0.05)
    store = SqliteStore(path)
    fill(store, "#a", [1])
    largest, started, next_id = 0, time.monotonic(), 2
    while time.monotonic() - started < 1.5:
        store.append([event("#a", next_id)])
        next_id += 1
        largest = max(largest, log_of(path).stat().st_size)
        time.sleep(0.0005)
    written = store.commits * 2 * 4096  # at least two pages a commit (its chunk, the index)
    store.close()
    assert written > 8 * 2**20 and largest < written / 4, (written, largest)


def test_an_unclosed_store_lets_its_process_exit_and_keeps_what_it_committed(
    path: Path
) -> None:
    child = run_child("""
        import sys
        from chat_server.sqlite_store import SqliteStore
        from chat_server.store import RoomRecord, StoredEvent
        store = SqliteStore(sys.argv[1])
        store.append([StoredEvent("#a", 1, 1, "kept")], [RoomRecord("#a", "#A", 0)])
        print("leaving without close")
    """, str(path))
    assert child.returncode == 0 and child.stdout == "leaving without close\n", child.stderr
    store = SqliteStore(path)
    assert [e.line for e in store.latest("#a", 5)] == ["kept"]
    store.close()


def test_a_checkpoint_that_fails_is_logged_once_appends_go_on_and_it_recovers(
    path: Path
) -> None:
    # RLIMIT_FSIZE at the file's own size: the file cannot grow, so checkpointing new
    # pages into it fails (EFBIG, as on a full disk), while the log still has room.
    child = run_child("""
        import logging, os, resource, signal, sys, time
        from chat_server import checkpointer
        from chat_server.sqlite_store import SqliteStore
        from chat_server.store import RoomRecord, StoredEvent
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s",
                            stream=sys.stdout)
        checkpointer.CHECKPOINT_SECONDS = 0.05
        path = sys.argv[1]
        store = SqliteStore(path)
        store.append([StoredEvent("#a", i, i, "x" * 100) for i in range(1, 2001)],
                     [RoomRecord("#a", "#A", 0)])
        store.close()  # all in the file: a quarter of a megabyte, and no log
        store = SqliteStore(path)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(path), hard))
        for i in range(2001, 2011):  # each one a page of its own: the file would grow
            store.append([StoredEvent("#a", i, i, "y" * 1500)])
            time.sleep(0.05)
        time.sleep(0.2)
        print("appended", len(store.latest("#a", 5000)), "failures", store.failures)
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        time.sleep(0.5)
        store.close()
    """, str(path))
    assert child.returncode == 0, child.stderr
    lines = child.stdout.splitlines()
    warnings = [line for line in lines if line.startswith("WARNING ")]
    assert len(warnings) == 1, lines  # once, not every 50 ms
    assert f"{path} could not checkpoint its log: " in warnings[0]
    assert "appended 2010 failures 0" in lines
    assert f"INFO the history store {path} checkpoints its log again" in lines
    assert "Traceback" not in child.stderr
    assert not log_of(path).exists() and events_in_the_file_alone(path) == 2010


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice value")
def test_the_checkpointer_gives_way_to_the_loop_on_a_busy_core(path: Path) -> None:
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    store = SqliteStore(path)
    checkpointer = store._checkpointer._thread.native_id
    assert checkpointer is not None
    assert soon(lambda: os.getpriority(os.PRIO_PROCESS, checkpointer)
                == min(mine + checkpointer_module.CHECKPOINTER_NICE, 19))
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine  # the loop's
    store.close()
