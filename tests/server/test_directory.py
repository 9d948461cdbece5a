"""Tests for the chat logic: a `Directory` delivered through a real `Audience` and `History`.

No sockets and no scheduler. Each connection is a `FakeMember`: the `Member` protocol
with a real `LineConnection` (so lines are framed, sanitised and parsed as the server's
reader does it) and a real `Outbox`. Lines go in through the connection and each command
it makes goes to `Directory.handle`; `pump()` does what the broadcaster task does, one
`Audience.deliver_all` of the directory's outgoing queue. What each member received is
read back from its outbox and decoded in its own rendering: `decode_event(line, 1)` for
a version 1 program, `decode_event(line, 2)` for version 2, bytes for people.

The first half follows the version 1 contract row by row, as the one-room server did
(a version 1 program must see exactly what it always saw), with the version 2 and people
forms where the wire differs; the second half is the rooms: /join, /part, /rooms, /topic,
/who, /in, /history, the current room, and what a room remembers.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat_server.audience import Audience
from chat_server.directory import Directory
from chat_server.history import History
from chat_server.memory_store import MemoryStore
from chat_server.outbox import Outbox
from chat_server.rooms import Room, RosterView
from chat_server.session import users_line
from chat_server.store import EventStore
from protocol import (
    COMMANDS, ROOM_EVENTS, Action, Bye, Current, Error, ErrorCode, Event, Hello, Info,
    Join, LineConnection, Message, NickChange, Part, Pong, PrivateMessage, Rendering,
    Replayed, RoomEvent, RoomList, RoomListing, Stats, Topic, Users, Welcome, commands_of,
    decode_event, encode_event, encode_for_people,
)
from protocol import History as HistoryEvent

SERVER_NAME = "lanbox"
T0 = 1_764_500_000_000  # the directory's clock, in ms: every room event is stamped with it


class FakeMember:
    """A `Member` without a socket: a real LineConnection and a real Outbox.

    It behaves as the server's `Session` does at its end: `hang_up` finishes the outbox
    once, `abort` replaces what is queued with its last words.
    """

    def __init__(self, address: str, limit: int, hung_up: list[FakeMember]) -> None:
        self.nick: str | None = None
        self.address = address
        self.host = address.rsplit(":", 1)[0]
        self.rooms: list[Room[FakeMember]] = []
        self.current: Room[FakeMember] | None = None
        self.connection = LineConnection()
        self.outbox = Outbox(limit)
        self.reading = True
        self._hung_up = hung_up

    def __repr__(self) -> str:
        return f"<FakeMember {self.nick or self.address}>"

    @property
    def hanging_up(self) -> bool:
        return self.outbox.finished

    def deliver(self, event: object) -> None:
        if isinstance(event, RosterView):  # as a Session does: USERS is made on delivery
            for piece in users_line(event, self.connection, self.nick):
                self.outbox.put(piece)
        else:
            self.outbox.put(self.connection.send(event, self.nick))  # type: ignore[arg-type]

    def stop_reading(self) -> None:
        self.reading = False

    def hang_up(self) -> None:
        if self.outbox.finished:
            return
        self.stop_reading()
        self.outbox.finish()
        self._hung_up.append(self)

    def abort(self, last_event: Event) -> None:
        self.outbox.replace_with(self.connection.send(last_event, self.nick))
        self.hang_up()


class Chat:
    """A directory, its audience and history, and members made of FakeMembers."""

    def __init__(self, *, store: EventStore | None = None, history_on_join: int = 50,
                 max_rooms_per_user: int = 20, figures=dict,  # type: ignore[no-untyped-def]
                 oper_token: str = "") -> None:
        self.now = T0
        self.history = History(store if store is not None else MemoryStore(), "memory")
        self.directory = Directory(
            SERVER_NAME, max_rooms_per_user=max_rooms_per_user,
            history_on_join=history_on_join, history=self.history,
            figures=figures, clock_ms=lambda: self.now, oper_token=oper_token,
        )
        self.audience = Audience(self.history, self.directory.cut_off)
        self.hung_up: list[FakeMember] = []
        self._numbers = itertools.count(1)

    def new_member(self, limit: int = 1 << 20) -> FakeMember:
        """A connection that has not even been greeted yet."""
        return FakeMember(f"192.0.2.{next(self._numbers)}:40000", limit, self.hung_up)

    def connect(self, *, hello: str | None = "1", limit: int = 1 << 20) -> FakeMember:
        """A new connection, greeted, that said `/hello test-client HELLO` (None: a person,
        no /hello), with everything it was sent so far thrown away."""
        member = self.new_member(limit)
        self.directory.greet(member)
        if hello is not None:
            self.type(member, f"/hello test-client {hello}")
        self.pump()
        take_bytes(member)
        return member

    def join(self, nick: str, *, hello: str | None = "1", limit: int = 1 << 20) -> FakeMember:
        """A connection that joined as `nick`, its own outbox emptied (the others still
        hold its JOIN)."""
        member = self.connect(hello=hello, limit=limit)
        self.send(member, f"/nick {nick}")
        assert self.directory.is_joined(member), f"{nick} could not join"
        take_bytes(member)
        return member

    def type(self, member: FakeMember, *lines: str | bytes) -> None:
        """`member` sends `lines`; the directory handles each command, nothing is delivered
        yet (as in one busy round of the scheduler, before the broadcaster's turn)."""
        for line in lines:
            data = line if isinstance(line, bytes) else line.encode("utf-8")
            member.connection.receive_data(data + b"\n")
            while member.reading and (command := member.connection.next_command()) is not None:
                self.directory.handle(member, command)

    def type_together(self, member: FakeMember, *lines: str) -> None:
        """`member` sends `lines` in one piece (one read: its plain lines come as runs)."""
        member.connection.receive_data("".join(f"{line}\n" for line in lines).encode())
        while member.reading and (command := member.connection.next_command()) is not None:
            self.directory.handle(member, command)

    def send(self, member: FakeMember, *lines: str | bytes) -> None:
        """`member` sends `lines`; the broadcaster then delivers everything queued."""
        self.type(member, *lines)
        self.pump()

    def pump(self) -> None:
        """What the broadcaster task does: one `deliver_all`, then it parks until more is
        queued. Nothing may be left behind, or it would wait for somebody else's line."""
        self.audience.deliver_all(self.directory.outgoing)
        assert not self.directory.outgoing, "the broadcaster parked with items queued"

    def nicks(self, room: str | None = None) -> tuple[str | None, ...]:
        """Who is in `room` (default: the default room), in join order."""
        where = self.directory.default_room if room is None else self.room(room)
        return tuple(member.nick for member in where)

    def room(self, name: str) -> Room[FakeMember]:
        return self.directory._room_called(name)  # (the room, made if new)


def take_bytes(member: FakeMember) -> bytes:
    """Everything queued for `member`, as its writer would send it."""
    data = member.outbox.take()
    member.outbox.sent(len(data))
    return data


def events(member: FakeMember) -> list:  # type: ignore[type-arg]
    """Everything queued for a machine connection, decoded in its own version."""
    version = {Rendering.MACHINE_V1: 1, Rendering.MACHINE_V2: 2}[member.connection.rendering]
    data = take_bytes(member).decode("utf-8")
    assert data == "" or data.endswith("\n"), f"a partial line was queued: {data!r}"
    decoded = [decode_event(line, version) for line in data.split("\n")[:-1]]
    assert all(isinstance(event, (Event, RoomEvent)) for event in decoded), decoded
    return decoded


def plain(received: list) -> list:  # type: ignore[type-arg]
    """Room events without their room, id and time (what version 1 sees of them)."""
    return [event.event if isinstance(event, RoomEvent) else event for event in received]


def room_events(received: list) -> list:  # type: ignore[type-arg]
    return [event for event in plain(received) if isinstance(event, ROOM_EVENTS)]


def error_codes(received: list) -> list[str]:  # type: ignore[type-arg]
    return [event.code for event in received if isinstance(event, Error)]


def drain_all(*members: FakeMember) -> None:
    for member in members:
        take_bytes(member)


def at(room: str, event_id: int, event: Event) -> RoomEvent:
    """A room event as version 2 sends it, stamped at T0."""
    return RoomEvent(room, event_id, T0, event)


@pytest.fixture
def chat() -> Chat:
    return Chat()


# Connecting and joining


def test_a_new_connection_is_greeted_with_the_server_name_and_head_count(chat: Chat) -> None:
    chat.join("alice")
    member = chat.new_member()
    chat.directory.greet(member)
    chat.pump()
    greeting = take_bytes(member).decode()
    assert greeting.startswith("*** Welcome to lanbox! 1 person is here.")
    assert greeting.endswith("\r\n") and greeting.count("\r\n") == 1
    assert not chat.directory.is_joined(member)


def test_a_human_connection_joins_with_its_first_plain_line_as_nickname(chat: Chat) -> None:
    alice = chat.join("alice")
    bob = chat.connect(hello=None)
    chat.send(bob, "bob")
    assert chat.directory.is_joined(bob) and bob.nick == "bob"
    # People get every feature of version 2: the room's history, then USERS, then their
    # own JOIN like everybody else, then where they are talking now.
    assert take_bytes(bob) == b"".join([
        encode_for_people(Welcome("bob"), viewer="bob"),
        encode_for_people(HistoryEvent("#lobby", 1)),
        encode_for_people(Replayed(at("#lobby", 1, Join("alice")))),
        encode_for_people(Users(("alice", "bob"), "#lobby"), viewer="bob"),
        encode_for_people(at("#lobby", 2, Join("bob"))),
        encode_for_people(Current("#lobby")),
    ])
    assert events(alice) == [Join("bob")]


def test_a_human_first_line_that_is_no_nickname_is_refused_and_the_next_one_may_join(
    chat: Chat,
) -> None:
    bob = chat.connect(hello=None)
    chat.send(bob, "hello everyone")
    received = take_bytes(bob).decode()
    assert received.startswith("*** Error (BAD_NICK): ")
    assert not chat.directory.is_joined(bob)
    chat.send(bob, "  bob  ")
    assert chat.nicks() == ("bob",)


def test_a_human_who_has_joined_says_plain_lines_to_the_room(chat: Chat) -> None:
    alice = chat.join("alice")
    bob = chat.join("bob", hello=None)
    drain_all(alice)
    chat.send(bob, "alice")  # a message now, not a second nickname
    assert bob.nick == "bob"
    assert events(alice) == [Message("bob", "alice")]
    assert take_bytes(bob) == b"<bob> alice\r\n"


@pytest.mark.parametrize("hello", ["1", "2"])
def test_text_before_joining_on_a_machine_connection_is_not_joined(
    chat: Chat, hello: str,
) -> None:
    alice = chat.join("alice")
    robot = chat.connect(hello=hello)
    chat.send(robot, "alice")
    assert error_codes(events(robot)) == [ErrorCode.NOT_JOINED]
    assert not chat.directory.is_joined(robot)
    assert chat.nicks() == ("alice",)
    assert events(alice) == []


def test_text_right_after_hello_is_not_joined_even_before_the_hello_is_delivered(
    chat: Chat,
) -> None:
    # A client may send "/hello ..." and a line of text in one packet: the reader hands
    # both lines to the directory before the broadcaster has delivered the HELLO.
    robot = chat.connect(hello=None)
    chat.type(robot, b"/hello bot 1\nrobot")
    chat.pump()
    assert not chat.directory.is_joined(robot)
    assert events(robot) == [
        Hello(SERVER_NAME, "1"),
        Error(ErrorCode.NOT_JOINED, "choose a nickname first: /nick NAME"),
    ]


def test_nick_joins_with_welcome_then_users_in_join_order_then_join_for_everyone(
    chat: Chat,
) -> None:
    alice = chat.join("alice")
    bob = chat.join("bob")
    drain_all(alice, bob)
    carol = chat.connect()
    chat.send(carol, "/nick carol")
    assert events(carol) == [
        Welcome("carol"), Users(("alice", "bob", "carol")), Join("carol"),
    ]
    assert events(alice) == [Join("carol")]
    assert events(bob) == [Join("carol")]
    assert chat.nicks() == ("alice", "bob", "carol")


def test_a_version_2_joiner_gets_welcome_history_users_its_join_then_current(
    chat: Chat,
) -> None:
    alice = chat.join("alice", hello="2")
    chat.send(alice, "hi")
    bob = chat.connect(hello="2")
    chat.send(bob, "/nick bob")
    assert events(bob) == [
        Welcome("bob"),
        HistoryEvent("#lobby", 2), at("#lobby", 1, Join("alice")),
        at("#lobby", 2, Message("alice", "hi")),
        Users(("alice", "bob"), "#lobby"),
        at("#lobby", 3, Join("bob")),
        Current("#lobby"),
    ]
    assert events(alice) == [at("#lobby", 2, Message("alice", "hi")),
                             at("#lobby", 3, Join("bob"))]


def test_with_no_history_on_join_a_version_2_joiner_is_told_history_0() -> None:
    chat = Chat(history_on_join=0)
    chat.join("alice")
    bob = chat.connect(hello="2")
    chat.send(bob, "/nick bob")
    assert events(bob) == [
        Welcome("bob"), HistoryEvent("#lobby", 0), Users(("alice", "bob"), "#lobby"),
        at("#lobby", 2, Join("bob")), Current("#lobby"),
    ]


@pytest.mark.parametrize("taken", ["alice", "ALICE", "Alice", "ａｌｉｃｅ", "ＡＬＩＣＥ"])
def test_joining_with_a_nickname_in_use_in_any_case_or_width_is_refused(
    chat: Chat, taken: str,
) -> None:
    alice = chat.join("alice")
    other = chat.connect()
    chat.send(other, f"/nick {taken}")
    received = events(other)
    assert error_codes(received) == [ErrorCode.NICK_IN_USE]
    assert "alice" in received[0].text
    assert not chat.directory.is_joined(other)
    assert events(alice) == []


def test_a_nickname_in_use_in_another_room_is_refused_too(chat: Chat) -> None:
    alice = chat.join("alice", hello="2")
    chat.send(alice, "/join #games", "/part #lobby")
    assert chat.nicks() == ()
    other = chat.connect(hello="2")
    chat.send(other, "/nick Alice")
    assert error_codes(events(other)) == [ErrorCode.NICK_IN_USE]


@pytest.mark.parametrize("bad", ["al ice", "b@d", "x" * 17, "\u0301abc", "a.b", "bob!"])
def test_joining_with_an_invalid_nickname_is_bad_nick(chat: Chat, bad: str) -> None:
    other = chat.connect()
    chat.send(other, f"/nick {bad}")
    assert error_codes(events(other)) == [ErrorCode.BAD_NICK]
    assert chat.nicks() == ()


def test_unicode_nicknames_join(chat: Chat) -> None:
    zhang = chat.join("张三")
    jose = chat.join("Jose\u0301")
    assert chat.nicks() == ("张三", "Jose\u0301")
    assert events(zhang)[-1] == Join("Jose\u0301")
    drain_all(jose)


# Renaming


def test_a_rename_is_a_nick_event_for_everyone_and_frees_the_old_name(chat: Chat) -> None:
    alice = chat.join("alice")
    bob = chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, "/nick al")
    assert events(alice) == [NickChange("alice", "al")]
    assert events(bob) == [NickChange("alice", "al")]
    assert chat.nicks() == ("al", "bob")

    chat.send(bob, "/msg alice still there?")
    assert error_codes(events(bob)) == [ErrorCode.NO_SUCH_NICK]
    carol = chat.connect()
    chat.send(carol, "/nick Alice")  # the old name is free again
    assert chat.nicks() == ("al", "bob", "Alice")


