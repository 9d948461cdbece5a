"""Tab completion of nicknames and commands, as a pure completer."""

from __future__ import annotations

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from chat_client.commands import command_names
from chat_client.completion import ChatCompleter


def completions(text: str, users: list[str] | None = None) -> list[str]:
    completer = ChatCompleter(lambda: users or ["bob", "Bobby", "carol", "张三"], command_names())
    document = Document(text, len(text))
    return [document.text[: len(text) + c.start_position] + c.text
            for c in completer.get_completions(document, CompleteEvent(completion_requested=True))]


def test_a_nick_at_the_start_of_the_line_is_addressed() -> None:
    assert completions("bo") == ["bob: ", "Bobby: "]


def test_a_nick_later_in_the_line_is_just_the_nick() -> None:
    assert completions("hi CA") == ["hi carol"]
    assert completions("/msg 张") == ["/msg 张三"]


def test_commands_complete_at_the_start_of_the_line() -> None:
    assert completions("/m") == ["/me ", "/msg "]
    assert completions("/Q") == ["/quit "]
    assert completions("/") == [name + " " for name in command_names()]


def test_nothing_matches_nothing() -> None:
    assert completions("zed") == []
    assert completions("say /m") == []
