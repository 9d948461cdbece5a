"""Windows, irssi style: one per room, each with its own scrollback, people and topic.

Plain data and small methods, no UI and no sockets.

Rules a window keeps:
- Room events carry an id (version 2); a window never holds two entries with the same id,
  so a join's replay, a catch-up after a reconnect and an older page that overlap what
  was already seen show each line once.
- Entries with ids stay in id order: a line fetched later but older than what is shown
  (missed lines after a reconnect, older lines loaded at the top) goes where it belongs.
- Scrolling is counted in entries from the bottom: `scroll_offset` entries are hidden
  below the view. At 0 the pane follows new lines; above 0 it stays where the user put it
  and new conversation lines below the view are counted as `unread`.
- `activity` is what the status bar's `[Act: ...]` says about a window the user is not
  looking at: nothing, new lines (conversation, or an operator's notice), or a line that
  mentions you.
- `modes` are the room's read-only and slow modes as the client knows them (`standing.py`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum

from protocol import nick_key, room_key

from chat_client.standing import RoomModes
from chat_client.view import ACTIVITY, Entry

SCROLLBACK_LIMIT = 5000
"""Entries kept per window; older ones are forgotten, so memory and redraws stay bounded."""


class Activity(IntEnum):
    """What happened in a window since the user last looked at it (higher wins)."""

    NONE = 0
    MESSAGES = 1  # new conversation lines
    MENTION = 2  # a line that names you, or a private message to you


@dataclass
class ChatWindow:
    """One window: a room's lines, people and topic (`room` None: no room yet)."""

    room: str | None = None
    limit: int = SCROLLBACK_LIMIT
    users: list[str] = field(default_factory=list)
    operators: set[str] = field(default_factory=set)  # nick keys shown with `@`
    topic: str = ""
    topic_id: int = -1  # the id of the TOPIC event `topic` came from
    scroll_offset: int = 0
    unread: int = 0
    activity: Activity = Activity.NONE
    last_id: int = 0  # the highest room event id seen here
    missed_after: int | None = None  # at a reconnect: ids above this were missed
    loading_older: bool = False  # a `/history ... before` is out for this window
    history_exhausted: bool = False  # the server has nothing older
    modes: RoomModes = field(default_factory=RoomModes)  # read-only, slow
    entries: deque[Entry] = field(init=False)
    _ids: set[int] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.entries = deque()

    @property
    def key(self) -> str | None:
        """The room's comparison key (None for a window without a room)."""
        return None if self.room is None else room_key(self.room)

    def is_room(self, room: str) -> bool:
        """True if this is `room`'s window (any spelling of it)."""
        return self.room is not None and room_key(self.room) == room_key(room)

    # Ids

    def has_seen(self, event_id: int) -> bool:
        """True if the room event `event_id` is already in this window."""
        return event_id in self._ids

    def note_id(self, event_id: int) -> None:
        """Remember a room event as seen, even if it shows nothing (an ignored person)."""
        self._ids.add(event_id)
        self.last_id = max(self.last_id, event_id)

    @property
    def oldest_id(self) -> int | None:
        """The lowest room event id held, the place to load older lines from."""
        return min(self._ids) if self._ids else None

    def is_missed(self, event_id: int) -> bool:
        """True if `event_id` happened while the client was away (after a reconnect)."""
        return self.missed_after is not None and event_id > self.missed_after

    # Adding lines

    def add(self, entry: Entry, shown: bool) -> None:
        """Add `entry` in its place; `shown` says whether the user is looking at this window."""
        index = self._place_for(entry)
        if len(self.entries) >= self.limit:
            if index == 0:
                return  # older than everything kept: it would be forgotten at once
            self._forget_oldest()
            index -= 1
        if entry.room_id is not None:
            self.note_id(entry.room_id)
        below_view = index > len(self.entries) - 1 - self.scroll_offset
        self.entries.insert(index, entry)
        if below_view and not self.following:  # the view stays still; one more below it
            self.scroll_offset = min(self.scroll_offset + 1, len(self.entries) - 1)
            if entry.kind in ACTIVITY:
                self.unread += 1
        if not shown and entry.kind in ACTIVITY:
            level = Activity.MENTION if entry.mentions_me else Activity.MESSAGES
            self.activity = max(self.activity, level)

    def _place_for(self, entry: Entry) -> int:
        """Where `entry` goes: at the end, or just before the oldest newer room event below
        the last older one (notices in between stay where they were)."""
        index = len(self.entries)
        if entry.room_id is None:
            return index
        for position in range(len(self.entries) - 1, -1, -1):
            other = self.entries[position].room_id
            if other is None:
                continue
            if other < entry.room_id:
                break
            index = position
        return index

    def _forget_oldest(self) -> None:
        forgotten = self.entries.popleft()
        if forgotten.room_id is not None:
            self._ids.discard(forgotten.room_id)

    # People

    def set_users(self, nicks: tuple[str, ...] | list[str]) -> None:
        """The room's people from a USERS list (`@` marks an operator)."""
        self.users = [nick.removeprefix("@") for nick in nicks if nick.removeprefix("@")]
        self.operators = {nick_key(nick[1:]) for nick in nicks if nick.startswith("@")}

    def add_user(self, nick: str) -> None:
        """`nick` joined (listed once, whatever the spelling)."""
        if not any(nick_key(user) == nick_key(nick) for user in self.users):
            self.users.append(nick)

    def remove_user(self, nick: str) -> None:
        """`nick` left."""
        self.users = [user for user in self.users if nick_key(user) != nick_key(nick)]
        self.operators.discard(nick_key(nick))

    def rename_user(self, old: str, new: str) -> None:
        """`old` is now called `new`."""
        self.users = [new if nick_key(user) == nick_key(old) else user for user in self.users]
        if nick_key(old) in self.operators:
            self.operators.discard(nick_key(old))
            self.operators.add(nick_key(new))

    def set_topic(self, text: str, event_id: int) -> None:
        """The topic from a TOPIC event, unless a later one already set it."""
        if event_id >= self.topic_id:
            self.topic, self.topic_id = text, event_id

    # Scrolling

    @property
    def following(self) -> bool:
        """True when the pane shows the newest entries and follows new ones."""
        return self.scroll_offset == 0

    def clear(self) -> None:
        """Forget the lines (`/clear`); the ids seen are kept, so nothing comes back twice."""
        self.entries.clear()
        self.scroll_to_bottom()

    def scroll_up(self, count: int, limit: int | None = None) -> None:
        """Scroll `count` entries back, no further than `limit` (default: the oldest entry)."""
        highest = len(self.entries) - 1 if limit is None else limit
        self.scroll_offset = max(0, min(self.scroll_offset + count, highest))

    def scroll_down(self, count: int) -> None:
        """Scroll `count` entries forward; reaching the bottom follows new lines again."""
        self.scroll_offset = max(0, self.scroll_offset - count)
        if self.following:
            self.unread = 0

    def scroll_to_bottom(self) -> None:
        """Jump to the newest entry and follow new lines again."""
        self.scroll_offset = 0
        self.unread = 0


def activity_list(windows: list[ChatWindow], active: int) -> str:
    """`2,3*`: the numbers of the windows with new lines (`*`: a mention), or ""."""
    marks = {Activity.MESSAGES: "", Activity.MENTION: "*"}
    return ",".join(f"{number}{marks[window.activity]}"
                    for number, window in enumerate(windows, start=1)
                    if number - 1 != active and window.activity is not Activity.NONE)
