"""Exercise 4 of docs/how-it-works.md (optional): a greeter bot.

`chat_server.bots.greeter_bot(name, address)` is a task: it connects to `address`, joins
as `name`, says `welcome, NICK!` to the room each time somebody else joins, and returns
when the server says BYE or closes the connection. The test runs it in a scheduler of its
own, in a thread of the test, against a real server. Skipped until
`chat_server/bots.py` has `greeter_bot`.
"""

from __future__ import annotations

import threading

import pytest

import chat_server.bots as bots
from chat_server.scheduler import Scheduler
from chat_testing import close_all, machine_client

pytestmark = pytest.mark.skipif(
    not hasattr(bots, "greeter_bot"),
    reason="exercise 4 not done yet: chat_server/bots.py has no greeter_bot "
           "(see docs/how-it-works.md, Exercise 4)")


def _start_greeter(port: int, name: str = "greeter") -> threading.Thread:
    scheduler = Scheduler()
    scheduler.spawn(bots.greeter_bot(name, ("127.0.0.1", port)), name=name)
    thread = threading.Thread(target=scheduler.run, name="greeter-scheduler", daemon=True)
    thread.start()
    return thread


def test_the_greeter_welcomes_each_newcomer_and_not_itself(server_factory) -> None:
    server = server_factory()  # flood control on, as in a real room
    early = machine_client(server.port, "early")
    greeter = _start_greeter(server.port)
    seen = early.read_until("JOIN greeter")
    carol = machine_client(server.port, "carol")
    seen += early.read_until("MSG greeter welcome, carol!")
    assert carol.read_until("MSG greeter ")[-1] == "MSG greeter welcome, carol!"
    dave = machine_client(server.port, "dave")
    seen += early.read_until("MSG greeter welcome, dave!")
    said = [line for line in seen if line.startswith("MSG greeter ")]
    assert said == ["MSG greeter welcome, carol!", "MSG greeter welcome, dave!"]
    close_all([early, carol, dave])
    assert server.stop() == 0  # everyone, the greeter included, gets BYE
    greeter.join(10)
    assert not greeter.is_alive(), "the greeter did not stop when the server said BYE"


def test_the_greeter_stops_when_the_server_goes_away(server_factory) -> None:
    server = server_factory()
    watcher = machine_client(server.port, "watcher")
    greeter = _start_greeter(server.port, "host_bot")
    watcher.read_until("JOIN host_bot")
    watcher.close()
    server.process.kill()  # no BYE this time: the connection just closes
    server.process.wait(10)
    greeter.join(10)
    assert not greeter.is_alive(), "the greeter did not stop when the connection closed"
