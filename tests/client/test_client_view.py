"""The view: events -> formatted text, pure (no UI, no sockets)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import (
    Action, Bye, Error, Event, Hello, Info, Join, Message, NickChange, Part, Pong, PrivateMessage,
    Stats, Users, Welcome,
)

from chat_client.bars import render_status
from chat_client.state import ClientState, ConnectionState
from chat_client.view import (
    NICK_COLOURS, EntryKind, mentions, nick_colour, render_event, render_notice,
)

NOON = datetime(2026, 1, 2, 12, 34, 56)
UNSAFE = {chr(code) for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)]} | {
    chr(code) for code in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]}


def shown(event, own="alice"):  # type: ignore[no-untyped-def]
    entry = render_event(event, own, NOON)
    assert entry is not None
    return entry


@pytest.mark.parametrize(("event", "kind", "text"), [
    (Message("bob", "hi there"), EntryKind.MESSAGE, "12:34 <bob> hi there"),
    (Action("bob", "waves"), EntryKind.ACTION, "12:34  * bob waves"),
    (Join("bob"), EntryKind.JOIN, "12:34 --> bob joined"),
    (Part("bob", "too slow"), EntryKind.PART, "12:34 <-- bob left (too slow)"),
    (NickChange("bob", "rob"), EntryKind.NICK, "12:34 --- bob is now known as rob"),
    (NickChange("alice", "al"), EntryKind.NICK, "12:34 --- you are now known as al"),
    (PrivateMessage("bob", "alice", "psst"), EntryKind.PRIVATE, "12:34 *bob* psst"),
    (PrivateMessage("alice", "bob", "psst"), EntryKind.PRIVATE, "12:34 -> *bob* psst"),
    (Info("welcome to the room"), EntryKind.INFO, "12:34 -!- welcome to the room"),
    (Error("NICK_IN_USE", "bob is taken"), EntryKind.ERROR, "12:34 -!- bob is taken (NICK_IN_USE)"),
    (Bye("server shutting down"), EntryKind.ERROR,
     "12:34 -!- the server closed the connection: server shutting down"),
    (Welcome("alice"), EntryKind.INFO, "12:34 -!- you joined as alice"),
    (Users(("alice", "bob")), EntryKind.INFO, "12:34 -!- in the room (2): alice, bob"),
    (Pong("abc"), EntryKind.INFO, "12:34 -!- PONG abc"),
    (Hello("testroom"), EntryKind.INFO, "12:34 -!- connected to testroom"),
    (Stats((("clients", "3"), ("events_relayed", "120"))), EntryKind.STATS,
     "12:34 -!- server figures\n    clients          3\n    events relayed   120"),
])
def test_each_event_has_its_own_kind_and_irssi_like_text(event, kind, text) -> None:  # type: ignore[no-untyped-def]
    entry = shown(event)
    assert (entry.kind, entry.text) == (kind, text)


@pytest.mark.parametrize(("event", "style"), [
    (Action("bob", "waves"), "class:action"), (Join("bob"), "class:join"),
    (Part("bob", "quit"), "class:part"), (NickChange("bob", "rob"), "class:nick-change"),
    (PrivateMessage("carol", "alice", "x"), "class:private"), (Info("x"), "class:info"),
    (Error("BAD_ARGS", "x"), "class:error"),
])
def test_each_kind_is_drawn_in_a_style_of_its_own(event, style) -> None:  # type: ignore[no-untyped-def]
    assert style in {word for style, _ in shown(event).fragments for word in style.split()}


def test_client_notices_have_their_own_style() -> None:
    assert ("class:client", "-!- reconnecting") in render_notice("reconnecting", NOON).fragments


def test_the_timestamp_comes_from_the_given_time() -> None:
    assert shown(Join("bob")).fragments[0] == ("class:timestamp", "12:34 ")


def test_a_nick_has_the_same_colour_in_every_spelling_and_every_message() -> None:
    colour = nick_colour("Bob")
    assert nick_colour("bob") == nick_colour("BOB") == nick_colour("ｂｏｂ") == colour
    styles = [style for style, text in shown(Message("bob", "x")).fragments if text == "bob"]
    assert styles == [f"fg:{colour}"]


def test_nick_colours_do_not_depend_on_pythons_hash_seed() -> None:
    code = "from chat_client.view import nick_colour; print(nick_colour('carol'))"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    seen = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       cwd=root, env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert seen == {nick_colour("carol")}


def test_different_nicks_spread_over_the_palette() -> None:
    colours = {nick_colour(f"user{number}") for number in range(40)}
    assert len(colours) >= len(NICK_COLOURS) // 2


@pytest.mark.parametrize(("text", "expected"), [
    ("alice: lunch?", True), ("hey ALICE!", True), ("hi alice", True),
    ("malice aforethought", False), ("alice_ is someone else", False), ("", False),
])
def test_a_mention_is_the_nick_as_a_word_of_its_own(text: str, expected: bool) -> None:
    assert mentions(text, "alice") is expected


def test_a_mention_is_highlighted_but_your_own_words_are_not() -> None:
    entry = shown(Message("bob", "alice: look"))
    assert entry.mentions_me
    assert all("class:mention" in style for style, _ in entry.fragments[1:])
    assert not shown(Message("alice", "I am alice")).mentions_me
    assert shown(Action("bob", "pokes alice")).mentions_me


def test_a_private_message_to_you_counts_as_a_mention() -> None:
    assert shown(PrivateMessage("bob", "alice", "psst")).mentions_me
    assert not shown(PrivateMessage("alice", "bob", "psst")).mentions_me


def test_escape_sequences_and_controls_from_the_network_never_reach_the_entry() -> None:
    nasty = "\x1b[2J\x1b]0;owned\x07red\x1b[31m!\x07 \u202eevil\x9b1m\ttab"
    for event in (Message("bob\x1b[1m", nasty), Action("bob", nasty), Info(nasty),
                  Error("CODE\x1b", nasty), Bye(nasty), Part("bob", nasty),
                  PrivateMessage("b\x07ob", "alice", nasty), Users(("a\x1b[0m", "b"))):
        text = shown(event).text
        assert not UNSAFE & set(text), (event, text)
    assert shown(Message("bob", nasty)).text == "12:34 <bob> red! evil tab"


def test_an_enormous_text_is_cut_and_says_so() -> None:
    text = shown(Message("bob", "x" * 1_000_000)).text
    assert text.endswith("x [... 996000 more characters]") and len(text) < 4100


@given(st.text())
def test_no_text_whatsoever_puts_a_control_character_on_screen(text: str) -> None:
    text = text.replace("\n", "").replace("\r", "")
    for entry in (shown(Message("bob", text)), render_notice(text, NOON)):
        assert not UNSAFE & set(entry.text)


@dataclass(frozen=True, slots=True)
class FutureEvent(Event):
    """An event a newer protocol package may add before the view learns its layout."""

    text: str
    KIND: ClassVar[str] = "FUTURE"
    ENDS_WITH_TEXT: ClassVar[bool] = True


def test_a_protocol_event_without_a_layout_is_shown_as_it_came_and_cleaned() -> None:
    entry = shown(FutureEvent("a=1 b=\x1b[31m2"))
    assert (entry.kind, entry.text) == (EntryKind.INFO, "12:34 -!- FUTURE a=1 b=2")


def test_what_is_not_an_event_shows_nothing() -> None:
    assert render_event(object(), "alice", NOON) is None  # type: ignore[arg-type]


def status_text(state: ClientState) -> str:
    return "".join(text for _, text in render_status(state))


def test_the_status_bar_shows_server_nick_users_and_connection() -> None:
    state = ClientState(address="127.0.0.1:7777", nick="alice", server_name="testroom")
    state.set_connection(ConnectionState.CONNECTED)
    state.users = ["alice", "bob", "张三"]
    assert status_text(state) == " [testroom 127.0.0.1:7777] alice | 3 users | connected "


def test_the_status_bar_shows_trouble_and_unread() -> None:
    state = ClientState(address="h:1", nick="alice")
    state.set_connection(ConnectionState.RECONNECTING, "in 2s (connection refused)")
    state.scroll_offset, state.unread = 3, 2
    text = status_text(state)
    assert text.startswith(" [h:1] alice | reconnecting in 2s (connection refused) |")
    assert text.endswith("| 2 unread ")
    assert ("class:status.trouble", "reconnecting in 2s (connection refused)") in \
        render_status(state)


def test_the_status_bar_sanitises_the_server_name() -> None:
    state = ClientState(address="h:1", nick="alice", server_name="room\x1b]0;x\x07")
    assert "\x1b" not in status_text(state) and "[room h:1]" in status_text(state)


def test_a_quiet_server_is_trouble_in_the_bar_but_the_room_is_still_known() -> None:
    state = ClientState(address="h:1", nick="alice", server_name="lanroom")
    state.set_connection(ConnectionState.CONNECTED)
    state.users = ["alice", "bob"]
    state.set_connection(ConnectionState.STALLED, "for 30s; checking...")
    assert status_text(state) == (" [lanroom h:1] alice | 2 users | no answer from the server "
                                  "for 30s; checking... ")
    assert ("class:status.trouble", "no answer from the server for 30s; checking...") in \
        render_status(state)


def test_a_refusal_reads_as_the_reason_and_the_wait() -> None:
    state = ClientState(address="h:1", nick="alice")
    state.set_connection(ConnectionState.REFUSED, "the room is full; trying again in 30s")
    assert status_text(state) == (" [h:1] alice | refused: the room is full; "
                                  "trying again in 30s ")
