"""Tests for `chat_server.scheduler`: the run loop, each trap, and what it does with bad tasks.

Concurrency is shown the way trio's tests show it: tasks append `(who, step)` tuples to one
list as they run, and the test asserts the exact interleaving. Time comes from a fake clock
(`Scheduler(clock=...)`) that a ticker task moves forward one unit per round, so sleeps
are checked in order without waiting; the few tests that need a real clock assert order
and generous bounds, never speed. Sockets are `socket.socketpair()`: no network.
"""

from __future__ import annotations

import logging
import selectors
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from chat_server.scheduler import Parking, Scheduler, Task
from chat_server.traps import (
    TaskGenerator, cancel, park, recv_wait, send_wait, sleep, spawn,
)

pytestmark = pytest.mark.timeout(20)

Steps = list[tuple[str, object]]


class FakeClock:
    """A clock that only moves when a test (or its ticker task) moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ticker(clock: FakeClock, until: Callable[[], bool], limit: int = 100) -> TaskGenerator:
    """Advance the fake clock one unit a round until `until()` holds (at most `limit`)."""
    for _ in range(limit):
        if until():
            return
        clock.now += 1
        yield sleep(0)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected, non-blocking socket pair, closed afterwards."""
    left, right = socket.socketpair()
    left.setblocking(False)
    right.setblocking(False)
    yield left, right
    left.close()
    right.close()


def fill_send_buffer(sock: socket.socket) -> int:
    """Write to `sock` until the kernel refuses more; return how much went in."""
    total = 0
    chunk = b"x" * 65536
    for _ in range(10_000):
        try:
            total += sock.send(chunk)
        except BlockingIOError:
            return total
    raise AssertionError("the send buffer never filled")


def drain(sock: socket.socket) -> int:
    """Read everything `sock` has now; return how many bytes."""
    total = 0
    for _ in range(10_000):
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return total
        if not data:
            return total
        total += len(data)
    raise AssertionError("drain never ran dry")


# Ordering


def test_tasks_yielding_sleep_zero_interleave_round_robin() -> None:
    steps: Steps = []

    def worker(name: str) -> TaskGenerator:
        for step in range(3):
            steps.append((name, step))
            yield sleep(0)

    scheduler = Scheduler()
    for name in "abc":
        scheduler.spawn(worker(name), name=name)
    scheduler.run()

    assert steps == [
        ("a", 0), ("b", 0), ("c", 0),
        ("a", 1), ("b", 1), ("c", 1),
        ("a", 2), ("b", 2), ("c", 2),
    ]


def test_tasks_of_different_lengths_keep_their_turns_and_run_returns_when_all_finish() -> None:
    steps: Steps = []

    def worker(name: str, count: int) -> TaskGenerator:
        for step in range(count):
            steps.append((name, step))
            yield sleep(0)
        steps.append((name, "done"))

    scheduler = Scheduler()
    scheduler.spawn(worker("short", 1))
    scheduler.spawn(worker("long", 3))
    scheduler.run()

    assert steps == [
        ("short", 0), ("long", 0),
        ("short", "done"), ("long", 1),
        ("long", 2),
        ("long", "done"),
    ]
    assert scheduler.tasks == set()


def test_run_with_no_tasks_returns_at_once() -> None:
    scheduler = Scheduler()
    scheduler.run()
    assert scheduler.loop_iterations == 0


def test_spawned_tasks_are_named_after_their_function_or_the_given_name() -> None:
    def greeter() -> TaskGenerator:
        yield sleep(0)

    scheduler = Scheduler()
    unnamed = scheduler.spawn(greeter())
    named = scheduler.spawn(greeter(), name="reader 10.0.0.1:5000")
    assert (unnamed.name, named.name) == ("greeter", "reader 10.0.0.1:5000")
    assert scheduler.tasks == {unnamed, named}
    scheduler.run()
    assert unnamed.done and named.done


# Sleeping


