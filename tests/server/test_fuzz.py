"""A socket-level fuzzer: hostile connections throw adversarial bytes at a real server while
well-behaved clients chat, and the room must not notice.

Each run is seeded and bounded in time and count. The seed decides every hostile
connection's plan: the bytes it sends (random bytes, overlong lines, invalid UTF-8, NUL,
escape sequences, bidi controls, telnet negotiation, commands with odd arguments,
nickname spoofs, friendly chat), how they are split into writes and paced, whether it
reads, and how it leaves (close, reset, half-close, /quit, or staying to the end). Network
timing is not seeded: a failing seed replays the same plans, not the same interleaving.
To try other seeds: `CHAT_FUZZ_SEED=123 pytest -m fuzz tests/server/test_fuzz.py`.

Throughout, four machine clients say numbered lines and one person (no /hello) listens.
Hostile connections may join and chat too: they are part of the room, so their events
are in every transcript. Afterwards:
- every well-behaved transcript of room events, from the moment all of them were in the
  room, is the same sequence, the person's line for line in its own rendering;
- it holds every well-behaved line, in order, stamped with its sender's nick, and no
  line carries a well-behaved nick that its owner did not send;
- no JOIN or NICK took a name equal (case, NFKC) to a well-behaved member's;
- nothing any of them received holds a control character, escape or bidi control, and
  every machine line decodes;
- the lines a hostile connection sent before half-closing were relayed;
- the server keeps no connection, task or descriptor for a hostile connection, serves a
  newcomer, never logs a traceback, and exits 0 on SIGTERM.
"""

from __future__ import annotations

import os
import random
import re
import selectors
import socket
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from chat_testing import LineClient, ServerProcess, close_all, machine_client
from process_probes import (
    expected_tasks, open_descriptors, reset, wait_for_descriptors, wait_for_stats,
)
from protocol import LineFramer, decode_event, render_for_people

FUZZ_SEED = int(os.environ.get("CHAT_FUZZ_SEED", "20240611"))

GOOD_NICKS = ("good0", "good1", "good2", "good3")
LISTENER_NICK = "watcher"  # the person, who joins last: transcripts are compared from here
ROOM_EVENT_KINDS = frozenset({"JOIN", "PART", "NICK", "MSG", "ACTION"})
UNSAFE_CHARACTER = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# --- what hostile connections send -------------------------------------------------------

ESCAPES = [
    b"\x1b[31m", b"\x1b[2J\x1b[H", b"\x1b]0;owned\x07", b"\x1b]8;;http://evil.example/\x1b\\",
    b"\x1b]52;c;ZXZpbA==\x07", b"\x1bP+q544e\x1b\\", b"\xc2\x9b31m", b"\xc2\x9d0;t\xc2\x9c",
    b"\x1bc", b"\x1b(0", b"\x1b[?1049h", b"\x1b[6n", b"\x1b", b"\x1b[", b"\x1b]0;never ends",
    "\u202e".encode(), "\u2066\u2067\u2068\u2069".encode(), "\u202a\u202b\u202c\u202d".encode(),
    b"\x07\x08\x7f", b"\x00", b"\r", b"\x0b\x0c", b"\xc2\x85",
]
INVALID_UTF8 = [
    b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
    b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf8\x88\x80\x80\x80", b"\xfe", b"caf\xc3", b"\xf0\x9f\x98",
]
TELNET = [
    b"\xff\xfb\x01", b"\xff\xfd\x03\xff\xfb\x18", b"\xff\xfa\x18\x00xterm\xff\xf0", b"\xff\xf4",
    b"\xff\xff", b"\xff", b"\xff\xfa", b"\xff\xf1" * 20, b"\xff\xfa\x1f\x00\x50\x00\x18",
]
FRIENDLY = [
    "hi all", "👋 hello", "👨\u200d👩\u200d👧 family", "e\u0301te\u0301", "张三 说 你好",
    "مرحبا", "tab\tseparated", "[31m is not an escape", "MSG good0 i am good0",
    "JOIN good1", "<good2> fake line", "* good3 fakes an action", "🏳️\u200d🌈",
]
LOOKALIKE_NICKS = [
    "GOOD0", "ｇｏｏｄ1", "Good2", "gOOD3", "ＧＯＯＤ0", "WATCHER", "ｗａｔｃｈｅｒ", "good0\u0301",
    "ɡood1", "good2_", "good-3",
]
ODD_COMMANDS = [
    "/nick", "/nick ", "/nick a b", "/nick " + "x" * 17, "/nick bad!name", "/nick \u0301x",
    "/nick\u00a0good0", "/me", "/me waves \x1b[5m", "/msg", "/msg good0", "/msg nobody hi",
    "/msg good1 psst", "/msg GOOD2 \u202epsst", "/who", "/WHO extra args", "/ping",
    "/ping \x00\x01", "/ping " + "p" * 2000, "/help", "/HeLp me", "/stats", "/hello",
    "/hello x", "/hello chat 1", "/hello a b c", "//", "//nick good0", "/", "/ ", "/unknown",
    "/\u202enick good0", "/nick\x1b[31m good1", "/ping \U0001f600",
]
QUITS = ["/quit", "/quit bye \x1b[31mred", "/QUIT  ", "/quit \u202eevil"]

