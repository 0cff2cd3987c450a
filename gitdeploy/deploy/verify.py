"""Verification after executing: is every instance at the target revision, and nothing else up?

This is the check Knight Capital did not have: one server of eight on old code is a failed
deploy, not a successful one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gitdeploy.live.model import Live
from gitdeploy.spec.identity import Desired


@dataclass(frozen=True)
class Verification:
    ok: bool
    expected: int  # containers that should run
    at_target: int  # containers running at their target hash with the right replica index
    problems: tuple[str, ...] = ()

    def headline(self, commit: str | None) -> str:
        """'8/8 containers at 1a2b3c4' (or 'working tree')."""
        at = commit[:7] if commit else "the working tree"
        return f"{self.at_target}/{self.expected} containers at {at}"


def verify(desired: Sequence[Desired], live: Live) -> Verification:
    """Compare the live system with the target: exact replica sets, right hashes, nothing extra."""
    problems: list[str] = []
    expected = sum(d.service.replicas for d in desired)
    at_target = 0
    wanted = {d.path: d for d in desired}
    by_service = live.by_service
    for d in desired:
        running = [c for c in by_service.get(d.path, []) if c.running]
        good = sorted(c.replica for c in running if c.hash == d.hash)
        old = [c for c in running if c.hash != d.hash]
        ok_replicas = sorted(set(good) & set(range(1, d.service.replicas + 1)))
        at_target += len(ok_replicas)
        if ok_replicas != list(range(1, d.service.replicas + 1)):
            missing = sorted(set(range(1, d.service.replicas + 1)) - set(good))
            problems.append(f"{d.path}: replica(s) {_ints(missing)} not running at the target revision")
        if len(good) != len(ok_replicas):
            problems.append(f"{d.path}: {len(good) - len(ok_replicas)} surplus container(s) running")
        for c in old:
            problems.append(f"{d.path}: {c.name} still runs an old revision ({c.hash[:12]})")
        for c in running:
            if c.hash == d.hash and c.state == "restarting":
                problems.append(f"{d.path}: {c.name} is restarting")
    for path, containers in sorted(by_service.items()):
        if path not in wanted:
            for c in containers:
                if c.running:
                    problems.append(f"{path}: {c.name} runs but the service is not in the spec")
    return Verification(ok=not problems, expected=expected, at_target=at_target, problems=tuple(problems))


def _ints(xs: list[int]) -> str:
    return ", ".join(str(x) for x in xs)
