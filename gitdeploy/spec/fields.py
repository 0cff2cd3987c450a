"""Parsers for single service (and group) settings: each reads one YAML node and returns a value.

Every parser reports what is wrong at the exact node and returns None when nothing usable is
left, so the caller simply skips that field and keeps collecting problems.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from gitdeploy.spec.durations import parse_duration
from gitdeploy.spec.model import HealthCheck
from gitdeploy.spec.names import name_problem
from gitdeploy.spec.yamlnode import Node, Pos, Report, check_keys, describe, entries, items, shown

ENV_KEY_RE = re.compile(r"[^=\s]+")
RESTART_RE = r"no|always|unless-stopped|on-failure(:(?P<count>[0-9]+))?"  # compiled on first use
INT64_MAX = 2**63 - 1  # Docker's integers (retries, restart counts) are Go int64
MAX_REPLICAS = 1_000
DOCKER_MIN_DURATION = 0.001  # Docker refuses health check durations below 1 ms (0 = its default)
RESERVED_LABEL_PREFIX = "io.gitdeploy."


def scalar_text(value: Any) -> str | None:
    """A scalar as the text Docker would see, or None when the value is not a scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return str(value)
    if isinstance(value, str):
        return str(value)
    return None


def get_str(r: Report, n: Node, what: str, allow_numbers: bool = False) -> str | None:
    """The node's text when it is a string (or a number, if allowed), else None (reported)."""
    if isinstance(n.value, str):
        return str(n.value)
    if allow_numbers and isinstance(n.value, int | float) and not isinstance(n.value, bool):
        return scalar_text(n.value)
    r.at(n.pos, f"{what} must be a string, not {describe(n.value)}")
    return None


def get_int(r: Report, n: Node, what: str, minimum: int, maximum: int = INT64_MAX) -> int | None:
    """The node's integer value when minimum <= it <= maximum, else None (reported)."""
    v = n.value
    if isinstance(v, str) and re.fullmatch(r"-?[0-9]{1,30}", v.strip()):
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool):
        r.at(n.pos, f"{what} must be an integer >= {minimum}, not {describe(n.value)}")
        return None
    if v < minimum:
        r.at(n.pos, f"{what} must be an integer >= {minimum}, not {shown(v)}")
        return None
    if v > maximum:
        r.at(n.pos, f"{what} must be at most {maximum:,}, not {shown(v)}")
        return None
    return int(v)


def get_bool(r: Report, n: Node, what: str) -> bool | None:
    """The node's value when it is true or false, else None (reported)."""
    if isinstance(n.value, bool):
        return n.value
    r.at(n.pos, f"{what} must be true or false, not {describe(n.value)}")
    return None


def get_duration(r: Report, n: Node, what: str) -> float | None:
    """The node's duration in seconds, else None (reported)."""
    try:
        return parse_duration(n.value)
    except ValueError as exc:
        r.at(n.pos, f"{what}: {exc}", "durations look like 1m30s, 500ms, 10s, 1h or a number of seconds")
        return None


def get_abs_path(r: Report, n: Node, what: str) -> str | None:
    """The node's text when it is an absolute container path, else None (reported)."""
    text = get_str(r, n, what)
    if text is None:
        return None
    if not text.startswith("/"):
        r.at(n.pos, f"{what} must be an absolute path inside the container, not {shown(text)}")
        return None
    return text


def get_name(r: Report, pos: Pos, name: str, what: str) -> bool:
    """True when `name` is a valid service/group/volume/secret/config name; reports it otherwise
    (see gitdeploy.spec.names)."""
    problem = name_problem(name, what)
    if problem is None:
        return True
    r.at(pos, *problem)
    return False


def parse_command(r: Report, n: Node, what: str) -> tuple[str, ...] | None:
    """A command or entrypoint as argv: a string is split like a shell would, a list is taken as is."""
    if isinstance(n.value, str):
        try:
            return tuple(shlex.split(n.value))
        except ValueError as exc:
            r.at(n.pos, f"{what} cannot be split into arguments: {exc}", "check the quotes, or write a list")
            return None
    if not n.is_list:
        r.at(n.pos, f"{what} must be a string or a list of strings, not {describe(n.value)}")
        return None
    out: list[str] = []
    for _, item in items(n):
        text = scalar_text(item.value) if not isinstance(item.value, bool) else None
        if text is None:
            r.at(item.pos, f"{what} items must be strings, not {describe(item.value)}")
            return None
        out.append(text)
    return tuple(out)


