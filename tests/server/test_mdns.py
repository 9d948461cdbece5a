"""The mDNS responder (chat_server/mdns.py): the sans-IO `Responder`, then a real server.

Nothing here touches a real network: the responder is fed bytes, and every server is
started in the loopback mode (`--mdns-interface 127.0.0.1`, a free port of its own), so
its multicast never leaves this machine. Queries are built by dnslib, as a querier would.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator

import pytest
from dnslib import QTYPE, RR, SRV, TXT, DNSHeader, DNSRecord

from chat_server.mdns import (
    CACHE_FLUSH, LEGACY_TTL, MAX_PACKET, UNICAST_BURST, UNICAST_RATE, MdnsSettings, Rations, Responder,
    Service, announced_addresses, service_txt,
)
from chat_testing import ServerProcess, machine_client

GROUP = "224.0.0.251"
SERVICE = Service("lab", "lab-pc.local.", 7777, ("192.0.2.7",),
                  service_txt("#lobby", web_port=8080, irc_port=None))
INSTANCE = "lab._lanchat._tcp.local."


def _query(name: str, kind: str, query_id: int = 7) -> bytes:
    query = DNSRecord.question(name, kind)
    query.header.id = query_id
    return query.pack()


def _records(packet: bytes) -> dict[str, list[RR]]:
    """The answer and additional records of a reply, by type name."""
    reply = DNSRecord.parse(packet)
    found: dict[str, list[RR]] = {}
    for record in [*reply.rr, *reply.ar]:
        found.setdefault(QTYPE[record.rtype], []).append(record)
    return found


def _txt(record: RR) -> dict[str, str]:
    return dict(bytes(item).decode().partition("=")[::2] for item in record.rdata.data)


# --- the Responder, without sockets ----------------------------------------------------------

def test_a_ptr_query_gets_the_instance_its_srv_txt_and_address() -> None:
    reply, asked = Responder(SERVICE).reply(_query("_lanchat._tcp.local.", "PTR"), legacy=True)
    records = _records(reply)
    assert str(records["PTR"][0].rdata.label) == INSTANCE
    srv = records["SRV"][0].rdata
    assert (srv.port, str(srv.target)) == (7777, "lab-pc.local.")
    assert _txt(records["TXT"][0]) == {"room": "#lobby", "version": "2", "web": "8080"}
    assert [str(each.rdata) for each in records["A"]] == ["192.0.2.7"]
    assert asked == ["_lanchat._tcp.local./12"]


def test_a_one_shot_query_gets_its_id_its_question_short_ttls_and_no_cache_flush() -> None:
    reply, _ = Responder(SERVICE).reply(_query(INSTANCE, "SRV", query_id=4242), legacy=True)
    parsed = DNSRecord.parse(reply)
    assert parsed.header.id == 4242 and parsed.header.qr == 1 and parsed.header.aa == 1
    assert str(parsed.questions[0].qname) == INSTANCE
    assert all(each.ttl <= LEGACY_TTL and not each.rclass & CACHE_FLUSH
               for each in [*parsed.rr, *parsed.ar])


def test_a_multicast_reply_has_id_0_no_question_and_cache_flush_on_unique_records() -> None:
    reply, _ = Responder(SERVICE).reply(_query("_lanchat._tcp.local.", "PTR"), legacy=False)
    parsed = DNSRecord.parse(reply)
    assert parsed.header.id == 0 and not parsed.questions
    records = _records(reply)
    assert not records["PTR"][0].rclass & CACHE_FLUSH  # shared: many servers answer it
    assert all(each.rclass & CACHE_FLUSH for kind in ("SRV", "TXT", "A")
               for each in records[kind])


@pytest.mark.parametrize(("name", "kind", "expected"), [
    (INSTANCE, "TXT", {"TXT"}),
    (INSTANCE, "ANY", {"SRV", "TXT", "A"}),
    ("LAB._LanChat._TCP.local.", "SRV", {"SRV", "A"}),  # DNS names ignore case
    ("lab-pc.local.", "A", {"A"}),
    ("_services._dns-sd._udp.local.", "PTR", {"PTR"}),
])
def test_each_of_our_names_is_answered(name: str, kind: str, expected: set[str]) -> None:
    reply, _ = Responder(SERVICE).reply(_query(name, kind), legacy=True)
    assert set(_records(reply)) == expected


@pytest.mark.parametrize(("name", "kind"), [
    ("_http._tcp.local.", "PTR"), ("other._lanchat._tcp.local.", "SRV"),
    ("lab-pc.local.", "AAAA"), (INSTANCE, "A"),
])
def test_questions_about_others_get_no_reply(name: str, kind: str) -> None:
    assert Responder(SERVICE).reply(_query(name, kind), legacy=True) is None


def test_answers_are_never_taken_as_questions_nor_learnt_from() -> None:
    responder = Responder(SERVICE)
    spoof = DNSRecord(DNSHeader(id=0, qr=1, aa=1))
    spoof.add_question(DNSRecord.question("_lanchat._tcp.local.", "PTR").q)
    spoof.add_answer(RR(INSTANCE, QTYPE.SRV, 1, 120, SRV(0, 0, 1, "evil.local.")),
                     RR(INSTANCE, QTYPE.TXT, 1, 120, TXT([b"room=#evil"])))
    before = responder.announcement()
    assert responder.reply(spoof.pack(), legacy=True) is None
    assert responder.announcement() == before


def test_the_goodbye_is_the_announcement_with_ttl_0() -> None:
    responder = Responder(SERVICE)
    hello, goodbye = DNSRecord.parse(responder.announcement()), DNSRecord.parse(responder.goodbye())
    assert all(each.ttl > 0 for each in hello.rr) and all(each.ttl == 0 for each in goodbye.rr)
    assert [(each.rname, each.rtype) for each in hello.rr] == \
        [(each.rname, each.rtype) for each in goodbye.rr]


def test_an_instance_name_with_dots_and_non_ascii_is_one_label_of_63_bytes_at_most() -> None:
    service = Service("lab.2 " + "é" * 40, "h.local.", 1, ("192.0.2.1",))
    label = service.instance_name.label[0]
    assert len(label) <= 63 and label.decode("utf-8").startswith("lab.2 ")
    reply, _ = Responder(service).reply(_query("_lanchat._tcp.local.", "PTR"), legacy=True)
    assert _records(reply)["PTR"][0].rdata.label.label[0] == label


def test_garbage_oversized_and_mutated_packets_are_dropped_quietly() -> None:
    responder = Responder(SERVICE)
    good = _query("_lanchat._tcp.local.", "PTR")
    assert responder.reply(good + b"\0" * (MAX_PACKET - len(good) + 1), legacy=True) is None
    rng = random.Random(14)
    for _ in range(3000):  # bounded: about a second
        packet = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            if not packet:
                packet += rng.randbytes(rng.randrange(1, 12))
            elif rng.random() < 0.6:
                packet[rng.randrange(len(packet))] = rng.randrange(256)
            else:
                del packet[rng.randrange(len(packet)):]
                packet += rng.randbytes(rng.randrange(12))
        made = responder.reply(bytes(packet), legacy=rng.random() < 0.5)
        assert made is None or DNSRecord.parse(made[0]).header.qr == 1


def test_rations_answer_a_question_on_the_group_once_a_second_and_cap_unicast() -> None:
    rations = Rations(now=0.0)
    assert rations.may_multicast(["q"], 0.0) and not rations.may_multicast(["q"], 0.5)
    assert rations.may_multicast(["other"], 0.5) and rations.may_multicast(["q"], 1.0)
    granted = sum(rations.may_unicast(0.0) for _ in range(1000))
    assert granted == UNICAST_BURST
    assert rations.may_unicast(1.0)  # it refills


@pytest.mark.parametrize(("host", "settings", "expected"), [
    ("0.0.0.0", MdnsSettings(), ("192.0.2.7",)),
    ("192.0.2.9", MdnsSettings(), ("192.0.2.9",)),
    ("127.0.0.1", MdnsSettings(), ()),  # nobody else could reach it: not announced
    ("::1", MdnsSettings(), ()),
    ("127.0.0.1", MdnsSettings(port=1, interfaces=("127.0.0.1",)), ("127.0.0.1",)),
])
def test_what_addresses_are_announced(host: str, settings: MdnsSettings,
                                      expected: tuple[str, ...]) -> None:
    assert announced_addresses(host, settings, lambda: ["192.0.2.7"]) == expected


# --- a real server, on loopback only -------------------------------------------------------

def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _loopback_options(port: int) -> tuple[str, ...]:
    """The test mode on `port`; and no web listener, so TXT shows a listener left out."""
    return ("--mdns-address", f"{GROUP}:{port}", "--mdns-interface", "127.0.0.1",
            "--web-port", "off")


def _querier() -> socket.socket:
    """A one-shot querier's socket: an ordinary port, multicast out of loopback only."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    return sock


