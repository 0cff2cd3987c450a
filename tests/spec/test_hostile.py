"""Issue 10: hostile and careless specs are located errors, never hangs, crashes or surprises at
deploy. Each test names the finding it covers; the broad sweep is the corpus (test_corpus.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import git
import pytest

from gitdeploy.errors import SpecInvalid
from gitdeploy.live.engine import aliases_for
from gitdeploy.live.model import Live
from gitdeploy.plan.diff import diff
from gitdeploy.plan.planner import make_plan, waves
from gitdeploy.spec.identity import Desired, definition_of, hash_definition
from gitdeploy.spec.load import load_spec, validate_spec
from gitdeploy.spec.names import aliases
from gitdeploy.spec.source import GitSource
from tests.spec.helpers import commit_repo, load, problems, write_repo


def one(tmp_path: Path, spec: str, **kw) -> str:
    found = problems(tmp_path, spec, **kw)
    assert len(found) == 1, found
    return found[0]


# -- finding 1: names that make engine names ambiguous, aliases that collide ------------------


@pytest.mark.parametrize(("spec", "expected"), [
    ("system: a.production.x\nservices:\n  web: {image: x}\n", "gitdeploy.yaml:1:9: invalid system name 'a.production.x'"),
    ("system: s\nservices:\n  web.1: {image: x}\n", "gitdeploy.yaml:3:3: invalid service name 'web.1'"),
    ("system: s\ngroups:\n  a.b:\n    services: {web: {image: x}}\n", "gitdeploy.yaml:3:3: invalid group name 'a.b'"),
    ("system: s\nservices:\n  web: {image: x, volumes: ['x.production.d:/d']}\n",
     "gitdeploy.yaml:3:29: invalid volume name 'x.production.d'"),
    ("system: s\nvolumes:\n  d.x: {}\nservices:\n  web: {image: x}\n", "gitdeploy.yaml:3:3: invalid volume name 'd.x'"),
])
def test_no_dots_in_names_joined_with_dots(tmp_path, spec, expected):
    assert one(tmp_path, spec).startswith(expected)


def test_name_lengths_fit_dns_and_the_engine(tmp_path):
    long = "a" * 64
    assert one(tmp_path / "1", f"system: {long}\nservices:\n  web: {{image: x}}\n").startswith(
        f"gitdeploy.yaml:1:9: the system name '{'a' * 60}…' has 64 characters (at most 63)")
    assert one(tmp_path / "2", f"system: s\nservices:\n  {long}: {{image: x}}\n").startswith(
        "gitdeploy.yaml:3:3: the service name")
    # the DNS name is the dashed path: a deep path is too long even with short names
    spec = "system: s\ngroups:\n  " + "a" * 40 + ":\n    services:\n      " + "b" * 30 + ": {image: x}\n"
    assert "has 71 characters (at most 63)" in one(tmp_path / "3", spec)
    # 63 exactly is fine
    load(tmp_path / "4", "system: s\nservices:\n  " + "c" * 63 + ": {image: x}\n")


def test_alias_collision_names_both_services(tmp_path):
    spec = """\
    system: s
    services:
      shop-web: {image: x}
    groups:
      shop:
        services:
          web: {image: x}
    """
    assert problems(tmp_path, spec) == [
        "gitdeploy.yaml:7:7: services 'shop-web' (line 3) and 'shop/web' both answer to the DNS name 'shop-web' "
        "(hint: rename one of them; a service's DNS name is its path with '/' as '-')"
    ]


def test_aliases_collide_without_case_and_short_names_yield(tmp_path):
    assert "both answer to the DNS name 'Web'" in one(tmp_path, "system: s\nservices:\n  web: {image: x}\n  Web: {image: x}\n")
    # 'a/b-c' would answer to 'b-c', which is the dashed path of 'b/c': the short name yields
    assert aliases(["a/b-c", "b/c"]) == {"a/b-c": ("a-b-c",), "b/c": ("c", "b-c")}
    assert aliases(["web", "shop/web", "api/x"]) == {"web": ("web",), "shop/web": ("shop-web",), "api/x": ("x", "api-x")}


def test_aliases_for_is_still_the_engines(tmp_path):
    spec = load(tmp_path, "system: s\nservices:\n  db: {image: x}\ngroups:\n  shop:\n    services:\n      web: {image: x}\n")
    assert aliases_for(spec) == {"db": ("db",), "shop/web": ("web", "shop-web")}


# -- finding 2: inputs that hang or exhaust -----------------------------------------------


def laughs(levels: int = 9) -> str:
    """A billion-laughs anchor chain: &l{levels} stands for 10**levels strings."""
    out = ["x-l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        out.append(f"x-l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("where", ["    restart: *l9\n", "    configs: [{source: a.conf, mode: *l9}]\n",
                                   "    environment: *l9\n", "    command: *l9\n"])
def test_billion_laughs_is_refused_at_the_alias(tmp_path, where):
    spec = "system: s\n" + laughs() + "services:\n  web:\n    image: x\n" + where
    found = one(tmp_path, spec, files={"a.conf": "x"})
    assert found.startswith("gitdeploy.yaml:7:17:")  # the alias where the count passes the limit
    assert "more than 250,000 values once its aliases are expanded" in found


def test_messages_never_expand_a_value(tmp_path):
    # within the limit, the value still reaches the parsers: they name its kind, never its repr
    spec = "system: s\n" + laughs(3) + "services:\n  web:\n    image: x\n    restart: *l3\n" \
           "    configs: [{source: a.conf, mode: *l3}]\n    rollout: {order: *l3, on_failure: *l3}\n"
    found = problems(tmp_path, spec, files={"a.conf": "x"})
    assert len(found) == 4 and all(len(p) < 300 for p in found), found
    assert "invalid restart policy a list" in found[0]


def test_long_values_are_cut_in_messages(tmp_path):
    found = one(tmp_path, "system: s\nservices:\n  web: {image: x, restart: '" + "x" * 100_000 + "'}\n")
    assert len(found) < 300 and "…" in found


def test_replicas_have_a_documented_maximum(tmp_path):
    assert one(tmp_path, "system: s\nservices:\n  web: {image: x, replicas: 1000000000}\n") == \
        "gitdeploy.yaml:3:29: replicas must be at most 1,000, not 1000000000"
    load(tmp_path / "ok", "system: s\nservices:\n  web: {image: x, replicas: 1000}\n")


def test_port_ranges_are_intervals(tmp_path):
    spec = """\
    system: s
    services:
      a: {image: x, ports: ["10000-40000:10000-40000"]}
      b: {image: x, ports: ["127.0.0.1:30000-30005:80-85", "50000:80"]}
      c: {image: x, ports: ["10.0.0.1:40000:80/udp", "40000:80"]}
    """
    # one problem per entry, at the first port they share, not one per port (30,000)
    assert problems(tmp_path, spec) == [
        "gitdeploy.yaml:4:25: host port 127.0.0.1:30000/tcp of service 'b' is already published by service 'a' "
        "(hint: publish a different host port)",
        "gitdeploy.yaml:5:50: host port 40000/tcp of service 'c' is already published by service 'a' "
        "(hint: publish a different host port)",
    ]
    spec = load(tmp_path / "ok", "system: s\nservices:\n  a: {image: x, ports: ['10000-40000:10000-40000']}\n")
    assert len(spec.services[0].ports) == 30001


def test_ports_have_a_budget_before_ranges_expand(tmp_path):
    spec = "system: s\nx-p: &p ['1-65535']\nservices:\n" + "".join(f"  s{i}: {{image: x, ports: *p}}\n" for i in range(3))
    assert one(tmp_path, spec).startswith("gitdeploy.yaml:2:10: the spec declares more than 65,535 ports")  # the item of s1


# -- finding 3: internal errors where a located exit 2 is promised ------------------------


@pytest.mark.parametrize(("spec", "expected"), [
    ("system: s\nservices:\n  ? {a: 1}\n  : {image: x}\n",
     "gitdeploy.yaml:3:5: a key must be a plain value (text or a number), not a mapping"),
    ("system: s\nservices:\n  ? [a, b]\n  : {image: x}\n",
     "gitdeploy.yaml:3:5: a key must be a plain value (text or a number), not a list"),
    ("system: s\nservices: " + "[" * 2000 + "]" * 2000 + "\n", "gitdeploy.yaml:2:"),
    ("system: s\nx: " + "{a: " * 1500 + "1" + "}" * 1500 + "\n", "gitdeploy.yaml:2:"),
    ("system: " + "a" * 300 + "\nservices:\n  web: {image: x}\n", "gitdeploy.yaml:1:9: the system name"),
    ("system: s\nservices:\n  web: {image: x, stop_grace_period: .inf}\n",
     "gitdeploy.yaml:3:38: stop_grace_period: a duration must be a finite number of seconds, not inf"),
    ("system: s\nservices:\n  web: {image: x, rollout: {deadline: .nan}}\n",
     "gitdeploy.yaml:3:39: rollout.deadline: a duration must be a finite number of seconds, not nan"),
    ("system: s\nservices:\n  web: {image: x, rollout: {monitor: 1e400}}\n",
     "gitdeploy.yaml:3:38: rollout.monitor: a duration must be a finite number of seconds, not inf"),
    ("system: s\nservices:\n  web: {image: x, stop_grace_period: 10000000000h}\n",
     "gitdeploy.yaml:3:38: stop_grace_period: a duration must be at most 9,223,372,036 seconds"),
    ("system: s\nkeep: " + "9" * 5000 + "\nservices:\n  web: {image: x}\n",
     "gitdeploy.yaml:2:7: a number of 5,000 characters (at most 100)"),
])
def test_located_instead_of_internal_errors(tmp_path, spec, expected):
    found = one(tmp_path, spec)
    assert found.startswith(expected), found


def nested_groups(depth: int) -> str:
    text, indent = "system: s\ngroups:\n", "  "
    for i in range(depth):
        text += f"{indent}g{i}:\n{indent}  groups:\n"
        indent += "    "
    return text + f"{indent}last: {{services: {{web: {{image: x}}}}}}\n"


def test_groups_nested_deep(tmp_path):
    assert "nests deeper than 100 levels" in one(tmp_path / "400", nested_groups(400))
    # within the YAML depth, the DNS name of the path stops the descent (and the recursion)
    found = one(tmp_path / "30", nested_groups(30))
    assert "(at most 61 for a group)" in found, found


def chain(n: int, cycle: bool) -> str:
    lines = ["system: s", "services:"]
    lines += [f"  s{i}: {{image: x, depends_on: [s{i + 1}]}}" for i in range(n - 1)]
    lines.append(f"  s{n - 1}: {{image: x{', depends_on: [s0]' if cycle else ''}}}")
    return "\n".join(lines) + "\n"


def test_a_dependency_cycle_through_1000_services(tmp_path):
    found = one(tmp_path, chain(1000, cycle=True))
    assert found.startswith("gitdeploy.yaml:3:31: dependency cycle: s0 -> s1 -> s2 -> s3 -> s4 -> s5 -> "
                            "(990 more) -> s996 -> s997 -> s998 -> s999 -> s0 (hint:")


def test_a_valid_1000_service_chain_validates_and_plans(tmp_path):
    spec = load(tmp_path, chain(1000, cycle=False))
    desired = []
    for s in spec.services:
        definition = definition_of(s, "sha256:" + "a" * 64, {})
        desired.append(Desired(s, "sha256:" + "a" * 64, definition, hash_definition(definition)))
    plan = make_plan("s", "production", None, desired, diff(desired, Live("s", "production", ())),
                     Live("s", "production", ()))
    order = [step.path for step in plan.steps]
    assert order == [f"s{i}" for i in reversed(range(1000))]  # dependencies first
    assert len(waves(plan)) == 1000


def run_git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "protocol.file.allow=always", "-c", "user.name=t", "-c", "user.email=t@t",
                    *args], cwd=cwd, check=True, capture_output=True)


def test_config_env_file_or_build_context_in_a_submodule(tmp_path):
    sub = tmp_path / "sub"
    write_repo(sub, None, {"f": "A=1\n"})
    commit_repo(sub)
    root = tmp_path / "repo"
    write_repo(root, """\
    system: s
    services:
      web:
        image: x
        env_file: conf
        configs: [conf, conf/f]
      b:
        build: ctx
    """, {"ctx/Dockerfile": "FROM x\n"})
    run_git(root, "init", "-q")
    run_git(root, "submodule", "add", "-q", str(sub), "conf")
    run_git(root, "submodule", "add", "-q", str(sub), "ctx/vendor")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-qm", "spec")
    found = [str(p) for p in validate_spec(GitSource(git.Repo(root), "HEAD"))]
    assert found == [
        "gitdeploy.yaml:5:15: env_file 'conf' is a submodule (another repository), not a file",
        "gitdeploy.yaml:6:15: config 'conf' is a submodule (another repository), not a file",
        "gitdeploy.yaml:6:21: config 'conf/f' goes through the submodule 'conf' "
        "(hint: gitdeploy reads only this repository's files; commit the file itself)",
        "gitdeploy.yaml:8:12: the build context 'ctx' contains the submodule 'ctx/vendor' "
        "(hint: gitdeploy builds only from this repository's files; commit them instead of a submodule)",
    ]


# -- finding 4: what only failed at deploy ----------------------------------------------------


@pytest.mark.parametrize(("spec", "expected"), [
    ("system: s\nservices:\n  web: {image: x, restart: 'on-failure:99999999999999999999'}\n",
     "gitdeploy.yaml:3:28: the restart count of service 'web' must be at most 9,223,372,036,854,775,807"),
    ("system: s\nservices:\n  web: {image: x, healthcheck: {test: [CMD, x], retries: 99999999999999999999}}\n",
     "gitdeploy.yaml:3:58: healthcheck.retries must be at most 9,223,372,036,854,775,807"),
    ("system: s\nservices:\n  web: {image: x, healthcheck: {test: [CMD, x], interval: 1ns}}\n",
     "gitdeploy.yaml:3:59: healthcheck.interval must be 0 or at least 1ms (Docker's minimum)"),
    ("system: s\nservices:\n  web: {image: x, configs: [{source: a.conf, target: /}]}\n",
     "gitdeploy.yaml:3:29: a config of service 'web' is mounted at '/', the container's root"),
    ("system: s\nservices:\n  web: {image: x, volumes: ['d:/etc/a/'], configs: [{source: a.conf, target: /etc/a}]}\n",
     "gitdeploy.yaml:3:53: a config of service 'web' is mounted at '/etc/a', where a volume (line 3) is mounted"),
    ("system: s\nservices:\n  web: {image: x, volumes: ['d:/'], secrets: [{source: k, target: /d}, {source: k, target: /d}]}\n",
     "gitdeploy.yaml:3:29: a volume of service 'web' is mounted at '/'"),
    ('system: s\nservices:\n  web: {image: x, environment: {A: "x\\0y"}}\n',
     "gitdeploy.yaml:3:36: a string contains the control character U+0000"),
    ('system: s\nservices:\n  web: {image: x, command: ["sh", "-c", "\\x1b[2J"]}\n',
     "gitdeploy.yaml:3:41: a string contains the control character U+001B"),
    ("system: s\nservices:\n  web:\n    <<: 5\n    image: x\n",
     "gitdeploy.yaml:4:9: a merge key ('<<') takes a mapping or a list of mappings, not a number"),
    ("system: s\nx: &x {image: x}\nservices:\n  web:\n    <<: [*x, 5]\n",
     "gitdeploy.yaml:5:14: a merge key ('<<') takes a mapping or a list of mappings, not a number"),
])
def test_deploy_time_errors_are_validation_errors(tmp_path, spec, expected):
    found = problems(tmp_path, spec, files={"a.conf": "x"})
    assert found and found[0].startswith(expected), found


def test_two_secrets_at_one_target(tmp_path):
    spec = "system: s\nservices:\n  web: {image: x, secrets: [{source: k, target: /d}, {source: j, target: /d/}]}\n"
    assert "a secret of service 'web' is mounted at '/d', where a secret (line 3) is mounted" in one(tmp_path, spec)


def test_env_file_control_characters_are_located(tmp_path):
    found = one(tmp_path, "system: s\nservices:\n  web: {image: x, env_file: a.env}\n",
                files={"a.env": "A=1\nB=x\x00y\n"})
    assert found.startswith("a.env:2:4: the env file has the control character U+0000"), found


def test_merge_keys_still_merge(tmp_path):
    spec = load(tmp_path, "system: s\nx-base: &b {image: x, replicas: 2}\nservices:\n  web: {<<: *b, replicas: 3}\n")
    assert spec.services[0].replicas == 3 and spec.services[0].image == "x"


def test_non_utf8_is_located_by_line_and_column(tmp_path):
    found = one(tmp_path, None, files={"gitdeploy.yaml": b"system: s\nservices:\n  w\xc3\xa9b:\n    image: \xff\n"})
    assert found.startswith("gitdeploy.yaml:4:12: gitdeploy.yaml is not UTF-8 text (invalid start byte at byte 39)")


def test_document_size_is_limited_at_a_position(tmp_path):
    found = one(tmp_path, None, files={"gitdeploy.yaml": "system: s\n" + "#" * (5 * 1024 * 1024) + "\n"})
    assert found.startswith("gitdeploy.yaml:2:4194295: gitdeploy.yaml is larger than 4 MiB")


def test_problems_are_capped(tmp_path):
    spec = "system: s\nservices:\n" + "".join(f"  s{i}: {{image: x, restart: bad}}\n" for i in range(1500))
    with pytest.raises(SpecInvalid) as info:
        load_spec(commit_repo_with(tmp_path, spec))
    found = info.value.problems
    assert len(found) == 1001 and found[-1].message == "and 500 more problems (only the first 1,000 are listed)"


def commit_repo_with(tmp_path: Path, spec: str) -> GitSource:
    write_repo(tmp_path / "r", spec)
    return commit_repo(tmp_path / "r")
