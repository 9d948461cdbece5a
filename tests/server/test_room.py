"""Tests for the room's chat logic, delivered through a real `Audience` to real `Session`s.

No sockets and no scheduler: each connection is a `Session` whose socket is never touched,
lines go in with `Room.handle_line` (or `Room.handle` for framing problems), and `pump()`
does what the broadcaster task does, handing the room's outgoing queue to the audience in
order. What each member received is read back from its outbox and decoded with
`protocol.decode_event` (machine connections) or compared with `encode_for_people`.

The tests follow the contract (PROTOCOL.md) row by row: joining, every command, errors,
sanitising; then its guarantees: one global order, nothing lost from JOIN to leaving,
nothing after BYE, and a stuck client cut off as `too slow` without costing the others.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat_server.audience import Audience
from chat_server.room import Room
from chat_server.session import Session
from protocol import (
    COMMANDS, ROOM_EVENTS, Action, BadEncoding, Bye, Error, ErrorCode, Event, Hello, Info,
    Join, Line, LineTooLong, Message, NickChange, Part, Pong, PrivateMessage, Stats, Users,
    Welcome, decode_event, encode_event, encode_for_people,
)

SERVER_NAME = "lanbox"


class Chat:
    """A room, its audience, and connections to it made of real Sessions without sockets."""

    def __init__(self) -> None:
        self.room = Room(SERVER_NAME)
        self.audience = Audience(self.room)
        self.hung_up: list[Session] = []
        self._numbers = itertools.count(1)

    def connect(self, *, machine: bool = True, limit: int = 1 << 20) -> Session:
        """A new connection, greeted (and switched to machine events unless `machine=False`),
        with everything it was sent so far read and thrown away."""
        session = self.new_session(limit)
        self.room.greet(session)
        if machine:
            self.room.handle_line(session, "/hello test-client 1")
        self.pump()
        take_bytes(session)
        return session

    def new_session(self, limit: int = 1 << 20) -> Session:
        """A Session for a connection that has not even been greeted yet."""
        return Session(
            None,  # type: ignore[arg-type]  # the room and audience never touch the socket
            f"192.0.2.{next(self._numbers)}:40000",
            outbox_limit=limit, flood=None, now=0.0, on_hang_up=self.hung_up.append,
        )

    def join(self, nick: str, *, machine: bool = True, limit: int = 1 << 20) -> Session:
        """A connection that has joined as `nick`, its own outbox emptied (the others still
        hold its JOIN)."""
        session = self.connect(machine=machine, limit=limit)
        self.send(session, f"/nick {nick}")
        assert self.room.is_joined(session), f"{nick} could not join"
        take_bytes(session)
        return session

    def send(self, session: Session, *lines: str) -> None:
        """`session` types `lines`; the broadcaster then delivers everything queued."""
        for line in lines:
            self.room.handle_line(session, line)
        self.pump()

    def pump(self) -> None:
        """What the broadcaster task does: deliver the outgoing queue, in order."""
        outgoing = self.room.outgoing
        for _ in range(100_000):
            if not outgoing:
                return
            self.audience.deliver(outgoing.popleft())
        raise AssertionError("the outgoing queue never emptied")


def take_bytes(session: Session) -> bytes:
    """Everything queued for `session`, as its writer would send it."""
    data = session.outbox.take()
    session.outbox.sent(len(data))
    return data


def events(session: Session) -> list[Event]:
    """Everything queued for a machine connection, decoded."""
    data = take_bytes(session).decode("utf-8")
    assert data == "" or data.endswith("\n"), f"a partial line was queued: {data!r}"
    decoded = [decode_event(line) for line in data.split("\n")[:-1]]
    assert all(isinstance(event, Event) for event in decoded), decoded
    return decoded  # type: ignore[return-value]


def room_events(received: list[Event]) -> list[Event]:
    return [event for event in received if isinstance(event, ROOM_EVENTS)]


def error_codes(received: list[Event]) -> list[str]:
    return [event.code for event in received if isinstance(event, Error)]


def drain_all(*sessions: Session) -> None:
    for session in sessions:
        take_bytes(session)


@pytest.fixture
def chat() -> Chat:
    return Chat()


# Connecting and joining


def test_a_new_connection_is_greeted_with_the_server_name_and_head_count(chat: Chat) -> None:
    chat.join("alice")
    session = chat.new_session()
    chat.room.greet(session)
    chat.pump()
    greeting = take_bytes(session).decode()
    assert greeting.startswith("*** Welcome to lanbox! 1 person is here.")
    assert greeting.endswith("\r\n") and greeting.count("\r\n") == 1
    assert not chat.room.is_joined(session)


def test_a_human_connection_joins_with_its_first_plain_line_as_nickname(chat: Chat) -> None:
    alice = chat.join("alice")
    bob = chat.connect(machine=False)
    chat.send(bob, "bob")
    assert chat.room.is_joined(bob) and bob.nick == "bob"
    assert take_bytes(bob) == b"".join([
        encode_for_people(Welcome("bob"), viewer="bob"),
        encode_for_people(Users(("alice", "bob")), viewer="bob"),
        encode_for_people(Join("bob")),
    ])
    assert events(alice) == [Join("bob")]


def test_a_human_first_line_that_is_no_nickname_is_refused_and_the_next_one_may_join(
    chat: Chat,
) -> None:
    bob = chat.connect(machine=False)
    chat.send(bob, "hello everyone")
    received = take_bytes(bob).decode()
    assert received.startswith("*** Error (BAD_NICK): ")
    assert not chat.room.is_joined(bob)
    chat.send(bob, "  bob  ")
    assert chat.room.nicks == ("bob",)


def test_a_human_who_has_joined_says_plain_lines_to_the_room(chat: Chat) -> None:
    alice = chat.join("alice")
    bob = chat.join("bob", machine=False)
    drain_all(alice)
    chat.send(bob, "alice")  # a message now, not a second nickname
    assert bob.nick == "bob"
    assert events(alice) == [Message("bob", "alice")]
    assert take_bytes(bob) == b"<bob> alice\r\n"


def test_text_before_joining_on_a_machine_connection_is_not_joined(chat: Chat) -> None:
    alice = chat.join("alice")
    robot = chat.connect()
    chat.send(robot, "alice")
    assert error_codes(events(robot)) == [ErrorCode.NOT_JOINED]
    assert not chat.room.is_joined(robot)
    assert chat.room.nicks == ("alice",)
    assert events(alice) == []


def test_text_right_after_hello_is_not_joined_even_before_the_hello_is_delivered(
    chat: Chat,
) -> None:
    # A client may send "/hello ..." and a line of text in one packet: the reader hands
    # both lines to the room before the broadcaster has delivered the HELLO.
    robot = chat.connect(machine=False)
    chat.room.handle_line(robot, "/hello bot 1")
    chat.room.handle_line(robot, "robot")
    chat.pump()
    assert not chat.room.is_joined(robot)
    assert events(robot) == [
        Hello(SERVER_NAME),
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
    assert chat.room.nicks == ("alice", "bob", "carol")


@pytest.mark.parametrize("taken", ["alice", "ALICE", "Alice", "ａｌｉｃｅ", "ＡＬＩＣＥ"])
def test_joining_with_a_nickname_in_use_in_any_case_or_width_is_refused(
    chat: Chat, taken: str,
) -> None:
    alice = chat.join("alice")
    other = chat.connect()
    chat.send(other, f"/nick {taken}")
    received = events(other)
    assert error_codes(received) == [ErrorCode.NICK_IN_USE]
    assert "alice" in received[0].text  # type: ignore[union-attr]
    assert not chat.room.is_joined(other)
    assert events(alice) == []


@pytest.mark.parametrize("bad", ["al ice", "b@d", "x" * 17, "\u0301abc", "a.b", "bob!"])
def test_joining_with_an_invalid_nickname_is_bad_nick(chat: Chat, bad: str) -> None:
    other = chat.connect()
    chat.send(other, f"/nick {bad}")
    assert error_codes(events(other)) == [ErrorCode.BAD_NICK]
    assert chat.room.nicks == ()


def test_unicode_nicknames_join(chat: Chat) -> None:
    zhang = chat.join("张三")
    jose = chat.join("Jose\u0301")
    assert chat.room.nicks == ("张三", "Jose\u0301")
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
    assert chat.room.nicks == ("al", "bob")

    chat.send(bob, "/msg alice still there?")
    assert error_codes(events(bob)) == [ErrorCode.NO_SUCH_NICK]
    carol = chat.connect()
    chat.send(carol, "/nick Alice")  # the old name is free again
    assert chat.room.nicks == ("al", "bob", "Alice")


def test_a_change_of_case_only_is_allowed(chat: Chat) -> None:
    alice = chat.join("alice")
    bob = chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, "/nick ALICE")
    assert events(bob) == [NickChange("alice", "ALICE")]
    assert events(alice) == [NickChange("alice", "ALICE")]
    assert chat.room.nicks == ("ALICE", "bob")
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
    assert chat.room.nicks == ("alice", "bob")


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
    assert "zed" in received[0].text  # type: ignore[union-attr]
    assert events(bob) == []


def test_msg_before_joining_is_not_joined(chat: Chat) -> None:
    alice = chat.join("alice")
    robot = chat.connect()
    chat.send(robot, "/msg alice hi")
    assert error_codes(events(robot)) == [ErrorCode.NOT_JOINED]
    assert events(alice) == []


def test_private_messages_read_differently_to_human_sender_and_recipient(chat: Chat) -> None:
    alice = chat.join("alice", machine=False)
    bob = chat.join("bob", machine=False)
    drain_all(alice, bob)
    chat.send(alice, "/msg bob psst")
    assert take_bytes(alice) == b"-> *bob* psst\r\n"
    assert take_bytes(bob) == b"*alice* psst\r\n"


# Asking


def test_who_before_joining_lists_the_room_to_the_asker_only(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    drain_all(alice, bob)
    robot = chat.connect()
    chat.send(robot, "/who")
    assert events(robot) == [Users(("alice", "bob"))]
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


def test_help_lists_every_command(chat: Chat) -> None:
    robot = chat.connect()
    chat.send(robot, "/help")
    received = events(robot)
    assert received and all(isinstance(event, Info) for event in received)
    text = "\n".join(event.text for event in received)  # type: ignore[attr-defined]
    for name, spec in COMMANDS.items():
        assert f"/{name}" in text, f"/help does not mention /{name}"
        assert spec.summary in text
    assert "//text" in text


def test_hello_answers_hello_then_switches_a_human_connection_to_machine_events(
    chat: Chat,
) -> None:
    alice = chat.join("alice")
    conn = chat.connect(machine=False)
    chat.send(conn, "/ping before")
    assert take_bytes(conn) == b"*** PONG before\r\n"
    chat.send(conn, "/HELLO my-client 2.0")
    assert take_bytes(conn) == b"HELLO lanbox 1\n"
    assert conn.machine
    chat.send(conn, "/nick zoe")
    assert events(conn) == [Welcome("zoe"), Users(("alice", "zoe")), Join("zoe")]
    drain_all(alice)


def test_help_ping_and_who_work_before_joining(chat: Chat) -> None:
    robot = chat.connect()
    chat.send(robot, "/help", "/ping x", "/who")
    received = events(robot)
    assert ErrorCode.NOT_JOINED not in error_codes(received)
    assert received[-2:] == [Pong("x"), Users(())]


# Mistakes


@pytest.mark.parametrize("line", ["/dance", "/nickname bob", "/", "/whois bob"])
def test_an_unknown_command_is_unknown_command(chat: Chat, line: str) -> None:
    alice = chat.join("alice")
    drain_all(alice)
    chat.send(alice, line)
    assert error_codes(events(alice)) == [ErrorCode.UNKNOWN_COMMAND]


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
    assert usage in received[0].text  # type: ignore[union-attr]
    assert events(bob) == []


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
    chat.room.handle(alice, LineTooLong(2048))
    chat.pump()
    received = events(alice)
    assert error_codes(received) == [ErrorCode.LINE_TOO_LONG]
    assert "2048" in received[0].text  # type: ignore[union-attr]
    assert chat.room.is_joined(alice)


def test_a_line_that_is_not_utf8_is_answered_bad_encoding(chat: Chat) -> None:
    alice = chat.join("alice")
    drain_all(alice)
    chat.room.handle(alice, BadEncoding())
    chat.room.handle(alice, Line("still here"))
    chat.pump()
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


def test_actions_private_messages_and_quit_reasons_are_sanitised_too(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    drain_all(alice, bob)
    chat.send(alice, "/me \x1b[5mblinks\x1b[0m", "/msg bob \x1b]8;;http://x\x07link",
              "/quit \x1b[2Jbye")
    assert events(bob) == [
        Action("alice", "blinks"), PrivateMessage("alice", "bob", "link"), Part("alice", "bye"),
    ]


def test_a_nickname_with_escape_sequences_joins_without_them(chat: Chat) -> None:
    robot = chat.connect()
    chat.send(robot, "/nick \x1b[1mbob\x1b[0m")
    assert chat.room.nicks == ("bob",)
    assert events(robot)[0] == Welcome("bob")


@pytest.mark.parametrize("line", ["   ", "\t", "\x1b[2J", "\x07\x07", "\x1b]0;x\x07 ", "\u202e"])
def test_blank_and_escape_only_lines_are_ignored(chat: Chat, line: str) -> None:
    alice = chat.join("alice")
    human = chat.connect(machine=False)
    drain_all(alice)
    chat.room.handle_line(alice, line)
    chat.room.handle_line(human, line)  # not even taken as a (bad) nickname
    assert not chat.room.outgoing
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
    assert chat.room.nicks == ("bob",)


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


def test_a_quitter_gets_what_came_before_its_quit_and_nothing_after_its_bye(
    chat: Chat,
) -> None:
    alice, bob, carol = chat.join("alice"), chat.join("bob"), chat.join("carol")
    drain_all(alice, bob, carol)
    # All queued before any delivery, as in one busy round of the scheduler.
    chat.room.handle_line(bob, "before")
    chat.room.handle_line(alice, "/quit")
    chat.room.handle_line(bob, "after")
    chat.room.handle_line(bob, "/msg alice are you there?")
    chat.room.handle_line(carol, "/me waves")
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
    chat.room.connection_lost(alice)
    chat.pump()
    assert events(bob) == [Part("alice", "connection lost")]
    assert events(alice) == []  # nobody is listening on the other end
    assert not alice.reading and alice.hanging_up and chat.hung_up == [alice]
    chat.send(bob, "anyone?")
    assert events(alice) == []


def test_a_lost_connection_that_never_joined_tells_the_room_nothing(chat: Chat) -> None:
    alice = chat.join("alice")
    robot = chat.connect()
    chat.room.connection_lost(robot)
    chat.pump()
    assert events(alice) == []
    assert robot.hanging_up


def test_say_goodbye_sends_bye_without_part(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    drain_all(alice, bob)
    chat.room.say_goodbye(alice, "server shutting down")
    chat.pump()
    assert events(alice) == [Bye("server shutting down")]
    assert events(bob) == []
    assert alice.hanging_up and not alice.reading
    assert chat.room.nicks == ("bob",)
    chat.send(bob, "still here")
    assert events(alice) == []


def test_a_connection_that_hung_up_is_hung_up_once(chat: Chat) -> None:
    alice = chat.join("alice")
    chat.send(alice, "/quit")
    chat.room.connection_lost(alice)  # the writer then fails too
    chat.pump()
    assert chat.hung_up == [alice]


# Guarantees


def test_every_member_sees_the_same_room_transcript(chat: Chat) -> None:
    members = [chat.join(nick) for nick in ["alice", "bob", "carol", "dave"]]
    drain_all(*members)
    alice, bob, carol, dave = members
    script = [
        (alice, "hi all"), (bob, "/me waves"), (carol, "/nick caroline"),
        (dave, "/msg alice psst"), (alice, "//slash"), (bob, "hey caroline"),
        (carol, "/nick carol"), (dave, "/who"), (alice, "/me leaves soon"),
    ]
    for member, line in script:  # one scheduler round: nothing delivered in between
        chat.room.handle_line(member, line)
    newcomer = chat.connect()
    chat.room.handle_line(newcomer, "/nick erin")
    chat.room.handle_line(newcomer, "hello")
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
    chat.room.handle_line(alice, "before bob")
    chat.room.handle_line(bob, "/nick bob")
    chat.room.handle_line(alice, "after bob")
    chat.pump()
    assert events(bob) == [
        Welcome("bob"), Users(("alice", "bob")), Join("bob"), Message("alice", "after bob"),
    ]
    assert events(alice) == [
        Message("alice", "before bob"), Join("bob"), Message("alice", "after bob"),
    ]


ACTIONS = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(["say", "me", "rename", "who", "msg"])),
    min_size=1, max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(script=ACTIONS, delivery_points=st.sets(st.integers(0, 30)))
def test_transcripts_match_for_any_script_and_any_delivery_timing(
    script: list[tuple[int, str]], delivery_points: set[int],
) -> None:
    chat = Chat()
    members = [chat.join(nick) for nick in ["m0", "m1", "m2", "m3"]]
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
        chat.room.handle_line(member, line)
        if step in delivery_points:  # the broadcaster gets a turn here
            chat.pump()
    chat.pump()
    transcripts = [room_events(events(member)) for member in members]
    assert all(transcript == transcripts[0] for transcript in transcripts)
    assert len(transcripts[0]) == sum(1 for _, what in script if what in ("say", "me", "rename"))


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
    assert chat.room.nicks == ("alice", "bob")


def test_a_human_cut_off_as_too_slow_is_told_in_its_own_rendering(chat: Chat) -> None:
    alice = chat.join("alice")
    slow = chat.join("slow", machine=False, limit=100)
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
        chat.room.handle_line(alice, f"message {n}")
    chat.pump()  # a burst: far over the limit before the writer had its turn
    assert busy.outbox.size > 100
    assert chat.room.nicks == ("alice", "busy")
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
    chat.room.handle_line(alice, "this passes the limit")
    chat.room.handle_line(alice, "/msg slow and this reaches a sealed outbox")
    chat.pump()
    chat.send(alice, "more")
    assert take_bytes(slow) == encode_event(Bye("too slow"))
    assert chat.hung_up.count(slow) == 1
    assert room_events(events(alice)).count(Part("slow", "too slow")) == 1


def test_stats_reports_what_the_server_counts_to_the_asker_only() -> None:
    chat = Chat()
    chat.room = Room(SERVER_NAME, figures=lambda: {"tasks": 9, "uptime": "1.5"})
    chat.audience = Audience(chat.room)
    alice = chat.join("alice")
    bob = chat.join("bob")
    take_bytes(alice)
    chat.send(bob, "/stats")
    assert events(bob) == [Stats((("tasks", "9"), ("uptime", "1.5")))]
    assert events(alice) == []