def _group_member(port: int) -> socket.socket:
    """A socket on the mDNS port that hears the group on loopback, as a cache would."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("", port))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                    socket.inet_aton(GROUP) + socket.inet_aton("127.0.0.1"))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    return sock


def _ask(sock: socket.socket, port: int, packet: bytes, timeout: float = 3.0) -> bytes | None:
    """Send `packet` to the group; the first reply within `timeout`, or None."""
    sock.sendto(packet, (GROUP, port))
    return _next_packet(sock, timeout)


def _next_packet(sock: socket.socket, timeout: float) -> bytes | None:
    sock.settimeout(timeout)
    try:
        return sock.recvfrom(MAX_PACKET + 1)[0]
    except (TimeoutError, socket.timeout):
        return None


def _drain(sock: socket.socket, seconds: float) -> list[bytes]:
    """Every packet arriving in the next `seconds` (at most 5,000)."""
    deadline = time.monotonic() + seconds
    packets: list[bytes] = []
    while len(packets) < 5000 and (left := deadline - time.monotonic()) > 0:
        packet = _next_packet(sock, left)
        if packet is not None:
            packets.append(packet)
    return packets


@pytest.fixture
def mdns_port() -> int:
    return _free_udp_port()


@pytest.fixture
def querier() -> Iterator[socket.socket]:
    sock = _querier()
    yield sock
    sock.close()


def _check_answers_for(server: ServerProcess, packet: bytes) -> None:
    records = _records(packet)
    assert str(records["PTR"][0].rdata.label) == "testroom._lanchat._tcp.local."
    assert records["SRV"][0].rdata.port == server.port
    txt = _txt(records["TXT"][0])
    assert txt["room"] == "#lobby" and txt["version"] == "2"
    assert txt["irc"].isdigit() and "web" not in txt  # IRC on a free port; web off
    assert [str(each.rdata) for each in records["A"]] == ["127.0.0.1"]


def test_the_server_answers_a_ptr_query_on_loopback(server_factory, mdns_port: int,
                                                    querier: socket.socket) -> None:
    server = server_factory(*_loopback_options(mdns_port))
    reply = _ask(querier, mdns_port, _query("_lanchat._tcp.local.", "PTR", query_id=99))
    assert reply is not None and DNSRecord.parse(reply).header.id == 99
    _check_answers_for(server, reply)


def test_the_server_announces_at_start_and_says_goodbye_at_shutdown(server_factory,
                                                                    mdns_port: int) -> None:
    member = _group_member(mdns_port)
    try:
        server = server_factory(*_loopback_options(mdns_port))
        hello = _next_packet(member, 5.0)
        assert hello is not None and all(each.ttl > 0 for each in DNSRecord.parse(hello).rr)
        _check_answers_for(server, hello)
        _drain(member, 1.5)  # the second announcement
        assert server.stop() == 0
        goodbyes = [packet for packet in _drain(member, 1.0)
                    if all(each.ttl == 0 for each in DNSRecord.parse(packet).rr)]
        assert goodbyes, "no goodbye (TTL 0) at shutdown"
    finally:
        member.close()
    assert "Traceback" not in server.stderr_text()


def test_no_announce_keeps_the_server_silent(server_factory, mdns_port: int,
                                             querier: socket.socket) -> None:
    member = _group_member(mdns_port)
    try:
        server_factory("--no-announce", *_loopback_options(mdns_port))
        assert _ask(querier, mdns_port, _query("_lanchat._tcp.local.", "PTR"), 1.0) is None
        assert _drain(member, 0.5) == [_query("_lanchat._tcp.local.", "PTR")]  # ours only
    finally:
        member.close()


def test_hostile_packets_and_a_query_flood_leave_the_chat_and_the_answers_alone(
        server_factory, mdns_port: int, querier: socket.socket) -> None:
    server = server_factory(*_loopback_options(mdns_port))
    alice = machine_client(server.port, "alice")
    query = _query("_lanchat._tcp.local.", "PTR")
    spoof = DNSRecord(DNSHeader(id=0, qr=1, aa=1))
    spoof.add_answer(RR("testroom._lanchat._tcp.local.", QTYPE.SRV, 1 | CACHE_FLUSH, 120,
                        SRV(0, 0, 1, "evil.local.")))
    rng = random.Random(5353)
    hostile = [rng.randbytes(rng.randrange(1, 600)) for _ in range(200)]
    hostile += [query[:cut] for cut in range(len(query))]
    hostile += [query + b"\0" * 9500, spoof.pack()]
    for packet in hostile:
        querier.sendto(packet, (GROUP, mdns_port))
    started = time.monotonic()
    for number in range(2000):  # bounded: a few hundred milliseconds on loopback
        querier.sendto(query, (GROUP, mdns_port))
        if number % 500 == 0:
            alice.send_line(f"/ping flood{number}")
            assert alice.read_line() == f"PONG flood{number}"
    replies = _drain(querier, 1.0)
    elapsed = time.monotonic() - started
    assert len(replies) <= UNICAST_BURST + UNICAST_RATE * (elapsed + 1), "the flood was not rationed"
    time.sleep(2.2)  # let the unicast bucket refill, then ask once more
    reply = _ask(querier, mdns_port, query)
    assert reply is not None
    _check_answers_for(server, reply)  # the spoofed SRV changed nothing
    alice.send_line("/ping after")
    assert alice.read_line() == "PONG after"
    alice.close()
    assert server.stop() == 0
    assert "Traceback" not in server.stderr_text()
