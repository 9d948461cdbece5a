"""Operators and access in the real application against a real server (issue 12).

The server starts with `--oper-password` so the tests know the token. Either the
application is the teacher (it opers, moderates with Tab completion, and its room-scoped
commands go to the window's room), or it is the student and a raw version 2 line client
is the teacher: the student's pane and status bar show being muted, a read-only or slow
room, being kicked and being banned. Last, a server with `--password`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from chat_testing import LineClient, ServerProcess, close_all
from client_harness import (
    CTRL_C, ENTER, TAB, UP, RunningClient, in_thread, run, running_client, wait_until,
)

from chat_client.bars import render_nicklist

TOKEN = "sesame-42"
PASSWORD = "let-me-in"
ALT = "\x1b"


@pytest.fixture
def oper_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    """A server whose operator token is known."""
    return server_factory("--flood", "off", "--oper-password", TOKEN)


def v2_client(port: int, nick: str, *rooms: str, oper: bool = False) -> LineClient:
    """A version 2 line client called `nick`, in the default room and in `rooms`."""
    client = LineClient(port)
    client.send_line("/hello tests 2", f"/nick {nick}")
    client.read_until("CURRENT ")
    if oper:
        client.send_line(f"/oper {TOKEN}")
        client.read_until("INFO you are now an operator")
    for room in rooms:
        client.send_line(f"/join {room}")
        client.read_until(f"CURRENT {room}")
    return client


def do(teacher: LineClient, line: str, answer: str) -> None:
    """The teacher types `line`; wait for the line of the answer that starts `answer`."""
    teacher.send_line(line)
    teacher.read_until(answer)


def nicklist(running: RunningClient) -> str:
    """The list of people beside the pane, as text."""
    return "".join(text for _, text in render_nicklist(running.client.state))


def test_the_teacher_opers_and_moderates_with_tab_in_the_window_shown(
        oper_server: ServerProcess) -> None:
    student = v2_client(oper_server.port, "student", "#games")
    try:
        async def scenario() -> None:
            async with running_client(oper_server.port, "teacher") as teacher:
                await teacher.wait_until_joined()
                teacher.type("/join games" + ENTER)
                await wait_until(lambda: "2:#games" in teacher.status, "#games shown")
                teacher.type(f"/oper {TOKEN}" + ENTER)
                await wait_until(lambda: "@teacher | 2:#games" in teacher.status,
                                 "the status bar marks the operator")
                assert "@teacher" in nicklist(teacher)
                await teacher.wait_for_input_history()
                teacher.type(UP)  # the token is not kept in the input history
                await wait_until(lambda: teacher.input_text == "/join games", "the line before")
                teacher.type(CTRL_C)
                teacher.type(ALT + "1")  # the lobby's window; the server's current is #games
                await wait_until(lambda: "1:#lobby" in teacher.status, "the lobby shown")
                teacher.type("/ki" + TAB)
                await wait_until(lambda: teacher.input_text == "/kick ", "Tab: /kick")
                teacher.type("stu" + TAB)
                await wait_until(lambda: teacher.input_text == "/kick student", "Tab: student")
                teacher.type(" chatting in class" + ENTER)
                lines = await in_thread(student.read_until, lambda line: line.startswith("PART "))
                assert lines[-1].startswith("PART #lobby ")  # the window's room, not #games
                assert lines[-1].endswith("student kicked by teacher: chatting in class")
                await teacher.wait_for_pane("<-- student left (kicked by teacher: chatting")
                teacher.type("/readonly o" + TAB)
                await wait_until(lambda: teacher.input_text == "/readonly on", "Tab: on")
                teacher.type(ENTER)
                await teacher.wait_for_pane("-!- teacher made the room read-only")
                await wait_until(lambda: "read-only" in teacher.status, "read-only shown")
                teacher.type("/who" + ENTER)
                await teacher.wait_for_pane("in #lobby (1): @teacher")
        run(scenario)
    finally:
        close_all([student])


def test_the_student_sees_being_muted_until_unmuted(oper_server: ServerProcess) -> None:
    teacher = v2_client(oper_server.port, "teacher", oper=True)
    try:
        async def scenario() -> None:
            async with running_client(oper_server.port, "student") as student:
                await wait_until(lambda: "2 users" in student.status, "both in the lobby")
                assert "@teacher" in nicklist(student)
                await in_thread(do, teacher, "/mute student", "NOTICE #lobby")
                await student.wait_for_pane("-!- teacher muted student until lifted")
                await wait_until(lambda: "| muted" in student.status, "muted in the status bar")
                student.type("may I speak?" + ENTER)
                await student.wait_for_pane("you are muted until an operator unmutes you")
                assert "| muted" in student.status
                await in_thread(do, teacher, "/unmute student", "NOTICE #lobby")
                await student.wait_for_pane("-!- teacher unmuted student")
                await wait_until(lambda: "muted" not in student.status, "muted gone")
        run(scenario)
    finally:
        close_all([teacher])


def test_the_student_sees_read_only_and_slow_rooms_and_their_notices_as_activity(
        oper_server: ServerProcess) -> None:
    teacher = v2_client(oper_server.port, "teacher", "#games", oper=True)
    try:
        async def scenario() -> None:
            async with running_client(oper_server.port, "student") as student:
                student.type("/join games" + ENTER)
                await wait_until(lambda: "2:#games" in student.status, "#games shown")
                student.type(ALT + "1")
                await wait_until(lambda: "1:#lobby" in student.status, "the lobby shown")
                await in_thread(do, teacher, "/in #games /readonly on", "NOTICE #games")
                await wait_until(lambda: "[Act: 2]" in student.status, "activity in #games")
                assert "read-only" not in student.status  # it is #games that is read-only
                student.type(ALT + "2")
                await student.wait_for_pane("-!- teacher made the room read-only")
                await wait_until(lambda: "| read-only" in student.status, "read-only shown")
                student.type("hello?" + ENTER)
                await student.wait_for_pane("#games is read-only: only operators may speak")
                await in_thread(do, teacher, "/in #games /readonly off", "NOTICE #games")
                await wait_until(lambda: "read-only" not in student.status, "read-only gone")
                await in_thread(do, teacher, "/in #games /slow 5", "NOTICE #games")
                await wait_until(lambda: "| slow 5s" in student.status, "slow 5s shown")
                student.type("one" + ENTER)
                await student.wait_for_pane("<student> one")
                student.type("two" + ENTER)
                await student.wait_for_pane("#games is in slow mode: wait")
                assert "| slow 5s" in student.status
                await in_thread(do, teacher, "/in #games /slow 0", "NOTICE #games")
                await student.wait_for_pane("-!- teacher turned slow mode off")
                await wait_until(lambda: "slow" not in student.status, "slow mode gone")
        run(scenario)
    finally:
        close_all([teacher])


def test_the_student_is_kicked_then_banned_and_waits_long(oper_server: ServerProcess) -> None:
    teacher = v2_client(oper_server.port, "teacher", "#games", oper=True)
    try:
        async def scenario() -> None:
            async with running_client(oper_server.port, "student") as student:
                student.type("/join games" + ENTER)
                await wait_until(lambda: "2:#games" in student.status, "#games shown")
                await in_thread(do, teacher, "/in #games /kick student too loud", "PART #games")
                await student.wait_for_pane("you were kicked from #games by teacher: too loud")
                assert student.client.state.rooms == ["#lobby"]
                assert "1:#lobby" in student.status
                await in_thread(do, teacher, "/ban student 1 enough", "INFO banned student")
                # The room sees why (PART ... banned by teacher: enough); the student gets
                # BYE banned, and the window stays, to read what was said.
                await student.wait_for_pane(
                    "the server turned you away: you are banned; trying again in 30s")
                assert student.client.state.rooms == ["#lobby"]
                await wait_until(lambda: "refused: you are banned; trying again in 3"
                                 in student.status, "the long wait in the status bar")
        run(scenario)
    finally:
        close_all([teacher])


@pytest.fixture
def password_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    """A server that asks everyone for its password."""
    return server_factory("--flood", "off", "--password", PASSWORD)


def record_sent(running: RunningClient) -> list[str]:
    """Every line the client writes to the server from now on."""
    sent: list[str] = []
    write = running.client.connection._write

    def record(line: str) -> None:
        sent.append(line)
        write(line)
    running.client.connection._write = record  # type: ignore[method-assign]
    return sent


def test_the_password_option_is_given_before_the_nick(password_server: ServerProcess) -> None:
    async def scenario() -> None:
        async with running_client(password_server.port, "alice", password=PASSWORD) as alice:
            await alice.wait_until_joined()
            await alice.wait_for_pane("you joined as alice")
            assert "needs a password" not in alice.pane
    run(scenario)


def test_without_a_password_the_client_asks_and_the_typed_one_is_hidden_and_kept_out_of_history(
        password_server: ServerProcess) -> None:
    async def scenario() -> None:
        async with running_client(password_server.port, "alice") as alice:
            await alice.wait_for_pane("this server needs a password: type it and press Enter")
            await wait_until(lambda: "[password]" in "\n".join(alice.screen), "the prompt")
            alice.type(PASSWORD)
            await alice.wait_for_screen(lambda rows: any("*" * len(PASSWORD) in row
                                                         for row in rows), "stars")
            alice.type(ENTER)
            await alice.wait_until_joined()
            await alice.wait_for_pane("you joined as alice")
            alice.type("hi" + ENTER)
            await alice.wait_for_pane("<alice> hi")
            await alice.wait_for_input_history()
            alice.type(UP + UP + "!")  # keys go in order: "!" comes after both Ups
            await wait_until(lambda: alice.input_text.endswith("!"), "both Ups taken")
            assert alice.input_text == "hi!"  # the second Up found nothing older
            assert PASSWORD not in alice.input_text
    run(scenario)


def test_a_wrong_password_shows_the_reason_and_is_not_tried_again_alone(
        password_server: ServerProcess) -> None:
    async def scenario() -> None:
        async with running_client(password_server.port, "alice", password="wrong") as alice:
            await alice.wait_for_pane("wrong password (2 tries left); type the password")
            sent = record_sent(alice)
            # A ping's answer comes after the server's pause and its answer to the /nick
            # that followed the wrong password: by then a loop would have sent more.
            alice.type("/ping after" + ENTER)
            await alice.wait_for_pane("PONG after")
            assert sent == ["/ping after"]
            assert "needs its password first" not in alice.pane  # said once, not twice
            alice.type(PASSWORD + ENTER)
            await alice.wait_until_joined()
            assert sent[1:3] == [f"/pass {PASSWORD}", "/nick alice"]
    run(scenario)
