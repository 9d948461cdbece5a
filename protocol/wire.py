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
    if isinstance(event, Replayed):
        event = event.event
    if isinstance(event, RoomEvent):
        event = event.event
        if isinstance(event, Topic):  # version 1 has no topics: tell it as a notice
            event = Info(f"{event.nick} set the topic: {event.text}")
        elif isinstance(event, Notice):  # nor operators
            event = Info(f"{event.nick} {event.text}")
    if isinstance(event, Users):
        return " ".join((Users.KIND, *event.nicks))
    return _plain_line(event)


def event_line_v2(event: AnyEvent) -> str:
    """The version 2 wire form of `event` as text, without the LF."""
    if isinstance(event, Replayed):
        event = event.event
    if isinstance(event, RoomEvent):
        return _room_line_template(type(event.event))(event, event.event)
    if isinstance(event, Users) and event.room is not None:
        return " ".join((Users.KIND, event.room, *event.nicks))
    return event_line(event)


def _plain_line(event: Event) -> str:
    if isinstance(event, Stats):
        return " ".join((Stats.KIND, *(f"{key}={value}" for key, value in event.figures)))
    return _line_template(type(event))(event)


# Each event class's line is a %-template and a getter of its fields, made once per class:
# filling them in is two calls into C for every line said. (str.format with `{0.nick}`
# would parse its template on every call: four times slower.)


def _line_template(cls: type[Event]) -> Callable[[Event], str]:
    """`"MSG %s %s" % (nick, text)`, for an event of `cls`."""
    template = _TEMPLATES.get(cls)
    if template is None:
        text, values = cls.KIND + " %s" * len(field_names(cls)), _values_of(cls)
        template = _TEMPLATES[cls] = lambda event: text % values(event)
    return template


def _room_line_template(cls: type[Event]) -> Callable[[RoomEvent, Event], str]:
    """`"MSG %s %s %s %s %s" % (room, id, time, nick, text)`, for a `RoomEvent` and the
    `cls` event in it."""
    template = _ROOM_TEMPLATES.get(cls)
    if template is None:
        text, values = cls.KIND + " %s" * (3 + len(field_names(cls))), _values_of(cls)
        template = _ROOM_TEMPLATES[cls] = (
            lambda stamped, event: text % (_STAMP(stamped) + values(event)))
    return template


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
_TEMPLATES: dict[type[Event], Callable[[Event], str]] = {}
_ROOM_TEMPLATES: dict[type[Event], Callable[[RoomEvent, Event], str]] = {}


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
