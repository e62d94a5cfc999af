"""Where a stack's renewer keeps its state in Secrets Manager or S3: `acme.state.location`,
with the prefix by default `lsctl/<project>/<stack>`.

One rule for the renewer (acme_renewer.wiring) and for the role allowed to write there
(components.renewal): they cannot disagree, and no two stacks, nor two Pulumi projects with a
stack of the same name in one AWS account, share a default prefix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from linkshortening.stack.errors import ConfigError
from linkshortening.stack.load import find_project_dir
from linkshortening.stack.model import Stack
from linkshortening.stack.s3_url import S3Location, split_s3_url
from linkshortening.stack.yamlread import read_yaml

ROOT = "lsctl"
PROJECT_FILE = "Pulumi.yaml"
# Pulumi's rule for project names; every such name is also valid in a secret's name.
PROJECT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def default_prefix(project: str, stack: str) -> str:
    return f"{ROOT}/{project}/{stack}"


def secrets_manager_prefix(stack: Stack, project_dir: Path | None = None) -> str:
    """The stack's explicit location, else the default for its project and name."""
    return stack.acme.state_location or default_prefix(project_of(stack, project_dir),
                                                       stack.name)


def project_of(stack: Stack, project_dir: Path | None = None) -> str:
    """The name in the Pulumi.yaml of `project_dir`, else of the project the stack file is in
    (the Lambda's code carries Pulumi.yaml beside stacks/ for this)."""
    if project_dir is None:
        try:
            project_dir = find_project_dir(Path(stack.source).resolve().parent)
        except ConfigError:
            raise ConfigError(
                stack.source, "lsctl:acme.state.location",
                f"is not set, and no {PROJECT_FILE} above the stack file names the project "
                f"for the default {default_prefix('<project>', stack.name)}",
                "keep the stack file in the project's stacks/ directory, or set "
                "lsctl:acme.state.location") from None
    return project_name(project_dir)


def project_name(project_dir: Path) -> str:
    """`name` of the project's Pulumi.yaml: what Pulumi itself calls the project."""
    path = project_dir / PROJECT_FILE
    data = read_yaml(path)
    name = data.get("name") if isinstance(data, Mapping) else None
    if not isinstance(name, str) or not PROJECT_NAME.fullmatch(name):
        shown = repr(name)[:60] if isinstance(name, str) else "missing"
        raise ConfigError(str(path), "name", f"the project name is {shown}",
                          "give Pulumi's project name: letters, digits, '-', '_' and '.'")
    return name


def s3_location(stack: Stack, project_dir: Path | None = None) -> S3Location:
    """The stack's bucket and prefix; without a prefix, the default for its project and name
    (as for Secrets Manager), so stacks can share a bucket."""
    assert stack.acme.state_location is not None  # parse requires it for backend s3
    bucket, prefix = split_s3_url(stack.acme.state_location)
    return S3Location(bucket, prefix or default_prefix(project_of(stack, project_dir),
                                                       stack.name))
