"""The full-screen application: topic bar, message pane and people, status bar, input line.

    +------------------------------------------------+
    | #games: tonight at 8                           |  topic bar (the window's room)
    | 14:02 <alice> hi                  | @alice     |  message pane (ScrollbackControl)
    | 14:02 --> bob joined              |  bob       |  | the people in the room (F7)
    | [testroom ...] alice | 2:#games | ... [Act: 1] |  status bar
    | [alice] _                                      |  input line (history, completion)
    +------------------------------------------------+

Each room has a window (see `windows.py`); Alt-1..9 and `/window N` switch. What you type
goes to the room of the window shown: with `/in ROOM` when the server's current room is
another (switching windows sends nothing, so it is instant and never races the server).

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
from prompt_toolkit.input import Input
from prompt_toolkit.layout import ConditionalContainer, Dimension, HSplit, Layout, VSplit, Window
from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
from prompt_toolkit.layout.processors import BeforeInput, ConditionalProcessor, PasswordProcessor
from prompt_toolkit.output import Output

from pathlib import Path

from protocol import Event, Hello, RoomEvent, Stats, nick_key, room_key

from chat_client.bars import (
    NICKLIST_MIN_COLUMNS, NICKLIST_WIDTH, render_nicklist, render_status, render_topic_bar,
)
from chat_client.catch_up import older_line, rejoin_lines
from chat_client.commands import (
    COMMAND_ARGUMENTS, NICK_COMMANDS, ROOM_COMMANDS, command_names, handle_typed_text,
    help_lines, is_secret,
)
from chat_client.completion import ChatCompleter, TabCycler
from chat_client.connection import Connection, ConnectionSettings
from chat_client.input_history import input_history
from chat_client.keys import key_bindings
from chat_client.live_stats import LiveStats
from chat_client.routing import EventRouter
from chat_client.scrollback import ScrollbackControl
from chat_client.state import ClientState, ConnectionState
from chat_client.view import STYLE, EntryKind, clean, render_notice

Clock = Callable[[], datetime]

MAX_INPUT_ROWS = 5
"""The most rows the input line grows to for a long line; beyond that it scrolls."""


class ChatClient:
    """One running client: the application, its state and its connection, wired together."""

    def __init__(self, host: str, port: int, nick: str, *, input: Input | None = None,
                 output: Output | None = None, settings: ConnectionSettings | None = None,
                 clock: Clock = datetime.now, history_path: Path | None = None,
                 password: str | None = None) -> None:
        settings = settings or ConnectionSettings()
        self.connection = Connection(host, port, nick, self, settings, password)
        self.state = ClientState(address=self.connection.address, nick=nick)
        self.scrollback = ScrollbackControl(self.state)
        self.input_buffer = Buffer(name="input", multiline=False,
                                   history=input_history(history_path),
                                   accept_handler=self._accept)
        self.tab = TabCycler(ChatCompleter(
            self._others_in_room, command_names(), COMMAND_ARGUMENTS,
            lambda: self.state.correspondents, self.state.known_rooms, ROOM_COMMANDS,
            NICK_COMMANDS, self._others_anywhere))
        self.status_control = FormattedTextControl(self._status)
        self.topic_control = FormattedTextControl(lambda: render_topic_bar(self.state))
        self.nicklist_control = FormattedTextControl(lambda: render_nicklist(self.state))
        self.nicklist_wanted = True  # F7 hides it; it also hides itself when too narrow
        self._clock = clock
        self._quitting = False
        self.router = EventRouter(self.state, clock, self.connection.send_line, self._bell)
        self.application: Application[None] = Application(
            layout=self._layout(), key_bindings=key_bindings(self), style=STYLE,
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
        prompt = BeforeInput(lambda: [("class:prompt", f"[{self._prompt()}] ")])
        # While the server's password is asked for, what is typed shows as stars.
        hidden = ConditionalProcessor(PasswordProcessor(), Condition(self._asking_password))
        # Wrapped, never scrolled sideways: a sideways scroll outlived the long line that
        # caused it and kept the prompt out of view.
        self.input_window = Window(BufferControl(self.input_buffer,
                                                 input_processors=[hidden, prompt]),
                                   height=Dimension(min=1, max=MAX_INPUT_ROWS),
                                   wrap_lines=True, dont_extend_height=True)
        nicklist = ConditionalContainer(
            VSplit([Window(width=1, char="│", style="class:nicklist"),
                    Window(self.nicklist_control, width=NICKLIST_WIDTH, wrap_lines=False)]),
            filter=Condition(self._nicklist_shown))
        body = HSplit([
            Window(self.topic_control, height=1, style="class:topic-bar"),
            VSplit([Window(self.scrollback, wrap_lines=False), nicklist]),
            Window(self.status_control, height=1, style="class:status"),
            self.input_window,
        ])
        return Layout(body, focused_element=self.input_window)

    def _nicklist_shown(self) -> bool:
        """Beside the pane when wanted, in a room, and the terminal is wide enough."""
        columns = self.application.output.get_size().columns
        return (self.nicklist_wanted and self.state.window.room is not None
                and columns >= NICKLIST_MIN_COLUMNS)

    def load_older(self) -> None:
        """PageUp at the top of a room's window: ask the server for the page before it."""
        window = self.state.window
        oldest = window.oldest_id
        if window.room is None or oldest is None or oldest <= 1 or window.loading_older \
                or window.history_exhausted:
            return
        if self.connection.send_line(older_line(window.room, oldest)):
            window.loading_older = True

    def _status(self) -> StyleAndTextTuples:
        # Fitted to the terminal's real width: a wide one shows everything.
        return render_status(self.state, self.application.output.get_size().columns)

    def _others_in_room(self) -> list[str]:
        # Cleaned like everything from the network: a completion lands in the input line.
        return [clean(user) for user in self.state.users if user != self.state.nick]

    def _others_anywhere(self) -> list[str]:
        """The people of all your rooms but you (for an operator's `/mute`, `/ban`)."""
        return [clean(user) for window in self.state.windows for user in window.users
                if user != self.state.nick]

    # What the user types (commands.InputActions)

    def _prompt(self) -> str:
        return "password" if self._asking_password() else clean(self.state.nick)

    def _asking_password(self) -> bool:
        # A line starting with `/` is still a command (`/quit`), even while asked.
        return self.connection.access.asking and not self.input_buffer.text.startswith("/")

    def _accept(self, buffer: Buffer) -> bool:
        text, asked = buffer.text, self._asking_password()
        if asked:
            self.give_password(text.strip())
        else:
            handle_typed_text(text, self)
        if asked or is_secret(text):
            buffer.text = ""  # a password or operator token is never kept in the history
        self.state.scroll_to_bottom()  # you want to see what you just said
        return False  # clear the line; prompt_toolkit keeps it in the history

    def paste(self, data: str) -> None:
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

    def send_in_room(self, line: str) -> None:
        """A line that acts on a room: for the window's room, with `/in` if not current."""
        room, current = self.state.window.room, self.state.server_current
        if room is not None and current is not None and room_key(room) != room_key(current):
            line = f"/in {room} {line}"
        self.state.spoken_in = room or current  # where an ERROR READ_ONLY would be about
        self.send_line(line)

    def give_password(self, secret: str) -> None:
        """The server's password, typed when asked or as `/pass SECRET`."""
        if not secret:
            self.complain("the password is empty: type it and press Enter")
            return
        self.connection.give_password(secret)
        self._add_notice("password given")

    def join_room(self, room: str, line: str) -> None:
        """`/join ROOM`: sent as typed; its window is shown once the server has joined it."""
        self.router.user_joins(room)
        self.send_line(line)

    def list_rooms(self) -> None:
        """`/rooms`: ask for the list and show it."""
        if not self.router.list_rooms(asked_by_user=True):
            self.complain(f"not connected ({self.state.connection.value}): not sent")

    def show_window(self, number: int) -> None:
        """`/window N`, Alt-N: show window N."""
        if not self.state.show_window(number):
            self.complain(f"there is no window {number} (windows 1-{len(self.state.windows)})")
        self.application.invalidate()

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
        if not state.is_up:
            self.router.connection_lost()
        if state is ConnectionState.RECONNECTED and not was_up:  # not a stall that ended
            self._rejoin()
        self.application.invalidate()

    def _rejoin(self) -> None:
        """Back after a loss: rejoin every room, current last, and fetch what was missed."""
        rooms = self.state.rooms
        if self.connection.version < 2 or not rooms:
            self._add_notice(f"reconnected: back in the room as {self.connection.nick}")
            return
        for window in self.state.windows:
            window.missed_after = window.last_id  # what comes above it was missed
        last_ids = {window.room: window.last_id for window in self.state.windows
                    if window.room is not None}
        for line in rejoin_lines(rooms, self.state.server_current, last_ids):
            self.connection.send_line(line)
        self._add_notice(f"reconnected as {self.connection.nick}: rejoining "
                         f"{', '.join(map(clean, rooms))}; missed lines are marked !")

    def event_received(self, event: Event | RoomEvent) -> None:
        """Show an event where it belongs and keep the state up to date."""
        if isinstance(event, Hello):
            self.state.server_name = event.server
        if isinstance(event, Stats) and not self.live_stats.reply_received(event):
            self.application.invalidate()  # a poll's reply: the status bar, not the pane
            return
        self.router.route(event)
        self.application.invalidate()

    def _bell(self) -> None:
        self.application.output.bell()

    def notice(self, text: str, error: bool = False) -> None:
        """Show something the connection has to say."""
        self._add_notice(text, EntryKind.ERROR if error else EntryKind.CLIENT)

    def _add_notice(self, text: str, kind: EntryKind = EntryKind.CLIENT) -> None:
        self.state.add_entry(render_notice(text, self._clock(), kind))
        self.application.invalidate()


def create_app(host: str, port: int, nick: str, *, input: Input | None = None,
               output: Output | None = None, settings: ConnectionSettings | None = None,
               clock: Clock = datetime.now, history_path: Path | None = None,
               password: str | None = None) -> ChatClient:
    """Build the client for `host:port` as `nick`; `input`/`output` default to the terminal.

    `history_path` keeps the input history between runs (None: for this run only);
    `password` is the server's (`--password`), given before joining.
    """
    return ChatClient(host, port, nick, input=input, output=output, settings=settings,
                      clock=clock, history_path=history_path, password=password)
