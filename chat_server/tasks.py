"""The server's tasks: plain generators that yield traps (see `traps.py`).

    accept_connections  one per listener: waits for new connections, opens a session for each
    client_reader       one per client: bytes -> its protocol object -> commands -> directory
    client_writer       one per client: its outbox -> its socket
    broadcaster         one: the directory's outgoing queue -> the store -> every outbox
    watch_signals       one: SIGINT/SIGTERM, arriving as bytes on a socket -> shutdown
    expire_unjoined     one: closes connections that never chose a nickname
    forget_old_history  one, with --keep-days: drops old events from the store every hour
    cancel_after        a deadline: stops a task that has not finished in time

(A TLS listener's connections get their own reader and writer: see `tls.py`.)

Each is short on purpose: the chat logic lives in `Directory`, the wire protocol in the
session's connection object, the fan-out in `Audience`, and these only move bytes and wait.
"""

from __future__ import annotations

import logging
import socket
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from chat_server.audience import Audience
from chat_server.directory import Directory
from chat_server.history import History
from chat_server.parking import Parking
from chat_server.scheduler import Task
from chat_server.session import Session
from chat_server.traps import TaskGenerator, cancel, park, recv_wait, send_wait, sleep
from protocol import Command, PartReason, SayLines

log = logging.getLogger(__name__)

RECEIVE_SIZE = 65536
# Scratch space every reader receives into; what arrived is copied out at once, so it
# never holds anything between two statements (one thread, no sharing). recv(65536)
# would allocate 64 KiB and shrink it for every read, which fragments the heap until a
# server with thousands of clients holds twice the memory it uses.
_RECEIVED = memoryview(bytearray(RECEIVE_SIZE))
LINES_PER_TURN = 32  # lines a reader hands the room before it lets others run
ACCEPTS_PER_WAKE = 1024  # a burst of joiners is taken in one go, before the kernel's
                         # accept queue overflows (it then drops SYNs and resets clients)
ACCEPT_PAUSE = 0.1  # when out of descriptors: wait before trying accept() again


class Moved(Protocol):
    """Told what each `recv` or `send` moved: `Scheduler.moved`."""

    def __call__(self, verb: str, count: int, task: Task | None = None) -> None:
        """`count` bytes moved ("recv" or "send"), for `task` (default: the running one)."""


class TakesCommands(Protocol):
    """What a reader hands commands to: the `Directory`, or the server's `CommandDoor`
    (live_view.py), which takes the /scheduler page's one request aside."""

    def handle(self, session: Session, command: Command) -> None:
        """Act on one command from `session`."""

    def connection_lost(self, session: Session) -> None:
        """The connection ended or broke."""


def _nobody_watches(verb: str, count: int, task: Task | None = None) -> None:
    """The default `Moved`: a task run without a scheduler's observer to tell."""


def accept_connections(
    listener: socket.socket, open_session: Callable[[socket.socket, tuple], None]
) -> TaskGenerator:
    """Accept connections forever, handing each to `open_session`."""
    trouble = None  # what accept() last failed with, so it is logged once, not every try
    while True:
        yield recv_wait(listener)
        for _ in range(ACCEPTS_PER_WAKE):
            try:
                sock, address = listener.accept()
            except BlockingIOError:
                break
            except OSError as error:
                # Out of descriptors (or a connection that died before we took it): the
                # listener stays readable, so retrying at once would spin. Pause; closing
                # sessions free descriptors, and service resumes by itself.
                if error.strerror != trouble:
                    trouble = error.strerror
                    log.warning("cannot accept: %s; retrying every %.1fs", trouble,
                                ACCEPT_PAUSE)
                yield sleep(ACCEPT_PAUSE)
                break
            if trouble is not None:
                log.warning("accepting connections again")
                trouble = None
            open_session(sock, address)


def client_reader(
    directory: TakesCommands, session: Session, clock: Callable[[], float],
    moved: Moved = _nobody_watches,
) -> TaskGenerator:
    """Read the client's bytes into its protocol object and hand each command it makes
    to the directory.

    However the reading ends (end of file, a reset, or a bug in a command), a reader that
    was still reading tells the directory the connection is lost: nobody stays as a ghost.
    """
    try:
        yield from _read_until_the_end(directory, session, clock, moved)
    finally:
        if session.reading:
            directory.connection_lost(session)


