"""The `chat-server` command line (also `python -m chat_server`)."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
from importlib import metadata
from typing import TextIO

from chat_server.addresses import lan_addresses
from chat_server.admission import DEFAULT_MAX_PER_ADDRESS
from chat_server.flood import FloodPolicy
from chat_server.history import History
from chat_server.mdns import MDNS_GROUP, MDNS_PORT, MdnsSettings
from chat_server.server import ChatServer, ServerConfig
from chat_server.store import StoreError, default_store_path, open_store
from chat_server.tls import HANDSHAKE_TIMEOUT, TlsSettings, TlsSetupError, prepare
from chat_server.observers import attach, detach
from chat_server.trace import TracingScheduler
from chat_server.trace_file import MAX_EVENTS, MAX_SECONDS, TraceFile
from protocol import DEFAULT_PORT, DEFAULT_ROOM, HISTORY_MAX_COUNT, room_name, room_problem

ALL_INTERFACES = ("0.0.0.0", "::", "")
BOT_INTERVAL = 6.0  # seconds, when --bots is given without --bot-interval
DEFAULT_IRC_PORT = 6667  # IRC's usual port
DEFAULT_WEB_PORT = 8080  # the usual port for a second web server on a machine
PORT_OFF = -1  # --irc-port off, --web-port off


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with the options and defaults of the protocol document."""
    parser = argparse.ArgumentParser(
        prog="chat-server",
        description="A LAN chat room on a generator-based task scheduler. "
                    "Join with chat-client, nc or telnet.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--host", default="0.0.0.0",
                        help="address to listen on (default: 0.0.0.0, every interface)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT,
                        help=f"TCP port (default: {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--name", type=_server_name, default=_default_name(),
                        help="the room's name, shown to people who join "
                             "(default: this machine's host name)")
    parser.add_argument("--room", type=_room, default=DEFAULT_ROOM, metavar="NAME",
                        help=f"the room everyone joins first (default: {DEFAULT_ROOM})")
    parser.add_argument("--max-rooms-per-user", type=_positive_int, default=20, metavar="N",
                        help="rooms one person may be in at once (default: 20)")
    parser.add_argument("--history-on-join", type=_history_count, default=50, metavar="N",
                        help="earlier lines shown to someone joining a room; 0 for none "
                             "(default: 50)")
    parser.add_argument("--store", default=None, metavar="PATH|none",
                        help="the SQLite file that keeps history; none keeps it in memory "
                             f"only (default: {default_store_path()})")
    parser.add_argument("--keep-days", type=_whole_number, default=0, metavar="N",
                        help="drop history older than N days; 0 keeps everything "
                             "(default: 0)")
    parser.add_argument("--password", default=None, metavar="SECRET",
                        help="ask everyone for this password before anything else")
    parser.add_argument("--oper-password", default=None, metavar="SECRET",
                        help="the operator token (/oper SECRET); without it a new token is "
                             "made and printed at every start")
    parser.add_argument("--quiet", action="store_true",
                        help="do not log who connects, joins, leaves and renames")
    parser.add_argument("--max-clients", type=_positive_int, default=1000, metavar="N",
                        help="connections served at once (default: 1000)")
    parser.add_argument("--max-per-address", type=_whole_number, default=None, metavar="N",
                        help="connections from one address at once; 0 for no cap "
                             f"(default: {DEFAULT_MAX_PER_ADDRESS}, not counting loopback; "
                             "given explicitly, loopback counts too)")
    parser.add_argument("--join-timeout", type=_seconds, default=120.0, metavar="SECONDS",
                        help="close connections that have not chosen a nickname in time; "
                             "0 to wait forever (default: 120)")
    parser.add_argument("--outbox-limit", type=_positive_int, default=1 << 20,
                        metavar="BYTES",
                        help="queued output per client before it is cut off as too slow "
                             "(default: 1048576, 1 MiB)")
    parser.add_argument("--flood", type=_flood, default=FloodPolicy(10, 5.0),
                        metavar="BURST/RATE|off",
                        help="a burst of BURST lines, then RATE lines a second; "
                             "off to disable (default: 10/5)")
    parser.add_argument("--bots", type=_whole_number, default=0, metavar="N",
                        help="start N simulated chatters that join over loopback "
                             "(for a demo without volunteers; default: 0)")
    parser.add_argument("--bot-interval", type=_seconds, default=None, metavar="SECONDS",
                        help="with --bots, how often each bot talks, on average "
                             f"(default: {BOT_INTERVAL:g})")
    parser.add_argument("--trace", action="store_true",
                        help="print every decision of the scheduler to standard error: "
                             "which task runs, what it waits for, what wakes it")
    parser.add_argument("--trace-delay", type=_seconds, default=None, metavar="SECONDS",
                        help="with --trace, pause after each line so a class can follow "
                             "(default: 0)")
    parser.add_argument("--trace-file", default=None, metavar="FILE",
                        help="write the scheduler's decisions to FILE as a timeline (Chrome "
                             "trace-event JSON: open it in ui.perfetto.dev or chrome://tracing)")
    parser.add_argument("--trace-file-events", type=_positive_int, default=None, metavar="N",
                        help="with --trace-file, stop writing after N events "
                             f"(default: {MAX_EVENTS})")
    parser.add_argument("--trace-file-seconds", type=_seconds, default=None, metavar="SECONDS",
                        help="with --trace-file, stop writing after SECONDS "
                             f"(default: {MAX_SECONDS:g})")
    parser.add_argument("--tls-port", type=_port, default=None, metavar="PORT",
                        help="also serve the chat over TLS on PORT (0 picks a free one); "
                             "TLS has no default port, so it is off without this option")
    parser.add_argument("--cert", default=None, metavar="FILE",
                        help="with --tls-port, the certificate (PEM) to serve (default: a "
                             "self-signed one, made once and kept in the state directory)")
    parser.add_argument("--key", default=None, metavar="FILE",
                        help="with --cert, its private key (PEM)")
    parser.add_argument("--tls-handshake-timeout", type=_seconds, default=None,
                        metavar="SECONDS",
                        help="with --tls-port, close a connection whose TLS handshake has "
                             f"not finished in time (default: {HANDSHAKE_TIMEOUT:g})")
    parser.add_argument("--irc-port", type=_port_or_off, default=None, metavar="PORT|off",
                        help="let IRC clients in on PORT; off to disable "
                             f"(default: {DEFAULT_IRC_PORT}, or a free port with --port 0)")
    parser.add_argument("--web-port", type=_port_or_off, default=None, metavar="PORT|off",
                        help="serve the web client and its WebSocket on PORT; off to disable "
                             f"(default: {DEFAULT_WEB_PORT}, or a free port with --port 0)")
    parser.add_argument("--web-origin", action="append", default=[], metavar="ORIGIN",
                        help="also let pages from ORIGIN (e.g. https://chat.example.org) "
                             "open the WebSocket; may be repeated (default: the page's own "
                             "origin only)")
    parser.add_argument("--no-announce", action="store_true",
                        help="do not announce the room on the local network (mDNS), so "
                             "chat-client without an address does not find it")
    # For tests (see docs/discovery.md): another group or port, and the interface to use;
    # --mdns-interface 127.0.0.1 keeps every packet on this machine.
    parser.add_argument("--mdns-address", type=_group_and_port,
                        default=(MDNS_GROUP, MDNS_PORT), help=argparse.SUPPRESS)
    parser.add_argument("--mdns-interface", action="append", default=[], type=_ipv4,
                        help=argparse.SUPPRESS)
    return parser


