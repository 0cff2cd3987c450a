"""Start-up: `gitdeploy plan` / `deploy` / `status` import only what they use (issue 14).

`python -X importtime` lists every module a command's start-up imports. The deploy path must not
pull in the bot, the web server or the test tools, and its gitdeploy imports stay within a module
budget. Time is checked too, but with a generous budget: the suite runs on a loaded machine, so
the module lists are the real guard.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# Modules a CLI deploy never needs: the bot and web server (Flask, Werkzeug, waitress, PyGithub,
# Jinja), the payload schemas (jsonschema), syntax highlighting, metrics, test tools, and ruamel
# (the spec parses with libyaml; ruamel only when libyaml refuses a document).
HEAVY = ("flask", "werkzeug", "waitress", "github", "jinja2", "jsonschema", "rich.syntax", "pygments",
         "prometheus_client", "hypothesis", "pytest", "ruamel", "webhook", "gitdeploy.github", "gitdeploy.server",
         "gitdeploy.heal", "gitdeploy.hooks")
# What a deploy on one Docker Engine (the default engine) never imports: the Swarm engine and what drives it.
SWARM = ("gitdeploy.live.swarm", "gitdeploy.pipeline.swarm", "gitdeploy.deploy.swarm")
LOADER = ("gitdeploy.spec.load", "gitdeploy.spec.yamlnode", "gitdeploy.spec.fastyaml", "gitdeploy.spec.checks",
          "gitdeploy.spec.scheduling")
GITDEPLOY_MODULES = 71  # gitdeploy's own modules on the deploy path, a no-op deploy included (66 when pipeline/
# became a package; 83-85 with the swarm engine, which the pipeline now imports only for a cluster: 67-68;
# 71 with the light Engine API client, its HTTP and its errors, gitdeploy.live.api/enginehttp/apierr, not the SDK)
SECONDS = 15.0  # all imports of the start-up (about 0.3 s on a quiet machine; 2-7 s seen at load 17)


def imported(*args: str) -> tuple[list[str], float]:
    """(every module `python -X importtime <args>` imports, the seconds all its imports took)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules: list[str] = []
    total = 0.0
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split(":", 1)[1].split("|")
        modules.append(name.strip())
        if not name.startswith("  "):  # a top-level import (one space, then the name): children included
            total += int(cumulative) / 1e6
    return modules, total


@pytest.mark.parametrize("command", ["deploy", "plan", "status"])
def test_the_deploy_path_imports_only_what_it_uses(command):
    modules, took = imported("-m", "gitdeploy", command, "--help")
    assert "gitdeploy.render.plan" in modules and "gitdeploy.plan.planner" in modules  # it did load the command
    heavy = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY + SWARM))
    assert heavy == [], f"`gitdeploy {command}` imports {heavy}: import them where they are used"
    ours = sorted({m for m in modules if m == "gitdeploy" or m.startswith("gitdeploy.")})
    assert len(ours) <= GITDEPLOY_MODULES, f"{len(ours)} gitdeploy modules on the {command} path: {ours}"
    assert took < SECONDS, f"`gitdeploy {command}` spends {took:.2f}s importing (budget {SECONDS}s)"


def test_a_deploy_on_the_docker_engine_never_imports_the_swarm_engine(spec_repo, system_name):
    """The modules imported while a deploy runs (not only at start-up) are those of the engine it uses:
    a deploy and its no-op repeat on one Docker Engine import nothing of gitdeploy.live.swarm (nor the
    pipeline's and runner's swarm modules), and the no-op stays within the module budget; nor does
    `status`, whose drift detection has a cluster's side too."""
    from tests.specrepo import svc

    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"web": svc(monitor="0s")}}})
    args = ("-m", "gitdeploy", "--repo", str(spec_repo.root), "--data-dir", str(spec_repo.data_dir), "deploy")
    for run in ("first", "no-op"):
        modules, _ = imported(*args)
        swarm = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in SWARM))
        assert swarm == [], f"the {run} deploy on a Docker Engine imports {swarm}"
    ours = sorted({m for m in modules if m == "gitdeploy" or m.startswith("gitdeploy.")})
    assert len(ours) <= GITDEPLOY_MODULES, f"{len(ours)} gitdeploy modules in a no-op deploy: {ours}"
    # the no-op's spec (a tree the first deploy loaded) comes from the cache: no parser, no checks
    loader = sorted(m for m in modules if m in LOADER or m.startswith("yaml"))
    assert loader == [], f"the no-op deploy imports the spec loader: {loader}"
    assert "gitdeploy.live.engine" in modules and "gitdeploy.plan.planner" in modules  # it did deploy
    modules, _ = imported(*args[:-1], "status")  # the drift it shows: one engine's, not a cluster's
    assert "gitdeploy.heal.detect" in modules and not [m for m in modules if m.startswith(SWARM + ("gitdeploy.heal.swarm",))]


