"""The tracing scheduler narrates waits and wake-ups, and changes nothing it narrates."""

from __future__ import annotations

import io
import signal
import socket
import subprocess
import sys
import time

from chat_server.scheduler import Parking, Scheduler
from chat_server.trace import NAME_WIDTH, TracingScheduler
from chat_server.traps import park, recv_wait, sleep
from chat_testing import LineClient, machine_client


def _interleaving(scheduler: Scheduler) -> list[tuple[str, int]]:
    """Run three tasks that sleep, park and wake each other; record (who, step)."""
    steps: list[tuple[str, int]] = []
    parking = Parking()

    def sleeper(name: str):  # type: ignore[no-untyped-def]
        for step in range(3):
            steps.append((name, step))
            yield sleep(0)

    def parker():  # type: ignore[no-untyped-def]
        steps.append(("parker", 0))
        yield park(parking)
        steps.append(("parker", 1))

    def waker():  # type: ignore[no-untyped-def]
        yield sleep(0)
        parking.wake_all()
        steps.append(("waker", 0))

    for task in (sleeper("a"), parker(), sleeper("b"), waker()):
        scheduler.spawn(task)
    scheduler.run()
    return steps


def test_tracing_does_not_change_the_order_tasks_run_in() -> None:
    plain = _interleaving(Scheduler())
    traced = _interleaving(TracingScheduler(out=io.StringIO()))
    assert traced == plain


def test_trace_shows_a_recv_wait_and_the_wake_up_that_ends_it() -> None:
    out = io.StringIO()
    scheduler = TracingScheduler(out=out, colour=False)
    left, right = socket.socketpair()
    received: list[bytes] = []

    def reader():  # type: ignore[no-untyped-def]
        yield recv_wait(left)
        received.append(left.recv(100))

    def writer():  # type: ignore[no-untyped-def]
        yield sleep(0.01)
        right.send(b"hello")

    scheduler.spawn(reader(), name="reader(alice)")
    scheduler.spawn(writer(), name="writer(bob)")
    scheduler.run()
    left.close()
    right.close()
    lines = [line.split(None, 1)[1] for line in out.getvalue().splitlines()]
    wait = lines.index("wait     reader(alice)        recv: until its socket has data")
    wake = lines.index("wake     reader(alice)        its socket has data")
    assert wait < wake
    assert lines[wake - 1].split()[:4] == ["select", "1", "socket", "ready"]  # what woke it
    assert lines[wake + 1] == "run      reader(alice)"
    assert received == [b"hello"]
    assert "\x1b[" not in out.getvalue()  # no colour unless asked (or a terminal)


def test_colour_marks_each_kind_of_line() -> None:
    out = io.StringIO()
    scheduler = TracingScheduler(out=out, colour=True)
    scheduler.spawn(iter(()), name="nothing")  # type: ignore[arg-type]
    scheduler.run()
    assert "\x1b[34mspawn" in out.getvalue() and "\x1b[31mdone" in out.getvalue()


def test_a_long_task_name_is_cut_short_and_the_details_stay_in_their_column() -> None:
    out = io.StringIO()
    scheduler = TracingScheduler(out=out, colour=False)
    long_name = "close-deadline(" + "n" * 16 + ")"  # the longest a nickname makes: 32
    for name in ("reader(al)", long_name, "x" * NAME_WIDTH):
        scheduler.spawn(_sleeps_once(), name=name)
    scheduler.run()
    waits = [line for line in out.getvalue().splitlines() if " wait " in line]
    assert len(waits) == 3
    assert {line.index("sleep: ") for line in waits} == {waits[0].index("sleep: ")}
    assert ("close-deadline(nnnn…", "sleep:") == tuple(waits[1].split()[2:4])
    assert "x" * NAME_WIDTH + " sleep:" in waits[2]  # a name that fits is never cut


def _sleeps_once():  # type: ignore[no-untyped-def]
    yield sleep(0)


def test_held_lines_wait_for_stop_holding_and_keep_their_order() -> None:
    out = io.StringIO()
    scheduler = TracingScheduler(out=out, colour=False, held=True)
    scheduler.spawn(_sleeps_once(), name="first")
    scheduler.spawn(_sleeps_once(), name="second")
    assert out.getvalue() == ""  # (chat-server --trace prints how to join meanwhile)
    scheduler.stop_holding()
    assert [line.split()[1:3] for line in out.getvalue().splitlines()] == [
        ["spawn", "first"], ["spawn", "second"]]
    scheduler.run()  # from now on each line is printed as it comes
    assert out.getvalue().splitlines()[-1].split()[1:] == ["done", "second", "finished"]


def test_server_trace_follows_a_message_from_reader_to_writers(tmp_path) -> None:
    trace_file = (tmp_path / "trace.txt").open("w")  # a file: a full pipe would block it
    process = subprocess.Popen(
        [sys.executable, "-m", "chat_server", "--host", "127.0.0.1", "--port", "0",
         "--flood", "off", "--trace", "--trace-delay", "0.001", "--no-announce"],
        stdout=subprocess.PIPE, stderr=trace_file, text=True)
    try:
        port = int(process.stdout.readline().rsplit(":", 1)[1])  # type: ignore[union-attr]
        alice = machine_client(port, "alice")
        person = LineClient(port)
        person.send_line("bob")
        person.read_until("*** bob joined")
        alice.send_line("hi bob")
        assert person.read_until("<alice>")[-1] == "<alice> hi bob"
        time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
        trace_file.close()
    trace = (tmp_path / "trace.txt").read_text()
    assert process.returncode == 0
    assert "wait     reader(alice)        recv: until its socket has data" in trace
    assert "wake     reader(alice)        its socket has data" in trace
    assert "wake     writer(bob)          woken by other code (it was parked)" in trace
    # The broadcaster hands bob's idle writer's socket the line at once (outbox.py), and
    # the trace says so, under bob's writer: every send is shown, whoever made the call.
    sends_to_bob = [line for line in trace.splitlines() if "send     writer(bob)" in line]
    assert any(line.endswith("16 bytes, sent at once by broadcaster")  # "<alice> hi bob"
               for line in sends_to_bob), trace
    assert "Traceback" not in trace
