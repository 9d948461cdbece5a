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

    def send_in_room(self, line: str) -> None:
        self.done.append(("room", line))

    def join_room(self, room: str, line: str) -> None:
        self.done.append(("join", f"{room} {line}"))

    def list_rooms(self) -> None:
        self.done.append(("rooms", ""))

    def show_window(self, number: int) -> None:
        self.done.append(("window", str(number)))


def actions_for(text: str) -> list[tuple[str, str]]:
    actions = RecordingActions()
    handle_typed_text(text, actions)
    return actions.done


@pytest.mark.parametrize(("typed", "done"), [
    # Lines that act on a room go to the window's room ("room"); the others as typed.
    ("hello", [("room", "hello")]),
    ("//etc/passwd is a file", [("room", "//etc/passwd is a file")]),
    ("/me waves", [("room", "/me waves")]),
    ("/msg bob psst", [("send", "/msg bob psst")]),
    ("/nick al", [("send", "/nick al")]),
    ("/who", [("room", "/who")]),
    ("/who #games", [("send", "/who #games")]),
    ("/frobnicate", [("room", "/frobnicate")]),  # the server answers UNKNOWN_COMMAND
    ("/topic", [("room", "/topic")]),
    ("/topic game night at 8", [("room", "/topic game night at 8")]),
    ("/part", [("room", "/part")]),
    ("/part bye all", [("room", "/part bye all")]),
    ("/part #games bye", [("send", "/part #games bye")]),
    ("/kick bob spam", [("room", "/kick bob spam")]),
    ("/join games", [("join", "#games /join games")]),
    ("/join", [("complain", "usage: /join ROOM")]),
    ("/rooms", [("rooms", "")]),
    ("/in #games hi there", [("send", "/in #games hi there")]),
    ("/history #games before 10", [("send", "/history #games before 10")]),
    ("/window 2", [("window", "2")]),
    ("/window two", [("complain", "usage: /window N")]),
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
    ("//ignore me", [("room", "//ignore me")]),  # said, not a command
])
def test_typed_lines_go_to_the_right_place(typed: str, done: list[tuple[str, str]]) -> None:
    assert actions_for(typed) == done


def test_several_lines_are_handled_in_order_and_blank_ones_skipped() -> None:
    assert actions_for("one\n\ntwo\r\n/me three\n") == [
        ("room", "one"), ("room", "two"), ("room", "/me three")]


def test_a_message_too_long_for_one_line_is_sent_as_several() -> None:
    text = ("word " * 1000).strip()
    done = actions_for(text)
    assert len(done) == 3 and all(kind == "room" for kind, _ in done)
    assert all(len(line.encode("utf-8")) <= MAX_LINE_BYTES for _, line in done)
    assert "".join(line for _, line in done) == text


def test_pieces_of_a_long_message_that_start_with_a_slash_are_still_said() -> None:
    text = "a" * (MAX_LINE_BYTES - 1) + "/etc"
    assert actions_for(text) == [("room", "a" * (MAX_LINE_BYTES - 1)), ("room", "//etc")]


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
    assert "/join ROOM" in text and "/window N" in text  # version 2: rooms and windows
    assert all(len("12:34 -!- " + line) <= 80 for line in help_lines())  # no line wraps
    for key in ("PageUp", "Tab", "Ctrl-C", "Up / Down", "Alt-1..9", "F7"):
        assert key in text


def test_command_names_for_completion_come_from_the_shared_table() -> None:
    names = command_names()
    assert names == sorted(names) and "/hello" not in names
    assert {"/clear", "/help", "/me", "/msg", "/nick", "/ping", "/quit", "/who"} <= set(names)
    assert set(names) == {f"/{name}" for name in [*SPOKEN, *CLIENT_COMMANDS]} - {"/hello"}
    assert {"/ignore", "/unignore", "/reply"} <= set(names)
