"""A socket-level fuzzer: hostile connections throw adversarial bytes at a real server while
well-behaved clients chat, and the room must not notice.

Each run is seeded and bounded in time and count. The seed decides every hostile
connection's plan: the bytes it sends (random bytes, overlong lines, invalid UTF-8, NUL,
escape sequences, bidi controls, telnet negotiation, commands with odd arguments,
nickname spoofs, friendly chat), how they are split into writes and paced, whether it
reads, and how it leaves (close, reset, half-close, /quit, or staying to the end). Network
timing is not seeded: a failing seed replays the same plans, not the same interleaving.
To try other seeds: `CHAT_FUZZ_SEED=123 pytest -m fuzz tests/server/test_fuzz.py`.

Hostile connections also speak version 2: /join with valid, look-alike, overlong,
unicode, control-character and bidi room names, /part with junk, /in nested or with
garbage, /topic with escapes, /history with bad numbers and huge counts, floods of
/rooms, /hello with odd versions, and random joins and parts of the rooms below.

And they try the operators' commands: /oper with right and wrong tokens (the server runs
with `--oper-password`, so many become operators), then /kick, /ban (nicks, addresses of
every form, durations fractional, negative, zero, huge, nan, inf, words), /unban, /bans,
/mute, /unmute, /readonly on|off|junk, /slow (zero, fractional, negative, huge, words),
/op and /deop, each also inside /in ROOM; and /pass. Hostile operators act on each other,
on the well-behaved clients and on whole rooms, the default one included.

Every well-behaved client is an operator (the v2 ones by /oper, the rest made so by
the first of them, before the transcripts start), because the server promises that
operators cannot be kicked, banned or muted, and may speak in read-only and slow rooms:
the fuzz proves it. The one thing an operator may do to another is /deop, so hostile
/deop lines name only hostile nicknames and junk. A half-closer (whose last line must be
relayed) becomes an operator with its first line and takes nicknames no hostile names.

Throughout, four version 1 machine clients say numbered lines in the default room and one
person (no /hello) listens there. Four version 2 clients stay in the default room and in
two of three rooms each, saying numbered lines in their rooms; two more roam, joining and
leaving the three rooms at random and talking wherever they are. Hostile connections may
join and chat too: they are part of the rooms, so their events are in every transcript.
Afterwards, in the default room:
- every well-behaved transcript of room events, from the moment all of them were in the
  room and operators (the NOTICE that made the person one), is the same sequence, the person's line for line in its own rendering;
- it holds every well-behaved line, in order, stamped with its sender's nick, and no
  line carries a well-behaved nick that its owner did not send;
- no JOIN or NICK took a name equal (case, NFKC) to a well-behaved member's;
- nothing any of them received holds a control character, escape or bidi control, and
  every machine line decodes;
- the lines a hostile connection sent before half-closing were relayed;
- the server keeps no connection, task or descriptor for a hostile connection, serves a
  newcomer, never logs a traceback, and exits 0 on SIGTERM.
In each room (room_views.py has the checks by id):
- every event id a well-behaved v2 client received carries the same line for all of them,
  each stay in a room has consecutive ids from the client's own JOIN, and the history
  replayed at each join is exactly the events before that JOIN;
- every stayer saw the room from its JOIN to every stayer's end marker, so their
  transcripts are identical; the default room's is the version 1 transcript, line for line;
- each well-behaved sender's lines are in the room, in order, and no NICK or foreign JOIN
  took a well-behaved name; everything decodes and nothing unsafe arrived.
"""

from __future__ import annotations

import random
import re
import selectors
import socket
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

import pytest

from chat_testing import LineClient, ServerProcess, close_all, machine_client
from fuzz_testing import FUZZ_SCALE, FUZZ_SEED, seed_in_failures
from process_probes import (
    TASKS_PER_CONNECTION, open_descriptors, reset, wait_for_descriptors, wait_for_stats,
)
from protocol import (
    DEFAULT_ROOM, LineFramer, decode_event, event_line, render_for_people, room_key,
)
from room_views import RoomViews, check_stayers_agree, check_views, sender_and_text

GOOD_NICKS = ("good0", "good1", "good2", "good3")  # version 1, in the default room
LISTENER_NICK = "watcher"  # the person, who joins last: transcripts are compared from here
ROOMS = ("#alpha", "#beta", "#gamma")
ROOM_STAYERS = ("roomy0", "roomy1", "roomy2", "roomy3")  # v2: two rooms each, all along
ROAMERS = ("roamer0", "roamer1")  # v2: join and part the rooms at random
STAYER_ROOMS = {nick: (ROOMS[i % 3], ROOMS[(i + 1) % 3]) for i, nick in enumerate(ROOM_STAYERS)}
WELL_BEHAVED = (*GOOD_NICKS, LISTENER_NICK, *ROOM_STAYERS, *ROAMERS)
HISTORY_ON_JOIN = 50  # the server's default
OPER_TOKEN = "fuzz-oper-token"  # --oper-password: hostile connections know it too
OPERATOR = ROOM_STAYERS[0]  # makes the version 1 clients and the person operators
START_MARK = f"INFO {OPERATOR} made {LISTENER_NICK} an operator"  # transcripts start after
PERSON_START = f"*** {OPERATOR} made {LISTENER_NICK} an operator"  # the same, for the person
PERSON_OPERATOR = "*** you are now an operator: /help lists what you may do"
# Version 1 has no topics or operators: a TOPIC or a NOTICE reaches it (and the person) as
# INFO, the only INFO a well-behaved client that sends no commands is sent once it is an
# operator, so it is part of the transcript.
ROOM_EVENT_KINDS = frozenset({"JOIN", "PART", "NICK", "MSG", "ACTION", "INFO"})
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
    "ɡood1", "good2_", "good-3", "ROOMY0", "ｒｏｏｍｙ1", "Roamer0", "ＲＯＡＭＥＲ1",
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

