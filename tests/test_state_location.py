"""The renewer's default Secrets Manager prefix, lsctl/<project>/<stack>: one per stack and per
project, from the Pulumi.yaml above the stack file (linkshortening.stack.state_location)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from acme_renewer.state import SecretsManagerBackend
from acme_renewer.wiring import state_store
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.load import load_stack_file
from linkshortening.stack.state_location import secrets_manager_prefix
from tests.conftest import ROOT

EXAMPLE = ROOT / "stacks" / "Pulumi.example.yaml"


def project(root: Path, name: str, *stacks: str) -> list[Path]:
    """A project named `name` holding copies of the example stack, as an operator makes them."""
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n")
    files = [root / "stacks" / f"Pulumi.{stack}.yaml" for stack in stacks]
    for file in files:
        shutil.copyfile(EXAMPLE, file)
    return files


def renewer_prefix(stack_file: Path) -> str:
    """Where the renewer writes, found as in the Lambda (from the stack file alone)."""
    backend = state_store(load_stack_file(stack_file)).backend
    assert isinstance(backend, SecretsManagerBackend)
    return backend.prefix


def test_copies_of_the_example_never_share_a_prefix(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # a client, never called here
    prod, staging = project(tmp_path / "links", "links", "prod", "staging")
    [other_prod] = project(tmp_path / "other", "other", "prod")
    prefixes = [renewer_prefix(f) for f in (prod, staging, other_prod)]
    assert prefixes == ["lsctl/links/prod", "lsctl/links/staging", "lsctl/other/prod"]
    assert prefixes == [secrets_manager_prefix(load_stack_file(f))
                        for f in (prod, staging, other_prod)]


def test_an_explicit_location_is_kept(tmp_path: Path) -> None:
    [prod] = project(tmp_path, "links", "prod")
    prod.write_text(prod.read_text().replace(
        "state: {backend: secretsmanager}", "state: {backend: secretsmanager, location: t/x}"))
    assert secrets_manager_prefix(load_stack_file(prod)) == "t/x"


def test_the_project_directory_given_wins(tmp_path: Path) -> None:
    [prod] = project(tmp_path / "a", "links", "prod")
    project(tmp_path / "b", "elsewhere")
    assert secrets_manager_prefix(load_stack_file(prod), tmp_path / "b") == \
        "lsctl/elsewhere/prod"


@pytest.mark.parametrize(("pulumi_yaml", "message"), [
    (None, r"Pulumi\.prod\.yaml: lsctl:acme\.state\.location: is not set, and no Pulumi\.yaml "
           r"above the stack file names the project for the default lsctl/<project>/prod\. "
           r"Fix: keep the stack file in the project's stacks/ directory"),
    ("runtime: python\n", r"Pulumi\.yaml: name: the project name is missing\. Fix: give"),
    ("name: a/b\n", r"Pulumi\.yaml: name: the project name is 'a/b'\. Fix: give"),
])
def test_no_project_name_is_a_clear_error(tmp_path: Path, pulumi_yaml: str | None,
                                          message: str) -> None:
    stack = tmp_path / "stacks" / "Pulumi.prod.yaml"
    stack.parent.mkdir()
    shutil.copyfile(EXAMPLE, stack)
    if pulumi_yaml is not None:
        (tmp_path / "Pulumi.yaml").write_text(pulumi_yaml)
    with pytest.raises(ConfigError, match=message):
        secrets_manager_prefix(load_stack_file(stack))
