"""What the user types: client commands handled here, everything else for the server.

Lines are parsed by the shared `protocol.parse_command`, never by a second parser: the
client only decides which of the parsed commands it answers itself.

- `/clear`, `/help` and `/quit` are the client's own (`/quit` also tells the server).
- `/ignore`, `/unignore` and `/reply` are the client's own too, looked up by name before
  the line is parsed for the server: the server has no such commands.
- `/stats` goes to the server through the client, which must know the reply is the
  user's; `/stats on|off` is the client's own (it polls `/stats` for the status bar).
- A known server command with missing arguments gets its usage at once, with no round trip.
- Everything else is sent as typed; the server is the judge (an unknown `/word` comes back
  as `ERROR UNKNOWN_COMMAND`), so a server that learns new commands needs no new client.
- A message longer than the protocol's line limit is sent as several messages.
- Lines that act on a room (text, `/me`, `/topic`, `/part` without a room, and commands
  the client does not know, such as an operator's `/kick`) go to the room of the window
  shown: the application wraps them in `/in ROOM` when that is not the server's current
  room. `/join` is noted so its window is shown once joined; `/rooms` so its reply is
  shown (the client also asks for it silently, for topics).
- `/window N` (and Alt-1..9) shows window N: the client's own.
- `/pass SECRET` gives the server's password through the connection, which joins once it
  is taken; `/pass` and `/oper` lines never go into the input history.
- Operators' commands go to the server as typed (`/kick`, `/readonly` and `/slow` act on
  the window's room, so they go with `/in ROOM` like text); Tab completes their names,
  the nickname after `/op`, `/deop`, `/kick`, `/ban`, `/mute`, `/unmute`, and `on|off`
  after `/readonly`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from typing import Protocol

from protocol import (
    MAX_LINE_BYTES, BadArgs, Help, JoinRoom, LeaveRoom, ListRooms, Me, Quit, Say, SetTopic,
    ShowStats, ShowTopic, StartMachineMode, UnknownCommand, Who, commands_of, nick_problem,
    parse_command, room_name,
)
from protocol.commands import GivePassword, Kick, SetReadOnly, SetSlow

SPOKEN_VERSION = 2
"""The protocol version this client speaks: its help and Tab offer that version's commands."""

CLIENT_COMMANDS: dict[str, tuple[str, str]] = {
    "clear": ("/clear", "clear the message pane"),
    "help": ("/help", "show this help"),
    "ignore": ("/ignore [NICK]", "hide NICK's lines; alone: list who is ignored"),
    "unignore": ("/unignore NICK", "show NICK's messages again"),
    "reply": ("/reply TEXT", "answer the last private message you got"),
    "quit": ("/quit [REASON]", "leave the room and close the client"),
    "stats": ("/stats [on|off]", "server figures; on/off: live in the status bar"),
    "window": ("/window N", "show window N (Alt-1..9 too)"),
}
"""The commands the client answers itself: name -> (usage, summary)."""

HIDDEN_SERVER_COMMANDS = frozenset({"hello"})
"""Server commands the client sends on its own; offering them to the user only confuses."""

STATS_SWITCHES = ("on", "off")
"""What `/stats` takes: turn the status bar's live count on or off."""

COMMAND_ARGUMENTS: dict[str, tuple[str, ...]] = {"/stats": STATS_SWITCHES,
                                                 "/readonly": ("on", "off")}
"""Words Tab completes after a command: `/stats o<Tab>` gives `/stats on`."""

NICK_COMMANDS = ("/op", "/deop", "/kick", "/ban", "/mute", "/unmute")
"""Operators' commands whose first word is a nickname: Tab offers the room's people."""

SECRET_COMMANDS = frozenset({"pass", "oper"})
"""Commands whose argument is a secret: such a line is never kept in the input history."""

ROOM_COMMANDS = ("/join", "/part", "/in", "/history", "/who")
"""Commands whose first word is a room: Tab offers room names after them."""

KEYS = (
    ("Enter", "send the line"),
    ("Up / Down", "input history: previous / next line"),
    ("Tab / Shift-Tab", "complete a nick or command; again: the next"),
    ("PageUp / PageDown", "scroll; PageUp at the top loads older lines"),
    ("Alt-1..9, Alt-0", "show window 1..9, 10"),
    ("F7", "hide or show the list of people"),
    ("Ctrl-End", "jump back to the newest message"),
    ("Ctrl-C", "clear the input line; on an empty one, quit"),
    ("Ctrl-D", "quit, on an empty input line"),
)
"""The keys the client understands, for `/help` and the docs."""


