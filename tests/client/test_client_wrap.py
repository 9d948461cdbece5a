"""Wrapping text without spaces: Chinese, Japanese, a long URL fill the row they start on.

A row may break between any two wide characters (as between ideographs), and a word too
wide for any row is cut between characters where it starts, so the first row is never left
holding only the time and the nickname.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from prompt_toolkit.utils import get_cwidth

from protocol import Message

from chat_client.scrollback import wrap_entry, wrap_fragments
from chat_client.view import TIMESTAMP_WIDTH, Entry, render_event

NOON = datetime(2026, 1, 2, 12, 0)
CHINESE = "今天下午三点在二楼会议室开会请大家准时参加并带上笔记本电脑和上周的报告谢谢"
JAPANESE = "きょうのごごさんじにかいぎしつでかいぎをおこないますのでじかんどおりにきてください"
URL = "https://example.org/a/very/long/path/that/goes/on/and/on?with=a&query=string"


def row_text(row) -> str:  # type: ignore[no-untyped-def]
    return "".join(text for _, text in row)


def said(nick: str, text: str) -> Entry:
    entry = render_event(Message(nick, text), "alice", NOON)
    assert entry is not None
    return entry


def rows_of(entry: Entry, width: int) -> list[str]:
    return [row_text(row) for row in wrap_entry(entry, width)]


@pytest.mark.parametrize("width", [20, 33, 40, 57, 80])
@pytest.mark.parametrize("text", [CHINESE, JAPANESE, "見て " + URL, CHINESE + URL],
                         ids=["chinese", "japanese", "url", "chinese-then-url"])
def test_text_without_spaces_fills_the_first_row(text: str, width: int) -> None:
    rows = rows_of(said("张三", text), width)
    first = rows[0]
    assert first.startswith("12:00 <张三> ")
    # Filled to the edge, or one column short when a wide character did not fit there.
    assert width - 1 <= get_cwidth(first) <= width
    assert all(get_cwidth(row) <= width for row in rows)
    assert all(row.startswith(" " * TIMESTAMP_WIDTH) for row in rows[1:])
    shown = first + "".join(row[TIMESTAMP_WIDTH:] for row in rows[1:])
    assert shown.replace(" ", "") == f"12:00<张三>{text}".replace(" ", "")


def test_a_long_url_starts_right_after_the_nick() -> None:
    rows = rows_of(said("bob", URL), 40)
    assert rows[0] == "12:00 <bob> " + URL[:28]
    assert rows[1] == " " * TIMESTAMP_WIDTH + URL[28:62]


def test_a_word_that_fits_a_row_of_its_own_still_moves_down_whole() -> None:
    rows = rows_of(said("bob", "see the release notes tomorrow"), 30)
    assert rows == ["12:00 <bob> see the release ", "      notes tomorrow"]


def test_rows_break_between_ideographs_and_never_split_one() -> None:
    rows = wrap_fragments((("", "ab 你好世界"),), width=7)
    # "ab " then 你好 fills 7 columns; no ideograph straddles the edge.
    assert [row_text(row) for row in rows] == ["ab 你好", "世界"]


def test_combining_marks_after_a_wide_character_stay_with_it() -> None:
    rows = wrap_fragments((("", "你\u0301好\u0301世\u0301"),), width=4)
    assert [row_text(row) for row in rows] == ["你\u0301好\u0301", "世\u0301"]
