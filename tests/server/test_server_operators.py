"""Operators and access: every row of PROTOCOL.md's "Operators and access" (TLS aside),
proven over real sockets on 127.0.0.1 against `python -m chat_server`.

Most servers here start with `--oper-password` so a test knows the operator token; one
starts without it and reads the token from the log, as a teacher would. Address bans
need a second address: every test client connects from 127.0.0.1 (the operator's own
address, which an operator never bans), and the person to be banned from 127.0.0.2,
which is loopback too on Linux. `sync()` (a `/ping` and its `PONG`) is how a test knows
the server has handled everything a client sent, and what that client got meanwhile.

Time is the subject of a few tests (a ban or a mute that expires, slow mode, the pause
after a wrong password): they measure lower bounds only, and wait for conditions.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import threading
import time

from chat_testing import LINE_TIMEOUT, LineClient, ServerProcess, close_all
from protocol import LineFramer, Notice, Part, RoomEvent, decode_event

TOKEN = "sesame-42"  # --oper-password of most servers here
PASSWORD = "let-me-in"  # --password, where a test needs one
ELSEWHERE = "127.0.0.2"  # a second loopback address: someone who is not the operator
SHORT_BAN = 0.05  # minutes: three seconds, a ban a test can watch expire
SHORT_BAN_MS = SHORT_BAN * 60_000
_tokens = itertools.count(1)


class Client(LineClient):
    """A line client that may connect from another loopback address, and that can wait
    until the server has handled everything it sent."""

    def __init__(self, port: int, source: str = "127.0.0.1") -> None:  # noqa: D107
        # LineClient connects at once; binding the source address must come first.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(LINE_TIMEOUT)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self._framer = LineFramer(max_line_bytes=1 << 20)
        self._lines: list[str] = []
        self.closed_by_server = False

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


# Clients and servers

def v2(port: int, nick: str, source: str = "127.0.0.1") -> Client:
    """A version 2 machine client joined as `nick`, its join lines read and dropped."""
    client = Client(port, source)
    client.send_line("/hello tests 2", f"/nick {nick}")
    client.read_until("CURRENT ")
    return client


def v1(port: int, nick: str) -> Client:
    """A version 1 program joined as `nick`, read up to its own JOIN."""
    client = Client(port)
    client.send_line("/hello tests 1", f"/nick {nick}")
    client.read_until(f"JOIN {nick}")
    return client


def person(port: int, nick: str) -> Client:
    """A person (no /hello, as nc) joined as `nick`, what the join showed drained."""
    client = Client(port)
    client.send_line(nick)
    client.read_until("*** You are now talking in ")
    client.sync()
    return client


def operator(port: int, nick: str, token: str = TOKEN) -> Client:
    """A version 2 client joined as `nick` that has become an operator."""
    client = v2(port, nick)
    lines = client.ask(f"/oper {token}")
    assert "INFO you are now an operator: /help lists what you may do" in lines
    return client


def oper_server(server_factory, *args: str) -> ServerProcess:  # type: ignore[no-untyped-def]
    """A server with a known operator token, flood control off (tests send quickly)."""
    return server_factory("--flood", "off", "--oper-password", TOKEN, *args)


def settle(*clients: Client) -> None:
    """Drop what each client has received so far (once the server handled all it sent)."""
    for client in clients:
        client.sync()


def stop_cleanly(server: ServerProcess) -> str:
    """Stop the server: it exits 0 and logged no traceback. Returns its log."""
    assert server.stop() == 0
    log = server.stderr_text()
    assert "Traceback" not in log, log
    return log


def wait_for_log(server: ServerProcess, pattern: str) -> re.Match[str]:
    """The first match of `pattern` in the server's log, waiting for it to be written."""
    assert server.stderr_file is not None
    deadline = time.monotonic() + LINE_TIMEOUT
    while time.monotonic() < deadline:
        # pread, not seek and read: the server shares the file's offset and writes on.
        text = os.pread(server.stderr_file.fileno(), 1 << 20, 0).decode("utf-8", "replace")
        match = re.search(pattern, text)
        if match:
            return match
        time.sleep(0.05)
    raise AssertionError(f"the server never logged {pattern!r}")


# Reading what came

def error_code(line: str) -> str:
    """The code of an `ERROR CODE TEXT` line."""
    assert line.startswith("ERROR "), line
    return line.split()[1]


def errors(lines: list[str]) -> list[str]:
    """The codes of the ERROR lines among `lines`."""
    return [error_code(line) for line in lines if line.startswith("ERROR ")]


def room_events(lines: list[str]) -> list[RoomEvent]:
    """The version 2 room events among `lines`, decoded."""
    return [decoded for line in lines
            if isinstance(decoded := decode_event(line, version=2), RoomEvent)]


def notices(lines: list[str]) -> list[str]:
    """The texts of the NOTICE events among `lines`."""
    return [event.event.text for event in room_events(lines)
            if isinstance(event.event, Notice)]


