"""mDNS/DNS-SD: the server tells the local network where its room is (RFC 6762, RFC 6763).

Three parts, kept apart so the middle one needs no network to test:

- `Service`: what we announce: an instance of `_lanchat._tcp.local.` named by `--name`,
  its SRV (host and line port), its TXT (default room, protocol version, web/IRC ports)
  and the host's A records.
- `Responder`: sans-IO. A packet in, the reply's bytes out (or None); the announcement and
  the goodbye as bytes. The wire format is dnslib's: name compression, the class field's
  top bit (cache-flush in answers, unicast-response in questions) are not ours to pack.
- `Announcer`: the UDP socket joined to the multicast group, and two tasks on our own
  scheduler: one answers queries, one announces at start. `stop()` says goodbye (TTL 0).

Rules it keeps, whatever arrives: it only ever answers questions about its own names and
never learns from answers (a packet claiming to answer for our name changes nothing we
say); a packet over 9,000 bytes or that does not parse is dropped; replies are rationed
(a multicast answer at most once a second per question, unicast ones from a small bucket),
so a query flood costs a bounded amount of sending; and the chat never waits on it.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dnslib import A, CLASS, DNSError, DNSHeader, DNSLabel, DNSRecord, PTR, QTYPE, RR, SRV, TXT

from chat_server.scheduler import Scheduler, Task
from chat_server.traps import TaskGenerator, recv_wait, sleep

log = logging.getLogger(__name__)

SERVICE_TYPE = "_lanchat._tcp.local."
SERVICE_TYPES_QUERY = "_services._dns-sd._udp.local."  # "which services are here?" (RFC 6763 §9)
MDNS_GROUP = "224.0.0.251"
MDNS_PORT = 5353
MAX_PACKET = 9000  # RFC 6762 §17: nothing larger is valid mDNS; larger is dropped unread
TXT_VERSION = "2"  # the line protocol's version with rooms (protocol.ROOMS_PROTOCOL_VERSION)

HOST_TTL = 120  # seconds: records naming a host (SRV, A), RFC 6762 §10
OTHER_TTL = 4500  # seconds: PTR and TXT
LEGACY_TTL = 10  # a one-shot querier (not on port 5353) is given short TTLs (§6.7)
CACHE_FLUSH = 0x8000  # the class field's top bit on our unique records (§10.2)
CLASS_ANY = 255  # dnslib names it "*", so by number

PACKETS_PER_WAKE = 64  # then the loop polls again, so a flood cannot hog a round
MULTICAST_INTERVAL = 1.0  # the same question is answered on the group at most this often
UNICAST_BURST, UNICAST_RATE = 20, 10.0  # replies straight to one-shot queriers, per second
ANNOUNCE_TIMES, ANNOUNCE_GAP = 2, 1.0  # RFC 6762 §8.3: at least twice, a second apart


@dataclass(frozen=True)
class MdnsSettings:
    """Where the responder talks: the group and port, and the interfaces (IPv4 addresses).

    No interfaces means the system's default one. Loopback only (`127.0.0.1`) is the mode
    tests use: nothing leaves the machine, and packets from elsewhere are ignored.
    """

    group: str = MDNS_GROUP
    port: int = MDNS_PORT
    interfaces: tuple[str, ...] = ()

    @property
    def loopback_only(self) -> bool:
        """True when every interface is a loopback address (the test mode)."""
        return bool(self.interfaces) and all(each.startswith("127.") for each in self.interfaces)


@dataclass(frozen=True)
class Service:
    """One room as announced: `instance` is the server's `--name`."""

    instance: str
    host: str  # the SRV target, e.g. "lab-pc.local."
    port: int
    addresses: tuple[str, ...]  # IPv4 addresses of `host`
    txt: dict[str, str] = field(default_factory=dict)

    @property
    def instance_name(self) -> DNSLabel:
        """`<instance>._lanchat._tcp.local.`, the instance a single label (dots and all)."""
        label = _label_bytes(self.instance)
        return DNSLabel([label, *DNSLabel(SERVICE_TYPE).label])