# Version 2. Room names the rooms of the run answer to, and names that must be refused.
ROOM_ALIASES = ["#alpha", "alpha", "#ALPHA", "#ａｌｐｈａ", "beta", "#Beta", "#gamma", "GAMMA",
                "#lobby", "lobby"]
ODD_ROOMS = [
    "#", "##", "#a b", "#" + "r" * 32, "#" + "r" * 33, "#" + "é" * 40, "#" + "r" * 3000,
    "#a\x1b[31mb", "#\x00", "#\u202eevil", "#\u2066x\u2069", "#a,b", "#a.b", "#\u0301x",
    "#房间", "#гости", "#x\u200dy", "#🎲", "&alpha", "#alpha\u0301", "#ǅ", "#١٢٣", "#-_-",
    "#\x07bell", "#tab\there",
]
PARTS = [
    "/part", "/part  ", "/part junk words", "/part #nosuch", "/part #alpha \x1b[31mred",
    "/part lobby", "/part #beta \u202ebye", "/part #" + "p" * 40, "/part ### x", "/PART beta",
    "/part gamma " + "r" * 3000,
]
IN_LINES = [
    "/in", "/in #alpha", "/in #alpha  ", "/in #alpha /in #beta hi", "/in #alpha hi there",
    "/in #nosuch hi", "/in beta /me waves \x1b[5m", "/in #alpha /topic \x1b]0;x\x07",
    "/in #gamma /part", "/in #alpha //in #beta", "/in #alpha /join #gamma", "/in #\x00 hi",
    "/in #alpha /nick good0", "/in #alpha /hello x 2", "/in #alpha /history #alpha latest 5",
    "/in #beta /who", "/in #alpha /rooms", "/in " + "#a" * 1000 + " hi", "/in #alpha /",
    "/in #alpha /in", "/IN ALPHA hi",
]
TOPICS = [
    "/topic", "/topic   ", "/topic \x1b[2J\x1b[H", "/topic \x1b]0;owned\x07 title",
    "/topic \u202eevil", "/topic " + "t" * 3000, "/topic 👋 hello", "/TOPIC x",
    "/in #alpha /topic \u2066isolate", "/topic\tx",
]
HISTORIES = [
    "/history", "/history #alpha", "/history #alpha latest", "/history #alpha latest 0",
    "/history #alpha latest 500", "/history #alpha latest 501", "/history #lobby latest 500",
    "/history #alpha latest 99999999999999999999", "/history #alpha before -1",
    "/history #alpha before 1e3 5", "/history #alpha after 0 500", "/history #alpha after 1",
    "/history #alpha before ٣", "/history #alpha latest ²", "/history #alpha sideways 3",
    "/history #alpha after 18446744073709551616 5", "/history #alpha before 9223372036854775808",
    "/history #alpha after 99999999999999999999999999999 1", "/history #nosuch latest",
    "/history #\x1b[31m latest", "/history #alpha latest 5 6", "/history alpha BEFORE 10 2",
    "/history #alpha after 0x10", "/history #alpha before 00000000000000000000000000001",
]
HELLOS = [
    "/hello x 2", "/hello x 1", "/hello x 0", "/hello x -1", "/hello x 99999999999999999999",
    "/hello x ２", "/hello x 2.5", "/hello x 3", "/hello x v2", "/hello x 2 extra",
    "/hello \x1b[31m 2", "/HELLO x 2", "/hello x ²",
]

# Operators and access. Targets of /kick, /ban and /mute may be anyone, well-behaved
# operators included (refused); /deop targets never a well-behaved nick, a look-alike or
# a half-closer's (see the module docstring). Three wrong tokens close a connection.
WRONG_OPERS = [
    "/oper", "/oper wrong", "/oper " + OPER_TOKEN.upper(), "/oper " + OPER_TOKEN + "x",
    "/oper " + OPER_TOKEN[:-1], "/oper \x00", "/OPER " + "t" * 3000, "/oper " + OPER_TOKEN + " x",
    "/oper \u202e" + OPER_TOKEN, "/in #alpha /oper guess",  # (sanitising may make one right)
]
PASSES = ["/pass", "/pass x", "/pass " + "p" * 3000, "/pass \x1b[31m", "/PASS  secret  ",
          "/pass " + OPER_TOKEN, "/in #alpha /pass x"]
