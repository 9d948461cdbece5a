"""An irctest controller for lanchat: irctest (the IRC server conformance suite) starts
our server through it, on the port it chooses, and stops it by its process id.

Used by tests/irc/test_irctest.py as `--controller lanchat_controller` with this folder
on PYTHONPATH. The server keeps its history in a temporary folder of its own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional, Set, Type

from irctest.basecontrollers import BaseServerController, NotImplementedByController

PROJECT = Path(__file__).resolve().parents[2]
OPER_PASSWORD = "operpassword"  # irctest's operator tests log in with this password


class LanchatController(BaseServerController):
    """Runs `python -m chat_server` with its IRC listener on irctest's port."""

    software_name = "lanchat"
    supported_sasl_mechanisms: Set[str] = set()
    supports_sts = False

    def run(self, hostname: str, port: int, *, password: Optional[str], ssl: bool,
            run_services: bool, faketime: Optional[str],
            websocket_hostname: Optional[str], websocket_port: Optional[int]) -> None:
        if ssl:
            raise NotImplementedByController("TLS on the IRC listener")
        if websocket_hostname is not None or websocket_port is not None:
            raise NotImplementedByController("Websocket")
        if run_services:
            raise NotImplementedByController("services")
        assert self.proc is None
        self.hostname, self.port = hostname, port
        self.port_open = False  # irctest's wait_for_port then waits for this server too
        self._store_dir = tempfile.mkdtemp(prefix="lanchat-irctest-")
        command = [
            sys.executable, "-m", "chat_server", "--host", hostname, "--port", "0",
            "--irc-port", str(port), "--web-port", "off", "--name", "lanchat",
            "--store", os.path.join(self._store_dir, "history.sqlite3"),
            "--flood", "off", "--history-on-join", "0", "--join-timeout", "0",
            "--oper-password", OPER_PASSWORD, "--quiet", "--no-announce",
        ]
        if password is not None:
            command += ["--password", password]
        self.proc = subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def kill_proc(self) -> None:
        """SIGTERM our server by its process id (not a process group), then wait."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None
        shutil.rmtree(getattr(self, "_store_dir", ""), ignore_errors=True)


def get_irctest_controller_class() -> Type[LanchatController]:
    """What irctest's --controller option looks up."""
    return LanchatController
