"""The webhook server's configuration: one YAML file, a few environment-variable overrides.

Example (every key but `repositories`, `environments` and the secret is optional)::

    listen: 127.0.0.1:8470          # host:port; "[::1]:8470" for IPv6
    webhook_secret: "..."           # or GITDEPLOY_WEBHOOK_SECRET; required unless insecure_no_secret
    insecure_no_secret: false       # accept unsigned webhooks (local experiments only)
    max_body_bytes: 5242880         # larger deliveries are answered 413
    data_dir: /var/lib/gitdeploy    # relative paths are relative to this file's directory
    workers: 2
    bot_login: deploy-bot           # override: who the bot is on GitHub. Default: asked of GitHub
                                    # (GET /user for a token, "<app-slug>[bot]" for an App); the
                                    # bot edits only its own comments and issues, found by it
    repositories: [acme/shop]       # owner/name; events from other repositories are ignored
    allow_fork_prs: false           # true: build, pull and deploy PRs from forks (a stranger's code)
    # an entry may name its clone URL (default https://github.com/<owner/name>.git):
    #   repositories: [{name: acme/shop, url: /srv/git/shop.git}]
    environments:
      production: {branch: main, docker_host: "ssh://deploy@prod", heal: report}
      staging: {branch: staging}    # heal: report (default) | heal
      # a Swarm cluster: docker_host names a manager; built images go to the registry
      cluster: {branch: main, engine: swarm, docker_host: "ssh://deploy@manager1", registry: "registry.internal:5000/shop"}
      #   node_hosts: {node2: "ssh://deploy@node2"}   # swarm: each node's own engine, where the healer
      #   looks into task containers (`docker diff`); other nodes are reported as not checked
      # an environment may have its own deploy: policy (same keys as the top-level one):
      #   qa: {branch: qa, deploy: {permissions: {min_permission: triage}, requirements: {approved: false}}}
    github: {token: "...", base_url: "https://api.github.com", pace: true}
    # or, as a GitHub App (the token is then not used):
    #   github: {app_id: 123456, private_key_file: /etc/gitdeploy/app.pem, installation_id: 789}
    #   installation_id is optional: each delivery's installation.id is used
    http:                           # slow or idle clients cannot hold the server (see HttpLimits)
      header_timeout: 10            # seconds for a request's line and headers to arrive
      body_timeout: 60              # seconds for the whole request, body included
      idle_timeout: 60              # seconds a connection may sit silent
      connection_limit: 1000        # open connections; more wait in the listen backlog
    deploy:
      permissions: {min_permission: write, users: [], teams: []}
      requirements: {approved: true, mergeable: true, mergeable_states: [clean]}  # + unstable, has_hooks

Environment variables override the file (handy for secrets in containers):

    GITDEPLOY_LISTEN               listen
    GITDEPLOY_WEBHOOK_SECRET       webhook_secret
    GITDEPLOY_WEBHOOK_SECRET_FILE  webhook_secret, read from this file (trailing newline stripped)
    GITDEPLOY_GITHUB_TOKEN         github.token
    GITDEPLOY_GITHUB_TOKEN_FILE    github.token, read from this file
    GITDEPLOY_GITHUB_URL           github.base_url
    GITDEPLOY_GITHUB_APP_ID        github.app_id
    GITDEPLOY_GITHUB_PRIVATE_KEY   github.private_key_file's content (the PEM itself)
    GITDEPLOY_GITHUB_PRIVATE_KEY_FILE  github.private_key_file
    GITDEPLOY_GITHUB_INSTALLATION_ID   github.installation_id
    GITDEPLOY_DATA_DIR             data_dir (relative to the working directory)
    GITDEPLOY_WORKERS              workers
    GITDEPLOY_BOT_LOGIN            bot_login

`insecure_no_secret` has no variable on purpose: turning signature checks off takes an edit of
the file. Secrets are held in `Secret`, whose repr and str never show the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gitdeploy.errors import EXIT_INVALID, GitdeployError, Problem
from gitdeploy.live.swarm.registry import Registry
from gitdeploy.spec.engines import DEFAULT_ENGINE, ENGINES

HealMode = Literal["report", "heal"]

# Repository permission levels as GitHub reports them, weakest first.
PERMISSIONS = ("read", "triage", "write", "maintain", "admin")

# GitHub's merge states a /deploy may accept (blocked, behind, dirty, draft never are).
MERGEABLE_STATES = ("clean", "unstable", "has_hooks")

DEFAULT_LISTEN = "127.0.0.1:8470"
DEFAULT_MAX_BODY = 5 * 1024 * 1024


@dataclass(frozen=True)
class Secret:
    """A secret value; repr/str show only whether it is set."""

    value: str = field(default="", repr=False)

    def reveal(self) -> str:
        return self.value

    def __bool__(self) -> bool:
        return bool(self.value)

    def __repr__(self) -> str:
        return "Secret(****)" if self.value else "Secret(unset)"

    __str__ = __repr__


@dataclass(frozen=True)
class Environment:
    """A deploy target: pushes to `branch` deploy to it; PRs against `branch` are planned for it."""

    name: str
    branch: str
    docker_host: str | None = None  # None: the engine of DOCKER_HOST / the local socket
    heal: HealMode = "report"
    deploy: DeployPolicy | None = None  # its own `deploy:` policy; None: the top-level one
    engine: str = DEFAULT_ENGINE  # "docker", or "swarm": docker_host names a manager of the cluster
    registry: str | None = None  # swarm: HOST[:PORT][/PREFIX] built images are pushed to
    node_hosts: tuple[tuple[str, str], ...] = ()  # swarm: (node hostname, docker host of its own engine)


@dataclass(frozen=True)
class GithubConfig:
    """How the bot authenticates: a token, or a GitHub App (`app_id` + private key) when set."""

    token: Secret = Secret()
    base_url: str = "https://api.github.com"
    pace: bool = True  # space out mutating calls as GitHub's best practices ask
    app_id: int | None = None
    private_key: Secret = Secret()  # the App's PEM private key (read from private_key_file)
    installation_id: int | None = None  # None: each delivery's installation.id (or GitHub's answer)

    @property
    def is_app(self) -> bool:
        return self.app_id is not None


@dataclass(frozen=True)
class DeployPolicy:
    """Who may deploy from a PR comment, and what the PR must satisfy.

    A commenter may deploy when their repository permission is at least `min_permission` AND,
    if `users` or `teams` is non-empty, they are listed in `users` or belong to one of `teams`
    ("org/team-slug"). Enforcement is the command handler's job; this is only the policy.
    """

    min_permission: str = "write"
    users: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    require_approved: bool = True  # by someone with write access or more, for the current head
    require_mergeable: bool = True  # mergeable, with a merge state in `mergeable_states`
    mergeable_states: tuple[str, ...] = ("clean",)  # may add "unstable" and "has_hooks"


@dataclass(frozen=True)
class HttpLimits:
    """How long a client may take and how many may be connected (enforced by webhook.serve)."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0
    idle_timeout: float = 60.0
    connection_limit: int = 1000


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    repositories: tuple[str, ...]  # "owner/name"
    environments: tuple[Environment, ...]
    webhook_secret: Secret = Secret()
    insecure_no_secret: bool = False
    host: str = "127.0.0.1"
    port: int = 8470
    max_body_bytes: int = DEFAULT_MAX_BODY
    workers: int = 2
    bot_login: str | None = None  # None: learned from GitHub (the token's user, or the App's <slug>[bot])
    github: GithubConfig = GithubConfig()
    deploy: DeployPolicy = DeployPolicy()
    http: HttpLimits = HttpLimits()
    repository_urls: tuple[tuple[str, str], ...] = ()  # (owner/name, clone URL) where configured
    allow_fork_prs: bool = False  # plan (build, pull) and deploy PRs whose head is in another repository

    def repository_url(self, full_name: str) -> str:
        """The clone URL of `full_name`: the configured `url:`, else GitHub's https URL."""
        wanted = full_name.lower()
        for name, url in self.repository_urls:
            if name.lower() == wanted:
                return url
        return f"https://github.com/{full_name}.git"

    def allows_repository(self, full_name: str) -> bool:
        """True when `full_name` (owner/name, any case) is in the allow-list."""
        wanted = full_name.lower()
        return any(r.lower() == wanted for r in self.repositories)

    def environments_for_branch(self, branch: str) -> tuple[Environment, ...]:
        """The environments deployed from `branch` (usually zero or one)."""
        return tuple(e for e in self.environments if e.branch == branch)

    def environment(self, name: str) -> Environment | None:
        return next((e for e in self.environments if e.name == name), None)

    def policy(self, env: Environment) -> DeployPolicy:
        """Who may deploy to `env` from a PR, and what the PR needs: its own policy or the top-level one."""
        return env.deploy or self.deploy

    def check_startable(self) -> None:
        """Raise GitdeployError when a server must not start with this configuration."""
        if not self.webhook_secret and not self.insecure_no_secret:
            raise GitdeployError(
                "no webhook secret is configured; the server refuses to accept unsigned webhooks",
                "set webhook_secret (or GITDEPLOY_WEBHOOK_SECRET) to the secret configured on the "
                "GitHub webhook, or set insecure_no_secret: true for a local experiment",
                exit_code=EXIT_INVALID,
            )


