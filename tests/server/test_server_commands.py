"""Every row of the contract, over real sockets on 127.0.0.1 against `python -m chat_server`."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from chat_testing import LineClient, close_all, machine_client


def test_listening_line_names_the_real_port(server) -> None:
    assert any(f"listening on 127.0.0.1:{server.port}" in line
               for line in server.startup_output)
    assert server.port != 0


def test_all_interfaces_prints_ready_to_copy_join_lines(server_factory) -> None:
    # Bound to every interface, the server lists the LAN addresses people can use.
    command = [sys.executable, "-m", "chat_server", "--host", "0.0.0.0", "--port", "0",
               "--no-announce"]  # tests never multicast on a real network
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        first = process.stdout.readline()  # type: ignore[union-attr]
        assert "listening on 0.0.0.0:" in first
        port = first.rsplit(":", 1)[1].strip()
        rest = []
        for _ in range(3):
            rest.append(process.stdout.readline())  # type: ignore[union-attr]
    finally:
        process.terminate()
        try:
            assert process.wait(10) == 0
        finally:
            if process.poll() is None:  # never leave a server behind, even on failure
                process.kill()
                process.wait(10)
    joined = "".join(rest)
    assert f"chat-client " in joined and f"nc " in joined and f" {port}" in joined


def test_machine_join_gets_welcome_users_then_join(server) -> None:
    alice = machine_client(server.port, "alice")
    bob = machine_client(server.port)
    bob.send_line("/nick bob")
    assert bob.read_line() == "WELCOME bob"
    assert bob.read_line() == "USERS alice bob"
    assert bob.read_line() == "JOIN bob"
    assert alice.read_line() == "JOIN bob"
    close_all([alice, bob])


def test_hello_answers_server_name_and_version(server) -> None:
    client = LineClient(server.port)
    client.send_line("/hello tests 1")
    lines = client.read_until("HELLO ")
    assert lines[-1] == "HELLO testroom 1"
    client.close()


def test_talker_style_first_line_is_the_nickname(server) -> None:
    watcher = machine_client(server.port, "watcher")
    person = LineClient(server.port)
    person.read_until("*** Welcome to testroom")
    person.send_line("alice", "hello there")
    assert watcher.read_line() == "JOIN alice"
    assert watcher.read_line() == "MSG alice hello there"
    seen = person.read_until("<alice> hello there")
    assert any("alice joined" in line for line in seen)
    close_all([watcher, person])


def test_human_rendering_of_room_events(server) -> None:
    person = LineClient(server.port)
    person.send_line("carol")
    person.read_until("*** carol joined")
    other = machine_client(server.port, "dave")
    other.send_line("/me waves", "hi carol", "/nick dan", "/msg carol psst", "/quit gone")
    lines = person.read_until(lambda line: "left" in line)
    assert "*** dave joined" in lines
    assert "* dave waves" in lines
    assert "<dave> hi carol" in lines
    assert "*** dave is now known as dan" in lines
    assert "*dan* psst" in lines
    assert "*** dan left (gone)" in lines
    close_all([person, other])


def test_messages_actions_nick_changes_reach_everyone(server) -> None:
    alice = machine_client(server.port, "alice")
    bob = machine_client(server.port, "bob")
    alice.read_until("JOIN bob")
    alice.send_line("hello", "/me waves", "//slash", "/nick alicia")
    for client in (alice, bob):
        assert client.read_line() == "MSG alice hello"
        assert client.read_line() == "ACTION alice waves"
        assert client.read_line() == "MSG alice /slash"
        assert client.read_line() == "NICK alice alicia"
    close_all([alice, bob])


def test_private_message_goes_to_both_and_no_one_else(server) -> None:
    alice = machine_client(server.port, "alice")
    bob = machine_client(server.port, "bob")
    carol = machine_client(server.port, "carol")
    alice.send_line("/msg BOB a secret", "public")
    assert alice.read_until("PRIVMSG")[-1] == "PRIVMSG alice bob a secret"
    assert bob.read_until("PRIVMSG")[-1] == "PRIVMSG alice bob a secret"
    assert carol.read_until("MSG alice public")[-1] == "MSG alice public"
    alice.send_line("/msg nobody hi")
    assert alice.read_until("ERROR")[-1].startswith("ERROR NO_SUCH_NICK ")
    close_all([alice, bob, carol])


def test_who_ping_help_work_before_joining(server) -> None:
    alice = machine_client(server.port, "alice")
    guest = machine_client(server.port)
    guest.send_line("/WHO", "/ping abc 123", "/ping", "/Help")
    assert guest.read_line() == "USERS alice"
    assert guest.read_line() == "PONG abc 123"
    assert guest.read_line().rstrip() == "PONG"
    help_lines = guest.read_until(lambda line: "//text" in line)
    assert all(line.startswith("INFO ") for line in help_lines)
    for command in ("/nick", "/me", "/msg", "/who", "/quit", "/ping", "/help", "/hello"):
        assert any(command in line for line in help_lines), command
    close_all([alice, guest])


@pytest.mark.parametrize(("line", "code"), [
    ("hello before joining", "NOT_JOINED"),
    ("/me waves", "NOT_JOINED"),
    ("/msg alice hi", "NOT_JOINED"),
    ("/frobnicate", "UNKNOWN_COMMAND"),
    ("/nick", "BAD_ARGS"),
    ("/msg alice", "BAD_ARGS"),
    ("/hello", "BAD_ARGS"),
    ("/nick bad nick!", "BAD_NICK"),
    ("/nick " + "x" * 17, "BAD_NICK"),
    ("/nick ALICE", "NICK_IN_USE"),
])
def test_errors_have_their_codes_and_keep_the_connection(server, line: str, code: str) -> None:
    alice = machine_client(server.port, "alice")
    client = machine_client(server.port)
    client.send_line(line)
    assert client.read_line().startswith(f"ERROR {code} ")
    client.send_line("/ping still-here")  # the connection is kept
    assert client.read_line() == "PONG still-here"
    close_all([alice, client])


def test_unicode_nicknames_and_nfkc_lookalikes(server) -> None:
    zhang = machine_client(server.port, "张三")
    impostor = machine_client(server.port)
    impostor.send_line("/nick 张三")
    assert impostor.read_line().startswith("ERROR NICK_IN_USE")
    bob = machine_client(server.port, "bob")
    impostor.send_line("/nick ｂｏｂ")  # full-width letters: the same name as bob
    assert impostor.read_line().startswith("ERROR NICK_IN_USE")
    close_all([zhang, impostor, bob])


def test_quit_tells_the_room_and_says_bye_last(server) -> None:
    alice = machine_client(server.port, "alice")
    bob = machine_client(server.port, "bob")
    bob.send_line("/quit")
    assert bob.read_all_until_closed()[-1] == "BYE quit"
    assert alice.read_until("PART")[-1] == "PART bob quit"
    carol = machine_client(server.port, "carol")
    carol.send_line("/quit see you")
    assert carol.read_all_until_closed()[-1] == "BYE see you"
    assert alice.read_until("PART")[-1] == "PART carol see you"
    close_all([alice])


def test_quit_before_joining_closes_quietly(server) -> None:
    client = LineClient(server.port)
    client.send_line("/quit")
    lines = client.read_all_until_closed()
    assert lines[-1] == "*** Goodbye: quit"


def test_escape_sequences_are_removed_from_relayed_text(server) -> None:
    alice = machine_client(server.port, "alice")
    attacker = machine_client(server.port, "mallory")
    alice.read_until("JOIN mallory")
    attacker.send_line("/me \x1b[2J\x1b]0;pwned\x07clears \x9b31mthe\x07 screen\u202e!")
    assert alice.read_line() == "ACTION mallory clears the screen!"
    close_all([alice, attacker])


def test_telnet_negotiation_is_ignored(server) -> None:
    watcher = machine_client(server.port, "watcher")
    telnet = LineClient(server.port)
    telnet.send(b"\xff\xfd\x03\xff\xfb\x18\xff\xfa\x18\x00xterm\xff\xf0tel\xff\xf1net\r\n")
    assert watcher.read_line() == "JOIN telnet"
    close_all([watcher, telnet])


def test_crlf_and_empty_lines(server) -> None:
    alice = machine_client(server.port, "alice")
    alice.send(b"\r\n\n/ping one\r\n\n\n/ping two\n")
    assert alice.read_line() == "PONG one"
    assert alice.read_line() == "PONG two"
    alice.close()


def test_overlong_line_is_refused_once_and_the_connection_kept(server) -> None:
    alice = machine_client(server.port, "alice")
    alice.send(b"x" * 2048 + b"\n")  # exactly the limit: fine
    assert alice.read_line() == "MSG alice " + "x" * 2048
    alice.send(b"y" * 5000)  # past the limit, no LF yet: refused at once
    assert alice.read_line().startswith("ERROR LINE_TOO_LONG ")
    alice.send(b"y" * 5000 + b"\n/ping after\n")
    assert alice.read_line() == "PONG after"  # one error only, then back to normal
    alice.send(b"z" * 2048 + b"\r\n")  # the CR counts: 2,049 bytes
    assert alice.read_line().startswith("ERROR LINE_TOO_LONG ")
    alice.close()


def test_invalid_utf8_is_refused_and_the_connection_kept(server) -> None:
    alice = machine_client(server.port, "alice")
    alice.send(b"bad \xc3\x28 bytes\n/ping ok\n")
    assert alice.read_line().startswith("ERROR BAD_ENCODING ")
    assert alice.read_line() == "PONG ok"
    alice.close()


def test_max_clients_turns_away_with_server_full(server_factory) -> None:
    server = server_factory("--max-clients", "2", "--flood", "off")
    first, second = machine_client(server.port, "a"), machine_client(server.port, "b")
    third = LineClient(server.port)
    lines = third.read_all_until_closed()
    assert lines[0].startswith("ERROR SERVER_FULL ")
    assert lines[-1] == "BYE server full"
    second.send_line("/quit")
    second.read_all_until_closed()
    second.close()
    fourth = _connect_when_there_is_room(server.port)  # room again once someone left
    fourth.send_line("/nick d")
    assert first.read_until("JOIN d")[-1] == "JOIN d"
    close_all([first, fourth])


def _connect_when_there_is_room(port: int, attempts: int = 50) -> LineClient:
    # The server frees a slot once the leaver's connection is fully closed, which takes
    # a moment after BYE: retry a bounded number of times.
    for _ in range(attempts):
        client = LineClient(port)
        client.send_line("/hello tests 1")
        first_line = client.read_line()
        if not first_line.startswith("ERROR SERVER_FULL"):
            client.read_until("HELLO ")
            return client
        client.close()
        time.sleep(0.1)
    raise AssertionError("the server never had room again")


@pytest.mark.parametrize("args", [
    ["--port", "99999"], ["--port", "http"], ["--max-clients", "0"],
    ["--flood", "fast"], ["--flood", "0/5"], ["--outbox-limit", "-1"],
    ["--max-per-address", "-1"], ["--join-timeout", "nan"], ["--join-timeout", "soon"],
])
def test_bad_command_line_gives_a_clear_error(args: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "chat_server", *args],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_gives_a_clear_error(server) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chat_server", "--host", "127.0.0.1", "--port", str(server.port)],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "cannot listen" in result.stderr
    assert "Traceback" not in result.stderr