DURATIONS = [
    "0.5", "-5", "0", "1e12", "1e999", "nan", "inf", "-inf", "Infinity", "NaN", "words",
    "1e-9", "0.0001", "5256000", "5256001", "\u0663", "1_000", "+5", ".5", "0x10", "5 minutes",
    "-0", "99999999999999999999999",
]
ADDRESSES = [
    "127.0.0.1", "::ffff:127.0.0.1", "[::ffff:7f00:1]", "0:0:0:0:0:ffff:127.0.0.1", "::1",
    "[::1]", "10.0.0.5", "192.0.2.1", "2001:db8::1", "0.0.0.0", "255.255.255.255",
    "127.0.0.01", "127.1", "fe80::1%eth0", "1.2.3.4/24", "::", "[", "[]", "1.2.3.4:80",
]
NO_ONE = ["nobody", "x" * 40, "\x1b[31mred", "#alpha", "*", "\U0001f600", "-", ".."]
# Junk that may still name a well-behaved client (sanitising drops the bidi control):
JUNK_TARGETS = [*NO_ONE, "@good0", "good0,good1", "\u202egood0", "watcher\u2069"]
READ_ONLY_ARGS = ["", "on", "off", "ON", "Off", "junk", "on off", "\x1b[31m", "1", "o\u0301n"]
SLOW_ARGS = ["0", "0.5", "0.001", "-1", "-0", "2", "86400", "86401", "1e12", "1e999", "nan",
             "inf", "x", "", "3 seconds", "\u0663", "1e-300", "  1  "]
REASONS = ["", "spam", "\x1b[2J gone", "\u202eevil", "r" * 3000, "👋 bye", "tab\there"]
HOSTILE_NICK_WINDOW = 10  # operator commands name hostile peers opened this shortly before

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


def _quiet_nick(rng: random.Random, index: int) -> str:
    """A half-closer's nickname: no hostile line names these, so none is deopped."""
    return rng.choice([f"q{index}", f"Ｑ{index}", f"ф{index}"])


