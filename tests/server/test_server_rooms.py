"""Protocol version 2, rooms: every row of PROTOCOL.md's "Rooms", "Room events in v2" and
"Joining a room", proven over real sockets on 127.0.0.1 against `python -m chat_server`.

Three kinds of client meet here: machine clients that say `/hello tests 2`, people (no
`/hello`, as nc), and version 1 programs (`/hello tests 1`), which must see exactly what
they always saw. `sync()` (a `/ping` and its `PONG`) is how a test knows the server has
handled everything a client sent before it, and what that client received meanwhile.
"""

from __future__ import annotations

import itertools
import random
import re
import threading
import time

import pytest

from chat_testing import LINE_TIMEOUT, LineClient, close_all
from protocol import (
    Action, Join, Message, NickChange, Part, RoomEvent, Topic, decode_event,
)

_tokens = itertools.count(1)
NOW_SLACK_MS = 5_000  # a room event's time must be this close to the test's own clock


class RoomClient(LineClient):
    """A line client that can wait until the server has handled everything it sent."""

    def sync(self, timeout: float = LINE_TIMEOUT) -> list[str]:
        """Every line received before the answer to a fresh `/ping` (which is dropped)."""
        token = f"sync{next(_tokens)}"
        self.send_line(f"/ping {token}")
        lines = self.read_until(lambda line: line.endswith(f"PONG {token}"), timeout)
        return lines[:-1]

    def ask(self, *lines: str) -> list[str]:
        """Send `lines`, then everything received until the server has handled them."""
        self.send_line(*lines)
        return self.sync()


def v2_client(port: int, nick: str | None = None) -> tuple[RoomClient, list[str]]:
    """A machine client of protocol version 2 (and, given `nick`, joined as NICK): the
    client, and the lines of its join from WELCOME through CURRENT."""
    client = RoomClient(port)
    client.send_line("/hello tests 2")
    assert client.read_until("HELLO ")[-1].endswith(" 2")
    joined: list[str] = []
    if nick is not None:
        client.send_line(f"/nick {nick}")
        joined = client.read_until("CURRENT ")
    return client, joined


def v2(port: int, nick: str) -> RoomClient:
    """A version 2 machine client joined as `nick` (its join lines read and dropped)."""
    return v2_client(port, nick)[0]


def v1(port: int, nick: str) -> RoomClient:
    """A version 1 program joined as `nick`, read up to its own JOIN."""
    client = RoomClient(port)
    client.send_line("/hello tests 1")
    assert client.read_until("HELLO ")[-1].endswith(" 1")
    client.send_line(f"/nick {nick}")
    client.read_until(f"JOIN {nick}")
    return client


def person(port: int, nick: str) -> RoomClient:
    """A person (no /hello, as nc) joined as `nick`, with what the join showed drained."""
    client = RoomClient(port)
    client.send_line(nick)
    client.read_until("*** You are now talking in ")
    client.sync()
    return client


def settle(*clients: RoomClient) -> None:
    """Drop what each client has received so far (once the server handled all it sent)."""
    for client in clients:
        client.sync()


def join(client: RoomClient, room: str) -> list[str]:
    """`/join ROOM` on a version 2 client: the lines through CURRENT."""
    client.send_line(f"/join {room}")
    return client.read_until("CURRENT ")


def event(line: str) -> RoomEvent:
    """A version 2 room event line, decoded (fails the test if it is anything else)."""
    decoded = decode_event(line, version=2)
    assert isinstance(decoded, RoomEvent), line
    return decoded


def room_events(lines: list[str]) -> list[RoomEvent]:
    """The room events among `lines` (version 2)."""
    return [decoded for line in lines
            if isinstance(decoded := decode_event(line, version=2), RoomEvent)]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def assert_recent(time_ms: int) -> None:
    """A room event's time is milliseconds since the epoch, near now."""
    assert abs(time_ms - now_ms()) < NOW_SLACK_MS, time_ms


def error_code(line: str) -> str:
    assert line.startswith("ERROR "), line
    return line.split()[1]


# Joining the server and joining a room


def test_v2_join_sequence_for_the_server(server) -> None:
    alice, lines = v2_client(server.port, "alice")
    alice_joined_line = lines[3]
    assert lines[0] == "WELCOME alice"
    assert lines[1] == "HISTORY #lobby 0"
    assert lines[2] == "USERS #lobby alice"
    joined = event(lines[3])
    assert (joined.room, joined.event) == ("#lobby", Join("alice"))
    assert_recent(joined.time)
    assert lines[4] == "CURRENT #lobby"
    assert len(lines) == 5
    said = alice.ask("one", "/me two")
    assert [event(line).event for line in said] == [Message("alice", "one"),
                                                   Action("alice", "two")]

    bob, lines = v2_client(server.port, "bob")
    history = lines[1:5]
    assert lines[0] == "WELCOME bob"
    assert history[0] == "HISTORY #lobby 3"
    # The replay: the lines alice saw, unchanged: original ids and times.
    assert history[1:] == [alice_joined_line, *said]
    assert lines[5] == "USERS #lobby alice bob"
    bob_joined = event(lines[6])
    assert (bob_joined.room, bob_joined.event) == ("#lobby", Join("bob"))
    assert lines[7:] == ["CURRENT #lobby"]
    ids = [event(line).id for line in history[1:]] + [bob_joined.id]
    assert ids == sorted(set(ids)), "ids increase within a room"
    assert alice.sync() == [lines[6]], "alice sees bob's JOIN, the same line"
    close_all([alice, bob])