def parts(lines: list[str]) -> list[tuple[str, str, str]]:
    """(room, nick, reason) of each PART among `lines`."""
    return [(event.room, event.event.nick, event.event.reason)
            for event in room_events(lines) if isinstance(event.event, Part)]


def history(client: Client, room: str) -> list[str]:
    """The room's latest events as `/history ROOM latest` replays them."""
    lines = client.ask(f"/history {room} latest 500")
    start = next(index for index, line in enumerate(lines) if line.startswith("HISTORY "))
    count = int(lines[start].split()[2])
    return lines[start + 1:start + 1 + count]


def refused_at_connect(port: int, source: str) -> list[str]:
    """Every line a new connection from `source` gets before the server closes it."""
    client = Client(port, source)
    try:
        return client.read_all_until_closed()
    finally:
        client.close()


def nick_refused(port: int, nick: str) -> list[str]:
    """What a new machine client gets for `/nick NICK` when NICK is banned (it is closed)."""
    client = Client(port)
    client.send_line("/hello tests 2", f"/nick {nick}")
    try:
        return client.read_all_until_closed()
    finally:
        client.close()


# Becoming an operator

def test_oper_with_the_right_token_makes_an_operator_the_room_sees(server_factory) -> None:
    server = oper_server(server_factory)
    alice, bob = v2(server.port, "alice"), v2(server.port, "bob")
    lines = alice.ask(f"/oper {TOKEN}")
    assert "INFO you are now an operator: /help lists what you may do" in lines
    assert notices(lines) == ["is now an operator"]
    assert notices(bob.sync()) == ["is now an operator"]
    assert alice.ask("/who")[-1] == "USERS #lobby @alice bob"
    assert alice.ask(f"/oper {TOKEN}") == ["INFO you are an operator already"]
    close_all([alice, bob])
    stop_cleanly(server)


def test_a_wrong_token_is_refused_and_the_third_closes_the_connection(server_factory) -> None:
    server = oper_server(server_factory)
    mallory, bob = v2(server.port, "mallory"), v2(server.port, "bob")
    settle(mallory)
    first = mallory.ask("/oper guess1")
    assert [error_code(line) for line in first] == ["BAD_PASSWORD"]
    assert "2 tries left" in first[0]
    assert mallory.ask("/who")[-1] == "USERS #lobby mallory bob", "not an operator"
    mallory.send_line("/oper guess2", "/oper guess3", "/ping never")
    lines = mallory.read_all_until_closed()
    assert errors(lines) == ["BAD_PASSWORD", "BAD_PASSWORD"]
    assert lines[-1] == "BYE wrong password"
    assert "PONG never" not in lines, "nothing is read after the third wrong try"
    assert parts(bob.sync()) == [("#lobby", "mallory", "wrong password")]
    close_all([mallory, bob])
    stop_cleanly(server)


def test_without_oper_password_the_token_is_new_at_each_start_and_in_the_log(
        server_factory) -> None:
    first = server_factory("--flood", "off")
    token = wait_for_log(first, r"operator token for this run: /oper (\S+)").group(1)
    alice = operator(first.port, "alice", token)
    second = server_factory("--flood", "off")
    other = wait_for_log(second, r"operator token for this run: /oper (\S+)").group(1)
    assert other != token, "a new token at every start"
    bob = v2(second.port, "bob")
    assert errors(bob.ask(f"/oper {token}")) == ["BAD_PASSWORD"], "last run's token"
    close_all([alice, bob])
    stop_cleanly(first)
    stop_cleanly(second)


def test_oper_before_choosing_a_nickname_works_and_names_nobody_as_none(
        server_factory) -> None:
    server = oper_server(server_factory)
    client = Client(server.port)
    client.send_line("/hello tests 2")
    client.read_until("HELLO ")
    lines = client.ask(f"/oper {TOKEN}")
    assert "INFO you are now an operator: /help lists what you may do" in lines
    assert not any("None" in line for line in lines), lines
    client.send_line("/nick alice")
    assert "USERS #lobby @alice" in client.read_until("CURRENT ")
    client.close()
    stop_cleanly(server)


# /op and /deop, and @ in USERS

def test_op_and_deop_are_room_events_and_show_as_at_in_users_for_v2_only(
        server_factory) -> None:
    server = oper_server(server_factory)
    alice, bob = operator(server.port, "alice"), v2(server.port, "bob")
    old = v1(server.port, "olga")
    settle(alice, bob, old)
    lines = alice.ask("/op bob")
    assert notices(lines) == ["made bob an operator"]
    assert "INFO you are now an operator: /help lists what you may do" in bob.sync()
    assert old.sync() == ["INFO alice made bob an operator"], "version 1: a notice"
    assert bob.ask("/who")[-1] == "USERS #lobby @alice @bob olga"
    assert old.ask("/who")[-1] == "USERS alice bob olga", "version 1 has no @"
    assert errors(bob.ask("/bans")) == [], "bob may act now"

    lines = alice.ask("/deop bob")
    assert notices(lines) == ["took bob's operator rights"]
    assert bob.ask("/who")[-1] == "USERS #lobby @alice bob olga"
    assert errors(bob.ask("/kick alice")) == ["NOT_OPERATOR"]
    assert errors(alice.ask("/deop bob")) == ["BAD_ARGS"], "not an operator now"
    assert errors(alice.ask("/op nobody")) == ["NO_SUCH_NICK"]
    close_all([alice, bob, old])
    stop_cleanly(server)


