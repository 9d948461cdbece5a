"""Tests for history.py: the rooms a store remembers, and what each batch records."""

from __future__ import annotations

from chat_server.history import History
from chat_server.memory_store import MemoryStore
from chat_server.rooms import Room
from chat_server.store import RoomRecord, StoredEvent
from protocol import Join, Message, RoomEvent, Topic, event_line_v2
from protocol import History as HistoryEvent
from test_audience import FailingStore
from test_directory import T0, Chat, at, events

__all__ = ["FailingStore"]


def _kept(history: History, room: Room, *stamped: RoomEvent) -> None:
    history.keep([(room, event) for event in stamped])


def test_known_rooms_brings_back_last_ids_and_topics_from_the_records() -> None:
    store = MemoryStore()
    before = History(store, "memory")
    games, lobby = Room("#Games"), Room("#lobby")
    joined = games.stamp(Join("alice"), T0)
    topic = games.stamp(Topic("alice", "dice"), T0 + 1)
    _kept(before, games, joined, topic, games.stamp(Message("alice", "hi"), T0 + 5))
    _kept(before, lobby, lobby.stamp(Join("bob"), T0))
    rooms = History(store, "memory").known_rooms()  # as after a restart
    assert sorted(rooms) == ["#games", "#lobby"]
    assert rooms["#games"].name == "#Games" and rooms["#games"].last_id == 3
    assert rooms["#games"].topic == RoomEvent("#Games", 2, T0 + 1, Topic("alice", "dice"))
    assert rooms["#lobby"].last_id == 1 and rooms["#lobby"].topic is None
    assert len(rooms["#games"]) == 0


def test_keep_records_a_topic_only_with_the_batch_holding_its_topic_event() -> None:
    store = FailingStore()
    history = History(store, "memory")
    room = Room("#games")
    _kept(history, room, room.stamp(Join("alice"), T0))
    topic = room.stamp(Topic("alice", "dice"), T0)  # the room knows it, nothing stored yet
    _kept(history, room, room.stamp(Message("alice", "unrelated"), T0))
    assert store.rooms()["#games"].topic is None
    store.broken = True
    _kept(history, room, topic)  # not stored: not recorded either
    store.broken = False
    _kept(history, room, room.stamp(Message("alice", "after"), T0))
    assert store.rooms()["#games"].topic is None
    assert store.rooms()["#games"].last_id == 4
    newer = room.stamp(Topic("bob", "cards"), T0 + 9)
    _kept(history, room, newer, room.stamp(Message("bob", "and more"), T0 + 10))
    record = store.rooms()["#games"]
    assert (record.topic, record.topic_by, record.topic_id, record.topic_time_ms,
            record.last_id) == ("cards", "bob", 5, T0 + 9, 6)


def test_keep_stores_every_room_of_a_batch_in_one_append() -> None:
    store = MemoryStore()
    history = History(store, "memory")
    a, b = Room("#a"), Room("#b")
    history.keep([(a, a.stamp(Join("x"), T0)), (b, b.stamp(Join("y"), T0)),
                  (a, a.stamp(Message("x", "hi"), T0))])
    assert store.events_stored == 3
    assert {key: record.last_id for key, record in store.rooms().items()} == {"#a": 2, "#b": 1}
    assert [event.event for event in history.read(a, "latest", None, 10)] == [
        Join("x"), Message("x", "hi")]


def test_after_a_restart_ids_history_and_topics_carry_on() -> None:
    store = MemoryStore()
    first = Chat(store=store)
    alice = first.join("alice", hello="2")
    first.send(alice, "/join #games", "/topic dice", "see you")  # #games ids 1 to 3
    second = Chat(store=store)  # the same store, a new server
    bob = second.join("bob", hello="2")
    second.send(bob, "/join #GAMES", "/topic")
    received = events(bob)
    assert received[received.index(HistoryEvent("#games", 3)) + 1:][:3] == [
        at("#games", 1, Join("alice")), at("#games", 2, Topic("alice", "dice")),
        at("#games", 3, Message("alice", "see you")),
    ]
    assert at("#games", 4, Join("bob")) in received
    assert received[-1] == at("#games", 2, Topic("alice", "dice"))
    assert second.directory.default_room.last_id == 2  # alice's JOIN was #lobby 1


def test_an_event_is_stored_as_its_body_and_read_back_whole() -> None:
    store = MemoryStore()
    history = History(store, "memory")
    room = Room("#Games")
    said = room.stamp(Message("alice", "hi there"), T0)
    _kept(history, room, said)
    assert [row.line for row in store.latest(room.key, 10)] == ["MSG alice hi there"]
    assert history.read(room, "latest", None, 10) == [said]


def test_whole_v2_lines_of_older_files_are_read_back_too() -> None:
    store = MemoryStore()
    history = History(store, "memory")
    room = Room("#games")
    old = room.stamp(Topic("alice", "dice at #8"), T0)
    store.append([StoredEvent(room.key, old.id, old.time, event_line_v2(old))],
                 [RoomRecord(room.key, room.name, 0)])
    new = room.stamp(Join("bob"), T0 + 1)
    _kept(history, room, new)
    assert history.read(room, "latest", None, 10) == [old, new]


def test_a_stored_line_that_reads_as_nothing_is_skipped() -> None:
    store = MemoryStore()
    history = History(store, "memory")
    room = Room("#games")
    store.append([StoredEvent(room.key, 1, T0, "HELLO not a room event"),
                  StoredEvent(room.key, 2, T0, "MSG #games 2 oops")],
                 [RoomRecord(room.key, room.name, 0)])
    room.last_id = 2  # as the store's record says
    kept = room.stamp(Join("bob"), T0)
    _kept(history, room, kept)
    assert history.read(room, "latest", None, 10) == [kept]
