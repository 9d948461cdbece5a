"""Events: what the server tells a client, as small typed values.

Each event is a frozen dataclass named for what happened; its `KIND` is the word that
starts its line on the wire (see `protocol.wire` for the encoding, `protocol.render` for
the form shown to people). Events check themselves when they are built, so an event that
exists can always be encoded as exactly one line.

Field rules:
- every field but the last is a word: not empty, no whitespace;
- the last field of the events that carry free text (TEXT, REASON, a ping TOKEN) is the
  rest of the line: it may hold spaces or be empty, but never a line break.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import ClassVar

PROTOCOL_VERSION = "1"
ROOMS_PROTOCOL_VERSION = "2"
"""The first version with rooms, ids and times (see `RoomEvent`)."""


class ErrorCode:
    """The codes an `Error` event may carry."""

    BAD_NICK = "BAD_NICK"
    NICK_IN_USE = "NICK_IN_USE"
    NO_SUCH_NICK = "NO_SUCH_NICK"
    NOT_JOINED = "NOT_JOINED"
    UNKNOWN_COMMAND = "UNKNOWN_COMMAND"
    BAD_ARGS = "BAD_ARGS"
    LINE_TOO_LONG = "LINE_TOO_LONG"
    BAD_ENCODING = "BAD_ENCODING"
    SERVER_FULL = "SERVER_FULL"
    # Version 2
    BAD_ROOM = "BAD_ROOM"
    NOT_IN_ROOM = "NOT_IN_ROOM"
    TOO_MANY_ROOMS = "TOO_MANY_ROOMS"
    NOT_OPERATOR = "NOT_OPERATOR"
    BAD_PASSWORD = "BAD_PASSWORD"
    BANNED = "BANNED"
    MUTED = "MUTED"
    READ_ONLY = "READ_ONLY"
    SLOW_MODE = "SLOW_MODE"  # a line too soon in a slow room (the contract leaves it open)


class PartReason:
    """The reasons the server itself gives when someone leaves the room."""

    QUIT = "quit"
    TOO_SLOW = "too slow"
    CONNECTION_LOST = "connection lost"
    SERVER_SHUTTING_DOWN = "server shutting down"
    SERVER_FULL = "server full"
    LEFT = "left"  # /part without a reason
    BANNED = "banned"
    BAD_PASSWORD = "wrong password"


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all events. `ENDS_WITH_TEXT` marks a last field that is the rest of the line."""

    KIND: ClassVar[str] = ""
    ENDS_WITH_TEXT: ClassVar[bool] = False

    def __post_init__(self) -> None:
        # Runs for every line anyone says, so the per-class work (which fields are words,
        # which one is free text) is looked up once per class, not once per event.
        words, text = _field_checks(type(self))
        for name in words:
            word = getattr(self, name)
            if isinstance(word, str):
                if not _is_word(word):
                    raise ValueError(f"{self.KIND}: {word!r} must be one word with no spaces")
            elif isinstance(word, int) and word < 0:
                raise ValueError(f"{self.KIND}: {word} must not be negative")
        if text is not None:
            value = getattr(self, text)
            if "\n" in value or "\r" in value:
                raise ValueError(f"{self.KIND}: text must not contain a line break")


@dataclass(frozen=True, slots=True)
class Hello(Event):
    """Reply to `/hello`: this connection now gets machine events."""

    server: str
    version: str = PROTOCOL_VERSION
    KIND: ClassVar[str] = "HELLO"


@dataclass(frozen=True, slots=True)
class Welcome(Event):
    """You joined the room as `nick`."""

    nick: str
    KIND: ClassVar[str] = "WELCOME"


@dataclass(frozen=True, slots=True)
class Users(Event):
    """The people in a room, in the order they joined (version 2 names the room)."""

    nicks: tuple[str, ...]
    room: str | None = None
    KIND: ClassVar[str] = "USERS"

    def __post_init__(self) -> None:
        Users._check_room(self.room)
        Users.check_nicks(self.nicks)

    @staticmethod
    def check_nicks(nicks: tuple[str, ...] | list[str]) -> None:
        """Raise ValueError unless each of `nicks` is one word (as USERS needs them)."""
        # One C-speed check for the whole list (it is long in a big room): splitting the
        # joined nicks gives them back unchanged only if none is empty or holds whitespace.
        if " ".join(nicks).split() != list(nicks):
            bad = next(nick for nick in nicks if not _is_word(nick))
            raise ValueError(f"USERS: {bad!r} must be one word with no spaces")

    @classmethod
    def of_checked(cls, nicks: tuple[str, ...], room: str | None = None) -> Users:
        """USERS for `nicks` that were each checked already, with `check_nicks`.

        A server keeps a big room's names, checking each once as it comes, and sends all
        of them to every joiner: checking the whole list again for each joiner would make
        a storm of N joiners cost N² steps.
        """
        Users._check_room(room)
        users = object.__new__(cls)  # a frozen dataclass: fields are set the way
        object.__setattr__(users, "nicks", nicks)  # its generated __init__ sets them
        object.__setattr__(users, "room", room)
        return users

    @staticmethod
    def _check_room(room: str | None) -> None:
        if room is not None and not _is_word(room):
            raise ValueError(f"USERS: {room!r} must be one word with no spaces")


