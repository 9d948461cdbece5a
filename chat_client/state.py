"""What the client knows: own nickname, its windows (one per room), the connection.

Plain data and small methods, no UI and no sockets, so every rule here is tested on its own.

`live_stats` is `/stats on|off`; `live_figures` the server's latest figures for the status
bar, None until they come and again whenever the connection is down (old figures from a
lost connection would pass for live ones).

`/ignore` is the client's own: `ignored` holds the nicknames whose messages, actions and
private messages are not shown; it follows their nickname changes. `correspondents` are
the people you exchanged private messages with, the latest first (Tab after `/msg `
offers them first), and `last_private_sender` the one `/reply` answers.

The windows (see `windows.py`) are numbered from 1 as the user sees them; `active` is the
index of the one shown. Before the first room is joined there is one window without a
room, and the first room takes it over, so window 1 is the first room. `entries`,
`users`, `scroll_offset` and `unread` are the shown window's. `server_current` is the room
the server calls current (CURRENT): plain text typed in another window goes with `/in`.

Version 1 events carry no room: they go to the shown window.

What operators did to you and your rooms (`muted`, each window's `modes`, who is an
operator) follows the signals listed in `standing.py`. `spoken_in` is the room of the
last line sent for a room, so an `ERROR READ_ONLY` or `SLOW_MODE` (which answers it, and
names no room) marks the right window.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from protocol import (
    Action, Error, ErrorCode, Event, Join, Message, NickChange, Notice, Part, PrivateMessage,
    RoomEvent, Topic, Users, Welcome, nick_key, room_key,
)

from chat_client.figures import Figures
from chat_client.standing import Change, RoomModes, read_notice
from chat_client.view import Entry
from chat_client.windows import SCROLLBACK_LIMIT, Activity, ChatWindow

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
    connection: ConnectionState = ConnectionState.CONNECTING
    connection_detail: str = ""
    live_stats: bool = False
    live_figures: Figures | None = None
    scrollback_limit: int = SCROLLBACK_LIMIT
    ignored: list[str] = field(default_factory=list)
    correspondents: list[str] = field(default_factory=list)
    last_private_sender: str | None = None
    server_current: str | None = None  # the server's current room (version 2)
    listed_rooms: list[str] = field(default_factory=list)  # from the last `/rooms` reply
    muted: bool = False  # an operator muted you (see standing.py for when it ends)
    spoken_in: str | None = None  # the room of the last line sent for a room
    windows: list[ChatWindow] = field(init=False)
    active: int = 0

    def __post_init__(self) -> None:
        self.windows = [ChatWindow(limit=self.scrollback_limit)]

    # The windows

    @property
    def window(self) -> ChatWindow:
        """The window shown."""
        return self.windows[self.active]

    def window_of(self, room: str) -> ChatWindow | None:
        """`room`'s window, if there is one."""
        return next((window for window in self.windows if window.is_room(room)), None)

    def window_for(self, room: str) -> ChatWindow:
        """`room`'s window, made if new: the first room takes over the window without one."""
        window = self.window_of(room)
        if window is not None:
            return window
        roomless = next((window for window in self.windows if window.room is None), None)
        if roomless is not None:
            roomless.room = room
            return roomless
        window = ChatWindow(room, limit=self.scrollback_limit)
        self.windows.append(window)
        return window

    def show_window(self, number: int) -> bool:
        """Show window `number` (from 1); False if there is no such window."""
        if not 1 <= number <= len(self.windows):
            return False
        self.active = number - 1
        self.window.activity = Activity.NONE
        return True

    def show_room(self, room: str) -> None:
        """Show `room`'s window, if there is one."""
        window = self.window_of(room)
        if window is not None:
            self.show_window(self.windows.index(window) + 1)

    def close_window(self, room: str) -> None:
        """Forget `room`'s window (it was left); the last window stays, without a room."""
        window = self.window_of(room)
        if window is None:
            return
        if len(self.windows) == 1:
            window.room, window.users, window.topic, window.topic_id = None, [], "", -1
            window.operators, window.modes = set(), RoomModes()
            return
        index = self.windows.index(window)
        del self.windows[index]
        if index < self.active or self.active >= len(self.windows):
            self.active = max(0, self.active - 1)
        self.window.activity = Activity.NONE

    @property
    def rooms(self) -> list[str]:
        """The rooms with a window, in window order."""
        return [window.room for window in self.windows if window.room is not None]

    def known_rooms(self) -> list[str]:
        """Rooms to offer for Tab: yours first, then the others of the last `/rooms`."""
        mine = self.rooms
        keys = {room_key(room) for room in mine}
        return mine + [room for room in self.listed_rooms if room_key(room) not in keys]

    # The shown window's lines and people

    @property
    def entries(self) -> deque[Entry]:
        """The shown window's lines."""
        return self.window.entries

    @property
    def users(self) -> list[str]:
        """The people in the shown window's room."""
        return self.window.users

    @users.setter
    def users(self, nicks: list[str]) -> None:
        self.window.users = list(nicks)

    @property
    def scroll_offset(self) -> int:
        """How many entries of the shown window are hidden below the view."""
        return self.window.scroll_offset

    @scroll_offset.setter
    def scroll_offset(self, offset: int) -> None:
        self.window.scroll_offset = offset

    @property
    def unread(self) -> int:
        """Conversation lines below the view of the shown window."""
        return self.window.unread

    @unread.setter
    def unread(self, count: int) -> None:
        self.window.unread = count

    # Events

    def apply_event(self, event: Event | RoomEvent) -> None:
        """Update the nickname, the people and the topics from a server event."""
        window = self.window
        if isinstance(event, RoomEvent):
            window = self.window_for(event.room)
            if isinstance(event.event, Topic):
                window.set_topic(event.event.text, event.id)
            if isinstance(event.event, Notice):
                self._follow_notice(window, event.event)
            event = event.event
        match event:
            case Welcome(nick):
                self.nick = nick
            case Users(nicks, room):
                (self.window_for(room) if room else window).set_users(nicks)
            case Join(nick):
                window.add_user(nick)
            case Part(nick, _):
                window.remove_user(nick)
            case NickChange(old, new):
                window.rename_user(old, new)
                self._rename(old, new)
            case PrivateMessage(sender, recipient, _):
                self._corresponded(sender, recipient)
            case Message(nick, _) | Action(nick, _) | Topic(nick, _) if self._is_me(nick):
                self.muted = False  # a line of yours went through: no mute (any more)
            case Error(code, _):
                self._refused(code)

    # What operators did (the signals: standing.py)

    @property
    def is_operator(self) -> bool:
        """True if a room you are in lists you as an operator."""
        return any(nick_key(self.nick) in window.operators for window in self.windows)

    def _follow_notice(self, window: ChatWindow, notice: Notice) -> None:
        """A live NOTICE: a mute of yours, an operator more or less, or the room's modes."""
        change = read_notice(notice.nick, notice.text)
        if change is None:
            return
        if change.change in (Change.MUTED, Change.UNMUTED):
            if self._is_me(change.nick):
                self.muted = change.change is Change.MUTED
        elif change.change is Change.OPERATOR:
            window.operators.add(nick_key(change.nick))
        elif change.change is Change.NOT_OPERATOR:
            window.operators.discard(nick_key(change.nick))
        else:
            window.modes.apply(change)

    def _refused(self, code: str) -> None:
        """An error: MUTED marks you muted; READ_ONLY and SLOW_MODE the room you spoke in."""
        if code == ErrorCode.MUTED:
            self.muted = True
            return
        window = self.window_of(self.spoken_in) if self.spoken_in is not None else None
        if window is None:
            return
        if code == ErrorCode.READ_ONLY:
            window.modes.read_only = True
        elif code == ErrorCode.SLOW_MODE:
            window.modes.slow = True

    def _is_me(self, nick: str) -> bool:
        return bool(self.nick) and nick_key(nick) == nick_key(self.nick)

    def _rename(self, old: str, new: str) -> None:
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

    def hides(self, event: Event | RoomEvent) -> bool:
        """True if `event` is a message, action or private message from an ignored person."""
        if isinstance(event, RoomEvent):
            event = event.event
        match event:
            case Message(nick, _) | Action(nick, _) | PrivateMessage(nick, _, _):
                return self.is_ignored(nick) and nick_key(nick) != nick_key(self.nick)
        return False

    def set_connection(self, connection: ConnectionState, detail: str = "") -> None:
        """Record a change of connection state; while down, no people or figures are known."""
        self.connection = connection
        self.connection_detail = detail
        if not connection.is_up:
            self.muted = False  # a mute belongs to a connection
            for window in self.windows:
                window.users, window.operators = [], set()
            self.live_figures = None  # (server_current stays: a reconnect makes it current again)

    # The scrollback (of the shown window, unless another is named)

    @property
    def following(self) -> bool:
        """True when the pane shows the newest entries and follows new ones."""
        return self.window.following

    def add_entry(self, entry: Entry, window: ChatWindow | None = None) -> None:
        """Add an entry to `window` (default: the shown one), noting activity elsewhere."""
        target = window or self.window
        target.add(entry, shown=target is self.window)

    def clear(self) -> None:
        """Forget the shown window's scrollback (`/clear`)."""
        self.window.clear()

    def scroll_up(self, count: int, limit: int | None = None) -> None:
        """Scroll `count` entries back, no further than `limit` (default: the oldest entry)."""
        self.window.scroll_up(count, limit)

    def scroll_down(self, count: int) -> None:
        """Scroll `count` entries forward; reaching the bottom follows new messages again."""
        self.window.scroll_down(count)

    def scroll_to_bottom(self) -> None:
        """Jump to the newest entry and follow new messages again."""
        self.window.scroll_to_bottom()


def _renamed(nicks: list[str], old: str, new: str) -> list[str]:
    return [new if nick_key(nick) == nick_key(old) else nick for nick in nicks]


def _without(nicks: list[str], unwanted: str) -> list[str]:
    return [nick for nick in nicks if nick_key(nick) != nick_key(unwanted)]
