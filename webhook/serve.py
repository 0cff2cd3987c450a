"""Run the bot: the webhook app under waitress plus the worker pool, until SIGTERM/SIGINT.

Start-up order: take the data-dir lock (one server per data dir; the kernel releases it when the
process dies, even on kill -9), open the queue, recover the jobs a dead predecessor left
`running` (see gitdeploy.server.queue), start the workers, then listen. Shutdown: stop
listening, let running jobs finish (up to `drain_seconds`), close the queue.

Slow and idle clients (config `http:`, gitdeploy.server.config.HttpLimits): waitress reads
requests on one event loop and hands a thread only complete requests, so idle sockets cost no
thread; what they can exhaust is the connection limit (waitress's default is 100, after which
it stops accepting and /healthz hangs). So: a high connection limit (with the file-descriptor
limit raised to match and poll() instead of select()), a header deadline from the first byte
of a request (or from connect, for a connection that never sends one), a deadline for the
whole request however slowly it trickles in, and waitress's idle timeout between requests.
"""

from __future__ import annotations

import importlib
import logging
import os
import resource
import signal
import time
from collections.abc import Mapping

from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer

from gitdeploy.errors import EXIT_INVALID, GitdeployError
from gitdeploy.server.config import HttpLimits, ServerConfig
from gitdeploy.server.datadir import QUEUE_FILE, lock_data_dir
from gitdeploy.server.metrics import Metrics
from gitdeploy.server.queue import JobQueue
from gitdeploy.server.worker import Handler, WorkerPool
from webhook.app import create_app

log = logging.getLogger(__name__)

HTTP_THREADS = 8  # threads run complete requests only; the handlers are quick (no work in a request)
SPARE_FDS = 256  # sqlite, git, the Docker socket, logs
ACCEPT_BURST = 64


class _GuardedChannel(HTTPChannel):
    """waitress's channel with deadlines: headers within `header_timeout` of the request's first
    byte (or of connecting, before any request), the whole request within `body_timeout`.

    waitress's loop calls readable() on every channel at least once a second, so that is where
    the deadlines are checked; `will_close` makes waitress close the socket in the same pass.
    """

    server: _Server
    _tracked: object = None  # the request whose deadline runs (waitress's parser object)
    _started = 0.0  # when its first byte came
    _began = False  # whether any request started on this connection

    def __init__(self, *args, **kw) -> None:
        self._opened = time.monotonic()
        super().__init__(*args, **kw)

    def received(self, data: bytes) -> bool:
        result = super().received(data)
        if self.request is not self._tracked:
            self._tracked, self._started, self._began = self.request, time.monotonic(), True
        return result

    def readable(self) -> bool:
        if not self.will_close and not self.requests:
            late = self._late(self.server.limits)
            if late:
                log.info("closing a connection from %s: %s", self.addr[0] if self.addr else "?", late)
                self.will_close = True
        return super().readable()

    def _late(self, limits: HttpLimits) -> str:
        now = time.monotonic()
        if self.request is None:
            if not self._began and now - self._opened > limits.header_timeout:
                return f"no request within {limits.header_timeout:g}s of connecting"
            return ""
        age = now - self._started
        if not self.request.headers_finished and age > limits.header_timeout:
            return f"headers not complete after {limits.header_timeout:g}s"
        if age > limits.body_timeout:
            return f"request not complete after {limits.body_timeout:g}s"
        return ""


class _Server(TcpWSGIServer):
    """waitress's TCP server with guarded channels, accepting every waiting connection at once.

    waitress accepts one connection per pass of its loop, and a pass visits every open channel:
    with hundreds connecting at once, a newcomer (a health check) would wait seconds in the
    backlog. Up to ACCEPT_BURST are taken per pass instead, never past the connection limit.
    """

    channel_class = _GuardedChannel

    def __init__(self, app, limits: HttpLimits, **adjustments) -> None:
        self.limits = limits
        super().__init__(app, **adjustments)

    def handle_accept(self) -> None:
        for _ in range(ACCEPT_BURST):
            before = len(self._map)
            super().handle_accept()
            if len(self._map) == before or len(self._map) >= self.adj.connection_limit:
                return


