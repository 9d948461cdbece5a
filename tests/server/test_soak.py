"""A churn soak: about a minute of clients joining, chatting, renaming, quitting,
closing, resetting, half-closing, stalling and resuming, stalling until cut off, lurking
until the join timeout, and flashing in and out, against one real server.

Three stayers are in the room from start to end; one of them talks in bulk (2 KB lines,
~400 KB/s), so that a client that stops reading is cut off as too slow within seconds
(`--outbox-limit 64 KiB`; the kernel hides ~3 MB first). The churn is seeded
(`SOAK_SEED`, or CHAT_SOAK_SEED to try others); timing comes from the network.

Checks:
- the stayers hold one transcript, with every stayer line, in order;
- every churner's view is that transcript from its JOIN: all of it up to its PART for
  those that left by /quit, by half-closing or after a stall they recovered from, a
  prefix of it for those that closed, reset or were cut off; and the room saw each leave
  for the right reason (its quit reason, `connection lost`, `too slow`);
- no leaks: after a warm-up wave, the server's open descriptors, its task count
  (4 + 2 per open connection) and, within a stated tolerance, its RSS come back to what
  they were once the second, longer wave has come and gone.

Rooms (version 2): three room stayers are in #red and #green from start to end (and
leave the default room, away from the bulk); roamers (a churner kind) join and part the
three rooms at random, talk in them, and leave by /quit, by closing or by a reset. Checks,
by event id (room_views.py):
- the room stayers of each room hold one transcript, with every room stayer line;
- every v2 client got the same line for the same id, consecutive ids from each of its
  JOINs, and at each join the history right before it; each roamer's lines are in the
  room, in order, and its leaving is there, for its reason, in every room it was in;
- at the end the server is stopped and its SQLite store is read: every room's ids are
  1, 2, 3...; every event a client received is stored as that very line; and each room's
  stored log, from a stayer's JOIN on, is the transcript the stayers saw.

The join timeout is 4 s here (the default is 120 s) so that lurkers are expired within
the run.
"""

from __future__ import annotations

import os
import random
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from chat_testing import LineClient, ServerProcess, close_all, machine_client
from process_probes import (
    expected_tasks, open_descriptors, reset, resident_bytes, wait_for_stats,
)
from protocol import (
    DEFAULT_ROOM, LineFramer, decode_event, event_line, render_for_people, room_key,
)
from room_views import (
    RoomViews, check_stayers_agree, check_store_matches, check_views, sender_and_text,
    stored_logs,
)

SOAK_SEED = int(os.environ.get("CHAT_SOAK_SEED", "7"))
STAYERS = ("stay0", "stay1", "stay2")  # stay0 talks in bulk
ROOM_STAYERS = ("rstay0", "rstay1", "rstay2")  # v2, in every room of ROOMS all along
ROOMS = ("#red", "#green")
HISTORY_ON_JOIN = 50  # the server's default
CONNECTED = len(STAYERS) + len(ROOM_STAYERS) + 1  # and an asker, once the churn is over
SOAK_SCALE = float(os.environ.get("CHAT_SOAK_SCALE", "1"))
"""Shrinks the waves for development (`CHAT_SOAK_SCALE=0.3`); the test runs at 1."""
JOIN_TIMEOUT = 4  # seconds
ROOM_EVENT_KINDS = frozenset({"JOIN", "PART", "NICK", "MSG", "ACTION"})
RSS_TOLERANCE = 2 << 20
"""How far RSS may end above the warm-up baseline. Freed Python objects go back to
pymalloc's arenas and glibc's heap, which return pages to the system only when whole
arenas or the top of the heap are free, so some fragmentation stays resident. Measured:
+0.2 to +0.3 MiB over this soak's second wave (it was +0.9 to +2.2 MiB while closed
sessions waited for the cycle collector). A leak of one session per connection (3-4 KiB)
over the second wave's ~1,400 connections would add 4-6 MiB, and keep growing with a
longer run; test_memory.py counts leaked sessions exactly."""

