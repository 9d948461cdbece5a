"""History over real sockets (issue 11): `python -m chat_server` on 127.0.0.1, its store
a real SQLite file, checked against "History is kept" in the version 2 contract.

- Replay on join: `HISTORY ROOM N`, then exactly the room's last N events before the join
  (`--history-on-join`, default 50, 0 for none), with the ids and times they had when
  they were live, nothing else in between; for people, marked with a `| ` gutter and timed.
- `/history ROOM latest|before ID|after ID [N]`: the right events, oldest first, N 50 by
  default and at most 500; the asker must be in the room.
- The store outlives the process: history, topics and ids carry on after a restart, and
  after SIGKILL every event that anyone received is still there ("stored before seen").
  `--store none` keeps history in memory only.
- Faults: a store that cannot be opened stops the server with one line; a store whose
  writes fail (a small RLIMIT_FSIZE stands in for a full disk) is logged once, the chat
  goes on, `/stats` says so, and it works again once there is room.
- Private messages never reach the file; `--keep-days` drops old events; `/stats` reports
  the store's figures.

Every server here has flood control off: the tests send hundreds of lines at once.
"""

from __future__ import annotations

import random
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chat_server.sqlite_store import SqliteStore
from chat_server.store import RoomRecord, StoredEvent
from chat_testing import STARTUP_TIMEOUT, LineClient, ServerProcess, close_all
from protocol import (
    Error, History, Join, Message, RoomEvent, Stats, decode_event, event_line_v2,
)

ROOT = Path(__file__).resolve().parents[2]
DAY_MS = 86_400_000


# Clients


def v2_client(port: int, nick: str | None = None) -> tuple[LineClient, list[str]]:
    """A version 2 machine client; given `nick`, joined, with the lines of its join
    (WELCOME up to CURRENT)."""
    client = LineClient(port)
    client.send_line("/hello tests 2")
    client.read_until("HELLO ")
    joined: list[str] = []
    if nick is not None:
        client.send_line(f"/nick {nick}")
        joined = client.read_until("CURRENT ")
    return client, joined


def person(port: int, nick: str) -> tuple[LineClient, list[str]]:
    """A connection without /hello (nc) that joined as `nick`, with the lines of its join."""
    client = LineClient(port)
    client.read_line()  # the greeting
    client.send_line(nick)
    return client, client.read_until(lambda line: line.startswith("*** You are now talking in"))


def say(client: LineClient, *texts: str, room: str = "#lobby") -> list[str]:
    """Send `texts` (each unique) in one write; the lines read up to the sender's own last."""
    client.send_line(*texts)
    return client.read_until(lambda line: line.startswith(f"MSG {room} ")
                             and line.endswith(" " + texts[-1]), timeout=30)


def room_event(line: str) -> RoomEvent | None:
    """The room event a v2 line carries, or None for any other line."""
    event = decode_event(line, version=2)
    return event if isinstance(event, RoomEvent) else None


def room_lines(lines: list[str], room: str = "#lobby") -> list[str]:
    """The lines of `lines` that are room events of `room`."""
    return [line for line in lines if (event := room_event(line)) is not None
            and event.room == room]


def ids(lines: list[str]) -> list[int]:
    return [room_event(line).id for line in lines]  # type: ignore[union-attr]


def replay_in(lines: list[str], room: str = "#lobby") -> list[str]:
    """The events of the `HISTORY room N` block in `lines`: exactly the N lines after it,
    each checked to be a room event of `room` (nothing else may come in between)."""
    starts = [index for index, line in enumerate(lines) if line.startswith("HISTORY ")]
    assert len(starts) == 1, lines
    header = decode_event(lines[starts[0]], version=2)
    assert isinstance(header, History) and header.room == room, header
    block = lines[starts[0] + 1: starts[0] + 1 + header.count]
    assert len(block) == header.count, lines
    for line in block:
        event = room_event(line)
        assert event is not None and event.room == room, f"{line!r} inside {header}"
    return block


def history(client: LineClient, room: str, *how: str) -> list[str]:
    """`/history ROOM HOW...`: the N lines of the HISTORY reply, checked as `replay_in`."""
    client.send_line(" ".join(("/history", room, *how)))
    header = client.read_until("HISTORY ")[-1]
    count = int(header.rsplit(" ", 1)[1])
    block = [client.read_line() for _ in range(count)]
    return replay_in([header, *block], header.split()[1])


