"""The server's side of one line-protocol connection, without any I/O (as h11's `Connection`).

Bytes go in (`receive_data`) and commands come out (`next_command`); events go in
(`send`) and bytes come out. Everything that belongs to the wire lives here: framing,
sanitising, parsing, `/hello`, and which rendering the other end gets:

    people   (nc, telnet: no /hello)   lines to read, every feature of version 2
    v1       (/hello CLIENT 1)         machine events of version 1, exactly as they were
    v2       (/hello CLIENT 2 or more) machine events with rooms, ids and times

The rendering changes when the HELLO event is *sent*, not when `/hello` is read: whatever
was queued before it still reaches the other end in the form it was queued for.
A server task moves bytes between a socket and this object; the chat logic sees only
`Command` values, never bytes or framing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from protocol.commands import (
    BadArgs, Command, Say, SayLines, StartMachineMode, Unreadable, parse_command, said_text,
)
from protocol.events import AnyEvent, Error, ErrorCode, Hello, Welcome
from protocol.framing import MAX_LINE_BYTES, BadEncoding, LineFramer, LineTooLong
from protocol.render import encode_for_people, encode_for_people_in_rooms
from protocol.sanitize import sanitize
from protocol.wire import encode_event, encode_event_v2

LINES_AT_ONCE = 32
"""The most plain lines one `SayLines` holds (as many as a reader hands over in a turn)."""

Encoder = Callable[[AnyEvent], bytes]
"""Turns an event into the bytes one kind of connection receives."""


class Rendering(enum.Enum):
    """What the other end of a connection reads."""

    PEOPLE = "people"
    MACHINE_V1 = "v1"
    MACHINE_V2 = "v2"


class LineConnection:
    """One client's line protocol: bytes -> commands, events -> bytes."""

    __slots__ = ("rendering", "version", "said_hello", "shared_encoder", "_framer",
                 "_in_rooms", "_welcomed")

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.rendering = Rendering.PEOPLE
        self.version = 2  # the commands it may use: people get every feature
        self.said_hello = False  # /hello was read: text before joining is not a nickname
        self.shared_encoder: Encoder = encode_for_people
        """How events shared by many connections are encoded for this one. The fan-out
        encodes each event once per encoder and hands every connection the same bytes."""
        self._framer = LineFramer(max_line_bytes)
        self._in_rooms = False
        self._welcomed = False  # a WELCOME went out: too late to switch renderings

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished line held (never more than the line limit)."""
        return self._framer.buffered

    def receive_data(self, data: bytes) -> None:
        """Take the bytes that arrived; `next_command` hands out what they complete."""
        self._framer.receive(data)

    def next_command(self) -> Command | None:
        """The next command the received bytes complete, or None when they are used up.

        Lines that are blank once control characters are gone are skipped, like empty ones.
        Plain lines that arrived together come out as one `SayLines` (one line alone is a
        `Say`): see `_with_lines_after`.
        """
        while (framed := self._framer.next_framed()) is not None:
            if isinstance(framed, LineTooLong):
                return Unreadable(ErrorCode.LINE_TOO_LONG, f"lines are limited to "
                                  f"{framed.limit} bytes; that one was discarded")
            if isinstance(framed, BadEncoding):
                return Unreadable(ErrorCode.BAD_ENCODING,
                                  "that line was not valid UTF-8 and was discarded")
            text = sanitize(framed.text)
            if text.strip():
                command = self._read_command(text)
                return self._with_lines_after(command) if type(command) is Say else command
        return None

    def send(self, event: AnyEvent, viewer: str | None = None) -> bytes:
        """The bytes for `event` in this connection's rendering (`viewer`: its nickname)."""
        if isinstance(event, Hello):
            self._switch_to_machine(int(event.version))
        elif isinstance(event, Welcome):
            self._welcomed = True
        if self.rendering is Rendering.PEOPLE:
            return encode_for_people(event, viewer, self._in_rooms)
        return self.shared_encoder(event)

    @property
    def machine_encoder(self) -> Encoder | None:
        """The machine encoder whose bytes go on the wire as they are (the socket, or
        TLS, carries them unchanged), None while it is a person's (whose lines are
        rendered for the viewer)."""
        return None if self.rendering is Rendering.PEOPLE else self.shared_encoder

    def data_to_send(self) -> bytes:
        """Bytes the protocol sends by itself, not as a reply to an event (none for lines)."""
        return b""

    def set_in_several_rooms(self, several: bool) -> None:
        """Room events name their room for a person who is in more than one."""
        self._in_rooms = several
        if self.rendering is Rendering.PEOPLE:
            self.shared_encoder = encode_for_people_in_rooms if several else encode_for_people

    def with_cause(self, error: Error) -> Error:
        """`error` as it is: a line client's errors read the same whatever caused them
        (an IRC connection notes the cause: see `IrcConnection.with_cause`)."""
        return error

    def _with_lines_after(self, first: Say) -> Say | SayLines:
        """`first`, and the plain lines right behind it that have arrived, as one command.

        At saturation a read holds many lines, nearly all of them said to the room; one
        command for the run lets the server look once at what is the same for every line
        (who says them, where, whether they may), and costs nothing to a line alone. The
        run stops before anything else (a command, a blank or broken line, an unfinished
        one), which stays unread, and at LINES_AT_ONCE.
        """
        following = self._framer.next_lines_if(_said_text, LINES_AT_ONCE - 1)
        return SayLines((first.text, *following)) if following else first

    def _read_command(self, text: str) -> Command:
        command = parse_command(text, self.version)
        if isinstance(command, StartMachineMode):
            if self._welcomed and not self.said_hello:  # a person, already in: stay one
                return BadArgs("hello", "/hello CLIENT VERSION, before choosing a nickname")
            if not self.said_hello:
                self.said_hello = True
                self.version = _negotiated_version(command.version)
        return command

    def _switch_to_machine(self, version: int) -> None:
        if version >= 2:
            self.rendering, self.shared_encoder = Rendering.MACHINE_V2, encode_event_v2
        else:
            self.rendering, self.shared_encoder = Rendering.MACHINE_V1, encode_event


def _said_text(line: str) -> str | None:
    """What a line says to the room, if it is a plain line that is not blank once sanitised."""
    text = sanitize(line)
    return said_text(text) if text.strip() else None


def _negotiated_version(asked: str) -> int:
    """Version 2 for a client that asks for 2 or more; 1 for anything else it may say.

    `/hello` hands over the rest of the line, so only its first word is the version: a
    trailing blank (`/hello me 2 ` typed in nc) or words after it must not mean version 1.
    """
    words = asked.split()
    number = words[0] if words else ""
    return 2 if number.isascii() and number.isdigit() and int(number) >= 2 else 1
