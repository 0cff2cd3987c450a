"""Issue 10's bar: a corpus of broken specs (tests/spec/corpus/*.cases, plus the generated ones
below), each refused by `validate` - exit 2, a located problem, no traceback, within 5 s - and
by `deploy`, which creates no container (counted with the engine's own events).

Validation and deploys run in-process (fast); the CLI runs as a subprocess for a sample.
"""

from __future__ import annotations

import codecs
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gitdeploy import pipeline
from gitdeploy.errors import EXIT_INVALID, SpecInvalid
from gitdeploy.spec.load import load_spec
from gitdeploy.spec.source import open_source

CORPUS = Path(__file__).parent / "corpus"
RUN = f"cx{uuid.uuid4().hex[:8]}"  # the system name of this run: every engine event is counted by it
ROOT = Path(__file__).resolve().parents[2]
HANG = 30.0  # seconds: see test_validate_refuses_with_a_location


@dataclass
class Case:
    name: str
    spec: bytes
    expect: str
    at: str  # "LINE:COL", "FILE:LINE:COL" or "none"
    files: dict[str, bytes] = field(default_factory=dict)
    engine: str = "docker"  # the engine validation is for (`### engine: swarm`)

    @property
    def location(self) -> str | None:
        if self.at == "none":
            return None
        return self.at if self.at.count(":") == 2 else f"gitdeploy.yaml:{self.at}"


def read_cases(path: Path) -> list[Case]:
    out: list[Case] = []
    for line in path.read_text().splitlines(keepends=True):
        if line.startswith("### "):
            key, _, value = line[4:].rstrip("\n").partition(": ")
            if not value and not key.startswith(("expect", "at", "file", "engine")):
                out.append(Case(f"{path.stem}/{key}", b"", "", ""))
            elif key == "expect":
                out[-1].expect = value.replace("SYSTEM", RUN)
            elif key == "at":
                out[-1].at = value
            elif key == "engine":
                out[-1].engine = value
            elif key == "file":
                name, _, content = value.partition(" = ")
                out[-1].files[name] = codecs.escape_decode(content.encode())[0]
            continue
        out[-1].spec += line.replace("SYSTEM", RUN).encode()
    return out


