"""The network side: one TCP connection at a time, on prompt_toolkit's own asyncio loop.

    connect -> /hello -> (ignore the greeting for people) HELLO -> /nick -> WELCOME ...
       ^                                                                        |
       +--- wait 0.5s, 1s, 2s, 4s, 5s, 5s ... <--- lost (closed, reset, silent) -+
       +--- wait 30s, 60s, 120s, 120s ...      <--- refused (ERROR + BYE before HELLO)

The connection never blocks the loop: reads and connects are awaited, writes go to the
transport's buffer, and a server that falls silent is pinged, then given up on, so a dead
link shows up in the status bar instead of a frozen "connected". The status bar always
says what is happening: `no answer from the server for 30s; checking...` while a ping is
out, a countdown to the next try, `waiting for the server to answer` once a connection is
open but the server has not yet said HELLO (a frozen server's kernel still accepts).

A server that turns the client away (the room is full, too many connections from one
address, a ban) says why before any HELLO, in machine form: `ERROR SERVER_FULL ...`, then
`BYE server full`. That reason is shown, and the next try waits longer and says so. A ban
may also come later (`BYE banned` after `PART ... banned by OP: REASON`, or `ERROR BANNED`
at `/nick`), and so may the end of a wrong password (`BYE wrong password`): these are
refusals too, with the same long wait, so a banned client never knocks at line speed.

A server with a password (`--password`) is given it after HELLO, before `/nick`; see
`access.py` for what happens when it is missing or wrong.

It speaks version 2 of the protocol (`/hello chat-client 2`: rooms, ids, history) and
decodes in the version the server's HELLO names, so a version 1 server still works.

It reports through a `ConnectionListener` and knows nothing about the screen. Bytes are
split by `protocol.LineFramer` and decoded by `protocol.decode_event`: no parser here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import suppress

from protocol import (
    ROOMS_PROTOCOL_VERSION, Bye, Error, ErrorCode, Event, Hello, LineFramer, MalformedEvent,
    NickChange, Part, PartReason, Pong, RoomEvent, UnknownEvent, Welcome, decode_event, nick_key,
)
from protocol.framing import Line

from chat_client import pinning
from chat_client.access import PasswordGate
from chat_client.link import ConnectionListener, ConnectionSettings
from chat_client.nicks import nick_variants
from chat_client.state import ConnectionState
from chat_client.waiting import (
    count_down, describe_error, describe_wait, refusal_phrase, retry_delays, within,
)

CLIENT_NAME = "chat-client"
BANNED_BY = "banned by "
"""How the reason of the PART that bans you starts (the contract: `banned by OP: REASON`)."""
_REFUSING_GOODBYES = frozenset({PartReason.BANNED, PartReason.BAD_PASSWORD})
"""BYE reasons that turn the client away even after HELLO: wait long before trying again."""
SPOKEN_VERSION = int(ROOMS_PROTOCOL_VERSION)
"""The protocol version asked for in `/hello`: rooms, ids and history."""
MAX_SERVER_LINE_BYTES = 1 << 20
"""Server lines can be far longer than client lines (USERS lists the whole room)."""
KEEPALIVE_TOKEN = "chat-client-keepalive"
"""The token of the client's own pings; their PONGs are not shown."""
_READ_SIZE = 65536


