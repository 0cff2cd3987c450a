"""A unix-socket proxy to the real engine, for tests: it writes down the request lines it passes
on (`requests`: "GET /_ping") and can be cut (a lost engine, for real)."""

from __future__ import annotations

import re
import socket
import threading
from pathlib import Path

ENGINE_SOCKET = "/var/run/docker.sock"
_REQUEST = re.compile(r"(?m)^(?:GET|POST|HEAD|DELETE|PUT) \S+")


class EngineProxy:
    def __init__(self, path: Path, target: str = ENGINE_SOCKET) -> None:
        self.path, self.target = str(path), target
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(self.path)
        self.server.listen(64)
        self.alive = True
        self.conns: list[socket.socket] = []
        self.requests: list[str] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.alive:
                client.close()
                continue
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            with self.lock:
                self.conns += [client, upstream]
            for a, b, log in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pipe, args=(a, b, log), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket, log: bool) -> None:
        try:
            while data := a.recv(65536):
                if log:
                    with self.lock:
                        self.requests += _REQUEST.findall(data.decode("latin-1"))
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.alive = False
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.cut()
        self.server.close()