KINDS = {  # kind: weight
    "quitter": 20, "person": 8, "closer": 12, "resetter": 12, "half_closer": 8,
    "stall_resume": 10, "stall_cut": 5, "lurker": 8, "roamer": 16,
}


def _is_room_event(line: str) -> bool:
    return line.split(" ", 1)[0] in ROOM_EVENT_KINDS


# --- the stayers ---------------------------------------------------------------------------

def join_rooms(port: int, nick: str) -> tuple[LineClient, list[str]]:
    """A v2 client in every room of ROOMS and out of the default room; the lines read."""
    client = LineClient(port)
    client.send_line("/hello soak 2", f"/nick {nick}", *(f"/join {room}" for room in ROOMS),
                     f"/part {DEFAULT_ROOM}")
    lines = client.read_until(lambda line: line.startswith(f"PART {DEFAULT_ROOM} ")
                              and sender_and_text(line)[1] == nick)
    return client, lines + client._lines


class Stayers:
    """Three clients in the default room and three in ROOMS for the whole run, read by one
    thread with a selector; stay0 says a bulk line every few milliseconds, the others a
    short line now and then (the room stayers with `/in ROOM`)."""

    def __init__(self, port: int, seed: int) -> None:
        # The room stayers first: their JOIN and PART of the default room come before the
        # default room's stayers, who compare transcripts from the last one's JOIN.
        room_clients = [join_rooms(port, nick) for nick in ROOM_STAYERS]
        self.clients = [machine_client(port, nick) for nick in STAYERS]
        self.clients[0].read_until(f"JOIN {STAYERS[-1]}")
        self.clients[1].read_until(f"JOIN {STAYERS[-1]}")
        # From here on (the last stayer's JOIN) their transcripts must be the same.
        self.lines: dict[str, list[str]] = {nick: list(client._lines)
                                            for nick, client in zip(STAYERS, self.clients)}
        self.said: dict[str, list[str]] = {nick: [] for nick in STAYERS}
        self.room_clients = [client for client, _ in room_clients]
        self.lines.update({nick: lines for nick, (_, lines) in zip(ROOM_STAYERS, room_clients)})
        self.said_in: dict[tuple[str, str], list[str]] = {
            (nick, room_key(room)): [] for nick in ROOM_STAYERS for room in ROOMS}
        self.talking = threading.Event()
        self.stop = threading.Event()
        self.failure: BaseException | None = None
        self._rng = random.Random(seed)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Start reading and talking."""
        self.talking.set()
        self._thread.start()

    def room_events(self, nick: str) -> list[str]:
        """Room events `nick` received since the last stayer joined."""
        return [line for line in self.lines[nick] if _is_room_event(line)]

    def saw(self, line: str) -> bool:
        """True once stay1 has received `line` (safe to call from other threads)."""
        return line in self.lines[STAYERS[1]]

    def views(self) -> list[RoomViews]:
        """The room stayers' rooms (call once the thread has stopped)."""
        views = []
        for nick in ROOM_STAYERS:
            views.append(RoomViews(nick))
            for line in self.lines[nick]:
                views[-1].feed(line)
        return views

    def finish(self, timeout: float = 30) -> None:
        """Say an end marker from each stayer (in each room, for the room stayers), and read
        until every stayer has them all."""
        self.talking.clear()
        time.sleep(0.1)  # the thread is between two of its lines now
        for client, nick in zip(self.clients, STAYERS):
            self._say(client, nick, f"end {nick}")
        for client, nick in zip(self.room_clients, ROOM_STAYERS):
            for room in ROOMS:
                self._say_in(client, nick, room, f"end {nick}")
        ends = {f"MSG {nick} end {nick}" for nick in STAYERS}
        room_ends = {(room_key(room), nick, f"end {nick}") for room in ROOMS
                     for nick in ROOM_STAYERS}
        deadline = time.monotonic() + timeout
        while not (all(ends <= set(self.lines[nick]) for nick in STAYERS)
                   and all(room_ends <= _room_lines_said(self.lines[nick])
                           for nick in ROOM_STAYERS)):
            assert self.failure is None, f"stayers failed: {self.failure!r}"
            assert time.monotonic() < deadline, "the stayers' end markers did not arrive"
            time.sleep(0.05)
        self.stop.set()
        self._thread.join(10)

    def _say(self, client: LineClient, nick: str, text: str) -> None:
        client.sock.sendall(f"{text}\n".encode())
        self.said[nick].append(text)

    def _say_in(self, client: LineClient, nick: str, room: str, text: str) -> None:
        client.sock.sendall(f"/in {room} {text}\n".encode())
        self.said_in[(nick, room_key(room))].append(text)

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        framers = {}
        for client, nick in zip([*self.clients, *self.room_clients], STAYERS + ROOM_STAYERS):
            client.sock.settimeout(5)  # sends block briefly at most; reads follow select
            selector.register(client.sock, selectors.EVENT_READ, (client, nick))
            framers[nick] = LineFramer(max_line_bytes=1 << 20)
        next_bulk = next_chat = time.monotonic()
        number = 0
        try:
            while not self.stop.is_set():
                now = time.monotonic()
                if self.talking.is_set() and now >= next_bulk:
                    text = f"bulk {number} " + "b" * 2000
                    self._say(self.clients[0], STAYERS[0], text)
                    number += 1
                    next_bulk = now + 0.005
                if self.talking.is_set() and now >= next_chat:
                    index = self._rng.choice((1, 2))
                    self._say(self.clients[index], STAYERS[index], f"chat {number}")
                    index = self._rng.randrange(len(ROOM_STAYERS))
                    self._say_in(self.room_clients[index], ROOM_STAYERS[index],
                                 self._rng.choice(ROOMS), f"chat {number}")
                    next_chat = now + self._rng.uniform(0.1, 0.4)
                for key, _ in selector.select(0.002):
                    client, nick = key.data
                    data = client.sock.recv(1 << 20)
                    assert data, f"the server closed stayer {nick}"
                    self.lines[nick].extend(item.text for item in framers[nick].feed(data)
                                            if hasattr(item, "text"))
        except BaseException as error:  # reported by finish()
            self.failure = error
        finally:
            selector.close()


