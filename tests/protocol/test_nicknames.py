"""Tests for `protocol.nicknames`: which names are valid, and when two names are one person.

Valid: 1-16 letters (combining marks included), digits, `_` and `-`, in any script, not
starting with a combining mark. Two names are the same person when they differ only by
case or Unicode compatibility form, and `nick_key` must say so in every script, not just
for ASCII.
"""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from protocol.nicknames import MAX_NICK_LENGTH, is_valid_nick, nick_key, nick_problem

VALID = [
    "alice", "Bob", "张三", "José", "Jose\u0301", "a-b_c", "_", "-", "x", "R2D2", "2024",
    "Ελένη", "Иван", "محمد", "ｂｏｂ", "a" * MAX_NICK_LENGTH, "é" * MAX_NICK_LENGTH,
]

INVALID = [
    "", "a" * (MAX_NICK_LENGTH + 1), "张" * (MAX_NICK_LENGTH + 1),
    "al ice", " alice", "alice ", "al\tice", "alice!", "@alice", "al:ice", "a.b", "a/b",
    "a,b", "<alice>", "*", "al\x00ice", "al\x1b[31mice", "al\nice", "al\u202eice",
    "alice\u200b", "\u0301alice", "\u0301", "👍", "a😀",
]


@pytest.mark.parametrize("name", VALID)
def test_valid_nicknames_are_accepted(name: str) -> None:
    assert is_valid_nick(name)
    assert nick_problem(name) is None


@pytest.mark.parametrize("name", INVALID)
def test_invalid_nicknames_are_rejected_with_a_reason(name: str) -> None:
    assert not is_valid_nick(name)
    problem = nick_problem(name)
    assert isinstance(problem, str) and problem


def test_problem_names_the_offending_character() -> None:
    assert "'!'" in (nick_problem("alice!") or "")


def test_length_is_counted_in_characters_not_bytes() -> None:
    assert is_valid_nick("张" * MAX_NICK_LENGTH)  # 48 bytes of UTF-8, 16 characters


@pytest.mark.parametrize("names", [
    ("Bob", "bob", "BOB", "bOb", "ｂｏｂ", "ＢＯＢ"),
    ("José", "Jose\u0301", "JOSÉ", "JOSE\u0301"),
    ("Straße", "STRASSE", "strasse"),
    ("ΐ", "\u03b9\u0308\u0301", "Ϊ́"),  # Greek: small precomposed, decomposed, capital
    ("ΰ", "Ϋ́"),
    ("Σίσυφος", "ΣΊΣΥΦΟΣ"),
    ("ﬁsh", "fish", "FISH"),  # compatibility ligature
    ("x2", "ｘ２"),  # full-width digit
])
def test_nick_key_equates_case_and_compatibility_forms(names: tuple[str, ...]) -> None:
    assert len({nick_key(name) for name in names}) == 1, [nick_key(n) for n in names]


@pytest.mark.parametrize(("one", "other"), [
    ("bob", "rob"), ("bob", "bobb"), ("alice", "alic"), ("José", "Jose"),
    ("张三", "张四"), ("a-b", "a_b"), ("Ivan", "Иван"),
])
def test_nick_key_keeps_different_names_different(one: str, other: str) -> None:
    assert nick_key(one) != nick_key(other)


def _canonical_caseless(name: str) -> str:
    """Unicode's canonical caseless match (D145): NFD(casefold(NFD(name)))."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name).casefold())


_NICKS = st.text(
    alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Lt", "Lm", "Lo", "Nd"),
                           whitelist_characters="_-"),
    min_size=1, max_size=MAX_NICK_LENGTH,
)


@settings(max_examples=300, deadline=None)
@given(_NICKS)
@example("ΐ")
@example("Ϊ́")  # capital of the above: casefolds to a form NFKC would compose
def test_nick_key_is_its_own_key(name: str) -> None:
    key = nick_key(name)
    assert nick_key(key) == key


@settings(max_examples=300, deadline=None)
@given(_NICKS)
def test_nick_key_ignores_normalization_form(name: str) -> None:
    keys = {nick_key(unicodedata.normalize(form, name)) for form in ("NFC", "NFD", "NFKC", "NFKD")}
    assert keys == {nick_key(name)}


@settings(max_examples=300, deadline=None)
@given(_NICKS)
@example("ΐ")
def test_names_that_match_caselessly_have_one_key(name: str) -> None:
    for other in (name.upper(), name.lower(), name.title(), name.casefold()):
        if _canonical_caseless(other) == _canonical_caseless(name):
            assert nick_key(other) == nick_key(name), (name, other)


def test_every_nickname_character_and_its_other_cases_share_a_key() -> None:
    # Every character a nickname may hold, against its upper, lower and title case: a
    # bounded sweep of all of Unicode that no sample of examples can stand in for.
    mismatches = []
    for code_point in range(sys.maxunicode + 1):
        char = chr(code_point)
        others = {char.upper(), char.lower(), char.title()} - {char}
        if not others or not is_valid_nick(char):
            continue
        for other in others:
            if (_canonical_caseless(other) == _canonical_caseless(char)
                    and nick_key(other) != nick_key(char)):
                mismatches.append((char, other))
    assert mismatches == []
