"""The message pane: a UIControl that only ever lays out what is visible.

A `FormattedTextControl` over the whole scrollback would re-lay-out every entry at each
redraw; with thousands of lines that is a freeze on every keystroke. Here a redraw walks
back from the entry at the bottom of the view and stops when the pane is full, so its cost
depends on the pane's height, not on the length of the scrollback.

Wrapping counts display columns (`get_cwidth`), so Chinese and emoji, two columns each,
never overflow a line or split in half; continuation lines are indented past the timestamp.
A row breaks between words when the next word fits on a row of its own; a word that would
not fit anyway (a long URL) fills the row it starts on, and each wide character (Chinese,
Japanese, emoji) is a word of its own, as line breaking allows between ideographs, so text
without spaces fills every row instead of leaving the first with only the time and nick.
A line break in an entry (only the view puts one there: network text never holds one once
cleaned) starts a new row, so a panel such as `/stats` is one entry over several lines:
it scrolls, pages and ages out of the scrollback as one thing.

When two entries in a row happened on different days, a day separator row
(`--- Tue 01 Dec 2026 ---`) is drawn above the later one: it belongs to that entry, so
scrolling still counts entries, and it is never stored, so lines inserted later (older
history, missed lines) get the right separators around them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.layout.controls import UIContent, UIControl
from prompt_toolkit.utils import get_cwidth

from chat_client.state import ClientState
from chat_client.view import TIMESTAMP_WIDTH, Entry, Fragments

Row = Fragments
"""One screen line of an entry."""


@lru_cache(maxsize=8192)
def wrap_entry(entry: Entry, width: int) -> tuple[Row, ...]:
    """The screen lines of `entry` in a pane `width` columns wide (cached: entries are frozen)."""
    return wrap_fragments(entry.fragments, width, TIMESTAMP_WIDTH)


@lru_cache(maxsize=64)
def day_separator(day: date) -> Row:
    """The row drawn where the date changes between two entries."""
    return (("class:day", f"--- {day.strftime('%a %d %b %Y')} ---"),)


def entry_rows(entries: Sequence[Entry], index: int, width: int) -> tuple[Row, ...]:
    """The rows of `entries[index]`: a day separator first if the day changed, then its lines."""
    rows = wrap_entry(entries[index], width)
    if index > 0:
        day, previous = entries[index].day, entries[index - 1].day
        if day is not None and previous is not None and day != previous:
            return (day_separator(day), *rows)
    return rows


def wrap_fragments(fragments: Fragments, width: int, indent: int = 0) -> tuple[Row, ...]:
    """Cut `fragments` into rows of at most `width` columns; rows after the first are indented.

    Rows break between words where they can; a word wider than a whole row starts where the
    row is and is cut between characters. Each wide character is a word of its own. A character never straddles two rows: a wide one that does not fit starts
    the next row. Zero-width characters (combining marks) stay with the one before them.
    A `\n` always starts a new row.
    """
    builder = _RowBuilder(max(width, 1), indent)
    for number, line in enumerate(_lines(fragments)):
        if number:
            builder.break_row()
        for word in _words(line):
            builder.add_word(word)
    return builder.rows()


def _lines(fragments: Fragments) -> list[Fragments]:
    """`fragments` cut at each `\n` (which is dropped), keeping every piece's style."""
    lines: list[list[tuple[str, str]]] = [[]]
    for style, text in fragments:
        first, *others = text.split("\n")
        lines[-1].append((style, first))
        lines.extend([(style, piece)] for piece in others)
    return [tuple(line) for line in lines]


_StyledChar = tuple[str, str]


def _words(fragments: Fragments) -> list[list[_StyledChar]]:
    """The characters of `fragments` with their styles, grouped as words with their spaces.

    A wide character is a word by itself (with the spaces and combining marks after it).
    """
    words: list[list[_StyledChar]] = []
    previous = " "
    for style, text in fragments:
        for char in text:
            if not words or _starts_word(previous, char):
                words.append([])
            words[-1].append((style, char))
            previous = char
    return words


def _starts_word(previous: str, char: str) -> bool:
    """Whether a row may break between `previous` and `char`."""
    width = get_cwidth(char)
    if width == 0 or char == " ":
        return False  # a combining mark or a space stays with what it follows
    return previous == " " or width > 1 or get_cwidth(previous) > 1


