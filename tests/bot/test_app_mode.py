"""The bot as a GitHub App, end to end: the server gets its installation from each delivery,
signs JWTs with the App's key (PyGithub), the fake verifies them and attributes the bot's work
to `<slug>[bot]`; installation events are acknowledged; no token reaches the log."""

from __future__ import annotations

import pytest

from gitdeploy.errors import GitdeployError
from gitdeploy.render.comments import plan_marker
from gitdeploy.server.config import load_config
from tests.fixtures import webhook
from tests.github.test_app_auth import key_pair

from .conftest import REPO, Bot, comment_event, pr_event, push_event, svc

APP_ID, INSTALLATION = 5725, 2311213


@pytest.fixture
def app_bot(tmp_path, fake_github, origin):
    private, public = key_pair()
    (tmp_path / "app.pem").write_text(private)
    fake_github.state.add_repo(REPO, default_branch="main")
    fake_github.state.add_app(APP_ID, "gitdeploy-test", public)
    fake_github.state.add_installation(INSTALLATION, APP_ID, REPO)
    server = Bot(tmp_path, fake_github, origin,
                 github=f"github: {{app_id: {APP_ID}, private_key_file: app.pem, base_url: {fake_github.base_url}, "
                        "pace: false}").start()
    server.private_key = private
    yield server
    server.stop()