class InputActions(Protocol):
    """What a typed line can make the client do; the application implements it."""

    def send_line(self, line: str) -> None:
        """Send one line to the server."""

    def clear(self) -> None:
        """Clear the message pane."""

    def show_help(self) -> None:
        """Show the commands and keys."""

    def quit(self, reason: str) -> None:
        """Leave the room and close the client."""

    def request_stats(self) -> None:
        """Ask the server for its figures and show the reply."""

    def set_live_stats(self, on: bool) -> None:
        """Start or stop the live count of the server's tasks in the status bar."""

    def complain(self, text: str) -> None:
        """Tell the user a line was not sent, and why."""

    def ignore(self, nick: str | None) -> None:
        """Hide what `nick` says; with None, list who is ignored."""

    def unignore(self, nick: str) -> None:
        """Show what `nick` says again."""

    def reply(self, text: str) -> None:
        """Send `text` privately to whoever sent the last private message."""

    def send_in_room(self, line: str) -> None:
        """Send a line that acts on a room, for the room of the window shown."""

    def join_room(self, room: str, line: str) -> None:
        """Send `/join` (`line`); show `room`'s window once joined."""

    def list_rooms(self) -> None:
        """Ask for the list of rooms and show it."""

    def show_window(self, number: int) -> None:
        """Show window `number` (from 1)."""

    def give_password(self, secret: str) -> None:
        """Give the server its password (`/pass SECRET`), and join if not in yet."""


def handle_typed_text(text: str, actions: InputActions) -> None:
    """Act on text the user entered: one line, or several pasted at once, in order."""
    for line in text.splitlines():
        if line.strip():
            handle_line(line, actions)


def handle_line(line: str, actions: InputActions) -> None:
    """Act on one line the user entered."""
    name, arguments = _client_command(line)
    handler = _CLIENT_ONLY.get(name)
    if handler is not None:
        handler(arguments, actions)
        return
    command = parse_command(line, SPOKEN_VERSION)
    match command:
        case Quit(reason):
            actions.quit(reason)
        case Help():
            actions.show_help()
        case ShowStats():
            _stats(line, actions)
        case UnknownCommand(name) if name.lower() == "clear":
            actions.clear()
        case BadArgs(_, usage):
            actions.complain(f"usage: {usage}")
        case StartMachineMode():
            actions.complain("the client has already said /hello; it speaks machine events")
        case Say(text) if len(line.encode("utf-8")) > MAX_LINE_BYTES:
            for piece in split_message(text):
                actions.send_in_room(say_line(piece))
        case _ if len(line.encode("utf-8")) > MAX_LINE_BYTES:
            actions.complain(f"that command is too long for the server ({MAX_LINE_BYTES} bytes)")
        case JoinRoom(room):
            actions.join_room(room_name(room), line)
        case ListRooms():
            actions.list_rooms()
        case GivePassword(secret):
            actions.give_password(secret)
        case (Say() | Me() | ShowTopic() | SetTopic() | Who(None) | Kick() | SetReadOnly()
              | SetSlow() | UnknownCommand()):
            actions.send_in_room(line)
        case LeaveRoom(words) if not words.startswith("#"):
            actions.send_in_room(line)  # `/part` or `/part REASON`: this window's room
        case _:
            actions.send_line(line)


def is_secret(line: str) -> bool:
    """True for `/pass SECRET` and `/oper TOKEN`: lines kept out of the input history."""
    return _client_command(line)[0] in SECRET_COMMANDS


def _client_command(line: str) -> tuple[str, str]:
    """(`ignore`, `bob`) for `/IGNORE bob`; ("", "") for text that is not a command."""
    if not line.startswith("/") or line.startswith("//"):
        return "", ""
    name, _, arguments = line[1:].strip().partition(" ")
    return name.lower(), arguments.strip()


def _ignore(arguments: str, actions: InputActions) -> None:
    if not arguments:
        actions.ignore(None)
    elif _one_nick(arguments, "ignore", actions):
        actions.ignore(arguments)


def _unignore(arguments: str, actions: InputActions) -> None:
    if _one_nick(arguments, "unignore", actions):
        actions.unignore(arguments)