class _RowBuilder:
    """Accumulates words into rows, merging runs of one style into one fragment."""

    def __init__(self, width: int, indent: int) -> None:
        self._width = width
        self._indent = indent if indent < width // 2 else 0
        self._done: list[Row] = []
        self._row: list[tuple[str, str]] = []
        self._column = 0

    def add_word(self, word: list[_StyledChar]) -> None:
        visible = get_cwidth("".join(char for _, char in word).rstrip(" "))
        # Moving a word down only helps if it then fits; one too wide for any row fills
        # this one and goes on, cut between characters.
        fits_a_new_row = visible <= self._width - self._indent
        if (self._column + visible > self._width and self._column > self._row_start()
                and fits_a_new_row):
            self.break_row()
        for style, char in word:
            self._add(style, char)

    def _add(self, style: str, char: str) -> None:
        char_width = get_cwidth(char)
        if self._column + char_width > self._width:
            if char == " ":
                return  # a space at the end of a row is the line break itself
            if self._column > self._row_start():
                self.break_row()
        if self._row and self._row[-1][0] == style:
            self._row[-1] = (style, self._row[-1][1] + char)
        else:
            self._row.append((style, char))
        self._column += char_width

    def _row_start(self) -> int:
        return self._indent if self._done else 0

    def break_row(self) -> None:
        """End the row here; the next one starts at the indent."""
        self._done.append(tuple(self._row))
        self._row = [("", " " * self._indent)] if self._indent else []
        self._column = self._indent

    def rows(self) -> tuple[Row, ...]:
        return (*self._done, tuple(self._row))


@dataclass(frozen=True, slots=True)
class Viewport:
    """What a pane of a given size shows: its rows, top to bottom, and how many entries."""

    rows: tuple[Row, ...]
    entries_shown: int


def visible_rows(entries: Sequence[Entry], offset: int, width: int, height: int) -> Viewport:
    """The rows a `width` x `height` pane shows with `offset` entries hidden below it.

    The entry `offset` places from the end sits at the bottom, older ones above it, until
    the pane is full; an entry cut by the top edge shows its last rows. With fewer rows
    than the pane holds, they start at the top, like a fresh terminal.
    """
    rows: list[Row] = []
    shown = 0
    index = len(entries) - 1 - max(0, offset)
    while index >= 0 and len(rows) < height:
        rows[:0] = entry_rows(entries, index, width)
        shown += 1
        index -= 1
    return Viewport(tuple(rows[-height:]) if height > 0 else (), shown)


def highest_offset(entries: Sequence[Entry], width: int, height: int) -> int:
    """The largest useful offset: the one where the oldest entry reaches the top of the pane.

    Scrolling further would only leave blank lines at the bottom.
    """
    filled = 0
    for index in range(len(entries)):
        filled += len(entry_rows(entries, index, width))
        if filled >= height:
            return len(entries) - 1 - index
    return 0


class ScrollbackControl(UIControl):
    """The message pane: shows `state.entries` at `state.scroll_offset`, nothing more."""

    def __init__(self, state: ClientState) -> None:
        self._state = state
        self._width = 80
        self._height = 24
        self._entries_shown = 1

    def is_focusable(self) -> bool:
        """The input line keeps the focus; the pane is scrolled with PageUp/PageDown."""
        return False

    def create_content(self, width: int, height: int) -> UIContent:
        """Lay out only the visible slice of the scrollback."""
        self._width, self._height = width, height
        viewport = visible_rows(self._state.entries, self._state.scroll_offset, width, height)
        self._entries_shown = viewport.entries_shown
        rows: list[StyleAndTextTuples] = [list(row) for row in viewport.rows]
        return UIContent(get_line=lambda number: rows[number], line_count=len(rows),
                         show_cursor=False)

    def page_up(self) -> bool:
        """Scroll back by a page (the entries on screen, less one kept for context).

        False if the view was already at the top: nothing older is here to show.
        """
        limit = highest_offset(self._state.entries, self._width, self._height)
        before = self._state.scroll_offset
        self._state.scroll_up(self._page(), limit)
        return self._state.scroll_offset != before or before < limit

    def page_down(self) -> None:
        """Scroll forward by a page; at the bottom the pane follows new messages again."""
        self._state.scroll_down(self._page())

    def _page(self) -> int:
        return max(1, self._entries_shown - 1)

    def visible_text(self, width: int | None = None, height: int | None = None) -> list[str]:
        """The pane's lines as plain text (for tests and debugging)."""
        viewport = visible_rows(self._state.entries, self._state.scroll_offset,
                                width or self._width, height or self._height)
        return ["".join(text for _, text in row) for row in viewport.rows]
