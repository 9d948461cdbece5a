"""The `chat-server` command line: what it prints, and the options it refuses.

The announcement is checked in this process with a stand-in server (so no test listens
on anything but 127.0.0.1); the order of the announcement and the trace, and IPv6, with a
real server in a subprocess.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from importlib import metadata
from types import SimpleNamespace

import pytest

from chat_server import cli

STARTUP_TIMEOUT = 15.0


def _refused(capsys, *argv: str) -> str:  # type: ignore[no-untyped-def]
    """Run `chat-server argv`, expect a usage error (status 2); return standard error."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(list(argv))
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_version_prints_the_package_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"chat-server {metadata.version('lanchat')}"


@pytest.mark.parametrize(("argv", "message"), [
    (["--trace-delay", "0.5"], "--trace-delay only works with --trace"),
    (["--trace-delay", "0"], "--trace-delay only works with --trace"),
    (["--bot-interval", "2"], "--bot-interval only works with --bots"),
    (["--bots", "0", "--bot-interval", "2"], "--bot-interval only works with --bots"),
], ids=["trace-delay", "trace-delay 0", "bot-interval", "bot-interval with 0 bots"])
def test_an_option_that_only_changes_another_is_refused_without_it(
    capsys, argv: list[str], message: str
) -> None:
    err = _refused(capsys, *argv)
    assert f"chat-server: error: {message}" in err
    assert "Traceback" not in err


def test_the_options_that_need_another_are_accepted_with_it() -> None:
    parser = cli.build_parser()
    for argv in (["--trace", "--trace-delay", "0.5"], ["--bots", "2", "--bot-interval", "1"]):
        args = parser.parse_args(argv)
        cli._refuse_options_without_effect(parser, args)  # does not exit


# --- the announcement ----------------------------------------------------------------------

def _announced(capsys, monkeypatch, requested: str, address: tuple[str, int],  # type: ignore[no-untyped-def]
               lan: list[str]) -> list[str]:
    monkeypatch.setattr(cli, "lan_addresses", lambda: lan)
    server = SimpleNamespace(address=address, config=SimpleNamespace(name="lab"))
    cli._announce(server, requested)  # type: ignore[arg-type]
    return capsys.readouterr().out.splitlines()


def test_every_interface_announces_this_machine_and_the_lan(capsys, monkeypatch) -> None:
    lines = _announced(capsys, monkeypatch, "0.0.0.0", ("0.0.0.0", 7777), ["192.0.2.7"])
    assert lines == [
        "chat-server: room 'lab' listening on 0.0.0.0:7777",
        "On this machine, join with:",
        "    chat-client localhost",
        "    nc localhost 7777",
        "People on your network can join with:",
        "    chat-client 192.0.2.7",
        "    nc 192.0.2.7 7777",
    ]


def test_another_port_is_named_in_every_join_line(capsys, monkeypatch) -> None:
    lines = _announced(capsys, monkeypatch, "0.0.0.0", ("0.0.0.0", 4000), ["192.0.2.7"])
    assert "    chat-client localhost:4000" in lines and "    nc localhost 4000" in lines
    assert "    chat-client 192.0.2.7:4000" in lines and "    nc 192.0.2.7 4000" in lines


def test_without_a_lan_address_this_machine_is_still_announced(capsys, monkeypatch) -> None:
    lines = _announced(capsys, monkeypatch, "0.0.0.0", ("0.0.0.0", 7777), [])
    assert lines[1:] == ["On this machine, join with:",
                         "    chat-client localhost", "    nc localhost 7777"]


def test_one_address_announces_that_address_only(capsys, monkeypatch) -> None:
    lines = _announced(capsys, monkeypatch, "127.0.0.1", ("127.0.0.1", 4000), ["192.0.2.7"])
    assert lines == [
        "chat-server: room 'lab' listening on 127.0.0.1:4000",
        "On this machine, join with:",
        "    chat-client 127.0.0.1:4000",
        "    nc 127.0.0.1 4000",
    ]


@pytest.mark.parametrize(("requested", "address", "expected"), [
    ("::1", ("::1", 4000), ["listening on [::1]:4000", "chat-client [::1]:4000", "nc ::1 4000"]),
    ("::1", ("::1", 7777), ["listening on [::1]:7777", "chat-client [::1]", "nc ::1 7777"]),
    ("::", ("::", 7777), ["listening on [::]:7777", "chat-client localhost",
                          "nc localhost 7777"]),
], ids=["::1 port 4000", "::1 default port", ":: every interface"])
def test_ipv6_addresses_are_in_brackets(capsys, monkeypatch, requested: str,
                                         address: tuple[str, int], expected: list[str]) -> None:
    text = "\n".join(_announced(capsys, monkeypatch, requested, address, []))
    for part in expected:
        assert part in text


# --- a real server -------------------------------------------------------------------------

def _start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "chat_server", "--port", "0", "--name", "lab", "--store", "none",
         "--no-announce", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _read_lines_until(process: subprocess.Popen[bytes], done, timeout: float) -> list[str]:  # type: ignore[no-untyped-def]
    """Lines from the process's output until `done(line)` or `timeout`.

    Read from the descriptor itself: a buffered reader could hold lines that `select`
    no longer sees.
    """
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    lines: list[str] = []
    pending = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([descriptor], [], [], 0.2)
        if not ready:
            continue
        data = os.read(descriptor, 65536)
        if not data:
            break
        *complete, pending = (pending + data).split(b"\n")
        for line in complete:
            lines.append(line.decode())
            if done(lines[-1]):
                return lines
    raise AssertionError(f"not seen in time; the server said: {lines!r}")


def _stop(process: subprocess.Popen[bytes]) -> str:
    """SIGTERM the server, wait for it, and return the rest of what it printed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=15)[0].decode(errors="replace")
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate(timeout=15)[0].decode(errors="replace")


def test_with_trace_every_way_to_join_comes_before_the_first_trace_line() -> None:
    # Standard output and standard error share one pipe, so the order is the real one.
    process = _start("--host", "127.0.0.1", "--trace")
    try:
        # Up to the first `wait`: the run loop narrates as before, once it is released.
        lines = _read_lines_until(process, lambda line: " wait " in line, STARTUP_TIMEOUT)
    finally:
        rest = _stop(process)
    assert process.returncode == 0, rest
    first_trace = next(index for index, line in enumerate(lines) if " spawn " in line)
    assert "listening on 127.0.0.1:" in lines[0]
    port = lines[0].rsplit(":", 1)[1]
    assert lines[1:4] == ["On this machine, join with:",
                          f"    chat-client 127.0.0.1:{port}",
                          f"    nc 127.0.0.1 {port}"]
    # Then the other listeners' lines (IRC, browsers), each a way to join too.
    assert all(line.startswith(("IRC clients: ", "Browsers: "))
               for line in lines[4:first_trace])
    assert lines[first_trace].split()[1:] == ["spawn", "accept(lines)"]


def _ipv6_loopback_works() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback_works(), reason="no IPv6 loopback here")
def test_a_server_on_ipv6_loopback_prints_its_address_in_brackets() -> None:
    process = _start("--host", "::1")
    try:
        lines = _read_lines_until(process, lambda line: line.startswith("    nc "),
                                  STARTUP_TIMEOUT)
    finally:
        rest = _stop(process)
    assert process.returncode == 0, rest
    assert lines[0].startswith("chat-server: room 'lab' listening on [::1]:")
    port = int(lines[0].rsplit(":", 1)[1])
    assert lines[1:] == ["On this machine, join with:", f"    chat-client [::1]:{port}",
                         f"    nc ::1 {port}"]
