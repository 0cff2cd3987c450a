"""Turning a docker-compose.yml into gitdeploy.yaml text, keeping comments where possible.

What maps is translated (the `deploy:` block by compose_deploy, file bind mounts -> configs, ...);
everything dropped or changed is returned as a warning, never silently.
"""

from __future__ import annotations

import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from gitdeploy.errors import EXIT_INVALID, GitdeployError
from gitdeploy.spec import fastyaml
from gitdeploy.spec.compose_deploy import translate_deploy, translate_service_limits
from gitdeploy.spec.mounts import BUILD_KEYS
from gitdeploy.spec.names import NAME_MAX
from gitdeploy.spec.tree import SERVICE_KEYS, UNSUPPORTED_SERVICE_KEYS

_INTERPOLATION = re.compile(r"\$\{?[A-Za-z_]")


def import_compose(text: str, system: str | None = None) -> tuple[str, list[str]]:
    """(gitdeploy.yaml text, warnings) for a docker-compose.yml.

    `system` names the system; by default the Compose `name`, else "app". Raises GitdeployError
    when the text is not a YAML mapping.
    """
    _check_bounds(text)
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    try:
        root = yaml.load(text)
    except YAMLError as exc:
        raise GitdeployError(
            f"the Compose file is not valid YAML: {exc}", "fix the YAML first", exit_code=EXIT_INVALID
        ) from None
    if not isinstance(root, CommentedMap):
        raise GitdeployError("the Compose file is not a mapping with `services`", "", exit_code=EXIT_INVALID)
    warnings: list[str] = []
    _top_level(root, system, warnings)
    services = root.get("services")
    if isinstance(services, CommentedMap):
        for name in list(services):
            if isinstance(services[name], CommentedMap):
                _service(str(name), services[name], root, warnings)
    out = io.StringIO()
    yaml.dump(root, out)
    return out.getvalue(), warnings


def _check_bounds(text: str) -> None:
    """Refuses what gitdeploy.yaml may not hold either (alias bombs, deep nesting, complex keys,
    control characters), before ruamel's recursive round-trip loader sees it."""
    try:
        problems = fastyaml.load(text).problems
    except fastyaml.YAMLSyntaxError:
        return  # ruamel reports it, as before
    if problems:
        (line, col), message, hint = problems[0]
        raise GitdeployError(f"the Compose file cannot be imported: line {line}, column {col}: {message}", hint,
                             exit_code=EXIT_INVALID)


def _system_name(root: CommentedMap, system: str | None, warnings: list[str]) -> str:
    if system:
        return system
    name = root.get("name")
    if isinstance(name, str) and name:
        clean = re.sub(r"[^a-z0-9_-]", "-", name.lower()).lstrip("_-")[:NAME_MAX] or "app"  # no dots
        if clean != name:
            warnings.append(f"system name '{clean}' made from the Compose name '{name}'")
        return clean
    warnings.append("no Compose `name`: the system is called 'app'; change `system:` if you like")
    return "app"


def _top_level(root: CommentedMap, system: str | None, warnings: list[str]) -> None:
    root.insert(0, "system", _system_name(root, system, warnings))
    if "name" in root:
        del root["name"]
    for key in list(root):
        if key in ("system", "services", "volumes", "configs", "secrets") or str(key).startswith("x-"):
            continue
        reasons = {
            "version": "gitdeploy.yaml has no version",
            "networks": "every system gets its own network; services reach each other by name",
            "include": "put everything in gitdeploy.yaml",
        }
        warnings.append(f"top-level '{key}' dropped: {reasons.get(str(key), 'not supported by gitdeploy')}")
        del root[key]
    if isinstance(root.get("volumes"), CommentedMap):
        for name, opts in list(root["volumes"].items()):
            if opts:
                warnings.append(
                    f"volume '{name}': options {sorted(opts)} dropped; gitdeploy creates plain local volumes"
                )
                root["volumes"][name] = None
    if isinstance(root.get("configs"), CommentedMap):
        for name, opts in list(root["configs"].items()):
            path = opts.get("file") if isinstance(opts, dict) else None
            if not isinstance(path, str) or path.startswith("/") or ".." in path.split("/"):
                warnings.append(f"config '{name}' dropped: only `file:` inside the repository is supported")
                del root["configs"][name]
                continue
            for extra in [k for k in opts if k != "file"]:
                warnings.append(f"config '{name}': '{extra}' dropped")
                del opts[extra]
            opts["file"] = _repo_path(path)
    if isinstance(root.get("secrets"), CommentedMap):
        for name, opts in list(root["secrets"].items()):
            if not isinstance(opts, dict):
                continue
            for extra in [k for k in opts if k != "environment"]:
                warnings.append(
                    f"secret '{name}': '{extra}' dropped; secret values never live in the repository, "
                    "provide the value on the deploying host"
                )
                del opts[extra]
            if not opts:
                root["secrets"][name] = None


def _repo_path(path: str) -> str:
    while path.startswith("./"):
        path = path[2:]
    return path or "."