def _log_cheaply() -> None:
    """Skip what every log record would otherwise look up and our format never shows.

    The console logs each connect, join and leave: in a storm of 5,000 joiners that was
    a quarter of the server's time. Without the caller's frame, thread and process (the
    logging HOWTO's "Optimization"), a line costs about 2 us less, and reads the same."""
    logging._srcfile = None  # type: ignore[attr-defined]  # no sys._getframe per record
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGINT or SIGTERM; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _refuse_options_without_effect(parser, args)
    _log_cheaply()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    if args.quiet:
        logging.getLogger("chat_server.activity").setLevel(logging.WARNING)
    _allow_many_connections()
    _survive_file_size_limit()
    try:
        tls = _prepare_tls(args)
    except TlsSetupError as error:
        print(f"chat-server: {error}", file=sys.stderr)
        return 1
    history = _open_history(args.store)
    if history is None:
        return 1
    try:
        trace_out = _open_trace_file(args.trace_file)
    except OSError as error:
        history.close()
        print(f"chat-server: cannot write --trace-file {args.trace_file}: {error.strerror}",
              file=sys.stderr)
        return 1
    config = ServerConfig(
        host=args.host, port=args.port, name=args.name, default_room=args.room,
        max_rooms_per_user=args.max_rooms_per_user, history_on_join=args.history_on_join,
        keep_days=args.keep_days, max_clients=args.max_clients,
        password=args.password or None, oper_password=args.oper_password or None,
        max_per_address=_per_address_cap(args.max_per_address),
        spare_loopback=args.max_per_address is None,
        join_timeout=args.join_timeout or None,
        outbox_limit=args.outbox_limit, flood=args.flood,
        **_irc_settings(args),
        bots=args.bots, bot_interval=max(_given_or(args.bot_interval, BOT_INTERVAL), 0.05),
        tls=tls, **_web_settings(args), announce=_announce_settings(args),
    )
    # The trace is held back until the announcement: how to join comes first on screen.
    scheduler = (TracingScheduler(delay=_given_or(args.trace_delay, 0.0), held=True)
                 if args.trace else None)
    try:
        server = ChatServer(config, scheduler, history)
    except OSError as error:
        history.close()
        if trace_out is not None:
            trace_out.close()
        where = error.filename or _host_port(args.host, args.port)  # which listener
        print(f"chat-server: cannot listen on {where}: {error.strerror}", file=sys.stderr)
        return 1

    def ready() -> None:
        _announce(server, args.host)
        if scheduler is not None:
            scheduler.stop_holding()
        log = logging.getLogger(__name__)
        log.info("history is kept in %s", server.history.where)
        if server.config.oper_password is None:
            log.info("operator token for this run: /oper %s", server.oper_token)
        else:
            log.info("operators: /oper with the --oper-password given")

    trace_file = _start_trace_file(server, trace_out, args)
    try:
        server.serve(ready=ready)
    finally:
        if trace_file is not None:
            trace_file.close()  # ends the JSON, so the file opens even after Ctrl-C
    print("server stopped", flush=True)
    return 0


