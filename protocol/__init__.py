"""The chat protocol, version 1, without any I/O (sans-IO, the way h11 does HTTP).

Bytes go in and events come out; events go in and bytes come out. Nothing here knows about
sockets or clocks, so the server, the client and the tests all drive the same code.

- `framing`:   bytes -> lines (length cap, CR/LF, UTF-8, telnet bytes)
- `sanitize`:  text -> text that cannot drive a terminal
- `nicknames`: what a nickname may be, and when two are the same
- `commands`:  a typed line -> a command value; the table of commands
- `events`:    what the server says, as typed values
- `wire`:      events <-> machine lines
- `render`:    events -> lines for people
"""

from protocol.commands import (
    COMMANDS, BadArgs, Command, Help, Me, Ping, Quit, Say, SendPrivate, SetNick,
    ShowStats, StartMachineMode, UnknownCommand, Who, parse_command,
)
from protocol.events import (
    PROTOCOL_VERSION, ROOM_EVENTS, Action, Bye, Error, ErrorCode, Event, Hello, Info, Join,
    Message, NickChange, Part, PartReason, Pong, PrivateMessage, Stats, UnknownEvent, Users,
    Welcome,
)
from protocol.framing import MAX_LINE_BYTES, BadEncoding, Framed, Line, LineFramer, LineTooLong
from protocol.nicknames import MAX_NICK_LENGTH, is_valid_nick, nick_key, nick_problem
from protocol.render import HUMAN_LINE_END, encode_for_people, render_for_people
from protocol.sanitize import sanitize
from protocol.wire import MalformedEvent, decode_event, encode_event, event_line

DEFAULT_PORT = 7777

__all__ = [
    "COMMANDS", "DEFAULT_PORT", "HUMAN_LINE_END", "MAX_LINE_BYTES", "MAX_NICK_LENGTH",
    "PROTOCOL_VERSION", "ROOM_EVENTS",
    "Action", "BadArgs", "BadEncoding", "Bye", "Command", "Error", "ErrorCode", "Event",
    "Framed", "Hello", "Help", "Info", "Join", "Line", "LineFramer", "LineTooLong",
    "MalformedEvent", "Me", "Message", "NickChange", "Part", "PartReason", "Ping", "Pong",
    "PrivateMessage", "Quit", "Say", "SendPrivate", "SetNick", "ShowStats",
    "StartMachineMode", "Stats",
    "UnknownCommand", "UnknownEvent", "Users", "Welcome", "Who",
    "decode_event", "encode_event", "encode_for_people", "event_line", "is_valid_nick",
    "nick_key", "nick_problem", "parse_command", "render_for_people", "sanitize",
]
