"""The room: who is here, in what order, and what each command does.

Plain code, no sockets and no scheduler: the reader task hands it each framed line, and it
answers by appending to `outgoing`, the one ordered queue of everything the server says.
The broadcaster task drains that queue through an `Audience` (see `audience.py`). Because
replies to one person and events for everyone share one queue, each client sees them in
the order they happened: a joiner gets WELCOME and USERS before its own JOIN, and a
quitter gets every room event from before its /quit, then BYE, then nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from chat_server.scheduler import Parking
from protocol import (
    COMMANDS, Action, BadArgs, BadEncoding, Bye, Command, Error, ErrorCode, Event, Framed,
    Hello, Help, Info, Join, Line, LineTooLong, Me, Message, NickChange, Part, PartReason,
    Ping, Pong, PrivateMessage, Quit, Say, SendPrivate, SetNick, ShowStats,
    StartMachineMode, Stats, UnknownCommand, Users, Welcome, Who, nick_key, nick_problem,
    parse_command, sanitize,
)


class Member(Protocol):
    """What the room needs of a connection (the server's `Session` is one)."""

    nick: str | None
    said_hello: bool  # set by the room when it handles /hello

    def stop_reading(self) -> None:
        """Handle no more lines from this connection."""

    def abort(self, last_event: Event) -> None:
        """Drop what is queued, send `last_event` if the socket takes it, and close."""


@dataclass(frozen=True, slots=True)
class ToRoom:
    """An event for everyone in the room. `joining` enters the audience just before it
    (so a joiner hears its own JOIN); `leaving` leaves just before it."""

    event: Event
    joining: Any = None
    leaving: Any = None


@dataclass(frozen=True, slots=True)
class ToMember:
    """An event for one connection only."""

    member: Any
    event: Event


@dataclass(frozen=True, slots=True)
class HangUp:
    """Nothing more for this connection: close it once what is queued is sent."""

    member: Any


Outgoing = ToRoom | ToMember | HangUp


class Room:
    """The chat room's state and the behaviour of every command."""

    def __init__(
        self, server_name: str, figures: Callable[[], dict[str, object]] = dict
    ) -> None:
        self.server_name = server_name
        self._figures = figures  # what /stats reports; the server knows, the room asks
        self.outgoing: deque[Outgoing] = deque()
        self.has_outgoing = Parking()  # the broadcaster parks here while `outgoing` is empty
        self._members: dict[Any, None] = {}  # joined members, in join order
        self._by_key: dict[str, Any] = {}  # nick_key(nick) -> member
        self._handlers: dict[type, Callable[[Any, Any], None]] = {
            Say: self._say, SetNick: self._set_nick, Me: self._me,
            SendPrivate: self._send_private, Who: self._who, Quit: self._quit,
            Ping: self._ping, Help: self._help, ShowStats: self._show_stats,
            StartMachineMode: self._start_machine_mode,
            UnknownCommand: self._unknown_command, BadArgs: self._bad_args,
        }

    # What the room knows

    @property
    def nicks(self) -> tuple[str, ...]:
        """The nicknames in the room, in join order."""
        return tuple(member.nick for member in self._members)

    @property
    def member_count(self) -> int:
        """How many people are in the room."""
        return len(self._members)

    def is_joined(self, member: Member) -> bool:
        """True if `member` is in the room."""
        return member in self._members

    # Connections coming and going

    def greet(self, member: Member) -> None:
        """Say hello to a new connection (it is not in the room yet)."""
        count = self.member_count
        people = "1 person is" if count == 1 else f"{count} people are"
        self._reply(member, Info(
            f"Welcome to {self.server_name}! {people} here. "
            "Type a nickname to join, or /help."))

    def connection_lost(self, member: Member) -> None:
        """The connection ended or broke: leave, and close once queued output is sent."""
        member.stop_reading()
        self.leave(member, PartReason.CONNECTION_LOST)
        self._queue(HangUp(member))

    def say_goodbye(self, member: Member, reason: str) -> None:
        """Send BYE and close, without telling the room (used at shutdown)."""
        member.stop_reading()
        self._remove(member)
        self._reply(member, Bye(reason))
        self._queue(HangUp(member))

    def cut_off(self, member: Member, reason: str) -> None:
        """Drop a connection the server cannot keep (too slow): leave, then BYE if possible."""
        self.leave(member, reason)
        member.abort(Bye(reason))

    def leave(self, member: Member, reason: str) -> None:
        """Take `member` out of the room, telling everyone why. Does nothing if not joined."""
        if self.is_joined(member):
            self._remove(member)
            self._queue(ToRoom(Part(member.nick, reason), leaving=member))  # type: ignore[arg-type]

    # Input

    def handle(self, member: Member, framed: Framed) -> None:
        """Act on one framed line from `member`."""
        if isinstance(framed, Line):
            self.handle_line(member, framed.text)
        elif isinstance(framed, LineTooLong):
            self._error(member, ErrorCode.LINE_TOO_LONG,
                        f"lines are limited to {framed.limit} bytes; that one was discarded")
        elif isinstance(framed, BadEncoding):
            self._error(member, ErrorCode.BAD_ENCODING,
                        "that line was not valid UTF-8 and was discarded")

    def handle_line(self, member: Member, text: str) -> None:
        """Act on one line of text typed by `member`."""
        text = sanitize(text)
        if not text.strip():
            return  # blank once control characters are gone: ignored like an empty line
        command: Command = parse_command(text)
        handler = self._handlers[type(command)]
        handler(member, command)

    # Commands

    def _say(self, member: Member, command: Say) -> None:
        if self.is_joined(member):
            self._queue(ToRoom(Message(member.nick, command.text)))  # type: ignore[arg-type]
        elif not member.said_hello:
            self._join(member, command.text.strip())  # talker style: the first line is a name
        else:
            self._error(member, ErrorCode.NOT_JOINED, "choose a nickname first: /nick NAME")

    def _set_nick(self, member: Member, command: SetNick) -> None:
        if self.is_joined(member):
            self._rename(member, command.name)
        else:
            self._join(member, command.name)

    def _me(self, member: Member, command: Me) -> None:
        if self._require_joined(member):
            self._queue(ToRoom(Action(member.nick, command.text)))  # type: ignore[arg-type]

    def _send_private(self, member: Member, command: SendPrivate) -> None:
        if not self._require_joined(member):
            return
        recipient = self._by_key.get(nick_key(command.nick))
        if recipient is None:
            self._error(member, ErrorCode.NO_SUCH_NICK, f"nobody here is called {command.nick}")
            return
        event = PrivateMessage(member.nick, recipient.nick, command.text)  # type: ignore[arg-type]
        self._reply(member, event)
        if recipient is not member:
            self._reply(recipient, event)

    def _who(self, member: Member, command: Who) -> None:
        self._reply(member, Users(self.nicks))

    def _quit(self, member: Member, command: Quit) -> None:
        member.stop_reading()
        self.leave(member, command.reason)
        self._reply(member, Bye(command.reason))
        self._queue(HangUp(member))

    def _ping(self, member: Member, command: Ping) -> None:
        self._reply(member, Pong(command.token))

    def _help(self, member: Member, command: Help) -> None:
        self._reply(member, Info("Commands (anything else you type is said to the room):"))
        for spec in COMMANDS.values():
            self._reply(member, Info(f"  {spec.usage:<22} {spec.summary}"))
        self._reply(member, Info("  //text                 say text that starts with /"))

    def _show_stats(self, member: Member, command: ShowStats) -> None:
        figures = tuple((key, str(value)) for key, value in self._figures().items())
        self._reply(member, Stats(figures))

    def _start_machine_mode(self, member: Member, command: StartMachineMode) -> None:
        # From now on the room treats this connection as a program (text before joining is
        # an error, not a nickname). Its output switches when the HELLO is delivered, after
        # whatever was queued before it (see Session.deliver).
        member.said_hello = True
        self._reply(member, Hello(self.server_name))

    def _unknown_command(self, member: Member, command: UnknownCommand) -> None:
        self._error(member, ErrorCode.UNKNOWN_COMMAND,
                    f"there is no command /{command.name}; /help lists them")

    def _bad_args(self, member: Member, command: BadArgs) -> None:
        self._error(member, ErrorCode.BAD_ARGS, f"usage: {command.usage}")

    # Joining and renaming

    def _join(self, member: Member, name: str) -> None:
        if not self._nick_available(member, name):
            return
        member.nick = name
        self._members[member] = None
        self._by_key[nick_key(name)] = member
        self._reply(member, Welcome(name))
        self._reply(member, Users(self.nicks))
        self._queue(ToRoom(Join(name), joining=member))

    def _rename(self, member: Member, name: str) -> None:
        old = member.nick
        assert old is not None
        if name == old:
            self._reply(member, Info(f"you are already {name}"))
            return
        if not self._nick_available(member, name):
            return
        del self._by_key[nick_key(old)]
        self._by_key[nick_key(name)] = member
        member.nick = name
        self._queue(ToRoom(NickChange(old, name)))

    def _nick_available(self, member: Member, name: str) -> bool:
        problem = nick_problem(name)
        if problem is not None:
            self._error(member, ErrorCode.BAD_NICK, problem)
            return False
        holder = self._by_key.get(nick_key(name))
        if holder is not None and holder is not member:
            self._error(member, ErrorCode.NICK_IN_USE, f"{holder.nick} is already here")
            return False
        return True

    def _remove(self, member: Member) -> None:
        if member in self._members:
            del self._members[member]
            self._by_key.pop(nick_key(member.nick), None)  # type: ignore[arg-type]

    # Output

    def _require_joined(self, member: Member) -> bool:
        if self.is_joined(member):
            return True
        self._error(member, ErrorCode.NOT_JOINED, "choose a nickname first: /nick NAME")
        return False

    def _error(self, member: Member, code: str, text: str) -> None:
        self._reply(member, Error(code, text))

    def _reply(self, member: Member, event: Event) -> None:
        self._queue(ToMember(member, event))

    def _queue(self, item: Outgoing) -> None:
        self.outgoing.append(item)
        if self.has_outgoing.parked:
            self.has_outgoing.wake_all()
