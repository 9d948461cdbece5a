"""Commands: what a client types, parsed into typed values.

`parse_command(line)` turns one (already sanitised) line into exactly one command value.
A line that does not start with `/` is something to say; `//text` says `/text`. Command
names are case-insensitive. A command that cannot be parsed becomes `UnknownCommand` or
`BadArgs`, never an exception, so the caller answers it like any other command.

`COMMANDS` is the one table of the server's commands, with their usage and a line of
help: the server's `/help` and the client's help and completion are built from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True, slots=True)
class Say:
    """Say `text` to the room."""

    text: str


@dataclass(frozen=True, slots=True)
class SetNick:
    """Choose (and so join) or change nickname."""

    name: str


@dataclass(frozen=True, slots=True)
class Me:
    """An action: `/me waves` is shown as `* alice waves`."""

    text: str


@dataclass(frozen=True, slots=True)
class SendPrivate:
    """A private message to one person."""

    nick: str
    text: str


@dataclass(frozen=True, slots=True)
class Who:
    """List the people in the room."""


@dataclass(frozen=True, slots=True)
class Quit:
    """Leave, with a reason (`quit` when none was given)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Ping:
    """Ask the server to answer `PONG token`."""

    token: str


@dataclass(frozen=True, slots=True)
class Help:
    """List the commands."""


@dataclass(frozen=True, slots=True)
class ShowStats:
    """Ask for the server's figures (a STATS event)."""


@dataclass(frozen=True, slots=True)
class StartMachineMode:
    """`/hello CLIENT VERSION`: switch this connection to machine events."""

    client: str
    version: str


@dataclass(frozen=True, slots=True)
class UnknownCommand:
    """A `/word` that names no command."""

    name: str


@dataclass(frozen=True, slots=True)
class BadArgs:
    """A known command with missing arguments; `usage` says what it takes."""

    command: str
    usage: str


Command = (
    Say | SetNick | Me | SendPrivate | Who | Quit | Ping | Help | ShowStats
    | StartMachineMode | UnknownCommand | BadArgs
)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One server command: its name, how to use it, what it does, and how to parse it."""

    name: str
    usage: str
    summary: str
    parse: Callable[[str], Command | None]  # the arguments -> a command, or None if missing


def _required(make: Callable[[str], Command]) -> Callable[[str], Command | None]:
    return lambda args: make(args) if args else None


def _two_words_or_more(make: Callable[[str, str], Command]) -> Callable[[str], Command | None]:
    def parse(args: str) -> Command | None:
        words = args.split(None, 1)
        return make(words[0], words[1]) if len(words) == 2 else None

    return parse


COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec("nick", "/nick NAME", "choose or change your nickname",
                    _required(lambda args: SetNick(args.strip()))),
        CommandSpec("me", "/me ACTION", "show an action: /me waves",
                    _required(Me)),
        CommandSpec("msg", "/msg NICK TEXT", "send a private message",
                    _two_words_or_more(SendPrivate)),
        CommandSpec("who", "/who", "list the people in the room",
                    lambda args: Who()),
        CommandSpec("quit", "/quit [REASON]", "leave the room",
                    lambda args: Quit(args or "quit")),
        CommandSpec("ping", "/ping [TOKEN]", "the server answers PONG TOKEN",
                    lambda args: Ping(args)),
        CommandSpec("help", "/help", "list the commands",
                    lambda args: Help()),
        CommandSpec("stats", "/stats", "show the server's scheduler and traffic figures",
                    lambda args: ShowStats()),
        CommandSpec("hello", "/hello CLIENT VERSION", "switch to machine events (for programs)",
                    _two_words_or_more(StartMachineMode)),
    )
}


def parse_command(line: str) -> Command:
    """Parse one line typed by a client."""
    if not line.startswith("/"):
        return Say(line)
    if line.startswith("//"):
        return Say(line[1:])
    name, args = _split_command(line[1:])
    spec = COMMANDS.get(name.lower())
    if spec is None:
        return UnknownCommand(name)
    command = spec.parse(args)
    return command if command is not None else BadArgs(spec.name, spec.usage)


def _split_command(text: str) -> tuple[str, str]:
    """Split `nick  alice ` into ("nick", "alice "): the name, then the arguments as typed."""
    parts = text.split(None, 1)
    if not parts:
        return "", ""
    if len(parts) == 1:
        return parts[0], ""
    return parts[0], parts[1]
