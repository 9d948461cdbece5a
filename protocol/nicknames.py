"""Nicknames: what makes a valid one, and when two of them are the same.

A nickname is 1-16 characters, each a Unicode letter or combining mark, a decimal digit,
`_` or `-` (so `张三` and `José` are fine). It may not start with a combining mark, which
would have nothing to combine with.

Two nicknames are the same when they differ only by case or by Unicode compatibility form
(`Bob`, `BOB` and the full-width `ｂｏｂ` are one person): `nick_key` gives the form that is
compared.
"""

from __future__ import annotations

import unicodedata

MAX_NICK_LENGTH = 16
_PUNCTUATION_ALLOWED = frozenset("_-")


def nick_problem(name: str) -> str | None:
    """Say what is wrong with `name` as a nickname, or return None if it is valid."""
    return name_problem(name, "a nickname", MAX_NICK_LENGTH)


def name_problem(name: str, what: str, limit: int, after: str = "",
                 where: str = "") -> str | None:
    """What is wrong with `name` as a name made of letters, digits, `_` and `-` (a
    nickname; a room name after its `#`), in words about `what` it names, or None."""
    if not name:
        return f"{what} needs at least one character{after}"
    if len(name) > limit:
        return f"{what} has at most {limit} characters{after}"
    if unicodedata.category(name[0]).startswith("M"):
        return f"{what} cannot start with a combining mark"
    for char in name:
        if not _allowed_in_nick(char):
            return f"{char!r} is not allowed{where}: use letters, digits, '_' and '-'"
    return None


def is_valid_nick(name: str) -> bool:
    """True if `name` can be used as a nickname."""
    return nick_problem(name) is None


def nick_key(name: str) -> str:
    """The form in which nicknames are compared: Unicode's compatibility caseless match.

    That is NFKD(casefold(NFKD(casefold(NFD(name))))) (Unicode D146), put in NFKC for a
    compact key. The plain NFKC-then-casefold misses names in some scripts: casefolding
    can leave one form decomposed where the other stays composed (`ΐ` against its capital
    `Ϊ́`), and an early NFKC moves the Greek iota subscript (U+0345) past another accent
    (`ᾷ` against `ᾼ͂`), so a name and its own upper case would count as two people.
    """
    folded = unicodedata.normalize("NFD", name).casefold()
    folded = unicodedata.normalize("NFKD", folded).casefold()
    return unicodedata.normalize("NFKC", folded)


def _allowed_in_nick(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LM" or category == "Nd" or char in _PUNCTUATION_ALLOWED
