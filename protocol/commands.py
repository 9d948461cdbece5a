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

from protocol.command_types import (  # re-exported: the commands live there
    Say, SayLines, SetNick, Me, SendPrivate, Who, Quit, Ping, Help, ShowStats,
    StartMachineMode, JoinRoom, LeaveRoom, ListRooms, ShowTopic, SetTopic, InRoom, ShowHistory,
    GivePassword, Oper, SetOperator, Kick, BanTarget, Unban, ListBans, Mute, Unmute,
    SetReadOnly, SetSlow, Unreadable, UnknownCommand, BadArgs, Command,
)

HISTORY_DEFAULT_COUNT = 50
HISTORY_MAX_COUNT = 500
MAX_MINUTES = 10 * 365 * 24 * 60  # ten years: a longer ban or mute is a typing mistake
MAX_SLOW_SECONDS = 24 * 60 * 60


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One server command: its name, how to use it, what it does, and how to parse it.

    `since` is the protocol version that brought it: a version 1 program is told that a
    later command does not exist, as it always was. `raw` commands get their arguments
    exactly as typed (`/topic` alone shows the topic; `/topic` and blanks is refused).
    """

    name: str
    usage: str
    summary: str
    parse: Callable[[str], Command | None]  # the arguments -> a command, or None if missing
    since: int = 1
    raw: bool = False


def _required(make: Callable[[str], Command]) -> Callable[[str], Command | None]:
    return lambda args: make(args) if args else None


def _two_words_or_more(make: Callable[[str, str], Command]) -> Callable[[str], Command | None]:
    def parse(args: str) -> Command | None:
        words = args.split(None, 1)
        return make(words[0], words[1]) if len(words) == 2 else None

    return parse


def _topic(raw: str) -> Command | None:
    if not raw:
        return ShowTopic()
    text = raw.strip()
    return SetTopic(text) if text else None


def _in_room(args: str) -> Command | None:
    words = args.split(None, 1)
    if len(words) != 2:
        return None
    command = parse_command(words[1])
    if isinstance(command, (InRoom, StartMachineMode)):  # no nesting; /hello is no room's
        return None
    return InRoom(words[0], command)


def _history(args: str) -> Command | None:
    words = args.split()
    if len(words) < 2:
        return None
    room, direction, rest = words[0], words[1].lower(), words[2:]
    event_id = None
    if direction in ("before", "after"):
        if not rest or not _is_count(rest[0]):
            return None
        event_id, rest = int(rest[0]), rest[1:]
    elif direction != "latest":
        return None
    if len(rest) > 1 or (rest and not _is_count(rest[0])):
        return None
    count = int(rest[0]) if rest else HISTORY_DEFAULT_COUNT
    if count > HISTORY_MAX_COUNT:
        return None
    return ShowHistory(room, direction, event_id, count)


def _is_count(word: str) -> bool:
    return word.isascii() and word.isdigit()


def _maybe_number(word: str) -> float | None:
    """`word` as a plain decimal number (`5`, `0.5`), or None if it is not one."""
    if not word.isascii() or word.lower() in ("nan", "inf", "infinity", "+inf", "-inf"):
        return None
    try:
        return float(word)
    except ValueError:
        return None


def _ban(args: str) -> Command | None:
    words = args.split(None, 2)
    if not words:
        return None
    minutes = _maybe_number(words[1]) if len(words) > 1 else None
    if minutes is None:  # no duration: the rest is the reason
        return BanTarget(words[0], None, args[len(words[0]):].strip())
    if not 0 < minutes <= MAX_MINUTES:
        return None
    return BanTarget(words[0], minutes, words[2].strip() if len(words) > 2 else "")


def _kick(args: str) -> Command | None:
    words = args.split(None, 1)
    if not words:
        return None
    return Kick(words[0], words[1].strip() if len(words) > 1 else "")


def _mute(args: str) -> Command | None:
    words = args.split()
    if len(words) == 1:
        return Mute(words[0], None)
    minutes = _maybe_number(words[1]) if len(words) == 2 else None
    if minutes is None or not 0 < minutes <= MAX_MINUTES:
        return None
    return Mute(words[0], minutes)


def _read_only(args: str) -> Command | None:
    word = args.strip().lower() or "on"
    return SetReadOnly(word == "on") if word in ("on", "off") else None


def _slow(args: str) -> Command | None:
    seconds = _maybe_number(args.strip())
    if seconds is None or not 0 <= seconds <= MAX_SLOW_SECONDS:
        return None
    return SetSlow(seconds)


def _one_word(make: Callable[[str], Command]) -> Callable[[str], Command | None]:
    return lambda args: make(args.split()[0]) if len(args.split()) == 1 else None


COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec("nick", "/nick NAME", "choose or change your nickname",
                    _required(lambda args: SetNick(args.strip()))),
        CommandSpec("me", "/me ACTION", "show an action: /me waves",
                    _required(Me)),
        CommandSpec("msg", "/msg NICK TEXT", "send a private message",
                    _two_words_or_more(SendPrivate)),
        CommandSpec("who", "/who [ROOM]", "list the people in a room",
                    lambda args: Who(args.split()[0] if args.split() else None)),
        CommandSpec("join", "/join ROOM", "join a room (made if new) and talk there",
                    _required(lambda args: JoinRoom(args.split()[0])), since=2),
        CommandSpec("part", "/part [ROOM] [REASON]", "leave a room (default: this one)",
                    lambda args: LeaveRoom(args.strip()), since=2),
        CommandSpec("rooms", "/rooms", "list the rooms with people in them",
                    lambda args: ListRooms(), since=2),
        CommandSpec("topic", "/topic [TEXT]", "show or set this room's topic",
                    _topic, since=2, raw=True),
        CommandSpec("in", "/in ROOM LINE", "say or do LINE in ROOM without switching",
                    _in_room, since=2),
        CommandSpec("history", "/history ROOM before|after ID [N]",
                    f"earlier lines (or: /history ROOM latest [N]); N at most "
                    f"{HISTORY_MAX_COUNT}", _history, since=2),
        CommandSpec("pass", "/pass SECRET", "give the server's password (before /nick)",
                    _required(lambda args: GivePassword(args.strip()))),
        CommandSpec("oper", "/oper TOKEN", "become an operator",
                    _required(lambda args: Oper(args.strip())), since=2),
        CommandSpec("op", "/op NICK", "operators: make NICK an operator",
                    _one_word(lambda nick: SetOperator(nick, True)), since=2),
        CommandSpec("deop", "/deop NICK", "operators: take NICK's operator rights",
                    _one_word(lambda nick: SetOperator(nick, False)), since=2),
        CommandSpec("kick", "/kick NICK [REASON]", "operators: put NICK out of this room",
                    _kick, since=2),
        CommandSpec("ban", "/ban NICK|ADDRESS [MINUTES] [REASON]",
                    "operators: out of every room and kept out", _ban, since=2),
        CommandSpec("unban", "/unban NICK|ADDRESS", "operators: lift a ban",
                    _one_word(Unban), since=2),
        CommandSpec("bans", "/bans", "operators: list the bans",
                    lambda args: ListBans(), since=2),
        CommandSpec("mute", "/mute NICK [MINUTES]", "operators: NICK may read, not speak",
                    _mute, since=2),
        CommandSpec("unmute", "/unmute NICK", "operators: NICK may speak again",
                    _one_word(Unmute), since=2),
        CommandSpec("readonly", "/readonly [on|off]", "operators: only operators speak here",
                    _read_only, since=2),
        CommandSpec("slow", "/slow SECONDS", "operators: one line per SECONDS here; 0: off",
                    _slow, since=2),
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


def parse_command(line: str, version: int = 2) -> Command:
    """Parse one line typed by a client that speaks protocol `version`.

    A command newer than `version` is unknown to it, as it always was."""
    said = said_text(line)
    if said is not None:
        return Say(said)
    name, args = _split_command(line[1:])
    spec = COMMANDS.get(name.lower())
    if spec is None or spec.since > version:
        return UnknownCommand(name)
    raw = line[1:].lstrip()[len(name):]  # the arguments exactly as typed
    command = spec.parse(raw if spec.raw else args)
    return command if command is not None else BadArgs(spec.name, spec.usage)


def said_text(line: str) -> str | None:
    """What a plain line says to the room (`//x` says `/x`), or None if it is a command."""
    if not line.startswith("/"):
        return line
    if line.startswith("//"):
        return line[1:]
    return None


def commands_of(version: int) -> list[CommandSpec]:
    """The commands a client speaking protocol `version` has."""
    return [spec for spec in COMMANDS.values() if spec.since <= version]


def _split_command(text: str) -> tuple[str, str]:
    """Split `nick  alice ` into ("nick", "alice "): the name, then the arguments as typed."""
    parts = text.split(None, 1)
    if not parts:
        return "", ""
    if len(parts) == 1:
        return parts[0], ""
    return parts[0], parts[1]
