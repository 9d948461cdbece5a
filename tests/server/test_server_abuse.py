"""Abuse controls over real sockets: a cap per address, and a deadline for joining."""

from __future__ import annotations

from chat_testing import LineClient, close_all, machine_client


def test_explicit_per_address_cap_applies_to_loopback(server_factory) -> None:
    server = server_factory("--flood", "off", "--max-per-address", "2")
    first, second = machine_client(server.port, "a"), machine_client(server.port, "b")
    third = LineClient(server.port)
    lines = third.read_all_until_closed()
    assert lines[0].startswith("ERROR SERVER_FULL too many connections from 127.0.0.1")
    assert lines[-1] == "BYE too many connections from your address"
    first.send_line("hello")  # the others are untouched
    assert second.read_until("MSG")[-1] == "MSG a hello"
    close_all([first, second, third])


def test_loopback_is_not_capped_by_default(server) -> None:
    clients = [machine_client(server.port, f"u{index}") for index in range(40)]
    clients[0].send_line("/who")
    assert len(clients[0].read_until("USERS")[-1].split()) == 41
    close_all(clients)


def test_connection_that_never_joins_is_closed_after_the_join_timeout(server_factory) -> None:
    server = server_factory("--flood", "off", "--join-timeout", "0.5")
    lurker = LineClient(server.port)
    member = machine_client(server.port, "member")
    lines = lurker.read_all_until_closed(timeout=10)
    assert lines[-1] == "*** Goodbye: no nickname chosen in time"
    member.send_line("/ping kept")  # a member who joined in time is kept
    assert member.read_until("PONG")[-1] == "PONG kept"
    close_all([lurker, member])
