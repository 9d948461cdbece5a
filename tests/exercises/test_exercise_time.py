"""Exercise 1 of docs/how-it-works.md: a /time command.

`/time` answers the person who asked, and nobody else, with an INFO line holding the
server's local time as HH:MM:SS (for example `INFO server time: 14:05:09`). Like /ping,
it works before joining. Skipped until `time` is in `protocol.COMMANDS`.
"""

from __future__ import annotations

import re
import time

import pytest

from chat_testing import LineClient, close_all, machine_client
from protocol import COMMANDS

pytestmark = pytest.mark.skipif(
    "time" not in COMMANDS,
    reason="exercise 1 not done yet: protocol.COMMANDS has no 'time' "
           "(see docs/how-it-works.md, Exercise 1)")

_CLOCK = re.compile(r"\b([01]\d|2[0-3]):([0-5]\d):([0-5]\d)\b")
TOLERANCE = 5  # seconds between the server reading its clock and the test reading its own


def _seconds_off_now(text: str) -> int:
    """How far the HH:MM:SS in `text` is from this machine's local time, in seconds."""
    match = _CLOCK.search(text)
    assert match, f"no HH:MM:SS time in {text!r}"
    hours, minutes, seconds = (int(part) for part in match.groups())
    now = time.localtime()
    difference = abs((hours - now.tm_hour) * 3600 + (minutes - now.tm_min) * 60
                     + seconds - now.tm_sec)
    return min(difference, 24 * 3600 - difference)  # around midnight


def test_time_answers_info_with_the_servers_clock_before_joining(server) -> None:
    client = machine_client(server.port)
    client.send_line("/time")
    answer = client.read_line()
    assert answer.startswith("INFO "), answer
    assert _seconds_off_now(answer) <= TOLERANCE
    client.send_line("/TIME")  # command names are case-insensitive
    assert _seconds_off_now(client.read_until("INFO ")[-1]) <= TOLERANCE
    client.close()


def test_time_is_told_to_the_asker_only(server) -> None:
    alice = machine_client(server.port, "alice")
    bob = machine_client(server.port, "bob")
    alice.read_until("JOIN bob")
    alice.send_line("/time", "after the time")
    seen_by_alice = alice.read_until("MSG alice after the time")
    assert [line for line in seen_by_alice if line.startswith("INFO ")], seen_by_alice
    seen_by_bob = bob.read_until("MSG alice after the time")
    assert not [line for line in seen_by_bob if _CLOCK.search(line) and "INFO" in line], \
        f"bob was told alice's /time: {seen_by_bob}"
    close_all([alice, bob])


def test_people_see_the_time_as_a_notice(server) -> None:
    person = LineClient(server.port)
    person.read_line()  # the greeting
    person.send_line("/time")
    notice = person.read_line()
    assert notice.startswith("*** "), notice
    assert _seconds_off_now(notice) <= TOLERANCE
    person.close()


def test_help_lists_time(server) -> None:
    client = machine_client(server.port)
    client.send_line("/help", "/ping end of help")
    help_lines = client.read_until("PONG end of help")
    assert any("/time" in line for line in help_lines), help_lines
    client.close()
