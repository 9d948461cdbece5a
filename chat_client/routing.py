"""Where each server event goes: which window, live or replayed, and what to ask next.

Version 2 room events name their room, so each goes to that room's window (made when
the room is first heard of); everything else (private messages, notices, errors, the
`/stats` panel) goes to the window shown, where the user is looking. Version 1 events
carry no room and also go to the window shown.

Rules it keeps:
- A room event already in its window (same room, same id) is dropped: join replays,
  catch-ups and older pages overlap.
- Replayed events (inside a `HISTORY` block) are drawn as history (date, time, marker;
  `!` for lines missed while away) and never ring the bell nor change who is in the room.
- `CURRENT ROOM` shows ROOM's window only when the user asked to go there (`/join`), not
  when the client itself rejoins rooms after a reconnect.
- The topic of a room joined is asked for with a silent `/rooms`: replies are matched to
  requests by order, and only the user's own `/rooms` is shown.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from protocol import (
    Current, Event, History, Part, RoomEvent, RoomList, RoomListing, Topic, Users, nick_key,
    room_key,
)

from chat_client.catch_up import CATCH_UP_COUNT, OLDER_PAGE, HistoryBlock, catch_up_line
from chat_client.standing import maybe_put_out, you_left
from chat_client.state import ClientState
from chat_client.view import Entry, EntryKind, render_event, render_notice, render_replayed
from chat_client.windows import ChatWindow

Clock = Callable[[], datetime]
SendLine = Callable[[str], bool]


def local_time(milliseconds: int) -> datetime:
    """A server time (ms since the epoch, UTC) as the local date and time."""
    return datetime.fromtimestamp(milliseconds / 1000)


class EventRouter:
    """Puts server events into the right window and keeps the rooms' state up to date."""

    def __init__(self, state: ClientState, clock: Clock, send_line: SendLine,
                 bell: Callable[[], None]) -> None:
        self._state = state
        self._clock = clock
        self._send_line = send_line
        self._bell = bell
        self._block = HistoryBlock()
        self._room_lists: deque[bool] = deque()  # per `/rooms` out: did the user ask?
        self._showing_list = False  # the listing being received is the user's
        self._to_show: set[str] = set()  # rooms the user joined: show them once current

    # Requests the user makes

    def user_joins(self, room: str) -> None:
        """The user typed `/join room`: show its window once the server makes it current."""
        self._to_show.add(room_key(room))

    def list_rooms(self, asked_by_user: bool) -> bool:
        """Send `/rooms`; the reply is shown only if the user asked. False if not sent."""
        if not self._send_line("/rooms"):
            return False
        self._room_lists.append(asked_by_user)
        return True

    def connection_lost(self) -> None:
        """Replies never come for requests sent on a connection that is gone."""
        self._room_lists.clear()
        self._block = HistoryBlock()
        for window in self._state.windows:
            window.loading_older = False

    # Events

    def route(self, event: Event | RoomEvent) -> None:
        """Show `event` where it belongs and keep the state up to date."""
        match event:
            case RoomEvent():
                self._room_event(event)
            case History(room, count):
                self._block.start(room, count)
                if count == 0:
                    self._block_done()
            case Current(room):
                self._current(room)
            case RoomList(count):
                self._room_list(count)
            case RoomListing():
                self._room_listing(event)
            case Users(_, room) if room is not None:
                self._state.apply_event(event)
                self._add(render_event(event, self._state.nick, self._clock()),
                          self._state.window_for(room))
            case _:
                self._elsewhere(event)

    def _elsewhere(self, event: Event) -> None:
        """An event of no room: to the window shown (rings on a private message to you)."""
        if self._state.hides(event):
            return
        entry = render_event(event, self._state.nick, self._clock())
        self._state.apply_event(event)
        self._add(entry, self._state.window, live=True)

    def _room_event(self, event: RoomEvent) -> None:
        replayed = self._block.take(event)
        window = self._state.window_for(event.room)
        if not window.has_seen(event.id):
            if self._state.hides(event):
                window.note_id(event.id)
            elif replayed:
                self._replayed(event, window)
            else:
                self._live(event, window)
        if replayed and self._block.just_finished:
            self._block_done()

    def _replayed(self, event: RoomEvent, window: ChatWindow) -> None:
        if isinstance(event.event, Topic):
            window.set_topic(event.event.text, event.id)
        entry = render_replayed(event.event, self._state.nick, local_time(event.time),
                                event.id, missed=window.is_missed(event.id))
        if entry is None:
            window.note_id(event.id)
        self._add(entry, window)

    def _live(self, event: RoomEvent, window: ChatWindow) -> None:
        entry = render_event(event.event, self._state.nick, self._clock())
        own_part = event.event if isinstance(event.event, Part) and self._is_me(
            event.event.nick) else None
        self._state.apply_event(event)
        if entry is None:
            window.note_id(event.id)
        self._add(replace(entry, room_id=event.id) if entry else None, window, live=True)
        if own_part is not None:
            self._left(event.room, own_part.reason)

    def _left(self, room: str, reason: str) -> None:
        """You are out of `room`: its window closes; say why where you land (kicked too)."""
        self._state.close_window(room)
        kind = EntryKind.CLIENT if maybe_put_out(reason) is None else EntryKind.ERROR
        self._notice(you_left(room, reason), kind)

    def _block_done(self) -> None:
        """A HISTORY block ended: note an older page's answer; ask for more missed lines."""
        window = self._state.window_of(self._block.room)
        if window is None:
            return
        if window.loading_older:
            window.loading_older = False
            window.history_exhausted = self._block.count < OLDER_PAGE
        if self._block.count >= CATCH_UP_COUNT and window.room is not None:
            self._send_line(catch_up_line(window.room, window.last_id))  # there may be more

    def _current(self, room: str) -> None:
        self._state.server_current = room
        if room_key(room) in self._to_show:
            self._to_show.discard(room_key(room))
            self._state.show_room(room)
        window = self._state.window_of(room)
        if window is not None and window.topic_id < 0 and not self._room_lists:
            self.list_rooms(asked_by_user=False)  # for its topic (one request covers all)

    def _room_list(self, count: int) -> None:
        self._showing_list = self._room_lists.popleft() if self._room_lists else True
        self._state.listed_rooms = []
        if self._showing_list:
            self._notice(f"rooms ({count}): name, people, topic", EntryKind.INFO)

    def _room_listing(self, listing: RoomListing) -> None:
        self._state.listed_rooms.append(listing.room)
        window = self._state.window_of(listing.room)
        if window is not None:
            window.set_topic(listing.topic, max(window.topic_id, window.last_id, 0))
        if self._showing_list:
            self._add(render_event(listing, self._state.nick, self._clock()), self._state.window)

    # Helpers

    def _add(self, entry: Entry | None, window: ChatWindow, live: bool = False) -> None:
        if entry is None:
            return
        self._state.add_entry(entry, window)
        if live and entry.mentions_me:
            self._bell()

    def _notice(self, text: str, kind: EntryKind = EntryKind.CLIENT) -> None:
        self._state.add_entry(render_notice(text, self._clock(), kind))

    def _is_me(self, nick: str) -> bool:
        return nick_key(nick) == nick_key(self._state.nick)