def test_a_version_1_program_reads_operator_notices_as_info(server_factory) -> None:
    server = oper_server(server_factory)
    alice, old = operator(server.port, "alice"), v1(server.port, "olga")
    settle(old)
    alice.ask("/slow 5")
    assert old.sync() == ["INFO alice set slow mode: one line every 5 seconds each"]
    assert old.ask(f"/oper {TOKEN}")[-1].startswith("ERROR UNKNOWN_COMMAND")
    close_all([alice, old])
    stop_cleanly(server)


# /kick

def test_kick_puts_someone_out_of_the_room_and_both_sides_see_why(server_factory) -> None:
    server = oper_server(server_factory)
    alice, bob, carol = (operator(server.port, "alice"), v2(server.port, "bob"),
                         v2(server.port, "carol"))
    settle(alice, bob, carol)
    kicked = ("#lobby", "bob", "kicked by alice: too loud")
    assert parts(alice.ask("/kick bob too loud")) == [kicked]
    assert parts(bob.sync()) == [kicked], "the kicked person sees it too"
    assert parts(carol.sync()) == [kicked]
    assert bob.ask("hello?")[-1].startswith("ERROR NOT_IN_ROOM"), "out of the room"
    assert bob.ask("/join #lobby")[-1] == "CURRENT #lobby", "a kick is not a ban"
    settle(alice, carol)
    assert parts(alice.ask("/kick bob")) == [("#lobby", "bob", "kicked by alice: no reason given")]
    close_all([alice, bob, carol])
    stop_cleanly(server)


def test_kick_acts_on_the_current_room_only(server_factory) -> None:
    server = oper_server(server_factory)
    alice, bob = operator(server.port, "alice"), v2(server.port, "bob")
    bob.send_line("/join #games")
    bob.read_until("CURRENT #games")
    alice.send_line("/join #games")
    alice.read_until("CURRENT #games")
    settle(bob)
    assert parts(alice.ask("/kick bob off you go")) == [
        ("#games", "bob", "kicked by alice: off you go")]
    assert parts(bob.sync()) == [("#games", "bob", "kicked by alice: off you go")]
    assert bob.ask("/who #lobby")[-1] == "USERS #lobby @alice bob", "still in #lobby"
    close_all([alice, bob])
    stop_cleanly(server)


# /ban, /unban, /bans

def test_ban_by_nick_parts_every_room_says_bye_and_keeps_the_nick_out(server_factory) -> None:
    server = oper_server(server_factory)
    alice, carol = operator(server.port, "alice"), v2(server.port, "carol")
    bob = v2(server.port, "bob", source=ELSEWHERE)
    for client in (alice, bob, carol):
        client.send_line("/join #games")
        client.read_until("CURRENT #games")
    settle(alice, bob, carol)
    lines = alice.ask("/ban bob 10 spamming")
    banned = "banned by alice: spamming"
    assert sorted(parts(lines)) == [("#games", "bob", banned), ("#lobby", "bob", banned)]
    assert "INFO banned bob for 10 minutes" in lines
    assert sorted(parts(carol.sync())) == sorted(parts(lines)), "every room sees it"
    gone = bob.read_all_until_closed()
    assert gone[-1] == "BYE banned"
    refused = nick_refused(server.port, "BOB")  # compared as nicknames are
    assert error_code(refused[-2]) == "BANNED" and "spamming" in refused[-2]
    assert refused[-1] == "BYE banned"
    assert errors(carol.ask("/nick bob")) == ["BANNED"], "a renaming member is refused too"
    assert carol.ask("still here")[-1].endswith("carol still here"), "and keeps their name"
    close_all([alice, bob, carol])
    stop_cleanly(server)


def test_banning_a_nick_also_bans_their_address_unless_it_is_the_operators(
        server_factory) -> None:
    server = oper_server(server_factory)
    alice = operator(server.port, "alice")
    bob = v2(server.port, "bob", source=ELSEWHERE)
    dave = v2(server.port, "dave")  # on the operator's own address
    alice.ask("/ban bob", "/ban dave")
    for client in (bob, dave):
        assert client.read_all_until_closed()[-1] == "BYE banned"
    refused = refused_at_connect(server.port, ELSEWHERE)
    assert [error_code(refused[0]), refused[1]] == ["BANNED", "BYE banned"]
    assert len(refused) == 2
    newcomer = v2(server.port, "erin")  # 127.0.0.1, the operator's address, is not banned
    assert newcomer.ask("hi")[-1].endswith("erin hi")
    close_all([alice, bob, dave, newcomer])
    stop_cleanly(server)


