"""The chat server: listeners, a directory of people and rooms, and the tasks that connect them.

`ChatServer` wires the pieces together and owns each connection's life: for every
listener (each a socket and the kind of connection it speaks) an accept task opens a
session (a reader and a writer task) per accepted socket, turns away connections when
full, closes sessions when their writer ends, and shuts everything down on a signal.
"""

from __future__ import annotations

import logging
import secrets
import signal
import socket
import ssl
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from chat_server.addresses import lan_addresses
from chat_server.admission import DEFAULT_MAX_PER_ADDRESS, Admission, Refusal
from chat_server.audience import Audience
from chat_server.bots import start_bots
from chat_server.directory import Directory, activity, wall_clock_ms
from chat_server.flood import FloodPolicy
from chat_server.history import History
from chat_server.live_view import CommandDoor, LiveView
from chat_server.mdns import Announcer, MdnsSettings, Service, announced_addresses, host_name, \
    service_txt
from chat_server.memory_store import MemoryStore
from chat_server.outgoing import Connection
from chat_server.parking import Parking
from chat_server.scheduler import Scheduler, Task
from chat_server.session import Session
from chat_server.tls import TlsSettings, secure, start_tls_tasks
from chat_server.tasks import (
    accept_connections, broadcaster, cancel_after, client_reader, client_writer,
    expire_unjoined, forget_old_history, watch_signals,
)
from chat_server.traps import TaskGenerator, park, sleep
from chat_web import static_files
from protocol import DEFAULT_ROOM, Bye, Error, ErrorCode, LineConnection, PartReason, encode_event
from protocol.irc import IrcConnection
from protocol.web import WebConnection

log = logging.getLogger(__name__)

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)
FIGURES_MAX_AGE = 0.2  # seconds; /stats costs a scan of every task, so replies share one


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server can be told on its command line."""

    host: str = "0.0.0.0"
    port: int = 7777
    name: str = "chat"
    default_room: str = DEFAULT_ROOM
    max_rooms_per_user: int = 20
    history_on_join: int = 50  # events replayed to each joiner (version 2 and people)
    keep_days: float = 0  # drop stored events older than this; 0 keeps everything
    max_clients: int = 1000
    max_per_address: int | None = DEFAULT_MAX_PER_ADDRESS  # None: no cap
    spare_loopback: bool = True  # the per-address cap does not apply to 127.0.0.1 and ::1
    join_timeout: float | None = 120.0  # seconds to choose a nickname; None: forever
    bots: int = 0  # demo chatters started inside the server (see bots.py)
    bot_interval: float = 6.0  # seconds between a bot's lines, on average
    outbox_limit: int = 1 << 20
    flood: FloodPolicy | None = FloodPolicy(burst=10, rate=5.0)
    password: str | None = None  # --password: asked of everyone before anything else
    oper_password: str | None = None  # --oper-password: a fixed operator token
    close_grace: float = 2.0  # how long a closing connection may take to flush and close
    backlog: int = 4096  # the kernel caps it at net.core.somaxconn
    tls: TlsSettings | None = None  # --tls-port: the same chat over TLS, on one more listener
    irc_port: int | None = None  # --irc-port: IRC clients, on one more listener; None: off
    irc_port_given: bool = False  # given explicitly: a port in use is an error
    web_port: int | None = None  # --web-port: the web client and its WebSocket; None: off
    web_port_given: bool = False  # given explicitly: a port in use is an error, not a warning
    web_origins: tuple[str, ...] = ()  # --web-origin: pages elsewhere that may connect
    announce: MdnsSettings | None = None  # where to announce the room (mDNS); None: not at all


@dataclass
class Listener:
    """A listening socket and the kind of connection it speaks.

    Plain TCP lines today; TLS, WebSocket and IRC are more of these, each with its own
    connection object, and the rest of the server does not tell them apart.
    """

    name: str  # what it speaks, for people: "lines"
    sock: socket.socket
    make_connection: Callable[[], Connection]
    tls: ssl.SSLContext | None = None  # None: plain TCP; else its connections speak TLS
    acceptor: Task | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The host and port it really listens on."""
        host, port = self.sock.getsockname()[:2]
        return host, port


