"""IrcConnection without sockets: IRC lines -> commands, events -> IRC lines.

Every input case is fed whole, one byte at a time, and followed by trailing data.
"""

from __future__ import annotations

import pytest

from protocol import (
    BanTarget, Bye, Current, Error, ErrorCode, GivePassword, History, InRoom, Join, JoinRoom,
    Kick, LeaveRoom, ListRooms, Me, Message, Part, Ping, Pong, PrivateMessage, Quit, Replayed,
    RoomEvent, Say, SendPrivate, SetNick, SetOperator, SetReadOnly, SetTopic, ShowTopic,
    Unban, Users, Welcome, Who,
)
from protocol.irc import LOCAL_REPLY, IrcConnection
from protocol.irc_message import clean_text, parse_message, split_text
from protocol.irc_render import encode_plain, encode_with_time
from protocol.irc_replies import names

REGISTER = b"NICK alice\r\nUSER a 0 * :Alice\r\n"


def _commands(connection: IrcConnection, data: bytes) -> list:
    """Feed `data` and collect the commands; local replies are answered like the
    directory would (PONG), and their bytes are kept as ("local", bytes)."""
    connection.receive_data(data)
    out = []
    for _ in range(1000):
        command = connection.next_command()
        if command is None:
            return out
        if command == Ping(LOCAL_REPLY):
            out.append(("local", connection.send(Pong(LOCAL_REPLY), connection._nick)))
        else:
            out.append(command)
    raise AssertionError("too many commands")


def _registered(caps: bytes = b"") -> IrcConnection:
    connection = IrcConnection("srv")
    if caps:
        _commands(connection, b"CAP LS 302\r\nCAP REQ :" + caps + b"\r\nCAP END\r\n")
    assert _commands(connection, REGISTER) == [SetNick("alice")]
    connection.send(Welcome("alice"), "alice")
    return connection


def _fed_three_ways(data: bytes, caps: bytes = b"") -> None:
    """The commands of `data` fed whole, byte by byte, and with trailing data."""
    whole = _commands(_registered(caps), data)
    connection = _registered(caps)
    one_by_one = [c for byte in data for c in _commands(connection, bytes([byte]))]
    assert one_by_one == whole
    connection = _registered(caps)
    trailing = _commands(connection, data + b"PING x")
    assert trailing == whole
    return whole


CASES = [
    (b"JOIN #a,#b\r\n", [JoinRoom("#a"), JoinRoom("#b")]),
    (b"PART #a :gone\r\n", [LeaveRoom("#a gone")]),
    (b"PRIVMSG #a :hi there\r\n", [InRoom("#a", Say("hi there"))]),
    (b"PRIVMSG #a :\x01ACTION waves\x01\r\n", [InRoom("#a", Me("waves"))]),
    (b"NOTICE bob :psst\r\n", [SendPrivate("bob", "psst")]),
    (b"PRIVMSG bob,#a :x\r\n", [SendPrivate("bob", "x"), InRoom("#a", Say("x"))]),
    (b"PRIVMSG #a :\x02bold\x02 \x0304red\x03 \x1b[31mx\r\n", [InRoom("#a", Say("bold red x"))]),
    (b"NICK bob\r\n", [SetNick("bob")]),
    (b"QUIT :bye now\r\n", [Quit("bye now")]),
    (b"QUIT\n", [Quit("quit")]),
    (b"PING :tok en\r\n", [Ping("tok en")]),
    (b"NAMES #a\r\n", [Who("#a")]),
    (b"WHO #a\r\n", [Who("#a")]),
    (b"TOPIC #a\r\n", [InRoom("#a", ShowTopic())]),
    (b"TOPIC #a :new one\r\n", [InRoom("#a", SetTopic("new one"))]),
    (b"LIST\r\n", [ListRooms()]),
    (b"KICK #a bob :rude\r\n", [InRoom("#a", Kick("bob", "rude"))]),
    (b"MODE #a +o bob\r\n", [SetOperator("bob", True)]),
    (b"MODE #a -o bob\r\n", [SetOperator("bob", False)]),
    (b"MODE #a +m\r\n", [InRoom("#a", SetReadOnly(True))]),
    (b"MODE #a -m\r\n", [InRoom("#a", SetReadOnly(False))]),
    (b"MODE #a +b bob!*@*\r\n", [BanTarget("bob", None, "")]),
    (b"MODE #a -b *!*@10.0.0.5\r\n", [Unban("10.0.0.5")]),
    (b"@label=x :alice PRIVMSG #a :tagged\r\n", [InRoom("#a", Say("tagged"))]),
]


@pytest.mark.parametrize(("data", "expected"), CASES)
def test_irc_commands_map_onto_ours(data: bytes, expected: list) -> None:
    assert _fed_three_ways(data) == expected