def test_ban_by_address_with_and_without_minutes_and_reason(server_factory) -> None:
    server = oper_server(server_factory)
    alice, carol = operator(server.port, "alice"), v2(server.port, "carol")
    bob = v2(server.port, "bob", source=ELSEWHERE)
    settle(alice, carol)
    lines = alice.ask(f"/ban {ELSEWHERE} 30 cheating on the quiz")
    assert parts(lines) == [("#lobby", "bob", "banned by alice: cheating on the quiz")]
    assert f"INFO banned {ELSEWHERE} for 30 minutes" in lines
    assert bob.read_all_until_closed()[-1] == "BYE banned"
    refused = refused_at_connect(server.port, ELSEWHERE)
    assert refused[0].startswith("ERROR BANNED ") and "cheating on the quiz" in refused[0]
    assert refused[1:] == ["BYE banned"]

    assert alice.ask("/ban 127.0.0.3") == ["INFO banned 127.0.0.3 until lifted"]
    refused = refused_at_connect(server.port, "127.0.0.3")
    assert refused == ["ERROR BANNED you are banned: no reason given", "BYE banned"]
    assert alice.ask("/ban 127.0.0.4 for talking back")[0] == \
        "INFO banned 127.0.0.4 until lifted", "a non-number starts the reason"
    assert "for talking back" in refused_at_connect(server.port, "127.0.0.4")[0]
    close_all([alice, bob, carol])
    stop_cleanly(server)


def test_a_non_number_after_the_nick_starts_the_reason(server_factory) -> None:
    server = oper_server(server_factory)
    alice, bob = operator(server.port, "alice"), v2(server.port, "bob")
    settle(alice)
    lines = alice.ask("/ban bob inf is not a duration")
    assert parts(lines) == [("#lobby", "bob", "banned by alice: inf is not a duration")]
    assert "INFO banned bob until lifted" in lines
    close_all([alice, bob])
    stop_cleanly(server)


def test_bans_lists_what_is_in_force_and_unban_lifts_it(server_factory) -> None:
    server = oper_server(server_factory)
    alice = operator(server.port, "alice")
    bob = v2(server.port, "bob", source=ELSEWHERE)
    settle(alice)
    assert alice.ask("/bans") == ["INFO Bans in force: 0"]
    alice.ask("/ban bob 5 spamming", "/ban 127.0.0.3")
    listed = alice.ask("/bans")
    assert listed[0] == "INFO Bans in force: 3"
    assert any(line.startswith("INFO   bob (nick) until ") and line.endswith(
        ", by alice: spamming") for line in listed)
    assert f"INFO   {ELSEWHERE} (address)" in "\n".join(listed)
    assert "INFO   127.0.0.3 (address) until lifted, by alice: no reason given" in listed

    assert alice.ask("/unban bob") == ["INFO lifted the ban on bob"]
    assert alice.ask(f"/unban {ELSEWHERE}") == [f"INFO lifted the ban on {ELSEWHERE}"]
    back = v2(server.port, "bob", source=ELSEWHERE)
    assert back.ask("I am back")[-1].endswith("bob I am back")
    assert errors(alice.ask("/unban bob")) == ["BAD_ARGS"], "no ban on bob now"
    settle(alice)
    assert alice.ask("/bans")[0] == "INFO Bans in force: 1"
    close_all([alice, bob, back])
    stop_cleanly(server)


def test_bans_survive_a_restart_with_the_same_store(server_factory, tmp_path) -> None:
    store = str(tmp_path / "history.sqlite3")
    first = oper_server(server_factory, "--store", store)
    alice = operator(first.port, "alice")
    bob = v2(first.port, "bob", source=ELSEWHERE)
    alice.ask("/ban bob 60 spamming")
    bob.read_all_until_closed()
    close_all([alice, bob])
    stop_cleanly(first)

    second = oper_server(server_factory, "--store", store)
    refused = refused_at_connect(second.port, ELSEWHERE)
    assert [error_code(refused[0]), refused[1]] == ["BANNED", "BYE banned"]
    assert error_code(nick_refused(second.port, "bob")[-2]) == "BANNED"
    alice = operator(second.port, "alice")
    assert alice.ask("/bans")[0] == "INFO Bans in force: 2"
    alice.close()
    stop_cleanly(second)


def test_a_ban_expires(server_factory) -> None:
    server = oper_server(server_factory)
    alice = operator(server.port, "alice")
    bob = v2(server.port, "bob", source=ELSEWHERE)
    banned_at = time.monotonic()
    assert "INFO banned bob for 3 seconds" in alice.ask(f"/ban bob {SHORT_BAN} cool off")
    assert error_code(refused_at_connect(server.port, ELSEWHERE)[0]) == "BANNED"
    back = wait_until_welcome(server.port, "bob", ELSEWHERE)
    assert time.monotonic() - banned_at >= SHORT_BAN_MS / 1000 - 0.1, "not before it ends"
    assert back.ask("back again")[-1].endswith("bob back again")
    settle(alice)
    assert alice.ask("/bans") == ["INFO Bans in force: 0"]
    close_all([alice, bob, back])
    stop_cleanly(server)


