"""Test support: a real chat server in a subprocess, and a plain line client for it.

Every integration test talks to a real `python -m chat_server` over 127.0.0.1, so the
command line, the listening line and signal handling are exercised as users meet them.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO

from protocol import LineFramer

STARTUP_TIMEOUT = 15.0
LINE_TIMEOUT = 10.0


@dataclass
class ServerProcess:
    """A `chat_server` running in a subprocess; stop it with `stop()` (SIGTERM)."""

    process: subprocess.Popen[str]
    host: str
    port: int
    startup_output: list[str] = field(default_factory=list)
    stderr_file: IO[str] | None = None  # a file, not a pipe: a chatty server never blocks
    temporary_dir: str | None = None  # where its history store lives, removed at stop

    @property
    def address(self) -> str:
        """`HOST:PORT`, as `chat-client` takes it."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def signal(self, signum: int) -> None:
        """Send `signum` to the server process."""
        self.process.send_signal(signum)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM the server and wait for it; return its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout)
        finally:
            if self.temporary_dir is not None and self.process.poll() is not None:
                shutil.rmtree(self.temporary_dir, ignore_errors=True)

    def stderr_text(self) -> str:
        """Everything the server wrote to standard error (call after it stopped)."""
        if self.stderr_file is None:
            assert self.process.stderr is not None
            return self.process.stderr.read()
        self.stderr_file.seek(0)
        return self.stderr_file.read()


def start_server(*args: str, port: int = 0, preexec_fn=None) -> ServerProcess:  # type: ignore[no-untyped-def]
    """Start `python -m chat_server` on 127.0.0.1 and wait for its `listening on` line.

    Unless `args` name a `--store`, its history is kept in a file of a temporary folder
    (a real SQLite file, removed when the server is stopped).
    """
    temporary_dir = None
    if not any(arg == "--no-announce" or arg.startswith("--mdns") for arg in args):
        args = (*args, "--no-announce")  # tests never multicast on a real network
    if "--store" not in args:
        temporary_dir = tempfile.mkdtemp(prefix="lanchat-test-")
        args = (*args, "--store", os.path.join(temporary_dir, "history.sqlite3"))
    command = [sys.executable, "-m", "chat_server", "--host", "127.0.0.1",
               "--port", str(port), "--name", "testroom", *args]
    stderr_file = tempfile.TemporaryFile("w+", encoding="utf-8")
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=stderr_file, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "0"}, preexec_fn=preexec_fn,
    )
    assert process.stdout is not None
    output: list[str] = []
    deadline = time.monotonic() + STARTUP_TIMEOUT
    poller = select.poll()  # not select(): a test may hold more than 1,024 descriptors
    poller.register(process.stdout, select.POLLIN)
    while time.monotonic() < deadline:
        if not poller.poll(200):
            if process.poll() is not None:
                break
            continue
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        if "listening on " in line:
            bound_port = int(line.split("listening on ", 1)[1].split()[0].rsplit(":", 1)[1])
            return ServerProcess(process, "127.0.0.1", bound_port, output, stderr_file,
                                 temporary_dir)
    process.kill()
    process.wait(5)
    stderr_file.seek(0)
    if temporary_dir is not None:
        shutil.rmtree(temporary_dir, ignore_errors=True)
    raise RuntimeError(f"server did not start: {output!r} {stderr_file.read()!r}")


class LineClient:
    """A blocking line-oriented client, for tests: send lines, read lines with timeouts."""

    def __init__(self, port: int, host: str = "127.0.0.1", *, receive_buffer: int | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(LINE_TIMEOUT)
        self.sock.connect((host, port))
        self._framer = LineFramer(max_line_bytes=1 << 20)
        self._lines: list[str] = []
        self.closed_by_server = False

    def send(self, data: bytes) -> None:
        """Send raw bytes."""
        self.sock.sendall(data)

    def send_line(self, *lines: str) -> None:
        """Send each of `lines`, LF-terminated, in one write."""
        self.sock.sendall("".join(line + "\n" for line in lines).encode("utf-8"))

    def read_line(self, timeout: float = LINE_TIMEOUT) -> str:
        """The next line from the server; raises TimeoutError or EOFError."""
        deadline = time.monotonic() + timeout
        while not self._lines:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no line from the server in time")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError("no line from the server in time") from None
            if not data:
                self.closed_by_server = True
                raise EOFError("the server closed the connection")
            self._lines.extend(item.text for item in self._framer.feed(data)
                               if hasattr(item, "text"))
        return self._lines.pop(0)

    def read_until(self, predicate, timeout: float = LINE_TIMEOUT) -> list[str]:  # type: ignore[no-untyped-def]
        """Read lines until one satisfies `predicate` (a prefix string or a function).

        Returns every line read, the matching one last.
        """
        if isinstance(predicate, str):
            prefix = predicate
            predicate = lambda line: line.startswith(prefix)  # noqa: E731
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            line = self.read_line(max(0.0, deadline - time.monotonic()))
            seen.append(line)
            if predicate(line):
                return seen

    def read_all_until_closed(self, timeout: float = LINE_TIMEOUT) -> list[str]:
        """Read every line until the server closes the connection."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            try:
                seen.append(self.read_line(max(0.0, deadline - time.monotonic())))
            except (EOFError, ConnectionResetError):
                return seen

    def close(self) -> None:
        """Close the connection."""
        self.sock.close()


def machine_client(port: int, nick: str | None = None, **kwargs) -> LineClient:  # type: ignore[no-untyped-def]
    """A client that sent `/hello` (and, given `nick`, joined and read up to its own JOIN)."""
    client = LineClient(port, **kwargs)
    client.send_line("/hello tests 1")
    client.read_until("HELLO ")
    if nick is not None:
        client.send_line(f"/nick {nick}")
        client.read_until(f"JOIN {nick}")
    return client


def close_all(clients: Iterable[LineClient]) -> None:
    """Close every client, ignoring errors."""
    for client in clients:
        try:
            client.close()
        except OSError:
            pass
