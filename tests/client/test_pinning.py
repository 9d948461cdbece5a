"""Trust on first use (chat_client/pinning.py): unit tests in temporary folders, and one
against a real server's TLS listener."""

from __future__ import annotations

import asyncio
from pathlib import Path

from chat_client import pinning
from chat_client.pinning import PinStatus

OLD = ":".join(["AB"] * 32)
NEW = ":".join(["CD"] * 32)


def test_first_use_remembers_the_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "lanchat" / "known_servers"
    result = pinning.check("Chat.Lan", 7443, OLD, path)
    assert result.status is PinStatus.REMEMBERED and result.ok
    assert path.read_text() == f"chat.lan:7443 {OLD}\n"
    assert path.stat().st_mode & 0o077 == 0  # private to its owner
    assert OLD in result.message


def test_the_same_fingerprint_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "known_servers"
    pinning.check("chat.lan", 7443, OLD, path)
    result = pinning.check("CHAT.lan", 7443, OLD.lower(), path)  # case does not matter
    assert result.status is PinStatus.SAME and result.ok
    assert path.read_text().count("\n") == 1


def test_a_changed_fingerprint_is_refused_with_both_and_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "known_servers"
    pinning.check("chat.lan", 7443, OLD, path)
    result = pinning.check("chat.lan", 7443, NEW, path)
    assert result.status is PinStatus.CHANGED and not result.ok
    assert (result.known, result.fingerprint) == (OLD, NEW)
    message = result.message
    assert OLD in message and NEW in message and "CHANGED" in message
    assert "chat-client --forget-server chat.lan:7443" in message
    assert str(path) in message
    assert pinning.check("chat.lan", 7443, NEW, path).status is PinStatus.CHANGED  # still


def test_forgetting_a_server_lets_the_new_fingerprint_in(tmp_path: Path) -> None:
    path = tmp_path / "known_servers"
    pinning.check("chat.lan", 7443, OLD, path)
    pinning.check("other.lan", 7443, OLD, path)
    assert pinning.forget("chat.lan", 7443, path)
    assert not pinning.forget("chat.lan", 7443, path)  # nothing left to forget
    assert pinning.check("chat.lan", 7443, NEW, path).status is PinStatus.REMEMBERED
    assert pinning.check("other.lan", 7443, OLD, path).status is PinStatus.SAME  # kept


def test_each_port_and_each_address_is_its_own_server(tmp_path: Path) -> None:
    path = tmp_path / "known_servers"
    pinning.check("::1", 7443, OLD, path)
    assert pinning.check("[::1]", 7443, OLD, path).status is PinStatus.SAME
    assert pinning.check("::1", 7444, NEW, path).status is PinStatus.REMEMBERED
    assert "[::1]:7443 " in path.read_text()


def test_comments_blanks_and_broken_lines_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "known_servers"
    path.write_text(f"# my servers\n\nnonsense\nchat.lan:7443 {OLD}\n")
    assert pinning.check("chat.lan", 7443, OLD, path).status is PinStatus.SAME
    assert pinning.forget("chat.lan", 7443, path)
    assert path.read_text() == "# my servers\n\nnonsense\n"


def test_forgetting_without_a_file_is_harmless(tmp_path: Path) -> None:
    assert not pinning.forget("chat.lan", 7443, tmp_path / "missing")


def test_the_file_lives_in_the_per_user_config_folder(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert pinning.known_servers_path() == tmp_path / "config" / "lanchat" / "known_servers"
    pinning.check("chat.lan", 7443, OLD)
    assert (tmp_path / "config" / "lanchat" / "known_servers").exists()
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert pinning.known_servers_path() == \
        tmp_path / "home" / ".config" / "lanchat" / "known_servers"


def test_fingerprint_is_sha256_in_colon_hex() -> None:
    assert pinning.fingerprint(b"") == (
        "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:"
        "27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55")


# Against a real server


def _tls_port_and_fingerprint(server) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """From the server's announcement, printed in one go after its first line."""
    lines = server.startup_output
    for _ in range(40):  # the announcement is short and already written
        if any("SHA-256 fingerprint" in line for line in lines[:-1]):
            break
        lines.append(server.process.stdout.readline())
    port = int(next(line for line in lines if "TLS listening on " in line).rsplit(":", 1)[1])
    index = next(i for i, line in enumerate(lines) if "SHA-256 fingerprint" in line)
    return port, lines[index + 1].strip()


async def _fingerprint_over_asyncio(port: int) -> tuple[str, str]:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=pinning.unverified_context())
    try:
        greeting = await asyncio.wait_for(reader.readline(), 10)
        return pinning.transport_fingerprint(writer), greeting.decode()
    finally:
        writer.close()


def test_a_real_server_is_pinned_on_first_use_and_recognised_after(
        server_factory, tmp_path: Path) -> None:
    server = server_factory("--tls-port", "0")
    port, announced = _tls_port_and_fingerprint(server)
    path = tmp_path / "known_servers"
    presented, greeting = asyncio.run(_fingerprint_over_asyncio(port))
    assert "Welcome" in greeting  # the connection really works without verification
    assert presented == announced  # the client sees what the server printed
    assert pinning.check("127.0.0.1", port, presented, path).status is PinStatus.REMEMBERED
    again, _ = asyncio.run(_fingerprint_over_asyncio(port))
    assert pinning.check("127.0.0.1", port, again, path).status is PinStatus.SAME
    assert pinning.check("127.0.0.1", port, NEW, path).status is PinStatus.CHANGED
    assert server.stop() == 0
    assert "Traceback" not in server.stderr_text()

