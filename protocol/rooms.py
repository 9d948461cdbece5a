"""Room names: what makes a valid one, how a typed one is completed, and when two are the same.

A room name is `#` followed by 1-32 characters, each a Unicode letter or combining mark, a
decimal digit, `_` or `-` (`#lobby`, `#游戏`). People may leave the `#` out when they type
one (`/join games`). Two names are the same room when they differ only by case or by Unicode
compatibility form, exactly as nicknames are compared (`room_key`).
"""

from __future__ import annotations

from protocol.nicknames import name_problem, nick_key

ROOM_PREFIX = "#"
MAX_ROOM_NAME_LENGTH = 32  # characters after the `#`
DEFAULT_ROOM = "#lobby"


def room_name(typed: str) -> str:
    """The name as typed, with its `#` added when it was left out (`games` -> `#games`)."""
    return typed if typed.startswith(ROOM_PREFIX) else ROOM_PREFIX + typed


def room_problem(name: str) -> str | None:
    """Say what is wrong with `name` (with its `#`) as a room name, or None if it is valid."""
    if not name.startswith(ROOM_PREFIX):
        return "a room name starts with #"
    return name_problem(name[len(ROOM_PREFIX):], "a room name", MAX_ROOM_NAME_LENGTH,
                        after=" after the #", where=" in a room name")


def is_valid_room(name: str) -> bool:
    """True if `name` (with its `#`) can name a room."""
    return room_problem(name) is None


def room_key(name: str) -> str:
    """The form in which room names are compared (the same folding as nicknames)."""
    return nick_key(name)
