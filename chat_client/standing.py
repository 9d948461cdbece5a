"""Your standing: what operators did to you and to your rooms, as far as the client knows.

Plain code, no UI and no sockets. The state (`state.py`) calls it for live events and
errors; the status bar shows what it keeps (`muted`, `read-only`, `slow 5s`).

The signals it reads, and only these:
- Error codes: `MUTED` (you are muted, on the whole server), `READ_ONLY` and
  `SLOW_MODE` (the room of the line the error answers, which the client knows because it
  sent that line: see `ClientState.spoken_in`).
- Live `NOTICE ROOM ID TIME OP TEXT` room events: who did it (OP) and what, as the
  server words the start of TEXT (`muted bob ...`, `unmuted bob`, `made the room
  read-only...`, `opened the room...`, `set slow mode: one line every 5 seconds...`,
  `turned slow mode off`, `is now an operator`, `made bob an operator`, `took bob's
  operator rights`). A notice it cannot read changes nothing; it is still shown.
- Your own live line (MSG, ACTION, TOPIC) going through: you are not muted any more
  (a mute with minutes ends without a notice).
- The reasons the contract fixes for a PART that puts you out: `kicked by OP: REASON`
  and `banned by OP: REASON`.

Replayed notices (history, catch-up, older pages) change nothing: an old notice is not
news about now. Mutes belong to a connection, so a new connection starts unmuted; a
room's modes are the room's, and stay until a notice changes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Change(Enum):
    """What a NOTICE says an operator did."""

    MUTED = "muted"
    UNMUTED = "unmuted"
    READ_ONLY = "read-only"
    OPENED = "opened"
    SLOW = "slow"  # `seconds` 0: slow mode off
    OPERATOR = "operator"
    NOT_OPERATOR = "not operator"


@dataclass(frozen=True, slots=True)
class NoticeChange:
    """One change a NOTICE announces: to whom (`nick`), and how slow (`seconds`)."""

    change: Change
    nick: str = ""
    seconds: float = 0.0


_NOTICES: tuple[tuple[re.Pattern[str], Change], ...] = (
    (re.compile(r"muted (?P<nick>\S+)"), Change.MUTED),
    (re.compile(r"unmuted (?P<nick>\S+)"), Change.UNMUTED),
    (re.compile(r"made the room read-only"), Change.READ_ONLY),
    (re.compile(r"opened the room"), Change.OPENED),
    (re.compile(r"set slow mode: one line every (?P<seconds>\d+(?:\.\d+)?) second"), Change.SLOW),
    (re.compile(r"turned slow mode off"), Change.SLOW),
    (re.compile(r"is now an operator"), Change.OPERATOR),
    (re.compile(r"made (?P<nick>\S+) an operator"), Change.OPERATOR),
    (re.compile(r"took (?P<nick>\S+?)'s operator rights"), Change.NOT_OPERATOR),
)
"""The start of each NOTICE text the client acts on, as the server words it."""


def read_notice(operator: str, text: str) -> NoticeChange | None:
    """What NOTICE `operator` `text` changes, or None if it is none of the known ones."""
    for pattern, change in _NOTICES:
        found = pattern.match(text)
        if found is not None:
            groups = found.groupdict()
            return NoticeChange(change, groups.get("nick") or operator,
                                float(groups.get("seconds") or 0))
    return None


_PUT_OUT = re.compile(r"(?P<how>kicked|banned) by (?P<operator>\S+?): (?P<why>.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class PutOut:
    """A PART reason that says an operator put someone out: `kicked` or `banned`."""

    how: str
    operator: str
    why: str


def maybe_put_out(reason: str) -> PutOut | None:
    """`kicked by OP: REASON` or `banned by OP: REASON` read; None for any other reason."""
    found = _PUT_OUT.fullmatch(reason)
    if found is None:
        return None
    return PutOut(found["how"], found["operator"], found["why"])


def you_left(room: str, reason: str) -> str:
    """What the client says when you are out of `room`: kicked, banned, or you left."""
    put_out = maybe_put_out(reason)
    if put_out is None:
        return f"you left {room} ({reason})"
    return f"you were {put_out.how} from {room} by {put_out.operator}: {put_out.why}"


@dataclass
class RoomModes:
    """A room's modes as the client knows them: read-only, slow (and how slow)."""

    read_only: bool = False
    slow: bool = False
    slow_seconds: float = 0.0  # 0 while slow: how slow is not known (an error, no notice)

    def apply(self, change: NoticeChange) -> None:
        """Follow a room notice."""
        if change.change is Change.READ_ONLY:
            self.read_only = True
        elif change.change is Change.OPENED:
            self.read_only = False
        elif change.change is Change.SLOW:
            self.slow, self.slow_seconds = change.seconds > 0, change.seconds

    def marks(self) -> list[str]:
        """What the status bar shows for the room: `read-only`, `slow 5s` (or `slow`)."""
        marks = ["read-only"] if self.read_only else []
        if self.slow:
            marks.append(f"slow {self.slow_seconds:g}s" if self.slow_seconds else "slow")
        return marks