def parse_mapping_or_list(r: Report, n: Node, what: str, kind: str) -> dict[str, tuple[str, Pos]] | None:
    """KEY: VALUE mapping or KEY=VALUE list (environment, labels, build args).

    Returns {key: (value, position of the entry)}. For `kind` "environment" and "args" a key
    without a value is reported (gitdeploy never copies the host's environment); for "labels"
    it means the empty string.
    """
    out: dict[str, tuple[str, Pos]] = {}
    pairs: list[tuple[str, Any, Pos, bool]] = []  # key, raw value, pos, has value
    if n.is_map:
        for key, kpos, value in entries(n):
            pairs.append((key, value.value, kpos, value.value is not None))
    elif n.is_list:
        for _, item in items(n):
            if not isinstance(item.value, str):
                r.at(item.pos, f"{what} items must be KEY=VALUE strings, not {describe(item.value)}")
                continue
            key, eq, value = str(item.value).partition("=")
            pairs.append((key, value, item.pos, bool(eq)))
    elif n.value is None:
        return {}
    else:
        r.at(n.pos, f"{what} must be a mapping or a list of KEY=VALUE, not {describe(n.value)}")
        return None
    for key, value, pos, has_value in pairs:
        if not ENV_KEY_RE.fullmatch(key):
            r.at(pos, f"invalid key {shown(key)} in {what}")
            continue
        if not has_value:
            if kind == "labels":
                value = ""
            else:
                r.at(
                    pos,
                    f"{shown(key)} in {what} has no value",
                    "gitdeploy never copies the deploying host's environment: write the value, "
                    "or use `secrets` for secret values",
                )
                continue
        text = scalar_text(value)
        if text is None:
            r.at(
                pos,
                f"the value of {shown(key)} in {what} must be a string, number or boolean, not {describe(value)}",
            )
            continue
        if kind == "labels" and key.startswith(RESERVED_LABEL_PREFIX):
            r.at(
                pos,
                f"label {shown(key)} is reserved for gitdeploy",
                f"use a prefix other than '{RESERVED_LABEL_PREFIX}'",
            )
            continue
        out[key] = (text, pos)
    return out


def parse_restart(r: Report, n: Node, what: str) -> str | None:
    """The restart policy text, else None (reported)."""
    v = n.value
    if v is False:  # `restart: false` written for "no"
        v = "no"
    m = re.fullmatch(RESTART_RE, v) if isinstance(v, str) and len(v) < 60 else None
    if m is not None and m.group("count") is not None and int(m.group("count")) > INT64_MAX:
        r.at(n.pos, f"the restart count of {what} must be at most {INT64_MAX:,}")
        return None
    if m is not None:
        return str(v)
    r.at(n.pos, f"invalid restart policy {shown(v)} in {what}", "use no, always, on-failure[:N] or unless-stopped")
    return None


ROLLOUT_KEYS = ("order", "parallelism", "canary", "monitor", "deadline", "drain", "on_failure")


def parse_rollout(r: Report, n: Node, what: str) -> dict[str, Any] | None:
    """The rollout fields given (only those), as {field: value} for Rollout(**...)."""
    if not n.is_map:
        r.at(n.pos, f"rollout in {what} must be a mapping, not {describe(n.value)}")
        return None
    out: dict[str, Any] = {}
    for key, (_, v) in check_keys(r, n, ROLLOUT_KEYS, f"rollout of {what}").items():
        if key == "order":
            if v.value in ("start-first", "stop-first"):
                out[key] = v.value
            else:
                r.at(v.pos, f"rollout.order must be start-first or stop-first, not {shown(v.value)}")
        elif key == "on_failure":
            if v.value in ("rollback", "pause"):
                out[key] = v.value
            else:
                r.at(v.pos, f"rollout.on_failure must be rollback or pause, not {shown(v.value)}")
        elif key == "parallelism":
            if (p := get_int(r, v, "rollout.parallelism", 1, MAX_REPLICAS)) is not None:
                out[key] = p
        elif key == "canary":
            if (p := get_int(r, v, "rollout.canary", 0, MAX_REPLICAS)) is not None:
                out[key] = p
        elif (d := get_duration(r, v, f"rollout.{key}")) is not None:
            out[key] = d
    return out


def parse_drift_ignore(r: Report, n: Node, what: str) -> list[str] | None:
    """Absolute container paths whose changes are not drift."""
    if not n.is_list:
        r.at(n.pos, f"drift_ignore in {what} must be a list of absolute paths, not {describe(n.value)}")
        return None
    out = [p for _, item in items(n) if (p := get_abs_path(r, item, "a drift_ignore entry")) is not None]
    return out


