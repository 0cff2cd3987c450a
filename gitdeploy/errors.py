"""The one error type users see: a message and a hint, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass, field

# Exit codes shared by every command.
EXIT_FAILED = 1  # the operation failed (deploy failed, engine error, ...)
EXIT_INVALID = 2  # invalid input: spec, arguments, configuration
EXIT_CHANGES = 3  # `plan --exit-code` / `check`: there are changes / drift
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGTERM during a deploy: rolled back (or left for recovery)


@dataclass(frozen=True)
class Problem:
    """One validation problem, located in a file of the spec repository."""

    message: str
    file: str = "gitdeploy.yaml"
    line: int = 0  # 1-based; 0 = unknown
    column: int = 0  # 1-based; 0 = unknown
    hint: str = ""

    def location(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column or 1}"
        return self.file

    def __str__(self) -> str:
        text = f"{self.location()}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class GitdeployError(Exception):
    """An error meant for the user: what went wrong, and what to do about it."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str = "", *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


@dataclass
class SpecInvalid(GitdeployError):
    """The spec has problems; all of them are listed, nothing was deployed."""

    problems: list[Problem] = field(default_factory=list)

    def __init__(self, problems: list[Problem]) -> None:
        n = len(problems)
        GitdeployError.__init__(
            self,
            f"the spec is invalid ({n} problem{'s' if n != 1 else ''}):\n"
            + "\n".join(f"  {p}" for p in problems),
            "fix the problems above; nothing was deployed",
            exit_code=EXIT_INVALID,
        )
        self.problems = problems


class Locked(GitdeployError):
    """Another operation holds the environment's lock (the data dir's, or the engine's): try later."""


class Frozen(GitdeployError):
    """The environment is frozen: nothing is deployed or repaired until it is unfrozen."""
