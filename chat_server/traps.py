"""Traps: the only ways a task talks to the scheduler.

A task is a plain generator. Each `yield` hands the scheduler one of these requests and
suspends the task until the request is done; the value of the `yield` expression is the
answer. The functions below only build the request tuples, so these two lines mean the same:

    yield recv_wait(sock)
    yield ("recv", sock)

| trap                 | the task resumes when                       | answer        |
|----------------------|---------------------------------------------|---------------|
| ("recv", sock)       | `sock` has data to read (or EOF, or error)  | None          |
| ("send", sock)       | `sock` has room to write                    | None          |
| ("sleep", seconds)   | that much time has passed                   | None          |
| ("park", parking)    | some code calls `parking.wake_all()`        | None          |
| ("spawn", generator) | at once; the generator now runs as a task   | the new Task  |
| ("cancel", task)     | at once; `task` was stopped, its finally ran | None          |
"""

from __future__ import annotations

import socket
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chat_server.scheduler import Parking, Task

Trap = tuple[Any, ...]
TaskGenerator = Generator[Trap, Any, None]
"""What a task is: a generator that yields traps and is sent their answers."""


def recv_wait(sock: socket.socket) -> Trap:
    """Wait until `sock` is readable."""
    return ("recv", sock)


def send_wait(sock: socket.socket) -> Trap:
    """Wait until `sock` is writable."""
    return ("send", sock)


def sleep(seconds: float) -> Trap:
    """Wait for `seconds` (0 lets every other ready task run first)."""
    return ("sleep", seconds)


def park(parking: Parking) -> Trap:
    """Wait until someone calls `parking.wake_all()`."""
    return ("park", parking)


def spawn(generator: TaskGenerator, name: object = None) -> Trap:
    """Start `generator` as a new task (called `name`, if given); the answer is its Task."""
    return ("spawn", generator, name)


def cancel(task: Task) -> Trap:
    """Stop `task`: it is removed from whatever it waits for and its `finally` blocks run."""
    return ("cancel", task)
