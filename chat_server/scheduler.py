"""The scheduler: one thread, one run loop, any number of generator tasks.

A task runs until it yields a trap (see `traps.py`), a request such as "wake me when this
socket is readable". The scheduler files the task under what it waits for and runs the
next ready one. When nothing is ready it asks the operating system which sockets are
ready (`selectors`: epoll on Linux, so thousands of sockets are fine) and how long until
the next sleeper must wake, and the loop goes round again.

The bookkeeping is kept apart from the loop itself:
- `_ready`: tasks that can run now, each with the value to send it;
- the selector: for each socket, which task waits to read and which to write;
- `_sleeping`: a heap of (wake-up time, task);
- `Parking` (parking.py): tasks waiting for plain code to wake them (a queue got work).

Anyone may watch the loop work: an `observer` (see `SchedulerObserver`) is told at named
points what the scheduler decides. `--trace` attaches one that narrates (trace.py),
`--trace-file` one that writes a timeline (trace_file.py), the /scheduler page one that
records while someone watches (live_view.py); several at once share the slot through
`observers.py`. With none attached, each point costs one `is None` check.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from chat_server.parking import Parking
from chat_server.traps import TaskGenerator

log = logging.getLogger(__name__)

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE

# What a task is doing, named after the trap it waits on (None: it can run now).
_STATE_BY_TRAP = {None: "ready", "recv": "recv_wait", "send": "send_wait",
                  "sleep": "sleeping", "park": "parked"}


class Task:
    """A generator being run by the scheduler, and what it is waiting for now."""

    __slots__ = ("generator", "name", "waiting_for", "done")

    def __init__(self, generator: TaskGenerator, name: object) -> None:
        self.generator = generator
        self.name = name  # anything printable; a session's tasks show its current nickname
        self.waiting_for: tuple[Any, ...] | None = None  # the trap it is parked on, if any
        self.done = False

    def __repr__(self) -> str:
        return f"<Task {self.name}>"


class SchedulerObserver(Protocol):
    """What an observer of the run loop is told, at each of its named points."""

    def spawned(self, task: Task) -> None:
        """`task` was just started."""

    def cancelled(self, task: Task) -> None:
        """`task` is about to be stopped where it waits."""

    def running(self, task: Task) -> None:
        """`task` is about to run until its next trap."""

    def stepped(self, task: Task) -> None:
        """`task` yielded its next trap (now in `task.waiting_for`), or finished."""

    def woken(self, task: Task) -> None:
        """`task` is about to be made ready; `task.waiting_for` still says what it waited for."""

    def selecting(self) -> None:
        """The loop is about to ask the operating system which sockets are ready."""

    def selected(self, ready: int) -> None:
        """The operating system said `ready` sockets are ready."""

    def moved(self, task: Task, verb: str, count: int) -> None:
        """`task` moved `count` bytes through its socket: `verb` is "recv" or "send".

        Told by the tasks themselves (through `Scheduler.moved`), not by the loop: only
        the task knows what a `recv` or `send` call returned.
        """


class Scheduler:
    """Runs generator tasks until none is left."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.observer: SchedulerObserver | None = None
        self.tasks: set[Task] = set()
        self.current: Task | None = None
        self.loop_iterations = 0
        self._ready: deque[tuple[Task, Any]] = deque()
        self._selector = selectors.DefaultSelector()
        self._sleeping: list[tuple[float, int, Task]] = []
        self._tie_breaker = itertools.count()  # keeps heap order stable for equal times
        self._traps: dict[str, Callable[..., None]] = {
            "recv": self._trap_recv,
            "send": self._trap_send,
            "sleep": self._trap_sleep,
            "park": self._trap_park,
            "spawn": self._trap_spawn,
            "cancel": self._trap_cancel,
        }

    def task_counts(self) -> dict[str, int]:
        """How many tasks there are, and what they wait for (ready includes the running one)."""
        counts = dict.fromkeys(_STATE_BY_TRAP.values(), 0)
        for task in self.tasks:
            counts[_STATE_BY_TRAP[task.waiting_for and task.waiting_for[0]]] += 1
        return {"tasks": len(self.tasks), **counts}

    # The run loop

    def run(self) -> None:
        """Run until every task has finished."""
        while self.tasks:
            self.loop_iterations += 1
            self._wait_for_io(self._time_until_next_wakeup())
            self._wake_sleepers()
            self._run_ready_tasks()

    def _run_ready_tasks(self) -> None:
        # Only the tasks ready now: tasks they make ready wait for the next round, so
        # sockets are polled between rounds and no task can starve the others.
        for _ in range(len(self._ready)):
            task, value = self._ready.popleft()
            if task.done:
                continue
            observer = self.observer
            if observer is None:
                self._step(task, value)
            else:
                observer.running(task)
                self._step(task, value)
                observer.stepped(task)

    def _step(self, task: Task, value: Any) -> None:
        """Resume `task` until it yields its next trap, then file it under that trap."""
        self.current = task
        try:
            trap = task.generator.send(value)
        except StopIteration:
            self._finish(task)
            return
        except Exception:
            log.exception("task %s crashed", task.name)
            self._finish(task)
            return
        finally:
            self.current = None
        # Look the handler up first, then call it, so that a bug inside a handler is
        # reported as what it is and not as an unknown trap. Anything that is not a
        # tuple naming a trap (a bare `yield`, say) must stop the task, not the loop.
        is_trap = isinstance(trap, tuple) and trap and isinstance(trap[0], str)
        handler = self._traps.get(trap[0]) if is_trap else None
        if handler is None:
            log.error("task %s yielded %r, which is not a trap; stopping it", task.name, trap)
            self.cancel(task)
            return
        try:
            handler(task, *trap[1:])
        except Exception:
            log.exception("task %s made a request that failed: %r", task.name, trap)
            self.cancel(task)

    # Starting and stopping tasks (tasks use the traps; the server may call these directly)

    def spawn(self, generator: TaskGenerator, name: object = None) -> Task:
        """Start running `generator` as a task."""
        task = Task(generator, name or getattr(generator, "__name__", "task"))
        self.tasks.add(task)
        self._ready.append((task, None))
        if self.observer is not None:
            self.observer.spawned(task)
        return task

    def cancel(self, task: Task) -> None:
        """Stop `task` wherever it waits; its `finally` blocks run now."""
        if task.done:
            return
        if task is self.current:
            raise RuntimeError("a running task cannot be cancelled; it should return")
        if self.observer is not None:
            self.observer.cancelled(task)
        self._stop_waiting_for_io(task)  # sleepers and parked tasks are skipped once done
        self._finish(task)
        try:
            task.generator.close()
        except Exception:
            log.exception("task %s failed while being cancelled", task.name)

    def moved(self, verb: str, count: int, task: Task | None = None) -> None:
        """`task`'s `recv` or `send` moved `count` bytes: tell the observer.

        `task` defaults to the running one; it is another when a task moved bytes for it
        (the broadcaster sending straight to an idle writer's socket). Tasks call this
        after each call; with nobody watching it is one `is None` check.
        """
        observer = self.observer
        if observer is not None:
            task = task or self.current
            if task is not None:
                observer.moved(task, verb, count)

    def release(self, sock: socket.socket) -> None:
        """Forget `sock` before it is closed (a closed socket cannot be unregistered)."""
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass

    def _finish(self, task: Task) -> None:
        task.done = True
        task.waiting_for = None
        self.tasks.discard(task)

    def make_ready(self, task: Task, value: Any = None) -> None:
        """Let `task` run in the next round, sent `value` (parkings call this)."""
        if not task.done:
            if self.observer is not None and task.waiting_for is not None:
                self.observer.woken(task)
            task.waiting_for = None
            self._ready.append((task, value))

    # Trap handlers: each files the task under what it waits for

    def _trap_recv(self, task: Task, sock: socket.socket) -> None:
        self._wait_for(task, sock, READ)

    def _trap_send(self, task: Task, sock: socket.socket) -> None:
        self._wait_for(task, sock, WRITE)

    def _trap_sleep(self, task: Task, seconds: float) -> None:
        task.waiting_for = ("sleep", seconds)
        wake_at = self.clock() + seconds
        heapq.heappush(self._sleeping, (wake_at, next(self._tie_breaker), task))

    def _trap_park(self, task: Task, parking: Parking) -> None:
        task.waiting_for = ("park", parking)
        parking.parked.append((self, task))

    def _trap_spawn(self, task: Task, generator: TaskGenerator, name: object = None) -> None:
        self.make_ready(task, self.spawn(generator, name))

    def _trap_cancel(self, task: Task, victim: Task) -> None:
        self.cancel(victim)
        self.make_ready(task)

    # I/O waiting. Registrations are dropped lazily: a reader that loops straight back to
    # recv_wait finds its socket still registered, which saves two system calls a line.

    def _wait_for(self, task: Task, sock: socket.socket, event: int) -> None:
        task.waiting_for = ("recv" if event == READ else "send", sock)
        try:
            key = self._selector.get_key(sock)
        except KeyError:
            self._selector.register(sock, event, {event: task})
            return
        waiters: dict[int, Task] = key.data
        if event in waiters:
            raise RuntimeError(f"{waiters[event]} already waits on this socket")
        waiters[event] = task
        if not key.events & event:
            self._selector.modify(sock, key.events | event, waiters)

    def _wait_for_io(self, timeout: float | None) -> None:
        """Wait (at most `timeout`) for sockets to be ready, and wake their tasks."""
        if self.observer is None:
            self._wake_io_waiters(self._selector.select(timeout))
            return
        self.observer.selecting()
        ready = self._selector.select(timeout)
        self.observer.selected(len(ready))
        self._wake_io_waiters(ready)

    def _wake_io_waiters(self, ready: list[tuple[selectors.SelectorKey, int]]) -> None:
        for key, events in ready:
            waiters: dict[int, Task] = key.data
            # Decided before the waiters are woken: a woken task keeps its registration
            # (it usually comes straight back), and only what nobody waited for is dropped.
            unwanted = events & ~_mask(waiters)
            for event in (READ, WRITE):
                if events & event and event in waiters:
                    self.make_ready(waiters.pop(event))
            if unwanted:  # nobody waits for what was reported: stop watching for it
                self._watch_only_waited(key.fileobj, key.events & ~unwanted, waiters)

    def _watch_only_waited(self, sock: Any, events: int, waiters: dict[int, Task]) -> None:
        if events:
            self._selector.modify(sock, events, waiters)
        else:
            self._selector.unregister(sock)

    def _stop_waiting_for_io(self, task: Task) -> None:
        if task.waiting_for is None or task.waiting_for[0] not in ("recv", "send"):
            return
        sock = task.waiting_for[1]
        try:
            key = self._selector.get_key(sock)
        except (KeyError, ValueError):
            return
        waiters: dict[int, Task] = key.data
        for event, waiter in list(waiters.items()):
            if waiter is task:
                del waiters[event]
        self._watch_only_waited(sock, _mask(waiters), waiters)

    # Time

    def _time_until_next_wakeup(self) -> float | None:
        if self._ready:
            return 0
        if self._sleeping:
            return max(0.0, self._sleeping[0][0] - self.clock())
        return None  # nothing but I/O can wake anyone: wait for it

    def _wake_sleepers(self) -> None:
        now = self.clock()
        while self._sleeping and self._sleeping[0][0] <= now:
            _, _, task = heapq.heappop(self._sleeping)
            self.make_ready(task)


def _mask(waiters: dict[int, Task]) -> int:
    """The selector events someone waits for: READ and WRITE are bits, so OR them."""
    mask = 0
    for event in waiters:
        mask |= event
    return mask
