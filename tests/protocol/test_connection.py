"""Tests for `protocol.connection`: one client's line protocol, bytes in and bytes out.

Reading: one table of (bytes in, commands out) cases, each fed whole, one byte at a time
(drained after every byte, and all received before draining), and with a partial next
line after it; all must give the same commands, and a property checks any split of a
stream. Then the lines that cannot be read (too long, not UTF-8), which become
`Unreadable` while the connection carries on; lines that are blank once sanitised; and
`/hello`, which sets the commands a connection may use the moment it is read.

Writing: the rendering changes only when the HELLO event is *sent*; one table of
(event, people line, v1 line, v2 line) checks `send` in each rendering; and
`shared_encoder` is one function object per rendering, so the fan-out can encode an
event once and hand the same bytes to every connection that reads it the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.commands import (
    BadArgs, Command, InRoom, JoinRoom, LeaveRoom, ListRooms, Me, Say, SayLines, SendPrivate,
    SetNick, SetTopic, ShowHistory, ShowTopic, StartMachineMode, UnknownCommand, Unreadable, Who,
)
from protocol.connection import LINES_AT_ONCE, LineConnection, Rendering
from protocol.events import (
    Action, AnyEvent, Bye, Current, Error, ErrorCode, Hello, History, Info, Join, Message,
    NickChange, Part, Pong, PrivateMessage, Replayed, RoomEvent, RoomList, RoomListing,
    Stats, Topic, Users, Welcome,
)
from protocol.framing import MAX_LINE_BYTES
from protocol.render import encode_for_people, encode_for_people_in_rooms
from protocol.wire import encode_event, encode_event_v2

TELNET_CLIENT_OPENING = b"\xff\xfd\x03\xff\xfb\x18\xff\xfb\x1f\xff\xfb\x20\xff\xfb\x21"
"""What a real telnet client sends first: DO SUPPRESS-GO-AHEAD, WILL TERMINAL-TYPE, ..."""


def too_long() -> Unreadable:
    return Unreadable(ErrorCode.LINE_TOO_LONG, "")


def bad_encoding() -> Unreadable:
    return Unreadable(ErrorCode.BAD_ENCODING, "")


def comparable(command: Command) -> Command:
    """An `Unreadable` compared by its code alone: its explanation is tested on its own."""
    return Unreadable(command.code, "") if isinstance(command, Unreadable) else command


def one_per_line(commands: list[Command]) -> list[Command]:
    """`commands` with each `SayLines` as the `Say`s of its lines: which lines make one
    run depends on how the bytes arrived (tested on its own, below), what they say not."""
    return [said for command in commands
            for said in (command.one_by_one() if isinstance(command, SayLines) else [command])]


def drain(connection: LineConnection) -> list[Command]:
    """Every command the bytes received so far complete, one per line."""
    return one_per_line([comparable(command) for command in iter(connection.next_command, None)])


def read(chunks: list[bytes], connection: LineConnection | None = None) -> list[Command]:
    """Feed `chunks` one by one, draining after each; return every command."""
    connection = connection or LineConnection()
    commands = []
    for chunk in chunks:
        connection.receive_data(chunk)
        commands += drain(connection)
    return commands


# (case name, bytes in, commands out) for a new connection (a person's: no /hello yet).
# Every case ends at a line boundary, so anything after it is read on its own.
CASES: list[tuple[str, bytes, list[Command]]] = [
    ("text is said", b"hi\n", [Say("hi")]),
    ("CRLF", b"hi there\r\n", [Say("hi there")]),
    ("several lines", b"/nick alice\nhi\r\n/me waves\n",
     [SetNick("alice"), Say("hi"), Me("waves")]),
    ("double slash says a slash", b"//shrug\n", [Say("/shrug")]),
    ("private message", b"/msg bob psst, you\n", [SendPrivate("bob", "psst, you")]),
    ("UTF-8", "你好 👋\n".encode(), [Say("你好 👋")]),
    ("unknown command", b"/dance\n", [UnknownCommand("dance")]),
    ("missing arguments", b"/nick\n", [BadArgs("nick", "/nick NAME")]),
    ("v2 command for a person", b"/join games\n", [JoinRoom("games")]),
    ("empty lines skipped", b"\n\r\n\n", []),
    ("blank lines skipped", b"   \n\t \r\n", []),
    ("escape sequence alone is blank", b"\x1b[31m\x1b[0m\n", []),
    ("arrow keys alone are blank", b"\x1b[A\x1b[B\n", []),
    ("control characters alone are blank", b"\x07\x00\x7f\n", []),
    ("bidi override alone is blank", "\u202e\u2066\n".encode(), []),
    ("escapes removed from text", b"\x1b[31mred\x1b[0m text\n", [Say("red text")]),
    ("controls removed from a command", b"/nick al\x07ice\n", [SetNick("alice")]),
    ("bidi override removed", "abc\u202edef\n".encode(), [Say("abcdef")]),
    ("telnet opening removed", TELNET_CLIENT_OPENING + b"alice\r\n", [Say("alice")]),
    ("telnet command inside a line removed", b"/ni\xff\xf1ck bob\n", [SetNick("bob")]),
    ("telnet opening alone is nothing", TELNET_CLIENT_OPENING + b"\r\n", []),
    ("too long, then fine", b"a" * (MAX_LINE_BYTES + 1) + b"\nok\n", [too_long(), Say("ok")]),
    ("exactly the limit is fine", b"a" * MAX_LINE_BYTES + b"\n", [Say("a" * MAX_LINE_BYTES)]),
    ("not UTF-8, then fine", b"caf\xe9\nok\n", [bad_encoding(), Say("ok")]),
    ("both problems, in order", b"\xfe\xc3\x28\n" + b"x" * 3000 + b"\n/who\n",
     [bad_encoding(), too_long(), Who()]),
    ("blank line between commands", b"one\n\x1b[K\ntwo\n", [Say("one"), Say("two")]),
    ("hello", b"/hello chat-client 2\n", [StartMachineMode("chat-client", "2")]),
]
CASE_IDS = [name for name, _, _ in CASES]
PARTIAL = b"the start of a next li"


@pytest.mark.parametrize(("name", "data", "commands"), CASES, ids=CASE_IDS)
def test_fed_whole(name: str, data: bytes, commands: list[Command]) -> None:
    assert read([data]) == commands


@pytest.mark.parametrize(("name", "data", "commands"), CASES, ids=CASE_IDS)
def test_fed_one_byte_at_a_time(name: str, data: bytes, commands: list[Command]) -> None:
    assert read([data[i:i + 1] for i in range(len(data))]) == commands


@pytest.mark.parametrize(("name", "data", "commands"), CASES, ids=CASE_IDS)
def test_fed_one_byte_at_a_time_all_received_before_reading(
    name: str, data: bytes, commands: list[Command],
) -> None:
    connection = LineConnection()
    for i in range(len(data)):
        connection.receive_data(data[i:i + 1])
    assert drain(connection) == commands


@pytest.mark.parametrize(("name", "data", "commands"), CASES, ids=CASE_IDS)
def test_fed_with_trailing_data(name: str, data: bytes, commands: list[Command]) -> None:
    connection = LineConnection()
    assert read([data + PARTIAL], connection) == commands
    assert connection.buffered == len(PARTIAL)
    assert read([b"ne\n"], connection) == [Say(PARTIAL.decode() + "ne")]
    assert connection.buffered == 0


_STREAM = b"".join(data for _, data, _ in CASES)
_COMMANDS = [command for _, _, commands in CASES for command in commands]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, len(_STREAM)), max_size=12))
def test_any_split_of_the_whole_table_reads_the_same(cuts: list[int]) -> None:
    bounds = [0, *sorted(set(cuts)), len(_STREAM)]
    assert read([_STREAM[a:b] for a, b in zip(bounds, bounds[1:])]) == _COMMANDS


def test_nothing_received_is_nothing_to_read() -> None:
    connection = LineConnection()
    assert connection.next_command() is None
    connection.receive_data(b"")
    assert connection.next_command() is None
    assert connection.buffered == 0


def test_commands_come_out_one_at_a_time_and_then_none() -> None:
    connection = LineConnection()
    connection.receive_data(b"/nick a\nb\n/who\n")
    assert connection.next_command() == SetNick("a")
    assert connection.next_command() == Say("b")
    assert connection.next_command() == Who()
    assert connection.next_command() is None
    assert connection.next_command() is None


# --- plain lines that arrive together: one SayLines ---------------------------------------

def test_plain_lines_received_together_are_one_command_in_order() -> None:
    connection = LineConnection()
    connection.receive_data(b"one\r\ntwo\n//three\n\x1b[31mfour\n")
    assert connection.next_command() == SayLines(("one", "two", "/three", "four"))
    assert connection.next_command() is None


@pytest.mark.parametrize(("after", "next_command"), [
    (b"/who\n", Who()),
    (b"/hello bot 2\n", StartMachineMode("bot", "2")),
    (b"\x07\n", None),  # blank once sanitised: skipped, as ever
    (b"x" * (MAX_LINE_BYTES + 1) + b"\n", too_long()),
    (b"caf\xe9\n", bad_encoding()),
], ids=["command", "hello", "blank", "too long", "not UTF-8"])
def test_a_run_stops_before_any_other_line_which_is_read_next_as_ever(
    after: bytes, next_command: Command | None,
) -> None:
    connection = LineConnection()
    connection.receive_data(b"a\nb\n" + after + b"c\nd\n")
    commands = [comparable(command) for command in iter(connection.next_command, None)]
    assert commands == [SayLines(("a", "b")), *([next_command] if next_command else []),
                        SayLines(("c", "d"))]


def test_a_hello_after_a_run_takes_effect_only_when_it_is_read() -> None:
    # Lines are read ahead only while they are plain: the /hello after the run is
    # parsed (and switches the version) when its own turn comes, not while the run is
    # gathered, so "alice" is still read as a person's first line.
    connection = LineConnection()
    connection.receive_data(b"alice\nhi\n/hello bot 2\n")
    assert connection.next_command() == SayLines(("alice", "hi"))
    assert not connection.said_hello
    assert connection.next_command() == StartMachineMode("bot", "2")
    assert connection.said_hello


def test_an_unfinished_line_is_not_part_of_a_run_until_it_ends() -> None:
    connection = LineConnection()
    connection.receive_data(b"a\nb\nunfini")
    assert connection.next_command() == SayLines(("a", "b"))
    assert connection.next_command() is None
    assert connection.buffered == len(b"unfini")
    connection.receive_data(b"shed\nc\n")
    assert connection.next_command() == SayLines(("unfinished", "c"))


def test_a_run_holds_at_most_lines_at_once_and_the_rest_follow() -> None:
    connection = LineConnection()
    connection.receive_data(b"".join(b"%d\n" % number for number in range(LINES_AT_ONCE + 3)))
    first, second = connection.next_command(), connection.next_command()
    assert first == SayLines(tuple(str(number) for number in range(LINES_AT_ONCE)))
    assert second == SayLines(tuple(str(number) for number in range(LINES_AT_ONCE,
                                                                    LINES_AT_ONCE + 3)))
    assert connection.next_command() is None


# --- lines that cannot be read --------------------------------------------------------------

def test_too_long_is_reported_as_soon_as_the_limit_is_passed_and_says_the_limit() -> None:
    connection = LineConnection(max_line_bytes=10)
    connection.receive_data(b"a" * 11)  # no LF yet
    command = connection.next_command()
    assert isinstance(command, Unreadable)
    assert command.code == ErrorCode.LINE_TOO_LONG
    assert "10" in command.text
    assert connection.buffered <= 10


def test_the_rest_of_a_too_long_line_is_dropped_and_the_connection_carries_on() -> None:
    connection = LineConnection(max_line_bytes=10)
    assert read([b"a" * 11, b"b" * 5000, b"more\n/nick bob\n"], connection) == [
        too_long(), SetNick("bob")]
    assert read([b"b" * 10 + b"\n"], connection) == [Say("b" * 10)]


def test_too_long_is_reported_once_per_line() -> None:
    connection = LineConnection(max_line_bytes=10)
    assert read([b"x" * 25 + b"\n" + b"y" * 25 + b"\n"], connection) == [too_long(), too_long()]


def test_the_default_limit_is_the_contracts_2048_bytes() -> None:
    connection = LineConnection()
    connection.receive_data(b"a" * 2049)
    command = connection.next_command()
    assert isinstance(command, Unreadable) and "2048" in command.text


def test_bad_encoding_is_reported_and_the_connection_carries_on() -> None:
    connection = LineConnection()
    connection.receive_data(b"\xc3\x28\n")
    command = connection.next_command()
    assert isinstance(command, Unreadable)
    assert command.code == ErrorCode.BAD_ENCODING
    assert "UTF-8" in command.text
    assert read([b"/nick alice\n"], connection) == [SetNick("alice")]


def test_a_blank_line_does_not_hide_the_lines_after_it() -> None:
    # next_command skips blank lines itself: one call must reach the next real line.
    connection = LineConnection()
    connection.receive_data(b"\x1b[A\n\x07\n   \nhi\n")
    assert connection.next_command() == Say("hi")


# --- /hello: which commands a connection may use -----------------------------------------

@pytest.mark.parametrize(("line", "version"), [
    (b"/hello chat-client 1\n", 1),
    (b"/hello chat-client 0\n", 1),
    (b"/hello chat-client 2\n", 2),
    (b"/hello chat-client 7\n", 2),
    (b"/hello chat-client 02\n", 2),
    (b"/HELLO chat-client 2\n", 2),
    (b"/hello chat-client x\n", 1),  # not a number: the version everyone speaks
    (b"/hello chat-client 2.0\n", 1),
    (b"/hello chat-client -2\n", 1),
    ("/hello chat-client ٢\n".encode(), 1),  # an Arabic-Indic two is not ASCII
    (b"/hello chat-client 2 \n", 2),  # a trailing blank, as typed in nc
    (b"/hello chat-client 2\t\r\n", 2),
    (b"/hello chat-client 2 extra words\n", 2),  # only the version's own word counts
    (b"/hello chat-client 1 2\n", 1),
], ids=repr)
def test_hello_sets_the_version(line: bytes, version: int) -> None:
    connection = LineConnection()
    assert isinstance(read([line], connection)[0], StartMachineMode)
    assert connection.said_hello
    assert connection.version == version


def test_a_new_connection_is_a_person_with_every_feature() -> None:
    connection = LineConnection()
    assert connection.rendering is Rendering.PEOPLE
    assert connection.version == 2
    assert not connection.said_hello


@pytest.mark.parametrize("line", [b"/hello\n", b"/hello chat-client\n"])
def test_hello_without_its_arguments_changes_nothing(line: bytes) -> None:
    connection = LineConnection()
    assert read([line], connection) == [BadArgs("hello", "/hello CLIENT VERSION")]
    assert not connection.said_hello
    assert connection.version == 2


@pytest.mark.parametrize(("first", "second", "version"), [
    (b"1", b"2", 1), (b"2", b"1", 2), (b"x", b"7", 1), (b"7", b"x", 2),
], ids=repr)
def test_a_second_hello_does_not_change_the_version(
    first: bytes, second: bytes, version: int,
) -> None:
    connection = LineConnection()
    commands = read([b"/hello c " + first + b"\n/hello c " + second + b"\n"], connection)
    assert [type(command) for command in commands] == [StartMachineMode, StartMachineMode]
    assert connection.version == version


# A line only version 2 knows, and what it is for a connection that knows it.
V2_ONLY: list[tuple[bytes, Command]] = [
    (b"/join games", JoinRoom("games")),
    (b"/part", LeaveRoom("")),
    (b"/part #games bye all", LeaveRoom("#games bye all")),
    (b"/rooms", ListRooms()),
    (b"/topic", ShowTopic()),
    (b"/topic board games", SetTopic("board games")),
    (b"/in #games hi", InRoom("#games", Say("hi"))),
    (b"/history #games latest", ShowHistory("#games", "latest", None, 50)),
    (b"/history #games before 10 5", ShowHistory("#games", "before", 10, 5)),
]


def _connection_after(hello: bytes | None) -> LineConnection:
    connection = LineConnection()
    if hello is not None:
        assert isinstance(read([hello], connection)[0], StartMachineMode)
    return connection


@pytest.mark.parametrize(("line", "command"), V2_ONLY, ids=[line for line, _ in V2_ONLY])
def test_v2_commands_are_unknown_to_a_v1_connection(line: bytes, command: Command) -> None:
    connection = _connection_after(b"/hello chat-client 1\n")
    name = line[1:].split()[0].decode()
    assert read([line + b"\n"], connection) == [UnknownCommand(name)]


@pytest.mark.parametrize(("line", "command"), V2_ONLY, ids=[line for line, _ in V2_ONLY])
@pytest.mark.parametrize("hello", [None, b"/hello chat-client 2\n", b"/hello chat-client 9\n"],
                         ids=["people", "v2", "v9"])
def test_v2_commands_are_known_to_people_and_v2(
    hello: bytes | None, line: bytes, command: Command,
) -> None:
    assert read([line + b"\n"], _connection_after(hello)) == [command]


@pytest.mark.parametrize("hello", [None, b"/hello c 1\n", b"/hello c 2\n"])
def test_v1_commands_are_known_to_every_connection(hello: bytes | None) -> None:
    connection = _connection_after(hello)
    assert read([b"/who\n/nick bob\n/me hops\n"], connection) == [
        Who(), SetNick("bob"), Me("hops")]


def test_the_version_applies_from_the_line_after_hello_in_the_same_bytes() -> None:
    # Lines are parsed one at a time, so a /join right behind /hello 1 is already v1's.
    assert read([b"/join a\n/hello c 1\n/join b\n"]) == [
        JoinRoom("a"), StartMachineMode("c", "1"), UnknownCommand("join")]


# --- sending: the rendering changes when HELLO is sent ------------------------------------

T = 1_764_500_000_000
LOBBY_MESSAGE = RoomEvent("#lobby", 42, T, Message("alice", "hi"))


def _rendering_after(hello: Hello | None) -> LineConnection:
    connection = LineConnection()
    if hello is not None:
        connection.send(hello)
    return connection


def test_reading_hello_does_not_change_the_rendering() -> None:
    connection = _connection_after(b"/hello chat-client 2\n")
    assert connection.rendering is Rendering.PEOPLE
    assert connection.shared_encoder is encode_for_people
    # Whatever was queued before the HELLO reply stays in the form it was queued for.
    assert connection.send(LOBBY_MESSAGE) == b"<alice> hi\r\n"
    assert connection.send(Info("hello")) == b"*** hello\r\n"


@pytest.mark.parametrize(("hello", "rendering", "hello_bytes", "after"), [
    (Hello("lanbox", "2"), Rendering.MACHINE_V2, b"HELLO lanbox 2\n",
     f"MSG #lobby 42 {T} alice hi\n".encode()),
    (Hello("lanbox", "5"), Rendering.MACHINE_V2, b"HELLO lanbox 5\n",
     f"MSG #lobby 42 {T} alice hi\n".encode()),
    (Hello("lanbox", "1"), Rendering.MACHINE_V1, b"HELLO lanbox 1\n", b"MSG alice hi\n"),
    (Hello("lanbox"), Rendering.MACHINE_V1, b"HELLO lanbox 1\n", b"MSG alice hi\n"),
], ids=repr)
def test_sending_hello_switches_the_rendering_and_is_itself_the_first_machine_line(
    hello: Hello, rendering: Rendering, hello_bytes: bytes, after: bytes,
) -> None:
    connection = _connection_after(b"/hello chat-client 2\n")
    before = connection.send(LOBBY_MESSAGE)
    assert connection.send(hello) == hello_bytes
    assert connection.rendering is rendering
    assert before == b"<alice> hi\r\n"
    assert connection.send(LOBBY_MESSAGE) == after


# (event, what a person reads, what v1 reads, what v2 reads), viewer "bob"
SENT: list[tuple[AnyEvent, str, str, str]] = [
    (Welcome("bob"), "*** Welcome, bob! Type to talk, /help for commands.", "WELCOME bob",
     "WELCOME bob"),
    (Users(("alice", "bob"), "#lobby"), "*** In #lobby (2): alice, bob", "USERS alice bob",
     "USERS #lobby alice bob"),
    (RoomEvent("#lobby", 1, T, Join("bob")), "*** bob joined", "JOIN bob",
     f"JOIN #lobby 1 {T} bob"),
    (RoomEvent("#lobby", 2, T, Part("bob", "left")), "*** bob left (left)", "PART bob left",
     f"PART #lobby 2 {T} bob left"),
    (RoomEvent("#lobby", 3, T, NickChange("alice", "al")), "*** alice is now known as al",
     "NICK alice al", f"NICK #lobby 3 {T} alice al"),
    (RoomEvent("#lobby", 4, T, Message("alice", "hi all")), "<alice> hi all",
     "MSG alice hi all", f"MSG #lobby 4 {T} alice hi all"),
    (RoomEvent("#lobby", 5, T, Action("alice", "waves")), "* alice waves",
     "ACTION alice waves", f"ACTION #lobby 5 {T} alice waves"),
    (RoomEvent("#lobby", 6, T, Topic("alice", "games")), "*** alice set the topic: games",
     "INFO alice set the topic: games", f"TOPIC #lobby 6 {T} alice games"),
    (Replayed(RoomEvent("#lobby", 0, 0, Message("alice", "first!"))),
     "| 01 Jan 00:00 <alice> first!", "MSG alice first!", "MSG #lobby 0 0 alice first!"),
    (History("#lobby", 1), "*** History of #lobby: 1 earlier line", "HISTORY #lobby 1",
     "HISTORY #lobby 1"),
    (Current("#games"), "*** You are now talking in #games", "CURRENT #games",
     "CURRENT #games"),
    (RoomList(1), "*** Rooms with people in them: 1", "ROOMS 1", "ROOMS 1"),
    (RoomListing("#lobby", 2, "hi"), "***   #lobby  (2)  hi", "ROOM #lobby 2 hi",
     "ROOM #lobby 2 hi"),
    (PrivateMessage("alice", "bob", "psst"), "*alice* psst", "PRIVMSG alice bob psst",
     "PRIVMSG alice bob psst"),
    (PrivateMessage("bob", "alice", "ok"), "-> *alice* ok", "PRIVMSG bob alice ok",
     "PRIVMSG bob alice ok"),
    (Info("Welcome to lanbox"), "*** Welcome to lanbox", "INFO Welcome to lanbox",
     "INFO Welcome to lanbox"),
    (Pong("123"), "*** PONG 123", "PONG 123", "PONG 123"),
    (Error(ErrorCode.BAD_ROOM, "no spaces"), "*** Error (BAD_ROOM): no spaces",
     "ERROR BAD_ROOM no spaces", "ERROR BAD_ROOM no spaces"),
    (Bye("quit"), "*** Goodbye: quit", "BYE quit", "BYE quit"),
    (Stats((("rooms", "2"),)), "*** Server figures:\r\n***   rooms  2", "STATS rooms=2",
     "STATS rooms=2"),
]
SENT_IDS = [v2 for _, _, _, v2 in SENT]


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """History lines show the server's local time: make it UTC, and put it back after."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(("event", "people", "v1", "v2"), SENT, ids=SENT_IDS)
def test_send_in_each_rendering(utc: None, event: AnyEvent, people: str, v1: str, v2: str) -> None:
    assert _rendering_after(None).send(event, viewer="bob") == (people + "\r\n").encode()
    assert _rendering_after(Hello("lanbox", "1")).send(event, viewer="bob") == (
        v1 + "\n").encode()
    assert _rendering_after(Hello("lanbox", "2")).send(event, viewer="bob") == (
        v2 + "\n").encode()