class Connection:
    """Connects, joins, reads events and reconnects until `quit()`.

    `nick` is the nickname wanted; after joining it follows the nickname actually held
    (a fallback variant, a `/nick` change), so a reconnect rejoins as the same person.
    """

    def __init__(self, host: str, port: int, nick: str, listener: ConnectionListener,
                 settings: ConnectionSettings | None = None, password: str | None = None) -> None:
        self.host = host
        self.port = port
        self.nick = nick
        self._listener = listener
        self._settings = settings or ConnectionSettings()
        self._writer: asyncio.StreamWriter | None = None
        self._ready = False  # HELLO arrived: lines may be sent
        self._joined = False  # WELCOME arrived on this connection
        self._ever_joined = False  # so the next join is a *re*connection
        self._joining = False  # our own /nick is out: a taken nickname means "try a variant"
        self._variants: Iterator[str] | None = None  # the variants left to try
        self._base_nick = nick  # the nickname the variants are made from
        self._goodbye: str | None = None  # the BYE reason, if the server gave one
        self._refusal_text: str | None = None  # why the server turns us away, as it said it
        self.access = PasswordGate(password)
        self._refused = False  # this session ended with a BYE before HELLO
        self._last_refusal = ""  # the refusal last told in the pane, so it is told once
        self._no_greeting = False  # connected, but no HELLO within the greeting timeout
        self._stalled = False  # a keepalive ping is out and unanswered
        self._joined_state = ConnectionState.CONNECTED  # or RECONNECTED, for this session
        self._quitting = False
        self._session_over = asyncio.Event()
        self._last_heard = 0.0  # time.monotonic() of the last bytes from the server
        self._went_silent = False  # the keepalive gave up on this connection
        self.version = 1  # the protocol version the server's HELLO named

    @property
    def address(self) -> str:
        """`host:port`, with brackets around an IPv6 host."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    # Used by the application

    async def run(self) -> None:
        """Stay connected until `quit()`: connect, read, and after a loss try again."""
        delays, refused_delays = self._fresh_delays(), self._fresh_refused_delays()
        failures = 0  # attempts in a row that never got into the room
        while not self._quitting:
            self._joined = False
            reason = await self._connect_once()
            if self._quitting:
                break
            if self._refused:
                await self._wait_after_refusal(reason, next(refused_delays))
                continue
            refused_delays = self._fresh_refused_delays()
            if self._joined:  # it worked for a while: report the loss, back off from scratch
                delays, failures = self._fresh_delays(), 0
                self._listener.connection_changed(ConnectionState.LOST, f"({reason})")
                self._listener.notice(f"connection lost ({reason}); reconnecting", error=True)
            else:
                failures += 1
                if failures == 1:  # once, not at every retry: the status bar counts them
                    self._listener.notice(f"cannot reach {self.address} ({reason}); "
                                          "trying again", error=True)
            await self._wait_before_retry(reason, next(delays))
        self._listener.connection_changed(ConnectionState.CLOSED, "")

    def _fresh_delays(self) -> Iterator[float]:
        return retry_delays(self._settings.first_retry_delay, self._settings.max_retry_delay)

    def _fresh_refused_delays(self) -> Iterator[float]:
        return retry_delays(self._settings.first_refused_delay,
                            self._settings.max_refused_delay)

    def send_line(self, line: str) -> bool:
        """Send one line to the server; False if there is no connection to send it on."""
        if self._writer is None or not self._ready:
            return False
        self._write(line)
        return True

    def give_password(self, secret: str) -> None:
        """The person typed the server's password: give it now (and join), or at the next
        connection if there is none."""
        lines = self.access.give(secret, self.nick)
        if self._writer is not None and self._ready and not self._joined:
            for line in lines:
                self._write(line)
        elif self._ready:  # already in: the server says no password is needed now
            self._write(f"/pass {secret}")

    async def quit(self, reason: str = "quit") -> None:
        """Leave: send `/quit`, wait (briefly) for the server to close, stop reconnecting."""
        self._quitting = True
        if self._writer is None or not self._ready:
            return
        self._write(f"/quit {reason}")
        with suppress(asyncio.TimeoutError):
            await within(self._settings.quit_timeout, self._session_over.wait())

    # One connection, from connect to close

    async def _connect_once(self) -> str:
        """Connect and run one session; return why it ended, for the user."""
        self._report_attempt()
        self._refused = False
        context = pinning.unverified_context() if self._settings.tls else None
        try:
            reader, writer = await within(self._settings.connect_timeout,
                                          asyncio.open_connection(self.host, self.port,
                                                                  ssl=context))
        except (OSError, asyncio.TimeoutError) as error:
            return describe_error(error)
        if context is not None and not self._pinned(writer):
            writer.close()
            self._refused = True  # no quick retry: the person must decide
            return "the server's certificate has changed; see above"
        self._session_over.clear()
        self._report_waiting_for_greeting()
        watchdogs = [asyncio.ensure_future(self._keep_alive(writer)),
                     asyncio.ensure_future(self._expect_greeting(writer))]
        try:
            return await self._session(reader, writer)
        except OSError as error:
            return describe_error(error)
        finally:
            for watchdog in watchdogs:
                watchdog.cancel()
            self._end_session(writer)

    def _pinned(self, writer: asyncio.StreamWriter) -> bool:
        """Check the TLS server's certificate against the one remembered (as ssh does)."""
        result = pinning.check(self.host, self.port, pinning.transport_fingerprint(writer))
        if result.status is not pinning.PinStatus.SAME:
            self._listener.notice(result.message, error=not result.ok)
        return result.ok

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        self._writer, self._ready, self._goodbye = writer, False, None
        self._went_silent = self._no_greeting = self._stalled = self._refused = False
        self._refusal_text = None
        self.version = 1
        self._write(f"/hello {CLIENT_NAME} {SPOKEN_VERSION}")
        framer = LineFramer(max_line_bytes=MAX_SERVER_LINE_BYTES)
        while data := await reader.read(_READ_SIZE):
            self._heard_from_server()
            for item in framer.feed(data):
                if isinstance(item, Line):  # an overlong or undecodable line is skipped
                    self._handle_line(item.text)
        return self._why_it_ended()

    def _why_it_ended(self) -> str:
        if self._went_silent:
            return "the server stopped answering"
        if self._no_greeting:
            return "connected, but the server does not answer"
        if self._goodbye is not None:
            self._refused = not self._ready or self._goodbye in _REFUSING_GOODBYES
            return self._goodbye
        return "the server closed the connection"

    def _heard_from_server(self) -> None:
        self._last_heard = time.monotonic()
        if self._stalled:  # the server answers again: say so at once
            self._stalled = False
            self._report_in_room()

    def _end_session(self, writer: asyncio.StreamWriter) -> None:
        self._writer, self._ready = None, False
        self.access.session_ended()
        writer.close()  # the transport closes on its own; nothing to wait for
        self._session_over.set()

    async def _keep_alive(self, writer: asyncio.StreamWriter) -> None:
        """Ping a server that has been silent; close the link if the ping goes unanswered.

        A separate task rather than a timeout around each read: closing the transport ends
        the read loop with an ordinary end of stream.
        """
        self._last_heard = time.monotonic()
        while True:
            quiet_for = time.monotonic() - self._last_heard
            if quiet_for < self._settings.keepalive_interval:
                await asyncio.sleep(self._settings.keepalive_interval - quiet_for)
                continue
            pinged_at = time.monotonic()
            self._write(f"/ping {KEEPALIVE_TOKEN}")
            if self._joined:
                self._stalled = True
                self._listener.connection_changed(
                    ConnectionState.STALLED, f"for {describe_wait(quiet_for)}; checking...")
            await asyncio.sleep(self._settings.keepalive_timeout)
            if self._last_heard < pinged_at:
                self._went_silent = True
                writer.close()
                return

    async def _expect_greeting(self, writer: asyncio.StreamWriter) -> None:
        """Give up on a connection that never says HELLO (a frozen server still accepts)."""
        await asyncio.sleep(self._settings.greeting_timeout)
        if not self._ready:
            self._no_greeting = True
            writer.close()

    # What the server says

    def _handle_line(self, line: str) -> None:
        try:
            event = decode_event(line, self.version)
        except MalformedEvent:
            if self._ready:
                self._listener.notice("the server sent a line this client cannot read",
                                      error=True)
            return
        if not self._ready:
            self._before_hello(event)
            return
        if isinstance(event, UnknownEvent) or self._handled_here(event):
            return  # unknown events are ignored, so servers can add new ones
        self._listener.event_received(event)
        if isinstance(event, Welcome):  # after the WELCOME itself is shown
            self._report_joined()

    def _before_hello(self, event: Event) -> None:
        """Before HELLO the server talks to people (its greeting), except to refuse us."""
        match event:
            case Hello():
                self._start_joining(event)
            case Error(_, text):  # shown only if a BYE and the end follow: a refusal
                self._refusal_text = text
            case Bye(reason):
                self._goodbye = reason

    def _start_joining(self, hello: Hello) -> None:
        self._ready = True
        named = int(hello.version) if hello.version.isascii() and hello.version.isdigit() else 1
        self.version = min(named, SPOKEN_VERSION)
        self._listener.event_received(hello)
        self._joining, self._variants, self._base_nick = True, None, self.nick
        for line in self.access.joining_lines(self.nick):
            self._write(line)

    def _handled_here(self, event: Event | RoomEvent) -> bool:
        """Keep track of what the connection needs; True if the user need not see it."""
        if isinstance(event, RoomEvent):
            event = event.event  # a nickname change comes once in each room
        match event:
            case Welcome(nick):
                self._joined_as(nick)
            case Error(ErrorCode.NICK_IN_USE, _) if self._joining:
                return self._try_next_nick()
            case Error(ErrorCode.BAD_NICK, _) if self._joining:
                self._joining = False
                self._listener.notice("choose a nickname with /nick NAME", error=True)
            case Error(ErrorCode.BAD_PASSWORD, text) if not self._joined:
                self._password_refused(text)
                return True
            case Error(ErrorCode.BANNED, text) if not self._joined:
                self._refusal_text = text  # a BYE follows: the refusal line tells it once
                return True
            case Part(nick, reason) if nick_key(nick) == nick_key(self.nick) \
                    and reason.startswith(BANNED_BY):
                self._refusal_text = reason  # `banned by OP: REASON`; BYE banned follows
            case NickChange(old, new) if nick_key(old) == nick_key(self.nick):
                self.nick = new
            case Pong(token):
                return token == KEEPALIVE_TOKEN
            case Bye(reason):
                self._goodbye = reason
                return reason in _REFUSING_GOODBYES  # the refusal line says it
        return False

    def _password_refused(self, text: str) -> None:
        """ERROR BAD_PASSWORD before joining: ask the person (once), never retry alone."""
        told = self.access.refused(text)
        if told is not None:
            self._listener.notice(told, error=True)
            self._listener.connection_changed(self._trying_state(),
                                              "(the server needs its password)")

    def _joined_as(self, nick: str) -> None:
        self.nick = nick
        self._joined, self._joining, self._variants = True, False, None

    def _report_joined(self) -> None:
        self._joined_state = (ConnectionState.RECONNECTED if self._ever_joined
                              else ConnectionState.CONNECTED)
        self._ever_joined = True
        self._report_in_room()

    def _report_in_room(self) -> None:
        """Connected or reconnected: what this session said when it joined."""
        self._listener.connection_changed(self._joined_state, "")

    def _try_next_nick(self) -> bool:
        """The nickname is taken: try the next variant; False when there are none left."""
        if self._variants is None:
            self._variants = nick_variants(self._base_nick)
        taken, candidate = self.nick, next(self._variants, None)
        if candidate is None:
            self.nick, self._joining = self._base_nick, False
            self._listener.notice(f"nickname {self._base_nick} and its variants are taken; "
                                  "choose one with /nick NAME", error=True)
            return False
        self.nick = candidate
        self._listener.notice(f"nickname {taken} is taken; trying {candidate}")
        self._write(f"/nick {candidate}")
        return True

    # Reporting

    def _trying_state(self) -> ConnectionState:
        return ConnectionState.RECONNECTING if self._ever_joined else ConnectionState.CONNECTING

    def _report_attempt(self) -> None:
        self._listener.connection_changed(self._trying_state(), f"to {self.address}...")

    def _report_waiting_for_greeting(self) -> None:
        self._listener.connection_changed(self._trying_state(),
                                          "(waiting for the server to answer...)")

    async def _wait_before_retry(self, reason: str, delay: float) -> None:
        state = self._trying_state()
        await self._count_down(delay, lambda left: (state, f"in {left} ({reason})"))

    async def _wait_after_refusal(self, reason: str, delay: float) -> None:
        """Say once why the server turned us away, then count down to the next try."""
        told = self._refusal_text or refusal_phrase(reason)  # `banned`: "you are banned"
        if told != self._last_refusal:
            self._last_refusal = told
            self._listener.notice(f"the server turned you away: {told}; trying again in "
                                  f"{describe_wait(delay)}", error=True)
        phrase = refusal_phrase(reason)
        await self._count_down(delay, lambda left: (
            ConnectionState.REFUSED, f"{phrase}; trying again in {left}"))

    async def _count_down(self, delay: float,
                          describe: Callable[[str], tuple[ConnectionState, str]]) -> None:
        """Wait `delay` seconds, showing the time left in the status bar as it goes down."""
        await count_down(delay, lambda left: self._listener.connection_changed(*describe(left)))

    def _write(self, line: str) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(line.encode("utf-8") + b"\n")
