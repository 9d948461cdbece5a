"""Rendering for people: events as lines someone reads in `nc`, `telnet` or PuTTY.

A connection that never sent `/hello` gets every event in this form. It carries the same
information as the machine form, laid out the way IRC users know:

    <alice> hi                       *** bob joined
    * alice waves                    *** bob left (quit)
    *alice* psst (private)           *** alice is now known as al

With rooms (version 2), a person in more than one room sees which room each room line
is from (`[#games] <alice> hi`), and history is set apart with a gutter, the date and the
time, so it cannot be taken for something said now:

    *** History of #lobby: 2 earlier lines
    | 30 Nov 09:12 <alice> good morning
    | 30 Nov 09:13 *** bob joined

Lines end in CRLF, so a telnet client in any mode starts each one at the left margin.
"""

from __future__ import annotations

import time

from protocol.events import (
    Action, AnyEvent, Bye, Current, Error, Event, Hello, History, Info, Join, Message,
    NickChange, Notice, Part, Pong, PrivateMessage, Replayed, RoomEvent, RoomList, RoomListing,
    Stats, Topic, Users, Welcome,
)

HUMAN_LINE_END = "\r\n"


def render_for_people(event: AnyEvent, viewer: str | None = None,
                      show_room: bool = False) -> str:
    """One event as a line of text for a person, without its line ending.

    `viewer` is the nickname of the person reading, which decides how a private message
    reads (`-> *bob*` to its sender, `*alice*` to its recipient). `show_room` puts the
    room in front of each room event (for someone in several rooms). STATS and the
    room list are the events shown on several lines, joined by CRLF.
    """
    if isinstance(event, Replayed):
        return f"| {_date_and_time(event.event.time)} {render_for_people(event.event, viewer, show_room)}"
    if isinstance(event, RoomEvent):
        line = _render_event(event.event, viewer)
        return f"[{event.room}] {line}" if show_room else line
    return _render_event(event, viewer)


def _render_event(event: Event, viewer: str | None) -> str:
    match event:
        case Message(nick, text):
            return f"<{nick}> {text}"
        case Action(nick, text):
            return f"* {nick} {text}"
        case Join(nick):
            return f"*** {nick} joined"
        case Part(nick, reason):
            return f"*** {nick} left ({reason})"
        case NickChange(old, new):
            return f"*** {old} is now known as {new}"
        case PrivateMessage(sender, recipient, text):
            if viewer == sender and viewer != recipient:
                return f"-> *{recipient}* {text}"
            return f"*{sender}* {text}"
        case Welcome(nick):
            return f"*** Welcome, {nick}! Type to talk, /help for commands."
        case Topic(nick, text):
            return f"*** {nick} set the topic: {text}"
        case Notice(nick, text):
            return f"*** {nick} {text}"
        case Users(nicks, room):
            where = room or "the room"
            return f"*** In {where} ({len(nicks)}): {', '.join(nicks)}"
        case History(room, count):
            lines = "1 earlier line" if count == 1 else f"{count} earlier lines"
            return f"*** History of {room}: {lines}"
        case Current(room):
            return f"*** You are now talking in {room}"
        case RoomList(count):
            return f"*** Rooms with people in them: {count}"
        case RoomListing(room, people, topic):
            return f"***   {room}  ({people})  {topic}".rstrip()
        case Info(text):
            return f"*** {text}"
        case Pong(token):
            return f"*** PONG {token}".rstrip()
        case Error(code, text):
            return f"*** Error ({code}): {text}"
        case Bye(reason):
            return f"*** Goodbye: {reason}"
        case Hello(server, version):
            return f"*** {server} speaks protocol {version}"
        case Stats(figures):
            return _stats_table(figures)
    return f"*** {event}"


def _stats_table(figures: tuple[tuple[str, str], ...]) -> str:
    """The figures as a small two-column table, several lines joined by CRLF."""
    width = max((len(key) for key, _ in figures), default=0)
    rows = [f"***   {key.replace('_', ' '):<{width}}  {value}" for key, value in figures]
    return HUMAN_LINE_END.join(["*** Server figures:", *rows])


def _date_and_time(time_ms: int) -> str:
    """`30 Nov 09:12` in the server's local time: when a stored event happened."""
    return time.strftime("%d %b %H:%M", time.localtime(time_ms / 1000))


def encode_for_people(event: AnyEvent, viewer: str | None = None,
                      show_room: bool = False) -> bytes:
    """The bytes a person's connection receives for `event`, line ending included."""
    return (render_for_people(event, viewer, show_room) + HUMAN_LINE_END).encode("utf-8")


def encode_for_people_in_rooms(event: AnyEvent) -> bytes:
    """`encode_for_people` for someone in several rooms: room events name their room."""
    return encode_for_people(event, show_room=True)
