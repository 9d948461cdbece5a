"""Tests for `protocol.sanitize`: no client can make another client's terminal do anything.

A table of hostile inputs and what must be left of them (escape sequences go whole, not
just their ESC byte), then properties over any text: nothing unsafe survives, sanitising
twice changes nothing, and text with nothing unsafe in it comes back exactly as it was.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from protocol.sanitize import sanitize

BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
C0_BUT_TAB = "".join(chr(c) for c in range(0x20) if c != 0x09)
C1 = "".join(chr(c) for c in range(0x80, 0xA0))
UNSAFE = frozenset(C0_BUT_TAB + "\x7f" + C1 + BIDI_CONTROLS)

# (case name, hostile text, what is left of it)
CASES: list[tuple[str, str, str]] = [
    ("SGR colour", "\x1b[31mred\x1b[0m text", "red text"),
    ("256-colour and truecolour SGR", "\x1b[38;5;196ma\x1b[48;2;1;2;3mb", "ab"),
    ("clear screen and cursor home", "\x1b[2J\x1b[Hhi", "hi"),
    ("cursor move with parameters", "a\x1b[10;20Hb", "ab"),
    ("private-mode CSI (hide cursor)", "a\x1b[?25lb", "ab"),
    ("CSI with an intermediate byte", "a\x1b[1 qb", "ab"),
    ("incomplete CSI at end", "abc\x1b[31", "abc"),
    ("bare CSI introducer at end", "abc\x1b[", "abc"),
    ("lone ESC at end", "abc\x1b", "abc"),
    ("OSC title ended by BEL", "\x1b]0;pwned\x07after", "after"),
    ("OSC ended by ESC backslash", "\x1b]0;pwned\x1b\\after", "after"),
    ("OSC 8 hyperlink", "\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\", "link"),
    ("OSC 52 clipboard write", "x\x1b]52;c;ZXZpbA==\x07y", "xy"),
    ("unterminated OSC", "before\x1b]0;title never ends", "before"),
    ("DCS string", "a\x1bPq#0;2;0;0;0#0~~\x1b\\b", "ab"),
    ("APC and PM strings", "a\x1b_apc\x1b\\b\x1b^pm\x1b\\c", "abc"),
    ("C1 CSI", "\x9b31mred", "red"),
    ("C1 OSC ended by C1 ST", "a\x9d0;t\x9cb", "ab"),
    ("C1 DCS ended by BEL", "a\x900;t\x07b", "ab"),
    ("ESC c (full reset)", "a\x1bcb", "ab"),
    ("ESC ( B (charset)", "\x1b(Babc", "abc"),
    ("ESC # 8 (screen alignment)", "a\x1b#8b", "ab"),
    ("ESC 7 / ESC 8 (save and restore cursor)", "\x1b7a\x1b8b", "ab"),
    ("NUL", "a\x00b", "ab"),
    ("BEL", "ding\x07!", "ding!"),
    ("backspaces that would overwrite text", "rm -rf /\x08\x08\x08\x08ls", "rm -rf /ls"),
    ("carriage return that would overwrite the line", "safe\rEVIL", "safeEVIL"),
    ("line feed and other C0", "a\nb\x0bc\x0cd\x1fe", "abcde"),
    ("DEL", "a\x7fb", "ab"),
    ("C1 controls", "a\x80b\x85c\x8ed\x9ce", "abcde"),
    ("C1 APC string", "a\x9fhidden\x9cb", "ab"),
    ("TAB kept", "a\tb\t", "a\tb\t"),
    ("right-to-left override", "file\u202egnp.exe", "filegnp.exe"),
    ("every bidi override and isolate", f"a{BIDI_CONTROLS}b", "ab"),
    ("unsafe next to emoji and CJK", "👋\x1b[5m张三\x1b[0m", "👋张三"),
    ("combining marks and ZWJ kept around removed controls",
     "Jose\u0301\x00 👨\u200d👩\u200d👧", "Jose\u0301 👨\u200d👩\u200d👧"),
    ("non-breaking space and other separators kept", "a\u00a0b\u2028c", "a\u00a0b\u2028c"),
]


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_unsafe_text_is_cleaned(text: str, expected: str) -> None:
    assert sanitize(text) == expected


@pytest.mark.parametrize("text", ["", "hello", "张三", "a\tb", "👨‍👩‍👧", "[31m is fine"])
def test_safe_text_is_returned_unchanged(text: str) -> None:
    assert sanitize(text) == text


# --- properties --------------------------------------------------------------------------

_ESCAPE_FRAGMENTS = st.sampled_from([
    "\x1b", "\x1b[", "\x1b]", "\x1bP", "\x1b\\", "\x07", "\x9b", "\x9c", "\x9d", "[31m",
    "0;", "\x1b(", "\u202e", "\u2066", "\t", "\r\n", "\x7f", "\x00", "👨\u200d👩", "e\u0301",
])
_ANY_TEXT = st.lists(
    st.one_of(st.text(max_size=8), _ESCAPE_FRAGMENTS), max_size=20,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_ANY_TEXT)
@example("\x1b\x1b[31m")
@example("\x1b]\x1b[31m")
def test_output_never_contains_an_unsafe_character(text: str) -> None:
    assert not UNSAFE & set(sanitize(text))


@settings(max_examples=400, deadline=None)
@given(_ANY_TEXT)
def test_sanitize_is_idempotent(text: str) -> None:
    once = sanitize(text)
    assert sanitize(once) == once


@settings(max_examples=400, deadline=None)
@given(_ANY_TEXT)
def test_sanitize_only_removes_characters(text: str) -> None:
    # What is left is the input with some characters taken out, in order: nothing is
    # added, replaced or moved around.
    remaining = iter(text)
    assert all(char in remaining for char in sanitize(text))


_SAFE_CHARACTERS = st.characters(
    blacklist_categories=("Cc", "Cs"),  # Cc: C0, DEL, C1; Cs: lone surrogates (not UTF-8)
    blacklist_characters=BIDI_CONTROLS,
)
_SAFE_PIECES = st.one_of(
    st.text(alphabet=_SAFE_CHARACTERS, max_size=10),
    st.sampled_from([
        "👨\u200d👩\u200d👧\u200d👦",  # family emoji, joined with ZWJ
        "👍🏽", "🏳️\u200d🌈", "e\u0301", "a\u0300\u0316", "张三", "日本語", "한국어",
        "مرحبا", "שלום", "\t", "\u200e", "\ufeff", "[31m",
    ]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_SAFE_PIECES, max_size=10).map("".join))
def test_text_without_unsafe_characters_comes_back_unchanged(text: str) -> None:
    assert sanitize(text) == text
