"""The shape of every webhook field the bot reads, checked before anything reads it. Pure.

A delivery can carry a valid signature and still be wrong (a bug on the sender's side, a
replayed test, a hand-made request): `check(event, payload)` raises `PayloadInvalid` with a
short, bounded `reason` (the field, e.g. "pull_request.head.sha") that the app answers with
400 and counts in /metrics. Only the fields gitdeploy.github.events reads are constrained;
everything else GitHub sends passes through untouched. SHAs must be full 40-hex SHAs and refs
valid git refs (gitdeploy.github.gitnames), so nothing from a payload reaches git unchecked.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match

from gitdeploy.github.gitnames import is_branch, is_ref, is_sha

MAX_ID = 2**63 - 1
MAX_TEXT = 65_536  # GitHub's limit for a comment or PR body
MAX_NAME = 255
EVENTS = ("ping", "push", "pull_request", "issue_comment", "pull_request_review", "installation",
          "installation_repositories", "check_run")  # labels for /metrics

_formats = FormatChecker()
_formats.checks("git-sha")(lambda v: not isinstance(v, str) or is_sha(v))
_formats.checks("git-ref")(lambda v: not isinstance(v, str) or is_ref(v))
_formats.checks("git-branch")(lambda v: not isinstance(v, str) or is_branch(v))


def _obj(required: tuple[str, ...] = (), nullable: bool = False, **properties: Any) -> dict:
    return {"type": ["object", "null"] if nullable else "object", "required": list(required),
            "properties": properties}


def _str(nullable: bool = False, max_length: int = MAX_NAME, **more: Any) -> dict:
    return {"type": ["string", "null"] if nullable else "string", "maxLength": max_length, **more}


_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_FLAG = {"type": ["boolean", "null"]}
_SHA = _str(format="git-sha")
# GitHub logins are letters, digits and hyphens (apps add "[bot]"; Enterprise may add "_"): no "/",
# "?" or "#", because a login becomes part of API paths (collaborator permission, team membership).
_LOGIN = _str(max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*(?i:\[bot\])?$")
_USER = _obj(login=_LOGIN, type=_str())
_REPOSITORY = _obj(("full_name",), full_name=_str(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}/(?!\.\.?$)[A-Za-z0-9_.-]{1,100}$"))
_INSTALLATION = _obj(("id",), nullable=True, id=_ID)  # a GitHub App's deliveries say which installation
_REPOSITORIES = {"type": ["array", "null"], "maxItems": 10_000, "items": _REPOSITORY}

SCHEMAS: dict[str, dict] = {
    "ping": _obj(zen=_str(max_length=MAX_TEXT)),
    "pull_request": _obj(
        ("action", "repository", "pull_request"),
        action=_str(), number=_ID, repository=_REPOSITORY, sender=_USER, installation=_INSTALLATION,
        pull_request=_obj(
            ("number", "head", "base"),
            number=_ID, draft=_FLAG, merged=_FLAG,
            head=_obj(("sha",), sha=_SHA, repo=_obj(nullable=True, full_name=_str(nullable=True))),
            base=_obj(("ref",), ref=_str(format="git-branch")),
        ),
    ),
    "issue_comment": _obj(
        ("action", "repository", "issue", "comment"),
        action=_str(), repository=_REPOSITORY, sender=_USER, installation=_INSTALLATION,
        issue=_obj(("number",), number=_ID, pull_request={"type": ["object", "null"]}),
        comment=_obj(("id", "user"), id=_ID, user=_USER, body=_str(nullable=True, max_length=MAX_TEXT),
                     author_association=_str()),
    ),
    "push": _obj(
        ("ref", "after", "repository"),
        ref=_str(format="git-ref"), after=_SHA, before=_SHA, repository=_REPOSITORY,
        created=_FLAG, deleted=_FLAG, forced=_FLAG, sender=_USER, installation=_INSTALLATION,
        pusher=_obj(name=_str(nullable=True)),
        head_commit=_obj(nullable=True, message=_str(nullable=True, max_length=MAX_TEXT)),
    ),
    "check_run": _obj(
        ("action", "repository", "check_run"),
        action=_str(), repository=_REPOSITORY, sender=_USER, installation=_INSTALLATION,
        check_run=_obj(
            ("head_sha",), id=_ID, name=_str(nullable=True), head_sha=_SHA,
            pull_requests={"type": ["array", "null"], "maxItems": 1000, "items": _obj(
                ("number", "base"), number=_ID, base=_obj(("ref",), ref=_str(format="git-branch")))},
        ),
    ),
    "installation": _obj(
        ("action", "installation"), action=_str(), sender=_USER, repositories=_REPOSITORIES,
        installation=_obj(("id",), id=_ID, account=_obj(nullable=True, login=_LOGIN)),
    ),
    "installation_repositories": _obj(
        ("action", "installation"), action=_str(), sender=_USER,
        repositories_added=_REPOSITORIES, repositories_removed=_REPOSITORIES,
        installation=_obj(("id",), id=_ID, account=_obj(nullable=True, login=_LOGIN)),
    ),
}
_VALIDATORS = {event: Draft202012Validator(schema, format_checker=_formats) for event, schema in SCHEMAS.items()}


class PayloadInvalid(ValueError):
    """A delivery the bot will not read: `reason` is a short label, `message` says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def parse(body: bytes) -> object:
    """The JSON document in `body`; raises PayloadInvalid (not_json, too_deep)."""
    try:
        return json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        raise PayloadInvalid("too_deep", "the JSON is nested too deeply") from None
    except ValueError as exc:  # includes UnicodeDecodeError and over-long integers
        raise PayloadInvalid("not_json", f"the body is not JSON ({str(exc)[:100]})") from None


def check(event: str, payload: object) -> None:
    """Raise PayloadInvalid when a field the bot reads from `event` has the wrong shape."""
    if not isinstance(payload, dict):
        raise PayloadInvalid("not_object", "the body is not a JSON object")
    validator = _VALIDATORS.get(event)
    if validator is None:
        return
    error = best_match(validator.iter_errors(payload))
    if error is None:
        return
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        path += missing[:1]
        what = "is missing"
    elif error.validator == "format":
        what = f"is not a valid {str(error.validator_value).removeprefix('git-')}"
    elif error.validator == "pattern":
        what = "is not in the expected form"
    elif error.validator == "type":
        what = f"must be {_kinds(error.validator_value)}"
    else:
        what = f"fails '{error.validator}'"
    field = ".".join(path) or "(body)"
    raise PayloadInvalid(field, f"{event}: {field} {what}")


def _kinds(types: object) -> str:
    names = types if isinstance(types, list) else [types]
    return " or ".join("null" if t == "null" else f"a{'n' if str(t)[0] in 'aeiou' else ''} {t}" for t in names)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")
