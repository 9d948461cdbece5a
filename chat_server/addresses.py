"""The machine's LAN addresses, to tell people where to connect.

Read from the network interfaces themselves (no packet is sent). On Linux each interface
is asked for its IPv4 address; elsewhere, or if that fails, the host name is resolved.
"""

from __future__ import annotations

import socket
import struct

_SIOCGIFADDR = 0x8915  # Linux ioctl: get an interface's IPv4 address


def lan_addresses() -> list[str]:
    """IPv4 addresses of this machine other than loopback, sorted."""
    found = set(_interface_addresses()) or set(_host_name_addresses())
    return sorted(address for address in found if not address.startswith("127."))


def _interface_addresses() -> list[str]:
    try:
        import fcntl
    except ImportError:  # not a Unix
        return []
    addresses = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                reply = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
            except OSError:  # interface down or without an IPv4 address
                continue
            addresses.append(socket.inet_ntoa(reply[20:24]))
    return addresses


def _host_name_addresses() -> list[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return [str(info[4][0]) for info in infos]