def wait_until_welcome(port: int, nick: str, source: str = "127.0.0.1",
                       deadline_seconds: float = 30.0) -> Client:
    """Try to join as `nick` from `source` until the server lets us (a ban has expired)."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        client = Client(port, source)
        client.send_line("/hello tests 2", f"/nick {nick}")
        lines = client.read_until(lambda line: line.startswith(("BYE ", "CURRENT ")))
        if lines[-1].startswith("CURRENT "):
            return client
        assert lines[-1] == "BYE banned", lines
        client.close()
        time.sleep(0.2)  # a ban of seconds: no need to knock more often
    raise AssertionError(f"{nick} was never let back in")


# /mute and /unmute

def test_mute_stops_speaking_not_reading_until_unmute(server_factory) -> None:
    server = oper_server(server_factory)
    alice, bob = operator(server.port, "alice"), v2(server.port, "bob")
    carol = v2(server.port, "carol")
    settle(alice, bob, carol)
    assert notices(alice.ask("/mute bob")) == ["muted bob until lifted"]
    assert notices(bob.sync()) == ["muted bob until lifted"]
    settle(carol)
    refused = bob.ask("let me talk", "/me shouts", "/topic mine")
    assert errors(refused) == ["MUTED", "MUTED", "MUTED"]
    assert "you can still read" in refused[0]
    assert carol.sync() == [], "nothing of it reaches the room"
    said = carol.ask("bob, can you read this?")
    assert bob.sync() == said, "a muted person still reads"
    assert bob.ask("/msg alice sorry")[-1] == "PRIVMSG bob alice sorry", "and may /msg"
    assert notices(alice.ask("/unmute bob")) == ["unmuted bob"]
    settle(bob)
    assert bob.ask("thanks")[-1].endswith("bob thanks")
    assert errors(alice.ask("/unmute bob")) == ["BAD_ARGS"], "not muted now"
    close_all([alice, bob, carol])
    stop_cleanly(server)


def test_a_mute_with_minutes_ends_by_itself(server_factory) -> None:
    server = oper_server(server_factory)
    alice, bob = operator(server.port, "alice"), v2(server.port, "bob")
    muted_at = time.monotonic()
    assert notices(alice.ask(f"/mute bob {SHORT_BAN}")) == ["muted bob for 3 seconds"]
    settle(bob)
    assert errors(bob.ask("now?")) == ["MUTED"]
    deadline = time.monotonic() + 30
    while errors(lines := bob.ask("now?")) and time.monotonic() < deadline:
        time.sleep(0.2)  # the mute lasts seconds: no need to try more often
    assert lines[-1].endswith("bob now?")
    assert time.monotonic() - muted_at >= SHORT_BAN_MS / 1000 - 0.1
    close_all([alice, bob])
    stop_cleanly(server)


# /readonly and /slow

def test_readonly_lets_only_operators_speak_in_that_room(server_factory) -> None:
    server = oper_server(server_factory)
    alice, bob = operator(server.port, "alice"), v2(server.port, "bob")
    settle(alice, bob)
    lines = alice.ask("/readonly")  # alone: on
    assert notices(lines) == ["made the room read-only: only operators may speak"]
    settle(bob)
    refused = bob.ask("may I?", "/me raises a hand")
    assert errors(refused) == ["READ_ONLY", "READ_ONLY"]
    assert alice.ask("only me")[-1].endswith("alice only me"), "operators may speak"
    bob.send_line("/join #other")
    bob.read_until("CURRENT #other")
    assert bob.ask("here I may")[-1].endswith("bob here I may"), "other rooms are open"
    assert errors(bob.ask("/in #lobby sneaky")) == ["READ_ONLY"]
    assert notices(alice.ask("/readonly off")) == ["opened the room: everyone may speak"]
    assert bob.ask("/in #lobby at last")[-1].endswith("bob at last")
    alice.ask("/readonly on")
    assert errors(bob.ask("/in #lobby again?")) == ["READ_ONLY"]
    assert errors(alice.ask("/readonly maybe")) == ["BAD_ARGS"]
    close_all([alice, bob])
    stop_cleanly(server)


def test_slow_mode_refuses_a_line_too_soon_and_loses_nothing_silently(
        server_factory) -> None:
    server = oper_server(server_factory)
    alice, bob, carol = (operator(server.port, "alice"), v2(server.port, "bob"),
                         v2(server.port, "carol"))
    settle(alice, bob, carol)
    assert notices(alice.ask("/slow 2")) == ["set slow mode: one line every 2 seconds each"]
    settle(bob, carol)
    sent_at = time.monotonic()
    lines = bob.ask("one", "two")
    assert lines[0].endswith("bob one")
    assert error_code(lines[1]) == "SLOW_MODE" and "wait" in lines[1]
    assert [line.split(" ", 4)[-1] for line in carol.sync()] == ["bob one"], \
        "the refused line is not queued to come later"
    accepted = say_until_accepted(bob, "three")
    assert time.monotonic() - sent_at >= 1.9, "one line per 2 seconds"
    assert accepted.endswith("bob three")
    settle(alice)
    assert len(alice.ask("a", "b", "c")) == 3, "operators are not slowed"
    settle(bob, carol)
    assert notices(alice.ask("/slow 0")) == ["turned slow mode off"]
    settle(bob)
    assert len(bob.ask("four", "five")) == 2 and errors(bob.ask("six")) == []
    close_all([alice, bob, carol])
    stop_cleanly(server)


def say_until_accepted(client: Client, text: str, deadline_seconds: float = 30.0) -> str:
    """Say `text` until slow mode lets it through; its MSG line."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        lines = client.ask(text)
        if not errors(lines):
            return lines[-1]
        assert errors(lines) == ["SLOW_MODE"], lines
        time.sleep(0.1)  # slow mode is seconds long: no need to knock more often
    raise AssertionError("slow mode never let the line through")


