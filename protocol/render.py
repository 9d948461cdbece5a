"""Rendering for people: events as lines someone reads in `nc`, `telnet` or PuTTY.

A connection that never sent `/hello` gets every event in this form. It carries the same
information as the machine form, laid out the way IRC users know:

    <alice> hi                       *** bob joined
    * alice waves                    *** bob left (quit)
    *alice* psst (private)           *** alice is now known as al

Lines end in CRLF, so a telnet client in any mode starts each one at the left margin.
"""

from __future__ import annotations

from protocol.events import (
    Action, Bye, Error, Event, Hello, Info, Join, Message, NickChange, Part, Pong,
    PrivateMessage, Stats, Users, Welcome,
)

HUMAN_LINE_END = "\r\n"


def render_for_people(event: Event, viewer: str | None = None) -> str:
    """One event as a line of text for a person, without its line ending.

    `viewer` is the nickname of the person reading, which decides how a private message
    reads (`-> *bob*` to its sender, `*alice*` to its recipient). STATS is the one event
    shown on several lines (a small table), joined by CRLF.
    """
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
        case Users(nicks):
            return f"*** In the room ({len(nicks)}): {', '.join(nicks)}"
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


def encode_for_people(event: Event, viewer: str | None = None) -> bytes:
    """The bytes a person's connection receives for `event`, line ending included."""
    return (render_for_people(event, viewer) + HUMAN_LINE_END).encode("utf-8")