def _room_lines_said(lines: list[str]) -> set[tuple[str, str, str]]:
    """(room key, nick, text) of every MSG among v2 `lines`."""
    said = set()
    for line in lines:
        kind, nick, text = sender_and_text(line)
        if kind == "MSG":
            said.add((room_key(line.split(" ", 2)[1]), nick, text))
    return said


# --- the churners --------------------------------------------------------------------------

@dataclass
class Churner:
    """One churning client's plan and what happened to it."""

    index: int
    kind: str
    rng: random.Random
    nicks: list[str] = field(default_factory=list)  # the names it held, in order
    quit_reason: str | None = None
    received: list[str] = field(default_factory=list)  # every line, as read
    error: BaseException | None = None
    ending: str | None = None  # a roamer's way out: "quit", "close" or "reset"
    rooms: list[str] = field(default_factory=list)  # a roamer's rooms (as it last asked)
    said_in: dict[str, list[str]] = field(default_factory=dict)  # a roamer's, by room key

    @property
    def nick(self) -> str:
        """Its first name: also the name a lurker never gets to use."""
        return f"c{self.index}"


def _pump(client: LineClient, into: list[str], seconds: float) -> None:
    """Read whatever arrives for `seconds`, keeping the socket drained."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            into.append(client.read_line(remaining))
        except TimeoutError:
            return


def _chat_a_while(client: LineClient, churner: Churner) -> None:
    for _ in range(churner.rng.randint(1, 4)):
        client.send_line(f"{churner.nicks[-1]} says {churner.rng.randint(0, 999)}")
        _pump(client, churner.received, churner.rng.uniform(0.1, 0.8))
    if churner.rng.random() < 0.5:
        new = f"{churner.nick}r"
        client.send_line(f"/nick {new}")
        churner.nicks.append(new)
        _pump(client, churner.received, 0.2)


def _join(port: int, churner: Churner, **kwargs) -> LineClient:  # type: ignore[no-untyped-def]
    client = machine_client(port, **kwargs)
    client.send_line(f"/nick {churner.nick}")
    churner.received += client.read_until(f"JOIN {churner.nick}")
    churner.nicks.append(churner.nick)
    return client


def live(port: int, churner: Churner, stayers: Stayers) -> None:
    """Carry out one churner's life; what it saw goes into `churner`."""
    try:
        LIVES[churner.kind](port, churner, stayers)
    except BaseException as error:  # checked by the test's thread
        churner.error = error


