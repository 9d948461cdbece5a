"""The client against a scripted server in the test's own loop: hostile, silent or absent.

A real server already strips escape sequences, so to show that the *client* never lets
one reach the terminal, whatever a server sends, this server sends them raw. It also
plays the cases a real server rarely shows on demand: a greeting before HELLO, unknown and
malformed lines, a server that goes silent, one that never answers, one that is not there.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from client_harness import CTRL_C, ENTER, running_client, run, wait_until

from chat_client.connection import KEEPALIVE_TOKEN, ConnectionSettings
from chat_client.state import ConnectionState

TIMEOUT = 10.0


class ScriptedServer:
    """Accepts connections on 127.0.0.1; each one is a (reader, writer) the test drives."""

    def __init__(self) -> None:
        self.connections: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue())
        self.server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.connections.put((reader, writer))

    async def next_connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(self.connections.get(), TIMEOUT)


@asynccontextmanager
async def scripted_server() -> AsyncIterator[ScriptedServer]:
    scripted = ScriptedServer()
    scripted.server = await asyncio.start_server(scripted._accept, "127.0.0.1", 0)
    try:
        yield scripted
    finally:
        scripted.server.close()


async def read_line(reader: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(reader.readline(), TIMEOUT)).decode("utf-8").rstrip("\n")


def send(writer: asyncio.StreamWriter, *lines: str | bytes) -> None:
    for line in lines:
        writer.write((line.encode("utf-8") if isinstance(line, str) else line) + b"\n")


async def handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    *, greeting: tuple[str, ...] = ()) -> str:
    """Play the server's side of joining; return the nickname the client asked for."""
    hello = await read_line(reader)
    assert hello.startswith("/hello chat-client ")
    send(writer, *greeting, "HELLO fake 1")
    nick = (await read_line(reader)).removeprefix("/nick ")
    send(writer, f"WELCOME {nick}", f"USERS eve {nick}", f"JOIN {nick}")
    return nick


def test_a_hostile_server_cannot_reach_the_terminal() -> None:
    async def scenario() -> None:
        async with scripted_server() as server, running_client(server.port, "alice") as alice:
            reader, writer = await server.next_connection()
            await handshake(reader, writer)
            await alice.wait_for_pane("--> alice joined")
            before = len(alice.output.written)
            send(writer,
                 "MSG eve \x1b[2J\x1b[H\x1b]0;owned\x07hello\x1b[5m alice\x07\x1b[0m",
                 "ACTION e\x1b[31mve dances\x1b(0",
                 "INFO \x1bPq#0;2;0;0;0\x1b\\notice \u202egnp.exe",
                 "PRIVMSG eve alice \x9b2Jsecret\x00\x08",
                 "ERROR BAD\x1b[1m_ARGS oops\x7f",
                 "NICK eve e\x1b[7mve2",
                 "PART e\x1b[7mve2 gone\x1b]8;;http://x\x07link\x1b]8;;\x07")
            await alice.wait_for_pane("link)")
            await wait_until(lambda: "link" in "".join(alice.output.written[before:]),
                             "everything drawn")
            drawn = "".join(alice.output.written[before:])
            for unsafe in ("\x1b", "\x07", "\x9b", "\x00", "\x08", "\x7f", "\u202e"):
                assert unsafe not in drawn, repr(unsafe)
            assert "owned" not in drawn and "[31m" not in drawn and "^[" not in drawn
            assert "<eve> hello alice" in alice.pane
            assert " * eve dances" in alice.pane
            assert "*eve* secret" in alice.pane
            assert "<-- eve2 left (gonelink)" in alice.pane
            # Two bells, both rung by the client itself: the mention and the private message.
            assert alice.output.bells == 2
    run(scenario)