def test_v2_join_sequence_for_another_room(server) -> None:
    alice, bob = v2(server.port, "alice"), v2(server.port, "bob")
    alice.sync()
    lines = join(bob, "#games")
    assert lines[0] == "HISTORY #games 0"
    assert lines[1] == "USERS #games bob"
    bob_joined = event(lines[2])
    assert (bob_joined.room, bob_joined.id, bob_joined.event) == ("#games", 1, Join("bob"))
    assert_recent(bob_joined.time)
    assert lines[3:] == ["CURRENT #games"]
    said = bob.ask("anyone here?")
    assert alice.sync() == [], "nothing of #games reaches someone who is not in it"

    lines = join(alice, "games")  # the # may be left out
    assert lines[0] == "HISTORY #games 2"
    assert lines[1:3] == [lines[1], said[0]] and event(lines[1]) == bob_joined
    assert lines[3] == "USERS #games bob alice"
    alice_joined = event(lines[4])
    assert (alice_joined.room, alice_joined.id, alice_joined.event) == (
        "#games", 3, Join("alice"))
    assert lines[5:] == ["CURRENT #games"]
    assert bob.sync() == [lines[4]]
    close_all([alice, bob])


def test_history_on_join_replays_the_last_n_events(server_factory) -> None:
    server = server_factory("--flood", "off", "--history-on-join", "3")
    alice = v2(server.port, "alice")
    said = alice.ask(*(f"line {n}" for n in range(5)))
    _, lines = v2_client(server.port, "bob")
    assert lines[1] == "HISTORY #lobby 3"
    assert lines[2:5] == said[-3:]
    assert lines[5] == "USERS #lobby alice bob"

    quiet = server_factory("--flood", "off", "--history-on-join", "0")
    carol = v2(quiet.port, "carol")
    carol.ask("something to replay")
    _, lines = v2_client(quiet.port, "dave")
    assert lines[1:3] == ["HISTORY #lobby 0", "USERS #lobby carol dave"]


@pytest.mark.parametrize(("given", "room"), [("games", "#games"), ("#Dev", "#Dev")])
def test_room_option_changes_the_default_room(server_factory, given: str, room: str) -> None:
    server = server_factory("--flood", "off", "--room", given)
    alice, lines = v2_client(server.port, "alice")
    assert lines[1:3] == [f"HISTORY {room} 0", f"USERS {room} alice"]
    assert lines[-1] == f"CURRENT {room}"
    old = v1(server.port, "old")  # a version 1 program lives in the default room
    assert [event(line).room for line in alice.sync()] == [room]
    old.send_line("hello")
    assert event(alice.read_line()).event == Message("old", "hello")
    assert alice.ask("/rooms") == ["ROOMS 1", f"ROOM {room} 2 "]
    close_all([alice, old])


# /join, /part, /rooms, /topic, /who, /in


def test_join_a_room_already_joined_only_makes_it_current(server) -> None:
    alice, watcher = v2(server.port, "alice"), v2(server.port, "watcher")
    join(alice, "#games")
    watcher.sync()
    assert alice.ask("/join #lobby") == ["CURRENT #lobby"]
    assert alice.ask("/join LOBBY") == ["CURRENT #lobby"]
    assert watcher.sync() == [], "no JOIN, no PART: alice never left"
    said = alice.ask("back in the lobby")
    assert event(said[0]).room == "#lobby"
    assert watcher.sync() == said
    close_all([alice, watcher])


def test_part_leaves_and_makes_the_most_recently_joined_room_current(server) -> None:
    alice, bob = v2(server.port, "alice"), v2(server.port, "bob")
    for room in ("#games", "#dev"):
        join(bob, room)
        join(alice, room)
    bob.sync()

    lines = alice.ask("/part")  # the current room, #dev; the reason `left`
    parted = event(lines[0])
    assert (parted.room, parted.event) == ("#dev", Part("alice", "left"))
    assert lines[1:] == ["CURRENT #games"], "the most recently joined remaining room"
    assert bob.sync() == [lines[0]], "everyone in the room sees the same PART"

    join(alice, "#dev")  # joined: lobby, games, dev
    assert alice.ask("/join #lobby") == ["CURRENT #lobby"]
    lines = alice.ask("/part")  # leaving #lobby: #dev is the most recently joined
    assert (event(lines[0]).room, lines[1:]) == ("#lobby", ["CURRENT #dev"])

    lines = alice.ask("/part games see you later")  # not the current room: no CURRENT
    assert [(e.room, e.event) for e in room_events(lines)] == [
        ("#games", Part("alice", "see you later"))]
    assert len(lines) == 1
    lines = alice.ask("/part #lobby")
    assert error_code(lines[0]) == "NOT_IN_ROOM" and len(lines) == 1
    lines = alice.ask("/part #bad!")
    assert error_code(lines[0]) == "BAD_ROOM" and len(lines) == 1

    lines = alice.ask("/part going away")  # no room named: all of it is the reason
    assert [(e.room, e.event) for e in room_events(lines)] == [
        ("#dev", Part("alice", "going away"))]
    assert len(lines) == 1, "no room left to make current"
    seen = bob.sync()
    assert [(e.room, e.event) for e in room_events(seen)] == [
        ("#dev", Join("alice")), ("#lobby", Part("alice", "left")),
        ("#games", Part("alice", "see you later")), ("#dev", Part("alice", "going away"))]
    close_all([alice, bob])


