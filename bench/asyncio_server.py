"""An idiomatic asyncio chat server of the same contract, written for the benchmark.

The benchmark compares our generator-scheduler server with what a good asyncio programmer
would write instead, so this is meant to be that, not a straw man:

- `asyncio.start_server`, a StreamReader/StreamWriter pair per client;
- one task per client that reads, frames and handles lines as they come;
- one writer task per client that drains that client's outbox (a deque and an Event),
  joining everything queued into one `write` and waiting on `drain()`;
- a broadcast that encodes an event once per form (machines, people) and appends the same
  bytes object to every member's outbox, so per listener the work is one append.

It uses the project's `protocol` package for framing, parsing, sanitising and encoding,
exactly as our server does: both pay the same per-line cost there, and the comparison is
about the I/O and scheduling around it. The room logic is its own (a few dict lookups),
so it does not share our server's internals.

Only what the benchmark and a plain user need: every command of the contract, machine
events and lines for people, the outbox limit (`too slow`), `--max-clients`, clean shutdown
on SIGINT/SIGTERM. No flood control: only `--flood off` is accepted, since the benchmark
measures fan-out with flood control off on both servers.

    python bench/asyncio_server.py --host 127.0.0.1 --port 0 --flood off --name bench

With `--cert FILE --key FILE` the one listener speaks TLS instead (the stdlib's `ssl`,
handed to `start_server(ssl=...)`: asyncio's own SSL protocol, as an asyncio programmer
would use it), with the same context settings as our server's TLS listener.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import ssl
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

# Run as a script from anywhere in the repository: the project's root must be importable.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from protocol import (  # noqa: E402  (after the path fix above)
    COMMANDS, Action, BadArgs, BadEncoding, Bye, Error, ErrorCode, Event, Framed, Hello,
    Help, Info, Join, Line, LineFramer, LineTooLong, Me, Message, NickChange, Part,
    PartReason, Ping, Pong, PrivateMessage, Quit, Say, SendPrivate, SetNick,
    StartMachineMode, UnknownCommand, Users, Welcome, Who, encode_event, encode_for_people,
    nick_key, nick_problem, parse_command, sanitize,
)

RECEIVE_SIZE = 65536
CLOSE_GRACE = 2.0  # seconds a closing connection gets to flush before it is aborted
BACKLOG = 1024  # the same listen backlog as our server (asyncio's default is 100)


class Client:
    """One connection: its nickname, its rendering mode and its outbox."""

    __slots__ = ("writer", "transport", "address", "nick", "said_hello", "machine",
                 "outbox", "queued", "has_output", "hanging_up")

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.transport = writer.transport
        self.address = writer.get_extra_info("peername")
        self.nick: str | None = None
        self.said_hello = False  # sent /hello: text before joining is an error, not a name
        self.machine = False  # output as machine events (from HELLO on) or for people
        self.outbox: deque[bytes] = deque()
        self.queued = 0  # bytes in `outbox`, not yet handed to the transport
        self.has_output = asyncio.Event()  # the writer task waits here while idle
        self.hanging_up = False  # close once the outbox is flushed; queue nothing more

    def put(self, data: bytes) -> None:
        """Queue bytes for the writer task."""
        self.outbox.append(data)
        self.queued += len(data)
        if not self.has_output.is_set():
            self.has_output.set()

    def is_stalled(self) -> bool:
        """True when the kernel did not take all we wrote: the client is not reading."""
        return self.transport.get_write_buffer_size() > 0

    def send(self, event: Event) -> None:
        """Queue one event, in this connection's rendering."""
        if not self.hanging_up:
            self.put(encode_event(event) if self.machine
                     else encode_for_people(event, viewer=self.nick))

    def hang_up(self, last_words: Event | None = None, *, drop_queued: bool = False) -> None:
        """Send `last_words` after what is queued (or instead of it), then close."""
        if self.hanging_up:
            return
        if drop_queued:
            self.outbox.clear()
            self.queued = 0
        if last_words is not None:
            self.send(last_words)
        self.hanging_up = True
        self.has_output.set()  # an idle writer must notice
        # A client that does not read would keep its writer in drain() for ever.
        asyncio.get_running_loop().call_later(CLOSE_GRACE, self.transport.abort)