def laughs(levels: int) -> str:
    out = ["x-l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        out.append(f"x-l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(out) + "\n"


def generated() -> list[Case]:
    s = f"system: {RUN}\n"
    web = "services:\n  web:\n    image: x\n"
    bomb = "the document holds more than 250,000 values"
    groups, indent = s + "groups:\n", "  "
    for i in range(400):
        groups += f"{indent}g{i}:\n{indent}  groups:\n"
        indent += "    "
    block, indent = s + "x:\n", "  "
    for i in range(150):
        block += f"{indent}k{i}:\n"
        indent += "  "
    chain = s + "services:\n" + "".join(f"  s{i}: {{image: x, depends_on: [s{i + 1}]}}\n" for i in range(999))
    return [
        Case("gen/laughs-restart", (s + laughs(9) + web + "    restart: *l9\n").encode(), bomb, "7:17"),
        Case("gen/laughs-in-use", (s + laughs(4) + web + "    environment: [*l4, *l4, *l4, *l4, *l4, *l4, *l4, *l4, "
                                   "*l4, *l4, *l4, *l4, *l4, *l4, *l4, *l4, *l4, *l4, *l4, *l4, *l4, *l4]\n").encode(),
             bomb, "10:24"),
        Case("gen/laughs-config-mode", (s + laughs(9) + web + "    configs: [{source: a.conf, mode: *l9}]\n").encode(),
             bomb, "7:17", {"a.conf": b"x"}),
        Case("gen/laughs-small-restart", (s + laughs(3) + web + "    restart: *l3\n").encode(),
             "invalid restart policy a list in service 'web'", "9:14"),
        Case("gen/laughs-small-mode", (s + laughs(3) + web + "    configs: [{source: a.conf, mode: *l3}]\n").encode(),
             "config mode must be octal permissions like 0444, not a list", "9:38", {"a.conf": b"x"}),
        Case("gen/deep-flow", (s + "services: " + "[" * 2000 + "]" * 2000 + "\n").encode(),
             "the document nests deeper than 100 levels", "2:1010"),
        Case("gen/deep-flow-map", (s + "x: " + "{a: " * 1500 + "1" + "}" * 1500 + "\n").encode(),
             "the document nests deeper than 100 levels", "2:400"),
        Case("gen/deep-block", (block + f"{indent}end: 1\n" + web).encode(), "the document nests deeper than 100 levels",
             "102:201"),
        Case("gen/deep-list", (s + "x:\n" + "".join("  " * i + "-\n" for i in range(120)) + web).encode(),
             "the document nests deeper than 100 levels", "102:199"),
        Case("gen/groups-400", (groups + f"{indent}last: {{services: {{web: {{image: x}}}}}}\n").encode(),
             "the document nests deeper than 100 levels", "102:201"),
        Case("gen/cycle-1000", (chain + "  s999: {image: x, depends_on: [s0]}\n").encode(),
             "dependency cycle: s0 -> s1 -> s2", "3:31"),
        Case("gen/chain-1000-missing-end", chain.encode(), "depends on 's999', which does not exist", "1001:33"),
        Case("gen/system-300", (f"system: {RUN}" + "a" * 290 + "\n" + web).encode(),
             "has 300 characters (at most 63)", "1:9"),
        Case("gen/not-utf8", (s + web + "    command: [\"caf\xe9\"]\n").encode("latin-1"),
             "gitdeploy.yaml is not UTF-8 text (invalid continuation byte", "5:19"),
        Case("gen/utf16", (s + web).encode("utf-16"), "gitdeploy.yaml is not UTF-8 text", "1:1"),
        Case("gen/big-file", (s + web + "# " + "x" * (4 * 1024 * 1024) + "\n").encode(),
             "gitdeploy.yaml is larger than 4 MiB", "5:4194256"),
        Case("gen/many-values", (s + "x: [" + "1, " * 260_000 + "]\n" + web).encode(), bomb, "2:749990"),
        Case("gen/many-problems", (s + "services:\n" + "".join(f"  s{i}: {{image: x, restart: bad}}\n"
                                                              for i in range(1200))).encode(),
             "and 200 more problems (only the first 1,000 are listed)", "none"),
        Case("gen/many-duplicates", (s + "services:\n  web: {image: x}\n" + "  web: {image: x}\n" * 3000).encode(),
             "duplicate key 'web' (first defined at line 3)", "4:3"),
        Case("gen/port-budget", (s + "x-p: &p ['1-65535']\nservices:\n"
                                 + "".join(f"  s{i}: {{image: x, ports: *p}}\n" for i in range(200))).encode(),
             "the spec declares more than 65,535 ports", "2:10"),
        Case("gen/unknown-keys-many", (s + web + "".join(f"    k{i}x{'y' * 200}: 1\n" for i in range(3000))).encode(),
             "unknown key 'k0xyyyyy", "5:5"),
        Case("gen/constraints-101", (s + web + "    placement:\n      constraints:\n"
                                     + "".join(f"        - node.labels.l{i} == x\n" for i in range(101))).encode(),
             "placement.constraints has more than 100 entries", "107:11", engine="swarm"),
        Case("gen/long-string-restart", (s + web + "    restart: '" + "x" * 1_000_000 + "'\n").encode(),
             "invalid restart policy 'xxxxxxxx", "5:14"),
    ]


CASES = [c for f in sorted(CORPUS.glob("*.cases")) for c in read_cases(f)] + generated()


def test_the_corpus_is_large_and_well_formed():
    assert len(CASES) >= 200
    assert len({c.name for c in CASES}) == len(CASES)
    for c in CASES:
        assert c.spec and c.expect and c.at, c.name


@pytest.fixture(scope="module")
def repos(tmp_path_factory) -> dict[str, Path]:
    """One committed repository per case."""
    base = tmp_path_factory.mktemp("corpus")
    template = base / "template"  # one `git init`, copied; then one `git fast-import` and one
    subprocess.run(["git", "init", "-q", "-b", "main", "--template=", str(template)], check=True)  # read-tree
    out = {}
    for i, c in enumerate(CASES):
        root = base / f"c{i}"
        files = {"gitdeploy.yaml": c.spec, **c.files}
        shutil.copytree(template / ".git", root / ".git")
        for name, content in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(content)
        stream = [b"commit refs/heads/main\nauthor t <t@t> 0 +0000\ncommitter t <t@t> 0 +0000\ndata 6\nbroken\n"]
        stream += [b"M 100644 inline %s\ndata %d\n%s\n" % (name.encode(), len(content), content)
                   for name, content in files.items()]
        subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"".join(stream), check=True)
        subprocess.run(["git", "read-tree", "HEAD"], cwd=root, check=True)  # the index of a clean commit
        out[c.name] = root
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_validate_refuses_with_a_location(case, repos, tmp_path):
    ctx = pipeline.Context(repo=repos[case.name], data_dir=tmp_path / "data")
    start = time.monotonic()
    with pytest.raises(SpecInvalid) as info:
        if case.engine == "docker":
            pipeline.load(ctx)
        else:
            load_spec(open_source(repos[case.name], "HEAD", False), ctx.secrets(), case.engine)
    took = time.monotonic() - start
    # The bar is 5 s on a quiet machine (the slowest case takes about 1.5 s); the suite shares two
    # cores with others, so this only guards against hangs and blow-ups, loosely.
    assert took < HANG, f"{case.name} took {took:.1f}s"
    exc = info.value
    assert exc.exit_code == EXIT_INVALID
    shown = [str(p) for p in exc.problems]
    matching = [p for p in exc.problems if case.expect in p.message]
    assert matching, f"{case.name}: no problem mentions {case.expect!r}: {shown}"
    if case.location is None:
        assert any(p.line == 0 for p in matching), shown
    else:
        assert case.location in [p.location() for p in matching], shown
    assert all(len(p.message) < 2000 for p in exc.problems), "a message printed an expanded value"


