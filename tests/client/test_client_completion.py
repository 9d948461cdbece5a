"""Tab completion of nicknames and commands: the completer and the irssi-style cycling."""

from __future__ import annotations

from prompt_toolkit.buffer import Buffer
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from chat_client.commands import ROOM_COMMANDS, command_names
from chat_client.completion import ChatCompleter, TabCycler

ROOMS = ["#lobby", "#games", "#Gardening", "#游戏"]


def completions(text: str, users: list[str] | None = None) -> list[str]:
    completer = ChatCompleter(lambda: users or ["bob", "Bobby", "carol", "张三"], command_names(),
                              get_rooms=lambda: ROOMS, room_commands=ROOM_COMMANDS)
    document = Document(text, len(text))
    return [document.text[: len(text) + c.start_position] + c.text
            for c in completer.get_completions(document, CompleteEvent(completion_requested=True))]


def test_a_nick_at_the_start_of_the_line_is_addressed() -> None:
    assert completions("bo") == ["bob: ", "Bobby: "]


def test_a_nick_later_in_the_line_is_just_the_nick() -> None:
    assert completions("hi CA") == ["hi carol"]
    assert completions("/msg 张") == ["/msg 张三"]


def test_commands_complete_at_the_start_of_the_line() -> None:
    assert completions("/me") == ["/me "]
    assert completions("/ms") == ["/msg "]
    assert completions("/j") == ["/join "]
    assert completions("/Q") == ["/quit "]
    assert completions("/") == [name + " " for name in command_names()]
    assert "/help " in completions("/")


def test_room_names_complete_after_room_commands_with_or_without_the_hash() -> None:
    assert completions("/join g") == ["/join #games", "/join #Gardening"]
    assert completions("/join #GA") == ["/join #games", "/join #Gardening"]
    assert completions("/part ") == [f"/part {room}" for room in ROOMS]
    assert completions("/in 游") == ["/in #游戏"]
    assert completions("/history lo") == ["/history #lobby"]


def test_a_word_starting_with_a_hash_is_a_room_anywhere_in_the_line() -> None:
    assert completions("see you in #l") == ["see you in #lobby"]
    assert completions("/topic moved to #ga") == ["/topic moved to #games", "/topic moved to #Gardening"]


def test_nothing_matches_nothing() -> None:
    assert completions("zed") == []
    assert completions("say /m") == []


def cycler_buffer(text: str) -> tuple[TabCycler, Buffer]:
    buffer = Buffer(multiline=False)
    buffer.document = Document(text, len(text))
    return TabCycler(ChatCompleter(lambda: ["bob", "Bobby", "carol"], command_names())), buffer


def test_tab_cycles_through_the_matches_and_back_round() -> None:
    tab, buffer = cycler_buffer("hi bo")
    seen = []
    for _ in range(3):
        tab.complete(buffer)
        seen.append(buffer.text)
    assert seen == ["hi bob", "hi Bobby", "hi bob"]
    tab.complete(buffer, step=-1)
    assert buffer.text == "hi Bobby" and buffer.cursor_position == len("hi Bobby")


def test_typing_after_a_completion_starts_a_new_one() -> None:
    tab, buffer = cycler_buffer("bo")
    tab.complete(buffer)
    buffer.insert_text("hello ca")
    tab.complete(buffer)
    assert buffer.text == "bob: hello carol"


def test_tab_with_no_match_changes_nothing() -> None:
    tab, buffer = cycler_buffer("xyz")
    tab.complete(buffer)
    assert buffer.text == "xyz"


def test_completion_keeps_the_text_after_the_cursor() -> None:
    tab, buffer = cycler_buffer("")
    buffer.document = Document("ca and bob", 2)
    tab.complete(buffer)
    assert buffer.text == "carol:  and bob" and buffer.cursor_position == len("carol: ")


def test_after_msg_the_latest_correspondents_in_the_room_come_first() -> None:
    users = ["bob", "carol", "dave", "erin"]
    completer = ChatCompleter(lambda: users, command_names(),
                              get_correspondents=lambda: ["dave", "zed", "Bob"])
    document = Document("/msg ", 5)
    offered = [c.text for c in completer.get_completions(
        document, CompleteEvent(completion_requested=True))]
    assert offered == ["dave", "bob", "carol", "erin"]  # zed left the room: not offered


def test_tab_after_msg_puts_in_the_latest_correspondent() -> None:
    completer = ChatCompleter(lambda: ["bob", "carol"], command_names(),
                              get_correspondents=lambda: ["carol"])
    cycler, buffer = TabCycler(completer), Buffer()
    buffer.insert_text("/msg ")
    cycler.complete(buffer)
    assert buffer.text == "/msg carol"
    cycler.complete(buffer)
    assert buffer.text == "/msg bob"