def test_a_change_of_case_only_is_allowed(chat: Chat) -> None:
    alice = chat.join("alice")
    bob = chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, "/nick ALICE")
    assert events(bob) == [NickChange("alice", "ALICE")]
    assert events(alice) == [NickChange("alice", "ALICE")]
    assert chat.nicks() == ("ALICE", "bob")
    chat.send(bob, "/msg alice hi")  # still reachable under any case
    assert events(alice) == [PrivateMessage("bob", "ALICE", "hi")]


def test_renaming_to_the_same_name_is_only_an_info(chat: Chat) -> None:
    alice = chat.join("alice")
    bob = chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, "/nick alice")
    received = events(alice)
    assert len(received) == 1 and isinstance(received[0], Info)
    assert events(bob) == []


@pytest.mark.parametrize("taken", ["bob", "BOB", "ｂｏｂ", "Ｂｏｂ"])
def test_renaming_to_someone_elses_name_in_any_case_or_width_is_nick_in_use(
    chat: Chat, taken: str,
) -> None:
    alice = chat.join("alice")
    bob = chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, f"/nick {taken}")
    assert error_codes(events(alice)) == [ErrorCode.NICK_IN_USE]
    assert events(bob) == []
    assert chat.nicks() == ("alice", "bob")


def test_renaming_to_an_invalid_name_is_bad_nick(chat: Chat) -> None:
    alice = chat.join("alice")
    bob = chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, "/nick al!ce")
    assert error_codes(events(alice)) == [ErrorCode.BAD_NICK]
    assert events(bob) == []
    assert alice.nick == "alice"


