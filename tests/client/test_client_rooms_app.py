"""Rooms in the real application against a real server (protocol version 2).

Windows, the activity list, /join, /part, topics, typing into the window shown,
reconnecting into every room with the missed lines fetched once, and PageUp loading
older lines. Raw version 2 line clients play the other people.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from chat_testing import LineClient, ServerProcess, close_all
from client_harness import ENTER, PAGE_UP, UP, in_thread, run, running_client, wait_until

from chat_client.state import ConnectionState

ALT = "\x1b"  # Alt-2 is ESC then 2, as terminals send it


def v2_client(port: int, nick: str, *rooms: str) -> LineClient:
    """A version 2 line client called `nick`, in the default room and in `rooms`."""
    client = LineClient(port)
    client.send_line("/hello tests 2")
    client.read_until("HELLO ")
    client.send_line(f"/nick {nick}")
    client.read_until("CURRENT ")
    for room in rooms:
        client.send_line(f"/join {room}")
        client.read_until(f"CURRENT {room}")
    return client


def say(client: LineClient, room: str, *texts: str) -> None:
    """Say each of `texts` in `room` and wait until the server has sent it back."""
    for text in texts:
        client.send_line(f"/in {room} {text}")
        client.read_until(lambda line: line.startswith("MSG ") and line.endswith(text))


@pytest.fixture
def store() -> Iterator[str]:
    """A history store that outlives one server: the next one started with it carries on."""
    with tempfile.TemporaryDirectory(prefix="lanchat-client-store-") as folder:
        yield os.path.join(folder, "history.sqlite3")


def test_joining_a_room_opens_its_window_and_alt_keys_switch(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with running_client(server.port, "alice") as alice:
            await wait_until(lambda: "1:#lobby" in alice.status, "window 1 is the lobby")
            alice.type("/join games" + ENTER)
            await wait_until(lambda: "2:#games" in alice.status, "window 2 shown")
            assert alice.client.state.rooms == ["#lobby", "#games"]
            await alice.wait_for_pane("--> alice joined")
            alice.type(ALT + "1")
            await wait_until(lambda: "1:#lobby" in alice.status, "Alt-1 shows the lobby")
            alice.type("/window 2" + ENTER)
            await wait_until(lambda: "2:#games" in alice.status, "/window 2 shows #games")
            alice.type("/window 7" + ENTER)
            await alice.wait_for_pane("there is no window 7 (windows 1-2)")
    run(scenario)


def test_lines_in_other_windows_show_in_the_activity_list(server: ServerProcess) -> None:
    bob = v2_client(server.port, "bob", "#games")
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                alice.type("/join games" + ENTER)
                await wait_until(lambda: "2:#games" in alice.status, "#games shown")
                await in_thread(say, bob, "#lobby", "anyone here?")
                await wait_until(lambda: "[Act: 1]" in alice.status, "activity in window 1")
                assert "anyone here?" not in alice.pane  # it is in the lobby's window
                await in_thread(say, bob, "#lobby", "alice: lunch?")
                await wait_until(lambda: "[Act: 1*]" in alice.status, "a mention marked *")
                assert alice.output.bells == 1
                alice.type(ALT + "1")
                await alice.wait_for_pane("<bob> alice: lunch?")
                assert "Act:" not in alice.status  # seen: nothing new elsewhere
        run(scenario)
    finally:
        close_all([bob])


def test_typing_goes_to_the_room_of_the_window_shown(server: ServerProcess) -> None:
    bob = v2_client(server.port, "bob", "#games")
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                alice.type("/join games" + ENTER)
                await wait_until(lambda: "2:#games" in alice.status, "#games shown")
                alice.type(ALT + "1")  # the server's current room is still #games
                await wait_until(lambda: "1:#lobby" in alice.status, "the lobby shown")
                alice.type("hello lobby" + ENTER + "/me waves" + ENTER)
                await alice.wait_for_pane(" * alice waves")
                lines = await in_thread(bob.read_until, "ACTION #lobby")
                assert any(line.startswith("MSG #lobby ") and line.endswith("alice hello lobby")
                           for line in lines)
                assert not any(line.startswith(("MSG #games", "ACTION #games")) for line in lines)
        run(scenario)
    finally:
        close_all([bob])


def test_the_topic_is_at_the_top_and_people_beside_the_pane(server: ServerProcess) -> None:
    bob = v2_client(server.port, "bob", "#games")
    try:
        bob.send_line("/in #games /topic game night at 8")
        bob.read_until("TOPIC #games")

        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                alice.type("/join games" + ENTER)
                screen = await alice.wait_for_screen(
                    lambda rows: rows and rows[0].strip() == "#games: game night at 8",
                    "the topic bar")
                assert any(row.endswith("│ alice") for row in screen)
                assert any(row.endswith("│ bob") for row in screen)
                alice.type("\x1b[18~")  # F7 hides the list
                await alice.wait_for_screen(
                    lambda rows: not any("│ bob" in row for row in rows), "the list hidden")
                alice.type("/topic cards instead" + ENTER)
                await alice.wait_for_screen(
                    lambda rows: rows[0].strip() == "#games: cards instead", "the new topic")
        run(scenario)
    finally:
        close_all([bob])


def test_the_list_of_people_hides_itself_on_a_narrow_terminal(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with running_client(server.port, "alice") as alice:
            await alice.wait_for_screen(lambda rows: any(r.endswith("│ alice") for r in rows),
                                        "the list beside the pane")
            alice.resize(50)
            await alice.wait_for_screen(lambda rows: not any("│ alice" in r for r in rows),
                                        "no list in 50 columns")
    run(scenario)


def test_part_closes_the_window_and_rooms_lists_them(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with running_client(server.port, "alice") as alice:
            alice.type("/join games" + ENTER)
            await wait_until(lambda: "2:#games" in alice.status, "#games shown")
            alice.type("/rooms" + ENTER)
            await alice.wait_for_pane("rooms (2): name, people, topic")
            await alice.wait_for_pane("#games  1")
            alice.type("/part" + ENTER)
            await alice.wait_for_pane("you left #games (left)")
            assert alice.client.state.rooms == ["#lobby"] and "1:#lobby" in alice.status
    run(scenario)


def test_a_restart_rejoins_every_room_and_marks_missed_lines_once(
        server_factory: Callable[..., ServerProcess], store: str) -> None:
    first = server_factory("--flood", "off", "--store", store)

    async def scenario() -> None:
        async with running_client(first.port, "alice") as alice:
            bob = await in_thread(v2_client, first.port, "bob", "#games")
            try:
                alice.type("/join games" + ENTER)
                await wait_until(lambda: "2:#games" in alice.status, "#games shown")
                await in_thread(say, bob, "#games", "seen before")
                await in_thread(say, bob, "#lobby", "lobby before")
                await alice.wait_for_pane("<bob> seen before")
                alice.type(ALT + "1")  # shown: the lobby; the server's current room: #games
                await wait_until(lambda: "1:#lobby" in alice.status, "the lobby shown")
            finally:
                close_all([bob])
            await in_thread(first.stop)
            await wait_until(lambda: not alice.client.state.connection.is_up, "the loss")
            # Lines said while alice is away, on a server she cannot reach (another port).
            away = await in_thread(lambda: server_factory("--flood", "off", "--store", store))
            carol = await in_thread(v2_client, away.port, "carol", "#games")
            await in_thread(say, carol, "#games", "missed one", "missed two")
            close_all([carol])
            await in_thread(away.stop)
            await in_thread(lambda: server_factory("--flood", "off", "--store", store,
                                                   port=first.port))
            await wait_until(lambda: alice.client.state.connection is
                             ConnectionState.RECONNECTED, "reconnected", timeout=20)
            games = alice.client.state.window_of("#games")
            assert games is not None
            await wait_until(lambda: any("missed two" in e.text for e in games.entries),
                             "the missed lines in #games")
            texts = [entry.text for entry in games.entries]
            assert sum("<bob> seen before" in text for text in texts) == 1  # not twice
            missed = [text for text in texts if "missed" in text and "<carol>" in text]
            assert [text.split(" ! ")[1] for text in missed] == [
                "<carol> missed one", "<carol> missed two"]
            assert alice.client.state.rooms == ["#lobby", "#games"]
            assert "1:#lobby" in alice.status  # still the window the user was looking at
            assert alice.client.state.server_current == "#games"  # current again, joined last
            lobby = alice.client.state.window_of("#lobby")
            assert sum("<bob> lobby before" in e.text for e in lobby.entries) == 1
    run(scenario)


def test_page_up_at_the_top_loads_older_lines(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory("--flood", "off", "--history-on-join", "5")
    bob = v2_client(server.port, "bob")
    try:
        say(bob, "#lobby", *(f"line {number}" for number in range(1, 31)))

        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                await alice.wait_for_pane("line 30")
                assert "line 25" not in alice.pane  # only the last 5 were replayed
                replayed = [text for text in alice.scrollback if "<bob> line" in text]
                assert all(" | <bob>" in text for text in replayed)  # dated, marked
                alice.type(PAGE_UP)
                await wait_until(lambda: any("<bob> line 1" == t.split(" | ")[-1]
                                             for t in alice.scrollback), "older lines loaded")
                lines = [t.split(" | ")[-1] for t in alice.scrollback if "<bob> line" in t]
                assert lines == [f"<bob> line {number}" for number in range(1, 31)]
                for _ in range(5):
                    alice.type(PAGE_UP)
                await alice.wait_for_pane("<bob> line 1")
        run(scenario)
    finally:
        close_all([bob])


def test_the_input_history_is_kept_between_runs(server: ServerProcess, tmp_path: Path) -> None:
    history = tmp_path / "lanchat" / "input-history"

    async def scenario() -> None:
        async with running_client(server.port, "alice", history_path=history) as alice:
            await alice.wait_until_joined()
            alice.type("remember me" + ENTER)
            await alice.wait_for_pane("<alice> remember me")
        async with running_client(server.port, "alice", history_path=history) as again:
            await again.wait_until_joined()
            await again.wait_for_input_history()
            again.type(UP)
            await wait_until(lambda: again.input_text == "remember me", "last run's line")
    run(scenario)
