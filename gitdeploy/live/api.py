"""A small Docker Engine API client on the standard library, for what gitdeploy asks most.

Importing the Docker SDK costs a process ~0.2 s (requests, urllib3, charset_normalizer, ...),
more than a no-op deploy's whole work. `LightAPI` speaks the Engine API itself (HTTP/1.1 of
gitdeploy.live.enginehttp over the unix socket or plain TCP, kept-alive connections shared by
threads) for the calls a deploy, a plan, `status` or `check` make, under the SDK's own names and
arguments (docker.APIClient), sending the same query parameters and bodies. Anything else - a
build, a push, an image import, a registry lookup with credentials, an ssh:// or TLS engine - goes
to the real SDK client, imported and created on first use, with its errors translated
(gitdeploy.live.apierr): both raise the same errors.

`LightClient` is the docker.DockerClient part gitdeploy uses: `.api`, `.images` (the SDK's, on
first use), `ping`, `info`, `close`. `adopt` takes either (tests hand in SDK clients).
"""

from __future__ import annotations

import base64
import json
import os
import select
import socket
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from gitdeploy.live import enginehttp
from gitdeploy.live.apierr import EngineError, Timeout, Translated, Unreachable, from_status, sdk_call

DEFAULT_SOCKET = "/var/run/docker.sock"
_IDEMPOTENT = frozenset({"GET", "HEAD"})


# -- where the engine is ------------------------------------------------------------------------------

def light_address(host: str | None) -> tuple[str, str, int] | None:
    """("unix", path, 0) or ("tcp", host, port) for an engine the light client reaches itself;
    None for one it leaves to the SDK (ssh://, https://, npipe, TLS from the environment)."""
    env = os.environ
    if host is None:
        if env.get("DOCKER_CERT_PATH") or env.get("DOCKER_TLS_VERIFY", "") != "" and "DOCKER_TLS_VERIFY" in env:
            return None  # the SDK's from_env makes this a TLS connection
        host = env.get("DOCKER_HOST") or ""
    host = host.strip()
    if not host or host == "unix://":
        return ("unix", DEFAULT_SOCKET, 0)
    parts = urlsplit(host)
    scheme = parts.scheme
    if not scheme or any(not ch.isalpha() and ch != "+" for ch in scheme):
        parts, scheme = urlsplit(f"//{host}"), "tcp"
    if scheme in ("unix", "http+unix"):
        path = parts.path if parts.hostname is None else f"{parts.hostname}/{parts.path}"
        if parts.query or parts.fragment or not path:
            return None
        return ("unix", path, 0)
    if scheme in ("tcp", "http") and parts.hostname and not (parts.path.strip("/") or parts.query or parts.password):
        try:
            port = parts.port
        except ValueError:
            return None
        return ("tcp", parts.hostname, port) if port else None
    return None


# -- the transports ---------------------------------------------------------------------------------

