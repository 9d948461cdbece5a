"""The server's figures for people: the `/stats` panel and the status bar's live count.

    tasks            12 (ready 1 · waiting to receive 6 ·
                         waiting to send 1 · sleeping 1 · parked 3)
    clients          5 (joined 4)
    events relayed   1,234
    queued output    3.1 KiB (largest 2.0 KiB)
    loop iterations  56,789
    uptime           1h 02m

    tasks 12: 1 ready 6 recv 1 send 1 sleep 3 park        (the status bar, `/stats on`)

Pure formatting: figures in, text out (the view adds the heading, the indent and the
styles). The figures given here must already be cleaned (`view` cleans them, and is the
only caller), so this module never decides what is safe to draw.

The keys are the ones docs/protocol.md lists. A key this client does not know is kept
and shown as it came, after the known ones, so the figures of a newer server are never
lost; a value that is not the number it should be is shown as it came, too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from prompt_toolkit.utils import get_cwidth

Figures = Sequence[tuple[str, str]]
"""`(key, value)` pairs in the order the server sent them (`Stats.figures`, cleaned)."""

TASK_STATES = (
    ("ready", "ready", "ready"),
    ("recv_wait", "waiting to receive", "recv"),
    ("send_wait", "waiting to send", "send"),
    ("sleeping", "sleeping", "sleep"),
    ("parked", "parked", "park"),
)
"""Where a task can be: the key, its name in the panel, its name in the status bar."""

_TASK_LINES = (TASK_STATES[:2], TASK_STATES[2:])
"""The panel's task breakdown, cut in two so that the panel fits in 80 columns."""

KNOWN_KEYS = frozenset({"tasks", "clients", "joined", "events_relayed", "outbox_bytes",
                        "outbox_max", "loop_iterations", "uptime",
                        *(key for key, _, _ in TASK_STATES)})
"""The keys the panel has a place for; any other key is listed at the end as it came."""

LABEL_WIDTH = len("loop iterations")
"""The label column: as wide as the longest known label (a longer, unknown key pushes
only its own value to the right)."""

UNKNOWN = "?"
"""Shown for a figure the panel expects but the server did not send."""

_INTEGER = re.compile(r"-?[0-9]{1,30}")  # ASCII digits only; int() would take "1_000" too
_DECIMAL = re.compile(r"[0-9]{1,15}(\.[0-9]{1,9})?")
_BYTE_UNITS = ("KiB", "MiB", "GiB", "TiB")


@dataclass(frozen=True, slots=True)
class PanelRow:
    """One figure of the panel: a label, a value, and details shown after the value.

    Each item of `details` is one line of them; they go in parentheses, the lines after
    the first aligned under the first.
    """

    label: str
    value: str
    details: tuple[str, ...] = ()


# Numbers for people

def format_count(value: str) -> str:
    """A whole number with thousands separators (`1234` -> `1,234`); anything else as is."""
    if _INTEGER.fullmatch(value) is None:
        return value
    return f"{int(value):,}"


def format_bytes(value: str) -> str:
    """A number of bytes in binary units: `512 B`, `3.1 KiB`, `12 MiB`; anything else as is."""
    if _INTEGER.fullmatch(value) is None or value.startswith("-"):
        return value
    amount = float(int(value))
    if amount < 1024:
        return f"{int(amount)} B"
    for unit in _BYTE_UNITS:
        amount /= 1024
        # One decimal while it says something (3.1 KiB); none once the number is large.
        shown = f"{amount:.1f}" if amount < 9.95 else f"{amount:.0f}"
        if float(shown) < 1024 or unit == _BYTE_UNITS[-1]:
            return f"{shown} {unit}"
    raise AssertionError("unreachable: the last unit always returns")


def format_uptime(value: str) -> str:
    """Seconds as the two largest units: `42s`, `5m 07s`, `1h 02m`, `3d 04h`; else as is."""
    if _DECIMAL.fullmatch(value) is None:
        return value
    seconds = float(value)
    if not math.isfinite(seconds):
        return value
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds_left = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds_left:02d}s"
    return f"{seconds_left}s"


# The panel

