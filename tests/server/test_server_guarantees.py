"""The contract's guarantees, over real sockets: one order, nothing lost, slow clients cut
off without hurting others, flood control that delays but never drops, clean shutdown."""

from __future__ import annotations

import selectors
import signal
import socket
import threading
import time

import pytest

from chat_testing import LineClient, close_all, machine_client


def _read_lines_from_all(clients: list[LineClient], until, timeout: float = 60.0) -> dict:  # type: ignore[no-untyped-def]
    """Read from every client at once (so none stalls the server) until `until(lines)`."""
    lines: dict[LineClient, list[str]] = {client: [] for client in clients}
    selector = selectors.DefaultSelector()
    for client in clients:
        client.sock.setblocking(False)
        selector.register(client.sock, selectors.EVENT_READ, client)
    deadline = time.monotonic() + timeout
    try:
        while not all(until(lines[client]) for client in clients):
            assert time.monotonic() < deadline, "clients did not receive everything in time"
            for key, _ in selector.select(0.5):
                client = key.data
                data = client.sock.recv(1 << 20)
                assert data, "the server closed a connection unexpectedly"
                lines[client].extend(item.text for item in client._framer.feed(data)
                                     if hasattr(item, "text"))
    finally:
        selector.close()
        for client in clients:
            client.sock.setblocking(True)
    return lines


def test_ten_clients_fifty_messages_one_order(server) -> None:
    clients = [machine_client(server.port, f"user{index}") for index in range(10)]
    for client in clients[:-1]:  # everyone has seen the last JOIN: from here, one transcript
        client.read_until("JOIN user9")
    for round_number in range(50):
        for index, client in enumerate(clients):
            client.send_line(f"message {round_number} from {index}")
    expected_total = 50 * 10
    transcripts = _read_lines_from_all(
        clients, lambda lines: sum(line.startswith("MSG ") for line in lines) >= expected_total)
    orders = [[line for line in transcripts[client] if line.startswith("MSG ")]
              for client in clients]
    assert all(len(order) == expected_total for order in orders)
    assert all(order == orders[0] for order in orders)  # one global order
    for index in range(10):  # and each sender's own messages in the order it sent them
        own = [line for line in orders[0] if line.endswith(f" from {index}")]
        assert own == [f"MSG user{index} message {n} from {index}" for n in range(50)]
    close_all(clients)


def test_client_that_never_reads_is_cut_off_as_too_slow(server_factory) -> None:
    server = server_factory("--flood", "off", "--outbox-limit", "65536")
    stuck = machine_client(server.port, "stuck", receive_buffer=4096)
    readers = [machine_client(server.port, f"reader{index}") for index in range(3)]
    talker = readers[0]
    for reader in readers[:-1]:
        reader.read_until("JOIN reader2")
    payload = "x" * 1000
    count = 3000  # ~3 MB: far past what the kernel buffers plus 64 KiB of outbox can hold
    lines = [f"{number} {payload}" for number in range(count)]
    # Send from a thread while this one reads: every reader, the talker included, must
    # keep up, or it would (rightly) be cut off too.
    sender = threading.Thread(target=lambda: talker.send_line(*lines), daemon=True)
    sender.start()

    def finished(lines: list[str]) -> bool:
        return any(line.startswith(f"MSG reader0 {count - 1} ") for line in lines)

    transcripts = _read_lines_from_all(readers, finished)
    sender.join(10)
    for reader in readers:
        messages = [line for line in transcripts[reader] if line.startswith("MSG ")]
        assert [int(line.split()[2]) for line in messages] == list(range(count))  # nothing lost
        assert "PART stuck too slow" in transcripts[reader]
    # The stuck client was disconnected: reading what it has ends with EOF.
    stuck.sock.settimeout(10)
    received = b""
    while chunk := stuck.sock.recv(1 << 20):
        received += chunk
    assert len(received) < count * len(payload)
    close_all([stuck, *readers])


