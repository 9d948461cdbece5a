"""What version 2 clients saw of each room, and the checks the fuzz and soak tests share.

A v2 client's lines are read into memberships: for each room, from the client's own JOIN
to its own PART (or to the end of the run), the live room events it received with their
ids, and the history the server replayed just before that JOIN. What the protocol
promises, and `check_views` asserts:
- two clients that received an event of a room with the same id received the same line;
- within a membership the ids are consecutive (nothing was lost), it starts with the
  client's own JOIN, and nothing of the room arrives outside a membership;
- the history replayed at a join is the room's events right before that JOIN;
- a room's stored log (read from the server's SQLite file once it has stopped) has the
  ids 1, 2, 3... and the very lines the clients received.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chat_server.history import History as StoredHistory
from chat_server.rooms import Room
from chat_server.sqlite_store import SqliteStore
from protocol import History, Join, Part, RoomEvent, decode_event, event_line_v2, room_key

# NOTICE: what an operator did that the room sees (a mute, a room mode, new rights); a
# kick or ban is the PART of the one put out.
ROOM_EVENT_KINDS = frozenset({"JOIN", "PART", "NICK", "MSG", "ACTION", "TOPIC", "NOTICE"})


@dataclass
class Membership:
    """One stay of a client in a room: the live events, and the history replayed first."""

    room: str  # the room's key (NFKC + casefold)
    joined: int  # the id of the client's own JOIN
    replay: list[tuple[int, str]] | None  # None: no HISTORY came before the JOIN
    events: list[tuple[int, str]] = field(default_factory=list)  # (id, line), JOIN first
    parted: bool = False

    def lines(self) -> list[str]:
        """The live lines, in order."""
        return [line for _, line in self.events]


class RoomViews:
    """Reads one v2 client's lines (`feed`, in order) into its memberships of each room."""

    def __init__(self, nick: str) -> None:
        self.nick = nick  # the well-behaved clients never rename
        self.memberships: list[Membership] = []
        self.strays: list[str] = []  # room events outside any membership (a bug)
        self._open: dict[str, Membership] = {}
        self._replays: dict[str, list[tuple[int, str]]] = {}  # room -> replay before a JOIN
        self._replay_room = ""
        self._replay_left = 0

    def feed(self, line: str) -> None:
        """Take the client's next line."""
        if self._replay_left:
            event = decode_event(line, 2)
            assert isinstance(event, RoomEvent), f"not a room event in a replay: {line!r}"
            self._replays[self._replay_room].append((event.id, line))
            self._replay_left -= 1
            return
        kind = line.split(" ", 1)[0]
        if kind == "HISTORY":
            event = decode_event(line, 2)
            assert isinstance(event, History)
            self._replay_room, self._replay_left = room_key(event.room), event.count
            self._replays[self._replay_room] = []
        elif kind in ROOM_EVENT_KINDS:
            self._live(line)

    def current(self, room: str) -> Membership | None:
        """The membership of `room` (a key) still open, if any."""
        return self._open.get(room)

    def in_room(self, room: str) -> list[Membership]:
        """Every membership of `room` (a key), in order."""
        return [m for m in self.memberships if m.room == room]

    def _live(self, line: str) -> None:
        event = decode_event(line, 2)
        assert isinstance(event, RoomEvent), f"a room event that does not decode: {line!r}"
        key, inner = room_key(event.room), event.event
        if isinstance(inner, Join) and inner.nick == self.nick:
            membership = Membership(key, event.id, self._replays.pop(key, None))
            self.memberships.append(membership)
            self._open[key] = membership
        membership = self._open.get(key)
        if membership is None:
            self.strays.append(line)
            return
        membership.events.append((event.id, line))
        if isinstance(inner, Part) and inner.nick == self.nick:
            membership.parted = True
            del self._open[key]


def merged_by_id(views: list[RoomViews]) -> dict[str, dict[int, str]]:
    """Every live event any of `views` received, by room and id; asserts no two differ."""
    rooms: dict[str, dict[int, str]] = {}
    for view in views:
        for membership in view.memberships:
            known = rooms.setdefault(membership.room, {})
            for event_id, line in membership.events:
                assert known.setdefault(event_id, line) == line, \
                    f"{view.nick} got {line!r} as {membership.room} {event_id}, " \
                    f"another client got {known[event_id]!r}"
    return rooms


