"""Pulumi.yaml keeps to what the Pulumi CLI accepts (no CLI here to ask), and the shipped
stack files pass the type checks the CLI applies to them before running the program."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.twilio_resources import CREDENTIAL_KEYS
from linkshortening.stack.parse import SECRET_KEYS, STACK_KEYS
from linkshortening.stack.targets import DEFAULT_ALLOWED_IPS, DEFAULT_TTL
from tests.conftest import ROOT

# Pulumi's project schema: the types a config declaration may have, and its attributes.
SIMPLE_TYPES = {"string", "integer", "boolean", "array"}
ATTRIBUTES = {"type", "items", "description", "secret", "default"}


def project() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    return data


def declarations() -> dict[str, dict[str, Any]]:
    config: dict[str, dict[str, Any]] = project()["config"]
    return config


def test_project_runs_this_repository() -> None:
    data = project()
    assert data["name"] == "lsctl"
    assert data["runtime"]["name"] == "python"
    assert data["runtime"]["options"]["virtualenv"] == ".venv"
    assert data["stackConfigDir"] == "stacks"
    assert (ROOT / data["stackConfigDir"] / "Pulumi.example.yaml").is_file()


def _check_items(key: str, items: Any) -> None:
    assert isinstance(items, dict) and items.get("type") in SIMPLE_TYPES, key
    if items["type"] == "array":
        _check_items(key, items.get("items"))


@pytest.mark.parametrize("key", sorted(declarations()))
def test_declaration_is_valid_pulumi(key: str) -> None:
    declared = declarations()[key]
    assert key.startswith("lsctl:")
    assert set(declared) <= ATTRIBUTES, key
    if "type" in declared:
        assert declared["type"] in SIMPLE_TYPES, key
        if declared["type"] == "array":  # Pulumi refuses an array without `items`
            _check_items(key, declared.get("items"))
    if declared.get("secret"):
        # A default is applied in clear, and Pulumi then refuses it for a secret key.
        assert "default" not in declared, key
    if "default" in declared:
        assert _conforms(declared, declared["default"]), key


def test_only_what_every_stack_needs_is_required() -> None:
    required = {key for key, declared in declarations().items() if "default" not in declared}
    assert required == {"lsctl:domains", "lsctl:twilioAccountSid"}


def test_declared_keys_are_the_loaders() -> None:
    bare = {key.removeprefix("lsctl:") for key in declarations()}
    assert bare <= set(STACK_KEYS) | set(SECRET_KEYS)
    assert set(SECRET_KEYS) <= bare
    assert set(CREDENTIAL_KEYS) <= set(SECRET_KEYS)


def test_defaults_are_the_loaders() -> None:
    assert tuple(declarations()["lsctl:allowedIps"]["default"]) == DEFAULT_ALLOWED_IPS
    assert declarations()["lsctl:ttl"]["default"] == DEFAULT_TTL


def _conforms(declared: dict[str, Any], value: Any) -> bool:
    """Pulumi's check of a stack value against a typed declaration."""
    kind, items = declared.get("type"), declared.get("items")
    if kind is None:
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, list) and items is not None and all(
        _conforms(items, item) for item in value)


@pytest.mark.parametrize("stack", ["sandbox", "example"])
def test_shipped_stacks_pass_pulumis_checks(stack: str) -> None:
    config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    for key, declared in declarations().items():
        if key not in config:
            # Credentials are added per stack, by `pulumi config set --secret`.
            assert "default" in declared or key.removeprefix("lsctl:") in SECRET_KEYS, \
                f"{stack}: {key} is required"
            continue
        value = config[key]
        if isinstance(value, dict) and set(value) == {"secure"}:
            assert declared.get("type") == "string", key
        else:
            assert not declared.get("secret"), f"{stack}: {key} must be set with --secret"
            assert _conforms(declared, value), f"{stack}: {key}"