NUMERIC_CASES = [
    (b"JOIN\r\n", b" 461 alice JOIN :"),
    (b"JOIN lobby\r\n", b" 403 alice lobby :"),
    (b"JOIN #" + b"x" * 40 + b"\r\n", b" 479 alice #" + b"x" * 40),
    (b"JOIN #a!b\r\n", b" 479 alice #a!b :"),
    (b"FROB\r\n", b" 421 alice FROB :Unknown command"),
    (b"PRIVMSG #a\r\n", b" 412 alice :"),
    (b"MODE #a +z\r\n", b" 472 alice z :"),
    (b"MODE #a\r\n", b" 324 alice #a :+"),
    (b"MODE alice\r\n", b" 221 alice :+"),
    (b"USER a 0 * :b\r\n", b" 462 alice :"),
    (b"PRIVMSG #a :" + b"x" * 600 + b"\r\n", b" 417 alice :"),
    (b"PRIVMSG #a :" + b"x" * 9000 + b"\r\n", b" 417 alice :"),
    (b"PRIVMSG #a :\xc3\x28\r\n", b"NOTICE alice :That line was not valid UTF-8"),
    (b"AWAY :lunch\r\n", b" 306 alice :"),
]


@pytest.mark.parametrize(("data", "expected"), NUMERIC_CASES)
def test_irc_errors_found_by_the_connection_are_numerics(data: bytes, expected: bytes) -> None:
    replies = _fed_three_ways(data)
    assert len(replies) == 1 and replies[0][0] == "local"
    assert expected in replies[0][1]


def test_registration_waits_for_cap_end_and_answers_caps_in_order() -> None:
    connection = IrcConnection("srv")
    out = _commands(connection, b"CAP LS 302\r\nNICK alice\r\nUSER a 0 * :A\r\n"
                                b"CAP REQ :server-time echo-message\r\nCAP REQ :sasl\r\n")
    assert out == [("local", b":srv CAP * LS :batch echo-message message-tags server-time\r\n"),
                   ("local", b":srv CAP * ACK :server-time echo-message\r\n"),
                   ("local", b":srv CAP * NAK :sasl\r\n")]
    assert _commands(connection, b"CAP END\r\n") == [SetNick("alice")]


def test_before_registration_only_registration_commands_work() -> None:
    connection = IrcConnection("srv")
    assert _commands(connection, b"JOIN #a\r\n") == [
        ("local", b":srv 451 * :You have not registered\r\n")]
    assert _commands(connection, b"PASS secret\r\nNICK b@d\r\n")[0] == GivePassword("secret")


def test_welcome_and_errors_are_numerics() -> None:
    connection = IrcConnection("srv")
    burst = connection.send(Welcome("alice"), "alice")
    assert b":srv 001 alice :" in burst and b"CHANTYPES=#" in burst and b"NICKLEN=16" in burst
    assert b" 376 alice " in burst
    for code, number in [(ErrorCode.NICK_IN_USE, b"433"), (ErrorCode.NOT_OPERATOR, b"482"),
                         (ErrorCode.NO_SUCH_NICK, b"401"), (ErrorCode.BAD_PASSWORD, b"464"),
                         (ErrorCode.BANNED, b"465"), (ErrorCode.READ_ONLY, b"404"),
                         (ErrorCode.MUTED, b"404"), (ErrorCode.NOT_IN_ROOM, b"442")]:
        assert connection.send(Error(code, "why"), "alice").startswith(b":srv " + number)
    assert connection.send(Bye("quit"), "alice") == b"ERROR :Closing link: quit\r\n"


def test_an_error_is_numbered_by_its_own_command_even_once_later_ones_are_read() -> None:
    # The server makes each error while its command is handled, and sends it later:
    # by then a client's next lines (here a PING, then a PART) may have been read too.
    connection = _registered()
    connection.receive_data(b"PRIVMSG #x :hi\r\nPING t\r\nPART #x\r\n")
    errors = []
    while (command := connection.next_command()) is not None:
        if isinstance(command, (InRoom, LeaveRoom)):
            errors.append(connection.with_cause(
                Error(ErrorCode.NOT_IN_ROOM, "you are not in #x; /join ROOM first")))
    sent = [connection.send(error, "alice") for error in errors]
    assert sent[0].startswith(b":srv 404 alice #x :")  # the PRIVMSG's: cannot send
    assert sent[1].startswith(b":srv 442 alice #x :")  # the PART's: not on channel


def _event(event, event_id: int = 1, room: str = "#a") -> RoomEvent:
    return RoomEvent(room, event_id, 1_700_000_000_042, event)


def test_room_events_render_with_and_without_server_time() -> None:
    event = _event(Message("bob", "hi"))
    assert encode_plain(event) == b":bob!bob@lanchat PRIVMSG #a :hi\r\n"
    assert encode_with_time(event) == (b"@time=2023-11-14T22:13:20.042Z "
                                       b":bob!bob@lanchat PRIVMSG #a :hi\r\n")
    kick = _event(Part("bob", "kicked by carol: rude"))
    assert encode_plain(kick) == b":carol!carol@lanchat KICK #a bob :rude\r\n"