class ChatRoom:
    """The room: who is here, what each command does, and the fan-out."""

    def __init__(self, name: str, outbox_limit: int, max_clients: int) -> None:
        self.name = name
        self.outbox_limit = outbox_limit
        self.max_clients = max_clients
        self.clients: set[Client] = set()  # every open connection
        self.members: dict[Client, None] = {}  # joined clients, in join order
        self.by_key: dict[str, Client] = {}  # nick_key(nick) -> member
        self.writer_tasks: set[asyncio.Task[None]] = set()
        self.handlers: dict[type, Callable[[Client, Any], None]] = {
            Say: self.say, SetNick: self.set_nick, Me: self.me, SendPrivate: self.send_private,
            Who: self.who, Quit: self.quit, Ping: self.ping, Help: self.help,
            StartMachineMode: self.start_machine_mode, UnknownCommand: self.unknown_command,
            BadArgs: self.bad_args,
        }

    def nicks(self) -> tuple[str, ...]:
        """The members' nicknames, in join order."""
        return tuple(member.nick for member in self.members)  # type: ignore[misc]

    # Connections

    async def serve_client(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:
        """The start_server callback: read and handle this client's lines until it goes."""
        if len(self.clients) >= self.max_clients:
            await self.turn_away(writer)
            return
        client = Client(writer)
        self.clients.add(client)
        writer_task = asyncio.create_task(self.write_outbox(client))
        self.writer_tasks.add(writer_task)
        writer_task.add_done_callback(self.writer_tasks.discard)
        self.greet(client)
        framer = LineFramer()
        try:
            while not client.hanging_up:
                data = await reader.read(RECEIVE_SIZE)
                if not data:
                    break
                for framed in framer.feed(data):
                    if client.hanging_up:
                        break
                    self.handle(client, framed)
        except ConnectionError:
            pass
        finally:
            self.leave(client, PartReason.CONNECTION_LOST)
            client.hang_up()
            await writer_task
            self.clients.discard(client)

    async def write_outbox(self, client: Client) -> None:
        """Send everything queued in one write per wake-up; close once hung up."""
        writer = client.writer
        try:
            while client.outbox or not client.hanging_up:
                if not client.outbox:
                    await client.has_output.wait()
                client.has_output.clear()
                if client.outbox:
                    data = b"".join(client.outbox)
                    client.outbox.clear()
                    client.queued = 0
                    writer.write(data)
                    await writer.drain()
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), CLOSE_GRACE)
        except (ConnectionError, asyncio.TimeoutError):
            client.transport.abort()
        finally:
            if not client.hanging_up:  # the connection broke under the writer
                self.leave(client, PartReason.CONNECTION_LOST)
                client.hang_up()

    async def turn_away(self, writer: asyncio.StreamWriter) -> None:
        """Tell a connection the room is full, and close it."""
        writer.write(encode_event(Error(
            ErrorCode.SERVER_FULL,
            f"the room is full ({self.max_clients} connections); try again later"))
            + encode_event(Bye(PartReason.SERVER_FULL)))
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), CLOSE_GRACE)
        except (ConnectionError, asyncio.TimeoutError):
            writer.transport.abort()

    def greet(self, client: Client) -> None:
        """The greeting for people, before the client is in the room."""
        count = len(self.members)
        people = "1 person is" if count == 1 else f"{count} people are"
        client.send(Info(f"Welcome to {self.name}! {people} here. "
                         "Type a nickname to join, or /help."))

    def shut_down(self) -> None:
        """Say BYE to everyone and hang up (writers flush within CLOSE_GRACE)."""
        for client in list(self.clients):
            self.members.pop(client, None)
            client.hang_up(Bye(PartReason.SERVER_SHUTTING_DOWN))

    # Fan-out

    def broadcast(self, event: Event) -> None:
        """Send a room event to every member: encoded once per form, appended to each."""
        for_machines = encode_event(event)
        for_people: bytes | None = None
        limit = self.outbox_limit
        behind = []
        for member in self.members:
            if member.machine:
                member.put(for_machines)
            else:
                if for_people is None:
                    for_people = encode_for_people(event)
                member.put(for_people)
            if member.queued > limit and member.is_stalled():
                behind.append(member)
        for member in behind:
            self.cut_off(member)

    def reply(self, client: Client, event: Event) -> None:
        """Send an event to one client (cut it off if that puts it too far behind)."""
        client.send(event)
        if client.queued > self.outbox_limit and client.is_stalled():
            self.cut_off(client)

    def cut_off(self, client: Client) -> None:
        """A member that owes more than the outbox limit and does not read: `too slow`."""
        self.leave(client, PartReason.TOO_SLOW)
        client.hang_up(Bye(PartReason.TOO_SLOW), drop_queued=True)

    # Commands

    def handle(self, client: Client, framed: Framed) -> None:
        """Act on one framed line."""
        if isinstance(framed, Line):
            text = sanitize(framed.text)
            if text.strip():
                command = parse_command(text)
                self.handlers[type(command)](client, command)
        elif isinstance(framed, LineTooLong):
            self.error(client, ErrorCode.LINE_TOO_LONG,
                       f"lines are limited to {framed.limit} bytes; that one was discarded")
        elif isinstance(framed, BadEncoding):
            self.error(client, ErrorCode.BAD_ENCODING,
                       "that line was not valid UTF-8 and was discarded")

    def say(self, client: Client, command: Say) -> None:
        if client in self.members:
            self.broadcast(Message(client.nick, command.text))  # type: ignore[arg-type]
        elif not client.said_hello:
            self.join(client, command.text.strip())  # talker style: the first line is a name
        else:
            self.error(client, ErrorCode.NOT_JOINED, "choose a nickname first: /nick NAME")

    def set_nick(self, client: Client, command: SetNick) -> None:
        if client in self.members:
            self.rename(client, command.name)
        else:
            self.join(client, command.name)

    def me(self, client: Client, command: Me) -> None:
        if self.require_joined(client):
            self.broadcast(Action(client.nick, command.text))  # type: ignore[arg-type]

    def send_private(self, client: Client, command: SendPrivate) -> None:
        if not self.require_joined(client):
            return
        recipient = self.by_key.get(nick_key(command.nick))
        if recipient is None:
            self.error(client, ErrorCode.NO_SUCH_NICK, f"nobody here is called {command.nick}")
            return
        event = PrivateMessage(client.nick, recipient.nick, command.text)  # type: ignore[arg-type]
        self.reply(client, event)
        if recipient is not client:
            self.reply(recipient, event)

    def who(self, client: Client, command: Who) -> None:
        self.reply(client, Users(self.nicks()))

    def quit(self, client: Client, command: Quit) -> None:
        self.leave(client, command.reason)
        client.hang_up(Bye(command.reason))

    def ping(self, client: Client, command: Ping) -> None:
        self.reply(client, Pong(command.token))

    def help(self, client: Client, command: Help) -> None:
        self.reply(client, Info("Commands (anything else you type is said to the room):"))
        for spec in COMMANDS.values():
            self.reply(client, Info(f"  {spec.usage:<22} {spec.summary}"))
        self.reply(client, Info("  //text                 say text that starts with /"))

    def start_machine_mode(self, client: Client, command: StartMachineMode) -> None:
        client.said_hello = True
        client.machine = True  # the HELLO itself is the first machine event
        self.reply(client, Hello(self.name))

    def unknown_command(self, client: Client, command: UnknownCommand) -> None:
        self.error(client, ErrorCode.UNKNOWN_COMMAND,
                   f"there is no command /{command.name}; /help lists them")

    def bad_args(self, client: Client, command: BadArgs) -> None:
        self.error(client, ErrorCode.BAD_ARGS, f"usage: {command.usage}")

    # Joining, renaming, leaving

    def join(self, client: Client, name: str) -> None:
        """Admit `client` as `name`: WELCOME and USERS to it, then JOIN to everyone."""
        if not self.nick_available(client, name):
            return
        client.nick = name
        self.members[client] = None
        self.by_key[nick_key(name)] = client
        self.reply(client, Welcome(name))
        self.reply(client, Users(self.nicks()))
        self.broadcast(Join(name))

    def rename(self, client: Client, name: str) -> None:
        old = client.nick
        assert old is not None
        if name == old:
            self.reply(client, Info(f"you are already {name}"))
            return
        if not self.nick_available(client, name):
            return
        del self.by_key[nick_key(old)]
        self.by_key[nick_key(name)] = client
        client.nick = name
        self.broadcast(NickChange(old, name))

    def leave(self, client: Client, reason: str) -> None:
        """Take `client` out of the room and tell everyone why (no-op if not joined)."""
        if client in self.members:
            del self.members[client]
            self.by_key.pop(nick_key(client.nick), None)  # type: ignore[arg-type]
            self.broadcast(Part(client.nick, reason))  # type: ignore[arg-type]

    def nick_available(self, client: Client, name: str) -> bool:
        problem = nick_problem(name)
        if problem is not None:
            self.error(client, ErrorCode.BAD_NICK, problem)
            return False
        holder = self.by_key.get(nick_key(name))
        if holder is not None and holder is not client:
            self.error(client, ErrorCode.NICK_IN_USE, f"{holder.nick} is already here")
            return False
        return True

    def require_joined(self, client: Client) -> bool:
        if client in self.members:
            return True
        self.error(client, ErrorCode.NOT_JOINED, "choose a nickname first: /nick NAME")
        return False

    def error(self, client: Client, code: str, text: str) -> None:
        self.reply(client, Error(code, text))