def test_sleepers_wake_in_order_of_their_deadlines_on_a_fake_clock() -> None:
    clock = FakeClock()
    start = clock.now
    woke: list[tuple[str, float]] = []

    def sleeper(name: str, seconds: float) -> TaskGenerator:
        yield sleep(seconds)
        woke.append((name, clock.now - start))

    scheduler = Scheduler(clock=clock)
    scheduler.spawn(sleeper("five", 5))
    scheduler.spawn(sleeper("two", 2))
    scheduler.spawn(sleeper("nine", 9))
    scheduler.spawn(sleeper("one", 1))
    scheduler.spawn(ticker(clock, until=lambda: len(woke) == 4))
    scheduler.run()

    assert [name for name, _ in woke] == ["one", "two", "five", "nine"]
    for (name, at), wanted in zip(woke, [1, 2, 5, 9]):
        assert at >= wanted, f"{name} woke at {at}, before its deadline {wanted}"
        assert at <= wanted + 1, f"{name} woke at {at}, a round after its deadline {wanted}"


def test_sleepers_with_the_same_deadline_wake_in_the_order_they_slept() -> None:
    clock = FakeClock()
    woke: list[str] = []

    def sleeper(name: str) -> TaskGenerator:
        yield sleep(3)
        woke.append(name)

    scheduler = Scheduler(clock=clock)
    for name in ["p", "q", "r", "s"]:
        scheduler.spawn(sleeper(name))
    scheduler.spawn(ticker(clock, until=lambda: len(woke) == 4))
    scheduler.run()

    assert woke == ["p", "q", "r", "s"]


def test_a_sleeper_does_not_wake_before_its_deadline_on_a_fake_clock() -> None:
    clock = FakeClock()
    steps: Steps = []

    def sleeper() -> TaskGenerator:
        yield sleep(4)
        steps.append(("sleeper", clock.now))

    def counter() -> TaskGenerator:
        for _ in range(6):
            clock.now += 1
            steps.append(("counter", clock.now))
            yield sleep(0)

    scheduler = Scheduler(clock=clock)
    scheduler.spawn(sleeper())
    scheduler.spawn(counter())
    scheduler.run()

    assert steps.index(("sleeper", 1004.0)) == steps.index(("counter", 1004.0)) + 1


def test_real_short_sleeps_wake_in_order_and_not_early() -> None:
    woke: list[tuple[str, float]] = []
    start = time.monotonic()

    def sleeper(name: str, seconds: float) -> TaskGenerator:
        yield sleep(seconds)
        woke.append((name, time.monotonic() - start))

    scheduler = Scheduler()
    scheduler.spawn(sleeper("slow", 0.06))
    scheduler.spawn(sleeper("fast", 0.02))
    scheduler.spawn(sleeper("middle", 0.04))
    scheduler.run()

    assert [name for name, _ in woke] == ["fast", "middle", "slow"]
    for (name, at), wanted in zip(woke, [0.02, 0.04, 0.06]):
        assert at >= wanted, f"{name} woke after {at:.3f}s, asked for {wanted}s"
    assert time.monotonic() - start < 5


# Parking


def test_a_parked_task_resumes_only_after_another_task_calls_wake_all() -> None:
    steps: Steps = []
    parking = Parking()

    def sleeper() -> TaskGenerator:
        steps.append(("parked", "parks"))
        yield park(parking)
        steps.append(("parked", "resumed"))

    def waker() -> TaskGenerator:
        for step in range(3):
            steps.append(("waker", step))
            yield sleep(0)
        assert len(parking) == 1
        parking.wake_all()
        steps.append(("waker", "woke it"))

    scheduler = Scheduler()
    scheduler.spawn(sleeper())
    scheduler.spawn(waker())
    scheduler.run()

    assert steps == [
        ("parked", "parks"), ("waker", 0), ("waker", 1), ("waker", 2),
        ("waker", "woke it"), ("parked", "resumed"),
    ]
    assert len(parking) == 0


def test_plain_code_called_by_a_task_can_wake_a_parking_and_every_parked_task_resumes() -> None:
    steps: Steps = []
    parking = Parking()
    inbox: list[str] = []

    def post(item: str) -> None:
        """Plain code, not a task: what a queue's `put` does."""
        inbox.append(item)
        parking.wake_all()

    def consumer(name: str) -> TaskGenerator:
        yield park(parking)
        steps.append((name, tuple(inbox)))

    def producer() -> TaskGenerator:
        yield sleep(0)
        steps.append(("producer", "posts"))
        post("work")

    scheduler = Scheduler()
    for name in ["c1", "c2", "c3"]:
        scheduler.spawn(consumer(name))
    scheduler.spawn(producer())
    scheduler.run()

    assert steps == [
        ("producer", "posts"),
        ("c1", ("work",)), ("c2", ("work",)), ("c3", ("work",)),
    ]
    assert len(parking) == 0


