"""The message pane: wrapping by display width, and laying out only the visible slice."""

from __future__ import annotations

from datetime import datetime

from prompt_toolkit.utils import get_cwidth

from protocol import Message

from chat_client import scrollback
from chat_client.scrollback import (
    ScrollbackControl, highest_offset, visible_rows, wrap_entry, wrap_fragments,
)
from chat_client.state import ClientState
from chat_client.view import TIMESTAMP_WIDTH, Entry, EntryKind, render_event

NOON = datetime(2026, 1, 2, 12, 0)


def row_text(row) -> str:  # type: ignore[no-untyped-def]
    return "".join(text for _, text in row)


def message(number: int, text: str | None = None) -> Entry:
    entry = render_event(Message("bob", text or f"message {number}"), "alice", NOON)
    assert entry is not None
    return entry


def test_a_short_line_is_one_row() -> None:
    assert [row_text(row) for row in wrap_entry(message(1), 80)] == ["12:00 <bob> message 1"]


def test_wide_characters_are_never_split_and_never_overflow() -> None:
    text = "你好世界" * 10 + "🎉" * 7
    rows = wrap_fragments((("", text),), width=9)
    assert all(get_cwidth(row_text(row)) <= 9 for row in rows)
    assert "".join(row_text(row) for row in rows) == text
    # 9 columns hold four 2-column characters: the fifth starts the next row.
    assert row_text(rows[0]) == "你好世界"


def test_continuation_rows_are_indented_past_the_timestamp() -> None:
    rows = wrap_entry(message(1, "x" * 100), 40)
    assert len(rows) == 4
    assert all(row_text(row).startswith(" " * TIMESTAMP_WIDTH + "x") for row in rows[1:])
    assert all(get_cwidth(row_text(row)) <= 40 for row in rows)


def test_rows_break_between_words_when_they_can() -> None:
    rows = wrap_fragments((("", "alpha beta gamma delta"),), width=12)
    assert [row_text(row) for row in rows] == ["alpha beta ", "gamma delta"]
    rows = wrap_entry(message(1, "the release notes are waiting on it"), 30)
    assert [row_text(row) for row in rows] == ["12:00 <bob> the release notes ",
                                               "      are waiting on it"]


def test_a_word_wider_than_a_row_is_cut_between_characters() -> None:
    # It fills the row it starts on (moving it down would not make it fit either).
    rows = wrap_fragments((("", "see https://example.org/a/very/long/path ok"),), width=16)
    assert [row_text(row) for row in rows] == ["see https://exam", "ple.org/a/very/l",
                                               "ong/path ok"]


def test_combining_marks_stay_with_their_letter() -> None:
    rows = wrap_fragments((("", "e\u0301" * 5),), width=2)
    assert [row_text(row) for row in rows] == ["e\u0301e\u0301", "e\u0301e\u0301", "e\u0301"]


def test_styles_survive_wrapping() -> None:
    rows = wrap_fragments((("class:a", "aaaa"), ("class:b", "bbbb")), width=3)
    assert rows == ((("class:a", "aaa"),), (("class:a", "a"), ("class:b", "bb")),
                    (("class:b", "bb"),))


def test_the_newest_entries_sit_at_the_bottom_of_a_full_pane() -> None:
    entries = [message(number) for number in range(100)]
    viewport = visible_rows(entries, offset=0, width=80, height=5)
    assert [row_text(row)[-10:].strip() for row in viewport.rows] == [
        "message 95", "message 96", "message 97", "message 98", "message 99"]


def test_an_offset_hides_entries_below_the_view() -> None:
    entries = [message(number) for number in range(100)]
    viewport = visible_rows(entries, offset=10, width=80, height=3)
    assert row_text(viewport.rows[-1]).endswith("message 89")


def test_a_few_entries_start_at_the_top() -> None:
    viewport = visible_rows([message(1), message(2)], offset=0, width=80, height=10)
    assert [row_text(row)[-9:] for row in viewport.rows] == ["message 1", "message 2"]


