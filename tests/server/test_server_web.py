"""The web listener over real sockets, without a browser: HTTP paths, and the WebSocket's limits.

HTTP requests are raw bytes; the WebSocket client is wsproto's (web_testing.py), and raw
frames where a test breaks the protocol on purpose. Every test that ends a server checks
that it wrote no traceback.
"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from chat_testing import LINE_TIMEOUT, LineClient, ServerProcess, machine_client
from web_testing import (
    WebSocketClient, announced_web_port, frame, get, http_exchange, read_until_closed,
)

TEXT, BINARY, CONTINUATION, PING = 0x1, 0x2, 0x0, 0x9


@pytest.fixture
def web_server(server_factory) -> tuple[ServerProcess, int]:  # type: ignore[no-untyped-def]
    """A server with flood control off, and its web port."""
    server = server_factory("--flood", "off")
    return server, announced_web_port(server)


def _no_traceback(server: ServerProcess) -> None:
    server.stop()
    assert "Traceback" not in server.stderr_text()


# HTTP

def test_the_page_is_served_with_a_strict_content_security_policy(web_server) -> None:
    _, port = web_server
    status, headers, body = get(port, "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "default-src 'none'" in policy
    assert headers["x-content-type-options"] == "nosniff"
    page = body.decode()
    # No inline script: every <script> element loads a file.
    assert page.count("<script") == page.count("<script src=")
    assert int(headers["content-length"]) == len(body)


@pytest.mark.parametrize(("path", "kind"), [
    ("/app.js", "text/javascript"), ("/style.css", "text/css"), ("/icon.svg", "image/svg+xml"),
    ("/index.html", "text/html"), ("/?from=a-link", "text/html"),
])
def test_each_file_of_the_web_client_has_its_type(web_server, path: str, kind: str) -> None:
    _, port = web_server
    status, headers, body = get(port, path)
    assert status == 200 and headers["content-type"].startswith(kind) and body


def test_head_answers_the_headers_of_get_without_a_body(web_server) -> None:
    _, port = web_server
    _, got_headers, got_body = get(port, "/app.js")
    status, headers, body = get(port, "/app.js", method="HEAD")
    assert status == 200 and body == b""
    assert headers["content-length"] == str(len(got_body)) == got_headers["content-length"]


@pytest.mark.parametrize("path", [
    "/../pyproject.toml", "/%2e%2e/pyproject.toml", "/static/../app.js", "/../../etc/passwd",
    "/chat_web/__init__.py", "/app.js/", "//app.js", "/nothing-here",
])
def test_only_known_paths_exist(web_server, path: str) -> None:
    _, port = web_server
    status, _, _ = get(port, path)
    assert status == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "TRACE"])
def test_other_methods_get_405_with_allow(web_server, method: str) -> None:
    _, port = web_server
    status, headers, _ = get(port, "/", method=method, headers="Content-Length: 0\r\n")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


def test_oversized_headers_get_431_and_a_bad_request_400(web_server) -> None:
    server, port = web_server
    huge = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    assert http_exchange(port, huge).startswith(b"HTTP/1.1 431 ")
    assert http_exchange(port, b"BLAH\x00 / what\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    # The server carries on.
    assert get(port, "/")[0] == 200
    _no_traceback(server)


def test_keep_alive_serves_several_requests_on_one_connection(web_server) -> None:
    _, port = web_server
    request = f"GET /style.css HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    last = f"HEAD / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    answer = http_exchange(port, request + request + last)
    assert answer.count(b"HTTP/1.1 200 OK") == 3


def test_a_slow_request_is_closed_by_the_join_timeout(server_factory) -> None:
    server = server_factory("--join-timeout", "0.5")
    port = announced_web_port(server)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: slow")  # and never the rest
        assert b"HTTP" not in read_until_closed(sock)  # closed: reading ended


# The WebSocket handshake

def test_chat_without_a_websocket_upgrade_gets_426(web_server) -> None:
    _, port = web_server
    assert get(port, "/chat")[0] == 426


def test_a_foreign_origin_is_refused_with_403(web_server) -> None:
    _, port = web_server
    client = WebSocketClient(port, origin="http://evil.example")
    assert not client.accepted and client.handshake.status_code == 403
    client.close()
    assert WebSocketClient(port).accepted  # its own origin
    assert WebSocketClient(port, origin=None).accepted  # no Origin: not a browser


def test_web_origin_allows_another_page(server_factory) -> None:
    server = server_factory("--web-origin", "https://chat.example.org")
    port = announced_web_port(server)
    assert WebSocketClient(port, origin="https://chat.example.org").accepted
    assert not WebSocketClient(port, origin="https://other.example.org").accepted


# Chat over the WebSocket

def test_a_browser_and_a_line_client_talk_in_two_rooms(web_server) -> None:
    server, port = web_server
    web = WebSocketClient(port)
    web.join("webby")
    line = LineClient(server.port)
    line.send_line("/hello tests 2", "/nick liner")
    line.read_until("CURRENT #lobby")
    web.send_line("hello from the web")
    assert line.read_until("MSG").pop().endswith("webby hello from the web")
    line.send_line("/join #games")
    line.read_until("CURRENT #games")
    web.send_line("/join games")
    web.read_until("CURRENT #games")
    line.send_line("in games")
    said = web.read_until("MSG #games").pop()
    assert said.split(" ", 4)[4] == "liner in games"
    line.close()
    web.close()


def test_each_server_line_is_one_message(web_server) -> None:
    server, port = web_server
    web = WebSocketClient(port)
    web.join("counter")
    web.send_line("/rooms")
    listing = web.read_until("ROOMS ")
    count = int(listing[-1].split()[1])
    rooms = [web.read_line() for _ in range(count)]
    assert all(room.startswith("ROOM ") and "\n" not in room for room in rooms)


def test_a_message_over_the_line_limit_is_line_too_long_and_the_next_one_works(web_server) -> None:
    _, port = web_server
    web = WebSocketClient(port)
    web.join("longer")
    web.send_line("x" * 2049)
    assert web.read_until("ERROR").pop().startswith("ERROR LINE_TOO_LONG")
    web.send_line("y" * 2048)  # exactly the limit is a line
    assert web.read_until("MSG").pop().endswith("longer " + "y" * 2048)


def test_bad_utf8_in_a_binary_message_is_bad_encoding_and_the_chat_goes_on(web_server) -> None:
    _, port = web_server
    web = WebSocketClient(port)
    web.join("binary")
    web.send_raw(frame(BINARY, b"caf\xe9"))
    assert web.read_until("ERROR").pop().startswith("ERROR BAD_ENCODING")
    web.send_raw(frame(BINARY, "café".encode()))
    assert web.read_until("MSG").pop().endswith("binary café")


def test_bad_utf8_in_a_text_message_is_said_then_closed_1007(web_server) -> None:
    server, port = web_server
    web = WebSocketClient(port)
    web.join("texter")
    web.send_raw(frame(TEXT, b"caf\xe9"))
    assert web.wait_closed().code == 1007
    assert any(line.startswith("ERROR BAD_ENCODING") for line in web.lines)
    _no_traceback(server)


def test_an_unmasked_frame_is_closed_1002_and_others_carry_on(web_server) -> None:
    server, port = web_server
    line = machine_client(server.port, "witness")
    web = WebSocketClient(port)
    web.join("unmasked")
    web.send_raw(frame(TEXT, b"no mask", mask=False))
    assert web.wait_closed().code == 1002
    assert line.read_until("PART").pop().endswith("unmasked connection lost")
    line.send_line("still here")
    assert line.read_until("MSG").pop().endswith("witness still here")
    _no_traceback(server)


def test_a_fragment_flood_is_one_line_too_long_with_bounded_memory(web_server) -> None:
    _, port = web_server
    web = WebSocketClient(port)
    web.join("fragments")
    pieces = [frame(TEXT, b"a", fin=False)]
    pieces += [frame(CONTINUATION, b"a", fin=False) for _ in range(100_000)]
    pieces.append(frame(CONTINUATION, b"a"))
    web.send_raw(b"".join(pieces))
    errors = [line for line in web.read_until("ERROR") if line.startswith("ERROR")]
    assert errors == [errors[0]] and errors[0].startswith("ERROR LINE_TOO_LONG")
    web.send_line("/ping after")
    later = web.read_until("PONG")
    assert not any(line.startswith("ERROR") for line in later)


def test_a_ping_flood_gets_few_pongs_and_others_carry_on(web_server) -> None:
    server, port = web_server
    line = machine_client(server.port, "calm")
    web = WebSocketClient(port)
    web.join("pinger")
    pings = 20_000
    web.send_raw(b"".join(frame(PING, b"p") for _ in range(pings)))
    web.send_line("/ping done")
    web.read_until("PONG done")
    assert 1 <= web.pongs < pings  # answered, but only the latest of each batch
    line.send_line("/ping calm")
    line.read_until("PONG calm")
    _no_traceback(server)


def test_closing_the_websocket_leaves_the_room(web_server) -> None:
    server, port = web_server
    line = machine_client(server.port, "watcher")
    web = WebSocketClient(port)
    web.join("leaver")
    web.send_raw(frame(0x8, b"\x03\xe8bye"))  # close, 1000
    assert web.wait_closed().code == 1000
    assert line.read_until("PART").pop().endswith("leaver connection lost")


def test_quit_says_bye_then_closes_the_websocket(web_server) -> None:
    _, port = web_server
    web = WebSocketClient(port)
    web.join("quitter")
    web.send_line("/quit see you")
    assert web.wait_closed().code == 1000
    assert any(line.startswith("BYE") for line in web.lines)


# Ports (see PROTOCOL.md, "Ports of the other listeners")

def test_web_port_off_starts_no_web_listener(server_factory) -> None:
    server = server_factory("--web-port", "off")
    server.stop()
    assert not any("Browsers:" in line for line in server.startup_output)
    assert server.process.stdout is not None
    assert "Browsers:" not in server.process.stdout.read()


def test_an_explicit_web_port_in_use_is_an_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "chat_server", "--host", "127.0.0.1", "--port", "0",
             "--store", "none", "--web-port", str(port)],
            capture_output=True, text=True, timeout=LINE_TIMEOUT * 3)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_default_web_port_in_use_is_a_warning(server_factory) -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            taken.bind(("127.0.0.1", 8080))
            taken.listen()
        except OSError:
            pass  # already in use by someone else: just as good for this test
        with socket.socket() as probe:  # a free port for the line protocol
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        server = server_factory(port=free)
        client = machine_client(server.port, "stillworks")
        client.close()
        server.stop()
    assert "web client off" in server.stderr_text()
    assert server.process.stdout is not None
    assert "Browsers:" not in "".join(server.startup_output) + server.process.stdout.read()
