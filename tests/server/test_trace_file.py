"""What each recv and send moved, in `--trace`; and `--trace-file`'s timeline (Chrome
trace-event JSON): valid, in time order, bounded, and closed cleanly at shutdown."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

from chat_server.observers import attach, detach, observers_of
from chat_server.scheduler import Scheduler
from chat_server.trace_file import TraceFile
from chat_server.traps import recv_wait, sleep
from chat_testing import LineClient, ServerProcess


def _events(text: str) -> list[dict]:
    return json.loads(text)["traceEvents"]


def _check_time_order(events: list[dict]) -> None:
    stamps = [event["ts"] for event in events]
    assert stamps == sorted(stamps), "the file is not in time order"


def _run_two_tasks(trace: TraceFile, scheduler: Scheduler) -> None:
    left, right = socket.socketpair()

    def reader():  # type: ignore[no-untyped-def]
        yield recv_wait(left)
        scheduler.moved("recv", len(left.recv(100)))

    def writer():  # type: ignore[no-untyped-def]
        yield sleep(0.01)
        scheduler.moved("send", right.send(b"hello"))

    scheduler.spawn(reader(), name="reader(x)")
    scheduler.spawn(writer(), name="writer(x)")
    scheduler.run()
    left.close()
    right.close()


def test_a_trace_file_is_json_with_a_run_per_step_in_time_order() -> None:
    out = io.StringIO()
    out.close = lambda: None  # type: ignore[method-assign]  # keep the text readable
    scheduler = Scheduler()
    trace = TraceFile(out, scheduler.clock)
    attach(scheduler, trace)
    _run_two_tasks(trace, scheduler)
    trace.close()
    events = _events(out.getvalue())
    _check_time_order(events)
    names = {event["args"]["name"]: event["tid"] for event in events if event["ph"] == "M"}
    reader = names["reader(x)"]
    runs = [event["ph"] for event in events if event["tid"] == reader and event["ph"] in "BE"]
    assert runs == ["B", "E", "B", "E"]  # two steps: to recv_wait, then to the end
    instants = {event["name"] for event in events if event["ph"] == "i"}
    assert {"recv 5 bytes", "send 5 bytes", "wake: its socket has data"} <= instants


def test_a_trace_file_stops_at_its_limit_says_so_and_detaches() -> None:
    out = io.StringIO()
    written: list[str] = []
    out.close = lambda: written.append(out.getvalue())  # type: ignore[method-assign]
    scheduler = Scheduler()
    trace = TraceFile(out, scheduler.clock, max_events=5,
                      on_stop=lambda stopped: detach(scheduler, stopped))
    attach(scheduler, trace)
    _run_two_tasks(trace, scheduler)
    assert observers_of(scheduler) == [] and scheduler.observer is None
    events = _events(written[0])
    assert events[-1]["name"] == "trace stopped after 5 events (the limit)"
    assert len(events) == 6
    trace.close()  # a second close at shutdown changes nothing
    assert len(written) == 1


def test_observers_share_the_slot_and_leave_none_behind() -> None:
    scheduler = Scheduler()
    first, second = object(), object()
    attach(scheduler, first)  # type: ignore[arg-type]
    attach(scheduler, second)  # type: ignore[arg-type]
    assert observers_of(scheduler) == [first, second]
    detach(scheduler, first)  # type: ignore[arg-type]
    assert scheduler.observer is second
    detach(scheduler, second)  # type: ignore[arg-type]
    assert scheduler.observer is None


def _chat_a_little(server: ServerProcess) -> None:
    client = LineClient(server.port)
    client.read_line()
    client.send_line("alice")  # 6 bytes with its LF
    client.read_until("*** alice joined")
    client.send_line("hello")
    client.read_until("<alice> hello")
    client.close()


def test_trace_shows_the_bytes_each_recv_and_send_moved(server_factory) -> None:
    server = server_factory("--trace", "--web-port", "off", "--irc-port", "off")
    _chat_a_little(server)
    server.stop()
    trace = server.stderr_text()
    lines = [" ".join(line.split()[1:]) for line in trace.splitlines()]
    assert any(line.startswith("recv reader(") and line.endswith(" 6 bytes") for line in lines)
    assert "recv reader(alice) 6 bytes" in lines  # "hello" and its LF
    # (the broadcaster usually makes the call: "25 bytes, sent at once by broadcaster")
    assert any(line.startswith("send writer(alice) ") and " bytes" in line for line in lines)
    assert "recv reader(alice) 0 bytes: the other side closed" in lines


def test_trace_file_is_valid_json_after_shutdown(server_factory, tmp_path: Path) -> None:
    path = tmp_path / "trace.json"
    server = server_factory("--trace-file", str(path))
    _chat_a_little(server)
    assert server.stop() == 0
    events = _events(path.read_text(encoding="utf-8"))
    _check_time_order(events)
    tracks = {event["args"]["name"]: event["tid"] for event in events if event["ph"] == "M"}
    assert {"broadcaster", "reader(alice)", "writer(alice)", "run loop"} <= set(tracks)
    runs = [event for event in events if event["tid"] == tracks["writer(alice)"]]
    assert any(event["ph"] == "B" for event in runs)
    assert any(event["ph"] == "E" and event["args"]["then"].startswith("park")
               for event in runs)
    assert all(event["pid"] == 1 for event in events)


def test_trace_file_limits_need_the_file(server_factory) -> None:
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "chat_server", "--trace-file-events", "5"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "--trace-file-events only works with --trace-file" in result.stderr