class _Answer:
    """A whole answer (status, headers, body)."""

    def __init__(self, status: int, reason: str, headers: Any, body: bytes) -> None:
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class _HTTP:
    """HTTP/1.1 over the unix socket or TCP (gitdeploy.live.enginehttp): kept-alive connections in a
    small pool that threads share."""

    def __init__(self, address: tuple[str, str, int], timeout: float | None) -> None:
        self.kind, self.where, self.port = address
        self.timeout = timeout
        self._idle: list[enginehttp.Connection] = []
        self._lock = threading.Lock()
        _POOLS.add(self)
        self.base_url = "http+docker://localhost" if self.kind == "unix" else f"http://{self.where}:{self.port}"

    def _new(self, timeout: float | None) -> enginehttp.Connection:
        return enginehttp.Connection(self.kind, self.where, self.port, timeout)

    def _take(self) -> tuple[enginehttp.Connection, bool]:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if conn.sock is not None and not _dropped(conn.sock):
                    return conn, True
                conn.close()
        return self._new(self.timeout), False

    def _give(self, conn: enginehttp.Connection) -> None:
        with self._lock:
            if len(self._idle) < 16:
                self._idle.append(conn)
                return
        conn.close()

    def request(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
                timeout: float | None | bool = False) -> _Answer:
        for attempt in (0, 1):
            conn, reused = self._take()
            with self._failing(conn):
                try:
                    conn.settimeout(self.timeout if timeout is False else timeout)
                    conn.send(method, url, headers, body)
                    resp = conn.response(method)
                    data = resp.read()
                except (enginehttp.Disconnected, ConnectionResetError, BrokenPipeError):
                    if reused and attempt == 0 and method in _IDEMPOTENT:
                        conn.close()
                        continue  # the engine closed a kept-alive connection: once more on a new one
                    raise
            if resp.will_close:
                conn.close()
            else:
                self._give(conn)
            return _Answer(resp.status, resp.reason, resp.headers, data)
        raise AssertionError("unreachable")  # pragma: no cover

    def stream(self, method: str, url: str, headers: dict[str, str], timeout: float | None) -> Any:
        """A response read as it comes, on a connection of its own (closed with it)."""
        conn = self._new(timeout)
        with self._failing(conn):
            conn.send(method, url, headers, None)
            resp = conn.response(method)
            if resp.status >= 400:
                data = resp.read()
                conn.close()
                raise from_status(resp.status, data, url, resp.reason)
        return _Response(conn, resp)

    @contextmanager
    def _failing(self, conn: enginehttp.Connection) -> Iterator[None]:
        """A connection that failed inside the block is closed, and the failure said in engine terms."""
        try:
            yield
        except TimeoutError as exc:
            conn.close()
            raise Timeout(f"{self._where()}: read timed out ({exc or 'no answer'})") from None
        except (OSError, ValueError, enginehttp.ProtocolError) as exc:
            conn.close()
            raise Unreachable(self._said(exc)) from None

    def _where(self) -> str:
        return f"unix://{self.where}" if self.kind == "unix" else f"tcp://{self.where}:{self.port}"

    def _said(self, exc: BaseException) -> str:
        what = exc.strerror if isinstance(exc, OSError) and exc.strerror else (str(exc) or type(exc).__name__)
        return f"cannot connect to {self._where()}: {what}"

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


_POOLS: weakref.WeakSet[_HTTP] = weakref.WeakSet()


def _after_fork() -> None:
    """In a forked child, the kept-alive connections are the parent's too: the child opens its own
    (it closes only its copies of the descriptors; the parent's connections stay up), and a lock
    another thread held at the fork is not inherited held."""
    for pool in list(_POOLS):
        pool._lock = threading.Lock()  # noqa: SLF001 - this module's
        idle, pool._idle = pool._idle, []  # noqa: SLF001
        for conn in idle:
            conn.close()


os.register_at_fork(after_in_child=_after_fork)


def _dropped(sock: socket.socket) -> bool:
    """Whether a kept-alive connection was closed by the engine (readable while idle: EOF)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class _Response:
    """A streamed answer: read by chunks as they come; `close()` from another thread ends a read."""

    def __init__(self, conn: enginehttp.Connection, resp: enginehttp.Response) -> None:
        self._conn, self.resp = conn, resp
        self.headers = resp.headers
        self._closed = False

    def chunks(self) -> Iterator[bytes]:
        try:
            for data in self.resp.chunks():
                if self._closed:
                    return
                yield data
        except (OSError, ValueError, AttributeError, enginehttp.ProtocolError) as exc:
            if self._closed:
                return
            raise Unreachable(f"the engine's stream broke: {exc}") from None

    def close(self) -> None:
        self._closed = True
        sock = self._conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._conn.close()


class _SDKTransport:
    """The same requests sent through an SDK client's session (TLS, ssh://, or a client a test made)."""

    def __init__(self, sdk_api: Any) -> None:
        self.sdk = sdk_api
        self.base_url = sdk_api.base_url
        self.timeout = sdk_api.timeout

    def request(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
                timeout: float | None | bool = False) -> _Answer:
        resp = sdk_call(self.sdk.request, method, self.base_url + url, data=body, headers=headers,
                        timeout=self.timeout if timeout is False else timeout)
        return _Answer(resp.status_code, resp.reason or "", resp.headers, resp.content)

    def stream(self, method: str, url: str, headers: dict[str, str], timeout: float | None) -> Any:
        resp = sdk_call(self.sdk.request, method, self.base_url + url, headers=headers, timeout=timeout,
                        stream=True)
        if resp.status_code >= 400:
            raise from_status(resp.status_code, resp.content, url, resp.reason or "")
        return _SDKResponse(resp)

    def close(self) -> None:
        pass  # the SDK client's owner closes it