def with_installation(body: dict) -> dict:
    body["installation"] = {"id": INSTALLATION, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMjMxMTIxMw=="}
    return body


@pytest.mark.docker
def test_app_mode_plans_comments_and_answers_as_the_apps_bot(app_bot, origin, fake_github, system_name):
    fake = fake_github
    fake.state.set_permission(REPO, "octocat", "write")
    origin.commit("main", {"system": system_name, "services": {"app": svc()}}, "v1")
    head = origin.commit("feature", {"system": system_name, "services": {"app": svc(), "w": svc()}}, "w")
    fake.state.add_pull(REPO, 50, head_sha=head, head_ref="feature", base_ref="main")

    # installation events are acknowledged and logged, nothing queued
    for event, name in (("installation", "installation/created"),
                        ("installation_repositories", "installation_repositories/added")):
        r = app_bot.deliver(event, webhook(name))
        assert r.status_code == 200 and r.json()["jobs"] == [], r.text
    [job] = app_bot.run("pull_request", with_installation(pr_event("opened", 50, head)))
    assert job.state == "done", job.result
    [job] = app_bot.run("pull_request", with_installation(pr_event("synchronize", 50, head)))
    seeded = fake.state.add_comment(REPO, 50, "/plan", user="octocat")
    [job] = app_bot.run("issue_comment", with_installation(comment_event(50, "/plan", "octocat", seeded["id"])))
    assert job.state == "done", job.result

    [plan] = [c for c in fake.state.comments(REPO, 50) if c["body"].startswith(plan_marker("production"))]
    assert plan["user"] == "gitdeploy-test[bot]" and "2 to create" in plan["body"]
    replies = [c for c in fake.state.comments(REPO, 50) if "gitdeploy:reply" in c["body"]]
    assert [c["user"] for c in replies] == ["gitdeploy-test[bot]"]
    assert len(fake.state.calls_to("POST", f"/app/installations/{INSTALLATION}/access_tokens")) == 1
    assert len(fake.state.calls_to("GET", "/app")) == 1 and fake.state.calls_to("GET", "/user") == []
    # a push to main deploys; as an App the deploy is reported as a check run too
    main = origin.head("main")
    [job] = app_bot.run("push", with_installation(push_event("main", "0" * 39 + "1", main)))
    assert job.state == "done", job.result
    [run] = check_runs(fake, main, "gitdeploy/deploy")
    assert (run["conclusion"], run["output"]["title"][:12]) == ("success", "production: ")
    with fake.state.lock:
        assert fake.state.repo(REPO).statuses.get(main) is None
    log = app_bot.output()
    assert "GitHub App installation 2311213 on Codertocat created" in log
    assert "Codertocat/Other; served: none (not in repositories:)" in log
    for token in fake.state.issued_tokens():
        assert token not in log
    assert "PRIVATE KEY" not in log


def test_app_config_keys_and_environment_overrides(tmp_path):
    private, _ = key_pair()
    (tmp_path / "app.pem").write_text(private)
    path = tmp_path / "server.yaml"
    base = "data_dir: d\nwebhook_secret: s\nenvironments: {production: {branch: main}}\nrepositories: [a/b]\n"
    path.write_text(base + "github: {app_id: 12, private_key_file: app.pem, installation_id: 34}\n")
    gh = load_config(path, environ={}).github
    assert (gh.is_app, gh.app_id, gh.installation_id) == (True, 12, 34)
    assert gh.private_key.reveal() == private.rstrip("\n") and private not in repr(gh)
    gh = load_config(path, environ={"GITDEPLOY_GITHUB_APP_ID": "56", "GITDEPLOY_GITHUB_INSTALLATION_ID": "78",
                                    "GITDEPLOY_GITHUB_PRIVATE_KEY": private}).github
    assert (gh.app_id, gh.installation_id, gh.private_key.reveal()) == (56, 78, private)
    path.write_text(base + "github: {token: t}\n")
    assert load_config(path, environ={}).github.is_app is False  # token mode keeps working
    path.write_text(base + "github: {app_id: 12}\n")
    with pytest.raises(GitdeployError, match="needs the App's private key"):
        load_config(path, environ={})
    (tmp_path / "bad.pem").write_text("not a key")
    path.write_text(base + "github: {app_id: 12, private_key_file: bad.pem}\n")
    with pytest.raises(GitdeployError, match="not a PEM private key"):
        load_config(path, environ={})


BROKEN = """system: {system}
services:
  app:
    image: gitdeploy/busybox:1
    replicas: many
"""


def check_runs(fake, sha: str, name: str) -> list[dict]:
    with fake.state.lock:
        return [dict(r) for r in sorted(fake.state.repo(REPO).check_runs.values(), key=lambda r: r["id"])
                if r["head_sha"] == sha and r["name"] == name]


def rerequested(number: int, sha: str, base: str = "main") -> dict:
    body = webhook("check_run/rerequested")
    body["check_run"]["head_sha"] = sha
    body["check_run"]["pull_requests"][0].update(number=number)
    body["check_run"]["pull_requests"][0]["base"]["ref"] = base
    body["check_run"]["pull_requests"][0]["head"]["sha"] = sha
    return body


@pytest.mark.docker
def test_plan_check_run_annotates_the_spec_and_rerequest_plans_again(app_bot, origin, fake_github, system_name):
    fake = fake_github
    origin.commit("main", {"system": system_name, "services": {"app": svc()}}, "v1")
    broken = origin.commit("broken", BROKEN.format(system=system_name), "oops")
    fake.state.add_pull(REPO, 51, head_sha=broken, head_ref="broken", base_ref="main")
    [job] = app_bot.run("pull_request", with_installation(pr_event("opened", 51, broken, "broken")))
    assert job.state == "done", job.result
    [run] = check_runs(fake, broken, "gitdeploy/plan")
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert run["output"]["title"].startswith("production: spec invalid (1 problem)")
    assert "The spec is invalid" in run["output"]["summary"]
    [note] = run["output"]["annotations"]
    assert (note["path"], note["start_line"], note["end_line"], note["annotation_level"]) == (
        "gitdeploy.yaml", 5, 5, "failure")
    assert note["start_column"] == 15 and note["message"]
    with fake.state.lock:
        assert fake.state.repo(REPO).statuses.get(broken) is None  # an App reports with check runs

    good = origin.commit("good", {"system": system_name, "services": {"app": svc(), "w": svc()}}, "fixed")
    fake.state.add_pull(REPO, 52, head_sha=good, head_ref="good", base_ref="main")
    app_bot.run("pull_request", with_installation(pr_event("opened", 52, good, "good")))
    r = app_bot.deliver("check_run", rerequested(52, good))
    assert r.status_code == 202, r.text
    [job] = app_bot.wait(r.json()["jobs"])
    assert job.state == "done", job.result
    runs = check_runs(fake, good, "gitdeploy/plan")
    assert len(runs) == 2 and runs[-1]["conclusion"] == "success"  # the re-run is a new check run
    assert runs[-1]["output"]["title"] == "production: 2 to create"
    assert "| + | `w` | **create** |" in runs[-1]["output"]["summary"]
    # a re-run asked for a head the PR has moved past is skipped
    r = app_bot.deliver("check_run", rerequested(52, broken))
    [job] = app_bot.wait(r.json()["jobs"])
    assert job.state == "done" and job.result.startswith("skipped"), job.result


def test_an_app_bot_starts_its_drift_reporting_without_reaching_github(tmp_path):
    from gitdeploy.github.bot import Bot as BotCore
    from gitdeploy.server.config import Environment, GithubConfig, Secret, ServerConfig

    private, _ = key_pair()
    config = ServerConfig(tmp_path, (REPO,), (Environment("production", "main"),), github=GithubConfig(
        base_url="http://127.0.0.1:9/api/v3", pace=False, app_id=APP_ID, private_key=Secret(private)))
    issues = BotCore(config).issue_forge(REPO)  # nothing asked of GitHub yet: the server can start
    with pytest.raises(GitdeployError, match="cannot reach GitHub"):
        issues.open_or_update_issue("<!-- m -->", "t", "b")
