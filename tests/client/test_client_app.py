"""The real application, driven through a pipe and a recording output, against a real server.

Each test starts `python -m chat_server` on 127.0.0.1 (the `server` / `server_factory`
fixtures), runs the client in this process, types keys into it and looks at its message
pane, its state and what it wrote to the terminal; raw line clients play the others.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import replace

from chat_testing import LineClient, ServerProcess, close_all, machine_client
from client_harness import (
    CTRL_C, CTRL_D, DOWN, ENTER, FAST, PAGE_DOWN, PAGE_UP, TAB, UP, in_thread, paste, run,
    running_client, wait_until,
)

from chat_client.state import ConnectionState


def test_a_typed_message_comes_back_in_the_pane(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with running_client(server.port, "alice") as alice:
            await alice.wait_until_joined()
            alice.type("hello, room" + ENTER)
            await alice.wait_for_pane("<alice> hello, room")
            assert alice.input_text == ""
    run(scenario)


def test_another_clients_message_shows_and_a_mention_rings_the_bell(server: ServerProcess) -> None:
    bob = machine_client(server.port, "bob")
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                await alice.wait_for_pane("--> alice joined")
                bob.send_line("just saying", "alice: 你好 🎉 lunch?", "/me waves")
                await alice.wait_for_pane(" * bob waves")
                assert "<bob> just saying" in alice.pane
                assert "<bob> alice: 你好 🎉 lunch?" in alice.pane
                assert alice.output.bells == 1  # the mention, not the other two
                mention = [entry for entry in alice.client.state.entries if entry.mentions_me]
                assert [entry.text[6:] for entry in mention] == ["<bob> alice: 你好 🎉 lunch?"]
        run(scenario)
    finally:
        close_all([bob])


def test_the_status_bar_shows_server_nick_users_and_state(server: ServerProcess) -> None:
    bob = machine_client(server.port, "bob")
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                await alice.wait_until_joined()
                await wait_until(lambda: "1:#lobby" in alice.status, "the window in the bar")
                assert alice.status.strip() == (f"[testroom {server.address}] alice | 1:#lobby | "
                                                "2 users | connected")
        run(scenario)
    finally:
        close_all([bob])


def test_tab_completes_nicknames_and_commands(server: ServerProcess) -> None:
    bob = machine_client(server.port, "bob")
    carol = machine_client(server.port, "carol")
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                await alice.wait_until_joined()
                alice.type("bo" + TAB)
                await wait_until(lambda: alice.input_text == "bob: ", "bob: in the input")
                alice.type("see /m" + TAB)  # a command only completes at the line's start
                alice.type(ENTER)
                await alice.wait_for_pane("<alice> bob: see /m")
                alice.type("/m" + TAB)
                await wait_until(lambda: alice.input_text == "/me ", "/me in the input")
                alice.type(TAB)
                await wait_until(lambda: alice.input_text == "/msg ", "/msg after a 2nd Tab")
                alice.type("c" + TAB)
                await wait_until(lambda: alice.input_text == "/msg carol", "carol completed")
                alice.type(" psst" + ENTER)
                await alice.wait_for_pane("-> *carol* psst")
        run(scenario)
        assert carol.read_until("PRIVMSG")[-1] == "PRIVMSG alice carol psst"
    finally:
        close_all([bob, carol])


def test_up_and_down_walk_the_input_history(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with running_client(server.port, "alice") as alice:
            await alice.wait_until_joined()
            alice.type("first" + ENTER + "second" + ENTER)
            await alice.wait_for_pane("<alice> second")
            await alice.wait_for_input_history()
            alice.type(UP)
            await wait_until(lambda: alice.input_text == "second", "second from history")
            alice.type(UP)
            await wait_until(lambda: alice.input_text == "first", "first from history")
            alice.type(DOWN)
            await wait_until(lambda: alice.input_text == "second", "second again")
            alice.type(ENTER)
            await wait_until(lambda: alice.pane.count("<alice> second") == 2, "resent")
    run(scenario)


def test_a_taken_nickname_falls_back_to_a_variant_and_says_so(server: ServerProcess) -> None:
    others = [machine_client(server.port, "alice"), machine_client(server.port, "alice_")]
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                await alice.wait_for_pane("--> alice2 joined")
                assert alice.client.state.nick == "alice2"
                assert "nickname alice is taken; trying alice_" in alice.pane
                assert "nickname alice_ is taken; trying alice2" in alice.pane
                assert "NICK_IN_USE" not in alice.pane  # the fallback explains it instead
        run(scenario)
    finally:
        close_all(others)


def test_pasted_lines_are_sent_as_separate_messages_in_order(server: ServerProcess) -> None:
    bob = machine_client(server.port, "bob")
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                await alice.wait_until_joined()
                alice.type("before: ")
                alice.type(paste("one\ntwo\r\n\nthree\nunfinished"))
                await alice.wait_for_pane("<alice> three")
                assert alice.input_text == "unfinished"  # the last line waits for Enter
                lines = await in_thread(bob.read_until, "MSG alice three")
                assert [line for line in lines if line.startswith("MSG")] == [
                    "MSG alice before: one", "MSG alice two", "MSG alice three"]
        run(scenario)
    finally:
        close_all([bob])


def test_escape_sequences_sent_by_a_raw_client_never_reach_the_terminal(
        server: ServerProcess) -> None:
    mallory = LineClient(server.port)
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                await alice.wait_until_joined()
                mallory.send_line("mallory")  # a talker-style join, no /hello
                await alice.wait_for_pane("--> mallory joined")
                written_before = len(alice.output.written)
                mallory.send_line("\x1b[2J\x1b]0;pwned\x07plain \x1b[31mred\x1b[0m\x07 "
                                  "\u202eevil \x9b5m")
                await alice.wait_for_pane("<mallory> plain red evil")
                await wait_until(lambda: "evil" in "".join(alice.output.written[written_before:]),
                                 "the message drawn on the terminal")
                drawn = "".join(alice.output.written[written_before:])
                assert "\x1b" not in drawn and "\x07" not in drawn and "\u202e" not in drawn
                assert "\x9b" not in drawn and "pwned" not in drawn
                assert alice.output.bells == 0
        run(scenario)
    finally:
        close_all([mallory])


def test_the_server_restarts_and_the_client_reconnects_and_rejoins(
        server_factory: Callable[..., ServerProcess]) -> None:
    first = server_factory("--flood", "off")
    states: list[ConnectionState] = []

    async def scenario() -> None:
        async with running_client(first.port, "alice") as alice:
            await alice.wait_until_joined()
            alice.type("/nick alicia" + ENTER)  # the nick held now is the one to rejoin with
            await alice.wait_for_pane("you are now known as alicia")
            changed = alice.client.connection_changed

            def record(state: ConnectionState, detail: str) -> None:
                states.append(state)
                changed(state, detail)
            alice.client.connection_changed = record  # type: ignore[method-assign]
            await in_thread(first.stop)
            await alice.wait_for_pane("the server closed the connection: server shutting down")
            await wait_until(lambda: ConnectionState.RECONNECTING in states, "reconnecting")
            second = await in_thread(lambda: server_factory("--flood", "off", port=first.port))
            bob = await in_thread(machine_client, second.port, "bob")
            try:
                await wait_until(lambda: alice.client.state.connection is
                                 ConnectionState.RECONNECTED, "reconnected", timeout=15)
                assert alice.client.state.nick == "alicia"
                await alice.wait_for_pane("reconnected as alicia: rejoining #lobby")
                assert alice.status.endswith("| 2 users | reconnected ")
                lines = await in_thread(bob.read_until, "JOIN alicia")
                assert lines[-1] == "JOIN alicia"
                alice.type("back again" + ENTER)
                assert (await in_thread(bob.read_until, "MSG"))[-1] == "MSG alicia back again"
            finally:
                close_all([bob])
    run(scenario)
    assert states[:2] == [ConnectionState.LOST, ConnectionState.RECONNECTING]
    assert states[-1] is ConnectionState.RECONNECTED


def test_page_up_holds_the_view_and_counts_unread_until_page_down(server: ServerProcess) -> None:
    bob = machine_client(server.port, "bob")
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                await alice.wait_until_joined()
                bob.send_line(*(f"line {number}" for number in range(60)))
                await alice.wait_for_pane("<bob> line 59")
                alice.type(PAGE_UP)
                await wait_until(lambda: not alice.client.state.following, "scrolled up")
                assert "<bob> line 59" not in alice.pane
                held = alice.pane
                bob.send_line("new one", "new two")
                await wait_until(lambda: alice.client.state.unread == 2, "2 unread")
                assert alice.pane == held and "| 2 unread" in alice.status
                alice.type(PAGE_DOWN + PAGE_DOWN + PAGE_DOWN)
                await alice.wait_for_pane("<bob> new two")
                assert alice.client.state.unread == 0 and alice.client.state.following
        run(scenario)
    finally:
        close_all([bob])


def test_clear_and_help_are_answered_by_the_client(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with running_client(server.port, "alice") as alice:
            await alice.wait_until_joined()
            alice.type("/clear" + ENTER)
            await wait_until(lambda: alice.scrollback == [], "an empty pane")
            alice.type("/help" + ENTER)
            await alice.wait_for_pane("PageUp / PageDown")  # the keys come last
            assert "client commands:" in alice.scrollback[0]
            assert any("/msg NICK TEXT" in line for line in alice.scrollback)
    run(scenario)


def test_ctrl_c_quits_cleanly_and_the_room_sees_it(server: ServerProcess) -> None:
    bob = machine_client(server.port, "bob")
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                await alice.wait_until_joined()
                alice.type(CTRL_C)
                await wait_until(alice.task.done, "the application to end", timeout=5)
                assert alice.task.exception() is None
            assert (await in_thread(bob.read_until, "PART"))[-1] == "PART alice quit"
        run(scenario)
    finally:
        close_all([bob])


def test_ctrl_c_clears_a_half_typed_line_and_quits_on_an_empty_one(
        server: ServerProcess) -> None:
    bob = machine_client(server.port, "bob")
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                await alice.wait_until_joined()
                alice.type("half a thou")
                await wait_until(lambda: alice.input_text == "half a thou", "typed")
                alice.type(CTRL_C)
                await wait_until(lambda: alice.input_text == "", "the line cleared")
                alice.type("still here" + ENTER)  # the client did not quit: it still talks
                await alice.wait_for_pane("<alice> still here")
                assert not alice.task.done()
                alice.type(CTRL_C)
                await wait_until(alice.task.done, "the application to end", timeout=5)
            lines = await in_thread(bob.read_until, "PART")
            assert "MSG alice half a thou" not in lines and lines[-1] == "PART alice quit"
        run(scenario)
    finally:
        close_all([bob])


def test_ctrl_d_quits_only_on_an_empty_line_and_quit_gives_a_reason(server: ServerProcess) -> None:
    bob = machine_client(server.port, "bob")
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                await alice.wait_until_joined()
                alice.type("abc" + CTRL_D)
                await wait_until(lambda: alice.input_text == "abc", "abc typed")
                assert not alice.task.done()
                alice.type("\x15/quit off to lunch" + ENTER)  # Ctrl-U clears the line first
                await wait_until(alice.task.done, "the application to end", timeout=5)
            assert (await in_thread(bob.read_until, "PART"))[-1] == "PART alice off to lunch"
            async with running_client(server.port, "carol") as carol:
                await carol.wait_until_joined()
                carol.type(CTRL_D)
                await wait_until(carol.task.done, "the application to end", timeout=5)
        run(scenario)
    finally:
        close_all([bob])


def test_every_command_of_the_contract_works_from_the_input_line(server: ServerProcess) -> None:
    bob = machine_client(server.port, "bob")
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                await alice.wait_until_joined()
                for typed, shown in [
                    ("/me stretches", " * alice stretches"),
                    ("/msg bob psst", "-> *bob* psst"),
                    ("/who", "in #lobby (2): bob, alice"),
                    ("/ping hello-token", "PONG hello-token"),
                    ("/stats", "server figures"),
                    ("//slash at the start", "<alice> /slash at the start"),
                    ("/nick al", "you are now known as al"),
                    ("/msg nobody hi", "(NO_SUCH_NICK)"),
                    ("/frobnicate", "(UNKNOWN_COMMAND)"),
                    ("/msg bob", "usage: /msg NICK TEXT"),
                ]:
                    alice.type(typed + ENTER)
                    await alice.wait_for_pane(shown)
                assert alice.client.state.nick == "al" and "] al | 1:#lobby | 2 users" in alice.status
        run(scenario)
    finally:
        close_all([bob])


def test_a_sigint_quits_like_ctrl_c(server: ServerProcess) -> None:
    bob = machine_client(server.port, "bob")
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                await alice.wait_until_joined()
                os.kill(os.getpid(), signal.SIGINT)  # the application handles it, not pytest
                await wait_until(alice.task.done, "the application to end", timeout=5)
                assert alice.task.exception() is None
            assert (await in_thread(bob.read_until, "PART"))[-1] == "PART alice quit"
        run(scenario)
    finally:
        close_all([bob])


def test_ignore_hides_a_person_until_unignore_and_lists_who_is_ignored(
        server: ServerProcess) -> None:
    bob, carol = machine_client(server.port, "bob"), machine_client(server.port, "carol")
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                await alice.wait_until_joined()
                alice.type("/ignore bob" + ENTER)
                await alice.wait_for_pane("ignoring bob: their messages")
                bob.send_line("/msg alice psst", "hello alice", "/me waves at alice")
                # Once carol has seen bob's last line, the server has sent alice all three,
                # before carol's own line.
                await in_thread(carol.read_until, "ACTION bob waves at alice")
                carol.send_line("carol here")
                await alice.wait_for_pane("<carol> carol here")
                assert not any("hello alice" in line or "waves" in line or "psst" in line
                               for line in alice.scrollback)
                assert alice.output.bells == 0  # nor did the mention or message ring
                alice.type("/ignore" + ENTER)
                await alice.wait_for_pane("-!- ignoring bob")
                alice.type("/unignore BOB" + ENTER)
                await alice.wait_for_pane("no longer ignoring BOB")
                bob.send_line("back in view")
                await alice.wait_for_pane("<bob> back in view")
        run(scenario)
    finally:
        close_all([bob, carol])


def test_reply_answers_the_last_private_message_and_tab_offers_its_sender_first(
        server: ServerProcess) -> None:
    bob, carol = machine_client(server.port, "bob"), machine_client(server.port, "carol")
    try:
        async def scenario() -> None:
            async with running_client(server.port, "alice") as alice:
                await alice.wait_until_joined()
                alice.type("/reply anyone?" + ENTER)
                await alice.wait_for_pane("nothing to /reply to")
                bob.send_line("/msg alice first")
                await alice.wait_for_pane("*bob* first")
                carol.send_line("/msg alice lunch?")
                await alice.wait_for_pane("*carol* lunch?")
                alice.type("/reply yes, at noon" + ENTER)
                await alice.wait_for_pane("-> *carol* yes, at noon")
                alice.type("/msg " + TAB)
                await wait_until(lambda: alice.input_text == "/msg carol", "carol first")
                alice.type(TAB)
                await wait_until(lambda: alice.input_text == "/msg bob", "then bob")
        run(scenario)
        assert carol.read_until("PRIVMSG alice")[-1] == "PRIVMSG alice carol yes, at noon"
    finally:
        close_all([bob, carol])


REFUSED_SOON = replace(FAST, first_refused_delay=0.3, max_refused_delay=0.3)
"""A refusal waits 0.3 s here, not 30 s, so the test sees the client come in later."""


def test_a_full_room_says_so_and_the_client_retries_with_a_longer_wait(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory("--flood", "off", "--max-clients", "1")
    bob = machine_client(server.port, "bob")

    async def scenario() -> None:
        async with running_client(server.port, "alice", settings=REFUSED_SOON) as alice:
            await alice.wait_for_pane("the server turned you away: the room is full")
            await wait_until(lambda: "refused: the room is full; trying again in 0.3s"
                             in alice.status, "the refusal in the status bar")
            assert "the server closed the connection" not in alice.pane
            shown = alice.record_statuses()
            await wait_until(lambda: shown.count(
                "refused: the room is full; trying again in 0.3s") >= 3, "three more refusals")
            told = [line for line in alice.scrollback if "turned you away" in line]
            assert len(told) == 1  # said once, not at every try
            assert told[0].endswith("the room is full (1 connection); try again later; "
                                    "trying again in 0.3s")
            bob.close()  # a seat comes free: the next try gets in
            await alice.wait_until_joined()
            assert alice.client.state.nick == "alice"
    try:
        run(scenario)
    finally:
        close_all([bob])


def test_too_many_connections_from_one_address_is_shown_as_the_server_says_it(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory("--flood", "off", "--max-per-address", "1")
    bob = machine_client(server.port, "bob")

    async def scenario() -> None:
        async with running_client(server.port, "alice", settings=REFUSED_SOON) as alice:
            await alice.wait_for_pane("the server turned you away: too many connections from")
            await wait_until(lambda: "refused: too many connections from your address; "
                             "trying again in" in alice.status, "the refusal in the status bar")
    try:
        run(scenario)
    finally:
        close_all([bob])


def test_a_frozen_server_is_reported_as_it_is_and_rejoined_when_it_thaws(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory("--flood", "off")
    quick = replace(FAST, keepalive_interval=0.5, keepalive_timeout=0.5, greeting_timeout=0.5)

    async def scenario() -> None:
        async with running_client(server.port, "alice", settings=quick) as alice:
            await alice.wait_until_joined()
            shown = alice.record_statuses()
            server.signal(signal.SIGSTOP)  # frozen: its kernel still accepts connections
            try:
                await wait_until(lambda: any("waiting for the server to answer" in text
                                             for text in shown[1:]), "a try at the frozen server")
            finally:
                server.signal(signal.SIGCONT)
            await wait_until(lambda: alice.client.state.connection is
                             ConnectionState.RECONNECTED, "back in the room", timeout=15)
            assert shown[0].startswith("no answer from the server for ")
            assert shown[0].endswith("s; checking...")
            assert shown[1] == "connection lost (the server stopped answering)"
            assert shown[2].startswith("reconnecting in ")
            assert "reconnecting now" not in shown
    run(scenario)
