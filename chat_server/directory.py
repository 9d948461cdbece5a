"""The directory: everyone on the server, their nicknames, the rooms, and what each command does.

Plain code, no sockets and no scheduler. A reader task hands it each `Command` a member
typed; it answers by appending to `outgoing`, the one ordered queue of everything the
server says (see outgoing.py), which the broadcaster task drains.

Who owns what:
- the directory: connections, the server-wide nickname space, and the commands that are
  about a person rather than a room (/hello, /nick, /msg, /ping, /stats, /help, /quit);
- a room (rooms.py): its members in join order, its topic, its event ids;
- the room commands (/join, /part, /rooms, /topic, /who, /in, /history, and text) are the
  directory's too, acting on the member's *current* room unless told otherwise.

A version 1 program (`/hello X 1`) lives in the default room only and sees exactly the
events it always saw; its protocol object refuses the room commands as unknown.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable

from chat_server.access import Access
from chat_server.history import History
from chat_server.memory_store import MemoryStore
from chat_server.moderation import Moderation
from chat_server.outgoing import HangUp, Member, Outgoing, Replay, Said, ToMember, ToRoom
from chat_server.parking import Parking
from chat_server.rooms import Room, Roster, RosterView
from protocol import (
    DEFAULT_ROOM, Action, BadArgs, Bye, Command, Current, Error, ErrorCode, Event,
    GivePassword, Hello, Help, History as HistoryEvent, Info, InRoom, Join, JoinRoom, LeaveRoom, ListRooms, Me, Message,
    NickChange, Part, PartReason, Ping, Pong, PrivateMessage, Quit, RoomList, RoomListing,
    Say, SayLines, SendPrivate, SetNick, SetTopic, ShowHistory, ShowStats, ShowTopic,
    StartMachineMode, Stats, Topic, UnknownCommand, Unreadable, Welcome, Who,
    commands_of, nick_key, nick_problem, room_key, room_name, room_problem,
)

activity = logging.getLogger("chat_server.activity")  # the console's who-came-and-went


def wall_clock_ms() -> int:
    """Now, in milliseconds since the Unix epoch: the time stamped on room events."""
    return time.time_ns() // 1_000_000


class Directory:
    """The server's people and rooms, and the behaviour of every command."""

    def __init__(
        self,
        server_name: str,
        *,
        default_room: str = DEFAULT_ROOM,
        max_rooms_per_user: int = 20,
        history_on_join: int = 50,
        history: History | None = None,
        oper_token: str = "",
        password: str | None = None,
        figures: Callable[[], dict[str, object]] = dict,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.server_name = server_name
        self.max_rooms_per_user = max_rooms_per_user
        self.history_on_join = history_on_join
        self.outgoing: deque[Outgoing] = deque()
        self.has_outgoing = Parking()  # the broadcaster parks here while `outgoing` is empty
        self._figures = figures  # what /stats reports; the server knows, the directory asks
        self._clock_ms = clock_ms
        history = history or History(MemoryStore(), "memory only")
        self._rooms: dict[str, Room[Member]] = history.known_rooms()  # key -> room, kept
        self._by_nick: dict[str, Member] = {}  # nick_key -> member, for everyone joined
        self._joined: set[Member] = set()  # the same members, to ask "joined?" cheaply
        self.default_room = self._room_called(default_room)
        self._handlers: dict[type, Callable[[Member, Command, Room[Member] | None], None]] = {
            Say: self._say, SayLines: self._say_lines, Me: self._me, SetNick: self._set_nick,
            SendPrivate: self._private, Who: self._who, Quit: self._quit, Ping: self._ping,
            Help: self._help,
            ShowStats: self._stats, StartMachineMode: self._hello, JoinRoom: self._join,
            LeaveRoom: self._part, ListRooms: self._list_rooms, ShowTopic: self._show_topic,
            SetTopic: self._set_topic, InRoom: self._in_room, ShowHistory: self._history,
            GivePassword: self._password_again, Unreadable: self._unreadable,
            UnknownCommand: self._unknown, BadArgs: self._bad_args,
        }
        # An empty token can never be typed after /oper: no operators unless one is set.
        self.moderation = Moderation(self, oper_token, history, clock_ms)
        self._handlers.update(self.moderation.handlers())
        self.access = Access(self, password)

    # What the directory knows

    @property
    def member_count(self) -> int:
        """How many people have joined the server (chosen a nickname)."""
        return len(self._by_nick)

    @property
    def rooms_in_use(self) -> list[Room[Member]]:
        """The rooms with people in them."""
        return [room for room in self._rooms.values() if len(room)]

    def is_joined(self, member: Member) -> bool:
        """True once `member` has chosen a nickname (and until it leaves the server)."""
        return member in self._joined

    def member_called(self, nick: str) -> Member | None:
        """The member with this nickname (compared folded), if anyone has it."""
        return self._by_nick.get(nick_key(nick))

    def members(self) -> list[Member]:
        """Everyone who has joined the server."""
        return list(self._by_nick.values())

    # Connections coming and going

    def greet(self, member: Member) -> None:
        """Say hello to a new connection (it has not chosen a nickname yet)."""
        count = self.member_count
        people = "1 person is" if count == 1 else f"{count} people are"
        self.reply(member, Info(f"Welcome to {self.server_name}! {people} here. "
                                "Type a nickname to join, or /help."))
        self.access.greet(member)

    def connection_lost(self, member: Member) -> None:
        """The connection ended or broke: leave every room, and close once output is sent."""
        self._leave_server(member, PartReason.CONNECTION_LOST)
        self._queue(HangUp(member))

    def say_goodbye(self, member: Member, reason: str) -> None:
        """Send BYE and close, without telling the rooms (at shutdown, or to a non-joiner)."""
        member.stop_reading()
        self._forget(member)
        self.reply(member, Bye(reason))
        self._queue(HangUp(member))

    def cut_off(self, member: Member, reason: str) -> None:
        """Drop a member the server cannot keep (too slow): leave, then BYE if possible."""
        self._leave_server(member, reason)
        member.abort(Bye(reason))

    def send_away(self, member: Member, part_reason: str, bye_reason: str) -> None:
        """Leave every room (the rooms see `part_reason`), say BYE, and close."""
        self._leave_server(member, part_reason)
        self.reply(member, Bye(bye_reason))
        self._queue(HangUp(member))

    # Input

    def handle(self, member: Member, command: Command) -> None:
        """Act on one command from `member`, in its current room."""
        if not self.access.admitted(member) and self.access.handle(member, command):
            return
        self._dispatch(member, command, member.current)

    def _dispatch(self, member: Member, command: Command, room: Room[Member] | None) -> None:
        handler = self._handlers[type(command)]  # looked up first: a bug is not "unknown"
        handler(member, command, room)

    # Commands about a person

    def _hello(self, member: Member, command: StartMachineMode, room: Room | None) -> None:
        # The connection object already switched what it reads; its output switches when
        # this HELLO is delivered, after whatever was queued before it.
        self.reply(member, Hello(self.server_name, str(member.connection.version)))

    def _set_nick(self, member: Member, command: SetNick, room: Room | None) -> None:
        if self.is_joined(member):
            self._rename(member, command.name)
        else:
            self._join_server(member, command.name)

    def _private(self, member: Member, command: SendPrivate, room: Room | None) -> None:
        if not self.require_joined(member):
            return
        recipient = self._by_nick.get(nick_key(command.nick))
        if recipient is None:
            self.error(member, ErrorCode.NO_SUCH_NICK, f"nobody here is called {command.nick}")
            return
        event = PrivateMessage(member.nick, recipient.nick, command.text)  # type: ignore[arg-type]
        self.reply(member, event)
        if recipient is not member:
            self.reply(recipient, event)

    def _quit(self, member: Member, command: Quit, room: Room | None) -> None:
        reason = _own_words(command.reason)
        self._leave_server(member, reason)
        self.reply(member, Bye(reason))
        self._queue(HangUp(member))

    def _ping(self, member: Member, command: Ping, room: Room | None) -> None:
        self.reply(member, Pong(command.token))

    def _help(self, member: Member, command: Help, room: Room | None) -> None:
        self.reply(member, Info("Commands (anything else you type is said to the room):"))
        for spec in commands_of(member.connection.version):
            self.reply(member, Info(f"  {spec.usage:<22} {spec.summary}"))
        self.reply(member, Info("  //text                 say text that starts with /"))

    def _stats(self, member: Member, command: ShowStats, room: Room | None) -> None:
        figures = tuple((key, str(value)) for key, value in self._figures().items())
        self.reply(member, Stats(figures))

    def _password_again(self, member: Member, command: GivePassword, room: Room | None) -> None:
        self.reply(member, Info("no password is needed now"))

    def _unreadable(self, member: Member, command: Unreadable, room: Room | None) -> None:
        self.error(member, command.code, command.text)

    def _unknown(self, member: Member, command: UnknownCommand, room: Room | None) -> None:
        self.error(member, ErrorCode.UNKNOWN_COMMAND,
                    f"there is no command /{command.name}; /help lists them")

    def _bad_args(self, member: Member, command: BadArgs, room: Room | None) -> None:
        self.error(member, ErrorCode.BAD_ARGS, f"usage: {command.usage}")

    # Commands about a room

    def _say(self, member: Member, command: Say, room: Room | None) -> None:
        if member not in self._joined and not member.connection.said_hello:
            self._join_server(member, command.text.strip())  # talker style: a name first
        elif self._may_speak(member, room):
            self.to_room(room, Message(member.nick, command.text))  # type: ignore[arg-type]

    def _say_lines(self, member: Member, command: SayLines, room: Room | None) -> None:
        # The usual run (someone in their room, free to speak) is looked at once and goes
        # out as one item; any other is handled line by line, as it would have been.
        if not self._free_to_speak(member, room):
            for said in command.one_by_one():
                self.handle(member, said)
            return
        said = Message.said_by(member.nick, command.texts)  # type: ignore[arg-type]
        self._queue(Said(room, room.stamp_said(said, self._clock_ms())))

    def _me(self, member: Member, command: Me, room: Room | None) -> None:
        if self._may_speak(member, room):
            self.to_room(room, Action(member.nick, command.text))  # type: ignore[arg-type]

    def _join(self, member: Member, command: JoinRoom, room: Room | None) -> None:
        target = self._maybe_room(member, command.room, create=True)
        if target is not None and self.require_joined(member):
            self._enter(member, target)

    def _part(self, member: Member, command: LeaveRoom, room: Room | None) -> None:
        target, reason = self._part_target(member, command.words, room)
        if target is not None and self.require_room(member, target):
            self.leave_room(member, target, _own_words(reason) or PartReason.LEFT,
                            leaver_hears=True)

    def _list_rooms(self, member: Member, command: ListRooms, room: Room | None) -> None:
        rooms = self.rooms_in_use
        self.reply(member, RoomList(len(rooms)))
        for listed in rooms:
            self.reply(member, RoomListing(listed.name, len(listed), listed.topic_text))

    def _show_topic(self, member: Member, command: ShowTopic, room: Room | None) -> None:
        if not self.require_room(member, room):
            return
        if room.topic is not None:  # type: ignore[union-attr]
            self.reply(member, room.topic)  # type: ignore[union-attr]
        else:
            self.reply(member, Info(f"{room.name} has no topic; /topic TEXT sets one"))  # type: ignore[union-attr]

    def _set_topic(self, member: Member, command: SetTopic, room: Room | None) -> None:
        if self._may_speak(member, room):
            self.to_room(room, Topic(member.nick, command.text))  # type: ignore[arg-type]

    def _who(self, member: Member, command: Who, room: Room | None) -> None:
        if member.connection.version < 2 or command.room is None:
            shown = room or self.default_room  # (a version 1 program has one room)
        else:
            shown = self._maybe_room(member, command.room)
        if shown is not None:
            self.reply(member, self._users_in(shown, member))

    def _in_room(self, member: Member, command: InRoom, room: Room | None) -> None:
        target = self._maybe_room(member, command.room)
        if target is not None and self.require_room(member, target):
            self._dispatch(member, command.command, target)

    def _history(self, member: Member, command: ShowHistory, room: Room | None) -> None:
        target = self._maybe_room(member, command.room)
        if target is not None and self.require_room(member, target):
            self._queue(Replay(member, target, command.direction, command.event_id,
                               command.count))

    # Joining and leaving the server

    def _join_server(self, member: Member, name: str) -> None:
        if not self._nick_available(member, name):
            return
        member.nick = name
        self._by_nick[nick_key(name)] = member
        self._joined.add(member)
        activity.info("%s joined from %s", name, member.address)
        self.reply(member, Welcome(name))
        self._enter(member, self.default_room)

    def _rename(self, member: Member, name: str) -> None:
        old = member.nick
        assert old is not None
        if name == old:
            self.reply(member, Info(f"you are already {name}"))
            return
        if not self._nick_available(member, name):
            return
        del self._by_nick[nick_key(old)]
        self._by_nick[nick_key(name)] = member
        member.nick = name
        activity.info("%s is now %s (%s)", old, name, member.address)
        for room in member.rooms:
            room.forget_rosters()
            self.to_room(room, NickChange(old, name))
        if not member.rooms:
            self.reply(member, Info(f"you are now known as {name}"))

    def _leave_server(self, member: Member, reason: str) -> None:
        member.stop_reading()
        if self.is_joined(member):
            activity.info("%s left from %s (%s)", member.nick, member.address, reason)
        member.current = None  # leaving them all: no CURRENT for a room it leaves next
        for room in list(member.rooms):
            self.leave_room(member, room, reason)
        self._forget(member)

    def _forget(self, member: Member) -> None:
        self.moderation.forget(member)
        self.access.forget(member)
        for room in member.rooms:
            room.remove(member)
        member.rooms.clear()
        member.current = None
        if member in self._joined:
            self._joined.discard(member)
            del self._by_nick[nick_key(member.nick)]  # type: ignore[arg-type]

    def _nick_available(self, member: Member, name: str) -> bool:
        problem = nick_problem(name)
        if problem is not None:
            self.error(member, ErrorCode.BAD_NICK, problem)
            return False
        ban = self.moderation.banned_nick(name)
        if ban is not None:
            self.error(member, ErrorCode.BANNED, f"{name} is banned: {ban.reason}")
            if not self.is_joined(member):  # kept out; someone already in only keeps their name
                self.say_goodbye(member, PartReason.BANNED)
            return False
        holder = self._by_nick.get(nick_key(name))
        if holder is not None and holder is not member:
            self.error(member, ErrorCode.NICK_IN_USE, f"{holder.nick} is already here")
            return False
        return True

    # Joining and leaving rooms

    def _enter(self, member: Member, room: Room[Member]) -> None:
        """Join `room` and make it current (or only make it current, if already in it)."""
        if member in room:
            self._make_current(member, room)
            return
        if len(member.rooms) >= self.max_rooms_per_user:
            self.error(member, ErrorCode.TOO_MANY_ROOMS, f"you can be in at most "
                        f"{self.max_rooms_per_user} rooms at once; /part one first")
            return
        if member.connection.version >= 2:
            self._replay_on_join(member, room)
        room.add(member)
        member.rooms.append(room)
        member.connection.set_in_several_rooms(len(member.rooms) > 1)
        self.reply(member, self._users_in(room, member))
        self.to_room(room, Join(member.nick), joining=member)  # type: ignore[arg-type]
        self._make_current(member, room)
        if not member.connection.said_hello and room.topic is not None:
            self.reply(member, Info(f"Topic of {room.name}: {room.topic_text}"))

    def _replay_on_join(self, member: Member, room: Room[Member]) -> None:
        if self.history_on_join:
            self._queue(Replay(member, room, "latest", None, self.history_on_join))
        else:
            self.reply(member, HistoryEvent(room.name, 0))

    def leave_room(self, member: Member, room: Room[Member], reason: str,
                    leaver_hears: bool = False) -> None:
        room.remove(member)
        member.rooms.remove(room)  # (the audience tells its rendering, after the PART)
        self.to_room(room, Part(member.nick, reason), leaving=member,  # type: ignore[arg-type]
                      leaver_hears=leaver_hears)
        if member.current is room:
            member.current = None
            if member.rooms:
                self._make_current(member, member.rooms[-1])

    def _make_current(self, member: Member, room: Room[Member]) -> None:
        member.current = room
        if member.connection.version >= 2:
            self.reply(member, Current(room.name))

    def _part_target(self, member: Member, words: str,
                     current: Room | None) -> tuple[Room[Member] | None, str]:
        """Which room `/part WORDS` leaves, and why: a first word naming a room you are in
        (with or without its #) is the room; otherwise it is all the reason."""
        first, _, rest = words.partition(" ")
        if first.startswith("#"):
            return self._maybe_room(member, first), rest.strip()
        named = self._rooms.get(room_key(room_name(first))) if first else None
        if named is not None and member in named:
            return named, rest.strip()
        return current, words

    def _room_called(self, typed: str) -> Room[Member]:
        """The room with this (valid) name, made if it is new."""
        name = room_name(typed)
        key = room_key(name)
        room = self._rooms.get(key)
        if room is None:
            room = self._rooms[key] = Room(name)
        return room

    def _maybe_room(self, member: Member, typed: str,
                    create: bool = False) -> Room[Member] | None:
        """The room `typed` names, or None after telling `member` why not. Only a join
        makes a new room (`create`): a room that is only looked at (/who, /part, /in,
        /history) and does not exist is an empty one that is not kept."""
        name = room_name(typed)
        problem = room_problem(name)
        if problem is not None:
            self.error(member, ErrorCode.BAD_ROOM, problem)
            return None
        if create:
            return self._room_called(typed)
        known = self._rooms.get(room_key(name))
        return known if known is not None else Room(name)  # (an empty room is falsy)

    # Output

    def _may_speak(self, member: Member, room: Room[Member] | None) -> bool:
        # Asked for every line said: the usual answer first, in one step, and each check
        # that can say why not only if needed.
        if self._free_to_speak(member, room):
            return True
        return self.require_room(member, room) and self.moderation.may_speak(member, room)  # type: ignore[arg-type]

    def _free_to_speak(self, member: Member, room: Room[Member] | None) -> bool:
        """The usual case, in one step: `member` is in `room` (so it has joined the
        server) and no rule there holds anyone back."""
        return room is not None and member in room and self.moderation.lets_anyone_speak(room)

    def _users_in(self, room: Room[Member], viewer: Member) -> RosterView:
        """USERS for `room` as `viewer` sees it (version 2 marks operators with @), as a
        view of the room's roster, which becomes USERS when delivered (see Roster).

        The roster is not made anew for each joiner, which in a big room would cost the
        whole list each time: a join extends it by the newcomers (those that joined
        since it was made). Any other change to the room's names drops it.
        """
        marks_operators = viewer.connection.version >= 2  # version 1 has no operators
        roster = room.rosters.get(marks_operators)
        newcomers = len(room) - len(roster) if roster is not None else -1
        if newcomers < 0:
            roster = Roster(room.name, self._nicks_of(room, marks_operators))
            room.rosters[marks_operators] = roster
        elif newcomers:
            roster.add(self._nicks_of(room.newest(newcomers), marks_operators))
        return roster.view()

    def _nicks_of(self, members: Iterable[Member], marks_operators: bool) -> tuple[str, ...]:
        if marks_operators:
            return tuple(self.moderation.shown_nick(member) for member in members)
        return tuple(member.nick for member in members)  # type: ignore[misc]

    def require_joined(self, member: Member) -> bool:
        if self.is_joined(member):
            return True
        self.error(member, ErrorCode.NOT_JOINED, "choose a nickname first: /nick NAME")
        return False

    def require_room(self, member: Member, room: Room[Member] | None) -> bool:
        if not self.require_joined(member):
            return False
        if room is not None and member in room:
            return True
        where = f"you are not in {room.name}" if room is not None else "you are in no room"
        self.error(member, ErrorCode.NOT_IN_ROOM, f"{where}; /join ROOM first")
        return False

    def to_room(self, room: Room[Member], event: Event, *, joining: Member | None = None,
                 leaving: Member | None = None, leaver_hears: bool = False) -> None:
        stamped = room.stamp(event, self._clock_ms())
        self._queue(ToRoom(room, stamped, joining, leaving, leaver_hears))

    def error(self, member: Member, code: str, text: str) -> None:
        # Tied to its cause now: by the time it is delivered, the member's connection may
        # be reading a later command (IRC numbers an error by the command it answers).
        self.reply(member, member.connection.with_cause(Error(code, text)))

    def reply(self, member: Member, event: object) -> None:
        self._queue(ToMember(member, event))  # type: ignore[arg-type]

    def _queue(self, item: Outgoing) -> None:
        self.outgoing.append(item)
        if self.has_outgoing.parked:
            self.has_outgoing.wake_all()


_OPERATOR_WORDS = ("kicked by ", "banned by ")


def _own_words(reason: str) -> str:
    """A reason someone gives for leaving, quoted if it would read as an operator's kick
    or ban (`kicked by teacher: ...`), which clients show as what it says it is."""
    return f'"{reason}"' if reason.lower().startswith(_OPERATOR_WORDS) else reason