def test_flood_control_delays_but_never_drops(server_factory) -> None:
    server = server_factory("--flood", "5/10")  # a burst of 5, then 10 lines a second
    flooder = machine_client(server.port, "flooder")
    watcher = machine_client(server.port, "watcher")
    flooder.read_until("JOIN watcher")
    started = time.monotonic()
    flooder.send_line(*[f"flood {number}" for number in range(25)])
    watcher.send_line("still responsive")
    lines = watcher.read_until("MSG flooder flood 24", timeout=30)
    elapsed = time.monotonic() - started
    floods = [line for line in lines if line.startswith("MSG flooder")]
    assert floods == [f"MSG flooder flood {number}" for number in range(25)]  # none dropped
    # 20 lines past the burst at 10 a second: the last cannot arrive before ~2 s.
    assert elapsed >= 1.5
    # The room stayed responsive: the watcher's line was relayed before the flood ended.
    assert lines.index("MSG watcher still responsive") < lines.index("MSG flooder flood 24")
    close_all([flooder, watcher])


def test_flood_control_counts_commands_too(server_factory) -> None:
    server = server_factory("--flood", "2/4")
    client = machine_client(server.port)
    started = time.monotonic()
    client.send_line(*[f"/ping {number}" for number in range(10)])
    lines = client.read_until("PONG 9", timeout=30)
    assert [line for line in lines if line.startswith("PONG")] == \
        [f"PONG {number}" for number in range(10)]
    assert time.monotonic() - started >= 1.5  # 10 lines, /hello included: ~2 s at 4/s
    client.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_says_bye_to_everyone_and_exits_zero(server_factory, signum: int) -> None:
    server = server_factory("--flood", "off")
    joined = machine_client(server.port, "alice")
    lurker = machine_client(server.port)
    person = LineClient(server.port)
    person.read_line()
    time.sleep(0.2)  # let the server register the last connection
    server.signal(signum)
    assert joined.read_all_until_closed()[-1] == "BYE server shutting down"
    assert lurker.read_all_until_closed()[-1] == "BYE server shutting down"
    assert person.read_all_until_closed()[-1] == "*** Goodbye: server shutting down"
    assert server.process.wait(15) == 0
    assert "Traceback" not in server.stderr_text()
    close_all([joined, lurker, person])


def test_shutdown_flushes_queued_output_first(server) -> None:
    alice = machine_client(server.port, "alice")
    bob = machine_client(server.port, "bob")
    alice.read_until("JOIN bob")
    bob.send_line(*[f"line {number}" for number in range(200)])
    bob.read_until("MSG bob line 199")
    server.signal(signal.SIGTERM)
    lines = alice.read_all_until_closed()
    assert [line for line in lines if line.startswith("MSG")] == \
        [f"MSG bob line {number}" for number in range(200)]
    assert lines[-1] == "BYE server shutting down"
    assert server.process.wait(15) == 0
    close_all([alice, bob])


def test_shutdown_ends_within_its_deadline_despite_a_stuck_client(server_factory) -> None:
    server = server_factory("--flood", "off")
    stuck = machine_client(server.port, "stuck", receive_buffer=4096)
    talker = machine_client(server.port, "talker")
    for number in range(2000):  # fill the stuck client's kernel buffers and its outbox
        talker.send_line(f"{number} " + "y" * 500)
    talker.read_until("MSG talker 1999 ", timeout=30)
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.process.wait(15) == 0
    assert time.monotonic() - started < 10  # the flush deadline is ~2 s
    close_all([stuck, talker])


def test_new_connections_during_shutdown_are_refused(server) -> None:
    client = machine_client(server.port, "alice")
    server.signal(signal.SIGTERM)
    client.read_all_until_closed()
    server.process.wait(15)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).recv(1)


def test_sigterm_right_after_the_listening_line_is_never_lost(server_factory) -> None:
    # Whoever sees `listening on` may signal at once: by then the signal must be handled.
    for _ in range(10):
        server = server_factory()
        server.signal(signal.SIGTERM)
        assert server.process.wait(10) == 0