def test_an_entry_cut_by_the_top_edge_shows_its_last_rows() -> None:
    viewport = visible_rows([message(1, "y" * 200)], offset=0, width=40, height=2)
    assert len(viewport.rows) == 2 and row_text(viewport.rows[-1]).strip().startswith("y")


def test_scrolling_stops_where_the_oldest_entry_reaches_the_top() -> None:
    entries = [message(number) for number in range(30)]
    assert highest_offset(entries, width=80, height=10) == 20
    assert highest_offset(entries[:5], width=80, height=10) == 0


def test_a_redraw_lays_out_only_what_is_visible_however_long_the_scrollback(
    monkeypatch
) -> None:
    state = ClientState(address="h:1", scrollback_limit=20000)
    for number in range(10000):
        state.add_entry(message(number))
    control = ScrollbackControl(state)
    laid_out: list[Entry] = []

    def counting_wrap_entry(entry: Entry, width: int):  # type: ignore[no-untyped-def]
        laid_out.append(entry)
        return wrap_entry(entry, width)

    monkeypatch.setattr(scrollback, "wrap_entry", counting_wrap_entry)
    for scroll in range(200):
        state.scroll_offset = scroll * 40
        content = control.create_content(120, 40)
    assert content.line_count == 40
    assert "".join(text for _, text in content.get_line(39)).endswith(f"message {9999 - 199 * 40}")
    # Each of the 200 redraws of a 10,000-line scrollback lays out the 40 one-row entries
    # it shows, and nothing else (counted, not timed: the machine's speed does not matter).
    assert len(laid_out) == 200 * 40


def test_page_up_and_down_move_by_a_screenful_and_count_unread() -> None:
    state = ClientState(address="h:1")
    for number in range(50):
        state.add_entry(message(number))
    control = ScrollbackControl(state)
    control.create_content(80, 10)
    control.page_up()
    assert state.scroll_offset == 9 and not state.following
    control.create_content(80, 10)
    assert control.visible_text()[-1].endswith("message 40")
    state.add_entry(message(50))
    assert state.unread == 1 and control.visible_text()[-1].endswith("message 40")
    control.page_down()
    control.page_down()
    assert state.following and state.unread == 0
    assert control.visible_text()[-1].endswith("message 50")


def test_page_up_stops_at_the_oldest_entry() -> None:
    state = ClientState(address="h:1")
    for number in range(12):
        state.add_entry(message(number))
    control = ScrollbackControl(state)
    control.create_content(80, 10)
    for _ in range(5):
        control.page_up()
    assert state.scroll_offset == 2
    assert control.visible_text(80, 10)[0].endswith("message 0")


def test_the_pane_is_not_focusable_so_typing_always_goes_to_the_input_line() -> None:
    assert not ScrollbackControl(ClientState(address="h:1")).is_focusable()


def test_entry_kinds_of_notices() -> None:
    assert message(1).kind is EntryKind.MESSAGE


def test_a_line_break_starts_an_indented_row_and_each_line_wraps_on_its_own() -> None:
    fragments = (("class:a", "heading\n  one two three"), ("class:b", "\n  four"))
    rows = wrap_fragments(fragments, width=12, indent=3)
    assert [row_text(row) for row in rows] == ["heading", "     one two", "   three",
                                               "     four"]
    assert rows[-1][-1] == ("class:b", "  four")  # a piece after a break keeps its style
    assert all("\n" not in row_text(row) for row in rows)


def test_an_entry_of_several_lines_scrolls_as_one_entry() -> None:
    panel = Entry(EntryKind.INFO, (("", "12:00 -!- figures\n    a 1\n    b 2"),))
    state = ClientState(address="h:1")
    for number in range(20):
        state.add_entry(message(number))
    state.add_entry(panel)
    control = ScrollbackControl(state)
    control.create_content(80, 6)
    assert control.visible_text()[-3:] == ["12:00 -!- figures", "          a 1",
                                           "          b 2"]
    control.page_up()  # 4 entries were on screen (3 rows of panel, 3 messages): 3 back
    assert state.scroll_offset == 3
    assert control.visible_text(80, 6)[-1].endswith("message 17")
    control.page_down()
    assert state.following and control.visible_text(80, 6)[-1] == "          b 2"