# Talking


def test_plain_text_is_a_message_to_everyone_including_the_sender(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, "hello, world  ")
    assert events(alice) == [Message("alice", "hello, world  ")]
    assert events(bob) == [Message("alice", "hello, world  ")]


def test_version_2_and_people_get_the_same_message_in_their_own_form(chat: Chat) -> None:
    old, new = chat.join("old"), chat.join("new", hello="2")
    person = chat.join("person", hello=None)
    drain_all(old, new)
    chat.send(old, "hello")
    assert events(old) == [Message("old", "hello")]
    assert events(new) == [at("#lobby", 4, Message("old", "hello"))]
    assert take_bytes(person) == b"<old> hello\r\n"


def test_me_is_an_action_for_everyone(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, "/me waves at everyone")
    assert events(alice) == [Action("alice", "waves at everyone")]
    assert events(bob) == [Action("alice", "waves at everyone")]


def test_me_before_joining_is_not_joined(chat: Chat) -> None:
    robot = chat.connect()
    chat.send(robot, "/me waves")
    assert error_codes(events(robot)) == [ErrorCode.NOT_JOINED]


def test_double_slash_says_text_starting_with_a_slash(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, "//nick is how you rename")
    assert events(bob) == [Message("alice", "/nick is how you rename")]
    assert alice.nick == "alice"


def test_msg_reaches_sender_and_recipient_only(chat: Chat) -> None:
    alice, bob, carol = chat.join("alice"), chat.join("bob"), chat.join("carol")
    drain_all(alice, bob, carol)
    chat.send(alice, "/msg bob psst, over here")
    expected = [PrivateMessage("alice", "bob", "psst, over here")]
    assert events(alice) == expected
    assert events(bob) == expected
    assert events(carol) == []


def test_msg_reaches_someone_who_shares_no_room(chat: Chat) -> None:
    alice = chat.join("alice", hello="2")
    bob = chat.join("bob")
    chat.send(alice, "/join #games", "/part #lobby")
    drain_all(alice, bob)
    chat.send(bob, "/msg alice where are you?")
    assert events(alice) == [PrivateMessage("bob", "alice", "where are you?")]
    assert events(bob) == [PrivateMessage("bob", "alice", "where are you?")]


def test_msg_target_is_case_insensitive_and_named_as_it_is_in_the_room(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("Bob")
    drain_all(alice, bob)
    chat.send(alice, "/msg BOB hi")
    assert events(bob) == [PrivateMessage("alice", "Bob", "hi")]
    assert events(alice) == [PrivateMessage("alice", "Bob", "hi")]


def test_msg_to_oneself_arrives_once(chat: Chat) -> None:
    alice = chat.join("alice")
    drain_all(alice)
    chat.send(alice, "/msg alice note to self")
    assert events(alice) == [PrivateMessage("alice", "alice", "note to self")]


def test_msg_to_nobody_is_no_such_nick(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, "/msg zed hello?")
    received = events(alice)
    assert error_codes(received) == [ErrorCode.NO_SUCH_NICK]
    assert "zed" in received[0].text
    assert events(bob) == []


def test_msg_before_joining_is_not_joined(chat: Chat) -> None:
    alice = chat.join("alice")
    robot = chat.connect()
    chat.send(robot, "/msg alice hi")
    assert error_codes(events(robot)) == [ErrorCode.NOT_JOINED]
    assert events(alice) == []


def test_private_messages_read_differently_to_human_sender_and_recipient(chat: Chat) -> None:
    alice = chat.join("alice", hello=None)
    bob = chat.join("bob", hello=None)
    drain_all(alice, bob)
    chat.send(alice, "/msg bob psst")
    assert take_bytes(alice) == b"-> *bob* psst\r\n"
    assert take_bytes(bob) == b"*alice* psst\r\n"


# Asking


def test_who_before_joining_lists_the_default_room_to_the_asker_only(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    drain_all(alice, bob)
    robot = chat.connect()
    chat.send(robot, "/who")
    assert events(robot) == [Users(("alice", "bob"))]
    newer = chat.connect(hello="2")
    chat.send(newer, "/who")
    assert events(newer) == [Users(("alice", "bob"), "#lobby")]
    assert events(alice) == [] and events(bob) == []


def test_who_after_joining_includes_oneself_in_join_order(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    carol = chat.join("carol")
    drain_all(alice, bob, carol)
    chat.send(bob, "/who")
    assert events(bob) == [Users(("alice", "bob", "carol"))]


def test_who_in_an_empty_room_is_an_empty_users(chat: Chat) -> None:
    robot = chat.connect()
    chat.send(robot, "/who")
    assert events(robot) == [Users(())]


@pytest.mark.parametrize(
    ("line", "token"),
    [("/ping abc123", "abc123"), ("/ping", ""), ("/ping two words", "two words")],
)
def test_ping_is_answered_with_pong_and_its_token(chat: Chat, line: str, token: str) -> None:
    robot = chat.connect()
    chat.send(robot, line)
    assert events(robot) == [Pong(token)]


def _help_text(received: list) -> str:  # type: ignore[type-arg]
    assert received and all(isinstance(event, Info) for event in received)
    return "\n".join(event.text for event in received)


def test_help_lists_every_command_to_people_and_version_2(chat: Chat) -> None:
    for hello in ("2", None):
        member = chat.connect(hello=hello)
        chat.send(member, "/help")
        if hello is None:
            text = take_bytes(member).decode()
        else:
            text = _help_text(events(member))
        for name, spec in COMMANDS.items():
            assert f"/{name}" in text, f"/help does not mention /{name}"
            assert spec.summary in text
        assert "//text" in text


def test_help_lists_only_the_commands_of_version_1_to_a_version_1_program(
    chat: Chat,
) -> None:
    robot = chat.connect()
    chat.send(robot, "/help")
    text = _help_text(events(robot))
    old = commands_of(1)
    for spec in old:
        assert spec.usage in text and spec.summary in text
    for spec in COMMANDS.values():
        if spec not in old:
            assert spec.summary not in text, f"/{spec.name} is not in version 1"
    assert "//text" in text


def test_hello_answers_hello_then_switches_a_human_connection_to_machine_events(
    chat: Chat,
) -> None:
    alice = chat.join("alice")
    conn = chat.connect(hello=None)
    chat.send(conn, "/ping before")
    assert take_bytes(conn) == b"*** PONG before\r\n"
    chat.send(conn, "/HELLO my-client 2.0")  # not a whole number: version 1
    assert take_bytes(conn) == b"HELLO lanbox 1\n"
    assert conn.connection.rendering is Rendering.MACHINE_V1
    chat.send(conn, "/nick zoe")
    assert events(conn) == [Welcome("zoe"), Users(("alice", "zoe")), Join("zoe")]
    drain_all(alice)


def test_hello_2_answers_hello_2_and_version_2_events(chat: Chat) -> None:
    conn = chat.connect(hello=None)
    chat.send(conn, "/hello my-client 2")
    assert take_bytes(conn) == b"HELLO lanbox 2\n"
    assert conn.connection.rendering is Rendering.MACHINE_V2


def test_help_ping_and_who_work_before_joining(chat: Chat) -> None:
    robot = chat.connect()
    chat.send(robot, "/help", "/ping x", "/who")
    received = events(robot)
    assert ErrorCode.NOT_JOINED not in error_codes(received)
    assert received[-2:] == [Pong("x"), Users(())]


def test_stats_reports_what_the_server_counts_to_the_asker_only() -> None:
    chat = Chat(figures=lambda: {"tasks": 9, "uptime": "1.5"})
    alice = chat.join("alice")
    bob = chat.join("bob")
    take_bytes(alice)
    chat.send(bob, "/stats")
    assert events(bob) == [Stats((("tasks", "9"), ("uptime", "1.5")))]
    assert events(alice) == []


# Mistakes


@pytest.mark.parametrize("line", ["/dance", "/nickname bob", "/", "/whois bob"])
def test_an_unknown_command_is_unknown_command(chat: Chat, line: str) -> None:
    alice = chat.join("alice")
    drain_all(alice)
    chat.send(alice, line)
    assert error_codes(events(alice)) == [ErrorCode.UNKNOWN_COMMAND]


@pytest.mark.parametrize(
    "line", ["/join #games", "/part", "/rooms", "/topic hi", "/in #lobby hi",
             "/history #lobby latest"],
)
def test_the_room_commands_are_unknown_to_a_version_1_program(chat: Chat, line: str) -> None:
    alice = chat.join("alice")
    drain_all(alice)
    chat.send(alice, line)
    assert error_codes(events(alice)) == [ErrorCode.UNKNOWN_COMMAND]
    assert [room.name for room in alice.rooms] == ["#lobby"]


@pytest.mark.parametrize(
    ("line", "usage"),
    [("/nick", "/nick NAME"), ("/nick   ", "/nick NAME"), ("/me", "/me ACTION"),
     ("/msg", "/msg NICK TEXT"), ("/msg bob", "/msg NICK TEXT"),
     ("/hello", "/hello CLIENT VERSION"), ("/hello bot", "/hello CLIENT VERSION")],
)
def test_missing_arguments_are_bad_args_with_the_usage(
    chat: Chat, line: str, usage: str,
) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, line)
    received = events(alice)
    assert error_codes(received) == [ErrorCode.BAD_ARGS]
    assert usage in received[0].text
    assert events(bob) == []


@pytest.mark.parametrize(
    ("line", "usage"),
    [("/join", "/join ROOM"), ("/topic   ", "/topic [TEXT]"), ("/in #lobby", "/in ROOM LINE"),
     ("/history #lobby", "/history ROOM"), ("/history #lobby latest 501", "/history ROOM"),
     ("/history #lobby before", "/history ROOM")],
)
def test_missing_arguments_to_room_commands_are_bad_args(
    chat: Chat, line: str, usage: str,
) -> None:
    alice = chat.join("alice", hello="2")
    chat.send(alice, line)
    received = events(alice)
    assert error_codes(received) == [ErrorCode.BAD_ARGS]
    assert usage in received[0].text


def test_command_names_are_case_insensitive(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, "/ME waves", "/Msg bob hi", "/WHO", "/PiNg t", "/Nick Al")
    assert events(alice) == [
        Action("alice", "waves"), PrivateMessage("alice", "bob", "hi"),
        Users(("alice", "bob")), Pong("t"), NickChange("alice", "Al"),
    ]
    chat.send(alice, "/QUIT done")
    assert events(bob) == [
        Action("alice", "waves"), PrivateMessage("alice", "bob", "hi"),
        NickChange("alice", "Al"), Part("Al", "done"),
    ]


def test_a_line_too_long_is_answered_line_too_long(chat: Chat) -> None:
    alice = chat.join("alice")
    drain_all(alice)
    chat.send(alice, "x" * 3000)
    received = events(alice)
    assert error_codes(received) == [ErrorCode.LINE_TOO_LONG]
    assert "2048" in received[0].text
    assert chat.directory.is_joined(alice)


def test_a_line_that_is_not_utf8_is_answered_bad_encoding(chat: Chat) -> None:
    alice = chat.join("alice")
    drain_all(alice)
    chat.send(alice, b"caf\xe9", b"still here")
    received = events(alice)
    assert error_codes(received) == [ErrorCode.BAD_ENCODING]
    assert received[-1] == Message("alice", "still here")


# Sanitising


@pytest.mark.parametrize(
    ("line", "relayed"),
    [
        ("\x1b[31mred\x1b[0m alert", "red alert"),
        ("\x1b]0;pwned\x07title?", "title?"),
        ("bell\x07 and\x08 backspace", "bell and backspace"),
        ("\u202eevil\u202c twin", "evil twin"),
        ("\x9b2Jcleared?", "cleared?"),
        ("tab\tstays", "tab\tstays"),
        ("张三 👋🏽 José", "张三 👋🏽 José"),
    ],
)
def test_relayed_text_loses_escape_sequences_and_control_characters(
    chat: Chat, line: str, relayed: str,
) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, line)
    assert events(bob) == [Message("alice", relayed)]


def test_actions_private_messages_topics_and_quit_reasons_are_sanitised_too(
    chat: Chat,
) -> None:
    alice, bob = chat.join("alice", hello="2"), chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, "/me \x1b[5mblinks\x1b[0m", "/msg bob \x1b]8;;http://x\x07link",
              "/topic \x1b[1mbold\x1b[0m move", "/quit \x1b[2Jbye")
    assert events(bob) == [
        Action("alice", "blinks"), PrivateMessage("alice", "bob", "link"),
        Info("alice set the topic: bold move"), Part("alice", "bye"),
    ]


