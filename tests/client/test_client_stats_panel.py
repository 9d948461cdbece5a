"""The `/stats` panel: the server's figures as aligned lines for people (pure functions)."""

from __future__ import annotations

from datetime import datetime

import pytest
from prompt_toolkit.utils import get_cwidth

from protocol import Stats, decode_event

from chat_client.figures import format_bytes, format_count, format_uptime, panel_rows
from chat_client.scrollback import wrap_entry
from chat_client.view import TIMESTAMP_WIDTH, EntryKind, render_event

NOON = datetime(2026, 1, 2, 12, 34)

FULL = (("tasks", "12"), ("ready", "1"), ("recv_wait", "6"), ("send_wait", "1"),
        ("sleeping", "1"), ("parked", "3"), ("clients", "5"), ("joined", "4"),
        ("events_relayed", "1234"), ("outbox_bytes", "3174"), ("outbox_max", "2048"),
        ("loop_iterations", "56789"), ("uptime", "3723.4"))
"""A whole reply, as docs/protocol.md lists the keys."""


def panel(*figures: tuple[str, str]) -> list[str]:
    """The panel's lines as the entry holds them, timestamp and all.

    On screen the pane also indents each line after the first past the timestamp column.
    """
    entry = render_event(Stats(tuple(figures)), "alice", NOON)
    assert entry is not None and entry.kind is EntryKind.STATS
    return entry.text.split("\n")


@pytest.mark.parametrize(("value", "shown"), [
    ("0", "0"), ("999", "999"), ("1234", "1,234"), ("56789", "56,789"),
    ("1234567", "1,234,567"), ("-12", "-12"),
    ("12a", "12a"), ("1_000", "1_000"), ("١٢", "١٢"), ("", ""),  # not numbers: as they came
])
def test_counts_get_thousands_separators(value: str, shown: str) -> None:
    assert format_count(value) == shown


@pytest.mark.parametrize(("value", "shown"), [
    ("0", "0 B"), ("512", "512 B"), ("1023", "1023 B"), ("1024", "1.0 KiB"),
    ("3174", "3.1 KiB"), ("10189", "10 KiB"), ("1048575", "1.0 MiB"), ("1048576", "1.0 MiB"),
    ("5000000000", "4.7 GiB"),
    ("-3", "-3"), ("3.5", "3.5"), ("lots", "lots"),  # not a byte count: as it came
])
def test_byte_counts_use_binary_units(value: str, shown: str) -> None:
    assert format_bytes(value) == shown


@pytest.mark.parametrize(("value", "shown"), [
    ("0.0", "0s"), ("42.9", "42s"), ("60", "1m 00s"), ("307.2", "5m 07s"),
    ("3723.4", "1h 02m"), ("86399", "23h 59m"), ("273600", "3d 04h"),
    ("nan", "nan"), ("inf", "inf"), ("-5", "-5"), ("1e5", "1e5"),  # not a time: as it came
])
def test_uptime_shows_its_two_largest_units(value: str, shown: str) -> None:
    assert format_uptime(value) == shown


def test_a_whole_reply_reads_as_an_aligned_panel_with_human_labels() -> None:
    assert panel(*FULL) == [
        "12:34 -!- server figures",
        "    tasks            12 (ready 1 · waiting to receive 6 ·",
        "                         waiting to send 1 · sleeping 1 · parked 3)",
        "    clients          5 (joined 4)",
        "    events relayed   1,234",
        "    queued output    3.1 KiB (largest 2.0 KiB)",
        "    loop iterations  56,789",
        "    uptime           1h 02m",
    ]


def test_the_figures_keep_a_fixed_order_whatever_order_they_came_in() -> None:
    assert panel(*reversed(FULL)) == panel(*FULL)


def test_keys_this_client_does_not_know_are_kept_at_the_end_as_they_came() -> None:
    lines = panel(("gc_runs", "7"), *FULL, ("cpu_percent", "3.5"), ("gc_runs", "8"))
    assert lines[-2:] == ["    gc_runs          8", "    cpu_percent      3.5"]
    assert len(lines) == 10  # each unknown key once, with its last value