def test_slow_mode_hint_never_says_wait_0_seconds(server_factory) -> None:
    server = oper_server(server_factory)
    alice, bob = operator(server.port, "alice"), v2(server.port, "bob")
    alice.ask("/slow 0.4")
    settle(bob)
    lines = bob.ask("one", "two")
    assert error_code(lines[1]) == "SLOW_MODE"
    assert "wait 0 " not in lines[1], lines[1]
    close_all([alice, bob])
    stop_cleanly(server)


# Every action is a room event, kept in history

def test_every_action_is_a_room_event_kept_in_the_rooms_history(server_factory) -> None:
    server = oper_server(server_factory)
    alice, watcher = operator(server.port, "alice"), v2(server.port, "watcher")
    bob, dave = v2(server.port, "bob"), v2(server.port, "dave")
    settle(alice, watcher)
    alice.ask("/op bob", "/deop bob", "/mute dave 5", "/unmute dave", "/readonly on",
              "/readonly off", "/slow 3", "/slow 0", "/kick bob shush", "/ban dave")
    seen = watcher.sync()
    assert notices(seen) == [
        "made bob an operator", "took bob's operator rights", "muted dave for 5 minutes",
        "unmuted dave", "made the room read-only: only operators may speak",
        "opened the room: everyone may speak",
        "set slow mode: one line every 3 seconds each", "turned slow mode off"]
    assert parts(seen) == [("#lobby", "bob", "kicked by alice: shush"),
                           ("#lobby", "dave", "banned by alice: no reason given")]
    assert history(watcher, "#lobby")[-len(seen):] == seen, "kept, with ids and times"
    close_all([alice, watcher, bob, dave])
    stop_cleanly(server)


def test_people_read_operator_actions_as_lines(server_factory) -> None:
    server = oper_server(server_factory)
    alice, pat = operator(server.port, "alice"), person(server.port, "pat")
    settle(alice)
    alice.ask("/readonly")
    assert pat.sync() == ["*** alice made the room read-only: only operators may speak"]
    assert pat.ask("hi")[-1].startswith("*** Error (READ_ONLY): ")
    alice.ask("/kick pat")
    assert pat.sync() == ["*** pat left (kicked by alice: no reason given)"]
    close_all([alice, pat])
    stop_cleanly(server)


# Non-operators

OPERATOR_COMMANDS = ["/op bob", "/deop bob", "/kick bob", "/kick bob why", "/ban bob",
                     "/ban 127.0.0.9 5 why", "/unban bob", "/bans", "/mute bob",
                     "/mute bob 5", "/unmute bob", "/readonly", "/readonly off",
                     "/slow 5", "/slow 0"]


def test_a_non_operator_gets_not_operator_for_each_operator_command(server_factory) -> None:
    server = oper_server(server_factory)
    mallory, bob = v2(server.port, "mallory"), v2(server.port, "bob")
    settle(bob)
    for command in OPERATOR_COMMANDS:
        assert errors(mallory.ask(command)) == ["NOT_OPERATOR"], command
    assert bob.sync() == [], "nothing happened to anyone"
    assert bob.ask("fine")[-1].endswith("bob fine")
    close_all([mallory, bob])
    stop_cleanly(server)


# --password

def test_a_person_is_asked_for_the_password_and_the_next_line_is_it(server_factory) -> None:
    server = server_factory("--flood", "off", "--password", PASSWORD)
    pat = Client(server.port)
    greeting = pat.read_until(lambda line: "needs a password" in line)
    assert greeting[-1].startswith("*** This server needs a password: type it")
    assert pat.ask("alice")[-1].startswith("*** Error (BAD_PASSWORD): wrong password"), \
        "a nickname is not taken before the password"
    assert pat.ask(PASSWORD)[-1].startswith("*** Password accepted.")
    pat.send_line("alice")
    pat.read_until("*** You are now talking in #lobby")
    assert pat.ask("hi all")[-1] == "<alice> hi all"
    pat.close()
    stop_cleanly(server)


