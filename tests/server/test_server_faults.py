"""Faults and load over real sockets: resets, half-closes, vanishing peers, a line that never
ends, running out of file descriptors, and thousands of clients at once."""

from __future__ import annotations

import os
import resource
import socket
import struct
import time

import pytest

from chat_testing import LineClient, close_all, machine_client

PAGE_SIZE = resource.getpagesize()


def _reset(client: LineClient) -> None:
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.sock.close()


def _resident_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_reset_client_leaves_as_connection_lost(server) -> None:
    alice = machine_client(server.port, "alice")
    bob = machine_client(server.port, "bob")
    _reset(bob)
    assert alice.read_until("PART")[-1] == "PART bob connection lost"
    alice.send_line("/who")
    assert alice.read_until("USERS")[-1] == "USERS alice"
    alice.close()


def test_half_closed_client_has_its_lines_relayed_before_it_leaves(server) -> None:
    alice = machine_client(server.port, "alice")
    talker = LineClient(server.port)  # like: printf 'bob\nhi\n' | nc -N HOST PORT
    talker.send_line("bob", "hi", "/who", "bye now")
    talker.sock.shutdown(socket.SHUT_WR)
    lines = alice.read_until("PART")
    assert lines[-4:] == ["JOIN bob", "MSG bob hi", "MSG bob bye now",
                          "PART bob connection lost"]
    # The half-closed side still gets what it was owed, then the server closes.
    replies = talker.read_all_until_closed()
    assert "*** In #lobby (2): alice, bob" in replies
    close_all([alice, talker])


def test_client_vanishing_mid_send_is_removed_cleanly(server) -> None:
    alice = machine_client(server.port, "alice")
    victim = machine_client(server.port, "victim", receive_buffer=4096)
    alice.send_line(*[f"{number} " + "z" * 1000 for number in range(1500)])
    alice.read_until("MSG alice 1499 ")  # the victim's buffers are full by now
    _reset(victim)
    assert alice.read_until("PART")[-1] == "PART victim connection lost"
    newcomer = machine_client(server.port, "newcomer")  # still serving
    assert alice.read_until("JOIN")[-1] == "JOIN newcomer"
    close_all([alice, newcomer])
    assert server.stop() == 0
    assert "Traceback" not in server.stderr_text()


def test_client_that_connects_and_never_speaks_does_not_block_anyone(server) -> None:
    silent = socket.create_connection(("127.0.0.1", server.port))
    alice = machine_client(server.port, "alice")
    bob = machine_client(server.port, "bob")
    bob.send_line("hello")
    assert alice.read_until("MSG")[-1] == "MSG bob hello"
    close_all([alice, bob])
    silent.close()


def test_ten_megabytes_without_newline_keeps_memory_flat(server) -> None:
    alice = machine_client(server.port, "alice")
    before = _resident_bytes(server.pid)
    chunk = b"a" * 65536
    for _ in range(160):  # 10 MiB, no LF
        alice.send(chunk)
    assert alice.read_line().startswith("ERROR LINE_TOO_LONG ")  # once, at the limit
    alice.send(b"\n/ping alive\n")
    assert alice.read_line() == "PONG alive"  # no second error, connection kept
    growth = _resident_bytes(server.pid) - before
    assert growth < 4 * 1024 * 1024, f"server grew by {growth} bytes"
    alice.close()


def test_accept_survives_running_out_of_file_descriptors(server_factory) -> None:
    def low_descriptor_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))

    # (History in memory: the store's file, log and index would take three of the forty.)
    # One listener, so one acceptor meets the shortage (each would log it once).
    server = server_factory("--flood", "off", "--store", "none", "--web-port", "off",
                            "--irc-port", "off", preexec_fn=low_descriptor_limit)
    clients = []
    for _ in range(60):  # more than the server can hold open: the rest wait in the backlog
        client = LineClient(server.port)
        clients.append(client)
    cpu_before = _cpu_seconds(server.pid)
    time.sleep(1.5)
    cpu_used = _cpu_seconds(server.pid) - cpu_before
    assert cpu_used < 0.5, f"the server spun while out of descriptors ({cpu_used:.2f}s CPU)"
    for client in clients[:30]:  # free descriptors: service resumes by itself
        client.close()
    greeted = [client.read_line(timeout=20) for client in clients[-5:]]
    assert all(line.startswith("*** Welcome") for line in greeted)
    newcomer = machine_client(server.port, "newcomer")
    newcomer.send_line("/who")
    assert newcomer.read_until("USERS")[-1] == "USERS newcomer"
    close_all([*clients, newcomer])
    assert server.stop() == 0
    stderr = server.stderr_text()
    assert stderr.count("cannot accept") == 1  # taken, and logged once, not every retry
    assert "accepting connections again" in stderr
    assert "Traceback" not in stderr


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_thousand_concurrent_joined_clients(server_factory) -> None:
    count = 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < count + 100:
        pytest.skip(f"needs {count + 100} file descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = server_factory("--flood", "off", "--max-clients", str(count + 10))
    clients: list[LineClient] = []
    try:
        for index in range(count):
            client = LineClient(server.port)
            client.send_line("/hello tests 1", f"/nick u{index}")
            clients.append(client)
        for index, client in enumerate(clients):  # each sees itself join
            client.read_until(f"JOIN u{index}", timeout=120)
        clients[0].send_line("/who", "the end")
        users = clients[0].read_until("USERS", timeout=60)[-1].split()[1:]
        assert users == [f"u{index}" for index in range(count)]  # join order
        for client in clients:
            assert client.read_until("MSG u0 ", timeout=60)[-1] == "MSG u0 the end"
    finally:
        close_all(clients)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
