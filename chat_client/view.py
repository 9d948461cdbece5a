"""The view: pure functions from events to formatted text, irssi style.

    14:02 <alice> hi bob                  14:02 --> carol joined
    14:02  * alice waves                  14:02 <-- carol left (quit)
    14:02 *bob* psst (to you)             14:02 --- bob is now known as robert
    14:02 -> *bob* psst (from you)        14:02 -!- a notice from the server
    14:02 -!- teacher made the room read-only: ...   (an operator's NOTICE, its own colour)
    Nov 30 09:15 | <bob> replayed         Nov 30 09:16 ! <bob> missed while away

Rules it keeps:
- Every string that came from the network passes through `protocol.sanitize` here, before
  it becomes a fragment, whatever the server promised: no escape sequence, control
  character or bidi override from the network ever reaches the terminal.
- Each nickname has a colour of its own that never changes: it is picked by a stable hash
  (CRC-32, not Python's salted `hash`) of the nickname's comparison key.
- Nothing here knows about sockets, clocks or the screen; the time is passed in.
- Lines replayed from the room's history carry their date and time and a dim `|`; lines
  missed while away (fetched after a reconnect) a bold `!` instead. Live lines keep the
  short `14:02`.
- A `\n` in an entry is this module's own (clean network text never holds one): the
  `/stats` panel is one entry over several lines.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from prompt_toolkit.styles import Style

from protocol import (
    Action, Bye, Error, Event, Hello, Info, Join, Message, NickChange, Notice, Part, Pong,
    PrivateMessage, RoomListing, Stats, Topic, Users, Welcome, event_line, nick_key,
    sanitize,
)

from chat_client.figures import Figures, panel_lines, panel_rows

Fragments = tuple[tuple[str, str], ...]
"""Formatted text as an immutable tuple of (style, text) pairs, so entries can be cached."""

NICK_COLOURS = (
    "ansired", "ansigreen", "ansiyellow", "ansiblue", "ansimagenta", "ansicyan",
    "ansibrightred", "ansibrightgreen", "ansibrightyellow", "ansibrightblue",
    "ansibrightmagenta", "ansibrightcyan",
)

MAX_SHOWN_CHARACTERS = 4000
"""The most of one network text the pane shows (twice the longest line a client may send)."""

TIMESTAMP_WIDTH = len("14:02 ")
"""Wrapped lines of an entry are indented by this much, so the timestamps stay a column."""

PANEL_INDENT = " " * len("-!- ")
"""The `/stats` panel's lines start under its heading's text, past the `-!-`."""

STYLE = Style.from_dict({
    "timestamp": "ansibrightblack",
    "own": "bold",
    "action": "italic",
    "join": "ansigreen",
    "part": "ansired",
    "nick-change": "ansicyan",
    "private": "ansimagenta bold",
    "info": "ansibrightblack",
    "error": "ansired bold",
    "client": "ansiyellow",
    "notice": "ansibrightmagenta",
    "notice.operator": "ansibrightmagenta bold",
    "stats.heading": "bold",
    "stats.label": "",
    "stats.value": "bold",
    "stats.detail": "ansibrightblack",
    "mention": "reverse bold",
    "status": "reverse",
    "status.connected": "reverse ansigreen",
    "status.trouble": "reverse ansired",
    "status.unread": "reverse bold ansiyellow",
    "status.live": "reverse ansicyan",
    "status.moderated": "reverse bold ansibrightmagenta",
    "prompt": "bold",
    "topic": "ansicyan",
    "replayed": "ansibrightblack",
    "missed": "ansiyellow bold",
    "day": "ansibrightblack bold",
    "topic-bar": "reverse",
    "nicklist": "",
    "nicklist.operator": "bold",
    "status.activity": "reverse bold",
    "status.mention": "reverse bold ansimagenta",
})
"""The style classes the view uses; the application installs this style."""


class EntryKind(Enum):
    """What an entry shows; unread counting and tests look at it."""

    MESSAGE = "message"
    ACTION = "action"
    PRIVATE = "private"
    JOIN = "join"
    PART = "part"
    NICK = "nick"
    INFO = "info"
    ERROR = "error"
    CLIENT = "client"  # something the client itself says: connection state, help
    STATS = "stats"  # the server's figures, as a panel of several lines
    TOPIC = "topic"  # someone set a room's topic
    NOTICE = "notice"  # an operator did something the room sees (NOTICE)


CONVERSATION = frozenset({EntryKind.MESSAGE, EntryKind.ACTION, EntryKind.PRIVATE})
"""The kinds that people say."""

ACTIVITY = CONVERSATION | {EntryKind.NOTICE}
"""The kinds that count as unread below the view, and as activity in another window:
what people say, and what operators do to the room."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of scrollback, rendered and ready to show."""

    kind: EntryKind
    fragments: Fragments
    mentions_me: bool = False  # highlighted, and rings the bell
    room_id: int | None = None  # the room event's id (version 2): for order and duplicates
    day: date | None = None  # the local date it happened: a day separator when it changes

    @property
    def text(self) -> str:
        """The entry as plain text, as it reads on the screen."""
        return "".join(text for _, text in self.fragments)