@pytest.mark.parametrize("line", ["plain text", "/me waves", "/topic", "/topic a new topic"])
def test_no_current_room_is_not_in_room(server, line: str) -> None:
    alice = v2(server.port, "alice")
    alice.ask("/part")
    lines = alice.ask(line)
    assert len(lines) == 1 and error_code(lines[0]) == "NOT_IN_ROOM"
    assert join(alice, "#lobby")[-1] == "CURRENT #lobby"  # and back in, all is well
    alice.close()


def test_rooms_lists_only_rooms_with_people_with_counts_and_topics(server) -> None:
    alice, bob = v2(server.port, "alice"), v2(server.port, "bob")
    join(alice, "#games")
    alice.ask("/topic dice and cards")
    join(bob, "#Games")
    join(bob, "#empty")
    bob.ask("/part #empty")
    alice.sync()
    lines = alice.ask("/rooms")
    assert lines[0] == "ROOMS 2"
    assert sorted(lines[1:]) == sorted(["ROOM #lobby 2 ", "ROOM #games 2 dice and cards"])
    bob.ask("/part lobby")
    lines = bob.ask("/rooms")
    assert lines[0] == "ROOMS 2" and "ROOM #lobby 1 " in lines[1:]
    close_all([alice, bob])


def test_topic_shows_sets_and_refuses_blanks(server) -> None:
    alice, bob, carol = v2(server.port, "alice"), v2(server.port, "bob"), v2(server.port, "carol")
    join(alice, "#games")
    join(bob, "#games")
    settle(alice, bob, carol)
    lines = alice.ask("/topic")
    assert len(lines) == 1 and lines[0].startswith("INFO "), "no topic yet: said so"
    lines = alice.ask("/topic  dice and cards ")
    topic = event(lines[0])
    assert (topic.room, topic.event) == ("#games", Topic("alice", "dice and cards"))
    assert_recent(topic.time)
    assert bob.sync()[-1] == lines[0], "the room sees the TOPIC event, the same line"
    assert carol.sync() == [], "no one outside the room does"
    alice.ask("more talk", "and more")
    settle(bob)
    assert bob.ask("/topic") == [lines[0]], "shown with its original id and time"
    for blanks in ("/topic ", "/topic    ", "/TOPIC \t "):
        refused = alice.ask(blanks)
        assert len(refused) == 1 and error_code(refused[0]) == "BAD_ARGS", blanks
    bob.sync()
    assert bob.ask("/topic") == [lines[0]], "a refused topic changes nothing"
    close_all([alice, bob, carol])


def test_who_lists_a_room_in_join_order(server) -> None:
    alice, bob, carol = (v2(server.port, nick) for nick in ("alice", "bob", "carol"))
    settle(alice)
    assert alice.ask("/who") == ["USERS #lobby alice bob carol"]
    bob.ask("/part")
    join(bob, "lobby")
    settle(alice)
    assert alice.ask("/who") == ["USERS #lobby alice carol bob"]
    assert alice.ask("/who #LOBBY") == ["USERS #lobby alice carol bob"]
    join(carol, "#games")
    join(bob, "games")
    assert alice.ask("/who games") == ["USERS #games carol bob"], "a room you are not in"
    assert alice.ask("/who ＧＡＭＥＳ") == ["USERS #games carol bob"]
    assert bob.ask("/who") == ["USERS #games carol bob"], "default: the current room"
    assert error_code(alice.ask("/who #no!")[0]) == "BAD_ROOM"
    close_all([alice, bob, carol])