def test_lines_before_hello_unknown_and_broken_lines_are_ignored() -> None:
    async def scenario() -> None:
        async with scripted_server() as server, running_client(server.port, "alice") as alice:
            reader, writer = await server.next_connection()
            await handshake(reader, writer, greeting=(
                "*** Welcome to fake! Type your nickname:", "MSG eve not for machines",
                "ERROR NOT_JOINED not for machines either"))
            send(writer, "WEATHER sunny and warm", "MSG", b"\xff\xfe broken utf-8",
                 b"x" * (2 << 20), "MSG eve " + "y" * 1_000_000, "MSG eve still here")
            await alice.wait_for_pane("<eve> still here")
            cut = [line for line in alice.scrollback if "<eve> yyyy" in line]
            assert len(cut) == 1 and cut[0].endswith("y [... 996000 more characters]")
            everything = "\n".join(alice.scrollback)
            assert "not for machines" not in everything
            assert "WEATHER" not in everything and "sunny" not in everything
            assert everything.count("cannot read") == 1  # the MSG without fields
            assert alice.client.state.connection is ConnectionState.CONNECTED
    run(scenario)


def test_bye_reasons_are_shown_and_the_client_comes_back() -> None:
    async def scenario() -> None:
        async with scripted_server() as server, running_client(server.port, "alice") as alice:
            reader, writer = await server.next_connection()
            await handshake(reader, writer)
            await alice.wait_until_joined()
            send(writer, "BYE too slow")
            writer.close()
            await alice.wait_for_pane("the server closed the connection: too slow")
            await alice.wait_for_pane("connection lost (too slow); reconnecting")
            reader, writer = await server.next_connection()
            assert await handshake(reader, writer) == "alice"
            await wait_until(lambda: alice.client.state.connection is
                             ConnectionState.RECONNECTED, "reconnected")
    run(scenario)


def test_a_silent_server_is_pinged_then_given_up_on_and_the_status_says_so() -> None:
    settings = ConnectionSettings(first_retry_delay=0.1, keepalive_interval=0.3,
                                  keepalive_timeout=0.3)

    async def scenario() -> None:
        async with scripted_server() as server, \
                running_client(server.port, "alice", settings=settings) as alice:
            reader, writer = await server.next_connection()
            await handshake(reader, writer)
            await alice.wait_until_joined()
            shown = alice.record_statuses()
            assert await read_line(reader) == f"/ping {KEEPALIVE_TOKEN}"
            await wait_until(lambda: re.search(r"no answer from the server for [\d.]+s; "
                                               r"checking\.\.\.", alice.status) is not None,
                             "the status bar to say it is checking")
            assert alice.client.state.connection.is_up  # still in the room meanwhile
            send(writer, f"PONG {KEEPALIVE_TOKEN}")  # answered: connected again at once
            await wait_until(lambda: alice.client.state.connection is
                             ConnectionState.CONNECTED, "connected again")
            assert "PONG" not in alice.pane  # the client's own pings are not shown
            assert await read_line(reader) == f"/ping {KEEPALIVE_TOKEN}"
            # Not answered this time: the link counts as lost and the client reconnects.
            await alice.wait_for_pane("connection lost (the server stopped answering)")
            reader, writer = await server.next_connection()
            await handshake(reader, writer)
            await wait_until(lambda: alice.client.state.connection.is_up, "back")
            assert [text for text in shown if not text.startswith("no answer")] == [
                "connected", "connection lost (the server stopped answering)",
                "reconnecting in 0.1s (the server stopped answering)",
                f"reconnecting to {alice.client.connection.address}...",
                "reconnecting (waiting for the server to answer...)", "reconnected"]
    run(scenario)


def test_a_server_that_accepts_but_never_says_hello_is_given_up_on_and_retried() -> None:
    settings = ConnectionSettings(first_retry_delay=0.1, greeting_timeout=0.3)

    async def scenario() -> None:
        async with scripted_server() as server, \
                running_client(server.port, "alice", settings=settings) as alice:
            shown = alice.record_statuses()
            await server.next_connection()  # accepted, then never a word
            reader, writer = await server.next_connection()  # so the client tried again
            await handshake(reader, writer)
            await alice.wait_until_joined()
            assert "connecting (waiting for the server to answer...)" in shown
            assert "connecting in 0.1s (connected, but the server does not answer)" in shown
            told = [line for line in alice.scrollback if "cannot reach" in line]
            assert len(told) == 1 and "(connected, but the server does not answer)" in told[0]
    run(scenario)


