"""The Python work per line said at saturation, without sockets, scheduler or kernel.

    python bench/per_line.py [--store none|file] [--rounds N] [--profile]

Replays load (b) of run.py inside one process: 100 version 1 clients in one room, each
handing its reader 16 lines at a time (as many as a read holds in (b)), then the broadcaster delivering the lot, round
after round. The server's own objects do the work (each session's `LineConnection`, the
reader's `handle_commands`, the `Directory`, the `Audience`, `History` over a real store:
`--store file` is a fresh SQLite file in a temporary directory, removed at the end), and
what the writers would send is taken from the outboxes and dropped. Prints the best of
five measurements of the time per line said; `--profile` prints cProfile's top functions
instead.

What it leaves out is the point of it: with no sockets there is no kernel and no waiting,
so what it measures is the Python a line costs, which is what limits the server at
saturation, without the sends and receives around it. The machine's noise is still there
(runs of the same code on a shared machine spread by as much as a fifth): to compare two
versions, run them in turns, several times each, and compare medians. It says how much
Python a line costs, not how fast the server is: run.py measures that, against the
asyncio server.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chat_server.audience import Audience  # noqa: E402  (after the path fix above)
from chat_server.directory import Directory  # noqa: E402
from chat_server.history import History  # noqa: E402
from chat_server.session import Session  # noqa: E402
from chat_server.store import open_store  # noqa: E402
from chat_server.tasks import handle_commands  # noqa: E402
from protocol import LineConnection  # noqa: E402

CLIENTS = 100  # as in run.py's (b)
LINES_PER_READ = 16  # what a read holds in run.py's (b), counted in its server
MEASUREMENTS = 5


class Replay:
    """Load (b)'s clients, joined, and the server's objects that serve them."""

    def __init__(self, store_spec: str) -> None:
        self.history = History(open_store(store_spec), store_spec)
        self.directory = Directory("bench", history=self.history, history_on_join=0)
        self.audience = Audience(self.history, self.directory.cut_off)
        self.sessions = [self._session(number) for number in range(CLIENTS)]
        self.said = [0] * CLIENTS
        self._handle(lambda number: f"/hello bench 1\n/nick c{number}\n".encode())

    def round(self) -> None:
        """Every client says LINES_PER_READ lines; they are delivered; the outboxes emptied."""
        self._handle(self._lines)

    def close(self) -> None:
        """Close the store."""
        self.history.close()

    def _session(self, number: int) -> Session:
        # No socket: a reader that is handed the bytes does not need one, nor does a
        # writer that is never started.
        session = Session(None, f"127.0.0.1:{number}", LineConnection(),  # type: ignore[arg-type]
                          outbox_limit=1 << 20, flood=None, now=0.0,
                          on_hang_up=lambda session: None)
        self.directory.greet(session)
        return session

    def _lines(self, number: int) -> bytes:
        first, self.said[number] = self.said[number], self.said[number] + LINES_PER_READ
        # As run.py's load generator says them: sender, sequence number, send time.
        return b"".join(b"%d %d 1764500000000000000\n" % (number, sequence)
                        for sequence in range(first, first + LINES_PER_READ))

    def _handle(self, data_for: Callable[[int], bytes]) -> None:
        for number, session in enumerate(self.sessions):
            session.connection.receive_data(data_for(number))
            for _ in handle_commands(self.directory, session, time.monotonic):
                pass  # a reader's traps: with flood control off, only "let others run"
        self.audience.deliver_all(self.directory.outgoing)
        for session in self.sessions:
            outbox = session.outbox
            if outbox:
                outbox.take()
                outbox.sent(outbox.size)


def microseconds_per_line(replay: Replay, rounds: int) -> float:
    """The best of MEASUREMENTS runs of `rounds` rounds, in microseconds per line said."""
    best = float("inf")
    for _ in range(MEASUREMENTS):
        started = time.perf_counter()
        for _ in range(rounds):
            replay.round()
        best = min(best, (time.perf_counter() - started) / (rounds * CLIENTS * LINES_PER_READ))
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=("none", "file"), default="file")
    parser.add_argument("--rounds", type=int, default=15, help="rounds per measurement")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        spec = "none" if options.store == "none" else str(Path(directory) / "history.sqlite3")
        replay = Replay(spec)
        try:
            if options.profile:
                profiler = cProfile.Profile()
                profiler.runcall(lambda: [replay.round() for _ in range(options.rounds)])
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            else:
                per_line = microseconds_per_line(replay, options.rounds)
                print(f"store {options.store}: {per_line:.2f} µs of Python per line said "
                      f"({CLIENTS} clients, {LINES_PER_READ} lines a read, best of "
                      f"{MEASUREMENTS} x {options.rounds} rounds)")
        finally:
            replay.close()


if __name__ == "__main__":
    main()
