"""The tracer: the same run loop, narrated decision by decision as it makes them.

`chat-server --trace` attaches a `Tracer` to the scheduler as its observer. The scheduler
tells its observer what it does at named points (spawned, running, stepped, woken,
selected, moved, ...; see `SchedulerObserver`), and the tracer prints a line for each:
`recv` and `send` lines say how many bytes each call moved (the tasks report them). It only
watches, so behaviour is the same; with no observer the loop skips every point.

A trace reads like this (`--trace-delay 0.5` slows it down enough to follow in class):

      3.141  select   1 socket ready after waiting 2.718s
      3.141  wake     reader(alice)       its socket has data
      3.141  run      reader(alice)
      3.141  recv     reader(alice)       6 bytes
      3.141  wake     broadcaster         woken by other code (it was parked)
      3.141  wait     reader(alice)       recv: until its socket has data
      3.141  run      broadcaster
      3.141  wake     writer(bob)         woken by other code (it was parked)

A task's name fills a column of `NAME_WIDTH` characters; a longer one (a long nickname, an
IPv6 address) is cut short with `…`, so the details always start in the same column.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from chat_server.scheduler import Scheduler, Task

NAME_WIDTH = 20
"""Characters of a task's name shown in a trace line: the column the details follow."""

_COLOURS = {"select": "33", "wake": "36", "run": "32", "wait": "35", "spawn": "34",
            "done": "31", "cancel": "31", "recv": "90",
            "send": "90"}  # ANSI: yellow, cyan, green, magenta, blue, red, grey

_NOTHING_MOVED = {
    "recv": "0 bytes: the other side closed",
    "send": "0 bytes: its socket is full",
}

_WHY_READY = {
    "recv": "its socket has data",
    "send": "its socket can take more",
    "sleep": "its sleep is over",
    "park": "woken by other code (it was parked)",
}

_WAITING_FOR = {
    "recv": "recv: until its socket has data",
    "send": "send: until its socket can take more",
    "sleep": "sleep: {0:.3f}s",
    "park": "park: until other code wakes it",
}


class Tracer:
    """Narrates what a scheduler does (a `SchedulerObserver`), optionally pausing after
    each line so a class can follow."""

    def __init__(
        self,
        clock: Callable[[], float],
        out: TextIO = sys.stderr,
        delay: float = 0.0,
        colour: bool | None = None,
        held: bool = False,
    ) -> None:
        self._clock = clock
        self._out = out
        self._delay = delay
        self._colour = out.isatty() if colour is None else colour
        self._started = clock()
        self._select_started = self._started
        self._running: Task | None = None  # between `running` and `stepped`
        # With `held`, lines wait here until `stop_holding()`: `chat-server --trace` prints
        # how to join first, so the trace does not push those lines off the screen.
        self._held: list[str] | None = [] if held else None

    def stop_holding(self) -> None:
        """Print the lines held back so far; from now on print each line as it comes."""
        held, self._held = self._held or [], None
        for line in held:
            self._write(line)

    # The scheduler's named points (see SchedulerObserver)

    def spawned(self, task: Task) -> None:
        self._say("spawn", task)

    def cancelled(self, task: Task) -> None:
        self._say("cancel", task, "stopped where it waited")

    def running(self, task: Task) -> None:
        self._running = task
        self._say("run", task)

    def stepped(self, task: Task) -> None:
        self._running = None
        if task.done:
            self._say("done", task, "finished")
        elif task.waiting_for is not None:
            trap, argument = task.waiting_for
            self._say("wait", task, _WAITING_FOR[trap].format(argument))

    def woken(self, task: Task) -> None:
        self._say("wake", task, _WHY_READY[task.waiting_for[0]])  # type: ignore[index]

    def selecting(self) -> None:
        self._select_started = self._clock()

    def selected(self, ready: int) -> None:
        waited = self._clock() - self._select_started
        if ready or waited >= 0.001:  # quiet about polls that found nothing at once
            sockets = "1 socket" if ready == 1 else f"{ready} sockets"
            self._say("select", None, f"{sockets} ready after waiting {waited:.3f}s")

    def moved(self, task: Task, verb: str, count: int) -> None:
        # Shown even when the kernel took a send at once: no wait, but bytes went out.
        detail = describe_moved(verb, count)
        if self._running is not None and task is not self._running:
            # The broadcaster sent straight to an idle writer's socket (outbox.py).
            detail += f", sent at once by {self._running.name}"
        self._say(verb, task, detail)

    # Printing

    def _say(self, verb: str, task: Task | None, detail: str = "") -> None:
        elapsed = self._clock() - self._started
        label = verb.ljust(8)
        if self._colour:
            label = f"\x1b[{_COLOURS[verb]}m{label}\x1b[0m"
        who = _fit(str(task.name)) if task is not None else ""
        line = f"{elapsed:11.3f}  {label} {who:<{NAME_WIDTH}} {detail}".rstrip() + "\n"
        if self._held is not None:
            self._held.append(line)
        else:
            self._write(line)

    def _write(self, line: str) -> None:
        self._out.write(line)
        self._out.flush()
        if self._delay:
            time.sleep(self._delay)  # slows the whole server down: that is the point


class TracingScheduler(Scheduler):
    """A `Scheduler` with a `Tracer` watching it from the start (`chat-server --trace`)."""

    def __init__(
        self,
        out: TextIO = sys.stderr,
        delay: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        colour: bool | None = None,
        held: bool = False,
    ) -> None:
        super().__init__(clock)
        self.tracer = Tracer(clock, out, delay, colour, held)
        self.observer = self.tracer

    def stop_holding(self) -> None:
        """Print the trace held back so far (see `Tracer.stop_holding`)."""
        self.tracer.stop_holding()


def describe_moved(verb: str, count: int) -> str:
    """`16 bytes`, or what a `recv` or `send` that moved nothing means."""
    if count == 0:
        return _NOTHING_MOVED[verb]
    return "1 byte" if count == 1 else f"{count} bytes"


def _fit(name: str) -> str:
    """`name`, cut to `NAME_WIDTH` characters with an ellipsis if it is longer."""
    return name if len(name) <= NAME_WIDTH else name[:NAME_WIDTH - 1] + "…"
