"""The server's password (`--password` on both sides), given before joining.

Plain code, no sockets: the connection asks it what to send after HELLO and tells it
what the server answered.

    HELLO -> /pass SECRET, /nick NAME    (a password is known: both at once, in order)
    HELLO -> /nick NAME                  (none known)
    ERROR BAD_PASSWORD (before WELCOME)  -> the password is forgotten and the person asked

Rules it keeps:
- It reads one structured signal: the code `BAD_PASSWORD` on an ERROR that comes before
  the client has joined (after joining, the same code answers a wrong `/oper` token and
  is shown as any error). Texts are shown, never parsed.
- A wrong password is never sent again by itself: it is forgotten, the server's reason
  is shown, and the next try waits for the person. So a wrong `--password` costs one
  try, not three at line speed.
- `/pass` and `/nick` go together, so the server's answer to the `/nick` after a wrong
  `/pass` ("needs its password first") is expected: it is not shown a second time.
- A password that worked is kept for this run: a reconnect gives it again by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ASKING = "this server needs a password: type it and press Enter (or /quit)"
"""What the person is told when the server wants a password the client does not have."""


@dataclass
class PasswordGate:
    """The password to give, and whether the person is being asked for one."""

    password: str | None = field(default=None, repr=False)  # never in a log or a repr
    asking: bool = False  # the next line typed is the password
    _answers_due: int = 0  # `/pass` lines sent whose ERROR, if any, is still to come

    def joining_lines(self, nick: str) -> list[str]:
        """What to send after HELLO (or once the person typed it): `/pass`, then `/nick`."""
        self._answers_due, self.asking = 0, False  # a new try: a refusal asks afresh
        if self.password is None:
            return [f"/nick {nick}"]
        self._answers_due = 1
        return [f"/pass {self.password}", f"/nick {nick}"]

    def give(self, secret: str, nick: str) -> list[str]:
        """The person typed `secret`: the lines that give it and join."""
        self.password = secret
        return self.joining_lines(nick)

    def refused(self, text: str) -> str | None:
        """ERROR BAD_PASSWORD `text` before joining: what to tell the person, or None.

        The password (if any) is forgotten, and the person asked for it."""
        if self._answers_due > 0:  # the answer to our `/pass`: wrong
            self._answers_due -= 1
            self.password, self.asking = None, True
            return f"{text}; type the password and press Enter (or /quit)"
        if self.asking:  # the `/nick` that followed a wrong `/pass`: already said
            return None
        self.password, self.asking = None, True
        return ASKING

    def session_ended(self) -> None:
        """The connection is gone: answers to what it sent never come."""
        self._answers_due = 0
