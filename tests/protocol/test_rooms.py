"""Tests for `protocol.rooms`: which names name a room, how a typed one is completed, and
when two names are the same room.

A table of valid names and a table of (invalid name, a word the complaint must contain)
pin down `room_problem`; `is_valid_room` must agree with it everywhere. `room_key` folds
case and Unicode compatibility forms exactly as `nick_key` does, so `#Games`, `#GAMES`
and the full-width `#ＧＡＭＥＳ` are one room, and a property checks that folding twice
changes nothing.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.nicknames import nick_key
from protocol.rooms import (
    DEFAULT_ROOM, MAX_ROOM_NAME_LENGTH, ROOM_PREFIX, is_valid_room, room_key, room_name,
    room_problem,
)

VALID = [
    "#a",  # one character after the #
    "#" + "a" * MAX_ROOM_NAME_LENGTH,  # exactly the longest
    "#lobby",
    "#Games",
    "#游戏",  # Chinese
    "#игры",  # Cyrillic
    "#αλφα",  # Greek
    "#ゲーム",  # Katakana, with its prolonged sound mark (a letter)
    "#العاب",  # Arabic
    "#José",  # precomposed é
    "#Jose\u0301",  # e + a combining acute: a mark after a letter is fine
    "#room_2",
    "#a-b",
    "#_",
    "#-",
    "#2024",
    "#٣",  # an Arabic-Indic digit is a decimal digit (Nd)
    "#" + "游" * MAX_ROOM_NAME_LENGTH,  # the limit counts characters, not bytes
]


@pytest.mark.parametrize("name", VALID)
def test_valid_room_names_have_no_problem(name: str) -> None:
    assert room_problem(name) is None
    assert is_valid_room(name)


# (name, a word the explanation must contain, so a person learns what to change)
INVALID: list[tuple[str, str]] = [
    ("", "#"),
    ("lobby", "#"),  # the # is missing
    ("#", "at least one"),
    ("#" + "a" * (MAX_ROOM_NAME_LENGTH + 1), str(MAX_ROOM_NAME_LENGTH)),
    ("#" + "游" * (MAX_ROOM_NAME_LENGTH + 1), str(MAX_ROOM_NAME_LENGTH)),
    ("#\u0301abc", "combining"),  # nothing for the mark to combine with
    ("#two words", "' '"),
    ("#tab\there", "'\\t'"),
    ("#no-break\u00a0space", "'\\xa0'"),
    ("#games!", "'!'"),
    ("#a.b", "'.'"),
    ("#a#b", "'#'"),  # a second # is punctuation, not part of a name
    ("##", "'#'"),
    ("#a,b", "','"),
    ("#😀", "'😀'"),  # emoji are symbols, not letters
    ("#a\u200db", "'\\u200d'"),  # zero-width joiner (Cf)
    ("#½", "'½'"),  # a number, but not a decimal digit (No)
    (" #lobby", "#"),
    ("＃lobby", "#"),  # full-width number sign is not the prefix
]


@pytest.mark.parametrize(("name", "complaint"), INVALID, ids=[repr(n) for n, _ in INVALID])
def test_invalid_room_names_say_what_is_wrong(name: str, complaint: str) -> None:
    problem = room_problem(name)
    assert problem is not None
    assert complaint in problem, problem
    assert not is_valid_room(name)


def test_the_default_room_is_a_valid_room() -> None:
    assert is_valid_room(DEFAULT_ROOM)
    assert DEFAULT_ROOM.startswith(ROOM_PREFIX)


# --- completing a typed name -------------------------------------------------------------

@pytest.mark.parametrize(("typed", "name"), [
    ("games", "#games"),
    ("#games", "#games"),
    ("游戏", "#游戏"),
    ("", "#"),  # completed, and then refused by room_problem
    ("##", "##"),  # only a missing # is added; a name already starting with one is kept
])
def test_room_name_adds_the_hash_only_when_it_was_left_out(typed: str, name: str) -> None:
    assert room_name(typed) == name


def test_a_completed_empty_name_is_still_invalid() -> None:
    assert not is_valid_room(room_name(""))


# --- when two names are the same room -----------------------------------------------------

@pytest.mark.parametrize("other", [
    "#Games", "#GAMES", "#gAmEs",
    "#ｇａｍｅｓ",  # full-width letters (NFKC)
    "#ＧＡＭＥＳ",
])
def test_room_key_folds_case_and_compatibility_forms(other: str) -> None:
    assert room_key(other) == room_key("#games")


@pytest.mark.parametrize(("one", "other"), [
    ("#José", "#Jose\u0301"),  # composed and decomposed are one room
    ("#STRASSE", "#straße"),  # casefold, not just lower()
    ("#ΣΊΣΥΦΟΣ", "#σίσυφος"),
])
def test_room_key_treats_unicode_equivalents_as_one_room(one: str, other: str) -> None:
    assert room_key(one) == room_key(other)


@pytest.mark.parametrize(("one", "other"), [
    ("#games", "#game"),
    ("#games", "#games2"),
    ("#a-b", "#a_b"),
    ("#游戏", "#遊戲"),  # simplified and traditional are different names
])
def test_room_key_keeps_different_names_apart(one: str, other: str) -> None:
    assert room_key(one) != room_key(other)


_ROOM_CHARS = st.characters(whitelist_categories=("L", "Nd"), whitelist_characters="_-")


@settings(max_examples=300, deadline=None)
@given(st.text(_ROOM_CHARS, min_size=1, max_size=MAX_ROOM_NAME_LENGTH))
def test_room_key_is_nick_key_and_folding_again_changes_nothing(body: str) -> None:
    name = ROOM_PREFIX + body
    assert room_key(name) == nick_key(name)
    assert room_key(room_key(name)) == room_key(name)
    if name.isascii():  # outside ASCII, upper() and lower() can disagree (dotless i, final sigma)
        assert room_key(name.upper()) == room_key(name.lower())