def _open_trace_file(path: str | None) -> TextIO | None:
    """The file --trace-file names, open for writing (None: not given). Raises OSError."""
    return None if path is None else open(path, "w", encoding="utf-8")  # noqa: SIM115


def _start_trace_file(server: ChatServer, out: TextIO | None,
                      args: argparse.Namespace) -> TraceFile | None:
    """The --trace-file observer, attached to the server's scheduler (None without it)."""
    if out is None:
        return None
    scheduler = server.scheduler
    trace_file = TraceFile(out, scheduler.clock,
                           max_events=args.trace_file_events or MAX_EVENTS,
                           max_seconds=_given_or(args.trace_file_seconds, MAX_SECONDS),
                           on_stop=lambda stopped: detach(scheduler, stopped))
    attach(scheduler, trace_file)
    return trace_file


def _open_history(spec: str | None) -> History | None:
    """The history store `--store` names, or None after saying in one line why not."""
    path = spec if spec is not None else str(default_store_path())
    try:
        store = open_store(path)
    except StoreError as error:
        print(f"chat-server: {error}", file=sys.stderr)
        return None
    where = "memory only (--store none)" if path == "none" else path
    return History(store, where)


def _announce(server: ChatServer, requested_host: str) -> None:
    host, port = server.address
    # Tests and scripts look for the first line that says `listening on`: keep it first.
    lines = [f"chat-server: room {server.config.name!r} listening on "
             f"{_host_port(host, port)}"]
    everywhere = requested_host in ALL_INTERFACES
    lines.append("On this machine, join with:")
    lines += _join_lines("localhost" if everywhere else host, port)
    addresses = lan_addresses() if everywhere else []
    if addresses:
        lines.append("People on your network can join with:")
    for address in addresses:
        lines += _join_lines(address, port)
    lines += _tls_lines(server, requested_host, addresses)
    lines += _irc_lines(server, requested_host, addresses)
    lines += _web_lines(server, requested_host, addresses)
    # Tests and scripts wait for these lines, so they are flushed whatever the buffering.
    print("\n".join(lines), flush=True)