def test_wake_all_with_nobody_parked_is_not_remembered() -> None:
    steps: Steps = []
    parking = Parking()

    def latecomer() -> TaskGenerator:
        yield sleep(0)  # parks only after the first wake_all
        yield park(parking)
        steps.append(("latecomer", "resumed"))

    def waker() -> TaskGenerator:
        parking.wake_all()  # nobody parked yet: nothing happens
        steps.append(("waker", "early wake"))
        for step in range(3):
            yield sleep(0)
            steps.append(("waker", step))
        parking.wake_all()
        steps.append(("waker", "real wake"))

    scheduler = Scheduler()
    scheduler.spawn(latecomer())
    scheduler.spawn(waker())
    scheduler.run()

    assert steps[-2:] == [("waker", "real wake"), ("latecomer", "resumed")]


# Spawn and cancel


def test_the_spawn_trap_answers_a_task_and_the_child_runs() -> None:
    steps: Steps = []
    answers: list[object] = []

    def child() -> TaskGenerator:
        steps.append(("child", "runs"))
        yield sleep(0)
        steps.append(("child", "finishes"))

    def parent() -> TaskGenerator:
        task = yield spawn(child())
        answers.append(task)
        steps.append(("parent", "spawned"))
        yield sleep(0)
        yield sleep(0)
        steps.append(("parent", "child done" if task.done else "child still running"))

    scheduler = Scheduler()
    scheduler.spawn(parent())
    scheduler.run()

    assert len(answers) == 1 and isinstance(answers[0], Task)
    assert answers[0].name == "child"
    assert ("child", "runs") in steps and ("child", "finishes") in steps
    assert steps[-1] == ("parent", "child done")


def test_cancel_stops_a_parked_task_and_runs_its_finally_block() -> None:
    steps: Steps = []
    parking = Parking()

    def victim() -> TaskGenerator:
        try:
            yield park(parking)
            steps.append(("victim", "resumed"))
        finally:
            steps.append(("victim", "finally"))

    def killer(task: Task) -> TaskGenerator:
        yield sleep(0)
        answer = yield cancel(task)
        steps.append(("killer", ("cancelled", answer, task.done)))
        parking.wake_all()  # too late: the victim must stay stopped
        yield sleep(0)
        steps.append(("killer", "after wake"))

    scheduler = Scheduler()
    target = scheduler.spawn(victim())
    scheduler.spawn(killer(target))
    scheduler.run()

    assert steps == [
        ("victim", "finally"),
        ("killer", ("cancelled", None, True)),
        ("killer", "after wake"),
    ]
    assert target not in scheduler.tasks


def test_cancel_stops_a_sleeping_task_without_waiting_for_its_deadline() -> None:
    steps: Steps = []

    def victim() -> TaskGenerator:
        try:
            yield sleep(60)
            steps.append(("victim", "woke"))
        finally:
            steps.append(("victim", "finally"))

    def killer(task: Task) -> TaskGenerator:
        yield sleep(0)
        yield cancel(task)
        steps.append(("killer", "done"))

    scheduler = Scheduler()
    target = scheduler.spawn(victim())
    scheduler.spawn(killer(target))
    started = time.monotonic()
    scheduler.run()

    assert steps == [("victim", "finally"), ("killer", "done")]
    assert time.monotonic() - started < 5  # not the victim's 60 s
    assert target.done


