"""The `chat-server` command line (also `python -m chat_server`)."""

from __future__ import annotations

import argparse
import logging
import socket
import sys

from chat_server.addresses import lan_addresses
from chat_server.admission import DEFAULT_MAX_PER_ADDRESS
from chat_server.flood import FloodPolicy
from chat_server.server import ChatServer, ServerConfig
from chat_server.trace import TracingScheduler
from protocol import DEFAULT_PORT

ALL_INTERFACES = ("0.0.0.0", "::", "")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with the options and defaults of the protocol document."""
    parser = argparse.ArgumentParser(
        prog="chat-server",
        description="A LAN chat room on a generator-based task scheduler. "
                    "Join with chat-client, nc or telnet.",
    )
    parser.add_argument("--host", default="0.0.0.0",
                        help="address to listen on (default: 0.0.0.0, every interface)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT,
                        help=f"TCP port (default: {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--name", type=_server_name, default=_default_name(),
                        help="the room's name, shown to people who join "
                             "(default: this machine's host name)")
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
    parser.add_argument("--bot-interval", type=_seconds, default=6.0, metavar="SECONDS",
                        help="how often each bot talks, on average (default: 6)")
    parser.add_argument("--trace", action="store_true",
                        help="print every decision of the scheduler to standard error: "
                             "which task runs, what it waits for, what wakes it")
    parser.add_argument("--trace-delay", type=_seconds, default=0.0, metavar="SECONDS",
                        help="with --trace, pause after each line so a class can follow "
                             "(default: 0)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGINT or SIGTERM; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    _allow_many_connections()
    config = ServerConfig(
        host=args.host, port=args.port, name=args.name, max_clients=args.max_clients,
        max_per_address=_per_address_cap(args.max_per_address),
        spare_loopback=args.max_per_address is None,
        join_timeout=args.join_timeout or None,
        outbox_limit=args.outbox_limit, flood=args.flood,
        bots=args.bots, bot_interval=max(args.bot_interval, 0.05),
    )
    scheduler = TracingScheduler(delay=args.trace_delay) if args.trace else None
    try:
        server = ChatServer(config, scheduler)
    except OSError as error:
        print(f"chat-server: cannot listen on {args.host}:{args.port}: {error.strerror}",
              file=sys.stderr)
        return 1
    server.serve(ready=lambda: _announce(server, args.host))
    print("server stopped", flush=True)
    return 0


def _announce(server: ChatServer, requested_host: str) -> None:
    host, port = server.address
    lines = [f"chat-server: room {server.config.name!r} listening on {host}:{port}"]
    if requested_host in ALL_INTERFACES:
        addresses = lan_addresses()
        if addresses:
            lines.append("People on your network can join with:")
        for address in addresses:
            target = address if port == DEFAULT_PORT else f"{address}:{port}"
            lines.append(f"    chat-client {target}")
            lines.append(f"    nc {address} {port}")
    # Tests and scripts wait for this line, so it is flushed whatever the buffering.
    print("\n".join(lines), flush=True)


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
