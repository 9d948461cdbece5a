"""Faults and abuse over real sockets, each set up so the server is caught in the exact
state the fault is about (checked with `/stats`), then released:

- writing to a peer that is gone, while its reader is asleep and cannot notice;
- a reset while the server's writer is blocked in the middle of a send;
- SIGTERM while a slow client holds a full outbox, not just full kernel buffers;
- clients hosing bytes that never make a line (telnet negotiation, empty lines, one
  endless line), which flood control does not count: the others are still served;
- a client that asks for more than its outbox limit of replies and never reads them;
- what is owed to a client cut off as too slow, as /stats counts it.
"""

from __future__ import annotations

import signal
import socket
import threading
import time

from chat_server.outbox import Outbox
from chat_testing import LineClient, close_all, machine_client
from process_probes import (
    expected_tasks, open_descriptors, resident_bytes, reset, stats, wait_for_descriptors,
    wait_for_stats,
)

SETTLE_TIMEOUT = 30.0  # for a condition polled on a busy machine: a bound, not a measure


def test_writing_to_a_peer_that_is_gone_ends_its_session_at_once(server_factory) -> None:
    # A burst of 3 lines, then one line every 100 s: the victim's reader sleeps through
    # its 4th line, so only its writer can find out that the peer is gone.
    reader_sleeps = 100.0
    server = server_factory("--flood", f"3/{1 / reader_sleeps}")
    watcher = machine_client(server.port, "watcher")
    descriptors_with_one_client = open_descriptors(server.pid)
    victim = machine_client(server.port, "victim")  # /hello and /nick: 2 lines
    victim.send_line("first", "held back by flood control")
    watcher.read_until("MSG victim first")
    time.sleep(0.3)  # the victim's reader is now asleep for ~20 s
    reset(victim.sock)  # the peer is gone; nothing reads the RST yet
    time.sleep(1)
    watcher.send_line("/ping nobody noticed")  # (the watcher's third line: no flood delay)
    assert "PART victim connection lost" not in watcher.read_until("PONG")
    started = time.monotonic()
    talker = machine_client(server.port, "talker")  # its JOIN is queued for the victim too
    lines = watcher.read_until("PART victim", timeout=reader_sleeps / 2)
    assert lines[-1] == "PART victim connection lost"
    # Far sooner than the reader's wake-up, however busy the machine.
    assert time.monotonic() - started < reader_sleeps / 2, "found out only when it woke"
    assert "MSG victim held back by flood control" not in lines  # that line went with it
    # The writer that met the reset closes the victim's socket and the session's tasks end
    # with it: wait for the socket to be gone, then count exactly.
    expected = descriptors_with_one_client + 1  # the watcher's and the talker's
    assert wait_for_descriptors(server.pid, expected, SETTLE_TIMEOUT) == expected
    figures = stats(talker)  # (the talker's third line: the watcher has used its burst)
    assert figures["clients"] == "2" and figures["tasks"] == str(expected_tasks(2))
    close_all([watcher, talker])
    assert server.stop() == 0
    assert "Traceback" not in server.stderr_text()


def _fill_until_writer_blocks(talker: LineClient, asker: LineClient, count: int) -> dict:
    """Send `count` 1 KB messages and return `/stats` once a writer is blocked mid-send."""
    talker.send_line(*[f"{number} " + "z" * 1000 for number in range(count)])
    talker.read_until(f"MSG talker {count - 1} ", timeout=60)
    asker.read_until(f"MSG talker {count - 1} ", timeout=60)
    return wait_for_stats(asker, lambda f: f["send_wait"] == "1", timeout=10)


def test_reset_while_the_server_is_blocked_mid_send(server_factory) -> None:
    server = server_factory("--flood", "off", "--outbox-limit", str(64 << 20))
    victim = machine_client(server.port, "victim", receive_buffer=4096)
    talker = machine_client(server.port, "talker")
    asker = machine_client(server.port, "asker")
    figures = _fill_until_writer_blocks(talker, asker, 6000)
    assert figures["send_wait"] == "1"  # the victim's writer waits with a send half done
    assert int(figures["outbox_max"]) > 1 << 20  # and more is queued behind it
    reset(victim.sock)
    assert asker.read_until("PART", timeout=10)[-1] == "PART victim connection lost"
    figures = wait_for_stats(asker, lambda f: f["tasks"] == str(expected_tasks(2)),
                             SETTLE_TIMEOUT)
    assert figures["tasks"] == str(expected_tasks(2))
    assert figures["outbox_bytes"] == "0"  # what was owed to the victim is gone with it
    close_all([talker, asker])
    assert server.stop() == 0
    assert "Traceback" not in server.stderr_text()


def test_sigterm_with_a_full_outbox_ends_within_the_flush_deadline(server_factory) -> None:
    server = server_factory("--flood", "off", "--outbox-limit", str(64 << 20))
    stuck = machine_client(server.port, "stuck", receive_buffer=4096)
    talker = machine_client(server.port, "talker")
    asker = machine_client(server.port, "asker")
    figures = _fill_until_writer_blocks(talker, asker, 6000)
    assert int(figures["outbox_max"]) > 1 << 20  # megabytes queued for a client not reading
    server.signal(signal.SIGTERM)
    # `stuck` never reads: without the flush deadline (~2 s) the server would wait for it
    # for ever. How long the rest takes is the machine's business, hence a wide margin.
    assert server.process.wait(SETTLE_TIMEOUT) == 0
    for client in (talker, asker):  # the others were told, and flushed
        assert client.read_all_until_closed()[-1] == "BYE server shutting down"
    assert "Traceback" not in server.stderr_text()
    close_all([stuck, talker, asker])


