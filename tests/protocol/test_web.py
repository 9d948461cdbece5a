"""Tests for `protocol.web` and `protocol.websocket` without sockets: a browser's connection.

The test plays the browser with the same libraries the server is built from: requests are
encoded and answers decoded by an h11 client, frames by a wsproto client. Bytes go in
the way the server's reader moves them (`receive_data`, then every `next_command`, with
`data_to_send` after each; see chat_server/tasks.py).

HTTP: one table of requests (each path, HEAD, unknown paths, traversal, 405, oversized
and malformed heads, pipelining, keep-alive, `Connection: close`) with the answers they
get. WebSocket: the handshake (origins, the live view), then one table of client frames
with the commands and the frames they give. Every case of both tables is fed whole, one
byte at a time, and followed by the start of a next request or frame, which is read on
its own afterwards (or never, when the case ends the connection). Then: events to
frames (one text message per line, decoded by the client), pings, the bounded buffers.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import h11
import pytest
from wsproto import WSConnection
from wsproto.connection import Connection as WsConnection
from wsproto.connection import ConnectionType
from wsproto.events import (
    AcceptConnection, BytesMessage, CloseConnection, Event as WsEvent, Ping, Pong,
    RejectConnection, Request, TextMessage,
)
from wsproto.utilities import generate_accept_token

from chat_web import PATHS, static_files
from protocol.commands import (
    Command, Quit, Say, SayLines, SetNick, StartMachineMode, Unreadable, Who,
)
from protocol.connection import LineConnection
from protocol.events import (
    AnyEvent, Bye, Error, ErrorCode, Hello, Info, Join, Message, PartReason, RoomEvent,
    Stats, Users, Welcome,
)
from protocol.framing import MAX_LINE_BYTES
from protocol.web import CONTENT_SECURITY_POLICY, WatchScheduler, WebConnection
from protocol.websocket import WebSocketLines, text_frames
from protocol.wire import encode_event_v2

FILES = static_files()
HOST = "chat.local:8080"
ORIGIN = "http://chat.local:8080"
TEXT, BINARY, CLOSE = 0x1, 0x2, 0x8

Output = tuple[list[Command | WatchScheduler], bytes]


def comparable(command: Command | WatchScheduler) -> Command | WatchScheduler:
    """An `Unreadable` compared by its code alone (test_connection.py tests its words)."""
    return Unreadable(command.code, "") if isinstance(command, Unreadable) else command


def exchange(connection: WebConnection, chunks: list[bytes]) -> Output:
    """Feed `chunks` as the server's reader does; every command, and every byte owed."""
    commands, out = [], bytearray()
    for chunk in chunks:
        connection.receive_data(chunk)
        while (command := connection.next_command()) is not None:
            # Plain lines one by one: how they group into a SayLines depends on how
            # the bytes came (test_connection.py tests that).
            commands += (command.one_by_one() if isinstance(command, SayLines)
                         else [comparable(command)])
            out += connection.data_to_send()
        out += connection.data_to_send()
    return commands, bytes(out)


def whole(data: bytes) -> list[bytes]:
    """The bytes in one read."""
    return [data]


def byte_by_byte(data: bytes) -> list[bytes]:
    """The bytes one read each."""
    return [data[i:i + 1] for i in range(len(data))]


FEEDS = [whole, byte_by_byte]


# HTTP: the peer's side, with h11

def request(method: str, target: str, *headers: tuple[str, str], body: bytes = b"",
            host: str = HOST) -> bytes:
    """The bytes of one request, as an h11 client writes them."""
    client = h11.Connection(h11.CLIENT)
    framing = [("Content-Length", str(len(body)))] if body else []
    data = client.send(h11.Request(method=method, target=target,
                                   headers=[("Host", host), *headers, *framing]))
    return data + client.send(h11.Data(data=body)) + client.send(h11.EndOfMessage())


@dataclass(frozen=True)
class Answer:
    """One HTTP response, as the client read it."""

    status: int
    headers: dict[bytes, bytes]
    body: bytes