def test_in_runs_a_line_in_another_room_without_switching(server) -> None:
    alice, bob, carol = (v2(server.port, nick) for nick in ("alice", "bob", "carol"))
    join(alice, "#games")
    join(carol, "#games")
    carol.ask("/part lobby")  # carol: #games only; bob: #lobby only
    settle(alice, bob)
    lines = alice.ask("/in lobby hello lobby", "/in #lobby /me waves",
                      "/in LOBBY /topic lobby topic", "/in #lobby //slash")
    assert [(e.room, e.event) for e in room_events(lines)] == [
        ("#lobby", Message("alice", "hello lobby")), ("#lobby", Action("alice", "waves")),
        ("#lobby", Topic("alice", "lobby topic")), ("#lobby", Message("alice", "/slash"))]
    assert len(lines) == 4, "no CURRENT: alice did not switch"
    assert bob.sync() == lines
    assert carol.sync() == [], "nothing of it reaches #games"
    assert event(alice.ask("still in games")[0]).room == "#games"
    settle(carol)
    assert alice.ask("/in lobby /who") == ["USERS #lobby alice bob"]
    assert alice.ask("/in lobby /topic") == [lines[2]], "the lobby's topic, as it was set"

    for line, code in [("/in #dev hi", "NOT_IN_ROOM"), ("/in dev /me waves", "NOT_IN_ROOM"),
                       ("/in", "BAD_ARGS"), ("/in lobby", "BAD_ARGS"),
                       ("/in lobby    ", "BAD_ARGS"), ("/in #bad!room hi", "BAD_ROOM"),
                       ("/in lobby /in games hi", "BAD_ARGS"),
                       ("/in lobby /frobnicate", "UNKNOWN_COMMAND"),
                       ("/in lobby /topic   ", "BAD_ARGS"),
                       ("/in " + "x" * 40 + " hi", "BAD_ROOM")]:
        refused = alice.ask(line)
        assert len(refused) == 1 and error_code(refused[0]) == code, line
    assert bob.sync() == [] and carol.sync() == []
    close_all([alice, bob, carol])


# Room names


def test_room_names_compare_after_nfkc_and_casefold(server) -> None:
    alice, bob, carol = (v2(server.port, nick) for nick in ("alice", "bob", "carol"))
    join(alice, "#Games")
    for typed, client in (("ＧＡＭＥＳ", bob), ("#gAmEs", carol)):
        settle(client)
        lines = join(client, typed)
        assert lines[0].startswith("HISTORY #Games ")
        assert lines[-1] == "CURRENT #Games"
    settle(alice)
    assert alice.ask("/who") == ["USERS #Games alice bob carol"]
    close_all([alice, bob, carol])


@pytest.mark.parametrize("name", [
    "#", "#bad!", "#a.b", "#a/b", "##", "#a#", "#😀", "#\u0301a", "#" + "x" * 33,
    "y" * 33, "#a\u200bb",
])
def test_bad_room_names_are_refused(server, name: str) -> None:
    alice, watcher = v2(server.port, "alice"), v2(server.port, "watcher")
    alice.sync()
    lines = alice.ask(f"/join {name}")
    assert len(lines) == 1 and error_code(lines[0]) == "BAD_ROOM", name
    assert watcher.sync() == []
    assert event(alice.ask("still here")[0]).room == "#lobby", "nothing changed"
    close_all([alice, watcher])


@pytest.mark.parametrize("name", ["#" + "x" * 32, "y" * 32, "#游戏", "#_-", "#a-b_c9",
                                  "#naïve", "#e\u0301t\u00e9"])
def test_good_room_names_are_joined(server, name: str) -> None:
    alice = v2(server.port, "alice")
    full = name if name.startswith("#") else "#" + name
    assert join(alice, name)[-1] == f"CURRENT {full}"
    alice.close()


def test_too_many_rooms(server_factory) -> None:
    server = server_factory("--flood", "off", "--max-rooms-per-user", "3")
    alice = v2(server.port, "alice")
    join(alice, "#a")
    join(alice, "#b")
    lines = alice.ask("/join #c")
    assert len(lines) == 1 and error_code(lines[0]) == "TOO_MANY_ROOMS"
    assert alice.ask("/join #lobby") == ["CURRENT #lobby"], "a room you are in: still fine"
    alice.ask("/part a")
    assert join(alice, "#c")[-1] == "CURRENT #c"
    assert alice.ask("/who #c") == ["USERS #c alice"]
    alice.close()


# Nicknames, private messages, rooms kept apart


def test_nicknames_are_unique_across_rooms_and_msg_has_no_room(server) -> None:
    alice, bob = v2(server.port, "alice"), v2(server.port, "bob")
    join(alice, "#games")
    alice.ask("/part lobby")  # alice and bob now share no room
    bob.sync()
    lines = bob.ask("/nick ALICE")
    assert len(lines) == 1 and error_code(lines[0]) == "NICK_IN_USE"
    lines = bob.ask("/nick ａｌｉｃｅ")
    assert len(lines) == 1 and error_code(lines[0]) == "NICK_IN_USE"
    newcomer = RoomClient(server.port)
    newcomer.send_line("/hello tests 2", "/nick Alice")
    assert error_code(newcomer.read_until("ERROR ")[-1]) == "NICK_IN_USE"

    assert bob.ask("/msg alice psst") == ["PRIVMSG bob alice psst"]
    assert alice.sync() == ["PRIVMSG bob alice psst"]
    alice.ask("/part")  # in no room at all: private messages still arrive
    assert bob.ask("/msg ALICE still there?") == ["PRIVMSG bob alice still there?"]
    assert alice.sync() == ["PRIVMSG bob alice still there?"]
    close_all([alice, bob, newcomer])