def error_code(client: LineClient, line: str) -> str:
    """Send `line`; the code of the ERROR it is answered with (any HISTORY fails)."""
    client.send_line(line)
    reply = client.read_until(lambda seen: seen.startswith(("ERROR ", "HISTORY ")))[-1]
    event = decode_event(reply, version=2)
    assert isinstance(event, Error), f"{line!r} was answered {reply!r}"
    return event.code


def stats(client: LineClient) -> dict[str, str]:
    """Fresh `/stats` figures (the server shares one count for 0.2 s, so wait that out)."""
    time.sleep(0.25)
    client.send_line("/stats")
    event = decode_event(client.read_until("STATS ")[-1], version=2)
    assert isinstance(event, Stats)
    return event.as_dict()


def stats_until(client: LineClient, done: Callable[[dict[str, str]], bool],
                timeout: float = 10.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    figures = stats(client)
    while not done(figures) and time.monotonic() < deadline:
        figures = stats(client)
    return figures


def shut_down(server: ServerProcess, *clients: LineClient) -> str:
    """SIGTERM `server` while `clients` are connected: each gets BYE and hangs up (so the
    rooms hear of nobody leaving); `stopped`."""
    server.signal(signal.SIGTERM)
    for client in clients:
        client.read_until("BYE ")
        client.close()
    return stopped(server)


def stopped(server: ServerProcess) -> str:
    """Stop `server` (SIGTERM); check it exited 0; its standard error."""
    assert server.stop() == 0, server.stderr_text()
    return server.stderr_text()


# Replay on join


def test_a_joiner_is_replayed_the_last_50_events_with_their_ids_and_times(server_factory) -> None:
    server = server_factory("--flood", "off")
    alice, alice_join = v2_client(server.port, "alice")
    assert replay_in(alice_join) == []  # `HISTORY #lobby 0`: a new room has no past
    seen = room_lines(alice_join) + room_lines(say(alice, *[f"line-{n}" for n in range(70)]))
    assert ids(seen) == list(range(1, 72))  # her JOIN, then 70 lines

    bob, bob_join = v2_client(server.port, "bob")
    replayed = replay_in(bob_join)
    assert replayed == seen[-50:]  # byte for byte: the original ids and times
    # In the contract's order: WELCOME, the history, USERS, his own JOIN, CURRENT.
    after = bob_join[bob_join.index(replayed[-1]) + 1:]
    assert bob_join[0] == "WELCOME bob" and bob_join[1] == "HISTORY #lobby 50"
    assert after[0] == "USERS #lobby alice bob"
    assert room_event(after[1]) == RoomEvent("#lobby", 72, room_event(after[1]).time, Join("bob"))
    assert after[2:] == ["CURRENT #lobby"]
    close_all([alice, bob])


@pytest.mark.parametrize("on_join", [0, 1, 7, 500])
def test_history_on_join_sets_how_many_events_a_joiner_is_replayed(server_factory,
                                                                  on_join: int) -> None:
    server = server_factory("--flood", "off", "--history-on-join", str(on_join))
    alice, alice_join = v2_client(server.port, "alice")
    seen = room_lines(alice_join) + room_lines(say(alice, *[f"n{n}" for n in range(20)]))
    bob, bob_join = v2_client(server.port, "bob")
    assert bob_join[1] == f"HISTORY #lobby {min(on_join, len(seen))}"
    assert replay_in(bob_join) == (seen[-on_join:] if on_join else [])
    # The same for a room joined later: /join replays that room.
    alice.send_line("/join #games")
    games = room_lines(alice.read_until("CURRENT #games"), "#games")
    games += room_lines(say(alice, "g1", "g2", room="#games"), "#games")
    bob.send_line("/join games")
    bob_games = bob.read_until("CURRENT #games")
    assert replay_in(bob_games, "#games") == (games[-on_join:] if on_join else [])
    close_all([alice, bob])


def test_a_version_1_program_is_never_replayed_history(server_factory) -> None:
    server = server_factory("--flood", "off")
    alice, _ = v2_client(server.port, "alice")
    say(alice, "before you came")
    old = LineClient(server.port)
    old.send_line("/hello tests 1", "/nick old")
    assert old.read_until("JOIN old")[-3:] == ["WELCOME old", "USERS alice old", "JOIN old"]
    assert error_code(old, "/history #lobby latest") == "UNKNOWN_COMMAND"
    close_all([alice, old])


def test_a_join_during_a_flood_is_replayed_exactly_what_came_before_it(server_factory) -> None:
    # Whatever moment the join lands in, the replay and what comes live after it are one
    # unbroken run of ids: nothing missed, nothing twice.
    server = server_factory("--flood", "off", "--history-on-join", "30")
    alice, _ = v2_client(server.port, "alice")
    count = 3000
    alice.send_line(*[f"flood-{n}" for n in range(count)])
    alice.read_until(lambda line: line.endswith(" flood-40"))
    bob, lines = v2_client(server.port, "bob")
    last = f" flood-{count - 1}"
    if not any(line.endswith(last) for line in lines):
        lines += bob.read_until(lambda line: line.endswith(last), 30)
    replayed = replay_in(lines)
    everything = room_lines(lines)
    assert len(replayed) == 30 and everything[:30] == replayed
    first = ids(everything)[0]
    assert ids(everything) == list(range(first, first + len(everything)))
    assert room_event(everything[30]).event == Join("bob")  # type: ignore[union-attr]
    close_all([alice, bob])


def test_people_see_replayed_lines_marked_and_timed(server_factory) -> None:
    server = server_factory("--flood", "off")
    alice, joined = v2_client(server.port, "alice")
    seen = room_lines(joined) + room_lines(say(alice, "good morning"))
    alice.send_line("/me waves", "/topic plans for today")
    seen += room_lines(alice.read_until("TOPIC "))
    carol, carol_join = person(server.port, "carol")
    header = carol_join.index("*** History of #lobby: 4 earlier lines")
    # Marked by the gutter, with the date and time each event had (the server's local time).
    stamps = [time.strftime("%d %b %H:%M", time.localtime(room_event(line).time / 1000))
              for line in seen]
    assert carol_join[header + 1:header + 5] == [
        f"| {stamps[0]} *** alice joined",
        f"| {stamps[1]} <alice> good morning",
        f"| {stamps[2]} * alice waves",
        f"| {stamps[3]} *** alice set the topic: plans for today",
    ]
    # Live lines have no gutter.
    assert carol_join[header + 5:] == ["*** In #lobby (2): alice, carol", "*** carol joined",
                                      "*** You are now talking in #lobby"]
    # /history is shown the same way.
    carol_joined = alice.read_until(lambda line: line.startswith("JOIN #lobby "))[-1]
    stamps.append(time.strftime("%d %b %H:%M",
                                time.localtime(room_event(carol_joined).time / 1000)))
    carol.send_line("/history lobby latest 2")
    assert carol.read_until(lambda line: line.endswith("carol joined"))[-3:] == [
        "*** History of #lobby: 2 earlier lines",
        f"| {stamps[3]} *** alice set the topic: plans for today",
        f"| {stamps[4]} *** carol joined",
    ]
    close_all([alice, carol])


# /history


@pytest.fixture
def chatty_room(server_factory) -> Iterator[tuple[ServerProcess, LineClient, list[str]]]:
    """A server whose #lobby holds 700 events (alice's JOIN, then 699 lines): alice,
    and every line she saw."""
    server = server_factory("--flood", "off")
    alice, joined = v2_client(server.port, "alice")
    seen = room_lines(joined) + room_lines(say(alice, *[f"said-{n}" for n in range(699)]))
    assert ids(seen) == list(range(1, 701))
    yield server, alice, seen
    alice.close()


def test_history_latest_gives_the_newest_events_oldest_first(chatty_room) -> None:
    _, alice, seen = chatty_room
    assert history(alice, "#lobby", "latest") == seen[-50:]  # N defaults to 50
    assert history(alice, "#lobby", "latest", "1") == seen[-1:]
    assert history(alice, "#lobby", "latest", "0") == []
    assert history(alice, "#lobby", "latest", "500") == seen[-500:]
    assert history(alice, "lobby", "latest", "3") == seen[-3:]  # the # may be left out
    assert history(alice, "#LOBBY", "latest", "3") == seen[-3:]  # and case does not matter


def test_history_before_and_after_an_id(chatty_room) -> None:
    _, alice, seen = chatty_room
    by_id = {room_event(line).id: line for line in seen}  # type: ignore[union-attr]

    def events(*numbers: int) -> list[str]:
        return [by_id[number] for number in numbers]

    assert history(alice, "#lobby", "before", "300", "5") == events(*range(295, 300))
    assert history(alice, "#lobby", "before", "300") == events(*range(250, 300))
    assert history(alice, "#lobby", "before", "3", "10") == events(1, 2)
    assert history(alice, "#lobby", "before", "1") == []
    assert history(alice, "#lobby", "before", "9999", "2") == events(699, 700)
    assert history(alice, "#lobby", "after", "300", "5") == events(*range(301, 306))
    assert history(alice, "#lobby", "after", "300") == events(*range(301, 351))
    assert history(alice, "#lobby", "after", "0", "500") == events(*range(1, 501))
    assert history(alice, "#lobby", "after", "697", "10") == events(698, 699, 700)
    assert history(alice, "#lobby", "after", "700") == []
    # Paging back with `before` from `latest` walks the whole room, once, in order.
    pages, page = [], history(alice, "#lobby", "latest", "500")
    while page:
        pages[:0] = page
        page = history(alice, "#lobby", "before", str(room_event(page[0]).id), "500")
    assert pages == seen


@pytest.mark.parametrize("line", [
    "/history #lobby latest 501", "/history #lobby before 10 501",
    "/history #lobby after 10 100000", "/history #lobby", "/history #lobby sideways",
    "/history #lobby before", "/history #lobby before ten", "/history #lobby latest -1",
    "/history #lobby latest 5 6",
])
def test_history_refuses_bad_arguments(chatty_room, line: str) -> None:
    _, alice, _ = chatty_room
    assert error_code(alice, line) == "BAD_ARGS"
    assert history(alice, "#lobby", "latest", "1")  # and the connection goes on


def test_history_of_a_room_you_are_not_in_or_a_bad_room_is_refused(server_factory) -> None:
    server = server_factory("--flood", "off")
    alice, _ = v2_client(server.port, "alice")
    bob, _ = v2_client(server.port, "bob")
    alice.send_line("/join #secret")
    alice.read_until("CURRENT #secret")
    say(alice, "only for #secret", room="#secret")
    assert error_code(bob, "/history #secret latest") == "NOT_IN_ROOM"
    assert error_code(bob, "/history #nowhere latest") == "NOT_IN_ROOM"
    assert error_code(bob, "/history #bad!room latest") == "BAD_ROOM"
    assert error_code(bob, "/history #" + "x" * 33 + " latest") == "BAD_ROOM"
    # Having been in the room is not enough: you must be in it now.
    bob.send_line("/join #secret")
    bob.read_until("CURRENT #secret")
    assert [room_event(line).event for line in history(bob, "#secret", "latest", "2")] == [
        Message("alice", "only for #secret"), Join("bob")]
    bob.send_line("/part #secret")
    bob.read_until(lambda line: line.startswith("PART #secret "))
    assert error_code(bob, "/history #secret latest") == "NOT_IN_ROOM"
    # Nobody joined: the server asks for a nickname first.
    stranger, _ = v2_client(server.port)
    assert error_code(stranger, "/history #lobby latest") == "NOT_JOINED"
    close_all([alice, bob, stranger])


def test_nothing_comes_between_a_history_reply_and_its_events(server_factory) -> None:
    # While the room floods and private messages pour in, each HISTORY is still followed
    # by exactly its events, and each reply is a run of consecutive ids.
    server = server_factory("--flood", "off")
    bob, _ = v2_client(server.port, "bob")
    alice, _ = v2_client(server.port, "alice")
    carol, _ = v2_client(server.port, "carol")
    alice.send_line(*[f"room-{n}" for n in range(400)])
    carol.send_line(*[f"/msg bob private-{n}" for n in range(200)])
    bob.send_line(*["/history #lobby latest 40"] * 30)
    live: list[int] = []  # the ids of the room events bob heard live, so far
    replies = 0
    while replies < 30:
        line = bob.read_line()
        if room_event(line) is not None:
            live.append(room_event(line).id)  # type: ignore[union-attr]
        elif line.startswith("HISTORY "):
            replies += 1
            header = decode_event(line, version=2)
            block = [bob.read_line() for _ in range(header.count)]  # type: ignore[union-attr]
            assert replay_in([line, *block]) == block
            numbers = ids(block)
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
            # A reply holds what came before the command, and bob heard all of that first.
            assert numbers[-1] == live[-1], (numbers, live[-5:])
    close_all([alice, bob, carol])


def test_a_history_reply_comes_after_the_live_events_before_the_command(server_factory) -> None:
    # Said and asked in one write: bob hears his line live first, then the reply holding it.
    server = server_factory("--flood", "off")
    bob, _ = v2_client(server.port, "bob")
    bob.send_line("said first", "/history #lobby latest 2", "/ping done")
    lines = bob.read_until("PONG ")
    said = [line for line in lines if line.startswith("MSG ")]
    assert len(said) == 2, lines  # once live, once in the reply
    assert lines.index(said[0]) < lines.index("HISTORY #lobby 2"), lines
    assert history(bob, "#lobby", "latest", "1") == said[:1]
    bob.close()


# The store outlives the process


def test_history_topics_and_ids_carry_on_after_a_restart(server_factory, tmp_path: Path) -> None:
    store = str(tmp_path / "history.sqlite3")
    first = server_factory("--flood", "off", "--store", store)
    alice, joined = v2_client(first.port, "alice")
    seen = room_lines(joined) + room_lines(say(alice, "before the restart", "second line"))
    alice.send_line("/topic kept across restarts")
    seen += room_lines(alice.read_until("TOPIC "))
    alice.send_line("/join #games")
    games = room_lines(alice.read_until("CURRENT #games"), "#games")
    games += room_lines(say(alice, "a game line", room="#games"), "#games")
    shut_down(first, alice)

    second = server_factory("--flood", "off", "--store", store)
    bob, bob_join = v2_client(second.port, "bob")
    assert replay_in(bob_join) == seen  # everything said before, as it was
    bob_joined = room_event(room_lines(bob_join)[-1])
    assert bob_joined.event == Join("bob")  # type: ignore[union-attr]
    assert bob_joined.id > max(ids(seen))  # type: ignore[union-attr]  # never reused
    bob.send_line("/topic")
    assert bob.read_until("TOPIC ")[-1] == seen[-1]  # the topic, as it was set
    bob.send_line("/rooms")
    assert bob.read_until("ROOM ")[-1] == "ROOM #lobby 1 kept across restarts"
    assert history(bob, "#lobby", "latest", "500") == seen + [room_lines(bob_join)[-1]]
    bob.send_line("/join #games")
    games_join = bob.read_until("CURRENT #games")
    assert replay_in(games_join, "#games") == games
    assert ids(room_lines(games_join, "#games"))[-1] > max(ids(games))
    later = room_lines(say(bob, "after the restart", room="#games"), "#games")
    assert ids(later) == [ids(room_lines(games_join, "#games"))[-1] + 1]
    bob.close()


_SIGTERM_DURING_CLOSE = """
import signal
from chat_server.history import History
from chat_server.memory_store import MemoryStore
from chat_server.server import ChatServer, ServerConfig

class SlowToClose(History):
    def close(self):  # a supervisor's second SIGTERM lands during the last checkpoint
        signal.raise_signal(signal.SIGTERM)
        super().close()

config = ServerConfig(host="127.0.0.1", port=0, announce=None, irc_port=None,
                      web_port=None)
server = ChatServer(config, None, SlowToClose(MemoryStore(), "memory"))
server.serve(ready=server.begin_shutdown)
print("closed, alive")
"""


def test_a_sigterm_while_the_store_closes_does_not_kill_the_server() -> None:
    # The store's last checkpoint can take a moment; a SIGTERM meanwhile (a supervisor
    # that asks again, as the tests' own `stop` does) must not kill the server halfway.
    done = subprocess.run([sys.executable, "-c", _SIGTERM_DURING_CLOSE], capture_output=True,
                          text=True, timeout=STARTUP_TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "closed, alive\n"


def test_after_sigkill_every_event_anyone_received_is_in_history(server_factory,
                                                                 tmp_path: Path) -> None:
    store = str(tmp_path / "history.sqlite3")
    first = server_factory("--flood", "off", "--store", store)
    sender, _ = v2_client(first.port, "sender")
    receivers = [v2_client(first.port, f"r{n}")[0] for n in range(3)]
    count, kill_at = 450, 150
    sender.send_line(*[f"m{n}" for n in range(count)])
    received = receivers[0].read_until(lambda line: line.endswith(f" m{kill_at}"), 30)
    first.signal(signal.SIGKILL)  # no shutdown, no checkpoint, no close
    assert first.process.wait(10) == -signal.SIGKILL
    for client in (sender, *receivers):
        received += client.read_all_until_closed()
    got = set(room_lines(received))
    assert any(line.endswith(f" m{kill_at}") for line in got)

    second = server_factory("--flood", "off", "--store", store)
    witness, _ = v2_client(second.port, "witness")
    kept = history(witness, "#lobby", "latest", "500")
    assert len(kept) < 500  # so `kept` is the whole room: the test is not cut short
    assert got <= set(kept), sorted(got - set(kept))
    assert ids(kept) == list(range(1, len(kept) + 1))  # and nothing is missing in between
    close_all([sender, *receivers, witness])


def test_store_none_keeps_history_in_memory_until_the_server_stops(server_factory) -> None:
    server = server_factory("--flood", "off", "--store", "none")
    alice, joined = v2_client(server.port, "alice")
    seen = room_lines(joined) + room_lines(say(alice, "in memory", "only"))
    assert history(alice, "#lobby", "latest") == seen
    bob, bob_join = v2_client(server.port, "bob")
    assert replay_in(bob_join) == seen
    figures = stats(bob)
    assert figures["store_ok"] == "yes" and figures["events_stored"] == "4"
    close_all([alice, bob])
    assert "memory only" in stopped(server)

    again = server_factory("--flood", "off", "--store", "none")
    carol, carol_join = v2_client(again.port, "carol")
    assert replay_in(carol_join) == []
    assert [room_event(line).event for line in history(carol, "#lobby", "latest")] == [
        Join("carol")]
    carol.close()


# Store faults


def _run_server(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chat_server", "--host", "127.0.0.1", "--port", "0", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=STARTUP_TIMEOUT,
    )


def _assert_refused_in_one_line(done: subprocess.CompletedProcess[str], path: Path) -> None:
    assert done.returncode == 1, done
    assert "listening on" not in done.stdout
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("chat-server:") and str(path) in lines[0], lines[0]


def test_a_corrupt_store_file_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(random.Random(11).randbytes(64 * 1024))
    _assert_refused_in_one_line(_run_server("--store", str(path)), path)
    assert path.read_bytes() == random.Random(11).randbytes(64 * 1024)  # left as it was


def test_a_damaged_store_file_is_refused_in_one_line(server_factory, tmp_path: Path) -> None:
    # A real store whose pages after the first were overwritten: it opens as SQLite,
    # but its tables cannot be read.
    path = tmp_path / "history.sqlite3"
    server = server_factory("--flood", "off", "--store", str(path))
    alice, _ = v2_client(server.port, "alice")
    say(alice, *[f"x{n} " + "y" * 200 for n in range(100)])
    alice.close()
    stopped(server)
    with open(path, "r+b") as damaged:
        damaged.seek(4096)
        damaged.write(random.Random(12).randbytes(path.stat().st_size - 4096))
    _assert_refused_in_one_line(_run_server("--store", str(path)), path)


def test_a_directory_as_the_store_is_refused_in_one_line(tmp_path: Path) -> None:
    _assert_refused_in_one_line(_run_server("--store", str(tmp_path)), tmp_path)


def test_a_store_that_fails_while_serving_is_logged_once_and_chat_goes_on(
        server_factory, tmp_path: Path) -> None:
    # RLIMIT_FSIZE: the kernel refuses to grow any of the server's files past 128 KiB,
    # the real write() failing as on a full disk (the server ignores SIGXFSZ). Batches
    # go to the log (-wal) first; the store's checkpointer copies them into the database
    # file about once a second, and the log starts again from its beginning, so while
    # the file has room a full log is only a passing failure. The one to wait for lasts:
    # the file itself full, and batch after batch failing for longer than a checkpoint.
    limit = 128 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    store = tmp_path / "history.sqlite3"
    server = server_factory("--flood", "off", "--quiet", "--store", str(store),
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE,
                                                                  (limit, hard)))
    alice, _ = v2_client(server.port, "alice")
    bob, _ = v2_client(server.port, "bob")
    assert stats(bob)["store_ok"] == "yes"
    figures: dict[str, str] = {}
    file_full, failing_since = False, 0.0
    for batch in range(300):  # each line is ~300 bytes, so ~3 MB at most
        texts = [f"b{batch}-{n} " + "z" * 300 for n in range(10)]
        assert say(alice, *texts)
        assert bob.read_until(lambda line: line.endswith(texts[-1]))  # delivered all along
        figures = stats(bob)
        file_full = store.stat().st_size + 4096 > limit  # not a page more fits
        if figures["store_ok"] == "yes":
            failing_since = 0.0
        elif not failing_since:
            failing_since = time.monotonic()
        elif file_full and time.monotonic() - failing_since > 2.5:
            break
    assert file_full and figures["store_ok"] == "no", figures
    assert int(figures["store_failures"]) > 0, figures
    failures = int(figures["store_failures"])
    # Failing, the chat goes on: everyone still hears everything, and the store is tried
    # again with each batch.
    for n in range(5):
        say(alice, f"still talking {n}")
        assert bob.read_until(lambda line: line.endswith(f" still talking {n}"))[-1]
    figures = stats(bob)
    assert figures["store_ok"] == "no" and int(figures["store_failures"]) > failures

    resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (hard, hard))  # room again
    recovered = room_lines(say(alice, "the store works again"))
    assert stats_until(bob, lambda seen: seen["store_ok"] == "yes")["store_ok"] == "yes"
    assert history(bob, "#lobby", "latest", "1") == recovered
    later = room_lines(say(alice, "and keeps working"))
    assert history(bob, "#lobby", "latest", "2") == recovered + later
    deadline = time.monotonic() + 10  # and the log is copied into the file again
    while store.stat().st_size <= limit and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.stat().st_size > limit
    failures = int(stats(bob)["store_failures"])
    close_all([alice, bob])

    log = stopped(server).splitlines()
    said = [line for line in log if (" ERROR " in line and "history store failed" in line)
            or (" WARNING " in line and "works again" in line)]
    failed, recovered = said[0::2], said[1::2]
    # Logged when it fails and when it works again, never per batch. Until the file itself
    # was full, the log may have filled up and been emptied: each time, one line of each.
    assert len(failed) == len(recovered) >= 1, log
    assert all(" ERROR " in line and str(store) in line for line in failed), log
    assert all("works again" in line for line in recovered), log
    assert len(failed) <= failures - 5, log  # the last failure, six batches at least: one line
    # The checkpointer's failures too: once, however many times it tried.
    checkpoints = [line for line in log if " WARNING " in line and "could not checkpoint" in line]
    assert len(checkpoints) == 1 and str(store) in checkpoints[0], log
    assert len([line for line in log if "checkpoints its log again" in line]) == 1, log
    assert "Traceback" not in "\n".join(log)


