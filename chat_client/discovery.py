"""Finding rooms on the local network: a one-shot mDNS query for `_lanchat._tcp.local.`.

`chat-client` without an address browses for about 1.5 s before the screen comes up: one
room found is joined, none falls back to localhost:7777 (and says so), several are listed
and one is chosen. `chat-client --discover` prints what it finds and exits.

The query is RFC 6762's "one-shot" kind: sent to the group from an ordinary port, so
every responder (ours in `chat_server/mdns.py`, or a system one) answers straight back to
us, and the client needs neither port 5353 nor a group membership. Plain blocking
sockets: this runs before prompt_toolkit's loop starts. The wire format is dnslib's.

What arrives is bounded: at most `MAX_PACKETS` packets and `MAX_ROOMS` rooms are read,
each packet at most 9,000 bytes; what does not parse is skipped.
"""

from __future__ import annotations

import argparse
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dnslib import QTYPE, DNSError, DNSLabel, DNSRecord

from protocol import DEFAULT_PORT

# The same values as the server's (chat_server/mdns.py); the client does not import the
# server, so they are repeated here.
SERVICE_TYPE = "_lanchat._tcp.local."
MDNS_GROUP = "224.0.0.251"
MDNS_PORT = 5353
MAX_PACKET = 9000

BROWSE_SECONDS = 1.5
RESEND_AFTER = 0.5  # the query is sent twice, in case the first was lost
MAX_PACKETS = 500
MAX_ROOMS = 50
FALLBACK = ("localhost", DEFAULT_PORT)


@dataclass(frozen=True)
class BrowseSettings:
    """Where to ask: the group and port, and the interface (an IPv4 address; None: default)."""

    group: str = MDNS_GROUP
    port: int = MDNS_PORT
    interface: str | None = None

    @property
    def loopback_only(self) -> bool:
        """The test mode: ask on loopback, believe only answers from this machine."""
        return self.interface is not None and self.interface.startswith("127.")