def test_a_program_sends_pass_before_nick(server_factory) -> None:
    server = server_factory("--flood", "off", "--password", PASSWORD)
    bot = Client(server.port)
    bot.send_line("/hello tests 2")
    bot.read_until("HELLO ")
    assert bot.ask("/ping early") == ["PONG early"], "/ping works before the password"
    for line in ("/nick bot", "hello", "/join #games", "/oper x", "/who"):
        assert errors(bot.ask(line)) == ["BAD_PASSWORD"], line
    assert error_code(bot.ask("/pass nope")[0]) == "BAD_PASSWORD"
    assert bot.ask(f"/pass {PASSWORD}")[-1].startswith("INFO Password accepted.")
    bot.send_line("/nick bot")
    assert bot.read_until("CURRENT ")[0] == "WELCOME bot"
    assert bot.ask(f"/pass {PASSWORD}") == ["INFO no password is needed now"]
    bot.close()
    stop_cleanly(server)


def test_three_wrong_passwords_take_at_least_three_seconds_then_bye(server_factory) -> None:
    server = server_factory("--flood", "off", "--password", PASSWORD)
    guesser = Client(server.port)
    guesser.send_line("/hello tests 2")
    guesser.read_until("HELLO ")
    started = time.monotonic()
    guesser.send_line("/pass one", "/pass two", "/pass three", f"/pass {PASSWORD}")
    lines = guesser.read_all_until_closed()
    assert time.monotonic() - started >= 2.9, "one second, then two, between tries"
    assert errors(lines) == ["BAD_PASSWORD"] * 3
    assert lines[-1] == "BYE wrong password"
    assert not any("accepted" in line for line in lines), "nothing read after the third"
    guesser.close()
    stop_cleanly(server)


# Attacks and bad input

def test_a_hundred_wrong_tokens_in_one_write_close_after_three_and_others_are_served(
        server_factory) -> None:
    server = oper_server(server_factory)
    observer = v2(server.port, "observer")
    attacker = v2(server.port, "attacker")
    closed: dict[str, object] = {}

    def read_attacker() -> None:
        closed["lines"] = attacker.read_all_until_closed(30)
        closed["at"] = time.monotonic()

    reader = threading.Thread(target=read_attacker, daemon=True)
    reader.start()
    attacker.send_line(*(f"/oper guess{n}" for n in range(100)))
    answered = []
    for _ in range(5):
        observer.sync()
        answered.append(time.monotonic())
    reader.join(30)
    assert not reader.is_alive()
    lines = closed["lines"]
    assert errors(lines) == ["BAD_PASSWORD"] * 3, "closed after the third"
    assert lines[-1] == "BYE wrong password"
    assert max(answered) < closed["at"], "others were answered while it was held back"
    assert parts(observer.sync()) == [("#lobby", "attacker", "wrong password")]
    close_all([observer, attacker])
    stop_cleanly(server)


def test_a_hundred_wrong_passwords_in_one_write_close_after_three(server_factory) -> None:
    server = server_factory("--flood", "off", "--password", PASSWORD)
    attacker = Client(server.port)
    attacker.send_line("/hello tests 2", *(f"/pass guess{n}" for n in range(100)))
    lines = attacker.read_all_until_closed(30)
    assert errors(lines) == ["BAD_PASSWORD"] * 3
    assert lines[-1] == "BYE wrong password"
    other = Client(server.port)
    assert other.ask("/hello tests 2", f"/pass {PASSWORD}")[-1].startswith(
        "INFO Password accepted."), "one guesser does not lock others out"
    close_all([attacker, other])
    stop_cleanly(server)


IMPOSSIBLE = [  # (command, the error it gets): none of them may touch anyone
    ("/kick alice", "BAD_ARGS"),  # yourself
    ("/ban alice", "BAD_ARGS"),
    ("/mute alice", "BAD_ARGS"),
    ("/kick opal", "BAD_ARGS"),  # another operator
    ("/ban opal 5 why", "BAD_ARGS"),
    ("/mute opal", "BAD_ARGS"),
    ("/kick nobody", "NO_SUCH_NICK"),  # someone absent
    ("/ban nobody", "NO_SUCH_NICK"),
    ("/mute nobody", "NO_SUCH_NICK"),
    ("/op nobody", "NO_SUCH_NICK"),
    ("/unmute nobody", "BAD_ARGS"),
    ("/unban nobody", "BAD_ARGS"),
    ("/kick carol", "NO_SUCH_NICK"),  # in another room
    ("/ban 127.0.0.1", "BAD_ARGS"),  # your own address
    ("/ban bob -5", "BAD_ARGS"),  # durations: negative, zero, huge, not numbers
    ("/ban bob 0 why", "BAD_ARGS"),
    ("/ban bob 1e12", "BAD_ARGS"),
    ("/ban bob 1e999", "BAD_ARGS"),
    ("/mute bob -1", "BAD_ARGS"),
    ("/mute bob 0", "BAD_ARGS"),
    ("/mute bob 99999999999", "BAD_ARGS"),
    ("/mute bob soon", "BAD_ARGS"),
    ("/mute bob nan", "BAD_ARGS"),
    ("/mute bob inf", "BAD_ARGS"),
    ("/mute bob 5 extra", "BAD_ARGS"),
    ("/slow -1", "BAD_ARGS"),
    ("/slow 1e9", "BAD_ARGS"),
    ("/slow fast", "BAD_ARGS"),
    ("/slow nan", "BAD_ARGS"),
    ("/slow", "BAD_ARGS"),
    ("/readonly maybe", "BAD_ARGS"),
    ("/kick", "BAD_ARGS"),
    ("/ban", "BAD_ARGS"),
    ("/unban", "BAD_ARGS"),
    ("/op", "BAD_ARGS"),
    ("/op bob carol", "BAD_ARGS"),
]


