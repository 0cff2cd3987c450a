"""The bot's job handlers: plan a PR, deploy a push, release a closed PR, run PR-comment commands.

`handlers_for(config)` is the registry `gitdeploy serve` hands to the server: a mapping
kind -> Handler that `serve()` binds to its queue (so commands can enqueue deploys, which then
run serialized with the environment's other deploys) and its metrics.

Every handler goes through the one pipeline (`pipeline.prepare` / `pipeline.deploy`), reads the
spec from the repository's mirror (gitdeploy.github.mirror), is idempotent (comments are edited
in place, a re-run deploy converges, the GitHub deployment of a job is remembered) and never
shows GitHub a traceback: users see GitdeployError messages, anything else is "internal error,
see server log" (the traceback goes to the log).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from gitdeploy import pipeline
from gitdeploy.errors import GitdeployError, SpecInvalid
from gitdeploy.github.app import GitHubApp
from gitdeploy.github.commands import comment_deploy_key, run_command
from gitdeploy.github.forge import Annotation, GitHubForge
from gitdeploy.github.mirror import Mirror
from gitdeploy.github.planstore import PlanStore
from gitdeploy.live.factory import Connection, connect
from gitdeploy.live.forksafe import PLACEHOLDERS
from gitdeploy.render import comments
from gitdeploy.render.markdown import split_markdown
from gitdeploy.render.plan import plan_to_dict
from gitdeploy.server.config import Environment, ServerConfig
from gitdeploy.server.metrics import Metrics
from gitdeploy.server.queue import Job, JobQueue, JobSpec, Superseded
from gitdeploy.server.worker import Handler

log = logging.getLogger(__name__)

PLAN_STATUS = "gitdeploy/plan"
DEPLOY_STATUS = "gitdeploy/deploy"


def markdown_parts(marker: str, body: str) -> list[str]:
    return split_markdown(body, reserve=len(marker) + 32)


class Bot:
    """State shared by the handlers: config, plan store, mirrors, forges, engine clients, queue."""

    def __init__(self, config: ServerConfig, *, forge_factory: Callable[[str], GitHubForge] | None = None) -> None:
        self.config = config
        self.store = PlanStore(config.data_dir)
        self.queue: JobQueue | None = None
        self.results = _results_counter(CollectorRegistry())
        self._forge_factory = forge_factory
        self._forges: dict[str, GitHubForge] = {}
        self._clients: dict[str | None, Connection] = {}  # one engine connection per docker_host
        self._mirrors: dict[str, Mirror] = {}
        self._guard = threading.RLock()
        self._app: GitHubApp | None = None
        self._installation_of: dict[str, int] = {}  # repository (lower case) -> App installation id
        self._pr_locks: dict[str, threading.Lock] = {}

    def bind(self, queue: JobQueue, metrics: Metrics | None = None) -> None:
        """Use the server's queue (for follow-up deploy jobs) and metrics registry."""
        self.queue = queue
        if metrics is not None:
            self.results = _results_counter(metrics.registry)

    # -- the edges, one per repository / engine --------------------------------------------

    def forge(self, repo: str, installation: int | None = None) -> GitHubForge:
        """The forge for `repo`. As a GitHub App it acts as the installation fixed in the config,
        else the delivery's `installation` (remembered per repository), else the one GitHub names."""
        if self.config.github.is_app and self._forge_factory is None:
            return self._app_forge(repo, installation)
        with self._guard:
            if repo not in self._forges:
                if self._forge_factory is not None:
                    self._forges[repo] = self._forge_factory(repo)
                elif self._forges:  # one client and one identity (learned once) for every repository
                    self._forges[repo] = next(iter(self._forges.values())).for_repo(repo)
                else:
                    gh = self.config.github
                    self._forges[repo] = GitHubForge(gh.token.reveal(), repo, base_url=gh.base_url, pace=gh.pace,
                                                     bot_login=self.config.bot_login)
            return self._forges[repo]

    def issue_forge(self, repo: str) -> IssueForge:
        """What the drift watcher reports through: `repo`'s forge, made on first use (as an App,
        making it may ask GitHub for the installation, which must not stop the server starting)."""
        return IssueForge(lambda: self.forge(repo))

    def app(self) -> GitHubApp:
        """The GitHub App (github.app_id), created once."""
        with self._guard:
            if self._app is None:
                gh = self.config.github
                assert gh.app_id is not None
                self._app = GitHubApp(gh.app_id, gh.private_key.reveal(), gh.base_url, pace=gh.pace)
            return self._app

    def _app_forge(self, repo: str, installation: int | None) -> GitHubForge:
        gh, app = self.config.github, self.app()
        with self._guard:
            known = self._installation_of.get(repo.lower())
        chosen = gh.installation_id or installation or known or app.installation_for(repo)
        with self._guard:
            self._installation_of[repo.lower()] = chosen
            key = f"{repo.lower()}#{chosen}"
            if key not in self._forges:
                self._forges[key] = GitHubForge("", repo, base_url=gh.base_url, pace=gh.pace,
                                                auth=app.installation_auth(chosen),
                                                bot_login=self.config.bot_login or app.login())
            return self._forges[key]

    def mirror(self, repo: str) -> Mirror:
        with self._guard:
            if repo.lower() not in self._mirrors:
                gh = self.config.github
                token = (lambda: self.forge(repo).git_token()) if gh.is_app else gh.token.reveal()
                m = Mirror(self.config.data_dir, repo, self.config.repository_url(repo), token)
                m.ensure({e.name: e.branch for e in self.config.environments})
                self._mirrors[repo.lower()] = m
            return self._mirrors[repo.lower()]

    def context(self, repo: str, env: Environment, untrusted: bool = False) -> pipeline.Context:
        """The pipeline's context for `env`; `untrusted` (a fork's PR) keeps builds and pulls
        off the engine (gitdeploy.live.forksafe)."""
        with self._guard:
            if env.docker_host not in self._clients:
                self._clients[env.docker_host] = connect(env.docker_host)
            client = self._clients[env.docker_host]
        return pipeline.Context(repo=self.mirror(repo).path, env=env.name, data_dir=self.config.data_dir,
                                docker_host=env.docker_host, client=client, untrusted=untrusted,
                                engine_kind=env.engine, registry=env.registry, node_hosts=dict(env.node_hosts))

    def environment(self, name: str) -> Environment:
        env = self.config.environment(name)
        if env is None:
            raise GitdeployError(f"environment '{name}' is not in the server configuration")
        return env

    def enqueue(self, spec: JobSpec) -> int:
        if self.queue is None:
            raise GitdeployError("the bot is not bound to a job queue", "run it through `gitdeploy serve`")
        return self.queue.enqueue(spec)

    # -- plan --------------------------------------------------------------------------------

    def plan(self, job: Job) -> str:
        """`plan` job: plan the PR head for one environment; one comment per PR, edited in place."""
        p = job.payload
        env = self.environment(p["environment"])
        forge = self.forge(p["repo"], p.get("installation"))  # act as the delivery's installation
        fork = p.get("fork")
        if fork is None:  # a re-run asked for from a check run: the delivery does not say
            pull = forge.pull(int(p["pr"]))
            if pull.state != "open" or pull.head_sha != p["head_sha"]:
                return f"skipped: #{p['pr']} is closed or moved to {pull.head_sha[:7]}"
            fork = pull.from_fork
        _, summary = self.run_plan(p["repo"], int(p["pr"]), p["head_sha"], env, fork=bool(fork))
        return f"planned #{p['pr']} at {p['head_sha'][:7]} for {env.name}: {summary}"

    def run_plan(self, repo: str, pr: int, sha: str, env: Environment, fork: bool = False) -> tuple[bool, str]:
        """Plan `sha` of PR `pr` against `env`: comment, commit status, stored plan. Returns (ok, summary).

        A `fork`'s PR is planned without building or pulling anything, unless `allow_fork_prs`."""
        untrusted = fork and not self.config.allow_fork_prs
        forge = self.forge(repo)
        run = self._begin(forge, sha, PLAN_STATUS, f"{env.name}: planning")
        plan_dict: dict[str, Any] = {}
        annotations: list[Annotation] = []
        try:
            self.mirror(repo).fetch(sha, f"refs/pull/{pr}/head")
            prepared = pipeline.prepare(self.context(repo, env, untrusted), sha)
        except SpecInvalid as exc:
            ok, state, summary = False, "failure", comments.invalid_summary(exc.problems)
            body = comments.invalid_comment(env.name, sha, exc.problems)
            annotations = [Annotation(p.file, p.line, p.message, p.column, "gitdeploy: invalid spec", p.hint)
                           for p in exc.problems]
        except GitdeployError as exc:
            ok, state, summary = False, "error", exc.message
            body = comments.error_comment(env.name, sha, exc.message, exc.hint)
        except Exception:  # noqa: BLE001 - a bug: the log gets the traceback, GitHub a plain note
            log.exception("planning #%s at %s for %s failed", pr, sha[:12], env.name)
            ok, state, summary = False, "error", comments.INTERNAL
            body = comments.error_comment(env.name, sha, comments.INTERNAL)
        else:
            ok, state, summary = True, "success", prepared.plan.summary()
            skipped = [(d.path, d.image_id) for d in prepared.desired if d.image_id in PLACEHOLDERS]
            body = comments.plan_comment(env.name, sha, prepared.plan, untrusted=untrusted, skipped=skipped)
            plan_dict = plan_to_dict(prepared.plan)
        url = self._show_plans(forge, repo, pr, env.name, sha, ok=ok, summary=summary, markdown=body,
                               plan=plan_dict)
        self._end(forge, sha, PLAN_STATUS, run, state, f"{env.name}: {summary}", target_url=url or None,
                  summary=body, annotations=annotations)
        return ok, summary

    def _show_plans(self, forge: GitHubForge, repo: str, pr: int, env: str, sha: str, **plan: Any) -> str:
        """Store `env`'s plan of `pr` and show every open plan of the PR, one section per
        environment in configuration order, in its one plan comment. Returns the comment's URL."""
        order = {e.name: i for i, e in enumerate(self.config.environments)}
        with self._pr_lock(repo, pr):  # two environments planned at once must not drop a section
            self.store.save(repo, pr, env, sha, **plan)
            stored = sorted(self.store.plans_for(repo, pr), key=lambda s: order.get(s.environment, len(order)))
            marker = comments.plan_marker()
            refs = forge.upsert_marked_comment(pr, marker, markdown_parts(
                marker, comments.plan_sections([s.markdown for s in stored])))
            self.store.save(repo, pr, env, sha, **plan, url=refs[0].url)
        return refs[0].url

    def _pr_lock(self, repo: str, pr: int) -> threading.Lock:
        with self._guard:
            return self._pr_locks.setdefault(f"{repo.lower()}#{pr}", threading.Lock())

    # -- commit statuses (token) or check runs (GitHub App) -------------------------------------

    @staticmethod
    def _begin(forge: GitHubForge, sha: str, name: str, description: str) -> int | None:
        """Mark `name` on `sha` as in progress: a check run as an App (its id), else a pending status."""
        if forge.is_app:
            return forge.start_check(sha, name, description)
        forge.set_status(sha, name, "pending", description)
        return None

    @staticmethod
    def _end(forge: GitHubForge, sha: str, name: str, run: int | None, state: str, description: str, *,
             target_url: str | None = None, summary: str = "", annotations: Sequence[Annotation] = ()) -> None:
        """Complete what `_begin` started: `state` success, failure or error."""
        if run is None:
            forge.set_status(sha, name, state, description, target_url=target_url)
        else:
            forge.finish_check(run, "success" if state == "success" else "failure", description,
                               summary or description, annotations, details_url=target_url)

    # -- deploy ------------------------------------------------------------------------------

    def deploy(self, job: Job) -> str:
        """`deploy` job: a push to an environment branch, or a deploy asked for from a PR comment."""
        p = job.payload
        repo, sha, who = p["repo"], p["sha"], p.get("pusher") or "unknown"
        trigger = p.get("trigger", "push")
        pr = int(p["pr"]) if p.get("pr") else None
        env = self.environment(p["environment"])
        forge = self.forge(repo, p.get("installation"))
        if trigger == "comment" and pr is not None:
            why = self._comment_deploy_gone(forge, repo, pr, env.name, sha)
            if why:
                return f"skipped: {why}"
        if trigger == "push":
            self._still_head(repo, p.get("ref") or "", sha)
        run = self._begin(forge, sha, DEPLOY_STATUS, f"deploying to {env.name}")
        key = f"{job.id}:{env.name}:{sha}"
        deployment = self.store.deployment_for(key)
        if deployment is None:
            deployment = forge.create_deployment(sha, env.name, f"gitdeploy: {trigger} by {who}",
                                                 payload={"job": job.id, "trigger": trigger})
            self.store.remember_deployment(key, deployment)
        forge.deployment_status(deployment, "in_progress", f"deploying {sha[:7]}")
        prs = [pr] if pr is not None else forge.prs_for_commit(sha)
        marker = comments.deploy_marker(env.name, sha)
        try:
            self.mirror(repo).fetch(sha, p.get("ref") or f"refs/gitdeploy-bot/{sha}")
            result = pipeline.deploy(self.context(repo, env), sha, trigger=trigger, who=who)
        except Exception as exc:  # noqa: BLE001 - reported, then re-raised for the job record
            message, hint = (exc.message, exc.hint) if isinstance(exc, GitdeployError) else (comments.INTERNAL, "")
            if not isinstance(exc, GitdeployError):
                log.exception("deploying %s to %s failed", sha[:12], env.name)
            self.results.labels(env.name, "refused").inc()
            self._end(forge, sha, DEPLOY_STATUS, run, "failure", f"{env.name}: {message}",
                      summary=f"{message}\n\n{hint}".strip())
            forge.deployment_status(deployment, "failure", message)
            for n in prs:
                forge.upsert_marked_comment(n, marker, markdown_parts(
                    marker, comments.deploy_error_comment(env.name, sha, message, hint)))
            if isinstance(exc, GitdeployError):
                raise
            raise GitdeployError(comments.INTERNAL) from None
        outcome = "ok" if result.ok else "rolled-back" if result.rolled_back else "failed"
        self.results.labels(env.name, outcome).inc()
        state = "success" if result.ok else "failure"
        body = comments.result_comment(env.name, sha, result, who, trigger)
        self._end(forge, sha, DEPLOY_STATUS, run, state, f"{env.name}: {result.headline}", summary=body)
        forge.deployment_status(deployment, state, result.headline)
        for n in prs:
            forge.upsert_marked_comment(n, marker, markdown_parts(marker, body))
        if not result.ok:
            raise GitdeployError(result.headline, result.failure)
        return f"deployed {sha[:7]} to {env.name}: {result.headline}"

    def _still_head(self, repo: str, ref: str, sha: str) -> None:
        """Raise Superseded unless `sha` is still the head of the pushed branch (never replay the past:
        a newer push has its own job; /deploy and /rollback are asked for explicitly and skip this)."""
        if not ref.startswith("refs/heads/"):
            return
        branch = ref.removeprefix("refs/heads/")
        head = self.mirror(repo).fetch_branch(branch)
        if head != sha:
            raise Superseded(f"superseded: {head[:7]} is newer on {branch} (the head now); {sha[:7]} was not deployed")

    def _comment_deploy_gone(self, forge: GitHubForge, repo: str, pr: int, env: str, sha: str) -> str:
        """Why a queued comment deploy must not run any more ("" when it still should)."""
        pull = forge.pull(pr)
        if pull.state != "open":
            return f"pull request #{pr} was closed"
        if pull.head_sha != sha:
            return f"pull request #{pr} moved to {pull.head_sha[:7]}"
        stored = self.store.get(repo, pr, env)
        if stored is None or stored.state != "open":
            return f"the plan of #{pr} was released"
        return ""

    # -- release -----------------------------------------------------------------------------

    def release(self, job: Job) -> str:
        """`release` job: a PR closed unmerged releases its plans (every environment's, those asked
        for with `/plan ENV` too) and cancels its queued deploys."""
        p = job.payload
        repo, pr = p["repo"], int(p["pr"])
        envs = {p["environment"]} | {s.environment for s in self.store.plans_for(repo, pr)}
        released = [env for env in sorted(envs) if self.store.release(repo, pr, env)]
        cancelled = sum(self.queue.cancel(comment_deploy_key(env, repo, pr), f"#{pr} closed") if self.queue else 0
                        for env in sorted(envs))
        what = f"plan{'s' if len(released) != 1 else ''} of {', '.join(released)} released" if released else \
            "plan already released"
        return f"#{pr} closed: {what}, {cancelled} deploy(s) cancelled"

    def command(self, job: Job) -> str:
        """`command` job: a PR-comment command (see gitdeploy.github.commands)."""
        return run_command(self, job)


