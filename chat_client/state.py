"""What the client knows: own nickname, the room, the connection, the scrollback.

Plain data and small methods, no UI and no sockets, so every rule here is tested on its own.

`live_stats` is `/stats on|off`; `live_figures` the server's latest figures for the status
bar, None until they come and again whenever the connection is down (old figures from a
lost connection would pass for live ones).

`/ignore` is the client's own: `ignored` holds the nicknames whose messages, actions and
private messages are not shown; it follows their nickname changes. `correspondents` are
the people you exchanged private messages with, the latest first (Tab after `/msg `
offers them first), and `last_private_sender` the one `/reply` answers.

Scrolling is counted in entries from the bottom: `scroll_offset` entries are hidden below
the view. At 0 the pane follows new messages; above 0 it stays where the user put it, and
new conversation lines are counted as unread until the user is back at the bottom.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from protocol import (
    Action, Event, Join, Message, NickChange, Part, PrivateMessage, Users, Welcome, nick_key,
)

from chat_client.figures import Figures
from chat_client.view import CONVERSATION, Entry

SCROLLBACK_LIMIT = 5000
"""Entries kept; older ones are forgotten, so memory and redraws stay bounded."""

MAX_CORRESPONDENTS = 20
"""The people remembered for Tab after `/msg ` (the latest first)."""


class ConnectionState(Enum):
    """Where the connection stands, as the status bar shows it."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    STALLED = "no answer from the server"  # in the room, but the server has gone quiet
    LOST = "connection lost"
    RECONNECTING = "reconnecting"
    REFUSED = "refused:"  # the server turned us away (`refused: the room is full; ...`)
    RECONNECTED = "reconnected"
    CLOSED = "closed"

    @property
    def is_up(self) -> bool:
        """True when the client is in the room and can talk (even to a quiet server)."""
        return self in (ConnectionState.CONNECTED, ConnectionState.RECONNECTED,
                        ConnectionState.STALLED)

    @property
    def is_healthy(self) -> bool:
        """True when the client is in the room and the server answers."""
        return self in (ConnectionState.CONNECTED, ConnectionState.RECONNECTED)


@dataclass
class ClientState:
    """Everything the screen shows, kept up to date by events and the connection."""

    address: str
    nick: str = ""
    server_name: str = ""
    users: list[str] = field(default_factory=list)
    connection: ConnectionState = ConnectionState.CONNECTING
    connection_detail: str = ""
    scroll_offset: int = 0
    unread: int = 0
    live_stats: bool = False
    live_figures: Figures | None = None
    scrollback_limit: int = SCROLLBACK_LIMIT
    ignored: list[str] = field(default_factory=list)
    correspondents: list[str] = field(default_factory=list)
    last_private_sender: str | None = None
    entries: deque[Entry] = field(init=False)

    def __post_init__(self) -> None:
        self.entries = deque(maxlen=self.scrollback_limit)

    # The room

    def apply_event(self, event: Event) -> None:
        """Update the nickname and the list of users from a server event."""
        match event:
            case Welcome(nick):
                self.nick = nick
            case Users(nicks):
                self.users = list(nicks)
            case Join(nick):
                if not self._has_user(nick):
                    self.users.append(nick)
            case Part(nick, _):
                self.users = [user for user in self.users if nick_key(user) != nick_key(nick)]
            case NickChange(old, new):
                self._rename(old, new)
            case PrivateMessage(sender, recipient, _):
                self._corresponded(sender, recipient)

    def _has_user(self, nick: str) -> bool:
        return any(nick_key(user) == nick_key(nick) for user in self.users)

    def _rename(self, old: str, new: str) -> None:
        self.users = _renamed(self.users, old, new)
        self.ignored = _renamed(self.ignored, old, new)  # the person stays ignored
        self.correspondents = _renamed(self.correspondents, old, new)
        if self.last_private_sender is not None and \
                nick_key(self.last_private_sender) == nick_key(old):
            self.last_private_sender = new
        if nick_key(old) == nick_key(self.nick):
            self.nick = new

    def _corresponded(self, sender: str, recipient: str) -> None:
        """Note a private message: the other person becomes the latest correspondent."""
        if nick_key(sender) == nick_key(self.nick):
            other = recipient
        else:
            other = self.last_private_sender = sender
        self.correspondents = [other] + _without(self.correspondents, other)
        del self.correspondents[MAX_CORRESPONDENTS:]

    # /ignore

    def is_ignored(self, nick: str) -> bool:
        """True if `nick` (in any spelling) is ignored."""
        return any(nick_key(ignored) == nick_key(nick) for ignored in self.ignored)

    def ignore(self, nick: str) -> bool:
        """Hide what `nick` says from now on; False if already ignored."""
        if self.is_ignored(nick):
            return False
        self.ignored.append(nick)
        return True

    def unignore(self, nick: str) -> bool:
        """Show what `nick` says again; False if `nick` was not ignored."""
        if not self.is_ignored(nick):
            return False
        self.ignored = _without(self.ignored, nick)
        return True

    def hides(self, event: Event) -> bool:
        """True if `event` is a message, action or private message from an ignored person."""
        match event:
            case Message(nick, _) | Action(nick, _) | PrivateMessage(nick, _, _):
                return self.is_ignored(nick) and nick_key(nick) != nick_key(self.nick)
        return False

    def set_connection(self, connection: ConnectionState, detail: str = "") -> None:
        """Record a change of connection state; while down, no users or figures are known."""
        self.connection = connection
        self.connection_detail = detail
        if not connection.is_up:
            self.users = []
            self.live_figures = None

    # The scrollback

    @property
    def following(self) -> bool:
        """True when the pane shows the newest entries and follows new ones."""
        return self.scroll_offset == 0

    def add_entry(self, entry: Entry) -> None:
        """Append an entry; while scrolled up, keep the view still and count it as unread."""
        self.entries.append(entry)
        if self.following:
            return
        # The new entry is below the view: one more hidden entry, the view does not move.
        self.scroll_offset = min(self.scroll_offset + 1, len(self.entries) - 1)
        if entry.kind in CONVERSATION:
            self.unread += 1

    def clear(self) -> None:
        """Forget the scrollback (`/clear`)."""
        self.entries.clear()
        self.scroll_to_bottom()

    def scroll_up(self, count: int, limit: int | None = None) -> None:
        """Scroll `count` entries back, no further than `limit` (default: the oldest entry)."""
        highest = len(self.entries) - 1 if limit is None else limit
        self.scroll_offset = max(0, min(self.scroll_offset + count, highest))

    def scroll_down(self, count: int) -> None:
        """Scroll `count` entries forward; reaching the bottom follows new messages again."""
        self.scroll_offset = max(0, self.scroll_offset - count)
        if self.following:
            self.unread = 0

    def scroll_to_bottom(self) -> None:
        """Jump to the newest entry and follow new messages again."""
        self.scroll_offset = 0
        self.unread = 0


def _renamed(nicks: list[str], old: str, new: str) -> list[str]:
    return [new if nick_key(nick) == nick_key(old) else nick for nick in nicks]


def _without(nicks: list[str], unwanted: str) -> list[str]:
    return [nick for nick in nicks if nick_key(nick) != nick_key(unwanted)]
