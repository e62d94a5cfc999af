"""The Pulumi program reads the stack through the same loader, under Pulumi's own mocks."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from tests.conftest import ROOT


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        return {}, []


def run_program(stack: str, config: dict[str, Any]) -> dict[str, Any]:
    """Run __main__.py under mocks with `config` as the stack config; return its exports."""
    exports: dict[str, Any] = {}
    original = pulumi.export
    pulumi.runtime.set_mocks(Mocks(), project="lsctl", stack=stack, preview=False)
    pulumi.runtime.set_all_config({f"lsctl:{k}": json.dumps(v) if not isinstance(v, str) else v
                                   for k, v in config.items()})

    def capture(name: str, value: Any) -> None:
        exports[name] = value
        original(name, value)

    pulumi.export = capture
    try:
        runpy.run_path(str(ROOT / "__main__.py"))
    finally:
        pulumi.export = original
    return exports


def stack_config(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text())
    return {k.split(":", 1)[1]: v for k, v in data["config"].items() if k.startswith("lsctl:")}


def test_sandbox_stack_exports_each_domain() -> None:
    exports = run_program("sandbox", stack_config("sandbox"))
    assert exports["lsctl.test"]["recordType"] == "A"
    assert exports["lsctl.test"]["values"] == ["3.233.108.250", "3.233.187.46", "54.157.2.211"]
    assert exports["go.lsctl.test"] == {"fqdn": "go.lsctl.test", "zone": "lsctl.test",
                                        "recordType": "CNAME", "ttl": 300,
                                        "values": ["lsct.ashburn.us1.twilio.com"]}


def test_bad_config_is_a_clean_pulumi_error(tmp_path: Path) -> None:
    config = stack_config("sandbox")
    config["domains"][0]["domainSid"] = "DN-nope"
    expected = r"stacks/Pulumi\.sandbox\.yaml: lsctl:domains\[0\]\.domainSid: 'DN-nope' is not"
    with pytest.raises(pulumi.RunError, match=expected):
        run_program("sandbox", config)
