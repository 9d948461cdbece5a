"""IRC clients against a real server, over 127.0.0.1, next to line clients in the same rooms."""

from __future__ import annotations

import random
import re
import socket
import time

import pytest

from tests.chat_testing import LINE_TIMEOUT, LineClient, ServerProcess, machine_client, start_server


def irc_port_of(server: ServerProcess) -> int:
    """Read the server's output on to its `IRC clients: irc://HOST:PORT` line."""
    stdout = server.process.stdout
    assert stdout is not None
    for line in server.startup_output:
        found = re.search(r"IRC clients: irc://\S+:(\d+)", line)
        if found:
            return int(found.group(1))
    # The announcement is printed (and flushed) at once, after the `listening on` line
    # start_server waited for: it is already buffered or in the pipe.
    for _ in range(40):
        line = stdout.readline()
        if not line:
            break
        server.startup_output.append(line)
        found = re.search(r"IRC clients: irc://\S+:(\d+)", line)
        if found:
            return int(found.group(1))
    raise AssertionError(f"no IRC line in {server.startup_output!r}")


class IrcClient:
    """A small blocking IRC client: send lines, read lines until one matches."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=LINE_TIMEOUT)
        self.buffer = b""

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\r\n" for line in lines).encode())

    def read_until(self, pattern: str, timeout: float = LINE_TIMEOUT) -> list[str]:
        """Lines up to and including the first that matches the regular expression."""
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while b"\r\n" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\r\n", 1)
                lines.append(raw.decode())
                if re.search(pattern, lines[-1]):
                    return lines
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ConnectionError):
                break
            if not data:
                break
            self.buffer += data
        raise AssertionError(f"no line matching {pattern!r} in {lines!r}")

    def register(self, nick: str, caps: str = "") -> list[str]:
        if caps:
            self.send("CAP LS 302", f"CAP REQ :{caps}")
        self.send(f"NICK {nick}", "USER u 0 * :Test User")
        if caps:
            self.send("CAP END")
        return self.read_until(r" 366 \S+ #lobby ")

    def close(self) -> None:
        self.sock.close()


def v2_client(port: int, nick: str) -> LineClient:
    """A line client of protocol version 2 (rooms), joined as `nick`."""
    client = LineClient(port)
    client.send_line("/hello tests 2", f"/nick {nick}")
    client.read_until(f"CURRENT #lobby")
    return client


@pytest.fixture
def server():
    running = start_server("--oper-password", "sesame", "--flood", "off")
    yield running
    running.stop()
    assert "Traceback" not in running.stderr_text()


def test_an_irc_client_and_a_line_client_see_each_other(server: ServerProcess) -> None:
    irc = IrcClient(irc_port_of(server))
    welcome = irc.register("alice")
    assert any(" 001 alice " in line for line in welcome)
    assert any("JOIN #lobby" in line for line in welcome)
    line = machine_client(server.port, "bob")
    irc.read_until(r":bob!\S+ JOIN #lobby")
    line.send_line("hello alice")
    irc.read_until(r":bob!\S+ PRIVMSG #lobby :hello alice$")
    irc.send("PRIVMSG #lobby :hello bob", "PRIVMSG bob :psst")
    line.read_until("MSG alice hello bob")
    line.read_until("PRIVMSG alice bob psst")
    irc.close()
    line.close()


def test_the_commands_of_an_ordinary_session(server: ServerProcess) -> None:
    irc = IrcClient(irc_port_of(server))
    irc.register("carol")
    irc.send("JOIN #games", "TOPIC #games :cards tonight", "TOPIC #games")
    irc.read_until(r"JOIN #games$")
    irc.read_until(r" 366 carol #games ")
    irc.read_until(r"TOPIC #games :cards tonight")
    irc.read_until(r" 332 carol #games :cards tonight")
    irc.send("NAMES #games", "WHO #games", "LIST")
    irc.read_until(r" 353 carol = #games :carol$")
    irc.read_until(r" 352 carol #games carol ")
    irc.read_until(r" 315 carol #games ")
    listing = irc.read_until(r" 323 carol ")
    assert any(" 322 carol #games 1 :cards tonight" in each for each in listing)
    irc.send("NICK carla", "PART #games :bye", "JOIN lobby", "PRIVMSG #nowhere :x")
    irc.read_until(r":carol!\S+ NICK carla")
    irc.read_until(r":carla!\S+ PART #games :bye")
    irc.read_until(r" 403 \S+ lobby ")
    irc.read_until(r" 404 carla #nowhere ")
    # In one write, so all three are read before the first error goes out: each error
    # is still numbered by its own command (irctest's PRIVMSG-then-PING found this).
    irc.send("PRIVMSG #nowhere :y", "PING behind", "PART #nowhere")
    answers = irc.read_until(r" 442 carla #nowhere ")
    assert [line.split()[1] for line in answers[-3:]] == ["404", "PONG", "442"]
    irc.send("QUIT :done")
    irc.read_until(r"^ERROR ")
    irc.close()


def test_operators_kick_and_set_modes(server: ServerProcess) -> None:
    irc = IrcClient(irc_port_of(server))
    irc.register("op")
    line = v2_client(server.port, "dave")
    irc.send("MODE #lobby +m")
    irc.read_until(r" 482 op ")
    irc.send("OPER op sesame", "MODE #lobby +m")
    irc.read_until(r" 381 op ")
    line.send_line("can I talk?")
    line.read_until("ERROR READ_ONLY")
    irc.send("MODE #lobby -m", "KICK #lobby dave :enough")
    irc.read_until(r":op!\S+ KICK #lobby dave :enough")
    line.read_until(lambda got: got.startswith("PART #lobby ")
                    and got.endswith(" dave kicked by op: enough"))
    irc.close()
    line.close()


def test_nick_collisions_with_line_users_are_433(server: ServerProcess) -> None:
    line = machine_client(server.port, "erin")
    irc = IrcClient(irc_port_of(server))
    irc.send("NICK ERIN", "USER u 0 * :x")
    irc.read_until(r" 433 \* ERIN ")
    irc.send("NICK erin2")
    irc.read_until(r" 001 erin2 ")
    irc.close()
    line.close()


def test_history_is_a_batch_with_server_time_or_plain_lines(server: ServerProcess) -> None:
    line = machine_client(server.port, "frank")
    line.send_line("said before")
    line.read_until("MSG frank said before")
    modern = IrcClient(irc_port_of(server))
    lines = modern.register("modern", "batch server-time") + modern.read_until("BATCH -")
    start = next(i for i, each in enumerate(lines) if "BATCH +" in each)
    assert "chathistory #lobby" in lines[start]
    assert any(re.match(r"@batch=\S+;time=\S+Z :frank!\S+ PRIVMSG #lobby :said before", each)
               for each in lines[start:])
    plain = IrcClient(irc_port_of(server))
    plain.register("plain")
    plain.read_until(r":frank!\S+ PRIVMSG #lobby :\[.+\] said before")
    modern.close()
    plain.close()
    line.close()


def test_long_lines_are_split_for_irc_and_nothing_is_lost(server: ServerProcess) -> None:
    irc = IrcClient(irc_port_of(server))
    irc.register("reader")
    line = machine_client(server.port, "writer")
    text = "ü" * 600 + " " + "word " * 100
    line.send_line(text.strip())
    pieces = []
    for _ in range(10):
        got = irc.read_until(r":writer!\S+ PRIVMSG #lobby :")[-1]
        assert len(got.encode()) + 2 <= 512
        pieces.append(got.split(" :", 1)[1])
        if "".join(pieces) == text.strip():
            break
    assert "".join(pieces) == text.strip()
    irc.close()
    line.close()


@pytest.mark.fuzz
def test_irc_fuzz_gets_numerics_or_a_clean_close_and_others_carry_on(
        server: ServerProcess) -> None:
    port = irc_port_of(server)
    watcher = machine_client(server.port, "watcher")
    rng = random.Random(14)
    words = ["NICK", "USER", "JOIN", "PART", "PRIVMSG", "NOTICE", "MODE", "KICK", "TOPIC",
             "CAP", "PASS", "WHO", "NAMES", "LIST", "PING", "AWAY", "OPER", "watcher",
             "#lobby", "#x", "+o", "+b", "-m", ":", "*", "LS", "REQ", "END", "\x01ACTION"]
    for round_number in range(30):
        fuzzer = socket.create_connection(("127.0.0.1", port), timeout=LINE_TIMEOUT)
        data = b""
        for _ in range(rng.randint(1, 40)):
            choice = rng.random()
            if choice < 0.1:
                data += b"PRIVMSG #lobby :" + b"y" * rng.randint(400, 9000) + b"\r\n"
            elif choice < 0.2:
                data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 60)))
            elif choice < 0.3:
                data += b"NICK watcher\r\nNICK w%d\r\nUSER a 0 * :b\r\n" % round_number
            else:
                parts = [rng.choice(words) for _ in range(rng.randint(1, 6))]
                data += " ".join(parts).encode() + rng.choice([b"\r\n", b"\n", b""])
        try:
            fuzzer.sendall(data)
            fuzzer.sendall(b"\r\nPING :alive\r\n")
            fuzzer.settimeout(0.5)
            while fuzzer.recv(65536):  # it answers or closes; we stop at the first quiet
                pass
        except (socket.timeout, ConnectionError):
            pass
        fuzzer.close()
    # The watcher was not disturbed (it may have seen fuzzers come and go), and a new
    # IRC client still gets in and talks.
    watcher.send_line("/ping still-here")
    watcher.read_until("PONG still-here")
    irc = IrcClient(port)
    irc.register("after")
    irc.send("PRIVMSG #lobby :still fine")
    watcher.read_until("MSG after still fine")
    irc.close()
    watcher.close()


def test_irc_port_options_off_busy_default_and_busy_explicit() -> None:
    off = start_server("--irc-port", "off")
    try:
        assert off.process.poll() is None
    finally:
        off.stop()
    assert not any("IRC clients" in line for line in off.startup_output)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        with pytest.raises(RuntimeError):
            start_server("--irc-port", str(busy))
