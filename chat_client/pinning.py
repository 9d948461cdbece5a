"""Certificate pinning for `chat-client --tls`: trust on first use, as ssh's known_hosts.

A LAN chat server makes its own certificate, which no authority has signed, so the
client cannot check it the usual way. Instead it remembers each server's certificate
fingerprint (SHA-256) the first time it connects, in the per-user config directory
(`$XDG_CONFIG_HOME/lanchat/known_servers`, else `~/.config/lanchat/known_servers`), one
`HOST:PORT FINGERPRINT` line per server. Later connections must present the same one; a
different one is refused, loudly, with both fingerprints and the way to accept the new
one (`chat-client --forget-server HOST:PORT`, or deleting that line).

The TLS connection itself is made without verification (`unverified_context`): the pin
is the check, done right after the handshake and before anything is sent.
"""

from __future__ import annotations

import enum
import hashlib
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_NAME = "known_servers"


class PinStatus(enum.Enum):
    """What `check` found."""

    REMEMBERED = "remembered"  # first use: the fingerprint is now remembered
    SAME = "same"  # the remembered fingerprint: go ahead
    CHANGED = "changed"  # a different one: refuse


@dataclass(frozen=True)
class PinResult:
    """The outcome of checking a server's fingerprint, and what to tell the person."""

    status: PinStatus
    server: str  # "HOST:PORT"
    fingerprint: str  # what the server presented
    known: str | None = None  # what was remembered, when it changed
    path: Path | None = None  # the known_servers file

    @property
    def ok(self) -> bool:
        """True unless the fingerprint changed: the client may go on."""
        return self.status is not PinStatus.CHANGED

    @property
    def message(self) -> str:
        """One paragraph for people: what happened, and for a change, what to do."""
        if self.status is PinStatus.REMEMBERED:
            return (f"First connection to {self.server} over TLS: its certificate "
                    f"fingerprint (SHA-256) {self.fingerprint} is now remembered in "
                    f"{self.path}. If the server's owner can, compare it with the one "
                    "the server printed at start.")
        if self.status is PinStatus.SAME:
            return f"{self.server}: certificate fingerprint as remembered."
        return "\n".join([
            f"REFUSED: the certificate of {self.server} has CHANGED.",
            f"  remembered: {self.known}",
            f"  presented:  {self.fingerprint}",
            "Someone may be pretending to be the server, or the server got a new "
            "certificate. Ask its owner for the fingerprint it printed at start.",
            "If the new one is right, accept it with:",
            f"    chat-client --forget-server {self.server}",
            f"(or delete the line for {self.server} in {self.path}), then connect again.",
        ])


def known_servers_path() -> Path:
    """`$XDG_CONFIG_HOME/lanchat/known_servers`, else `~/.config/lanchat/known_servers`.

    As the XDG spec says, a relative `$XDG_CONFIG_HOME` is ignored.
    """
    config_home = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(config_home) if os.path.isabs(config_home) else Path.home() / ".config"
    return base / "lanchat" / FILE_NAME


def server_key(host: str, port: int) -> str:
    """How a server is named in the file: `host:port`, `[v6]:port`, host in lower case."""
    host = host.strip("[]").lower()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check(host: str, port: int, fingerprint: str, path: Path | None = None) -> PinResult:
    """Compare `fingerprint` with the one remembered for host:port; remember it if new."""
    path = path or known_servers_path()
    key, fingerprint = server_key(host, port), _normal(fingerprint)
    known = _read(path).get(key)
    if known is None:
        _append(path, f"{key} {fingerprint}\n")
        return PinResult(PinStatus.REMEMBERED, key, fingerprint, path=path)
    if known == fingerprint:
        return PinResult(PinStatus.SAME, key, fingerprint, path=path)
    return PinResult(PinStatus.CHANGED, key, fingerprint, known, path)


def forget(host: str, port: int, path: Path | None = None) -> bool:
    """Forget the fingerprint of host:port (`--forget-server`); False if none was known."""
    path = path or known_servers_path()
    key = server_key(host, port)
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        return False
    kept = [line for line in lines if _entry(line)[0] != key]
    if len(kept) == len(lines):
        return False
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text("".join(kept), encoding="utf-8")
    os.replace(temporary, path)  # whole or not at all: other servers' lines are kept
    return True


def fingerprint(der: bytes) -> str:
    """The SHA-256 fingerprint of a DER certificate: `AB:CD:...`, as openssl prints it."""
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def peer_fingerprint(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> str:
    """The fingerprint of the certificate the server presented in this TLS connection.

    With asyncio: `peer_fingerprint(writer.get_extra_info("ssl_object"))`.
    """
    der = ssl_object.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError("the server presented no certificate")
    return fingerprint(der)


def transport_fingerprint(transport: Any) -> str:
    """`peer_fingerprint` of an asyncio transport or StreamWriter."""
    return peer_fingerprint(transport.get_extra_info("ssl_object"))


def unverified_context() -> ssl.SSLContext:
    """A client context that accepts any certificate: the pin is checked afterwards."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _read(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    entries = (_entry(line) for line in text.splitlines())
    return {key: value for key, value in entries if key}


def _entry(line: str) -> tuple[str, str]:
    """(server, fingerprint) of one line; ("", "") for a comment, a blank or a bad line."""
    fields = line.split()
    if len(fields) != 2 or fields[0].startswith("#"):
        return "", ""
    return fields[0].lower(), _normal(fields[1])


def _normal(fingerprint: str) -> str:
    return fingerprint.strip().upper()


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write in append mode: a line is added whole, next to what others wrote.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as file:
        file.write(line)
