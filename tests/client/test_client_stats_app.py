"""`/stats` and `/stats on|off` in the real application, against a real server.

The situation is known: the server has some tasks of its own (acceptor, broadcaster,
signal watcher, ..., one per listener) plus a reader and a writer per connection, so with
everyone settled `tasks` is its own + 2 x clients. How many are its own grows as the
server learns new ways in (a task per listener), so the tests check at least the four
that were always there, and that the count follows joins and leaves by two.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

from chat_testing import ServerProcess, close_all, machine_client
from client_harness import FAST, ENTER, RunningClient, in_thread, run, running_client, wait_until

from protocol import Event, Stats

from chat_client.view import EntryKind



MIN_PERMANENT_TASKS = 4
LIVE = replace(FAST, stats_interval=0.2)
"""A quick poll, so a test sees several rounds in a second."""


def panels(alice: RunningClient) -> list[str]:
    """The text of every `/stats` panel in the scrollback."""
    return [entry.text for entry in alice.client.state.entries if entry.kind is EntryKind.STATS]


def figure(panel: str, label: str) -> str:
    """The value on the panel's line for `label`."""
    match = re.search(rf"^\s+{label}\s+(\S+)", panel, re.MULTILINE)
    assert match is not None, f"no {label!r} in the panel:\n{panel}"
    return match.group(1)


def live_tasks(alice: RunningClient) -> int | None:
    """The task total in the status bar's live count, if it shows one."""
    match = re.search(r"\| tasks (\d+):", alice.status)
    return int(match.group(1)) if match else None


def count_stats_replies(alice: RunningClient) -> list[Stats]:
    """Record every STATS the client receives from now on (the list grows as they come)."""
    replies: list[Stats] = []
    received = alice.client.event_received

    def record(event: Event) -> None:
        if isinstance(event, Stats):
            replies.append(event)
        received(event)
    alice.client.event_received = record  # type: ignore[method-assign]
    return replies


def test_stats_shows_the_known_figures_as_a_panel(server: ServerProcess) -> None:
    others = [machine_client(server.port, "bob"), machine_client(server.port, "carol")]
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                await alice.wait_until_joined()
                alice.type("/stats" + ENTER)
                await wait_until(lambda: panels(alice), "a panel")
                [panel] = panels(alice)
                assert panel.split("\n")[0].endswith("-!- server figures")
                assert figure(panel, "clients") == "3"
                assert "(joined 3)" in panel
                assert int(figure(panel, "tasks")) >= MIN_PERMANENT_TASKS + 2 * 3
                for label in ("events relayed", "queued output", "loop iterations", "uptime"):
                    figure(panel, label)
                assert "server figures" in alice.pane  # drawn, not only stored
                assert "tasks" not in alice.status  # a panel, not the live count
        run(scenario)
    finally:
        close_all(others)


def test_stats_on_shows_live_counts_that_follow_joins_and_leaves(server: ServerProcess) -> None:
    bob = machine_client(server.port, "bob")
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice", settings=LIVE) as alice:
                await alice.wait_until_joined()
                replies = count_stats_replies(alice)
                alice.type("/stats on" + ENTER)
                await alice.wait_for_pane("live figures on")
                await wait_until(lambda: live_tasks(alice) is not None, "a live count")
                two = live_tasks(alice)  # alice and bob, settled
                assert two is not None and two >= MIN_PERMANENT_TASKS + 2 * 2
                assert len(alice.status) <= alice.output.size.columns
                carol = await in_thread(machine_client, server.port, "carol")
                try:
                    await wait_until(lambda: live_tasks(alice) == two + 2, "carol's tasks")
                finally:
                    carol.close()
                # After a leave, the server keeps a short close deadline: wait it out.
                await wait_until(lambda: live_tasks(alice) == two, "carol's tasks gone")
                assert len(replies) >= 3 and panels(alice) == []  # polls make no panels
        run(scenario)
    finally:
        close_all([bob])


def test_a_users_own_stats_while_polling_gives_exactly_one_panel(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with running_client(server.port, "alice", settings=LIVE) as alice:
            await alice.wait_until_joined()
            replies = count_stats_replies(alice)
            alice.type("/stats on" + ENTER)
            await wait_until(lambda: len(replies) >= 2, "two polls")
            alice.type("/stats" + ENTER)
            await wait_until(lambda: len(panels(alice)) == 1, "the user's panel")
            seen = len(replies)
            await wait_until(lambda: len(replies) >= seen + 3, "three more polls")
            assert len(panels(alice)) == 1
    run(scenario)


def test_stats_off_removes_the_live_count_and_stops_asking(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with running_client(server.port, "alice", settings=LIVE) as alice:
            await alice.wait_until_joined()
            replies = count_stats_replies(alice)
            alice.type("/stats on" + ENTER)
            await wait_until(lambda: live_tasks(alice) is not None, "the live count")
            alice.type("/stats off" + ENTER)
            await alice.wait_for_pane("live figures off")
            assert "tasks" not in alice.status
            assert not alice.client.live_stats.polling
            stopped_at = len(replies)
            # Five intervals: a poll still running would ask (and be answered) five times.
            await asyncio.sleep(LIVE.stats_interval * 5)
            assert len(replies) <= stopped_at + 1  # at most one that was on its way
            assert "tasks" not in alice.status and panels(alice) == []
    run(scenario)