def check_membership(view: RoomViews, membership: Membership, history_on_join: int,
                     by_id: dict[str, dict[int, str]]) -> None:
    """Consecutive ids from the client's own JOIN; the replay is what came right before."""
    ids = [event_id for event_id, _ in membership.events]
    first = membership.joined
    assert ids == list(range(first, first + len(ids))), \
        f"{view.nick} in {membership.room} from {first}: ids with gaps or out of order"
    assert membership.replay is not None, f"{view.nick} joined {membership.room} with no HISTORY"
    replayed = [event_id for event_id, _ in membership.replay]
    assert replayed == list(range(max(1, first - history_on_join), first)), \
        f"{view.nick} joined {membership.room} at {first}; the replay had ids {replayed}"
    known = by_id.get(membership.room, {})
    for event_id, line in membership.replay:
        assert known.get(event_id, line) == line, f"replayed {line!r} differs from live"


def check_views(views: list[RoomViews], history_on_join: int) -> dict[str, dict[int, str]]:
    """Every check of the module docstring but the store's; returns `merged_by_id`."""
    by_id = merged_by_id(views)
    for view in views:
        assert not view.strays, f"{view.nick} got events of rooms it was not in: {view.strays[:3]}"
        for membership in view.memberships:
            check_membership(view, membership, history_on_join, by_id)
    return by_id


def sender_and_text(line: str) -> tuple[str, str, str]:
    """(kind, nick, text) of a v2 room event line (the nick is the old one for NICK)."""
    kind, _, _, _, nick, text = (line.split(" ", 5) + [""] * 6)[:6]
    return kind, nick, text


def check_stayers_agree(room: str, views: list[RoomViews],
                        end_markers: set[tuple[str, str]]) -> list[tuple[int, str]]:
    """`views` were in `room` (a key) all along, and saw the same events from the last of
    their JOINs to the last of `end_markers` (nick, text) said there; returns those events."""
    slices = []
    for view in views:
        stays = view.in_room(room)
        assert len(stays) == 1 and not stays[0].parted, f"{view.nick} left {room}"
        slices.append(stays[0].events)
    start = max(events[0][0] for events in slices)
    ends = [event_id for event_id, line in slices[0]
            if sender_and_text(line)[0] == "MSG" and sender_and_text(line)[1:] in end_markers]
    assert len(ends) == len(end_markers), f"{views[0].nick} missed end markers in {room}"
    first = [event for event in slices[0] if start <= event[0] <= max(ends)]
    for view, events in zip(views, slices):
        assert [event for event in events if start <= event[0] <= max(ends)] == first, \
            f"{view.nick}'s transcript of {room} differs from {views[0].nick}'s"
    return first


def stored_logs(path: str) -> dict[str, list[tuple[int, str]]]:
    """Each room's stored events, (id, v2 line) in id order, by room key: read through the
    server's History (the file's schema is sqlite_store.py's business, the rows' form
    history.py's) once the server has closed the file."""
    history = StoredHistory(SqliteStore(path), path)
    try:
        records = history.store.rooms()
        last_ids = {key: record.last_id for key, record in records.items()}
        logs = {key: [(event.id, event_line_v2(event))
                      for event in history.read(Room(record.name), "latest", None, 10**9)]
                for key, record in records.items()}
    finally:
        history.close()
    logs = {room: log for room, log in logs.items() if log}
    for room, log in logs.items():
        ids = [event_id for event_id, _ in log]
        assert ids == list(range(1, len(ids) + 1)), f"stored ids of {room} have gaps"
        assert last_ids.get(room) == ids[-1], f"{room}'s record has the wrong last id"
    return logs


def check_store_matches(logs: dict[str, list[tuple[int, str]]],
                        by_id: dict[str, dict[int, str]]) -> None:
    """Every event a client received is stored, as the very line it received."""
    for room, events in by_id.items():
        stored = dict(logs.get(room, []))
        for event_id, line in events.items():
            assert stored.get(event_id) == line, f"{room} {event_id}: stored " \
                f"{stored.get(event_id)!r}, received {line!r}"