def answers(data: bytes, methods: list[str]) -> list[Answer]:
    """The responses in `data` to requests made with `methods`, decoded by an h11 client."""
    client = h11.Connection(h11.CLIENT)
    client.receive_data(data)
    got = []
    for method in methods:
        client.send(h11.Request(method=method, target="/", headers=[("Host", HOST)]))
        client.send(h11.EndOfMessage())
        got.append(_read_answer(client))
        if client.their_state is not h11.DONE:
            break  # the server said it closes: nothing may follow
        client.start_next_cycle()
    return got


def _read_answer(client: h11.Connection) -> Answer:
    response, body = None, b""
    while not isinstance(event := client.next_event(), h11.EndOfMessage):
        assert event is not h11.NEED_DATA, "an answer was cut short"
        if isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            body += event.data
    assert response is not None
    return Answer(response.status_code, dict(response.headers), body)


@dataclass(frozen=True)
class Expected:
    """What an answer must be: its status, type, length and body."""

    status: int
    content_type: str
    length: int
    body: bytes
    method: str = "GET"


def served(path: str, method: str = "GET") -> Expected:
    """A file of the web client (HEAD: its headers, no body)."""
    kind = "text/html" if "." not in path.rsplit("/", 1)[-1] else {
        "js": "text/javascript", "css": "text/css", "svg": "image/svg+xml",
        "html": "text/html"}[path.rsplit(".", 1)[-1]]
    content = FILES[path]
    return Expected(200, kind, len(content), b"" if method == "HEAD" else content, method)


def not_found(method: str = "GET") -> Expected:
    """The 404 page."""
    return Expected(404, "text/html", 10, b"" if method == "HEAD" else b"Not found\n", method)


def refused(status: int, reason: str, method: str = "GET") -> Expected:
    """An error answer that closes the connection (HEAD: its headers, no body)."""
    body = f"{status} {reason}\n".encode()
    return Expected(status, "text/plain", len(body), b"" if method == "HEAD" else body, method)


WEBSOCKET_HEADERS = (("Connection", "Upgrade"), ("Upgrade", "websocket"),
                     ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                     ("Sec-WebSocket-Version", "13"), ("Origin", ORIGIN))


def upgrade_request(method: str = "GET", target: str = "/chat",
                    **changed: str) -> bytes:
    """A WebSocket opening request, with some headers changed (`Sec_WebSocket_Key=""`
    leaves that one out)."""
    headers = {name: value for name, value in WEBSOCKET_HEADERS}
    headers.update((name.replace("_", "-"), value) for name, value in changed.items())
    return request(method, target, *[(name, value) for name, value in headers.items() if value])


NOT_FOUND_TARGETS = ["/../pyproject.toml", "/%2e%2e/pyproject.toml", "/static/../app.js",
                     "/../../etc/passwd", "/chat_web/__init__.py", "/app.js/", "//app.js",
                     "/nothing-here", "/static/app.js", "/index.html/..", "/.%2e/app.js",
                     "/APP.JS", "/app.js%00.html", "/scheduler/"]
CLOSE_HEADER = ("Connection", "close")

