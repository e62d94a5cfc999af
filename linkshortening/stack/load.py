"""Find and read stack files (`stacks/Pulumi.<stack>.yaml`) as strict YAML."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import Stack
from linkshortening.stack.parse import NAMESPACE, parse_stack


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> object:
    """Parse a YAML file, turning every failure into a ConfigError naming the file."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(source, "", "file not found",
                          "check the path, or create it from stacks/Pulumi.example.yaml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "", f"cannot be read ({exc.__class__.__name__})",
                          "make it a readable UTF-8 text file") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(source, "", f"invalid YAML at {where}: {problem}",
                          "fix the YAML syntax there (indentation, quotes, colons)") from None


def load_stack_file(path: Path, name: str | None = None) -> Stack:
    """Load `Pulumi.<stack>.yaml`: the `lsctl:` keys are ours, other namespaces are Pulumi's."""
    source = str(path)
    data = read_yaml(path)
    if not isinstance(data, Mapping) or not isinstance(data.get("config"), Mapping):
        raise ConfigError(source, "config", "a Pulumi stack file needs a top-level config mapping",
                          "start the file with `config:` and put lsctl:domains under it")
    ours: dict[str, Any] = {}
    for key, value in data["config"].items():
        namespace, _, bare = str(key).partition(":")
        if namespace == NAMESPACE and bare:
            ours[bare] = value
    stack_name = name or path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    region = data["config"].get("aws:region")
    if region is not None and (not isinstance(region, str) or not region.strip()):
        raise ConfigError(source, "aws:region", f"{region!r} is not an AWS region name",
                          "set it like `pulumi config set aws:region us-east-1`")
    # Pulumi's AWS provider reads aws:region; lsctl's own AWS clients use the same region.
    return replace(parse_stack(ours, source, stack_name),
                   aws_region=region.strip() if region else None)


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
    return load_stack_file(path, name)
