"""IRC messages: one line of IRC parsed into its parts, and lines built back from parts.

Sans-IO and stateless. A line is `[@tags] [:source] COMMAND [params...] [:trailing]`
(RFC 1459 and the IRCv3 message-tags specification); it is at most 512 bytes with its
CRLF, not counting the tags. Text that enters the chat from IRC loses IRC's formatting
codes (bold, colours, ...) as well as every control character: line clients would show
them as noise, and the one sanitising rule of the project stays the same for every way in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from protocol.sanitize import sanitize

MAX_IRC_LINE = 512
"""Bytes in an IRC line, CRLF included, tags not included (RFC 1459)."""
MAX_TAG_BYTES = 8191
"""Bytes of tags (with the `@` and the space after them) a client may send (IRCv3)."""
FRAMER_LIMIT = MAX_TAG_BYTES + MAX_IRC_LINE
"""The longest line the framer holds before its LF: tags and a whole IRC line."""
CRLF = b"\r\n"

# IRC formatting: bold, colour (with its numbers), hex colour, reset, monospace, reverse,
# italic, strikethrough, underline.
_FORMATTING = re.compile(
    r"\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)
_TAG_ESCAPES = {";": r"\:", " ": r"\s", "\\": "\\\\", "\r": r"\r", "\n": r"\n"}
_TAG_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}


@dataclass(frozen=True, slots=True)
class IrcMessage:
    """One IRC line, parsed: `command` is upper case; `params` include the trailing one."""

    command: str
    params: tuple[str, ...] = ()
    source: str | None = None
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def body_bytes(self) -> int:
        """How long the line is without its tags (what the 512-byte limit counts)."""
        return len(format_line(self.command, *self.params, source=self.source))


def parse_message(line: str) -> IrcMessage | None:
    """Parse one line without its line ending; None if it holds no command."""
    rest = line
    tags: tuple[tuple[str, str], ...] = ()
    if rest.startswith("@"):
        raw_tags, _, rest = rest[1:].partition(" ")
        tags = _parse_tags(raw_tags)
    rest = rest.lstrip(" ")
    source = None
    if rest.startswith(":"):
        source, _, rest = rest[1:].partition(" ")
    command, _, rest = rest.lstrip(" ").partition(" ")
    if not command:
        return None
    params: list[str] = []
    while rest := rest.lstrip(" "):
        if rest.startswith(":"):
            params.append(rest[1:])
            break
        word, _, rest = rest.partition(" ")
        params.append(word)
    return IrcMessage(command.upper(), tuple(params), source, tags)


def format_line(command: str, *params: str, source: str | None = None,
                tags: str = "", trailing: bool = False) -> bytes:
    """One IRC line with its CRLF. The last parameter gets its `:` when it needs one
    (empty, a space, a leading colon) or when `trailing` asks for it (free text)."""
    parts = [f":{source}"] if source else []
    parts.append(command)
    if params:
        parts.extend(params[:-1])
        last = params[-1]
        if trailing or not last or " " in last or last.startswith(":"):
            last = ":" + last
        parts.append(last)
    line = " ".join(parts)
    if tags:
        line = f"@{tags} {line}"
    return line.encode("utf-8") + CRLF


def tag_string(pairs: list[tuple[str, str]]) -> str:
    """`key=value;key2=value2`, with the values escaped (IRCv3 message-tags)."""
    return ";".join(f"{key}={_escape(value)}" if value else key for key, value in pairs)


def clean_text(text: str) -> str:
    """Text from an IRC client as the chat may relay it: no formatting codes, no controls."""
    return sanitize(_FORMATTING.sub("", text))


def split_text(text: str, budget: int) -> list[str]:
    """`text` in pieces of at most `budget` bytes of UTF-8 each, cut only between
    characters, never losing any (an empty text is one empty piece)."""
    data = text.encode("utf-8")
    if len(data) <= budget:
        return [text]
    budget = max(budget, 4)  # one character of UTF-8 always fits
    pieces = []
    start = 0
    while start < len(data):
        end = min(start + budget, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # inside a character
            end -= 1
        pieces.append(data[start:end].decode("utf-8"))
        start = end
    return pieces


def _escape(value: str) -> str:
    return "".join(_TAG_ESCAPES.get(char, char) for char in value)


def _unescape(value: str) -> str:
    out = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append(_TAG_UNESCAPES.get(following, following))
        else:
            out.append(char)
    return "".join(out)


def _parse_tags(raw: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in raw.split(";"):
        if item:
            key, _, value = item.partition("=")
            pairs.append((key, _unescape(value)))
    return tuple(pairs)