def _quitter(port: int, churner: Churner, stayers: Stayers) -> None:
    client = _join(port, churner)
    _chat_a_while(client, churner)
    churner.quit_reason = f"bye from {churner.nick}"
    client.send_line(f"/quit {churner.quit_reason}")
    churner.received += client.read_all_until_closed()
    client.close()


def _person(port: int, churner: Churner, stayers: Stayers) -> None:
    client = LineClient(port)
    client.send_line(churner.nick)  # talker style: the first line is the nickname
    churner.received += client.read_until(f"*** {churner.nick} joined")
    churner.nicks.append(churner.nick)
    _chat_a_while(client, churner)
    churner.quit_reason = "off to lunch"
    client.send_line(f"/quit {churner.quit_reason}")
    churner.received += client.read_all_until_closed()
    client.close()


def _closer(port: int, churner: Churner, stayers: Stayers) -> None:
    client = _join(port, churner)
    _chat_a_while(client, churner)
    client.close()


def _resetter(port: int, churner: Churner, stayers: Stayers) -> None:
    client = _join(port, churner)
    _chat_a_while(client, churner)
    reset(client.sock)


def _half_closer(port: int, churner: Churner, stayers: Stayers) -> None:
    client = _join(port, churner)
    _chat_a_while(client, churner)
    client.send_line(f"last words of {churner.nicks[-1]}")
    client.sock.shutdown(socket.SHUT_WR)
    churner.received += client.read_all_until_closed()
    client.close()


def _stall_resume(port: int, churner: Churner, stayers: Stayers) -> None:
    client = _join(port, churner, receive_buffer=4096)
    client.send_line(f"{churner.nick} stops reading")
    time.sleep(churner.rng.uniform(1.0, 2.5))  # ~1 MB of bulk: the kernel hides it
    _chat_a_while(client, churner)
    churner.quit_reason = "caught up"
    client.send_line(f"/quit {churner.quit_reason}")
    churner.received += client.read_all_until_closed()
    client.close()


def _stall_cut(port: int, churner: Churner, stayers: Stayers) -> None:
    client = _join(port, churner, receive_buffer=4096)
    deadline = time.monotonic() + 30
    while not stayers.saw(f"PART {churner.nick} too slow"):
        assert time.monotonic() < deadline, f"{churner.nick} was never cut off"
        time.sleep(0.2)
    churner.received += client.read_all_until_closed(timeout=15)
    client.close()


def _lurker(port: int, churner: Churner, stayers: Stayers) -> None:
    client = LineClient(port)  # never says a word: the join timeout (4 s) ends it
    churner.received += client.read_all_until_closed(timeout=15)
    client.close()


def _roamer(port: int, churner: Churner, stayers: Stayers) -> None:
    client = LineClient(port)
    client.send_line("/hello soak 2", f"/nick {churner.nick}")
    churner.received += client.read_until(f"CURRENT {DEFAULT_ROOM}")
    churner.nicks.append(churner.nick)
    churner.rooms = [DEFAULT_ROOM]
    for _ in range(churner.rng.randint(2, 6)):
        _roam(client, churner)
        _pump(client, churner.received, churner.rng.uniform(0.1, 0.6))
    churner.ending = churner.rng.choice(("quit", "close", "reset"))
    if churner.ending == "quit":
        churner.quit_reason = f"roamed {churner.nick}"
        client.send_line(f"/quit {churner.quit_reason}")
        churner.received += client.read_all_until_closed()
        client.close()
    elif churner.ending == "close":
        client.close()
    else:
        reset(client.sock)


