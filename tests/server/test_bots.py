"""Demo bots: they join over loopback, talk at their pace, answer mentions, and leave."""

from __future__ import annotations

import time

from chat_server.bots import bot_name
from chat_testing import LineClient, close_all, machine_client


def test_bot_names_are_valid_and_distinct() -> None:
    names = [bot_name(index) for index in range(40)]
    assert len(set(names)) == 40
    assert names[:2] == ["ada_bot", "alan_bot"]
    assert all(len(name) <= 16 for name in names)


def test_bots_join_talk_and_answer_a_mention(server_factory) -> None:
    server = server_factory("--flood", "off", "--bots", "3", "--bot-interval", "0.2")
    watcher = machine_client(server.port)
    for _ in range(50):  # bots connect right after the server starts: ask until all are in
        watcher.send_line("/who")
        users = watcher.read_until("USERS", timeout=10)[-1]
        if len(users.split()) == 4:
            break
        time.sleep(0.1)
    assert users.split()[1:] == ["ada_bot", "alan_bot", "grace_bot"]
    watcher.send_line("/nick teacher")
    said = watcher.read_until(lambda line: line.startswith(("MSG ", "ACTION ")) and "_bot" in line)
    assert said[-1].split()[1].endswith("_bot")  # they talk on their own
    watcher.send_line("hello grace_bot, are you there?")
    reply = watcher.read_until("MSG grace_bot teacher: ", timeout=15)[-1]
    assert reply.startswith("MSG grace_bot teacher: ")
    close_all([watcher])
    assert server.stop() == 0  # bots leave cleanly at shutdown
    assert "Traceback" not in server.stderr_text()


def test_bots_talk_in_more_than_one_room(server_factory) -> None:
    server = server_factory("--flood", "off", "--bots", "4", "--bot-interval", "0.1")
    watcher = LineClient(server.port)
    watcher.send_line("/hello tests 2", "/nick teacher", "/join #random", "/join #help")
    rooms_heard: set[str] = set()
    deadline = time.monotonic() + 30
    while len(rooms_heard) < 3 and time.monotonic() < deadline:
        line = watcher.read_line(timeout=30)
        kind, *words = line.split(" ")
        if kind in ("MSG", "ACTION") and words[3].endswith("_bot"):
            rooms_heard.add(words[0])
    assert rooms_heard == {"#lobby", "#random", "#help"}
    close_all([watcher])
    assert server.stop() == 0