def test_send_for_a_person_in_several_rooms_names_the_room(utc: None) -> None:
    connection = LineConnection()
    connection.set_in_several_rooms(True)
    assert connection.send(LOBBY_MESSAGE) == b"[#lobby] <alice> hi\r\n"
    assert connection.send(Replayed(LOBBY_MESSAGE)) == b"| 30 Nov 10:53 [#lobby] <alice> hi\r\n"
    assert connection.send(Info("x")) == b"*** x\r\n"
    connection.set_in_several_rooms(False)
    assert connection.send(LOBBY_MESSAGE) == b"<alice> hi\r\n"


@pytest.mark.parametrize("hello", [Hello("lanbox", "1"), Hello("lanbox", "2")], ids=repr)
def test_several_rooms_changes_nothing_for_machines(hello: Hello) -> None:
    one, several = _rendering_after(hello), _rendering_after(hello)
    several.set_in_several_rooms(True)
    assert several.send(LOBBY_MESSAGE) == one.send(LOBBY_MESSAGE)
    assert several.shared_encoder is one.shared_encoder


# --- the shared encoder ------------------------------------------------------------------------

@pytest.mark.parametrize(("hello", "encoder"), [
    (None, encode_for_people),
    (Hello("lanbox", "1"), encode_event),
    (Hello("lanbox", "2"), encode_event_v2),
    (Hello("other", "3"), encode_event_v2),
], ids=repr)
def test_shared_encoder_is_one_function_object_per_rendering(
    hello: Hello | None, encoder: object,
) -> None:
    first, second = _rendering_after(hello), _rendering_after(hello)
    assert first.shared_encoder is second.shared_encoder is encoder