# IAC SE twice, then LF: from any telnet or framer state this ends whatever the fuzzed
# bytes left unfinished (a subnegotiation, an escape, an overlong line), so a clean line
# can follow.
CLEAN_BREAK = b"\xff\xf0\xff\xf0\n"


@dataclass
class HostilePlan:
    """What one hostile connection does, decided by the seed."""

    index: int
    chunks: list[bytes]  # the writes, in order
    gaps: list[float]  # seconds to wait before each write
    reads: bool  # reads (and discards) what the server sends, or never reads
    ending: str  # "close", "reset", "half_close" or "stay"
    fin_nick: str | None = None  # half_close: joins or renames to this, then says a marker

    @property
    def fin_text(self) -> str:
        """The marker a half-closing connection says just before its FIN."""
        return f"fin {self.index}"


def _text_line(text: str) -> bytes:
    return text.encode("utf-8") + b"\n"


def _hostile_nick(rng: random.Random, index: int) -> str:
    return rng.choice([f"h{index}", f"Ж{index}", f"ｈ{index}", f"h{index}\u0301", f"张{index}"])


def _piece_makers(rng: random.Random, index: int, may_quit: bool) -> list[Callable[[], bytes]]:
    """Makers of one adversarial piece each; the plan strings random ones together."""
    makers: list[Callable[[], bytes]] = [
        lambda: _text_line(_hostile_nick(rng, index)),  # talker-style join
        lambda: _text_line(f"/nick {_hostile_nick(rng, index)}"),
        lambda: _text_line(rng.choice(["", "/nick "]) + rng.choice(LOOKALIKE_NICKS)),
        lambda: _text_line(rng.choice(FRIENDLY)),
        lambda: _text_line(rng.choice(["/me ", ""]) + rng.choice(FRIENDLY)),
        lambda: _text_line(rng.choice(ODD_COMMANDS)),
        lambda: rng.randbytes(rng.randint(1, 400)),
        lambda: (rng.choice([b"x", "é".encode(), b"/nick "]) * 1
                 + b"y" * rng.choice([2045, 2046, 2047, 2048, 2049, 5000, 70000])
                 + rng.choice([b"\n", b"\r\n", b"", b"\r"])),
        lambda: b"say " + rng.choice(INVALID_UTF8) + b" end\n",
        lambda: b"say " + rng.choice(ESCAPES) + b" and " + rng.choice(ESCAPES) + b" done\n",
        lambda: rng.choice(TELNET),
        lambda: b"\n" * rng.randint(1, 60) + b"\r\n" * rng.randint(0, 5),
        lambda: b"\x00" * rng.randint(1, 100) + b"\n",
        lambda: rng.choice(FRIENDLY).encode() + rng.choice(TELNET) + b"\n",
    ]
    if may_quit:
        makers.append(lambda: _text_line(rng.choice(QUITS)))
    return makers


def _split_randomly(rng: random.Random, data: bytes) -> list[bytes]:
    """Cut `data` into writes of random sizes, from single bytes to 64 KiB."""
    chunks, position = [], 0
    while position < len(data):
        size = rng.choice((1, 1, 2, 3, 5, 16, 100, 1000, 4096, 65536))
        chunks.append(data[position:position + size])
        position += size
    return chunks