def test_own_messages_come_back_only_with_echo_message() -> None:
    plain, echo = _registered(), _registered(b"echo-message")
    mine = _event(Message("alice", "hi"))
    assert plain.shared_encoder(mine) == b""
    assert plain.shared_encoder(_event(Message("bob", "hi"))) != b""
    assert echo.shared_encoder(mine) == b":alice!alice@lanchat PRIVMSG #a :hi\r\n"
    private = PrivateMessage("alice", "bob", "psst")
    assert plain.send(private, "alice") == b""
    assert echo.send(private, "alice") != b""


def test_equal_capabilities_share_one_encoder() -> None:
    first, second = _registered(b"echo-message server-time"), _registered(b"echo-message server-time")
    assert first.shared_encoder is second.shared_encoder is encode_with_time


def _join_sequence(connection: IrcConnection) -> bytes:
    """What our server sends a joiner (history, USERS, then CURRENT after the JOIN)."""
    history = [_event(Message("bob", "earlier"), 1)]
    out = connection.send(History("#a", 1), "alice")
    out += b"".join(connection.send(Replayed(event), "alice") for event in history)
    out += connection.send(Users(("bob", "alice"), "#a"), "alice")
    assert out == b""  # held back until the JOIN has gone out
    return connection.send(Current("#a"), "alice")


def test_history_on_join_is_a_batch_with_server_time() -> None:
    out = _join_sequence(_registered(b"batch server-time"))
    lines = out.split(b"\r\n")
    assert lines[0] == b":srv 353 alice = #a :bob alice"
    assert lines[2] == b":srv BATCH +h1 chathistory #a"
    assert lines[3] == (b"@batch=h1;time=2023-11-14T22:13:20.042Z "
                        b":bob!bob@lanchat PRIVMSG #a :earlier")
    assert lines[4] == b":srv BATCH -h1"


def test_history_on_join_without_batch_is_plain_lines_with_a_time() -> None:
    lines = _join_sequence(_registered()).split(b"\r\n")
    assert lines[2].startswith(b":bob!bob@lanchat PRIVMSG #a :[")
    assert lines[2].endswith(b"] earlier")


def test_long_text_is_split_at_character_boundaries_and_nothing_is_lost() -> None:
    text = "é" * 700 + "漢字" * 300 + "end"
    lines = encode_plain(_event(Message("bob", text))).split(b"\r\n")[:-1]
    assert len(lines) > 2
    assert all(len(line) + 2 <= 512 for line in lines)
    pieces = [parse_message(line.decode()).params[-1] for line in lines]
    assert "".join(pieces) == text


def test_names_fills_each_353_line_up_to_512_bytes_and_names_everyone_once() -> None:
    nicks = tuple(f"n{i}" + "é" * (i % 5) for i in range(3000))  # some 2-byte characters
    lines = names("srv", "alice", "#big", nicks).split(b"\r\n")[:-1]
    assert lines[-1] == b":srv 366 alice #big :End of /NAMES list"
    listed = [parse_message(line.decode()).params[-1].split() for line in lines[:-1]]
    assert [nick for line in listed for nick in line] == list(nicks)
    assert all(len(line) + 2 <= 512 for line in lines)
    for line, following in zip(lines, listed[1:]):  # full: the next name would not fit
        assert len(line) + 1 + len(following[0].encode()) + 2 > 512


@pytest.mark.parametrize("budget", [4, 5, 7, 100])
def test_split_text_cuts_between_characters(budget: int) -> None:
    text = "aé漢😀" * 20
    pieces = split_text(text, budget)
    assert "".join(pieces) == text
    assert all(len(piece.encode()) <= budget for piece in pieces)


PARSE_CASES = [
    ("PRIVMSG #a :hello world", ("PRIVMSG", ("#a", "hello world"), None)),
    (":n!u@h privmsg #a ::)", ("PRIVMSG", ("#a", ":)"), "n!u@h")),
    ("@a=b\\sc;d :src CMD  x   y :", ("CMD", ("x", "y", ""), "src")),
    ("USER a 0 * :Real Name", ("USER", ("a", "0", "*", "Real Name"), None)),
]


@pytest.mark.parametrize(("line", "expected"), PARSE_CASES)
def test_parse_message(line: str, expected: tuple) -> None:
    message = parse_message(line)
    assert (message.command, message.params, message.source) == expected


def test_tags_are_unescaped_and_clean_text_drops_controls() -> None:
    assert parse_message("@a=b\\sc;d CMD").tags == (("a", "b c"), ("d", ""))
    assert parse_message("   ") is None
    assert clean_text("a\x02b\x0312,4c\x07\x1fd") == "abcd"


def test_the_own_join_comes_before_its_names() -> None:
    connection = _registered()
    joined = connection.shared_encoder(_event(Join("alice")))
    assert joined == b":alice!alice@lanchat JOIN #a\r\n"
    assert _join_sequence(connection).startswith(b":srv 353 alice = #a")
