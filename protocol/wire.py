"""The machine encodings of events: one event, one LF-terminated UTF-8 line.

Two versions share one layout, read off each event class: its `KIND`, then its fields in
order, separated by one space; when the class `ENDS_WITH_TEXT`, the last field is the rest
of the line. Two events are lists: `USERS` (any number of nicknames) and `STATS`
(`key=value` pairs).

Version 2 adds rooms: a room event (`RoomEvent`) puts its room, id and time right after
its kind (`MSG #lobby 42 1764500000000 alice hi`), and `USERS` names its room first.
Version 1 sends the same events without them, so an old client sees exactly what it
always saw.

`encode_event` and `decode_event` are exact inverses for every valid event of a version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from operator import attrgetter
from typing import Any

from protocol.events import (
    EVENT_TYPES, ROOM_EVENTS, V2_EVENT_TYPES, AnyEvent, Event, Info, Notice, Replayed,
    RoomEvent, Stats, Topic, UnknownEvent, Users, field_names,
)

_V1_TYPES: dict[str, type[Event]] = {cls.KIND: cls for cls in EVENT_TYPES}
_V2_TYPES: dict[str, type[Event]] = {cls.KIND: cls for cls in V2_EVENT_TYPES}
_ROOM_EVENT_KINDS = frozenset(cls.KIND for cls in ROOM_EVENTS)
_INT_FIELDS: dict[type[Event], frozenset[str]] = {
    cls: frozenset(f.name for f in fields(cls) if f.type in ("int", int))
    for cls in V2_EVENT_TYPES
}


class MalformedEvent(ValueError):
    """A line named a known event but its fields did not fit it (the sender's fault)."""


# Encoding

def encode_event(event: AnyEvent) -> bytes:
    """The version 1 wire form of `event`, LF included."""
    return (event_line(event) + "\n").encode("utf-8")


def encode_event_v2(event: AnyEvent) -> bytes:
    """The version 2 wire form of `event`, LF included."""
    return (event_line_v2(event) + "\n").encode("utf-8")


def event_line(event: AnyEvent) -> str:
    """The version 1 wire form of `event` as text, without the LF."""
    line_of = _V1_LINES.get(type(event)) or _learn(_V1_LINES, type(event), _v1_line_maker)
    return line_of(event)


def event_line_v2(event: AnyEvent) -> str:
    """The version 2 wire form of `event` as text, without the LF."""
    line_of = _V2_LINES.get(type(event)) or _learn(_V2_LINES, type(event), _v2_line_maker)
    return line_of(event)


# Each class of event has a function that makes its line, chosen the first time one is
# encoded and then found by the event's type: one dictionary lookup for every line said,
# where a chain of isinstance() questions took as long as the line itself (a MSG's v1
# bytes: 0.6 µs with the chain, 0.35 with the lookup).

LineMaker = Callable[[Any], str]  # Any: each one takes only the events of its own class
_V1_LINES: dict[type, LineMaker] = {}
_V2_LINES: dict[type, LineMaker] = {}


def _learn(makers: dict[type, LineMaker], cls: type,
           choose: Callable[[type], LineMaker]) -> LineMaker:
    maker = makers[cls] = choose(cls)
    return maker


def _v1_line_maker(cls: type) -> LineMaker:
    if cls is Replayed:
        return lambda replayed: event_line(replayed.event)
    if cls is RoomEvent:  # version 1 sends a room event without its room, id and time
        return _room_event_v1
    if cls is Users:
        return lambda users: " ".join((Users.KIND, *users.nicks))
    if cls is Stats:
        return lambda stats: " ".join(
            (Stats.KIND, *(f"{key}={value}" for key, value in stats.figures)))
    return _line_template(cls)


def _room_event_v1(stamped: RoomEvent) -> str:
    event = stamped.event
    told_as = _V1_TOLD_AS_INFO.get(type(event))
    return event_line(told_as(event) if told_as is not None else event)


_V1_TOLD_AS_INFO: dict[type, Callable[[Any], Info]] = {
    Topic: lambda topic: Info(f"{topic.nick} set the topic: {topic.text}"),  # no topics in v1
    Notice: lambda notice: Info(f"{notice.nick} {notice.text}"),  # nor operators
}


def _room_event_v2(stamped: RoomEvent) -> str:
    cls = type(stamped.event)
    line_of = _V2_ROOM_LINES.get(cls) or _learn(_V2_ROOM_LINES, cls, _room_line_template)
    return line_of(stamped)


_V2_ROOM_LINES: dict[type, LineMaker] = {}  # by the class of the event in the RoomEvent


def _v2_line_maker(cls: type) -> LineMaker:
    if cls is Replayed:
        return lambda replayed: event_line_v2(replayed.event)
    if cls is RoomEvent:
        return _room_event_v2
    if cls is Users:
        return lambda users: (event_line(users) if users.room is None
                              else " ".join((Users.KIND, users.room, *users.nicks)))
    return _v1_line_maker(cls)


def room_event_body(stamped: RoomEvent) -> str:
    """The line of the event in `stamped` without its room, id and time (`MSG alice hi`),
    for whoever keeps those three apart (the history store: its rows hold them already).
    It is the event's own line, as `event_line` makes it when the event stands alone."""
    return event_line(stamped.event)


# Most events' line is a %-template and a getter of the event's fields: filling them in is
# two calls into C. (str.format with `{0.nick}` would parse its template on every call:
# four times slower.)


def _line_template(cls: type[Event]) -> Callable[[Event], str]:
    """`"MSG %s %s" % (nick, text)`, for an event of `cls`."""
    text, values = cls.KIND + " %s" * len(field_names(cls)), _values_of(cls)
    return lambda event: text % values(event)


def _room_line_template(cls: type[Event]) -> Callable[[RoomEvent], str]:
    """`"MSG %s %s %s %s %s" % (room, id, time, nick, text)`, for a `RoomEvent` holding
    an event of `cls`."""
    text, values = cls.KIND + " %s" * (3 + len(field_names(cls))), _values_of(cls)
    return lambda stamped: text % (_STAMP(stamped) + values(stamped.event))


def _values_of(cls: type[Event]) -> Callable[[Event], tuple[object, ...]]:
    """A getter of the fields of `cls`, in order, always as a tuple."""
    names = field_names(cls)
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda event: (one(event),)
    return lambda event: ()


_STAMP = attrgetter("room", "id", "time")  # what version 2 puts after a room event's kind


# Decoding

def decode_event(line: str, version: int = 1) -> Event | RoomEvent | UnknownEvent:
    """Turn one line (without its line ending) back into an event of `version`.

    A line whose kind the version does not know becomes `UnknownEvent`; a known kind with
    fields that do not fit raises `MalformedEvent`.
    """
    kind, _, rest = line.partition(" ")
    if version >= 2:
        cls = _V2_TYPES.get(kind)
        if cls is not None and kind in _ROOM_EVENT_KINDS:
            return _decode_room_event(cls, rest, line)
        if cls is Users:
            room, _, nicks = rest.partition(" ")
            return _build(Users, [tuple(nicks.split()), room or None], line)
    else:
        cls = _V1_TYPES.get(kind)
    if cls is None:
        return UnknownEvent(line)
    return _decode_fields(cls, rest, line)


def decode_room_event_body(room: str, event_id: int, time: int, body: str) -> RoomEvent:
    """The inverse of `room_event_body`: the room event whose body is `body`, with its
    `room`, id and time given apart. Raises `MalformedEvent` if `body` is not the line of
    a room event of version 2."""
    kind, _, rest = body.partition(" ")
    cls = _V2_TYPES.get(kind)
    if cls is None or kind not in _ROOM_EVENT_KINDS:
        raise MalformedEvent(f"not the line of a room event: {body!r}")
    inner = _decode_fields(cls, rest, body)
    try:
        return RoomEvent(room, event_id, time, inner)
    except ValueError as error:
        raise MalformedEvent(f"{error}: {body!r}") from None


def _decode_room_event(cls: type[Event], rest: str, line: str) -> RoomEvent:
    parts = rest.split(" ", 3)
    if len(parts) < 3:
        raise MalformedEvent(f"{cls.KIND} needs a room, an id and a time: {line!r}")
    room, number, time = parts[:3]
    inner = _decode_fields(cls, parts[3] if len(parts) == 4 else "", line)
    try:
        return RoomEvent(room, _whole_number(number), _whole_number(time), inner)
    except ValueError as error:
        raise MalformedEvent(f"{error}: {line!r}") from None


def _decode_fields(cls: type[Event], rest: str, line: str) -> Event:
    if cls is Users:
        return Users(tuple(rest.split()))
    if cls is Stats:
        return _decode_stats(rest)
    count = len(field_names(cls))
    values: list[object] = rest.split(" ", count - 1) if count > 1 else [rest]
    if cls.ENDS_WITH_TEXT and len(values) == count - 1:
        values.append("")  # an empty last field may come without its separating space
    if len(values) != count:
        raise MalformedEvent(f"{cls.KIND} takes {count} fields: {line!r}")
    return _build(cls, values, line)


def _build(cls: type[Event], values: list[object], line: str) -> Event:
    ints = _INT_FIELDS.get(cls, frozenset())
    try:
        converted = [_whole_number(value) if name in ints else value  # type: ignore[arg-type]
                     for name, value in zip(field_names(cls), values)]
        return cls(*converted)
    except ValueError as error:
        raise MalformedEvent(f"{error}: {line!r}") from None


def _whole_number(text: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"{text!r} is not a whole number")
    return int(text)


def _decode_stats(rest: str) -> Stats:
    figures = []
    for pair in rest.split():
        key, equals, value = pair.partition("=")
        if not equals or not key or not value:
            raise MalformedEvent(f"STATS needs key=value pairs, not {pair!r}")
        figures.append((key, value))
    return Stats(tuple(figures))