def permission_at_least(have: str, need: str) -> bool:
    """True when GitHub permission `have` is `need` or stronger (admin>maintain>write>triage>read)."""
    if have not in PERMISSIONS or need not in PERMISSIONS:
        return False
    return PERMISSIONS.index(have) >= PERMISSIONS.index(need)


def parse_listen(text: str) -> tuple[str, int]:
    """Split "host:port" / "[v6]:port" into (host, port); raises ValueError."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"listen must be host:port, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range")
    return host, port


# --- loading -------------------------------------------------------------------------------

_TOP_KEYS = {
    "listen", "webhook_secret", "insecure_no_secret", "max_body_bytes", "data_dir", "workers",
    "bot_login", "repositories", "environments", "github", "deploy", "http", "allow_fork_prs",
}


class _Reader:
    """Reads values out of ruamel's round-trip nodes, collecting problems with file:line."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, node: Any, key: Any, message: str, hint: str = "") -> None:
        line = col = 0
        lc = getattr(node, "lc", None)
        try:
            if lc is not None and key is not None:
                line, col = (lc.item(key) if isinstance(key, int) else lc.key(key))[:2]
                line, col = line + 1, col + 1
            elif lc is not None:
                line, col = lc.line + 1, lc.col + 1
        except (KeyError, IndexError, TypeError):
            pass
        self.problems.append(Problem(message, self.file, line, col, hint))

    def mapping(self, node: Any, key: Any, value: Any, allowed: set[str], where: str) -> dict:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problem(node, key, f"{where} must be a mapping")
            return {}
        for k in value:
            if k not in allowed:
                self.problem(value, k, f"unknown key {k!r} in {where}", f"known keys: {', '.join(sorted(allowed))}")
        return value

    def typed(self, node: Mapping, key: str, kind: type | tuple[type, ...], default: Any, where: str) -> Any:
        if key not in node or node[key] is None:
            return default
        value = node[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            self.problem(node, key, f"{where}.{key} must be a {name}, got {value!r}")
            return default
        return value

    def strings(self, node: Mapping, key: str, where: str) -> tuple[str, ...]:
        value = node.get(key) if node else None
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(node, key, f"{where}.{key} must be a list of strings")
            return ()
        return tuple(value)


def _read_secret_file(path: str, name: str) -> str:
    try:
        return Path(path).read_text().rstrip("\r\n")
    except OSError as exc:
        raise GitdeployError(f"cannot read {name} ({exc.strerror})", exit_code=EXIT_INVALID) from None


def load_config(path: str | os.PathLike, environ: Mapping[str, str] | None = None) -> ServerConfig:
    """Read the server configuration from `path` plus overrides from `environ` (default os.environ).

    Raises GitdeployError listing every problem as file:line: message.
    """
    environ = os.environ if environ is None else environ
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise GitdeployError(
            f"cannot read the server configuration {path} ({exc.strerror})",
            "pass --config with the path of the server's YAML file",
            exit_code=EXIT_INVALID,
        ) from None
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise GitdeployError(f"{where}: {problem}", exit_code=EXIT_INVALID) from None

    r = _Reader(str(path))
    root = r.mapping(None, None, doc, _TOP_KEYS, "the configuration")

    listen = environ.get("GITDEPLOY_LISTEN") or r.typed(root, "listen", str, DEFAULT_LISTEN, "config")
    host, port = "127.0.0.1", 8470
    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        r.problem(root, "listen" if "listen" in root else None, str(exc), 'e.g. "127.0.0.1:8470"')

    secret = r.typed(root, "webhook_secret", str, "", "config")
    if environ.get("GITDEPLOY_WEBHOOK_SECRET_FILE"):
        secret = _read_secret_file(environ["GITDEPLOY_WEBHOOK_SECRET_FILE"], "GITDEPLOY_WEBHOOK_SECRET_FILE")
    secret = environ.get("GITDEPLOY_WEBHOOK_SECRET") or secret
    insecure = r.typed(root, "insecure_no_secret", bool, False, "config")

    max_body = r.typed(root, "max_body_bytes", int, DEFAULT_MAX_BODY, "config")
    if max_body <= 0:
        r.problem(root, "max_body_bytes", "max_body_bytes must be positive")

    data_dir_text = environ.get("GITDEPLOY_DATA_DIR")
    if data_dir_text:
        data_dir = Path(data_dir_text).absolute()
    else:
        data_dir_text = r.typed(root, "data_dir", str, "", "config")
        if not data_dir_text:
            r.problem(root, None, "data_dir is required (the job queue lives there)", "data_dir: /var/lib/gitdeploy")
        data_dir = (path.parent / data_dir_text).absolute()

    workers_text = environ.get("GITDEPLOY_WORKERS")
    if workers_text:
        if not workers_text.isdigit():
            raise GitdeployError(f"GITDEPLOY_WORKERS must be a number, got {workers_text!r}", exit_code=EXIT_INVALID)
        workers = int(workers_text)
    else:
        workers = r.typed(root, "workers", int, 2, "config")
    if not 1 <= workers <= 64:
        r.problem(root, "workers" if "workers" in root else None, f"workers must be 1..64, got {workers}")

    bot_login = environ.get("GITDEPLOY_BOT_LOGIN") or r.typed(root, "bot_login", str, None, "config")

    allow_fork_prs = r.typed(root, "allow_fork_prs", bool, False, "config")
    repositories, urls = _repositories(r, root)
    if not repositories:
        r.problem(root, "repositories" if "repositories" in root else None,
                  "repositories must list at least one owner/name", "repositories: [acme/shop]")
    for i, repo in enumerate(repositories):
        if repo.count("/") != 1 or repo.startswith("/") or repo.endswith("/"):
            r.problem(root["repositories"], i, f"repository {repo!r} is not owner/name")

    environments = _environments(r, root)
    github = _github(r, root, environ, path.parent)
    deploy = _deploy(r, root)
    http = _http(r, root)

    if r.problems:
        n = len(r.problems)
        raise GitdeployError(
            f"the server configuration is invalid ({n} problem{'s' if n != 1 else ''}):\n"
            + "\n".join(f"  {p}" for p in sorted(r.problems, key=lambda p: (p.line, p.column))),
            exit_code=EXIT_INVALID,
        )
    config = ServerConfig(
        data_dir=data_dir, repositories=repositories, environments=environments,
        webhook_secret=Secret(secret), insecure_no_secret=insecure, host=host, port=port,
        max_body_bytes=max_body, workers=workers, bot_login=bot_login, github=github, deploy=deploy,
        repository_urls=urls, http=http, allow_fork_prs=allow_fork_prs,
    )
    config.check_startable()
    return config


def _repositories(r: _Reader, root: Mapping) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Entries are "owner/name" or {name: owner/name, url: clone URL}."""
    value = root.get("repositories") if root else None
    if value is None:
        return (), ()
    if not isinstance(value, list):
        r.problem(root, "repositories", "config.repositories must be a list")
        return (), ()
    names, urls = [], []
    for i, item in enumerate(value):
        if isinstance(item, Mapping):
            body = r.mapping(value, i, item, {"name", "url"}, f"repositories[{i}]")
            name = r.typed(body, "name", str, "", f"repositories[{i}]")
            url = r.typed(body, "url", str, "", f"repositories[{i}]")
            if not name:
                r.problem(value, i, f"repositories[{i}].name is required")
                continue
            if url:
                urls.append((name, url))
            names.append(name)
        elif isinstance(item, str):
            names.append(item)
        else:
            r.problem(value, i, "repositories entries must be owner/name or {name: owner/name, url: ...}")
    return tuple(names), tuple(urls)


def _environments(r: _Reader, root: Mapping) -> tuple[Environment, ...]:
    envs = r.mapping(root, "environments", root.get("environments"), set(root.get("environments") or {}), "environments")
    if not envs:
        r.problem(root, "environments" if "environments" in root else None,
                  "environments must name at least one environment", "environments: {production: {branch: main}}")
    result = []
    for name, body in envs.items():
        where = f"environments.{name}"
        body = r.mapping(envs, name, body, {"branch", "docker_host", "heal", "deploy", "engine", "registry", "node_hosts"},
                         where)
        if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
            r.problem(envs, name, f"environment name {name!r} must be letters, digits, - or _")
            continue
        branch = r.typed(body, "branch", str, "", where)
        if not branch:
            r.problem(envs, name, f"{where}.branch is required")
        heal = r.typed(body, "heal", str, "report", where)
        if heal not in ("report", "heal"):
            r.problem(body, "heal", f"{where}.heal must be report or heal, got {heal!r}")
        docker_host = r.typed(body, "docker_host", str, None, where)
        engine = r.typed(body, "engine", str, DEFAULT_ENGINE, where)
        if engine not in ENGINES:
            r.problem(body, "engine", f"{where}.engine must be {' or '.join(ENGINES)}, got {engine!r}")
            engine = DEFAULT_ENGINE
        registry = r.typed(body, "registry", str, None, where) or None
        if registry is not None:
            try:
                registry = str(Registry.parse(registry))
            except GitdeployError as exc:
                r.problem(body, "registry", f"{where}.registry: {exc.message}", "e.g. registry.internal:5000/shop")
                registry = None
        policy = _deploy(r, body, f"{where}.deploy") if body.get("deploy") is not None else None
        raw = body.get("node_hosts")
        hosts = r.mapping(body, "node_hosts", raw, set(raw) if isinstance(raw, Mapping) else set(), f"{where}.node_hosts")
        node_hosts = tuple((str(node), host) for node in hosts
                           if (host := r.typed(hosts, node, str, "", f"{where}.node_hosts")))
        result.append(Environment(name, branch, docker_host, heal, policy, engine, registry, node_hosts))
    return tuple(result)


def _github(r: _Reader, root: Mapping, environ: Mapping[str, str], base: Path) -> GithubConfig:
    keys = {"token", "base_url", "pace", "app_id", "private_key_file", "installation_id"}
    gh = r.mapping(root, "github", root.get("github"), keys, "github")
    token = r.typed(gh, "token", str, "", "github")
    if environ.get("GITDEPLOY_GITHUB_TOKEN_FILE"):
        token = _read_secret_file(environ["GITDEPLOY_GITHUB_TOKEN_FILE"], "GITDEPLOY_GITHUB_TOKEN_FILE")
    token = environ.get("GITDEPLOY_GITHUB_TOKEN") or token
    base_url = environ.get("GITDEPLOY_GITHUB_URL") or r.typed(gh, "base_url", str, GithubConfig.base_url, "github")
    if not base_url.startswith(("http://", "https://")):
        r.problem(gh, "base_url" if "base_url" in gh else None, f"github.base_url must be an http(s) URL, got {base_url!r}")
    pace = r.typed(gh, "pace", bool, True, "github")
    app_id = _id_from(r, gh, "app_id", environ.get("GITDEPLOY_GITHUB_APP_ID"), "GITDEPLOY_GITHUB_APP_ID")
    installation_id = _id_from(r, gh, "installation_id", environ.get("GITDEPLOY_GITHUB_INSTALLATION_ID"),
                               "GITDEPLOY_GITHUB_INSTALLATION_ID")
    key = environ.get("GITDEPLOY_GITHUB_PRIVATE_KEY", "")
    key_file = environ.get("GITDEPLOY_GITHUB_PRIVATE_KEY_FILE") or r.typed(gh, "private_key_file", str, "", "github")
    if not key and key_file:
        key = _read_secret_file(str(base / key_file), "github.private_key_file")
    if app_id is not None and not key:
        r.problem(gh, "app_id" if "app_id" in gh else None, "github.app_id needs the App's private key",
                  "github.private_key_file: /path/to/app.private-key.pem (or GITDEPLOY_GITHUB_PRIVATE_KEY_FILE)")
    if app_id is not None and key and "PRIVATE KEY-----" not in key:
        r.problem(gh, "private_key_file" if "private_key_file" in gh else None,
                  "github.private_key_file is not a PEM private key", "use the .pem file GitHub generated for the App")
    if app_id is None and (key or installation_id is not None):
        r.problem(gh, None, "github.private_key_file and installation_id need github.app_id")
    return GithubConfig(Secret(token), base_url.rstrip("/"), pace, app_id, Secret(key), installation_id)


def _id_from(r: _Reader, node: Mapping, key: str, env_value: str | None, env_name: str) -> int | None:
    """A positive id from the environment variable (when set) or the file."""
    if env_value:
        if not env_value.isdigit() or int(env_value) < 1:
            raise GitdeployError(f"{env_name} must be a positive number, got {env_value!r}", exit_code=EXIT_INVALID)
        return int(env_value)
    value = r.typed(node, key, int, None, "github")
    if value is not None and value < 1:
        r.problem(node, key, f"github.{key} must be positive, got {value}")
        return None
    return value


def _http(r: _Reader, root: Mapping) -> HttpLimits:
    node = r.mapping(root, "http", root.get("http"), {f.name for f in fields(HttpLimits)}, "http")
    values: dict[str, Any] = {}
    for f in fields(HttpLimits):
        kind = int if f.type in (int, "int") else (int, float)
        value = r.typed(node, f.name, kind, f.default, "http")
        low, high = (1, 100_000) if kind is int else (0.1, 86_400)
        if not low <= value <= high:
            r.problem(node, f.name, f"http.{f.name} must be {low}..{high}, got {value!r}")
            value = f.default
        values[f.name] = value
    return HttpLimits(**values)


def _deploy(r: _Reader, root: Mapping, where: str = "deploy") -> DeployPolicy:
    """The `deploy:` mapping under `root` (the top level, or an environment's own)."""
    dep = r.mapping(root, "deploy", root.get("deploy"), {"permissions", "requirements"}, where)
    perms = r.mapping(dep, "permissions", dep.get("permissions"), {"min_permission", "users", "teams"}, f"{where}.permissions")
    reqs = r.mapping(dep, "requirements", dep.get("requirements"), {"approved", "mergeable", "mergeable_states"},
                     f"{where}.requirements")
    states = r.strings(reqs, "mergeable_states", f"{where}.requirements") or ("clean",)
    for i, state in enumerate(states):
        if state not in MERGEABLE_STATES:
            r.problem(reqs["mergeable_states"], i, f"{where}.requirements.mergeable_states: {state!r} is not one of "
                      f"{', '.join(MERGEABLE_STATES)}")
    min_perm = r.typed(perms, "min_permission", str, "write", f"{where}.permissions")
    if min_perm not in PERMISSIONS:
        r.problem(perms, "min_permission", f"{where}.permissions.min_permission must be one of "
                  f"{', '.join(reversed(PERMISSIONS))}, got {min_perm!r}")
    teams = r.strings(perms, "teams", f"{where}.permissions")
    for i, team in enumerate(teams):
        if team.count("/") != 1:
            r.problem(perms["teams"], i, f"team {team!r} must be org/team-slug")
    return DeployPolicy(
        min_permission=min_perm,
        users=r.strings(perms, "users", f"{where}.permissions"),
        teams=teams,
        require_approved=r.typed(reqs, "approved", bool, True, f"{where}.requirements"),
        require_mergeable=r.typed(reqs, "mergeable", bool, True, f"{where}.requirements"),
        mergeable_states=states,
    )