class ChatServer:
    """A chat server: rooms, served by one scheduler in one thread."""

    def __init__(self, config: ServerConfig, scheduler: Scheduler | None = None,
                 history: History | None = None) -> None:
        self.config = config
        self.scheduler = scheduler or Scheduler()  # a TracingScheduler for --trace
        # Bound once, not per connection: every session's tasks keep these, and a method
        # bound anew for each of thousands of sessions would be 64 bytes a session each.
        self._moved = self.scheduler.moved  # what each recv and send moved, for observers
        self._close_session = self.close_session
        self._on_hang_up = self._start_close_deadline
        self.started_at = self.scheduler.clock()
        self.history = history or History(MemoryStore(), "memory only")
        # The operator token is new at every start, unless --oper-password fixes one.
        self.oper_token = config.oper_password or secrets.token_urlsafe(12)
        self.directory = Directory(
            config.name, default_room=config.default_room,
            max_rooms_per_user=config.max_rooms_per_user,
            history_on_join=config.history_on_join, history=self.history,
            oper_token=self.oper_token, password=config.password, figures=self.figures,
        )
        self.audience = Audience(self.history, self.directory.cut_off)
        # The /scheduler page's viewers (web listener only); with a password the page
        # is off: it shows everyone's nickname to whoever opens it.
        self.live_view = LiveView(
            self.scheduler, self.directory, lambda: self.sessions, config.outbox_limit,
            refusal="this server has a password: its scheduler page is off"
            if config.password else None)
        self._commands = CommandDoor(self.directory, self.live_view)
        self.sessions: set[Session] = set()
        self._everyone_gone = Parking()  # shutdown waits here for the last session
        self.admission = Admission(config.max_clients, config.max_per_address,
                                   spare_loopback=config.spare_loopback)
        self._join_deadlines: deque[tuple[float, weakref.ref[Session]]] = deque()
        self._has_join_deadlines = Parking()
        self.listeners = [Listener("lines", _listen(config.host, config.port, config.backlog),
                                   LineConnection)]
        if config.tls is not None:
            self.listeners.append(self._tls_listener(config.tls))
        if config.irc_port is not None:
            self._add_irc_listener(config.irc_port, config.irc_port_given)
        if config.web_port is not None:
            self._add_web_listener(config.web_port, config.web_port_given, config.web_origins)
        self.shutting_down = False
        self.announcer: Announcer | None = None  # made in serve(), when config.announce says
        self._figures: tuple[float, dict[str, object]] | None = None  # (when, figures)

    @property
    def address(self) -> tuple[str, int]:
        """The host and port the line protocol really listens on."""
        return self.listeners[0].address

    def serve(self, ready: Callable[[], None] = lambda: None) -> None:
        """Run until shut down by SIGINT or SIGTERM (or `begin_shutdown`).

        `ready` is called once signals are handled, just before the loop starts: a
        SIGTERM sent by someone who saw it (a test, a supervisor) cannot be lost.
        """
        spawn = self.scheduler.spawn
        for listener in self.listeners:
            listener.acceptor = spawn(accept_connections(
                listener.sock, lambda sock, address, listener=listener:
                self.open_session(sock, address, listener.make_connection(), listener.tls)),
                name=f"accept({listener.name})")
        spawn(broadcaster(self.directory, self.audience))
        self._start_announcing()
        spawn(expire_unjoined(self._join_deadlines, self._has_join_deadlines,
                              self.scheduler.clock, self._expire_if_unjoined))
        if self.config.keep_days:
            spawn(forget_old_history(self.history, self.config.keep_days, wall_clock_ms))
        if self.config.bots:
            host, port = self.address
            loopback = "127.0.0.1" if host in ("0.0.0.0", "") else host
            start_bots(self.config.bots, (loopback, port), self.config.bot_interval, spawn)
        with _signals_as_bytes() as wakeup:
            spawn(watch_signals(wakeup, self._on_signal))
            ready()
            self.scheduler.run()
            # Still inside: the store's last checkpoint can take a moment, and a second
            # SIGTERM meanwhile (a supervisor, an impatient Ctrl-C) must not kill it.
            self.history.close()

    def _start_announcing(self) -> None:
        """Announce the room on the local network (mDNS), if configured and reachable."""
        settings = self.config.announce
        if settings is None:
            return
        host, port = self.address
        addresses = announced_addresses(host, settings, lan_addresses)
        if not addresses:
            log.info("not announced on the network: nobody else could reach %s", host)
            return
        ports = {listener.name: listener.address[1] for listener in self.listeners}
        service = Service(self.config.name, host_name(socket.gethostname()), port, addresses,
                          service_txt(self.config.default_room, ports.get("web"),
                                      ports.get("irc")))
        # Multicast only where the room can be reached: on the interfaces it announces.
        settings = MdnsSettings(settings.group, settings.port,
                                settings.interfaces or addresses)
        self.announcer = Announcer(service, settings, self.scheduler)
        if self.announcer.start():
            log.info("announced on the network as %r (%s)", self.config.name,
                     "loopback only" if settings.loopback_only else "mDNS")

    def figures(self) -> dict[str, object]:
        """What `/stats` reports: the scheduler's tasks, the clients, the traffic, the store."""
        now = self.scheduler.clock()
        if self._figures is None or now - self._figures[0] > FIGURES_MAX_AGE:
            self._figures = (now, self._count_figures(now))
        return self._figures[1]

    def _count_figures(self, now: float) -> dict[str, object]:
        owed = [session.outbox.size for session in self.sessions]
        return {
            **self.scheduler.task_counts(),
            "clients": len(self.sessions),
            "joined": self.directory.member_count,
            "rooms": len(self.directory.rooms_in_use),
            "events_relayed": self.audience.events_relayed,
            "outbox_bytes": sum(owed),
            "outbox_max": max(owed, default=0),
            "loop_iterations": self.scheduler.loop_iterations,
            "uptime": f"{now - self.started_at:.1f}",
            **self.history.figures(),
        }

    # Connections

    def open_session(self, sock: socket.socket, address: tuple,
                     connection: Connection, tls: ssl.SSLContext | None = None) -> None:
        """Start serving a newly accepted connection (or turn it away)."""
        sock.setblocking(False)
        # Chat lines are small and each should leave at once: without this, Nagle's
        # algorithm holds them back waiting for ACKs (which the peer delays), adding
        # tens of milliseconds to every line under load.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        host = str(address[0])
        refusal = self._banned(host) or self.admission.refusal(host)
        if refusal is not None:
            activity.info("turned away %s: %s", _format_address(host, address[1]),
                          refusal.reason)
            if tls is None:
                _turn_away(sock, refusal)
            else:  # words in plain text would only garble a TLS client's handshake
                sock.close()
            return
        if tls is not None and (sock := secure(sock, tls)) is None:
            return
        self.admission.admit(host)
        name = _format_address(host, address[1])
        now = self.scheduler.clock()
        session = Session(
            sock, name, connection, outbox_limit=self.config.outbox_limit,
            flood=self.config.flood, now=now, on_hang_up=self._on_hang_up,
        )
        self.sessions.add(session)
        activity.info("connection from %s", name)
        spawn = self.scheduler.spawn
        if tls is None:
            session.reader = spawn(client_reader(self._commands, session, self.scheduler.clock,
                                                 self._moved), name=session.task_name("reader"))
            session.writer = spawn(client_writer(self.directory, session, self._close_session,
                                                 self._moved), name=session.task_name("writer"))
        else:
            assert self.config.tls is not None
            start_tls_tasks(spawn, self.directory, session, self.scheduler.clock,
                            self._close_session, self.config.tls.handshake_timeout)
        self.directory.greet(session)
        if self.config.join_timeout is not None:
            deadline = now + self.config.join_timeout
            self._join_deadlines.append((deadline, weakref.ref(session)))
            self._has_join_deadlines.wake_all()

    def _banned(self, host: str) -> Refusal | None:
        ban = self.directory.moderation.banned_address(host)
        if ban is None:
            return None
        return Refusal(f"you are banned: {ban.reason}", PartReason.BANNED, ErrorCode.BANNED)

    def _tls_listener(self, tls: TlsSettings) -> Listener:
        try:
            sock = _listen(self.config.host, tls.port, self.config.backlog)
        except OSError:
            self.listeners[0].sock.close()
            raise
        return Listener("tls", sock, LineConnection, tls.context)

    def _add_irc_listener(self, port: int, given: bool) -> None:
        """IRC clients' listener: one `IrcConnection` per connection, the same rooms."""
        name = self.config.name
        self._add_optional_listener("irc", "IRC listener", port, given, "--irc-port",
                                    lambda: IrcConnection(name))

    def _add_web_listener(self, port: int, given: bool, origins: tuple[str, ...]) -> None:
        """The web client's listener: HTTP and WebSocket, one `WebConnection` each."""
        files = static_files()  # read once; every connection shares the same bytes
        self._add_optional_listener("web", "web client", port, given, "--web-port",
                                    lambda: WebConnection(files, origins))

    def _add_optional_listener(self, name: str, what: str, port: int, given: bool,
                               option: str, make_connection: Callable[[], Connection]) -> None:
        """A listener beside the line protocol's. On its default port and finding it taken,
        it is skipped with a warning (the chat runs without it); a port given explicitly
        must be had, as the main one (see PROTOCOL.md): the error names its address."""
        try:
            sock = _listen(self.config.host, port, self.config.backlog)
        except OSError as error:
            if given:
                for listener in self.listeners:
                    listener.sock.close()
                raise
            log.warning("%s off: cannot listen on %s: %s (choose a port with %s)", what,
                        error.filename, error.strerror, option)
            return
        self.listeners.append(Listener(name, sock, make_connection))

    def close_session(self, session: Session) -> None:
        """Forget a session whose writer has ended, and close its socket."""
        if session not in self.sessions:
            return
        self.sessions.discard(session)
        self.live_view.forget(session)
        self.admission.release(session.host)
        if session.reading:  # the writer failed before anyone told the directory
            self.directory.connection_lost(session)
        if session.reader is not None and session.reader is not self.scheduler.current:
            self.scheduler.cancel(session.reader)
        self.scheduler.release(session.sock)
        session.sock.close()
        session.closed()
        activity.info("%s closed", session.address)
        if not self.sessions:
            self._everyone_gone.wake_all()

    def _start_close_deadline(self, session: Session) -> None:
        if session.writer is not None:
            self.scheduler.spawn(cancel_after(self.config.close_grace, session.writer),
                                 name=session.task_name("close-deadline"))

    def _expire_if_unjoined(self, session: Session) -> None:
        if session in self.sessions and session.reading \
                and not self.directory.is_joined(session) \
                and not self.live_view.watching(session):  # a viewer never joins
            self.directory.say_goodbye(session, "no nickname chosen in time")

    # Shutdown

    def _on_signal(self, signum: int) -> None:
        if signum in SHUTDOWN_SIGNALS and not self.shutting_down:
            log.info("received %s: shutting down", signal.Signals(signum).name)
            self.begin_shutdown()

    def begin_shutdown(self) -> None:
        """Say BYE to everyone, flush (within a deadline), then stop every task."""
        self.shutting_down = True
        if self.announcer is not None:  # first: the room is going, caches should drop it
            self.announcer.stop()
        for listener in self.listeners:
            if listener.acceptor is not None:
                self.scheduler.cancel(listener.acceptor)
            self.scheduler.release(listener.sock)
            listener.sock.close()
        for session in list(self.sessions):
            self.directory.say_goodbye(session, PartReason.SERVER_SHUTTING_DOWN)
        self.scheduler.spawn(self._stop_when_everyone_has_gone(), name="shutdown")
        self.scheduler.spawn(self._stop_at_the_deadline(), name="shutdown-deadline")

    def _stop_when_everyone_has_gone(self) -> TaskGenerator:
        while self.sessions:
            yield park(self._everyone_gone)
        self._stop_every_task()

    def _stop_at_the_deadline(self) -> TaskGenerator:
        yield sleep(self.config.close_grace)
        self._stop_every_task()

    def _stop_every_task(self) -> None:
        for task in list(self.scheduler.tasks):
            if task is not self.scheduler.current:
                self.scheduler.cancel(task)


