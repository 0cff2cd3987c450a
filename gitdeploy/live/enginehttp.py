"""HTTP/1.1 for the Engine API over a socket: requests, Content-Length and chunked answers, kept-alive
connections. Only what the engine's API needs (no TLS, no proxies, no redirects); http.client would
bring email.parser, email.message and ssl into every process (~15 ms of start-up)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

_MAX_LINE = 65536
_NO_BODY = (204, 304)


class ProtocolError(Exception):
    """The peer's answer is not HTTP/1.x as expected (or the connection ended inside it)."""


class Disconnected(ProtocolError):
    """The connection ended before any answer (a kept-alive one the engine had closed)."""


class Headers(dict):
    """Answer headers by lower-cased name; `get` in any case."""

    def get(self, key: str, default=None):  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)


class Connection:
    """One connection to the engine (unix socket path, or TCP host and port)."""

    def __init__(self, kind: str, where: str, port: int, timeout: float | None) -> None:
        self.kind, self.where, self.port, self.timeout = kind, where, port, timeout
        self.sock: socket.socket | None = None
        self._rfile = None

    def connect(self) -> None:
        if self.kind == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.where)
            except OSError:
                sock.close()
                raise
        else:
            sock = socket.create_connection((self.where, self.port), timeout=self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self._rfile = sock.makefile("rb")

    def settimeout(self, timeout: float | None) -> None:
        self.timeout = timeout
        if self.sock is not None:
            self.sock.settimeout(timeout)

    def send(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> None:
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        lines = [f"{method} {url} HTTP/1.1", "Host: docker", *(f"{k}: {v}" for k, v in headers.items())]
        if body is not None and not any(k.lower() == "content-length" for k in headers):
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.sock.sendall(head + body if body and len(body) < 65536 else head)
        if body and len(body) >= 65536:
            self.sock.sendall(body)

    def response(self, method: str) -> Response:
        assert self._rfile is not None
        line = self._rfile.readline(_MAX_LINE + 1)
        if not line:
            raise Disconnected("the engine closed the connection without answering")
        parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ProtocolError(f"not an HTTP answer: {line[:80]!r}")
        try:
            status = int(parts[1])
        except ValueError:
            raise ProtocolError(f"not an HTTP status: {line[:80]!r}") from None
        reason = parts[2] if len(parts) > 2 else ""
        headers = Headers()
        while True:
            h = self._rfile.readline(_MAX_LINE + 1)
            if not h:
                raise ProtocolError("the connection ended inside the answer's headers")
            if h in (b"\r\n", b"\n"):
                break
            name, _, value = h.decode("latin-1").partition(":")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        if status == 100:
            return self.response(method)
        return Response(self, status, reason, headers, method == "HEAD" or status in _NO_BODY or status < 200,
                        parts[0] == "HTTP/1.0")

    def close(self) -> None:
        rfile, sock, self._rfile, self.sock = self._rfile, self.sock, None, None
        for x in (rfile, sock):
            if x is not None:
                try:
                    x.close()
                except OSError:
                    pass


class Response:
    """An answer's status and headers; its body read whole (`read`) or as it comes (`chunks`)."""

    def __init__(self, conn: Connection, status: int, reason: str, headers: Headers, empty: bool,
                 http10: bool) -> None:
        self.conn, self.status, self.reason, self.headers = conn, status, reason, headers
        te = (headers.get("transfer-encoding") or "").lower()
        self._chunked = "chunked" in te
        length = headers.get("content-length")
        self._length: int | None = 0 if empty else (None if self._chunked or length is None else int(length))
        connection = (headers.get("connection") or "").lower()
        self.will_close = "close" in connection or (http10 and "keep-alive" not in connection) or (
            not self._chunked and self._length is None)
        self.done = False

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def chunks(self) -> Iterator[bytes]:
        """The body's pieces as they arrive (a chunk of a chunked answer is yielded whole)."""
        rfile = self.conn._rfile  # noqa: SLF001 - one module
        if rfile is None:
            raise ProtocolError("the connection is closed")
        if self._chunked:
            while True:
                line = rfile.readline(_MAX_LINE + 1)
                if not line:
                    raise ProtocolError("the connection ended inside a chunked answer")
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {line[:40]!r}") from None
                if size == 0:
                    while rfile.readline(_MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                data = rfile.read(size)
                if len(data) < size:
                    raise ProtocolError("the connection ended inside a chunk")
                rfile.readline(_MAX_LINE + 1)  # the chunk's CRLF
                yield data
        elif self._length is not None:
            left = self._length
            while left > 0:
                data = rfile.read1(min(left, 65536))
                if not data:
                    raise ProtocolError("the connection ended inside the answer")
                left -= len(data)
                yield data
        else:
            while data := rfile.read1(65536):
                yield data
        self.done = True
