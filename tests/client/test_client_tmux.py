"""End to end in a real terminal, as a person uses it: tmux runs two `chat-client`s.

A tmux server on its own socket runs `python -m chat_client` in two
windows against a real server. Keys are typed with `send-keys` and what each terminal shows
is read with `capture-pane`, so this covers what the pipe tests cannot: a real terminal,
real escape sequences, real widths of 你好 and 🎉, and a clean exit on Ctrl-C.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chat_testing import LineClient, ServerProcess, close_all

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WAIT = 15.0
EXITED = "chat-client exited with status "

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed (.ci/run installs it)")


class Tmux:
    """A private tmux server: every command goes to its own socket, never the user's.

    The socket is a path in the test's temporary directory (`-S`) rather than a name
    (`-L`), because tmux leaves its socket file behind after `kill-server`.
    """

    def __init__(self, socket_path: Path) -> None:
        self.socket = str(socket_path)

    def __call__(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-S", self.socket, "-f", os.devnull, *args],
                                capture_output=True, text=True, timeout=10, check=True)
        return result.stdout

    def start_client(self, window: str, port: int, nick: str) -> None:
        client = shlex.join([sys.executable, "-m", "chat_client", f"127.0.0.1:{port}",
                             "--nick", nick])
        # After the client ends, the shell says how, and the window stays to be read.
        script = f'{client}; echo "{EXITED}$?"; sleep {WAIT * 4:.0f}'
        command = shlex.join(["sh", "-c", script])
        where = ["-c", ROOT, "-e", f"PYTHONPATH={ROOT}", "-n", window]
        if window == "alice":
            self("new-session", "-d", "-s", "chat", "-x", "90", "-y", "20", *where, command)
        else:
            self("new-window", "-d", "-t", "chat", *where, command)

    def screen(self, window: str) -> str:
        return self("capture-pane", "-p", "-t", f"chat:{window}")

    def wait_for(self, window: str, condition: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + WAIT
        while True:
            screen = self.screen(window)
            if condition(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what} in {window}:\n{screen}")
            time.sleep(0.1)

    def type(self, window: str, text: str, *, enter: bool = True) -> None:
        self("send-keys", "-t", f"chat:{window}", "-l", text)  # -l: the text, not key names
        if enter:
            self("send-keys", "-t", f"chat:{window}", "Enter")

    def keys(self, window: str, *names: str) -> None:
        """Press keys by tmux's names for them (`C-u`, `Enter`)."""
        self("send-keys", "-t", f"chat:{window}", *names)

    def resize(self, window: str, columns: int) -> None:
        """Make the window `columns` wide, as dragging a terminal's edge does."""
        self("resize-window", "-t", f"chat:{window}", "-x", str(columns))

    def wait_for_exit(self, window: str) -> str:
        """Wait until the client in the window ends; return its exit status.

        The status is printed by the shell around the client: tmux's own `pane_dead_status`
        sometimes stays empty when the terminal closes before the process is reaped.
        """
        screen = self.wait_for(window, lambda s: EXITED in s, "the client to exit")
        return screen.split(EXITED, 1)[1].split()[0]

    def bell_rung(self, window: str) -> bool:
        """Whether the terminal in `window` (not the one on display) has rung its bell."""
        return self("display-message", "-p", "-t", f"chat:{window}",
                    "#{window_bell_flag}").strip() == "1"

    def kill_server(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True,
                       timeout=10)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    # A short directory of its own: a socket path must stay under about 100 bytes.
    with tempfile.TemporaryDirectory(prefix="chat-tmux-") as directory:
        session = Tmux(Path(directory) / "socket")
        try:
            yield session
        finally:
            session.kill_server()


