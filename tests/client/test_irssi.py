"""A real IRC client: irssi, in a terminal of a private tmux server, chats with chat-client.

A real server is started with its IRC listener on a free port; one tmux server on its own
socket runs `chat-client` in one window and irssi (the distribution's package, installed
by .ci/run) in another. Keys are typed with `send-keys` and both screens are read with
`capture-pane`: a line typed in irssi appears in chat-client, a line typed in chat-client
appears in irssi's channel window, and irssi's `/quit` is shown as a leaving. irssi gets
a temporary HOME and `--home`, so it never reads or writes the real ~/.irssi.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chat_testing import ServerProcess, start_server

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WAIT = 15.0

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None,
                       reason="tmux is not installed (.ci/run installs it)"),
    pytest.mark.skipif(shutil.which("irssi") is None,
                       reason="irssi is not installed (.ci/run installs it)"),
]


def announced_irc_port(server: ServerProcess) -> int:
    """The port of the server's `IRC clients: irc://HOST:PORT` line.

    The announcement is printed and flushed in one go, after the `listening on` line
    start_server waited for, so its lines are already there: read them (a bounded number).
    """
    assert server.process.stdout is not None
    for _ in range(40):
        for line in server.startup_output:
            found = re.search(r"IRC clients: irc://\S+:(\d+)", line)
            if found:
                return int(found.group(1))
        line = server.process.stdout.readline()
        if not line:
            break
        server.startup_output.append(line)
    raise AssertionError(f"no IRC line in {server.startup_output!r}")


class Terminals:
    """Windows of a private tmux server (a socket path of its own, never the user's).

    Programs are started without a shell, so each pane's process is the program itself:
    its PID is kept, to end it by PID. Panes stay after their program ends
    (`remain-on-exit`), so a window can still be read and its end observed.
    """

    def __init__(self, socket_path: Path) -> None:
        self.socket = str(socket_path)
        self.pids: list[int] = []
        self.started = False

    def __call__(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-S", self.socket, "-f", os.devnull, *args],
                                capture_output=True, text=True, timeout=10, check=True)
        return result.stdout

    def start(self, window: str, command: list[str], environment: dict[str, str]) -> None:
        where = ["-c", ROOT, "-n", window, "-P", "-F", "#{pane_pid}"]
        where += [arg for name, value in environment.items() for arg in ("-e", f"{name}={value}")]
        if not self.started:
            output = self("start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";",
                          "new-session", "-d", "-s", "chat", "-x", "100", "-y", "24",
                          *where, *command)
            self.started = True
        else:
            output = self("new-window", "-d", "-t", "chat", *where, *command)
        self.pids.append(int(output.split()[-1]))

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

    def type(self, window: str, text: str) -> None:
        self("send-keys", "-t", f"chat:{window}", "-l", text)  # -l: the text, not key names
        self("send-keys", "-t", f"chat:{window}", "Enter")

    def ended(self, window: str) -> bool:
        return self("display-message", "-p", "-t", f"chat:{window}",
                    "#{pane_dead}").strip() == "1"

    def all_ended(self) -> bool:
        try:
            panes = self("list-panes", "-s", "-t", "chat", "-F", "#{pane_dead}").split()
        except subprocess.CalledProcessError:
            return True  # no session (it never started): nothing runs in it
        return all(pane == "1" for pane in panes)

    def stop(self) -> None:
        """End every program started here, by its PID, then the tmux server.

        A program has ended when tmux sees its pane dead; its PID may stay a zombie of the
        tmux server for a while, so the PIDs are signalled, never waited on.
        """
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while self.started and not self.all_ended() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.started and not self.all_ended():
            for pid in self.pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True,
                       timeout=10)


def test_irssi_and_chat_client_chat_both_ways_in_lobby() -> None:
    server = start_server("--flood", "off")
    # A short directory of its own: a socket path must stay under about 100 bytes.
    directory = tempfile.mkdtemp(prefix="chat-irssi-")
    terminals = Terminals(Path(directory) / "socket")
    try:
        irc_port = announced_irc_port(server)
        terminals.start("carol", [sys.executable, "-m", "chat_client", server.address,
                                  "--nick", "carol"], {"PYTHONPATH": ROOT})
        terminals.wait_for("carol", lambda s: "carol | 1:#lobby | 1 user | connected" in s,
                           "carol connected")

        home = Path(directory) / "home"
        (home / "irssi").mkdir(parents=True)
        # irssi's flood control holds commands past its first 5 for 2.2 s each: it would
        # hold the first line typed behind its channel sync queries for seconds.
        (home / "irssi" / "config").write_text(
            'settings = { "irc/core" = { cmds_max_at_once = "50"; }; };\n', encoding="utf-8")
        terminals.start("irssi", ["irssi", f"--home={home / 'irssi'}", "-n", "ivy",
                                  "-c", "127.0.0.1", "-p", str(irc_port)],
                        {"HOME": str(home), "LC_ALL": "C.UTF-8"})
        terminals.wait_for("irssi", lambda s: "Welcome to testroom, ivy" in s, "the welcome")
        terminals.wait_for("carol", lambda s: "--> ivy joined" in s, "ivy joining")
        # The server joined ivy to #lobby in a window of its own: /join shows that window.
        terminals.type("irssi", "/join #lobby")
        screen = terminals.wait_for(
            "irssi", lambda s: "has joined #lobby" in s and "[#lobby]" in s, "#lobby's window")
        assert "carol" in screen.split("[Users #lobby]", 1)[1]

        terminals.type("irssi", "hello carol, from irssi: é 你好")
        terminals.wait_for("carol", lambda s: "<ivy> hello carol, from irssi: é 你好" in s,
                           "ivy's line in chat-client")
        terminals.type("carol", "hi ivy, from chat-client: ü 🎉")
        terminals.wait_for(
            "irssi", lambda s: re.search(r"< ?carol> hi ivy, from chat-client: ü 🎉", s)
            is not None, "carol's line in irssi")

        terminals.type("irssi", "/quit see you")
        terminals.wait_for("carol", lambda s: "<-- ivy left (see you)" in s, "ivy leaving")
        deadline = time.monotonic() + WAIT
        while not terminals.ended("irssi"):
            assert time.monotonic() < deadline, "irssi did not end after /quit"
            time.sleep(0.1)
        assert "Traceback" not in terminals.screen("carol")
        assert list(home.iterdir()) == [home / "irssi"]  # irssi kept to its own home
    finally:
        try:
            terminals.stop()
        finally:
            server.stop()
            shutil.rmtree(directory, ignore_errors=True)
    assert "Traceback" not in server.stderr_text()