def _piece_makers(rng: random.Random, index: int, may_quit: bool,
                  may_roam: bool) -> list[Callable[[], bytes]]:
    """Makers of one adversarial piece each; the plan strings random ones together."""
    nick = _hostile_nick if may_roam else _quiet_nick
    makers: list[Callable[[], bytes]] = [
        lambda: _text_line(nick(rng, index)),  # talker-style join
        lambda: _text_line(f"/nick {nick(rng, index)}"),
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
    if may_roam:
        makers += _room_piece_makers(rng) + _operator_piece_makers(rng, index)
    return makers


def _room_piece_makers(rng: random.Random) -> list[Callable[[], bytes]]:
    """Version 2 pieces: they may move the connection's current room, or change its
    version, so a half-closer (whose last line must reach the default room) has none."""
    return [
        lambda: _text_line("/join " + rng.choice(ROOM_ALIASES)),
        lambda: _text_line("/join " + rng.choice(ROOM_ALIASES)) + _text_line(rng.choice(FRIENDLY)),
        lambda: _text_line(rng.choice(["/join ", "/JOIN ", "/join  "]) + rng.choice(ODD_ROOMS)),
        lambda: _text_line("/join " + "".join(chr(rng.randint(0x20, 0x2fff))
                                              for _ in range(rng.randint(1, 40)))),
        lambda: _text_line(rng.choice(PARTS)),
        lambda: _text_line(f"/part {rng.choice(ROOM_ALIASES)} {rng.choice(FRIENDLY)}"),
        lambda: _text_line(rng.choice(IN_LINES)),
        lambda: _text_line(f"/in {rng.choice(ROOM_ALIASES)} {rng.choice(FRIENDLY)}"),
        lambda: _text_line(rng.choice(TOPICS)),
        lambda: _text_line(rng.choice(HISTORIES)),
        lambda: _text_line("/rooms") * rng.randint(1, 60),
        lambda: _text_line(rng.choice(HELLOS)),
        lambda: _text_line("/who " + rng.choice(ROOM_ALIASES + ODD_ROOMS)),
    ]


def _operator_piece_makers(rng: random.Random, index: int) -> list[Callable[[], bytes]]:
    """The operators' commands and /pass, with random and hostile arguments, aimed at
    peers opened shortly before connection `index` (so often still there)."""
    return [
        lambda: _text_line("/oper " + OPER_TOKEN),
        lambda: _text_line(rng.choice(WRONG_OPERS)),
        lambda: _text_line(rng.choice(PASSES)),
        lambda: _text_line(_maybe_in(rng, _moderation_line(rng, index))),
        lambda: _text_line(_maybe_in(rng, _moderation_line(rng, index))),
        lambda: _text_line(_maybe_in(rng, _moderation_line(rng, index))),
        lambda: b"".join(_text_line(_moderation_line(rng, index)) for _ in range(rng.randint(2, 20))),
        lambda: _text_line("/bans") * rng.randint(1, 30),
    ]


def _maybe_in(rng: random.Random, line: str) -> str:
    """`line`, or `line` inside `/in ROOM` (a room of the run, or an odd name)."""
    if rng.random() < 0.6:
        return line
    return f"/in {rng.choice(ROOM_ALIASES + ODD_ROOMS[:8])} {line}"


def _target(rng: random.Random, index: int) -> str:
    """Someone to kick, ban or mute: well-behaved (refused: operators), a look-alike, a
    hostile nickname or junk; never a half-closer's."""
    hostile = _hostile_nick(rng, _near(rng, index))
    return rng.choice([rng.choice(WELL_BEHAVED), rng.choice(LOOKALIKE_NICKS), hostile,
                       hostile, rng.choice(JUNK_TARGETS)])


def _deop_target(rng: random.Random, index: int) -> str:
    """Someone to /deop: a hostile nickname or junk (a hostile operator could otherwise
    take a well-behaved one's rights, which operators may do; that is no bug)."""
    if rng.random() < 0.2:
        return rng.choice(NO_ONE)
    return _hostile_nick(rng, _near(rng, index))


def _near(rng: random.Random, index: int) -> int:
    """A hostile index a little before `index`: likely a peer still connected."""
    return max(0, index - rng.randint(0, HOSTILE_NICK_WINDOW))


def _moderation_line(rng: random.Random, index: int) -> str:
    """One operator command, with arguments drawn from the tables above."""
    words = rng.choice([
        lambda: ["/kick", _target(rng, index), rng.choice(REASONS)],
        lambda: ["/ban", _target(rng, index), rng.choice(DURATIONS), rng.choice(REASONS)],
        lambda: ["/ban", rng.choice(ADDRESSES), rng.choice(DURATIONS), rng.choice(REASONS)],
        lambda: ["/ban", rng.choice([_target(rng, index), rng.choice(ADDRESSES)])],
        lambda: ["/unban", rng.choice([_target(rng, index), rng.choice(ADDRESSES), ""])],
        lambda: ["/bans", rng.choice(["", "extra words"])],
        lambda: ["/mute", _target(rng, index), rng.choice(DURATIONS + [""])],
        lambda: ["/unmute", rng.choice([_target(rng, index), "", "a b"])],
        lambda: ["/readonly", rng.choice(READ_ONLY_ARGS)],
        lambda: ["/slow", rng.choice(SLOW_ARGS)],
        lambda: ["/op", rng.choice([_target(rng, index), "", "a b"])],
        lambda: ["/deop", _deop_target(rng, index)],
    ])()
    return " ".join(words).rstrip(" ")


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
    if index == 0:
        return _survey_plan(rng)
    ending = rng.choice(("close", "reset", "stay", "half_close"))
    if index % 5 == 4:  # every fifth one for sure, so each run checks several
        ending = "half_close"
    reads = ending == "half_close" or rng.random() < 0.7
    if ending != "half_close" and rng.random() < 0.1:  # connect and vanish at once
        return HostilePlan(index, [], [], reads, ending)
    makers = _piece_makers(rng, index, may_quit=ending != "half_close",
                           may_roam=ending != "half_close")
    pieces = [makers[0]()] if rng.random() < 0.7 else []
    if ending == "half_close":  # an operator all along: no room mode keeps its last line out
        pieces.insert(0, _text_line(f"/oper {OPER_TOKEN}"))
    elif rng.random() < 0.4:  # many hostile operators, from early on
        pieces.append(_text_line(f"/oper {OPER_TOKEN}"))
    pieces += [rng.choice(makers)() for _ in range(rng.randint(3, 30))]
    plan = HostilePlan(index, [], [], reads, ending)
    if ending == "half_close":
        plan.fin_nick = f"hfin{index}"
        pieces.append(CLEAN_BREAK + _text_line(f"/nick {plan.fin_nick}")
                      + _text_line(plan.fin_text))
    plan.chunks = _split_randomly(rng, b"".join(pieces))
    plan.gaps = [0.0 if rng.random() < 0.7 else rng.uniform(0, 0.03) for _ in plan.chunks]
    return plan


def _survey_plan(rng: random.Random) -> HostilePlan:
    """The first hostile connection of every run sends each hostile v2 line once (its
    /hello last: a version 1 would refuse the rest), so every run covers them all."""
    lines = [_hostile_nick(rng, 0), "/join #alpha", *("/join " + room for room in ODD_ROOMS),
             *PARTS, "/join #alpha", *IN_LINES, "/join #beta", *TOPICS, *HISTORIES,
             *_survey_operator_lines(), "/rooms", *HELLOS]
    chunks = _split_randomly(rng, b"".join(_text_line(line) for line in lines))
    return HostilePlan(0, chunks, [0.0] * len(chunks), reads=True, ending="stay")


def _survey_operator_lines() -> list[str]:
    """Each operator argument once, first as no operator (refused), then as one (two
    wrong tokens first: the third would end the connection)."""
    acts = [*(f"/ban {address} 0.5 survey" for address in ADDRESSES),
            *(f"/mute h3 {duration}" for duration in DURATIONS),
            *(f"/in #alpha /ban h4 {duration} survey" for duration in DURATIONS),
            *(f"/readonly {word}" for word in READ_ONLY_ARGS),
            *(f"/in #lobby /slow {seconds}" for seconds in SLOW_ARGS),
            *(f"/kick {nick} {REASONS[2]}" for nick in (*WELL_BEHAVED, *LOOKALIKE_NICKS)),
            *(f"/in #alpha /mute {nick} 1e12" for nick in WELL_BEHAVED),
            *(f"/ban {nick} 1e999" for nick in WELL_BEHAVED), f"/op {GOOD_NICKS[1]}",
            *(f"/unban {target}" for target in (*ADDRESSES[:8], *JUNK_TARGETS)),
            "/bans", "/unmute h3", "/deop h99", "/op", "/deop", "/in #beta /readonly off",
            "/in #lobby /readonly on", "/in #lobby /slow 86400", "/in #alpha /slow 0.5",
            "/in #lobby /readonly off", "/in #lobby /slow 0", "/in #alpha /slow 0"]
    return [*acts[:10], *PASSES, WRONG_OPERS[1], WRONG_OPERS[2], f"/oper {OPER_TOKEN}", *acts]


# --- the clients ---------------------------------------------------------------------------

class Observer:
    """A well-behaved client: joins, says numbered lines at a steady pace, reads everything."""

    version = 1  # the protocol it speaks, when `machine`

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
        """Machine room events received since the listener was made an operator."""
        events = [line for line in self.lines if line.split(" ", 1)[0] in ROOM_EVENT_KINDS]
        return events[events.index(START_MARK) + 1:]


class RoomMember(Observer):
    """A well-behaved version 2 client: in the default room and in `rooms`; a roamer
    joins and parts the run's rooms at random. It says its lines with `/in ROOM`, so it
    knows which room each goes to."""

    version = 2

    def __init__(self, client: LineClient, nick: str, lines_already_read: list[str],
                 roams: bool) -> None:
        super().__init__(client, nick, machine=True, lines_already_read=tuple(lines_already_read))
        self.views = RoomViews(nick)
        for line in self.lines:
            self.views.feed(line)
        self.rooms: list[str] = []  # the run's rooms it is in (as far as it has asked)
        self.roams = roams
        self.said_in: dict[str, list[str]] = {room_key(room): [] for room in ROOMS}

    def join(self, room: str) -> None:
        """Ask to join `room`."""
        self._send(f"/join {room}")
        self.rooms.append(room)

    def part(self, room: str) -> None:
        """Ask to leave `room`."""
        self._send(f"/part {room}")
        self.rooms.remove(room)

    def say_in(self, room: str, text: str) -> None:
        """Say `text` in `room` (one it is in)."""
        self._send(f"/in {room} {text}")
        self.said_in[room_key(room)].append(text)

    def read_available(self) -> None:
        """Read what has arrived, and file the room events."""
        already = len(self.lines)
        super().read_available()
        for line in self.lines[already:]:
            self.views.feed(line)

    def _send(self, line: str) -> None:
        self.sock.settimeout(5)
        self.sock.sendall(_text_line(line))
        self.sock.setblocking(False)


def join_v2(port: int, nick: str, rooms: tuple[str, ...], roams: bool,
            ask_stats: bool = False) -> RoomMember:
    """A version 2 operator that joined the server and `rooms`, and read up to the last
    (and then its /stats, if asked: read here, so nothing it was sent is missed).

    It says /oper before /nick, so no room hears of it: no NOTICE before its JOINs."""
    client = LineClient(port)
    client.send_line("/hello fuzz 2", f"/oper {OPER_TOKEN}", f"/nick {nick}",
                     *(f"/join {room}" for room in rooms))
    last = f"CURRENT {rooms[-1]}" if rooms else f"JOIN {DEFAULT_ROOM} "
    lines = client.read_until(lambda line: line.startswith(last) and
                              (rooms or line.endswith(f" {nick}")))
    if ask_stats:
        client.send_line("/stats")
        lines += client.read_until("STATS ")
    member = RoomMember(client, nick, lines, roams)
    member.rooms = list(rooms)
    return member


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
    members: list[RoomMember]  # the version 2 clients, stayers first
    descriptors_before: int  # the server's open descriptors with only the observers connected
    server_tasks: int  # the tasks the server runs with no connection (one per listener...)
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
        members = self._join_members()
        first_stats = decode_event(next(line for line in members[0].lines
                                        if line.startswith("STATS ")))
        server_tasks = int(first_stats.as_dict()["tasks"]) - TASKS_PER_CONNECTION  # type: ignore[union-attr]
        self.outcome = FuzzOutcome([], members[0], members, 0, server_tasks)
        observers, listener = self._join_observers()
        self.outcome.observers, self.outcome.listener = observers, listener
        self.outcome.descriptors_before = open_descriptors(self.server.pid)
        try:
            self._fuzz(observers, listener)
            self._wind_down(observers, listener)
            self._exchange_end_markers(observers, listener)
            self._exchange_room_end_markers()
            self._reopen_default_room()
        finally:
            for hostile in self.hostiles:
                if not hostile.gone:
                    hostile.sock.close()
            self.selector.close()
        return self.outcome

    def _join_members(self) -> list[RoomMember]:
        """The version 2 clients: stayer i is in rooms i and i+1 (of three), so every
        room has two stayers or more; the roamers start in the default room only."""
        port = self.server.port
        members = [join_v2(port, nick, rooms, roams=False, ask_stats=nick == OPERATOR)
                   for nick, rooms in STAYER_ROOMS.items()]
        members += [join_v2(port, nick, (), roams=True) for nick in ROAMERS]
        for member in members:
            member.sock.setblocking(False)
            self.selector.register(member.sock, selectors.EVENT_READ, member)
        return members

    def _join_observers(self) -> tuple[list[Observer], Observer]:
        port = self.server.port
        observers = [Observer(machine_client(port, nick), nick, machine=True)
                     for nick in GOOD_NICKS]
        self._register(observers)
        self._make_operators(GOOD_NICKS)  # version 1 has no /oper: the operator ops them
        person = LineClient(port)
        person.read_line()  # the greeting
        person.send_line(LISTENER_NICK)  # talker style: the first line is the nickname
        joined = person.read_until(f"*** {LISTENER_NICK} joined")[-1]
        current = person.read_until("*** You are now talking in")[-1]
        listener = Observer(person, LISTENER_NICK, machine=False,
                            lines_already_read=(joined, current))
        self._register([listener])
        self._make_operators([LISTENER_NICK])
        self._read_until(lambda: PERSON_START in listener.lines
                         and PERSON_OPERATOR in listener.lines, "the person's rights")
        return observers, listener

    def _register(self, observers: list[Observer]) -> None:
        for observer in observers:
            observer.sock.setblocking(False)
            self.selector.register(observer.sock, selectors.EVENT_READ, observer)

    def _make_operators(self, nicks: Iterable[str]) -> None:
        """The operator makes `nicks` operators; read until its room has heard of each."""
        operator = self.outcome.members[0]
        for nick in nicks:
            operator._send(f"/op {nick}")
        ends = {f" {OPERATOR} made {nick} an operator" for nick in nicks}
        self._read_until(lambda: all(any(line.endswith(end) for line in operator.lines)
                                     for end in ends), "the operators' NOTICEs")

    def _read_until(self, done: Callable[[], bool], what: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"{what} did not arrive in time"
            self._read(0.02)

    def _reopen_default_room(self) -> None:
        """Undo what hostile operators left on the default room (read-only, slow), so
        the newcomer, who is no operator, may speak there."""
        operator = self.outcome.members[0]
        operator._send(f"/in {DEFAULT_ROOM} /readonly off")
        operator._send(f"/in {DEFAULT_ROOM} /slow 0")
        ends = (f" {OPERATOR} opened the room: everyone may speak",
                f" {OPERATOR} turned slow mode off")
        self._read_until(lambda: all(any(line.endswith(end) for line in operator.lines)
                                     for end in ends), "the default room's reopening")

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
                self._talk_in_rooms(sequence)
                sequence += 1
                next_say = now + settings.say_every
            self._drive_hostiles(now)
            self._read(0.002)
            self._check_observers_alive(observers, listener)

    def _talk_in_rooms(self, sequence: int) -> None:
        """Each v2 client says a line in one of its rooms; every third turn a roamer
        first joins or parts a room (so it stays under the default flood control)."""
        for member in self.outcome.members:
            if member.roams and sequence % 3 == 0:
                self._roam(member)
            if member.rooms:
                room = member.rooms[sequence % len(member.rooms)]
                member.say_in(room, f"seq {sequence} from {member.nick}")

    def _roam(self, member: RoomMember) -> None:
        outside = [room for room in ROOMS if room not in member.rooms]
        if outside and (len(member.rooms) < 2 or self.rng.random() < 0.5):
            member.join(self.rng.choice(outside))
        elif member.rooms:
            member.part(self.rng.choice(member.rooms))

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
        for observer in [*observers, listener, *self.outcome.members]:
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
            assert time.monotonic() < deadline, "the end markers did not arrive in time: " \
                f"{[(o.nick, [l for l in o.lines if l.startswith(('ERROR', 'INFO'))][-3:]) for o in observers]}"
            self._read(0.05)
            self._check_observers_alive(observers, listener)


    def _exchange_room_end_markers(self) -> None:
        """Each stayer says `end NICK` in each of its rooms; read until every stayer of a
        room has every stayer's marker of that room (roamers read along)."""
        stayers = [member for member in self.outcome.members if not member.roams]
        for member in stayers:
            for room in member.rooms:
                member.say_in(room, f"end {member.nick}")
        deadline = time.monotonic() + 30
        while not all(_room_ends(member) <= set(_live_lines(member)) for member in stayers):
            assert time.monotonic() < deadline, "the room end markers did not arrive in time"
            self._read(0.05)
            self._check_observers_alive(self.outcome.observers, self.outcome.listener)


def _room_ends(member: RoomMember) -> set[str]:
    """The end markers of every stayer of `member`'s rooms, as (room, nick, text)."""
    return {(room_key(room), nick, f"end {nick}")
            for nick, rooms in STAYER_ROOMS.items() for room in rooms if room in member.rooms}


def _live_lines(member: RoomMember) -> Iterator[tuple[str, str, str]]:
    """(room key, nick, text) of every MSG `member` received live."""
    for membership in member.views.memberships:
        for line in membership.lines():
            kind, nick, text = sender_and_text(line)
            if kind == "MSG":
                yield membership.room, nick, text


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
    good_keys = {_comparable(nick) for nick in WELL_BEHAVED}
    for line in common:
        kind, *words = line.split(" ")
        taken = words[0] if kind == "JOIN" else words[1] if kind == "NICK" else None
        assert taken is None or _comparable(taken) not in good_keys, f"spoofed nick: {line!r}"
    return common


def check_rooms(outcome: FuzzOutcome, common: list[str]) -> dict[str, dict[int, str]]:
    """Each room's transcript, by id, for the v2 clients (see room_views.py); the
    default room's is also the v1 one. Returns every room's events by id."""
    members = outcome.members
    by_id = check_views([member.views for member in members], HISTORY_ON_JOIN)
    stayers = [member for member in members if not member.roams]
    for room in (DEFAULT_ROOM, *ROOMS):
        in_room = [m for m in stayers if room == DEFAULT_ROOM or room in STAYER_ROOMS[m.nick]]
        speakers = GOOD_NICKS if room == DEFAULT_ROOM else [m.nick for m in in_room]
        check_stayers_agree(room_key(room), [member.views for member in in_room],
                            {(nick, f"end {nick}") for nick in speakers})
        for member in members:
            said = [f"MSG {nick} {text}" for nick, text in _said_by(member, room, by_id)]
            assert said == [f"MSG {member.nick} {text}"
                            for text in member.said_in.get(room_key(room), [])], \
                f"{member.nick}'s lines in {room} are not all there, in order"
    for member in stayers:
        check_default_room_is_the_v1_one(member, common)
    check_no_spoofed_names(by_id, members)
    return by_id


def _said_by(member: RoomMember, room: str, by_id: dict[str, dict[int, str]]
             ) -> Iterator[tuple[str, str]]:
    """(nick, text) of each MSG of `room` stamped with `member`'s nick, in id order."""
    events = by_id.get(room_key(room), {})
    for event_id in sorted(events):
        kind, nick, text = sender_and_text(events[event_id])
        if kind == "MSG" and nick == member.nick:
            yield nick, text


def check_default_room_is_the_v1_one(member: RoomMember, common: list[str]) -> None:
    """A v2 stayer's default room, in version 1 form from the person's JOIN on, is the
    version 1 transcript."""
    stays = member.views.in_room(room_key(DEFAULT_ROOM))
    assert len(stays) == 1 and not stays[0].parted, f"{member.nick} left {DEFAULT_ROOM}"
    as_v1 = [event_line(decode_event(line, 2)) for line in stays[0].lines()]
    after = as_v1[as_v1.index(START_MARK) + 1:]
    assert after[:len(common)] == common, f"{member.nick}'s {DEFAULT_ROOM} differs from v1's"


def check_no_spoofed_names(by_id: dict[str, dict[int, str]], members: list[RoomMember]) -> None:
    """No room event names someone with a well-behaved name (case, NFKC), except that
    client's own JOINs, PARTs, lines and (the operator's) NOTICEs."""
    good_keys = {_comparable(nick) for nick in WELL_BEHAVED}
    nicks = {member.nick for member in members}
    own = {(m.room, event_id) for member in members
           for m in member.views.memberships for event_id, line in m.events
           if line.split(" ", 5)[4] == member.nick
           and line.startswith(("JOIN", "PART", "MSG", "NOTICE"))}
    for room, events in by_id.items():
        for event_id, line in events.items():
            inner = decode_event(line, 2).event  # type: ignore[union-attr]
            names = [getattr(inner, "nick", None), getattr(inner, "old", None),
                     getattr(inner, "new", None)]
            for name in names:
                if name is None or _comparable(name) not in good_keys:
                    continue
                assert name in WELL_BEHAVED and not line.startswith("NICK"), \
                    f"spoofed name: {line!r}"
                assert name not in nicks or (room, event_id) in own, f"not theirs: {line!r}"


def check_person_sees_the_same(outcome: FuzzOutcome, common: list[str]) -> None:
    """The person's lines after joining are the machine transcript, rendered for people."""
    lines = outcome.listener.lines
    # The NOTICE that made the person an operator, and the INFO that told it, in either
    # order (a reply and a room event): the transcript follows.
    start = max(lines.index(PERSON_START), lines.index(PERSON_OPERATOR)) + 1
    person_ends = {f"<{nick}> end {nick}" for nick in GOOD_NICKS}
    expected = [render_for_people(decode_event(line)) for line in common]  # type: ignore[arg-type]
    assert _cut_at_last(lines[start:], person_ends) == expected


def check_nothing_unsafe_arrived(outcome: FuzzOutcome) -> None:
    """No control character, escape or bidi control reached a well-behaved client."""
    for observer in [*outcome.observers, outcome.listener, *outcome.members]:
        text = bytes(observer.raw).decode("utf-8")  # raises if the server sent invalid UTF-8
        body = text.replace("\r\n", "\n") if not observer.machine else text
        for line in body.split("\n"):
            assert not UNSAFE_CHARACTER.search(line), f"unsafe text reached {observer.nick}: {line!r}"
        if observer.machine:
            for line in observer.lines:
                decode_event(line, observer.version)  # raises MalformedEvent if it does not fit


def check_half_closers_were_heard(outcome: FuzzOutcome, common: list[str]) -> None:
    """Lines sent before a half-close were handled and relayed before the server closed."""
    for plan in outcome.fins_confirmed:
        assert f"MSG {plan.fin_nick} {plan.fin_text}" in common, \
            f"hostile {plan.index} half-closed; its last line was not relayed"


def check_server_kept_nothing(server: ServerProcess, outcome: FuzzOutcome) -> None:
    """No connection, task or descriptor is left for a hostile connection; a newcomer is
    served; SIGTERM ends the server cleanly with no traceback logged."""
    newcomer = machine_client(server.port, "newcomer")
    # the observers, the v2 clients, the person, the newcomer
    connections = len(outcome.observers) + len(outcome.members) + 2
    tasks = str(outcome.server_tasks + TASKS_PER_CONNECTION * connections)
    figures = wait_for_stats(newcomer, lambda f: f["tasks"] == tasks, timeout=15)
    assert figures["clients"] == str(connections)
    assert figures["joined"] == str(connections)
    assert figures["tasks"] == tasks
    descriptors = outcome.descriptors_before + 1  # and the newcomer's
    assert wait_for_descriptors(server.pid, descriptors, 5) == descriptors
    newcomer.send_line("still here after the fuzz")
    good0 = outcome.observers[0].client
    good0.sock.setblocking(True)
    assert good0.read_until("MSG newcomer")[-1] == "MSG newcomer still here after the fuzz"
    close_all([newcomer, *(o.client for o in [*outcome.observers, *outcome.members]),
               outcome.listener.client])
    assert server.stop() == 0
    stderr = server.stderr_text()
    assert "Traceback" not in stderr
    assert "crashed" not in stderr and "failed" not in stderr


def fuzz(server: ServerProcess, settings: FuzzSettings, *, min_fins_confirmed: int) -> None:
    """Run the fuzzer against `server` and check everything the module promises."""
    if FUZZ_SCALE != 1:
        settings = replace(settings, hostiles=max(5, round(settings.hostiles * FUZZ_SCALE)),
                           duration=settings.duration * FUZZ_SCALE)
        min_fins_confirmed = int(min_fins_confirmed * FUZZ_SCALE)
    with seed_in_failures(settings.seed):
        outcome = FuzzRun(server, settings).run()
        assert len(outcome.plans) == settings.hostiles
        common = check_transcripts(outcome)
        check_person_sees_the_same(outcome, common)
        by_id = check_rooms(outcome, common)
        check_nothing_unsafe_arrived(outcome)
        check_half_closers_were_heard(outcome, common)
        assert len(outcome.fins_confirmed) >= min_fins_confirmed
        check_server_kept_nothing(server, outcome)
        hostile_events = [line for line in common if not line.split(" ")[1].startswith("good")]
        print(f"{len(common)} default room events, {len(hostile_events)} from hostile "
              f"connections; room events {[len(by_id.get(room_key(r), {})) for r in ROOMS]}; "
              f"endings {Counter(plan.ending for plan in outcome.plans)}; "
              f"{len(outcome.fins_confirmed)} half-closers relayed; roamers stayed in rooms "
              f"{sum(len(m.views.memberships) for m in outcome.members if m.roams)} times; "
              f"operators' doings in all rooms {_operator_doings(by_id)}")


def _operator_doings(by_id: dict[str, dict[int, str]]) -> Counter[str]:
    """How many NOTICEs of each sort, kicks and bans the rooms saw (to show the fuzz
    reached the operators' commands)."""
    doings: Counter[str] = Counter()
    for events in by_id.values():
        for line in events.values():
            kind, _, text = sender_and_text(line)
            if kind == "NOTICE":
                doings[" ".join(text.split()[:2])] += 1
            elif kind == "PART" and text.startswith(("kicked by", "banned by")):
                doings[text.split()[0]] += 1
    return doings


def test_what_the_fuzzer_found_about_operators(server_factory) -> None:
    """Replays of two fuzz findings: /op of an operator answers whoever typed it, not
    the target; an operator with no nickname yet acts on no one (no `None` in a NOTICE,
    no ban without an author, which the store could not keep)."""
    server = server_factory("--oper-password", OPER_TOKEN)
    bob = machine_client(server.port, "bob")
    alice = join_v2(server.port, "alice", (), roams=False).client
    alice.sock.setblocking(True)
    alice.send_line("/op bob", "/op bob", "/ping op")
    assert "INFO bob is an operator already" in alice.read_until("PONG op")
    early = LineClient(server.port)
    early.send_line("/hello fuzz 2", f"/oper {OPER_TOKEN}", "/mute alice", "/ban 192.0.2.1",
                    "/ping early")
    refusals = [line for line in early.read_until("PONG early") if line.startswith("ERROR")]
    assert [line.split()[1] for line in refusals] == ["NOT_JOINED", "NOT_JOINED"]
    bob.send_line("/ping bob")
    told = bob.read_until("PONG bob")
    assert [line for line in told if line.startswith("INFO you are")] == \
        ["INFO you are now an operator: /help lists what you may do"]
    close_all([bob, alice, early])
    assert server.stop() == 0
    assert "ERROR" not in server.stderr_text() and "Traceback" not in server.stderr_text()


def test_plans_are_reproducible_from_the_seed() -> None:
    first = [make_plan(random.Random(FUZZ_SEED), index) for index in range(5)]
    again = [make_plan(random.Random(FUZZ_SEED), index) for index in range(5)]
    assert first == again


@pytest.mark.fuzz
@pytest.mark.timeout(120)
def test_fuzz_without_flood_control(server_factory) -> None:
    server = server_factory("--flood", "off", "--oper-password", OPER_TOKEN)
    # 14 at once: a wrong /oper token stops reading a connection for seconds, so plans
    # with one stay open longer than the others.
    fuzz(server, FuzzSettings(seed=FUZZ_SEED, hostiles=40, concurrency=14, duration=12.0,
                              say_every=0.05), min_fins_confirmed=6)


@pytest.mark.fuzz
@pytest.mark.timeout(120)
def test_fuzz_with_flood_control(server_factory) -> None:
    # The default flood control: hostile readers sleep; well-behaved clients stay under it.
    server = server_factory("--oper-password", OPER_TOKEN)
    fuzz(server, FuzzSettings(seed=FUZZ_SEED + 1, hostiles=20, concurrency=8, duration=7.0,
                              say_every=0.35), min_fins_confirmed=2)