def make_plan(rng: random.Random, index: int) -> HostilePlan:
    """One hostile connection's plan: its bytes, their splits and pacing, its way out."""
    ending = rng.choice(("close", "reset", "stay", "half_close"))
    if index % 5 == 4:  # every fifth one for sure, so each run checks several
        ending = "half_close"
    reads = ending == "half_close" or rng.random() < 0.7
    if ending != "half_close" and rng.random() < 0.1:  # connect and vanish at once
        return HostilePlan(index, [], [], reads, ending)
    makers = _piece_makers(rng, index, may_quit=ending != "half_close")
    pieces = [makers[0]()] if rng.random() < 0.7 else []
    pieces += [rng.choice(makers)() for _ in range(rng.randint(3, 30))]
    plan = HostilePlan(index, [], [], reads, ending)
    if ending == "half_close":
        plan.fin_nick = f"hfin{index}"
        pieces.append(CLEAN_BREAK + _text_line(f"/nick {plan.fin_nick}")
                      + _text_line(plan.fin_text))
    plan.chunks = _split_randomly(rng, b"".join(pieces))
    plan.gaps = [0.0 if rng.random() < 0.7 else rng.uniform(0, 0.03) for _ in plan.chunks]
    return plan


# --- the clients ---------------------------------------------------------------------------

class Observer:
    """A well-behaved client: joins, says numbered lines at a steady pace, reads everything."""

    def __init__(self, client: LineClient, nick: str, machine: bool,
                 lines_already_read: tuple[str, ...] = ()) -> None:
        self.client = client
        self.sock = client.sock
        self.nick = nick
        self.machine = machine
        self.lines = [*lines_already_read, *client._lines]  # the client may hold a few
        self.raw = bytearray()
        self.said: list[str] = []
        self.closed = False
        self._framer = LineFramer(max_line_bytes=1 << 20)

    def say(self, text: str) -> None:
        """Say `text` to the room."""
        self.sock.settimeout(5)  # a short line: the server takes it at once
        self.sock.sendall(_text_line(text))
        self.sock.setblocking(False)
        self.said.append(text)

    def read_available(self) -> None:
        """Read what has arrived (the selector said the socket is readable)."""
        try:
            data = self.sock.recv(1 << 16)
        except BlockingIOError:
            return
        if not data:
            self.closed = True
            return
        self.raw += data
        self.lines.extend(item.text for item in self._framer.feed(data) if hasattr(item, "text"))

    def room_events(self) -> list[str]:
        """Machine room events received since the listener joined."""
        events = [line for line in self.lines if line.split(" ", 1)[0] in ROOM_EVENT_KINDS]
        return events[events.index(f"JOIN {LISTENER_NICK}") + 1:]


class Hostile:
    """A hostile connection carrying out its plan, one write at a time."""

    def __init__(self, plan: HostilePlan, port: int) -> None:
        self.plan = plan
        self.sock = socket.create_connection(("127.0.0.1", port))
        if not plan.reads:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.setblocking(False)
        self.next_chunk = 0
        self.pending = b""
        self.due = time.monotonic() + (plan.gaps[0] if plan.gaps else 0.0)
        self.done_sending = False
        self.half_closed = False
        self.saw_eof = False
        self.gone = False

    def push(self, now: float) -> None:
        """Send what is due; a full socket (flood control, say) just waits for later."""
        while not self.done_sending and now >= self.due:
            if not self.pending:
                if self.next_chunk == len(self.plan.chunks):
                    self.done_sending = True
                    return
                self.pending = self.plan.chunks[self.next_chunk]
                self.next_chunk += 1
            try:
                sent = self.sock.send(self.pending)
            except BlockingIOError:
                return
            except OSError:  # the server closed on us (after a /quit): nothing more to say
                self.done_sending = True
                return
            self.pending = self.pending[sent:]
            if self.pending:
                return
            gap = self.plan.gaps[self.next_chunk] if self.next_chunk < len(self.plan.gaps) else 0
            self.due = now + gap

    def read_available(self) -> None:
        """Read and discard; note when the server has closed the connection."""
        try:
            data = self.sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.saw_eof = True

    def leave(self, how: str) -> None:
        """Close, reset or half-close the connection."""
        if how == "reset":
            reset(self.sock)
        elif how == "half_close":
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            self.half_closed = True
            return
        else:
            self.sock.close()
        self.gone = True