def test_a_nickname_with_escape_sequences_joins_without_them(chat: Chat) -> None:
    robot = chat.connect()
    chat.send(robot, "/nick \x1b[1mbob\x1b[0m")
    assert chat.nicks() == ("bob",)
    assert events(robot)[0] == Welcome("bob")


@pytest.mark.parametrize("line", ["   ", "\t", "\x1b[2J", "\x07\x07", "\x1b]0;x\x07 ", "\u202e"])
def test_blank_and_escape_only_lines_are_ignored(chat: Chat, line: str) -> None:
    alice = chat.join("alice")
    human = chat.connect(hello=None)
    drain_all(alice)
    chat.type(alice, line)
    chat.type(human, line)  # not even taken as a (bad) nickname
    assert not chat.directory.outgoing
    chat.pump()
    assert events(alice) == [] and take_bytes(human) == b""


# Leaving


def test_quit_with_a_reason_is_part_with_it_and_bye_for_the_quitter(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, "/quit gone for lunch, back at 2")
    assert events(bob) == [Part("alice", "gone for lunch, back at 2")]
    assert events(alice) == [Bye("gone for lunch, back at 2")]
    assert not alice.reading and alice.hanging_up and chat.hung_up == [alice]
    assert chat.nicks() == ("bob",)


def test_quit_without_a_reason_is_part_quit(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, "/quit")
    assert events(bob) == [Part("alice", "quit")]
    assert events(alice) == [Bye("quit")]


def test_quit_before_joining_is_bye_and_nothing_for_the_room(chat: Chat) -> None:
    alice = chat.join("alice")
    robot = chat.connect()
    chat.send(robot, "/quit")
    assert events(robot) == [Bye("quit")]
    assert robot.hanging_up
    assert events(alice) == []


def test_lines_after_quit_in_the_same_packet_are_not_handled(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, b"/quit\nstill talking?\n/nick zombie")
    assert events(bob) == [Part("alice", "quit")]
    assert events(alice) == [Bye("quit")]


def test_a_quitter_gets_what_came_before_its_quit_and_nothing_after_its_bye(
    chat: Chat,
) -> None:
    alice, bob, carol = chat.join("alice"), chat.join("bob"), chat.join("carol")
    drain_all(alice, bob, carol)
    # All queued before any delivery, as in one busy round of the scheduler.
    chat.type(bob, "before")
    chat.type(alice, "/quit")
    chat.type(bob, "after")
    chat.type(bob, "/msg alice are you there?")
    chat.type(carol, "/me waves")
    chat.pump()
    assert events(alice) == [Message("bob", "before"), Bye("quit")]
    assert events(carol) == [
        Message("bob", "before"), Part("alice", "quit"), Message("bob", "after"),
        Action("carol", "waves"),
    ]
    assert error_codes(events(bob)) == [ErrorCode.NO_SUCH_NICK]