def test_a_reply_with_only_some_figures_shows_only_those() -> None:
    assert panel(("clients", "2"), ("uptime", "5")) == [
        "12:34 -!- server figures", "    clients          2", "    uptime           5s"]
    # Task states without a total: the total is unknown, the states are still shown.
    assert panel(("parked", "3"))[1:] == ["    tasks            ? (parked 3)"]
    assert panel(("outbox_max", "10"))[1:] == ["    queued output    ? (largest 10 B)"]


def test_values_that_are_not_numbers_are_shown_as_they_came() -> None:
    lines = panel(("tasks", "many"), ("uptime", "forever"), ("outbox_bytes", "lots"))
    assert "    tasks            many" in lines
    assert "    uptime           forever" in lines
    assert "    queued output    lots" in lines


def test_hostile_keys_and_values_from_the_network_are_sanitised() -> None:
    line = ("STATS tasks=\x1b[2J12 clients=\u202e3 joined=\x9b5m2 "
            "\x1b]0;pwned\x07evil=\x07\x1b[31mred")
    event = decode_event(line)
    assert isinstance(event, Stats)
    entry = render_event(event, "alice", NOON)
    assert entry is not None
    drawn = entry.text
    for bad in ("\x1b", "\x07", "\x9b", "\u202e", "pwned"):
        assert bad not in drawn
    assert "    tasks            12" in drawn.split("\n")
    assert "    clients          3 (joined 2)" in drawn.split("\n")
    assert "    evil             red" in drawn.split("\n")


def test_a_long_value_is_cut_like_any_other_network_text() -> None:
    entry = render_event(Stats((("tasks", "9" * 5000),)), "alice", NOON)
    assert entry is not None and "[... 1000 more characters]" in entry.text


def test_labels_values_and_details_have_their_own_styles() -> None:
    entry = render_event(Stats(FULL), "alice", NOON)
    assert entry is not None
    styled = {(style, text.strip()) for style, text in entry.fragments}
    assert ("class:stats.heading", "-!- server figures") in styled
    assert ("class:stats.label", "events relayed") in styled
    assert ("class:stats.value", "1,234") in styled
    assert ("class:stats.detail", "(joined 4)") in styled


def test_the_panel_is_one_entry_whose_lines_fit_80_columns_even_with_big_figures() -> None:
    big = dict(FULL, tasks="2004", recv_wait="2000", parked="2003", clients="1000",
               joined="1000", loop_iterations="1234567890", outbox_bytes="1073741824")
    entry = render_event(Stats(tuple(big.items())), "alice", NOON)
    assert entry is not None
    rows = ["".join(text for _, text in row) for row in wrap_entry(entry, 80)]
    heading, *lines = entry.text.split("\n")
    # Not one line had to wrap: each is a row, past the timestamp column.
    assert rows == [heading] + [" " * TIMESTAMP_WIDTH + line for line in lines]
    assert all(get_cwidth(row) <= 80 for row in rows)
    assert "    loop iterations  1,234,567,890" in lines
    assert "    queued output    1.0 GiB (largest 2.0 KiB)" in lines


def test_in_a_narrow_pane_the_panel_wraps_past_the_timestamp_column() -> None:
    entry = render_event(Stats(FULL), "alice", NOON)
    assert entry is not None
    rows = ["".join(text for _, text in row) for row in wrap_entry(entry, 40)]
    assert len(rows) > len(entry.text.split("\n"))
    assert all(get_cwidth(row) <= 40 for row in rows)
    assert all(row.startswith("      ") for row in rows[1:])


def test_panel_rows_keep_the_raw_figures_apart_from_the_layout() -> None:
    rows = panel_rows((("clients", "5"), ("joined", "4"), ("mystery", "x")))
    assert [(row.label, row.value, row.details) for row in rows] == [
        ("clients", "5", ("joined 4",)), ("mystery", "x", ())]