# --- the run -----------------------------------------------------------------------------

@dataclass
class FuzzSettings:
    """How big a fuzz run is."""

    seed: int
    hostiles: int  # connections in all
    concurrency: int  # hostile connections open at once, at most
    duration: float  # seconds of hostile traffic
    say_every: float  # seconds between a well-behaved client's lines


@dataclass
class FuzzOutcome:
    """What a run left behind, for the checks."""

    observers: list[Observer]
    listener: Observer
    descriptors_before: int  # the server's open descriptors with only the observers connected
    plans: list[HostilePlan] = field(default_factory=list)
    fins_confirmed: list[HostilePlan] = field(default_factory=list)  # half-closers the server finished


class FuzzRun:
    """Drives the observers and the hostile connections from one selector loop."""

    def __init__(self, server: ServerProcess, settings: FuzzSettings) -> None:
        self.server = server
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.selector = selectors.DefaultSelector()
        self.hostiles: list[Hostile] = []
        self.outcome: FuzzOutcome | None = None

    def run(self) -> FuzzOutcome:
        """Join the observers, fuzz for the set duration, wind down, exchange end markers."""
        observers, listener = self._join_observers()
        self.outcome = FuzzOutcome(observers, listener, open_descriptors(self.server.pid))
        try:
            self._fuzz(observers, listener)
            self._wind_down(observers, listener)
            self._exchange_end_markers(observers, listener)
        finally:
            for hostile in self.hostiles:
                if not hostile.gone:
                    hostile.sock.close()
            self.selector.close()
        return self.outcome

    def _join_observers(self) -> tuple[list[Observer], Observer]:
        port = self.server.port
        observers = [Observer(machine_client(port, nick), nick, machine=True)
                     for nick in GOOD_NICKS]
        person = LineClient(port)
        person.read_line()  # the greeting
        person.send_line(LISTENER_NICK)  # talker style: the first line is the nickname
        joined = person.read_until(f"*** {LISTENER_NICK} joined")[-1]
        listener = Observer(person, LISTENER_NICK, machine=False, lines_already_read=(joined,))
        for observer in [*observers, listener]:
            observer.sock.setblocking(False)
            self.selector.register(observer.sock, selectors.EVENT_READ, observer)
        return observers, listener

    def _fuzz(self, observers: list[Observer], listener: Observer) -> None:
        settings = self.settings
        start = time.monotonic()
        open_interval = settings.duration * 0.8 / settings.hostiles
        next_open, next_say = start, start
        sequence = 0
        while (now := time.monotonic()) < start + settings.duration:
            if now >= next_open and len(self.outcome.plans) < settings.hostiles \
                    and self._open_count() < settings.concurrency:
                self._open_hostile(len(self.outcome.plans))
                next_open = now + open_interval
            if now >= next_say:
                for observer in observers:
                    observer.say(f"seq {sequence} from {observer.nick}")
                sequence += 1
                next_say = now + settings.say_every
            self._drive_hostiles(now)
            self._read(0.002)
            self._check_observers_alive(observers, listener)

    def _open_count(self) -> int:
        return sum(not hostile.gone for hostile in self.hostiles)

    def _open_hostile(self, index: int) -> None:
        plan = make_plan(self.rng, index)
        self.outcome.plans.append(plan)
        hostile = Hostile(plan, self.server.port)
        self.hostiles.append(hostile)
        if plan.reads:
            self.selector.register(hostile.sock, selectors.EVENT_READ, hostile)

    def _drive_hostiles(self, now: float) -> None:
        for hostile in self.hostiles:
            if hostile.gone:
                continue
            hostile.push(now)
            if hostile.saw_eof:
                self._forget(hostile, "close")
            elif hostile.done_sending and not hostile.half_closed \
                    and hostile.plan.ending != "stay":
                self._forget(hostile, hostile.plan.ending)

    def _forget(self, hostile: Hostile, how: str) -> None:
        if how == "half_close":
            hostile.leave(how)
            return
        if hostile.plan.reads:
            self.selector.unregister(hostile.sock)
        if hostile.half_closed and hostile.saw_eof:
            self.outcome.fins_confirmed.append(hostile.plan)
        hostile.leave(how)

    def _read(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            key.data.read_available()

    def _check_observers_alive(self, observers: list[Observer], listener: Observer) -> None:
        for observer in [*observers, listener]:
            assert not observer.closed, f"the server closed well-behaved {observer.nick}"

    def _wind_down(self, observers: list[Observer], listener: Observer) -> None:
        """Close every hostile connection; give half-closers time to be finished by the
        server (flood control may still be pacing their lines)."""
        for hostile in self.hostiles:
            if not hostile.gone and not hostile.half_closed:
                self._forget(hostile, self.rng.choice(("close", "reset")))
        deadline = time.monotonic() + 20
        while any(not h.gone for h in self.hostiles) and time.monotonic() < deadline:
            self._read(0.01)
            self._drive_hostiles(time.monotonic())
            self._check_observers_alive(observers, listener)
        for hostile in self.hostiles:  # half-closers the server did not finish in time
            if not hostile.gone:
                self._forget(hostile, "close")

    def _exchange_end_markers(self, observers: list[Observer], listener: Observer) -> None:
        for observer in observers:
            observer.say(f"end {observer.nick}")
        machine_ends = {f"MSG {nick} end {nick}" for nick in GOOD_NICKS}
        person_ends = {f"<{nick}> end {nick}" for nick in GOOD_NICKS}
        deadline = time.monotonic() + 30

        def all_ends_seen() -> bool:
            return all(machine_ends <= set(o.lines) for o in observers) \
                and person_ends <= set(listener.lines)

        while not all_ends_seen():
            assert time.monotonic() < deadline, "the end markers did not arrive in time"
            self._read(0.05)
            self._check_observers_alive(observers, listener)


# --- the checks ----------------------------------------------------------------------------

def _cut_at_last(lines: list[str], markers: set[str]) -> list[str]:
    """`lines` up to and including the last of `markers` to appear."""
    return lines[:max(lines.index(marker) for marker in markers) + 1]


def _comparable(nick: str) -> str:
    """Case- and NFKC-blind form of a nickname (the test's own, not the server's)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", nick).casefold())


def check_transcripts(outcome: FuzzOutcome) -> list[str]:
    """One order, nothing lost, no spoofing; returns the common machine transcript."""
    machine_ends = {f"MSG {nick} end {nick}" for nick in GOOD_NICKS}
    transcripts = [_cut_at_last(o.room_events(), machine_ends) for o in outcome.observers]
    common = transcripts[0]
    for observer, transcript in zip(outcome.observers, transcripts):
        assert transcript == common, f"{observer.nick}'s transcript differs from good0's"
    for observer in outcome.observers:  # every line, in order, stamped with its sender
        stamped = [line for line in common if line.startswith(f"MSG {observer.nick} ")]
        assert stamped == [f"MSG {observer.nick} {text}" for text in observer.said]
    good_keys = {_comparable(nick) for nick in (*GOOD_NICKS, LISTENER_NICK)}
    for line in common:
        kind, *words = line.split(" ")
        taken = words[0] if kind == "JOIN" else words[1] if kind == "NICK" else None
        assert taken is None or _comparable(taken) not in good_keys, f"spoofed nick: {line!r}"
    return common


def check_person_sees_the_same(outcome: FuzzOutcome, common: list[str]) -> None:
    """The person's lines after joining are the machine transcript, rendered for people."""
    lines = outcome.listener.lines
    after_join = lines[lines.index(f"*** {LISTENER_NICK} joined") + 1:]
    person_ends = {f"<{nick}> end {nick}" for nick in GOOD_NICKS}
    expected = [render_for_people(decode_event(line)) for line in common]  # type: ignore[arg-type]
    assert _cut_at_last(after_join, person_ends) == expected


def check_nothing_unsafe_arrived(outcome: FuzzOutcome) -> None:
    """No control character, escape or bidi control reached a well-behaved client."""
    for observer in [*outcome.observers, outcome.listener]:
        text = bytes(observer.raw).decode("utf-8")  # raises if the server sent invalid UTF-8
        body = text.replace("\r\n", "\n") if not observer.machine else text
        for line in body.split("\n"):
            assert not UNSAFE_CHARACTER.search(line), f"unsafe text reached {observer.nick}: {line!r}"
        if observer.machine:
            for line in observer.lines:
                decode_event(line)  # raises MalformedEvent for a line that does not fit


def check_half_closers_were_heard(outcome: FuzzOutcome, common: list[str]) -> None:
    """Lines sent before a half-close were handled and relayed before the server closed."""
    for plan in outcome.fins_confirmed:
        assert f"MSG {plan.fin_nick} {plan.fin_text}" in common, \
            f"hostile {plan.index} half-closed; its last line was not relayed"


def check_server_kept_nothing(server: ServerProcess, outcome: FuzzOutcome) -> None:
    """No connection, task or descriptor is left for a hostile connection; a newcomer is
    served; SIGTERM ends the server cleanly with no traceback logged."""
    newcomer = machine_client(server.port, "newcomer")
    connections = len(outcome.observers) + 2  # the observers, the person, the newcomer
    figures = wait_for_stats(
        newcomer, lambda f: f["tasks"] == str(expected_tasks(connections)), timeout=15)
    assert figures["clients"] == str(connections)
    assert figures["joined"] == str(connections)
    assert figures["tasks"] == str(expected_tasks(connections))
    descriptors = outcome.descriptors_before + 1  # and the newcomer's
    assert wait_for_descriptors(server.pid, descriptors, 5) == descriptors
    newcomer.send_line("still here after the fuzz")
    good0 = outcome.observers[0].client
    good0.sock.setblocking(True)
    assert good0.read_until("MSG newcomer")[-1] == "MSG newcomer still here after the fuzz"
    close_all([newcomer, *(o.client for o in outcome.observers), outcome.listener.client])
    assert server.stop() == 0
    stderr = server.stderr_text()
    assert "Traceback" not in stderr
    assert "crashed" not in stderr and "failed" not in stderr


@contextmanager
def seed_in_failures(seed: int) -> Iterator[None]:
    """Name the seed in any failure, so the run can be replayed."""
    print(f"fuzz seed {seed} (replay with CHAT_FUZZ_SEED={seed})")
    try:
        yield
    except Exception as error:
        raise AssertionError(f"[fuzz seed {seed}] {type(error).__name__}: {error}") from error


def fuzz(server: ServerProcess, settings: FuzzSettings, *, min_fins_confirmed: int) -> None:
    """Run the fuzzer against `server` and check everything the module promises."""
    with seed_in_failures(settings.seed):
        outcome = FuzzRun(server, settings).run()
        assert len(outcome.plans) == settings.hostiles
        common = check_transcripts(outcome)
        check_person_sees_the_same(outcome, common)
        check_nothing_unsafe_arrived(outcome)
        check_half_closers_were_heard(outcome, common)
        assert len(outcome.fins_confirmed) >= min_fins_confirmed
        check_server_kept_nothing(server, outcome)
        hostile_events = [line for line in common if not line.split(" ")[1].startswith("good")]
        print(f"{len(common)} room events, {len(hostile_events)} from hostile connections; "
              f"endings {Counter(plan.ending for plan in outcome.plans)}; "
              f"{len(outcome.fins_confirmed)} half-closers relayed")


def test_plans_are_reproducible_from_the_seed() -> None:
    first = [make_plan(random.Random(FUZZ_SEED), index) for index in range(5)]
    again = [make_plan(random.Random(FUZZ_SEED), index) for index in range(5)]
    assert first == again


@pytest.mark.fuzz
@pytest.mark.timeout(120)
def test_fuzz_without_flood_control(server_factory) -> None:
    server = server_factory("--flood", "off")
    fuzz(server, FuzzSettings(seed=FUZZ_SEED, hostiles=40, concurrency=10, duration=12.0,
                              say_every=0.05), min_fins_confirmed=6)


@pytest.mark.fuzz
@pytest.mark.timeout(120)
def test_fuzz_with_flood_control(server_factory) -> None:
    # The default flood control: hostile readers sleep; well-behaved clients stay under it.
    server = server_factory()
    fuzz(server, FuzzSettings(seed=FUZZ_SEED + 1, hostiles=20, concurrency=8, duration=7.0,
                              say_every=0.35), min_fins_confirmed=2)
