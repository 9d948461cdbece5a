"""Tests for the fan-out (audience.py) and the store behind it, without sockets.

The same harness as test_directory.py: a real `Directory`, `Audience` and `History`,
members with a real `LineConnection` and `Outbox`. Here the questions are the audience's
own: who hears a room event, when it is stored, what a replay holds, and what happens
when the store fails.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from chat_server.memory_store import MemoryStore
from chat_server.store import RoomRecord, StoredEvent, StoreError
from protocol import (
    Bye, Join, Message, Part, RoomEvent, decode_event, room_key,
)
from protocol import History as HistoryEvent
from test_directory import (  # the harness, and its `chat` fixture
    Chat, FakeMember, at, chat, drain_all, events, plain, take_bytes,
)

__all__ = ["chat"]  # a fixture: used by name, not by reference


def test_a_room_event_reaches_exactly_the_members_in_the_room_at_that_point() -> None:
    chat = Chat(history_on_join=0)
    alice, bob, carol = (chat.join(nick, hello="2") for nick in ("alice", "bob", "carol"))
    chat.send(alice, "/join #games")
    drain_all(alice, bob, carol)
    # One round of the scheduler: the room's audience changes in the middle of a batch.
    chat.type(alice, "one")
    chat.type(bob, "/join #games")
    chat.type(alice, "two", "/part #games")
    chat.type(bob, "three")
    chat.type(carol, "/join #games")
    chat.type(carol, "four")
    chat.type(bob, "/quit")
    chat.type(carol, "five")
    chat.pump()
    games = {
        1: Join("alice"), 2: Message("alice", "one"), 3: Join("bob"),
        4: Message("alice", "two"), 5: Part("alice", "left"), 6: Message("bob", "three"),
        7: Join("carol"), 8: Message("carol", "four"), 9: Part("bob", "quit"),
        10: Message("carol", "five"),
    }

    def heard(member: FakeMember) -> list[int]:
        return [event.id for event in events(member)
                if isinstance(event, RoomEvent) and event.room == "#games"]

    assert heard(alice) == [2, 3, 4, 5]  # from before the batch, to its own PART
    assert heard(bob) == [3, 4, 5, 6, 7, 8]  # its JOIN on, not its own PART
    assert heard(carol) == [7, 8, 9, 10]
    stored = chat.history.read(chat.room("#games"), "latest", None, 50)
    assert [(event.id, event.event) for event in stored] == list(games.items())
    assert chat.audience.listener_count(chat.room("#games")) == 1


def test_a_replay_holds_exactly_the_events_queued_before_it_and_follows_them(
    chat: Chat,
) -> None:
    alice, bob = chat.join("alice", hello="2"), chat.join("bob", hello="2")
    drain_all(alice, bob)
    chat.type(alice, "one", "two")  # in a batch, not yet fanned out
    chat.type(bob, "/history #lobby latest 10")
    chat.type(alice, "three")
    chat.pump()
    one, two, three = (at("#lobby", n, Message("alice", text))
                       for n, text in ((3, "one"), (4, "two"), (5, "three")))
    assert events(bob) == [
        one, two,  # live, before the reply to a command typed after them
        HistoryEvent("#lobby", 4), at("#lobby", 1, Join("alice")),
        at("#lobby", 2, Join("bob")), one, two,
        three,
    ]
    assert events(alice) == [one, two, three]


def test_leaving_and_coming_back_within_one_batch_hears_only_while_in_the_room() -> None:
    chat = Chat(history_on_join=0)
    alice, bob, carol = (chat.join(nick, hello="2") for nick in ("alice", "bob", "carol"))
    drain_all(alice, bob, carol)
    # One round of the scheduler: bob is given his share early (he leaves), then comes
    # back to the same batch; carol's reply makes her catch up in the middle of it.
    chat.type(alice, "one")
    chat.type(bob, "/part #lobby")
    chat.type(alice, "two")
    chat.type(carol, "/ping mid")
    chat.type(bob, "/join #lobby")
    chat.type(alice, "three")
    chat.pump()

    def lobby(member: FakeMember) -> list[object]:
        return [event.event if isinstance(event, RoomEvent) else type(event).__name__
                for event in events(member)
                if isinstance(event, RoomEvent) or type(event).__name__ == "Pong"]

    assert lobby(bob) == [Message("alice", "one"), Part("bob", "left"), Join("bob"),
                          Message("alice", "three")]
    everything = [Message("alice", "one"), Part("bob", "left"), Message("alice", "two"),
                  Join("bob"), Message("alice", "three")]
    assert lobby(carol) == everything[:3] + ["Pong"] + everything[3:]
    assert lobby(alice) == everything


def test_a_replay_on_join_holds_the_events_of_the_same_batch_before_the_join(
    chat: Chat,
) -> None:
    alice = chat.join("alice", hello="2")
    drain_all(alice)
    bob = chat.connect(hello="2")
    chat.type(alice, "one")
    chat.type(bob, "/nick bob")
    chat.pump()
    received = events(bob)
    assert received[1:4] == [HistoryEvent("#lobby", 2), at("#lobby", 1, Join("alice")),
                             at("#lobby", 2, Message("alice", "one"))]
    assert at("#lobby", 2, Message("alice", "one")) not in received[4:]


# Stored before seen


class WatchingStore:
    """A MemoryStore that, at each append, reads every member's outbox (as its writer
    would) and checks that no room event in it was sent before it was stored."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.members: list[FakeMember] = []
        self.received: dict[FakeMember, list[RoomEvent]] = {}
        self.stored: set[tuple[str, int]] = set()
        self.appends = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def append(self, events: Sequence[StoredEvent], rooms: Sequence[RoomRecord] = ()) -> None:
        self.check_outboxes()
        self.inner.append(events, rooms)
        self.stored.update((event.room, event.id) for event in events)
        self.appends += 1

    def check_outboxes(self) -> None:
        for member in self.members:
            lines = take_bytes(member).decode().split("\n")[:-1]
            seen = [event for line in lines
                    if isinstance(event := decode_event(line, 2), RoomEvent)]
            self.received.setdefault(member, []).extend(seen)
            for event in seen:
                assert (room_key(event.room), event.id) in self.stored, \
                    f"{member} was sent {event} before it was stored"


