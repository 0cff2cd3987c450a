"""The connection-aware drain's parsing (live.conns) on text captured from a real container:
busybox httpd on port 80 (IPv6 socket, dual stack), one client connected from another container,
one from inside the container itself, and an outgoing loopback connection."""

from __future__ import annotations

from pathlib import Path

from gitdeploy.live.conns import Socket, listen_drops, listeners, parse, serving

PROC = Path(__file__).parent.parent / "fixtures" / "procnet"


def test_parse_real_tcp_and_tcp6_text():
    v4 = parse((PROC / "tcp.txt").read_text())
    v6 = parse((PROC / "tcp6.txt").read_text())
    assert v4 == [Socket("127.0.0.1", 36484, "127.0.0.1", 80, "TIME_WAIT"),
                  Socket("127.0.0.1", 36494, "127.0.0.1", 80, "ESTABLISHED")]
    assert v6[0] == Socket("::", 80, "::", 0, "LISTEN")
    assert v6[2] == Socket("172.17.0.2", 80, "172.17.0.3", 33642, "ESTABLISHED")  # IPv4-mapped


def test_serving_counts_clients_on_listening_or_given_ports_only():
    sockets = parse((PROC / "tcp.txt").read_text()) + parse((PROC / "tcp6.txt").read_text())
    # the client from 172.17.0.3; not the container's own loopback client, nor its outgoing side
    assert [str(s) for s in serving(sockets)] == ["172.17.0.3:33642 -> :80 (ESTABLISHED)"]
    assert serving(sockets, ports=[8080]) == serving(sockets)
    idle = [s for s in sockets if s.remote != "172.17.0.3"]
    assert serving(idle) == []


def test_serving_states_and_given_ports():
    def sock(state, port=80, remote="10.0.0.9"):
        return Socket("10.0.0.2", port, remote, 40000, state)

    # A published port counts even before anything listens on it (the listener may be gone already).
    assert serving([sock("ESTABLISHED", 5000)], ports=[5000]) == [sock("ESTABLISHED", 5000)]
    assert serving([sock("ESTABLISHED", 5000)]) == []
    listening = [Socket("0.0.0.0", 80, "0.0.0.0", 0, "LISTEN")]
    for state in ("ESTABLISHED", "SYN_RECV", "CLOSE_WAIT", "FIN_WAIT1", "LAST_ACK"):
        assert serving(listening + [sock(state)]) == [sock(state)], state
    for state in ("TIME_WAIT", "FIN_WAIT2", "CLOSE"):
        assert serving(listening + [sock(state)]) == [], state
    assert serving(listening + [sock("ESTABLISHED", remote="::1")]) == []


def test_unreadable_lines_are_skipped_and_listen_drops_read():
    assert parse("header\n 0: garbage\n 1: XYZ:0050 0100007F:0050 01\n") == []
    netstat = (PROC / "netstat.txt").read_text()
    assert listen_drops(netstat) == 0
    fake = "TcpExt: ListenOverflows ListenDrops\nTcpExt: 3 7\nIpExt: A\nIpExt: 1\n"
    assert listen_drops(fake) == 7
    assert listen_drops("IpExt: A\nIpExt: 1\n") is None


def test_listeners_are_what_another_container_could_reach():
    """A drained replica with none of these is let go at once (Engine.settle)."""
    tcp = parse((PROC / "tcp.txt").read_text()) + parse((PROC / "tcp6.txt").read_text())
    # udp.txt (captured on this kind of machine): a server on 0.0.0.0:5353, one on 127.0.0.11 (where
    # the engine's DNS resolver listens inside a container), and a client socket connected to 10.0.0.9:53
    udp = parse((PROC / "udp.txt").read_text())
    assert [(s.local, s.local_port) for s in udp] == [("0.0.0.0", 5353), ("127.0.0.11", 40001), ("192.0.2.2", 46848)]
    assert [str(s) for s in listeners(tcp)] == [":::0 -> :80 (LISTEN)"]
    assert [(s.local, s.local_port) for s in listeners([], udp)] == [("0.0.0.0", 5353)]
    # httpd listening on loopback only, the outgoing and loopback connections: nothing reachable
    assert listeners([s for s in tcp if s.state != "LISTEN"] + [Socket("127.0.0.1", 81, "0.0.0.0", 0, "LISTEN")],
                     [s for s in udp if s.local_port != 5353]) == []