# (case name, bytes in, answers, whether the connection then ends)
HTTP_CASES: list[tuple[str, bytes, list[Expected], bool]] = [
    *[(f"GET {path}", request("GET", path), [served(path)], False) for path in PATHS],
    *[(f"HEAD {path}", request("HEAD", path), [served(path, "HEAD")], False) for path in PATHS],
    ("a query is not part of the path", request("GET", "/?from=a-link"), [served("/")], False),
    *[(f"unknown {target}", request("GET", target), [not_found()], False)
      for target in NOT_FOUND_TARGETS],
    ("HEAD of an unknown path", request("HEAD", "/nope"), [not_found("HEAD")], False),
    *[(f"{method} is 405", request(method, "/"),
       [refused(405, "Method Not Allowed", method)], True)
      for method in ["POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"]],
    ("POST with a body is 405", request("POST", "/chat", body=b"nick=ann"),
     [refused(405, "Method Not Allowed", "POST")], True),
    ("GET with a body: the body is dropped", request("GET", "/app.js", body=b"ignored"),
     [served("/app.js")], False),
    ("chat without an upgrade is 426", request("GET", "/chat"),
     [refused(426, "Upgrade Required")], True),
    ("HEAD of chat is 426, without a body", request("HEAD", "/chat"),
     [refused(426, "Upgrade Required", "HEAD")], True),
    ("HEAD never upgrades", upgrade_request("HEAD"),
     [refused(426, "Upgrade Required", "HEAD")], True),
    ("HEAD of the live view never upgrades", upgrade_request("HEAD", "/scheduler/live"),
     [refused(426, "Upgrade Required", "HEAD")], True),
    ("HEAD from a foreign origin", upgrade_request("HEAD", Origin="http://evil.example"),
     [refused(426, "Upgrade Required", "HEAD")], True),
    ("no key is 426", upgrade_request(Sec_WebSocket_Key=""),
     [refused(426, "Upgrade Required")], True),
    ("another version is 426", upgrade_request(Sec_WebSocket_Version="8"),
     [refused(426, "Upgrade Required")], True),
    ("no Connection: upgrade is 426", upgrade_request(Connection="keep-alive"),
     [refused(426, "Upgrade Required")], True),
    ("a foreign origin is 403", upgrade_request(Origin="http://evil.example"),
     [refused(403, "Forbidden")], True),
    ("oversized request line", request("GET", "/" + "a" * 9000),
     [refused(431, "Request Header Fields Too Large")], True),
    ("oversized header", request("GET", "/", ("X-Big", "a" * 20_000)),
     [refused(431, "Request Header Fields Too Large")], True),
    ("too many headers", request("GET", "/", *[(f"X-H{i}", "v" * 30) for i in range(300)]),
     [refused(431, "Request Header Fields Too Large")], True),
    ("oversized HEAD", request("HEAD", "/", ("X-Big", "a" * 20_000)),
     [refused(431, "Request Header Fields Too Large", "HEAD")], True),
    ("a big head under the limit", request("GET", "/", ("X-Big", "a" * 7000)),
     [served("/")], False),
    ("malformed request line", b"BLAH\x00 / what\r\n\r\n", [refused(400, "Bad Request")], True),
    ("no Host header", b"GET / HTTP/1.1\r\n\r\n", [refused(400, "Bad Request")], True),
    ("a bad request after a good one", request("GET", "/") + b"BLAH\x00\r\n\r\n",
     [served("/"), refused(400, "Bad Request")], True),
    ("a bad body after the answer: closed, nothing more said",
     request("GET", "/", ("Transfer-Encoding", "chunked")) [:-5] + b"ZZZ\r\n",
     [served("/")], True),
    ("pipelined requests", request("GET", "/style.css") + request("HEAD", "/app.js")
     + request("GET", "/nope") + request("GET", "/"),
     [served("/style.css"), served("/app.js", "HEAD"), not_found(), served("/")], False),
    ("Connection: close ends after the answer", request("GET", "/", CLOSE_HEADER)
     + request("GET", "/app.js"), [served("/")], True),
    ("HTTP/1.0 ends after the answer", b"GET / HTTP/1.0\r\n\r\n", [served("/")], True),
    ("a refusal ends a pipeline", request("GET", "/icon.svg") + request("PUT", "/")
     + request("GET", "/"), [served("/icon.svg"), refused(405, "Method Not Allowed", "PUT")],
     True),
]
HTTP_IDS = [name for name, _, _, _ in HTTP_CASES]
NEXT_REQUEST = request("GET", "/style.css")
PARTIAL_REQUEST = NEXT_REQUEST[:20]


def check_answers(data: bytes, expected: list[Expected]) -> None:
    """`data` is exactly the answers `expected`, each with the headers every answer has."""
    got = answers(data, [want.method for want in expected])
    assert data.count(b"HTTP/1.1 ") == len(expected)
    for answer, want in zip(got, expected, strict=True):
        assert (answer.status, answer.body) == (want.status, want.body)
        assert answer.headers[b"content-type"].decode().startswith(want.content_type)
        assert answer.headers[b"content-length"] == str(want.length).encode()
        assert answer.headers[b"content-security-policy"] == CONTENT_SECURITY_POLICY.encode()
        assert answer.headers[b"x-content-type-options"] == b"nosniff"
        if want.status == 405:
            assert answer.headers[b"allow"] == b"GET, HEAD"