def test_operator_commands_that_cannot_be_done_affect_nobody(server_factory) -> None:
    server = oper_server(server_factory)
    alice, opal = operator(server.port, "alice"), operator(server.port, "opal")
    bob, carol = v2(server.port, "bob"), v2(server.port, "carol")
    carol.send_line("/part")
    carol.read_until("PART ")
    settle(alice, opal, bob, carol)
    for command, code in IMPOSSIBLE:
        assert errors(alice.ask(command)) == [code], command
        for client in (opal, bob, carol):
            assert client.sync() == [], f"{command} touched someone"
    assert bob.ask("still fine")[-1].endswith("bob still fine")
    settle(alice)
    assert alice.ask("/bans") == ["INFO Bans in force: 0"]
    assert bob.ask("/who")[-1] == "USERS #lobby @alice @opal bob"
    close_all([alice, opal, bob, carol])
    stop_cleanly(server)


# The classroom

def test_a_class_with_a_read_only_room_a_slow_room_and_a_flooder_banned_briefly(
        server_factory) -> None:
    """A teacher opens #announcements (read-only) and #discussion (slow), puts out a
    flooder, bans them for three seconds, and the flooder can come back after."""
    server = server_factory("--flood", "off")
    token = wait_for_log(server, r"operator token for this run: /oper (\S+)").group(1)
    teacher = operator(server.port, "teacher", token)
    for room in ("#announcements", "#discussion"):
        teacher.send_line(f"/join {room}")
        teacher.read_until(f"CURRENT {room}")
    teacher.ask("/in #announcements /readonly on", "/slow 2")
    students = [v2(server.port, "ann"), v2(server.port, "flooder", source=ELSEWHERE)]
    for student in students:
        for room in ("#announcements", "#discussion"):
            student.send_line(f"/join {room}")
            student.read_until(f"CURRENT {room}")
    ann, flooder = students
    settle(teacher, ann, flooder)

    assert errors(ann.ask("/in #announcements me first")) == ["READ_ONLY"]
    said = teacher.ask("/in #announcements Quiz on Friday")
    assert ann.sync() == said
    assert ann.ask("a question")[-1].endswith("ann a question")
    flood = flooder.ask(*(f"spam {n}" for n in range(20)))
    assert errors(flood) == ["SLOW_MODE"] * 19, "one line through, the rest refused"
    settle(teacher, ann)

    assert parts(teacher.ask("/kick flooder enough")) == [
        ("#discussion", "flooder", "kicked by teacher: enough")]
    banned_at = time.monotonic()
    teacher.ask(f"/ban flooder {SHORT_BAN} flooding")
    assert flooder.read_all_until_closed()[-1] == "BYE banned"
    assert parts(ann.sync()) == [
        ("#discussion", "flooder", "kicked by teacher: enough"),
        ("#lobby", "flooder", "banned by teacher: flooding"),
        ("#announcements", "flooder", "banned by teacher: flooding")]
    assert error_code(refused_at_connect(server.port, ELSEWHERE)[0]) == "BANNED"

    back = wait_until_welcome(server.port, "flooder", ELSEWHERE)
    assert time.monotonic() - banned_at >= SHORT_BAN_MS / 1000 - 0.1
    back.send_line("/join #discussion")
    back.read_until("CURRENT #discussion")
    assert back.ask("sorry")[-1].endswith("flooder sorry")
    close_all([teacher, *students, back])
    stop_cleanly(server)


def test_a_leaving_reason_cannot_pass_for_a_kick_or_a_ban(server_factory) -> None:
    server = server_factory("--flood", "off")
    watcher = LineClient(server.port)
    watcher.send_line("/hello tests 2", "/nick watcher", "/join #games")
    watcher.read_until("CURRENT #games")
    faker = LineClient(server.port)
    faker.send_line("/hello tests 2", "/nick faker", "/join #games")
    faker.read_until("CURRENT #games")
    faker.send_line("/part #games kicked by teacher: too loud", "/quit Banned by teacher: x")
    assert watcher.read_until("PART #games")[-1].endswith('faker "kicked by teacher: too loud"')
    assert watcher.read_until("PART #lobby")[-1].endswith('faker "Banned by teacher: x"')
    close_all([watcher, faker])
    assert server.stop() == 0