# What is stored


def test_private_messages_are_never_stored(server_factory, tmp_path: Path) -> None:
    store = tmp_path / "history.sqlite3"
    server = server_factory("--flood", "off", "--store", str(store))
    alice, _ = v2_client(server.port, "alice")
    bob, _ = v2_client(server.port, "bob")
    alice.send_line("/msg bob whisper-to-bob", "/msg alice note-to-self",
                    "/in #lobby /msg bob whisper-in-room")
    alice.read_until(lambda line: line.endswith("whisper-in-room"))
    bob.read_until(lambda line: line.endswith("whisper-in-room"))
    said = room_lines(say(alice, "said aloud"))
    kept = history(bob, "#lobby", "latest", "500")
    assert kept[-1] == said[-1]
    assert not [line for line in kept if "whisper" in line or "note-to-self" in line]
    close_all([alice, bob])
    stopped(server)

    with sqlite3.connect(store) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master "
                                                 "WHERE type = 'table'")]
        stored = [str(value) for table in tables
                  for row in db.execute(f"SELECT * FROM {table}") for value in row]
    db.close()
    assert any("said aloud" in value for value in stored)  # the right file was read
    assert not [value for value in stored if value.startswith("PRIVMSG")
                or "whisper" in value or "note-to-self" in value], stored
    # Nor in the raw bytes of the file and its journal (no free page keeps a copy).
    for path in store.parent.iterdir():
        raw = path.read_bytes()
        assert b"whisper" not in raw and b"note-to-self" not in raw, path


