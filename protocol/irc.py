"""The server's side of one IRC client connection, without any I/O: a sibling of
`LineConnection` with the same interface (`receive_data`, `next_command`, `send`,
`shared_encoder`, `machine_encoder`, `set_in_several_rooms`, `said_hello`, `version`).

IRC lines come in and our `Command` values go out (JOIN -> `JoinRoom`, PRIVMSG #room ->
`InRoom(room, Say(text))`, ...); our events go in and IRC lines come out (see
`irc_render` and `irc_replies`). Registration (CAP, NICK, USER, PASS) is kept here until
the client is ready, then becomes one `SetNick`.

Replies the IRC protocol makes by itself (CAP ACK, a 461 for a JOIN without a channel)
ride on a command too: each is queued here and a `Ping` carrying `LOCAL_REPLY` goes to
the directory, whose PONG comes back in its turn and is sent as those bytes. So such a
reply keeps its place among the directory's replies, and flood control counts the line
that asked for it, like every other line.

What a join looks like: our server sends the history and the USERS of a room before the
joiner's JOIN (which the fan-out shares), then CURRENT; IRC wants JOIN, names, history.
So a room's history and names are held back from HISTORY until its CURRENT.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from protocol.commands import (
    BanTarget, Command, GivePassword, InRoom, JoinRoom, Kick, LeaveRoom, ListRooms, Me,
    Oper, Ping, Quit, Say, SendPrivate, SetNick, SetOperator, SetReadOnly, SetTopic,
    ShowTopic, Unban, Who,
)
from protocol.connection import Encoder
from protocol.events import (
    AnyEvent, Bye, Current, Error, History, Info, Pong, PrivateMessage, Replayed, RoomEvent,
    RoomList, RoomListing, Stats, Topic, Users, Welcome,
)
from protocol.framing import BadEncoding, LineFramer, LineTooLong
from protocol.irc_message import (
    CRLF, FRAMER_LIMIT, MAX_IRC_LINE, IrcMessage, clean_text, format_line, parse_message,
)
from protocol.irc_render import (
    CTCP, DropOwnLines, history_lines, notice_lines, prefix, shared_encoder_for, text_lines,
)
from protocol.irc_replies import error_reply, names, numeric, welcome, who
from protocol.nicknames import nick_key, nick_problem
from protocol.render import render_for_people
from protocol.rooms import room_key, room_problem

LOCAL_REPLY = "\x00irc"  # a ping token no client can send: sanitising removes NUL
CAPABILITIES = ("batch", "echo-message", "message-tags", "server-time")
VERSION = "0.1"
_BEFORE_REGISTRATION = frozenset({"CAP", "NICK", "USER", "PASS", "PING", "PONG", "QUIT"})


class _Join:
    """A room being joined: its history and names, held until its CURRENT."""

    __slots__ = ("history", "names")

    def __init__(self) -> None:
        self.history: list[RoomEvent] = []
        self.names = b""


@dataclass(frozen=True, slots=True)
class CausedError:
    """An ERROR, and the IRC command (with the channel or nick it named) that caused it.

    IRC numbers an error by its cause: not being in a channel is 404 for a PRIVMSG to it
    and 442 for a PART of it. The cause is noted when the server makes the error (see
    `IrcConnection.with_cause`), since by the time the error is sent the connection may
    have handed out later commands of the same read (a client's PING right behind it).
    """

    error: Error
    cause: tuple[str, str]


class IrcConnection:
    """One IRC client: IRC lines -> commands, events -> IRC lines."""

    def __init__(self, server_name: str = "lanchat") -> None:
        self.version = 2  # it may use every command of version 2
        self.said_hello = True  # it never types a bare nickname or password line
        self.server = server_name
        self.caps: set[str] = set()
        self._framer = LineFramer(FRAMER_LIMIT)
        self._commands: deque[tuple[Command, tuple[str, str]]] = deque()
        self._local: deque[bytes] = deque()  # replies waiting for their PONG
        self._context = ("", "")  # (IRC command, its target) of the last command handed out
        self._reading = ""  # the IRC command being read, for the context of its errors
        self._negotiating = False
        self._wanted_nick: str | None = None
        self._user_given = False
        self.registered = False  # the WELCOME came
        self._registering = False  # the SETNICK went: commands may follow it
        self._nick: str | None = None
        self._joining: dict[str, _Join] = {}
        self._asked: dict[str, deque[bool]] = {}  # room key -> for each NAMES/WHO: a WHO?
        self._listing = 0  # LIST replies still to come
        self._batches = 0
        self._drop_own = DropOwnLines(shared_encoder_for(False))
        self.shared_encoder: Encoder = self._drop_own

    # Bytes in, commands out

    def receive_data(self, data: bytes) -> None:
        """Take the bytes that arrived; `next_command` hands out what they complete."""
        self._framer.receive(data)

    def next_command(self) -> Command | None:
        """The next command the received bytes complete, or None when they are used up."""
        while not self._commands:
            framed = self._framer.next_framed()
            if framed is None:
                return None
            if isinstance(framed, LineTooLong):
                self._numeric("417", "Input line was too long")
            elif isinstance(framed, BadEncoding):
                self._local_reply(format_line("NOTICE", self._me, "That line was not valid "
                                              "UTF-8 and was discarded", source=self.server))
            else:
                self._read_line(framed.text)
        command, self._context = self._commands.popleft()
        return command

    def _read_line(self, text: str) -> None:
        message = parse_message(text)
        if message is None:
            return
        if message.body_bytes > MAX_IRC_LINE:
            self._numeric("417", "Input line was too long")
            return
        if not (self.registered or self._registering) \
                and message.command not in _BEFORE_REGISTRATION:
            self._numeric("451", "You have not registered")
            return
        handler = _HANDLERS.get(message.command)  # looked up first: a bug is not "unknown"
        if handler is None:
            self._numeric("421", message.command, "Unknown command")
            return
        handler(self, message)

    # Events in, bytes out

    def send(self, event: AnyEvent, viewer: str | None = None) -> bytes:
        """The IRC lines for `event` (`viewer`: the reader's nickname)."""
        if isinstance(event, Info):
            data = self._info(event.text, viewer)
        else:
            data = self._render(event, viewer)
        if viewer is not None:
            self._nick = self._drop_own.nick = viewer
        return data

    @property
    def machine_encoder(self) -> None:
        """None: events become IRC lines, never a machine encoder's bytes."""
        return None

    def set_in_several_rooms(self, several: bool) -> None:
        """IRC lines always name their channel: nothing changes."""

    def with_cause(self, error: Error) -> CausedError:
        """`error`, made now for the command last handed out, with that command noted."""
        return CausedError(error, self._context)

    def data_to_send(self) -> bytes:
        """Nothing out of turn: IRC's own replies wait for their PONG, in order (see
        the module's header), so flood control counts the lines that ask for them."""
        return b""

    @property
    def _me(self) -> str:
        return self._nick or "*"

    def _render(self, event: AnyEvent, viewer: str | None) -> bytes:
        me = viewer or "*"
        if isinstance(event, RoomEvent):
            if isinstance(event.event, Topic):  # (a TOPIC query's reply)
                return numeric(self.server, "332", me, event.room, event.event.text)
            return self.shared_encoder(event)
        renderer = _RENDERERS.get(type(event))
        if renderer is not None:
            return renderer(self, event, me)
        if isinstance(event, Stats):
            return notice_lines(self.server, me, render_for_people(event))
        return b""  # (HELLO and the like: nothing an IRC client needs)

    def _info(self, text: str, viewer: str | None) -> bytes:
        me = viewer or "*"
        if not self.registered or text.startswith("you are already"):
            return b""  # the chat's greeting and hints are for people typing in nc
        if text.startswith("you are now known as ") and self._nick:
            return format_line("NICK", viewer or text.split()[-1], source=prefix(self._nick))
        if text.startswith("you are now an operator"):
            return numeric(self.server, "381", me, "You are now an IRC operator")
        if " has no topic" in text:
            return numeric(self.server, "331", me, text.split()[0], "No topic is set")
        return notice_lines(self.server, me, text)

    def _on_pong(self, event: Pong, me: str) -> bytes:
        if event.token == LOCAL_REPLY:
            return self._local.popleft() if self._local else b""
        return format_line("PONG", self.server, event.token, source=self.server, trailing=True)

    def _on_welcome(self, event: Welcome, me: str) -> bytes:
        self.registered = True
        self._nick = event.nick
        return welcome(self.server, self.server, event.nick, VERSION)

    def _on_error(self, event: Error, me: str) -> bytes:
        return self._on_caused_error(CausedError(event, self._context), me)

    def _on_caused_error(self, caused: CausedError, me: str) -> bytes:
        command, target = caused.cause
        error = caused.error
        return error_reply(self.server, me, error.code, error.text, command, target)

    def _on_bye(self, event: Bye, me: str) -> bytes:
        return format_line("ERROR", f"Closing link: {event.reason}", trailing=True)

    def _on_private(self, event: PrivateMessage, me: str) -> bytes:
        own = event.sender == me and event.recipient != me
        if own and "echo-message" not in self.caps:
            return b""
        return text_lines(prefix(event.sender), "PRIVMSG", event.recipient, event.text)

    def _on_history(self, event: History, me: str) -> bytes:
        self._joining[room_key(event.room)] = _Join()
        return b""

    def _on_replayed(self, event: Replayed, me: str) -> bytes:
        joining = self._joining.get(room_key(event.event.room))
        if joining is not None:
            joining.history.append(event.event)
            return b""
        return self._history_bytes([event.event])

    def _on_users(self, event: Users, me: str) -> bytes:
        room = event.room or ""
        key = room_key(room)
        joining = self._joining.get(key)
        if joining is not None:
            joining.names = names(self.server, me, room, event.nicks)
            return b""
        asked = self._asked.get(key)
        was_who = asked.popleft() if asked else False
        if asked is not None and not asked:
            del self._asked[key]
        if was_who:
            return who(self.server, me, room, event.nicks)
        return names(self.server, me, room, event.nicks)

    def _on_current(self, event: Current, me: str) -> bytes:
        joining = self._joining.pop(room_key(event.room), None)
        if joining is None:
            return b""
        return joining.names + self._history_bytes(joining.history)

    def _on_room_list(self, event: RoomList, me: str) -> bytes:
        self._listing = event.count
        start = numeric(self.server, "321", me, "Channel", "Users  Name")
        return start + (numeric(self.server, "323", me, "End of /LIST") if not event.count
                        else b"")

    def _on_room_listing(self, event: RoomListing, me: str) -> bytes:
        self._listing -= 1
        line = numeric(self.server, "322", me, event.room, str(event.people), event.topic)
        return line + (numeric(self.server, "323", me, "End of /LIST") if self._listing <= 0
                       else b"")

    def _history_bytes(self, events: list[RoomEvent]) -> bytes:
        """Replayed events: a `chathistory` batch for a client with `batch` and
        `server-time`, else plain lines whose text starts with the time."""
        if not events:
            return b""
        if not {"batch", "server-time"} <= self.caps:
            return b"".join(history_lines(event, self.server, None, _when(event.time))
                            for event in events)
        self._batches += 1
        ref = f"h{self._batches}"
        return (format_line("BATCH", f"+{ref}", "chathistory", events[0].room,
                            source=self.server)
                + b"".join(history_lines(event, self.server, ref, "") for event in events)
                + format_line("BATCH", f"-{ref}", source=self.server))

    # Handing out

    def _command(self, command: Command, target: str = "") -> None:
        self._commands.append((command, (self._reading, target)))

    def _local_reply(self, data: bytes) -> None:
        """Queue bytes of our own, to go out in their turn (see the module's header)."""
        self._local.append(data)
        self._commands.append((Ping(LOCAL_REPLY), ("", "")))

    def _numeric(self, code: str, *params: str) -> None:
        self._local_reply(numeric(self.server, code, self._me, *params))

    # IRC commands (each takes the parsed message)

    def _cap(self, message: IrcMessage) -> None:
        sub = message.params[0].upper() if message.params else ""
        if sub == "LS":
            if not self.registered:
                self._negotiating = True
            self._cap_reply("LS", " ".join(CAPABILITIES))
        elif sub == "LIST":
            self._cap_reply("LIST", " ".join(sorted(self.caps)))
        elif sub == "REQ":
            self._cap_request(message.params[1] if len(message.params) > 1 else "")
        elif sub == "END":
            self._negotiating = False
            self._maybe_register()
        else:
            self._numeric("410", sub or "*", "Invalid CAP command")

    def _cap_reply(self, sub: str, text: str) -> None:
        self._local_reply(format_line("CAP", self._me, sub, text, source=self.server,
                                      trailing=True))

    def _cap_request(self, asked: str) -> None:
        names_asked = asked.split()
        if not self.registered:
            self._negotiating = True
        if not names_asked or any(name.lstrip("-") not in CAPABILITIES for name in names_asked):
            self._cap_reply("NAK", asked)
            return
        for name in names_asked:
            if name.startswith("-"):
                self.caps.discard(name[1:])
            else:
                self.caps.add(name)
        self._choose_encoder()
        self._cap_reply("ACK", asked)

    def _choose_encoder(self) -> None:
        """Equal capabilities, equal bytes: share the module's encoder, unless this
        client must not get its own lines back (no echo-message)."""
        shared = shared_encoder_for("server-time" in self.caps)
        self._drop_own.shared = shared
        self.shared_encoder = shared if "echo-message" in self.caps else self._drop_own

    def _nick_command(self, message: IrcMessage) -> None:
        if not message.params or not message.params[0]:
            self._numeric("431", "No nickname given")
            return
        name = clean_text(message.params[0])
        if self.registered:
            self._command(SetNick(name), name)
            return
        problem = nick_problem(name)
        if problem is not None:
            self._numeric("432", name or "*", problem)
            return
        self._wanted_nick = name
        self._maybe_register()

    def _user(self, message: IrcMessage) -> None:
        if self.registered:
            self._numeric("462", "You may not reregister")
        elif len(message.params) < 4:
            self._numeric("461", "USER", "Not enough parameters")
        else:
            self._user_given = True
            self._maybe_register()

    def _maybe_register(self) -> None:
        if self.registered or self._negotiating or not self._user_given:
            return
        if self._wanted_nick is not None:
            self._registering = True
            self._command(SetNick(self._wanted_nick), self._wanted_nick)

    def _pass(self, message: IrcMessage) -> None:
        if self.registered:
            self._numeric("462", "You may not reregister")
        elif not message.params:
            self._numeric("461", "PASS", "Not enough parameters")
        else:
            self._command(GivePassword(message.params[0]))

    def _ping(self, message: IrcMessage) -> None:
        if not message.params:
            self._numeric("409", "No origin specified")
        else:
            self._command(Ping(clean_text(message.params[0])))

    def _pong(self, message: IrcMessage) -> None:
        """Nothing to do: this server does not ping its clients."""

    def _quit(self, message: IrcMessage) -> None:
        reason = clean_text(message.params[0]) if message.params else ""
        self._command(Quit(reason.strip() or "quit"))

    def _join(self, message: IrcMessage) -> None:
        if not self._enough(message, 1):
            return
        for channel in message.params[0].split(","):
            if self._valid_channel(channel, "479"):
                self._command(JoinRoom(channel), channel)

    def _part(self, message: IrcMessage) -> None:
        if not self._enough(message, 1):
            return
        reason = clean_text(message.params[1]) if len(message.params) > 1 else ""
        for channel in message.params[0].split(","):
            if self._valid_channel(channel, "403"):
                self._command(LeaveRoom(f"{channel} {reason}".strip()), channel)

    def _privmsg(self, message: IrcMessage) -> None:
        quiet = message.command == "NOTICE"  # a NOTICE never gets an error back (RFC 1459)
        if len(message.params) < 2 or not message.params[1]:
            if not quiet:
                self._numeric("411" if not message.params else "412", "No text to send")
            return
        raw = message.params[1]
        action = raw.startswith(f"{CTCP}ACTION")
        if raw.startswith(CTCP) and not action:
            return  # other CTCP queries (VERSION, ...): not relayed into the chat
        text = clean_text(raw[len(CTCP + "ACTION"):].strip(CTCP + " ") if action else raw)
        if not text.strip():
            return
        for target in message.params[0].split(","):
            if target.startswith("#"):
                self._command(InRoom(target, Me(text) if action else Say(text)), target)
            elif target:
                self._command(SendPrivate(target, f"* {text}" if action else text), target)

    def _names(self, message: IrcMessage) -> None:
        if not message.params:
            self._numeric("366", "*", "End of /NAMES list")
            return
        for channel in message.params[0].split(","):
            if channel.startswith("#"):
                self._ask(channel, False)
            else:
                self._numeric("366", channel or "*", "End of /NAMES list")

    def _who(self, message: IrcMessage) -> None:
        mask = message.params[0] if message.params else "*"
        if not mask.startswith("#") or room_problem(mask) is not None:
            self._numeric("315", mask, "End of /WHO list")  # only channels are listed
            return
        self._ask(mask, True)

    def _ask(self, channel: str, is_who: bool) -> None:
        """NAMES and WHO are both our WHO: remember, per room, which one asked."""
        self._asked.setdefault(room_key(channel), deque()).append(is_who)
        self._command(Who(channel), channel)

    def _topic(self, message: IrcMessage) -> None:
        if not self._enough(message, 1) or not self._valid_channel(message.params[0], "403"):
            return
        channel = message.params[0]
        if len(message.params) == 1:
            self._command(InRoom(channel, ShowTopic()), channel)
        else:
            self._command(InRoom(channel, SetTopic(clean_text(message.params[1]).strip())),
                          channel)

    def _list(self, message: IrcMessage) -> None:
        self._command(ListRooms())

    def _kick(self, message: IrcMessage) -> None:
        if not self._enough(message, 2) or not self._valid_channel(message.params[0], "403"):
            return
        reason = clean_text(message.params[2]) if len(message.params) > 2 else ""
        for nick in message.params[1].split(","):
            self._command(InRoom(message.params[0], Kick(nick, reason.strip())), nick)

    def _mode(self, message: IrcMessage) -> None:
        if not self._enough(message, 1):
            return
        target = message.params[0]
        if not target.startswith("#"):
            own = self._nick is not None and nick_key(target) == nick_key(self._nick)
            self._numeric(*(("221", "+") if own else ("502", "Cannot change mode for "
                                                      "other users")))
        elif len(message.params) == 1:
            self._numeric("324", target, "+")
        else:
            self._channel_modes(target, message.params[1], list(message.params[2:]))

    def _channel_modes(self, channel: str, changes: str, args: list[str]) -> None:
        """`+o nick`, `-o nick`, `+m`, `-m`, `+b mask`, `-b mask`, `b` (the list)."""
        on = True
        for letter in changes:
            if letter in "+-":
                on = letter == "+"
            elif letter == "m":
                self._command(InRoom(channel, SetReadOnly(on)), channel)
            elif letter in "ob" and args:
                target = args.pop(0)
                if letter == "o":
                    self._command(SetOperator(target, on), target)
                else:
                    ban_on = _ban_target(target)
                    self._command(BanTarget(ban_on, None, "") if on else Unban(ban_on), ban_on)
            elif letter == "b":
                self._numeric("368", channel, "End of channel ban list")
            else:
                self._numeric("472", letter, "is not a mode this server knows")

    def _oper(self, message: IrcMessage) -> None:
        if self._enough(message, 2):
            self._command(Oper(message.params[1]))

    def _away(self, message: IrcMessage) -> None:
        if message.params and message.params[0]:
            self._numeric("306", "You have been marked as being away")
        else:
            self._numeric("305", "You are no longer marked as being away")

    def _motd(self, message: IrcMessage) -> None:
        self._numeric("422", "MOTD File is missing")

    def _enough(self, message: IrcMessage, count: int) -> bool:
        if len(message.params) >= count and all(message.params[:count]):
            return True
        self._numeric("461", message.command, "Not enough parameters")
        return False

    def _valid_channel(self, channel: str, numeric_code: str) -> bool:
        """Our room rules, said as IRC numerics: 403 for a name without `#`, `code`
        (479 for JOIN) for a name that is too long or has characters rooms cannot have."""
        if not channel.startswith("#"):
            self._numeric("403", channel or "*", "No such channel: channels start with #")
            return False
        problem = room_problem(channel)
        if problem is not None:
            self._numeric(numeric_code, channel, problem)
            return False
        return True


def _ban_target(mask: str) -> str:
    """`nick!*@*` -> `nick`; `*!*@10.0.0.5` -> `10.0.0.5`; a bare word is itself."""
    nick, _, host = mask.partition("!")
    host = host.partition("@")[2]
    if nick and nick != "*":
        return nick
    return host or mask


def _when(time_ms: int) -> str:
    """`30 Nov 09:12` in the server's local time, as history is shown to people."""
    return time.strftime("%d %b %H:%M", time.localtime(time_ms / 1000))


def _reading(handler):  # type: ignore[no-untyped-def]
    """Remember which IRC command is being read, for the context of its errors."""
    def read(connection: IrcConnection, message: IrcMessage) -> None:
        connection._reading = message.command
        handler(connection, message)
    return read


_HANDLERS = {
    name: _reading(handler) for name, handler in {
        "CAP": IrcConnection._cap, "NICK": IrcConnection._nick_command,
        "USER": IrcConnection._user, "PASS": IrcConnection._pass,
        "PING": IrcConnection._ping, "PONG": IrcConnection._pong,
        "QUIT": IrcConnection._quit, "JOIN": IrcConnection._join,
        "PART": IrcConnection._part, "PRIVMSG": IrcConnection._privmsg,
        "NOTICE": IrcConnection._privmsg, "NAMES": IrcConnection._names,
        "WHO": IrcConnection._who, "TOPIC": IrcConnection._topic,
        "LIST": IrcConnection._list, "KICK": IrcConnection._kick,
        "MODE": IrcConnection._mode, "OPER": IrcConnection._oper,
        "AWAY": IrcConnection._away, "MOTD": IrcConnection._motd,
    }.items()
}

_RENDERERS = {
    Pong: IrcConnection._on_pong, Welcome: IrcConnection._on_welcome,
    Error: IrcConnection._on_error, CausedError: IrcConnection._on_caused_error,
    Bye: IrcConnection._on_bye,
    PrivateMessage: IrcConnection._on_private, History: IrcConnection._on_history,
    Replayed: IrcConnection._on_replayed, Users: IrcConnection._on_users,
    Current: IrcConnection._on_current, RoomList: IrcConnection._on_room_list,
    RoomListing: IrcConnection._on_room_listing,
}

__all__ = ["CAPABILITIES", "CRLF", "IrcConnection", "LOCAL_REPLY"]
