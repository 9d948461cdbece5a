"""The input line's history, kept between runs in the per-user data directory.

    $XDG_DATA_HOME/lanchat/input-history    (or ~/.local/share/lanchat/input-history)

One line typed, one line in the file (prompt_toolkit's `FileHistory` format: `+` before
each line of an entry, a `# time` comment before it). It is bounded: at start, a file
holding more than `MAX_ENTRIES` entries is rewritten with only the newest, so it never
grows for ever. A file that cannot be read or written (a read-only home) costs the
history, never the client: the lines are then kept for this run only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from prompt_toolkit.history import FileHistory, History, InMemoryHistory

MAX_ENTRIES = 1000
"""The most lines kept between runs."""

FILE_NAME = "input-history"


def default_history_path() -> Path:
    """Where the history lives: under `$XDG_DATA_HOME`, or `~/.local/share` without it."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "lanchat" / FILE_NAME


class BoundedFileHistory(FileHistory):
    """A `FileHistory` that keeps at most `limit` entries, and survives I/O errors."""

    def __init__(self, path: Path, limit: int = MAX_ENTRIES) -> None:
        super().__init__(str(path))
        self.limit = limit
        self._writable = True
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._trim(path)
        except OSError:
            self._writable = False

    def load_history_strings(self) -> Iterable[str]:
        """The entries, newest first (none if the file cannot be read)."""
        try:
            return list(super().load_history_strings())[: self.limit]
        except OSError:
            return []

    def store_string(self, string: str) -> None:
        """Append an entry to the file, if it can be written."""
        if not self._writable:
            return
        try:
            super().store_string(string)
        except OSError:
            self._writable = False

    def _trim(self, path: Path) -> None:
        """Rewrite the file with only the newest `limit` entries, if it holds more."""
        if not path.exists():
            return
        newest_first = list(super().load_history_strings())
        if len(newest_first) <= self.limit:
            return
        kept = "".join("\n" + "".join(f"+{line}\n" for line in entry.split("\n"))
                       for entry in reversed(newest_first[: self.limit]))
        temporary = path.with_suffix(".tmp")
        temporary.write_text(kept, encoding="utf-8")
        temporary.replace(path)  # all or nothing: a crash never leaves half a file


def input_history(path: Path | None) -> History:
    """The history for the input line: kept in `path`, or for this run only if None."""
    return InMemoryHistory() if path is None else BoundedFileHistory(path)