def check_ending(commands: list, ends: bool) -> None:
    """A connection that must end says `Quit` once, last; one kept alive says nothing."""
    assert commands == ([Quit(PartReason.QUIT)] if ends else [])


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(("name", "data", "expected", "ends"), HTTP_CASES, ids=HTTP_IDS)
def test_http(feed: Callable[[bytes], list[bytes]], name: str, data: bytes,
              expected: list[Expected], ends: bool) -> None:
    commands, out = exchange(WebConnection(FILES), feed(data))
    check_answers(out, expected)
    check_ending(commands, ends)


@pytest.mark.parametrize(("name", "data", "expected", "ends"), HTTP_CASES, ids=HTTP_IDS)
def test_http_with_trailing_data(name: str, data: bytes, expected: list[Expected],
                                 ends: bool) -> None:
    connection = WebConnection(FILES)
    commands, out = exchange(connection, [data + PARTIAL_REQUEST])
    check_answers(out, expected)
    check_ending(commands, ends)
    commands, out = exchange(connection, [NEXT_REQUEST[len(PARTIAL_REQUEST):]])
    assert commands == []
    check_answers(out, [] if ends else [served("/style.css")])


def test_keep_alive_answers_each_request_as_it_comes() -> None:
    connection = WebConnection(FILES)
    for path in ["/", "/app.js", "/nope", "/scheduler"]:
        commands, out = exchange(connection, [request("GET", path)])
        assert commands == []
        assert answers(out, ["GET"])[0].status == (404 if path == "/nope" else 200)


def test_nothing_is_sent_for_chat_events_before_the_upgrade() -> None:
    connection = WebConnection(FILES)
    event = Message("ann", "hi")
    assert connection.send(event) == b"" and connection.shared_encoder(event) == b""
    assert not connection.upgraded and not connection.said_hello


# The WebSocket handshake: the peer's side, with wsproto

def handshake(target: str = "/chat", origin: str | None = ORIGIN) -> tuple[WSConnection, bytes]:
    """A wsproto client, and the opening request it sends."""
    client = WSConnection(ConnectionType.CLIENT)
    extra = [(b"Origin", origin.encode())] if origin is not None else []
    return client, client.send(Request(host=HOST, target=target, extra_headers=extra))


def client_events(client: WSConnection | WsConnection, data: bytes) -> list[WsEvent]:
    """What the client reads in `data`."""
    client.receive_data(data)
    return list(client.events())


def upgrade(origins: tuple[str, ...] = (), origin: str | None = ORIGIN, target: str = "/chat",
            feed: Callable[[bytes], list[bytes]] = whole) -> tuple[WebConnection, WSConnection,
                                                                    Output, list[WsEvent]]:
    """Open a connection and ask for the WebSocket: the commands and what the client read."""
    connection = WebConnection(FILES, origins)
    client, data = handshake(target, origin)
    commands, out = exchange(connection, feed(data))
    return connection, client, (commands, out), client_events(client, out)


def opened(target: str = "/chat") -> tuple[WebConnection, WSConnection]:
    """A connection whose WebSocket is open, and the client at its other end."""
    connection, client, _, events = upgrade(target=target)
    assert isinstance(events[0], AcceptConnection) and connection.upgraded
    return connection, client


@pytest.mark.parametrize("feed", FEEDS)
def test_the_same_origin_is_accepted(feed: Callable[[bytes], list[bytes]]) -> None:
    connection, _, (commands, out), events = upgrade(feed=feed)
    assert commands == [] and connection.upgraded
    assert [type(event) for event in events] == [AcceptConnection]  # its accept token checked
    assert out.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")


@pytest.mark.parametrize(("origins", "origin"), [
    ((), None),  # not a browser
    ((), "HTTP://Chat.Local:8080"),  # origins are compared without case
    ((), ORIGIN + "/"),
    (("https://chat.example.org/",), "https://chat.example.org"),
    (("https://chat.example.org",), "https://CHAT.example.org/"),
])
def test_allowed_origins(origins: tuple[str, ...], origin: str | None) -> None:
    connection, _, _, events = upgrade(origins, origin)
    assert isinstance(events[0], AcceptConnection) and connection.upgraded


