"""A socket-level fuzzer of the web listener: hostile HTTP and WebSocket peers throw bad
bytes at a real server while well-behaved browsers and TCP clients chat in #lobby.

Each run is seeded and bounded in time and count; `CHAT_FUZZ_SCALE` shrinks it and
`CHAT_FUZZ_SEED` picks another seed (a failure names its seed). The seed decides every
hostile peer's bytes, how they are cut into writes and paced, and how the peer leaves
(close, reset, half-close, or staying to the end); network timing is not seeded.

Hostile HTTP: random methods and versions, paths with traversal, percent- and
over-encodings, NUL and non-ASCII, oversized request lines and headers, malformed
headers and bodies, requests sent a byte at a time or never finished, garbage (a TLS
hello, HTTP/2's preface, random bytes), and pipelined requests good and bad.
Hostile WebSocket: bad handshakes (no key, wrong version, no upgrade, foreign or odd
Origin) followed by frames anyway; after a good handshake, unmasked frames, reserved bits
and opcodes, fragment floods, oversized messages and lengths never sent, bad UTF-8, ping
floods, long or fragmented control frames, close frames with odd codes and reasons, chat
lines with escapes and look-alike names, and random bytes.

Throughout, two well-behaved WebSocket clients (wsproto over a socket) and two TCP
clients, all version 2, say numbered lines in #lobby. Afterwards:
- each saw #lobby with consecutive ids from its JOIN, and all four saw the same events
  from the last of their JOINs to the last end marker (room_views.py), with every line
  each of them said, in order, under its own name, and no JOIN or NICK took a name equal
  (case, NFKC) to theirs;
- nothing they received holds a control character, escape or bidi control, and every
  line decodes;
- the server's resident memory grew by less than `MEMORY_BOUND` at its peak;
- it keeps no connection or task for a hostile peer, serves the page and a new browser
  and TCP client, never logs a traceback, and exits 0 on SIGTERM.
"""

from __future__ import annotations

import base64
import random
import re
import selectors
import socket
import struct
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

from chat_testing import ServerProcess
from fuzz_testing import FUZZ_SCALE, FUZZ_SEED, seed_in_failures
from process_probes import TASKS_PER_CONNECTION, PeakMemory, reset, resident_bytes
from protocol import LineFramer, decode_event, room_key
from room_views import RoomViews, check_stayers_agree, check_views, sender_and_text
from web_testing import announced_web_port, get

LOBBY = "#lobby"
WEB_NICKS = ("web0", "web1")
TCP_NICKS = ("tcp0", "tcp1")
WELL_BEHAVED = (*WEB_NICKS, *TCP_NICKS)
HISTORY_ON_JOIN = 50
MEMORY_BOUND = 64 << 20  # bytes of RSS growth: far below what buffering the hostile bytes takes
JOIN_TIMEOUT = "2"  # seconds: slow and half-sent requests are closed within the run
UNSAFE_CHARACTER = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# --- what hostile peers send ---------------------------------------------------------------

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH",
           "get", "G\x00T", "", "ÄÖÜ", "X" * 200, "GET GET"]
PATHS = [
    "/", "/index.html", "/app.js", "/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
    "/..%2f..%2fpyproject.toml", "/%252e%252e/pyproject.toml", "/%00", "/index.html%00.js",
    "//app.js", "/app.js?x=../../", "/static/../../chat_server/cli.py", "*",
    "http://evil.example/", "/" + "a" * 9000, "/\xff\xfe", "/%ff%fe%c0%af", "/chat",
    "/chat?x=1", "/CHAT", "/;/app.js", "\\..\\..\\windows", "/.git/config", "/app.js#x",
    "/%2F%2F", "/\u202e", "/ /", "", "/index.html/..", "/..;/", "/%u002e%u002e/",
]
VERSIONS = ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/0.9", "HTTP/1.1 extra", "HTTP/9", "",
            "http/1.1", "HTTP/1.1\x00"]
