"""Access: the server's password (`--password`), asked before anything else.

A person (nc, telnet) is asked with a prompt line, and the next line they type is taken
as the password; a program sends `/pass SECRET` (after `/hello`, before `/nick`). Until
the password is given, only `/hello`, `/ping`, `/help` and `/quit` work; anything else
gets `ERROR BAD_PASSWORD` and a hint. A wrong password gets `ERROR BAD_PASSWORD`, and the
connection is not read for a while (one second, then two) so a password cannot be
guessed at line speed; the third wrong one ends the connection.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from chat_server.outgoing import Member
from protocol import (
    Command, ErrorCode, GivePassword, Help, Info, PartReason, Ping, Quit, Say, SayLines,
    StartMachineMode,
)

if TYPE_CHECKING:
    from chat_server.directory import Directory

PASSWORD_TRIES = 3
FAILED_TRY_PAUSE = 1.0  # seconds, doubling with each wrong try
_ALLOWED_BEFORE = (StartMachineMode, Ping, Help, Quit)


class Access:
    """Who has given the server's password."""

    def __init__(self, directory: Directory, password: str | None) -> None:
        self._directory = directory
        self._password = password
        self._admitted: set[Member] = set()
        self._failures: dict[Member, int] = {}

    def admitted(self, member: Member) -> bool:
        """True if `member` may do more than say hello (no password, or it was given)."""
        return self._password is None or member in self._admitted

    def greet(self, member: Member) -> None:
        """Ask a new connection for the password, if there is one."""
        if self._password is not None:
            self._directory.reply(member, Info(
                "This server needs a password: type it and press Enter "
                "(programs: /pass SECRET)."))

    def handle(self, member: Member, command: Command) -> bool:
        """Handle `command` from a member who has not given the password yet.

        Returns True when the command was the password (right or wrong), or refused;
        False when it may go on to the directory as usual.
        """
        if isinstance(command, GivePassword):
            self._check(member, command.secret)
        elif isinstance(command, Say) and not member.connection.said_hello:
            self._check(member, command.text.strip())  # a person's next line
        elif isinstance(command, _ALLOWED_BEFORE):
            return False
        elif isinstance(command, SayLines):
            return False  # the directory hands its lines back here one by one
        else:
            self._directory.error(member, ErrorCode.BAD_PASSWORD,
                                  "this server needs its password first: /pass SECRET")
        return True

    def forget(self, member: Member) -> None:
        """`member` has gone."""
        self._admitted.discard(member)
        self._failures.pop(member, None)

    def _check(self, member: Member, given: str) -> None:
        assert self._password is not None
        if hmac.compare_digest(given.encode(), self._password.encode()):
            self._admitted.add(member)
            self._failures.pop(member, None)
            self._directory.reply(member, Info(
                "Password accepted. Type a nickname to join, or /help."))
            return
        failures = self._failures.get(member, 0) + 1
        self._failures[member] = failures
        left = PASSWORD_TRIES - failures
        self._directory.error(member, ErrorCode.BAD_PASSWORD,
                              f"wrong password ({left} {'try' if left == 1 else 'tries'} left)")
        if left <= 0:
            self._directory.say_goodbye(member, PartReason.BAD_PASSWORD)
        else:
            member.slow_down(FAILED_TRY_PAUSE * 2 ** (failures - 1))
