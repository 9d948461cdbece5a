"""The checkpointer: the thread that copies an SQLite store's log into its file.

`SqliteStore` (in `sqlite_store.py`) commits into the write-ahead log (the `-wal` file
beside the database), and its connection never checkpoints by itself
(`wal_autocheckpoint=0`), so that the server's loop never waits for a sync. About once a
second (if anything was committed) this thread, on a connection of its own, checkpoints:
it syncs the log to the disk, copies it into the database file and syncs that. It takes
none of the store's locks (SQLite lets one connection checkpoint while another writes),
and it runs CHECKPOINTER_NICE steps below the loop's priority, so that on a busy core the
loop goes first.

The log starts again from its beginning only when a writer finds it all copied. Written
to without a pause, it never would, and would grow without end; so once it is longer
than RESTART_FRAMES pages, the thread hands the loop the little committed during its
last checkpoint (`due`): the store's next `append` copies that in, and the append after
it starts the log again. While more than CATCH_UP_COMMITS were committed during a pass,
the thread checkpoints again (CHECKPOINT_PASSES times at most); if its passes are never
quiet enough, it hands over what is left anyway once the log is past FORCE_RESTART_FRAMES.

A checkpoint that fails (a full disk) is logged once and tried again every second: the
thread never dies of it. `stop` (the store's `close` calls it) stops and joins the thread,
then closes its connection.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0  # how often the thread checkpoints (if anything was committed)
# pages in the log past which it is made to start again: 8 MiB of the 1 KiB pages a new
# store has, 32 MiB in a store made with SQLite's default 4 KiB
RESTART_FRAMES = 8192
CATCH_UP_COMMITS = 8  # fewer commits than this during a checkpoint: the loop copies them in
CHECKPOINT_PASSES = 4  # else the thread checkpoints again, this many times at most
FORCE_RESTART_FRAMES = 4 * RESTART_FRAMES  # and past this the loop copies in what is left
CHECKPOINTER_NICE = 10  # nice steps below the loop: on a busy core, enough for its copying


class Checkpointer:
    """A thread that checkpoints the store's log about once a second, on a connection of
    its own, so that the loop never waits for those syncs (see the module docstring).

    It never takes the store's lock: SQLite lets one connection checkpoint while another
    writes. `due` tells the store that a checkpoint has just ended, and that the next
    append should copy in the little that was committed while it ran.
    """

    def __init__(self, path: Path, connect: Callable[[Path], sqlite3.Connection],
                 commits: Callable[[], int]) -> None:
        self.path = path
        self.due = False
        self._commits = commits  # how many appends the store has committed so far
        self._interval = CHECKPOINT_SECONDS
        self._checkpointed_at = commits()
        self._failing = False
        self._stop = threading.Event()
        self._conn = connect(path)  # as the store connects: one place says how
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._thread = threading.Thread(target=self._run, name="store checkpointer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, wait for it, close its connection; harmless twice."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._conn.close()

    def _run(self) -> None:
        _lower_priority()
        while not self._stop.wait(self._interval):
            try:
                if self._checkpoint():
                    self._works()
            except Exception as error:  # never let the thread die: the log stays usable
                self._went_wrong(error)

    def _checkpoint(self) -> bool:
        """Checkpoint if anything was committed since the last time. Once the log is long,
        checkpoint again while what was committed meanwhile is more than the loop should
        copy in, then hand that little to the loop (`due`). If no pass is ever quiet
        enough, hand it over anyway once the log is very long: else, under a load that
        never pauses, the log would never start again, and grow. Whether it checkpointed."""
        if self._commits() == self._checkpointed_at:
            return False
        for _ in range(CHECKPOINT_PASSES):
            committed = self._commits()
            _, frames, _ = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
            self._checkpointed_at = committed
            if frames < RESTART_FRAMES:
                return True  # short enough: let it grow (the loop's share waits too)
            meanwhile = self._commits() - committed
            if meanwhile <= CATCH_UP_COMMITS:
                self.due = meanwhile > 0  # none: all copied, the next append starts it again
                return True
        # Never quiet enough: rather one long copy on the loop than a log without end.
        self.due = frames >= FORCE_RESTART_FRAMES
        return True

    def _went_wrong(self, error: Exception) -> None:
        if not self._failing:
            self._failing = True
            log.warning("the history store %s could not checkpoint its log: %s; trying again "
                        "every %g s", self.path, " ".join(str(error).split()), self._interval)

    def _works(self) -> None:
        if self._failing:
            self._failing = False
            log.info("the history store %s checkpoints its log again", self.path)


def _lower_priority() -> None:
    """Put the calling thread CHECKPOINTER_NICE steps below the loop, so that on a busy core
    the loop mostly goes first. Linux only: there a thread has a nice value of its own,
    elsewhere it would be the whole process's."""
    if sys.platform.startswith("linux"):
        thread = threading.get_native_id()
        try:
            nice = os.getpriority(os.PRIO_PROCESS, thread)
            os.setpriority(os.PRIO_PROCESS, thread, min(nice + CHECKPOINTER_NICE, 19))
        except OSError:
            pass  # not allowed here: it runs at the loop's priority, which is only slower
