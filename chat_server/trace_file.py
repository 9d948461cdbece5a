"""`--trace-file FILE`: the scheduler's decisions as a timeline that Perfetto can open.

A `TraceFile` is an observer (see `SchedulerObserver`) that writes the Chrome trace-event
JSON format, `{"traceEvents": [...]}`, which https://ui.perfetto.dev and chrome://tracing
draw as a timeline. Each task is a thread (`tid`) named after it; what it does becomes:

    "B" / "E"   a run of the task, from `running` to `stepped` (the end says what it waits for)
    "i"         an instant on its track: spawned, woken (and why), recv/send N bytes, done
    "X"         on track 0, "select": how long the loop waited for sockets, and how many

Events are written as they happen, with `ts` in microseconds since the start, so the file
is in time order. It is bounded: after `max_events` events or `max_seconds` seconds it
writes a last instant saying why it stopped, closes the file, and detaches itself
(`on_stop`), and the loop runs on unwatched. `close()` at shutdown ends the JSON cleanly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TextIO

from chat_server.scheduler import Task
from chat_server.trace import _WAITING_FOR, _WHY_READY, describe_moved

log = logging.getLogger(__name__)

MAX_EVENTS = 200_000  # about 20 MB of JSON: Perfetto opens it in a second or two
MAX_SECONDS = 60.0
PID = 1
LOOP_TID = 0  # the loop's own track: its waits in select


class TraceFile:
    """Writes what the scheduler decides as Chrome trace events (a `SchedulerObserver`)."""

    def __init__(self, out: TextIO, clock: Callable[[], float],
                 max_events: int = MAX_EVENTS, max_seconds: float = MAX_SECONDS,
                 on_stop: Callable[[TraceFile], None] = lambda trace: None) -> None:
        self._out = out
        self._clock = clock
        self._started = clock()
        self._max_events = max_events
        self._max_seconds = max_seconds
        self._on_stop = on_stop
        self._events = 0
        self._tids: dict[Task, tuple[int, str]] = {}  # task -> (its track, name shown)
        self._next_tid = LOOP_TID + 1
        self._select_started = 0.0
        self.stopped: str | None = None  # why it stopped writing, once it has
        self._closed = False
        out.write('{"displayTimeUnit": "ms", "traceEvents": [\n')
        self._emit({"ph": "M", "name": "thread_name", "tid": LOOP_TID,
                    "args": {"name": "run loop"}}, self._now())

    # The scheduler's named points

    def spawned(self, task: Task) -> None:
        self._instant(task, "spawn")

    def cancelled(self, task: Task) -> None:
        self._instant(task, "cancel: stopped where it waited")
        self._tids.pop(task, None)

    def running(self, task: Task) -> None:
        self._emit({"ph": "B", "name": str(task.name), "tid": self._tid(task)}, self._now())

    def stepped(self, task: Task) -> None:
        tid = self._tid(task)
        if task.done:
            then = "done"
        elif task.waiting_for is not None:
            trap, argument = task.waiting_for
            then = _WAITING_FOR[trap].format(argument)
        else:
            then = "ready"
        self._emit({"ph": "E", "tid": tid, "args": {"then": then}}, self._now())
        if task.done:
            self._tids.pop(task, None)

    def woken(self, task: Task) -> None:
        self._instant(task, "wake: " + _WHY_READY[task.waiting_for[0]])  # type: ignore[index]

    def selecting(self) -> None:
        self._select_started = self._now()

    def selected(self, ready: int) -> None:
        now = self._now()
        if ready or now - self._select_started >= 1000:  # quiet about empty polls
            self._emit({"ph": "X", "name": "select", "tid": LOOP_TID,
                        "dur": now - self._select_started, "args": {"ready": ready}},
                       self._select_started)

    def moved(self, task: Task, verb: str, count: int) -> None:
        self._instant(task, f"{verb} {describe_moved(verb, count)}")

    # Writing

    def close(self) -> None:
        """End the JSON and close the file (at shutdown, or when a limit is reached)."""
        if self._closed:
            return
        self._closed = True
        self._out.write("\n]}\n")
        self._out.close()

    def _now(self) -> float:
        return round((self._clock() - self._started) * 1e6, 1)  # microseconds

    def _tid(self, task: Task) -> int:
        """The task's track; named again when its name changes (a nickname chosen)."""
        name = str(task.name)
        known = self._tids.get(task)
        if known is not None and known[1] == name:
            return known[0]
        tid = known[0] if known is not None else self._new_tid()
        self._tids[task] = (tid, name)
        self._emit({"ph": "M", "name": "thread_name", "tid": tid, "args": {"name": name}},
                   self._now())
        return tid

    def _new_tid(self) -> int:
        tid, self._next_tid = self._next_tid, self._next_tid + 1
        return tid

    def _instant(self, task: Task, what: str) -> None:
        self._emit({"ph": "i", "s": "t", "name": what, "tid": self._tid(task)}, self._now())

    def _emit(self, event: dict[str, object], ts: float) -> None:
        if self.stopped is not None:
            return
        event.update(pid=PID, ts=ts)
        self._out.write((",\n" if self._events else "") + json.dumps(event))
        self._events += 1
        if self._events >= self._max_events:
            self._stop(f"stopped after {self._events} events (the limit)", ts)
        elif ts >= self._max_seconds * 1e6:
            self._stop(f"stopped after {self._max_seconds:g} seconds (the limit)", ts)

    def _stop(self, why: str, ts: float) -> None:
        """Say why in the file and in the log, close it, and stop watching."""
        self._out.write(",\n" + json.dumps({"ph": "i", "s": "g", "name": f"trace {why}",
                                             "pid": PID, "tid": LOOP_TID, "ts": ts}))
        self.stopped = why
        log.warning("trace file %s", why)
        self.close()
        self._on_stop(self)
