"""Parking: where tasks wait for plain code (not a socket, not a clock) to wake them.

A writer parks while its outbox is empty, and whoever puts bytes in the outbox wakes it;
the broadcaster parks while nothing is queued for the rooms. The code that wakes a
parking does not need the scheduler: each parked task remembers the scheduler that will
run it, so chat logic and outboxes import this module and nothing else of the run loop.
"""

from __future__ import annotations

from typing import Protocol


class Waker(Protocol):
    """What a parking needs of the scheduler that parked a task there."""

    def make_ready(self, task: object) -> None:
        """Let `task` run again."""


class Parking:
    """A place where tasks wait (`yield park(parking)`) until some code calls `wake_all()`."""

    __slots__ = ("parked",)

    def __init__(self) -> None:
        # The tasks waiting here, each with the scheduler that will run it. A plain list,
        # so `if parking.parked:` costs nothing on the hot path (one check per delivery).
        self.parked: list[tuple[Waker, object]] = []

    def __len__(self) -> int:
        return len(self.parked)

    def wake_all(self) -> None:
        """Make every task parked here ready to run."""
        parked, self.parked = self.parked, []
        for scheduler, task in parked:
            scheduler.make_ready(task)
