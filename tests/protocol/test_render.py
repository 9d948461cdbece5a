"""Tests for `protocol.render`: events as lines for people in `nc`, `telnet` or PuTTY.

The exact wording is the project's choice, so most checks ask only that the information
is there (who, what, why). The room events keep the IRC forms the module documents
(`<alice> hi`, `* alice waves`, `*** bob joined`). A private message reads differently
to its sender and its recipient. Every rendered event is one line, sent ending in CRLF.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.events import (
    Action, Bye, Error, ErrorCode, Event, Hello, Info, Join, Message, NickChange, Part,
    PartReason, Pong, PrivateMessage, Users, Welcome,
)
from protocol.render import HUMAN_LINE_END, encode_for_people, render_for_people

# (event, the exact line): the room events, in the form the module documents.
ROOM_FORMS: list[tuple[Event, str]] = [
    (Message("alice", "hi"), "<alice> hi"),
    (Message("张三", "你好 👋"), "<张三> 你好 👋"),
    (Action("alice", "waves"), "* alice waves"),
    (Join("bob"), "*** bob joined"),
    (Part("bob", PartReason.QUIT), "*** bob left (quit)"),
    (NickChange("alice", "al"), "*** alice is now known as al"),
]


@pytest.mark.parametrize(("event", "line"), ROOM_FORMS, ids=[line for _, line in ROOM_FORMS])
def test_room_event_reads_like_irc(event: Event, line: str) -> None:
    assert render_for_people(event) == line


# (event, what a person must be able to read in its line)
INFORMATION: list[tuple[Event, tuple[str, ...]]] = [
    (Message("alice", "hello there"), ("alice", "hello there")),
    (Message("alice", ""), ("alice",)),
    (Action("alice", "waves at everyone"), ("alice", "waves at everyone")),
    (Join("bob"), ("bob", "joined")),
    (Part("bob", PartReason.TOO_SLOW), ("bob", "too slow")),
    (Part("bob", "gone for lunch"), ("bob", "gone for lunch")),
    (NickChange("alice", "al"), ("alice", "al")),
    (Welcome("alice"), ("alice", "/help")),
    (Users(("alice", "bob", "张三")), ("alice", "bob", "张三", "3")),
    (Users(("alice",)), ("alice", "1")),
    (Users(()), ("0",)),
    (Info("Welcome to the LAN chat"), ("Welcome to the LAN chat",)),
    (Pong("12345"), ("PONG", "12345")),
    (Error(ErrorCode.NICK_IN_USE, "bob is taken"), ("NICK_IN_USE", "bob is taken")),
    (Error(ErrorCode.LINE_TOO_LONG, "at most 2048 bytes"),
     ("LINE_TOO_LONG", "at most 2048 bytes")),
    (Bye(PartReason.SERVER_SHUTTING_DOWN), ("server shutting down",)),
    (Hello("lanbox"), ("lanbox", "1")),
]


@pytest.mark.parametrize(("event", "needed"), INFORMATION,
                         ids=[repr(event) for event, _ in INFORMATION])
def test_rendered_line_carries_the_events_information(
    event: Event, needed: tuple[str, ...],
) -> None:
    line = render_for_people(event)
    for part in needed:
        assert part in line, (part, line)


def test_users_are_listed_in_join_order() -> None:
    line = render_for_people(Users(("zoe", "adam", "mia")))
    assert line.index("zoe") < line.index("adam") < line.index("mia")


def test_server_notices_are_set_apart_from_what_people_say() -> None:
    # Nobody can type a line that looks like a server notice: those start with "***",
    # and what people say starts with their <nick>.
    assert render_for_people(Info("x")).startswith("***")
    assert render_for_people(Error(ErrorCode.BAD_NICK, "x")).startswith("***")
    assert render_for_people(Message("alice", "*** fake notice")).startswith("<alice>")


# --- private messages ---------------------------------------------------------------------

PRIVATE = PrivateMessage("alice", "bob", "psst, a secret")


def test_private_message_reads_differently_to_sender_and_recipient() -> None:
    to_sender = render_for_people(PRIVATE, viewer="alice")
    to_recipient = render_for_people(PRIVATE, viewer="bob")
    assert to_sender != to_recipient
    assert "psst, a secret" in to_sender and "psst, a secret" in to_recipient


def test_sender_sees_whom_the_private_message_went_to() -> None:
    assert render_for_people(PRIVATE, viewer="alice") == "-> *bob* psst, a secret"


def test_recipient_sees_who_sent_the_private_message() -> None:
    assert render_for_people(PRIVATE, viewer="bob") == "*alice* psst, a secret"


def test_private_message_without_a_viewer_names_the_sender() -> None:
    assert render_for_people(PRIVATE) == "*alice* psst, a secret"


def test_private_message_to_oneself_reads_as_received() -> None:
    assert render_for_people(PrivateMessage("alice", "alice", "note"), viewer="alice") == (
        "*alice* note")


def test_private_message_does_not_look_like_a_room_message() -> None:
    room = render_for_people(Message("alice", "psst, a secret"))
    assert render_for_people(PRIVATE, viewer="bob") != room
    assert render_for_people(PRIVATE, viewer="alice") != room


# --- bytes on the wire --------------------------------------------------------------------

def test_human_line_end_is_crlf() -> None:
    assert HUMAN_LINE_END == "\r\n"


@pytest.mark.parametrize(("event", "line"), ROOM_FORMS, ids=[line for _, line in ROOM_FORMS])
def test_encode_for_people_is_the_rendered_line_in_utf8_ending_in_crlf(
    event: Event, line: str,
) -> None:
    assert encode_for_people(event) == line.encode("utf-8") + b"\r\n"


def test_encode_for_people_passes_the_viewer_on() -> None:
    assert encode_for_people(PRIVATE, viewer="alice") == "-> *bob* psst, a secret\r\n".encode()


_WORDS = st.text(st.characters(whitelist_categories=("L", "Nd")), min_size=1, max_size=8)
_TEXTS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
                 max_size=20)
_EVENTS: st.SearchStrategy[Event] = st.one_of(
    st.builds(Hello, _WORDS), st.builds(Welcome, _WORDS),
    st.builds(Users, st.lists(_WORDS, max_size=4).map(tuple)), st.builds(Join, _WORDS),
    st.builds(Part, _WORDS, _TEXTS), st.builds(NickChange, _WORDS, _WORDS),
    st.builds(Message, _WORDS, _TEXTS), st.builds(Action, _WORDS, _TEXTS),
    st.builds(PrivateMessage, _WORDS, _WORDS, _TEXTS), st.builds(Info, _TEXTS),
    st.builds(Pong, _TEXTS), st.builds(Error, _WORDS, _TEXTS), st.builds(Bye, _TEXTS),
)


@settings(max_examples=300, deadline=None)
@given(_EVENTS, st.one_of(st.none(), _WORDS))
def test_every_event_is_sent_to_people_as_exactly_one_crlf_line(
    event: Event, viewer: str | None,
) -> None:
    encoded = encode_for_people(event, viewer)
    assert encoded.endswith(b"\r\n")
    body = encoded[:-2]
    assert b"\n" not in body and b"\r" not in body
    assert body.decode("utf-8") == render_for_people(event, viewer)