def test_the_ui_stays_responsive_while_the_server_never_answers() -> None:
    async def scenario() -> None:
        async with scripted_server() as server, running_client(server.port, "alice") as alice:
            await server.next_connection()  # accepted, then never a word
            alice.type("/help" + ENTER)
            await alice.wait_for_pane("PageUp / PageDown")  # the help's last part
            alice.type("anyone?" + ENTER)
            await alice.wait_for_pane("not connected (connecting): not sent")
            assert alice.client.state.connection is ConnectionState.CONNECTING
    run(scenario)


def test_no_server_at_all_is_shown_and_retried_with_backoff() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> None:
        async with running_client(port, "alice") as alice:
            state = alice.client.state
            await wait_until(lambda: state.connection_detail.startswith("in "), "a retry")
            assert state.connection is ConnectionState.CONNECTING
            assert "connection refused" in state.connection_detail
            await wait_until(lambda: "in 0.4s" in state.connection_detail, "backoff")
            assert alice.pane.count("cannot reach") == 1  # said once, not at every retry
            alice.type("hello" + ENTER)
            await alice.wait_for_pane("not connected (connecting): not sent")
            alice.type(CTRL_C)  # quitting needs no server
            await wait_until(alice.task.done, "the application to end", timeout=5)
            assert alice.task.exception() is None
    run(scenario)


def test_when_every_variant_is_taken_the_user_is_asked_to_choose() -> None:
    async def scenario() -> None:
        async with scripted_server() as server, running_client(server.port, "alice") as alice:
            reader, writer = await server.next_connection()
            assert await read_line(reader) == "/hello chat-client 2"  # it asks for rooms
            send(writer, "HELLO fake 1")
            tried = []
            for _ in range(21):
                tried.append((await read_line(reader)).removeprefix("/nick "))
                send(writer, f"ERROR NICK_IN_USE {tried[-1]} is taken")
            await alice.wait_for_pane("choose one with /nick NAME")
            assert tried[:3] == ["alice", "alice_", "alice2"] and tried[-1] == "alice20"
            alice.type("/nick zed" + ENTER)
            assert await read_line(reader) == "/nick zed"
            send(writer, "WELCOME zed", "USERS zed", "JOIN zed")
            await wait_until(lambda: alice.client.state.nick == "zed", "joined as zed")
            assert alice.client.connection.nick == "zed"
    run(scenario)


def test_any_refusal_before_hello_reaches_the_person_with_a_30_second_wait() -> None:
    async def scenario() -> None:
        async with scripted_server() as server, running_client(server.port, "alice") as alice:
            reader, writer = await server.next_connection()
            assert (await read_line(reader)).startswith("/hello ")
            send(writer, "*** a greeting for people", "ERROR BANNED you are banned here",
                 "BYE banned")
            writer.close()
            await alice.wait_for_pane(
                "the server turned you away: you are banned here; trying again in 30s")
            # The status bar counts the 30 s down: a busy machine may first show 29 or 28.
            await wait_until(
                lambda: _seconds_left(alice.status, "refused: you are banned; trying again in")
                >= 20, "the refusal and the wait in the status bar")
            assert alice.client.state.connection is ConnectionState.REFUSED
            assert "greeting" not in alice.pane
            alice.type(CTRL_C)  # quitting does not wait for the 30 s
            await wait_until(alice.task.done, "the application to end", timeout=5)
    run(scenario)


def _seconds_left(status: str, before: str) -> int:
    """The N of `BEFORE Ns` in the status bar, or -1 when it is not there."""
    found = re.search(re.escape(before) + r" (\d+)s", status)
    return int(found.group(1)) if found else -1