def create_http_server(app, config: ServerConfig) -> _Server:
    """waitress serving `app` on config.host:config.port with the `http:` limits. Raises OSError."""
    limits = config.http
    _raise_fd_limit(limits.connection_limit + SPARE_FDS)  # one descriptor per connection
    return _Server(
        app, limits, host=config.host, port=config.port, threads=HTTP_THREADS,
        connection_limit=limits.connection_limit,
        backlog=min(4096, max(1024, limits.connection_limit)),
        channel_timeout=limits.idle_timeout,
        cleanup_interval=max(1, min(30, int(limits.idle_timeout / 4))),
        asyncore_use_poll=True,  # select() cannot watch file descriptors past 1024
        max_request_body_size=config.max_body_bytes * 2 + 65_536,  # the app answers 413 below this
        ident="gitdeploy",
    )


def _raise_fd_limit(wanted: int) -> None:
    """Raise this process's soft open-files limit towards `wanted` (never above the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        log.warning("open-files limit %d is below what http.connection_limit needs (%d)", target, wanted)


def serve(config: ServerConfig, handlers: Mapping[str, Handler], *, drain_seconds: float = 30.0) -> None:
    """Serve webhooks and run jobs until SIGTERM or SIGINT; returns after a clean shutdown."""
    config.check_startable()
    if config.insecure_no_secret and not config.webhook_secret:
        log.warning("insecure_no_secret is set: webhooks are accepted WITHOUT signature checks")
    lock_fd = lock_data_dir(config.data_dir)
    queue = JobQueue(config.data_dir / QUEUE_FILE)
    for job in queue.recover(all_running=True):
        log.warning("job %d (%s) was interrupted by a crash: %s", job.id, job.kind, job.result)
    metrics = Metrics()
    bind = getattr(handlers, "bind", None)
    if callable(bind):  # a registry that enqueues follow-up jobs or adds metrics (gitdeploy.github.bot)
        bind(queue, metrics)
    app = create_app(config, queue, metrics)
    pool = WorkerPool(queue, handlers, metrics, workers=config.workers)
    try:
        server = create_http_server(app, config)
    except OSError as exc:
        queue.close()
        os.close(lock_fd)
        raise GitdeployError(
            f"cannot listen on {config.host}:{config.port} ({exc.strerror or exc})",
            "pick another address with listen: (or GITDEPLOY_LISTEN)",
        ) from None

    def on_signal(signum, _frame):
        log.info("received %s; shutting down", signal.Signals(signum).name)
        raise KeyboardInterrupt  # waitress's run loop catches it and returns

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    pool.start()
    try:
        log.info("gitdeploy server listening on http://%s:%s/webhooks/github", config.host, server.effective_port)
        server.run()
    except KeyboardInterrupt:
        pass  # a signal before or after waitress's loop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        server.close()
        pool.stop(drain_seconds)
        queue.close()
        os.close(lock_fd)
        log.info("gitdeploy server stopped")


def load_handlers(dotted: str, config: ServerConfig) -> Mapping[str, Handler]:
    """Import "package.module:NAME": a mapping kind -> handler, or a callable(config) returning one."""
    module_name, sep, attr = dotted.partition(":")
    if not sep or not module_name or not attr:
        raise GitdeployError(f"--handlers must be module:NAME, got {dotted!r}", exit_code=EXIT_INVALID)
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise GitdeployError(f"cannot load handlers {dotted}: {exc}", exit_code=EXIT_INVALID) from None
    registry = target if isinstance(target, Mapping) else target(config)
    if not isinstance(registry, Mapping) or not all(callable(h) for h in registry.values()):
        raise GitdeployError(f"{dotted} is not a mapping of job kind -> handler", exit_code=EXIT_INVALID)
    return registry