def test_two_people_chat_in_real_terminals(server: ServerProcess, tmux: Tmux) -> None:
    tmux.start_client("alice", server.port, "alice")
    tmux.wait_for("alice", lambda s: "alice | 1:#lobby | 1 user | connected" in s, "alice connected")
    tmux.start_client("bob", server.port, "bob")
    tmux.wait_for("alice", lambda s: "--> bob joined" in s, "bob joining")

    assert tmux.bell_rung("bob") is False
    tmux.type("alice", "hello bob, 你好 🎉")
    screen = tmux.wait_for("bob", lambda s: "<alice> hello bob, 你好 🎉" in s, "alice's words")
    assert "bob | 1:#lobby | 2 users | connected" in screen
    assert tmux.bell_rung("bob") is True  # bob was mentioned: his terminal's bell rang

    tmux.type("bob", "/me waves back")
    tmux.wait_for("alice", lambda s: " * bob waves back" in s, "bob's action")

    tmux.type("alice", "/quit see you")
    tmux.wait_for("bob", lambda s: "<-- alice left (see you)" in s, "alice leaving")
    assert tmux.wait_for_exit("alice") == "0"
    assert "Traceback" not in tmux.screen("alice")


def test_ctrl_c_leaves_cleanly_in_a_real_terminal(server: ServerProcess, tmux: Tmux) -> None:
    tmux.start_client("alice", server.port, "alice")
    tmux.wait_for("alice", lambda s: "alice | 1:#lobby | 1 user | connected" in s, "alice connected")
    tmux("send-keys", "-t", "chat:alice", "C-c")
    assert tmux.wait_for_exit("alice") == "0"
    assert "Traceback" not in tmux.screen("alice")


def bottom_rows(screen: str, count: int) -> list[str]:
    """The last `count` rows of a captured screen, trailing blanks cut."""
    return [row.rstrip() for row in screen.rstrip("\n").split("\n")[-count:]]


def test_a_long_input_line_wraps_and_the_prompt_stays_in_a_real_terminal(
        server: ServerProcess, tmux: Tmux) -> None:
    tmux.start_client("alice", server.port, "alice")
    tmux.wait_for("alice", lambda s: "alice | 1:#lobby | 1 user | connected" in s, "alice connected")
    long_line = "a long line that goes on " * 6  # 150 columns: two rows and a bit in 90
    tmux.type("alice", long_line.strip(), enter=False)
    screen = tmux.wait_for("alice", lambda s: bottom_rows(s, 1)[0].endswith("goes on"),
                           "the end of the line on the last row")
    whole = "[alice] " + long_line.strip()
    assert bottom_rows(screen, 2) == [whole[:90].rstrip(), whole[90:]]
    tmux.keys("alice", "C-u")
    tmux.wait_for("alice", lambda s: bottom_rows(s, 1) == ["[alice]"], "the prompt alone")
    for columns in (30, 90, 45):  # narrow, wide again, in between
        tmux.type("alice", "typing along", enter=False)
        tmux.resize("alice", columns)
        tmux.wait_for("alice", lambda s: bottom_rows(s, 1) == ["[alice] typing along"],
                      f"the prompt and the text at {columns} columns")
        tmux.keys("alice", "C-u")
        tmux.wait_for("alice", lambda s: bottom_rows(s, 1) == ["[alice]"],
                      f"the prompt alone at {columns} columns")
    tmux.type("alice", "/quit")
    assert tmux.wait_for_exit("alice") == "0"


def v2_client(port: int, nick: str, *rooms: str) -> LineClient:
    """A version 2 line client called `nick`, in the default room and in `rooms`."""
    client = LineClient(port)
    client.send_line("/hello tests 2", f"/nick {nick}")
    client.read_until("CURRENT ")
    for room in rooms:
        client.send_line(f"/join {room}")
        client.read_until(f"CURRENT {room}")
    return client