ODD_HEADERS = [
    b"X-Big: " + b"a" * 20_000, b"X: a\r\n folded", b"no colon here", b"X-Nul: a\x00b",
    b"Content-Length: -1", b"Content-Length: 99999999999999999999", b"Content-Length: 5\r\n"
    b"Content-Length: 6", b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip, chunked",
    b": empty name", b"Host: a\r\nHost: b", b"X-\xff: \xfe", b"Connection: close",
    b"Connection: keep-alive, upgrade", b"Upgrade: websocket", b"Expect: 100-continue",
    b" leading: space", b"X-Many: " + b"a," * 3000,
]
GARBAGE = [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # a TLS ClientHello
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"\r\n" * 200, b"\n\n\n", b"\x00" * 500,
    b"GET / HTTP/1.1\n\n", b"GET / HTTP/1.1\r\r\n\r\n", b"\xff\xfb\x01",
]
ORIGINS = [None, "same", "http://evil.example", "null", "http://127.0.0.1:1", "file://",
           "http://127.0.0.1", "HTTP://127.0.0.1:{port}/", "\x00", "x" * 5000]
CLOSE_CODES = [0, 999, 1000, 1001, 1004, 1005, 1006, 1015, 1016, 2999, 3000, 4999, 5000, 65535]
CHAT_LINES = [
    "/hello fuzz 2", "/hello fuzz 1", "/nick WEB0", "/nick ｗｅｂ1", "/nick Tcp0",
    "/nick tcp1\u0301", "say \x1b[31mred\x1b[0m", "\u202eevil", "/join #lobby", "/part",
    "/me \x1b]0;owned\x07", "/topic \x1b[2J", "hello from a hostile", "/quit", "/ping x",
    "x" * 3000, "/in #lobby hi", "/who", "/rooms", "/history #lobby latest 500",
]
NEW_NICK_RANGE = 1000


def _http_request(rng: random.Random, port: int) -> bytes:
    """One request, usually odd somewhere: method, path, version or headers."""
    method = rng.choice(METHODS) if rng.random() < 0.6 else "GET"
    path = rng.choice(PATHS)
    version = rng.choice(VERSIONS) if rng.random() < 0.3 else "HTTP/1.1"
    lines = [f"{method} {path} {version}".encode("utf-8", "surrogateescape"),
             f"Host: 127.0.0.1:{port}".encode()]
    lines += rng.sample(ODD_HEADERS, rng.randint(0, 3)) if rng.random() < 0.5 else []
    ending = rng.choice([b"\r\n\r\n", b"\r\n\r\n", b"\n\n", b"\r\n", b""])
    body = rng.randbytes(rng.randint(0, 50)) if method in ("POST", "PUT") else b""
    return b"\r\n".join(lines) + ending + body


def _pipelined(rng: random.Random, port: int) -> bytes:
    good = f"GET /style.css HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    return b"".join(rng.choice([good, good, _http_request(rng, port)])
                    for _ in range(rng.randint(2, 40)))


def _handshake(rng: random.Random, port: int, good: bool) -> bytes:
    """The WebSocket opening request (RFC 6455, 4.1), or one broken somewhere. Written
    out here, not by wsproto, so that its key comes from the seed."""
    host = f"127.0.0.1:{port}"
    origin = "same" if good else rng.choice(ORIGINS)
    origin_line = "" if origin is None else "Origin: " + (
        f"http://{host}" if origin == "same" else origin.format(port=port)) + "\r\n"
    key = base64.b64encode(rng.randbytes(16)).decode()
    request = (f"GET /chat HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n{origin_line}\r\n").encode("utf-8", "surrogateescape")
    if good or rng.random() < 0.4:
        return request
    breakage = rng.choice([(b"Version: 13", b"Version: 12"), (b"Upgrade: websocket", b"Upgrade: h2c"),
                           (b"Connection: Upgrade", b"Connection: close"),
                           (b"Key: ", b"Key: \x00"), (b"Key: ", b"X-Key: "),
                           (b"GET /chat", b"POST /chat"), (b"HTTP/1.1", b"HTTP/1.0")])
    return request.replace(*breakage)


