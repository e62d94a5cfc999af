"""The environment Pulumi's uv toolchain builds (Pulumi.yaml: `toolchain: uv`) holds what the
program imports: `pulumi install` runs a plain `uv sync`, `pulumi up` an inexact one (through
`uv run`). Both are run here for real, into a temporary environment, from uv's cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

UV = ROOT / ".tools" / "bin" / "uv"
PROGRAM_IMPORTS = "import pulumi, pulumi_aws, components.program"
# The interpreter under this suite's venv: its wheels are in uv's cache.
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


def uv_sync(environment: Path, *options: str) -> None:
    # --locked: the same resolution as Pulumi's plain `uv sync`, but never rewriting uv.lock.
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(UV_PROJECT_ENVIRONMENT=str(environment), UV_PYTHON_DOWNLOADS="never",
               UV_PYTHON=BASE_PYTHON)
    result = subprocess.run([str(UV), "sync", "--locked", "--quiet", *options], cwd=ROOT,
                            env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def imports(environment: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` with the environment's python, from the project (as Pulumi runs it)."""
    return subprocess.run([str(environment / "bin" / "python"), "-c", code], cwd=ROOT,
                          capture_output=True, text=True, check=False)


def test_pulumi_install_environment_imports_the_program(tmp_path: Path) -> None:
    environment = tmp_path / "venv"
    uv_sync(environment)  # pulumi install
    result = imports(environment, PROGRAM_IMPORTS)
    assert result.returncode == 0, result.stderr


def test_pulumi_up_adds_the_sdk_to_an_environment_without_it(tmp_path: Path) -> None:
    environment = tmp_path / "venv"
    uv_sync(environment, "--no-default-groups")  # the runtime alone, as the Lambda has it
    assert imports(environment, "import pulumi").returncode != 0
    uv_sync(environment, "--inexact")  # pulumi up
    result = imports(environment, PROGRAM_IMPORTS)
    assert result.returncode == 0, result.stderr