def _read_until_the_end(
    directory: TakesCommands, session: Session, clock: Callable[[], float], moved: Moved
) -> TaskGenerator:
    sock, connection = session.sock, session.connection
    while session.reading:
        yield recv_wait(sock)
        try:
            count = sock.recv_into(_RECEIVED)
        except BlockingIOError:
            continue
        except OSError:  # reset by the peer, or worse: the connection is gone either way
            return
        moved("recv", count)
        if not count:
            return
        connection.receive_data(bytes(_RECEIVED[:count]))
        yield from handle_commands(directory, session, clock)


def handle_commands(
    directory: TakesCommands, session: Session, clock: Callable[[], float]
) -> TaskGenerator:
    """Hand the directory each command in the bytes received so far (the TLS
    reader uses this too: only the moving of bytes differs)."""
    connection = session.connection
    # One command at a time: held back by flood control, the reader keeps only the
    # bytes that came, not a list of the thousands of lines they may hold.
    lines = 0  # handed over since this reader last let the others run
    while (received := connection.next_command()) is not None:
        for command in _one_by_one_if_needed(received, session):
            _queue_own_bytes(session)
            if session.flood is not None:
                delay = session.flood.delay_for_next_line(clock())
                if delay:
                    # Flood control: not reading is what slows the sender (TCP does the rest).
                    yield sleep(delay)
            if not session.reading:
                return
            directory.handle(session, command)
            if session.pause:  # a wrong password: make guessing slow
                pause, session.pause = session.pause, 0.0
                yield sleep(pause)
            lines += len(command.texts) if type(command) is SayLines else 1
            if lines >= LINES_PER_TURN:
                lines = 0
                yield from _let_the_replies_go_out(session)
    _queue_own_bytes(session)


def _one_by_one_if_needed(command: Command, session: Session) -> Sequence[Command]:
    """`command`, or the lines of a `SayLines` one by one when each must be looked at
    by itself: flood control may pause between them, and before its nickname a
    newcomer's lines are its name and password, each of which may pause or end it."""
    if type(command) is SayLines and (session.flood is not None or session.nick is None):
        return command.one_by_one()
    return (command,)


def _queue_own_bytes(session: Session) -> None:
    """Queue what the protocol sends by itself (an HTTP answer, a WebSocket pong).

    Drained before each command is handled, so those bytes go out before its replies
    (a WebSocket close frame after them would end the conversation too soon).
    """
    data = session.connection.data_to_send()
    if data:
        session.outbox.put(data)


def _let_the_replies_go_out(session: Session) -> TaskGenerator:
    """Give the others a turn, then wait while this client owes more than its limit.

    One read can hold a thousand commands, each with replies (/help is eleven lines):
    without a pause they would all be queued before a single byte went out. A client
    that does not read its replies stops being read, until it catches up or, owing too
    much while taking nothing, is cut off as too slow by its writer.
    """
    yield sleep(0)  # the broadcaster and the writers run before this reader goes on
    outbox = session.outbox
    while session.reading and outbox.size > outbox.limit:
        yield park(outbox.has_room)


def client_writer(
    directory: Directory, session: Session, close_session: Callable[[Session], None],
    moved: Moved = _nobody_watches,
) -> TaskGenerator:
    """Send the client's outbox as it fills; once it is finished, close politely.

    While it waits for data, whoever fills the outbox may send straight to the socket
    (`Outbox.send_at_once`): this task then wakes only for what the kernel could not
    take at once, and waits for room so that nobody else has to.
    """
    sock = session.sock
    outbox = session.outbox
    outbox.send_at_once = _sender_for(session, moved)
    try:
        while outbox or not outbox.finished:
            if outbox:
                yield from _send_everything_queued(directory, session, moved)
            else:
                yield park(outbox.has_data)
        outbox.send_at_once = None
        # All sent. Stop reading, then close politely.
        if session.reader is not None:
            yield cancel(session.reader)
        yield from close_politely(sock)
    except OSError:
        directory.connection_lost(session)
    finally:
        outbox.send_at_once = None
        close_session(session)