def test_shared_encoders_of_different_renderings_differ() -> None:
    encoders = {id(_rendering_after(hello).shared_encoder)
                for hello in (None, Hello("a", "1"), Hello("a", "2"))}
    assert len(encoders) == 3


def test_shared_encoder_follows_set_in_several_rooms_for_people() -> None:
    first, second = LineConnection(), LineConnection()
    first.set_in_several_rooms(True)
    second.set_in_several_rooms(True)
    assert first.shared_encoder is second.shared_encoder is encode_for_people_in_rooms
    first.set_in_several_rooms(False)
    assert first.shared_encoder is encode_for_people
    assert second.shared_encoder is encode_for_people_in_rooms


def test_hello_replaces_the_several_rooms_encoder() -> None:
    connection = LineConnection()
    connection.set_in_several_rooms(True)
    connection.send(Hello("lanbox", "2"))
    assert connection.shared_encoder is encode_event_v2


@pytest.mark.parametrize("several", [False, True])
@pytest.mark.parametrize("hello", [None, Hello("lanbox", "1"), Hello("lanbox", "2")], ids=repr)
@pytest.mark.parametrize(("event", "people", "v1", "v2"),
                         [case for case in SENT if not isinstance(case[0], PrivateMessage)],
                         ids=[i for (e, *_), i in zip(SENT, SENT_IDS)
                              if not isinstance(e, PrivateMessage)])