def test_a_lost_connection_is_part_connection_lost(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    drain_all(alice, bob)
    chat.directory.connection_lost(alice)
    chat.pump()
    assert events(bob) == [Part("alice", "connection lost")]
    assert events(alice) == []  # nobody is listening on the other end
    assert not alice.reading and alice.hanging_up and chat.hung_up == [alice]
    chat.send(bob, "anyone?")
    assert events(alice) == []


def test_a_lost_connection_that_never_joined_tells_the_room_nothing(chat: Chat) -> None:
    alice = chat.join("alice")
    robot = chat.connect()
    chat.directory.connection_lost(robot)
    chat.pump()
    assert events(alice) == []
    assert robot.hanging_up


def test_say_goodbye_sends_bye_without_part(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    drain_all(alice, bob)
    chat.directory.say_goodbye(alice, "server shutting down")
    chat.pump()
    assert events(alice) == [Bye("server shutting down")]
    assert events(bob) == []
    assert alice.hanging_up and not alice.reading
    assert chat.nicks() == ("bob",)
    assert not chat.directory.is_joined(alice) and alice.rooms == []
    chat.send(bob, "still here")
    assert events(alice) == []


def test_a_connection_that_hung_up_is_hung_up_once(chat: Chat) -> None:
    alice = chat.join("alice")
    chat.send(alice, "/quit")
    chat.directory.connection_lost(alice)  # the writer then fails too
    chat.pump()
    assert chat.hung_up == [alice]


# Guarantees


SPEAKER_LINES = st.sampled_from([
    "hi", "hi again", "//slash", "", "\x07", "/me waves", "/nick", "/nick spk2", "/who",
    "/join #games", "/part", "/in #lobby hey", "/topic t", "/msg ear psst", "/quit",
    "/pass x", "/hello late 2",
])


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(SPEAKER_LINES, max_size=14),
       speaker=st.sampled_from(["person, not joined yet", "v1", "v2"]),
       moderation=st.sampled_from(["none", "muted", "read-only", "slow"]))
def test_lines_that_arrive_together_do_exactly_what_they_do_one_by_one(
    lines: list[str], speaker: str, moderation: str,
) -> None:
    """Plain lines that come in one read are one `SayLines`: every member must receive
    exactly the bytes, and the store hold exactly the events, of the lines one by one
    (whoever says them, joined or not, and whatever the room's moderation)."""
    def outcome(together: bool) -> list[object]:
        chat = Chat(history_on_join=3, oper_token="sesame")
        operator = chat.join("op", hello="2")
        chat.send(operator, "/oper sesame")
        ear = chat.join("ear", hello="1")
        if speaker.startswith("person"):
            talker = chat.connect(hello=None)
        else:
            talker = chat.join("spk", hello=speaker[-1])
        chat.send(operator, {"none": "/who", "muted": "/mute spk", "read-only": "/readonly on",
                             "slow": "/slow 5"}[moderation])
        if together:
            chat.type_together(talker, *lines)
        else:
            chat.type(talker, *lines)
        chat.pump()
        stored = chat.history.read(chat.directory.default_room, "latest", None, 100)
        return [take_bytes(operator), take_bytes(ear), take_bytes(talker), stored]

    assert outcome(together=True) == outcome(together=False)


def test_a_run_of_lines_is_said_in_order_with_one_id_each(chat: Chat) -> None:
    ear = chat.join("ear", hello="2")
    talker = chat.join("spk", hello="1")
    drain_all(ear)
    chat.type_together(talker, "one", "two", "//three")
    chat.pump()
    lobby = chat.directory.default_room.name
    assert events(ear) == [at(lobby, 3 + number, Message("spk", text))
                           for number, text in enumerate(["one", "two", "/three"])]
    assert plain(events(talker)) == [Message("spk", "one"), Message("spk", "two"),
                                     Message("spk", "/three")]


def test_every_member_sees_the_same_room_transcript(chat: Chat) -> None:
    members = [chat.join(nick, hello=hello)
               for nick, hello in [("alice", "1"), ("bob", "2"), ("carol", "1"), ("dave", "2")]]
    drain_all(*members)
    alice, bob, carol, dave = members
    script = [
        (alice, "hi all"), (bob, "/me waves"), (carol, "/nick caroline"),
        (dave, "/msg alice psst"), (alice, "//slash"), (bob, "hey caroline"),
        (carol, "/nick carol"), (dave, "/who"), (alice, "/me leaves soon"),
    ]
    for member, line in script:  # one scheduler round: nothing delivered in between
        chat.type(member, line)
    newcomer = chat.connect()
    chat.type(newcomer, "/nick erin", "hello")
    chat.pump()

    transcripts = [room_events(events(member)) for member in members]
    assert transcripts[0] == [
        Message("alice", "hi all"), Action("bob", "waves"), NickChange("carol", "caroline"),
        Message("alice", "/slash"), Message("bob", "hey caroline"),
        NickChange("caroline", "carol"), Action("alice", "leaves soon"),
        Join("erin"), Message("erin", "hello"),
    ]
    assert all(transcript == transcripts[0] for transcript in transcripts)
    assert room_events(events(newcomer)) == [Join("erin"), Message("erin", "hello")]


def test_a_joiner_gets_no_room_event_queued_before_its_join(chat: Chat) -> None:
    alice = chat.join("alice")
    drain_all(alice)
    bob = chat.connect()
    chat.type(alice, "before bob")
    chat.type(bob, "/nick bob")
    chat.type(alice, "after bob")
    chat.pump()
    assert events(bob) == [
        Welcome("bob"), Users(("alice", "bob")), Join("bob"), Message("alice", "after bob"),
    ]
    assert events(alice) == [
        Message("alice", "before bob"), Join("bob"), Message("alice", "after bob"),
    ]


def test_a_version_2_joiner_mid_batch_gets_what_came_before_as_history_once(
    chat: Chat,
) -> None:
    alice = chat.join("alice")
    drain_all(alice)
    bob = chat.connect(hello="2")
    chat.type(alice, "before bob")
    chat.type(bob, "/nick bob")
    chat.type(alice, "after bob")
    chat.pump()  # all three in one batch of #lobby, not yet stored when bob joined
    assert events(bob) == [
        Welcome("bob"),
        HistoryEvent("#lobby", 2), at("#lobby", 1, Join("alice")),
        at("#lobby", 2, Message("alice", "before bob")),
        Users(("alice", "bob"), "#lobby"), at("#lobby", 3, Join("bob")), Current("#lobby"),
        at("#lobby", 4, Message("alice", "after bob")),
    ]


def test_several_joiners_in_one_batch_each_hear_from_their_own_join_on(chat: Chat) -> None:
    alice = chat.join("alice")
    drain_all(alice)
    joiners = [chat.connect() for _ in range(3)]
    for number, joiner in enumerate(joiners):
        chat.type(alice, f"before {number}")
        chat.type(joiner, f"/nick j{number}")
    chat.type(alice, "the end")
    chat.pump()
    for number, joiner in enumerate(joiners):
        heard = room_events(events(joiner))
        assert heard[0] == Join(f"j{number}")
        assert heard[-1] == Message("alice", "the end")
        assert Message("alice", f"before {number}") not in heard
        assert len(heard) == 2 * (3 - number)  # JOIN j.., then the rest of the batch


ACTIONS = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(["say", "me", "rename", "who", "msg"])),
    min_size=1, max_size=30,
)


def test_a_joiners_users_is_the_room_at_its_join_whatever_happens_before_delivery(
    chat: Chat,
) -> None:
    """USERS is queued as a view of the room's roster and made when delivered (see
    Roster): joins, a rename and a quit queued after it must not show in it."""
    alice, bob = chat.join("alice"), chat.join("bob")
    carol, dave, erin = chat.connect(), chat.connect(), chat.connect()
    chat.type(carol, "/nick carol")
    chat.type(dave, "/nick dave")
    chat.type(alice, "/nick al")
    chat.type(erin, "/nick erin")
    chat.type(bob, "/quit")
    chat.pump()
    users = {member.nick: [e for e in events(member) if isinstance(e, Users)]
             for member in (carol, dave, erin)}
    assert users == {"carol": [Users(("alice", "bob", "carol"))],
                     "dave": [Users(("alice", "bob", "carol", "dave"))],
                     "erin": [Users(("al", "bob", "carol", "dave", "erin"))]}
    drain_all(alice)
    frank = chat.join("frank", hello=None)
    chat.send(frank, "/who")
    assert take_bytes(frank).decode().endswith("(5): al, carol, dave, erin, frank\r\n")