SDK = ("docker", "requests")  # the Docker SDK and its HTTP stack: ~0.2 s of start-up (gitdeploy.live.api instead)


def sdk_modules(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == s or m.startswith(s + ".") for s in SDK))


def test_deploys_plan_status_and_check_on_the_docker_engine_never_import_the_docker_sdk(spec_repo, system_name):
    """A no-op deploy, a deploy of a change (ready images: nothing built or pulled), `plan`, `status`
    and `check` speak to the engine through gitdeploy.live.api alone: neither `docker` nor `requests`
    is imported, while the work is done (the change is deployed)."""
    from tests.specrepo import svc

    spec = {"system": system_name, "services": {"web": svc(monitor="0s")}}
    spec_repo.commit({"gitdeploy.yaml": spec})
    base = ("-m", "gitdeploy", "--repo", str(spec_repo.root), "--data-dir", str(spec_repo.data_dir))
    imported(*base, "deploy")  # the first deploy may import the SDK once per engine (the lock's own image)
    before = {c.id for c in spec_repo.client.containers.list(filters={"label": f"io.gitdeploy.system={system_name}"})}
    runs = [("a no-op deploy", "deploy"), ("plan", "plan"), ("status", "status"), ("check", "check")]
    for what, command in runs:
        modules, _ = imported(*base, command)
        assert "gitdeploy.live.api" in modules, f"{what} did not reach the engine"
        assert sdk_modules(modules) == [], f"{what} imports {sdk_modules(modules)}"
    spec["services"]["web"] = svc(monitor="0s", environment={"CHANGED": "1"})
    spec_repo.commit({"gitdeploy.yaml": spec})
    modules, _ = imported(*base, "deploy")
    assert sdk_modules(modules) == [], f"a deploy of a change imports {sdk_modules(modules)}"
    # its output is no terminal (captured): the event lines only, no progress bar to redraw
    assert "gitdeploy.render.lines" in modules and not {"rich.live", "rich.progress"} & set(modules)
    after = {c.id for c in spec_repo.client.containers.list(filters={"label": f"io.gitdeploy.system={system_name}"})}
    assert after and after.isdisjoint(before)  # the change was deployed: a new container serves


GITPYTHON = ("git", "gitdb", "smmap")  # 55-100 ms of imports, and `git version` run twice


def test_a_deploy_and_status_never_import_gitpython(spec_repo, system_name):
    """A deploy (with changes), its no-op repeat and `status` read git through gitdeploy.plumbing
    (the git CLI): GitPython is not imported (see also tests/core/test_git_processes.py)."""
    from tests.specrepo import svc

    spec_repo.commit({"gitdeploy.yaml": {"system": system_name, "services": {"web": svc(monitor="0s")}}})
    args = ("-m", "gitdeploy", "--repo", str(spec_repo.root), "--data-dir", str(spec_repo.data_dir))
    for run in (("deploy",), ("deploy",), ("status",)):
        modules, _ = imported(*args, *run)
        assert "gitdeploy.spec.source" in modules  # it did read the spec
        found = sorted({m for m in modules if m.split(".")[0] in GITPYTHON})
        assert found == [], f"`gitdeploy {run[0]}` imports GitPython: {found}"