def _frame(rng: random.Random, opcode: int, payload: bytes, *, fin: bool = True,
           mask: bool = True, rsv: int = 0, claimed: int | None = None) -> bytes:
    """One client frame; `claimed` is a length to announce other than the payload's."""
    length = len(payload) if claimed is None else claimed
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    bit = 0x80 if mask else 0
    if length < 126:
        header = struct.pack("!BB", first, bit | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", first, bit | 126, length)
    else:
        header = struct.pack("!BBQ", first, bit | 127, length)
    if not mask:
        return header + payload
    key = rng.randbytes(4)
    return header + key + _masked(payload, key)


def _masked(payload: bytes, key: bytes) -> bytes:
    """`payload` XOR the repeated `key`, a whole megabyte at once (RFC 6455, 5.3)."""
    repeated = (key * (len(payload) // 4 + 1))[:len(payload)]
    masked = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return masked.to_bytes(len(payload), "big")


def _text(rng: random.Random, line: str) -> bytes:
    return _frame(rng, 0x1, line.encode())


def _frame_makers(rng: random.Random, index: int) -> list[Callable[[], bytes]]:
    """Makers of one hostile piece after the handshake each."""
    def fragments() -> bytes:
        count = rng.choice([10, 200, 2000])
        body = b"".join(_frame(rng, 0x0, rng.randbytes(rng.choice([1, 100, 1000])), fin=False)
                        for _ in range(count))
        return _frame(rng, rng.choice([0x1, 0x2]), b"start", fin=False) + body + \
            rng.choice([_frame(rng, 0x0, b"end"), b""])
    return [
        lambda: _text(rng, rng.choice(CHAT_LINES)),
        lambda: _text(rng, "/hello fuzz 2") + _text(rng, f"/nick w{index}")
        + _text(rng, f"line from w{index}"),
        lambda: _frame(rng, 0x1, b"x" * rng.choice([2049, 70_000, 1_000_000])),
        lambda: _frame(rng, 0x2, b"say " + rng.choice([b"\xc3\x28", b"\xed\xa0\x80", b"\xff"])),
        lambda: _frame(rng, 0x1, b"bad \xc3\x28 utf-8"),
        lambda: _frame(rng, 0x1, b"unmasked", mask=False),
        lambda: _frame(rng, rng.choice([3, 4, 5, 6, 7, 0xB, 0xC, 0xF]), rng.randbytes(5)),
        lambda: _frame(rng, 0x1, b"rsv", rsv=rng.randint(1, 7)),
        fragments,
        lambda: _frame(rng, 0x0, b"continuation with no start"),
        lambda: _frame(rng, 0x9, rng.randbytes(rng.randint(0, 125))) * rng.randint(1, 2000),
        lambda: _frame(rng, 0x9, b"p" * 200),  # a control frame over 125 bytes
        lambda: _frame(rng, 0x9, b"p", fin=False),
        lambda: _frame(rng, 0xA, b"unasked pong"),
        lambda: _frame(rng, 0x8, struct.pack("!H", rng.choice(CLOSE_CODES))
                       + rng.choice([b"", b"bye", b"\xc3\x28", b"r" * 123])),
        lambda: _frame(rng, 0x8, b"\x03"),  # a close payload of one byte
        lambda: _frame(rng, 0x1, b"", claimed=rng.choice([1 << 20, 1 << 62])),  # never sent
        lambda: rng.randbytes(rng.randint(1, 500)),
    ]


# --- plans ---------------------------------------------------------------------------------

class Plan:
    """What one hostile peer does, decided by the seed."""

    def __init__(self, index: int, kind: str, data: bytes, rng: random.Random) -> None:
        self.index, self.kind = index, kind
        slow = kind == "slow"
        self.chunks = _split(rng, data, one_byte=slow)
        self.gaps = [rng.uniform(0.05, 0.3) if slow else
                     (0.0 if rng.random() < 0.7 else rng.uniform(0, 0.03)) for _ in self.chunks]
        self.ending = rng.choice(("close", "reset", "stay", "half_close"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Plan) and vars(self) == vars(other)


def _split(rng: random.Random, data: bytes, one_byte: bool) -> list[bytes]:
    chunks, position = [], 0
    while position < len(data) and len(chunks) < 200:
        size = 1 if one_byte else rng.choice((1, 3, 16, 100, 1000, 4096, 65536, 1 << 20))
        chunks.append(data[position:position + size])
        position += size
    if position < len(data):
        chunks.append(data[position:])
    return chunks


def make_plan(rng: random.Random, index: int, port: int) -> Plan:
    """One hostile peer's plan: HTTP, a bad handshake, or a WebSocket gone wrong."""
    kind = rng.choice(["http", "pipelined", "slow", "half_sent", "garbage", "bad_handshake",
                       "websocket", "websocket", "websocket"])
    if kind == "http":
        data = b"".join(_http_request(rng, port) for _ in range(rng.randint(1, 3)))
    elif kind == "pipelined":
        data = _pipelined(rng, port)
    elif kind == "slow":
        data = _http_request(rng, port)[:rng.randint(5, 150)]
    elif kind == "half_sent":
        data = rng.choice([_http_request(rng, port), _handshake(rng, port, True)])
        data = data[:rng.randint(1, max(1, len(data) - 1))]
    elif kind == "garbage":
        data = rng.choice(GARBAGE + [rng.randbytes(rng.randint(1, 5000))])
    else:
        makers = _frame_makers(rng, index)
        joins = [makers[1]()] if rng.random() < 0.5 else []  # then the room sees it go
        data = _handshake(rng, port, good=kind == "websocket") + b"".join(
            joins + [rng.choice(makers)() for _ in range(rng.randint(1, 12))])
    return Plan(index, kind, data, rng)


# --- the well-behaved clients ----------------------------------------------------------------

class Chatter:
    """A well-behaved version 2 client in #lobby: says lines, reads and files everything."""

    def __init__(self, nick: str, sock: socket.socket) -> None:
        self.nick = nick
        self.sock = sock
        self.lines: list[str] = []
        self.said: list[str] = []
        self.closed = False
        self.views = RoomViews(nick)

    def join(self, timeout: float = 10) -> None:
        """/hello, /nick, then read (blocking) up to our own JOIN of #lobby."""
        self.send_line("/hello fuzz-web 2")
        self.send_line(f"/nick {self.nick}")
        deadline = time.monotonic() + timeout
        while not any(line.startswith(f"JOIN {LOBBY} ") and line.endswith(f" {self.nick}")
                      for line in self.lines):
            assert time.monotonic() < deadline and not self.closed, f"{self.nick} did not join"
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            self.read_available()
        self.sock.setblocking(False)

    def say(self, text: str) -> None:
        """Say `text` in #lobby."""
        self.send_line(text)
        self.said.append(text)

    def send_line(self, line: str) -> None:
        self.sock.settimeout(5)  # a short line: the server takes it at once
        self.sock.sendall(self._encode(line))
        self.sock.setblocking(False)

    def read_available(self) -> None:
        """Read what has arrived and file the lines."""
        try:
            data = self.sock.recv(1 << 16)
        except (BlockingIOError, socket.timeout):
            return
        if not data:
            self.closed = True
            return
        for line in self._decode(data):
            self.lines.append(line)
            self.views.feed(line)

    def _encode(self, line: str) -> bytes:
        raise NotImplementedError

    def _decode(self, data: bytes) -> list[str]:
        raise NotImplementedError


class TcpChatter(Chatter):
    """Over the chat port, one line per LF."""

    def __init__(self, port: int, nick: str) -> None:
        super().__init__(nick, socket.create_connection(("127.0.0.1", port), timeout=5))
        self._framer = LineFramer(max_line_bytes=1 << 20)

    def _encode(self, line: str) -> bytes:
        return line.encode() + b"\n"

    def _decode(self, data: bytes) -> list[str]:
        # Bytes that are not UTF-8 would raise here: nothing unsafe may arrive.
        return [item.text for item in self._framer.feed(data) if hasattr(item, "text")]


class WebChatter(Chatter):
    """A browser stand-in: wsproto's client over a socket, one line per text message."""

    def __init__(self, port: int, nick: str) -> None:
        super().__init__(nick, socket.create_connection(("127.0.0.1", port), timeout=5))
        self.ws = WSConnection(ConnectionType.CLIENT)
        self._partial = ""
        host = f"127.0.0.1:{port}"
        self.sock.sendall(self.ws.send(Request(
            host=host, target="/chat", extra_headers=[(b"origin", f"http://{host}".encode())])))
        self.accepted = False
        deadline = time.monotonic() + 10
        while not self.accepted:  # wsproto sends no message before the 101
            assert time.monotonic() < deadline and not self.closed, f"{nick}: no 101"
            self.read_available()

    def _encode(self, line: str) -> bytes:
        return self.ws.send(TextMessage(data=line))

    def _decode(self, data: bytes) -> list[str]:
        self.ws.receive_data(data)
        lines = []
        for event in self.ws.events():  # a wsproto error (bad frame, bad UTF-8) fails the run
            if isinstance(event, TextMessage):
                self._partial += event.data
                if event.message_finished:
                    lines.append(self._partial)
                    self._partial = ""
            elif isinstance(event, CloseConnection):
                self.closed = True
            else:
                assert isinstance(event, AcceptConnection), f"{self.nick} got {event!r}"
                self.accepted = True
        return lines


# --- the hostile peers -----------------------------------------------------------------------

class Hostile:
    """A hostile peer carrying out its plan, one write at a time; reads and discards."""

    def __init__(self, plan: Plan, port: int) -> None:
        self.plan = plan
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.next_chunk, self.pending = 0, b""
        self.due = time.monotonic() + (plan.gaps[0] if plan.gaps else 0.0)
        self.done_sending = self.saw_eof = self.half_closed = self.gone = False

    def push(self, now: float) -> None:
        """Send what is due; a full socket waits for later; a closed one ends the plan."""
        while not self.done_sending and now >= self.due:
            if not self.pending:
                if self.next_chunk == len(self.plan.chunks):
                    self.done_sending = True
                    return
                self.pending = self.plan.chunks[self.next_chunk]
                self.next_chunk += 1
            try:
                sent = self.sock.send(self.pending)
            except BlockingIOError:
                return
            except OSError:
                self.done_sending = True
                return
            self.pending = self.pending[sent:]
            if self.pending:
                return
            gaps = self.plan.gaps
            self.due = now + (gaps[self.next_chunk] if self.next_chunk < len(gaps) else 0)

    def read_available(self) -> None:
        try:
            data = self.sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        self.saw_eof = self.saw_eof or not data

    def leave(self, how: str) -> None:
        """Close, reset or half-close."""
        if how == "half_close":
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            self.half_closed = True
            return
        reset(self.sock) if how == "reset" else self.sock.close()
        self.gone = True


# --- the run ---------------------------------------------------------------------------------

class WebFuzzRun:
    """Drives the chatters and the hostile peers from one selector loop."""

    def __init__(self, server: ServerProcess, seed: int, hostiles: int, concurrency: int,
                 duration: float, say_every: float) -> None:
        self.server, self.web_port = server, announced_web_port(server)
        self.rng = random.Random(seed)
        self.hostiles, self.concurrency = hostiles, concurrency
        self.duration, self.say_every = duration, say_every
        self.selector = selectors.DefaultSelector()
        self.chatters: list[Chatter] = []
        self.peers: list[Hostile] = []
        self.server_tasks = 0

    def run(self) -> tuple[int, int]:
        """Join the chatters, fuzz, wind down, exchange end markers; (RSS before, peak)."""
        self._join_chatters()
        before = resident_bytes(self.server.pid)
        try:
            with PeakMemory(self.server.pid, interval=0.02) as memory:
                self._fuzz()
                self._wind_down()
            self._exchange_end_markers()
        finally:
            for peer in self.peers:
                if not peer.gone:
                    peer.sock.close()
            self.selector.close()
        return before, memory.peak

    def _join_chatters(self) -> None:
        first = TcpChatter(self.server.port, TCP_NICKS[0])
        first.join()
        first.send_line("/stats")  # alone on the server: its tasks are its own and ours
        self._read_chatter_until(first, lambda: any(l.startswith("STATS ") for l in first.lines))
        figures = decode_event(next(l for l in first.lines if l.startswith("STATS ")))
        self.server_tasks = int(figures.as_dict()["tasks"]) - TASKS_PER_CONNECTION  # type: ignore[union-attr]
        self.chatters = [first, TcpChatter(self.server.port, TCP_NICKS[1]),
                         *(WebChatter(self.web_port, nick) for nick in WEB_NICKS)]
        for chatter in self.chatters[1:]:
            chatter.join()
        for chatter in self.chatters:
            self.selector.register(chatter.sock, selectors.EVENT_READ, chatter)

    @staticmethod
    def _read_chatter_until(chatter: Chatter, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 10
        while not done():
            assert time.monotonic() < deadline, f"{chatter.nick}: no answer"
            chatter.sock.settimeout(1)
            chatter.read_available()
        chatter.sock.setblocking(False)

    def _fuzz(self) -> None:
        start = time.monotonic()
        next_open, next_say, sequence = start, start, 0
        open_every = self.duration * 0.8 / self.hostiles
        while (now := time.monotonic()) < start + self.duration:
            if now >= next_open and len(self.peers) < self.hostiles and self._open() < self.concurrency:
                self._open_peer(len(self.peers))
                next_open = now + open_every
            if now >= next_say:
                for chatter in self.chatters:
                    chatter.say(f"seq {sequence} from {chatter.nick}")
                sequence, next_say = sequence + 1, now + self.say_every
            self._drive(now)
            self._read(0.002)

    def _open(self) -> int:
        return sum(not peer.gone for peer in self.peers)

    def _open_peer(self, index: int) -> None:
        peer = Hostile(make_plan(self.rng, index, self.web_port), self.web_port)
        self.peers.append(peer)
        self.selector.register(peer.sock, selectors.EVENT_READ, peer)

    def _drive(self, now: float) -> None:
        for peer in self.peers:
            if peer.gone:
                continue
            peer.push(now)
            if peer.saw_eof:
                self._forget(peer, "close")
            elif peer.done_sending and not peer.half_closed and peer.plan.ending != "stay":
                self._forget(peer, peer.plan.ending)

    def _forget(self, peer: Hostile, how: str) -> None:
        if how != "half_close":
            self.selector.unregister(peer.sock)
        peer.leave(how)

    def _read(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            key.data.read_available()
        for chatter in self.chatters:
            assert not chatter.closed, f"the server closed well-behaved {chatter.nick}"

    def _wind_down(self) -> None:
        """Close every hostile peer; half-closers get a moment to be closed by the server."""
        for peer in self.peers:
            if not peer.gone and not peer.half_closed:
                self._forget(peer, self.rng.choice(("close", "reset")))
        deadline = time.monotonic() + 5
        while any(not peer.gone for peer in self.peers) and time.monotonic() < deadline:
            self._read(0.01)
            self._drive(time.monotonic())
        for peer in self.peers:
            if not peer.gone:
                self._forget(peer, "close")

    def _exchange_end_markers(self) -> None:
        for chatter in self.chatters:
            chatter.say(f"end {chatter.nick}")
        ends = {(nick, f"end {nick}") for nick in WELL_BEHAVED}
        deadline = time.monotonic() + 30
        while not all(ends <= set(_said_in_lobby(chatter)) for chatter in self.chatters):
            assert time.monotonic() < deadline, "the end markers did not arrive in time"
            self._read(0.05)


def _said_in_lobby(chatter: Chatter) -> Iterator[tuple[str, str]]:
    """(nick, text) of every MSG `chatter` received live in #lobby."""
    for membership in chatter.views.in_room(room_key(LOBBY)):
        for line in membership.lines():
            kind, nick, text = sender_and_text(line)
            if kind == "MSG":
                yield nick, text


# --- the checks ------------------------------------------------------------------------------

def _comparable(nick: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", nick).casefold())


def check_transcripts(chatters: list[Chatter]) -> list[tuple[int, str]]:
    """Consecutive ids, one order for all, every line in order, no spoofed names."""
    views = [chatter.views for chatter in chatters]
    check_views(views, HISTORY_ON_JOIN)
    common = check_stayers_agree(room_key(LOBBY), views,
                                 {(nick, f"end {nick}") for nick in WELL_BEHAVED})
    for chatter in chatters:  # its whole stay, from its JOIN: every line it said
        own = [text for nick, text in _said_in_lobby(chatter) if nick == chatter.nick]
        assert own == chatter.said, f"{chatter.nick}'s lines are not all there, in order"
    good = {_comparable(nick) for nick in WELL_BEHAVED}
    for _, line in common:
        kind, words = line.split(" ", 1)[0], line.split(" ")
        taken = words[4] if kind == "JOIN" else words[5] if kind == "NICK" else None
        assert taken is None or _comparable(taken) not in good or \
            (kind == "JOIN" and taken in WELL_BEHAVED), f"spoofed name: {line!r}"
    return common


def check_nothing_unsafe_arrived(chatters: list[Chatter]) -> None:
    for chatter in chatters:
        for line in chatter.lines:
            assert not UNSAFE_CHARACTER.search(line), f"unsafe text reached {chatter.nick}: {line!r}"
            decode_event(line, 2)  # raises MalformedEvent if it does not fit


def _wait_for_figures(chatter: Chatter, settled: Callable[[dict[str, str]], bool],
                      timeout: float = 15) -> dict[str, str]:
    """Ask /stats every 0.25 s (the server shares a count for 0.2 s) until `settled`."""
    deadline = time.monotonic() + timeout
    while True:
        asked = sum(line.startswith("STATS ") for line in chatter.lines)
        chatter.send_line("/stats")
        WebFuzzRun._read_chatter_until(chatter, lambda: sum(
            line.startswith("STATS ") for line in chatter.lines) > asked)
        figures = decode_event(chatter.lines[-1]).as_dict()  # type: ignore[union-attr]
        if settled(figures) or time.monotonic() > deadline:
            return figures
        time.sleep(0.25)


def check_server_kept_nothing(server: ServerProcess, run: WebFuzzRun) -> None:
    """No connection or task left for a hostile peer; the page, a new browser and a new
    TCP client are served; SIGTERM ends the server cleanly with no traceback."""
    web, tcp = WebChatter(run.web_port, "newweb"), TcpChatter(server.port, "newtcp")
    for chatter in (web, tcp):
        chatter.join()
    connections = len(run.chatters) + 2
    tasks = str(run.server_tasks + TASKS_PER_CONNECTION * connections)
    figures = _wait_for_figures(tcp, lambda f: f["tasks"] == tasks
                                and f["clients"] == str(connections))
    assert (figures["clients"], figures["tasks"]) == (str(connections), tasks)
    assert get(run.web_port, "/")[0] == 200
    web.say("still here after the fuzz")
    first = run.chatters[0]
    run._read_chatter_until(first, lambda: "still here after the fuzz" in
                            [text for _, text in _said_in_lobby(first)])
    for chatter in [web, tcp, *run.chatters]:
        chatter.sock.close()
    assert server.stop() == 0
    stderr = server.stderr_text()
    assert "Traceback" not in stderr
    assert "crashed" not in stderr and "failed" not in stderr


# --- the tests -------------------------------------------------------------------------------

def test_plans_are_reproducible_from_the_seed() -> None:
    first = [make_plan(random.Random(FUZZ_SEED), index, 8080) for index in range(8)]
    again = [make_plan(random.Random(FUZZ_SEED), index, 8080) for index in range(8)]
    assert first == again


@pytest.mark.fuzz
@pytest.mark.timeout(150)
def test_fuzz_the_web_listener(server_factory) -> None:
    server = server_factory("--flood", "off", "--join-timeout", JOIN_TIMEOUT)
    hostiles = max(8, round(60 * FUZZ_SCALE))
    run = WebFuzzRun(server, FUZZ_SEED, hostiles=hostiles, concurrency=12,
                     duration=12.0 * FUZZ_SCALE, say_every=0.05)
    with seed_in_failures(FUZZ_SEED, "web fuzz"):
        before, peak = run.run()
        assert len(run.peers) == hostiles
        common = check_transcripts(run.chatters)
        check_nothing_unsafe_arrived(run.chatters)
        assert peak - before < MEMORY_BOUND, f"RSS grew by {(peak - before) >> 20} MiB"
        check_server_kept_nothing(server, run)
        hostile_lines = [line for _, line in common
                         if sender_and_text(line)[1] not in WELL_BEHAVED]
        print(f"{len(common)} #lobby events, {len(hostile_lines)} from hostile peers; "
              f"plans {Counter(peer.plan.kind for peer in run.peers)}; endings "
              f"{Counter(peer.plan.ending for peer in run.peers)}; RSS {before >> 20} MiB, "
              f"peak +{(peak - before) >> 20} MiB")
