"""Tab completion: nicknames of the people in the room, and command names.

    /m<Tab>       -> /me, then /msg            (a command, at the start of the line)
    /stats o<Tab> -> /stats on, then off       (a command's word, when it takes one)
    bo<Tab>       -> bob:                      (a nickname starting the line, irssi style)
    hi bo<Tab>    -> hi bob                    (a nickname anywhere else)
    /msg <Tab>    -> /msg carol                (the latest private correspondent first)
    /join g<Tab>  -> /join #games              (a room: yours first, then from /rooms)
    /mute b<Tab>  -> /mute bob                 (an operator's command: the room's people
                                                first, then those of your other rooms)
    /readonly <Tab> -> /readonly on, then off
    see #g<Tab>   -> see #games                (a word starting with # is a room)

Matching ignores case the way nicknames do (`protocol.nick_key`).

`TabCycler` does the cycling itself, synchronously, rather than through prompt_toolkit's
background completion: a completion computed later, for whatever the line holds by then,
could land in the next line when Tab and Enter arrive together (a fast typist, a paste).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prompt_toolkit.buffer import Buffer
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from protocol import nick_key

PRIVATE_MESSAGE_COMMAND = "/msg"
"""After it, Tab offers your latest private correspondents first."""

ADDRESS_SUFFIX = ": "
"""Added after a nickname completed at the start of a line: `bob: ...` addresses bob."""


class ChatCompleter(Completer):
    """Completes the word before the cursor from the commands and the current users.

    `arguments` maps a command to the words it takes (`/stats` -> `on`, `off`): they are
    offered for the word right after it. `get_correspondents` gives the people you last
    exchanged private messages with, the latest first: after `/msg ` they come first.
    `get_rooms` gives the room names to offer after one of `room_commands` and for a word
    that starts with `#`. After one of `nick_commands` (an operator's `/mute`), the people
    of the room come first, then `get_everyone`'s (the people of your other rooms).
    """

    def __init__(self, get_users: Callable[[], Sequence[str]], commands: Iterable[str],
                 arguments: Mapping[str, Sequence[str]] | None = None,
                 get_correspondents: Callable[[], Sequence[str]] = tuple,
                 get_rooms: Callable[[], Sequence[str]] = tuple,
                 room_commands: Iterable[str] = (),
                 nick_commands: Iterable[str] = (),
                 get_everyone: Callable[[], Sequence[str]] = tuple) -> None:
        self._get_users = get_users
        self._nick_commands = {command.lower() for command in nick_commands}
        self._get_everyone = get_everyone
        self._get_rooms = get_rooms
        self._room_commands = {command.lower() for command in room_commands}
        self._commands = sorted(commands)
        self._arguments = {command.lower(): words for command, words in
                           (arguments or {}).items()}
        self._get_correspondents = get_correspondents

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterator[Completion]:
        """The completions of the whitespace-separated word before the cursor."""
        word = document.get_word_before_cursor(WORD=True)
        starts_line = not document.text_before_cursor[: -len(word) or None].strip()
        before = document.text_before_cursor[: -len(word) or None].split()
        if starts_line and word.startswith("/"):
            yield from _matching(word, self._commands, suffix=" ")
        elif (len(before) == 1 and before[0].lower() in self._room_commands) \
                or word.startswith("#"):
            yield from _matching(word.removeprefix("#"), self._get_rooms(), suffix="",
                                 strip="#", replace=len(word))
        elif len(before) == 1 and before[0].lower() in self._arguments:
            yield from _matching(word, self._arguments[before[0].lower()], suffix="")
        elif len(before) == 1 and before[0].lower() == PRIVATE_MESSAGE_COMMAND:
            yield from _matching(word, self._correspondents_first(), suffix="")
        elif len(before) == 1 and before[0].lower() in self._nick_commands:
            yield from _matching(word, self._room_first(), suffix="")
        else:
            suffix = ADDRESS_SUFFIX if starts_line else ""
            yield from _matching(word, self._get_users(), suffix=suffix)


    def _room_first(self) -> list[str]:
        """The people in the room, then those of your other rooms, each once."""
        people = list(self._get_users())
        seen = {nick_key(nick) for nick in people}
        for nick in self._get_everyone():
            if nick_key(nick) not in seen:
                seen.add(nick_key(nick))
                people.append(nick)
        return people

    def _correspondents_first(self) -> list[str]:
        """The people in the room, those you last wrote to or heard from privately first."""
        users = list(self._get_users())
        in_room = {nick_key(user): user for user in users}
        recent = [in_room[nick_key(nick)] for nick in self._get_correspondents()
                  if nick_key(nick) in in_room]
        recent_keys = {nick_key(nick) for nick in recent}
        return recent + [user for user in users if nick_key(user) not in recent_keys]


def _matching(word: str, candidates: Iterable[str], suffix: str, strip: str = "",
              replace: int | None = None) -> Iterator[Completion]:
    """The candidates that `word` starts (ignoring case, and a leading `strip` of theirs);
    each replaces the last `replace` characters (default: the word)."""
    prefix = nick_key(word)
    for candidate in candidates:
        if nick_key(candidate.removeprefix(strip)).startswith(prefix):
            yield Completion(candidate + suffix, display=candidate,
                             start_position=-(len(word) if replace is None else replace))


@dataclass
class _Cycle:
    """Tab presses in a row: the line before the first, its matches, the one shown."""

    original: Document
    matches: list[Completion]
    index: int
    shown: Document


class TabCycler:
    """irssi-style Tab: the first press puts in the first match, each next press the next."""

    def __init__(self, completer: Completer) -> None:
        self._completer = completer
        self._cycle: _Cycle | None = None

    def complete(self, buffer: Buffer, step: int = 1) -> None:
        """Put the next (`step` 1) or previous (`step` -1) match into `buffer`."""
        cycle = self._cycle
        if cycle is None or buffer.document != cycle.shown:  # the line changed: start afresh
            matches = list(self._completer.get_completions(
                buffer.document, CompleteEvent(completion_requested=True)))
            if not matches:
                self._cycle = None
                return
            cycle = self._cycle = _Cycle(buffer.document, matches, -1 if step > 0 else 0,
                                         buffer.document)
        cycle.index = (cycle.index + step) % len(cycle.matches)
        buffer.document = cycle.shown = _applied(cycle.original, cycle.matches[cycle.index])


def _applied(document: Document, completion: Completion) -> Document:
    before = document.text_before_cursor[: len(document.text_before_cursor)
                                         + completion.start_position]
    text = before + completion.text + document.text_after_cursor
    return Document(text, len(before) + len(completion.text))
