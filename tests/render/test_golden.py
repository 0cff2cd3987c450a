"""Every piece of wording, rendered from fixed values and compared with a golden file (pure, no engine).

Rewrite the files after a deliberate wording change with `GITDEPLOY_UPDATE_GOLDEN=1 pytest
tests/render` and review the diff. Clock times are shown in the local zone: the tests run in UTC.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator

import pytest
from rich.console import Console
from rich.table import Table

from gitdeploy.deploy.result import Result
from gitdeploy.history.revert import TRAILER_OF
from gitdeploy.live.model import Live, LiveContainer
from gitdeploy.plan.diff import diff
from gitdeploy.plan.planner import make_plan
from gitdeploy.render import comments, drift, history, lines, plan, result, status
from gitdeploy.render.markdown import open_blocks
from gitdeploy.spec.identity import Desired, canonical_json, definition_of, hash_definition
from gitdeploy.spec.model import SecretRef, Service
from gitdeploy.spec.secrets import SecretStore
from tests.render import values as v
from tests.render.golden import GOLDEN, check_golden


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _json(data: object) -> str:
    return json.dumps(data, indent=2)


def _table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A Rich table as the terminal shows it (120 columns, no colour)."""
    table = Table(title=title)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console = Console(width=120, color_system=None, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text()


def _hook_transcript(r: Result) -> str:
    """What a pusher reads for a deploy: the plan, the progress events, the outcome (hooks.report)."""
    out = lines.plain(plan.plan_text(r.plan)).splitlines()
    out += [lines.event_line(ev) for ev in r.events or v.EVENTS]
    out += lines.plain(result.result_text(r)).splitlines()
    return "\n".join(out)


def _cases() -> dict[str, Callable[[], str]]:
    c: dict[str, Callable[[], str]] = {
        # plans
        "plan.txt": lambda: plan.plan_text(v.PLAN),
        "plan-unchanged-shown.txt": lambda: plan.plan_text(v.PLAN, show_unchanged=True),
        "plan-plain.txt": lambda: lines.plain(plan.plan_text(v.PLAN)),
        "plan.md": lambda: plan.plan_markdown(v.PLAN),
        "plan.json": lambda: plan.plan_json(v.PLAN),
        "plan-no-changes.txt": lambda: plan.plan_text(v.EMPTY_PLAN),
        "plan-swarm.txt": lambda: plan.plan_text(v.SWARM_PLAN),
        "plan-swarm.md": lambda: plan.plan_markdown(v.SWARM_PLAN),
        "plan-swarm.json": lambda: plan.plan_json(v.SWARM_PLAN),
        "plan-no-changes.md": lambda: plan.plan_markdown(v.EMPTY_PLAN),
        "plan-no-changes.json": lambda: plan.plan_json(v.EMPTY_PLAN),
        # drift
        "drift-report.txt": lambda: drift.report_text(v.REPORTS["drift"]),
        "drift-report-clean.txt": lambda: drift.report_text(v.REPORTS["clean"]),
        "drift-report-halted.txt": lambda: drift.report_text(v.REPORTS["halted"]),
        "drift-report-deploying.txt": lambda: drift.report_text(v.REPORTS["deploying"]),
        "drift-report.json": lambda: _json(v.REPORTS["drift"].to_dict()),
        "drift-report-swarm.txt": lambda: drift.report_text(v.SWARM_REPORTS["drift"]),
        "drift-report-swarm-clean.txt": lambda: drift.report_text(v.SWARM_REPORTS["clean"]),
        "drift-report-swarm.json": lambda: _json(v.SWARM_REPORTS["drift"].to_dict()),
        "drift-issue.md": lambda: "\n\n".join(drift.issue_markdown(
            "production", "shop", v.COMMIT, v.DRIFTS, ["shop/web", "api"], v.FIRST_SEEN)),
        "drift-issue-given-up-only.md": lambda: "\n\n".join(drift.issue_markdown(
            "production", "shop", v.COMMIT, (), ["api"], {})),
        "drift-issue-resolved.md": lambda: drift.issue_marker("production") + "\n"
        + drift.resolved_comment("production", v.COMMIT),
        # PR comments
        "comment-help.md": lambda: comments.HELP,
        "comment-plan.md": lambda: comments.plan_marker("production") + "\n" + comments.plan_sections([
            comments.plan_comment("production", v.SHA, v.PLAN),
            comments.plan_comment("staging", v.SHA, v.EMPTY_PLAN)]),
        "comment-plan-fork.md": lambda: comments.plan_comment(
            "production", v.SHA, v.PLAN, untrusted=True,
            skipped=[("shop/web", "not built: fork pull request"), ("worker", "not pulled: fork pull request")]),
        "comment-invalid.md": lambda: comments.invalid_comment("production", v.SHA, v.PROBLEMS),
        "comment-invalid-one.md": lambda: comments.invalid_comment("production", v.SHA, v.PROBLEMS[:1]),
        "comment-invalid-summary.txt": lambda: "\n".join([
            comments.invalid_summary(v.PROBLEMS), comments.invalid_summary(v.PROBLEMS[1:2]),
            comments.invalid_summary(())]),
        "comment-error.md": lambda: comments.error_comment("production", v.SHA, "the engine did not answer",
                                                           "is dockerd running on the server?"),
        "comment-error-internal.md": lambda: comments.error_comment("production", v.SHA, comments.INTERNAL),
        "comment-deploy-started.md": lambda: comments.deploy_marker("production", v.SHA) + "\n"
        + comments.deploy_started("production", v.SHA, 42, "comment"),
        "comment-deploy-error.md": lambda: comments.deploy_error_comment(
            "production", v.SHA, "production is frozen by alice: incident 42", "`/unfreeze` when it is over"),
        "comment-refused.md": lambda: comments.refused("deploy", [
            "@mallory may not deploy (permission: read; needed: write)",
            comments.fork_refusal("mallory/shop"), comments.fork_refusal(""),
            comments.frozen_refusal("production", "alice: incident 42")]),
        "comment-unknown.md": lambda: comments.unknown_command("destroy"),
        "comment-reply.md": lambda: "\n\n".join([
            comments.reply_marker(123456), comments.command_failed("deploy", "no such environment", "try /help"),
            comments.command_failed("plan", comments.INTERNAL),
            comments.planned_again([("production", v.SHA, "1 to replace"), ("staging", v.SHA, "no changes")]),
            comments.rollback_committed(v.SHA, v.COMMIT, "main"),
            comments.froze(["production", "staging"], "incident 42"), comments.unfroze(["production"]),
            comments.unfroze([])]),
        "commit-revert.txt": lambda: comments.revert_message(7, "Bump web", "alice", TRAILER_OF, v.COMMIT),
        # hook, log and healer lines
        "lines-events.txt": lambda: "\n".join(lines.event_line(ev) for ev in v.EVENTS),
        "lines-events-markup.txt": lambda: "\n".join(lines.event_markup(ev) for ev in v.EVENTS),
        "lines-cli-errors.txt": lambda: "\n".join([
            *lines.error_markup("production is frozen by [alice]", "gitdeploy unfreeze"),
            *lines.error_markup("no spec"),
            *lines.crash_markup("KeyError", "'[x]'", "/data/logs/crash-20251129-120000.log")]),
        "lines-hook.txt": lambda: "\n".join([
            lines.checking_line(2, "main", ["production", "staging"]), *lines.problem_lines("fedcba9", v.PROBLEMS[:1]),
            lines.rejected_line(), lines.commit_blocked_line(), lines.deploying_line(v.SHA, "production", "alice"),
            lines.queued_line(17, 900), lines.queued_line(18, 90), lines.queued_line(19, 2.5),
            lines.server_stopped_line(17, "running", v.SHA, "main"), lines.left_job_line(17, 900, "queued"),
            lines.job_ended_line(17, "failed", "deploy of fedcba9 FAILED"), lines.unclaimed_line(17),
            lines.not_deployed_line(), lines.retry_line(2)]),
        "lines-repair.txt": lambda: "\n".join(lines.repair_line(ev) for ev in v.EVENTS),
        "lines-watch.txt": lambda: "\n".join([
            lines.watch_line(v.T0, "drift", "2 drift item(s) in production"),
            lines.watch_line(v.T0 + 61, "repair-failed", "shop/web: gate failed"),
            lines.watch_line(v.T0 + 3599.9, "gave-up", "shop/web after 5 failed repairs")]),
        "lines-problems.txt": lambda: "\n".join([
            *lines.problem_lines("fedcba9 (Bump web)", v.PROBLEMS),
            lines.missing_spec_line("0123456 (Initial)", "gitdeploy.yaml")]),
        "lines-errors.txt": lambda: "\n".join([
            *lines.error_lines("production is frozen", "gitdeploy unfreeze"),
            *lines.error_lines("the engine did not answer"),
            *lines.error_lines("production is frozen", "gitdeploy unfreeze", prefix="")]),
        "lines-environment.txt": lambda: "\n".join([
            lines.environment_line("production", v.COMMIT, "alice@host (pid 7)"),
            lines.environment_line("staging", None)]),
        "lines-plain-markup.txt": lambda: lines.plain("[bold red]FAILED[/bold red] \\[not markup] " + "long " * 30),
        # history and status
        "history.txt": lambda: _table(history.history_title("production", v.COMMIT), history.COLUMNS,
                                      [history.attempt_row(a, s) for a, s in v.ATTEMPTS]),
        "history-rows.txt": lambda: "\n".join(" | ".join(history.attempt_row(a, s)) for a, s in v.ATTEMPTS)
        + "\n" + history.history_title("staging", None),
        "history.json": lambda: _json([history.attempt_to_dict(a, s) for a, s in v.ATTEMPTS]),
        "status.json": lambda: _json(status.service_rows(v.LIVE, v.WANTED, containers=True)),
    }
    for name, r in v.RESULTS.items():
        c[f"result-{name}.txt"] = lambda r=r: result.result_text(r)
        c[f"result-{name}-plain.txt"] = lambda r=r: lines.plain(result.result_text(r))
        c[f"result-{name}.md"] = lambda r=r: result.result_markdown(r)
        c[f"result-{name}.json"] = lambda r=r: _json({k: val for k, val in result.result_to_dict(r).items()
                                                      if k != "plan"})  # the plan: plan.json
        c[f"comment-result-{name}.md"] = lambda r=r: comments.result_comment("production", v.SHA, r, "alice",
                                                                              "push")
    c["hook-deploy-ok.txt"] = lambda: _hook_transcript(v.RESULTS["ok"])
    c["hook-deploy-rolled-back.txt"] = lambda: _hook_transcript(v.RESULTS["rolled-back"])
    return c


CASES = _cases()
# Golden files compared by other test modules (kept here so that all wording lives in one folder).
ELSEWHERE = {"diffed-plan.json", "diffed-plan.md", "diffed-plan.txt"}  # tests/core/test_plan_pure.py


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    check_golden(name, CASES[name]())


def test_every_golden_file_has_a_case() -> None:
    stale = sorted(p.name for p in GOLDEN.iterdir() if p.name not in CASES and p.name not in ELSEWHERE)
    assert not stale, f"golden files no test compares (delete them): {stale}"


def test_result_json_holds_the_plan() -> None:
    data = result.result_to_dict(v.RESULTS["ok"])
    assert data["schema"] == "gitdeploy.result/v1" and data["plan"] == plan.plan_to_dict(v.PLAN)


# -- secrets: a value given to the planner never reaches any wording ------------------------------

SECRET = b"hunter2-s3cr3t-VALUE"


def _with_secret(value: bytes) -> Desired:
    store = SecretStore(key=b"k" * 32)
    svc = Service(path="api", image="img:1", secrets=(SecretRef("token", "/run/secrets/token"),))
    fp = store.fingerprint("token", value)
    definition = definition_of(svc, "sha256:" + "a" * 64, {"token": fp})
    return Desired(svc, "sha256:" + "a" * 64, definition, hash_definition(definition), secret_values=((fp, value),))


def test_a_secret_value_never_reaches_any_wording() -> None:
    old, new = _with_secret(b"the old value"), _with_secret(SECRET)
    running = LiveContainer(v.cid(30), "shop.api.1", "api", 1, old.hash, v.SHA, "running", "healthy", old.image_id,
                            v.T0, definition_raw=canonical_json(old.definition))
    live = Live("shop", "production", (running,))
    p = make_plan("shop", "production", v.COMMIT, [new], diff([new], live), live)
    r = Result(p, True, (), None, duration=1.0, events=v.EVENTS)
    texts = {
        "plan_text": plan.plan_text(p), "plan_markdown": plan.plan_markdown(p), "plan_json": plan.plan_json(p),
        "result_json": _json(result.result_to_dict(r)), "result_text": result.result_text(r),
        "result_markdown": result.result_markdown(r),
        "plan_comment": comments.plan_comment("production", v.SHA, p),
        "result_comment": comments.result_comment("production", v.SHA, r, "alice", "push"),
        "hook": _hook_transcript(r),
        **{name: case() for name, case in CASES.items()},
    }
    assert "(secret changed)" in texts["plan_markdown"]  # the change reached the wording, by name only
    fingerprint = new.secret_values[0][0]
    for name, text in texts.items():
        assert SECRET.decode() not in text, f"the secret value is in {name}"
        assert fingerprint not in text, f"the secret's fingerprint is in {name}"


# -- what people write reaches the wording intact, and cannot break its layout -------------------


def test_plan_markdown_blocks_stay_balanced_whatever_the_values() -> None:
    md = plan.plan_markdown(v.PLAN)
    assert open_blocks(md) == ()
    fence = "````"  # a value holds ```: the block's fence is longer
    (_, after) = md.split(f"{fence}diff\n")  # only shop/web holds a fence in a value
    body = after.split(f"\n{fence}\n")[0]
    assert all(line[:1] in (" ", "-", "+") for line in body.splitlines()), body
    assert "+   e" in body.splitlines() and "-   sh -c 'echo ```; echo done'" in body.splitlines()


def test_plan_text_keeps_one_line_per_field() -> None:
    text = lines.plain(plan.plan_text(v.PLAN))
    assert "      labels.motto: [bold]a|b[/bold] -> c|d\\ne" in text.splitlines()
    assert len(text.splitlines()) == 1 + 6 + sum(len(c.fields) for c in v.PLAN.changes) + 1


def test_history_rows_show_what_people_wrote() -> None:
    a, subject = v.ATTEMPTS[3]
    shown = lines.plain(" | ".join(history.attempt_row(a, subject)))
    assert "| [markup] in a subject |" in shown


def test_drift_values_that_span_lines_stay_under_their_item() -> None:
    (block,) = drift.drift_lines([d for d in v.DRIFTS if d.kind == "tampered"])
    first, *rest = block.splitlines()
    assert first.startswith("tampered ") and len(rest) == 3
    assert all(line.startswith(" " * 11) for line in rest), block


def test_the_terminal_event_line_is_the_plain_one_in_colour() -> None:
    for ev in v.EVENTS:
        assert lines.plain(lines.event_markup(ev)) == lines.event_line(ev)


def test_a_backtick_in_a_drift_value_cannot_end_its_code_cell() -> None:
    _, body = drift.issue_markdown("production", "shop", v.COMMIT, v.DRIFTS, [], {})
    (row,) = [line for line in body.splitlines() if line.startswith("| `config`")]
    assert "| `` `sh -c id` \\| ran `` |" in row, row
