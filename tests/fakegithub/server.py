"""The fake GitHub as a Flask app on 127.0.0.1, served from a background thread.

with FakeGitHub(token="t") as gh:          # starts on a free port
    gh.state.add_pull_from_payload(path)    # seed
    Github(base_url=gh.base_url, ...)       # point PyGithub at http://127.0.0.1:PORT/api/v3
    gh.state.calls_to("POST", "/comments")  # assert on what the client did
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import jwt
from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .base import Req
from .render import View, error
from .routes import APP_ROUTES, ROUTES
from .state import Call, State

PREFIX = "/api/v3"  # GitHub Enterprise style; PyGithub prefixes every path with base_url's path


def _json_response(status: int, data: Any, headers: dict[str, str]) -> Response:
    body = "" if status == 204 or data is None else json.dumps(data)
    resp = Response(body, status=status, mimetype="application/json" if body else None)
    for key, value in headers.items():
        resp.headers[key] = value
    resp.headers["X-GitHub-Media-Type"] = "github.v3; format=json"
    resp.headers["X-RateLimit-Limit"] = "5000"
    resp.headers["X-RateLimit-Remaining"] = "4999"
    resp.headers["X-RateLimit-Reset"] = "4102444800"
    return resp


def _caller(state: State, as_app: bool) -> str | tuple[int, dict[str, Any]]:
    """The login the request's token acts as ("app:<id>" for an App's JWT on the App's own
    endpoints), or GitHub's 401 answer."""
    header = request.headers.get("Authorization", "")
    if not header:
        return 401, error("Requires authentication")
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in ("token", "bearer"):
        return 401, error("Bad credentials")
    if as_app:
        app_id = verify_app_jwt(state, token.strip())
        if app_id is None:
            return 401, error("A JSON web token could not be decoded")
        return f"app:{app_id}"
    login = state.login_of(token.strip())
    if login is None:
        return 401, error("Bad credentials")
    return login


def verify_app_jwt(state: State, token: str) -> int | None:
    """The App id whose private key signed `token` (RS256, unexpired, issued by it), or None."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        app_id = int(claims["iss"])
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return None
    app = state.apps.get(app_id)
    if app is None:
        return None
    try:
        jwt.decode(token, app["public_key"], algorithms=["RS256"], options={"require": ["exp", "iat", "iss"]},
                   leeway=60)
    except jwt.PyJWTError:
        return None
    return app_id


def create_app(state: State) -> Flask:
    """The WSGI app answering GitHub's REST API from `state` (with or without /api/v3)."""
    app = Flask("fakegithub")

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @app.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def dispatch(path: str) -> Response:
        full = "/" + path
        prefix = PREFIX if full == PREFIX or full.startswith(PREFIX + "/") else ""
        api_path = full[len(prefix) :] or "/"
        raw = request.get_data(as_text=True)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        query = {k: v for k, v in request.args.items()}
        with state.lock:
            status, data, headers = _answer(state, api_path, prefix, body, query)
            state.record(Call(request.method, api_path, query, body, status, state.clock()))
        return _json_response(status, data, headers)

    return app


def _answer(
    state: State, api_path: str, prefix: str, body: Any, query: dict[str, str]
) -> tuple[int, Any, dict]:
    me = _caller(state, any(p.match(api_path) for p in APP_ROUTES))
    if isinstance(me, tuple):
        return me[0], me[1], {}
    for i, (method, pattern, status, data) in enumerate(state.faults):
        if method == request.method and re.search(pattern, api_path):
            del state.faults[i]
            return status, data, {}
    if body is not None and not isinstance(body, dict):
        return 400, error("Problems parsing JSON"), {}
    host = request.host_url.rstrip("/")
    view = View(state, api=host + prefix, html=host)
    req = Req(state, view, query, body or {}, request.url, me)
    for method, pattern, handler in ROUTES:
        m = pattern.match(api_path)
        if not m or method != request.method:
            continue
        params = m.groupdict()
        if "owner" in params:
            repo = state.repos.get(f"{params.pop('owner')}/{params.pop('name')}")
            if repo is None:
                return 404, error("Not Found"), {}
            return handler(req, repo, **params)
        return handler(req, **params)
    return 404, error("Not Found"), {}


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # calls are recorded in state instead
        pass


class FakeGitHub:
    """A running fake GitHub: `url` is the host root, `base_url` what PyGithub takes."""

    def __init__(
        self, token: str = "test-token", login: str = "deploy-bot", state: State | None = None
    ):
        self.state = state or State(token=token, login=login)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeGitHub:
        """Serve on 127.0.0.1 on a free port; returns self."""
        self._server = make_server(
            "127.0.0.1", 0, create_app(self.state), threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fakegithub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "FakeGitHub is not started"
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The API root for PyGithub's `base_url` (GitHub Enterprise layout, with /api/v3)."""
        return self.url + PREFIX

    @property
    def token(self) -> str:
        return self.state.token

    @property
    def calls(self) -> list[Call]:
        with self.state.lock:
            return list(self.state.calls)
