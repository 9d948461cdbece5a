"""`/stats` and `/stats on|off`: asking the server for its figures, by hand or every 2 s.

A STATS reply carries no token, so which request it answers is known from order alone:
a connection's replies come back in the order its commands went out. Each `/stats` sent
is noted in a queue (by the user, or by the poll); each STATS that arrives takes the oldest
note. Only a reply to the user's own `/stats` becomes a panel; a poll's reply only updates
the status bar. Replies never come for requests sent on a connection that is gone, so the
notes are dropped whenever the connection goes down.

The poll is a task of the application's loop (it ends with the application), waits while
the client is out of the room, and never has more than one request out: a server that is
slow to answer (flood control, a busy loop) is not sent a pile of them. At one line every
2 s it stays far inside the server's default flood limit (a burst of 10, then 5 a second).

It also backs off from a slow server: the next request waits for the reply to the last
one, then goes at least `ROUND_TRIP_FACTOR` times that reply's round trip after it was
sent (never sooner than the interval). A `/stats` costs a slowed-down classroom server
(`--trace --trace-delay`) a dozen trace lines; thirty clients asking every 2 s would keep
it busy for ever and every line typed would wait behind them. Slower answers mean fewer
questions, so the room stays usable however many have `/stats on`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from protocol import Stats

from chat_client.state import ClientState

STATS_LINE = "/stats"

SendLine = Callable[[str], bool]
"""Sends a line to the server; False if there is no connection to send it on."""
StartTask = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]
"""Starts a coroutine as a task that ends with the application."""

ROUND_TRIP_FACTOR = 20.0
"""The poll waits at least this many times the last reply's round trip between requests,
so a server that takes 0.5 s to answer is asked every 10 s, not every 2 s: it then spends
at most about 1/20 of its time on each client's live count."""


class LiveStats:
    """Sends `/stats` for the user and for the live count; sorts out whose each reply is."""

    def __init__(self, state: ClientState, send_line: SendLine, start_task: StartTask,
                 interval: float = 2.0, round_trip_factor: float = ROUND_TRIP_FACTOR,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._state = state
        self._send_line = send_line
        self._start_task = start_task
        self.interval = interval
        self.round_trip_factor = round_trip_factor
        self._clock, self._sleep = clock, sleep  # tests pass a clock of their own
        self._asked_by_user: deque[bool] = deque()  # one note per request out, oldest first
        self._in_room = asyncio.Event()
        self._poll: asyncio.Task[None] | None = None
        self._poll_sent_at: float | None = None  # when the poll's request out was sent
        self._poll_answered = asyncio.Event()  # its reply came, or it never will
        self.last_round_trip: float | None = None
        """Seconds from the poll's last request to its reply."""

    @property
    def polling(self) -> bool:
        """True while the poll task runs (`/stats on`)."""
        return self._poll is not None and not self._poll.done()

    def request(self) -> bool:
        """The user's `/stats`: ask now, and show the reply as a panel; False if not sent."""
        return self._ask(by_user=True)

    def turn_on(self) -> bool:
        """`/stats on`: start the live count; False if it was already on."""
        if self.polling:
            return False
        self._state.live_stats = True
        self._poll = self._start_task(self._keep_polling())
        return True

    def turn_off(self) -> bool:
        """`/stats off`: stop the live count and take it off the status bar; False if off."""
        was_on = self._state.live_stats
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None
        self._state.live_stats = False
        self._state.live_figures = None
        return was_on

    def connection_changed(self, in_room: bool) -> None:
        """Poll only while in the room; requests still out on a lost connection are void."""
        if in_room:
            self._in_room.set()
        else:
            self._in_room.clear()
            self._asked_by_user.clear()
            self._poll_answered.set()  # its reply will never come: stop waiting for it

    def reply_received(self, stats: Stats) -> bool:
        """Take in a STATS reply; True if it answers the user (show it as a panel)."""
        if self._state.live_stats:
            self._state.live_figures = stats.figures
        # A reply nobody is known to have asked for (a server sending figures of its own
        # accord) is shown rather than lost.
        by_user = self._asked_by_user.popleft() if self._asked_by_user else True
        if not by_user and self._poll_sent_at is not None:
            self.last_round_trip = self._clock() - self._poll_sent_at
            self._poll_answered.set()
        return by_user

    def next_wait(self) -> float:
        """Seconds from one poll request to the next: the interval, or longer if slow."""
        if self.last_round_trip is None:
            return self.interval
        return max(self.interval, self.round_trip_factor * self.last_round_trip)

    def _ask(self, *, by_user: bool) -> bool:
        if not self._send_line(STATS_LINE):
            return False
        self._asked_by_user.append(by_user)
        return True

    async def _keep_polling(self) -> None:
        # The first request goes at once, so the status bar fills without a wait.
        while True:
            await self._in_room.wait()
            started = self._clock()
            if not self._asked_by_user and self._ask(by_user=False):  # one out at a time
                self._poll_sent_at = started
                self._poll_answered.clear()
                await self._poll_answered.wait()
            await self._sleep(max(0.0, started + self.next_wait() - self._clock()))