def test_shared_encoder_gives_the_bytes_send_gives(
    utc: None, event: AnyEvent, people: str, v1: str, v2: str, hello: Hello | None,
    several: bool,
) -> None:
    # Events shared by many connections carry no viewer: the fan-out's bytes must be
    # exactly what `send` would have given each of them.
    connection = _rendering_after(hello)
    connection.set_in_several_rooms(several)
    assert connection.shared_encoder(event) == connection.send(event)


def test_a_person_already_in_cannot_switch_to_machine_events() -> None:
    connection = LineConnection()
    connection.send(Welcome("carol"))
    connection.receive_data(b"/hello x 1\n")
    assert isinstance(connection.next_command(), BadArgs)
    assert connection.version == 2 and not connection.said_hello
    assert connection.send(Info("still for people")) == b"*** still for people\r\n"


def test_hello_inside_in_is_refused() -> None:
    connection = LineConnection()
    connection.receive_data(b"/in #alpha /hello x 2\n")
    assert isinstance(connection.next_command(), BadArgs)
    assert not connection.said_hello



def test_the_machine_encoder_is_the_wire_encoder_of_a_machine_rendering_only() -> None:
    assert LineConnection().machine_encoder is None  # a person's lines are rendered
    assert _rendering_after(Hello("lanbox", "1")).machine_encoder is encode_event
    assert _rendering_after(Hello("lanbox", "2")).machine_encoder is encode_event_v2
