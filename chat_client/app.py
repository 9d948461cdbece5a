"""The full-screen application: message pane, status bar and input line, in an HSplit.

    +------------------------------------------------+
    | 14:02 <alice> hi                               |  message pane (ScrollbackControl)
    | 14:02 --> bob joined                           |
    | [testroom 127.0.0.1:7777] alice | 2 users | .. |  status bar
    | [alice] _                                      |  input line (history, completion)
    +------------------------------------------------+

The input wraps instead of scrolling sideways: a long line grows it up to `MAX_INPUT_ROWS`
rows (then it scrolls), and it is one row again once the line is short, so the prompt
is always in view.

`create_app` builds it all and takes the input and output to use, so tests drive the real
application with a pipe and a dummy output. `ChatClient` is the glue: it listens to the
connection, updates the state, renders entries and acts on what the user types.
`LiveStats` (`/stats`, `/stats on|off`) sends the requests and says which STATS replies
the user asked for; only those become panels.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from prompt_toolkit.application import Application
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys
from prompt_toolkit.layout import Dimension, HSplit, Layout, Window
from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
from prompt_toolkit.layout.processors import BeforeInput
from prompt_toolkit.output import Output

from protocol import Event, Hello, Stats, nick_key

from chat_client.commands import (
    COMMAND_ARGUMENTS, command_names, handle_typed_text, help_lines,
)
from chat_client.completion import ChatCompleter, TabCycler
from chat_client.connection import Connection, ConnectionSettings
from chat_client.live_stats import LiveStats
from chat_client.scrollback import ScrollbackControl
from chat_client.state import ClientState, ConnectionState
from chat_client.view import STYLE, EntryKind, clean, render_event, render_notice, render_status

Clock = Callable[[], datetime]

MAX_INPUT_ROWS = 5
"""The most rows the input line grows to for a long line; beyond that it scrolls."""


class ChatClient:
    """One running client: the application, its state and its connection, wired together."""

    def __init__(self, host: str, port: int, nick: str, *, input: Input | None = None,
                 output: Output | None = None, settings: ConnectionSettings | None = None,
                 clock: Clock = datetime.now) -> None:
        settings = settings or ConnectionSettings()
        self.connection = Connection(host, port, nick, self, settings)
        self.state = ClientState(address=self.connection.address, nick=nick)
        self.scrollback = ScrollbackControl(self.state)
        self.input_buffer = Buffer(name="input", multiline=False, history=InMemoryHistory(),
                                   accept_handler=self._accept)
        self._tab = TabCycler(ChatCompleter(self._others_in_room, command_names(),
                                            COMMAND_ARGUMENTS,
                                            lambda: self.state.correspondents))
        self.status_control = FormattedTextControl(self._status)
        self._clock = clock
        self._quitting = False
        self.application: Application[None] = Application(
            layout=self._layout(), key_bindings=self._key_bindings(), style=STYLE,
            full_screen=True, input=input, output=output,
        )
        self.live_stats = LiveStats(self.state, self.connection.send_line,
                                    self.application.create_background_task,
                                    settings.stats_interval)

    async def run_async(self) -> None:
        """Run until the user quits; the connection runs as a task of the application."""
        await self.application.run_async(pre_run=self._start_network)

    def _start_network(self) -> None:
        # A background task of the application is cancelled when the application ends,
        # so no connection outlives the screen.
        self.application.create_background_task(self.connection.run())

    # Layout and keys

    def _layout(self) -> Layout:
        prompt = BeforeInput(lambda: [("class:prompt", f"[{clean(self.state.nick)}] ")])
        # Wrapped, never scrolled sideways: a sideways scroll outlived the long line that
        # caused it and kept the prompt out of view.
        self.input_window = Window(BufferControl(self.input_buffer, input_processors=[prompt]),
                                   height=Dimension(min=1, max=MAX_INPUT_ROWS),
                                   wrap_lines=True, dont_extend_height=True)
        body = HSplit([
            Window(self.scrollback, wrap_lines=False),
            Window(self.status_control, height=1, style="class:status"),
            self.input_window,
        ])
        return Layout(body, focused_element=self.input_window)

    def _key_bindings(self) -> KeyBindings:
        bindings = KeyBindings()
        input_is_empty = Condition(lambda: not self.input_buffer.text)

        @bindings.add("c-c")
        def _clear_or_quit(event: KeyPressEvent) -> None:
            # As in a shell: a half-typed line is thrown away first; an empty one quits.
            if self.input_buffer.text:
                self.input_buffer.reset()
            else:
                self.quit("quit")

        @bindings.add(Keys.SIGINT)  # a real signal (kill -INT) means it: quit at once
        @bindings.add("c-d", filter=input_is_empty)
        def _quit(event: KeyPressEvent) -> None:
            self.quit("quit")

        @bindings.add("pageup")
        def _page_up(event: KeyPressEvent) -> None:
            self.scrollback.page_up()

        @bindings.add("pagedown")
        def _page_down(event: KeyPressEvent) -> None:
            self.scrollback.page_down()

        @bindings.add("c-end")
        def _bottom(event: KeyPressEvent) -> None:
            self.state.scroll_to_bottom()

        @bindings.add("tab")
        def _complete(event: KeyPressEvent) -> None:
            self._tab.complete(self.input_buffer)

        @bindings.add("s-tab")
        def _complete_back(event: KeyPressEvent) -> None:
            self._tab.complete(self.input_buffer, step=-1)

        @bindings.add(Keys.BracketedPaste)
        def _paste(event: KeyPressEvent) -> None:
            self._paste(event.data)

        return bindings

    def _status(self) -> StyleAndTextTuples:
        # Fitted to the terminal's real width: a wide one shows everything.
        return render_status(self.state, self.application.output.get_size().columns)

    def _others_in_room(self) -> list[str]:
        # Cleaned like everything from the network: a completion lands in the input line.
        return [clean(user) for user in self.state.users if user != self.state.nick]

    # What the user types (commands.InputActions)

    def _accept(self, buffer: Buffer) -> bool:
        handle_typed_text(buffer.text, self)
        self.state.scroll_to_bottom()  # you want to see what you just said
        return False  # clear the line; prompt_toolkit keeps it in the history

    def _paste(self, data: str) -> None:
        """A paste of several lines sends each complete line; a last, unfinished one waits."""
        text = self.input_buffer.document.text_before_cursor + data.replace("\r\n", "\n")
        text = text.replace("\r", "\n") + self.input_buffer.document.text_after_cursor
        if "\n" not in text:
            self.input_buffer.insert_text(data)
            return
        complete, _, unfinished = text.rpartition("\n")
        handle_typed_text(complete, self)
        self.input_buffer.reset()
        self.input_buffer.insert_text(unfinished)
        self.state.scroll_to_bottom()

    def send_line(self, line: str) -> None:
        """Send a line to the server, or say why it cannot be sent now."""
        if not self.connection.send_line(line):
            self.complain(f"not connected ({self.state.connection.value}): not sent")

    def clear(self) -> None:
        """`/clear`: empty the message pane."""
        self.state.clear()

    def show_help(self) -> None:
        """`/help`: list the client's and the server's commands, and the keys."""
        for line in help_lines():
            self._add_notice(line, EntryKind.INFO)

    def request_stats(self) -> None:
        """`/stats`: ask the server for its figures; the reply is shown as a panel."""
        if not self.live_stats.request():
            self.complain(f"not connected ({self.state.connection.value}): not sent")

    def set_live_stats(self, on: bool) -> None:
        """`/stats on|off`: start or stop the live task count in the status bar."""
        every = f"{self.live_stats.interval:g}s"
        if on:
            changed = self.live_stats.turn_on()
            self._add_notice(f"live figures {'on' if changed else 'already on'}: the "
                             f"status bar shows the server's tasks, asked every {every}")
        else:
            changed = self.live_stats.turn_off()
            self._add_notice("live figures off" if changed else "live figures were off")

    def ignore(self, nick: str | None) -> None:
        """`/ignore NICK`: hide what NICK says; `/ignore` alone: list who is ignored."""
        if nick is None:
            ignored = ", ".join(map(clean, self.state.ignored))
            self._add_notice(f"ignoring {ignored}" if ignored else "ignoring nobody")
        elif nick_key(nick) == nick_key(self.state.nick):
            self.complain("you cannot ignore yourself")
        elif self.state.ignore(nick):
            self._add_notice(f"ignoring {nick}: their messages, actions and private messages "
                             f"are not shown (/unignore {nick} to see them again)")
        else:
            self._add_notice(f"already ignoring {nick}")

    def unignore(self, nick: str) -> None:
        """`/unignore NICK`: show what NICK says again."""
        changed = self.state.unignore(nick)
        self._add_notice(f"no longer ignoring {nick}" if changed else f"{nick} was not ignored")

    def reply(self, text: str) -> None:
        """`/reply TEXT`: a private message to whoever sent you the last one."""
        sender = self.state.last_private_sender
        if sender is None:
            self.complain("nobody has sent you a private message yet: nothing to /reply to")
        else:
            self.send_line(f"/msg {sender} {text}")

    def quit(self, reason: str) -> None:
        """Leave the room (if in it) and end the application; safe to call twice."""
        if self._quitting:
            return
        self._quitting = True
        self.application.create_background_task(self._quit(reason))

    async def _quit(self, reason: str) -> None:
        await self.connection.quit(reason)
        if self.application.is_running:
            self.application.exit()

    def complain(self, text: str) -> None:
        """Tell the user a line was not sent."""
        self._add_notice(text, EntryKind.ERROR)

    # What the connection reports (connection.ConnectionListener)

    def connection_changed(self, state: ConnectionState, detail: str) -> None:
        """Show the connection's state in the status bar (and joins in the pane)."""
        was_up = self.state.connection.is_up
        self.state.set_connection(state, detail)
        self.live_stats.connection_changed(state.is_up)
        if state is ConnectionState.RECONNECTED and not was_up:  # not a stall that ended
            self._add_notice(f"reconnected: back in the room as {self.connection.nick}")
        self.application.invalidate()

    def event_received(self, event: Event) -> None:
        """Show an event and keep the state up to date; ring the bell on a mention."""
        if isinstance(event, Hello):
            self.state.server_name = event.server
        if isinstance(event, Stats) and not self.live_stats.reply_received(event):
            self.application.invalidate()  # a poll's reply: the status bar, not the pane
            return
        if self.state.hides(event):  # /ignore: not shown, no bell, not a correspondent
            return
        entry = render_event(event, self.state.nick, self._clock())
        self.state.apply_event(event)
        if entry is not None:
            self.state.add_entry(entry)
            if entry.mentions_me:
                self.application.output.bell()
        self.application.invalidate()

    def notice(self, text: str, error: bool = False) -> None:
        """Show something the connection has to say."""
        self._add_notice(text, EntryKind.ERROR if error else EntryKind.CLIENT)

    def _add_notice(self, text: str, kind: EntryKind = EntryKind.CLIENT) -> None:
        self.state.add_entry(render_notice(text, self._clock(), kind))
        self.application.invalidate()


def create_app(host: str, port: int, nick: str, *, input: Input | None = None,
               output: Output | None = None, settings: ConnectionSettings | None = None,
               clock: Clock = datetime.now) -> ChatClient:
    """Build the client for `host:port` as `nick`; `input`/`output` default to the terminal."""
    return ChatClient(host, port, nick, input=input, output=output, settings=settings,
                      clock=clock)
