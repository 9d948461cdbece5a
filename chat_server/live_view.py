"""The scheduler, live: what the /scheduler page shows, while someone watches it.

A browser on the page opens a WebSocket on `/scheduler/live`; its connection says
`WatchScheduler` once, and `CommandDoor` hands that to `LiveView.add` instead of the
directory. The rules it keeps:

- It costs nothing while nobody watches. The first viewer attaches a `LiveRecorder` to
  the scheduler (observers.py) and starts one task, `live-view`; when the last viewer's
  session closes, the recorder is detached at once, and the task ends at its next wake-up.
- The recorder only records: each decision goes into a ring buffer (`RING` entries), so
  a busy loop cannot make it hold more.
- The `live-view` task sleeps `INTERVAL` seconds between snapshots: the task counts,
  loop iterations per second, each client's outbox, and the decisions since the last
  snapshot (at most `DECISIONS_PER_SNAPSHOT`; the number left out is said). A snapshot
  is one JSON text message, encoded once and queued in every viewer's outbox.
- A viewer is a session like any other: one that stops reading is cut off by the outbox
  limit, and there are at most `MAX_VIEWERS`; one more is told so and closed.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable, Iterable

from chat_server.directory import Directory
from chat_server.observers import attach, detach
from chat_server.scheduler import Scheduler, Task
from chat_server.session import Session
from chat_server.tasks import cut_off_if_too_slow
from chat_server.trace import _WAITING_FOR, _WHY_READY, describe_moved
from chat_server.traps import TaskGenerator, sleep
from protocol.web import WatchScheduler
from protocol.websocket import text_frames

activity = logging.getLogger("chat_server.activity")

MAX_VIEWERS = 20
INTERVAL = 0.25  # seconds between snapshots: a few a second is enough to see things move
RING = 1024  # decisions kept between two snapshots; older ones are dropped
DECISIONS_PER_SNAPSHOT = 80  # what a person can read scrolling by at four a second
MAX_OUTBOXES = 40  # bars on the page: the fullest outboxes first

Decision = tuple[float, str, str, str]  # (seconds since start, verb, task, detail)


class LiveRecorder:
    """An observer that records each decision in a ring buffer, and does nothing else."""

    def __init__(self, clock: Callable[[], float], started: float) -> None:
        self.decisions: deque[Decision] = deque(maxlen=RING)
        self.recorded = 0  # ever, so a reader can tell how many it missed
        self._clock = clock
        self._started = started

    def spawned(self, task: Task) -> None:
        self._note("spawn", task)

    def cancelled(self, task: Task) -> None:
        self._note("cancel", task)

    def running(self, task: Task) -> None:
        self._note("run", task)

    def stepped(self, task: Task) -> None:
        if task.done:
            self._note("done", task)
        elif task.waiting_for is not None:
            trap, argument = task.waiting_for
            self._note("wait", task, _WAITING_FOR[trap].format(argument))

    def woken(self, task: Task) -> None:
        self._note("wake", task, _WHY_READY[task.waiting_for[0]])  # type: ignore[index]

    def selecting(self) -> None:
        pass  # the page shows loop iterations a second instead of every poll

    def selected(self, ready: int) -> None:
        if ready:
            self._note("select", None, f"{ready} ready")

    def moved(self, task: Task, verb: str, count: int) -> None:
        self._note(verb, task, describe_moved(verb, count))

    def _note(self, verb: str, task: Task | None, detail: str = "") -> None:
        when = round(self._clock() - self._started, 3)
        self.decisions.append((when, verb, "" if task is None else str(task.name), detail))
        self.recorded += 1


class LiveView:
    """The viewers of the /scheduler page, the recorder while there are any, and the
    task that sends them snapshots."""

    def __init__(self, scheduler: Scheduler, directory: Directory,
                 sessions: Callable[[], Iterable[Session]], outbox_limit: int,
                 refusal: str | None = None) -> None:
        """`refusal`: why nobody may watch on this server (None: anyone may)."""
        self.viewers: set[Session] = set()
        self._scheduler = scheduler
        self._directory = directory
        self._sessions = sessions
        self._outbox_limit = outbox_limit
        self._refusal = refusal
        self._started = scheduler.clock()
        self._recorder: LiveRecorder | None = None
        self._task: Task | None = None
        self._last = (self._started, scheduler.loop_iterations)  # (when, loop iterations)
        self._seen = 0  # decisions recorded up to the last snapshot

    def add(self, session: Session) -> None:
        """Make `session` a viewer (or turn it away, saying why)."""
        refusal = self._refusal or (
            f"too many people are watching the scheduler (at most {MAX_VIEWERS})"
            if len(self.viewers) >= MAX_VIEWERS else None)
        if refusal is not None:
            self._directory.say_goodbye(session, refusal)
            return
        self.viewers.add(session)
        if self._recorder is None:
            self._recorder = LiveRecorder(self._scheduler.clock, self._started)
            self._seen = 0
            self._last = (self._scheduler.clock(), self._scheduler.loop_iterations)
            attach(self._scheduler, self._recorder)
            activity.info("scheduler page: %s watches; recording the loop", session.address)
        if self._task is None:
            self._task = self._scheduler.spawn(self._send_snapshots(), name="live-view")

    def forget(self, session: Session) -> None:
        """`session` closed: it watches no more; the last one to go detaches the recorder."""
        if session not in self.viewers:
            return
        self.viewers.discard(session)
        if not self.viewers and self._recorder is not None:
            detach(self._scheduler, self._recorder)
            self._recorder = None
            activity.info("scheduler page: nobody watches; the loop is unobserved again")

    def watching(self, session: Session) -> bool:
        """True if `session` is a viewer of the page (it never chooses a nickname)."""
        return session in self.viewers

    def _send_snapshots(self) -> TaskGenerator:
        try:
            while self.viewers:
                self._send(text_frames(self.snapshot().encode()))
                yield sleep(INTERVAL)
        finally:
            self._task = None

    def _send(self, frames: bytes) -> None:
        for viewer in list(self.viewers):
            if viewer.hanging_up:
                continue
            viewer.outbox.put(frames)  # the same bytes for every viewer
            cut_off_if_too_slow(self._directory, viewer)  # a viewer that never reads

    def snapshot(self) -> str:
        """What the page shows now, as one line of JSON (no newline inside)."""
        now, loops = self._scheduler.clock(), self._scheduler.loop_iterations
        since, loops_then = self._last
        self._last = (now, loops)
        decisions, left_out = self._new_decisions()
        return json.dumps({
            "uptime": round(now - self._started, 3),
            "counts": self._scheduler.task_counts(),
            "loops_per_second": round((loops - loops_then) / max(now - since, 1e-6), 1),
            "loop_iterations": loops,
            "viewers": len(self.viewers),
            "outbox_limit": self._outbox_limit,
            "outboxes": self._outboxes(),
            "decisions": decisions,
            "left_out": left_out,
        }, separators=(",", ":"))

    def _outboxes(self) -> list[dict[str, object]]:
        owed = sorted(((session.outbox.size, str(session), session.outbox.stalled)
                       for session in self._sessions() if session not in self.viewers),
                      key=lambda each: (-each[0], each[1]))
        return [{"name": name, "bytes": size, "stalled": stalled}
                for size, name, stalled in owed[:MAX_OUTBOXES]]

    def _new_decisions(self) -> tuple[list[Decision], int]:
        """The decisions recorded since the last snapshot (the latest ones, if too many)."""
        recorder = self._recorder
        if recorder is None:
            return [], 0
        new, self._seen = recorder.recorded - self._seen, recorder.recorded
        shown = min(new, len(recorder.decisions), DECISIONS_PER_SNAPSHOT)
        ring = recorder.decisions
        return [ring[index] for index in range(len(ring) - shown, len(ring))], new - shown


class CommandDoor:
    """Where readers hand their commands: a viewer's `WatchScheduler` to the live view,
    everything else to the directory, which never sees the page's one request."""

    def __init__(self, directory: Directory, live_view: LiveView) -> None:
        self._directory = directory
        self._live_view = live_view

    def handle(self, session: Session, command: object) -> None:
        """Act on one command from `session`."""
        if type(command) is WatchScheduler:
            self._live_view.add(session)
        else:
            self._directory.handle(session, command)  # type: ignore[arg-type]

    def connection_lost(self, session: Session) -> None:
        """The connection ended or broke (as `Directory.connection_lost`)."""
        self._directory.connection_lost(session)