def test_a_message_in_one_room_never_reaches_another(server) -> None:
    rooms = {"#a": ["a1", "a2"], "#b": ["b1", "b2"], "#c": ["c1"]}
    clients: dict[str, RoomClient] = {}
    for room, nicks in rooms.items():
        for nick in nicks:
            clients[nick] = v2(server.port, nick)
            join(clients[nick], room)
            clients[nick].ask("/part lobby")
    for client in clients.values():
        client.sync()
    said = {room: clients[nicks[0]].ask(f"only for {room}", "/me acts", "/topic mine")
            for room, nicks in rooms.items()}
    for room, nicks in rooms.items():
        for nick in nicks:
            seen = room_events(said[room] if nick == nicks[0] else clients[nick].sync())
            assert {e.room for e in seen} == {room}, nick
            assert [e.event for e in seen] == [Message(nicks[0], f"only for {room}"),
                                               Action(nicks[0], "acts"),
                                               Topic(nicks[0], "mine")]
    close_all(clients.values())


def test_nick_change_and_quit_are_seen_once_per_shared_room(server) -> None:
    alice, bob, carol, dave = (v2(server.port, nick) for nick in ("alice", "bob", "carol", "dave"))
    for who, room in ((alice, "#games"), (bob, "#games"), (alice, "#dev"), (carol, "#dev")):
        join(who, room)
    carol.ask("/part lobby")  # lobby: alice bob dave; games: alice bob; dev: alice carol
    for client in (alice, bob, carol, dave):
        client.sync()

    renamed = alice.ask("/nick al")
    expected = {alice: ["#lobby", "#games", "#dev"], bob: ["#lobby", "#games"],
                carol: ["#dev"], dave: ["#lobby"]}
    stamps_by_room: dict[str, set[tuple[int, int]]] = {}
    for client, rooms in expected.items():
        seen = room_events(renamed if client is alice else client.sync())
        assert sorted(e.room for e in seen) == sorted(rooms), "once per shared room"
        assert all(e.event == NickChange("alice", "al") for e in seen)
        for stamped in seen:
            stamps_by_room.setdefault(stamped.room, set()).add((stamped.id, stamped.time))
    assert all(len(stamps) == 1 for stamps in stamps_by_room.values()), \
        "each room's members see the same NICK event"

    alice.send_line("/quit gone fishing")
    assert alice.read_all_until_closed()[-1] == "BYE gone fishing"
    for client, rooms in expected.items():
        if client is alice:
            continue
        seen = room_events(client.sync())
        assert sorted(e.room for e in seen) == sorted(rooms)
        assert all(e.event == Part("al", "gone fishing") for e in seen)

    bob.send_line("/quit")
    bob.read_all_until_closed()
    assert [(e.room, e.event) for e in room_events(dave.sync())] == [
        ("#lobby", Part("bob", "quit"))]
    carol.ask("/join lobby")
    settle(dave)
    carol.close()  # the connection is lost: every room it was in is told
    assert [(e.room, e.event) for e in room_events(dave.read_until("PART "))] == [
        ("#lobby", Part("carol", "connection lost"))]
    close_all([alice, bob, dave])


# One order per room


def test_one_order_per_room_under_concurrent_senders(server) -> None:
    picker = random.Random(10)
    rooms = ["#lobby", "#games", "#dev"]
    nicks = [f"user{n}" for n in range(10)]
    clients = {nick: v2(server.port, nick) for nick in nicks}
    member_of: dict[str, list[str]] = {}
    for index, nick in enumerate(nicks):
        # Every room gets members; each client is in 1 to 3 rooms.
        chosen = {rooms[index % 3]} | set(picker.sample(rooms, picker.randint(0, 2)))
        for room in sorted(chosen - {"#lobby"}):
            join(clients[nick], room)
        if "#lobby" not in chosen:
            clients[nick].ask("/part #lobby")
        member_of[nick] = sorted(chosen)
    settle(*clients.values())  # everyone is in place before anyone talks

    plan = {nick: [(picker.choice(member_of[nick]), f"{nick} says {n}") for n in range(50)]
            for nick in nicks}
    expected_in = {room: sum(1 for lines in plan.values() for where, _ in lines if where == room)
                   for room in rooms}

    def send_all(nick: str) -> None:
        lines = [f"/in {room} {text}" for room, text in plan[nick]]
        for start in range(0, len(lines), 7):  # several writes, so the senders interleave
            clients[nick].send_line(*lines[start:start + 7])
            time.sleep(picker.random() * 0.002)

    senders = [threading.Thread(target=send_all, args=(nick,)) for nick in nicks]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()

    transcripts: dict[str, dict[str, list[tuple[int, str, str]]]] = {}
    for nick, client in clients.items():
        heard: dict[str, list[tuple[int, str, str]]] = {room: [] for room in member_of[nick]}
        deadline = time.monotonic() + 30
        while any(len(heard[room]) < expected_in[room] for room in heard):
            stamped = event(client.read_line(max(0.1, deadline - time.monotonic())))
            assert stamped.room in heard, f"{nick} heard {stamped.room}, a room it is not in"
            assert isinstance(stamped.event, Message)
            heard[stamped.room].append((stamped.id, stamped.event.nick, stamped.event.text))
        assert client.sync() == [], "nothing more than what was said"
        transcripts[nick] = heard

    for room in rooms:
        copies = [transcripts[nick][room] for nick in nicks if room in member_of[nick]]
        assert len(copies) >= 1
        assert all(copy == copies[0] for copy in copies), f"{room}: one order for everyone"
        ids = [item[0] for item in copies[0]]
        assert ids == sorted(set(ids)), f"{room}: ids increase"
        for nick in nicks:
            theirs = [text for _, sender, text in copies[0] if sender == nick]
            assert theirs == [text for where, text in plan[nick] if where == room], \
                "each sender's messages in the order sent"
    close_all(clients.values())


