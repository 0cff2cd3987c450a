"""Run the bot: the webhook app under waitress plus the worker pool, until SIGTERM/SIGINT.

Start-up order: take the data-dir lock (one server per data dir; the kernel releases it when the
process dies, even on kill -9), open the queue, recover the jobs a dead predecessor left
`running` (see gitdeploy.server.queue), start the workers, then listen. Shutdown: stop
listening, let running jobs finish (up to `drain_seconds`), close the queue.
"""

from __future__ import annotations

import fcntl
import importlib
import logging
import os
import signal
from collections.abc import Mapping
from pathlib import Path

import waitress

from gitdeploy.errors import EXIT_INVALID, GitdeployError
from gitdeploy.server.config import ServerConfig
from gitdeploy.server.metrics import Metrics
from gitdeploy.server.queue import JobQueue
from gitdeploy.server.worker import Handler, WorkerPool
from webhook.app import create_app

log = logging.getLogger(__name__)

QUEUE_FILE = "queue.sqlite3"
LOCK_FILE = "server.lock"


def lock_data_dir(data_dir: Path) -> int:
    """Hold an exclusive lock on `data_dir` for this process's lifetime; returns the fd."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise GitdeployError(
            f"another gitdeploy server is running on {data_dir}",
            "stop it first, or give this one its own data_dir",
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


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
    if callable(bind):  # a registry that enqueues follow-up jobs or adds metrics (gitdeploy.forge.bot)
        bind(queue, metrics)
    app = create_app(config, queue, metrics)
    pool = WorkerPool(queue, handlers, metrics, workers=config.workers)
    try:
        server = waitress.create_server(app, host=config.host, port=config.port, threads=4)
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