def _join_lines(host: str, port: int) -> list[str]:
    """The commands that join the room at `host`, as someone would type them."""
    target = _host_port(host, port) if port != DEFAULT_PORT else (
        f"[{host}]" if ":" in host else host)
    return [f"    chat-client {target}", f"    nc {host} {port}"]


def _tls_lines(server: ChatServer, requested_host: str, addresses: list[str]) -> list[str]:
    """The TLS listener's `listening on` line, its fingerprint, and how to join over TLS."""
    tls = getattr(server.config, "tls", None)  # a stand-in server (tests) may have none
    if tls is None:
        return []
    listener = next(each for each in server.listeners if each.tls is not None)
    host, port = listener.address
    kept = "made now, kept in" if tls.made_now else "in"
    lines = [f"chat-server: TLS listening on {_host_port(host, port)}",
             f"TLS certificate ({kept} {tls.certificate}), SHA-256 fingerprint:",
             f"    {tls.fingerprint}",
             "On this machine, join over TLS with:"]
    lines += _tls_join_lines("localhost" if requested_host in ALL_INTERFACES else host, port)
    if addresses:
        lines.append("People on your network can join over TLS with:")
    for address in addresses:
        lines += _tls_join_lines(address, port)
    return lines


def _tls_join_lines(host: str, port: int) -> list[str]:
    """The commands that join over TLS: our client, and two everyone may already have."""
    # -quiet: without it, openssl takes a typed line starting with Q or R as a command.
    return [f"    chat-client --tls {_host_port(host, port)}",
            f"    openssl s_client -connect {_host_port(host, port)} -quiet",
            f"    ncat --ssl {host} {port}"]


def _web_lines(server: ChatServer, requested_host: str, addresses: list[str]) -> list[str]:
    """`Browsers: http://ADDRESS:PORT/` for each address people may use, if the web is on."""
    return _listener_lines(server, "web", "Browsers: http://{}/", requested_host, addresses)


def _irc_lines(server: ChatServer, requested_host: str, addresses: list[str]) -> list[str]:
    """`IRC clients: irc://ADDRESS:PORT` for each address people may use, if IRC is on."""
    return _listener_lines(server, "irc", "IRC clients: irc://{}", requested_host, addresses)


def _listener_lines(server: ChatServer, name: str, line: str, requested_host: str,
                    addresses: list[str]) -> list[str]:
    """`line` with each HOST:PORT people may use to reach listener `name`, if it runs."""
    listeners = getattr(server, "listeners", [])  # a stand-in server (tests) may have none
    listener = next((each for each in listeners if each.name == name), None)
    if listener is None:
        return []
    host, port = listener.address
    hosts = ["localhost", *addresses] if requested_host in ALL_INTERFACES else [host]
    return [line.format(_host_port(each, port)) for each in hosts]


def _announce_settings(args: argparse.Namespace) -> MdnsSettings | None:
    """Where the room is announced (mDNS), or None with --no-announce."""
    if args.no_announce:
        return None
    group, port = args.mdns_address
    return MdnsSettings(group, port, tuple(args.mdns_interface))


def _group_and_port(text: str) -> tuple[str, int]:
    group, _, port = text.rpartition(":")
    try:
        packed = socket.inet_aton(group)
    except OSError:
        packed = b"\0"
    if not 224 <= packed[0] <= 239 or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a multicast GROUP:PORT")
    return group, int(port)


def _ipv4(text: str) -> str:
    try:
        socket.inet_pton(socket.AF_INET, text)
    except OSError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv4 address") from None
    return text


def _web_settings(args: argparse.Namespace) -> dict[str, object]:
    """ServerConfig's web fields."""
    port, given = _listener_port(args.web_port, args.port, DEFAULT_WEB_PORT)
    return {"web_port": port, "web_port_given": given, "web_origins": tuple(args.web_origin)}