def test_no_room_event_is_in_any_outbox_before_it_is_stored() -> None:
    store = WatchingStore()
    chat = Chat(store=store)  # type: ignore[arg-type]
    members = [chat.connect(hello="2") for _ in range(4)]
    store.members.extend(members)
    alice, bob, carol, dave = members
    script = [
        (alice, "/nick alice"), (bob, "/nick bob"), (alice, "hello"), (carol, "/nick carol"),
        (bob, "/join #games"), (bob, "/topic dice"), (alice, "/join #games"),
        (carol, "/me waves"), (dave, "/nick dave"), (alice, "/history #lobby latest 5"),
        (dave, "/join #games"), (bob, "/in #lobby back soon"), (alice, "/nick al"),
        (carol, "/quit"), (dave, "/part #games bye"), (bob, "last words"),
    ]
    for step, (member, line) in enumerate(script):
        chat.type(member, line)
        if step % 3 == 2:
            chat.pump()
    chat.pump()
    store.check_outboxes()
    assert store.appends >= 5
    heard = sum(len(received) for received in store.received.values())
    assert heard > len(store.stored)  # the room events did reach people


# When the store fails


class FailingStore(MemoryStore):
    """A MemoryStore whose appends fail while `broken` (a full disk)."""

    broken = False

    def append(self, events: Sequence[StoredEvent], rooms: Sequence[RoomRecord] = ()) -> None:
        if self.broken:
            raise StoreError("cannot write history.db: database or disk is full")
        super().append(events, rooms)


def test_a_failing_store_is_logged_once_chat_goes_on_and_recovery_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FailingStore()
    chat = Chat(store=store)
    alice, bob = chat.join("alice", hello="2"), chat.join("bob")
    drain_all(alice, bob)
    store.broken = True
    with caplog.at_level(logging.WARNING, logger="chat_server.history"):
        for n in range(3):
            chat.send(alice, f"while broken {n}")
        assert chat.history.failing
        assert chat.history.figures()["store_ok"] == "no"
        assert plain(events(alice)) == [Message("alice", f"while broken {n}") for n in range(3)]
        assert events(bob) == [Message("alice", f"while broken {n}") for n in range(3)]
        store.broken = False
        chat.send(alice, "working again")
    assert not chat.history.failing and chat.history.figures()["store_ok"] == "yes"
    assert [record.levelname for record in caplog.records] == ["ERROR", "WARNING"]
    assert "disk is full" in caplog.records[0].getMessage()
    assert "works again" in caplog.records[1].getMessage()
    assert events(alice) == [at("#lobby", 6, Message("alice", "working again"))]
    chat.send(alice, "/history #lobby latest 10")  # what was never stored is not replayed
    assert plain(events(alice)) == [
        HistoryEvent("#lobby", 3), Join("alice"), Join("bob"), Message("alice", "working again"),
    ]


def test_a_failing_store_does_not_stop_joins_replays_or_quits() -> None:
    store = FailingStore()
    chat = Chat(store=store)
    alice = chat.join("alice", hello="2")
    store.broken = True
    drain_all(alice)
    bob = chat.connect(hello="2")
    chat.send(bob, "/nick bob", "/join #games", "hi", "/quit")
    received = plain(events(bob))
    assert received[1] == HistoryEvent("#lobby", 1)  # alice's JOIN, stored before
    assert received[-1] == Bye("quit")
    assert Message("bob", "hi") in received
    assert plain(events(alice)) == [Join("bob"), Part("bob", "quit")]
