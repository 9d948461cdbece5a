"""Several observers on one scheduler: `attach` and `detach`, and the group that fans out.

The scheduler has one `observer` slot, and it stays `None` while nobody watches, so the
loop's cost then is one `is None` check per point. `--trace`, `--trace-file` and the
live /scheduler page may each want to watch, and the page comes and goes: `attach` puts
an observer in the slot, or a `ObserverGroup` of all of them when there are several, and
`detach` takes it out again, leaving `None` behind when the last one goes.
"""

from __future__ import annotations

from chat_server.scheduler import Scheduler, SchedulerObserver, Task


class ObserverGroup:
    """Tells each of its observers every point, in the order they were attached."""

    def __init__(self, observers: list[SchedulerObserver]) -> None:
        self.observers = observers

    def spawned(self, task: Task) -> None:
        for observer in self.observers:
            observer.spawned(task)

    def cancelled(self, task: Task) -> None:
        for observer in self.observers:
            observer.cancelled(task)

    def running(self, task: Task) -> None:
        for observer in self.observers:
            observer.running(task)

    def stepped(self, task: Task) -> None:
        for observer in self.observers:
            observer.stepped(task)

    def woken(self, task: Task) -> None:
        for observer in self.observers:
            observer.woken(task)

    def selecting(self) -> None:
        for observer in self.observers:
            observer.selecting()

    def selected(self, ready: int) -> None:
        for observer in self.observers:
            observer.selected(ready)

    def moved(self, task: Task, verb: str, count: int) -> None:
        for observer in self.observers:
            observer.moved(task, verb, count)


def attach(scheduler: Scheduler, observer: SchedulerObserver) -> None:
    """Let `observer` watch `scheduler` too (beside any observer already there)."""
    current = scheduler.observer
    if current is None:
        scheduler.observer = observer
    elif isinstance(current, ObserverGroup):
        # A new list, not append: an observer may attach or detach while the group is
        # telling the old list a point (the trace file stops itself that way).
        current.observers = [*current.observers, observer]
    else:
        scheduler.observer = ObserverGroup([current, observer])


def detach(scheduler: Scheduler, observer: SchedulerObserver) -> None:
    """Stop `observer` watching; the slot is `None` again once nobody watches."""
    current = scheduler.observer
    if current is observer:
        scheduler.observer = None
    elif isinstance(current, ObserverGroup) and observer in current.observers:
        current.observers = [each for each in current.observers if each is not observer]
        if len(current.observers) == 1:
            scheduler.observer = current.observers[0]


def observers_of(scheduler: Scheduler) -> list[SchedulerObserver]:
    """Every observer watching `scheduler` now (an empty list when nobody does)."""
    current = scheduler.observer
    if current is None:
        return []
    return list(current.observers) if isinstance(current, ObserverGroup) else [current]
