"""GitHub App authentication, all through PyGithub (`Auth.AppAuth`, `GithubIntegration`).

The App signs a short JWT with its private key (PyGithub does it) to ask GitHub who it is
(`GET /app`: its slug, so its account is `<slug>[bot]`), which installation covers a
repository, and for installation tokens. `Auth.AppInstallationAuth` caches each installation's
token and fetches a new one shortly before it expires; tokens and the key never reach a log
or a message.
"""

from __future__ import annotations

import threading
from typing import Any

import requests
from github import Auth, GithubException, GithubIntegration

from gitdeploy.errors import GitdeployError


class GitHubApp:
    """One GitHub App: its identity and an installation auth per installation id (cached)."""

    def __init__(self, app_id: int, private_key: str, base_url: str, *, pace: bool = True,
                 timeout: int = 15, retry: int | None = None) -> None:
        self.app_id = app_id
        self.auth = Auth.AppAuth(app_id, private_key)
        options: dict[str, Any] = {"timeout": timeout}
        if retry is not None:
            options["retry"] = retry
        if not pace:
            options.update(seconds_between_requests=0, seconds_between_writes=0)
        self._integration = GithubIntegration(auth=self.auth, base_url=base_url, **options)
        self._slug: str | None = None
        self._installations: dict[int, Auth.AppInstallationAuth] = {}
        self._lock = threading.Lock()

    def login(self) -> str:
        """The App's account, `<slug>[bot]` (GET /app once)."""
        if self._slug is None:
            with _calling("reading the GitHub App (GET /app)"):
                self._slug = self._integration.get_app().slug
        return f"{self._slug}[bot]"

    def installation_auth(self, installation_id: int) -> Auth.AppInstallationAuth:
        """PyGithub's auth for `installation_id`: its token is fetched on first use, cached and
        refreshed before it expires."""
        with self._lock:
            if installation_id not in self._installations:
                self._installations[installation_id] = self.auth.get_installation_auth(installation_id)
            return self._installations[installation_id]

    def installation_for(self, repo: str) -> int:
        """The id of the App's installation on `repo` (owner/name)."""
        owner, _, name = repo.partition("/")
        with _calling(f"finding the GitHub App's installation on {repo}"):
            return self._integration.get_repo_installation(owner, name).id


class _calling:
    """Turn PyGithub/JWT/network failures into a GitdeployError that names no secret."""

    def __init__(self, action: str) -> None:
        self.action = action

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> bool:
        if exc is None or isinstance(exc, GitdeployError):
            return False
        if isinstance(exc, GithubException):
            message = (exc.data or {}).get("message", "") if isinstance(exc.data, dict) else ""
            hint = ("check app_id and the private key file: GitHub did not accept the App's signed token"
                    if exc.status == 401 else
                    "install the App on the repository (GitHub answered 404)" if exc.status == 404 else
                    "see https://www.githubstatus.com/ and try again")
            raise GitdeployError(f"GitHub answered {exc.status} while {self.action}: {message}", hint) from None
        if isinstance(exc, (requests.exceptions.RequestException, OSError)):
            raise GitdeployError(f"cannot reach GitHub while {self.action}: {type(exc).__name__}",
                                 "check the network and the GitHub base URL") from None
        if isinstance(exc, ValueError):  # an unreadable private key (PyJWT / cryptography)
            raise GitdeployError(f"cannot sign the GitHub App's token while {self.action}: the private key "
                                 "is not a PEM RSA private key", "check github.private_key_file") from None
        return False
