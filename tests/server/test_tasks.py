"""The per-client tasks on a real scheduler over a socketpair, with a stand-in directory."""

from __future__ import annotations

import io
import logging
import socket

import pytest

from chat_server.scheduler import Scheduler
from chat_server.session import Session
from chat_server.tasks import client_reader
from chat_server.trace import TracingScheduler
from protocol import LineConnection


class BuggyRoom:
    """A directory whose command handling has a bug, and which records what it is told."""

    def __init__(self) -> None:
        self.lost: list[Session] = []

    def handle(self, session: Session, command: object) -> None:
        raise KeyError("a command without a handler")

    def connection_lost(self, session: Session) -> None:
        session.stop_reading()
        self.lost.append(session)


def _session(sock: socket.socket) -> Session:
    return Session(sock, "192.0.2.1:40000", LineConnection(), outbox_limit=1 << 20,
                   flood=None, now=0.0, on_hang_up=lambda session: None)


def test_a_reader_that_crashes_leaves_no_ghost_in_the_room(caplog: pytest.LogCaptureFixture) -> None:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    session = _session(ours)
    room = BuggyRoom()
    scheduler = Scheduler()
    scheduler.spawn(client_reader(room, session, scheduler.clock), name="reader")  # type: ignore[arg-type]
    theirs.send(b"/frobnicate\n")
    with caplog.at_level(logging.ERROR):
        scheduler.run()
    assert room.lost == [session]  # the room was told: the member does not linger
    assert "task reader crashed" in caplog.text  # and the bug is reported, not hidden
    ours.close()
    theirs.close()


def test_a_reader_at_end_of_file_reports_the_connection_lost_once() -> None:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    session = _session(ours)
    room = BuggyRoom()
    scheduler = Scheduler()
    scheduler.spawn(client_reader(room, session, scheduler.clock))  # type: ignore[arg-type]
    theirs.close()
    scheduler.run()
    assert room.lost == [session]
    ours.close()


def test_trace_says_when_a_task_is_cancelled() -> None:
    out = io.StringIO()
    scheduler = TracingScheduler(out=out, colour=False)
    ours, theirs = socket.socketpair()
    session = _session(ours)
    reader = scheduler.spawn(client_reader(BuggyRoom(), session, scheduler.clock),  # type: ignore[arg-type]
                             name="reader(alice)")

    def canceller():  # type: ignore[no-untyped-def]
        yield ("sleep", 0)
        scheduler.cancel(reader)

    scheduler.spawn(canceller())
    scheduler.run()
    assert "cancel   reader(alice)        stopped where it waited" in out.getvalue()
    ours.close()
    theirs.close()
