"""The /scheduler page's feed over real sockets: snapshots while watched, nothing once
nobody watches, a viewer that never reads cut off, and at most twenty viewers."""

from __future__ import annotations

import json
import time

from chat_server.live_view import MAX_VIEWERS, LiveView
from chat_server.outbox import Outbox
from chat_server.scheduler import Scheduler
from chat_testing import LineClient, ServerProcess
from web_testing import WebSocketClient, announced_web_port

WAIT = 30.0  # bound for a condition to come true on a busy machine (not a measure)


def _snapshot(viewer: WebSocketClient) -> dict:
    return json.loads(viewer.read_line())


def _stderr_so_far(server: ServerProcess) -> str:
    assert server.stderr_file is not None
    server.stderr_file.seek(0)
    return server.stderr_file.read()


def _wait_for_stderr(server: ServerProcess, needle: str) -> str:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        text = _stderr_so_far(server)
        if needle in text:
            return text
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not in the server's log:\n{_stderr_so_far(server)}")


def _joined(port: int, nick: str, **kwargs) -> LineClient:  # type: ignore[no-untyped-def]
    client = LineClient(port, **kwargs)
    client.send_line("/hello tests 2", f"/nick {nick}")
    client.read_until("CURRENT #lobby")
    return client


def test_counts_and_decisions_arrive_while_watched(server_factory) -> None:
    server = server_factory("--flood", "off")
    viewer = WebSocketClient(announced_web_port(server), path="/scheduler/live")
    assert viewer.accepted
    first = _snapshot(viewer)
    assert {"ready", "recv_wait", "send_wait", "sleeping", "parked", "tasks"} <= set(
        first["counts"])
    assert first["viewers"] == 1
    alice = _joined(server.port, "alice")
    alice.send_line("hello")
    seen: list[list] = []
    for _ in range(200):  # a few snapshots, until alice's reader shows in the decisions
        snapshot = _snapshot(viewer)
        seen += snapshot["decisions"]
        if any(who == "reader(alice)" and verb == "recv" for _, verb, who, _ in seen):
            break
    else:
        raise AssertionError(f"alice's reader never showed: {seen[-20:]}")
    assert any(each["name"] == "alice" for each in snapshot["outboxes"])
    alice.close()
    viewer.close()


def test_nothing_is_recorded_once_the_last_viewer_has_gone(server_factory) -> None:
    server = server_factory("--flood", "off", "--trace")
    port = announced_web_port(server)
    viewers = [WebSocketClient(port, path="/scheduler/live") for _ in range(2)]
    for viewer in viewers:
        _snapshot(viewer)
    _wait_for_stderr(server, "watches; recording the loop")
    viewers[0].close()
    viewers[1].read_line()  # the other one still gets snapshots
    viewers[1].close()
    _wait_for_stderr(server, "nobody watches; the loop is unobserved again")
    trace = _wait_for_stderr(server, "done     live-view")
    after = trace[trace.index("done     live-view"):]
    assert "run      live-view" not in after  # the snapshot task ran its last
    assert trace.count("watches; recording the loop") == 1  # one recorder for both


class _Viewer:
    """What the live view needs of a session."""

    address = "x"
    hanging_up = False
    outbox = Outbox(1000)


def test_the_live_view_attaches_only_while_watched() -> None:
    scheduler = Scheduler()
    view = LiveView(scheduler, None, lambda: [], 1000)  # type: ignore[arg-type]
    viewer = _Viewer()
    assert scheduler.observer is None
    view.add(viewer)  # type: ignore[arg-type]
    assert scheduler.observer is not None
    view.forget(viewer)  # type: ignore[arg-type]
    assert scheduler.observer is None


class _Directory:
    """Records whom the live view asks to cut off."""

    def __init__(self) -> None:
        self.cut: list[tuple[object, str]] = []

    def cut_off(self, member: object, reason: str) -> None:
        self.cut.append((member, reason))


def test_a_viewer_that_never_reads_is_cut_off_by_the_outbox_limit() -> None:
    """Snapshots are queued like chat lines: a viewer whose socket is full (its writer
    stalled) and who owes more than the limit is cut off as too slow, like anyone.

    (In-process: a few KiB a second of snapshots take minutes to fill a loopback
    socket's buffers, and the writer's half of the rule is the one every client has.)
    """
    scheduler, directory = Scheduler(), _Directory()
    view = LiveView(scheduler, directory, lambda: [], 100)  # type: ignore[arg-type]
    reader, silent = _Viewer(), _Viewer()
    reader.outbox, silent.outbox = Outbox(100), Outbox(100)
    view.add(reader)  # type: ignore[arg-type]
    view.add(silent)  # type: ignore[arg-type]
    silent.outbox.stalled = True  # its writer waits for a socket that never drains
    view._send(b"x" * 60)
    assert directory.cut == []  # owing 60 of 100: not yet
    view._send(b"x" * 60)
    assert directory.cut == [(silent, "too slow")]  # 120 owed and taking nothing
    view.forget(reader)  # type: ignore[arg-type]
    view.forget(silent)  # type: ignore[arg-type]


def test_at_most_twenty_viewers_and_one_more_is_told_why(server_factory) -> None:
    server = server_factory("--flood", "off")
    port = announced_web_port(server)
    viewers = [WebSocketClient(port, path="/scheduler/live") for _ in range(MAX_VIEWERS)]
    for viewer in viewers:
        _snapshot(viewer)
    extra = WebSocketClient(port, path="/scheduler/live")
    line = extra.read_line()
    assert "too many people are watching the scheduler (at most 20)" in line
    extra.wait_closed()
    for viewer in viewers:
        viewer.close()


def test_a_server_with_a_password_shows_no_scheduler(server_factory) -> None:
    server = server_factory("--password", "sesame")
    viewer = WebSocketClient(announced_web_port(server), path="/scheduler/live")
    assert "has a password" in viewer.read_line()
    viewer.wait_closed()
