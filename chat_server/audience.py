"""The audience: who hears room events, and the fan-out that feeds their outboxes.

The broadcaster task hands the room's outgoing queue to `Audience.deliver_all`, which
delivers it in order. A room event is encoded once for machine clients and once for
people, and the same bytes object is appended to every outbox: per listener, the work is
one deque append (and one per batch of events, under load).

The audience changes only as the queue says (a JOIN admits, a PART removes), so each
room event reaches exactly the people who were in the room when it happened.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

from chat_server.room import HangUp, Outgoing, Room, ToMember, ToRoom
from protocol import Event, PartReason, encode_event, encode_for_people


MAX_JOINS_PER_BATCH = 256  # each joiner gets its own tail of the batch: bound that work


class _Lines:
    """A batch of events, encoded once per rendering, and only when someone needs it."""

    def __init__(self, events: list[Event]) -> None:
        self._events = events
        self._encoded: dict[bool, list[bytes]] = {}  # machine? -> one line per event
        self._joined: dict[bool, bytes] = {}  # machine? -> all the lines as one bytes

    def all_for(self, machine: bool) -> bytes:
        """Every line of the batch, in the machine form or the form for people."""
        joined = self._joined.get(machine)
        if joined is None:
            joined = self._joined[machine] = b"".join(self._lines(machine))
        return joined

    def from_index(self, start: int, machine: bool) -> bytes:
        """The lines from event `start` on (what someone who joined there hears)."""
        if start == 0:
            return self.all_for(machine)
        return b"".join(self._lines(machine)[start:])

    def _lines(self, machine: bool) -> list[bytes]:
        lines = self._encoded.get(machine)
        if lines is None:
            encode = encode_event if machine else encode_for_people
            lines = self._encoded[machine] = [encode(event) for event in self._events]
        return lines


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

        Room events go out in batches: the lines of consecutive room events are joined
        into one bytes object per rendering, so under load each listener costs one append
        per batch rather than one per event. Someone who joins during a batch hears it from
        their own JOIN on. Whatever else could change someone's order (a PART, or a reply
        or hang-up for someone listening) ends the batch first, so every order stays exact.
        """
        batch: list[Event] = []
        newcomers: dict[Any, int] = {}  # listeners who joined during the batch -> their JOIN
        while outgoing:
            item = outgoing.popleft()
            if isinstance(item, ToRoom):
                if item.leaving is not None or len(newcomers) == MAX_JOINS_PER_BATCH:
                    self._fan_out(batch, newcomers)
                    batch, newcomers = [], {}
                    self._listeners.pop(item.leaving, None)
                joiner = item.joining
                if joiner is not None and not joiner.hanging_up:  # (not if cut off already)
                    newcomers[joiner] = len(batch)
                    self._listeners[joiner] = None
                batch.append(item.event)
            else:
                if item.member in self._listeners:  # it must hear the batch before this
                    self._fan_out(batch, newcomers)
                    batch, newcomers = [], {}
                self._deliver_to_one(item)
        self._fan_out(batch, newcomers)

    def deliver(self, item: Outgoing) -> None:
        """Carry out one outgoing item."""
        self.deliver_all(deque([item]))

    def _deliver_to_one(self, item: ToMember | HangUp) -> None:
        if isinstance(item, ToMember):
            item.member.deliver(item.event)
            self._cut_off_if_too_slow(item.member)
        else:
            self._listeners.pop(item.member, None)
            item.member.hang_up()

    def _fan_out(self, events: list[Event], newcomers: dict[Any, int]) -> None:
        if not events:
            return
        self.events_relayed += len(events)
        lines = _Lines(events)
        # Newcomers were added last, so the listeners before them heard the whole batch.
        everyone_before = len(self._listeners) - len(newcomers)
        behind = []
        for listener in itertools.islice(self._listeners, everyone_before):
            outbox = listener.outbox
            outbox.put(lines.all_for(listener.machine))
            if outbox.stalled and outbox.too_far_behind:  # `stalled` first: it is cheap
                behind.append(listener)
        for listener, start in newcomers.items():
            listener.outbox.put(lines.from_index(start, listener.machine))
            behind.append(listener)
        for listener in behind:
            self._cut_off_if_too_slow(listener)

    def _cut_off_if_too_slow(self, listener: Any) -> None:
        """A listener too far behind (see Outbox) leaves the room as `too slow`."""
        if not listener.outbox.too_far_behind:
            return
        self._listeners.pop(listener, None)
        self.room.cut_off(listener, PartReason.TOO_SLOW)
