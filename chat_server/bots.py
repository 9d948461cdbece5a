"""Demo bots: simulated chatters for a classroom without volunteers (`--bots N`).

A bot is a client written the same way as the server: generator tasks that yield
`send_wait` and `recv_wait`. It connects over a real loopback socket, speaks protocol
version 2, joins as its name and then a second room (`#random` or `#help`), and one task
chats at a human pace in one of its rooms or the other, while another reads everything
its rooms say (a bot that stopped reading would be cut off as too slow, like anyone
else) and answers, in the same room, when someone mentions its name.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable

from chat_server.traps import TaskGenerator, cancel, recv_wait, send_wait, sleep, spawn
from protocol import Bye, Join, Line, LineFramer, Message, RoomEvent, decode_event

BOT_NAMES = (
    "ada", "alan", "grace", "edsger", "barbara", "donald", "margaret", "dennis",
    "frances", "ken", "radia", "john", "leslie", "tony", "niklaus", "karen",
)

SMALL_TALK = (
    "hello everyone!",
    "a generator is a function that can pause in the middle",
    "one thread, and yet we all take turns",
    "/me waves",
    "who is reading the scheduler today?",
    "every yield hands control back to the run loop",
    "/me is waiting for a socket to become readable",
    "select() says who is ready; the loop does the rest",
    "type /stats to see the scheduler's figures",
    "no threads were harmed in the making of this chat",
)

SECOND_ROOMS = ("#random", "#help")
"""Each bot also joins one of these, so a demo shows the fan-out to several rooms."""

REPLIES = (
    "did someone call me?",
    "I am only a generator, but I am listening",
    "yes! (said between two yields)",
    "hi there",
)


def bot_name(index: int) -> str:
    """The nickname of bot number `index` (0-based): `ada_bot`, `alan_bot`, ..."""
    base = BOT_NAMES[index % len(BOT_NAMES)]
    round_number = index // len(BOT_NAMES)
    return f"{base}_bot{round_number + 1 if round_number else ''}"


def chat_bot(
    name: str, address: tuple[str, int], interval: float, rng: random.Random
) -> TaskGenerator:
    """Connect, join as `name`, chat every `interval` seconds or so, until the server says BYE.

    This task reads the room; a child task does the talking, so a bot never stops
    reading while it waits to speak.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.connect_ex(address)  # returns at once: the connection completes in the kernel
        yield send_wait(sock)  # writable means connected (or failed: SO_ERROR says)
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            return
        yield from _send_line(sock, "/hello chat-bot 2")
        yield from _send_line(sock, f"/nick {name}")
        yield from _send_line(sock, f"/join {rng.choice(SECOND_ROOMS)}")
        rooms: list[str] = []  # filled in by the listener as it sees itself join
        talker = yield spawn(_small_talk(sock, interval, rng, rooms), f"{name} talker")
        yield from _listen(sock, name, rng, rooms)
        yield cancel(talker)  # (not in a finally: a cancelled task may not yield)
    except OSError:
        pass  # the server went away: a bot has nobody to tell
    finally:
        sock.close()


def _small_talk(sock: socket.socket, interval: float, rng: random.Random,
                rooms: list[str]) -> TaskGenerator:
    while True:
        yield sleep(interval * rng.uniform(0.5, 1.5))
        if rooms:
            yield from _send_line(sock, f"/in {rng.choice(rooms)} {rng.choice(SMALL_TALK)}")


def _listen(sock: socket.socket, name: str, rng: random.Random,
            rooms: list[str]) -> TaskGenerator:
    """Read the rooms and answer mentions of `name`; return at BYE or when the server closes.

    Each room the bot sees itself join is added to `rooms`, where the talker picks from."""
    framer = LineFramer(max_line_bytes=1 << 20)
    while True:
        yield recv_wait(sock)
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            continue
        if not data:
            return
        for framed in framer.feed(data):
            event = decode_event(framed.text, version=2) if isinstance(framed, Line) else None
            if isinstance(event, Bye):
                return
            if not isinstance(event, RoomEvent):
                continue
            said = event.event
            if isinstance(said, Join) and said.nick == name and event.room not in rooms:
                rooms.append(event.room)
            if isinstance(said, Message) and _mentions(said, name):
                yield sleep(rng.uniform(0.5, 2.0))  # people take a moment to answer
                reply = f"{said.nick}: {rng.choice(REPLIES)}"
                yield from _send_line(sock, f"/in {event.room} {reply}")


def _mentions(message: Message, name: str) -> bool:
    return message.nick != name and name.casefold() in message.text.casefold()


def _send_line(sock: socket.socket, text: str) -> TaskGenerator:
    """Send one line, waiting for room in the socket's buffer if need be."""
    data = memoryview((text + "\n").encode("utf-8"))
    while data:
        try:
            data = data[sock.send(data):]
        except BlockingIOError:
            yield send_wait(sock)


def start_bots(
    count: int, address: tuple[str, int], interval: float,
    spawn_task: Callable[..., object],
) -> None:
    """Spawn `count` bots that connect to `address`."""
    for index in range(count):
        name = bot_name(index)
        spawn_task(chat_bot(name, address, interval, random.Random(name)), name=name)
