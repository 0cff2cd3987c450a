"""Idle and slow clients against the real server (`python -m webhook` under waitress).

Loopback only, bounded in count (520 sockets) and time (every loop has a deadline), and every
socket is closed by the test. The one timing bound is the issue's acceptance criterion:
/healthz answers within 1 s while 500 idle connections (and 20 slow uploads) are held.
"""

from __future__ import annotations

import selectors
import socket
import time
from contextlib import ExitStack

import requests

HEADERS = (b"POST /webhooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nX-GitHub-Event: push\r\n"
           b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")


def connect(stack: ExitStack, port: int) -> socket.socket:
    s = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
    s.setblocking(False)
    return s


def test_healthz_answers_within_a_second_while_500_idle_connections_are_held(make_server):
    server = make_server(sleep=0)
    server.start()
    with ExitStack() as stack:
        idle = [connect(stack, server.port) for _ in range(500)]
        slow = [connect(stack, server.port) for _ in range(20)]
        for s in slow:
            s.sendall(HEADERS)  # a body that never finishes
        time.sleep(0.5)  # let the server's loop see them all
        started = time.monotonic()
        r = requests.get(f"{server.url}/healthz", timeout=10)
        elapsed = time.monotonic() - started
        assert r.status_code == 200 and r.json()["ok"]
        assert elapsed < 1.0, f"/healthz took {elapsed:.2f}s with {len(idle) + len(slow)} connections held"
        # and a signed delivery still gets through
        assert server.deliver("ping", {"zen": "still here"}, "p-1").json()["zen"] == "still here"


def closed_within(clients: dict[str, socket.socket], trickle: dict[str, bytes], seconds: float) -> dict[str, float]:
    """Keep sending `trickle[name]` a byte at a time on those clients; return when each was closed."""
    sel = selectors.DefaultSelector()
    for name, s in clients.items():
        sel.register(s, selectors.EVENT_READ, name)
    start = time.monotonic()
    closed: dict[str, float] = {}
    sent = dict.fromkeys(clients, 0)
    while len(closed) < len(clients) and time.monotonic() - start < seconds:
        for key, _ in sel.select(timeout=0.2):
            name = key.data
            try:
                data = key.fileobj.recv(65536)
            except ConnectionError:
                data = b""
            if not data:  # the server closed it
                closed[name] = time.monotonic() - start
                sel.unregister(key.fileobj)
        for name, data in trickle.items():
            if name not in closed and sent[name] < len(data):
                try:
                    clients[name].send(data[sent[name]:sent[name] + 1])
                    sent[name] += 1
                except (BlockingIOError, ConnectionError):
                    pass
    sel.close()
    return closed


def test_slow_and_idle_clients_are_timed_out(make_server):
    server = make_server(sleep=0, extra="http: {header_timeout: 1, body_timeout: 2, idle_timeout: 4}\n")
    server.start()
    with ExitStack() as stack:
        clients = {name: connect(stack, server.port) for name in ("silent", "slow-headers", "slow-body", "kept-alive")}
        clients["slow-body"].sendall(HEADERS)
        clients["kept-alive"].sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        trickle = {"slow-headers": HEADERS * 10, "slow-body": b"1" * 10_000}  # a byte every 0.2 s: never idle
        closed = closed_within(clients, trickle, seconds=15)
    assert set(closed) == set(clients), f"still open after 15 s: {set(clients) - set(closed)}\n{server.output()}"
    log = server.output()
    assert "no request within 1s of connecting" in log
    assert "headers not complete after 1s" in log
    assert "request not complete after 2s" in log
    # the server is fine afterwards
    assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
