"""The house runs one way: every import between gitdeploy's packages points down this order.

Imports anywhere count (module level, inside functions, under TYPE_CHECKING): a late import is
still a dependency. A new package must be given its place here before it can be imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. Packages on one line may not import each other.
LAYERS: list[set[str]] = [
    {"errors", "__init__"},
    {"fsutil", "host", "plumbing"},
    {"spec", "history"},
    {"live"},
    {"plan"},
    {"deploy"},
    {"pipeline"},
    {"heal"},
    {"render"},
    {"server"},
    {"hooks"},
    {"github"},
    {"webhook"},  # http: the Flask app, the dashboard, waitress
    {"cli"},
    {"__main__"},
]
RANK = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}
# Third-party modules allowed only in one package: the edges of the functional core.
ONLY_IN = {"docker": {"live"}, "flask": {"webhook"}, "waitress": {"webhook"}}


def package_of(path: Path, root: Path) -> tuple[str, tuple[str, ...]]:
    """('live', ('gitdeploy', 'live', 'engine')) for gitdeploy/live/engine.py; webhook/* is 'webhook'."""
    parts = path.relative_to(root).with_suffix("").parts
    if parts[0] == "webhook":
        return "webhook", parts
    return parts[1], parts


def imported(tree: ast.AST, parts: tuple[str, ...]) -> Iterator[tuple[str, int]]:
    """Every absolute module name imported in `tree`, with its line (relative imports resolved)."""
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ((node.module,) if node.module else ()))
            else:
                module = node.module or ""
            yield module, node.lineno
            for alias in node.names:  # `from gitdeploy import pipeline` imports a package
                yield f"{module}.{alias.name}", node.lineno


def target_of(module: str) -> str | None:
    head, _, rest = module.partition(".")
    if head == "gitdeploy":
        return rest.split(".")[0] if rest else None
    if head == "webhook":
        return "webhook"
    return None


def violations(root: Path) -> list[str]:
    out: list[str] = []
    for path in sources(root):
        src, parts = package_of(path, root)
        if src not in RANK:
            out.append(f"{path.relative_to(root)}: package {src!r} has no place in LAYERS")
            continue
        for module, line in imported(ast.parse(path.read_text(), str(path)), parts):
            where = f"{path.relative_to(root)}:{line}"
            head = module.split(".")[0]
            if head in ONLY_IN and src not in ONLY_IN[head]:
                out.append(f"{where}: imports {head} outside {'/'.join(sorted(ONLY_IN[head]))}/")
            tgt = target_of(module)
            if tgt is None or tgt == src or tgt in {"__init__", "__version__"}:
                continue
            if tgt not in RANK:
                if (root / "gitdeploy" / tgt).is_dir() or (root / "gitdeploy" / f"{tgt}.py").is_file():
                    out.append(f"{where}: package {tgt!r} has no place in LAYERS")
                continue
            if RANK[tgt] >= RANK[src]:
                out.append(f"{where}: {src} imports {module} ({tgt} is {'beside' if RANK[tgt] == RANK[src] else 'above'} {src})")
    return sorted(set(out))


def sources(root: Path) -> list[Path]:
    return sorted(p for p in [*root.glob("gitdeploy/**/*.py"), *root.glob("webhook/*.py")] if p.is_file())


def test_imports_run_one_way() -> None:
    found = violations(ROOT)
    assert not found, "backward or sideways imports:\n" + "\n".join(found)


def test_the_checker_sees_a_backward_edge(tmp_path: Path) -> None:
    # positive controls, in files laid out like the package: a late import upwards, a relative one,
    # `from gitdeploy import pipeline`, a sideways one and docker outside live/ must all be reported
    for pkg in ("live", "plan", "spec"):
        (tmp_path / "gitdeploy" / pkg).mkdir(parents=True)
    (tmp_path / "gitdeploy" / "live" / "x.py").write_text("def f():\n    from gitdeploy.plan import diff\n")
    (tmp_path / "gitdeploy" / "plan" / "y.py").write_text("from ..deploy import result\nimport docker\n")
    (tmp_path / "gitdeploy" / "spec" / "z.py").write_text(
        "from gitdeploy import pipeline\nfrom gitdeploy.history import notes\n")
    (tmp_path / "gitdeploy" / "spec" / "ok.py").write_text("from gitdeploy.errors import GitdeployError\nfrom . import z\n")
    text = "\n".join(violations(tmp_path))
    assert "live/x.py:2: live imports gitdeploy.plan" in text
    assert "plan/y.py:1: plan imports gitdeploy.deploy" in text
    assert "plan/y.py:2: imports docker outside live/" in text
    assert "spec/z.py:1: spec imports gitdeploy.pipeline" in text
    assert "spec/z.py:2: spec imports gitdeploy.history.notes (history is beside spec)" in text
    assert "ok.py" not in text
