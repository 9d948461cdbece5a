"""Tests for `protocol.wire` and the events it carries: one event, one line, both ways.

One table of (event, line) pairs, covering every event type, drives both directions:
encoding gives the line, decoding gives the event back; the whole table also goes through
the framer whole, one byte at a time and with trailing data, as a client would read it.
A property checks the round trip for generated events. Then the failures: unknown kinds
are let through as `UnknownEvent`, known kinds with the wrong fields raise
`MalformedEvent`, and an event that could not be one line cannot be built at all.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.events import (
    EVENT_TYPES, Action, Bye, Stats, Error, ErrorCode, Event, Hello, Info, Join, Message,
    NickChange, Part, PartReason, Pong, PrivateMessage, UnknownEvent, Users, Welcome,
)
from protocol.framing import Line, LineFramer
from protocol.wire import MalformedEvent, decode_event, encode_event, event_line

CASES: list[tuple[Event, str]] = [
    (Hello("lanbox"), "HELLO lanbox 1"),
    (Hello("lanbox", "2"), "HELLO lanbox 2"),
    (Welcome("alice"), "WELCOME alice"),
    (Welcome("张三"), "WELCOME 张三"),
    (Users(()), "USERS"),
    (Users(("alice",)), "USERS alice"),
    (Users(("alice", "bob", "张三", "José")), "USERS alice bob 张三 José"),
    (Join("bob"), "JOIN bob"),
    (Join("Jose\u0301"), "JOIN Jose\u0301"),
    (Part("bob", PartReason.QUIT), "PART bob quit"),
    (Part("bob", PartReason.TOO_SLOW), "PART bob too slow"),
    (Part("bob", "gone for lunch, back at 2"), "PART bob gone for lunch, back at 2"),
    (Part("bob", ""), "PART bob "),
    (NickChange("alice", "al"), "NICK alice al"),
    (NickChange("bob", "张三"), "NICK bob 张三"),
    (Message("alice", "hi"), "MSG alice hi"),
    (Message("alice", "hello, everyone  here"), "MSG alice hello, everyone  here"),
    (Message("alice", ""), "MSG alice "),
    (Message("alice", "  padded  "), "MSG alice   padded  "),
    (Message("alice", "tab\tinside"), "MSG alice tab\tinside"),
    (Message("alice", "MSG bob fake"), "MSG alice MSG bob fake"),
    (Message("张三", "你好 👨‍👩‍👧"), "MSG 张三 你好 👨‍👩‍👧"),
    (Action("alice", "waves"), "ACTION alice waves"),
    (Action("alice", "waves at everyone"), "ACTION alice waves at everyone"),
    (PrivateMessage("alice", "bob", "psst"), "PRIVMSG alice bob psst"),
    (PrivateMessage("alice", "bob", "a secret, with spaces"),
     "PRIVMSG alice bob a secret, with spaces"),
    (PrivateMessage("alice", "bob", ""), "PRIVMSG alice bob "),
    (Info("Welcome to the LAN chat"), "INFO Welcome to the LAN chat"),
    (Info(""), "INFO "),
    (Pong("12345"), "PONG 12345"),
    (Pong("two words"), "PONG two words"),
    (Pong(""), "PONG "),
    (Error(ErrorCode.BAD_NICK, "'!' is not allowed"), "ERROR BAD_NICK '!' is not allowed"),
    (Error(ErrorCode.NICK_IN_USE, "bob is taken"), "ERROR NICK_IN_USE bob is taken"),
    (Error(ErrorCode.LINE_TOO_LONG, ""), "ERROR LINE_TOO_LONG "),
    (Bye(PartReason.SERVER_SHUTTING_DOWN), "BYE server shutting down"),
    (Bye("too slow"), "BYE too slow"),
    (Stats(()), "STATS"),
    (Stats((("tasks", "7"), ("uptime", "1.5"))), "STATS tasks=7 uptime=1.5"),
]
CASE_IDS = [line for _, line in CASES]


@pytest.mark.parametrize(("event", "line"), CASES, ids=CASE_IDS)
def test_event_encodes_to_its_line(event: Event, line: str) -> None:
    assert event_line(event) == line
    assert encode_event(event) == (line + "\n").encode("utf-8")


@pytest.mark.parametrize(("event", "line"), CASES, ids=CASE_IDS)
def test_line_decodes_to_its_event(event: Event, line: str) -> None:
    decoded = decode_event(line)
    assert decoded == event
    assert type(decoded) is type(event)


def test_table_covers_every_event_type() -> None:
    assert {type(event) for event, _ in CASES} == set(EVENT_TYPES)


def _read_events(chunks: list[bytes]) -> list[Event | UnknownEvent]:
    """What a client reading these bytes gets: framed into lines, each decoded."""
    framer = LineFramer()
    lines = [framed for chunk in chunks for framed in framer.feed(chunk)]
    assert all(isinstance(line, Line) for line in lines), lines
    return [decode_event(line.text) for line in lines if isinstance(line, Line)]


def test_table_read_back_through_the_framer_whole_and_byte_by_byte() -> None:
    stream = b"".join(encode_event(event) for event, _ in CASES)
    events = [event for event, _ in CASES]
    assert _read_events([stream]) == events
    assert _read_events([stream[i:i + 1] for i in range(len(stream))]) == events
    assert _read_events([stream + b"WEATHER sunny\n"]) == [*events, UnknownEvent("WEATHER sunny")]


# --- lenient and unknown lines -----------------------------------------------------------

@pytest.mark.parametrize(("line", "event"), [
    ("MSG alice", Message("alice", "")),  # empty text without its separating space
    ("PRIVMSG alice bob", PrivateMessage("alice", "bob", "")),
    ("PONG", Pong("")),
    ("INFO", Info("")),
    ("BYE", Bye("")),
    ("USERS ", Users(())),
])
def test_empty_last_text_field_may_come_without_its_space(line: str, event: Event) -> None:
    assert decode_event(line) == event


@pytest.mark.parametrize("line", [
    "WEATHER sunny", "TOPIC", "", " MSG alice hi", "msg alice hi", "Welcome alice", "?",
])
def test_unknown_kind_decodes_to_unknown_event_carrying_the_line(line: str) -> None:
    assert decode_event(line) == UnknownEvent(line)


@pytest.mark.parametrize("line", [
    "WELCOME", "WELCOME ", "WELCOME a b", "JOIN", "JOIN a b",
    "NICK a", "NICK a b c", "NICK", "HELLO", "HELLO lanbox", "HELLO lanbox 1 extra",
    "MSG", "MSG ", "MSG  hi",  # no nick / an empty nick
    "ACTION", "PART", "PRIVMSG alice", "PRIVMSG", "ERROR", "PRIVMSG alice  hi",
    "STATS tasks", "STATS =7", "STATS tasks=", "STATS tasks=7 uptime",
])
def test_known_kind_with_wrong_fields_raises_malformed_event(line: str) -> None:
    with pytest.raises(MalformedEvent):
        decode_event(line)


def test_malformed_event_is_a_value_error() -> None:
    # Callers may treat "the peer sent a bad line" like any other bad value.
    assert issubclass(MalformedEvent, ValueError)


# --- events check themselves --------------------------------------------------------------

def _case_id(value: object) -> str:
    return value.__name__ if isinstance(value, type) else repr(value)


@pytest.mark.parametrize(("cls", "values"), [
    (Welcome, ("two words",)),
    (Welcome, ("",)),
    (Welcome, ("tab\there",)),
    (Welcome, ("new\nline",)),
    (Join, ("no-break\u00a0space",)),
    (Hello, ("my server",)),
    (Hello, ("lanbox", "1 2")),
    (Users, (("alice", "two words"),)),
    (Users, (("",),)),
    (Part, ("two words", "quit")),
    (NickChange, ("alice", "al ice")),
    (Message, ("al ice", "hi")),
    (Action, ("", "waves")),
    (PrivateMessage, ("alice", "b ob", "hi")),
    (Error, ("BAD NICK", "text")),
], ids=_case_id)
def test_building_an_event_whose_word_field_is_not_one_word_raises(
    cls: type[Event], values: tuple[object, ...],
) -> None:
    with pytest.raises(ValueError):
        cls(*values)


@pytest.mark.parametrize(("cls", "values"), [
    (Message, ("alice", "two\nlines")),
    (Message, ("alice", "ends in newline\n")),
    (Message, ("alice", "carriage\rreturn")),
    (Action, ("alice", "\n")),
    (PrivateMessage, ("alice", "bob", "a\nb")),
    (Part, ("bob", "quit\r\n")),
    (Info, ("x\ny",)),
    (Pong, ("\n",)),
    (Error, (ErrorCode.BAD_ARGS, "a\nb")),
    (Bye, ("\r",)),
], ids=_case_id)
def test_building_an_event_with_a_line_break_in_its_text_raises(
    cls: type[Event], values: tuple[object, ...],
) -> None:
    with pytest.raises(ValueError):
        cls(*values)


@pytest.mark.parametrize("room", [None, "#lobby"])
def test_users_of_nicks_checked_already_is_the_same_event(room: str | None) -> None:
    nicks = ("alice", "bob", "张三")
    Users.check_nicks(nicks)
    users = Users.of_checked(nicks, room)
    assert users == Users(nicks, room)
    assert encode_event(users) == encode_event(Users(nicks, room))
    with pytest.raises(AttributeError):
        users.nicks = ()  # type: ignore[misc]  # as frozen as any other event


@pytest.mark.parametrize("nick", ["", "car ol", "tab\there", "line\nbreak"])
def test_checking_nicks_refuses_one_that_is_not_one_word(nick: str) -> None:
    with pytest.raises(ValueError):
        Users.check_nicks(["alice", nick])


def test_users_of_nicks_checked_already_still_checks_its_room() -> None:
    with pytest.raises(ValueError):
        Users.of_checked(("alice",), "#two words")


def test_events_are_frozen() -> None:
    event = Message("alice", "hi")
    with pytest.raises(AttributeError):
        event.text = "changed"  # type: ignore[misc]


# --- round trip for any valid event -------------------------------------------------------

_NOT_SURROGATE = st.characters(blacklist_categories=("Cs",))
WORDS = st.text(_NOT_SURROGATE.filter(lambda char: not char.isspace()), min_size=1, max_size=10)
TEXTS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
                max_size=30)
EVENTS: st.SearchStrategy[Event] = st.one_of(
    st.builds(Hello, WORDS, WORDS),
    st.builds(Welcome, WORDS),
    st.builds(Users, st.lists(WORDS, max_size=6).map(tuple)),
    st.builds(Join, WORDS),
    st.builds(Part, WORDS, TEXTS),
    st.builds(NickChange, WORDS, WORDS),
    st.builds(Message, WORDS, TEXTS),
    st.builds(Action, WORDS, TEXTS),
    st.builds(PrivateMessage, WORDS, WORDS, TEXTS),
    st.builds(Info, TEXTS),
    st.builds(Pong, TEXTS),
    st.builds(Error, WORDS, TEXTS),
    st.builds(Bye, TEXTS),
)


@settings(max_examples=500, deadline=None)
@given(EVENTS)
def test_decoding_an_encoded_event_gives_it_back(event: Event) -> None:
    encoded = encode_event(event)
    assert encoded.endswith(b"\n") and encoded.count(b"\n") == 1
    assert decode_event(encoded[:-1].decode("utf-8")) == event
    assert decode_event(event_line(event)) == event


@settings(max_examples=100, deadline=None)
@given(st.lists(EVENTS, max_size=8), st.lists(st.integers(0, 2_000), max_size=6))
def test_a_stream_of_events_reads_back_in_order_in_any_split(
    events: list[Event], cuts: list[int],
) -> None:
    stream = b"".join(encode_event(event) for event in events)
    points = sorted({min(cut, len(stream)) for cut in cuts})
    bounds = [0, *points, len(stream)]
    assert _read_events([stream[a:b] for a, b in zip(bounds, bounds[1:])]) == events
