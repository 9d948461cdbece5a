"""The chat protocol, versions 1 and 2, without any I/O (sans-IO, the way h11 does HTTP).

Bytes go in and events come out; events go in and bytes come out. Nothing here knows about
sockets or clocks, so the server, the client and the tests all drive the same code.

- `framing`:   bytes -> lines (length cap, CR/LF, UTF-8, telnet bytes)
- `sanitize`:  text -> text that cannot drive a terminal
- `nicknames`: what a nickname may be, and when two are the same
- `rooms`:     what makes a valid room name, and when two are the same
- `command_types`: the command values
- `commands`:  a typed line -> a command value; the table of commands
- `events`:    what the server says, as typed values
- `wire`:      events <-> machine lines (version 1 and version 2)
- `render`:    events -> lines for people
- `connection`: the server's side of one line connection: bytes -> commands, events -> bytes
"""

from protocol.commands import (
    COMMANDS, HISTORY_DEFAULT_COUNT, HISTORY_MAX_COUNT, BadArgs, BanTarget, Command,
    GivePassword, Help, InRoom, JoinRoom, Kick, LeaveRoom, ListBans, ListRooms, Me, Mute,
    Oper, Ping, Quit, Say, SayLines, SendPrivate, SetNick, SetOperator, SetReadOnly, SetSlow,
    SetTopic, ShowHistory, ShowStats, ShowTopic, StartMachineMode, Unban, UnknownCommand, Unmute,
    Unreadable, Who, commands_of, parse_command,
)
from protocol.connection import Encoder, LineConnection, Rendering
from protocol.events import (
    PROTOCOL_VERSION, ROOM_EVENTS, ROOMS_PROTOCOL_VERSION, Action, AnyEvent, Bye, Current,
    Error, ErrorCode, Event, Hello, History, Info, Join, Message, NickChange, Notice, Part,
    PartReason, Pong, PrivateMessage, Replayed, RoomEvent, RoomList, RoomListing, Stats,
    Topic, UnknownEvent, Users, Welcome,
)
from protocol.rooms import (
    DEFAULT_ROOM, MAX_ROOM_NAME_LENGTH, is_valid_room, room_key, room_name, room_problem,
)
from protocol.framing import MAX_LINE_BYTES, BadEncoding, Framed, Line, LineFramer, LineTooLong
from protocol.nicknames import MAX_NICK_LENGTH, is_valid_nick, nick_key, nick_problem
from protocol.render import HUMAN_LINE_END, encode_for_people, render_for_people
from protocol.sanitize import sanitize
from protocol.wire import (
    MalformedEvent, decode_event, decode_room_event_body, encode_event, encode_event_v2,
    event_line, event_line_v2, room_event_body,
)

DEFAULT_PORT = 7777

__all__ = [
    "COMMANDS", "DEFAULT_PORT", "DEFAULT_ROOM", "HISTORY_DEFAULT_COUNT", "HISTORY_MAX_COUNT",
    "HUMAN_LINE_END", "MAX_LINE_BYTES", "MAX_NICK_LENGTH", "MAX_ROOM_NAME_LENGTH",
    "PROTOCOL_VERSION", "ROOMS_PROTOCOL_VERSION", "ROOM_EVENTS",
    "Action", "AnyEvent", "BadArgs", "BadEncoding", "BanTarget", "Bye", "Command",
    "Current", "Encoder", "GivePassword", "Kick", "ListBans", "Mute", "Notice", "Oper",
    "SetOperator", "SetReadOnly", "SetSlow", "Unban", "Unmute",
    "Error", "ErrorCode", "Event", "Framed", "Hello", "Help", "History", "InRoom", "Info",
    "Join", "JoinRoom", "LeaveRoom", "Line", "LineConnection", "LineFramer", "LineTooLong",
    "ListRooms", "MalformedEvent", "Me", "Message", "NickChange", "Part", "PartReason",
    "Ping", "Pong", "PrivateMessage", "Quit", "Rendering", "Replayed", "RoomEvent",
    "RoomList", "RoomListing", "Say", "SayLines", "SendPrivate", "SetNick", "SetTopic",
    "ShowHistory", "ShowStats", "ShowTopic", "StartMachineMode", "Stats", "Topic",
    "UnknownCommand", "UnknownEvent", "Unreadable", "Users", "Welcome", "Who",
    "commands_of", "decode_event", "decode_room_event_body", "encode_event", "encode_event_v2", "encode_for_people",
    "event_line", "event_line_v2", "is_valid_nick", "is_valid_room", "nick_key",
    "nick_problem", "parse_command", "render_for_people", "room_key", "room_name",
    "room_event_body", "room_problem", "sanitize",
]
