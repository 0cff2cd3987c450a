"""Which live container is replica i of a service: one pure assignment.

The planner (`plan/diff.py`), the healer (`heal/detect.py`) and the verification
(`deploy/verify.py`) all read a service's containers through `assign`, so they never disagree on
which container serves an index, which one is surplus and which stopped one to start again.

Rules, for a service at target hash H with R replicas:
- replica i (1 <= i <= R) is served by the running container at H labelled i; of several, the
  newest (the others are surplus, as is any running at H with an index beyond R);
- an index that no running container serves is started again from the newest stopped container
  at H labelled with it, when there is one; else it is missing (to be created);
- every other stopped container at H is spare (tidied after a verified deploy);
- running containers at another hash are old revisions (replaced); stopped ones at another hash
  are kept revisions and not assigned at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from gitdeploy.live.model import LiveContainer


class Assignment(NamedTuple):
    """A service's containers by role (see the module docstring), each in a stable order.

    (A named tuple, not a dataclass: the planner makes one per service, 5,000 on a large spec.)
    """

    replicas: int  # wanted
    kept: Mapping[int, LiveContainer]  # index -> the running container at H serving it (index order)
    surplus: tuple[LiveContainer, ...]  # running at H, not serving: by index, newest first
    startable: Mapping[int, LiveContainer]  # index -> the stopped container at H to start (newest first)
    spare: tuple[LiveContainer, ...]  # stopped at H, not needed: newest first
    missing: tuple[int, ...]  # indices with no container at H at all (to create), ascending
    old: tuple[LiveContainer, ...]  # running at another hash, in the order given

    @property
    def running_at_target(self) -> tuple[LiveContainer, ...]:
        """Every running container at H: the kept ones by index, then the surplus."""
        return (*self.kept.values(), *self.surplus)

    @property
    def unserved(self) -> tuple[int, ...]:
        """Indices no running container at H serves (to start or create), ascending."""
        return tuple(i for i in range(1, self.replicas + 1) if i not in self.kept)


def assign(containers: Iterable[LiveContainer], target: str, replicas: int) -> Assignment:
    """The containers of one service (any order) assigned to its `replicas` indices at `target`."""
    running: list[LiveContainer] = []
    stopped: list[LiveContainer] = []
    old: list[LiveContainer] = []
    for c in containers:
        if c.hash == target:
            (running if c.running else stopped).append(c)
        elif c.running:
            old.append(c)
    kept: dict[int, LiveContainer] = {}
    surplus: list[LiveContainer] = []
    if len(running) > 1:
        running.sort(key=lambda c: (c.replica, -c.created))  # by index, newest first
    for c in running:
        if 1 <= c.replica <= replicas and c.replica not in kept:
            kept[c.replica] = c
        else:
            surplus.append(c)
    startable: dict[int, LiveContainer] = {}
    spare: list[LiveContainer] = []
    if len(stopped) > 1:
        stopped.sort(key=lambda c: -c.created)  # newest first
    for c in stopped:
        if 1 <= c.replica <= replicas and c.replica not in kept and c.replica not in startable:
            startable[c.replica] = c
        else:
            spare.append(c)
    return Assignment(
        replicas=replicas,
        kept=kept,  # in index order: the running ones were sorted by index
        surplus=tuple(surplus),
        startable=startable,
        spare=tuple(spare),
        missing=tuple(i for i in range(1, replicas + 1) if i not in kept and i not in startable),
        old=tuple(old),
    )


def newest(containers: Sequence[LiveContainer]) -> LiveContainer:
    """The most recently created of `containers` (not empty)."""
    return max(containers, key=lambda c: c.created)
