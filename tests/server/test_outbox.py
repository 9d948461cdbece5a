"""Tests for `chat_server.outbox`: one client's queue of bytes to send.

The accounting first (bytes count from `put` until `sent`, not until `take`), then when a
client is too far behind (owed more than the limit *and* its writer stalled), then the
parts that involve a task: a writer parked on an empty outbox wakes when bytes are put,
and `replace_with` (the last words for a client being cut off) seals the outbox.
"""

from __future__ import annotations

import pytest

from chat_server.outbox import Outbox
from chat_server.scheduler import Scheduler
from chat_server.traps import TaskGenerator, park, sleep

pytestmark = pytest.mark.timeout(20)


def test_a_new_outbox_is_empty_and_owes_nothing() -> None:
    outbox = Outbox(limit=100)
    assert not outbox
    assert outbox.size == 0
    assert not outbox.too_far_behind


def test_put_queues_bytes_and_take_returns_them_all_in_order() -> None:
    outbox = Outbox(limit=100)
    outbox.put(b"one\n")
    outbox.put(b"two\n")
    outbox.put(b"three\n")
    assert outbox
    assert outbox.size == 14
    assert outbox.take() == b"one\ntwo\nthree\n"
    assert not outbox


def test_take_of_a_single_chunk_returns_it_whole() -> None:
    outbox = Outbox(limit=100)
    outbox.put(b"only\n")
    assert outbox.take() == b"only\n"
    assert not outbox


def test_taken_bytes_count_until_they_are_sent() -> None:
    outbox = Outbox(limit=100)
    outbox.put(b"0123456789")
    data = outbox.take()
    assert outbox.size == 10  # taken, not yet sent: still owed
    outbox.sent(4)
    assert outbox.size == 6
    outbox.put(b"abc")
    assert outbox.size == 9
    outbox.sent(6)
    assert outbox.size == 3
    assert data == b"0123456789" and outbox.take() == b"abc"


def test_an_outbox_over_its_limit_is_too_far_behind_only_while_its_writer_is_stalled() -> None:
    outbox = Outbox(limit=10)
    outbox.put(b"x" * 10)
    outbox.stalled = True
    assert not outbox.too_far_behind  # exactly at the limit is fine
    outbox.put(b"y")
    assert outbox.too_far_behind  # 11 owed, and the kernel takes no more
    outbox.stalled = False
    assert not outbox.too_far_behind  # a writer that has not had its turn is not slow
    outbox.stalled = True
    outbox.take()
    outbox.sent(5)
    assert not outbox.too_far_behind  # back under the limit


def test_put_wakes_a_writer_parked_on_an_empty_outbox() -> None:
    outbox = Outbox(limit=1000)
    steps: list[tuple[str, object]] = []

    def writer() -> TaskGenerator:
        for _ in range(10):
            if outbox:
                data = outbox.take()
                outbox.sent(len(data))
                steps.append(("writer", data))
                if data.endswith(b"bye\n"):
                    return
            else:
                steps.append(("writer", "parks"))
                yield park(outbox.has_data)

    def producer() -> TaskGenerator:
        for line in [b"hi\n", b"bye\n"]:
            yield sleep(0)
            steps.append(("producer", line))
            outbox.put(line)

    scheduler = Scheduler()
    scheduler.spawn(writer())
    scheduler.spawn(producer())
    scheduler.run()

    assert steps == [
        ("writer", "parks"),
        ("producer", b"hi\n"), ("writer", b"hi\n"), ("writer", "parks"),
        ("producer", b"bye\n"), ("writer", b"bye\n"),
    ]
    assert outbox.size == 0


def test_put_with_nobody_parked_just_queues() -> None:
    outbox = Outbox(limit=10)
    outbox.put(b"a")
    outbox.put(b"b")
    assert len(outbox.has_data) == 0
    assert outbox.take() == b"ab"


def test_replace_with_drops_what_was_queued_and_queues_only_the_last_words() -> None:
    outbox = Outbox(limit=10)
    for _ in range(5):
        outbox.put(b"lots of room events\n")
    outbox.replace_with(b"BYE too slow\n")
    assert outbox.size == len(b"BYE too slow\n")
    assert outbox.take() == b"BYE too slow\n"


def test_replace_with_seals_the_outbox_against_later_puts() -> None:
    outbox = Outbox(limit=100)
    outbox.put(b"MSG alice hi\n")
    outbox.replace_with(b"BYE too slow\n")
    outbox.put(b"MSG alice are you there\n")
    assert outbox.size == len(b"BYE too slow\n")
    assert outbox.take() == b"BYE too slow\n"
    assert not outbox


