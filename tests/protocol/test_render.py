"""Tests for `protocol.render`: events as lines for people in `nc`, `telnet` or PuTTY.

The exact wording is the project's choice, so most checks ask only that the information
is there (who, what, why). The room events keep the IRC forms the module documents
(`<alice> hi`, `* alice waves`, `*** bob joined`). A private message reads differently
to its sender and its recipient. Every rendered event is one line, sent ending in CRLF.

Version 2 adds rooms: a room event reads as the event it wraps, with `[#room]` in front
for someone in several rooms; replayed history has a `| ` gutter, the date and the time
(the time zone is fixed by the tests, then put back), so nobody can take it for, or fake,
a live line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.events import (
    Action, Bye, Current, Error, ErrorCode, Event, Hello, History, Info, Join, Message,
    NickChange, Part, PartReason, Pong, PrivateMessage, Replayed, RoomEvent, RoomList,
    RoomListing, Topic, Users, Welcome,
)
from protocol.render import (
    HUMAN_LINE_END, encode_for_people, encode_for_people_in_rooms, render_for_people,
)

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


# --- version 2: rooms, topics, history ----------------------------------------------------
#
# The history lines show the server's local time, so these tests fix the time zone: UTC,
# or (to see that it is the local time and not UTC that is shown) five and a half hours
# east of it, a zone with no daylight saving. T is 30 Nov 2025, 10:53:20 UTC.

T = 1_764_500_000_000


@pytest.fixture
def time_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set the process's time zone with `time_zone("UTC")`; the old one is back afterwards."""

    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def utc(time_zone: Callable[[str], None]) -> None:
    time_zone("UTC")


def in_lobby(event: Event, id: int = 7, at: int = T) -> RoomEvent:
    return RoomEvent("#lobby", id, at, event)


# (event, the exact line for a person in one room)
V2_FORMS: list[tuple[Event | RoomEvent, str]] = [
    (in_lobby(Message("alice", "hi")), "<alice> hi"),
    (in_lobby(Action("alice", "waves")), "* alice waves"),
    (in_lobby(Join("bob")), "*** bob joined"),
    (in_lobby(Part("bob", PartReason.LEFT)), "*** bob left (left)"),
    (in_lobby(NickChange("alice", "al")), "*** alice is now known as al"),
    (in_lobby(Topic("alice", "games at 8")), "*** alice set the topic: games at 8"),
    (Topic("alice", "games at 8"), "*** alice set the topic: games at 8"),
    (Users(("@alice", "bob"), "#games"), "*** In #games (2): @alice, bob"),
    (Users(("alice",)), "*** In the room (1): alice"),
    (History("#lobby", 2), "*** History of #lobby: 2 earlier lines"),
    (History("#lobby", 1), "*** History of #lobby: 1 earlier line"),
    (History("#lobby", 0), "*** History of #lobby: 0 earlier lines"),
    (Current("#games"), "*** You are now talking in #games"),
    (RoomList(2), "*** Rooms with people in them: 2"),
    (RoomListing("#lobby", 3, "welcome, all"), "***   #lobby  (3)  welcome, all"),
    (RoomListing("#quiet", 1, ""), "***   #quiet  (1)"),  # no topic: no trailing blanks
    (Hello("lanbox", "2"), "*** lanbox speaks protocol 2"),
]


@pytest.mark.parametrize(("event", "line"), V2_FORMS, ids=[line for _, line in V2_FORMS])
def test_v2_event_for_a_person_in_one_room(event: Event | RoomEvent, line: str) -> None:
    assert render_for_people(event) == line
    assert encode_for_people(event) == (line + "\r\n").encode("utf-8")


def test_a_room_event_reads_as_the_event_it_wraps() -> None:
    for event, _ in ROOM_FORMS:
        assert render_for_people(in_lobby(event)) == render_for_people(event)


@pytest.mark.parametrize(("event", "line"), [
    (in_lobby(Message("alice", "hi")), "[#lobby] <alice> hi"),
    (RoomEvent("#游戏", 1, T, Join("张三")), "[#游戏] *** 张三 joined"),
    (in_lobby(Topic("alice", "x")), "[#lobby] *** alice set the topic: x"),
], ids=repr)
def test_show_room_puts_the_room_in_front_of_room_events(event: RoomEvent, line: str) -> None:
    assert render_for_people(event, show_room=True) == line
    assert encode_for_people_in_rooms(event) == (line + "\r\n").encode("utf-8")
    assert encode_for_people(event, show_room=True) == encode_for_people_in_rooms(event)


