"""The command line: `chat-client [HOST[:PORT] | HOST PORT] [--nick NAME]`.

    chat-client                       a room found on the network (else localhost:7777)
    chat-client --discover            list the rooms on the network, then exit
    chat-client 192.168.1.20          that host, port 7777
    chat-client chat.lan:8000 --nick 张三
    chat-client chat.lan 8000         the same, as nc takes it
    chat-client [::1]:7777            an IPv6 address needs its brackets when a port follows
    chat-client --password SECRET     a server started with --password (or type it when asked)
    chat-client ::1 7777              ... but not when the port is a word of its own
    chat-client --version

Ctrl-C, Ctrl-D and a SIGINT all end the client quietly: no traceback, exit status 0
(130 when interrupted before the screen is up).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from protocol import DEFAULT_PORT, nick_problem

from chat_client import __version__, discovery, pinning
from chat_client.app import create_app
from chat_client.connection import ConnectionSettings
from chat_client.input_history import default_history_path
from chat_client.nicks import nick_from_login

DEFAULT_HOST = "localhost"


def parse_address(text: str) -> tuple[str, int]:
    """`HOST[:PORT]` -> (host, port); `[v6]:port`, `[v6]` and a bare IPv6 address work too.

    Raises ValueError with a message for the user when it cannot be read.
    """
    text = text.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not host or (rest and not rest.startswith(":")):
            raise ValueError(f"cannot read address {text!r}: expected [IPV6]:PORT")
        return host, _port(rest[1:]) if rest else DEFAULT_PORT
    if text.count(":") > 1:  # a bare IPv6 address: its colons are not a port
        return text, DEFAULT_PORT
    host, colon, port = text.partition(":")
    if not host:
        raise ValueError(f"cannot read address {text!r}: the host is missing")
    return host, _port(port) if colon else DEFAULT_PORT


def parse_host_and_port(host: str, port: str | None) -> tuple[str, int]:
    """`HOST PORT` as nc takes them, or `HOST[:PORT]` alone -> (host, port).

    Raises ValueError with a message for the user when they cannot be read, or when the
    port is given twice (`host:8000 8000`).
    """
    if port is None:
        return parse_address(host)
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif host.count(":") == 1:
        raise ValueError(f"the port is given twice: {host!r} and {port!r}")
    if not host:
        raise ValueError("the host is missing")
    return host, _port(port)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{text!r} is not a port number (1-65535)")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `chat-client`."""
    parser = argparse.ArgumentParser(
        prog="chat-client",
        description="A terminal client for the LAN chat room.",
        epilog="Inside, type /help for commands and keys.",
    )
    parser.add_argument("address", nargs="?", default=None, metavar="HOST[:PORT]",
                        help="the server (default: a room found on the network, else "
                             f"{DEFAULT_HOST}:{DEFAULT_PORT})")
    parser.add_argument("port", nargs="?", metavar="PORT",
                        help="the port, as a word of its own (`chat-client HOST PORT`, as nc)")
    parser.add_argument("--nick", metavar="NAME",
                        help="your nickname (default: made from your login name)")
    parser.add_argument("--password", metavar="SECRET",
                        help="the server's password (its --password); without it the client "
                             "asks for it when the server wants one")
    parser.add_argument("--tls", action="store_true",
                        help="connect over TLS (the server's --tls-port); the server's "
                             "certificate is remembered the first time, as ssh does")
    parser.add_argument("--forget-server", metavar="HOST:PORT",
                        help="forget the certificate remembered for a TLS server (after it "
                             "really changed), then exit")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    discovery.add_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the client; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.forget_server is not None:
        return _forget_server(parser, args.forget_server)
    try:
        settings = discovery.settings_from(args)
        if args.discover:
            return discovery.print_rooms(discovery.browse(settings))
        address = (parse_host_and_port(args.address, args.port) if args.address is not None
                   else discovery.choose_room(discovery.browse(settings)))
    except ValueError as error:
        parser.error(str(error))
    if address is None:  # several rooms were found and none was chosen
        return 1
    host, port = address
    nick = args.nick if args.nick is not None else nick_from_login()
    problem = nick_problem(nick)
    if problem is not None:
        parser.error(f"--nick {nick!r}: {problem}")
    try:
        asyncio.run(create_app(host, port, nick, settings=ConnectionSettings(tls=args.tls),
                               history_path=default_history_path(),
                               password=args.password).run_async())
    except (KeyboardInterrupt, EOFError):
        return 130
    return 0


def _forget_server(parser: argparse.ArgumentParser, address: str) -> int:
    try:
        host, port = parse_address(address)
    except ValueError as error:
        parser.error(f"--forget-server: {error}")
    if pinning.forget(host, port):
        print(f"Forgot the certificate of {address}; the next --tls connection remembers "
              "the one it is shown.")
        return 0
    print(f"No certificate was remembered for {address}.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
