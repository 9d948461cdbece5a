"""The outbox: bytes queued for one client, waiting for its writer to send them.

Whoever queues bytes (the broadcaster) never waits: `put` appends to a list and wakes
the writer if it was idle. The writer takes everything queued at once and sends it with
as few `send` calls as the kernel allows. Queued bytes count until they are sent, so
`size` is what we still owe this client.

Sent at once: while its writer is idle, an outbox may be handed a `send_at_once` (the
writer of a plain socket does this). Then `put(data, at_once=True)` on an outbox with
nothing ahead of the new bytes (nothing queued, the writer not waiting for room) gives
them straight to the kernel, which almost always takes them all, and queues only what it
left. (The broadcaster asks for it at the end of its run: see `Audience.flush`.) The
writer is woken only when there is something left to wait for: it exists for
back-pressure, not for every line (asyncio's transports work the same way).

A client is too far behind when we owe it more than `limit` *and* its kernel buffer is
full (the writer is `stalled`, waiting for room). Size alone would be unfair: one burst
of room events can queue a lot for a healthy client whose writer simply has not had its
turn yet.
"""

from __future__ import annotations

from collections.abc import Callable

from chat_server.parking import Parking

SendAtOnce = Callable[[bytes], int]
"""Tries to send bytes without waiting; returns how many the kernel took (0 if none)."""


class Outbox:
    """A byte queue with a limit, and a parking spot for the writer that drains it."""

    __slots__ = ("limit", "size", "has_data", "has_room", "stalled", "finished",
                 "send_at_once", "_chunks", "_sealed")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0  # bytes queued or taken but not yet sent
        self.has_data = Parking()  # the writer parks here while the outbox is empty
        self.has_room = Parking()  # the reader parks here while the client owes too much
        self.stalled = False  # the writer waits for the kernel to take more
        # A list, not a deque: chunks are only ever appended and then taken all at once,
        # and an empty list is 56 bytes where a deque holds a 600-byte block per client.
        self._chunks: list[bytes] = []
        self._sealed = False
        self.finished = False  # nothing more will be queued: send the rest, then close
        self.send_at_once: SendAtOnce | None = None  # set by a writer that allows it

    def __bool__(self) -> bool:
        return bool(self._chunks)

    @property
    def too_far_behind(self) -> bool:
        """True when more than `limit` bytes are owed and the client is not taking any."""
        return self.stalled and self.size > self.limit

    def put(self, data: bytes, at_once: bool = False) -> None:
        """Queue `data` for sending, or, `at_once`, send it now if nothing is ahead of it
        (see the module's docstring). Ignored once the outbox is sealed."""
        if self._sealed:
            return
        if at_once and self.send_at_once is not None and not self._chunks and not self.stalled:
            sent = self.send_at_once(data)
            if sent == len(data):
                return
            data = data[sent:]
        self._chunks.append(data)
        self.size += len(data)
        if self.has_data.parked:
            self.has_data.wake_all()

    def take(self) -> bytes:
        """Everything queued, as one bytes object; it still counts in `size` until `sent`."""
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        return data

    def sent(self, count: int) -> None:
        """`count` bytes taken earlier have reached the kernel."""
        self.size -= count
        if self.has_room.parked and self.size <= self.limit:
            self.has_room.wake_all()

    def finish(self) -> None:
        """Nothing more will be queued: the writer sends what is here, then closes."""
        self._sealed = self.finished = True
        self.has_data.wake_all()  # an idle writer must notice
        self.has_room.wake_all()  # and so must a reader waiting for the client to catch up

    def replace_with(self, last_words: bytes) -> None:
        """Drop everything still queued, queue `last_words`, and accept nothing more.

        Once sealed, a second call changes nothing: the first last words are kept."""
        if self._sealed:
            return
        self.size -= sum(map(len, self._chunks))  # a chunk the writer holds still counts
        self._chunks.clear()
        self.put(last_words)
        self._sealed = True