def wait_for_member(client: LineClient, room: str, nick: str) -> bool:
    """Ask `/who room` until `nick` is in it (True), or until WAIT has passed (False)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        client.send_line(f"/who {room}")
        if nick in client.read_until(f"USERS {room}")[-1].split()[2:]:
            return True
        time.sleep(0.1)
    return False


def test_windows_and_the_activity_list_in_a_real_terminal(server: ServerProcess,
                                                          tmux: Tmux) -> None:
    bob = v2_client(server.port, "bob")
    try:
        tmux.start_client("alice", server.port, "alice")
        tmux.wait_for("alice", lambda s: "alice | 1:#lobby | 2 users" in s, "alice in #lobby")
        tmux.type("alice", "/join games")
        screen = tmux.wait_for("alice", lambda s: "alice | 2:#games | 1 user" in s, "window 2")
        assert screen.split("\n")[0].strip() == "#games"  # the topic bar: no topic yet
        bob.send_line("/in #lobby alice: are you there?")
        screen = tmux.wait_for("alice", lambda s: "[Act: 1*]" in s, "a mention in window 1")
        assert "are you there?" not in screen
        tmux.keys("alice", "M-1")  # Alt-1
        screen = tmux.wait_for("alice", lambda s: "<bob> alice: are you there?" in s,
                               "the lobby's window")
        assert "alice | 1:#lobby | 2 users" in screen and "Act:" not in screen
        assert any(row.rstrip().endswith("│ bob") for row in screen.split("\n"))
        tmux.type("alice", "/quit")
        assert tmux.wait_for_exit("alice") == "0"
    finally:
        close_all([bob])


def test_a_restarted_server_finds_the_client_back_in_its_rooms(
        server_factory: Callable[..., ServerProcess], tmux: Tmux, tmp_path: Path) -> None:
    store = str(tmp_path / "history.sqlite3")
    first = server_factory("--flood", "off", "--store", store)
    tmux.start_client("alice", first.port, "alice")
    tmux.wait_for("alice", lambda s: "1:#lobby" in s, "alice in #lobby")
    tmux.type("alice", "/join games")
    tmux.wait_for("alice", lambda s: "2:#games" in s, "window 2")
    first.stop()
    tmux.wait_for("alice", lambda s: "connection lost" in s, "the loss")
    second = server_factory("--flood", "off", "--store", store, port=first.port)
    bob = v2_client(second.port, "bob", "#games")
    try:
        screen = tmux.wait_for("alice", lambda s: "rejoining #lobby, #games" in s,
                               "the rejoin")
        assert wait_for_member(bob, "#games", "alice")
        tmux.type("alice", "still here")
        lines = bob.read_until(lambda line: line.endswith("alice still here"))
        assert lines[-1].startswith("MSG #games ")
        assert "2:#games" in tmux.screen("alice") and "Traceback" not in screen
    finally:
        close_all([bob])


def test_a_student_sees_being_muted_and_a_read_only_room_in_a_real_terminal(
        server_factory: Callable[..., ServerProcess], tmux: Tmux) -> None:
    server = server_factory("--flood", "off", "--oper-password", "sesame-42")
    teacher = v2_client(server.port, "teacher")
    try:
        teacher.send_line("/oper sesame-42")
        teacher.read_until("INFO you are now an operator")
        tmux.start_client("alice", server.port, "student")
        tmux.wait_for("alice", lambda s: "student | 1:#lobby | 2 users" in s, "student in")
        teacher.send_line("/mute student")
        screen = tmux.wait_for("alice", lambda s: "| muted" in s, "muted in the status bar")
        assert "-!- teacher muted student until lifted" in screen
        tmux.type("alice", "can I talk?")
        tmux.wait_for("alice", lambda s: "you are muted until an operator unmutes you" in s,
                      "the refusal")
        teacher.send_line("/unmute student", "/readonly on")
        screen = tmux.wait_for("alice", lambda s: "| read-only" in s and "| muted" not in s,
                               "read-only, no longer muted")
        assert "-!- teacher made the room read-only: only operators may speak" in screen
        tmux.type("alice", "/quit")
        assert tmux.wait_for_exit("alice") == "0"
    finally:
        close_all([teacher])
