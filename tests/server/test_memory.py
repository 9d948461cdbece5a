"""Memory: what a connection and a queued message cost, the worst case, and no leaks.

The figures and the formula they feed are in docs/limits.md. Measured from outside on a
real server (RSS from /proc), except where only the inside can tell: whether a closed
connection's `Session` object is really gone is asked of a server run in this process,
so the answer is an exact count rather than a blur of allocator pages.

Run with `-s` to see the measured figures.
"""

from __future__ import annotations

import gc
import queue
import resource
import selectors
import socket
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import TypeVar

import pytest

from chat_server.server import ChatServer, ServerConfig
from chat_server.session import Session
from chat_server.traps import TaskGenerator, recv_wait
from chat_testing import LineClient, close_all, machine_client
from process_probes import (
    PeakMemory, reset, resident_bytes, stats, wait_for_stats,
)

KIB, MIB = 1 << 10, 1 << 20
IDLE_CONNECTION_BOUND = 16 * KIB  # documented: an idle joined connection costs less
ALLOCATOR_SLACK = 8 * MIB  # pages the allocator keeps or fragments under load

Result = TypeVar("Result")


# --- a server in this process, for exact object counts ------------------------------------

def _count_sessions(collect: bool) -> int:
    if collect:
        gc.collect()
    return sum(isinstance(thing, Session) for thing in gc.get_objects())


def serve_in_this_process(
    config: ServerConfig, clients: Callable[[int, Callable[[], tuple[int, int]]], Result],
    *, collect: bool = True,
) -> Result:
    """Run a ChatServer on this thread while `clients(port, count)` runs on another.

    `count()` asks the server, between two of its steps, for (open connections, `Session`
    objects in memory); it never races the run loop. With `collect`, the cycle collector
    runs first, so only sessions something still refers to are counted; without it, so
    are sessions waiting for the collector. The server stops when `clients` returns.
    """
    server = ChatServer(config)
    ask_ours, ask_theirs = socket.socketpair()
    ask_ours.setblocking(False)
    answers: queue.Queue[tuple[int, int]] = queue.Queue()

    def answer_questions() -> TaskGenerator:
        while True:
            yield recv_wait(ask_ours)
            if ask_ours.recv(1) != b"?":
                server.begin_shutdown()
                return
            answers.put((len(server.sessions), _count_sessions(collect)))

    def count() -> tuple[int, int]:
        ask_theirs.send(b"?")
        return answers.get(timeout=10)

    outcome: list[object] = []

    def run_clients() -> None:
        try:
            outcome.append(clients(server.address[1], count))
        except BaseException as error:  # handed to the test's thread below
            outcome.append(error)
        finally:
            ask_theirs.send(b"q")

    server.scheduler.spawn(answer_questions(), name="test questions")
    thread = threading.Thread(target=run_clients, daemon=True)
    thread.start()
    try:
        server.serve()
    finally:
        thread.join(10)
        ask_ours.close()
        ask_theirs.close()
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]  # type: ignore[return-value]


SETTLE_TIMEOUT = 30.0  # for a condition polled on a busy machine: a bound, not a measure


