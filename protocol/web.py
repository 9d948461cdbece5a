"""The server's side of one browser connection, without any I/O: HTTP/1.1, then WebSocket.

A sibling of `LineConnection` with the same shape (bytes in, commands out; events in,
bytes out), so the server's reader and writer tasks drive it unchanged. Inside:

    HTTP (h11)  GET/HEAD of the few files of the web client, each with a strict
                Content-Security-Policy; anything else is answered and refused:
                404 unknown path, 405 other methods, 431/400 oversized or bad requests
    upgrade     GET /chat with the WebSocket headers and an allowed Origin: 101
    WebSocket   the chat's line protocol, one line per message (see `websocket.py`)
    live view   GET /scheduler/live, upgraded the same way: `WatchScheduler` once, and
                nothing else is read from it (the server sends it the loop's snapshots)

Only a fixed table of paths is served, so a path like `/../` has nothing to reach.
HTTP answers are bytes the protocol sends by itself: `data_to_send` hands them out.
When the connection must end (a refused request, `Connection: close`, a closed
WebSocket), `next_command` returns one `Quit`, so the server closes it as it closes any
connection: after what is owed has been sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11
from wsproto.utilities import generate_accept_token

from protocol.commands import Command, Quit
from protocol.connection import Encoder, LineConnection
from protocol.events import AnyEvent, Error, PartReason
from protocol.framing import MAX_LINE_BYTES
from protocol.websocket import WebSocketLines, framed

CHAT_PATH = "/chat"
LIVE_PATH = "/scheduler/live"  # the /scheduler page's WebSocket: the loop, live, read-only
MAX_REQUEST_HEAD = 8192  # bytes of request line and headers; more is refused with 431
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
    ".png": "image/png", ".json": "application/json",
}
_REASONS = {101: b"Switching Protocols", 200: b"OK", 400: b"Bad Request", 403: b"Forbidden",
            404: b"Not Found", 405: b"Method Not Allowed", 426: b"Upgrade Required",
            431: b"Request Header Fields Too Large"}


@dataclass(frozen=True, slots=True)
class WatchScheduler:
    """Not typed by anyone: the connection says it once its WebSocket on `LIVE_PATH` is
    open, so the server makes it a viewer of the scheduler (see chat_server/live_view.py)."""


def _silent(event: AnyEvent) -> bytes:
    """The encoder before the upgrade: chat events have nowhere to go over plain HTTP."""
    return b""


class WebConnection:
    """One browser's connection: HTTP requests, then the chat over a WebSocket."""

    __slots__ = ("_files", "_origins", "_http", "_lines", "_socket", "_owed", "_quit",
                 "_key", "_watching")

    def __init__(self, files: Mapping[str, bytes], origins: Iterable[str] = (),
                 max_line_bytes: int = MAX_LINE_BYTES) -> None:
        """`files`: URL path -> content; `origins`: more allowed origins than our own."""
        self._files = files
        self._origins = frozenset(origin.lower().rstrip("/") for origin in origins)
        self._http = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD)
        self._lines = LineConnection(max_line_bytes)
        self._socket: WebSocketLines | None = None  # after the upgrade
        self._owed = bytearray()  # HTTP answers not yet handed out
        self._quit: str | None = None  # why the connection must end, until it is said
        self._key = b""  # Sec-WebSocket-Key of an accepted upgrade, answered once read
        # On LIVE_PATH: "asked" until WatchScheduler is said, then "said"; None: the chat.
        self._watching: str | None = None

    # What the chat logic reads (see chat_server/outgoing.py)

    @property
    def said_hello(self) -> bool:
        """Whether `/hello` was read (inside the WebSocket)."""
        return self._lines.said_hello

    @property
    def version(self) -> int:
        """The protocol version the commands are parsed in."""
        return self._lines.version

    @property
    def shared_encoder(self) -> Encoder:
        """The line rendering's encoder, each line a text message (nothing before the upgrade)."""
        return framed(self._lines.shared_encoder) if self._socket is not None else _silent

    @property
    def machine_encoder(self) -> None:
        """None, even for a browser that said /hello: every line goes in a WebSocket
        frame, so no encoder's bytes go on the wire as they are."""
        return None

    @property
    def upgraded(self) -> bool:
        """True once the WebSocket is open."""
        return self._socket is not None

    def set_in_several_rooms(self, several: bool) -> None:
        """Room events name their room for a person in several (no /hello)."""
        self._lines.set_in_several_rooms(several)

    def with_cause(self, error: Error) -> Error:
        """`error` as its lines read it (the same whatever caused it)."""
        return self._lines.with_cause(error)

    # Bytes in, commands out

    def receive_data(self, data: bytes) -> None:
        """Take the bytes that arrived; `next_command` hands out what they complete."""
        if self._socket is not None:
            self._socket.receive_data(data)
        elif self._quit is None:
            self._http.receive_data(data)

    def next_command(self) -> Command | WatchScheduler | None:
        """The next chat command, a `Quit` when the connection must end, or None
        (or, once, `WatchScheduler` for a viewer of the scheduler page)."""
        while self._quit is None:
            if self._socket is not None:
                if self._watching == "asked":
                    self._watching = "said"
                    return WatchScheduler()
                command = self._socket.next_command()
                if command is not None and self._watching:
                    continue  # a viewer's socket is read-only: what it says is dropped
                if command is not None or not self._socket.ended:
                    return command
                self._end(PartReason.CONNECTION_LOST)
            elif not self._next_http_step():
                return None
        return self._say_quit()

    def _say_quit(self) -> Command | None:
        reason, self._quit = self._quit, ""  # "" : said already
        return Quit(reason) if reason else None

    def _end(self, reason: str) -> None:
        if self._quit is None:
            self._quit = reason

    # Events in, bytes out

    def send(self, event: AnyEvent, viewer: str | None = None) -> bytes:
        """The frames for `event` once upgraded; nothing before (HTTP has no chat)."""
        return self._socket.send(event, viewer) if self._socket is not None else b""

    def data_to_send(self) -> bytes:
        """HTTP answers, pongs and close frames owed, each handed out once."""
        data = bytes(self._owed)
        self._owed.clear()
        if self._socket is not None:
            data += self._socket.data_to_send()
        return data

    # HTTP

    def _next_http_step(self) -> bool:
        """Handle one HTTP event; False when more bytes are needed."""
        try:
            event = self._http.next_event()
        except h11.RemoteProtocolError as error:
            self._refuse(error.error_status_hint if error.error_status_hint == 431 else 400)
            return True
        if self._http.our_state in (h11.MUST_CLOSE, h11.CLOSED):
            self._end(PartReason.QUIT)  # answered, and the answer said so (or h11 did)
            return True
        if event is h11.NEED_DATA:
            return False
        if isinstance(event, h11.Request):
            self._answer(event)
        elif event is h11.PAUSED:
            self._between_requests()
        elif isinstance(event, h11.ConnectionClosed):
            self._end(PartReason.CONNECTION_LOST)
        return True  # a request body (Data, EndOfMessage) is read and dropped

    def _between_requests(self) -> None:
        http = self._http
        if http.their_state is h11.MIGHT_SWITCH_PROTOCOL:
            self._upgrade()
        elif http.our_state is h11.DONE and http.their_state is h11.DONE:
            http.start_next_cycle()  # keep-alive: the next request may follow
        else:
            self._end(PartReason.QUIT)  # one side asked to close

    def _answer(self, request: h11.Request) -> None:
        path = urlsplit(request.target.decode("ascii", "replace")).path
        head = request.method == b"HEAD"
        if _head_size(request) > MAX_REQUEST_HEAD:
            # h11 bounds a head that arrives slowly; one that came in one read is measured.
            self._refuse(431, head=head)
        elif request.method not in (b"GET", b"HEAD"):
            self._refuse(405, [(b"allow", b"GET, HEAD")])
        elif path in (CHAT_PATH, LIVE_PATH):
            self._answer_chat(request)
            if path == LIVE_PATH and self._key:
                self._watching = "asked"
        elif path in self._files:
            self._respond(200, self._files[path], _content_type(path), head=head)
        else:
            self._respond(404, b"Not found\n", CONTENT_TYPES[".html"], head=head)

    def _answer_chat(self, request: h11.Request) -> None:
        headers = {name: value for name, value in request.headers}
        head = request.method == b"HEAD"
        if head or not _asks_for_websocket(headers):  # the handshake is a GET (RFC 6455)
            self._refuse(426, [(b"upgrade", b"websocket"), (b"sec-websocket-version", b"13")],
                         head=head)
        elif not self._origin_allowed(headers):
            self._refuse(403, head=head)
        else:  # answered with 101 once h11 has read the whole request (PAUSED)
            self._key = headers[b"sec-websocket-key"]

    def _origin_allowed(self, headers: Mapping[bytes, bytes]) -> bool:
        """The page's own origin, or one given with --web-origin.

        No Origin at all is allowed: browsers always send one, so only a program that
        is not a browser leaves it out, and such a program could say anything anyway.
        """
        origin = headers.get(b"origin")
        if origin is None:
            return True
        text = origin.decode("latin-1").lower().rstrip("/")
        host = headers.get(b"host", b"").decode("latin-1").lower()
        return text in self._origins or urlsplit(text).netloc == host != ""

    def _upgrade(self) -> None:
        accept = generate_accept_token(self._key)
        self._owed += self._http.send(h11.InformationalResponse(
            status_code=101, reason=_REASONS[101],
            headers=[(b"upgrade", b"websocket"), (b"connection", b"Upgrade"),
                     (b"sec-websocket-accept", accept)]))
        trailing, _ = self._http.trailing_data
        self._socket = WebSocketLines(self._lines)
        self._socket.receive_data(bytes(trailing))

    def _refuse(self, status: int, headers: list[tuple[bytes, bytes]] | None = None,
                head: bool = False) -> None:
        """Answer with an error, then close (the rest of the request is not read).

        `head`: the request was HEAD, so the answer has no body (h11 refuses to send one).
        """
        if self._http.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            body = f"{status} {_REASONS[status].decode()}\n".encode()
            self._respond(status, body, "text/plain; charset=utf-8",
                          [(b"connection", b"close"), *(headers or [])], head)
        self._end(PartReason.QUIT)

    def _respond(self, status: int, body: bytes, content_type: str,
                 extra: list[tuple[bytes, bytes]] | None = None, head: bool = False) -> None:
        headers = [(b"content-type", content_type.encode()),
                   (b"content-length", str(len(body)).encode()),
                   (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                   (b"x-content-type-options", b"nosniff"),
                   (b"referrer-policy", b"no-referrer"),
                   (b"cache-control", b"no-cache"), *(extra or [])]
        http = self._http
        self._owed += http.send(h11.Response(status_code=status, reason=_REASONS[status],
                                             headers=headers))
        if not head:
            self._owed += http.send(h11.Data(data=body))
        self._owed += http.send(h11.EndOfMessage())


def _asks_for_websocket(headers: Mapping[bytes, bytes]) -> bool:
    """The headers of a WebSocket opening handshake (RFC 6455, section 4.2.1).

    h11 lets a request switch protocols only with `Connection: upgrade`, so that is
    checked too: without it, the 101 could not be sent.
    """
    tokens = {token.strip().lower() for token in headers.get(b"connection", b"").split(b",")}
    return (headers.get(b"upgrade", b"").lower() == b"websocket" and b"upgrade" in tokens
            and bool(headers.get(b"sec-websocket-key"))
            and headers.get(b"sec-websocket-version") == b"13")


def _head_size(request: h11.Request) -> int:
    """About the bytes of the request line and headers (each counted with its separators)."""
    return len(request.target) + sum(len(name) + len(value) + 4
                                     for name, value in request.headers)


def _content_type(path: str) -> str:
    suffix = path[path.rfind("."):] if "." in path.rsplit("/", 1)[-1] else ".html"
    return CONTENT_TYPES.get(suffix, "application/octet-stream")