@pytest.mark.parametrize("event", [
    Info("hello"), Users(("alice",), "#lobby"), Current("#lobby"), History("#lobby", 1),
    RoomListing("#lobby", 1, "topic"), PrivateMessage("alice", "bob", "psst"),
    Error(ErrorCode.NOT_IN_ROOM, "not there"),
], ids=repr)
def test_show_room_leaves_other_events_alone(event: Event) -> None:
    # They name their room already, or belong to none: a prefix would only repeat it.
    assert render_for_people(event, show_room=True) == render_for_people(event)


def test_show_room_keeps_the_viewers_private_message_form() -> None:
    assert render_for_people(PRIVATE, viewer="alice", show_room=True) == (
        "-> *bob* psst, a secret")


def test_replayed_line_has_the_gutter_the_date_and_the_time(utc: None) -> None:
    replayed = Replayed(in_lobby(Message("alice", "good morning")))
    assert render_for_people(replayed) == "| 30 Nov 10:53 <alice> good morning"


@pytest.mark.parametrize(("event", "line"), [
    (in_lobby(Join("bob"), at=T + 60_000), "| 30 Nov 10:54 *** bob joined"),
    (in_lobby(Action("alice", "yawns"), at=0), "| 01 Jan 00:00 * alice yawns"),
    (in_lobby(Topic("alice", "hi"), at=T + 59_999), "| 30 Nov 10:54 *** alice set the topic: hi"),
    (in_lobby(Part("bob", "quit"), at=1_767_225_599_000), "| 31 Dec 23:59 *** bob left (quit)"),
], ids=repr)
def test_replayed_lines_in_utc(utc: None, event: RoomEvent, line: str) -> None:
    assert render_for_people(Replayed(event)) == line


def test_replayed_line_shows_the_servers_local_time(time_zone: Callable[[str], None]) -> None:
    replayed = Replayed(in_lobby(Message("alice", "hi")))
    time_zone("XST-5:30")  # POSIX form: 5:30 east of UTC, no daylight saving
    assert render_for_people(replayed) == "| 30 Nov 16:23 <alice> hi"
    time_zone("UTC")
    assert render_for_people(replayed) == "| 30 Nov 10:53 <alice> hi"


def test_replayed_line_in_several_rooms_has_gutter_time_then_room(utc: None) -> None:
    replayed = Replayed(in_lobby(Message("alice", "hi")))
    assert render_for_people(replayed, show_room=True) == "| 30 Nov 10:53 [#lobby] <alice> hi"
    assert encode_for_people_in_rooms(replayed) == b"| 30 Nov 10:53 [#lobby] <alice> hi\r\n"


def test_nobody_can_say_a_line_that_looks_replayed(utc: None) -> None:
    # What people say starts with their <nick> (or [#room] first): never with the gutter.
    fake = in_lobby(Message("alice", "| 30 Nov 10:53 <bob> I owe alice 100"))
    assert not render_for_people(fake).startswith("|")
    assert not render_for_people(fake, show_room=True).startswith("|")
    assert render_for_people(Replayed(fake)).startswith("| ")


_ROOM_NAMES = _WORDS.map(lambda body: "#" + body)
_V2_EVENTS: st.SearchStrategy[Event | RoomEvent | Replayed] = st.one_of(
    st.builds(RoomEvent, _ROOM_NAMES, st.integers(0, 2**40), st.integers(0, 2**42), st.one_of(
        st.builds(Join, _WORDS), st.builds(Part, _WORDS, _TEXTS),
        st.builds(NickChange, _WORDS, _WORDS), st.builds(Message, _WORDS, _TEXTS),
        st.builds(Action, _WORDS, _TEXTS), st.builds(Topic, _WORDS, _TEXTS),
    )).flatmap(lambda event: st.sampled_from([event, Replayed(event)])),
    st.builds(Users, st.lists(_WORDS, max_size=4).map(tuple), _ROOM_NAMES),
    st.builds(History, _ROOM_NAMES, st.integers(0, 500)), st.builds(Current, _ROOM_NAMES),
    st.builds(RoomList, st.integers(0, 1000)),
    st.builds(RoomListing, _ROOM_NAMES, st.integers(0, 1000), _TEXTS),
)


@settings(max_examples=300, deadline=None)
@given(_V2_EVENTS, st.booleans())
def test_every_v2_event_is_sent_to_people_as_exactly_one_crlf_line(
    event: Event | RoomEvent | Replayed, show_room: bool,
) -> None:
    encoded = encode_for_people(event, show_room=show_room)
    assert encoded.endswith(b"\r\n")
    body = encoded[:-2]
    assert b"\n" not in body and b"\r" not in body
    if isinstance(event, RoomEvent) and show_room:
        assert body.decode("utf-8").startswith(f"[{event.room}] ")
    if isinstance(event, Replayed):
        assert body.startswith(b"| ")