def _roam(client: LineClient, churner: Churner) -> None:
    """Join a room or part one, then say a line in one of the rooms it is in."""
    rng, rooms = churner.rng, churner.rooms
    outside = [room for room in (DEFAULT_ROOM, *ROOMS) if room not in rooms]
    if outside and (not rooms or rng.random() < 0.6):
        room = rng.choice(outside)
        client.send_line(f"/join {room}")
        rooms.append(room)
    elif rooms:
        room = rng.choice(rooms)
        client.send_line(f"/part {room}")
        rooms.remove(room)
    if rooms:
        room, text = rng.choice(rooms), f"{churner.nick} roams {rng.randint(0, 999)}"
        client.send_line(f"/in {room} {text}")
        churner.said_in.setdefault(room_key(room), []).append(text)


LIVES: dict[str, Callable[[int, Churner, Stayers], None]] = {
    "quitter": _quitter, "person": _person, "closer": _closer, "resetter": _resetter,
    "half_closer": _half_closer, "stall_resume": _stall_resume, "stall_cut": _stall_cut,
    "lurker": _lurker, "roamer": _roamer,
}


def flash(port: int, prefix: str, stop: threading.Event, names: list[str]) -> None:
    """Connect, join, say a line and close without reading, over and over: cheap churn."""
    number = 0
    while not stop.is_set():
        name = f"{prefix}{number}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(f"/hello flash 1\n/nick {name}\nhi from {name}\n".encode())
                time.sleep(0.01)
            names.append(name)
        except OSError:
            pass
        number += 1
        time.sleep(0.01)


# --- a wave of churn -----------------------------------------------------------------------

def churn_wave(port: int, stayers: Stayers, rng: random.Random, first_index: int,
               duration: float, concurrency: int) -> tuple[list[Churner], list[str]]:
    """Keep `concurrency` churners alive for `duration` seconds, plus a flash thread;
    return every churner (all finished) and the flash names used."""
    kinds, weights = zip(*KINDS.items())
    churners: list[Churner] = []
    threads: list[threading.Thread] = []
    stop_flashing = threading.Event()
    flashed: list[str] = []
    flasher = threading.Thread(target=flash, daemon=True,
                               args=(port, f"f{first_index}x", stop_flashing, flashed))
    flasher.start()
    end = time.monotonic() + duration
    while time.monotonic() < end:
        threads = [thread for thread in threads if thread.is_alive()]
        if len(threads) < concurrency:
            kind = rng.choices(kinds, weights)[0]
            if kind == "stall_cut" and end - time.monotonic() < 12:
                kind = "stall_resume"  # too late to be cut within the wave
            churner = Churner(first_index + len(churners), kind,
                              random.Random(rng.getrandbits(32)))
            churners.append(churner)
            thread = threading.Thread(target=live, args=(port, churner, stayers), daemon=True)
            thread.start()
            threads.append(thread)
        time.sleep(0.05)
    stop_flashing.set()
    flasher.join(10)
    for thread in threads:
        thread.join(45)
        assert not thread.is_alive(), "a churner did not finish"
    return churners, flashed


def settle(server: ServerProcess, asker: LineClient) -> dict[str, str]:
    """Wait until only the stayers and `asker` are connected and nothing is closing, and
    the last join deadline has passed; return the last /stats."""
    time.sleep(JOIN_TIMEOUT + 0.5)  # the server lets go of a session at its join deadline
    return wait_for_stats(asker, lambda figures: figures["clients"] == str(CONNECTED)
                          and figures["tasks"] == str(expected_tasks(CONNECTED)), 20)


# --- the checks ----------------------------------------------------------------------------