def test_replace_with_a_second_time_keeps_the_first_last_words() -> None:
    # A client cut off twice (its tiny limit is passed again by the BYE itself) must still
    # be sent its BYE, not an empty outbox.
    outbox = Outbox(limit=5)
    outbox.put(b"x" * 50)
    outbox.replace_with(b"BYE too slow\n")
    outbox.replace_with(b"BYE too slow\n")
    assert outbox.take() == b"BYE too slow\n"


def test_replace_with_wakes_a_parked_writer() -> None:
    outbox = Outbox(limit=100)
    got: list[bytes] = []

    def writer() -> TaskGenerator:
        yield park(outbox.has_data)
        got.append(outbox.take())

    def cutter() -> TaskGenerator:
        yield sleep(0)
        outbox.replace_with(b"BYE too slow\n")

    scheduler = Scheduler()
    scheduler.spawn(writer())
    scheduler.spawn(cutter())
    scheduler.run()

    assert got == [b"BYE too slow\n"]


# Sent at once: an idle writer lets `put(..., at_once=True)` hand bytes to the kernel


class FakeKernel:
    """A socket's send buffer that takes at most `room` bytes, as `send_at_once` sees it."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.taken = b""

    def send(self, data: bytes) -> int:
        count = min(self.room, len(data))
        self.taken += data[:count]
        self.room -= count
        return count


def test_with_nothing_ahead_put_sends_at_once_and_queues_nothing() -> None:
    outbox, kernel = Outbox(limit=100), FakeKernel(room=1000)
    outbox.send_at_once = kernel.send
    outbox.put(b"hi\n", at_once=True)
    outbox.put(b"there\n", at_once=True)
    assert kernel.taken == b"hi\nthere\n"
    assert not outbox and outbox.size == 0


def test_what_the_kernel_leaves_is_queued_and_later_bytes_wait_behind_it() -> None:
    outbox, kernel = Outbox(limit=100), FakeKernel(room=4)
    outbox.send_at_once = kernel.send
    outbox.put(b"hello\n", at_once=True)
    kernel.room = 1000  # room again, but "lo\n" is queued: nothing may overtake it
    outbox.put(b"next\n", at_once=True)
    assert kernel.taken == b"hell"
    assert outbox.take() == b"o\nnext\n"
    assert outbox.size == 7


def test_while_the_writer_waits_for_room_put_only_queues() -> None:
    outbox, kernel = Outbox(limit=100), FakeKernel(room=1000)
    outbox.send_at_once = kernel.send
    outbox.stalled = True  # the writer holds bytes it took, and waits to send them
    outbox.put(b"later\n", at_once=True)
    assert kernel.taken == b""
    assert outbox.take() == b"later\n"


def test_bytes_sent_at_once_do_not_wake_the_writer() -> None:
    outbox, kernel = Outbox(limit=100), FakeKernel(room=1000)
    woken: list[str] = []

    def writer() -> TaskGenerator:
        outbox.send_at_once = kernel.send
        while True:
            yield park(outbox.has_data)
            woken.append(outbox.take().decode())

    def producer() -> TaskGenerator:
        yield sleep(0)
        outbox.put(b"one\n", at_once=True)  # all taken at once: the writer sleeps on
        kernel.room = 2
        outbox.put(b"two\n", at_once=True)  # "o\n" is left: the writer wakes for it
        yield sleep(0)
        scheduler.cancel(writer_task)

    scheduler = Scheduler()
    writer_task = scheduler.spawn(writer())
    scheduler.spawn(producer())
    scheduler.run()
    assert kernel.taken == b"one\ntw"
    assert woken == ["o\n"]


def test_a_sealed_outbox_sends_nothing_at_once() -> None:
    outbox, kernel = Outbox(limit=100), FakeKernel(room=1000)
    outbox.send_at_once = kernel.send
    outbox.finish()
    outbox.put(b"too late\n", at_once=True)
    assert kernel.taken == b"" and not outbox


def test_without_at_once_put_queues_and_wakes_the_writer_as_ever() -> None:
    outbox, kernel = Outbox(limit=100), FakeKernel(room=1000)
    outbox.send_at_once = kernel.send
    outbox.put(b"queued\n")  # (a flush forced in the middle of the broadcaster's run)
    assert kernel.taken == b""
    assert outbox.take() == b"queued\n"
