"""The TLS listener (--tls-port), over real sockets, with Python's `ssl` as the client.

Every client verifies the server against the certificate file the server made (or was
given). Every test ends by checking that the server wrote no traceback.
"""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import stat
import threading
import time
from pathlib import Path

import pytest

from chat_server import tls
from chat_server.scheduler import Scheduler
from chat_server.session import Session
from chat_testing import LINE_TIMEOUT, LineClient, ServerProcess, close_all, machine_client
from process_probes import resident_bytes
from protocol import LineConnection


def _certificate_file() -> Path:
    """Where a server without --cert keeps its certificate (tests point XDG at a temp dir)."""
    return tls.default_certificate_dir() / tls.CERTIFICATE_NAME


def _announced_tls(server: ServerProcess) -> tuple[int, str]:
    """The TLS port and fingerprint from the server's announcement (read on from stdout).

    The announcement is printed and flushed in one go, after the line start_server
    waited for, so its lines are already there: read them (a bounded number).
    """
    assert server.process.stdout is not None
    lines = server.startup_output
    for _ in range(40):
        if any("SHA-256 fingerprint" in line for line in lines[:-1]):
            break
        lines.append(server.process.stdout.readline())
    port_line = next(line for line in lines if "TLS listening on " in line)
    index = next(i for i, line in enumerate(lines) if "SHA-256 fingerprint" in line)
    return int(port_line.rsplit(":", 1)[1]), lines[index + 1].strip()