HOSE_PAYLOADS = {
    "telnet": b"\xff\xf1" * 32768,  # IAC NOP: removed before framing, never a line
    "empty lines": b"\n" * 65536,  # ignored, so not counted by flood control
    "endless line": b"x" * 65536,  # one line past the limit, discarded as it comes
}


def test_clients_hosing_bytes_that_make_no_line_do_not_starve_the_room(server_factory) -> None:
    server = server_factory()  # default flood control: it counts lines, not bytes
    pinger = machine_client(server.port, "pinger")
    stop = threading.Event()
    hosed = dict.fromkeys(HOSE_PAYLOADS, 0)

    def hose(name: str) -> None:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.settimeout(0.5)
            while not stop.is_set():
                try:
                    sock.sendall(HOSE_PAYLOADS[name])
                    hosed[name] += len(HOSE_PAYLOADS[name])
                except OSError:  # a full socket (timeout) or a closed one: try again
                    pass

    hoses = [threading.Thread(target=hose, args=(name,), daemon=True)
             for name in HOSE_PAYLOADS for _ in range(2)]
    for thread in hoses:
        thread.start()
    try:
        _wait_until_every_hose_has_sent(hosed, timeout=SETTLE_TIMEOUT)
        at_first_ping = dict(hosed)
        latencies = []
        for number in range(12):  # under the flood limit: 12 pings over ~3 s
            started = time.monotonic()
            pinger.send_line(f"/ping {number}")
            # A starved pinger waits as long as the hoses go on, which is until this loop
            # ends: a wait this long is a hang, not a slow machine.
            assert pinger.read_until("PONG", timeout=SETTLE_TIMEOUT)[-1] == f"PONG {number}"
            latencies.append(time.monotonic() - started)
            time.sleep(0.25)
        at_last_pong = dict(hosed)
    finally:
        stop.set()
        for thread in hoses:
            thread.join(5)
    print(f"ping latency under the hoses: max {max(latencies):.3f}s; MB hosed: "
          + ", ".join(f"{name} {count / 1e6:.0f}" for name, count in hosed.items()))
    # Every ping was answered while every hose was still pouring: served alongside them,
    # not in a lull.
    for name in HOSE_PAYLOADS:
        assert at_last_pong[name] > at_first_ping[name], f"the {name} hose stalled"
    pinger.close()
    assert server.stop() == 0
    assert "Traceback" not in server.stderr_text()


def _wait_until_every_hose_has_sent(hosed: dict[str, int], timeout: float) -> None:
    """Until every hose has had 10 of its payloads taken, so all of them are under way."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(count > 10 * len(HOSE_PAYLOADS[name]) for name, count in hosed.items()):
            return
        time.sleep(0.05)
    raise AssertionError(f"the hoses hardly sent: {hosed}")


def test_replies_a_client_never_reads_stay_within_its_outbox_limit(server_factory) -> None:
    limit = 65536
    server = server_factory("--flood", "off", "--outbox-limit", str(limit))
    asker = machine_client(server.port, "asker")
    before = resident_bytes(server.pid)
    greedy = LineClient(server.port, receive_buffer=4096)
    greedy.send(b"/help\n" * 10000)  # 60 KB asking for ~7 MB of help, never read
    time.sleep(2)
    figures = stats(asker)
    growth = resident_bytes(server.pid) - before
    close_all([asker, greedy])
    # One reply past the limit is allowed (the limit is checked after each is queued);
    # a /help is well under 2 KB.
    assert int(figures["outbox_max"]) <= limit + 2048, f"owes {figures['outbox_max']} bytes"
    assert growth < 8 << 20, f"the server grew by {growth >> 20} MiB"


def test_what_is_owed_to_a_client_cut_off_never_goes_negative() -> None:
    outbox = Outbox(limit=64)
    outbox.put(b"x" * 100)
    in_flight = outbox.take()  # the writer took it, and the kernel took 10 bytes of it
    outbox.sent(10)
    outbox.replace_with(b"BYE too slow\n")  # cut off: queued output dropped, BYE queued
    outbox.sent(len(in_flight) - 10)  # the client read after all; the chunk drains
    assert outbox.size == len(b"BYE too slow\n")  # what is still owed: the BYE


def test_lines_held_back_by_flood_control_cost_no_more_than_the_bytes_read(
    server_factory
) -> None:
    server = server_factory()  # the default flood control: 10 lines, then 5 a second
    time.sleep(0.3)
    before = resident_bytes(server.pid)
    flooders = []
    for _ in range(20):
        flooder = LineClient(server.port)
        flooder.send(b"ab\n" * 21845)  # 64 KiB: one read's worth of the shortest lines
        flooders.append(flooder)
    time.sleep(2)
    per_flooder = (resident_bytes(server.pid) - before) / len(flooders)
    asker = machine_client(server.port, "asker")
    assert stats(asker)["sleeping"] != "0"  # the flooders' readers are held back
    close_all([asker, *flooders])
    # What one read brought in (64 KiB), and some slack: not tens of objects per byte.
    assert per_flooder < 256 * 1024, f"{per_flooder / 1024:.0f} KiB per held-back flooder"
