"""diff(Desired, Live) -> one ServiceChange per service, field by field, with reasons.

Rules, per service with target hash H and R replicas:
- running at H with replica index i in 1..R: kept (one per index);
- stopped at H with a missing index: started (the fast path of a rollback);
- still missing indices: created;
- running at another hash: retired (stopped and kept for rollback) - a replacement;
- running at H but surplus (index > R, or a duplicate index): retired - a scale-down;
- stopped at another hash: kept revisions, left alone (pruned after a verified deploy).
Services live but absent from the spec are removed (their running containers retired).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import replace

from gitdeploy.live.model import Live, LiveContainer
from gitdeploy.plan.model import FieldChange, ServiceChange
from gitdeploy.plan.replicas import assign, newest
from gitdeploy.spec.identity import Desired, field_changes


def diff(desired: Sequence[Desired], live: Live, tainted: Mapping[str, str] | Set[str] = frozenset()
         ) -> list[ServiceChange]:
    """Every service's change: desired services in spec order, then removals (sorted).

    `tainted` container IDs (drift found inside them: tampered files, changed settings; or not
    serving: unhealthy, unreachable by name), with why when it is a mapping, are treated as an
    old revision, so they get replaced although their labels match.
    """
    why = dict(tainted) if isinstance(tainted, Mapping) else {}
    if tainted:
        live = Live(live.system, live.env, tuple(
            replace(c, hash=f"tainted:{c.hash}") if c.id in tainted else c for c in live.containers))
    by_service = live.by_service
    out = [_service_change(d, by_service.get(d.path, []), why) for d in desired]
    wanted = {d.path for d in desired}
    for path in sorted(set(by_service) - wanted):
        change = _removal(path, by_service[path])
        if change is not None:
            out.append(change)
    return out


def _service_change(d: Desired, containers: list[LiveContainer], why: Mapping[str, str]) -> ServiceChange:
    target, replicas = d.hash, d.service.replicas
    a = assign(containers, target, replicas)
    running_other, surplus, running_target = list(a.old), list(a.surplus), a.running_at_target
    start = [(c.id, c.replica) for c in a.startable.values()]
    discard = [c.id for c in a.spare]
    create = a.missing
    retire = tuple(c.id for c in running_other + surplus)
    before = len(running_target) + len(running_other)

    if running_other and all(c.hash.startswith("tainted:") for c in running_other):
        action, fields = "replace", ()
        n = len(running_other)
        said = sorted({why[c.id] for c in running_other if why.get(c.id, "drift") != "drift"})
        if said:
            reason = f"{'; '.join(f'replica {c.replica} {why[c.id]}' for c in running_other if c.id in why)}: " \
                     "replaced at the same revision"
        else:
            reason = f"drift inside {n} container{'s' if n != 1 else ''}: replaced at the same revision"
    elif running_other:
        action, fields = "replace", _replace_fields(d, running_other)
        reason = f"definition changed ({len(fields)} field{'s' if len(fields) != 1 else ''})"
    elif replicas == 0 and not running_target:
        action, fields, reason = "unchanged", (), "0 replicas wanted"
    elif not running_target and not start:
        action, fields = "create", ()
        older = any(c.hash != target for c in containers)
        reason = "only older revisions exist (stopped)" if older else "not running yet"
    elif start and not surplus and (not create or not running_target):
        action, fields = "start", ()
        reason = f"{len(start)} stopped container{'s' if len(start) != 1 else ''} at this revision"
    elif create or surplus:
        action = "scale"
        fields = (FieldChange("replicas", str(len(running_target)), str(replicas)),)
        reason = f"replicas {len(running_target)} -> {replicas}"
    else:
        action, fields, reason = "unchanged", (), "up to date"
    if action == "unchanged" and discard:
        reason = "up to date (surplus stopped containers to tidy)"

    return ServiceChange(
        path=d.path,
        action=action,  # type: ignore[arg-type]
        reason=reason,
        hash=target,
        replicas_before=before,
        replicas_after=replicas,
        fields=tuple(fields),
        old_hashes=tuple(sorted({c.hash for c in running_other})),
        start=tuple(start),
        create=create,
        retire=retire,
        discard=tuple(discard),
    )


def _replace_fields(d: Desired, old: Iterable[LiveContainer]) -> tuple[FieldChange, ...]:
    olds = list(old)
    # The newest old definition speaks for the service (they are normally all the same).
    changes = [FieldChange(f, a, b) for f, a, b in field_changes(newest(olds).definition, d.definition)]
    running_old = len(olds)
    if running_old != d.service.replicas:
        changes.append(FieldChange("replicas", str(running_old), str(d.service.replicas)))
    return tuple(changes)


def _removal(path: str, containers: list[LiveContainer]) -> ServiceChange | None:
    running = [c for c in containers if c.running]
    if not running:
        return None  # only kept revisions remain: nothing to do, pruning tidies them
    return ServiceChange(
        path=path,
        action="remove",
        reason="no longer in the spec",
        hash="",
        replicas_before=len(running),
        replicas_after=0,
        old_hashes=tuple(sorted({c.hash for c in running})),
        retire=tuple(c.id for c in running),
    )
