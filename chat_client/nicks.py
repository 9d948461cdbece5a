"""Nicknames on the client side: a default from the login name, and fallbacks.

The rules of what a nickname may be live in `protocol.nicknames`; this module only
builds candidates that follow them.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator

from protocol import MAX_NICK_LENGTH, is_valid_nick

FALLBACK_NICK = "guest"
MAX_VARIANTS = 20
"""How many variants (`alice_`, `alice2`, ...) to try before asking the user to choose."""


def nick_from_login(login: str | None = None) -> str:
    """A valid nickname made from `login` (by default the user's login name).

    Characters a nickname may not hold (`john.doe` has a dot) are dropped, the rest is cut
    to the maximum length; if nothing usable is left the nickname is `guest`.
    """
    if login is None:
        login = _login_name()
    kept = "".join(char for char in login if is_valid_nick(char) or char.isdigit())
    candidate = kept[:MAX_NICK_LENGTH]
    return candidate if is_valid_nick(candidate) else FALLBACK_NICK


def nick_variants(nick: str, count: int = MAX_VARIANTS) -> Iterator[str]:
    """The nicknames to try, in order, when `nick` is taken: `nick_`, `nick2`, `nick3`, ...

    Every variant is valid and at most `MAX_NICK_LENGTH` long: a long nickname is cut
    to make room for its suffix.
    """
    suffixes = ["_", *(str(number) for number in range(2, count + 1))]
    for suffix in suffixes[:count]:
        yield nick[: MAX_NICK_LENGTH - len(suffix)] + suffix


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no $USER and no passwd entry, as in some containers
        return FALLBACK_NICK