def _irc_settings(args: argparse.Namespace) -> dict[str, object]:
    """ServerConfig's IRC fields."""
    port, given = _listener_port(args.irc_port, args.port, DEFAULT_IRC_PORT)
    return {"irc_port": port, "irc_port_given": given}


def _listener_port(asked: int | None, main_port: int, default: int) -> tuple[int | None, bool]:
    """An optional listener's port (None: off) and whether it was given explicitly: as
    asked, or its default, or a free one when the main port is 0 (PROTOCOL.md)."""
    if asked == PORT_OFF:
        return None, False
    if asked is not None:
        return asked, True
    return (0 if main_port == 0 else default), False


def _port_or_off(text: str) -> int:
    return PORT_OFF if text == "off" else _port(text)


def _prepare_tls(args: argparse.Namespace) -> TlsSettings | None:
    """The TLS listener's settings, or None without --tls-port (raises TlsSetupError)."""
    if args.tls_port is None:
        return None
    return prepare(args.tls_port, args.cert, args.key, socket.gethostname() or "localhost",
                   _given_or(args.tls_handshake_timeout, HANDSHAKE_TIMEOUT))


def _host_port(host: str, port: int) -> str:
    """`HOST:PORT`, with an IPv6 address in brackets (`[::1]:7777`)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _room(text: str) -> str:
    name = room_name(text)
    problem = room_problem(name)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{text!r}: {problem}")
    return name


def _history_count(text: str) -> int:
    count = _whole_number(text)
    if count > HISTORY_MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{text!r}: at most {HISTORY_MAX_COUNT}")
    return count


def _refuse_options_without_effect(parser: argparse.ArgumentParser,
                                   args: argparse.Namespace) -> None:
    """Options that only change another option's behaviour are an error without it."""
    if args.trace_delay is not None and not args.trace:
        parser.error("--trace-delay only works with --trace (it slows the trace down)")
    limits = [option for option, value in (("--trace-file-events", args.trace_file_events),
              ("--trace-file-seconds", args.trace_file_seconds)) if value is not None]
    if limits and args.trace_file is None:
        parser.error(f"{limits[0]} only works with --trace-file FILE")
    if args.bot_interval is not None and not args.bots:
        parser.error("--bot-interval only works with --bots N (N at least 1)")
    if (args.cert is None) != (args.key is None):
        parser.error("--cert and --key go together (a certificate and its private key)")
    given = [option for option, value in (("--cert", args.cert),
             ("--tls-handshake-timeout", args.tls_handshake_timeout)) if value is not None]
    if given and args.tls_port is None:
        parser.error(f"{given[0]} only works with --tls-port PORT")


def _given_or(given: float | None, default: float) -> float:
    """An option's value if it was given, else its default (None: not given)."""
    return default if given is None else given


def _version() -> str:
    try:
        return metadata.version("lanchat")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "(version unknown: not installed)"


def _survive_file_size_limit() -> None:
    """A write past the file-size limit (RLIMIT_FSIZE) must fail like a full disk.

    By default the kernel kills the process with SIGXFSZ; ignored, the write fails with
    EFBIG instead, the store raises StoreError, and the chat goes on ("History is kept").
    """
    if hasattr(signal, "SIGXFSZ"):  # not on Windows
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _allow_many_connections() -> None:
    """Raise the open-file limit to its maximum: every client is a file descriptor."""
    try:
        import resource
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def _default_name() -> str:
    return _server_name(socket.gethostname() or "chat")


def _server_name(text: str) -> str:
    name = "-".join(text.split())
    if not name:
        raise argparse.ArgumentTypeError("the name cannot be empty")
    return name


def _port(text: str) -> int:
    port = int(text) if text.isdigit() else -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return port


def _positive_int(text: str) -> int:
    if _whole_number(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _per_address_cap(given: int | None) -> int | None:
    if given is None:
        return DEFAULT_MAX_PER_ADDRESS
    return given or None  # 0: no cap


def _whole_number(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds")
    return value


def _flood(text: str) -> FloodPolicy | None:
    try:
        return FloodPolicy.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None