def panel_rows(figures: Figures) -> list[PanelRow]:
    """The panel's rows: the known figures that came, in a fixed order, then the others."""
    values = dict(figures)
    rows = [row for row in (_tasks_row(values), _clients_row(values),
                            _single_row(values, "events_relayed", "events relayed",
                                        format_count),
                            _outbox_row(values),
                            _single_row(values, "loop_iterations", "loop iterations",
                                        format_count),
                            _single_row(values, "uptime", "uptime", format_uptime))
            if row is not None]
    seen: set[str] = set()
    for key, value in figures:
        if key not in KNOWN_KEYS and key not in seen:  # a newer server's figure, kept
            seen.add(key)
            rows.append(PanelRow(key, values[key]))
    return rows


def panel_lines(rows: Sequence[PanelRow]) -> list[list[tuple[str, str]]]:
    """The rows laid out as aligned lines of `(part, text)` pairs.

    `part` is `label`, `value`, `detail` or `` (the spaces between), so the view can give
    each its own style. Labels are padded to one column and values start at the next.
    """
    lines: list[list[tuple[str, str]]] = []
    for row in rows:
        padding = " " * max(2, LABEL_WIDTH + 2 - display_width(row.label))
        line = [("label", row.label), ("", padding), ("value", row.value)]
        if not row.details:
            lines.append(line)
            continue
        details = list(row.details)
        details[0] = "(" + details[0]
        details[-1] += ")"  # the same line as the first when there is only one
        lines.append(line + [("", " "), ("detail", details[0])])
        # The lines after the first start where the first one's details do, past its `(`.
        under_first = " " * (display_width(row.label + padding + row.value) + len(" ("))
        lines += [[("", under_first), ("detail", detail)] for detail in details[1:]]
    return lines


def display_width(text: str) -> int:
    """Columns `text` takes on a terminal: wide characters (你, 🎉) count as two."""
    return get_cwidth(text)


def _tasks_row(values: Mapping[str, str]) -> PanelRow | None:
    if not any(key in values for key in ("tasks", *(key for key, _, _ in TASK_STATES))):
        return None
    details = tuple(" · ".join(f"{name} {format_count(values[key])}"
                               for key, name, _ in states if key in values)
                    for states in _TASK_LINES)
    details = tuple(line for line in details if line)
    if len(details) > 1:  # the first line ends with a separator: the list goes on below
        details = (details[0] + " ·", *details[1:])
    return PanelRow("tasks", format_count(values.get("tasks", UNKNOWN)), details)


def _clients_row(values: Mapping[str, str]) -> PanelRow | None:
    if "clients" not in values and "joined" not in values:
        return None
    joined = (f"joined {format_count(values['joined'])}",) if "joined" in values else ()
    return PanelRow("clients", format_count(values.get("clients", UNKNOWN)), joined)


def _outbox_row(values: Mapping[str, str]) -> PanelRow | None:
    if "outbox_bytes" not in values and "outbox_max" not in values:
        return None
    largest = ((f"largest {format_bytes(values['outbox_max'])}",)
               if "outbox_max" in values else ())
    return PanelRow("queued output", format_bytes(values.get("outbox_bytes", UNKNOWN)),
                    largest)


def _single_row(values: Mapping[str, str], key: str, label: str,
                formatter: Callable[[str], str]) -> PanelRow | None:
    if key not in values:
        return None
    return PanelRow(label, formatter(values[key]))


# The status bar

def live_summary(figures: Figures | None, *, breakdown: bool = True) -> str:
    """The status bar's live count: `tasks 12: 1 ready 6 recv 1 send 1 sleep 3 park`.

    `figures` None means none have come yet (just turned on, or not connected): `tasks -`.
    Without `breakdown` it is only `tasks 12`, for a status bar short of room.
    """
    if figures is None:
        return "tasks -"
    values = dict(figures)
    total = f"tasks {format_count(values.get('tasks', UNKNOWN))}"
    states = [f"{format_count(values[key])} {short}" for key, _, short in TASK_STATES
              if key in values]
    if not breakdown or not states:
        return total
    return f"{total}: {' '.join(states)}"
