"""Tests for version 2 of `protocol.wire`: room events with their room, id and time.

As in test_wire.py, one table of (event, v2 line) pairs, covering every version 2 event
type, drives both directions and is read back through the framer whole, one byte at a
time and with trailing data. A property checks the round trip for generated room events.
Then what version 1 makes of the same events (room, id and time dropped, TOPIC told as an
INFO), and the failures: a room event line without a proper room, id or time raises
`MalformedEvent`; an unknown kind, or a version 2 kind read as version 1, is `UnknownEvent`.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.events import (
    ROOM_EVENTS, V2_EVENT_TYPES, Action, Bye, Current, Error, ErrorCode, Event, Hello,
    History, Info, Join, Message, NickChange, Notice, Part, PartReason, Pong, PrivateMessage,
    Replayed, RoomEvent, RoomList, RoomListing, Stats, Topic, UnknownEvent, Users, Welcome,
)
from protocol.framing import Line, LineFramer
from protocol.wire import (
    MalformedEvent, decode_event, decode_room_event_body, encode_event, encode_event_v2,
    event_line, event_line_v2, room_event_body,
)

T = 1_764_500_000_000  # 30 Nov 2025, in milliseconds since the epoch


def room(event: Event, id: int = 42, time: int = T, name: str = "#lobby") -> RoomEvent:
    return RoomEvent(name, id, time, event)


CASES: list[tuple[Event | RoomEvent, str]] = [
    (Hello("lanbox", "2"), "HELLO lanbox 2"),
    (Welcome("alice"), "WELCOME alice"),
    (Users(("alice", "bob"), "#lobby"), "USERS #lobby alice bob"),
    (Users(("@alice", "张三"), "#游戏"), "USERS #游戏 @alice 张三"),
    (Users((), "#empty"), "USERS #empty"),
    (room(Join("bob")), f"JOIN #lobby 42 {T} bob"),
    (room(Join("bob"), id=0, time=0), "JOIN #lobby 0 0 bob"),
    (room(Part("bob", PartReason.LEFT)), f"PART #lobby 42 {T} bob left"),
    (room(Part("bob", "kicked by op: spam")), f"PART #lobby 42 {T} bob kicked by op: spam"),
    (room(Part("bob", "")), f"PART #lobby 42 {T} bob "),
    (room(NickChange("alice", "al")), f"NICK #lobby 42 {T} alice al"),
    (room(Message("alice", "hi")), f"MSG #lobby 42 {T} alice hi"),
    (room(Message("alice", "  two  spaces ")), f"MSG #lobby 42 {T} alice   two  spaces "),
    (room(Message("alice", "")), f"MSG #lobby 42 {T} alice "),
    (room(Message("alice", "MSG #x 1 1 bob fake")), f"MSG #lobby 42 {T} alice MSG #x 1 1 bob fake"),
    (room(Message("张三", "你好 👋"), name="#游戏", id=10**12),
     f"MSG #游戏 1000000000000 {T} 张三 你好 👋"),
    (room(Action("alice", "waves")), f"ACTION #lobby 42 {T} alice waves"),
    (room(Topic("alice", "board games on Friday")),
     f"TOPIC #lobby 42 {T} alice board games on Friday"),
    (room(Topic("alice", "")), f"TOPIC #lobby 42 {T} alice "),
    (room(Notice("teacher", "muted bob for 5 minutes")),
     f"NOTICE #lobby 42 {T} teacher muted bob for 5 minutes"),
    (PrivateMessage("alice", "bob", "psst"), "PRIVMSG alice bob psst"),
    (Info("Welcome"), "INFO Welcome"),
    (Pong("x y"), "PONG x y"),
    (Error(ErrorCode.NOT_IN_ROOM, "you are not in #games"),
     "ERROR NOT_IN_ROOM you are not in #games"),
    (Error(ErrorCode.TOO_MANY_ROOMS, "at most 20"), "ERROR TOO_MANY_ROOMS at most 20"),
    (Bye("banned"), "BYE banned"),
    (Stats((("rooms", "3"),)), "STATS rooms=3"),
    (History("#lobby", 2), "HISTORY #lobby 2"),
    (History("#lobby", 0), "HISTORY #lobby 0"),
    (Current("#games"), "CURRENT #games"),
    (RoomList(2), "ROOMS 2"),
    (RoomList(0), "ROOMS 0"),
    (RoomListing("#lobby", 3, "welcome, all"), "ROOM #lobby 3 welcome, all"),
    (RoomListing("#quiet", 1, ""), "ROOM #quiet 1 "),
]
CASE_IDS = [line for _, line in CASES]


@pytest.mark.parametrize(("event", "line"), CASES, ids=CASE_IDS)
def test_event_encodes_to_its_v2_line(event: Event | RoomEvent, line: str) -> None:
    assert event_line_v2(event) == line
    assert encode_event_v2(event) == (line + "\n").encode("utf-8")


@pytest.mark.parametrize(("event", "line"), CASES, ids=CASE_IDS)
def test_v2_line_decodes_to_its_event(event: Event | RoomEvent, line: str) -> None:
    decoded = decode_event(line, version=2)
    assert decoded == event
    assert type(decoded) is type(event)


def test_table_covers_every_v2_event_type_and_every_room_event() -> None:
    plain = {type(event) for event, _ in CASES if not isinstance(event, RoomEvent)}
    inside = {type(event.event) for event, _ in CASES if isinstance(event, RoomEvent)}
    assert plain | inside == set(V2_EVENT_TYPES)
    assert inside == set(ROOM_EVENTS)


def _read_v2(chunks: list[bytes]) -> list[Event | RoomEvent | UnknownEvent]:
    framer = LineFramer()
    lines = [framed for chunk in chunks for framed in framer.feed(chunk)]
    assert all(isinstance(line, Line) for line in lines), lines
    return [decode_event(line.text, 2) for line in lines if isinstance(line, Line)]


def test_table_read_back_through_the_framer_whole_byte_by_byte_and_with_trailing_data() -> None:
    stream = b"".join(encode_event_v2(event) for event, _ in CASES)
    events = [event for event, _ in CASES]
    assert _read_v2([stream]) == events
    assert _read_v2([stream[i:i + 1] for i in range(len(stream))]) == events
    assert _read_v2([stream + b"SHINY new\nMSG #lo"]) == [*events, UnknownEvent("SHINY new")]


def test_a_replayed_event_is_sent_to_machines_exactly_as_it_was() -> None:
    event = room(Message("alice", "earlier"), id=7, time=T - 60_000)
    assert encode_event_v2(Replayed(event)) == encode_event_v2(event)
    assert encode_event(Replayed(event)) == encode_event(event)


# --- round trip for any room event --------------------------------------------------------

_NOT_SURROGATE = st.characters(blacklist_categories=("Cs",))
WORDS = st.text(_NOT_SURROGATE.filter(lambda char: not char.isspace()), min_size=1, max_size=10)
TEXTS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
                max_size=30)
ROOMS = st.one_of(
    st.text(st.characters(whitelist_categories=("L", "Nd"), whitelist_characters="_-"),
            min_size=1, max_size=32).map(lambda body: "#" + body),
    WORDS,  # the wire carries any word; whether it names a room is the server's to say
)
INNER: st.SearchStrategy[Event] = st.one_of(
    st.builds(Join, WORDS),
    st.builds(Part, WORDS, TEXTS),
    st.builds(NickChange, WORDS, WORDS),
    st.builds(Message, WORDS, TEXTS),
    st.builds(Action, WORDS, TEXTS),
    st.builds(Topic, WORDS, TEXTS),
)
ROOM_EVENT_VALUES = st.builds(
    RoomEvent, ROOMS, st.integers(0, 2**63), st.integers(0, 2**53), INNER,
)


@settings(max_examples=500, deadline=None)
@given(ROOM_EVENT_VALUES)
def test_decoding_an_encoded_room_event_gives_it_back(event: RoomEvent) -> None:
    encoded = encode_event_v2(event)
    assert encoded.endswith(b"\n") and encoded.count(b"\n") == 1
    assert decode_event(encoded[:-1].decode("utf-8"), 2) == event


@settings(max_examples=200, deadline=None)
@given(ROOM_EVENT_VALUES)
def test_version_1_gets_the_inner_event_alone(event: RoomEvent) -> None:
    decoded = decode_event(event_line(event), 1)
    if isinstance(event.event, Topic):
        assert decoded == Info(f"{event.event.nick} set the topic: {event.event.text}")
    else:
        assert decoded == event.event


@settings(max_examples=200, deadline=None)
@given(st.builds(Users, st.lists(WORDS, max_size=6).map(tuple), ROOMS))
def test_users_with_a_room_round_trips_in_v2(users: Users) -> None:
    assert decode_event(event_line_v2(users), 2) == users


# --- what version 1 makes of version 2 events --------------------------------------------

@pytest.mark.parametrize(("event", "v1_line"), [
    (room(Join("bob")), "JOIN bob"),
    (room(Part("bob", "left")), "PART bob left"),
    (room(NickChange("alice", "al")), "NICK alice al"),
    (room(Message("alice", "hi there")), "MSG alice hi there"),
    (room(Action("alice", "waves")), "ACTION alice waves"),
    (room(Topic("alice", "games night")), "INFO alice set the topic: games night"),
    (room(Notice("teacher", "made the room read-only")), "INFO teacher made the room read-only"),
    (Replayed(room(Message("alice", "old"))), "MSG alice old"),
    (Users(("alice", "bob"), "#lobby"), "USERS alice bob"),
    (Users(("alice", "bob")), "USERS alice bob"),
    (Hello("lanbox"), "HELLO lanbox 1"),
], ids=repr)
def test_version_1_drops_room_id_and_time(event: Event | RoomEvent, v1_line: str) -> None:
    assert event_line(event) == v1_line
    assert encode_event(event) == (v1_line + "\n").encode()
    decoded = decode_event(v1_line, 1)
    assert not isinstance(decoded, UnknownEvent)


def test_users_names_its_room_in_v2_and_not_in_v1() -> None:
    users = Users(("alice", "bob"), "#games")
    assert event_line_v2(users).split() == ["USERS", "#games", "alice", "bob"]
    assert "#games" not in event_line(users)


@pytest.mark.parametrize(("line", "event"), [
    ("USERS", Users(())),  # no room at all: nothing to name
    ("USERS #lobby", Users((), "#lobby")),
    ("ROOM #lobby 3", RoomListing("#lobby", 3, "")),  # empty topic without its space
    (f"MSG #lobby 1 {T} alice", RoomEvent("#lobby", 1, T, Message("alice", ""))),
    (f"PART #lobby 1 {T} bob", RoomEvent("#lobby", 1, T, Part("bob", ""))),
])
def test_lenient_v2_lines(line: str, event: Event | RoomEvent) -> None:
    assert decode_event(line, 2) == event


# --- malformed and unknown lines ----------------------------------------------------------

@pytest.mark.parametrize("line", [
    "MSG #lobby alice hi",  # no id, no time
    f"MSG #lobby {T} alice hi",  # no id: the time is read as the id, "alice" as the time
    "JOIN #lobby 5 bob",  # no time
    "JOIN #lobby 5",
    "JOIN #lobby",
    "JOIN",
    f"MSG #lobby x {T} alice hi",  # a non-numeric id
    "MSG #lobby 1 noon alice hi",  # a non-numeric time
    f"MSG #lobby -1 {T} alice hi",  # a negative id
    "MSG #lobby 1 -5 alice hi",  # a negative time
    f"MSG #lobby +1 {T} alice hi",
    f"MSG #lobby 1.5 {T} alice hi",
    f"MSG #lobby ٤٢ {T} alice hi",  # Arabic-Indic digits: digits, but not ASCII
    f"MSG #lobby ４２ {T} alice hi",  # full-width digits
    "MSG #lobby 42 ¹ alice hi",  # a superscript counts as a digit to isdigit()
    f"MSG #lobby 42 {T}",  # no nick
    f"MSG  42 {T} alice hi",  # an empty room
    f"NICK #lobby 42 {T} alice",  # no new nick
    f"NICK #lobby 42 {T} alice al extra",
    f"TOPIC #lobby 42 {T}",
    "HISTORY #lobby",
    "HISTORY #lobby x",
    "HISTORY #lobby -1",
    "HISTORY #lobby 1 2",
    "CURRENT",
    "CURRENT #a #b",
    "ROOMS",
    "ROOMS many",
    "ROOMS ３",
    "ROOM #lobby",
    "ROOM #lobby x topic",
    "ROOM #lobby -1 topic",
])
def test_malformed_v2_lines_raise(line: str) -> None:
    with pytest.raises(MalformedEvent):
        decode_event(line, 2)


@pytest.mark.parametrize("line", ["WEATHER sunny", "", "?", "msg #lobby 1 1 a b", "Topic x"])
def test_unknown_kinds_are_unknown_events_in_v2(line: str) -> None:
    assert decode_event(line, 2) == UnknownEvent(line)


@pytest.mark.parametrize("line", [
    f"TOPIC #lobby 42 {T} alice hi", "HISTORY #lobby 2", "CURRENT #games", "ROOMS 2",
    "ROOM #lobby 3 welcome",
])
def test_version_1_does_not_know_the_v2_only_kinds(line: str) -> None:
    assert decode_event(line, version=1) == UnknownEvent(line)
    assert decode_event(line) == UnknownEvent(line)  # version 1 is the default


def test_version_1_reads_a_v2_room_event_line_as_a_v1_event_of_that_kind() -> None:
    # A v1 reader never gets v2 lines; if it did, the room would be taken for the nick.
    assert decode_event(f"MSG #lobby 42 {T} alice hi", 1) == Message(
        "#lobby", f"42 {T} alice hi")


# --- room events check themselves -----------------------------------------------------------

@pytest.mark.parametrize(("values", "why"), [
    (("#lobby", -1, T, Join("bob")), "negative id"),
    (("#lobby", 1, -1, Join("bob")), "negative time"),
    (("", 1, T, Join("bob")), "empty room"),
    (("#two words", 1, T, Join("bob")), "room with a space"),
    (("#lobby", 1, T, Info("not a room event")), "not a room event"),
    (("#lobby", 1, T, PrivateMessage("a", "b", "private")), "private is in no room"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_a_room_event_that_could_not_be_sent_cannot_be_built(
    values: tuple[str, int, int, Event], why: str,
) -> None:
    with pytest.raises(ValueError):
        RoomEvent(*values)


@pytest.mark.parametrize(("cls", "values"), [
    (History, ("#lobby", -1)),
    (History, ("two words", 1)),
    (RoomList, (-1,)),
    (RoomListing, ("#lobby", -1, "")),
    (RoomListing, ("#lobby", 1, "two\nlines")),
    (Current, ("",)),
    (Users, (("alice",), "two words")),
    (Topic, ("alice", "a\nb")),
], ids=lambda value: value.__name__ if isinstance(value, type) else repr(value))
def test_building_a_v2_event_with_bad_fields_raises(
    cls: type[Event], values: tuple[object, ...],
) -> None:
    with pytest.raises(ValueError):
        cls(*values)


def test_a_room_event_of_checked_parts_is_the_same_frozen_event() -> None:
    made = RoomEvent.of_checked("#lobby", 7, T, Message("alice", "hi"))
    checked = RoomEvent("#lobby", 7, T, Message("alice", "hi"))
    assert made == checked and hash(made) == hash(checked)
    assert encode_event_v2(made) == encode_event_v2(checked)
    with pytest.raises(AttributeError):
        made.id = 8  # type: ignore[misc]


@settings(max_examples=300, deadline=None)
@given(nick=st.sampled_from(["alice", "Ünïcode", "", "two words", "tab\tbed"]),
       texts=st.lists(st.text(st.sampled_from("ab \n\r/é")), min_size=1, max_size=4))
def test_messages_said_by_one_nick_are_the_messages_made_one_by_one(
    nick: str, texts: list[str],
) -> None:
    try:
        one_by_one = [Message(nick, text) for text in texts]
    except ValueError:  # a nick or a text Message refuses: said_by refuses it too
        with pytest.raises(ValueError):
            Message.said_by(nick, texts)
        return
    said = Message.said_by(nick, texts)
    assert said == one_by_one
    assert [hash(message) for message in said] == [hash(message) for message in one_by_one]
    for message in said:
        with pytest.raises(AttributeError):
            message.text = "changed"  # type: ignore[misc]


@settings(max_examples=300, deadline=None)
@given(ROOM_EVENT_VALUES)
def test_a_room_event_body_is_its_v2_line_without_room_id_and_time(event: RoomEvent) -> None:
    body = room_event_body(event)
    kind, stamp = event.event.KIND, f" {event.room} {event.id} {event.time}"
    assert event_line_v2(event) == kind + stamp + body[len(kind):]
    assert decode_room_event_body(event.room, event.id, event.time, body) == event


@pytest.mark.parametrize("body", ["", "MSG", "HELLO lanbox 2", "WHATEVER x", "JOIN", "NICK a"])
def test_a_body_that_is_no_room_event_line_is_malformed(body: str) -> None:
    with pytest.raises(MalformedEvent):
        decode_room_event_body("#lobby", 1, T, body)