class IssueForge:
    """Drift issues through a forge made on first use (see Bot.issue_forge)."""

    def __init__(self, make: Callable[[], GitHubForge]) -> None:
        self._make = make

    def open_or_update_issue(self, marker: str, title: str, body: str, labels: Sequence[str] = ("gitdeploy",)) -> Any:
        return self._make().open_or_update_issue(marker, title, body, labels)

    def close_issue(self, marker: str, comment: str | None = None, labels: Sequence[str] = ("gitdeploy",)) -> int | None:
        return self._make().close_issue(marker, comment, labels)


def _results_counter(registry: CollectorRegistry) -> Counter:
    return Counter("gitdeploy_bot_deploy_results", "Deploys run by the bot by environment and outcome "
                   "(ok, rolled-back, failed, refused)", ["environment", "outcome"], registry=registry)


def _guarded(name: str, fn: Handler) -> Handler:
    """Turn a bug into a plain GitdeployError for the job record; the traceback goes to the log."""

    @functools.wraps(fn)
    def run(job: Job) -> str:
        try:
            return fn(job)
        except GitdeployError:
            raise
        except Exception:  # noqa: BLE001
            log.exception("%s job %d raised", name, job.id)
            raise GitdeployError(comments.INTERNAL) from None

    return run


class BotHandlers(Mapping[str, Handler]):
    """The registry for `serve()`: kind -> handler, plus `bind(queue, metrics)`."""

    def __init__(self, bot: Bot) -> None:
        from gitdeploy.hooks import jobs as gitops_jobs  # pushes to hooked bare repos (post-receive)

        self.bot = bot
        self._handlers = {kind: _guarded(kind, getattr(bot, kind)) for kind in ("plan", "command", "deploy", "release")}
        self._handlers.update(gitops_jobs.handlers(bot.config.data_dir))
        self.watchers: dict[str, Any] = {}  # environment -> gitdeploy.heal.loop.Watcher, set by `serve`

    def bind(self, queue: JobQueue, metrics: Metrics | None = None) -> None:
        self.bot.bind(queue, metrics)
        if metrics is not None:
            from gitdeploy.heal.metrics import DriftCollector

            metrics.registry.register(DriftCollector(lambda: self.watchers))

    def __getitem__(self, kind: str) -> Handler:
        return self._handlers[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._handlers)

    def __len__(self) -> int:
        return len(self._handlers)


def handlers_for(config: ServerConfig, **kw: Any) -> BotHandlers:
    """The bot's job handlers for `serve(config, handlers_for(config))`."""
    return BotHandlers(Bot(config, **kw))
