"""Client state: the room, the connection and the scrollback, without any UI."""

from __future__ import annotations

from datetime import datetime

from protocol import Action, Join, Message, NickChange, Part, PrivateMessage, Users, Welcome

from chat_client.state import ClientState, ConnectionState
from chat_client.view import render_event

NOON = datetime(2026, 1, 2, 12, 0)


def message(text: str = "hi"):  # type: ignore[no-untyped-def]
    return render_event(Message("bob", text), "alice", NOON)


def join(nick: str):  # type: ignore[no-untyped-def]
    return render_event(Join(nick), "alice", NOON)


def joined_state() -> ClientState:
    state = ClientState(address="h:1", nick="alice")
    for event in (Welcome("alice"), Users(("bob", "alice")), Join("alice")):
        state.apply_event(event)
    return state


def test_welcome_and_users_set_the_nick_and_the_room_in_join_order() -> None:
    state = joined_state()
    assert state.nick == "alice" and state.users == ["bob", "alice"]


def test_join_part_and_nick_changes_keep_the_user_list() -> None:
    state = joined_state()
    state.apply_event(Join("carol"))
    state.apply_event(Join("CAROL"))  # the same person: not listed twice
    state.apply_event(NickChange("bob", "rob"))
    state.apply_event(Part("Carol", "quit"))
    assert state.users == ["rob", "alice"]


def test_your_own_nick_change_changes_your_nick() -> None:
    state = joined_state()
    state.apply_event(NickChange("Alice", "al"))
    assert state.nick == "al" and state.users == ["bob", "al"]


def test_nobody_is_known_to_be_in_the_room_while_disconnected() -> None:
    state = joined_state()
    state.set_connection(ConnectionState.LOST, "connection reset")
    assert state.users == [] and state.connection_detail == "connection reset"
    assert not state.connection.is_up and ConnectionState.RECONNECTED.is_up


def test_new_entries_are_followed_at_the_bottom() -> None:
    state = ClientState(address="h:1")
    for _ in range(3):
        state.add_entry(message())
    assert state.following and state.scroll_offset == 0 and state.unread == 0


def test_while_scrolled_up_the_view_stays_and_messages_count_as_unread() -> None:
    state = ClientState(address="h:1")
    for _ in range(10):
        state.add_entry(message())
    state.scroll_up(4)
    state.add_entry(message())
    state.add_entry(join("carol"))  # not conversation: moves nothing into "unread"
    assert state.scroll_offset == 6 and state.unread == 1
    state.scroll_down(2)
    assert state.unread == 1
    state.scroll_down(100)
    assert state.following and state.unread == 0


def test_scrolling_up_stops_at_the_oldest_entry_or_the_given_limit() -> None:
    state = ClientState(address="h:1")
    for _ in range(5):
        state.add_entry(message())
    state.scroll_up(100)
    assert state.scroll_offset == 4
    state.scroll_to_bottom()
    state.scroll_up(100, limit=2)
    assert state.scroll_offset == 2


def test_the_scrollback_is_capped_and_the_offset_stays_inside_it() -> None:
    state = ClientState(address="h:1", scrollback_limit=10)
    for _ in range(10):
        state.add_entry(message())
    state.scroll_up(9)
    for number in range(25):
        state.add_entry(message(str(number)))
    assert len(state.entries) == 10
    assert state.scroll_offset == 9
    assert state.entries[-1].text.endswith("24")


def test_clear_forgets_the_scrollback_and_follows_again() -> None:
    state = ClientState(address="h:1")
    for _ in range(5):
        state.add_entry(message())
    state.scroll_up(2)
    state.add_entry(message())
    state.clear()
    assert not state.entries and state.following and state.unread == 0


def test_ignoring_hides_messages_actions_and_private_messages_of_that_person_only() -> None:
    state = joined_state()
    assert state.ignore("Bob") and not state.ignore("bob")  # any spelling, once
    assert state.ignored == ["Bob"] and state.is_ignored("BOB")
    for event in (Message("bob", "hi"), Action("bob", "waves"),
                  PrivateMessage("bob", "alice", "psst")):
        assert state.hides(event)
    assert not state.hides(Message("carol", "hi"))
    assert not state.hides(Join("bob")) and not state.hides(Part("bob", "quit"))
    assert state.unignore("bob") and not state.unignore("bob")
    assert not state.hides(Message("bob", "hi")) and state.ignored == []


def test_an_ignored_person_stays_ignored_under_a_new_nickname() -> None:
    state = joined_state()
    state.ignore("bob")
    state.apply_event(NickChange("bob", "robert"))
    assert state.ignored == ["robert"] and state.hides(Message("robert", "it's me"))
    assert not state.hides(Message("bob", "a newcomer with the old name"))


def test_private_messages_keep_the_latest_correspondent_first_and_whom_to_reply_to() -> None:
    state = joined_state()
    assert state.last_private_sender is None and state.correspondents == []
    state.apply_event(PrivateMessage("bob", "alice", "psst"))
    state.apply_event(PrivateMessage("carol", "alice", "lunch?"))
    assert state.last_private_sender == "carol"
    assert state.correspondents == ["carol", "bob"]
    state.apply_event(PrivateMessage("alice", "bob", "yes?"))  # one you sent
    assert state.correspondents == ["bob", "carol"] and state.last_private_sender == "carol"
    state.apply_event(NickChange("carol", "caroline"))
    assert state.last_private_sender == "caroline"
    assert state.correspondents == ["bob", "caroline"]