def _reply(arguments: str, actions: InputActions) -> None:
    if arguments:
        actions.reply(arguments)
    else:
        actions.complain(f"usage: {CLIENT_COMMANDS['reply'][0]}")


def _one_nick(arguments: str, command: str, actions: InputActions) -> bool:
    """True if `arguments` is one valid nickname; otherwise say what the command takes."""
    if not arguments or " " in arguments:
        actions.complain(f"usage: {CLIENT_COMMANDS[command][0]}")
        return False
    problem = nick_problem(arguments)
    if problem is not None:
        actions.complain(f"/{command} {arguments}: {problem}")
        return False
    return True


def _window(arguments: str, actions: InputActions) -> None:
    if arguments.isascii() and arguments.isdigit():
        actions.show_window(int(arguments))
    else:
        actions.complain(f"usage: {CLIENT_COMMANDS['window'][0]}")


_CLIENT_ONLY: dict[str, Callable[[str, InputActions], None]] = {
    "ignore": _ignore, "unignore": _unignore, "reply": _reply, "window": _window,
}
"""The client's own commands that the server does not have, by name."""


def _stats(line: str, actions: InputActions) -> None:
    """`/stats`, `/stats on` or `/stats off` (any case); anything else gets the usage."""
    words = line.split(None, 1)
    argument = words[1].strip().lower() if len(words) > 1 else ""
    if not argument:
        actions.request_stats()
    elif argument in STATS_SWITCHES:
        actions.set_live_stats(argument == "on")
    else:
        actions.complain(f"usage: {CLIENT_COMMANDS['stats'][0]}")


def say_line(text: str) -> str:
    """The line that says `text` to the room (a leading `/` is doubled, so it is said)."""
    return "/" + text if text.startswith("/") else text


def split_message(text: str, limit: int = MAX_LINE_BYTES - 1) -> Iterator[str]:
    """Cut `text` into pieces of at most `limit` UTF-8 bytes, never inside a character.

    The default leaves room for the `/` that `say_line` may add. A piece prefers to end
    at a space, so words are not cut when it can be helped.
    """
    while len(text.encode("utf-8")) > limit:
        cut = _last_fitting_index(text, limit)
        space = text.rfind(" ", 0, cut)
        if space > cut // 2:
            cut = space + 1
        yield text[:cut]
        text = text[cut:]
    if text:
        yield text


def _last_fitting_index(text: str, limit: int) -> int:
    """The length of the longest prefix of `text` that fits in `limit` bytes."""
    encoded = text.encode("utf-8")[:limit]
    return len(encoded.decode("utf-8", errors="ignore"))


HELP_WIDTH = 70
"""The help's widest line: drawn as notices (`12:34 -!- ...`), it fits in 80 columns."""

HELP_COLUMN = 22
"""Where the help's descriptions start; a longer usage puts its description below it."""


def help_lines() -> list[str]:
    """The help: client commands, server commands (from the shared table), then keys."""
    server = [(spec.usage, spec.summary) for spec in commands_of(SPOKEN_VERSION)
              if spec.name not in CLIENT_COMMANDS and spec.name not in HIDDEN_SERVER_COMMANDS]
    server.append(("//text", "say text that starts with /"))
    sections = (("client commands:", list(CLIENT_COMMANDS.values())),
                ("server commands:", server), ("keys:", list(KEYS)))
    lines: list[str] = []
    for title, rows in sections:
        lines.append(title)
        for name, what in rows:
            lines += _help_row(name, what)
    return lines


def _help_row(name: str, what: str) -> list[str]:
    """`  /me ACTION           show an action`, or the usage and, below it, what it does."""
    row = f"  {name:<{HELP_COLUMN}}{what}"
    if len(name) < HELP_COLUMN and len(row) <= HELP_WIDTH:
        return [row]
    return [f"  {name}", *textwrap.wrap(what, HELP_WIDTH, initial_indent=" " * (HELP_COLUMN + 2),
                                        subsequent_indent=" " * (HELP_COLUMN + 2))]


def command_names() -> list[str]:
    """Every command a user may type, for Tab completion: `/clear`, `/help`, `/me`, ..."""
    spoken = {spec.name for spec in commands_of(SPOKEN_VERSION)}
    names = set(CLIENT_COMMANDS) | (spoken - HIDDEN_SERVER_COMMANDS)
    return sorted(f"/{name}" for name in names)