def check_stayers(stayers: Stayers) -> list[str]:
    """One transcript for all stayers, with all their own lines; returns it."""
    ends = [f"MSG {nick} end {nick}" for nick in STAYERS]
    transcripts = []
    for nick in STAYERS:
        events = stayers.room_events(nick)
        transcripts.append(events[:max(events.index(end) for end in ends) + 1])
    assert transcripts[1] == transcripts[0], "stay1's transcript differs from stay0's"
    assert transcripts[2] == transcripts[0], "stay2's transcript differs from stay0's"
    common = transcripts[0]
    for nick in STAYERS:
        mine = [line for line in common if line.startswith(f"MSG {nick} ")]
        assert mine == [f"MSG {nick} {text}" for text in stayers.said[nick]]
    return common


def _room_events_seen(churner: Churner) -> list[str]:
    """The room events a churner received, from its own JOIN on, as machine lines."""
    if churner.kind == "person":
        start = churner.received.index(f"*** {churner.nick} joined")
        seen = churner.received[start:]
        if seen[1:2] and seen[1].startswith("*** You are now talking in"):
            del seen[1]  # version 2 says which room is current after a join: not an event
        return seen
    events = [line for line in churner.received if _is_room_event(line)]
    return events[events.index(f"JOIN {churner.nick}"):]


def check_churner(churner: Churner, common: list[str]) -> None:
    """The churner's view matches the stayers' transcript, and it left for its reason."""
    assert churner.error is None, f"{churner.kind} {churner.nick}: {churner.error!r}"
    if churner.kind == "roamer":
        return  # check_roamer
    if churner.kind == "lurker":
        assert churner.received[-1] == "*** Goodbye: no nickname chosen in time"
        assert f"JOIN {churner.nick}" not in common
        return
    joined = common.index(f"JOIN {churner.nick}")
    parts = tuple(f"PART {nick} " for nick in churner.nicks)
    left = next(i for i in range(joined, len(common)) if common[i].startswith(parts))
    final, reason = common[left].split(" ", 2)[1:]
    expected_reason = {"stall_cut": "too slow", "closer": "connection lost",
                       "resetter": "connection lost", "half_closer": "connection lost",
                       }.get(churner.kind, churner.quit_reason)
    if churner.kind == "stall_resume" and reason == "too slow":
        expected_reason = "too slow"  # the bulk was heavier than usual: allowed, checked below
    assert reason == expected_reason, f"{churner.kind} {final} left: {common[left]!r}"
    between = common[joined:left]
    if churner.kind == "half_closer":
        assert f"MSG {final} last words of {final}" in between
    seen = _room_events_seen(churner)
    if churner.kind == "person":
        expected = [render_for_people(decode_event(line)) for line in between]  # type: ignore[arg-type]
        assert seen[:len(expected)] == expected and seen[len(expected):] == \
            [f"*** Goodbye: {churner.quit_reason}"], f"person {final} missed something"
    elif churner.kind in ("quitter", "half_closer") or reason != "too slow" \
            and churner.kind == "stall_resume":
        assert seen == between, f"{churner.kind} {final} did not get every event"
    else:  # closed, reset or cut off: what it read is the start of the room's story
        assert seen == between[:len(seen)], f"{churner.kind} {final}: out of order or gaps"


def roamer_views(roamers: list[Churner]) -> list[RoomViews]:
    """What each roamer saw of each room."""
    views = []
    for churner in roamers:
        views.append(RoomViews(churner.nick))
        for line in churner.received:
            views[-1].feed(line)
    return views


def check_room_stayers(stayers: Stayers, views: list[RoomViews],
                       by_id: dict[str, dict[int, str]]) -> None:
    """One transcript per room for its stayers, with every stayer line, in order."""
    ends = {(nick, f"end {nick}") for nick in ROOM_STAYERS}
    for room in map(room_key, ROOMS):
        check_stayers_agree(room, views, ends)
        for nick in ROOM_STAYERS:
            assert _texts_of(nick, by_id[room]) == stayers.said_in[(nick, room)], \
                f"{nick}'s lines in {room} are not all there, in order"


