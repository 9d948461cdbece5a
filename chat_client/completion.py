"""Tab completion: nicknames of the people in the room, and command names.

    /m<Tab>       -> /me, then /msg            (a command, at the start of the line)
    bo<Tab>       -> bob:                      (a nickname starting the line, irssi style)
    hi bo<Tab>    -> hi bob                    (a nickname anywhere else)

Matching ignores case the way nicknames do (`protocol.nick_key`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from protocol import nick_key

ADDRESS_SUFFIX = ": "
"""Added after a nickname completed at the start of a line: `bob: ...` addresses bob."""


class ChatCompleter(Completer):
    """Completes the word before the cursor from the commands and the current users."""

    def __init__(self, get_users: Callable[[], Sequence[str]], commands: Iterable[str]) -> None:
        self._get_users = get_users
        self._commands = sorted(commands)

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterator[Completion]:
        """The completions of the whitespace-separated word before the cursor."""
        word = document.get_word_before_cursor(WORD=True)
        starts_line = not document.text_before_cursor[: -len(word) or None].strip()
        if starts_line and word.startswith("/"):
            yield from _matching(word, self._commands, suffix=" ")
        else:
            suffix = ADDRESS_SUFFIX if starts_line else ""
            yield from _matching(word, self._get_users(), suffix=suffix)


def _matching(word: str, candidates: Iterable[str], suffix: str) -> Iterator[Completion]:
    prefix = nick_key(word)
    for candidate in candidates:
        if nick_key(candidate).startswith(prefix):
            yield Completion(candidate + suffix, start_position=-len(word), display=candidate)