# Version 1 programs beside version 2


def test_v1_programs_live_in_the_default_room_and_see_exactly_v1(server) -> None:
    alice = v2(server.port, "alice")
    old = v1(server.port, "old")
    assert old.ask("/who") == ["USERS alice old"]
    assert old.ask("/who #games") == ["USERS alice old"], "one room: the default one"
    bob, joined = v2_client(server.port, "bob")
    assert [line for line in joined if line.startswith("USERS ")] == [
        "USERS #lobby alice old bob"]
    assert old.sync() == ["JOIN bob"]

    join(alice, "#games")
    settle(bob)
    alice.ask("/in lobby hi", "/in lobby /me waves", "in games only", "/topic games topic",
              "/in lobby /topic lobby topic")
    assert old.sync() == ["MSG alice hi", "ACTION alice waves",
                          "INFO alice set the topic: lobby topic"]
    for line in ("/join #games", "/part", "/rooms", "/topic", "/topic x", "/in #lobby hi",
                 "/history #lobby latest"):
        refused = old.ask(line)
        assert len(refused) == 1 and error_code(refused[0]) == "UNKNOWN_COMMAND", line

    old.ask("from the old one")
    settle(alice, bob)
    alice.ask("/nick al")
    assert old.sync() == ["NICK alice al"], "once, though al shares two rooms with bob"
    bob.ask("/part")
    assert old.sync() == ["PART bob left"]
    alice.send_line("/quit")
    alice.read_all_until_closed()
    assert old.sync() == ["PART al quit"]

    everything = old.ask("/who")
    assert everything == ["USERS old"]
    newcomer = v1(server.port, "new")
    assert old.sync() == ["JOIN new"]
    newcomer.close()
    assert old.read_line() == "PART new connection lost"
    close_all([old, bob])


def test_v1_join_sequence_is_unchanged_beside_rooms(server) -> None:
    alice = v2(server.port, "alice")
    alice.ask("/topic welcome all", "earlier line")
    old = RoomClient(server.port)
    old.send_line("/hello tests 1")
    old.read_until("HELLO ")
    assert old.ask("/nick old") == ["WELCOME old", "USERS alice old", "JOIN old"]
    close_all([alice, old])


# People (no /hello)


