"""Notifiers for the watcher: a callable taking a DriftNotice. One GitHub issue per environment."""

from __future__ import annotations

from typing import Protocol

from gitdeploy.heal.loop import DriftNotice, Notifier
from gitdeploy.render.drift import issue_markdown, issue_marker, resolved_comment


class IssueForge(Protocol):  # what GitHubForge offers (gitdeploy.github.forge)
    def open_or_update_issue(self, marker: str, title: str, body: str, labels=...) -> object: ...

    def close_issue(self, marker: str, comment: str | None = None, labels=...) -> int | None: ...


def github_issue_notifier(forge: IssueForge, labels: tuple[str, ...] = ("gitdeploy", "drift")) -> Notifier:
    """Open or update one issue per environment while it drifts; close it when the drift is gone."""

    def notify(n: DriftNotice) -> None:
        marker = issue_marker(n.env)
        if n.resolved:
            forge.close_issue(marker, resolved_comment(n.env, n.commit), labels=labels)
            return
        title, body = issue_markdown(n.env, n.system, n.commit, n.drifts, n.given_up, n.first_seen)
        forge.open_or_update_issue(marker, title, body, labels=labels)

    return notify