def service_txt(room: str, web_port: int | None, irc_port: int | None) -> dict[str, str]:
    """The TXT keys: the room everyone joins first, the protocol version, other ports."""
    txt = {"room": room, "version": TXT_VERSION}
    if web_port is not None:
        txt["web"] = str(web_port)
    if irc_port is not None:
        txt["irc"] = str(irc_port)
    return txt


def host_name(hostname: str) -> str:
    """`<first label of the host name>.local.`, the name our SRV points at."""
    first = hostname.split(".")[0] or "lanchat"
    return f"{first}.local."


class Responder:
    """Answers mDNS questions about one `Service`; bytes in, bytes out."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._instance = service.instance_name
        self._type = DNSLabel(SERVICE_TYPE)
        self._host = DNSLabel(service.host)

    def announcement(self, ttl_scale: int = 1) -> bytes:
        """An unsolicited answer with every record (`ttl_scale` 0: the goodbye)."""
        reply = DNSRecord(DNSHeader(id=0, qr=1, aa=1, rd=0, ra=0))
        for record in [*self._ptr_records(), *self._service_records(), *self._a_records()]:
            record.ttl *= ttl_scale
            reply.add_answer(record)
        return reply.pack()

    def goodbye(self) -> bytes:
        """The announcement with TTL 0: caches drop our records at once."""
        return self.announcement(ttl_scale=0)

    def reply(self, packet: bytes, legacy: bool) -> tuple[bytes, list[str]] | None:
        """The answer to `packet` and the questions it answers, or None if it asks nothing of us.

        `legacy`: it came from a port other than mDNS's, a one-shot querier that waits for
        a unicast reply with its id, its questions and short TTLs (RFC 6762 §6.7).
        """
        query = maybe_parse(packet)
        if query is None or query.header.qr or query.header.opcode != 0:
            return None  # garbage, or an answer: we never learn from what others announce
        answers: list[RR] = []
        extras: list[RR] = []
        asked: list[str] = []
        for question in query.questions[:32]:
            found, more = self._answers_for(question.qname, question.qtype, question.qclass)
            if found:
                asked.append(f"{str(question.qname).lower()}/{question.qtype}")
                answers += found
                extras += more
        if not answers:
            return None
        return self._packed(query, answers, extras, legacy), asked

    def _answers_for(self, name: DNSLabel, qtype: int,
                     qclass: int) -> tuple[list[RR], list[RR]]:
        """(answers, additional records) for one question; both empty if not ours."""
        if qclass & ~CACHE_FLUSH not in (CLASS.IN, CLASS_ANY):
            return [], []
        wants = (lambda kind: qtype in (kind, QTYPE.ANY))
        if name == self._type and wants(QTYPE.PTR):
            return self._ptr_records()[:1], [*self._service_records(), *self._a_records()]
        if name == DNSLabel(SERVICE_TYPES_QUERY) and wants(QTYPE.PTR):
            return self._ptr_records()[1:], []
        if name == self._instance:
            found = [each for each in self._service_records() if wants(each.rtype)]
            with_srv = any(each.rtype == QTYPE.SRV for each in found)
            return found, self._a_records() if with_srv else []
        if name == self._host and wants(QTYPE.A):
            return self._a_records(), []
        return [], []

    def _packed(self, query: DNSRecord, answers: list[RR], extras: list[RR],
                legacy: bool) -> bytes:
        reply = DNSRecord(DNSHeader(id=query.header.id if legacy else 0, qr=1, aa=1, rd=0,
                                   ra=0))
        if legacy:  # a plain DNS client checks that its question comes back
            reply.questions = list(query.questions[:32])
        seen: set[tuple[str, int, str]] = set()  # an extra already answered is left out
        for section, records in ((reply.add_answer, answers), (reply.add_ar, extras)):
            for record in _unique(records, seen):
                if legacy:  # no cache-flush bit, short TTLs: RFC 6762 §6.7
                    record.rclass &= ~CACHE_FLUSH
                    record.ttl = min(record.ttl, LEGACY_TTL)
                section(record)
        return reply.pack()

    # Records are made afresh for each reply: dnslib's RR objects are mutable.

    def _ptr_records(self) -> list[RR]:
        """The shared records: type -> instance, and the service-type enumeration."""
        return [RR(self._type, QTYPE.PTR, CLASS.IN, OTHER_TTL, PTR(self._instance)),
                RR(DNSLabel(SERVICE_TYPES_QUERY), QTYPE.PTR, CLASS.IN, OTHER_TTL,
                   PTR(self._type))]

    def _service_records(self) -> list[RR]:
        """SRV and TXT: unique to us, so they carry the cache-flush bit."""
        service = self.service
        texts = [f"{key}={value}".encode() for key, value in service.txt.items()]
        return [RR(self._instance, QTYPE.SRV, CLASS.IN | CACHE_FLUSH, HOST_TTL,
                   SRV(0, 0, service.port, self._host)),
                RR(self._instance, QTYPE.TXT, CLASS.IN | CACHE_FLUSH, OTHER_TTL,
                   TXT(texts or [b""]))]

    def _a_records(self) -> list[RR]:
        return [RR(self._host, QTYPE.A, CLASS.IN | CACHE_FLUSH, HOST_TTL, A(address))
                for address in self.service.addresses]


def maybe_parse(packet: bytes) -> DNSRecord | None:
    """The DNS message in `packet`, or None if it is too large or does not parse."""
    if len(packet) > MAX_PACKET:
        return None
    try:
        return DNSRecord.parse(packet)
    except DNSError:  # the peer's bad bytes: dnslib reports all of them as this
        return None


class Rations:
    """How often the responder may send: per question on the group, and in all by unicast."""

    def __init__(self, now: float) -> None:
        self._multicast_at: dict[str, float] = {}
        self._tokens = float(UNICAST_BURST)
        self._updated = now

    def may_multicast(self, questions: list[str], now: float) -> bool:
        """True (and noted) if none of `questions` was answered on the group within a second."""
        if any(now - self._multicast_at.get(each, -MULTICAST_INTERVAL) < MULTICAST_INTERVAL
               for each in questions):
            return False
        if len(self._multicast_at) > 256:  # only our few names get here; keep it small anyway
            self._multicast_at.clear()
        self._multicast_at.update(dict.fromkeys(questions, now))
        return True

    def may_unicast(self, now: float) -> bool:
        """True (and a token taken) if the unicast bucket has a token."""
        self._tokens = min(UNICAST_BURST, self._tokens + (now - self._updated) * UNICAST_RATE)
        self._updated = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def open_socket(settings: MdnsSettings) -> socket.socket:
    """A non-blocking UDP socket on the mDNS port, joined to the group on each interface.

    SO_REUSEADDR and SO_REUSEPORT let it share the port with the system's own responder.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("", settings.port))
        for interface in settings.interfaces or ("0.0.0.0",):
            membership = socket.inet_aton(settings.group) + socket.inet_aton(interface)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)  # RFC 6762 §11
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)  # clients here too
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def send_to_group(sock: socket.socket, settings: MdnsSettings, data: bytes) -> None:
    """Multicast `data` on each of the settings' interfaces (only there: see MdnsSettings)."""
    for interface in settings.interfaces or (None,):
        try:
            if interface is not None:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                                socket.inet_aton(interface))
            sock.sendto(data, (settings.group, settings.port))
        except OSError as error:  # a full buffer or a vanished interface: skip this one
            log.debug("mDNS: cannot send on %s: %s", interface or "the default", error)


