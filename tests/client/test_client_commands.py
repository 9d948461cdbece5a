"""What the user types: client commands, lines for the server, pastes, long messages."""

from __future__ import annotations

import pytest

from protocol import MAX_LINE_BYTES, commands_of

from chat_client.commands import (
    CLIENT_COMMANDS, SPOKEN_VERSION, command_names, handle_line, handle_typed_text, help_lines,
    split_message,
)

SPOKEN = {spec.name: spec for spec in commands_of(SPOKEN_VERSION)}


class RecordingActions:
    """Records what the typed text made the client do, in order."""

    def __init__(self) -> None:
        self.done: list[tuple[str, str]] = []

    def send_line(self, line: str) -> None:
        self.done.append(("send", line))

    def clear(self) -> None:
        self.done.append(("clear", ""))

    def show_help(self) -> None:
        self.done.append(("help", ""))

    def quit(self, reason: str) -> None:
        self.done.append(("quit", reason))

    def complain(self, text: str) -> None:
        self.done.append(("complain", text))

    def ignore(self, nick: str | None) -> None:
        self.done.append(("ignore", nick or ""))

    def unignore(self, nick: str) -> None:
        self.done.append(("unignore", nick))

    def reply(self, text: str) -> None:
        self.done.append(("reply", text))


def actions_for(text: str) -> list[tuple[str, str]]:
    actions = RecordingActions()
    handle_typed_text(text, actions)
    return actions.done


@pytest.mark.parametrize(("typed", "done"), [
    ("hello", [("send", "hello")]),
    ("//etc/passwd is a file", [("send", "//etc/passwd is a file")]),
    ("/me waves", [("send", "/me waves")]),
    ("/msg bob psst", [("send", "/msg bob psst")]),
    ("/nick al", [("send", "/nick al")]),
    ("/who", [("send", "/who")]),
    ("/frobnicate", [("send", "/frobnicate")]),  # the server answers UNKNOWN_COMMAND
    ("/clear", [("clear", "")]),
    ("/CLEAR", [("clear", "")]),
    ("/help", [("help", "")]),
    ("/quit", [("quit", "quit")]),
    ("/quit see you", [("quit", "see you")]),
    ("/msg bob", [("complain", "usage: /msg NICK TEXT")]),
    ("/hello x 1", [("complain", "the client has already said /hello; it speaks machine events")]),
    ("   ", []),
    ("/ignore bob", [("ignore", "bob")]),
    ("/IGNORE  bob ", [("ignore", "bob")]),
    ("/ignore", [("ignore", "")]),
    ("/ignore bob carol", [("complain", "usage: /ignore [NICK]")]),
    ("/ignore b@d", [("complain", "/ignore b@d: '@' is not allowed: use letters, digits, "
                                "'_' and '-'")]),
    ("/unignore bob", [("unignore", "bob")]),
    ("/unignore", [("complain", "usage: /unignore NICK")]),
    ("/reply see you at 3", [("reply", "see you at 3")]),
    ("/reply", [("complain", "usage: /reply TEXT")]),
    ("//ignore me", [("send", "//ignore me")]),  # said, not a command
])
def test_typed_lines_go_to_the_right_place(typed: str, done: list[tuple[str, str]]) -> None:
    assert actions_for(typed) == done


def test_several_lines_are_handled_in_order_and_blank_ones_skipped() -> None:
    assert actions_for("one\n\ntwo\r\n/me three\n") == [
        ("send", "one"), ("send", "two"), ("send", "/me three")]


def test_a_message_too_long_for_one_line_is_sent_as_several() -> None:
    text = ("word " * 1000).strip()
    done = actions_for(text)
    assert len(done) == 3 and all(kind == "send" for kind, _ in done)
    assert all(len(line.encode("utf-8")) <= MAX_LINE_BYTES for _, line in done)
    assert "".join(line for _, line in done) == text


def test_pieces_of_a_long_message_that_start_with_a_slash_are_still_said() -> None:
    text = "a" * (MAX_LINE_BYTES - 1) + "/etc"
    assert actions_for(text) == [("send", "a" * (MAX_LINE_BYTES - 1)), ("send", "//etc")]


def test_splitting_never_cuts_a_character() -> None:
    text = "你好🎉" * 700
    pieces = list(split_message(text, limit=100))
    assert "".join(pieces) == text
    assert all(len(piece.encode("utf-8")) <= 100 for piece in pieces)


def test_a_command_too_long_for_the_server_is_refused_here() -> None:
    actions = RecordingActions()
    handle_line("/me " + "x" * MAX_LINE_BYTES, actions)
    assert actions.done == [("complain", "that command is too long for the server (2048 bytes)")]


def test_help_lists_client_commands_server_commands_and_keys() -> None:
    text = "\n".join(help_lines())
    for usage, _ in CLIENT_COMMANDS.values():
        assert usage in text
    for name, spec in SPOKEN.items():
        assert (spec.usage in text) == (name != "hello")
    assert "/join" not in text  # a newer protocol's command: this client does not speak it
    for key in ("PageUp", "Tab", "Ctrl-C", "Up / Down"):
        assert key in text


def test_command_names_for_completion_come_from_the_shared_table() -> None:
    names = command_names()
    assert names == sorted(names) and "/hello" not in names
    assert {"/clear", "/help", "/me", "/msg", "/nick", "/ping", "/quit", "/who"} <= set(names)
    assert set(names) == {f"/{name}" for name in [*SPOKEN, *CLIENT_COMMANDS]} - {"/hello"}
    assert {"/ignore", "/unignore", "/reply"} <= set(names)
