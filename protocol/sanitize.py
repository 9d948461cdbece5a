"""Sanitising: making text from the network safe to show on anyone's terminal.

The one rule: no client can make another client's terminal do anything. So every text
the server relays loses

- escape sequences, removed whole (CSI, OSC, DCS and the other string sequences, and
  two- or three-byte escapes), not just their ESC byte, so no `[31m` debris is left;
- control characters: C0 except TAB, DEL, and C1;
- the bidirectional override and isolate controls (U+202A-U+202E, U+2066-U+2069), which
  make a line read differently from what it says.

Everything else (emoji, joiners, combining marks, any script) is kept exactly as it was.
"""

from __future__ import annotations

import re

_ESCAPE_SEQUENCE = re.compile(
    r"""
      (?: \x1b\[ | \x9b ) [0-?]* [ -/]* [@-~]?                   # CSI: parameters, final byte
    | (?: \x1b[\]PX^_] | [\x90\x98\x9d\x9e\x9f] ) .*? (?: \x07 | \x1b\\ | \x9c | \Z )
                                                                # OSC, DCS, SOS, PM, APC strings
    | \x1b [ -/]* [0-~]?                                         # any other escape
    """,
    re.VERBOSE | re.DOTALL,
)

_UNSAFE_CHARACTER = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def sanitize(text: str) -> str:
    """Return `text` with escape sequences, control characters and bidi controls removed."""
    if text.isprintable():
        # Every character removed here is in Unicode's Cc or Cf category, which
        # isprintable() rejects, so most lines leave through this door untouched.
        return text
    return _UNSAFE_CHARACTER.sub("", _ESCAPE_SEQUENCE.sub("", text))