@dataclass(frozen=True, slots=True)
class Join(Event):
    """Room event: `nick` joined."""

    nick: str
    KIND: ClassVar[str] = "JOIN"


@dataclass(frozen=True, slots=True)
class Part(Event):
    """Room event: `nick` left, for `reason`."""

    nick: str
    reason: str
    KIND: ClassVar[str] = "PART"
    ENDS_WITH_TEXT: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class NickChange(Event):
    """Room event: `old` is now called `new`."""

    old: str
    new: str
    KIND: ClassVar[str] = "NICK"


@dataclass(frozen=True, slots=True)
class Message(Event):
    """Room event: `nick` said `text`."""

    nick: str
    text: str
    KIND: ClassVar[str] = "MSG"
    ENDS_WITH_TEXT: ClassVar[bool] = True

    @classmethod
    def said_by(cls, nick: str, texts: Iterable[str]) -> list[Message]:
        """`Message(nick, text)` for each of `texts`, checked as those would be, the nick
        once for all of them.

        A run of lines said at once (`SayLines`) becomes its messages here: 0.21 µs a
        line, where making each with `Message(...)` took 0.65 (its `__init__` sets each
        frozen field through `object.__setattr__`, and its checks look up the class's
        fields every time). The fields are set through their slots' own setters, as
        `RoomEvent.of_checked` does.
        """
        if not _is_word(nick):
            raise ValueError(f"{cls.KIND}: {nick!r} must be one word with no spaces")
        messages = []
        for text in texts:
            if "\n" in text or "\r" in text:
                raise ValueError(f"{cls.KIND}: text must not contain a line break")
            message = object.__new__(cls)
            _SET_NICK(message, nick)
            _SET_TEXT(message, text)
            messages.append(message)
        return messages


_SET_NICK, _SET_TEXT = (vars(Message)[name].__set__ for name in ("nick", "text"))


@dataclass(frozen=True, slots=True)
class Action(Event):
    """Room event: `nick` did `text` (`/me waves`)."""

    nick: str
    text: str
    KIND: ClassVar[str] = "ACTION"
    ENDS_WITH_TEXT: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Topic(Event):
    """Room event (version 2): `nick` set the room's topic to `text`."""

    nick: str
    text: str
    KIND: ClassVar[str] = "TOPIC"
    ENDS_WITH_TEXT: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Notice(Event):
    """Room event (version 2): operator `nick` did something the room should see and
    remember (`muted alice for 5 minutes`, `made the room read-only`)."""

    nick: str
    text: str
    KIND: ClassVar[str] = "NOTICE"
    ENDS_WITH_TEXT: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class PrivateMessage(Event):
    """`sender` said `text` to `recipient` alone; both of them receive it."""

    sender: str
    recipient: str
    text: str
    KIND: ClassVar[str] = "PRIVMSG"
    ENDS_WITH_TEXT: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Info(Event):
    """A notice from the server: the greeting, help lines."""

    text: str
    KIND: ClassVar[str] = "INFO"
    ENDS_WITH_TEXT: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Pong(Event):
    """Reply to `/ping TOKEN`, carrying the token back."""

    token: str
    KIND: ClassVar[str] = "PONG"
    ENDS_WITH_TEXT: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Error(Event):
    """Your last line could not be done: `code` (see `ErrorCode`) says why, `text` explains."""

    code: str
    text: str
    KIND: ClassVar[str] = "ERROR"
    ENDS_WITH_TEXT: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Bye(Event):
    """The server is closing this connection; nothing follows."""

    reason: str
    KIND: ClassVar[str] = "BYE"
    ENDS_WITH_TEXT: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Stats(Event):
    """The server's own figures, in reply to `/stats`: `(key, value)` pairs, in order.

    The keys are documented in docs/protocol.md; a client shows the ones it knows.
    """

    figures: tuple[tuple[str, str], ...]
    KIND: ClassVar[str] = "STATS"

    def __post_init__(self) -> None:
        for key, value in self.figures:
            if not _is_word(key) or "=" in key or not _is_word(value):
                raise ValueError(f"STATS: {key!r}={value!r} must be key=value words")

    def as_dict(self) -> dict[str, str]:
        """The figures as a dictionary."""
        return dict(self.figures)


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """A line whose first word names no event this version knows. Clients ignore it."""

    line: str