def clean(text: str) -> str:
    """Network text made safe, and small enough, for the screen.

    `sanitize` removes everything that could drive the terminal; a TAB it keeps would be
    drawn as `^I`, so it becomes a space. Beyond `MAX_SHOWN_CHARACTERS` the text is cut
    and says so: a real server relays lines of at most 2 KiB, and a megabyte-long line from
    a broken one should not stall the screen while it is laid out.
    """
    if len(text) > MAX_SHOWN_CHARACTERS:
        hidden = len(text) - MAX_SHOWN_CHARACTERS
        text = text[:MAX_SHOWN_CHARACTERS] + f" [... {hidden} more characters]"
    return sanitize(text).replace("\t", " ")


def nick_colour(nick: str) -> str:
    """The colour of `nick`: the same in every session, for every spelling of the nick."""
    digest = zlib.crc32(nick_key(nick).encode("utf-8"))
    return NICK_COLOURS[digest % len(NICK_COLOURS)]


def mentions(text: str, nick: str) -> bool:
    """True if `text` names `nick` as a word of its own (`bob:` yes, `bobby` no)."""
    if not nick:
        return False
    key = re.escape(nick_key(nick))
    return re.search(rf"(?<![\w-]){key}(?![\w-])", nick_key(text)) is not None


def render_event(event: Event, own_nick: str, when: datetime) -> Entry | None:
    """The scrollback entry for `event` as `own_nick` sees it, or None if it shows nothing."""
    entry = _render(event, own_nick)
    if entry is None:
        return None
    kind, body, mentions_me = entry
    return _stamp(kind, body, when, mentions_me)


def render_replayed(event: Event, own_nick: str, when: datetime, room_id: int,
                    missed: bool = False) -> Entry | None:
    """A room event from history, with its date and time and a marker (`!`: missed).

    It is dimmed, and never rings: it is not news (a missed mention still stands out).
    """
    entry = _render(event, own_nick)
    if entry is None:
        return None
    kind, body, mentions_me = entry
    marker = ("class:missed", "! ") if missed else ("class:replayed", "| ")
    stamp = ("class:timestamp", when.strftime("%b %d %H:%M") + " ")
    if not missed:
        body = tuple((f"{style} class:replayed", text) for style, text in body)
    if mentions_me:
        body = tuple((f"{style} class:mention", text) for style, text in body)
    return Entry(kind, (stamp, marker, *body), mentions_me, room_id, when.date())


def render_notice(text: str, when: datetime, kind: EntryKind = EntryKind.CLIENT) -> Entry:
    """An entry for something the client itself says (`-!- connection lost ...`)."""
    return _stamp(kind, ((f"class:{kind.value}", f"-!- {clean(text)}"),), when)


def _stamp(kind: EntryKind, body: Fragments, when: datetime, mentions_me: bool = False) -> Entry:
    timestamp = (("class:timestamp", when.strftime("%H:%M") + " "),)
    if mentions_me:
        body = tuple((f"{style} class:mention", text) for style, text in body)
    return Entry(kind, timestamp + body, mentions_me, day=when.date())


_Rendered = tuple[EntryKind, Fragments, bool]


def _render(event: Event, own_nick: str) -> _Rendered | None:
    """The kind, the body (without timestamp) and whether it mentions `own_nick`."""
    match event:
        case Message(nick, text):
            return _said(nick, text, own_nick)
        case Action(nick, text):
            return _acted(nick, text, own_nick)
        case PrivateMessage(sender, recipient, text):
            return _private(sender, recipient, text, own_nick)
        case Join(nick):
            return EntryKind.JOIN, _room("join", "-->", nick, "joined"), False
        case Part(nick, reason):
            return EntryKind.PART, _room("part", "<--", nick, f"left ({clean(reason)})"), False
        case NickChange(old, new):
            return EntryKind.NICK, _renamed(old, new, own_nick), False
        case Stats(figures):
            return EntryKind.STATS, stats_panel(figures), False
        case Topic(nick, text):
            return EntryKind.TOPIC, ((f"fg:{nick_colour(nick)}", f"-!- {clean(nick)}"),
                                     ("class:topic", f" set the topic: {clean(text)}")), False
        case Notice(nick, text):
            return EntryKind.NOTICE, _notice(nick, text), \
                not _is_me(nick, own_nick) and mentions(text, own_nick)
    notice = _notice_text(event)
    if notice is None:
        if not isinstance(event, Event):
            return None
        # An event of the protocol this view has no layout for yet: shown as it came.
        notice = EntryKind.INFO, clean(event_line(event))
    kind, text = notice
    return kind, ((f"class:{kind.value}", f"-!- {text}"),), False