def _texts_of(nick: str, events: dict[int, str]) -> list[str]:
    """What `nick` said among `events` (v2 lines by id), in id order."""
    said = (sender_and_text(events[event_id]) for event_id in sorted(events))
    return [text for kind, sender, text in said if kind == "MSG" and sender == nick]


def _comings_and_goings(nick: str, room: str, by_id: dict[str, dict[int, str]],
                        common: list[str]) -> list[tuple[int, str, str]]:
    """(id or index, JOIN or PART, reason) of `nick` in `room`, in order; the default
    room's from the v1 stayers' transcript."""
    if room == DEFAULT_ROOM:
        lines = [(index, *line.split(" ", 2)) for index, line in enumerate(common)]
        return [(index, kind, (rest + [""])[0]) for index, kind, who, *rest in lines
                if kind in ("JOIN", "PART") and who == nick]
    events = by_id.get(room_key(room), {})
    said = ((event_id, *sender_and_text(events[event_id])) for event_id in sorted(events))
    return [(event_id, kind, text) for event_id, kind, who, text in said
            if kind in ("JOIN", "PART") and who == nick]


def check_roamer(churner: Churner, view: RoomViews, by_id: dict[str, dict[int, str]],
                 common: list[str]) -> None:
    """A roamer came and went in each room, leaving the last ones for its reason; its
    lines are there (all of them, if it quit); a quitter missed nothing before its PART."""
    assert churner.error is None, f"roamer {churner.nick}: {churner.error!r}"
    nick, ending = churner.nick, churner.ending
    final = churner.quit_reason if ending == "quit" else "connection lost"
    for room in (DEFAULT_ROOM, *ROOMS):
        comings = _comings_and_goings(nick, room, by_id, common)
        kinds = [kind for _, kind, _ in comings]
        assert kinds == ["JOIN", "PART"] * (len(kinds) // 2), f"{nick} in {room}: {kinds}"
        reasons = [reason for _, kind, reason in comings if kind == "PART"]
        if ending != "reset":  # a reset may lose the last lines it sent
            expected = ["left"] * len(reasons)
            if room in churner.rooms:
                expected[-1:] = [final]
            assert reasons == expected, f"{nick} left {room}: {reasons}, not {expected}"
        if room == DEFAULT_ROOM:
            texts = [line.split(" ", 2)[2] for line in common if line.startswith(f"MSG {nick} ")]
        else:
            texts = _texts_of(nick, by_id.get(room_key(room), {}))
        said = churner.said_in.get(room_key(room), [])
        assert texts == (said if ending == "quit" else said[:len(texts)]), \
            f"{nick}'s lines in {room}: {texts} of {said}"
        stay = view.current(room_key(room))
        if ending == "quit" and room in ROOMS and room in churner.rooms:
            assert stay is not None and comings[-1][0] == stay.events[-1][0] + 1, \
                f"{nick} quit {room} but missed events before its PART"


def check_store(path: str, by_id: dict[str, dict[int, str]], views: list[RoomViews],
                common: list[str]) -> None:
    """Each room's stored log, from a stayer's JOIN on, is what the stayers saw, then only
    the stayers' own leaving as they were closed; every event received is stored."""
    logs = stored_logs(path)
    check_store_matches(logs, by_id)
    leavers = {*STAYERS, *ROOM_STAYERS, "asker2"}
    for view in views:
        for room in map(room_key, ROOMS):
            stay = view.in_room(room)[0]
            stored = [event for event in logs[room] if event[0] >= stay.joined]
            assert stored[:len(stay.events)] == stay.events, \
                f"{room}'s stored log differs from {view.nick}'s transcript"
            _check_only_closed(stored[len(stay.events):], leavers)
    lobby = [event_line(decode_event(line, 2)) for _, line in logs[room_key(DEFAULT_ROOM)]]
    start = lobby.index(f"JOIN {STAYERS[-1]}") + 1
    assert lobby[start:start + len(common)] == common, "the default room's stored log differs"
    _check_only_closed([(0, line) for _, line in logs[room_key(DEFAULT_ROOM)]]
                       [start + len(common):], leavers)


def _check_only_closed(events: list[tuple[int, str]], leavers: set[str]) -> None:
    """`events` are only `leavers` leaving as their connections were closed."""
    for _, line in events:
        kind, nick, reason = sender_and_text(line)
        assert kind == "PART" and nick in leavers and reason == "connection lost", \
            f"stored but never seen: {line!r}"


def check_flashers(names: list[str], common: list[str]) -> None:
    """A flash client that got in also left, as `connection lost`."""
    present = set(common)
    joined = [name for name in names if f"JOIN {name}" in present]
    for name in joined:
        assert f"PART {name} connection lost" in present, f"{name} is still in the room"
    assert joined, "no flash client ever joined"


# --- the test ------------------------------------------------------------------------------

@pytest.mark.soak
@pytest.mark.timeout(240)
def test_churn_soak_leaves_one_transcript_and_no_leaks(server_factory, tmp_path) -> None:
    store = str(tmp_path / "history.sqlite3")
    server = server_factory("--flood", "off", "--outbox-limit", "65536", "--store", store,
                            "--join-timeout", str(JOIN_TIMEOUT), "--max-clients", "500")
    rng = random.Random(SOAK_SEED)
    print(f"soak seed {SOAK_SEED} (replay with CHAT_SOAK_SEED={SOAK_SEED})")
    stayers = Stayers(server.port, rng.getrandbits(32))
    stayers.start()

    warm_up, warm_flash = churn_wave(server.port, stayers, rng, 0, 14 * SOAK_SCALE, 8)
    # A fresh asker each time: one that stayed would have to read the bulk all along.
    asker = machine_client(server.port, "asker1")
    figures = settle(server, asker)
    assert figures["tasks"] == str(expected_tasks(CONNECTED))
    baseline_rss = resident_bytes(server.pid)
    baseline_descriptors = open_descriptors(server.pid)
    asker.send_line("/quit")
    asker.read_all_until_closed()

    main, main_flash = churn_wave(server.port, stayers, rng, 10000, 30 * SOAK_SCALE, 10)
    asker = machine_client(server.port, "asker2")
    figures = settle(server, asker)
    final_rss = resident_bytes(server.pid)
    final_descriptors = open_descriptors(server.pid)
    stayers.finish()

    print(f"{len(warm_up) + len(main)} churners, {len(warm_flash) + len(main_flash)} "
          f"flash clients; RSS {baseline_rss / 2**20:.1f} -> {final_rss / 2**20:.1f} MiB; "
          f"descriptors {baseline_descriptors} -> {final_descriptors}")
    assert figures["tasks"] == str(expected_tasks(CONNECTED))  # no task left behind
    assert figures["clients"] == str(CONNECTED)
    assert final_descriptors == baseline_descriptors
    assert final_rss - baseline_rss <= RSS_TOLERANCE, \
        f"RSS grew by {(final_rss - baseline_rss) / 2**20:.1f} MiB after the warm-up"

    common = check_stayers(stayers)
    churners = warm_up + main
    kinds = set(KINDS) if SOAK_SCALE >= 1 else set(KINDS) - {"stall_cut"}  # needs 12 s
    assert {churner.kind for churner in churners} == kinds  # every kind of life ran
    for churner in churners:
        check_churner(churner, common)
    check_flashers(warm_flash + main_flash, common)
    views = stayers.views()
    roamers = [churner for churner in churners if churner.kind == "roamer"]
    by_id = check_views(views + roamer_views(roamers), HISTORY_ON_JOIN)
    check_room_stayers(stayers, views, by_id)
    for churner, view in zip(roamers, roamer_views(roamers)):
        check_roamer(churner, view, by_id, common)
    print(f"{len(roamers)} roamers; room events {[len(by_id[room_key(r)]) for r in ROOMS]}")
    close_all([*stayers.clients, *stayers.room_clients, asker])
    assert server.stop() == 0
    stderr = server.stderr_text()
    assert "Traceback" not in stderr and "crashed" not in stderr
    check_store(store, by_id, views, common)