HEALTH_KEYS = ("test", "interval", "timeout", "retries", "start_period", "disable")
HEALTH_UNSUPPORTED = {"start_interval": "remove it; use `interval` and `start_period`"}


def parse_healthcheck(r: Report, n: Node, what: str) -> HealthCheck | None:
    """The health check; `disable: true` gives HealthCheck(("NONE",))."""
    if not n.is_map:
        r.at(n.pos, f"healthcheck in {what} must be a mapping, not {describe(n.value)}")
        return None
    before = r.count()
    fields = check_keys(r, n, HEALTH_KEYS, f"healthcheck of {what}", HEALTH_UNSUPPORTED)
    kwargs: dict[str, Any] = {}
    test: tuple[str, ...] | None = None
    if "test" in fields:
        test = _health_test(r, fields["test"][1])
    for key in ("interval", "timeout", "start_period"):
        if key in fields:
            kwargs[key] = get_duration(r, fields[key][1], f"healthcheck.{key}")
            if kwargs[key] is not None and 0 < kwargs[key] < DOCKER_MIN_DURATION:
                r.at(fields[key][1].pos, f"healthcheck.{key} must be 0 or at least 1ms (Docker's minimum)")
    if "retries" in fields:
        kwargs["retries"] = get_int(r, fields["retries"][1], "healthcheck.retries", 0)
    disable = False
    if "disable" in fields:
        disable = bool(get_bool(r, fields["disable"][1], "healthcheck.disable"))
        if disable and test is not None and test != ("NONE",):
            r.at(
                fields["disable"][0],
                "healthcheck has both `disable: true` and a `test`",
                "remove one of them",
            )
    if disable:
        test = ("NONE",)
    elif test is None and "test" not in fields:
        r.at(n.pos, f"healthcheck in {what} has no `test`", 'add test: ["CMD", ...] or disable: true')
    if r.count() != before or test is None:
        return None
    return HealthCheck(test=test, **kwargs)


def _health_test(r: Report, n: Node) -> tuple[str, ...] | None:
    if isinstance(n.value, str):
        return ("CMD-SHELL", str(n.value))
    if not n.is_list or not n.value:
        r.at(n.pos, 'healthcheck.test must be a string or a list like ["CMD", ...]')
        return None
    argv = [scalar_text(v) for v in n.value]
    if any(a is None for a in argv):
        r.at(n.pos, "healthcheck.test items must be strings")
        return None
    head = argv[0]
    ok = (
        (head == "CMD" and len(argv) >= 2)
        or (head == "CMD-SHELL" and len(argv) == 2)
        or (head == "NONE" and len(argv) == 1)
    )
    if not ok:
        r.at(
            n.pos,
            f'healthcheck.test must start with CMD (with arguments), CMD-SHELL (with one command) or be ["NONE"], not {shown(head)}',
        )
        return None
    return tuple(a for a in argv if a is not None)


@dataclass(frozen=True)
class RawDep:
    """A depends_on entry as written, resolved to a service path later."""

    name: str
    condition: str
    pos: Pos


CONDITIONS = ("service_started", "service_healthy")


def parse_depends_on(r: Report, n: Node, what: str) -> list[RawDep] | None:
    """The depends_on entries as written (names not yet resolved)."""
    out: list[RawDep] = []
    if n.is_list:
        for _, item in items(n):
            if isinstance(item.value, str):
                out.append(RawDep(str(item.value), "service_started", item.pos))
            else:
                r.at(item.pos, f"depends_on items must be service names, not {describe(item.value)}")
        return out
    if not n.is_map:
        r.at(n.pos, f"depends_on in {what} must be a list or a mapping, not {describe(n.value)}")
        return None
    for name, kpos, v in entries(n):
        condition = "service_started"
        if v.value is not None:
            if not v.is_map:
                r.at(v.pos, f"depends_on.{name} must be a mapping like {{condition: service_healthy}}")
                continue
            unsupported = {
                "restart": "remove it; gitdeploy restarts dependents only when their definition changes",
                "required": "remove it; every dependency must exist in the spec",
            }
            fields = check_keys(r, v, ("condition",), f"depends_on.{name}", unsupported)
            if "condition" in fields:
                c = fields["condition"][1]
                if c.value in CONDITIONS:
                    condition = str(c.value)
                elif c.value == "service_completed_successfully":
                    r.at(
                        c.pos,
                        "'service_completed_successfully' is not supported by gitdeploy",
                        "use service_started or service_healthy",
                    )
                    continue
                else:
                    r.at(c.pos, f"invalid condition {shown(c.value)}", "use service_started or service_healthy")
                    continue
        out.append(RawDep(name, condition, kpos))
    return out
