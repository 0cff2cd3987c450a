"""Open TCP connections of a container, from its network namespace's /proc/net/tcp{,6} text.

Pure parsing, used by the connection-aware drain (Engine.settle): a replaced replica that left DNS
is stopped as soon as no client connection to it is left. Reading the files is the engine's job.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

# Kernel TCP states (include/net/tcp_states.h), as /proc/net/tcp writes them.
STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
    "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}
# A connection still being served: handshaking (SYN_RECV), open, the peer done but the server not
# yet (CLOSE_WAIT), or the server's last data and FIN not yet acknowledged (FIN_WAIT1, LAST_ACK,
# CLOSING). FIN_WAIT2 and TIME_WAIT have nothing left to deliver.
SERVING = frozenset({"ESTABLISHED", "SYN_RECV", "CLOSE_WAIT", "FIN_WAIT1", "LAST_ACK", "CLOSING"})


@dataclass(frozen=True)
class Socket:
    local: str
    local_port: int
    remote: str
    remote_port: int
    state: str  # ESTABLISHED, LISTEN, ...

    def __str__(self) -> str:
        return f"{self.remote}:{self.remote_port} -> :{self.local_port} ({self.state})"


def parse(text: str) -> list[Socket]:
    """Every socket listed in the text of /proc/net/tcp or /proc/net/tcp6 (lines it cannot read
    are skipped)."""
    out: list[Socket] = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 4:
            continue
        try:
            local, lport = _address(parts[1])
            remote, rport = _address(parts[2])
        except ValueError:
            continue
        out.append(Socket(local, lport, remote, rport, STATES.get(parts[3].upper(), parts[3])))
    return out


def _address(field: str) -> tuple[str, int]:
    """'0100007F:0050' -> ('127.0.0.1', 80); IPv6 as four little-endian 32-bit words."""
    hex_ip, _, hex_port = field.partition(":")
    raw = bytes.fromhex(hex_ip)
    if len(raw) not in (4, 16):
        raise ValueError(field)
    ip = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))  # each word is host order
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return str(addr), int(hex_port, 16)


def serving(sockets: Iterable[Socket], ports: Iterable[int] = ()) -> list[Socket]:
    """The client connections still being served: on one of `ports` or on any port the namespace
    listens on (outgoing connections, e.g. to a database, are not clients), from another host
    than the container itself (its own health checks and sidecars do not hold a drain)."""
    sockets = list(sockets)
    local_ports = set(ports) | {s.local_port for s in sockets if s.state == "LISTEN"}
    return [s for s in sockets if s.state in SERVING and s.local_port in local_ports
            and not ipaddress.ip_address(s.remote).is_loopback]


def listeners(tcp: Iterable[Socket], udp: Iterable[Socket] = ()) -> list[Socket]:
    """What another container could reach: TCP sockets listening, and UDP sockets bound without
    a peer (a UDP server), on an address other than loopback. Loopback is the container's own
    (the engine's DNS resolver inside it listens on 127.0.0.11)."""
    return [s for s in tcp if s.state == "LISTEN" and not ipaddress.ip_address(s.local).is_loopback] + \
        [s for s in udp if s.remote_port == 0 and not ipaddress.ip_address(s.local).is_loopback]


def listen_drops(netstat: str) -> int | None:
    """TcpExt ListenDrops from /proc/net/netstat: connection attempts the kernel dropped because
    a listen queue was full (the client retries its SYN a second later). None when absent."""
    lines = [line.split() for line in netstat.splitlines() if line.startswith("TcpExt:")]
    if len(lines) < 2:
        return None
    row = dict(zip(lines[0][1:], lines[1][1:], strict=False))
    value = row.get("ListenDrops")
    return int(value) if value is not None and value.isdigit() else None