def _turn_away(sock: socket.socket, refusal: Refusal) -> None:
    # Sent before any /hello could arrive, so in the machine form, which reads plainly.
    farewell = (encode_event(Error(refusal.code, refusal.text))
                + encode_event(Bye(refusal.reason)))
    try:
        sock.send(farewell)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(65536)  # read what already came, so closing does not reset the peer
    except OSError:
        pass
    sock.close()


def _format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(backlog)
    except OSError as error:
        listener.close()
        # Named in the error: with several listeners, say which address was refused.
        raise OSError(error.errno, error.strerror, _format_address(host, port)) from None
    listener.setblocking(False)
    return listener


@contextmanager
def _signals_as_bytes() -> Iterator[socket.socket]:
    """Deliver SIGINT and SIGTERM as bytes on a socket that a task can wait on.

    A signal cannot be a task's wake-up directly; but Python can write the signal number
    to a socket (set_wakeup_fd), and waiting on a socket is what tasks do.
    """
    receiver, sender = socket.socketpair()
    receiver.setblocking(False)
    sender.setblocking(False)
    # The wake-up socket first: a signal that lands between the two steps must not be
    # swallowed by a handler whose byte goes nowhere.
    previous_fd = signal.set_wakeup_fd(sender.fileno(), warn_on_full_buffer=False)
    previous_handlers = {signum: signal.signal(signum, lambda *_: None)
                         for signum in SHUTDOWN_SIGNALS}
    try:
        yield receiver
    finally:
        signal.set_wakeup_fd(previous_fd)
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        receiver.close()
        sender.close()
