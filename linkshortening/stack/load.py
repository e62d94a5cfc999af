"""Find and read stack files (`stacks/Pulumi.<stack>.yaml`) as strict YAML."""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from linkshortening.stack.errors import ConfigError, quoted
from linkshortening.stack.model import Stack
from linkshortening.stack.parse import NAMESPACE, STACK_KEYS, parse_stack
from linkshortening.stack.yamlread import parse_yaml, read_text, read_yaml


def load_stack_file(path: Path, name: str | None = None, loader: str | None = None) -> Stack:
    """Load `Pulumi.<stack>.yaml`: the `lsctl:` keys are ours, other namespaces are Pulumi's.
    `loader` picks the YAML parser (yamlread.LOADERS; default libyaml where available)."""
    source = str(path)
    data = read_yaml(path, loader)
    if not isinstance(data, Mapping) or not isinstance(data.get("config"), Mapping):
        raise ConfigError(source, "config", "a Pulumi stack file needs a top-level config mapping",
                          "start the file with `config:` and put lsctl:domains under it")
    stack_name = name or path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    region = _aws_region(data["config"], source)
    stack = replace(parse_stack(_ours(data["config"], source), source, stack_name),
                    aws_region=region)
    _refuse_shared_state(path, stack)
    return stack


def _aws_region(config: Mapping[Any, Any], source: str) -> str | None:
    """Pulumi's AWS provider reads aws:region; lsctl's own AWS clients use the same region."""
    region = config.get("aws:region")
    if region is not None and (not isinstance(region, str) or not region.strip()):
        raise ConfigError(source, "aws:region", f"{quoted(region)} is not an AWS region name",
                          "set it like `pulumi config set aws:region us-east-1`")
    return region.strip() if region else None


def _ours(config: Mapping[Any, Any], source: str) -> dict[str, Any]:
    """The `lsctl:` keys, read as the Pulumi program reads them; other namespaces are
    Pulumi's (aws:region, ...), but one a letter or two away from ours is a typo."""
    ours: dict[str, Any] = {}
    for key, value in config.items():
        namespace, _, bare = str(key).partition(":")
        if namespace == NAMESPACE and bare:
            ours[bare] = _as_pulumi_reads(value, source, str(key)) if bare in STACK_KEYS \
                else value
        elif bare and difflib.get_close_matches(namespace, [NAMESPACE], cutoff=0.75):
            raise ConfigError(source, str(key), "is not a known key",
                              f"did you mean {NAMESPACE}:{bare}? (lsctl reads only the "
                              f"{NAMESPACE}: namespace)")
    return ours


def _as_pulumi_reads(value: object, source: str, key: str) -> object:
    """`pulumi config set lsctl:domains '[...]'` stores JSON text, and the program reads
    every stack key with `Config.get_object` (JSON): decode such text the same way."""
    if not isinstance(value, str) or value.lstrip()[:1] not in ("[", "{"):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError) as exc:
        problem = "nests too deeply" if isinstance(exc, RecursionError) else f"is not JSON ({exc})"
        raise ConfigError(source, key, f"holds text that {problem}",
                          "set it as YAML, or as the JSON `pulumi config set` stores") from None


def _refuse_shared_state(path: Path, stack: Stack) -> None:
    """Two stacks on one state location would take each other's lock, account and journal
    (and certificates): refuse a location another stack file beside this one names too."""
    mine = _state_place(stack.acme.state_backend, stack.acme.state_location)
    if mine is None:
        return
    for other in sorted(path.parent.glob("Pulumi.*.yaml")):
        if other.name == path.name or not other.is_file():
            continue
        try:
            text = read_text(other)
            # Only a file that says `location` can set one; skip parsing all the others.
            theirs = _explicit_state(parse_yaml(text, str(other))) if "location" in text else None
        except ConfigError:
            continue  # that file's own load reports what is wrong with it
        if theirs == mine:
            raise ConfigError(str(path), f"{NAMESPACE}:acme.state.location",
                              f"{quoted(stack.acme.state_location)} is also the state location "
                              f"of {other}",
                              "give each stack its own location, or leave it out for the "
                              "per-stack default")


def _explicit_state(data: object) -> tuple[str, str] | None:
    """The (backend, location) a stack file sets explicitly, read without validating it."""
    config = data.get("config") if isinstance(data, Mapping) else None
    acme = _ours(config, "").get("acme") if isinstance(config, Mapping) else None
    state = acme.get("state") if isinstance(acme, Mapping) else None
    if not isinstance(state, Mapping):
        return None
    backend, location = state.get("backend") or "directory", state.get("location")
    if not isinstance(backend, str) or not isinstance(location, str):
        return None
    return _state_place(backend, location)


def _state_place(backend: str, location: str | None) -> tuple[str, str] | None:
    """One spelling per place: `state/./prod` is `state/prod`, `lsctl/prod/` is `lsctl/prod`."""
    if not location:
        return None
    if backend == "directory":
        return backend, os.path.normpath(location)
    return backend, location.rstrip("/")


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest directory holding Pulumi.yaml, from `start` (default: cwd) upwards."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    raise ConfigError(str(here), "", "no Pulumi.yaml here or in any parent directory",
                      "run lsctl inside the project, or pass --stack as a path to a stack file")


def stack_path(stack: str, project_dir: Path | None = None) -> Path:
    """Resolve `--stack`: a path to a stack file, or a name under the project's stacks/."""
    candidate = Path(stack)
    if candidate.suffix in (".yaml", ".yml") or candidate.parent != Path():
        return candidate
    return find_project_dir(project_dir) / "stacks" / f"Pulumi.{stack}.yaml"


def load_stack(stack: str, project_dir: Path | None = None) -> Stack:
    """Load a stack by name (stacks/Pulumi.<name>.yaml) or by path."""
    path = stack_path(stack, project_dir)
    name = stack if path.name == f"Pulumi.{stack}.yaml" else None
    if name is not None and not path.is_file():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml")
                       for p in path.parent.glob("Pulumi.*.yaml"))
        close = difflib.get_close_matches(stack, known, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(str(path), "--stack", f"there is no stack {quoted(stack)}",
                          f"{hint}the stacks here are: {', '.join(known) or 'none'} "
                          "(create one from stacks/Pulumi.example.yaml)")
    return load_stack_file(path, name)
