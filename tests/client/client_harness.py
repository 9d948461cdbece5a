"""Driving the real client application without a terminal.

The application runs on an asyncio loop with prompt_toolkit's pipe input (keys are typed
into it) and an output that records every byte the renderer writes. Waits poll a condition
against a deadline; blocking socket reads of the test's own raw clients run in a thread,
so the client's loop keeps going meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from prompt_toolkit.formatted_text import StyleAndTextTuples, to_formatted_text
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.layout.controls import FormattedTextControl
from prompt_toolkit.data_structures import Size
from prompt_toolkit.output import DummyOutput

from chat_client.app import ChatClient, create_app
from chat_client.connection import ConnectionSettings
from chat_client.state import ConnectionState

WAIT = 10.0
T = TypeVar("T")

FAST = ConnectionSettings(connect_timeout=2.0, first_retry_delay=0.1, max_retry_delay=0.5,
                          keepalive_interval=30.0, keepalive_timeout=10.0, quit_timeout=2.0)
"""Short retry delays, so reconnection tests take a fraction of a second."""

PAGE_UP, PAGE_DOWN, UP, DOWN = "\x1b[5~", "\x1b[6~", "\x1b[A", "\x1b[B"
TAB, ENTER, CTRL_C, CTRL_D = "\t", "\r", "\x03", "\x04"


def paste(text: str) -> str:
    """The bytes a terminal sends for a bracketed paste of `text`."""
    return f"\x1b[200~{text}\x1b[201~"


class RecordingOutput(DummyOutput):
    """A dummy output that keeps everything written to the terminal, and counts bells.

    Its size is `columns` x `rows` and can be changed while the client runs (`resize`).
    The default is 100 columns: with the list of people beside it, the message pane is
    still over 80 columns wide, so a test's line reads on one row.
    """

    def __init__(self, columns: int = 100, rows: int = 40) -> None:
        self.written: list[str] = []
        self.bells = 0
        self.size = Size(rows=rows, columns=columns)

    def get_size(self) -> Size:
        """The terminal's size, as the test set it."""
        return self.size

    def write(self, data: str) -> None:
        """Record text the renderer writes."""
        self.written.append(data)

    def write_raw(self, data: str) -> None:
        """Record raw output (escape sequences a renderer would send as they are)."""
        self.written.append(data)

    def bell(self) -> None:
        """Count a bell instead of ringing it."""
        self.bells += 1

    @property
    def text(self) -> str:
        """Everything written so far."""
        return "".join(self.written)


@dataclass
class RunningClient:
    """A client application running in the test's loop, with its keyboard and screen."""

    client: ChatClient
    keyboard: PipeInput
    output: RecordingOutput
    task: asyncio.Task[None]

    def type(self, keys: str) -> None:
        """Type `keys` (text, or escape sequences such as `PAGE_UP`)."""
        self.keyboard.send_text(keys)

    @property
    def pane(self) -> str:
        """The message pane as it is drawn now, one line per screen row."""
        return "\n".join(self.client.scrollback.visible_text())

    @property
    def status(self) -> str:
        """The status bar, as the window under the pane draws it."""
        return "".join(text for _, text in fragment_list(self.client.status_control))

    @property
    def scrollback(self) -> list[str]:
        """Every entry in the scrollback, as plain text."""
        return [entry.text for entry in self.client.state.entries]

    @property
    def screen(self) -> list[str]:
        """The whole terminal as last drawn, one string per row (trailing blanks cut)."""
        drawn = self.client.application.renderer.last_rendered_screen
        if drawn is None:
            return []
        size = self.output.size
        return ["".join(drawn.data_buffer[row][column].char for column in range(size.columns))
                .rstrip() for row in range(size.rows)]

    def resize(self, columns: int, rows: int | None = None) -> None:
        """Make the terminal `columns` wide (and `rows` high), as a window resize does."""
        self.output.size = Size(rows=rows or self.output.size.rows, columns=columns)
        self.client.application.invalidate()

    async def wait_for_screen(self, condition: Callable[[list[str]], bool], what: str,
                              timeout: float = WAIT) -> list[str]:
        """Wait until the drawn terminal satisfies `condition`; return it."""
        try:
            await wait_until(lambda: condition(self.screen), what, timeout)
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}; the screen:\n" + "\n".join(self.screen))
        return self.screen

    def record_statuses(self) -> list[str]:
        """Every connection state the client shows from now on, worded as the status bar does."""
        shown: list[str] = []
        changed = self.client.connection_changed

        def record(state: ConnectionState, detail: str) -> None:
            shown.append(f"{state.value} {detail}".strip())
            changed(state, detail)
        self.client.connection_changed = record  # type: ignore[method-assign]
        return shown

    @property
    def input_text(self) -> str:
        """What is in the input line."""
        return self.client.input_buffer.text

    async def wait_for_input_history(self, timeout: float = WAIT) -> None:
        """Wait until Up has the input line's history to walk.

        prompt_toolkit loads that history again after every line sent, in a task of its
        own started at the next repaint: an Up pressed before the task ran finds nothing
        to walk and is lost. A person is never that quick; a test is, on a busy machine.
        """
        buffer = self.client.input_buffer

        def loaded() -> bool:
            task = buffer._load_history_task  # prompt_toolkit's: no public way to ask
            return task is not None and task.done()

        await wait_until(loaded, "the input history loaded", timeout)

    async def wait_for_pane(self, text: str, timeout: float = WAIT) -> None:
        """Wait until `text` is visible in the message pane."""
        await wait_until(lambda: text in self.pane, f"{text!r} in the pane:\n{self.pane}",
                         timeout)

    async def wait_until_joined(self, timeout: float = WAIT) -> None:
        """Wait until the client is in the room."""
        state = self.client.state
        await wait_until(lambda: state.connection.is_up, "the client to join", timeout)


def fragment_list(control: FormattedTextControl) -> StyleAndTextTuples:
    """What a formatted-text control shows now."""
    return to_formatted_text(control.text)


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll `condition` until it holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def in_thread(function: Callable[..., T], *args: object) -> Awaitable[T]:
    """Run a blocking call (a raw client's read) without stopping the client's loop."""
    return asyncio.to_thread(function, *args)


@asynccontextmanager
async def running_client(port: int, nick: str, *, host: str = "127.0.0.1",
                         settings: ConnectionSettings = FAST,
                         output: RecordingOutput | None = None,
                         history_path: Path | None = None,
                         password: str | None = None) -> AsyncIterator[RunningClient]:
    """Run the real application against `host:port`; it is ended (quietly) on the way out.

    `history_path` keeps the input history in that file (default: for this run only);
    `password` is the server's, as `--password` gives it.
    """
    with create_pipe_input() as keyboard:
        output = output or RecordingOutput()
        client = create_app(host, port, nick, input=keyboard, output=output, settings=settings,
                            history_path=history_path, password=password)
        task = asyncio.create_task(client.run_async())
        running = RunningClient(client, keyboard, output, task)
        try:
            await wait_until(lambda: client.application.is_running or task.done(),
                             "the application to start")
            yield running
        finally:
            if not task.done() and client.application.is_running:
                client.application.exit()
            await asyncio.wait_for(task, WAIT)  # an application that does not end fails


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run an async test scenario to its end."""
    asyncio.run(scenario())
