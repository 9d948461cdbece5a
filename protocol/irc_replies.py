"""IRC numeric replies: the welcome burst, our error codes as numerics, names, WHO and LIST.

Every function returns the bytes of whole lines from the server `server`, addressed to
`me` (the reader's nickname, or `*` before it has one).
"""

from __future__ import annotations

import re

from protocol.events import ErrorCode
from protocol.irc_message import MAX_IRC_LINE, format_line
from protocol.irc_render import USER_HOST
from protocol.nicknames import MAX_NICK_LENGTH
from protocol.rooms import MAX_ROOM_NAME_LENGTH

SLOW_MODE = "SLOW_MODE"  # the moderation's code for a line refused by slow mode
SUPPORTED = (
    "CHANTYPES=#", f"NICKLEN={MAX_NICK_LENGTH}", f"CHANNELLEN={MAX_ROOM_NAME_LENGTH + 1}",
    "CASEMAPPING=rfc8265", "PREFIX=(o)@", "CHANMODES=b,,,m", "UTF8ONLY",
)

# Our error code -> (numeric, whether a target comes before the text). The target is
# the nick or channel the command that failed named.
_NUMERICS: dict[str, tuple[str, bool]] = {
    ErrorCode.NICK_IN_USE: ("433", True),
    ErrorCode.BAD_NICK: ("432", True),
    ErrorCode.NO_SUCH_NICK: ("401", True),
    ErrorCode.NOT_JOINED: ("451", False),
    ErrorCode.UNKNOWN_COMMAND: ("421", True),
    ErrorCode.BAD_ARGS: ("461", True),
    ErrorCode.LINE_TOO_LONG: ("417", False),
    ErrorCode.BAD_ROOM: ("403", True),
    ErrorCode.NOT_IN_ROOM: ("442", True),
    ErrorCode.TOO_MANY_ROOMS: ("405", True),
    ErrorCode.NOT_OPERATOR: ("482", True),
    ErrorCode.BAD_PASSWORD: ("464", False),
    ErrorCode.BANNED: ("465", False),
    ErrorCode.MUTED: ("404", True),
    ErrorCode.READ_ONLY: ("404", True),
    SLOW_MODE: ("404", True),
}
_CANNOT_SEND = ("PRIVMSG", "NOTICE")


def numeric(server: str, code: str, me: str, *params: str) -> bytes:
    """`:server CODE me params...`, the last parameter as free text."""
    return format_line(code, me, *params, source=server, trailing=True)


def welcome(server: str, network: str, me: str, version: str) -> bytes:
    """001-005 and the message of the day: what a client waits for before it goes on."""
    tokens = (*SUPPORTED, f"NETWORK={network}")
    return b"".join((
        numeric(server, "001", me, f"Welcome to {network}, {me}"),
        numeric(server, "002", me, f"Your host is {server}, running lanchat {version}"),
        numeric(server, "003", me, "This server speaks lanchat's rooms as IRC channels"),
        format_line("004", me, server, f"lanchat-{version}", "i", "bmo", source=server),
        numeric(server, "005", me, *tokens, "are supported by this server"),
        numeric(server, "375", me, f"- {server} Message of the day -"),
        numeric(server, "372", me, "- Rooms are channels. Everyone is in the first room "
                                   "from the start; /join and /part the others."),
        numeric(server, "376", me, "End of /MOTD command."),
    ))


def error_reply(server: str, me: str, code: str, text: str,
                command: str, target: str) -> bytes:
    """One of our ERROR codes as the IRC numeric a client knows (`command` and `target`:
    the IRC command that failed and the nick or channel it named, as far as known)."""
    found = _NUMERICS.get(code)
    if found is None:  # (bad UTF-8, a full server): said, not numbered
        return format_line("NOTICE", me, text, source=server, trailing=True)
    number, with_target = found
    if code == ErrorCode.NOT_IN_ROOM and command in _CANNOT_SEND:
        number = "404"  # IRC: "cannot send to channel", not "not on channel"
    if code == ErrorCode.BAD_ROOM and command == "JOIN":
        number = "479"
    if code == ErrorCode.UNKNOWN_COMMAND:
        target = command
    elif code not in (ErrorCode.NICK_IN_USE, ErrorCode.BAD_NICK):
        # What the text names is what the error is about: preferred to what the command
        # named (a command may name more than the error is about).
        target = _target_named(text) or target
    return numeric(server, number, me, *((target or "*",) if with_target else ()), text)


def _target_named(text: str) -> str | None:
    """The channel or nick an error's text names, if it names one."""
    for pattern in _NAMED:
        found = pattern.search(text)
        if found is not None:
            return found.group(1)
    return None


_NAMED = (re.compile(r"(#[^\s;:,]+)"), re.compile(r"called (\S+)$"),
          re.compile(r"^(\S+) is (?:already here|not in|banned)"))


def names(server: str, me: str, room: str, nicks: tuple[str, ...]) -> bytes:
    """353 lines (as many as needed to stay under 512 bytes) and 366."""
    head = len(numeric(server, "353", me, "=", room, ""))  # its CRLF included
    lines, current, length = [], [], 0  # `length`: bytes of " ".join(current)
    # Counted as it grows, not joined anew per nick: every IRC joiner of a big room is
    # sent every name, and re-joining the line each time made a join storm crawl.
    for nick in nicks:
        size = len(nick.encode())
        if current and head + length + 1 + size > MAX_IRC_LINE:
            lines.append(numeric(server, "353", me, "=", room, " ".join(current)))
            current, length = [], 0
        length += size + 1 if current else size
        current.append(nick)
    if current:
        lines.append(numeric(server, "353", me, "=", room, " ".join(current)))
    lines.append(numeric(server, "366", me, room, "End of /NAMES list"))
    return b"".join(lines)


def who(server: str, me: str, room: str, nicks: tuple[str, ...]) -> bytes:
    """352 for each person in `room` (`@alice`: an operator), then 315."""
    lines = []
    for shown in nicks:
        nick = shown.lstrip("@")
        flags = "H@" if shown.startswith("@") else "H"
        lines.append(numeric(server, "352", me, room, nick, USER_HOST, server, nick, flags,
                             f"0 {nick}"))
    lines.append(numeric(server, "315", me, room, "End of /WHO list"))
    return b"".join(lines)