def _created(client, since: float, until: float, services_only: bool = False) -> list[str]:
    """Containers created for this run's system (`services_only`: not its engine lock)."""
    events = client.events(since=since, until=until, filters={"type": "container", "event": "create"}, decode=True)
    attrs = [e.get("Actor", {}).get("Attributes", {}) for e in events]
    return [str(a) for a in attrs if RUN in str(a) and (not services_only or a.get("io.gitdeploy.system") == RUN)]


def test_deploy_creates_no_container(repos, tmp_path, docker_client, base_image):
    """Every case through the whole deploy pipeline, in-process, against the real engine."""
    since = time.time() - 1
    failures = []
    for c in CASES:
        ctx = pipeline.Context(repo=repos[c.name], data_dir=tmp_path / "data", client=docker_client)
        try:
            pipeline.deploy(ctx)
            failures.append(f"{c.name}: deployed")
        except SpecInvalid as exc:
            if exc.exit_code != EXIT_INVALID:
                failures.append(f"{c.name}: exit {exc.exit_code}")
        except Exception as exc:  # noqa: BLE001 - the point: anything else is a failure to report
            failures.append(f"{c.name}: {type(exc).__name__}: {str(exc)[:200]}")
    until = time.time() + 1
    assert not failures
    assert _created(docker_client, since, until) == []


def test_deploy_reads_an_invalid_spec_once(repos, tmp_path, docker_client, monkeypatch):
    """A deploy of an invalid spec parses it once (it was read a second time by prepare, and the
    slowest cases take seconds), and still refuses it and records the attempt."""
    from gitdeploy.history.notes import attempts
    from gitdeploy.spec import load as spec_load  # the pipeline imports it where it loads

    calls = []
    real = spec_load.load_spec
    monkeypatch.setattr(spec_load, "load_spec", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    case = next(c for c in CASES if c.engine == "docker")
    ctx = pipeline.Context(repo=repos[case.name], data_dir=tmp_path / "data", client=docker_client)
    with pytest.raises(SpecInvalid):
        pipeline.deploy(ctx)
    assert len(calls) == 1
    assert [a.result for a in attempts(pipeline.open_repo(ctx.repo), "production")][:1] == ["failed"]


def test_deploy_counts_creations_it_sees(spec_repo, docker_client):
    """The counter above is not blind: a valid spec of this run's system creates a container."""
    from tests.specrepo import svc

    spec_repo.commit({"gitdeploy.yaml": {"system": RUN, "services": {"web": svc()}}})
    since = time.time() - 1
    try:
        assert pipeline.deploy(spec_repo.ctx()).ok
        assert len(_created(docker_client, since, time.time() + 1, services_only=True)) == 1
    finally:
        for container in docker_client.containers.list(all=True, filters={"label": f"io.gitdeploy.system={RUN}"}):
            container.remove(force=True)
        for net in docker_client.networks.list(filters={"label": f"io.gitdeploy.system={RUN}"}):
            net.remove()


SAMPLE = list({c.name: c for c in CASES[::20] + [c for c in CASES if c.name in (
    "gen/laughs-restart", "gen/deep-flow", "gen/not-utf8", "yaml/markup-in-value", "yaml/markup-in-key")]}.values())


@pytest.mark.parametrize("case", SAMPLE, ids=[c.name for c in SAMPLE])
def test_cli_validate_exits_2_located(case, repos, tmp_path):
    env = {**os.environ, "GITDEPLOY_HOME": str(tmp_path / "home"), "COLUMNS": "400"}
    proc = subprocess.run([sys.executable, "-m", "gitdeploy", "--repo", str(repos[case.name]), "validate",
                           "--engine", case.engine],
                          capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == EXIT_INVALID, out[-2000:]
    assert "Traceback" not in out and "internal error" not in out
    if case.location is not None:
        assert case.location in out, out[-2000:]
