"""Command values: what a client's line means, once parsed (see `commands.py`).

Each command is a small frozen dataclass named for what the person asked; the chat logic
(the server's directory) receives these and never sees the line they came from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Say:
    """Say `text` to the room."""

    text: str


@dataclass(frozen=True, slots=True)
class SayLines:
    """Say each of `texts` to the room, in order: plain lines that arrived together (a
    paste, or a program's lines in one read), handed over as one command so that what
    is the same for every line (who says it, where, may they) is looked at once."""

    texts: tuple[str, ...]

    def one_by_one(self) -> list[Say]:
        """The same lines as one `Say` each, for whatever must look at them one at a time."""
        return [Say(text) for text in self.texts]


@dataclass(frozen=True, slots=True)
class SetNick:
    """Choose (and so join) or change nickname."""

    name: str


@dataclass(frozen=True, slots=True)
class Me:
    """An action: `/me waves` is shown as `* alice waves`."""

    text: str


@dataclass(frozen=True, slots=True)
class SendPrivate:
    """A private message to one person."""

    nick: str
    text: str


@dataclass(frozen=True, slots=True)
class Who:
    """List the people in a room (`room` None: the current one)."""

    room: str | None = None


@dataclass(frozen=True, slots=True)
class Quit:
    """Leave, with a reason (`quit` when none was given)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Ping:
    """Ask the server to answer `PONG token`."""

    token: str


@dataclass(frozen=True, slots=True)
class Help:
    """List the commands."""


@dataclass(frozen=True, slots=True)
class ShowStats:
    """Ask for the server's figures (a STATS event)."""


@dataclass(frozen=True, slots=True)
class StartMachineMode:
    """`/hello CLIENT VERSION`: switch this connection to machine events."""

    client: str
    version: str


@dataclass(frozen=True, slots=True)
class JoinRoom:
    """Join `room` (created if new) and make it current; the `#` is added if left out."""

    room: str


@dataclass(frozen=True, slots=True)
class LeaveRoom:
    """`/part [ROOM] [REASON]`, as typed: which words name the room is the server's to say,
    since only it knows the rooms you are in (`/part games` leaves #games if you are there)."""

    words: str


@dataclass(frozen=True, slots=True)
class ListRooms:
    """List the rooms that have people in them."""


@dataclass(frozen=True, slots=True)
class ShowTopic:
    """Show the current room's topic."""


@dataclass(frozen=True, slots=True)
class SetTopic:
    """Set the current room's topic."""

    text: str


@dataclass(frozen=True, slots=True)
class InRoom:
    """`/in ROOM LINE`: run `command` as if `room` were current, without switching to it."""

    room: str
    command: Command


@dataclass(frozen=True, slots=True)
class ShowHistory:
    """`/history ROOM before|after ID [N]` or `/history ROOM latest [N]`."""

    room: str
    direction: str  # "before", "after" or "latest"
    event_id: int | None  # None for "latest"
    count: int


@dataclass(frozen=True, slots=True)
class GivePassword:
    """`/pass SECRET`: the server's password (`--password`), before anything else."""

    secret: str


@dataclass(frozen=True, slots=True)
class Oper:
    """`/oper TOKEN`: become an operator."""

    token: str


@dataclass(frozen=True, slots=True)
class SetOperator:
    """`/op NICK` (`on`) or `/deop NICK`: give or take an operator's rights."""

    nick: str
    on: bool


@dataclass(frozen=True, slots=True)
class Kick:
    """`/kick NICK [REASON]`: put someone out of the current room."""

    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class BanTarget:
    """`/ban NICK|ADDRESS [MINUTES] [REASON]`: out of every room, and kept out."""

    target: str
    minutes: float | None  # None: until lifted
    reason: str


@dataclass(frozen=True, slots=True)
class Unban:
    """`/unban NICK|ADDRESS`: lift a ban."""

    target: str


@dataclass(frozen=True, slots=True)
class ListBans:
    """`/bans`: the bans in force."""


@dataclass(frozen=True, slots=True)
class Mute:
    """`/mute NICK [MINUTES]`: they may read, not speak."""

    nick: str
    minutes: float | None  # None: until /unmute


@dataclass(frozen=True, slots=True)
class Unmute:
    """`/unmute NICK`."""

    nick: str


@dataclass(frozen=True, slots=True)
class SetReadOnly:
    """`/readonly [on|off]` on the current room: only operators may speak there."""

    on: bool


@dataclass(frozen=True, slots=True)
class SetSlow:
    """`/slow SECONDS` on the current room: one line per SECONDS for each non-operator."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A line that could not be read (too long, not UTF-8): `code` and `text` say why."""

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class UnknownCommand:
    """A `/word` that names no command."""

    name: str


@dataclass(frozen=True, slots=True)
class BadArgs:
    """A known command with missing arguments; `usage` says what it takes."""

    command: str
    usage: str


Command = (
    Say | SayLines | SetNick | Me | SendPrivate | Who | Quit | Ping | Help | ShowStats
    | StartMachineMode | JoinRoom | LeaveRoom | ListRooms | ShowTopic | SetTopic | InRoom
    | ShowHistory | GivePassword | Oper | SetOperator | Kick | BanTarget | Unban | ListBans
    | Mute | Unmute | SetReadOnly | SetSlow | Unreadable | UnknownCommand | BadArgs
)
