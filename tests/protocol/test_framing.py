"""Tests for `protocol.framing`: bytes in, lines (or the reason a line was dropped) out.

One table of (bytes, framed results) cases is fed whole, one byte at a time, in random
splits and with trailing data after it. Properties then check that *any* split of a
stream frames exactly like the stream fed whole, and like a small reference model. The
remaining tests pin down the length limit: reported once, as soon as it is passed, with
the framer never holding more than the limit, and back to normal at the next LF.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from protocol.framing import (
    MAX_LINE_BYTES, BadEncoding, Framed, Line, LineFramer, LineTooLong,
)

TOO_LONG = LineTooLong(MAX_LINE_BYTES)

IAC, SB, SE, NOP, WILL, DO = b"\xff", b"\xfa", b"\xf0", b"\xf1", b"\xfb", b"\xfd"
TELNET_CLIENT_OPENING = b"\xff\xfd\x03\xff\xfb\x18\xff\xfb\x1f\xff\xfb\x20\xff\xfb\x21"
"""What a real telnet client sends first: DO SUPPRESS-GO-AHEAD, WILL TERMINAL-TYPE, ..."""

TERMINAL_TYPE_IS_XTERM = IAC + SB + b"\x18\x00xterm" + IAC + SE

# (case name, bytes, what the framer hands back). Every case ends at a line boundary, so
# anything fed after it frames on its own.
CASES: list[tuple[str, bytes, list[Framed]]] = [
    ("one line", b"hello\n", [Line("hello")]),
    ("CRLF ending", b"hello\r\n", [Line("hello")]),
    ("several lines", b"one\ntwo\r\nthree\n", [Line("one"), Line("two"), Line("three")]),
    ("empty lines ignored", b"\n\n\n", []),
    ("CRLF-only lines ignored", b"\r\n\r\n", []),
    ("empty lines between lines ignored", b"a\n\r\n\nb\n", [Line("a"), Line("b")]),
    ("only the CR right before LF is dropped", b"a\rb\r\n", [Line("a\rb")]),
    ("spaces and tabs kept", b"  hi\tthere  \n", [Line("  hi\tthere  ")]),
    ("UTF-8 decoded", "张三 José 👨‍👩‍👧\n".encode(), [Line("张三 José 👨‍👩‍👧")]),
    ("invalid UTF-8", b"\xc3\x28\n", [BadEncoding()]),
    ("UTF-8 cut short", b"caf\xc3\r\n", [BadEncoding()]),
    ("lone continuation byte", b"\x80\n", [BadEncoding()]),
    ("encoded surrogate is not UTF-8", b"\xed\xa0\x80\n", [BadEncoding()]),
    ("bad line does not spoil the next", b"\xfe\nok\n", [BadEncoding(), Line("ok")]),
    ("exactly the limit passes", b"a" * MAX_LINE_BYTES + b"\n", [Line("a" * MAX_LINE_BYTES)]),
    ("limit with the CR counted passes", b"a" * (MAX_LINE_BYTES - 1) + b"\r\n",
     [Line("a" * (MAX_LINE_BYTES - 1))]),
    ("one byte over the limit", b"a" * (MAX_LINE_BYTES + 1) + b"\n", [TOO_LONG]),
    ("a CR counts toward the limit", b"a" * MAX_LINE_BYTES + b"\r\n", [TOO_LONG]),
    ("limit counts bytes, not characters", "é".encode() * (MAX_LINE_BYTES // 2) + b"\n",
     [Line("é" * (MAX_LINE_BYTES // 2))]),
    ("multi-byte characters over the limit", "é".encode() * (MAX_LINE_BYTES // 2) + b"x\n",
     [TOO_LONG]),
    ("overlong line reported once, next line fine", b"a" * 5000 + b"\nok\n",
     [TOO_LONG, Line("ok")]),
    ("two overlong lines reported twice", (b"a" * 3000 + b"\n") * 2, [TOO_LONG, TOO_LONG]),
    ("telnet client opening removed", TELNET_CLIENT_OPENING + b"alice\r\n", [Line("alice")]),
    ("telnet opening alone makes no line", TELNET_CLIENT_OPENING + b"\r\n", []),
    ("subnegotiation removed", TERMINAL_TYPE_IS_XTERM + b"hi\n", [Line("hi")]),
    ("LF inside a subnegotiation is not a line end",
     IAC + SB + b"\x18\nab" + IAC + SE + b"hi\n", [Line("hi")]),
    ("IAC IAC and a bare SE inside a subnegotiation do not end it",
     IAC + SB + b"\x18" + IAC + IAC + SE + b"x" + IAC + SE + b"hi\n", [Line("hi")]),
    ("two-byte telnet command inside text removed", b"he" + IAC + NOP + b"llo\n",
     [Line("hello")]),
    ("telnet interrupt (ctrl-C in telnet) removed", b"abc" + IAC + b"\xf4" + b"\n",
     [Line("abc")]),
    ("escaped 0xFF (IAC IAC) removed", b"a" + IAC + IAC + b"b\n", [Line("ab")]),
    ("option byte that is LF is not a line end", IAC + DO + b"\nhi\n", [Line("hi")]),
    ("telnet bytes do not count toward the limit",
     b"a" * MAX_LINE_BYTES + (IAC + WILL + b"\x18") * 20 + b"\n", [Line("a" * MAX_LINE_BYTES)]),
]
CASE_IDS = [name for name, _, _ in CASES]


def frame(chunks: Iterable[bytes], framer: LineFramer | None = None) -> list[Framed]:
    """Feed `chunks` to a framer in order; return everything it handed back."""
    framer = framer if framer is not None else LineFramer()
    results: list[Framed] = []
    for chunk in chunks:
        results.extend(framer.feed(chunk))
    return results


def one_byte_at_a_time(data: bytes) -> list[bytes]:
    return [data[i:i + 1] for i in range(len(data))]


def split_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """`data` cut at the given offsets (clamped to its length, in any order)."""
    points = sorted({min(max(cut, 0), len(data)) for cut in cuts})
    bounds = [0, *points, len(data)]
    return [data[start:end] for start, end in zip(bounds, bounds[1:])]


# --- the table, four ways ----------------------------------------------------------------

@pytest.mark.parametrize(("data", "expected"), [case[1:] for case in CASES], ids=CASE_IDS)
def test_case_fed_whole(data: bytes, expected: list[Framed]) -> None:
    assert frame([data]) == expected


@pytest.mark.parametrize(("data", "expected"), [case[1:] for case in CASES], ids=CASE_IDS)
def test_case_fed_one_byte_at_a_time(data: bytes, expected: list[Framed]) -> None:
    assert frame(one_byte_at_a_time(data)) == expected


@pytest.mark.parametrize(("data", "expected"), [case[1:] for case in CASES], ids=CASE_IDS)
def test_case_fed_in_random_splits(data: bytes, expected: list[Framed]) -> None:
    rng = random.Random(data)  # seeded by the case: a failure reproduces
    for _ in range(20):
        cuts = [rng.randrange(len(data) + 1) for _ in range(rng.randrange(1, 8))]
        assert frame(split_at(data, cuts)) == expected, cuts


@pytest.mark.parametrize(("data", "expected"), [case[1:] for case in CASES], ids=CASE_IDS)
def test_case_followed_by_trailing_data(data: bytes, expected: list[Framed]) -> None:
    # In the same chunk and in a later one, the next line frames on its own.
    assert frame([data + b"after\n"]) == [*expected, Line("after")]
    framer = LineFramer()
    assert frame([data], framer) == expected
    assert framer.buffered == 0
    assert framer.feed(b"after") == []
    assert framer.feed(b"\n") == [Line("after")]


# --- properties --------------------------------------------------------------------------

def _pieces(limit: int) -> st.SearchStrategy[bytes]:
    """Bits of stream that exercise every rule, including runs around `limit`."""
    return st.one_of(
        st.binary(max_size=12),
        st.sampled_from([
            b"\n", b"\r", b"\r\n", b"\r\r\n", b"hello", "张三 👨‍👩‍👧".encode(),
            b"\xc3", b"\x80", b"\xc3\x28",  # invalid UTF-8 (alone or completed badly)
            IAC, IAC + IAC, IAC + DO, IAC + DO + b"\x03", IAC + NOP, IAC + SB, IAC + SE,
            TELNET_CLIENT_OPENING, TERMINAL_TYPE_IS_XTERM, IAC + SB + b"\nx\n" + IAC + SE,
        ]),
        st.integers(limit - 2, limit + 2).map(lambda n: b"y" * n),
    )


def _streams(limit: int) -> st.SearchStrategy[bytes]:
    return st.lists(_pieces(limit), max_size=25).map(b"".join)


def reference_frame(data: bytes, limit: int) -> list[Framed]:
    """What the contract says `data` frames to, worked out the slow, obvious way."""
    text = _without_telnet(data)
    *lines, unfinished = text.split(b"\n")
    results: list[Framed] = []
    for line in lines:
        if len(line) > limit:
            results.append(LineTooLong(limit))
            continue
        line = line[:-1] if line.endswith(b"\r") else line
        if line:
            try:
                results.append(Line(line.decode("utf-8")))
            except UnicodeDecodeError:
                results.append(BadEncoding())
    if len(unfinished) > limit:
        results.append(LineTooLong(limit))
    return results


def _without_telnet(data: bytes) -> bytes:
    kept = bytearray()
    i = 0
    while i < len(data):
        if data[i] != 0xFF:
            kept.append(data[i])
            i += 1
        elif i + 1 < len(data) and data[i + 1] == 0xFA:  # IAC SB ... IAC SE
            i += 2
            while i < len(data) and not (data[i] == 0xFF and data[i + 1:i + 2] == SE):
                i += 2 if data[i] == 0xFF else 1  # IAC x inside: skip the pair
            i += 2
        elif i + 1 < len(data) and 0xFB <= data[i + 1] <= 0xFE:  # WILL/WONT/DO/DONT opt
            i += 3
        else:  # any other two-byte command, IAC IAC included
            i += 2
    return bytes(kept)


@settings(max_examples=300, deadline=None)
@given(data=_streams(limit=8), cuts=st.lists(st.integers(0, 10_000), max_size=12))
@example(data=b"aaaaaaaaa\nb\n", cuts=[4, 9])
@example(data=b"abc\r" + IAC + NOP + b"\n", cuts=[4, 5])
def test_any_split_frames_like_the_whole_stream_small_limit(data: bytes, cuts: list[int]) -> None:
    whole = frame([data], LineFramer(max_line_bytes=8))
    assert frame(split_at(data, cuts), LineFramer(max_line_bytes=8)) == whole
    assert whole == reference_frame(data, limit=8)


@settings(max_examples=60, deadline=None)
@given(data=_streams(limit=MAX_LINE_BYTES), cuts=st.lists(st.integers(0, 60_000), max_size=12))
def test_any_split_frames_like_the_whole_stream(data: bytes, cuts: list[int]) -> None:
    whole = frame([data])
    assert frame(split_at(data, cuts)) == whole
    assert whole == reference_frame(data, limit=MAX_LINE_BYTES)


@settings(max_examples=100, deadline=None)
@given(data=_streams(limit=8))
def test_one_byte_at_a_time_frames_like_the_whole_stream(data: bytes) -> None:
    assert frame(one_byte_at_a_time(data), LineFramer(max_line_bytes=8)) == frame(
        [data], LineFramer(max_line_bytes=8))


@settings(max_examples=100, deadline=None)
@given(data=_streams(limit=8), cuts=st.lists(st.integers(0, 10_000), max_size=12))
def test_framer_never_holds_more_than_the_limit(data: bytes, cuts: list[int]) -> None:
    framer = LineFramer(max_line_bytes=8)
    for chunk in split_at(data, cuts):
        framer.feed(chunk)
        assert 0 <= framer.buffered <= 8


# --- the length limit, step by step -------------------------------------------------------

def test_overlong_line_is_reported_as_soon_as_the_limit_is_passed() -> None:
    framer = LineFramer()
    assert framer.feed(b"a" * MAX_LINE_BYTES) == []  # at the limit: still fine
    assert framer.buffered == MAX_LINE_BYTES
    assert framer.feed(b"a") == [TOO_LONG]  # one past it: reported now, no LF needed
    assert framer.buffered == 0


def test_a_trailing_cr_passing_the_limit_is_reported_before_the_lf() -> None:
    framer = LineFramer()
    assert framer.feed(b"a" * MAX_LINE_BYTES) == []
    assert framer.feed(b"\r") == [TOO_LONG]
    assert framer.feed(b"\n") == []


def test_overlong_line_is_reported_exactly_once_and_the_rest_discarded() -> None:
    framer = LineFramer()
    reports_at = [
        index for index, byte in enumerate(one_byte_at_a_time(b"a" * 5000))
        if framer.feed(byte) == [TOO_LONG]
    ]
    assert reports_at == [MAX_LINE_BYTES]  # the byte at index 2048 is the 2049th
    assert framer.feed(b"more of the same long line") == []
    assert framer.buffered == 0


def test_framer_recovers_at_the_next_lf_after_an_overlong_line() -> None:
    framer = LineFramer()
    assert framer.feed(b"a" * (MAX_LINE_BYTES + 10)) == [TOO_LONG]
    assert framer.feed(b"still the long line, discarded\n") == []
    assert framer.feed(b"short\n") == [Line("short")]
    # And the limit applies afresh to the next line.
    assert framer.feed(b"b" * MAX_LINE_BYTES + b"\n") == [Line("b" * MAX_LINE_BYTES)]
    assert framer.feed(b"c" * (MAX_LINE_BYTES + 1)) == [TOO_LONG]


def test_bytes_after_the_recovering_lf_in_the_same_chunk_start_a_new_line() -> None:
    framer = LineFramer()
    assert framer.feed(b"a" * (MAX_LINE_BYTES + 1)) == [TOO_LONG]
    assert framer.feed(b"junk\nnew") == []
    assert framer.buffered == 3
    assert framer.feed(b" line\n") == [Line("new line")]


def test_ten_megabytes_without_lf_never_buffer_more_than_the_limit() -> None:
    framer = LineFramer()
    chunk = b"x" * (64 * 1024)
    results: list[Framed] = []
    for _ in range(10 * 1024 * 1024 // len(chunk)):
        results.extend(framer.feed(chunk))
        assert framer.buffered <= MAX_LINE_BYTES
    assert results == [TOO_LONG]
    assert framer.feed(b"\nhello\n") == [Line("hello")]


def test_partial_line_is_held_until_its_lf() -> None:
    framer = LineFramer()
    assert framer.feed(b"hel") == []
    assert framer.buffered == 3
    assert framer.feed(b"lo\r") == []
    assert framer.feed(b"\n") == [Line("hello")]
    assert framer.buffered == 0


def test_utf8_character_split_across_chunks_is_decoded_whole() -> None:
    encoded = "张".encode()
    assert frame([encoded[:1], encoded[1:2], encoded[2:] + b"\n"]) == [Line("张")]


def test_telnet_sequence_split_across_chunks_is_still_removed() -> None:
    framer = LineFramer()
    assert framer.feed(b"a" + IAC) == []
    assert framer.feed(DO) == []
    assert framer.feed(b"\x03b" + IAC + SB + b"\x18") == []
    assert framer.feed(b"\nxterm" + IAC) == []
    assert framer.feed(SE + b"c\n") == [Line("abc")]


def test_custom_limit_is_reported_in_the_event() -> None:
    framer = LineFramer(max_line_bytes=4)
    assert framer.feed(b"abcd\n") == [Line("abcd")]
    assert framer.feed(b"abcde") == [LineTooLong(4)]


# Reading ahead: next_lines_if


def _short(text: str) -> str | None:
    """Takes lines of at most three characters (upper-cased, to see it was applied)."""
    return text.upper() if len(text) <= 3 else None


def test_next_lines_if_takes_lines_while_accepted_and_leaves_the_first_refused() -> None:
    framer = LineFramer()
    framer.receive(b"ab\r\ncd\nlonger\nef\n")
    assert framer.next_lines_if(_short, 10) == ["AB", "CD"]
    assert framer.next_framed() == Line("longer")  # left unread, as it was
    assert framer.next_lines_if(_short, 10) == ["EF"]
    assert framer.next_framed() is None


def test_next_lines_if_takes_at_most_most() -> None:
    framer = LineFramer()
    framer.receive(b"a\nb\nc\n")
    assert framer.next_lines_if(_short, 2) == ["A", "B"]
    assert framer.next_lines_if(_short, 2) == ["C"]


@pytest.mark.parametrize(("data", "framed"), [
    (b"\n", [Line("ok")]),  # an empty line: skipped by next_framed, as ever
    (b"\r\n", [Line("ok")]),
    (b"xy\xe9\n", [BadEncoding(), Line("ok")]),
    (b"a" * 11 + b"\n", [LineTooLong(10), Line("ok")]),
], ids=["empty", "CR only", "not UTF-8", "too long"])
def test_next_lines_if_stops_at_any_line_that_is_not_complete_and_good(
    data: bytes, framed: list[Framed],
) -> None:
    framer = LineFramer(max_line_bytes=10)
    framer.receive(b"ok\n" + data + b"ok\n")
    assert framer.next_lines_if(_short, 10) == ["OK"]
    assert list(iter(framer.next_framed, None)) == framed


def test_next_lines_if_leaves_an_unfinished_line_to_be_completed() -> None:
    framer = LineFramer()
    framer.receive(b"ab\ncd")
    assert framer.next_lines_if(_short, 10) == ["AB"]
    framer.receive(b"e\n")
    assert framer.next_framed() == Line("cde")


def test_next_lines_if_takes_nothing_while_a_line_is_held_or_discarded() -> None:
    framer = LineFramer(max_line_bytes=10)
    framer.receive(b"par")
    assert framer.next_framed() is None  # "par" is held
    framer.receive(b"t\nab\n")
    assert framer.next_lines_if(_short, 10) == []  # "part" is not all in what came
    assert framer.next_framed() == Line("part")
    assert framer.next_lines_if(_short, 10) == ["AB"]
    framer.receive(b"x" * 11)
    assert framer.next_framed() == LineTooLong(10)  # discarding up to the LF
    framer.receive(b"xx\nab\n")
    assert framer.next_lines_if(_short, 10) == []
    assert framer.next_framed() == Line("ab")