def test_people_get_every_v2_feature_rendered_for_people(server) -> None:
    started = now_ms()
    alice = v2(server.port, "alice")
    alice.ask("good morning", "/topic the lobby")
    bob = RoomClient(server.port)
    bob.send_line("bob")
    lines = bob.read_until("*** You are now talking in #lobby")
    lines += bob.sync()
    start = lines.index("*** Welcome, bob! Type to talk, /help for commands.")
    assert lines[start + 1] == "*** History of #lobby: 3 earlier lines"
    history = lines[start + 2:start + 5]
    stamp = r"\| \d\d [A-Z][a-z]{2} \d\d:\d\d "
    assert [re.sub(stamp, "| ", line) for line in history] == [
        "| *** alice joined", "| <alice> good morning", "| *** alice set the topic: the lobby"]
    assert all(re.match(stamp, line) for line in history), "history: marked, with a time"
    minutes = {time.strftime("%d %b %H:%M", time.localtime(ms / 1000))
               for ms in range(started, now_ms() + 1, 1000)} | {
        time.strftime("%d %b %H:%M", time.localtime(now_ms() / 1000))}
    assert all(line[2:14] in minutes for line in history), "the time it happened"
    assert lines[start + 5:] == ["*** In #lobby (2): alice, bob", "*** bob joined",
                                 "*** You are now talking in #lobby",
                                 "*** Topic of #lobby: the lobby"]

    assert bob.ask("in one room") == ["<bob> in one room"], "one room: no room shown"
    settle(alice)
    lines = bob.ask("/join games")
    assert lines == ["*** History of #games: 0 earlier lines", "*** In #games (1): bob",
                     "[#games] *** bob joined", "*** You are now talking in #games"]
    join(alice, "#games")
    assert bob.sync() == ["[#games] *** alice joined"]
    alice.ask("hi", "/in lobby hello lobby", "/me waves", "/topic games now")
    seen = bob.sync()  # one order per room (rooms are not ordered against each other)
    assert [line for line in seen if line.startswith("[#games]")] == [
        "[#games] <alice> hi", "[#games] * alice waves",
        "[#games] *** alice set the topic: games now"]
    assert [line for line in seen if not line.startswith("[#games]")] == [
        "[#lobby] <alice> hello lobby"]
    assert bob.ask("/topic") == ["[#games] *** alice set the topic: games now"]
    assert bob.ask("/who") == ["*** In #games (2): bob, alice"]
    rooms = bob.ask("/rooms")
    assert rooms[0] == "*** Rooms with people in them: 2"
    assert sorted(rooms[1:]) == ["***   #games  (2)  games now", "***   #lobby  (2)  the lobby"]
    assert bob.ask("/in lobby //slash") == ["[#lobby] <bob> /slash"]
    lines = bob.ask("/history #lobby latest 2")
    assert lines[0] == "*** History of #lobby: 2 earlier lines"
    assert [re.sub(stamp, "| ", line) for line in lines[1:]] == [
        "| [#lobby] <alice> hello lobby", "| [#lobby] <bob> /slash"]
    assert bob.ask("/msg alice psst") == ["-> *alice* psst"]
    assert bob.ask("/in #dev hi")[0].startswith("*** Error (NOT_IN_ROOM): ")
    assert bob.ask("/join #no!")[0].startswith("*** Error (BAD_ROOM): ")
    settle(alice)

    lines = bob.ask("/part")  # leaves #games: back in one room, the lobby
    assert lines == ["[#games] *** bob left (left)", "*** You are now talking in #lobby"]
    assert bob.ask("back to one room") == ["<bob> back to one room"]
    carol = v2(server.port, "carol")
    assert bob.sync() == ["*** carol joined"], "in one room again: no room shown"
    join(carol, "#games")
    assert bob.sync() == [], "#games is no longer bob's business"
    close_all([alice, bob, carol])


def test_a_person_who_leaves_a_room_that_is_not_current_sees_which_room(server) -> None:
    bob = person(server.port, "bob")
    assert bob.ask("/join games")[-1] == "*** You are now talking in #games"
    lines = bob.ask("/part lobby")
    assert lines == ["[#lobby] *** bob left (left)"], "in two rooms when it happened"
    assert bob.ask("/part") == ["*** bob left (left)"]
    assert bob.ask("anyone?")[0].startswith("*** Error (NOT_IN_ROOM): ")
    bob.close()


# /stats, /history, restarts


def test_stats_counts_rooms_with_people(server) -> None:
    def rooms_figure(client: RoomClient) -> int:
        time.sleep(0.25)  # the figures are shared for 0.2 s
        lines = client.ask("/stats")
        figures = dict(pair.split("=", 1) for pair in lines[-1].split()[1:])
        return int(figures["rooms"])

    alice = v2(server.port, "alice")
    assert rooms_figure(alice) == 1
    join(alice, "#games")
    join(alice, "#dev")
    assert rooms_figure(alice) == 3
    alice.ask("/part", "/part")
    assert rooms_figure(alice) == 1
    alice.ask("/part")
    assert rooms_figure(alice) == 0
    alice.close()


def test_history_before_after_latest(server) -> None:
    alice = v2(server.port, "alice")
    said = alice.ask(*(f"line {n}" for n in range(10)))
    by_id = {event(line).id: line for line in said}
    first = min(by_id)
    lines = alice.ask("/history #lobby latest 3")
    assert lines == ["HISTORY #lobby 3", *said[-3:]]
    lines = alice.ask(f"/history lobby before {first + 5} 2")
    assert lines == ["HISTORY #lobby 2", by_id[first + 3], by_id[first + 4]]
    lines = alice.ask(f"/history #LOBBY after {first + 7}")
    assert lines == ["HISTORY #lobby 2", by_id[first + 8], by_id[first + 9]]
    lines = alice.ask("/history #lobby latest")  # N defaults to 50: all 11 events
    assert lines[0] == "HISTORY #lobby 11" and lines[2:] == said
    assert alice.ask("/history #lobby latest 500")[0] == "HISTORY #lobby 11"
    assert alice.ask("/history #lobby after 1000 5") == ["HISTORY #lobby 0"]
    alice.close()


