"""The renewal Lambda's code, built for real from uv.lock for Lambda's platform."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from components.lambda_archive import build
from tests.conftest import ROOT


def test_archive_holds_handler_dependencies_and_stack(tmp_path: Path) -> None:
    bundle = build(ROOT, ROOT / "stacks" / "Pulumi.example.yaml", tmp_path)
    assert (bundle / "acme_renewer" / "lambda_handler.py").is_file()
    assert (bundle / "linkshortening" / "twilio" / "api.py").is_file()
    assert (bundle / "stacks" / "Pulumi.example.yaml").is_file()
    assert (bundle / "Pulumi.yaml").read_bytes() == (ROOT / "Pulumi.yaml").read_bytes()
    for dependency in ("acme", "josepy", "twilio", "dns", "cryptography", "yaml", "rich",
                       "publicsuffixlist"):
        assert (bundle / dependency).is_dir(), dependency
    # Only the runtime: no Pulumi, no sandbox, no test tools (no dependency group of
    # pyproject.toml, though `uv sync` installs them all), no bytecode of ours.
    for absent in ("pulumi", "pulumi_aws", "moto", "pytest", "mypy", "components", "sandbox"):
        assert not (bundle / absent).exists(), absent
    assert not list(bundle.glob("pulumi*")), list(bundle.glob("pulumi*"))
    assert not list((bundle / "acme_renewer").rglob("*.pyc"))
    # It imports on its own (-S keeps this venv's site-packages out of the path), and finds
    # the state prefix the role allows (lsctl/<project>/<stack>) from what it carries.
    probe = subprocess.run(
        [sys.executable, "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "import acme_renewer.lambda_handler as h; print(h.lambda_handler.__name__); "
         "from linkshortening.stack.load import load_stack_file; "
         "from linkshortening.stack.state_location import secrets_manager_prefix as p; "
         "print(p(load_stack_file(__import__('pathlib').Path(sys.argv[2])))); "
         "import acme_renewer.pipeline; from acme_renewer.registered import registered_domain; "
         "print(registered_domain('a.example.co.uk'))",
         str(bundle), "stacks/Pulumi.example.yaml"],
        cwd=bundle, capture_output=True, text=True, check=False)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["lambda_handler", "lsctl/lsctl/example", "example.co.uk"]
    # A second build reuses the dependencies (keyed by uv.lock) and refreshes our code.
    assert build(ROOT, ROOT / "stacks" / "Pulumi.sandbox.yaml", tmp_path) == bundle
    assert (bundle / "stacks" / "Pulumi.sandbox.yaml").is_file()
    assert not (bundle / "stacks" / "Pulumi.example.yaml").exists()


def test_bundled_stack_file_carries_no_secrets(tmp_path: Path) -> None:
    from components.lambda_archive import write_public_stack
    from linkshortening.stack.load import load_stack_file

    source = tmp_path / "Pulumi.prod.yaml"
    source.write_text((ROOT / "stacks" / "Pulumi.example.yaml").read_text()
                      + "  lsctl:twilioAuthToken:\n    secure: v1:ciphertext\n")
    bundled = tmp_path / "bundled" / "Pulumi.prod.yaml"
    bundled.parent.mkdir()
    write_public_stack(source, bundled)
    assert "ciphertext" not in bundled.read_text()
    # The renewer reads the same stack from it.
    assert load_stack_file(bundled) == replace(load_stack_file(source), source=str(bundled))
