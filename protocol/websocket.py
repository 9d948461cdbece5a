"""Chat lines over WebSocket, without any I/O: the part of a browser connection after the upgrade.

`wsproto` reads the frames (masking, fragments, control frames, UTF-8 of text); the
lines inside them go through a `LineConnection`, so a browser gets exactly the framing
rules of TCP (the 2,048-byte limit, bad UTF-8, sanitising, `/hello`) without a copy of
them. The rules this module adds:

- Each client message (text or binary) is one line: its bytes go to the line framer as
  they arrive, fragment by fragment, and the end of the message is its LF. The framer
  holds at most the line limit, however long the message or however many its fragments.
- Each line the server sends is one text message. Frames from a server are not masked,
  so the same event makes the same bytes for every browser: the fan-out encodes once.
- Pings get one pong per batch of received bytes (RFC 6455 lets us answer only the
  latest), so a ping flood cannot make us owe more than one small frame per read.
- A protocol error (an unmasked frame, bad UTF-8 in a text message, a bad opcode) gets
  a close frame with wsproto's code, and the connection ends.
"""

from __future__ import annotations

import functools
import struct

from wsproto.connection import Connection as WsConnection
from wsproto.connection import ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, Ping
from wsproto.frame_protocol import CloseReason

from protocol.commands import Command
from protocol.connection import Encoder, LineConnection
from protocol.events import AnyEvent, Bye, Error, ErrorCode

_TEXT_FIN = 0x81  # FIN + opcode 1 (text): a whole message in one frame
MAX_CLOSE_REASON = 120  # bytes: a close frame's payload is at most 125, 2 of them the code


def text_frames(lines: bytes) -> bytes:
    """One unmasked text frame per line of `lines` (LF-separated; a final LF is optional)."""
    frames = []
    for line in lines.split(b"\n"):
        line = line.removesuffix(b"\r")
        if line:
            frames.append(_frame_header(len(line)) + line)
    return b"".join(frames)


def _frame_header(length: int) -> bytes:
    # RFC 6455 section 5.2: 7-bit length, or 126 + 16 bits, or 127 + 64 bits.
    if length < 126:
        return bytes((_TEXT_FIN, length))
    if length < 1 << 16:
        return struct.pack("!BBH", _TEXT_FIN, 126, length)
    return struct.pack("!BBQ", _TEXT_FIN, 127, length)


@functools.cache
def framed(encoder: Encoder) -> Encoder:
    """`encoder`, with each line it makes sent as one text message.

    Cached, so every browser with the same rendering has the very same encoder object:
    the fan-out keys its once-per-encoder work on it.
    """
    def encode(event: AnyEvent) -> bytes:
        return text_frames(encoder(event))
    return encode


class WebSocketLines:
    """The line protocol inside one WebSocket: frames in, commands out; events in, frames out."""

    __slots__ = ("lines", "ended", "_ws", "_pong", "_owed")

    def __init__(self, lines: LineConnection) -> None:
        self.lines = lines
        self.ended = False  # closed, or closing: nothing more is read or sent
        self._ws = WsConnection(ConnectionType.SERVER)
        self._pong = b""  # the answer to the latest ping, until it is handed out
        self._owed = bytearray()  # other frames we send by ourselves (close)

    def receive_data(self, data: bytes) -> None:
        """Take bytes from the socket (ignored once the conversation is ending)."""
        if not self.ended:
            self._ws.receive_data(data)

    def next_command(self) -> Command | None:
        """The next line's command, or None when the bytes received are used up."""
        while True:
            command = self.lines.next_command()
            if command is not None or self.ended:
                return command
            event = next(self._ws.events(), None)
            if event is None:
                return None
            self._handle(event)

    def send(self, event: AnyEvent, viewer: str | None) -> bytes:
        """The frames for one event sent to this browser only (BYE also closes)."""
        if self.ended:
            return b""
        data = text_frames(self.lines.send(event, viewer))
        if isinstance(event, Bye):
            data += self._close(CloseReason.NORMAL_CLOSURE, "bye")
        return data

    def data_to_send(self) -> bytes:
        """The pong and close frames owed, once each."""
        data = self._pong + bytes(self._owed)
        self._pong = b""
        self._owed.clear()
        return data

    def _handle(self, event: object) -> None:
        if isinstance(event, Message):
            chunk = event.data if isinstance(event, BytesMessage) else event.data.encode()
            self.lines.receive_data(chunk)
            if event.message_finished:
                self.lines.receive_data(b"\n")
        elif isinstance(event, Ping):
            self._pong = self._ws.send(event.response())
        elif isinstance(event, CloseConnection):
            self._closed_by_peer(event)

    def _closed_by_peer(self, event: CloseConnection) -> None:
        """The peer said goodbye, or broke the protocol (wsproto reports both as a close)."""
        if self._ws.state is ConnectionState.REMOTE_CLOSING:
            self._owed += self._ws.send(event.response())  # the closing handshake
            self.ended = True
            return
        if event.code == CloseReason.INVALID_FRAME_PAYLOAD_DATA:
            # Bad UTF-8 in a text message: say so in the chat's words, as TCP would.
            self._owed += text_frames(self.lines.send(Error(
                ErrorCode.BAD_ENCODING, "that message was not valid UTF-8; closing"), None))
        self._owed += self._close(event.code, event.reason or "protocol error")

    def _close(self, code: int, reason: str) -> bytes:
        self.ended = True
        if self._ws.state is not ConnectionState.OPEN:
            return b""
        short = reason.encode()[:MAX_CLOSE_REASON].decode(errors="ignore")
        return self._ws.send(CloseConnection(code=code, reason=short))
