"""Rendering for IRC: our events as IRC lines.

Room events (what the fan-out shares) are rendered by module-level encoders, one per
combination of the capabilities that change their bytes (`server-time`), so that every IRC
connection with the same capabilities shares one encoding. A connection without
`echo-message` must not get its own PRIVMSG back: its bytes depend on who reads them, so
it wraps the shared encoder in `DropOwnLines`, an encoder of its own.

People appear as `nick!nick@lanchat`: addresses are not shown to others, as in the chat.
Text longer than an IRC line allows (our lines hold 2,048 bytes, IRC's 512) is split into
several lines at character boundaries; nothing is cut off.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from protocol.events import (
    Action, AnyEvent, Join, Message, NickChange, Notice, Part, RoomEvent, Topic,
)
from protocol.irc_message import MAX_IRC_LINE, format_line, split_text, tag_string
from protocol.render import render_for_people

USER_HOST = "lanchat"
CTCP = "\x01"
_KICKED = re.compile(r"kicked by (\S+): (.*)", re.DOTALL)
_PARAM_SLACK = 2  # the ":" of the trailing parameter and the space before it


def prefix(nick: str) -> str:
    """How a person is named as the source of a line."""
    return f"{nick}!{nick}@{USER_HOST}"


def server_time(time_ms: int) -> str:
    """An event's time as IRCv3 `server-time` writes it: `2024-05-01T09:12:03.042Z`."""
    seconds, millis = divmod(time_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def text_lines(source: str, command: str, target: str, text: str, tags: str = "",
               wrap: tuple[str, str] = ("", "")) -> bytes:
    """`:source COMMAND target :text`, as many lines as the text needs to fit in 512
    bytes each (`wrap` goes around every piece: CTCP ACTION's markers)."""
    head = len(format_line(command, target, source=source))  # the CRLF is counted too
    budget = MAX_IRC_LINE - head - _PARAM_SLACK - len((wrap[0] + wrap[1]).encode())
    return b"".join(
        format_line(command, target, wrap[0] + piece + wrap[1], source=source, tags=tags,
                    trailing=True)
        for piece in split_text(text, budget)
    )


def room_event_lines(event: RoomEvent, tags: str = "") -> bytes:
    """A room event as the IRC lines everyone in the room receives."""
    room = event.room
    match event.event:
        case Message(nick, text):
            return text_lines(prefix(nick), "PRIVMSG", room, text, tags)
        case Action(nick, text):
            return text_lines(prefix(nick), "PRIVMSG", room, text, tags,
                              (f"{CTCP}ACTION ", CTCP))
        case Join(nick):
            return format_line("JOIN", room, source=prefix(nick), tags=tags)
        case Part(nick, reason):
            kicked = _KICKED.fullmatch(reason)
            if kicked is not None:  # an operator's /kick: IRC has its own line for it
                return format_line("KICK", room, nick, kicked.group(2),
                                   source=prefix(kicked.group(1)), tags=tags, trailing=True)
            return format_line("PART", room, reason, source=prefix(nick), tags=tags,
                               trailing=True)
        case NickChange(old, new):
            return format_line("NICK", new, source=prefix(old), tags=tags)
        case Topic(nick, text):
            return format_line("TOPIC", room, text, source=prefix(nick), tags=tags,
                               trailing=True)
        case Notice(nick, text):
            return text_lines(prefix(nick), "NOTICE", room, text, tags)
    return b""


def encode_plain(event: AnyEvent) -> bytes:
    """The shared encoder of IRC connections without `server-time`."""
    return room_event_lines(event) if isinstance(event, RoomEvent) else b""


def encode_with_time(event: AnyEvent) -> bytes:
    """The shared encoder of IRC connections with `server-time`: each line carries
    `@time=` (the time the event happened on the server)."""
    if not isinstance(event, RoomEvent):
        return b""
    return room_event_lines(event, tag_string([("time", server_time(event.time))]))


def shared_encoder_for(with_time: bool) -> Callable[[AnyEvent], bytes]:
    """The module-level encoder that connections with these capabilities share."""
    return encode_with_time if with_time else encode_plain


class DropOwnLines:
    """An encoder for one connection without `echo-message`: the shared rendering, less
    the lines this connection's own person said (IRC clients show those themselves)."""

    __slots__ = ("nick", "shared")

    def __init__(self, shared: Callable[[AnyEvent], bytes], nick: str | None = None) -> None:
        self.shared = shared
        self.nick = nick

    def __call__(self, event: AnyEvent) -> bytes:
        if isinstance(event, RoomEvent):
            inner = event.event
            if isinstance(inner, NickChange) and inner.old == self.nick:
                self.nick = inner.new  # in rooms, a rename reaches us here first
            elif isinstance(inner, (Message, Action)) and inner.nick == self.nick:
                return b""
        return self.shared(event)


def history_lines(event: RoomEvent, server_name: str, batch: str | None,
                  when: str) -> bytes:
    """A stored event replayed on join: inside a `chathistory` batch with its time as a
    tag (`batch` is the batch's reference), or, for a client without batches, as a
    plain line whose text starts with `when` (`[30 Nov 09:12]`)."""
    inner = event.event
    if batch is not None:
        tags = tag_string([("batch", batch), ("time", server_time(event.time))])
        marker = ""
    else:
        tags, marker = "", f"[{when}] "
    if isinstance(inner, Message):
        return text_lines(prefix(inner.nick), "PRIVMSG", event.room, marker + inner.text, tags)
    if isinstance(inner, Action):
        return text_lines(prefix(inner.nick), "PRIVMSG", event.room, marker + inner.text,
                          tags, (f"{CTCP}ACTION ", CTCP))
    # Joins, parts, renames and topics of the past are told, not replayed as commands:
    # a client would take a replayed JOIN for someone arriving now.
    return text_lines(server_name, "NOTICE", event.room,
                      marker + render_for_people(inner), tags)


def notice_lines(server_name: str, target: str, text: str) -> bytes:
    """A server NOTICE, one per line of `text`."""
    return b"".join(text_lines(server_name, "NOTICE", target, line)
                    for line in text.split("\r\n"))

