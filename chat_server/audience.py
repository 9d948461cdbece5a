"""The audience: who hears room events, and the fan-out that feeds their outboxes.

The broadcaster task hands every item of the room's outgoing queue to `Audience.deliver`,
in order. A room event is encoded once for machine clients and once for people, and the
same bytes object is appended to every outbox: per listener, the work is one deque append.

The audience changes only as the queue says (a JOIN admits, a PART removes), so each
room event reaches exactly the people who were in the room when it happened.
"""

from __future__ import annotations

from typing import Any

from chat_server.room import HangUp, Outgoing, Room, ToMember, ToRoom
from protocol import Bye, Event, PartReason, encode_event, encode_for_people


class Audience:
    """Delivers the room's outgoing items to the connections' outboxes."""

    def __init__(self, room: Room) -> None:
        self.room = room
        self.events_relayed = 0
        self._listeners: dict[Any, None] = {}  # sessions, in join order

    def __len__(self) -> int:
        return len(self._listeners)

    def deliver(self, item: Outgoing) -> None:
        """Carry out one outgoing item."""
        if isinstance(item, ToRoom):
            if item.leaving is not None:
                self._listeners.pop(item.leaving, None)
            if item.joining is not None and not item.joining.hanging_up:
                self._listeners[item.joining] = None  # (unless cut off before its JOIN)
            self._fan_out(item.event)
        elif isinstance(item, ToMember):
            item.member.deliver(item.event)
            self._cut_off_if_too_slow(item.member)
        elif isinstance(item, HangUp):
            self._listeners.pop(item.member, None)
            item.member.hang_up()

    def _fan_out(self, event: Event) -> None:
        self.events_relayed += 1
        for_machines = encode_event(event)
        for_people = encode_for_people(event)
        behind = []
        for listener in self._listeners:
            outbox = listener.outbox
            outbox.put(for_machines if listener.machine else for_people)
            if outbox.too_far_behind:
                behind.append(listener)
        for listener in behind:
            self._cut_off_if_too_slow(listener)

    def _cut_off_if_too_slow(self, listener: Any) -> None:
        """A listener too far behind (see Outbox) leaves the room as `too slow`."""
        if not listener.outbox.too_far_behind:
            return
        self._listeners.pop(listener, None)
        self.room.leave(listener, PartReason.TOO_SLOW)
        listener.abort(Bye(PartReason.TOO_SLOW))
