"""The command line: addresses, nicknames, defaults, and quiet failure."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from protocol import MAX_NICK_LENGTH, is_valid_nick

from chat_client import __version__
from chat_client.cli import build_parser, main, parse_address
from chat_client.nicks import nick_from_login, nick_variants

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize(("text", "address"), [
    ("localhost", ("localhost", 7777)),
    ("localhost:8000", ("localhost", 8000)),
    ("192.168.1.20:7777", ("192.168.1.20", 7777)),
    ("[::1]:7000", ("::1", 7000)),
    ("[::1]", ("::1", 7777)),
    ("::1", ("::1", 7777)),
    ("fe80::1%eth0", ("fe80::1%eth0", 7777)),
])
def test_addresses(text: str, address: tuple[str, int]) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["host:", "host:http", "host:0", "host:70000", ":7777",
                                  "[::1", "[::1]7777", "[]:1"])
def test_bad_addresses_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address(text)


@pytest.mark.parametrize(("argv", "address"), [
    (["chat.lan", "8000"], ("chat.lan", 8000)),
    (["192.168.1.20", "7000", "--nick", "bob"], ("192.168.1.20", 7000)),
    (["::1", "7000"], ("::1", 7000)),
    (["[::1]", "7000"], ("::1", 7000)),
    (["chat.lan:8000"], ("chat.lan", 8000)),
    (["chat.lan"], ("chat.lan", 7777)),
])
def test_host_and_port_as_two_words_like_nc(argv: list[str], address: tuple[str, int],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[str, int]] = []

    class _Started:
        async def run_async(self) -> None:
            pass

    def create_app(host: str, port: int, nick: str, **options: object) -> _Started:
        started.append((host, port))
        return _Started()
    monkeypatch.setattr("chat_client.cli.create_app", create_app)
    assert main([*argv, "--nick", "alice"] if "--nick" not in argv else argv) == 0
    assert started == [address]


@pytest.mark.parametrize(("argv", "complaint"), [
    (["chat.lan:8000", "8000"], "the port is given twice"),
    (["chat.lan", "http"], "not a port number"),
    (["chat.lan", "0"], "not a port number"),
])
def test_a_bad_or_doubled_port_is_a_usage_error(argv: list[str], complaint: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err


def test_version_is_printed_and_nothing_else_happens() -> None:
    result = subprocess.run([sys.executable, "-m", "chat_client", "--version"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert result.stdout.strip() == f"chat-client {__version__}"


def test_defaults() -> None:
    args = build_parser().parse_args([])
    assert args.address is None and args.nick is None  # no address: browse, see discovery.py


@pytest.mark.parametrize(("argv", "complaint"), [
    (["--nick", "no spaces"], "--nick 'no spaces'"),
    (["--nick", "x" * 17], "at most 16 characters"),
    (["host:99999"], "not a port number"),
])
def test_a_bad_nick_or_address_is_a_usage_error(argv: list[str], complaint: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err


def test_the_module_runs_and_explains_itself() -> None:
    result = subprocess.run([sys.executable, "-m", "chat_client", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "HOST[:PORT]" in result.stdout and "--nick" in result.stdout
    assert "PORT" in result.stdout.replace("HOST[:PORT]", "")


@pytest.mark.parametrize(("login", "nick"), [
    ("alice", "alice"), ("john.doe", "johndoe"), ("Ana María", "AnaMaría"),
    ("a" * 40, "a" * MAX_NICK_LENGTH), ("...", "guest"), ("", "guest"), ("张三", "张三"),
])
def test_default_nick_from_the_login_name(login: str, nick: str) -> None:
    assert nick_from_login(login) == nick
    assert is_valid_nick(nick_from_login(login))


def test_nick_variants_are_valid_distinct_and_sensible() -> None:
    variants = list(nick_variants("alice"))
    assert variants[:3] == ["alice_", "alice2", "alice3"]
    assert len(set(variants)) == len(variants) == 20
    long = list(nick_variants("a" * MAX_NICK_LENGTH))
    assert all(is_valid_nick(nick) and len(nick) <= MAX_NICK_LENGTH for nick in long)
    assert long[0] == "a" * (MAX_NICK_LENGTH - 1) + "_"


class _Interrupted:
    async def run_async(self) -> None:
        raise KeyboardInterrupt


def test_an_interrupt_outside_the_screen_ends_quietly(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("chat_client.cli.create_app", lambda *args, **kwargs: _Interrupted())
    assert main(["127.0.0.1:1", "--nick", "alice"]) == 130
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