def respond(sock: socket.socket, responder: Responder, settings: MdnsSettings,
            clock: Callable[[], float]) -> TaskGenerator:
    """The responder task: wait for packets, answer the questions about us, within rations."""
    rations = Rations(clock())
    warned = False  # a surprise is reported once, not once per packet of a flood
    while True:
        yield recv_wait(sock)
        for _ in range(PACKETS_PER_WAKE):
            try:
                packet, source = sock.recvfrom(MAX_PACKET + 1)
            except BlockingIOError:
                break
            except OSError:  # e.g. an ICMP error left by an earlier send: not fatal
                continue
            try:
                _answer(sock, responder, settings, rations, packet, source, clock())
            except Exception as error:  # a packet we did not foresee: drop it, keep serving
                if not warned:
                    log.warning("mDNS: dropped a packet the responder could not handle "
                                "(%s: %s); later ones are dropped quietly",
                                type(error).__name__, error)
                    warned = True


def _answer(sock: socket.socket, responder: Responder, settings: MdnsSettings,
            rations: Rations, packet: bytes, source: tuple[str, int], now: float) -> None:
    if settings.loopback_only and not source[0].startswith("127."):
        return  # the test mode talks to this machine only
    legacy = source[1] != settings.port
    made = responder.reply(packet, legacy)
    if made is None:
        return
    reply, questions = made
    if legacy and rations.may_unicast(now):
        try:
            sock.sendto(reply, source)
        except OSError:
            pass  # the querier's problem, not ours: it asks again
    elif not legacy and rations.may_multicast(questions, now):
        send_to_group(sock, settings, reply)


