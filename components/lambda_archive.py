"""Build the renewal Lambda's code: lsctl's packages, their locked dependencies for Lambda's
platform (Python 3.11, x86_64 manylinux wheels only), the stack file it renews and the
project's Pulumi.yaml."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from linkshortening.stack.state_location import PROJECT_FILE

LAMBDA_PACKAGES = ("linkshortening", "acme_renewer")
HANDLER = "acme_renewer.lambda_handler.lambda_handler"
PYTHON = "3.11"
PLATFORM = "x86_64-manylinux2014"


class ArchiveError(Exception):
    """The dependencies could not be resolved or installed for Lambda."""


def build(project_dir: Path, stack_file: Path, out_dir: Path) -> Path:
    """A directory ready for `pulumi.FileArchive`: dependencies (cached per uv.lock), the
    packages, `stacks/<stack file>` and Pulumi.yaml."""
    uv = project_dir / ".tools" / "bin" / "uv"
    if not uv.exists():
        uv = Path(shutil.which("uv") or "uv")
    lock = (project_dir / "uv.lock").read_bytes()
    deps = out_dir / f"deps-{hashlib.sha256(lock).hexdigest()[:16]}"
    if not deps.exists():
        _install_deps(uv, project_dir, deps)
    bundle = out_dir / "bundle"
    shutil.rmtree(bundle, ignore_errors=True)
    shutil.copytree(deps, bundle)
    for package in LAMBDA_PACKAGES:
        shutil.copytree(project_dir / package, bundle / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (bundle / "stacks").mkdir()
    write_public_stack(stack_file, bundle / "stacks" / stack_file.name)
    # Its name is part of the renewer's default state prefix (stack.state_location).
    shutil.copyfile(project_dir / PROJECT_FILE, bundle / PROJECT_FILE)
    return bundle


def write_public_stack(source: Path, dest: Path) -> None:
    """The stack file without its `{secure: ...}` values: the renewer reads its credentials
    from Secrets Manager, so its code need not carry even their ciphertext."""
    data = yaml.safe_load(source.read_text(encoding="utf-8-sig"))
    config = data.get("config") or {}
    data["config"] = {key: value for key, value in config.items()
                      if not (isinstance(value, dict) and set(value) == {"secure"})}
    dest.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _install_deps(uv: Path, project_dir: Path, deps: Path) -> None:
    # Only the runtime dependencies, as locked: no dependency group (dev, pulumi, sandbox).
    exported = _run([str(uv), "export", "--frozen", "--no-default-groups", "--no-hashes",
                     "--no-emit-project", "--format", "requirements-txt", "-q"], project_dir)
    deps.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=deps.name + ".", dir=deps.parent))
    requirements = staging / "requirements.txt"
    requirements.write_text(exported)
    target = staging / "site"
    _run([str(uv), "pip", "install", "-q", "--target", str(target), "--no-deps",
          "--python-version", PYTHON, "--python-platform", PLATFORM, "--only-binary", ":all:",
          "-r", str(requirements)], project_dir)
    target.rename(deps)  # complete or absent: an interrupted build is never reused
    shutil.rmtree(staging, ignore_errors=True)


def _run(argv: list[str], cwd: Path) -> str:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ArchiveError(f"{' '.join(argv[:3])} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout
