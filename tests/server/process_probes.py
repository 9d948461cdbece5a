"""Looking at a running server from the outside, for the hardening tests.

Its memory, open descriptors and CPU time are read from /proc (Linux); its own figures
come from `/stats`. Nothing here changes the server: these are the numbers a leak or a
busy loop would move.
"""

from __future__ import annotations

import os
import resource
import socket
import struct
import threading
import time
from collections.abc import Callable
from types import TracebackType

from chat_testing import LineClient
from protocol import Stats, decode_event

PAGE_SIZE = resource.getpagesize()

SERVER_TASKS = 6
"""Tasks a test server always runs: an acceptor for each of its three listeners (lines,
web, IRC; tests start servers with --no-announce, so no mDNS tasks), the broadcaster,
the signal watcher and the join-deadline keeper."""

TASKS_PER_CONNECTION = 2
"""A reader and a writer for every open connection."""


def resident_bytes(pid: int) -> int:
    """The process's resident set size (RSS), in bytes."""
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


def open_descriptors(pid: int) -> int:
    """How many file descriptors the process has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used, in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def expected_tasks(connections: int) -> int:
    """The task count of a server with `connections` open and nothing closing."""
    return SERVER_TASKS + TASKS_PER_CONNECTION * connections


def reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0, so the kernel sends RST instead of FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def stats(client: LineClient) -> dict[str, str]:
    """Ask for `/stats` on a machine client and return the figures."""
    client.send_line("/stats")
    event = decode_event(client.read_until("STATS")[-1])
    assert isinstance(event, Stats)
    return event.as_dict()


def wait_for_stats(
    client: LineClient, settled: Callable[[dict[str, str]], bool], timeout: float
) -> dict[str, str]:
    """Poll `/stats` until `settled(figures)` or `timeout`; return the last figures.

    The server shares one count for 0.2 s, so polling faster than that learns nothing.
    """
    deadline = time.monotonic() + timeout
    figures = stats(client)
    while not settled(figures) and time.monotonic() < deadline:
        time.sleep(0.25)
        figures = stats(client)
    return figures


def wait_for_descriptors(pid: int, expected: int, timeout: float) -> int:
    """Poll the open descriptor count until it is `expected` or `timeout`; return it."""
    deadline = time.monotonic() + timeout
    count = open_descriptors(pid)
    while count != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        count = open_descriptors(pid)
    return count


class PeakMemory:
    """Samples a process's RSS in a background thread; `peak` is the highest seen.

        with PeakMemory(pid) as memory:
            ...load...
        memory.peak
    """

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = resident_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(5)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.peak = max(self.peak, resident_bytes(self.pid))
            except OSError:  # the process has gone
                return
