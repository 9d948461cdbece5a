"""Windows, routing and catch-up without any UI or socket: the pure rules of version 2."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from protocol import (
    Current, History, Join, Message, Part, PrivateMessage, RoomEvent, RoomList, RoomListing,
    Topic, Users, Welcome,
)

from chat_client.bars import render_nicklist, render_status, render_topic_bar
from chat_client.catch_up import HistoryBlock, rejoin_lines
from chat_client.input_history import BoundedFileHistory, default_history_path
from chat_client.routing import EventRouter, local_time
from chat_client.scrollback import visible_rows
from chat_client.state import ClientState, ConnectionState
from chat_client.view import EntryKind, render_event, render_notice, render_replayed
from chat_client.windows import Activity, ChatWindow

NOON = datetime(2026, 1, 2, 12, 0)
T = 1_767_355_200_000  # 2026-01-02 12:00 UTC, in milliseconds


def said(number: int, text: str = "", nick: str = "bob", room: str = "#lobby") -> RoomEvent:
    return RoomEvent(room, number, T + number, Message(nick, text or f"line {number}"))


def entry(number: int):  # type: ignore[no-untyped-def]
    made = render_replayed(Message("bob", f"line {number}"), "alice", NOON, number)
    assert made is not None
    return made


def texts(window: ChatWindow) -> list[str]:
    return [e.text.split(" | ")[-1] for e in window.entries]


# Windows

def test_a_window_keeps_room_lines_in_id_order_and_each_once() -> None:
    window = ChatWindow("#lobby")
    for number in (5, 6, 9, 7, 8, 1, 6):
        if not window.has_seen(number):
            window.add(entry(number), shown=True)
    assert texts(window) == [f"<bob> line {n}" for n in (1, 5, 6, 7, 8, 9)]
    assert window.last_id == 9 and window.oldest_id == 1


def test_notices_stay_where_they_were_said() -> None:
    window = ChatWindow("#lobby")
    window.add(entry(2), shown=True)
    window.add(render_notice("connection lost", NOON), shown=True)
    window.add(entry(4), shown=True)
    window.add(entry(3), shown=True)  # missed while away: before 4, after the notice
    assert texts(window) == ["<bob> line 2", "12:00 -!- connection lost", "<bob> line 3",
                             "<bob> line 4"]


def test_a_full_window_forgets_its_oldest_lines_and_their_ids() -> None:
    window = ChatWindow("#lobby", limit=3)
    for number in range(1, 6):
        window.add(entry(number), shown=True)
    assert texts(window) == ["<bob> line 3", "<bob> line 4", "<bob> line 5"]
    window.add(entry(1), shown=True)  # older than everything kept: not added
    assert len(window.entries) == 3 and not window.has_seen(1)


def test_activity_is_noted_only_where_the_user_is_not_looking() -> None:
    window = ChatWindow("#games")
    window.add(render_event(Join("bob"), "alice", NOON), shown=False)
    assert window.activity is Activity.NONE  # a join is not conversation
    window.add(render_event(Message("bob", "hi"), "alice", NOON), shown=False)
    assert window.activity is Activity.MESSAGES
    window.add(render_event(Message("bob", "alice: hi"), "alice", NOON), shown=False)
    window.add(render_event(Message("bob", "later"), "alice", NOON), shown=False)
    assert window.activity is Activity.MENTION  # the highest level stays


def test_the_status_bar_names_the_window_and_lists_activity() -> None:
    state = ClientState(address="h:1", nick="alice", server_name="testroom")
    state.set_connection(ConnectionState.CONNECTED)
    for room in ("#lobby", "#games", "#cards"):
        state.window_for(room).set_users(["alice"])
    state.show_window(2)
    state.add_entry(render_event(Message("bob", "hi"), "alice", NOON), state.windows[0])
    state.add_entry(render_event(Message("bob", "alice?"), "alice", NOON), state.windows[2])
    status = "".join(text for _, text in render_status(state, 200))
    assert status.strip() == ("[testroom h:1] alice | 2:#games | 1 user | connected | "
                              "[Act: 1,3*]")
    state.show_window(3)
    assert "[Act: 1]" in "".join(text for _, text in render_status(state, 200))


def test_the_topic_bar_and_the_list_of_people() -> None:
    state = ClientState(address="h:1", nick="alice", server_name="testroom")
    assert "".join(t for _, t in render_topic_bar(state)).strip() == "testroom"
    window = state.window_for("#games")
    window.set_users(["carol", "@bob", "alice"])
    window.set_topic("game night", 3)
    window.set_topic("older topic", 2)  # an older TOPIC event does not win
    assert "".join(t for _, t in render_topic_bar(state)).strip() == "#games: game night"
    assert "".join(t for _, t in render_nicklist(state)).split("\n") == [
        "@bob", " alice", " carol", ""]


def test_the_first_room_takes_window_1_and_leaving_closes_a_window() -> None:
    state = ClientState(address="h:1")
    state.add_entry(render_notice("connected", NOON))
    lobby = state.window_for("#lobby")
    assert state.windows == [lobby] and len(lobby.entries) == 1  # the notice is kept
    state.window_for("#games")
    state.show_window(2)
    state.close_window("#games")
    assert state.rooms == ["#lobby"] and state.active == 0
    state.close_window("#lobby")  # the last window stays, without a room
    assert len(state.windows) == 1 and state.window.room is None


# Routing

class Sent(list):  # type: ignore[type-arg]
    def __call__(self, line: str) -> bool:
        self.append(line)
        return True


def router_and_state() -> tuple[EventRouter, ClientState, Sent]:
    state = ClientState(address="h:1", nick="alice")
    sent = Sent()
    return EventRouter(state, lambda: NOON, sent, lambda: None), state, sent


def joined(router: EventRouter, room: str, history: list[RoomEvent]) -> None:
    router.route(History(room, len(history)))
    for event in history:
        router.route(event)
    router.route(Users(("bob", "alice"), room))
    router.route(RoomEvent(room, 100, T, Join("alice")))
    router.route(Current(room))


def test_a_join_replay_is_marked_as_history_and_changes_nobody_in_the_room() -> None:
    router, state, sent = router_and_state()
    router.route(Welcome("alice"))
    joined(router, "#lobby", [said(1), RoomEvent("#lobby", 2, T, Part("carol", "quit"))])
    lines = [e.text for e in state.window.entries]
    assert lines[1].endswith("| <bob> line 1") and lines[1].startswith(
        local_time(T + 1).strftime("%b %d %H:%M"))
    assert state.users == ["bob", "alice"]  # the replayed PART did not remove anyone
    assert sent == ["/rooms"]  # asked silently, for the topic


def test_a_silent_rooms_reply_sets_topics_and_is_not_shown() -> None:
    router, state, sent = router_and_state()
    joined(router, "#lobby", [])
    shown = len(state.entries)
    router.route(RoomList(2))
    router.route(RoomListing("#lobby", 2, "welcome all"))
    router.route(RoomListing("#games", 1, ""))
    assert state.window.topic == "welcome all" and len(state.entries) == shown
    assert state.known_rooms() == ["#lobby", "#games"]
    router.list_rooms(asked_by_user=True)
    router.route(RoomList(1))
    router.route(RoomListing("#lobby", 2, "welcome all"))
    assert state.entries[-1].text.endswith("#lobby  2  welcome all")


def test_current_shows_a_room_only_when_the_user_joined_it() -> None:
    router, state, _ = router_and_state()
    joined(router, "#lobby", [])
    joined(router, "#games", [])  # the client's own join (a rejoin): not shown
    assert state.window.room == "#lobby" and state.server_current == "#games"
    router.user_joins("#cards")
    joined(router, "#cards", [])
    assert state.window.room == "#cards"


def test_leaving_a_room_closes_its_window_and_says_so_where_you_are() -> None:
    router, state, _ = router_and_state()
    joined(router, "#lobby", [])
    router.user_joins("#games")
    joined(router, "#games", [])
    router.route(RoomEvent("#games", 101, T, Part("alice", "left")))
    assert state.rooms == ["#lobby"] and state.entries[-1].text.endswith("you left #games (left)")


def test_lines_after_a_reconnect_are_marked_missed_and_not_repeated() -> None:
    router, state, _ = router_and_state()
    joined(router, "#lobby", [said(1), said(2)])
    state.window.missed_after = state.window.last_id  # 100: alice's own join
    joined(router, "#lobby", [said(2), said(101), said(102)])  # the replay overlaps
    lines = [e.text for e in state.window.entries]
    assert sum(line.endswith("<bob> line 2") for line in lines) == 1
    assert [line.split(" ! ")[1] for line in lines if " ! " in line] == [
        "<bob> line 101", "<bob> line 102"]


def test_private_messages_go_to_the_window_shown() -> None:
    router, state, _ = router_and_state()
    joined(router, "#lobby", [])
    router.user_joins("#games")
    joined(router, "#games", [])
    router.route(PrivateMessage("bob", "alice", "psst"))
    assert state.window.room == "#games" and state.entries[-1].text.endswith("*bob* psst")


def test_a_topic_event_sets_the_topic_and_is_shown() -> None:
    router, state, _ = router_and_state()
    joined(router, "#lobby", [])
    router.route(RoomEvent("#lobby", 101, T, Topic("bob", "news")))
    assert state.window.topic == "news"
    assert state.entries[-1].kind is EntryKind.TOPIC
    assert state.entries[-1].text.endswith("bob set the topic: news")


# Catch-up

def test_rejoining_joins_every_room_with_the_current_one_last_then_asks_what_was_missed() -> None:
    lines = rejoin_lines(["#lobby", "#games", "#cards"], "#games",
                         {"#lobby": 12, "#games": 40, "#cards": 0})
    assert lines == ["/join #lobby", "/join #cards", "/join #games",
                     "/history #lobby after 12 500", "/history #games after 40 500"]


def test_a_history_block_counts_its_events_and_only_its_room() -> None:
    block = HistoryBlock()
    block.start("#lobby", 2)
    assert block.take(said(1)) and not block.take(said(5, room="#games"))
    assert block.take(said(2)) and block.just_finished
    assert not block.take(said(3))  # the block is over: live again


def test_a_full_catch_up_reply_asks_for_more() -> None:
    router, state, sent = router_and_state()
    joined(router, "#lobby", [])
    router.route(History("#lobby", 500))
    for number in range(101, 601):
        router.route(said(number))
    assert sent[-1] == "/history #lobby after 600 500"


# The pane: a day separator where the date changes

def test_a_day_separator_is_drawn_where_the_date_changes() -> None:
    yesterday = render_replayed(Message("bob", "late"), "alice", datetime(2026, 1, 1, 23, 59), 1)
    today = render_event(Message("bob", "early"), "alice", datetime(2026, 1, 2, 0, 1))
    assert yesterday is not None and today is not None
    rows = visible_rows([yesterday, today], 0, 80, 10).rows
    assert ["".join(t for _, t in row) for row in rows] == [
        "Jan 01 23:59 | <bob> late", "--- Fri 02 Jan 2026 ---", "00:01 <bob> early"]
    assert today.day == date(2026, 1, 2)


def test_missed_lines_carry_a_bang_and_history_a_bar() -> None:
    missed = render_replayed(Message("bob", "hi"), "alice", NOON, 7, missed=True)
    assert missed is not None and missed.text == "Jan 02 12:00 ! <bob> hi"
    assert missed.room_id == 7


# Input history

def test_the_input_history_lives_in_the_data_directory(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_history_path() == tmp_path / "lanchat" / "input-history"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_history_path() == tmp_path / ".local" / "share" / "lanchat" / "input-history"


def test_the_input_history_is_bounded_at_start(tmp_path: Path) -> None:
    path = tmp_path / "lanchat" / "input-history"
    history = BoundedFileHistory(path, limit=3)
    for number in range(10):
        history.store_string(f"line {number}")
    again = BoundedFileHistory(path, limit=3)
    assert list(again.load_history_strings()) == ["line 9", "line 8", "line 7"]
    assert path.read_text(encoding="utf-8").count("+line") == 3  # the file was cut too


def test_an_unwritable_history_costs_only_the_history(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    history = BoundedFileHistory(blocker / "lanchat" / "input-history")
    history.store_string("still works")  # no exception
    assert list(history.load_history_strings()) == []
