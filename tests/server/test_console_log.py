"""The server's console says who comes and goes (issue 9, item 8), unless told --quiet.

A teacher watching the server's terminal sees each connection, join, rename and leave as
one line with the address, without joining the room.
"""

from __future__ import annotations

from chat_testing import machine_client


def _a_short_visit(port: int) -> str:
    """Connect, join as alice, rename to al, quit; return alice's address as the server saw it."""
    client = machine_client(port, "alice")
    host, local_port = client.sock.getsockname()[:2]
    client.send_line("/nick al")
    client.read_until("NICK")
    client.send_line("/quit done")
    client.read_all_until_closed()
    client.close()
    return f"{host}:{local_port}"


def test_the_console_says_who_connects_joins_renames_and_leaves(server_factory) -> None:
    server = server_factory()
    address = _a_short_visit(server.port)
    assert server.stop() == 0
    log = server.stderr_text()
    assert f"connection from {address}" in log
    assert f"alice joined from {address}" in log
    assert f"alice is now al ({address})" in log
    assert f"al left from {address} (done)" in log
    assert f"{address} closed" in log


def test_quiet_keeps_the_console_to_what_matters(server_factory) -> None:
    server = server_factory("--quiet")
    address = _a_short_visit(server.port)
    assert server.stop() == 0
    log = server.stderr_text()
    assert address not in log
    assert "shutting down" in log  # the server's own news stays
