"""Tests for `protocol.commands`: what a person types, parsed into one command value.

Every row of the contract's client-to-server table, command names in any case, `//` to
say a line starting with `/`, missing arguments answered with the usage, unknown
commands named back, and the `COMMANDS` table that help is built from.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.commands import (
    COMMANDS, BadArgs, Command, Help, InRoom, JoinRoom, LeaveRoom, ListRooms, Me, Ping, Quit,
    Say, SendPrivate, SetNick, SetTopic, ShowHistory, ShowStats, ShowTopic,
    StartMachineMode, UnknownCommand, Who, commands_of, parse_command,
)

# (typed line, command): the contract's table, row by row, then the details.
CASES: list[tuple[str, Command]] = [
    ("hello everyone", Say("hello everyone")),
    ("//text", Say("/text")),
    ("//nick alice", Say("/nick alice")),
    ("/nick alice", SetNick("alice")),
    ("/me waves", Me("waves")),
    ("/msg bob hi there", SendPrivate("bob", "hi there")),
    ("/who", Who()),
    ("/quit", Quit("quit")),
    ("/quit gone for lunch", Quit("gone for lunch")),
    ("/ping", Ping("")),
    ("/ping 12345", Ping("12345")),
    ("/help", Help()),
    ("/hello chat-client 1", StartMachineMode("chat-client", "1")),
    # Plain text is said exactly as typed.
    ("  leading and trailing spaces  ", Say("  leading and trailing spaces  ")),
    ("a/b is not a command", Say("a/b is not a command")),
    ("张三 👋", Say("张三 👋")),
    ("///", Say("//")),
    # Arguments: the command name and the spaces after it are not part of them.
    ("/nick   alice  ", SetNick("alice")),
    ("/nick\talice", SetNick("alice")),
    ("/nick 张三", SetNick("张三")),
    ("/me  dances   wildly", Me("dances   wildly")),
    ("/msg bob   hi   there", SendPrivate("bob", "hi   there")),
    ("/msg bob hi\tthere\t", SendPrivate("bob", "hi\tthere\t")),
    ("/msg\tbob\thi", SendPrivate("bob", "hi")),
    ("/msg 张三 你好", SendPrivate("张三", "你好")),
    ("/quit   ", Quit("quit")),
    ("/ping a b", Ping("a b")),
    ("/who extra words", Who("extra")),  # (a version 1 server shows its one room)
    ("/help nick", Help()),
    # Names in any case.
    ("/NICK alice", SetNick("alice")),
    ("/Nick alice", SetNick("alice")),
    ("/Msg bob hi", SendPrivate("bob", "hi")),
    ("/ME waves", Me("waves")),
    ("/WHO", Who()),
    ("/QuIt bye", Quit("bye")),
    ("/PING x", Ping("x")),
    ("/HELP", Help()),
    ("/HELLO chat-client 1", StartMachineMode("chat-client", "1")),
    # Missing arguments: the usage comes back.
    ("/nick", BadArgs("nick", "/nick NAME")),
    ("/nick   ", BadArgs("nick", "/nick NAME")),
    ("/NICK", BadArgs("nick", "/nick NAME")),
    ("/me", BadArgs("me", "/me ACTION")),
    ("/me \t ", BadArgs("me", "/me ACTION")),
    ("/msg", BadArgs("msg", "/msg NICK TEXT")),
    ("/msg bob", BadArgs("msg", "/msg NICK TEXT")),
    ("/msg bob   ", BadArgs("msg", "/msg NICK TEXT")),
    ("/hello", BadArgs("hello", "/hello CLIENT VERSION")),
    ("/hello chat-client", BadArgs("hello", "/hello CLIENT VERSION")),
    # Unknown commands are named back as typed.
    ("/dance", UnknownCommand("dance")),
    ("/DANCE wildly", UnknownCommand("DANCE")),
    ("/join #room", UnknownCommand("join")),
    ("/nickname alice", UnknownCommand("nickname")),
    ("/", UnknownCommand("")),
]


@pytest.mark.parametrize(("line", "command"), CASES, ids=[line for line, _ in CASES])
def test_typed_line_parses_to_its_command(line: str, command: Command) -> None:
    assert parse_command(line, version=1) == command


# (typed line, command) for version 2: rooms and history.
V2_CASES: list[tuple[str, Command]] = [
    ("/join #games", JoinRoom("#games")),
    ("/join games", JoinRoom("games")),  # the server adds the #
    ("/JOIN  #游戏 extra", JoinRoom("#游戏")),
    ("/join", BadArgs("join", "/join ROOM")),
    ("/part", LeaveRoom("")),
    ("/part #games see you", LeaveRoom("#games see you")),
    ("/rooms", ListRooms()),
    ("/topic", ShowTopic()),
    ("/topic Friday: the demo", SetTopic("Friday: the demo")),
    ("/topic   ", BadArgs("topic", "/topic [TEXT]")),
    ("/who", Who()),
    ("/who #games", Who("#games")),
    ("/in #games hi all", InRoom("#games", Say("hi all"))),
    ("/in #games /me waves", InRoom("#games", Me("waves"))),
    ("/in #games", BadArgs("in", "/in ROOM LINE")),
    ("/in #a /in #b hi", BadArgs("in", "/in ROOM LINE")),  # no nesting
    ("/history #a latest", ShowHistory("#a", "latest", None, 50)),
    ("/history #a LATEST 7", ShowHistory("#a", "latest", None, 7)),
    ("/history #a before 120", ShowHistory("#a", "before", 120, 50)),
    ("/history #a after 3 500", ShowHistory("#a", "after", 3, 500)),
    ("/history #a after 3 501", BadArgs("history", COMMANDS["history"].usage)),
    ("/history #a after", BadArgs("history", COMMANDS["history"].usage)),
    ("/history #a before x", BadArgs("history", COMMANDS["history"].usage)),
    ("/history #a latest 5 6", BadArgs("history", COMMANDS["history"].usage)),
    ("/history #a sideways 5", BadArgs("history", COMMANDS["history"].usage)),
    ("/history #a before -1", BadArgs("history", COMMANDS["history"].usage)),
    ("/history #a before ５", BadArgs("history", COMMANDS["history"].usage)),
]


@pytest.mark.parametrize(("line", "command"), V2_CASES, ids=[line for line, _ in V2_CASES])
def test_version_2_line_parses_to_its_command(line: str, command: Command) -> None:
    assert parse_command(line) == command


@pytest.mark.parametrize("name", ["join", "part", "rooms", "topic", "in", "history"])
def test_a_version_1_client_does_not_have_the_room_commands(name: str) -> None:
    assert parse_command(f"/{name} #x y", version=1) == UnknownCommand(name)
    assert name not in {spec.name for spec in commands_of(1)}
    assert name in {spec.name for spec in commands_of(2)}


def test_every_command_in_the_contract_is_in_the_table() -> None:
    contract = {"nick", "me", "msg", "who", "quit", "ping", "help", "hello"}
    contract_v2 = {"join", "part", "rooms", "topic", "in", "history"}
    operators_and_access = {"pass", "oper", "op", "deop", "kick", "ban", "unban", "bans",
                            "mute", "unmute", "readonly", "slow"}
    extensions = {"stats"}  # classroom mode: the server's figures
    assert set(COMMANDS) == contract | contract_v2 | operators_and_access | extensions


def test_stats_parses_with_or_without_arguments() -> None:
    assert parse_command("/stats") == ShowStats()
    assert parse_command("/STATS now") == ShowStats()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_table_entries_describe_themselves(name: str) -> None:
    spec = COMMANDS[name]
    assert spec.name == name
    assert spec.usage.startswith(f"/{name}")
    assert spec.summary


@pytest.mark.parametrize("name", ["nick", "me", "msg", "hello"])
def test_commands_with_required_arguments_report_their_own_usage(name: str) -> None:
    assert parse_command(f"/{name}") == BadArgs(name, COMMANDS[name].usage)


@pytest.mark.parametrize("name", ["who", "quit", "ping", "help"])
def test_commands_without_required_arguments_never_report_bad_args(name: str) -> None:
    assert not isinstance(parse_command(f"/{name}"), BadArgs)


_LINES = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_LINES)
def test_any_line_parses_to_a_command_without_raising(line: str) -> None:
    command = parse_command(line)
    if not line.startswith("/"):
        assert command == Say(line)
    else:
        assert not isinstance(command, Say) or line.startswith("//")


@settings(max_examples=200, deadline=None)
@given(_LINES)
def test_double_slash_says_the_rest_of_the_line(text: str) -> None:
    assert parse_command("//" + text) == Say("/" + text)
