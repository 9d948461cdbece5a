"""`/stats on|off`: the status bar's live count, and which STATS replies become panels.

Pure tests of the summary and of how the status bar makes room for it, then `LiveStats`
on an asyncio loop with a recording `send_line` instead of a connection, then the typed
command and its Tab completion.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from prompt_toolkit.document import Document
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.formatted_text import fragment_list_width

from protocol import Stats

from chat_client.bars import render_status
from chat_client.commands import COMMAND_ARGUMENTS, command_names, handle_line, help_lines
from chat_client.completion import ChatCompleter
from chat_client.figures import live_summary
from chat_client.live_stats import LiveStats
from chat_client.state import ClientState, ConnectionState

FIGURES = (("tasks", "12"), ("ready", "1"), ("recv_wait", "6"), ("send_wait", "1"),
           ("sleeping", "1"), ("parked", "3"), ("clients", "4"), ("joined", "4"))
LIVE = "tasks 12: 1 ready 6 recv 1 send 1 sleep 3 park"


# The summary and the status bar

def test_the_live_summary_counts_the_tasks_by_state() -> None:
    assert live_summary(FIGURES) == LIVE
    assert live_summary(FIGURES, breakdown=False) == "tasks 12"
    assert live_summary(None) == "tasks -"  # on, but no figures yet
    assert live_summary((("tasks", "2004"), ("parked", "2003"))) == "tasks 2,004: 2,003 park"
    assert live_summary((("clients", "3"),)) == "tasks ?"


def in_room(**fields: object) -> ClientState:
    state = ClientState(address="127.0.0.1:7777", nick="alice", server_name="testroom",
                        **fields)  # type: ignore[arg-type]
    state.set_connection(ConnectionState.CONNECTED)
    state.users = ["alice", "bob", "carol"]
    return state


def status_text(state: ClientState, width: int = 80) -> str:
    return "".join(text for _, text in render_status(state, width))


def test_the_live_count_shows_only_while_it_is_on() -> None:
    state = in_room(live_figures=FIGURES)
    assert "tasks" not in status_text(state, 200)
    state.live_stats = True
    assert status_text(state, 200) == (
        f" [testroom 127.0.0.1:7777] alice | 3 users | connected | {LIVE} ")


def test_in_80_columns_the_address_then_the_user_count_make_way_for_the_live_count() -> None:
    state = in_room(live_stats=True, live_figures=FIGURES)
    assert status_text(state, 80) == f" [testroom] alice | connected | {LIVE} "
    assert status_text(state, 89) == f" [testroom] alice | 3 users | connected | {LIVE} "


def test_a_narrower_bar_keeps_the_total_then_drops_the_live_count_but_never_the_state() -> None:
    state = in_room(live_stats=True, live_figures=FIGURES)
    state.unread = 2
    assert status_text(state, 60) == " [testroom] alice | connected | tasks 12 | 2 unread "
    assert status_text(state, 45) == " [testroom] alice | connected | 2 unread "
    # Too narrow even for that: the shortest bar, and the window cuts the rest.
    assert status_text(state, 20) == " [testroom] alice | connected | 2 unread "


@pytest.mark.parametrize("width", range(45, 130, 3))
def test_the_status_bar_fits_its_width_whenever_it_can(width: int) -> None:
    state = in_room(live_stats=True, live_figures=FIGURES)
    state.unread = 12
    assert fragment_list_width(render_status(state, width)) <= width


def test_the_live_count_has_a_style_of_its_own() -> None:
    state = in_room(live_stats=True, live_figures=FIGURES)
    assert ("class:status.live", LIVE) in render_status(state, 200)


def test_the_live_figures_are_forgotten_when_the_connection_goes_down() -> None:
    state = in_room(live_stats=True, live_figures=FIGURES)
    state.set_connection(ConnectionState.LOST, "(reset)")
    assert state.live_figures is None
    assert status_text(state, 200).endswith("| connection lost (reset) | tasks - ")


def test_hostile_figures_never_reach_the_status_bar() -> None:
    state = in_room(live_stats=True,
                    live_figures=(("tasks", "\x1b[2J9"), ("ready", "\u202e1\x07")))
    text = status_text(state, 200)
    assert "tasks 9: 1 ready" in text
    assert not any(char in text for char in "\x1b\x07\u202e")


# LiveStats on a loop

class Harness:
    """A LiveStats whose lines are recorded; `connected` says whether a send succeeds."""

    def __init__(self, interval: float = 0.05) -> None:
        self.state = ClientState(address="h:1")
        self.sent: list[str] = []
        self.connected = True
        self.live = LiveStats(self.state, self._send, asyncio.ensure_future, interval)

    def _send(self, line: str) -> bool:
        if self.connected:
            self.sent.append(line)
        return self.connected

    def reply(self, tasks: str = "8") -> bool:
        return self.live.reply_received(Stats((("tasks", tasks),)))


def run(scenario: Callable[[Harness], object]) -> None:
    async def main() -> None:
        harness = Harness()
        try:
            await scenario(harness)  # type: ignore[misc]
        finally:
            harness.live.turn_off()
    asyncio.run(main())


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    # Generous: the poll backs off to 20x the last round trip, which a busy machine makes long.
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def test_only_the_replies_to_the_users_own_requests_become_panels() -> None:
    async def scenario(h: Harness) -> None:
        h.live.connection_changed(True)
        h.live.turn_on()
        await wait_until(lambda: len(h.sent) == 1, "the poll's first request")
        assert h.live.request()
        # Replies come in the order the requests went: the poll's, then the user's.
        assert [h.reply("1"), h.reply("2")] == [False, True]
        assert h.state.live_figures == (("tasks", "2"),)  # the user's reply updates it too
        await wait_until(lambda: len(h.sent) == 3, "the poll's next request")
        assert h.live.request()
        assert [h.reply("3"), h.reply("4")] == [False, True]
        assert h.sent == ["/stats"] * 4
    run(scenario)


def test_a_reply_nobody_asked_for_is_shown_rather_than_lost() -> None:
    async def scenario(h: Harness) -> None:
        assert h.reply() is True
        assert h.state.live_figures is None  # the live count is off: nothing to update
    run(scenario)


def test_requests_out_on_a_lost_connection_are_forgotten() -> None:
    async def scenario(h: Harness) -> None:
        h.live.connection_changed(True)
        h.live.turn_on()
        await wait_until(lambda: len(h.sent) == 1, "the poll's request")
        h.live.connection_changed(False)  # its reply will never come
        h.live.connection_changed(True)
        h.live.turn_off()
        assert h.live.request()
        assert h.reply() is True  # the user's, not taken for the lost poll's
    run(scenario)


def test_the_poll_asks_every_interval_but_never_has_two_requests_out() -> None:
    async def scenario(h: Harness) -> None:
        h.live.connection_changed(True)
        h.live.turn_on()
        await wait_until(lambda: len(h.sent) == 1, "the first request, at once")
        await asyncio.sleep(h.live.interval * 5)
        assert len(h.sent) == 1  # no reply yet: no second request
        h.reply()
        await wait_until(lambda: len(h.sent) == 2, "the next request after the reply")
        for _ in range(3):
            h.reply()
            count = len(h.sent)
            await wait_until(lambda: len(h.sent) == count + 1, "one more request")
    run(scenario)


def test_the_poll_waits_while_the_client_is_out_of_the_room() -> None:
    async def scenario(h: Harness) -> None:
        h.live.turn_on()
        await asyncio.sleep(h.live.interval * 4)
        assert h.sent == [] and h.live.polling  # on, but waiting for the room
        h.live.connection_changed(True)
        await wait_until(lambda: h.sent == ["/stats"], "a request once in the room")
        h.reply()
        h.live.connection_changed(False)
        await asyncio.sleep(h.live.interval * 4)
        assert h.sent == ["/stats"]
    run(scenario)


def test_turning_it_off_stops_the_poll_and_clears_the_bar() -> None:
    async def scenario(h: Harness) -> None:
        h.live.connection_changed(True)
        assert h.live.turn_on() and not h.live.turn_on()  # a second `on` changes nothing
        await wait_until(lambda: len(h.sent) == 1, "the first request")
        h.reply()
        assert h.state.live_stats and h.state.live_figures is not None
        assert h.live.turn_off() and not h.live.turn_off()
        assert not h.state.live_stats and h.state.live_figures is None
        sent = len(h.sent)
        await asyncio.sleep(h.live.interval * 5)
        assert len(h.sent) == sent and not h.live.polling
    run(scenario)


def test_a_request_that_cannot_be_sent_is_not_waited_for() -> None:
    async def scenario(h: Harness) -> None:
        h.connected = False
        assert not h.live.request()
        assert h.reply() is True  # an unasked reply, not taken for the unsent request
    run(scenario)


# The command and its completion

class Actions:
    def __init__(self) -> None:
        self.done: list[tuple[str, object]] = []

    def send_line(self, line: str) -> None:
        self.done.append(("send", line))

    def request_stats(self) -> None:
        self.done.append(("stats", None))

    def set_live_stats(self, on: bool) -> None:
        self.done.append(("live", on))

    def complain(self, text: str) -> None:
        self.done.append(("complain", text))


@pytest.mark.parametrize(("typed", "done"), [
    ("/stats", [("stats", None)]),
    ("/STATS  ", [("stats", None)]),
    ("/stats on", [("live", True)]),
    ("/stats  OFF ", [("live", False)]),
    ("/stats maybe", [("complain", "usage: /stats [on|off]")]),
    ("/stats on off", [("complain", "usage: /stats [on|off]")]),
])
def test_stats_asks_or_switches_the_live_count(typed: str,
                                               done: list[tuple[str, object]]) -> None:
    actions = Actions()
    handle_line(typed, actions)  # type: ignore[arg-type]
    assert actions.done == done


def test_help_lists_stats_with_its_switch() -> None:
    assert any(line.split()[:2] == ["/stats", "[on|off]"] for line in help_lines())
    assert sum("/stats" in line for line in help_lines()) == 1  # not twice: client's only
    # Drawn as notices (`12:34 -!- ...`), no help line wraps in 80 columns.
    assert all(len("12:34 -!- " + line) <= 80 for line in help_lines())


def complete(text: str) -> list[str]:
    completer = ChatCompleter(lambda: ["bob", "olga"], command_names(), COMMAND_ARGUMENTS)
    document = Document(text, len(text))
    return [text[: len(text) + c.start_position] + c.text
            for c in completer.get_completions(document, CompleteEvent(completion_requested=True))]


def test_tab_completes_stats_and_its_switch() -> None:
    assert complete("/sta") == ["/stats "]
    assert complete("/stats ") == ["/stats on", "/stats off"]
    assert complete("/Stats of") == ["/Stats off"]
    assert complete("/stats on o") == ["/stats on olga"]  # only the first word is a switch
    assert complete("/msg o") == ["/msg olga"]  # other commands still complete nicknames


# Backing off from a slow server

def test_the_wait_is_the_interval_or_a_multiple_of_the_last_round_trip_if_longer() -> None:
    live = LiveStats(ClientState(address="h:1"), lambda line: True, asyncio.ensure_future,
                     interval=2.0, round_trip_factor=20)
    assert live.next_wait() == 2.0  # nothing measured yet
    live.last_round_trip = 0.05
    assert live.next_wait() == 2.0  # a quick server is asked every interval
    live.last_round_trip = 0.5
    assert live.next_wait() == 10.0  # a slow one is asked less


def test_a_slow_reply_makes_the_poll_wait_longer_before_asking_again() -> None:
    now = [100.0]

    async def sleep_on_the_fake_clock(seconds: float) -> None:
        until = now[0] + seconds
        while now[0] < until:
            await asyncio.sleep(0.005)

    async def scenario() -> None:
        sent: list[str] = []
        live = LiveStats(ClientState(address="h:1"), lambda line: sent.append(line) or True,
                         asyncio.ensure_future, interval=0.02, round_trip_factor=20,
                         clock=lambda: now[0], sleep=sleep_on_the_fake_clock)
        live.connection_changed(True)
        live.turn_on()
        try:
            await wait_until(lambda: len(sent) == 1, "the first request")
            now[0] += 0.5  # the reply takes half a second on the poll's clock
            live.reply_received(Stats((("tasks", "8"),)))
            assert live.last_round_trip == 0.5 and live.next_wait() == 10.0
            now[0] += 9.0  # 9.5 s after the request: many intervals, yet no new request
            await asyncio.sleep(0.05)
            assert len(sent) == 1
            now[0] += 0.5  # ten seconds after it
            await wait_until(lambda: len(sent) == 2, "the next request")
        finally:
            live.turn_off()
    asyncio.run(scenario())