@dataclass(frozen=True, slots=True)
class RoomEvent:
    """A room event as version 2 sends it: the room, its id there, and when it happened.

    `event` is one of `ROOM_EVENTS`; `id` increases within the room and is never reused
    (not even across restarts); `time` is the server's clock in milliseconds since the
    Unix epoch, UTC. Version 1 sends `event` alone.
    """

    room: str
    id: int
    time: int
    event: Event

    def __post_init__(self) -> None:
        if not _is_word(self.room):
            raise ValueError(f"{self.room!r}: a room must be one word with no spaces")
        if self.id < 0 or self.time < 0:
            raise ValueError("a room event's id and time must not be negative")
        if not isinstance(self.event, ROOM_EVENTS):
            raise ValueError(f"{type(self.event).__name__} is not a room event")

    @classmethod
    def of_checked(cls, room: str, id: int, time: int, event: Event) -> RoomEvent:
        """The same event as `RoomEvent(room, id, time, event)`, for parts the caller has
        checked already: a room's own name (one word), its next id, a clock's time (both
        not negative), one of `ROOM_EVENTS`.

        A server's room stamps every line said: the checks and the frozen fields' setting
        of `__init__` took 0.74 µs of each, this takes 0.29. It sets the fields through
        their slots' own setters, which a frozen dataclass leaves alone (it refuses
        `stamped.room = ...`, and `object.__setattr__` finds each slot again by name).
        """
        stamped = object.__new__(cls)
        _SET_ROOM(stamped, room)
        _SET_ID(stamped, id)
        _SET_TIME(stamped, time)
        _SET_EVENT(stamped, event)
        return stamped


_SET_ROOM, _SET_ID, _SET_TIME, _SET_EVENT = (
    vars(RoomEvent)[name].__set__ for name in ("room", "id", "time", "event"))


@dataclass(frozen=True, slots=True)
class Replayed:
    """A stored room event sent again (history): machines get its line unchanged, people
    a line marked as history, with its date and time."""

    event: RoomEvent


@dataclass(frozen=True, slots=True)
class History(Event):
    """Version 2: exactly `count` room events of `room` follow, oldest first."""

    room: str
    count: int
    KIND: ClassVar[str] = "HISTORY"


@dataclass(frozen=True, slots=True)
class Current(Event):
    """Version 2: your current room (where plain text goes) is now `room`."""

    room: str
    KIND: ClassVar[str] = "CURRENT"


@dataclass(frozen=True, slots=True)
class RoomList(Event):
    """Version 2, reply to `/rooms`: `count` ROOM lines follow."""

    count: int
    KIND: ClassVar[str] = "ROOMS"


@dataclass(frozen=True, slots=True)
class RoomListing(Event):
    """Version 2: one room of a `/rooms` reply: its name, how many are in it, its topic."""

    room: str
    people: int
    topic: str
    KIND: ClassVar[str] = "ROOM"
    ENDS_WITH_TEXT: ClassVar[bool] = True


ROOM_EVENTS = (Join, Part, NickChange, Message, Action, Topic, Notice)
"""The events that every member of a room receives, in one order (TOPIC, NOTICE: version 2)."""

EVENT_TYPES: tuple[type[Event], ...] = (
    Hello, Welcome, Users, Join, Part, NickChange, Message, Action,
    PrivateMessage, Info, Pong, Error, Bye, Stats,
)
"""The events of version 1."""

V2_EVENT_TYPES: tuple[type[Event], ...] = (
    *EVENT_TYPES, Topic, Notice, History, Current, RoomList, RoomListing,
)
"""The events of version 2 (the room events among them come inside a `RoomEvent`)."""

AnyEvent = Event | RoomEvent | Replayed
"""Whatever the server may send a connection."""


def field_names(cls: type[Event]) -> tuple[str, ...]:
    """The names of an event class's fields, in order (looked up once per class)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(field.name for field in fields(cls))
    return names


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_checks(cls: type[Event]) -> tuple[tuple[str, ...], str | None]:
    """What `Event.__post_init__` checks for `cls`: the fields that must be words, and
    the free-text field, if the class has one (looked up once per class)."""
    checks = _FIELD_CHECKS.get(cls)
    if checks is None:
        names = field_names(cls)
        if cls.ENDS_WITH_TEXT:
            checks = _FIELD_CHECKS[cls] = (names[:-1], names[-1])
        else:
            checks = _FIELD_CHECKS[cls] = (names, None)
    return checks


_FIELD_CHECKS: dict[type, tuple[tuple[str, ...], str | None]] = {}


def _is_word(value: str) -> bool:
    return value.split() == [value]  # not empty, and no whitespace of any kind
