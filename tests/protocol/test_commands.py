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
    COMMANDS, BadArgs, Command, Help, Me, Ping, Quit, Say, SendPrivate, SetNick, ShowStats,
    StartMachineMode, UnknownCommand, Who, parse_command,
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
    ("/who extra words", Who()),
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
    assert parse_command(line) == command


def test_every_command_in_the_contract_is_in_the_table() -> None:
    contract = {"nick", "me", "msg", "who", "quit", "ping", "help", "hello"}
    extensions = {"stats"}  # classroom mode: the server's figures
    assert set(COMMANDS) == contract | extensions


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