def _sender_for(session: Session, moved: Moved) -> Callable[[bytes], int]:
    """A `send_at_once` for the session's socket: one non-blocking `send`, told to the
    observers as the writer's (the trace shows every send, whoever made the call)."""
    sock = session.sock

    def send_at_once(data: bytes) -> int:
        try:
            sent = sock.send(data)
        except OSError:  # full (the writer waits for room) or broken (the writer finds out)
            return 0
        moved("send", sent, session.writer)
        return sent

    return send_at_once


def close_politely(sock: socket.socket) -> TaskGenerator:
    """Send FIN, and wait for the peer to close its side, so our last lines are not
    destroyed by a reset for input we never read (the close deadline bounds the wait)."""
    sock.shutdown(socket.SHUT_WR)
    while True:
        yield recv_wait(sock)
        if not sock.recv(RECEIVE_SIZE):
            break


def _send_everything_queued(directory: Directory, session: Session,
                            moved: Moved = _nobody_watches) -> TaskGenerator:
    """Send all that is queued now, in as few send() calls as the kernel allows."""
    sock, outbox = session.sock, session.outbox
    data = memoryview(outbox.take())
    while data:
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        moved("send", sent)  # told even when the kernel took it all at once
        outbox.sent(sent)
        data = data[sent:]
        if data:  # the kernel's buffer is full: wait until it has room again
            outbox.stalled = True
            cut_off_if_too_slow(directory, session)
            yield send_wait(sock)
            outbox.stalled = False


def cut_off_if_too_slow(directory: Directory, session: Session) -> None:
    """Called by a writer whose socket is full: cut the client off if it owes too much."""
    if session.outbox.too_far_behind and not session.hanging_up:
        # Owed more than the limit and taking nothing: too slow to keep. (Checked when
        # the writer stalls, not only when more is queued: replies to one burst of
        # commands can pass the limit with nothing queued after them.)
        directory.cut_off(session, PartReason.TOO_SLOW)


def broadcaster(directory: Directory, audience: Audience) -> TaskGenerator:
    """Deliver the directory's outgoing queue, in order, for as long as the server runs."""
    while True:
        audience.deliver_all(directory.outgoing)
        yield park(directory.has_outgoing)


def watch_signals(wakeup: socket.socket, on_signal: Callable[[int], None]) -> TaskGenerator:
    """Wait for signal numbers written to `wakeup` (see signal.set_wakeup_fd)."""
    while True:
        yield recv_wait(wakeup)
        try:
            received = wakeup.recv(64)
        except BlockingIOError:
            continue
        for signum in received:
            on_signal(signum)


def expire_unjoined(
    deadlines: deque[tuple[float, weakref.ref[Session]]],
    has_deadlines: Parking,
    clock: Callable[[], float],
    expire: Callable[[Session], None],
) -> TaskGenerator:
    """Hand `expire` each session whose join deadline has passed, oldest first.

    Every connection gets the same time to join, so deadlines arrive in order: one task
    sleeping until the oldest one serves them all. The queue holds weak references, so a
    connection that closed before its deadline is not kept in memory until then.
    """
    while True:
        if not deadlines:
            yield park(has_deadlines)
            continue
        deadline, session_ref = deadlines[0]
        if deadline > clock():
            yield sleep(deadline - clock())
            continue
        deadlines.popleft()
        session = session_ref()
        if session is not None:
            expire(session)


HOUR = 3600.0


def forget_old_history(history: History, keep_days: float,
                       wall_clock_ms: Callable[[], int]) -> TaskGenerator:
    """Retention (--keep-days): drop events older than that, now and every hour."""
    while True:
        history.forget_older_than(wall_clock_ms() - int(keep_days * 86_400_000))
        yield sleep(HOUR)


def cancel_after(seconds: float, task: Task) -> TaskGenerator:
    """Stop `task` if it is still running after `seconds`."""
    yield sleep(seconds)
    yield cancel(task)