@dataclass(frozen=True)
class Room:
    """A room found on the network."""

    name: str  # the server's --name
    host: str  # the address to connect to
    port: int
    txt: dict[str, str] = field(default_factory=dict)  # room, version, web, irc

    @property
    def address(self) -> str:
        """`HOST:PORT`, as chat-client takes it."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def describe(self) -> str:
        """One line for people: name, address, and what else it serves."""
        extras = [f"room {self.txt['room']}"] if "room" in self.txt else []
        extras += [f"{key} port {self.txt[key]}" for key in ("web", "irc") if key in self.txt]
        return f"{self.name} at {self.address}" + (f" ({', '.join(extras)})" if extras else "")


def browse(settings: BrowseSettings, seconds: float = BROWSE_SECONDS) -> list[Room]:
    """The rooms that answer a query within `seconds`, by name."""
    query = DNSRecord.question(SERVICE_TYPE, "PTR")
    query.header.rd = 0
    try:
        sock = _query_socket(settings)
    except OSError:  # no IPv4 network to ask on: nothing can be found
        return []
    with sock:
        answers = list(_gather(sock, query.pack(), settings, seconds))
    return rooms_in(answers)


def rooms_in(packets: Iterable[tuple[bytes, str]]) -> list[Room]:
    """The rooms described by `(packet, sender address)` pairs, sorted by name.

    A room needs a PTR to its instance and that instance's SRV; its address is the A
    record of the SRV's target if one came, else whoever sent the SRV.
    """
    records = [(record, sender) for packet, sender in packets
               for record in _answer_records(packet)]
    instances = {str(record.rdata.label).lower() for record, _ in records
                 if record.rtype == QTYPE.PTR and record.rname == DNSLabel(SERVICE_TYPE)}
    addresses = _addresses(records)
    rooms: dict[str, Room] = {}
    for record, sender in records:
        name = str(record.rname).lower()
        if record.rtype != QTYPE.SRV or name not in instances or name in rooms:
            continue
        host = _pick_address(addresses.get(str(record.rdata.target).lower(), []), sender)
        rooms[name] = Room(_instance_label(record.rname), host, record.rdata.port,
                           _txt_of(records, record.rname))
        if len(rooms) >= MAX_ROOMS:
            break
    return sorted(rooms.values(), key=lambda room: (room.name.lower(), room.address))


def choose_room(rooms: list[Room], ask: Callable[[str], str] = input,
                say: Callable[[str], None] = print) -> tuple[str, int] | None:
    """The address to join: the one room, localhost:7777 if none, else the one chosen.

    None when nothing was chosen (end of input, or three answers that were not a number).
    """
    if not rooms:
        say(f"No room found on the network; trying {FALLBACK[0]}:{FALLBACK[1]}.")
        return FALLBACK
    if len(rooms) == 1:
        say(f"Found {rooms[0].describe()}; joining it.")
        return rooms[0].host, rooms[0].port
    say("Rooms on the network:")
    for number, room in enumerate(rooms, 1):
        say(f"  {number}. {room.describe()}")
    for _ in range(3):
        try:
            answer = ask(f"Join which one (1-{len(rooms)})? ").strip()
        except EOFError:
            return None
        if answer.isdigit() and 1 <= int(answer) <= len(rooms):
            room = rooms[int(answer) - 1]
            return room.host, room.port
    return None


def print_rooms(rooms: list[Room], say: Callable[[str], None] = print) -> int:
    """`--discover`: one line per room; the exit status is 1 when none was found."""
    if not rooms:
        say("No room found on the network.")
        return 1
    for room in rooms:
        say(room.describe())
    return 0


def add_options(parser: argparse.ArgumentParser) -> None:
    """`--discover`, and the options tests use to browse on loopback (hidden from --help)."""
    parser.add_argument("--discover", action="store_true",
                        help="list the rooms announced on the local network, then exit")
    parser.add_argument("--mdns-address", default=f"{MDNS_GROUP}:{MDNS_PORT}",
                        help=argparse.SUPPRESS)
    parser.add_argument("--mdns-interface", default=None, help=argparse.SUPPRESS)


def settings_from(args: argparse.Namespace) -> BrowseSettings:
    """The browse settings the parsed options ask for (raises ValueError if unreadable)."""
    group, _, port = args.mdns_address.rpartition(":")
    try:
        socket.inet_aton(group)
        if args.mdns_interface is not None:
            socket.inet_aton(args.mdns_interface)
    except OSError:
        raise ValueError(f"--mdns-address/--mdns-interface: not an IPv4 address") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--mdns-address {args.mdns_address!r}: expected GROUP:PORT")
    return BrowseSettings(group, int(port), args.mdns_interface)


def _query_socket(settings: BrowseSettings) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.bind((settings.interface if settings.loopback_only else "", 0))
        if settings.interface is not None:  # only there: tests keep to loopback this way
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                            socket.inet_aton(settings.interface))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)  # a server here too
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    except OSError:
        sock.close()
        raise
    return sock


def _gather(sock: socket.socket, query: bytes, settings: BrowseSettings,
            seconds: float) -> Iterable[tuple[bytes, str]]:
    """Send `query` (now and once more), and yield what answers arrive in `seconds`."""
    start = time.monotonic()
    deadline = start + seconds
    sends = [start, start + RESEND_AFTER]
    for _ in range(MAX_PACKETS):
        now = time.monotonic()
        while sends and sends[0] <= now:
            _send(sock, query, settings)
            sends.pop(0)
        if now >= deadline:
            return
        sock.settimeout(max(0.01, min([deadline, *sends]) - now))
        try:
            packet, sender = sock.recvfrom(MAX_PACKET + 1)
        except (TimeoutError, socket.timeout):
            continue
        except OSError:  # an ICMP error from a send: nothing to read
            continue
        if settings.loopback_only and not sender[0].startswith("127."):
            continue
        yield packet, sender[0]


def _send(sock: socket.socket, query: bytes, settings: BrowseSettings) -> None:
    try:
        sock.sendto(query, (settings.group, settings.port))
    except OSError:  # no route for multicast (no network at all): nothing will answer
        pass


def _answer_records(packet: bytes) -> list:  # type: ignore[type-arg]
    """The answer and additional records of a response; [] if it is not one."""
    if len(packet) > MAX_PACKET:
        return []
    try:
        message = DNSRecord.parse(packet)
    except DNSError:
        return []
    if not message.header.qr:
        return []  # someone else's question, not an answer
    return [*message.rr, *message.ar]


def _addresses(records: list) -> dict[str, list[str]]:  # type: ignore[type-arg]
    """Host name (lower case) -> its A addresses, in the order they came."""
    found: dict[str, list[str]] = {}
    for record, _ in records:
        if record.rtype == QTYPE.A:
            found.setdefault(str(record.rname).lower(), []).append(str(record.rdata))
    return found


def _pick_address(addresses: list[str], sender: str) -> str:
    """The sender if it is one of the host's addresses (it surely is reachable), else the first."""
    if sender in addresses or not addresses:
        return sender
    return addresses[0]


def _txt_of(records: list, name: DNSLabel) -> dict[str, str]:  # type: ignore[type-arg]
    """The `key=value` strings of `name`'s TXT record, as a dict (first value wins)."""
    txt: dict[str, str] = {}
    for record, _ in records:
        if record.rtype == QTYPE.TXT and record.rname == name:
            for item in record.rdata.data:
                key, _, value = bytes(item).decode("utf-8", "replace").partition("=")
                txt.setdefault(key.lower(), value)
    return txt


def _instance_label(name: DNSLabel) -> str:
    """The instance's own label (`lab` of `lab._lanchat._tcp.local.`), for people."""
    return bytes(name.label[0]).decode("utf-8", "replace") if name.label else "?"
