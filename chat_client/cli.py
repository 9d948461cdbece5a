"""The command line: `chat-client [HOST[:PORT]] [--nick NAME]`.

    chat-client                       localhost:7777, nickname from the login name
    chat-client 192.168.1.20          that host, port 7777
    chat-client chat.lan:8000 --nick 张三
    chat-client [::1]:7777            an IPv6 address needs its brackets when a port follows

Ctrl-C, Ctrl-D and a SIGINT all end the client quietly: no traceback, exit status 0
(130 when interrupted before the screen is up).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from protocol import DEFAULT_PORT, nick_problem

from chat_client import __version__
from chat_client.app import create_app
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
    parser.add_argument("address", nargs="?", default=f"{DEFAULT_HOST}:{DEFAULT_PORT}",
                        metavar="HOST[:PORT]",
                        help=f"the server (default {DEFAULT_HOST}:{DEFAULT_PORT})")
    parser.add_argument("--nick", metavar="NAME",
                        help="your nickname (default: made from your login name)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the client; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        host, port = parse_address(args.address)
    except ValueError as error:
        parser.error(str(error))
    nick = args.nick if args.nick is not None else nick_from_login()
    problem = nick_problem(nick)
    if problem is not None:
        parser.error(f"--nick {nick!r}: {problem}")
    try:
        asyncio.run(create_app(host, port, nick).run_async())
    except (KeyboardInterrupt, EOFError):
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
