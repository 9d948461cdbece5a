"""Exercise 3 of docs/how-it-works.md: trace a slow client.

This one needs no code from you, so it passes from the start: it runs the real server
with `--trace`, joins a client that never reads, has another pour text into the room,
and checks that the trace shows what the exercise's questions are about. Run it with
`-s` to see the lines that matter:

    python -m pytest tests/exercises/test_exercise_slow_client.py -s

Write your own answers to the questions before you read the assertions below: they are
the answers.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from chat_testing import LineClient, close_all, machine_client

OUTBOX_LIMIT = 16384
CLOSE_GRACE = 2.0  # ServerConfig.close_grace: how long a closing connection may take
LINES = 3000  # ~3 MB: more than the kernel buffers of a loopback connection hold
SETTLE_TIMEOUT = 60.0  # for the trace to show a step on a busy machine: a bound, not a measure


def _run_the_scenario() -> tuple[list[str], list[str]]:
    """Run it; return the server's trace lines and what the talker received."""
    process = subprocess.Popen(
        [sys.executable, "-m", "chat_server", "--host", "127.0.0.1", "--port", "0",
         "--name", "lab", "--flood", "off", "--outbox-limit", str(OUTBOX_LIMIT), "--trace",
         "--no-announce"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    clients: list[LineClient] = []
    # Read the trace while the scenario runs: a full pipe would block the server's writes.
    trace: list[str] = []

    def drain() -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            trace.append(line)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        port = int(process.stdout.readline().rsplit(":", 1)[1])  # type: ignore[union-attr]
        # `slow` joins, then never reads; a small receive buffer makes it fill up sooner.
        slow = machine_client(port, "slow", receive_buffer=4096)
        talker = machine_client(port, "talker")
        clients = [slow, talker]
        lines = [f"{number} {'x' * 1000}" for number in range(LINES)]
        # The talker sends from a thread while this one reads: a talker that stopped
        # reading its own messages would (rightly) be cut off too.
        sender = threading.Thread(target=talker.send_line, args=lines, daemon=True)
        sender.start()
        received = talker.read_until("PART slow ", timeout=60)
        sender.join(30)
        _wait_for_trace(trace, "done", "close-deadline(slow)")  # the close deadline acted
    finally:
        close_all(clients)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        reader.join(30)
    assert process.returncode == 0, "".join(trace[-20:])
    return [line.rstrip("\n") for line in trace], received


@pytest.fixture(scope="module")
def scenario() -> tuple[list[str], list[str]]:
    """The trace and the talker's transcript, from one run shared by the questions."""
    return _run_the_scenario()


def _event(line: str) -> tuple[str, str, str]:
    """(verb, task, detail) of a trace line, or ("", "", "") for anything else."""
    fields = line.split(None, 3)
    if len(fields) < 2 or not fields[0].replace(".", "").isdigit():
        return "", "", ""
    verb = fields[1]
    if verb == "select":
        return verb, "", " ".join(fields[2:])
    return verb, fields[2] if len(fields) > 2 else "", fields[3] if len(fields) > 3 else ""


def _wait_for_trace(trace: list[str], verb: str, task: str) -> None:
    """Until a `verb task` line is in the trace (read by another thread as it comes)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    checked = 0
    while time.monotonic() < deadline:
        arrived = len(trace)  # (lines are only ever appended)
        if any(_event(line)[:2] == (verb, task) for line in trace[checked:arrived]):
            return
        checked = arrived
        time.sleep(0.1)
    raise AssertionError(f"no `{verb} {task}` in the trace after {SETTLE_TIMEOUT:.0f}s")


def _index(trace: list[str], verb: str, task: str, detail_start: str = "") -> int:
    for index, line in enumerate(trace):
        got_verb, got_task, detail = _event(line)
        if (got_verb, got_task) == (verb, task) and detail.startswith(detail_start):
            return index
    raise AssertionError(f"no `{verb} {task} {detail_start}` in the trace")


def test_show_what_to_look_for(scenario) -> None:
    """Print the lines about `slow`, and the broadcaster's run that cut it off (-s)."""
    trace, _ = scenario
    cut = _index(trace, "spawn", "close-deadline(slow)")
    stall = _index(trace, "wait", "writer(slow)", "send:")
    print("\nThe trace lines that mention slow, from its writer's stall on:")
    for line in trace[stall:]:
        if "slow" in line:
            print(line)
    print(f"\nAround the cut-off (trace lines {cut - 6} to {cut + 4}):")
    print("\n".join(trace[cut - 6:cut + 5]))


def test_q1_the_writer_waits_for_its_socket_to_take_more(scenario) -> None:
    trace, received = scenario
    stall = _index(trace, "wait", "writer(slow)", "send: until its socket can take more")
    cut = _index(trace, "spawn", "close-deadline(slow)")
    # It was stuck in send_wait when it was cut off; when the writer itself notices, the
    # cut-off happens in the very step that ends in that wait, so the wait prints just after.
    assert stall <= cut + 1
    # Never woken again: the client never read, so its socket never had room.
    assert ("wake", "writer(slow)") not in {_event(line)[:2] for line in trace[stall:]}
    assert "PART slow too slow" in received


def test_q2_the_writer_or_the_broadcaster_notices(scenario) -> None:
    trace, _ = scenario
    cut = _index(trace, "spawn", "close-deadline(slow)")
    running = [_event(line)[1] for line in trace[:cut] if _event(line)[0] == "run"]
    # The slow client's own writer, as it stalls owing too much (tasks.py,
    # _send_everything_queued), or the broadcaster, queueing more for a stalled writer
    # (Audience._cut_off_if_too_slow): whichever meets the condition first.
    assert running[-1] in ("writer(slow)", "broadcaster")


def test_q3_the_others_carry_on_while_the_slow_writer_is_stuck(scenario) -> None:
    trace, received = scenario
    stall = _index(trace, "wait", "writer(slow)", "send:")
    after = [_event(line)[:2] for line in trace[stall:]]
    assert ("run", "reader(talker)") in after
    assert ("run", "writer(talker)") in after
    # And nothing the talker said was lost on the way to the talker itself.
    said = [line for line in received if line.startswith("MSG talker ")]
    assert [line.split()[2] for line in said] == [str(n) for n in range(len(said))]


def test_q4_the_close_deadline_stops_the_writer_after_the_grace_period(scenario) -> None:
    trace, _ = scenario
    sleeps = _index(trace, "wait", "close-deadline(slow)", f"sleep: {CLOSE_GRACE:.3f}s")
    woken = _index(trace, "wake", "close-deadline(slow)", "its sleep is over")
    done = _index(trace, "done", "close-deadline(slow)")
    assert sleeps < woken < done
    seconds = [float(trace[index].split()[0]) for index in (sleeps, woken)]
    assert seconds[1] - seconds[0] >= CLOSE_GRACE - 0.01
    # writer(slow) never ran again after its stall: it did not return by itself.
    # cancel_after stopped it with Scheduler.cancel, which closes the generator where it
    # waits (its `finally` closes the socket). The tracer narrates steps, and a cancelled
    # task takes no step, so there is no `done writer(slow)` line to look for.
    stall = _index(trace, "wait", "writer(slow)", "send:")
    assert ("run", "writer(slow)") not in {_event(line)[:2] for line in trace[stall:]}
