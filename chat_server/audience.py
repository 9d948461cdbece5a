"""The audience: who hears each room, and the fan-out that feeds their outboxes.

The broadcaster task hands the directory's outgoing queue to `Audience.deliver_all`,
which carries it out in order. Room events go out in batches: consecutive events of a
room are encoded once per kind of connection (people, v1, v2) and the same bytes object
is appended to every outbox, so under load each listener costs one append per batch.

Stored before seen: a batch is written to the history store (one transaction) before a
single byte of it is queued for anyone, so a server killed at any moment has stored
every event that anyone received. A replay (`Replay`) first stores what came before it,
then reads the store, so it holds exactly the events before it in the one order.

A room's audience changes only as the queue says (a JOIN admits, a PART removes), so
each room event reaches exactly the people who were in the room when it happened.

One member's order: anything queued for one member (a reply, a replay, a hang-up) or a
member leaving a room must come after the room events queued before it. That member
alone is given its share of the pending batches first (`_catch_up`), and the batch notes
how much it heard; everyone else's share still goes out in one piece when the batch is
flushed. (Flushing every batch for everyone instead made a storm of N joiners, each
replied to after its JOIN, cost N flushes of N listeners.)

Sent at once: the last flush of a run lets `Outbox.put` send straight to the sockets of
idle writers (see outbox.py); earlier ones queue and wake the writers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from chat_server.history import History
from chat_server.outgoing import HangUp, Member, Outgoing, Replay, Said, ToMember, ToRoom
from chat_server.rooms import Room
from protocol import Encoder, History as HistoryEvent, PartReason, Replayed, RoomEvent

MAX_JOINS_PER_BATCH = 256  # each joiner gets its own tail of the batch: bound that work


class _Batch:
    """A room's events waiting to go out, encoded once per kind of connection (and only
    when needed), and who has heard how much of them already."""

    __slots__ = ("events", "newcomers", "heard", "_encoded", "_joined")

    def __init__(self) -> None:
        self.events: list[RoomEvent] = []
        self.newcomers: dict[Member, int] = {}  # joiner -> the index of its JOIN
        # member -> how many events it was given early (see Audience._catch_up)
        self.heard: dict[Member, int] = {}
        self._encoded: dict[Encoder, list[bytes]] = {}  # encoder -> one line per event
        self._joined: dict[Encoder, bytes] = {}  # encoder -> all the lines as one bytes

    def add(self, *events: RoomEvent) -> None:
        """More events (after some members may have been given the earlier ones)."""
        self.events.extend(events)
        if self._joined:
            self._joined.clear()  # made before these events: not all the lines any more

    def start_of(self, member: Member) -> int:
        """The first event `member` has not been given: after what it heard early, else
        from its JOIN if it joined during the batch, else from the first."""
        heard = self.heard.get(member)
        return heard if heard is not None else self.newcomers.get(member, 0)

    def all_for(self, encode: Encoder) -> bytes:
        """Every line of the batch, as `encode` renders them (joined once per encoder)."""
        joined = self._joined.get(encode)
        if joined is None:
            joined = self._joined[encode] = b"".join(self._lines(encode))
        return joined

    def from_index(self, start: int, encode: Encoder) -> bytes:
        """The lines from event `start` on."""
        if start == 0:
            return self.all_for(encode)
        return b"".join(self._lines(encode)[start:])

    def forget(self, member: Member) -> None:
        """`member` stopped listening: what it heard or joined at no longer counts."""
        self.heard.pop(member, None)
        self.newcomers.pop(member, None)

    def _lines(self, encode: Encoder) -> list[bytes]:
        # Events may be added after a member was given the first ones (a catch-up): the
        # lines grow with them, each event still encoded once per encoder.
        lines = self._encoded.setdefault(encode, [])
        if len(lines) < len(self.events):
            lines.extend(encode(event) for event in self.events[len(lines):])
        return lines


class Audience:
    """Delivers the outgoing queue to the members' outboxes, room by room."""

    def __init__(self, history: History, cut_off: Callable[[Member, str], None]) -> None:
        self.history = history
        self.events_relayed = 0
        self._cut_off = cut_off  # the directory's: a member too far behind leaves
        self._listeners: dict[Room, dict[Member, None]] = {}  # room -> members, join order
        self._batches: dict[Room, _Batch] = {}  # rooms with events not yet fanned out
        self._unstored: list[tuple[Room, RoomEvent]] = []  # events not yet in the store

    def deliver_all(self, outgoing: deque[Outgoing]) -> None:
        """Carry out every queued item, in order, until the queue is empty.

        Whatever could change one member's order (a reply, a replay, a hang-up, leaving a
        room) first gives that member what the batches hold for it so far (`_catch_up`),
        so every order stays exact while the others' batches go on growing. The last
        flush can cut someone off, which queues its PARTs: those are carried out too,
        since the broadcaster parks afterwards and nothing would wake it for them.
        """
        while outgoing:
            item = outgoing.popleft()
            if isinstance(item, Said):
                self._add_said(item)
            elif isinstance(item, ToRoom):
                self._add_to_batch(item)
            elif isinstance(item, Replay):
                self._catch_up(item.member)  # what came before the replay reaches it first
                self._store_unstored()
                self._replay(item)
            else:
                self._catch_up(item.member)
                self._deliver_to_one(item)
            if not outgoing:
                self.flush(at_once=True)

    def flush(self, at_once: bool = False) -> None:
        """Store every batch, then fan each out to its room.

        `at_once`: the bytes may go straight to idle clients' sockets (`Outbox.put`). The
        last flush of a run does that; one forced earlier (a batch full of joiners) queues
        and wakes the writers, who send once a round.
        """
        self._store_unstored()
        batches, self._batches = self._batches, {}
        for room, batch in batches.items():
            self._fan_out(room, batch, at_once)

    def listener_count(self, room: Room) -> int:
        """How many members hear `room`."""
        return len(self._listeners.get(room, ()))

    # Room events

    def _add_to_batch(self, item: ToRoom) -> None:
        room, leaver = item.room, item.leaving
        if leaver is not None:
            self._catch_up(leaver)
            if not item.leaver_hears:
                self._stop_listening(leaver, room)
                _name_rooms_as_now(leaver)
        batch = self._batch_of(room)
        joiner = item.joining
        if joiner is not None and not joiner.hanging_up:  # (not if cut off already)
            batch.newcomers[joiner] = len(batch.events)
            self._listeners.setdefault(room, {})[joiner] = None
        batch.add(item.event)
        self._unstored.append((room, item.event))
        if leaver is not None and item.leaver_hears:
            self._catch_up(leaver)
            self._stop_listening(leaver, room)
            _name_rooms_as_now(leaver)
        elif len(batch.newcomers) == MAX_JOINS_PER_BATCH:
            self.flush()

    def _add_said(self, item: Said) -> None:
        room, events = item.room, item.events
        self._batch_of(room).add(*events)
        self._unstored.extend([(room, event) for event in events])

    def _batch_of(self, room: Room) -> _Batch:
        batch = self._batches.get(room)
        if batch is None:
            batch = self._batches[room] = _Batch()
        return batch

    def _store_unstored(self) -> None:
        if self._unstored:
            unstored, self._unstored = self._unstored, []
            self.history.keep(unstored)

    def _fan_out(self, room: Room, batch: _Batch, at_once: bool) -> None:
        self.events_relayed += len(batch.events)
        listeners = self._listeners.get(room)
        if not listeners:
            return
        # Newcomers were added last, so the listeners before them hear the whole batch,
        # but for what some were given early (`heard`, usually empty).
        everyone_before = len(listeners) - len(batch.newcomers)
        heard = batch.heard
        behind = []
        for index, listener in enumerate(listeners):
            if index == everyone_before:
                break
            outbox, encode = listener.outbox, listener.connection.shared_encoder
            if heard and listener in heard:
                data = batch.from_index(heard[listener], encode)
            else:
                data = batch.all_for(encode)
            if data:
                outbox.put(data, at_once)
                if outbox.stalled and outbox.too_far_behind:  # `stalled` first: it is cheap
                    behind.append(listener)
        for listener in batch.newcomers:
            data = batch.from_index(batch.start_of(listener), listener.connection.shared_encoder)
            if data:
                listener.outbox.put(data)
            behind.append(listener)
        for listener in behind:
            self._cut_off_if_too_slow(listener)

    def _catch_up(self, member: Member) -> None:
        """Give `member` now what the batches hold for it so far, so that what is queued
        for it next comes after them. The other listeners' share waits for the flush:
        a storm of joiners, each replied to, costs a put per joiner, not per listener."""
        for room, batch in self._batches.items():
            if member not in self._listeners.get(room, ()):
                continue
            start = batch.start_of(member)
            if start < len(batch.events):
                self._store_unstored()  # stored before seen, as in `flush`
                member.outbox.put(batch.from_index(start, member.connection.shared_encoder))
            batch.heard[member] = len(batch.events)

    # Items for one member

    def _replay(self, item: Replay) -> None:
        events = self.history.read(item.room, item.direction, item.event_id, item.count)
        member = item.member
        member.deliver(HistoryEvent(item.room.name, len(events)))
        for event in events:
            member.deliver(Replayed(event))
        self._cut_off_if_too_slow(member)

    def _deliver_to_one(self, item: ToMember | HangUp) -> None:
        if isinstance(item, ToMember):
            item.member.deliver(item.event)
            self._cut_off_if_too_slow(item.member)
        else:
            self._stop_listening_everywhere(item.member)
            item.member.hang_up()

    # Who listens

    def _stop_listening(self, member: Member, room: Room) -> None:
        batch = self._batches.get(room)
        if batch is not None:
            batch.forget(member)
        listeners = self._listeners.get(room)
        if listeners is not None:
            listeners.pop(member, None)
            if not listeners:
                del self._listeners[room]

    def _stop_listening_everywhere(self, member: Member) -> None:
        for room in list(self._listeners):
            self._stop_listening(member, room)

    def _cut_off_if_too_slow(self, member: Member) -> None:
        """A member too far behind (see Outbox) leaves every room as `too slow`."""
        if member.outbox.too_far_behind and not member.hanging_up:
            self._stop_listening_everywhere(member)
            self._cut_off(member, PartReason.TOO_SLOW)


def _name_rooms_as_now(leaver: Member) -> None:
    """Once a PART has gone out, a person's lines name their room only if it is still in
    several. Not sooner: until then it was in several, and whatever was queued before the
    PART, its own PART included, must say which room it is from."""
    leaver.connection.set_in_several_rooms(len(leaver.rooms) > 1)