def _wait_until_all_closed(count: Callable[[], tuple[int, int]],
                           timeout: float = SETTLE_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while count()[0] and time.monotonic() < deadline:
        time.sleep(0.1)


def _sessions_once_settled(count: Callable[[], tuple[int, int]],
                           timeout: float = SETTLE_TIMEOUT) -> tuple[int, int]:
    """(connections, sessions) once at most one `Session` is left, or at `timeout`.

    Close deadlines (2 s) and join deadlines end the last sessions in their own time, which
    a busy machine stretches: poll for it rather than guess. A leak never settles, so it
    still fails, only later.
    """
    deadline = time.monotonic() + timeout
    counted = count()
    while counted[1] > 1 and time.monotonic() < deadline:
        time.sleep(0.2)
        counted = count()
    return counted


def _churn(port: int) -> int:
    """Connections that end every way a connection can end; returns how many."""
    strangers = [LineClient(port) for _ in range(20)]  # never join: the timeout (1 s) ends them
    ended = 0
    for number in range(20):
        quitter = machine_client(port, f"q{number}")
        quitter.send_line("/quit done")
        quitter.read_all_until_closed()
        closer = machine_client(port, f"c{number}")
        closer.send_line("bye")
        closer.close()
        resetter = machine_client(port, f"r{number}")
        reset(resetter.sock)
        half = LineClient(port)
        half.send_line(f"h{number}", "a line, then FIN")
        half.sock.shutdown(socket.SHUT_WR)
        half.read_all_until_closed()
        vanisher = LineClient(port)  # connects and closes without a word
        close_all([half, vanisher])
        ended += 5
    for stranger in strangers:
        assert stranger.read_all_until_closed()[-1] == "*** Goodbye: no nickname chosen in time"
    close_all(strangers)
    return ended + len(strangers)


def test_no_session_outlives_its_connection() -> None:
    config = ServerConfig(host="127.0.0.1", port=0, flood=None, join_timeout=1.0)

    def clients(port: int, count: Callable[[], tuple[int, int]]) -> tuple[int, int, int]:
        ended = _churn(port)
        _wait_until_all_closed(count)
        return (ended, *_sessions_once_settled(count))

    ended, connections, sessions = serve_in_this_process(config, clients)
    assert ended == 120
    assert connections == 0
    # The join-deadline keeper may still name the last session it expired: one at most.
    assert sessions <= 1, f"{sessions} Session objects outlived their connections"


def test_a_closed_connection_is_not_kept_until_its_join_deadline() -> None:
    config = ServerConfig(host="127.0.0.1", port=0, flood=None)  # join timeout: 120 s

    def clients(port: int, count: Callable[[], tuple[int, int]]) -> tuple[int, int]:
        for number in range(100):
            client = machine_client(port, f"u{number}")
            client.send_line("/quit")
            client.read_all_until_closed()
        _wait_until_all_closed(count)
        return _sessions_once_settled(count)

    connections, sessions = serve_in_this_process(config, clients)
    assert connections == 0
    assert sessions <= 1, f"{sessions} Session objects kept for closed connections"


def test_a_closed_session_is_freed_without_the_cycle_collector() -> None:
    config = ServerConfig(host="127.0.0.1", port=0, flood=None, join_timeout=1.0)

    def clients(port: int, count: Callable[[], tuple[int, int]]) -> tuple[int, int]:
        gc.disable()  # only reference counting frees anything now
        try:
            _churn(port)
            _wait_until_all_closed(count)
            return _sessions_once_settled(count)
        finally:
            gc.enable()

    connections, sessions = serve_in_this_process(config, clients, collect=False)
    assert connections == 0
    assert sessions <= 1, f"{sessions} closed sessions wait for the cycle collector"


# --- measured from outside ---------------------------------------------------------------

def _raise_descriptor_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < needed:
        pytest.skip(f"needs {needed} file descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))


def _join_idle_clients(port: int, count: int, prefix: str = "u") -> list[LineClient]:
    """Join `count` machine clients, 100 at a time, each reading up to its own JOIN."""
    clients: list[LineClient] = []
    for first in range(0, count, 100):
        batch = []
        for index in range(first, min(count, first + 100)):
            client = LineClient(port)
            client.send_line("/hello tests 1", f"/nick {prefix}{index}")
            batch.append(client)
        for index, client in zip(range(first, count), batch):
            client.read_until(f"JOIN {prefix}{index}", timeout=60)
        clients += batch
    return clients


def measure_idle_connection(server_factory, count: int) -> float:  # type: ignore[no-untyped-def]
    """RSS added by `count` joined idle connections, per connection, in bytes."""
    _raise_descriptor_limit(count + 200)
    server = server_factory("--flood", "off", "--max-clients", str(count + 10))
    asker = machine_client(server.port, "asker")
    time.sleep(0.3)
    before = resident_bytes(server.pid)
    clients = _join_idle_clients(server.port, count)
    asker.read_until(f"JOIN u{count - 1}", timeout=60)
    figures = stats(asker)
    assert figures["joined"] == str(count + 1)
    per_connection = (resident_bytes(server.pid) - before) / count
    close_all([*clients, asker])
    print(f"RSS per joined idle connection, {count} of them: {per_connection / KIB:.1f} KiB")
    return per_connection


def test_memory_per_idle_connection(server_factory) -> None:
    assert measure_idle_connection(server_factory, 1000) < IDLE_CONNECTION_BOUND


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_memory_per_idle_connection_with_two_thousand(server_factory) -> None:
    assert measure_idle_connection(server_factory, 2000) < IDLE_CONNECTION_BOUND


def test_a_queued_bytes_object_costs_its_length_plus_a_fixed_overhead() -> None:
    # What a chunk in an outbox costs: the bytes object itself (a 33-byte header, rounded
    # up by the allocator) and one 8-byte slot in the outbox's list.
    count, length = 20000, 100
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        chunks = [bytes([number % 256]) * length for number in range(count)]
        per_chunk = (tracemalloc.get_traced_memory()[0] - before) / count
    finally:
        tracemalloc.stop()
    assert len(chunks) == count
    header = sys.getsizeof(b"")
    print(f"a {length}-byte chunk in a list: {per_chunk:.1f} bytes "
          f"(bytes header {header}, list slot 8)")
    assert length + header <= per_chunk <= length + header + 8 + 16


def _stall_a_client(port: int, talker: LineClient, asker: LineClient) -> LineClient:
    """Join a client that never reads, and fill the kernel's buffers for it (~3 MB), so
    that from now on every byte sent to the room is queued in its outbox."""
    stuck = machine_client(port, "stuck", receive_buffer=4096)
    talker.read_until("JOIN stuck")
    asker.read_until("JOIN stuck")
    big = "b" * 2000
    talker.send_line(*[f"fill {number} {big}" for number in range(3000)])
    talker.read_until("MSG talker fill 2999 ", timeout=60)
    asker.read_until("MSG talker fill 2999 ", timeout=60)
    wait_for_stats(asker, lambda f: f["send_wait"] == "1", timeout=10)
    return stuck


@pytest.mark.parametrize("batched", [False, True], ids=["one by one", "in bursts"])
def test_memory_per_queued_message(server_factory, batched: bool) -> None:
    server = server_factory("--flood", "off", "--outbox-limit", str(512 * MIB))
    talker = machine_client(server.port, "talker")
    asker = machine_client(server.port, "asker")
    stuck = _stall_a_client(server.port, talker, asker)
    time.sleep(0.3)  # (and /stats figures are shared for 0.2 s: ask for fresh ones)
    owed_before = int(stats(asker)["outbox_max"])
    rss_before = resident_bytes(server.pid)
    count, text = 10000, "m" * 90
    if batched:  # many lines per read: the server joins a read's events into one chunk
        talker.send_line(*[f"{number:05d} {text}" for number in range(count)])
        talker.read_until(f"MSG talker {count - 1:05d} ", timeout=60)
    else:  # one line per read: one chunk per message, the worst case
        for number in range(count):
            talker.send_line(f"{number:05d} {text}")
            talker.read_until(f"MSG talker {number:05d} ")
    asker.read_until(f"MSG talker {count - 1:05d} ", timeout=60)
    time.sleep(0.3)
    figures = stats(asker)
    per_message = (resident_bytes(server.pid) - rss_before) / count
    line_length = len(f"MSG talker 00000 {text}\n")
    owed_per_message = (int(figures["outbox_max"]) - owed_before) / count
    print(f"queued for a stalled client ({'in bursts' if batched else 'one by one'}): "
          f"{per_message:.0f} bytes of RSS per {line_length}-byte message")
    assert owed_per_message == pytest.approx(line_length, rel=0.01)  # all of it is queued
    # Its bytes, a chunk's header and deque slot, and some slack for allocator pages.
    assert per_message < line_length + 33 + 8 + 64
    close_all([stuck, talker, asker])


def test_rss_stays_inside_the_worst_case_formula(server_factory) -> None:
    """200 connections: 150 that only said /hello, 20 joined clients that never read,
    28 joined readers, a talker and an asker. The talker says 6 MB of 2 KB lines, 32 per
    write, 25 writes a second. Every stalled client must be cut off as too slow, no
    reader may lose a line, the most owed to one client must stay within `limit + B`,
    and the peak RSS within the formula of docs/limits.md."""
    _raise_descriptor_limit(500)
    limit = 1 * MIB
    server = server_factory("--flood", "off", "--outbox-limit", str(limit),
                            "--max-clients", "300")
    rss_empty = resident_bytes(server.pid)
    lurkers = []
    for _ in range(150):
        lurker = LineClient(server.port)
        lurker.send_line("/hello tests 1")
        lurkers.append(lurker)
    for lurker in lurkers:
        lurker.read_until("HELLO")
    talker = machine_client(server.port, "talker")
    asker = machine_client(server.port, "asker")
    stalled = [machine_client(server.port, f"s{index}", receive_buffer=4096)
               for index in range(20)]
    readers = _join_idle_clients(server.port, 28, prefix="r")
    everyone = [talker, asker, *readers]
    for client in everyone[:-1]:  # (r27 itself has read up to its JOIN)
        client.read_until("JOIN r27")
    time.sleep(0.3)
    rss_idle = resident_bytes(server.pid)
    connections = 200
    assert stats(asker)["clients"] == str(connections)

    lines, per_write, line_text = 3000, 32, "t" * 2000
    event_bytes = len(f"MSG talker 0000 {line_text}\n")
    # B: the most one broadcaster pass can queue for one client. The talker's writes are
    # 32 lines (~64 KB), and a read takes at most 64 KiB: at most 33 events per read.
    one_pass = 33 * event_bytes
    owed_bound = limit + one_pass

    transcripts = {client: [] for client in everyone}
    owed_seen = []
    sender = threading.Thread(target=_say_in_writes,
                              args=(talker, lines, per_write, line_text), daemon=True)
    with PeakMemory(server.pid) as memory:
        sender.start()
        _read_all(everyone, transcripts, asker, owed_seen,
                  done=lambda: all(f"MSG talker {lines - 1:04d} {line_text}" in t
                                   for t in transcripts.values()))
        sender.join(30)
    for client in everyone:  # nothing lost by anyone who kept reading
        said = [line for line in transcripts[client] if line.startswith("MSG talker ")]
        assert said == [f"MSG talker {number:04d} {line_text}" for number in range(lines)]
    parts = [line for line in transcripts[asker] if line.startswith("PART ")]
    assert sorted(parts) == sorted(f"PART s{index} too slow" for index in range(20))
    assert max(owed_seen) <= owed_bound, f"owed {max(owed_seen)} > limit + B = {owed_bound}"
    assert max(owed_seen) > limit // 2  # and /stats did catch outboxes filling up

    # The formula (docs/limits.md): per connection c, plus for each client that owes,
    # twice what it may owe (the queued chunks and the writer's joined copy in flight).
    per_connection = (rss_idle - rss_empty) / connections
    bound = rss_idle + 20 * 2 * owed_bound + 30 * 2 * one_pass + ALLOCATOR_SLACK
    print(f"idle RSS {rss_idle / MIB:.1f} MiB ({per_connection / KIB:.1f} KiB per "
          f"connection); peak {memory.peak / MIB:.1f} MiB; bound {bound / MIB:.1f} MiB; "
          f"most owed to one client {max(owed_seen) / KIB:.0f} KiB")
    assert per_connection < IDLE_CONNECTION_BOUND
    assert memory.peak <= bound
    close_all([*lurkers, *stalled, *everyone])
    assert server.stop() == 0


def _say_in_writes(talker: LineClient, lines: int, per_write: int, text: str) -> None:
    for first in range(0, lines, per_write):
        talker.send_line(*[f"{number:04d} {text}"
                           for number in range(first, min(lines, first + per_write))])
        time.sleep(0.04)


def _read_all(clients: list[LineClient], transcripts: dict, asker: LineClient,  # type: ignore[type-arg]
              owed_seen: list[int], done: Callable[[], bool], timeout: float = 60) -> None:
    """Read every client at once until `done()`, asking the asker for /stats as we go."""
    selector = selectors.DefaultSelector()
    for client in clients:
        client.sock.setblocking(False)
        selector.register(client.sock, selectors.EVENT_READ, client)
    deadline = time.monotonic() + timeout
    next_question = time.monotonic()
    try:
        while not done():
            assert time.monotonic() < deadline, "the readers did not get everything in time"
            if time.monotonic() >= next_question:
                asker.sock.sendall(b"/stats\n")
                next_question = time.monotonic() + 0.25
            for key, _ in selector.select(0.05):
                client = key.data
                data = client.sock.recv(1 << 20)
                assert data, "the server closed a reader's connection"
                for item in client._framer.feed(data):
                    if not hasattr(item, "text"):
                        continue
                    if item.text.startswith("STATS "):
                        owed_seen.append(int(item.text.split("outbox_max=")[1].split()[0]))
                    transcripts[client].append(item.text)
    finally:
        selector.close()
        for client in clients:
            client.sock.setblocking(True)
