"""`chat-client --tls` against a real TLS server: the certificate is pinned on first use.

Like ssh's known_hosts: the first connection remembers the server's fingerprint and says
so; the same fingerprint later goes through without a word; a changed one is refused
loudly, with the way to accept it, and the client does not join.
"""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path

from chat_client import pinning
from chat_server import tls
from chat_testing import ServerProcess
from client_harness import FAST, run, running_client, wait_until

TLS = replace(FAST, tls=True)


def _tls_server(server_factory, certificate_dir: Path, hostname: str) -> tuple[ServerProcess, str]:  # type: ignore[no-untyped-def]
    """A server on a TLS port of its own with a certificate made for the test."""
    cert_pem, key_pem = tls.make_self_signed(hostname)
    certificate_dir.mkdir(parents=True, exist_ok=True)
    (certificate_dir / "cert.pem").write_bytes(cert_pem)
    (certificate_dir / "key.pem").write_bytes(key_pem)
    server = server_factory("--tls-port", "0", "--cert", str(certificate_dir / "cert.pem"),
                            "--key", str(certificate_dir / "key.pem"))
    return server, tls.fingerprint(ssl.PEM_cert_to_DER_cert(cert_pem.decode()))


def said(client) -> str:  # type: ignore[no-untyped-def]
    """Everything in the client's scrollback, one entry a line (unwrapped)."""
    return "\n".join(client.scrollback)


def _tls_port(server: ServerProcess) -> int:
    assert server.process.stdout is not None
    lines = server.startup_output
    for _ in range(40):  # the announcement was flushed in one go: it is there to read
        if any("TLS listening on " in line for line in lines):
            break
        lines.append(server.process.stdout.readline())
    line = next(line for line in lines if "TLS listening on " in line)
    return int(line.rsplit(":", 1)[1])


def test_first_use_remembers_same_goes_through_changed_is_refused(server_factory,
                                                                 tmp_path: Path) -> None:
    first, first_print = _tls_server(server_factory, tmp_path / "first", "first.example")
    port = _tls_port(first)

    async def scenario() -> None:
        async with running_client(port, "alice", settings=TLS) as client:
            await client.wait_until_joined()
            assert "is now remembered" in said(client) and first_print in said(client)
        async with running_client(port, "alice", settings=TLS) as client:
            await client.wait_until_joined()
            assert "remembered" not in said(client)  # the same certificate: not a word
        first.stop()
        second, _ = _tls_server(server_factory, tmp_path / "second", "second.example")
        again = _tls_port(second)
        # The new server's certificate, remembered under the old server's address:
        known = pinning.known_servers_path()
        known.write_text(known.read_text().replace(f":{port} ", f":{again} "))
        async with running_client(again, "alice", settings=TLS) as client:
            await wait_until(lambda: "has CHANGED" in said(client), "the refusal")
            pane = said(client)
            assert f"chat-client --forget-server 127.0.0.1:{again}" in pane
            assert first_print in pane  # the one remembered, named beside the new one
            assert "you joined" not in pane

    run(scenario)