@pytest.mark.parametrize(("line", "code"), [
    ("/history", "BAD_ARGS"), ("/history #lobby", "BAD_ARGS"),
    ("/history #lobby sideways", "BAD_ARGS"), ("/history #lobby before", "BAD_ARGS"),
    ("/history #lobby before x", "BAD_ARGS"), ("/history #lobby after -1", "BAD_ARGS"),
    ("/history #lobby latest 501", "BAD_ARGS"), ("/history #lobby latest 1 2", "BAD_ARGS"),
    ("/history #lobby latest -5", "BAD_ARGS"), ("/history #lobby before 3 many", "BAD_ARGS"),
    ("/history #lobby latest ５", "BAD_ARGS"), ("/history #lobby latest 99999999999999999999",
                                                "BAD_ARGS"),
    ("/history #games latest", "NOT_IN_ROOM"), ("/history #bad! latest", "BAD_ROOM"),
    ("/history #" + "x" * 33 + " latest", "BAD_ROOM"),
])
def test_history_with_bad_arguments(server, line: str, code: str) -> None:
    alice, watcher = v2(server.port, "alice"), v2(server.port, "watcher")
    settle(alice)
    lines = alice.ask(line)
    assert len(lines) == 1 and error_code(lines[0]) == code, line
    assert watcher.sync() == []
    assert event(alice.ask("fine")[0]).event == Message("alice", "fine")
    close_all([alice, watcher])


def test_ids_and_topics_carry_on_across_a_restart(server_factory, tmp_path) -> None:
    store = str(tmp_path / "history.sqlite3")
    first = server_factory("--flood", "off", "--store", store)
    alice = v2(first.port, "alice")
    join(alice, "#games")
    said = alice.ask("/topic kept", "before the restart")
    alice.close()
    first.stop()

    second = server_factory("--flood", "off", "--store", store)
    bob = v2(second.port, "bob")
    lines = join(bob, "GAMES")
    assert lines[0] == "HISTORY #games 4"  # JOIN, TOPIC, MSG, PART (connection lost)
    assert lines[2:4] == said, "the same lines, with their original ids and times"
    assert event(lines[4]).event == Part("alice", "connection lost")
    assert event(lines[6]).id == event(lines[4]).id + 1 == 5, "ids are never reused"
    assert bob.ask("/topic") == [said[0]]
    bob.close()


# Order of what one member receives


def test_what_was_said_before_a_join_arrives_before_the_joins_replies(server) -> None:
    alice, bob = v2(server.port, "alice"), v2(server.port, "bob")
    settle(alice)
    alice.send_line("said in the lobby first", "/join #games")  # handled in one go
    lines = alice.read_until("CURRENT ")
    assert event(lines[0]).event == Message("alice", "said in the lobby first")
    assert lines[1] == "HISTORY #games 0"
    alice.send_line("/in lobby and again", "/history #lobby latest 1")
    lines = alice.read_until(lambda line: line.startswith("HISTORY "))
    assert event(lines[0]).event == Message("alice", "and again")
    close_all([alice, bob])


def test_looking_at_a_room_does_not_create_it(server) -> None:
    alice, bob = v2(server.port, "alice"), v2(server.port, "bob")
    for line in ("/who #ZED", "/part #ZED", "/in #ZED hi", "/history #ZED latest"):
        alice.ask(line)
    assert join(bob, "#zed")[-1] == "CURRENT #zed", "created by its first joiner, as typed"
    assert alice.ask("/who zed") == ["USERS #zed bob"]
    close_all([alice, bob])


# Bad input on the new surface


def test_random_room_names_and_garbage_get_clear_errors(server) -> None:
    picker = random.Random(2)
    alphabet = "abcXYZ09_-#!./ é游\u0301\u200b😀\t"
    alice, watcher = v2(server.port, "alice"), v2(server.port, "watcher")
    person_client = person(server.port, "pat")
    settle(alice, watcher)
    for _ in range(150):
        name = "".join(picker.choice(alphabet) for _ in range(picker.randint(0, 40)))
        command = picker.choice(["/join", "/who", "/part", "/in", "/history", "/in"])
        rest = picker.choice(["", " hi", " /me x", " latest", " before 1 2", " after x",
                              " /in #a b", " /part", " /join #q!"])
        line = f"{command} {name}{rest}"
        for lines in (alice.ask(line), person_client.ask(line)):
            for reply in lines:
                assert "Traceback" not in reply and "BYE" not in reply.upper()[:8], reply
    alice.ask("/join #lobby")
    settle(alice)
    assert event(alice.ask("still fine")[0]).event == Message("alice", "still fine")
    seen = watcher.sync()
    assert "MSG #lobby" in seen[-1] and seen[-1].endswith("alice still fine")
    assert person_client.ask("/who #lobby")[-1].startswith("*** In #lobby ("), "pat is fine"
    close_all([alice, watcher, person_client])


@pytest.mark.parametrize("line", [
    "/join " + "#" + "r" * 2000, "/in " + "#" + "r" * 1500 + " hi", "/part #" + "é" * 33,
    "/who #" + "x" * 100, "/join #\x1b[31m", "/in #\x00 hi",
])
def test_overlong_and_odd_room_names_are_bad_room(server, line: str) -> None:
    alice, watcher = v2(server.port, "alice"), v2(server.port, "watcher")
    settle(alice)
    lines = alice.ask(line)
    assert len(lines) == 1 and error_code(lines[0]) == "BAD_ROOM", lines
    assert watcher.sync() == []
    assert alice.ask("/who") == ["USERS #lobby alice watcher"]
    close_all([alice, watcher])
