"""Test support for the web listener: its announced port, raw HTTP, and a WebSocket client.

The WebSocket client is wsproto's client side over a blocking socket; tests that must
break the protocol (unmasked frames, floods) write raw frames with `frame()`.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections import deque

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection, CloseConnection, Pong, RejectConnection, Request, TextMessage,
)

from chat_testing import LINE_TIMEOUT, ServerProcess

MAX_ANNOUNCEMENT_LINES = 50


def announced_web_port(server: ServerProcess) -> int:
    """The port of the server's `Browsers: http://...:PORT/` line (read on from stdout).

    The announcement is printed and flushed in one go, after the line start_server
    waited for, so its lines are already there (maybe in the pipe's reading buffer,
    where poll() cannot see them): read them, a bounded number.
    """
    assert server.process.stdout is not None
    for index in range(MAX_ANNOUNCEMENT_LINES):
        if index >= len(server.startup_output):
            server.startup_output.append(server.process.stdout.readline())
        line = server.startup_output[index]
        if line.startswith("Browsers: http://"):
            return int(line.rstrip().rstrip("/").rsplit(":", 1)[1])
    raise AssertionError(f"no Browsers line in {server.startup_output!r}")


def http_exchange(port: int, request: bytes, timeout: float = LINE_TIMEOUT) -> bytes:
    """Send raw request bytes; return everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        return read_until_closed(sock, timeout)


def read_until_closed(sock: socket.socket, timeout: float = LINE_TIMEOUT) -> bytes:
    """What the peer sends until it closes (bounded by `timeout` per read)."""
    sock.settimeout(timeout)
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def get(port: int, path: str, method: str = "GET", headers: str = "") -> tuple[int, dict[str, str], bytes]:
    """One request with `Connection: close`: (status, headers in lower case, body)."""
    raw = http_exchange(port, f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                              f"{headers}Connection: close\r\n\r\n".encode())
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), fields, body


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True) -> bytes:
    """One raw WebSocket frame as a client would send it (masked unless told not to)."""
    first = (0x80 if fin else 0) | opcode
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        header = struct.pack("!BB", first, mask_bit | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", first, mask_bit | 126, length)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, length)
    if not mask:
        return header + payload
    key = os.urandom(4)
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class WebSocketClient:
    """A blocking WebSocket client for tests: send lines, read lines with timeouts."""

    def __init__(self, port: int, *, origin: str | None = "same", path: str = "/chat") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=LINE_TIMEOUT)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.lines: deque[str] = deque()
        self.closed: CloseConnection | None = None
        self.pongs = 0
        self.eof = False  # the server closed the TCP connection
        self._partial = ""
        host = f"127.0.0.1:{port}"
        extra = [] if origin is None else [
            (b"origin", (f"http://{host}" if origin == "same" else origin).encode())]
        self.sock.sendall(self.ws.send(Request(host=host, target=path, extra_headers=extra)))
        self.handshake = self._wait_for_handshake()

    def _wait_for_handshake(self) -> AcceptConnection | RejectConnection:
        for _ in range(100):
            for event in self._receive():
                if isinstance(event, (AcceptConnection, RejectConnection)):
                    return event
        raise AssertionError("no answer to the WebSocket handshake")

    @property
    def accepted(self) -> bool:
        """True when the server answered 101."""
        return isinstance(self.handshake, AcceptConnection)

    def _receive(self, timeout: float = LINE_TIMEOUT) -> list[object]:
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            return []
        self.ws.receive_data(data)
        events = list(self.ws.events())
        for event in events:
            if isinstance(event, TextMessage):
                self._partial += event.data
                if event.message_finished:
                    self.lines.append(self._partial)
                    self._partial = ""
            elif isinstance(event, CloseConnection):
                self.closed = event
            elif isinstance(event, Pong):
                self.pongs += 1
        return events

    def send_line(self, *lines: str) -> None:
        """Send each line as one text message."""
        for line in lines:
            self.sock.sendall(self.ws.send(TextMessage(data=line)))

    def send_raw(self, data: bytes) -> None:
        """Bytes straight to the socket, past wsproto (to break the protocol on purpose)."""
        self.sock.sendall(data)

    def read_line(self, timeout: float = LINE_TIMEOUT) -> str:
        """The next text message; AssertionError if none comes in time or it closes."""
        deadline = time.monotonic() + timeout
        while not self.lines:
            if self.closed is not None or self.eof or time.monotonic() > deadline:
                raise AssertionError(f"no line (closed: {self.closed})")
            self._receive(max(0.01, deadline - time.monotonic()))
        return self.lines.popleft()

    def read_until(self, prefix: str, timeout: float = LINE_TIMEOUT) -> list[str]:
        """Lines up to and including the first that starts with `prefix`."""
        seen = []
        for _ in range(10_000):
            line = self.read_line(timeout)
            seen.append(line)
            if line.startswith(prefix):
                return seen
        raise AssertionError(f"{prefix!r} not in {seen[-20:]!r}")

    def wait_closed(self, timeout: float = LINE_TIMEOUT) -> CloseConnection:
        """Read (and keep the lines) until the server's close frame; return it."""
        for _ in range(10_000):
            if self.closed is not None:
                return self.closed
            if self.eof:
                raise AssertionError("the socket closed without a close frame")
            self._receive(timeout)
        raise AssertionError("no close frame")

    def join(self, nick: str) -> None:
        """Say /hello as a v2 client and join as `nick` (up to our own JOIN)."""
        self.send_line("/hello web-tests 2", f"/nick {nick}")
        self.read_until("JOIN ")

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()
