"""`/stats` over real sockets: the figures match a situation we set up and know exactly."""

from __future__ import annotations

import time

from chat_testing import LineClient, close_all, machine_client
from protocol import Stats, decode_event


def _stats(client: LineClient) -> dict[str, str]:
    client.send_line("/stats")
    event = decode_event(client.read_until("STATS")[-1])
    assert isinstance(event, Stats)
    return event.as_dict()


def test_stats_count_tasks_clients_and_a_stalled_outbox(server_factory) -> None:
    # A big outbox limit keeps the stuck client; 8 MB is more than the kernel buffers
    # (which grow to 4 MB on each side) can hide, so its writer must stall.
    server = server_factory("--flood", "off", "--outbox-limit", str(64 << 20))
    stuck = machine_client(server.port, "stuck", receive_buffer=4096)
    talker = machine_client(server.port, "talker")
    asker = machine_client(server.port, "asker")
    count = 8000
    talker.send_line(*[f"{number} " + "s" * 1000 for number in range(count)])
    talker.read_until(f"MSG talker {count - 1} ", timeout=60)
    asker.read_until(f"MSG talker {count - 1} ", timeout=60)
    deadline = time.monotonic() + 10
    figures = _stats(asker)
    while figures["send_wait"] != "1" and time.monotonic() < deadline:
        time.sleep(0.25)  # figures are shared for 0.2 s; the stall takes a moment
        figures = _stats(asker)
    # Known situation: three acceptors (lines, web, IRC), signal watcher, broadcaster,
    # join-deadline keeper, and a reader and a writer per client.
    assert figures["tasks"] == "12"
    assert figures["ready"] == "1"  # the asker's reader, running /stats
    assert figures["recv_wait"] == "6"  # three acceptors, signal watcher, two idle readers
    assert figures["send_wait"] == "1"  # the stuck client's writer: its kernel buffer is full
    assert figures["parked"] == "3"  # the broadcaster and two idle writers
    assert figures["sleeping"] == "1"  # the join-deadline keeper, until the oldest deadline
    assert figures["clients"] == "3" and figures["joined"] == "3"
    assert int(figures["outbox_max"]) > 0
    assert int(figures["outbox_bytes"]) == int(figures["outbox_max"])  # all of it is stuck's
    assert int(figures["events_relayed"]) >= 3 + count
    assert int(figures["loop_iterations"]) > 0
    assert float(figures["uptime"]) > 0
    close_all([stuck, talker, asker])


def test_stats_work_before_joining_and_read_as_a_table_for_people(server) -> None:
    person = LineClient(server.port)
    person.read_line()
    person.send_line("/stats")
    lines = person.read_until(lambda line: "uptime" in line)
    assert lines[0] == "*** Server figures:"
    assert any(line.split()[1:] == ["clients", "1"] for line in lines)
    person.close()