def announce(sock: socket.socket, responder: Responder,
             settings: MdnsSettings) -> TaskGenerator:
    """The announcing task: the records on the group twice, a second apart, then done."""
    for turn in range(ANNOUNCE_TIMES):
        if turn:
            yield sleep(ANNOUNCE_GAP)
        send_to_group(sock, settings, responder.announcement())


class Announcer:
    """The responder's socket and tasks, started and stopped with the server."""

    def __init__(self, service: Service, settings: MdnsSettings, scheduler: Scheduler) -> None:
        self.responder = Responder(service)
        self.settings = settings
        self.scheduler = scheduler
        self.sock: socket.socket | None = None
        self._tasks: list[Task] = []

    def start(self) -> bool:
        """Open the socket and start the tasks; False (after a warning) if it cannot."""
        try:
            self.sock = open_socket(self.settings)
        except OSError as error:
            log.warning("not announced on the network (mDNS): %s", error.strerror or error)
            return False
        spawn = self.scheduler.spawn
        self._tasks = [
            spawn(respond(self.sock, self.responder, self.settings, self.scheduler.clock),
                  name="mdns-responder"),
            spawn(announce(self.sock, self.responder, self.settings), name="mdns-announce"),
        ]
        return True

    def stop(self) -> None:
        """Say goodbye (TTL 0), stop the tasks and close the socket."""
        if self.sock is None:
            return
        send_to_group(self.sock, self.settings, self.responder.goodbye())
        for task in self._tasks:
            if task is not self.scheduler.current:
                self.scheduler.cancel(task)
        self.scheduler.release(self.sock)
        self.sock.close()
        self.sock = None


def announced_addresses(listen_host: str, settings: MdnsSettings,
                        lan: Callable[[], list[str]]) -> tuple[str, ...]:
    """The IPv4 addresses to put in our A records, given where the line listener listens.

    Loopback mode: 127.0.0.1. On every interface: the LAN addresses (`lan()`). On one
    IPv4 address: that one. Anything else (IPv6 only, or loopback outside the test mode,
    which nobody else could reach): none, and the server does not announce.
    """
    if settings.loopback_only:
        return ("127.0.0.1",)
    if listen_host in ("0.0.0.0", "", "::"):
        return tuple(lan())
    is_ipv4 = listen_host.count(".") == 3 and ":" not in listen_host
    if is_ipv4 and not listen_host.startswith("127."):
        return (listen_host,)
    return ()


def _label_bytes(text: str) -> bytes:
    """`text` as one DNS label: UTF-8, cut at a character boundary to 63 bytes."""
    data = text.encode("utf-8")[:63]
    return data.decode("utf-8", "ignore").encode("utf-8") or b"lanchat"


def _unique(records: Iterable[RR], seen: set[tuple[str, int, str]]) -> list[RR]:
    """`records` not in `seen`, without repeats (a question asked twice gets one answer)."""
    kept = []
    for record in records:
        key = (str(record.rname).lower(), record.rtype, str(record.rdata))
        if key not in seen:
            seen.add(key)
            kept.append(record)
    return kept