def _notice_text(event: Event) -> tuple[EntryKind, str] | None:
    match event:
        case Welcome(nick):
            return EntryKind.INFO, f"you joined as {clean(nick)}"
        case Users(nicks, room):
            where = clean(room) if room else "the room"
            return EntryKind.INFO, f"in {where} ({len(nicks)}): {', '.join(map(clean, nicks))}"
        case RoomListing(room, people, topic):
            return EntryKind.INFO, f"  {clean(room)}  {people}  {clean(topic)}".rstrip()
        case Info(text):
            return EntryKind.INFO, clean(text)
        case Pong(token):
            return EntryKind.INFO, f"PONG {clean(token)}".rstrip()
        case Error(code, text):
            return EntryKind.ERROR, f"{clean(text)} ({clean(code)})"
        case Bye(reason):
            return EntryKind.ERROR, f"the server closed the connection: {clean(reason)}"
        case Hello(server, _):
            return EntryKind.INFO, f"connected to {clean(server)}"
    return None


def clean_figures(figures: Figures) -> Figures:
    """The server's figures, every key and value cleaned for the screen."""
    return tuple((clean(key), clean(value)) for key, value in figures)


def stats_panel(figures: Figures) -> Fragments:
    """The `/stats` panel (without timestamp): a heading, then one aligned line a figure.

        -!- server figures
            tasks            12 (ready 1 · waiting to receive 6 ·
                                 waiting to send 1 · sleeping 1 · parked 3)
            clients          5 (joined 4)
            ...
    """
    body: list[tuple[str, str]] = [("class:stats.heading", "-!- server figures")]
    for line in panel_lines(panel_rows(clean_figures(figures))):
        body.append(("", "\n" + PANEL_INDENT))
        body += [(f"class:stats.{part}" if part else "", text) for part, text in line]
    return tuple(body)


def _nick(nick: str, own_nick: str) -> tuple[str, str]:
    own = " class:own" if nick_key(nick) == nick_key(own_nick) else ""
    return f"fg:{nick_colour(nick)}{own}", clean(nick)


def _is_me(nick: str, own_nick: str) -> bool:
    return bool(own_nick) and nick_key(nick) == nick_key(own_nick)


def _said(nick: str, text: str, own_nick: str) -> _Rendered:
    body = (("", "<"), _nick(nick, own_nick), ("", "> "), ("", clean(text)))
    return EntryKind.MESSAGE, body, not _is_me(nick, own_nick) and mentions(text, own_nick)


def _acted(nick: str, text: str, own_nick: str) -> _Rendered:
    body = (("class:action", " * "), _nick(nick, own_nick), ("class:action", f" {clean(text)}"))
    return EntryKind.ACTION, body, not _is_me(nick, own_nick) and mentions(text, own_nick)


def _private(sender: str, recipient: str, text: str, own_nick: str) -> _Rendered:
    if _is_me(sender, own_nick) and not _is_me(recipient, own_nick):
        body = (("class:private", "-> *"), _nick(recipient, own_nick),
                ("class:private", "* "), ("", clean(text)))
        return EntryKind.PRIVATE, body, False
    body = (("class:private", "*"), _nick(sender, own_nick), ("class:private", "* "),
            ("", clean(text)))
    # A private message is always meant for you: it rings like a mention.
    return EntryKind.PRIVATE, body, not _is_me(sender, own_nick)


def _notice(operator: str, text: str) -> Fragments:
    """`-!- teacher muted bob for 5 minutes`, in the notices' own colour."""
    return (("class:notice", "-!- "), ("class:notice.operator", clean(operator)),
            ("class:notice", f" {clean(text)}"))


def _room(style: str, arrow: str, nick: str, what: str) -> Fragments:
    return ((f"class:{style}", f"{arrow} "), (f"fg:{nick_colour(nick)}", clean(nick)),
            (f"class:{style}", f" {what}"))


def _renamed(old: str, new: str, own_nick: str) -> Fragments:
    if _is_me(old, own_nick):
        return (("class:nick-change", "--- you are now known as "),
                (f"fg:{nick_colour(new)}", clean(new)))
    return (("class:nick-change", "--- "), (f"fg:{nick_colour(old)}", clean(old)),
            ("class:nick-change", " is now known as "), (f"fg:{nick_colour(new)}", clean(new)))
