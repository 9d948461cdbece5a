"""A class of 30 with `/stats on`, against a classroom server slowed by `--trace-delay`.

Each poll costs a `--trace --trace-delay 0.05` server a dozen trace lines, each followed by
a 0.05 s pause of the whole server. Thirty clients polling every 2 s would keep it busy for
ever and a line typed would wait seconds to come back. The live poll backs off (it waits
at least `ROUND_TRIP_FACTOR` times its last round trip), so the room stays usable.

A measurement, not a test (speed lives in the benchmark; the poll's back-off rule is
tested without a clock in tests/client/test_client_stats_live.py). It takes a few
minutes (31 joins through a slowed server come first) and prints the figures for the
backing-off poll and for the old fixed 2 s poll side by side:

    python bench/live_stats_load.py
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from protocol import Pong, Stats, Welcome, decode_event

from chat_client.live_stats import ROUND_TRIP_FACTOR, LiveStats
from chat_client.state import ClientState

CLASS_SIZE = 30
TRACE_DELAY = "0.05"
PINGS = 8
JOIN_TIMEOUT = 240.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Student:
    """One connection that joins and runs the client's own live poll (`LiveStats`)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    live: LiveStats | None = None
    asked_at: list[float] = field(default_factory=list)
    pongs: asyncio.Queue[float] = field(default_factory=asyncio.Queue)

    def send_line(self, line: str) -> bool:
        if line == "/stats":
            self.asked_at.append(time.monotonic())
        self.writer.write(line.encode() + b"\n")
        return True

    async def read_events(self) -> None:
        """Hand STATS replies to the poll and note PONGs, as the client's connection does."""
        while line := await self.reader.readline():
            try:
                event = decode_event(line.decode("utf-8").rstrip("\n"))
            except Exception:  # noqa: BLE001 - the greeting for people, before HELLO
                continue
            if isinstance(event, Stats) and self.live is not None:
                self.live.reply_received(event)
            elif isinstance(event, Pong):
                self.pongs.put_nowait(time.monotonic())


@asynccontextmanager
async def traced_server() -> AsyncIterator[int]:
    """A server with the classroom trace; its trace goes to a file, never a full pipe."""
    with tempfile.TemporaryFile() as trace:
        process = subprocess.Popen(
            [sys.executable, "-m", "chat_server", "--host", "127.0.0.1", "--port", "0",
             "--name", "class", "--flood", "off", "--trace", "--trace-delay", TRACE_DELAY,
             "--no-announce"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=trace, text=True)
        try:
            assert process.stdout is not None
            line = await asyncio.to_thread(process.stdout.readline)
            found = re.search(r"listening on \S+:(\d+)", line)
            assert found, f"the server did not start: {line!r}"
            yield int(found.group(1))
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


async def join(port: int, nick: str) -> Student:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"/hello load-test 1\n/nick {nick}\n".encode())
    while True:
        line = (await reader.readline()).decode("utf-8").rstrip("\n")
        assert line, f"{nick}: the server closed the connection while joining"
        if line.startswith("WELCOME "):
            return Student(reader, writer)


async def ping_round_trips(student: Student, count: int) -> list[float]:
    """/ping round trips, one after another: what a person typing a line waits for."""
    trips = []
    for number in range(count):
        sent = time.monotonic()
        student.send_line(f"/ping trip{number}")
        trips.append(await asyncio.wait_for(student.pongs.get(), JOIN_TIMEOUT) - sent)
    return trips


async def measure(round_trip_factor: float) -> tuple[list[float], list[Student]]:
    """Start a traced server and a class polling with `/stats on`; time pings meanwhile."""
    async with traced_server() as port:
        students = [await asyncio.wait_for(join(port, f"s{number}"), JOIN_TIMEOUT)
                    for number in range(CLASS_SIZE + 1)]
        readers = [asyncio.ensure_future(student.read_events()) for student in students]
        teacher, polling = students[0], students[1:]
        try:
            for student in polling:
                student.live = LiveStats(ClientState(address="class", live_stats=True),
                                         student.send_line, asyncio.ensure_future,
                                         round_trip_factor=round_trip_factor)
                student.live.connection_changed(True)
                student.live.turn_on()
            await asyncio.sleep(10)  # the polls settle into their rhythm
            return await ping_round_trips(teacher, PINGS), polling
        finally:
            for student in polling:
                assert student.live is not None
                student.live.turn_off()
            for task in readers:
                task.cancel()
            for student in students:
                student.writer.close()


def describe(trips: list[float]) -> str:
    return (f"/ping round trip with {CLASS_SIZE} clients polling: median "
            f"{statistics.median(trips):.2f} s, worst {max(trips):.2f} s")


if __name__ == "__main__":
    for label, factor in (("backing off (20 x round trip)", ROUND_TRIP_FACTOR),
                          ("fixed 2 s poll (before)", 0.0)):
        print(f"{label}: {describe(asyncio.run(measure(factor))[0])}", flush=True)