def _service(name: str, svc: CommentedMap, root: CommentedMap, warnings: list[str]) -> None:
    where = f"service '{name}'"
    if "deploy" in svc:
        translate_deploy(where, svc, warnings)
    translate_service_limits(where, svc, warnings)
    if "scale" in svc:
        if "replicas" not in svc:
            svc.insert(list(svc).index("scale"), "replicas", svc["scale"])
        warnings.append(f"{where}: `scale` became `replicas`")
        del svc["scale"]
    for key in list(svc):
        k = str(key)
        if k in SERVICE_KEYS or k.startswith("x-"):
            continue
        reason = UNSUPPORTED_SERVICE_KEYS.get(k, "not supported by gitdeploy")
        warnings.append(f"{where}: '{k}' dropped ({reason})")
        del svc[key]
    if isinstance(svc.get("image"), str) and _INTERPOLATION.search(svc["image"]):
        warnings.append(
            f"{where}: image '{svc['image']}' uses variables, which gitdeploy does not interpolate"
        )
    if isinstance(svc.get("build"), CommentedMap):
        for key in [k for k in svc["build"] if k not in BUILD_KEYS]:
            warnings.append(f"{where}: build.{key} dropped")
            del svc["build"][key]
    if "volumes" in svc and isinstance(svc["volumes"], list):
        _volumes(where, svc, root, warnings)
    if "environment" in svc:
        _environment(where, svc, warnings)
    if isinstance(svc.get("depends_on"), CommentedMap):
        _depends_on(where, svc["depends_on"], warnings)
    if isinstance(svc.get("healthcheck"), CommentedMap) and "start_interval" in svc["healthcheck"]:
        warnings.append(f"{where}: healthcheck.start_interval dropped")
        del svc["healthcheck"]["start_interval"]
    if isinstance(svc.get("ports"), list):
        for item in svc["ports"]:
            if isinstance(item, CommentedMap):
                for extra in [k for k in item if k in ("name", "app_protocol", "mode")]:
                    warnings.append(f"{where}: ports.{extra} dropped")
                    del item[extra]


def _volumes(where: str, svc: CommentedMap, root: CommentedMap, warnings: list[str]) -> None:
    kept = CommentedSeq()
    configs = svc.get("configs") if isinstance(svc.get("configs"), list) else CommentedSeq()
    for item in svc["volumes"]:
        source, target, kind = _mount(item)
        if kind == "volume" and source:
            kept.append(item)
        elif (
            kind == "bind"
            and source
            and target
            and not source.startswith(("/", "~"))
            and ".." not in source.split("/")
        ):
            configs.append(f"{_repo_path(source)}:{target}")
            warnings.append(
                f"{where}: bind mount '{source}' became a config mounted read-only at {target}; "
                "the file must be committed to the repository (directories are not supported)"
            )
        elif kind == "bind":
            warnings.append(
                f"{where}: bind mount of the host path '{source}' dropped; use a named volume or a config"
            )
        else:
            warnings.append(f"{where}: volume {item!r} dropped (only named volumes are supported)")
    if kept:
        svc["volumes"] = kept
    else:
        del svc["volumes"]
    if configs and "configs" not in svc:
        svc["configs"] = configs


def _mount(item: Any) -> tuple[str | None, str | None, str]:
    """(source, target, "volume"|"bind"|other) of a volume entry in short or long form."""
    if isinstance(item, str):
        parts = item.split(":")
        if len(parts) == 1:
            return None, parts[0], "anonymous"
        source, target = parts[0], parts[1]
        bind = source.startswith(("/", ".", "~")) or "/" in source
        return source, target, "bind" if bind else "volume"
    if isinstance(item, dict):
        return item.get("source"), item.get("target"), str(item.get("type", "volume"))
    return None, None, "invalid"


def _environment(where: str, svc: CommentedMap, warnings: list[str]) -> None:
    env = svc["environment"]
    hint = "gitdeploy never copies the host's environment; write the value or use a secret"
    if isinstance(env, CommentedMap):
        for key in list(env):
            if env[key] is None:
                warnings.append(f"{where}: environment '{key}' has no value and was dropped ({hint})")
                del env[key]
            elif isinstance(env[key], str) and _INTERPOLATION.search(env[key]):
                warnings.append(
                    f"{where}: environment '{key}' uses variables, which gitdeploy does not interpolate"
                )
    elif isinstance(env, list):
        for item in list(env):
            if isinstance(item, str) and "=" not in item:
                warnings.append(f"{where}: environment '{item}' has no value and was dropped ({hint})")
                env.remove(item)
            elif isinstance(item, str) and _INTERPOLATION.search(item):
                warnings.append(
                    f"{where}: environment '{item.split('=')[0]}' uses variables, which gitdeploy does not interpolate"
                )


def _depends_on(where: str, deps: CommentedMap, warnings: list[str]) -> None:
    for name, opts in deps.items():
        if not isinstance(opts, dict):
            continue
        if opts.get("condition") == "service_completed_successfully":
            opts["condition"] = "service_started"
            warnings.append(
                f"{where}: depends_on.{name} condition service_completed_successfully became service_started"
            )
        for extra in [k for k in opts if k != "condition"]:
            warnings.append(f"{where}: depends_on.{name}.{extra} dropped")
            del opts[extra]
