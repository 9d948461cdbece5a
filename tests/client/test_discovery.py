"""Finding rooms (chat_client/discovery.py): reading answers, choosing, and a real server.

No real network: answers are built with dnslib and fed as bytes, and the servers started
here announce in the loopback mode on a free port of their own; the client browses the
same way (`--mdns-interface 127.0.0.1`), so no packet leaves this machine.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from dnslib import A, DNSHeader, DNSRecord, PTR, QTYPE, RR, SRV, TXT

from chat_client import discovery
from chat_client.cli import main
from chat_client.discovery import BrowseSettings, Room, browse, choose_room, print_rooms, rooms_in

ROOT = Path(__file__).resolve().parents[2]
GROUP = "224.0.0.251"


def _answer(instance: str, port: int, host: str = "pc.local.", address: str | None = None,
            txt: list[bytes] | None = None) -> bytes:
    reply = DNSRecord(DNSHeader(id=0, qr=1, aa=1))
    name = f"{instance}._lanchat._tcp.local."
    reply.add_answer(RR("_lanchat._tcp.local.", QTYPE.PTR, 1, 120, PTR(name)))
    reply.add_ar(RR(name, QTYPE.SRV, 0x8001, 120, SRV(0, 0, port, host)),
                 RR(name, QTYPE.TXT, 0x8001, 120, TXT(txt or [b"room=#lobby", b"version=2"])))
    if address is not None:
        reply.add_ar(RR(host, QTYPE.A, 0x8001, 120, A(address)))
    return reply.pack()


# --- reading answers -----------------------------------------------------------------------

def test_an_answer_becomes_a_room_at_its_a_record_with_its_txt_keys() -> None:
    rooms = rooms_in([(_answer("lab", 7777, address="192.0.2.7",
                               txt=[b"room=#lobby", b"version=2", b"web=8080"]), "192.0.2.7")])
    assert rooms == [Room("lab", "192.0.2.7", 7777,
                          {"room": "#lobby", "version": "2", "web": "8080"})]
    assert rooms[0].describe() == "lab at 192.0.2.7:7777 (room #lobby, web port 8080)"


def test_without_an_a_record_the_sender_is_the_address() -> None:
    assert rooms_in([(_answer("lab", 7000), "192.0.2.9")])[0].address == "192.0.2.9:7000"


def test_the_same_room_twice_is_one_room_and_rooms_are_sorted() -> None:
    packets = [(_answer("zeta", 1), "192.0.2.1"), (_answer("alpha", 2), "192.0.2.2"),
               (_answer("zeta", 1), "192.0.2.1")]
    assert [room.name for room in rooms_in(packets)] == ["alpha", "zeta"]


def test_questions_garbage_oversized_and_srv_without_ptr_are_ignored() -> None:
    question = DNSRecord.question("_lanchat._tcp.local.", "PTR").pack()
    lonely = DNSRecord(DNSHeader(id=0, qr=1, aa=1))
    lonely.add_answer(RR("x._lanchat._tcp.local.", QTYPE.SRV, 1, 120, SRV(0, 0, 1, "x.local.")))
    packets = [(question, "127.0.0.1"), (b"\xff" * 40, "127.0.0.1"),
               (_answer("big", 1) + b"\0" * 9001, "127.0.0.1"), (lonely.pack(), "127.0.0.1")]
    assert rooms_in(packets) == []


# --- choosing --------------------------------------------------------------------------------

def _rooms(count: int) -> list[Room]:
    return [Room(f"room{number}", "192.0.2.1", 7000 + number) for number in range(1, count + 1)]


def test_none_found_falls_back_to_localhost_and_says_so() -> None:
    said: list[str] = []
    assert choose_room([], ask=_no_input, say=said.append) == ("localhost", 7777)
    assert "No room found" in said[0] and "localhost:7777" in said[0]


def test_one_found_is_joined() -> None:
    said: list[str] = []
    assert choose_room(_rooms(1), ask=_no_input, say=said.append) == ("192.0.2.1", 7001)
    assert "joining it" in said[0]


def test_several_are_listed_and_the_chosen_one_is_joined() -> None:
    said: list[str] = []
    answers = iter(["x", "9", "2"])
    assert choose_room(_rooms(3), ask=lambda _: next(answers), say=said.append) == \
        ("192.0.2.1", 7002)
    assert said[1:] == ["  1. room1 at 192.0.2.1:7001", "  2. room2 at 192.0.2.1:7002",
                        "  3. room3 at 192.0.2.1:7003"]


def test_several_and_no_choice_is_none() -> None:
    def ended(_: str) -> str:
        raise EOFError
    assert choose_room(_rooms(2), ask=ended, say=lambda _: None) is None
    assert choose_room(_rooms(2), ask=lambda _: "0", say=lambda _: None) is None


def test_print_rooms_says_when_there_is_none() -> None:
    said: list[str] = []
    assert print_rooms([], say=said.append) == 1 and said == ["No room found on the network."]


def _no_input(_: str) -> str:
    raise AssertionError("asked, with nothing to choose")


# --- a real server, on loopback only ---------------------------------------------------------

def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _loopback(port: int) -> tuple[str, ...]:
    return ("--mdns-address", f"{GROUP}:{port}", "--mdns-interface", "127.0.0.1")


def test_the_client_finds_a_server_started_here(server_factory) -> None:
    port = _free_udp_port()
    server = server_factory(*_loopback(port))
    rooms = browse(BrowseSettings(GROUP, port, "127.0.0.1"), seconds=1.5)
    assert [(room.name, room.host, room.port) for room in rooms] == \
        [("testroom", "127.0.0.1", server.port)]
    assert rooms[0].txt["room"] == "#lobby" and rooms[0].txt["version"] == "2"


def test_discover_prints_the_room_and_exits(server_factory) -> None:
    port = _free_udp_port()
    server = server_factory(*_loopback(port))
    result = subprocess.run([sys.executable, "-m", "chat_client", "--discover", *_loopback(port)],
                            cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"testroom at 127.0.0.1:{server.port} (room #lobby")


def test_no_announce_is_not_found(server_factory) -> None:
    port = _free_udp_port()
    server_factory("--no-announce", *_loopback(port))
    assert browse(BrowseSettings(GROUP, port, "127.0.0.1"), seconds=1.0) == []


def test_no_address_joins_the_one_room_found(server_factory,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_udp_port()
    server = server_factory(*_loopback(port))
    started: list[tuple[str, int]] = []

    class _Started:
        async def run_async(self) -> None:
            pass

    def create_app(host: str, port: int, nick: str, **options: object) -> _Started:
        started.append((host, port))
        return _Started()
    monkeypatch.setattr("chat_client.cli.create_app", create_app)
    assert main(["--nick", "alice", *_loopback(port)]) == 0
    assert started == [("127.0.0.1", server.port)]


def test_at_most_max_rooms_are_kept() -> None:
    assert discovery.MAX_PACKETS <= 500 and discovery.MAX_ROOMS <= 50
    many = [(_answer(f"r{number}", 1000 + number), "127.0.0.1") for number in range(80)]
    assert len(rooms_in(many)) == discovery.MAX_ROOMS
