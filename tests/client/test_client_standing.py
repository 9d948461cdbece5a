"""Unit tests of what the client keeps about operators' doings and the server password:
standing.py (notices and PART reasons read), the state following them, the status bar's
marks, the NOTICE line and its activity, Tab for the moderation commands, and access.py.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from protocol import Error, ErrorCode, Message, Notice, RoomEvent, Users

from chat_client.access import ASKING, PasswordGate
from chat_client.bars import render_status
from chat_client.commands import COMMAND_ARGUMENTS, NICK_COMMANDS, command_names, is_secret
from chat_client.completion import ChatCompleter
from chat_client.standing import Change, NoticeChange, maybe_put_out, read_notice, you_left
from chat_client.state import ClientState, ConnectionState
from chat_client.view import EntryKind, render_event
from chat_client.windows import Activity

WHEN = datetime(2025, 11, 30, 12, 34)


@pytest.mark.parametrize(("text", "expected"), [
    ("muted bob for 5 minutes", NoticeChange(Change.MUTED, "bob")),
    ("muted bob until lifted", NoticeChange(Change.MUTED, "bob")),
    ("unmuted bob", NoticeChange(Change.UNMUTED, "bob")),
    ("made the room read-only: only operators may speak", NoticeChange(Change.READ_ONLY, "op")),
    ("opened the room: everyone may speak", NoticeChange(Change.OPENED, "op")),
    ("set slow mode: one line every 5 seconds each", NoticeChange(Change.SLOW, "op", 5.0)),
    ("set slow mode: one line every 1.5 seconds each", NoticeChange(Change.SLOW, "op", 1.5)),
    ("turned slow mode off", NoticeChange(Change.SLOW, "op", 0.0)),
    ("is now an operator", NoticeChange(Change.OPERATOR, "op")),
    ("made bob an operator", NoticeChange(Change.OPERATOR, "bob")),
    ("took bob's operator rights", NoticeChange(Change.NOT_OPERATOR, "bob")),
    ("did something new", None),
])
def test_a_notice_is_read_as_the_server_words_it(text: str, expected: NoticeChange | None) -> None:
    assert read_notice("op", text) == expected


def test_kick_and_ban_reasons_say_who_and_why() -> None:
    kicked = maybe_put_out("kicked by teacher: too loud: really")
    assert kicked is not None
    assert (kicked.how, kicked.operator, kicked.why) == ("kicked", "teacher", "too loud: really")
    assert maybe_put_out("see you") is None and maybe_put_out("kicked by nobody") is None
    assert you_left("#games", "kicked by teacher: too loud") == \
        "you were kicked from #games by teacher: too loud"
    assert you_left("#games", "bye") == "you left #games (bye)"


def room_event(room: str, event_id: int, event: object) -> RoomEvent:
    return RoomEvent(room, event_id, 1, event)  # type: ignore[arg-type]


def joined(nick: str = "bob", *rooms: str) -> ClientState:
    state = ClientState(address="127.0.0.1:7777", nick=nick)
    state.set_connection(ConnectionState.CONNECTED)
    for room in rooms or ("#lobby",):
        state.apply_event(Users(("@teacher", nick), room))
    return state


def test_muted_by_an_error_or_a_notice_until_unmuted_or_a_line_goes_through() -> None:
    state = joined()
    state.apply_event(Error(ErrorCode.MUTED, "you are muted"))
    assert state.muted
    state.apply_event(room_event("#lobby", 5, Message("bob", "hello again")))
    assert not state.muted  # the mute had ended
    state.apply_event(room_event("#lobby", 6, Notice("teacher", "muted carol for 1 minute")))
    assert not state.muted  # someone else
    state.apply_event(room_event("#lobby", 7, Notice("teacher", "muted bob for 1 minute")))
    assert state.muted
    state.apply_event(room_event("#lobby", 8, Notice("teacher", "unmuted bob")))
    assert not state.muted
    state.apply_event(Error(ErrorCode.MUTED, "you are muted"))
    state.set_connection(ConnectionState.LOST)
    assert not state.muted  # a mute belongs to a connection


def test_read_only_and_slow_mark_the_room_spoken_in_and_notices_change_them() -> None:
    state = joined("bob", "#lobby", "#games")
    state.spoken_in = "#games"
    state.apply_event(Error(ErrorCode.READ_ONLY, "#games is read-only"))
    games, lobby = state.window_of("#games"), state.window_of("#lobby")
    assert games is not None and lobby is not None
    assert games.modes.marks() == ["read-only"] and lobby.modes.marks() == []
    state.apply_event(Error(ErrorCode.SLOW_MODE, "wait 2 more seconds"))
    assert games.modes.marks() == ["read-only", "slow"]
    state.apply_event(room_event("#games", 3, Notice("teacher", "opened the room: everyone")))
    state.apply_event(room_event("#games", 4, Notice(
        "teacher", "set slow mode: one line every 5 seconds each")))
    assert games.modes.marks() == ["slow 5s"]
    state.apply_event(room_event("#games", 5, Notice("teacher", "turned slow mode off")))
    assert games.modes.marks() == []


def test_operator_notices_change_who_is_marked() -> None:
    state = joined()
    state.apply_event(room_event("#lobby", 3, Notice("teacher", "made bob an operator")))
    assert state.is_operator
    state.apply_event(room_event("#lobby", 4, Notice("teacher", "took bob's operator rights")))
    assert not state.is_operator


def test_the_status_bar_shows_muted_read_only_slow_and_the_operator() -> None:
    state = joined()
    state.muted = True
    state.window.modes.read_only, state.window.modes.slow = True, True
    state.window.modes.slow_seconds = 5
    text = "".join(text for _, text in render_status(state, 200))
    assert "bob | 1:#lobby | 2 users | connected | muted | read-only | slow 5s" in text
    narrow = "".join(text for _, text in render_status(state, 40))
    assert "muted | read-only | slow 5s" in narrow  # they stay when the bar is cut
    state.apply_event(room_event("#lobby", 3, Notice("teacher", "made bob an operator")))
    assert "@bob | 1:#lobby" in "".join(text for _, text in render_status(state, 200))


def test_a_notice_is_a_line_of_its_own_colour_that_counts_as_activity() -> None:
    entry = render_event(Notice("teacher", "made the room read-only: only operators"), "bob",
                         WHEN)
    assert entry is not None and entry.kind is EntryKind.NOTICE
    assert entry.text == "12:34 -!- teacher made the room read-only: only operators"
    assert all("notice" in style for style, _ in entry.fragments[1:])
    about_me = render_event(Notice("teacher", "muted bob for 5 minutes"), "bob", WHEN)
    assert about_me is not None and about_me.mentions_me
    state = joined("bob", "#lobby", "#games")
    state.show_window(1)
    state.add_entry(entry, state.window_of("#games"))
    assert state.window_of("#games").activity is Activity.MESSAGES  # type: ignore[union-attr]


def test_tab_completes_the_moderation_commands_and_their_words() -> None:
    completer = ChatCompleter(lambda: ["bob", "carol"], command_names(), COMMAND_ARGUMENTS,
                              nick_commands=NICK_COMMANDS, get_everyone=lambda: ["dave", "bob"])

    def words(text: str) -> list[str]:
        return [completion.text for completion in completer.get_completions(
            Document(text), CompleteEvent(completion_requested=True))]
    assert {"/oper ", "/op ", "/deop ", "/kick ", "/ban ", "/bans ", "/unban ", "/mute ",
            "/unmute ", "/readonly ", "/slow "} <= set(words("/"))
    assert words("/readonly ") == ["on", "off"]
    assert words("/mute ") == ["bob", "carol", "dave"]  # the room first, then the others
    for command in ("/op", "/deop", "/kick", "/ban", "/unmute"):
        assert words(f"{command} c") == ["carol"]


def test_secret_lines_are_told_apart() -> None:
    assert is_secret("/pass hunter2") and is_secret("/OPER token")
    assert not is_secret("/passage") and not is_secret("pass me the salt")


def test_the_password_gate_sends_pass_before_nick_and_asks_once() -> None:
    gate = PasswordGate("wrong")
    assert gate.joining_lines("alice") == ["/pass wrong", "/nick alice"]
    told = gate.refused("wrong password (2 tries left)")
    assert told == "wrong password (2 tries left); type the password and press Enter (or /quit)"
    assert gate.asking and gate.password is None  # forgotten: never sent again alone
    assert gate.refused("this server needs its password first") is None  # the /nick's answer
    assert gate.give("right", "alice") == ["/pass right", "/nick alice"]
    assert not gate.asking and "right" not in repr(gate)


def test_without_a_password_the_gate_joins_and_asks_when_refused() -> None:
    gate = PasswordGate()
    assert gate.joining_lines("alice") == ["/nick alice"]
    assert gate.refused("this server needs its password first: /pass SECRET") == ASKING
    gate.session_ended()
    assert gate.joining_lines("alice") == ["/nick alice"]
    assert gate.refused("this server needs its password first") == ASKING  # a new try asks
