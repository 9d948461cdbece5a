"""Tests for a room's rosters (rooms.py): the names USERS shows, shared by every joiner's
USERS as views, each read as it was when taken and encoded without walking the names;
and what each kind of connection is sent of a view (session.users_line)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request

from chat_server.outgoing import Connection
from chat_server.rooms import Roster
from chat_server.session import users_line
from chat_web import static_files
from protocol import (
    Encoder, Hello, LineConnection, Users, Welcome, encode_event, encode_event_v2,
)
from protocol.irc import IrcConnection
from protocol.web import WebConnection

NAMES = st.lists(st.sampled_from(["alice", "bob", "@op", "张三", "José", "c4999"]), max_size=4)


@settings(max_examples=100, deadline=None)
@given(first=NAMES, batches=st.lists(NAMES, max_size=6),
       room=st.sampled_from(["#lobby", "#Games"]))
def test_each_view_is_the_roster_as_it_was_in_every_rendering(
    first: list[str], batches: list[list[str]], room: str,
) -> None:
    roster = Roster(room, first)
    views = [(roster.view(), tuple(first))]
    names = list(first)
    for batch in batches:
        roster.add(batch)
        names += batch
        views.append((roster.view(), tuple(names)))
    assert len(roster) == len(names)
    for view, then in views:
        assert view.users() == Users(then, room)
        for encode in (encode_event, encode_event_v2):
            assert b"".join(view.line(encode)) == encode(Users(then, room))


@pytest.mark.parametrize("bad", ["", "two words", "tab\there"])
def test_a_name_that_is_not_one_word_is_refused_and_the_roster_left_as_it_was(
    bad: str,
) -> None:
    roster = Roster("#lobby", ["alice"])
    with pytest.raises(ValueError):
        roster.add(["bob", bad])
    assert roster.view().users() == Users(("alice",), "#lobby")
    assert b"".join(roster.view().line(encode_event)) == b"USERS alice\n"


def test_views_of_a_big_roster_read_it_as_it_was_across_its_pieces() -> None:
    """Thousands of names fill several pieces (PIECE_BYTES): a view taken at any point,
    the last piece then half full, still reads exactly the names there were."""
    roster = Roster("#lobby", [])
    views = []
    for number in range(2000):
        roster.add([f"c{number}"])
        if number % 97 == 0:
            views.append((roster.view(), tuple(f"c{n}" for n in range(number + 1))))
    assert len(roster.view().line(encode_event_v2)) > 5  # head, several pieces, LF
    for view, then in views:
        assert b"".join(view.line(encode_event_v2)) == encode_event_v2(Users(then, "#lobby"))
        assert view.users() == Users(then, "#lobby")


# What each kind of connection is sent of a view

def _line(hello: str | None) -> LineConnection:
    """A line connection: a person's (no /hello), or a machine's of version `hello`."""
    connection = LineConnection()
    if hello is not None:
        connection.send(Hello("lanchat", hello))
    return connection


def _web(hello: str | None) -> WebConnection:
    """A browser's connection with its WebSocket open, sent HELLO `hello` if not None
    (its lines inside the frames are then a machine encoder's)."""
    connection = WebConnection(static_files())
    client = WSConnection(ConnectionType.CLIENT)
    connection.receive_data(client.send(Request(
        host="chat.local:8080", target="/chat",
        extra_headers=[(b"Origin", b"http://chat.local:8080")])))
    assert connection.next_command() is None
    client.receive_data(connection.data_to_send())
    assert isinstance(next(client.events()), AcceptConnection) and connection.upgraded
    if hello is not None:
        connection.send(Hello("lanchat", hello))
    return connection


def _irc() -> IrcConnection:
    connection = IrcConnection("lanchat")
    connection.receive_data(b"NICK alice\r\nUSER a 0 * :Alice\r\n")
    while connection.next_command() is not None:
        pass
    connection.send(Welcome("alice"), "alice")
    return connection


KINDS: dict[str, tuple[Callable[[], Connection], Encoder | None]] = {
    "line person": (lambda: _line(None), None),
    "line v1": (lambda: _line("1"), encode_event),
    "line v2": (lambda: _line("2"), encode_event_v2),
    "web person": (lambda: _web(None), None),
    "web v1": (lambda: _web("1"), None),  # framed: never the encoder's bytes as they are
    "web v2": (lambda: _web("2"), None),
    "irc": (_irc, None),
}


@pytest.mark.parametrize("kind", KINDS)
def test_a_joiner_gets_the_roster_pieces_only_where_they_go_on_the_wire_as_they_are(
    kind: str,
) -> None:
    """A connection that answers a machine encoder is sent the roster's pieces, shared
    with the other joiners'; any other (a WebSocket frames its lines, IRC renders its
    own) is sent its own rendering of USERS. Both are the bytes `send` would give."""
    make, encoder = KINDS[kind]
    roster = Roster("#lobby", ["alice", "bob", "张三"])
    view = roster.view()
    connection, twin = make(), make()
    assert connection.machine_encoder is encoder
    pieces = users_line(view, connection, "alice")
    assert b"".join(pieces) == twin.send(view.users(), "alice")
    if encoder is None:
        assert len(pieces) == 1
    else:
        assert pieces == [piece for piece in view.line(encoder) if piece] and len(pieces) > 1
