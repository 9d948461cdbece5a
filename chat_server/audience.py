"""The audience: who hears room events, and the fan-out that feeds their outboxes.

The broadcaster task hands the room's outgoing queue to `Audience.deliver_all`, which
delivers it in order. A room event is encoded once for machine clients and once for
people, and the same bytes object is appended to every outbox: per listener, the work is
one deque append (and one per batch of events, under load).

The audience changes only as the queue says (a JOIN admits, a PART removes), so each
room event reaches exactly the people who were in the room when it happened.
"""

from __future__ import annotations

from collections import deque
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

    def deliver_all(self, outgoing: deque[Outgoing]) -> None:
        """Deliver every queued item, in order, until the queue is empty.

        Room events that follow one another with nobody joining or leaving in between go
        out as one batch: their lines are joined into one bytes object per rendering, so
        under load each listener costs one append per batch rather than one per event.
        Anything else (a reply to one member, a JOIN or PART) ends the batch first, which
        keeps every client's order exact.
        """
        batch: list[Event] = []
        while outgoing:
            item = outgoing.popleft()
            if isinstance(item, ToRoom) and item.joining is None and item.leaving is None:
                batch.append(item.event)
                continue
            self._fan_out(batch)
            batch = []
            if isinstance(item, ToRoom):
                self._change_audience(item)
                batch.append(item.event)
            else:
                self._deliver_to_one(item)
        self._fan_out(batch)

    def deliver(self, item: Outgoing) -> None:
        """Carry out one outgoing item."""
        self.deliver_all(deque([item]))

    def _change_audience(self, item: ToRoom) -> None:
        if item.leaving is not None:
            self._listeners.pop(item.leaving, None)
        if item.joining is not None and not item.joining.hanging_up:
            self._listeners[item.joining] = None  # (unless cut off before its JOIN)

    def _deliver_to_one(self, item: ToMember | HangUp) -> None:
        if isinstance(item, ToMember):
            item.member.deliver(item.event)
            self._cut_off_if_too_slow(item.member)
        else:
            self._listeners.pop(item.member, None)
            item.member.hang_up()

    def _fan_out(self, events: list[Event]) -> None:
        if not events:
            return
        self.events_relayed += len(events)
        for_machines = b"".join(map(encode_event, events))
        for_people = None  # rendered only if somebody without /hello is listening
        behind = []
        for listener in self._listeners:
            outbox = listener.outbox
            if listener.machine:
                outbox.put(for_machines)
            else:
                if for_people is None:
                    for_people = b"".join(map(encode_for_people, events))
                outbox.put(for_people)
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