async def serve(args: argparse.Namespace) -> None:
    """Listen, announce the address, and serve until SIGINT or SIGTERM."""
    room = ChatRoom(args.name, args.outbox_limit, args.max_clients)
    server = await asyncio.start_server(room.serve_client, args.host, args.port,
                                        backlog=BACKLOG, ssl=tls_context(args))
    host, port = server.sockets[0].getsockname()[:2]
    print(f"asyncio-server: room {args.name!r} listening on {host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()
    room.shut_down()
    if room.writer_tasks:
        await asyncio.wait(set(room.writer_tasks), timeout=CLOSE_GRACE)
    # Whoever has not finished in time is cut off, so that every task ends by itself
    # rather than being cancelled by asyncio.run in the middle of its cleanup.
    for client in room.clients:
        client.transport.abort()
    for _ in range(100):  # at most a second more
        if not room.clients:
            break
        await asyncio.sleep(0.01)


def tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """With --cert and --key, a server context as our server's: TLS 1.2 or later, no
    renegotiation. None without them: plain TCP."""
    if args.cert is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(args.cert, args.key)
    return context


def build_parser() -> argparse.ArgumentParser:
    """The options the benchmark uses, spelled as our server spells them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7777, help="0 picks a free port")
    parser.add_argument("--name", default="bench")
    parser.add_argument("--max-clients", type=int, default=1000)
    parser.add_argument("--outbox-limit", type=int, default=1 << 20, metavar="BYTES")
    parser.add_argument("--flood", choices=["off"], default="off",
                        help="only 'off': this server has no flood control")
    parser.add_argument("--cert", default=None, metavar="FILE",
                        help="serve TLS with this certificate (PEM) instead of plain TCP")
    parser.add_argument("--key", default=None, metavar="FILE", help="with --cert, its key")
    return parser


def main() -> int:
    """Run the server until SIGINT or SIGTERM."""
    parser = build_parser()
    args = parser.parse_args()
    if (args.cert is None) != (args.key is None):
        parser.error("--cert and --key go together")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # every client is a file descriptor, as for our server
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