def test_cancel_stops_a_task_waiting_on_recv_and_the_socket_can_be_waited_on_again(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    left, right = pair
    steps: Steps = []

    def victim() -> TaskGenerator:
        try:
            yield recv_wait(left)
            steps.append(("victim", "woke"))
        finally:
            steps.append(("victim", "finally"))

    def successor() -> TaskGenerator:
        yield recv_wait(left)  # would fail if the victim were still filed under `left`
        steps.append(("successor", left.recv(100)))

    def killer(task: Task) -> TaskGenerator:
        yield sleep(0)
        yield cancel(task)
        steps.append(("killer", "cancelled"))
        yield spawn(successor())
        yield sleep(0.01)
        right.send(b"hello\n")

    scheduler = Scheduler()
    target = scheduler.spawn(victim())
    scheduler.spawn(killer(target))
    scheduler.run()

    assert steps == [
        ("victim", "finally"),
        ("killer", "cancelled"),
        ("successor", b"hello\n"),
    ]


def test_cancel_by_plain_call_stops_a_recv_waiter_and_stops_watching_its_socket(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    left, right = pair
    finished: list[str] = []

    def victim() -> TaskGenerator:
        try:
            yield recv_wait(left)
        finally:
            finished.append("victim")

    def killer(task: Task) -> TaskGenerator:
        yield sleep(0)
        scheduler.cancel(task)  # what the server does when it closes a session
        right.send(b"unread data")  # readable now, but nobody waits: no wake-up
        yield sleep(0.05)

    scheduler = Scheduler()
    target = scheduler.spawn(victim())
    scheduler.spawn(killer(target))
    scheduler.run()

    assert finished == ["victim"]
    assert scheduler.loop_iterations < 50  # the readable, unwatched socket did not spin us


# Sockets


def test_a_task_waiting_on_recv_wakes_when_the_other_end_writes(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    left, right = pair
    steps: Steps = []

    def reader() -> TaskGenerator:
        steps.append(("reader", "waits"))
        yield recv_wait(left)
        steps.append(("reader", left.recv(100)))

    def writer() -> TaskGenerator:
        for step in range(3):
            steps.append(("writer", step))
            yield sleep(0.005)
        right.send(b"ping\n")
        steps.append(("writer", "sent"))

    scheduler = Scheduler()
    scheduler.spawn(reader())
    scheduler.spawn(writer())
    scheduler.run()

    assert steps == [
        ("reader", "waits"), ("writer", 0), ("writer", 1), ("writer", 2),
        ("writer", "sent"), ("reader", b"ping\n"),
    ]


def test_a_task_waiting_on_recv_wakes_at_end_of_file(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    left, right = pair
    got: list[bytes] = []

    def reader() -> TaskGenerator:
        yield recv_wait(left)
        got.append(left.recv(100))

    def closer() -> TaskGenerator:
        yield sleep(0.005)
        right.shutdown(socket.SHUT_WR)

    scheduler = Scheduler()
    scheduler.spawn(reader())
    scheduler.spawn(closer())
    scheduler.run()

    assert got == [b""]


def test_a_task_waiting_send_wait_on_a_full_socket_wakes_after_the_peer_reads(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    left, right = pair
    steps: Steps = []
    fill_send_buffer(left)

    def writer() -> TaskGenerator:
        steps.append(("writer", "waits"))
        yield send_wait(left)
        steps.append(("writer", "can write"))
        left.send(b"more")  # must not raise BlockingIOError now

    def peer() -> TaskGenerator:
        for step in range(3):
            yield sleep(0.01)
            steps.append(("peer", step))
        steps.append(("peer", "drained" if drain(right) > 0 else "nothing to drain"))

    scheduler = Scheduler()
    scheduler.spawn(writer())
    scheduler.spawn(peer())
    scheduler.run()

    assert steps == [
        ("writer", "waits"), ("peer", 0), ("peer", 1), ("peer", 2),
        ("peer", "drained"), ("writer", "can write"),
    ]


def test_a_reader_and_a_writer_can_wait_on_the_same_socket_at_once(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    left, right = pair
    steps: Steps = []
    fill_send_buffer(left)

    def reader() -> TaskGenerator:
        yield recv_wait(left)
        steps.append(("reader", left.recv(100)))

    def writer() -> TaskGenerator:
        yield send_wait(left)
        steps.append(("writer", "can write"))

    def peer() -> TaskGenerator:
        yield sleep(0.01)
        right.send(b"hi")
        steps.append(("peer", "sent"))
        yield sleep(0.01)
        drain(right)
        steps.append(("peer", "drained"))

    scheduler = Scheduler()
    scheduler.spawn(reader())
    scheduler.spawn(writer())
    scheduler.spawn(peer())
    scheduler.run()

    assert steps == [
        ("peer", "sent"), ("reader", b"hi"), ("peer", "drained"), ("writer", "can write"),
    ]


def test_a_reader_looping_on_recv_wait_gets_every_line_across_many_wakes(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    left, right = pair
    lines = [f"line {n}\n".encode() for n in range(300)]
    received = bytearray()

    def reader() -> TaskGenerator:
        for _ in range(10_000):
            yield recv_wait(left)
            data = left.recv(65536)
            if not data:
                return
            received.extend(data)

    def writer() -> TaskGenerator:
        for line in lines:
            right.send(line)
            yield sleep(0)
        right.shutdown(socket.SHUT_WR)

    scheduler = Scheduler()
    scheduler.spawn(reader())
    scheduler.spawn(writer())
    scheduler.run()

    assert bytes(received) == b"".join(lines)


class CountingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The default selector, counting the calls that change what it watches."""

    changes = 0

    def register(self, fileobj, events, data=None):  # type: ignore[no-untyped-def]
        CountingSelector.changes += 1
        return super().register(fileobj, events, data)

    def unregister(self, fileobj):  # type: ignore[no-untyped-def]
        CountingSelector.changes += 1
        return super().unregister(fileobj)

    def modify(self, fileobj, events, data=None):  # type: ignore[no-untyped-def]
        CountingSelector.changes += 1
        return super().modify(fileobj, events, data)


def test_a_reader_that_loops_back_to_recv_wait_stays_registered_between_lines(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Lazy registration (see `Scheduler._wait_for`): waking a reader must not unregister
    # its socket, so a reader that comes straight back costs no selector changes a line.
    monkeypatch.setattr(selectors, "DefaultSelector", CountingSelector)
    CountingSelector.changes = 0
    left, right = pair
    wakes: list[int] = []

    def reader() -> TaskGenerator:
        for _ in range(1000):
            yield recv_wait(left)
            data = left.recv(65536)
            if not data:
                return
            wakes.append(len(data))

    def writer() -> TaskGenerator:
        for _ in range(100):
            right.send(b"x\n")
            yield sleep(0.001)  # the reader reads each line before the next is sent
        right.shutdown(socket.SHUT_WR)

    scheduler = Scheduler()
    scheduler.spawn(reader())
    scheduler.spawn(writer())
    scheduler.run()

    assert sum(wakes) == 200 and len(wakes) == 100
    assert CountingSelector.changes <= 4, (
        f"{CountingSelector.changes} selector changes for {len(wakes)} wake-ups")


def test_a_socket_readable_while_nobody_waits_does_not_make_the_loop_spin(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    left, right = pair
    steps: Steps = []

    def reader() -> TaskGenerator:
        yield recv_wait(left)
        steps.append(("reader", left.recv(3)))  # leaves bytes unread: still readable
        before = scheduler.loop_iterations
        yield sleep(0.2)  # not waiting on `left` meanwhile
        steps.append(("reader", "slept", scheduler.loop_iterations - before))
        yield recv_wait(left)  # and waiting again still works
        steps.append(("reader", left.recv(100)))

    def writer() -> TaskGenerator:
        yield sleep(0.005)
        right.send(b"abcdef")

    scheduler = Scheduler()
    scheduler.spawn(reader())
    scheduler.spawn(writer())
    scheduler.run()

    assert steps[0] == ("reader", b"abc")
    assert steps[1][:2] == ("reader", "slept")
    assert steps[1][2] <= 10, f"{steps[1][2]} loop iterations during a 0.2 s sleep"
    assert steps[2] == ("reader", b"def")


def test_a_writer_waits_without_spinning_while_its_socket_is_also_readable(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    left, right = pair
    steps: Steps = []
    fill_send_buffer(left)
    right.send(b"nobody reads this")  # `left` is readable the whole time

    def writer() -> TaskGenerator:
        yield send_wait(left)
        steps.append(("writer", "can write"))

    def peer() -> TaskGenerator:
        before = scheduler.loop_iterations
        yield sleep(0.2)
        steps.append(("peer", "iterations", scheduler.loop_iterations - before))
        drain(right)

    scheduler = Scheduler()
    scheduler.spawn(writer())
    scheduler.spawn(peer())
    scheduler.run()

    assert steps[0][:2] == ("peer", "iterations") and steps[0][2] <= 10
    assert steps[1] == ("writer", "can write")


def test_two_tasks_waiting_to_read_the_same_socket_is_refused_and_logged(
    pair: tuple[socket.socket, socket.socket], caplog: pytest.LogCaptureFixture,
) -> None:
    left, right = pair
    steps: Steps = []

    def reader(name: str) -> TaskGenerator:
        try:
            yield recv_wait(left)
            steps.append((name, left.recv(100)))
        finally:
            steps.append((name, "finally"))

    def writer() -> TaskGenerator:
        yield sleep(0.01)
        right.send(b"data")

    scheduler = Scheduler()
    scheduler.spawn(reader("first"), name="first")
    scheduler.spawn(reader("second"), name="second")
    scheduler.spawn(writer())
    with caplog.at_level(logging.ERROR, logger="chat_server.scheduler"):
        scheduler.run()

    assert steps == [("second", "finally"), ("first", b"data"), ("first", "finally")]
    assert any("second" in record.getMessage() for record in caplog.records)


# Tasks that misbehave


def test_a_crashing_task_is_logged_and_dropped_while_the_others_carry_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    steps: Steps = []

    def crasher() -> TaskGenerator:
        steps.append(("crasher", 0))
        yield sleep(0)
        raise ValueError("boom")

    def worker() -> TaskGenerator:
        for step in range(3):
            steps.append(("worker", step))
            yield sleep(0)

    scheduler = Scheduler()
    bad = scheduler.spawn(crasher(), name="crasher")
    scheduler.spawn(worker(), name="worker")
    with caplog.at_level(logging.ERROR, logger="chat_server.scheduler"):
        scheduler.run()

    assert steps == [("crasher", 0), ("worker", 0), ("worker", 1), ("worker", 2)]
    assert bad.done and bad not in scheduler.tasks
    crashes = [r for r in caplog.records if "crasher" in r.getMessage()]
    assert len(crashes) == 1
    assert crashes[0].exc_info is not None and crashes[0].exc_info[0] is ValueError


@pytest.mark.parametrize(
    "bad_request",
    [("teleport", 1), ("recv",), ("sleep", "soon"), None, 42, "recv", (), ([], 1)],
    ids=["unknown-trap", "missing-argument", "bad-argument", "none", "int", "string",
         "empty-tuple", "unhashable-name"],
)
def test_a_task_yielding_something_that_is_not_a_trap_is_stopped_and_logged(
    bad_request: object, caplog: pytest.LogCaptureFixture,
) -> None:
    steps: Steps = []

    def confused() -> TaskGenerator:
        try:
            yield bad_request  # type: ignore[misc]
            steps.append(("confused", "resumed"))
        finally:
            steps.append(("confused", "finally"))

    def worker() -> TaskGenerator:
        for step in range(3):
            steps.append(("worker", step))
            yield sleep(0)

    scheduler = Scheduler()
    bad = scheduler.spawn(confused(), name="confused")
    scheduler.spawn(worker(), name="worker")
    with caplog.at_level(logging.ERROR, logger="chat_server.scheduler"):
        scheduler.run()

    assert ("confused", "resumed") not in steps
    assert ("confused", "finally") in steps
    assert [s for s in steps if s[0] == "worker"] == [("worker", 0), ("worker", 1), ("worker", 2)]
    assert bad.done
    assert any("confused" in r.getMessage() for r in caplog.records
               if r.levelno >= logging.ERROR)


def test_a_task_whose_finally_fails_during_cancel_is_logged_and_still_stopped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parking = Parking()

    def stubborn() -> TaskGenerator:
        try:
            yield park(parking)
        finally:
            raise RuntimeError("cleanup failed")

    def killer(task: Task) -> TaskGenerator:
        yield sleep(0)
        yield cancel(task)

    scheduler = Scheduler()
    target = scheduler.spawn(stubborn(), name="stubborn")
    scheduler.spawn(killer(target))
    with caplog.at_level(logging.ERROR, logger="chat_server.scheduler"):
        scheduler.run()

    assert target.done and scheduler.tasks == set()
    assert any("stubborn" in r.getMessage() for r in caplog.records)


def test_a_running_task_cannot_cancel_itself_by_a_plain_call() -> None:
    errors: list[str] = []

    def selfish() -> TaskGenerator:
        try:
            scheduler.cancel(me[0])
        except RuntimeError as error:
            errors.append(str(error))
        yield sleep(0)

    scheduler = Scheduler()
    me = [scheduler.spawn(selfish())]
    scheduler.run()

    assert len(errors) == 1 and "cannot be cancelled" in errors[0]
