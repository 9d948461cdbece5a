"""TLS: the same chat over an encrypted socket, on the same scheduler (`--tls-port`).

A TLS listener is one more `Listener`. Its connections get their own reader and writer
(below) instead of the plain ones in `tasks.py`; the run loop, the traps and the chat
logic do not change, and the plain tasks do not pay for TLS with a single extra check.
The two TLS tasks share the command handling (`handle_commands`) and the polite close
(`close_politely`) with the plain ones; only the moving of bytes differs, because:

- **A want-error names the trap.** On a non-blocking `ssl.SSLSocket` any call (the
  handshake, a read, a write, the closing) may raise `SSLWantReadError` or
  `SSLWantWriteError`: "wait until the socket is readable" or "...writable", whatever
  the call was (a read may need to send, a write may need to receive). `TlsStream.call`
  turns the one into `recv_wait` and the other into `send_wait`, then tries again.
- **Bytes can hide inside the SSL object.** A read decrypts a whole record but hands
  back only what fits the buffer; the rest waits in the SSL object (`sock.pending()`)
  while the socket itself has nothing to read. The reader reads those before it waits.
- **Two tasks, one socket.** The scheduler lets one task wait for each direction of a
  socket. TLS can make the reader want to write and the writer want to read, so the
  per-connection `TlsStream` sends a second task wanting the same direction to wait for
  the first one's wake-up instead of asking the scheduler twice.
- **The writer does the handshake**, bounded by its own deadline (a stalled handshake
  cannot hold a slot), and the reader starts once it is done. The writer owns the
  connection's end already, so a failed handshake ends the connection like any failure.

The certificate is `--cert`/`--key`, or one made once with `cryptography` and kept in
the state directory next to the history store; people check its SHA-256 fingerprint.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import ipaddress
import logging
import os
import socket
import ssl
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from chat_server.directory import Directory, activity
from chat_server.parking import Parking
from chat_server.scheduler import Task
from chat_server.session import Session
from chat_server.store import default_store_path
from chat_server.tasks import close_politely, cut_off_if_too_slow, handle_commands
from chat_server.traps import TaskGenerator, Trap, cancel, park, recv_wait, send_wait, sleep, spawn

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 10.0  # seconds a new connection has to finish its TLS handshake
RECORD_SIZE = 16384  # the most plaintext one TLS record carries
# What every TLS reader decrypts into, copied out at once (as `tasks._RECEIVED`). One
# record's worth: a read returns at most one record, so less would leave bytes pending.
_DECRYPTED = memoryview(bytearray(RECORD_SIZE))
CERTIFICATE_NAME, KEY_NAME = "tls-cert.pem", "tls-key.pem"
CERTIFICATE_DAYS = 3650  # self-signed and pinned by fingerprint: expiry protects nothing

Result = TypeVar("Result")


# The certificate


class TlsSetupError(Exception):
    """The certificate or key cannot be made, read or used (a one-line reason)."""


@dataclass(frozen=True)
class TlsSettings:
    """What the TLS listener serves: its port, its certificate, and how long a handshake may take."""

    port: int
    context: ssl.SSLContext
    certificate: Path
    fingerprint: str  # SHA-256, colon-separated hex, as `openssl x509 -fingerprint -sha256`
    made_now: bool = False  # True when this start made the self-signed certificate
    handshake_timeout: float = HANDSHAKE_TIMEOUT


def prepare(port: int, cert: str | None, key: str | None, hostname: str,
            handshake_timeout: float = HANDSHAKE_TIMEOUT) -> TlsSettings:
    """The settings for `--tls-port`: the given certificate, or our own self-signed one."""
    made_now = False
    if cert is None or key is None:
        cert_path, key_path, made_now = load_or_make_certificate(default_certificate_dir(),
                                                                 hostname)
    else:
        cert_path, key_path = Path(cert), Path(key)
    try:
        context = server_context(cert_path, key_path)
        fingerprint = fingerprint_of_file(cert_path)
    except (OSError, ValueError) as error:
        raise TlsSetupError(f"cannot use the certificate {cert_path} and key {key_path}: "
                            f"{_reason(error)}") from None
    return TlsSettings(port, context, cert_path, fingerprint, made_now, handshake_timeout)


def default_certificate_dir() -> Path:
    """The per-user state directory, where the history store lives too."""
    return default_store_path().parent


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A server-side context: TLS 1.2 or later, no renegotiation, this certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # Renegotiation is the one way a write could need a read after the handshake; nothing
    # here needs it, and refusing it closes a door to CPU-burning clients.
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(cert_file, key_file)
    return context


def fingerprint(der: bytes) -> str:
    """The SHA-256 fingerprint of a DER certificate: `AB:CD:...`, as openssl prints it."""
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def fingerprint_of_file(cert_file: Path) -> str:
    """The fingerprint of the first certificate in a PEM file (the server's own)."""
    from cryptography import x509  # here: only a TLS listener needs it

    certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
    return fingerprint(certificate.public_bytes(_serialization().Encoding.DER))


def load_or_make_certificate(directory: Path, hostname: str) -> tuple[Path, Path, bool]:
    """The certificate and key in `directory`, made first if either is missing.

    Returns (certificate, key, made now). A lock makes two servers started at once agree
    on one pair; the key is written readable by its owner only.
    """
    cert_path, key_path = directory / CERTIFICATE_NAME, directory / KEY_NAME
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _lock(directory / ".tls-cert.lock"):
            if cert_path.exists() and key_path.exists():
                return cert_path, key_path, False
            cert_pem, key_pem = make_self_signed(hostname)
            _write_atomically(key_path, key_pem, 0o600)
            _write_atomically(cert_path, cert_pem, 0o644)
    except OSError as error:
        raise TlsSetupError(f"cannot make a certificate in {directory}: "
                            f"{_reason(error)}") from None
    return cert_path, key_path, True


def make_self_signed(hostname: str) -> tuple[bytes, bytes]:
    """A new self-signed certificate and its key, both PEM, for `hostname` and loopback."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())  # small and fast; every TLS client has it
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"lanchat {hostname}"[:64])])
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
             x509.IPAddress(ipaddress.ip_address("::1"))]
    if hostname != "localhost" and hostname.isascii():
        names.insert(0, x509.DNSName(hostname))
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))  # a client's clock may lag
        .not_valid_after(now + datetime.timedelta(days=CERTIFICATE_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    serialization = _serialization()
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def _serialization() -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write `path` whole or not at all, created with `mode` (never briefly wider)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)  # in case it existed, left by a crash, with other bits
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: two first starts at the same instant may race
        yield
        return
    with open(path, "a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        yield


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or getattr(error, "reason", None) or str(error)


# One connection's TLS socket, shared by its two tasks


class TlsStream:
    """A connection's `SSLSocket`, and who of its two tasks waits on it for what."""

    __slots__ = ("sock", "secure", "became_secure", "_waiting", "_woken")

    def __init__(self, sock: ssl.SSLSocket) -> None:
        self.sock = sock
        self.secure = False  # the handshake is done
        self.became_secure = Parking()  # the reader waits here for the handshake
        self._waiting: set[str] = set()  # "recv", "send": a task waits on the socket
        self._woken = {"recv": Parking(), "send": Parking()}

    def call(self, operation: Callable[..., Result], *args: Any) -> Generator[Trap, Any, Result]:
        """Run one SSL operation until it is done: each time it says what it wants,
        wait for that (whatever the operation was), then try again."""
        while True:
            try:
                return operation(*args)
            except ssl.SSLWantReadError:
                trap = recv_wait(self.sock)
            except ssl.SSLWantWriteError:
                trap = send_wait(self.sock)
            yield from self.wait(trap)

    def wait(self, trap: Trap) -> TaskGenerator:
        """Yield `trap` (recv_wait or send_wait on this socket); if the other task already
        waits for the same, wait for its wake-up instead: the scheduler takes one each."""
        kind = trap[0]
        if kind in self._waiting:
            yield park(self._woken[kind])
            return
        self._waiting.add(kind)
        try:
            yield trap
        finally:  # woken, or cancelled: either way the other task may now ask
            self._waiting.discard(kind)
            if self._woken[kind].parked:
                self._woken[kind].wake_all()


# The tasks


def secure(sock: socket.socket, context: ssl.SSLContext) -> ssl.SSLSocket | None:
    """Wrap an accepted socket for TLS, handshake not started; None if it is already gone."""
    try:
        return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
    except OSError:
        sock.close()
        return None


def start_tls_tasks(spawn_task: Callable[..., Task], directory: Directory, session: Session,
                    clock: Callable[[], float], close_session: Callable[[Session], None],
                    handshake_timeout: float) -> None:
    """Start the reader and the writer of a TLS session (`session.sock` is an SSLSocket)."""
    stream = TlsStream(session.sock)  # type: ignore[arg-type]
    session.reader = spawn_task(tls_reader(directory, session, clock, stream),
                                name=session.task_name("reader"))
    session.writer = spawn_task(
        tls_writer(directory, session, close_session, stream, handshake_timeout),
        name=session.task_name("writer"))


def tls_reader(directory: Directory, session: Session, clock: Callable[[], float],
               stream: TlsStream) -> TaskGenerator:
    """Once the handshake is done, decrypt the client's bytes into its protocol object
    and hand each command to the directory, as the plain reader does."""
    try:
        while not stream.secure:
            yield park(stream.became_secure)
        yield from _read_until_the_end(directory, session, clock, stream)
    finally:
        if session.reading:
            directory.connection_lost(session)


def _read_until_the_end(directory: Directory, session: Session, clock: Callable[[], float],
                        stream: TlsStream) -> TaskGenerator:
    sock, connection = stream.sock, session.connection
    while session.reading:
        if not sock.pending():  # decrypted bytes waiting inside SSL: the socket may be quiet
            yield from stream.wait(recv_wait(sock))
        try:
            count = yield from stream.call(sock.recv_into, _DECRYPTED)
        except OSError:  # a forged record, a reset: the connection is gone either way
            return
        if not count:  # the client closed (with close_notify, or without: same for us)
            return
        connection.receive_data(bytes(_DECRYPTED[:count]))
        yield from handle_commands(directory, session, clock)


def tls_writer(directory: Directory, session: Session, close_session: Callable[[Session], None],
               stream: TlsStream, handshake_timeout: float) -> TaskGenerator:
    """Do the handshake, then send the outbox as it fills; close politely at the end."""
    outbox = session.outbox
    try:
        if (yield from _handshake(session, stream, handshake_timeout)):
            while outbox or not outbox.finished:
                if outbox:
                    yield from _send_everything_queued(directory, session, stream)
                else:
                    yield park(outbox.has_data)
            if session.reader is not None:
                yield cancel(session.reader)
            yield from _say_close_notify(stream)
        else:
            directory.connection_lost(session)  # nothing to send: the peer speaks no TLS
            if session.reader is not None:
                yield cancel(session.reader)
        yield from close_politely(stream.sock)
    except OSError:
        directory.connection_lost(session)
    finally:
        close_session(session)


def _handshake(session: Session, stream: TlsStream, timeout: float) -> Generator[Trap, Any, bool]:
    """The TLS handshake, within `timeout`; False (and logged) if the peer got it wrong."""
    deadline = yield spawn(_handshake_deadline(timeout, session, stream),
                           session.task_name("handshake-deadline"))
    try:
        yield from stream.call(stream.sock.do_handshake)
    except OSError as error:  # plain text, garbage, an alert, a reset
        activity.info("%s: TLS handshake failed: %s", session.address, _reason(error))
        secured = False
    else:
        secured = stream.secure = True
        stream.became_secure.wake_all()
    yield cancel(deadline)
    return secured


def _handshake_deadline(seconds: float, session: Session, stream: TlsStream) -> TaskGenerator:
    """Stop the writer of a handshake that has not finished in time (its end closes all)."""
    yield sleep(seconds)
    if not stream.secure and session.writer is not None:
        activity.info("%s: no TLS handshake within %gs", session.address, seconds)
        yield cancel(session.writer)


def _send_everything_queued(directory: Directory, session: Session,
                            stream: TlsStream) -> TaskGenerator:
    """Send all that is queued now, a record at a time, as the plain writer does."""
    sock, outbox = stream.sock, session.outbox
    data = memoryview(outbox.take())
    while data:
        try:
            # One record at a time: a retry after a want-error must offer the same bytes,
            # and the outbox learns what went out as it goes, as on a plain socket.
            sent = sock.send(data[:RECORD_SIZE])
        except ssl.SSLWantWriteError:
            sent = 0
        except ssl.SSLWantReadError:  # TLS business first (renegotiation is refused)
            yield from stream.wait(recv_wait(sock))
            continue
        outbox.sent(sent)
        data = data[sent:]
        if data and not sent:  # the kernel's buffer is full: wait until it has room
            outbox.stalled = True
            cut_off_if_too_slow(directory, session)
            yield from stream.wait(send_wait(sock))
            outbox.stalled = False


def _say_close_notify(stream: TlsStream) -> TaskGenerator:
    """Send TLS's own goodbye (close_notify), without waiting for the peer's reply.

    `unwrap` sends ours, then asks for theirs; "want read" means ours is out, and theirs
    (if it comes) is drained with the rest by `close_politely`.
    """
    while True:
        try:
            stream.sock.unwrap()
            return
        except ssl.SSLWantReadError:
            return
        except ssl.SSLWantWriteError:
            yield from stream.wait(send_wait(stream.sock))