@pytest.mark.parametrize(("origins", "origin"), [
    ((), "http://evil.example"),
    ((), "https://evil.example:8080"),
    ((), "http://chat.local:8081"),
    ((), "http://chat.local:8080@evil.example"),
    ((), "null"),
    (("https://chat.example.org",), "https://other.example.org"),
    (("https://chat.example.org",), "http://chat.example.org"),
])
@pytest.mark.parametrize("feed", FEEDS)
def test_a_foreign_origin_gets_403(feed: Callable[[bytes], list[bytes]],
                                   origins: tuple[str, ...], origin: str) -> None:
    connection, _, (commands, out), events = upgrade(origins, origin, feed=feed)
    assert isinstance(events[0], RejectConnection) and events[0].status_code == 403
    assert commands == [Quit(PartReason.QUIT)] and not connection.upgraded
    check_answers(out, [refused(403, "Forbidden")])


@pytest.mark.parametrize("feed", FEEDS)
def test_the_first_frames_may_come_with_the_handshake(
        feed: Callable[[bytes], list[bytes]]) -> None:
    connection = WebConnection(FILES)
    client, data = handshake()
    frames = masked(TextMessage("/hello web 2"), Ping(b"p"), TextMessage("hi"))
    commands, out = exchange(connection, feed(data + frames))
    assert commands == [StartMachineMode("web", "2"), Say("hi")]
    assert [type(event) for event in client_events(client, out)] == [AcceptConnection, Pong]


def test_pipelined_requests_then_the_upgrade() -> None:
    connection = WebConnection(FILES)
    client, data = handshake()
    commands, out = exchange(connection, [request("GET", "/style.css") + data
                                          + masked(TextMessage("hi"))])
    assert commands == [Say("hi")]
    switch = out.index(b"HTTP/1.1 101 ")
    check_answers(out[:switch], [served("/style.css")])
    assert [type(event) for event in client_events(client, out[switch:])] == [AcceptConnection]


@pytest.mark.parametrize("changed", [
    {"Connection": "keep-alive, Upgrade"},  # as Firefox says it
    {"Upgrade": "WebSocket", "Connection": "upgrade"},
    {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"},
])
def test_websocket_headers_as_browsers_write_them(changed: dict[str, str]) -> None:
    headers = {name: value for name, value in WEBSOCKET_HEADERS} | changed
    commands, out = exchange(WebConnection(FILES), [request("GET", "/chat", *headers.items())])
    accept = generate_accept_token(headers["Sec-WebSocket-Key"].encode())
    assert commands == [] and out.startswith(b"HTTP/1.1 101 ")
    assert b"\r\nsec-websocket-accept: " + accept + b"\r\n" in out
    assert b"extensions" not in out  # no compression: a frame is what it says


def test_the_live_view_says_watch_scheduler_once_and_ignores_what_it_reads() -> None:
    connection, client, (commands, _), events = upgrade(target="/scheduler/live")
    assert isinstance(events[0], AcceptConnection)
    assert commands == [WatchScheduler()]  # once the WebSocket is open
    commands, out = exchange(connection, [masked(TextMessage("/nick spy"), Ping(b"p"))])
    assert commands == []
    assert replies(client, out) == [("pong", b"p")]
    commands, out = exchange(connection, [masked(CloseConnection(1000))])
    assert commands == [Quit(PartReason.CONNECTION_LOST)]
    assert replies(client, out) == [("close", 1000)]


def test_the_live_view_from_a_foreign_origin_gets_403() -> None:
    connection, _, (commands, _), events = upgrade(origin="http://evil.example",
                                                   target="/scheduler/live")
    assert isinstance(events[0], RejectConnection) and events[0].status_code == 403
    assert commands == [Quit(PartReason.QUIT)]


# WebSocket frames: the peer's side

def masked(*events: WsEvent) -> bytes:
    """The frames a wsproto client sends for `events` (masked, as a client's must be)."""
    client = WsConnection(ConnectionType.CLIENT)
    return b"".join(client.send(event) for event in events)


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = True) -> bytes:
    """One raw frame, for what wsproto will not send (bad UTF-8, no mask, bad opcodes)."""
    first = (0x80 if fin else 0) | opcode
    key = b"\x01\x02\x03\x04" if mask else b""
    masked_bit = 0x80 if mask else 0
    if len(payload) < 126:
        header = bytes((first, masked_bit | len(payload)))
    else:
        header = struct.pack("!BBH", first, masked_bit | 126, len(payload))
    body = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload)) if mask else payload
    return header + key + body