def _old_events(store: Path, room: str, first_id: int, times_ms: list[int]) -> list[str]:
    """Write events into a stopped server's store, as the server would have (times in the
    past); their lines."""
    lines = [event_line_v2(RoomEvent(room, first_id + n, time_ms, Message("ghost", f"old-{n}")))
             for n, time_ms in enumerate(times_ms)]
    kept = SqliteStore(store)
    kept.append([StoredEvent(room, room_event(line).id, room_event(line).time, line)
                 for line in lines],
                [kept.rooms().get(room) or RoomRecord(room, room, 0)])
    kept.close()
    return lines


def test_keep_days_drops_older_events_and_keeps_newer_ones(server_factory,
                                                           tmp_path: Path) -> None:
    store = tmp_path / "history.sqlite3"
    stopped(server_factory("--store", str(store)))  # makes an empty store
    now = int(time.time() * 1000)
    ancient = _old_events(store, "#lobby", 1, [now - 30 * DAY_MS, now - 3 * DAY_MS,
                                               now - 2 * DAY_MS])
    recent = _old_events(store, "#lobby", 4, [now - DAY_MS // 2, now - 60_000])
    forgotten = _old_events(store, "#attic", 1, [now - 9 * DAY_MS, now - 8 * DAY_MS])

    # Without --keep-days, everything is kept.
    server = server_factory("--flood", "off", "--store", str(store))
    alice, joined = v2_client(server.port, "alice")
    assert replay_in(joined) == ancient + recent
    alice.send_line("/join #attic")
    attic = alice.read_until("CURRENT #attic")
    assert replay_in(attic, "#attic") == forgotten
    alice_in_attic = room_lines(attic, "#attic")[-1:]
    shut_down(server, alice)

    server = server_factory("--flood", "off", "--store", str(store), "--keep-days", "1")
    bob, joined = v2_client(server.port, "bob")
    kept = replay_in(joined)
    assert kept[:2] == recent  # newer than a day: kept; older: gone
    assert not set(ancient) & set(kept)
    assert history(bob, "#lobby", "latest", "500") == kept + room_lines(joined)[-1:]
    assert history(bob, "#lobby", "before", "4", "500") == []
    bob.send_line("/join #attic")
    attic = bob.read_until("CURRENT #attic")
    assert replay_in(attic, "#attic") == alice_in_attic  # the old lines went
    assert ids(room_lines(attic, "#attic"))[-1] == 4  # and its ids still go on
    bob.close()


# /stats


def test_stats_report_the_store(server_factory) -> None:
    server = server_factory("--flood", "off")
    alice, _ = v2_client(server.port, "alice")
    figures = stats(alice)
    assert figures["events_stored"] == "1"  # alice's JOIN
    assert figures["store_failures"] == "0" and figures["store_ok"] == "yes"
    assert float(figures["store_commit_ms"]) > 0
    bob, _ = v2_client(server.port, "bob")
    say(alice, *[f"counted-{n}" for n in range(20)])
    bob.read_until(lambda line: line.endswith(" counted-19"))
    bob.send_line("/part")
    bob.read_until("PART #lobby ")
    figures = stats(alice)
    assert figures["events_stored"] == str(1 + 1 + 20 + 1)  # two JOINs, 20 lines, a PART
    assert figures["store_failures"] == "0" and figures["store_ok"] == "yes"
    # People read them in the table.
    carol, _ = person(server.port, "carol")
    carol.send_line("/stats")
    table = carol.read_until(lambda line: "store ok" in line)
    assert any(line.split()[1:] == ["store", "failures", "0"] for line in table)
    assert any(line.split()[1:] == ["store", "ok", "yes"] for line in table)
    close_all([alice, bob, carol])