USERS_ACTIONS = st.lists(st.tuples(
    st.sampled_from(["join v1", "join v2", "quit", "rename", "oper", "deop", "side", "who"]),
    st.integers(0, 9)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(script=USERS_ACTIONS)
def test_users_always_names_the_room_as_it_is_now(script: list[tuple[str, int]]) -> None:
    """A room keeps its roster and extends it at each join (see Directory._users_in):
    whatever came before, the list a joiner or /who gets is the room's people in join
    order, operators marked for version 2, exactly as if it were made from scratch."""
    chat = Chat(history_on_join=0, oper_token="sesame")
    present: list[FakeMember] = []
    numbers = itertools.count()

    def expected(viewer: FakeMember, room: Room[FakeMember]) -> Users:
        operators = chat.directory.moderation.operators
        marks = viewer.connection.version >= 2
        return Users(tuple(f"@{m.nick}" if marks and m in operators else m.nick
                           for m in room), room.name if marks else None)  # (v1: no room)

    def users_received(member: FakeMember) -> list[Users]:
        return [event for event in events(member) if isinstance(event, Users)]

    for what, who in script:
        if what.startswith("join"):
            member = chat.connect(hello=what[-1])
            chat.send(member, f"/nick n{next(numbers)}")
            present.append(member)
            got = users_received(member)
            assert got == [expected(member, chat.directory.default_room)], what
            continue
        if not present:
            continue
        member = present[who % len(present)]
        if what == "quit":
            chat.send(member, "/quit")
            present.remove(member)
        elif what == "rename":
            chat.send(member, f"/nick r{next(numbers)}")
        elif what == "oper" and member.connection.version >= 2:
            chat.send(member, "/oper sesame")
        elif what == "deop" and member.connection.version >= 2:
            chat.send(member, f"/deop {present[0].nick}")
        elif what == "side" and member.connection.version >= 2:
            drain_all(member)
            chat.send(member, "/join #side")
            got = users_received(member)
            side = chat.room("#side")
            if got:  # (nothing if it was in #side already)
                assert got == [expected(member, side)]
        elif what == "who":
            drain_all(member)
            chat.send(member, "/who")
            room = member.current or chat.directory.default_room
            assert users_received(member) == [expected(member, room)]
        drain_all(*present)


@settings(max_examples=60, deadline=None)
@given(script=ACTIONS, delivery_points=st.sets(st.integers(0, 30)))
def test_transcripts_match_for_any_script_and_any_delivery_timing(
    script: list[tuple[int, str]], delivery_points: set[int],
) -> None:
    chat = Chat()
    members = [chat.join(f"m{n}", hello=hello) for n, hello in enumerate("1212")]
    drain_all(*members)
    renames = itertools.count()
    for step, (who, what) in enumerate(script):
        member = members[who]
        line = {
            "say": f"line {step}",
            "me": f"/me does {step}",
            "rename": f"/nick n{next(renames)}",
            "who": "/who",
            "msg": f"/msg {members[(who + 1) % 4].nick} private {step}",
        }[what]
        chat.type(member, line)
        if step in delivery_points:  # the broadcaster gets a turn here
            chat.pump()
    chat.pump()
    received = [events(member) for member in members]
    transcripts = [room_events(each) for each in received]
    assert all(transcript == transcripts[0] for transcript in transcripts)
    assert len(transcripts[0]) == sum(1 for _, what in script if what in ("say", "me", "rename"))
    ids = [event.id for event in received[1] if isinstance(event, RoomEvent)]
    assert ids == list(range(5, 5 + len(ids)))  # after the four JOINs, one id each


def test_a_stalled_member_over_its_limit_is_cut_off_as_too_slow_and_others_get_everything(
    chat: Chat,
) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    slow = chat.join("slow", limit=300)
    drain_all(alice, bob, slow)
    slow.outbox.stalled = True  # its writer waits for a kernel buffer that never empties
    lines = [f"message number {n}" for n in range(40)]
    for line in lines:
        chat.send(alice, line)
        drain_all(bob)  # bob keeps up
    chat.send(alice, "/me is done")

    received = room_events(events(alice))
    messages = [event for event in received if isinstance(event, Message)]
    assert messages == [Message("alice", text) for text in lines]
    assert received.count(Part("slow", "too slow")) == 1
    assert received[-1] == Action("alice", "is done")
    assert take_bytes(slow) == encode_event(Bye("too slow"))
    assert slow.hanging_up and not slow.reading and slow in chat.hung_up
    assert chat.nicks() == ("alice", "bob")


def test_the_part_of_a_member_cut_off_by_the_last_batch_goes_out_at_once(chat: Chat) -> None:
    # The cut-off happens while the broadcaster fans out its last batch: the PART it
    # queues must not wait in the queue for somebody's next line.
    alice = chat.join("alice")
    slow = chat.join("slow", limit=10)
    drain_all(alice, slow)
    slow.outbox.stalled = True
    chat.type(alice, "this is more than ten bytes")
    chat.audience.deliver_all(chat.directory.outgoing)
    assert not chat.directory.outgoing
    assert events(alice) == [Message("alice", "this is more than ten bytes"),
                             Part("slow", "too slow")]


def test_a_member_cut_off_leaves_every_room_it_was_in(chat: Chat) -> None:
    alice = chat.join("alice", hello="2")
    slow = chat.join("slow", hello="2", limit=400)
    chat.send(alice, "/join #games")
    chat.send(slow, "/join #games")
    drain_all(alice, slow)
    slow.outbox.stalled = True
    for n in range(10):
        chat.send(alice, f"/in #lobby message {n} in the lobby")
    received = plain(events(alice))
    assert received.count(Part("slow", "too slow")) == 2
    assert chat.nicks("#games") == ("alice",) and chat.nicks() == ("alice",)
    assert slow.rooms == [] and slow.current is None


def test_a_human_cut_off_as_too_slow_is_told_in_its_own_rendering(chat: Chat) -> None:
    alice = chat.join("alice")
    slow = chat.join("slow", hello=None, limit=100)
    drain_all(alice, slow)
    slow.outbox.stalled = True
    for n in range(20):
        chat.send(alice, f"message {n}")
    assert take_bytes(slow) == encode_for_people(Bye("too slow"))
    assert Part("slow", "too slow") in events(alice)


def test_a_member_over_its_limit_whose_writer_is_not_stalled_is_kept(chat: Chat) -> None:
    alice = chat.join("alice")
    busy = chat.join("busy", limit=100)
    drain_all(alice, busy)
    for n in range(20):
        chat.type(alice, f"message {n}")
    chat.pump()  # a burst: far over the limit before the writer had its turn
    assert busy.outbox.size > 100
    assert chat.nicks() == ("alice", "busy")
    assert room_events(events(busy)) == [Message("alice", f"message {n}") for n in range(20)]


def test_private_replies_that_push_a_stalled_member_over_its_limit_cut_it_off(
    chat: Chat,
) -> None:
    alice = chat.join("alice")
    slow = chat.join("slow", limit=200)
    drain_all(alice, slow)
    slow.outbox.stalled = True
    for _ in range(10):
        chat.send(alice, "/msg slow a private message that is fairly long")
    assert take_bytes(slow) == encode_event(Bye("too slow"))
    received = events(alice)
    assert Part("slow", "too slow") in received
    # Every /msg is answered once: a copy while slow was here, NO_SUCH_NICK after.
    copies = sum(isinstance(event, PrivateMessage) for event in received)
    assert copies >= 1
    assert copies + error_codes(received).count(ErrorCode.NO_SUCH_NICK) == 10


def test_a_member_cut_off_with_a_limit_smaller_than_its_bye_still_gets_the_bye(
    chat: Chat,
) -> None:
    alice = chat.join("alice")
    slow = chat.join("slow", limit=5)
    drain_all(alice, slow)
    slow.outbox.stalled = True
    # Both queued before the broadcaster runs: the private message is for a member that
    # is still in the room, and reaches it only after it was cut off.
    chat.type(alice, "this passes the limit")
    chat.type(alice, "/msg slow and this reaches a sealed outbox")
    chat.pump()
    chat.send(alice, "more")
    assert take_bytes(slow) == encode_event(Bye("too slow"))
    assert chat.hung_up.count(slow) == 1
    assert room_events(events(alice)).count(Part("slow", "too slow")) == 1


# Rooms: what each room command queues, and in what order


def test_join_queues_history_users_its_join_then_current(chat: Chat) -> None:
    alice, bob = chat.join("alice", hello="2"), chat.join("bob", hello="2")
    drain_all(alice, bob)
    chat.send(alice, "/join #games")
    assert events(alice) == [
        HistoryEvent("#games", 0), Users(("alice",), "#games"),
        at("#games", 1, Join("alice")), Current("#games"),
    ]
    chat.send(bob, "/join games")  # the # may be left out
    assert events(bob) == [
        HistoryEvent("#games", 1), at("#games", 1, Join("alice")),
        Users(("alice", "bob"), "#games"), at("#games", 2, Join("bob")), Current("#games"),
    ]
    assert events(alice) == [at("#games", 2, Join("bob"))]


def test_part_is_heard_by_the_leaver_then_its_current_room_changes(chat: Chat) -> None:
    alice, bob = chat.join("alice", hello="2"), chat.join("bob", hello="2")
    chat.send(alice, "/join #games")
    chat.send(bob, "/join #games")
    drain_all(alice, bob)
    chat.send(alice, "/part #games see you later")
    assert events(alice) == [at("#games", 3, Part("alice", "see you later")),
                             Current("#lobby")]
    assert events(bob) == [at("#games", 3, Part("alice", "see you later"))]
    chat.send(alice, "/part")  # the current room, reason `left`
    assert events(alice) == [at("#lobby", 3, Part("alice", "left"))]
    assert events(bob) == [at("#lobby", 3, Part("alice", "left"))]
    assert alice.rooms == [] and alice.current is None


@pytest.mark.parametrize(
    ("line", "left", "reason"),
    [("/part games bye all", "#games", "bye all"), ("/part #GAMES", "#games", "left"),
     ("/part lunch time", "#lobby", "lunch time")],  # not a room you are in: all reason
)
def test_part_takes_a_first_word_naming_a_room_you_are_in_as_the_room(
    chat: Chat, line: str, left: str, reason: str,
) -> None:
    alice = chat.join("alice", hello="2")
    chat.send(alice, "/join #games", "/join #lobby")
    drain_all(alice)
    chat.send(alice, line)
    assert Part("alice", reason) in plain(events(alice))
    assert [room.key for room in alice.rooms] == [key for key in ("#lobby", "#games")
                                                   if key != left]


def test_part_of_a_room_you_are_not_in_is_not_in_room(chat: Chat) -> None:
    alice, bob = chat.join("alice", hello="2"), chat.join("bob", hello="2")
    chat.send(bob, "/join #games")
    drain_all(alice, bob)
    chat.send(alice, "/part #games")
    received = events(alice)
    assert error_codes(received) == [ErrorCode.NOT_IN_ROOM]
    assert "#games" in received[0].text
    assert events(bob) == []


def test_rooms_lists_the_rooms_in_use_with_their_people_and_topics(chat: Chat) -> None:
    alice, bob = chat.join("alice", hello="2"), chat.join("bob", hello="2")
    chat.send(alice, "/join #games", "/topic dice and cards")
    chat.send(bob, "/join #empty", "/part #empty")  # used once, empty now: not listed
    drain_all(alice, bob)
    chat.send(bob, "/rooms")
    assert events(bob) == [
        RoomList(2), RoomListing("#lobby", 2, ""), RoomListing("#games", 1, "dice and cards"),
    ]


def test_topic_is_shown_set_for_the_room_and_shown_again_with_its_id(chat: Chat) -> None:
    alice, bob = chat.join("alice", hello="2"), chat.join("bob", hello="2")
    old, person = chat.join("old"), chat.join("person", hello=None)
    drain_all(alice, bob, old, person)
    chat.send(alice, "/topic")
    assert events(alice) == [Info("#lobby has no topic; /topic TEXT sets one")]
    chat.send(alice, "/topic  plans for   friday ")
    topic = at("#lobby", 5, Topic("alice", "plans for   friday"))
    assert events(alice) == [topic] and events(bob) == [topic]
    assert events(old) == [Info("alice set the topic: plans for   friday")]
    assert take_bytes(person) == b"*** alice set the topic: plans for   friday\r\n"
    chat.send(bob, "hi", "/topic")
    assert events(bob) == [at("#lobby", 6, Message("bob", "hi")), topic]


def test_a_person_joining_a_room_with_a_topic_is_told_it_after_current(chat: Chat) -> None:
    alice = chat.join("alice", hello="2")
    chat.send(alice, "/topic welcome all")
    person = chat.connect(hello=None)
    chat.send(person, "zoe")
    assert take_bytes(person).endswith(
        b"*** You are now talking in #lobby\r\n*** Topic of #lobby: welcome all\r\n")


def test_who_names_any_room_and_defaults_to_the_current_one(chat: Chat) -> None:
    alice, bob = chat.join("alice", hello="2"), chat.join("bob", hello="2")
    chat.send(bob, "/join #games")
    drain_all(alice, bob)
    chat.send(alice, "/who #GAMES", "/who")
    assert events(alice) == [Users(("bob",), "#games"), Users(("alice", "bob"), "#lobby")]
    chat.send(bob, "/who")
    assert events(bob) == [Users(("bob",), "#games")]
    chat.send(bob, "/who #no.such")
    assert error_codes(events(bob)) == [ErrorCode.BAD_ROOM]


def test_in_runs_a_line_in_another_room_without_switching(chat: Chat) -> None:
    alice, bob = chat.join("alice", hello="2"), chat.join("bob", hello="2")
    chat.send(alice, "/join #games", "/topic dice", "/join #lobby")
    chat.send(bob, "/join #games")
    drain_all(alice, bob)
    chat.send(alice, "/in games hello there", "/in #games /me rolls", "/in #games /topic",
              "/in #games /who", "still here")
    assert events(alice) == [
        at("#games", 4, Message("alice", "hello there")),
        at("#games", 5, Action("alice", "rolls")),
        at("#games", 2, Topic("alice", "dice")),
        Users(("alice", "bob"), "#games"),
        at("#lobby", 3, Message("alice", "still here")),
    ]
    assert alice.current is chat.room("#lobby")
    chat.send(alice, "/in #nowhere hi")
    received = events(alice)
    assert error_codes(received) == [ErrorCode.NOT_IN_ROOM]
    assert "#nowhere" in received[0].text


def test_history_reads_the_latest_or_around_an_id(chat: Chat) -> None:
    alice = chat.join("alice", hello="2")
    for n in range(2, 7):
        chat.send(alice, f"line {n}")  # ids 2 to 6
    drain_all(alice)
    line = {n: at("#lobby", n, Message("alice", f"line {n}")) for n in range(2, 7)}
    chat.send(alice, "/history #lobby latest 2")
    assert events(alice) == [HistoryEvent("#lobby", 2), line[5], line[6]]
    chat.send(alice, "/history lobby before 4 5")
    assert events(alice) == [HistoryEvent("#lobby", 3), at("#lobby", 1, Join("alice")),
                             line[2], line[3]]
    chat.send(alice, "/history #LOBBY after 4")
    assert events(alice) == [HistoryEvent("#lobby", 2), line[5], line[6]]
    chat.send(alice, "/history #games latest")
    assert error_codes(events(alice)) == [ErrorCode.NOT_IN_ROOM]


def test_history_for_people_is_marked_as_history(chat: Chat) -> None:
    person = chat.join("zoe", hello=None)
    chat.send(person, "hello")
    drain_all(person)
    chat.send(person, "/history #lobby latest 1")
    assert take_bytes(person) == b"".join([
        encode_for_people(HistoryEvent("#lobby", 1)),
        encode_for_people(Replayed(at("#lobby", 2, Message("zoe", "hello")))),
    ])


# Rooms: the current room


def test_join_of_a_room_you_are_in_only_makes_it_current(chat: Chat) -> None:
    alice, bob = chat.join("alice", hello="2"), chat.join("bob", hello="2")
    chat.send(alice, "/join #games")
    drain_all(alice, bob)
    chat.send(alice, "/join #lobby")
    assert events(alice) == [Current("#lobby")]
    assert events(bob) == []
    chat.send(alice, "hi")
    assert plain(events(bob)) == [Message("alice", "hi")]


def test_leaving_the_current_room_makes_the_most_recently_joined_remaining_room_current(
    chat: Chat,
) -> None:
    alice = chat.join("alice", hello="2")
    chat.send(alice, "/join #a", "/join #b", "/join #c", "/join #a")
    assert alice.current is chat.room("#a")
    drain_all(alice)
    chat.send(alice, "/part")  # leaves #a: #c was joined last
    assert events(alice) == [at("#a", 2, Part("alice", "left")), Current("#c")]
    chat.send(alice, "/part #b")  # not the current room: no change
    assert events(alice) == [at("#b", 2, Part("alice", "left"))]
    chat.send(alice, "/part #c")
    assert events(alice) == [at("#c", 2, Part("alice", "left")), Current("#lobby")]
    assert [room.name for room in alice.rooms] == ["#lobby"]


def test_no_more_rooms_than_the_limit() -> None:
    chat = Chat(max_rooms_per_user=3)
    alice = chat.join("alice", hello="2")
    chat.send(alice, "/join #a", "/join #b")
    drain_all(alice)
    chat.send(alice, "/join #c")
    received = events(alice)
    assert error_codes(received) == [ErrorCode.TOO_MANY_ROOMS]
    assert "3" in received[0].text
    assert chat.nicks("#c") == () and alice.current is chat.room("#b")
    chat.send(alice, "/join #a")  # already in it: still allowed, it only switches
    assert events(alice) == [Current("#a")]
    chat.send(alice, "/part #b", "/join #c")
    assert [room.name for room in alice.rooms] == ["#lobby", "#a", "#c"]


@pytest.mark.parametrize("typed", ["#GAMES", "games", "ＧＡＭＥＳ", "#ｇａｍｅｓ"])
def test_room_names_are_folded_and_keep_their_first_spelling(chat: Chat, typed: str) -> None:
    alice, bob = chat.join("alice", hello="2"), chat.join("bob", hello="2")
    chat.send(alice, "/join #Games")
    drain_all(alice, bob)
    chat.send(bob, f"/join {typed}")
    assert Users(("alice", "bob"), "#Games") in events(bob)
    chat.send(alice, f"/join {typed}")
    assert events(alice) == [at("#Games", 2, Join("bob")), Current("#Games")]
    assert len(alice.rooms) == 2


@pytest.mark.parametrize("bad", ["#", "a.b", "#two!", "x" * 33, "#\u0301x"])
def test_a_bad_room_name_is_bad_room(chat: Chat, bad: str) -> None:
    alice = chat.join("alice", hello="2")
    chat.send(alice, f"/join {bad}")
    assert error_codes(events(alice)) == [ErrorCode.BAD_ROOM]
    assert len(alice.rooms) == 1


def test_join_before_choosing_a_nickname_is_not_joined(chat: Chat) -> None:
    robot = chat.connect(hello="2")
    chat.send(robot, "/join #games")
    assert error_codes(events(robot)) == [ErrorCode.NOT_JOINED]
    assert chat.nicks("#games") == ()


# Rooms: version 1 programs, and people, alongside


def test_a_version_1_program_lives_in_the_default_room_only(chat: Chat) -> None:
    old = chat.join("old")
    alice = chat.join("alice", hello="2")
    chat.send(alice, "/join #games", "in the games room", "/in #lobby in the lobby")
    chat.send(old, "/who #games")  # a version 1 /who ignores its word: one room
    assert events(old) == [Join("alice"), Message("alice", "in the lobby"),
                           Users(("old", "alice"))]
    assert [room.name for room in old.rooms] == ["#lobby"]


def test_a_person_in_several_rooms_sees_which_room_each_line_is_from(chat: Chat) -> None:
    alice = chat.join("alice", hello="2")
    person = chat.join("zoe", hello=None)
    chat.send(person, "/join #games")
    drain_all(alice, person)
    chat.send(alice, "hi zoe")
    assert take_bytes(person) == b"[#lobby] <alice> hi zoe\r\n"
    chat.send(person, "/part #games")
    drain_all(alice, person)
    chat.send(alice, "back to one room")
    assert take_bytes(person) == b"<alice> back to one room\r\n"


# Rooms: renames and quits, once per shared room


def _four_in_two_rooms(chat: Chat) -> list[FakeMember]:
    """alice and bob (v2) in #lobby and #games, carol (v1) in #lobby, dave (v2) in #games."""
    alice, bob = chat.join("alice", hello="2"), chat.join("bob", hello="2")
    carol, dave = chat.join("carol"), chat.join("dave", hello="2")
    chat.send(alice, "/join #games")
    chat.send(bob, "/join #games")
    chat.send(dave, "/join #games", "/part #lobby")
    drain_all(alice, bob, carol, dave)
    return [alice, bob, carol, dave]


def test_a_rename_is_one_nick_event_in_each_room_of_the_renamer(chat: Chat) -> None:
    alice, bob, carol, dave = _four_in_two_rooms(chat)
    chat.send(alice, "/nick al")
    in_lobby = at("#lobby", 6, NickChange("alice", "al"))
    in_games = at("#games", 4, NickChange("alice", "al"))
    assert events(alice) == [in_lobby, in_games]
    assert events(bob) == [in_lobby, in_games]
    assert events(carol) == [NickChange("alice", "al")]
    assert events(dave) == [in_games]


def test_a_quit_is_one_part_in_each_room_of_the_quitter_and_bye_alone_for_it(
    chat: Chat,
) -> None:
    alice, bob, carol, dave = _four_in_two_rooms(chat)
    chat.send(alice, "/join #lobby")  # current again, but #games was joined last
    drain_all(alice)
    chat.send(alice, "/quit lunch")
    assert events(alice) == [Bye("lunch")]
    assert events(bob) == [at("#lobby", 6, Part("alice", "lunch")),
                           at("#games", 4, Part("alice", "lunch"))]
    assert events(carol) == [Part("alice", "lunch")]
    assert events(dave) == [at("#games", 4, Part("alice", "lunch"))]
    assert chat.nicks() == ("bob", "carol") and chat.nicks("#games") == ("bob", "dave")


def test_a_lost_connection_leaves_every_room_and_hears_nothing(chat: Chat) -> None:
    alice, bob, carol, dave = _four_in_two_rooms(chat)
    chat.directory.connection_lost(alice)
    chat.pump()
    assert events(alice) == []
    assert plain(events(bob)) == [Part("alice", "connection lost")] * 2
    assert chat.hung_up == [alice]


def test_a_member_in_no_room_can_still_rename_message_ask_and_come_back(
    chat: Chat,
) -> None:
    alice, bob = chat.join("alice", hello="2"), chat.join("bob", hello="2")
    chat.send(alice, "/part")
    drain_all(alice, bob)
    for line in ("hi", "/me waves", "/topic new", "/topic"):
        chat.send(alice, line)
        received = events(alice)
        assert error_codes(received) == [ErrorCode.NOT_IN_ROOM], line
        assert "no room" in received[0].text
    chat.send(alice, "/nick al")
    assert events(alice) == [Info("you are now known as al")]
    chat.send(alice, "/who", "/msg bob psst", "/rooms")
    assert events(alice) == [Users(("bob",), "#lobby"), PrivateMessage("al", "bob", "psst"),
                             RoomList(1), RoomListing("#lobby", 1, "")]
    assert events(bob) == [PrivateMessage("al", "bob", "psst")]
    chat.send(alice, "/join #lobby")
    assert plain(events(alice))[-2:] == [Join("al"), Current("#lobby")]
    chat.send(alice, "/part", "/quit")
    assert events(alice)[-1:] == [Bye("quit")]
    assert plain(events(bob)) == [Join("al"), Part("al", "left")]


# rooms.py: what a room remembers


def test_a_room_keeps_join_order_and_forgets_nobody_twice() -> None:
    room: Room[str] = Room("#Games")
    assert room.key == "#games" and len(room) == 0
    for name in ("b", "a", "c"):
        room.add(name)
    room.remove("a")
    room.remove("nobody")  # not here: nothing happens
    room.add("a")
    assert list(room) == ["b", "c", "a"] and "a" in room and "nobody" not in room


def test_a_room_stamps_increasing_ids_and_keeps_the_topic_event() -> None:
    room: Room[str] = Room("#games", last_id=41)
    first = room.stamp(Message("a", "hi"), T0)
    topic = room.stamp(Topic("a", "dice"), T0 + 1)
    later = room.stamp(Message("a", "bye"), T0 + 2)
    assert [first.id, topic.id, later.id] == [42, 43, 44]
    assert room.topic is topic and room.topic_text == "dice"
    assert later == RoomEvent("#games", 44, T0 + 2, Message("a", "bye"))


def test_a_room_refuses_what_a_room_event_would_refuse() -> None:
    # A room stamps with RoomEvent.of_checked, which checks nothing: the room does.
    with pytest.raises(ValueError):
        Room("#two words")
    with pytest.raises(ValueError):
        Room("#games", last_id=-1)
    room: Room[str] = Room("#games")
    with pytest.raises(ValueError):
        room.stamp(Info("not a room event"), T0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        room.stamp(Message("a", "hi"), -1)
    assert room.last_id == 0  # nothing refused used up an id


def test_ids_go_on_and_the_topic_stays_when_a_room_empties_and_is_used_again(
    chat: Chat,
) -> None:
    alice, bob = chat.join("alice", hello="2"), chat.join("bob", hello="2")
    chat.send(alice, "/join #games", "/topic dice", "/part #games")  # ids 1, 2, 3
    assert chat.nicks("#games") == ()
    drain_all(alice, bob)
    chat.send(bob, "/join #games", "/topic")
    received = events(bob)
    assert at("#games", 4, Join("bob")) in received
    assert received[-1] == at("#games", 2, Topic("alice", "dice"))
    assert received[0] == HistoryEvent("#games", 3)  # the empty room's history is kept
