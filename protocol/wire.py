"""The machine encoding of events: one event, one LF-terminated UTF-8 line.

`encode_event` and `decode_event` are exact inverses for every valid event. The layout
is read off each event class: its `KIND`, then its fields in order, separated by one
space; when the class `ENDS_WITH_TEXT`, the last field is the rest of the line.
Two events are lists: `USERS` (any number of nicknames) and `STATS` (`key=value` pairs).
"""

from __future__ import annotations

from protocol.events import EVENT_TYPES, Event, Stats, UnknownEvent, Users, field_names

_TYPE_BY_KIND: dict[str, type[Event]] = {cls.KIND: cls for cls in EVENT_TYPES}
_FIELD_COUNT: dict[type[Event], int] = {cls: len(field_names(cls)) for cls in EVENT_TYPES}


class MalformedEvent(ValueError):
    """A line named a known event but its fields did not fit it (the sender's fault)."""


def encode_event(event: Event) -> bytes:
    """The wire form of `event`, LF included."""
    return (event_line(event) + "\n").encode("utf-8")


def event_line(event: Event) -> str:
    """The wire form of `event` as text, without the LF."""
    if isinstance(event, Users):
        return " ".join((Users.KIND, *event.nicks))
    if isinstance(event, Stats):
        return " ".join((Stats.KIND, *(f"{key}={value}" for key, value in event.figures)))
    return " ".join([event.KIND, *[getattr(event, name) for name in field_names(type(event))]])


def decode_event(line: str) -> Event | UnknownEvent:
    """Turn one line (without its line ending) back into an event.

    A line whose kind this version does not know becomes `UnknownEvent`; a known kind with
    fields that do not fit raises `MalformedEvent`.
    """
    kind, _, rest = line.partition(" ")
    cls = _TYPE_BY_KIND.get(kind)
    if cls is None:
        return UnknownEvent(line)
    if cls is Users:
        return Users(tuple(rest.split()))
    if cls is Stats:
        return _decode_stats(rest)
    count = _FIELD_COUNT[cls]
    values = rest.split(" ", count - 1) if count > 1 else [rest]
    if cls.ENDS_WITH_TEXT and len(values) == count - 1:
        values.append("")  # an empty last field may come without its separating space
    if len(values) != count:
        raise MalformedEvent(f"{kind} takes {count} fields: {line!r}")
    try:
        return cls(*values)
    except ValueError as error:
        raise MalformedEvent(str(error)) from None


def _decode_stats(rest: str) -> Stats:
    figures = []
    for pair in rest.split():
        key, equals, value = pair.partition("=")
        if not equals or not key or not value:
            raise MalformedEvent(f"STATS needs key=value pairs, not {pair!r}")
        figures.append((key, value))
    return Stats(tuple(figures))
