"""Tests for a room's rosters (rooms.py): the names USERS shows, shared by every joiner's
USERS as views, each read as it was when taken and encoded without walking the names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat_server.rooms import Roster
from protocol import Users, encode_event, encode_event_v2

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
