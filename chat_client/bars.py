"""The bars around the message pane: the topic bar above, the status bar below, and the
list of the people in the room beside it (WeeChat's nicklist).

    #games: tonight 8pm, bring snacks                     <- topic bar
    14:02 <alice> hi                       | @alice       <- pane | nick list
    [testroom 127.0.0.1:7777] alice | 2:#games | 2 users | connected | [Act: 1,3*]
    [testroom 127.0.0.1:7777] bob | 2:#games | 2 users | connected | muted | read-only | slow 5s
    [testroom 127.0.0.1:7777] @alice | ...       (you are an operator)

Pure functions from the client's state to formatted text; every network string passes
through `view.clean`.
"""

from __future__ import annotations

from collections.abc import Iterator

from prompt_toolkit.formatted_text import StyleAndTextTuples, fragment_list_width

from protocol import nick_key

from chat_client.figures import live_summary
from chat_client.state import ClientState
from chat_client.view import clean, clean_figures, nick_colour
from chat_client.windows import activity_list

STATUS_WIDTH = 80
"""The status bar's width when the caller does not say (the terminal's usual width)."""

NICKLIST_WIDTH = 16
"""Columns of the list of people beside the pane (a nickname has at most 16 characters)."""

NICKLIST_MIN_COLUMNS = 60
"""Below this terminal width the list hides itself: the conversation needs the room."""


def render_topic_bar(state: ClientState) -> StyleAndTextTuples:
    """The shown window's room and topic (`#games: tonight 8pm`), or the server's name."""
    room = state.window.room
    if room is None:
        return [("class:topic-bar", f" {clean(state.server_name) or state.address}")]
    topic = state.window.topic
    return [("class:topic-bar", f" {clean(room)}: {clean(topic)}" if topic else f" {clean(room)}")]


def render_nicklist(state: ClientState) -> StyleAndTextTuples:
    """The people in the shown window's room, one a line, operators first with `@`."""
    window = state.window
    operators = [nick for nick in window.users if nick_key(nick) in window.operators]
    others = [nick for nick in window.users if nick_key(nick) not in window.operators]
    lines: StyleAndTextTuples = []
    for nick in sorted(operators, key=nick_key):
        lines += [("class:nicklist.operator", "@"), (f"fg:{nick_colour(nick)}", clean(nick)),
                  ("", "\n")]
    for nick in sorted(others, key=nick_key):
        lines += [("", " "), (f"fg:{nick_colour(nick)}", clean(nick)), ("", "\n")]
    return lines


def render_status(state: ClientState, width: int = STATUS_WIDTH) -> StyleAndTextTuples:
    """The status bar: server, own nickname, window, users, connection, live count, activity.

        [testroom 127.0.0.1:7777] alice | 2:#games | 3 users | connected | tasks 8: ... | [Act: 1,3*]

    After the connection state come the marks of what operators did (`muted`, and the
    shown room's `read-only` and `slow 5s`): they say why a line may be refused.

    It is fitted into `width` columns by leaving out the least important first: the
    address (the server's name stays), then the user count, then the live count's
    breakdown, then the live count itself. The window, the connection state, the
    operators' marks, the unread count and the activity list, which say where you are and
    what is wrong or new, stay.
    """
    for layout in _status_layouts(state):
        if fragment_list_width(layout) <= width:
            return layout
    return layout  # the shortest there is; the window cuts what still does not fit


def _status_layouts(state: ClientState) -> Iterator[StyleAndTextTuples]:
    """Every version of the status bar, from the fullest to the shortest."""
    live = clean_figures(state.live_figures) if state.live_figures is not None else None
    full = live_summary(live) if state.live_stats else ""
    short = live_summary(live, breakdown=False) if state.live_stats else ""
    yield _status(state, address=True, users=True, live=full)
    yield _status(state, address=False, users=True, live=full)
    yield _status(state, address=False, users=False, live=full)
    yield _status(state, address=False, users=False, live=short)
    yield _status(state, address=False, users=False, live="")


def _status(state: ClientState, *, address: bool, users: bool,
            live: str) -> StyleAndTextTuples:
    """One version of the status bar, with or without the address, user count, live count."""
    server = clean(state.server_name) or state.address
    where = f"{server} {state.address}" if address and server != state.address else server
    connection = state.connection.value
    if state.connection_detail:  # "reconnecting in 2s (connection refused)"
        connection += f" {clean(state.connection_detail)}"
    # Out of the room nobody is known to be there: the count would only take room.
    count = ""
    if users and state.connection.is_up:
        count = "1 user | " if len(state.users) == 1 else f"{len(state.users)} users | "
    room = state.window.room
    shown = f"{state.active + 1}:{clean(room)} | " if room is not None else ""
    me = ("@" if state.is_operator else "") + (clean(state.nick) or "-")
    return [
        ("class:status", f" [{where}] {me} | {shown}{count}"),
        ("class:status.connected" if state.connection.is_healthy else "class:status.trouble",
         connection),
        *_standing(state),
        *_status_end(state, live),
    ]


def _standing(state: ClientState) -> StyleAndTextTuples:
    """` | muted | read-only | slow 5s`: what operators did to you and to the shown room."""
    marks = (["muted"] if state.muted else []) + state.window.modes.marks()
    fragments: StyleAndTextTuples = []
    for mark in marks:
        fragments += [("class:status", " | "), ("class:status.moderated", mark)]
    return fragments


def _status_end(state: ClientState, live: str) -> StyleAndTextTuples:
    """The bar after the connection state: the live count, unread or `scrolled up`, and
    the other windows with new lines (`[Act: 2,3*]`, `*` for a mention)."""
    fragments: StyleAndTextTuples = []
    if live:
        fragments += [("class:status", " | "), ("class:status.live", live)]
    if state.unread:
        fragments += [("class:status", " | "), ("class:status.unread", f"{state.unread} unread")]
    elif not state.following:
        fragments.append(("class:status", " | scrolled up"))
    active = activity_list(state.windows, state.active)
    if active:
        style = "class:status.mention" if "*" in active else "class:status.activity"
        fragments += [("class:status", " | "), (style, f"[Act: {active}]")]
    fragments.append(("class:status", " "))
    return fragments