def replies(client: WSConnection | WsConnection, data: bytes) -> list[tuple[str, object]]:
    """What the client read in `data`, told apart by kind (a close by its code)."""
    kinds: list[tuple[str, object]] = []
    for event in client_events(client, data):
        if isinstance(event, TextMessage):
            assert event.message_finished
            kinds.append(("text", event.data))
        elif isinstance(event, Pong):
            kinds.append(("pong", bytes(event.payload)))
        elif isinstance(event, CloseConnection):
            kinds.append(("close", event.code))
        else:
            kinds.append(("other", event))
    return kinds


def fragments(text: str, pieces: int) -> bytes:
    """`text` repeated in `pieces` fragments of one message."""
    events = [TextMessage(text, message_finished=False) for _ in range(pieces - 1)]
    return masked(*events, TextMessage(text))


def too_long() -> Unreadable:
    return Unreadable(ErrorCode.LINE_TOO_LONG, "")


def bad_encoding() -> Unreadable:
    return Unreadable(ErrorCode.BAD_ENCODING, "")


LOST = Quit(PartReason.CONNECTION_LOST)
NOT_UTF8 = "*** Error (BAD_ENCODING): that message was not valid UTF-8; closing"

# (case name, client frames, commands, what the client reads back)
WS_CASES: list[tuple[str, bytes, list, list[tuple[str, object]]]] = [
    ("a message is a line", masked(TextMessage("hi")), [Say("hi")], []),
    ("hello", masked(TextMessage("/hello web 2")), [StartMachineMode("web", "2")], []),
    ("several messages", masked(TextMessage("hi"), TextMessage("/nick ann"), TextMessage("/who")),
     [Say("hi"), SetNick("ann"), Who()], []),
    ("an LF inside is two lines", masked(TextMessage("one\ntwo")), [Say("one"), Say("two")], []),
    ("a CRLF inside is two lines", masked(TextMessage("one\r\ntwo\r\n")),
     [Say("one"), Say("two")], []),
    ("an empty message is nothing", masked(TextMessage(""), TextMessage("\x1b[K")), [], []),
    ("sanitised", masked(TextMessage("\x1b[31mred\x1b[0m \u202eok")), [Say("red ok")], []),
    ("UTF-8", masked(TextMessage("你好 👋")), [Say("你好 👋")], []),
    ("exactly the limit", masked(TextMessage("y" * MAX_LINE_BYTES)),
     [Say("y" * MAX_LINE_BYTES)], []),
    ("over the limit, then fine", masked(TextMessage("x" * (MAX_LINE_BYTES + 1)),
                                         TextMessage("ok")), [too_long(), Say("ok")], []),
    ("over the limit in bytes, not characters", masked(TextMessage("é" * 1025)),
     [too_long()], []),
    ("a binary message is a line", masked(BytesMessage("café".encode())), [Say("café")], []),
    ("bad UTF-8 in binary, then fine", masked(BytesMessage(b"caf\xe9"), TextMessage("ok")),
     [bad_encoding(), Say("ok")], []),
    ("fragments reassembled", masked(TextMessage("he", message_finished=False),
                                     TextMessage("llo")), [Say("hello")], []),
    ("UTF-8 split between fragments", frame(TEXT, b"caf\xc3", fin=False) + frame(0x0, b"\xa9"),
     [Say("café")], []),
    ("binary fragments reassembled", masked(BytesMessage(b"caf\xc3", message_finished=False),
                                            BytesMessage(b"\xa9")), [Say("café")], []),
    ("a ping between fragments", masked(TextMessage("he", message_finished=False), Ping(b"p"),
                                        TextMessage("llo")), [Say("hello")], [("pong", b"p")]),
    ("a fragment flood is one line too long", fragments("a", 3000) + masked(TextMessage("ok")),
     [too_long(), Say("ok")], []),
    ("ping gets a pong", masked(Ping(b"are you there")), [], [("pong", b"are you there")]),
    ("a pong nobody asked for is ignored", masked(Pong(b"x"), TextMessage("hi")),
     [Say("hi")], []),
    ("close handshake", masked(CloseConnection(1000, "bye")), [LOST], [("close", 1000)]),
    ("a line, then close", masked(TextMessage("last words"), CloseConnection(1001)),
     [Say("last words"), LOST], [("close", 1001)]),
    ("nothing is read after a close", masked(CloseConnection(1000)) + masked(TextMessage("ghost")),
     [LOST], [("close", 1000)]),
    ("a close without a code is answered without one", frame(CLOSE, b""),
     [LOST], [("close", 1005)]),
    ("an unfinished line is dropped at close", masked(TextMessage("half", message_finished=False),
                                                      CloseConnection(1000)),
     [LOST], [("close", 1000)]),
    ("bad UTF-8 in text is said, then closed 1007", frame(TEXT, b"caf\xe9"),
     [LOST], [("text", NOT_UTF8), ("close", 1007)]),
    ("a line, then bad UTF-8 in text", masked(TextMessage("fine")) + frame(TEXT, b"\xff"),
     [Say("fine"), LOST], [("text", NOT_UTF8), ("close", 1007)]),
    ("an unmasked frame is closed 1002", frame(TEXT, b"no mask", mask=False),
     [LOST], [("close", 1002)]),
    ("a bad opcode is closed 1002", frame(0x3, b"what"), [LOST], [("close", 1002)]),
    ("a bad close code is closed 1002", frame(CLOSE, struct.pack("!H", 999)),
     [LOST], [("close", 1002)]),
    ("a continuation out of nowhere is closed 1002", frame(0x0, b"lost"),
     [LOST], [("close", 1002)]),
    ("a new message inside a fragmented one is closed 1002",
     frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"), [LOST], [("close", 1002)]),
    ("a fragmented ping is closed 1002", frame(0x9, b"p", fin=False), [LOST], [("close", 1002)]),
    ("a ping over 125 bytes is closed 1002", frame(0x9, b"p" * 126), [LOST], [("close", 1002)]),
    ("a reserved bit is closed 1002", bytes([0xC1]) + frame(TEXT, b"hi")[1:],
     [LOST], [("close", 1002)]),
    ("a length with its top bit set is closed 1002",
     bytes([0x81, 0xFF]) + struct.pack("!Q", 1 << 63), [LOST], [("close", 1002)]),
    ("a reserved close code is closed 1002", frame(CLOSE, struct.pack("!H", 1005)),
     [LOST], [("close", 1002)]),
    ("a one-byte close is closed 1002", frame(CLOSE, b"\x03"), [LOST], [("close", 1002)]),
]
WS_IDS = [name for name, _, _, _ in WS_CASES]
NEXT_FRAME = masked(TextMessage("next"))
PARTIAL_FRAME = NEXT_FRAME[:5]


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(("name", "data", "commands", "read_back"), WS_CASES, ids=WS_IDS)
def test_websocket(feed: Callable[[bytes], list[bytes]], name: str, data: bytes,
                   commands: list, read_back: list) -> None:
    connection, client = opened()
    got, out = exchange(connection, feed(data))
    assert (got, replies(client, out)) == (commands, read_back)


@pytest.mark.parametrize(("name", "data", "commands", "read_back"), WS_CASES, ids=WS_IDS)
def test_websocket_with_trailing_data(name: str, data: bytes, commands: list,
                                      read_back: list) -> None:
    connection, client = opened()
    got, out = exchange(connection, [data + PARTIAL_FRAME])
    assert (got, replies(client, out)) == (commands, read_back)
    got, out = exchange(connection, [NEXT_FRAME[len(PARTIAL_FRAME):]])
    ended = bool(commands) and commands[-1] == LOST
    assert (got, out) == ([] if ended else [Say("next")], b"")


def test_a_ping_flood_gets_only_the_latest_pong_of_each_batch() -> None:
    connection, client = opened()
    pings = masked(*[Ping(str(i).encode()) for i in range(1000)])
    commands, out = exchange(connection, [pings[:len(pings) // 2], pings[len(pings) // 2:]])
    assert commands == []
    got = replies(client, out)
    assert len(got) == 2 and got[-1] == ("pong", b"999")


def test_a_huge_fragment_flood_holds_at_most_the_line_limit() -> None:
    lines = LineConnection()
    socket = WebSocketLines(lines)
    flood = fragments("ab", 100_000)
    commands = []
    for start in range(0, len(flood), 10_000):
        socket.receive_data(flood[start:start + 10_000])
        commands += [comparable(command) for command in iter(socket.next_command, None)]
        assert lines.buffered <= MAX_LINE_BYTES
    assert commands == [too_long()]
    socket.receive_data(masked(TextMessage("after")))
    assert socket.next_command() == Say("after")


# Events to frames: the server's side, read by the client

V2_EVENTS: list[AnyEvent] = [
    Welcome("ann"), Users(("ann", "bob")), Message("ann", "hi"), Info("nothing new"),
    RoomEvent("#lobby", 7, 1_700_000_000, Message("ann", "hi there")),
    RoomEvent("#games", 8, 1_700_000_001, Join("bob")),
    Error(ErrorCode.LINE_TOO_LONG, "lines are limited"), Stats((("a", "1"), ("b", "2"))),
    Message("ann", "é" * 3000), Message("ann", "x" * 70_000),
]


def in_v2() -> tuple[WebConnection, WSConnection]:
    """An open WebSocket that said /hello and was sent HELLO (so it reads version 2)."""
    connection, client = opened()
    exchange(connection, [masked(TextMessage("/hello web 2"))])
    assert replies(client, connection.send(Hello("lanchat", "2"))) == [
        ("text", "HELLO lanchat 2")]
    return connection, client


@pytest.mark.parametrize("event", V2_EVENTS, ids=lambda event: type(event).__name__)
def test_each_event_is_one_text_message_in_v2(event: AnyEvent) -> None:
    connection, client = in_v2()
    line = encode_event_v2(event).decode().removesuffix("\n")
    assert replies(client, connection.send(event)) == [("text", line)]
    assert connection.shared_encoder(event) == connection.send(event)


def test_the_shared_encoder_is_one_object_for_every_browser() -> None:
    (first, _), (second, _) = in_v2(), in_v2()
    assert first.shared_encoder is second.shared_encoder


def test_each_line_for_people_is_one_message() -> None:
    connection, client = opened()
    got = replies(client, connection.send(Stats((("a", "1"), ("b", "2"))), "ann"))
    assert got == [("text", "*** Server figures:"), ("text", "***   a  1"),
                   ("text", "***   b  2")]


def test_bye_is_said_then_the_websocket_closes() -> None:
    connection, client = in_v2()
    assert replies(client, connection.send(Bye("see you"))) == [
        ("text", "BYE see you"), ("close", 1000)]
    assert connection.send(Message("ann", "too late")) == b""
    commands, out = exchange(connection, [masked(CloseConnection(1000))])
    assert commands == [LOST] and out == b""


@pytest.mark.parametrize("length", [0, 1, 125, 126, 65_535, 65_536])
def test_text_frames_have_the_right_length_header(length: int) -> None:
    client = WsConnection(ConnectionType.CLIENT)
    got = replies(client, text_frames(b"z" * length + b"\nsecond\n"))
    assert got == ([("text", "z" * length)] if length else []) + [("text", "second")]


def test_events_before_hello_use_the_peoples_rendering_and_names_are_kept() -> None:
    connection, client = opened()
    exchange(connection, [masked(TextMessage("/hello web 2"))])
    assert connection.said_hello and connection.version == 2
    assert replies(client, connection.send(Message("ann", "hi"))) == [("text", "<ann> hi")]
