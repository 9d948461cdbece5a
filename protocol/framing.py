"""Framing: turning a stream of bytes into lines of text.

Sans-IO: give it whatever bytes arrived, in pieces of any size, and it hands back what
those bytes completed. It never touches a socket and never looks at a clock.

Rules it keeps (see docs/protocol.md, "Framing"):

- A line ends in LF. A CR right before the LF is dropped. Empty lines are ignored.
- A line longer than the limit before its LF (a CR counts) is reported once, as soon as
  the limit is passed, and everything up to the next LF is thrown away. The framer never
  holds more than the limit of any line, however much arrives without an LF.
- A line that is not valid UTF-8 is reported, not decoded.
- Telnet negotiation (IAC sequences) is removed before anything else sees the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

MAX_LINE_BYTES = 2048
"""The longest line a client may send, in bytes before its LF."""

_IAC = 0xFF  # telnet: "interpret as command"
_SB = 0xFA  # telnet: subnegotiation begins
_SE = 0xF0  # telnet: subnegotiation ends
_WILL_WONT_DO_DONT = range(0xFB, 0xFF)  # telnet: option negotiation, one option byte follows


@dataclass(frozen=True, slots=True)
class Line:
    """A complete, decoded line, without its line ending."""

    text: str


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """A line passed the limit; it is being discarded up to its LF."""

    limit: int


@dataclass(frozen=True, slots=True)
class BadEncoding:
    """A complete line that was not valid UTF-8; it was discarded."""


Framed = Line | LineTooLong | BadEncoding
"""What the framer hands back: a line, or the reason a line was thrown away."""


class LineFramer:
    """Splits a byte stream into `Line`s, with a hard cap on a line's length.

    Two ways to use it: `receive(data)` then `next_framed()` until it returns None, one
    line at a time (the server, which may pause between lines for flood control, so it
    holds only the bytes that came, not a list of every line in them); or `feed(data)`,
    which does both and returns the whole list.
    """

    __slots__ = ("max_line_bytes", "_partial", "_discarding", "_telnet", "_unread",
                 "_position")

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.max_line_bytes = max_line_bytes
        self._partial = bytearray()  # the start of a line whose LF has not arrived
        self._discarding = False  # inside an overlong line, dropping bytes up to its LF
        self._telnet = TelnetFilter()
        self._unread = b""  # bytes received and not framed yet, from `_position` on
        self._position = 0

    @property
    def buffered(self) -> int:
        """How many bytes of an unfinished line the framer holds (never above the limit)."""
        return len(self._partial)

    def feed(self, data: bytes) -> list[Framed]:
        """Take the bytes that arrived; return what they completed, in order."""
        self.receive(data)
        return list(iter(self.next_framed, None))

    def receive(self, data: bytes) -> None:
        """Take the bytes that arrived, to be framed by `next_framed`."""
        data = self._telnet.remove_negotiation(data)
        if self._position < len(self._unread):  # earlier bytes not framed yet: keep them
            data = self._unread[self._position:] + data
        self._unread, self._position = data, 0

    def next_framed(self) -> Framed | None:
        """The next line (or problem) the received bytes complete; None when they are used up."""
        while self._position < len(self._unread):
            unread, start = self._unread, self._position
            end = unread.find(b"\n", start)
            if end < 0:
                self._unread, self._position = b"", 0  # nothing kept but the capped partial
                return self._hold(unread[start:])
            self._position = end + 1
            framed = self._finish_line(unread[start:end])
            if framed is not None:
                return framed
        self._unread, self._position = b"", 0
        return None

    def next_lines_if(self, accept: Callable[[str], str | None], most: int) -> list[str]:
        """What `accept` makes of the next lines' texts (at most `most` of them), for as
        long as each line is complete and good and `accept` takes it (returns a string).
        The first line that is not stays unread: `next_framed` hands it out (or says what
        is wrong with it) as ever.

        For reading ahead: a caller that collects a run of lines of one kind stops at the
        first of another kind without having taken it.
        """
        taken: list[str] = []
        if self._partial or self._discarding:
            return taken  # the next line is not all in `_unread`: `next_framed` joins it
        unread, start, whole_text = self._unread, self._position, self._whole_text
        while len(taken) < most and (end := unread.find(b"\n", start)) >= 0:
            text = whole_text(unread[start:end])
            said = accept(text) if text is not None else None
            if said is None:
                break
            taken.append(said)
            start = end + 1
        self._position = start
        return taken

    def _finish_line(self, piece: bytes) -> Framed | None:
        if self._discarding:  # the LF that ends an overlong line: back to normal
            self._discarding = False
            return None
        if self._partial:
            piece = bytes(self._partial) + piece
            self._partial.clear()
        return self._framed(piece)

    def _framed(self, piece: bytes) -> Framed | None:
        """A whole line's bytes, without the LF: its text, or what is wrong with it (None
        for an empty line)."""
        text = self._whole_text(piece)
        if text is not None:
            return Line(text)
        if len(piece) > self.max_line_bytes:
            return LineTooLong(self.max_line_bytes)
        return BadEncoding() if piece not in (b"", b"\r") else None

    def _whole_text(self, piece: bytes) -> str | None:
        """The text of a whole line's bytes, without its CR; None if it is empty, longer
        than the limit (the CR counts) or not UTF-8."""
        if len(piece) > self.max_line_bytes:
            return None
        if piece.endswith(b"\r"):
            piece = piece[:-1]
        try:
            return piece.decode("utf-8") or None
        except UnicodeDecodeError:
            return None

    def _hold(self, unfinished: bytes) -> Framed | None:
        if self._discarding:
            return None
        if len(self._partial) + len(unfinished) > self.max_line_bytes:
            # Report as soon as the limit is passed, not when the LF finally comes.
            self._partial.clear()
            self._discarding = True
            return LineTooLong(self.max_line_bytes)
        self._partial += unfinished
        return None


_State = Callable[[int, bytearray], "_State"]  # type: ignore[misc]  # recursive alias


class TelnetFilter:
    """Removes telnet IAC sequences from a byte stream, across any split of it.

    Telnet clients open with option negotiation (IAC DO/WILL ...) and may send
    subnegotiations (IAC SB ... IAC SE). None of it is chat text, so all of it goes.
    A lone 0xFF can never be part of UTF-8 text, so treating it as IAC loses nothing.
    """

    __slots__ = ("_state",)

    def __init__(self) -> None:
        self._state: _State = self._data

    def remove_negotiation(self, data: bytes) -> bytes:
        """Return `data` without the telnet sequences in it."""
        if self._state == self._data and _IAC not in data:
            return data  # the common case: plain text, nothing to look at
        kept = bytearray()
        for byte in data:
            self._state = self._state(byte, kept)
        return bytes(kept)

    # Each state takes one byte and returns the next state.

    def _data(self, byte: int, kept: bytearray) -> _State:
        if byte == _IAC:
            return self._command
        kept.append(byte)
        return self._data

    def _command(self, byte: int, kept: bytearray) -> _State:
        if byte in _WILL_WONT_DO_DONT:
            return self._option
        if byte == _SB:
            return self._subnegotiation
        return self._data  # a two-byte command (or IAC IAC): dropped whole

    def _option(self, byte: int, kept: bytearray) -> _State:
        return self._data

    def _subnegotiation(self, byte: int, kept: bytearray) -> _State:
        return self._subnegotiation_iac if byte == _IAC else self._subnegotiation

    def _subnegotiation_iac(self, byte: int, kept: bytearray) -> _State:
        return self._data if byte == _SE else self._subnegotiation