class TlsClient(LineClient):
    """A LineClient whose socket speaks TLS, verifying the server against `cafile`."""

    def __init__(self, port: int, cafile: Path | None = None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(port, **kwargs)
        context = ssl.create_default_context(cafile=str(cafile or _certificate_file()))
        self.sock = context.wrap_socket(self.sock, server_hostname="localhost")


def _tls_machine_client(port: int, nick: str, version: int = 2, **kwargs) -> TlsClient:  # type: ignore[no-untyped-def]
    client = TlsClient(port, **kwargs)
    client.send_line(f"/hello tests {version}")
    client.read_until("HELLO ")
    client.send_line(f"/nick {nick}")
    client.read_until(lambda line: line.startswith("JOIN") and line.endswith(f" {nick}"))
    return client


def _client_hello() -> bytes:
    """The bytes a TLS client sends first (a real ClientHello), made without a socket."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """True if the server closes `sock` (EOF, or a TLS alert then EOF) within `seconds`."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
    return False


def _no_traceback(server: ServerProcess) -> None:
    assert server.stop() == 0
    assert "Traceback" not in server.stderr_text()


def _still_chatting(port: int, nick: str) -> None:
    """A plain client can join and is answered: the server is unharmed."""
    client = machine_client(port, nick)
    client.send_line("/ping alive")
    client.read_until("PONG alive")
    client.close()


# Chatting over TLS


def _messages(client: LineClient, count: int, v2: bool) -> list[tuple[str, str]]:
    """Read until `count` MSG lines came; return them as (nick, text), in order."""
    seen: list[tuple[str, str]] = []

    def enough(line: str) -> bool:
        if line.startswith("MSG "):
            fields = line.split(" ", 5 if v2 else 2)
            seen.append((fields[-2], fields[-1]))
        return len(seen) >= count

    client.read_until(enough)
    return seen


def test_tls_and_plain_clients_share_one_room_in_one_order(server_factory) -> None:
    server = server_factory("--flood", "off", "--tls-port", "0")
    tls_port, _ = _announced_tls(server)
    secure = _tls_machine_client(tls_port, "secure")  # version 2 events, over TLS
    plain = machine_client(server.port, "plain")  # version 1 events, over plain TCP
    secure.read_until(lambda line: line.endswith(" plain"))
    for number in range(20):
        secure.send_line(f"over tls {number}")
        plain.send_line(f"over tcp {number}")
    seen_by_secure = _messages(secure, 40, v2=True)
    seen_by_plain = _messages(plain, 40, v2=False)
    assert seen_by_secure == seen_by_plain  # one order, whichever way in
    assert [text for nick, text in seen_by_plain if nick == "secure"] == \
        [f"over tls {number}" for number in range(20)]
    close_all([secure, plain])
    _no_traceback(server)


def test_flood_control_delays_a_tls_client_and_drops_nothing(server_factory) -> None:
    server = server_factory("--flood", "5/10", "--tls-port", "0")  # a burst of 5, then 10/s
    tls_port, _ = _announced_tls(server)
    flooder = _tls_machine_client(tls_port, "flooder", version=1)
    started = time.monotonic()
    flooder.send_line(*[f"flood {number}" for number in range(25)])
    lines = flooder.read_until("MSG flooder flood 24", timeout=30)
    assert [line for line in lines if line.startswith("MSG ")] == \
        [f"MSG flooder flood {number}" for number in range(25)]
    assert time.monotonic() - started >= 1.5  # 20 lines past the burst, at 10 a second
    flooder.close()
    _no_traceback(server)


def test_tls_client_that_never_reads_is_cut_off_as_too_slow(server_factory) -> None:
    server = server_factory("--flood", "off", "--outbox-limit", "65536", "--tls-port", "0")
    tls_port, _ = _announced_tls(server)
    stuck = _tls_machine_client(tls_port, "stuck", version=1, receive_buffer=4096)
    talker = machine_client(server.port, "talker")
    payload = "x" * 1000
    sender = threading.Thread(  # the talker reads below while this sends, so it keeps up
        target=lambda: talker.send_line(*[f"{n} {payload}" for n in range(3000)]), daemon=True)
    sender.start()
    talker.read_until("PART stuck too slow", timeout=60)
    sender.join(30)
    stuck.sock.settimeout(10)
    received = 0
    while True:  # what it has, then the end: it was disconnected
        try:
            chunk = stuck.sock.recv(1 << 20)
        except (ssl.SSLError, ConnectionResetError):
            break
        if not chunk:
            break
        received += len(chunk)
    assert received < 3000 * len(payload)
    close_all([stuck, talker])
    _no_traceback(server)


# Bad input and attacks


def test_garbage_instead_of_a_handshake_is_closed_cleanly(server_factory) -> None:
    server = server_factory("--tls-port", "0")
    tls_port, _ = _announced_tls(server)
    # Random bytes after a first one that no record starts with: a random start can
    # read as the header of a record (or an old SSLv2-style hello) longer than the
    # 3000 bytes sent, and then the server waits, rightly, for the rest of it.
    for garbage in (b"\x00" + os.urandom(2999), b"\x16\x03\x01\x00\x05hello", b"\x16" * 100):
        sock = socket.create_connection(("127.0.0.1", tls_port), timeout=LINE_TIMEOUT)
        sock.sendall(garbage)
        assert _closed_within(sock, 5)
        sock.close()
    secure = _tls_machine_client(tls_port, "afterwards")  # TLS still served
    secure.close()
    _no_traceback(server)


def test_plain_text_on_the_tls_port_is_closed_cleanly(server_factory) -> None:
    server = server_factory("--tls-port", "0")
    tls_port, _ = _announced_tls(server)
    client = LineClient(tls_port)
    client.send_line("/hello tests 2", "/nick plaintext")
    assert _closed_within(client.sock, 5)
    client.close()
    _still_chatting(server.port, "bystander")
    _no_traceback(server)


def test_tls_on_the_plain_port_is_a_bad_line_not_a_crash(server_factory) -> None:
    server = server_factory("--tls-port", "0")
    raw = LineClient(server.port)
    raw.send(_client_hello() + b"\n")  # as the server sees a TLS client: bytes, then more
    # Rendered for people (no /hello): "*** Error (BAD_ENCODING): ..." and the like.
    raw.read_until(lambda line: any(code in line for code in (
        "BAD_ENCODING", "LINE_TOO_LONG", "BAD_NICK")))
    raw.close()
    with pytest.raises((ssl.SSLError, ConnectionResetError)):  # a real TLS client gives up
        TlsClient(server.port)
    _still_chatting(server.port, "bystander")
    _no_traceback(server)


def test_a_handshake_stalled_halfway_is_closed_by_its_timeout(server_factory) -> None:
    server = server_factory("--tls-port", "0", "--tls-handshake-timeout", "1",
                            "--join-timeout", "60")
    tls_port, _ = _announced_tls(server)
    hello = _client_hello()
    sock = socket.create_connection(("127.0.0.1", tls_port), timeout=LINE_TIMEOUT)
    sock.sendall(hello[: len(hello) // 2])
    started = time.monotonic()
    assert _closed_within(sock, 8)
    assert 0.8 <= time.monotonic() - started
    sock.close()
    _no_traceback(server)


def test_a_tls_connection_that_never_speaks_meets_the_join_timeout(server_factory) -> None:
    server = server_factory("--tls-port", "0", "--tls-handshake-timeout", "60",
                            "--join-timeout", "1")
    tls_port, _ = _announced_tls(server)
    sock = socket.create_connection(("127.0.0.1", tls_port), timeout=LINE_TIMEOUT)
    assert _closed_within(sock, 10)  # join timeout, then the close deadline (2 s)
    sock.close()
    _no_traceback(server)


@pytest.mark.slow
def test_a_thousand_half_open_handshakes_leave_a_tls_chatter_unharmed(server_factory) -> None:
    server = server_factory("--flood", "off", "--tls-port", "0", "--max-clients", "1100",
                            "--tls-handshake-timeout", "5", "--join-timeout", "60")
    tls_port, _ = _announced_tls(server)
    chatter = _tls_machine_client(tls_port, "chatter")
    before = resident_bytes(server.pid)
    hello = _client_hello()
    attackers = []
    for _ in range(1000):
        sock = socket.create_connection(("127.0.0.1", tls_port), timeout=LINE_TIMEOUT)
        sock.sendall(hello[:40])  # a record header and a little: the rest never comes
        attackers.append(sock)
        if len(attackers) % 100 == 0:  # meanwhile the chatter keeps chatting, promptly
            asked = time.monotonic()
            chatter.send_line(f"still here {len(attackers)}")
            chatter.read_until(lambda line: line.endswith(f"still here {len(attackers)}"))
            assert time.monotonic() - asked < 2.0
    grown = resident_bytes(server.pid) - before
    # Bounded: 1,000 stalled handshakes cost the server less than 100 KiB each.
    assert grown < 1000 * 100 * 1024, f"{grown / 1e6:.0f} MB for 1,000 handshakes"
    deadline = time.monotonic() + 30  # the handshake timeout closes every one of them
    for sock in attackers:
        assert _closed_within(sock, max(0.1, deadline - time.monotonic()))
        sock.close()
    chatter.send_line("the end")
    chatter.read_until(lambda line: line.endswith("the end"))
    chatter.close()
    _no_traceback(server)


# The certificate


def test_the_self_signed_certificate_is_made_once_and_reused(server_factory) -> None:
    first = server_factory("--tls-port", "0")
    _, fingerprint = _announced_tls(first)
    assert any("made now" in line for line in first.startup_output) or \
        _certificate_file().exists()  # made by this test, or by an earlier one of the run
    key = _certificate_file().with_name(tls.KEY_NAME)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    der = ssl.PEM_cert_to_DER_cert(_certificate_file().read_text())
    expected = ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())
    assert fingerprint == expected  # as `openssl x509 -fingerprint -sha256` prints it
    _no_traceback(first)
    second = server_factory("--tls-port", "0")
    assert _announced_tls(second)[1] == fingerprint
    assert not any("made now" in line for line in second.startup_output)
    _no_traceback(second)


def test_a_given_certificate_and_key_are_served(server_factory, tmp_path: Path) -> None:
    cert_pem, key_pem = tls.make_self_signed("given.example")
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    server = server_factory("--tls-port", "0", "--cert", str(tmp_path / "cert.pem"),
                            "--key", str(tmp_path / "key.pem"))
    tls_port, fingerprint = _announced_tls(server)
    assert fingerprint == tls.fingerprint(ssl.PEM_cert_to_DER_cert(cert_pem.decode()))
    client = TlsClient(tls_port, cafile=tmp_path / "cert.pem")
    client.read_until("*** Welcome")
    client.close()
    _no_traceback(server)


def test_a_tls_port_in_use_is_an_error_naming_it(server_factory) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    with pytest.raises(RuntimeError, match=f"cannot listen on 127.0.0.1:{port}"):
        server_factory("--tls-port", str(port))
    busy.close()


# The pending-bytes trap, in-process: a reader whose buffer is smaller than a record


class Recorder:
    """A stand-in directory that records the commands it is handed."""

    def __init__(self) -> None:
        self.commands: list[object] = []

    def handle(self, session: Session, command: object) -> None:
        self.commands.append(command)

    def connection_lost(self, session: Session) -> None:
        session.stop_reading()
        session.hang_up()


def test_bytes_left_inside_the_tls_layer_are_read_without_waiting(monkeypatch) -> None:
    monkeypatch.setattr(tls, "_DECRYPTED", memoryview(bytearray(100)))  # < one record
    cert_pem, key_pem = tls.make_self_signed("pending.example")
    folder = Path(os.environ["XDG_STATE_HOME"]) / "pending-test"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "c.pem").write_bytes(cert_pem)
    (folder / "k.pem").write_bytes(key_pem)
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    scheduler = Scheduler()
    session = Session(tls.secure(ours, tls.server_context(folder / "c.pem", folder / "k.pem")),
                      "192.0.2.1:1", LineConnection(), outbox_limit=1 << 20, flood=None,
                      now=0.0, on_hang_up=lambda session: None)
    recorder = Recorder()
    tls.start_tls_tasks(scheduler.spawn, recorder, session, scheduler.clock,  # type: ignore[arg-type]
                        lambda session: scheduler.release(ours), 5.0)
    lines = b"".join(b"/ping %d\n" % number for number in range(200))  # one ~2 KB record

    def client() -> None:
        context = ssl.create_default_context(cafile=str(folder / "c.pem"))
        with context.wrap_socket(theirs, server_hostname="localhost") as secure:
            secure.sendall(lines)  # and then nothing more: the socket goes quiet
            deadline = time.monotonic() + 10
            while len(recorder.commands) < 200 and time.monotonic() < deadline:
                time.sleep(0.01)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()

    def stop_when_done():  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 10
        while len(recorder.commands) < 200 and time.monotonic() < deadline:
            yield ("sleep", 0.01)
        for task in list(scheduler.tasks):
            if task is not scheduler.current:
                scheduler.cancel(task)

    scheduler.spawn(stop_when_done())
    scheduler.run()
    thread.join(10)
    assert len(recorder.commands) == 200  # all of the record, though the socket was quiet
    ours.close()