class _SDKResponse:
    def __init__(self, resp: Any) -> None:
        self.resp = resp
        self.headers = resp.headers
        self._closed = False

    def chunks(self) -> Iterator[bytes]:
        try:
            for data in self.resp.iter_content(chunk_size=None):  # each chunk as it comes, as the SDK reads
                if self._closed:
                    return
                yield data
        except Exception as exc:  # noqa: BLE001 - a broken or closed stream: ours, or it ends
            if self._closed:
                return
            raise Unreachable(f"the engine's stream broke: {exc}") from None

    def close(self) -> None:
        self._closed = True
        try:
            sock = self.resp.raw._fp.fp.raw._sock  # noqa: SLF001 - as the SDK's CancellableStream does
            sock.shutdown(socket.SHUT_RDWR)
        except Exception:  # noqa: BLE001 - not a socket we can reach: closing is enough
            pass
        self.resp.close()


class Events:
    """A stream of decoded JSON objects (`events(decode=True)`); `close()` ends it, from any thread."""

    def __init__(self, response: Any, decode: bool = True) -> None:
        self._response = response
        self._decode = decode
        self._it = self._objects()

    def __iter__(self) -> Events:
        return self

    def __next__(self) -> Any:
        return next(self._it)

    def _objects(self) -> Iterator[Any]:
        decoder = json.JSONDecoder()
        buf = ""
        for chunk in self._response.chunks():
            if not self._decode:
                yield chunk
                continue
            buf += chunk.decode(errors="replace")
            while True:
                buf = buf.lstrip()
                if not buf:
                    break
                try:
                    obj, end = decoder.raw_decode(buf)
                except ValueError:
                    break  # not whole yet
                buf = buf[end:]
                yield obj

    def close(self) -> None:
        self._response.close()


# -- the API -------------------------------------------------------------------------------------------

def _filters(filters: dict[str, Any]) -> str:
    """The SDK's convert_filters: JSON of {key: [str, ...]}."""
    out = {}
    for k, v in filters.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        if not isinstance(v, list):
            v = [v]
        out[k] = [item if isinstance(item, str) else str(item) for item in v]
    return json.dumps(out)


def _flag(value: Any) -> str:
    return "1" if value else "0"


class LightAPI:
    """docker.APIClient's calls that gitdeploy makes, on the standard library (see the module doc).

    Thread-safe. Any other attribute is the SDK client's (created on first use), errors translated.
    """

    def __init__(self, transport: Any, version: str, sdk_factory: Any) -> None:
        self._t = transport
        self._version = version
        self._sdk_factory = sdk_factory  # () -> docker.APIClient, called at most once
        self._sdk: Any = None
        self._sdk_lock = threading.Lock()
        self.base_url = transport.base_url
        self.timeout = transport.timeout

    @property
    def api_version(self) -> str:
        return self._version

    # -- plumbing --

    def _url(self, pathfmt: str, *args: str, versioned: bool = True) -> str:
        path = pathfmt.format(*(quote(a, safe="/:") for a in args))
        return f"/v{self._version}{path}" if versioned else path

    def _call(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None,
              raw: bytes | None = None, headers: dict[str, str] | None = None,
              timeout: float | None | bool = False) -> _Answer:
        url = path
        if params:
            q = {k: v for k, v in params.items() if v is not None}
            if q:
                url = f"{path}?{urlencode(q, doseq=True)}"
        hdrs = dict(headers or {})
        data = raw
        if body is not None:
            if isinstance(body, dict):
                body = {k: v for k, v in body.items() if v is not None}  # as the SDK's _post_json
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if data is not None or method in ("POST", "PUT"):
            hdrs.setdefault("Content-Length", str(len(data or b"")))
        answer = self._t.request(method, url, data, hdrs, timeout)
        if answer.status >= 400:
            raise from_status(answer.status, answer.body, url, answer.reason)
        return answer

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        return self._call(method, path, **kw).json()

    def request_json(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        """Any versioned endpoint (`path` as "/services/{id}/update", already quoted): the decoded answer."""
        return self._json(method, f"/v{self._version}{path}", params=params, body=body)

    def sdk(self) -> Any:
        """The Docker SDK's APIClient for the same engine (imported and made on first use)."""
        with self._sdk_lock:
            if self._sdk is None:
                self._sdk = sdk_call(self._sdk_factory)
            return self._sdk

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(self.sdk(), name)
        return (lambda *a, **k: sdk_call(value, *a, **k)) if callable(value) else value

    def close(self) -> None:
        self._t.close()
        with self._sdk_lock:
            sdk, self._sdk = self._sdk, None
        if sdk is not None:
            sdk.close()

    # -- the engine --

    def ping(self) -> bool:
        return self._call("GET", "/_ping").body == b"OK"

    def ping_answer(self) -> _Answer:
        """The /_ping answer (its headers: Api-Version, Date)."""
        return self._call("GET", "/_ping")

    def info(self) -> dict:
        return self._json("GET", self._url("/info"))

    def version(self, api_version: bool = True) -> dict:
        return self._json("GET", self._url("/version", versioned=api_version))

    # -- containers --

    def containers(self, quiet: bool = False, all: bool = False, trunc: bool = False, latest: bool = False,  # noqa: A002
                   since: str | None = None, before: str | None = None, limit: int = -1, size: bool = False,
                   filters: dict | None = None) -> list[dict]:
        params: dict[str, Any] = {"limit": 1 if latest else limit, "all": _flag(all), "size": _flag(size),
                                  "trunc_cmd": _flag(trunc), "since": since, "before": before}
        if filters:
            params["filters"] = _filters(filters)
        res = self._json("GET", self._url("/containers/json"), params=params)
        return [{"Id": x["Id"]} for x in res] if quiet else res

    def inspect_container(self, container: str) -> dict:
        return self._json("GET", self._url("/containers/{0}/json", _id(container)))

    def diff(self, container: str) -> list[dict]:
        return self._json("GET", self._url("/containers/{0}/changes", _id(container)))

    def create_container_from_config(self, config: dict, name: str | None = None, platform: str | None = None
                                     ) -> dict:
        params = {"name": name, "platform": platform}
        return self._json("POST", self._url("/containers/create"), params=params, body=config)

    def create_container(self, image: str, command: Any = None, *, name: str | None = None,
                         labels: dict | None = None, network_disabled: bool = False,
                         environment: list | None = None, host_config: dict | None = None, **rest: Any) -> dict:
        """The SDK's create_container for the arguments gitdeploy passes; others go to the SDK."""
        if rest:
            return sdk_call(self.sdk().create_container, image, command=command, name=name, labels=labels,
                            network_disabled=network_disabled, environment=environment,
                            host_config=host_config, **rest)
        if isinstance(environment, dict):
            environment = [f"{k}={v}" if v is not None else k for k, v in environment.items()]
        config = {"Image": image, "Cmd": command, "Labels": labels,
                  "NetworkDisabled": network_disabled, "Env": environment, "HostConfig": host_config,
                  "Tty": False, "OpenStdin": False, "StdinOnce": False, "AttachStdin": False,
                  "AttachStdout": False, "AttachStderr": False}
        if isinstance(command, str):
            import shlex

            config["Cmd"] = shlex.split(command)
        return self.create_container_from_config(config, name)

    def start(self, container: str) -> None:
        self._call("POST", self._url("/containers/{0}/start", _id(container)))  # 304: started already

    def stop(self, container: str, timeout: int | None = None) -> None:
        params = {"t": timeout} if timeout is not None else {}
        wait = None if self.timeout is None else self.timeout + (timeout if timeout is not None else 10)
        self._call("POST", self._url("/containers/{0}/stop", _id(container)), params=params, timeout=wait)

    def remove_container(self, container: str, v: bool = False, link: bool = False, force: bool = False) -> None:
        params = {"v": _flag(v), "link": _flag(link), "force": _flag(force)}
        self._call("DELETE", self._url("/containers/{0}", _id(container)), params=params)

    def rename(self, container: str, name: str) -> None:
        self._call("POST", self._url("/containers/{0}/rename", _id(container)), params={"name": name})

    def logs(self, container: str, stdout: bool = True, stderr: bool = True, timestamps: bool = False,
             tail: str | int = "all") -> bytes:
        """The container's output so far (not streamed), demultiplexed as the SDK does."""
        cid = _id(container)
        params = {"stderr": _flag(stderr), "stdout": _flag(stdout), "timestamps": _flag(timestamps),
                  "follow": "0", "tail": "all" if tail == "all" or (isinstance(tail, int) and tail < 0) else tail}
        answer = self._call("GET", self._url("/containers/{0}/logs", cid), params=params)
        kind = answer.headers.get("Content-Type", "")
        if "multiplexed" in kind:
            return _demux(answer.body)
        if "raw-stream" in kind:
            return answer.body
        tty = bool((self.inspect_container(cid).get("Config") or {}).get("Tty"))
        return answer.body if tty else _demux(answer.body)

    def get_archive(self, container: str, path: str) -> tuple[list[bytes], dict | None]:
        answer = self._call("GET", self._url("/containers/{0}/archive", _id(container)), params={"path": path})
        stat = answer.headers.get("x-docker-container-path-stat")
        return [answer.body], (json.loads(base64.b64decode(stat)) if stat else None)

    def put_archive(self, container: str, path: str, data: bytes) -> bool:
        answer = self._call("PUT", self._url("/containers/{0}/archive", _id(container)), params={"path": path},
                            raw=data, headers={"Content-Type": "application/x-tar"})
        return answer.status == 200

    def events(self, since: Any = None, until: Any = None, filters: dict | None = None, decode: bool | None = None
               ) -> Events:
        params: dict[str, Any] = {"since": _when(since), "until": _when(until)}
        if filters:
            params["filters"] = _filters(filters)
        q = {k: v for k, v in params.items() if v is not None}
        url = self._url("/events") + (f"?{urlencode(q)}" if q else "")
        return Events(self._t.stream("GET", url, {}, None), decode=bool(decode))

    # -- images (inspection only: pulls, builds and pushes are the SDK's) --

    def inspect_image(self, image: str) -> dict:
        return self._json("GET", self._url("/images/{0}/json", image))

    def inspect_distribution(self, image: str, auth_config: dict | None = None) -> dict:
        """The registry's descriptor of `image` (asked by the engine). With registry credentials
        configured (docker login), the SDK's call, which sends them (X-Registry-Auth)."""
        if auth_config is not None or _credentials_configured():
            return sdk_call(self.sdk().inspect_distribution, image, auth_config=auth_config)
        return self._json("GET", self._url("/distribution/{0}/json", image))

    # -- networks --

    def networks(self, names: list[str] | None = None, ids: list[str] | None = None, filters: dict | None = None
                 ) -> list[dict]:
        filters = dict(filters or {})
        if names:
            filters["name"] = names
        if ids:
            filters["id"] = ids
        return self._json("GET", self._url("/networks"), params={"filters": _filters(filters)})

    def inspect_network(self, net_id: str, verbose: bool | None = None, scope: str | None = None) -> dict:
        params: dict[str, Any] = {}
        if verbose is not None:
            params["verbose"] = "true" if verbose else "false"
        if scope is not None:
            params["scope"] = scope
        return self._json("GET", self._url("/networks/{0}", net_id), params=params)

    def create_network(self, name: str, driver: str | None = None, options: dict | None = None,
                       ipam: dict | None = None, check_duplicate: bool | None = None, internal: bool = False,
                       labels: dict | None = None, enable_ipv6: bool = False, attachable: bool | None = None,
                       scope: str | None = None, ingress: bool | None = None) -> dict:
        data: dict[str, Any] = {"Name": name, "Driver": driver, "Options": options, "IPAM": ipam,
                                "CheckDuplicate": check_duplicate}
        if labels is not None:
            data["Labels"] = labels
        if enable_ipv6:
            data["EnableIPv6"] = enable_ipv6
        if internal:
            data["Internal"] = True
        if attachable is not None:
            data["Attachable"] = attachable
        if scope is not None:
            data["Scope"] = scope
        if ingress is not None:
            data["Ingress"] = ingress
        return self._json("POST", self._url("/networks/create"), body=data)

    def remove_network(self, net_id: str) -> None:
        self._call("DELETE", self._url("/networks/{0}", net_id))

    def connect_container_to_network(self, container: str, net_id: str, ipv4_address: str | None = None,
                                     ipv6_address: str | None = None, aliases: list[str] | None = None,
                                     links: Any = None, link_local_ips: list[str] | None = None,
                                     driver_opt: dict | None = None, mac_address: str | None = None) -> None:
        data = {"Container": _id(container),
                "EndpointConfig": endpoint_config(aliases=aliases, links=links, ipv4_address=ipv4_address,
                                                  ipv6_address=ipv6_address, link_local_ips=link_local_ips,
                                                  driver_opt=driver_opt, mac_address=mac_address)}
        self._call("POST", self._url("/networks/{0}/connect", net_id), body=data)

    def disconnect_container_from_network(self, container: str, net_id: str, force: bool = False) -> None:
        data: dict[str, Any] = {"Container": _id(container)}
        if force:
            data["Force"] = force
        self._call("POST", self._url("/networks/{0}/disconnect", net_id), body=data)

    # -- volumes --

    def volumes(self, filters: dict | None = None) -> dict:
        params = {"filters": _filters(filters)} if filters else None
        return self._json("GET", self._url("/volumes"), params=params)

    def inspect_volume(self, name: str) -> dict:
        return self._json("GET", self._url("/volumes/{0}", name))

    def create_volume(self, name: str | None = None, driver: str | None = None, driver_opts: dict | None = None,
                      labels: dict | None = None) -> dict:
        data: dict[str, Any] = {"Name": name, "Driver": driver, "DriverOpts": driver_opts}
        if labels is not None:
            data["Labels"] = labels
        return self._json("POST", self._url("/volumes/create"), body=data)

    def remove_volume(self, name: str, force: bool = False) -> None:
        self._call("DELETE", self._url("/volumes/{0}", name), params={"force": "1"} if force else None)

    # -- swarm --

    def services(self, filters: dict | None = None, status: bool | None = None) -> list[dict]:
        params: dict[str, Any] = {"filters": _filters(filters) if filters else None}
        if status is not None:
            params["status"] = "true" if status else "false"
        return self._json("GET", self._url("/services"), params=params)

    def inspect_service(self, service: str, insert_defaults: bool | None = None) -> dict:
        params = {"insertDefaults": "true" if insert_defaults else "false"} if insert_defaults is not None else None
        return self._json("GET", self._url("/services/{0}", service), params=params)

    def remove_service(self, service: str) -> bool:
        self._call("DELETE", self._url("/services/{0}", service))
        return True

    def create_service_spec(self, spec: dict, headers: dict[str, str] | None = None) -> dict:
        """POST /services/create with a whole ServiceSpec (the SDK builds it from its types only)."""
        return self._json("POST", self._url("/services/create"), body=spec, headers=headers)

    def update_service_spec(self, service: str, version: int, spec: dict, rollback: str | None = None,
                            headers: dict[str, str] | None = None) -> dict:
        """POST /services/{id}/update?version=[&rollback=previous] with a whole ServiceSpec."""
        params = {"version": version, "rollback": rollback}
        return self._json("POST", self._url("/services/{0}/update", service), params=params,
                          body=spec, headers=headers) or {}

    def tasks(self, filters: dict | None = None) -> list[dict]:
        return self._json("GET", self._url("/tasks"), params={"filters": _filters(filters) if filters else None})

    def nodes(self, filters: dict | None = None) -> list[dict]:
        return self._json("GET", self._url("/nodes"), params={"filters": _filters(filters) if filters else None})

    def configs(self, filters: dict | None = None) -> list[dict]:
        return self._json("GET", self._url("/configs"), params={"filters": _filters(filters) if filters else None})

    def inspect_config(self, id: str) -> dict:  # noqa: A002 - the SDK's name
        return self._json("GET", self._url("/configs/{0}", id))

    def create_config(self, name: str, data: bytes | str, labels: dict | None = None, driver: Any = None,
                      templating: Any = None) -> dict:
        body = {"Data": _b64(data), "Name": name, "Labels": labels, "Templating": templating}
        if driver is not None:
            body["Driver"] = driver
        return self._json("POST", self._url("/configs/create"), body=body)

    def update_config(self, id: str, version: int, spec: dict) -> None:  # noqa: A002
        """POST /configs/{id}/update?version= (the SDK has no call for it): only labels may change."""
        self._call("POST", self._url("/configs/{0}/update", id), params={"version": version}, body=spec)

    def remove_config(self, id: str) -> bool:  # noqa: A002
        self._call("DELETE", self._url("/configs/{0}", id))
        return True

    def secrets(self, filters: dict | None = None) -> list[dict]:
        return self._json("GET", self._url("/secrets"), params={"filters": _filters(filters) if filters else None})

    def inspect_secret(self, id: str) -> dict:  # noqa: A002
        return self._json("GET", self._url("/secrets/{0}", id))

    def create_secret(self, name: str, data: bytes | str, labels: dict | None = None, driver: Any = None) -> dict:
        body: dict[str, Any] = {"Data": _b64(data), "Name": name, "Labels": labels}
        if driver is not None:
            body["Driver"] = driver
        return self._json("POST", self._url("/secrets/create"), body=body)

    def remove_secret(self, id: str) -> bool:  # noqa: A002
        self._call("DELETE", self._url("/secrets/{0}", id))
        return True


def endpoint_config(aliases: list[str] | None = None, links: Any = None, ipv4_address: str | None = None,
                    ipv6_address: str | None = None, link_local_ips: list[str] | None = None,
                    driver_opt: dict | None = None, mac_address: str | None = None) -> dict:
    """docker.types.EndpointConfig as a plain dict (only what is set)."""
    ipam = {k: v for k, v in (("IPv4Address", ipv4_address), ("IPv6Address", ipv6_address),
                              ("LinkLocalIPs", link_local_ips)) if v}
    pairs = links.items() if isinstance(links, dict) else links
    out = {"Aliases": aliases, "Links": [f"{k}:{v}" for k, v in pairs] if links else None, "IPAMConfig": ipam,
           "DriverOpts": driver_opt, "MacAddress": mac_address}
    return {k: v for k, v in out.items() if v}


def ipam_config(pools: list[dict]) -> dict:
    """docker.types.IPAMConfig(pool_configs=[IPAMPool(subnet=, gateway=), ...]) as a plain dict."""
    return {"Driver": "default", "Config": [{"Subnet": p.get("Subnet"), "IPRange": None, "Gateway": p.get("Gateway"),
                                             "AuxiliaryAddresses": None} for p in pools], "Options": None}


def _id(container: Any) -> str:
    if isinstance(container, dict):
        return container.get("Id") or container["ID"]
    return str(container)


def _b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode("ascii")


def _when(value: Any) -> Any:
    if value is None or isinstance(value, (int, float, str)):
        return value

    return int(value.astimezone(UTC).timestamp())


def _credentials_configured() -> bool:
    """Whether the SDK would find registry credentials to send: its config file (the first of
    $DOCKER_CONFIG/config.json, ~/.docker/config.json, ~/.dockercfg that exists) names any."""
    home = os.path.expanduser("~")
    paths = ([os.path.join(os.environ["DOCKER_CONFIG"], "config.json")] if os.environ.get("DOCKER_CONFIG") else [])
    paths += [os.path.join(home, ".docker", "config.json"), os.path.join(home, ".dockercfg")]
    found = next((p for p in paths if os.path.exists(p)), None)
    if found is None:
        return False
    if found.endswith(".dockercfg"):
        return True
    try:
        with open(found, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return True  # the SDK decides what it makes of it
    if not isinstance(data, dict):
        return True
    return bool(data.get("auths") or data.get("credsStore") or data.get("credHelpers"))


def _demux(data: bytes) -> bytes:
    """stdout and stderr frames of a non-tty container's log, joined (the SDK's multiplexed buffer)."""
    out, i = [], 0
    while i + 8 <= len(data):
        size = int.from_bytes(data[i + 4:i + 8], "big")
        out.append(data[i + 8:i + 8 + size])
        i += 8 + size
    return b"".join(out)


# -- the client ----------------------------------------------------------------------------------------

class LightClient:
    """The part of docker.DockerClient gitdeploy uses; anything else is the SDK client's, made on first use."""

    def __init__(self, api: LightAPI, sdk_client_factory: Any) -> None:
        self.api = api
        self._factory = sdk_client_factory  # (sdk APIClient) -> docker.DockerClient
        self._client: Any = None
        self._lock = threading.Lock()

    def sdk(self) -> Any:
        """The Docker SDK's DockerClient for the same engine (sharing the API client)."""
        with self._lock:
            if self._client is None:
                self._client = sdk_call(self._factory, self.api.sdk())
            return self._client

    @property
    def images(self) -> Any:
        return Translated(self.sdk().images)

    def ping(self) -> bool:
        return self.api.ping()

    def info(self) -> dict:
        return self.api.info()

    def version(self, api_version: bool = True) -> dict:
        return self.api.version(api_version)

    def close(self) -> None:
        self.api.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(Translated(self.sdk()), name)


def _sdk_client(api: Any) -> Any:
    import docker

    client = docker.DockerClient.__new__(docker.DockerClient)
    client.api = api
    return client


def _sdk_api_factory(host: str | None, timeout: float | None, version: str) -> Any:
    def make() -> Any:
        import docker

        if host:
            return docker.APIClient(base_url=host, timeout=timeout, version=version)
        return docker.from_env(timeout=timeout, version=version).api

    return make


def client_for(host: str | None = None, timeout: float | None = 300) -> LightClient:
    """A client for the engine at `host` (default: DOCKER_HOST or the local socket), checked by one
    /_ping (which says the API version). Raises apierr.EngineError when it does not answer."""
    address = light_address(host)
    if address is None:  # ssh://, TLS: the SDK's own transport
        make = _sdk_api_factory(host, timeout, "auto")
        sdk_api = sdk_call(make)
        transport: Any = _SDKTransport(sdk_api)
        version = str(sdk_api._version)  # noqa: SLF001 - what the SDK negotiated
        api = LightAPI(transport, version, lambda: sdk_api)
        return LightClient(api, _sdk_client)
    transport = _HTTP(address, timeout)
    try:
        answer = transport.request("GET", "/_ping", None, {})
    except Timeout:
        raise
    except Unreachable as exc:  # in the words the SDK used for it
        raise Unreachable(f"Error while fetching server API version: {exc}") from None
    if answer.status >= 400:
        raise from_status(answer.status, answer.body, "/_ping", answer.reason)
    version = answer.headers.get("Api-Version")
    if not version:  # an engine that does not say: ask as the SDK does
        version = str(_json_of(transport.request("GET", "/version", None, {})).get("ApiVersion") or "1.41")
    api = LightAPI(transport, version, _sdk_api_factory(host, timeout, version))
    return LightClient(api, _sdk_client)


def _json_of(answer: _Answer) -> dict:
    if answer.status >= 400:
        raise from_status(answer.status, answer.body, "/version", answer.reason)
    return answer.json() or {}


def api_for(host: str, timeout: float | None) -> LightAPI:
    """The API of the engine at `host` (a node of a cluster), as client_for."""
    return client_for(host, timeout).api


def adopt(client: Any) -> Any:
    """`client` as a LightClient: as it is when it is one (or wraps one, as a fork's planning
    client does); an SDK DockerClient (tests make them) is spoken to through its own session."""
    if isinstance(client, LightClient) or isinstance(getattr(client, "api", None), LightAPI):
        return client
    from gitdeploy.live.forksafe import is_untrusted

    if is_untrusted(client):
        return client  # a fork's planning client, around an adopted one
    sdk_api = client.api
    api = LightAPI(_SDKTransport(sdk_api), str(sdk_api._version), lambda: sdk_api)  # noqa: SLF001
    light = LightClient(api, lambda _api: client)
    return light


def adopt_api(api: Any) -> Any:
    """`api` as a LightAPI (an SDK APIClient is spoken to through its own session)."""
    if isinstance(api, LightAPI) or isinstance(getattr(api, "_api", None), LightAPI):
        return api  # ours, or a fork's planning API around ours (gitdeploy.live.forksafe)
    if not hasattr(api, "_version"):
        return api
    return LightAPI(_SDKTransport(api), str(api._version), lambda: api)  # noqa: SLF001


__all__ = ["EngineError", "LightAPI", "LightClient", "adopt", "adopt_api", "api_for", "client_for"]
