"""The GitHub workflows: actionlint-clean, AWS by OIDC only, skipped with a notice where the
secrets are missing (their own shell steps, run here), and the stack facts they read."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = Path(sys.executable).parent / "actionlint"
GATED = ("drift.yml", "pulumi.yml", "renew.yml")


def workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def step(name: str, job: str, step_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in workflow(name)["jobs"][job]["steps"]
                                 if s.get("id") == step_id)
    return found


def run_step(script: str, env: dict[str, str], cwd: Path, tmp_path: Path) -> tuple[str, str]:
    """A step's `run:` in bash -e as the runner runs it; its stdout and $GITHUB_OUTPUT."""
    output = tmp_path / "github_output"
    output.write_text("")
    result = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True,
                            cwd=cwd, check=False,
                            env={"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output), **env})
    assert result.returncode == 0, result.stderr
    return result.stdout, output.read_text()


def test_actionlint_is_clean() -> None:
    result = subprocess.run([str(ACTIONLINT), "-no-color"], capture_output=True, text=True,
                            cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_flags_an_action_on_a_deprecated_node(tmp_path: Path) -> None:
    """The check that keeps the action majors current is live, not just passing."""
    old = (WORKFLOWS / "drift.yml").read_text().replace("actions/checkout@v7",
                                                        "actions/checkout@v4")
    (tmp_path / "old.yml").write_text(old)
    result = subprocess.run([str(ACTIONLINT), "-no-color", str(tmp_path / "old.yml")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1 and 'runtime "node20" is deprecated' in result.stdout


@pytest.mark.parametrize("name", GATED)
def test_aws_only_by_oidc(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    assert "AWS_ACCESS_KEY_ID" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    for job in workflow(name)["jobs"].values():
        aws = [s for s in job["steps"] if str(s.get("uses", "")).startswith(
            "aws-actions/configure-aws-credentials@")]
        for s in aws:
            assert s["with"]["role-to-assume"] == "${{ secrets.AWS_ROLE_ARN }}"
            assert "steps." in s["with"]["aws-region"]  # the stack's aws:region
        if aws:
            assert job["permissions"]["id-token"] == "write"


@pytest.mark.parametrize("name", GATED)
def test_without_secrets_a_notice_and_no_run(name: str, tmp_path: Path) -> None:
    gate = step(name, "stacks", "secrets")
    stdout, output = run_step(gate["run"], {}, ROOT, tmp_path)  # a fork: every secret empty
    assert stdout.startswith("::notice::") and output == "ready=false\n"
    present = {k: "set" for k in gate["env"]}
    assert run_step(gate["run"], present, ROOT, tmp_path)[1] == "ready=true\n"
    assert "needs.stacks.outputs.ready == 'true'" in next(
        job["if"] for key, job in workflow(name)["jobs"].items() if key != "stacks")


def test_drift_installs_only_what_drift_needs() -> None:
    runs = " ".join(s.get("run", "") for s in workflow("drift.yml")["jobs"]["drift"]["steps"])
    assert "make setup-drift" in runs and "make setup\n" not in runs + "\n"
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nsetup-drift:", 1)[1].split("\n\n", 1)[0]
    assert "--no-dev" in recipe and "apt-get" not in recipe and "npm" not in recipe


def stack_checkout(tmp_path: Path, **stacks: dict[str, Any]) -> Path:
    """A checkout with the workflows' script, the project's Python and these stack files."""
    repo = tmp_path / "repo"
    (repo / ".github" / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / ".github" / "scripts" / "stacks.py", repo / ".github" / "scripts")
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (repo / "stacks").mkdir()
    for name, config in stacks.items():
        (repo / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": config}))
    return repo


def test_stack_list_and_values(tmp_path: Path) -> None:
    repo = stack_checkout(tmp_path, sandbox={}, example={}, prod={"aws:region": "eu-west-1"},
                          staging={"lsctl:renewal": {"enabled": False}})
    script = ["python3", ".github/scripts/stacks.py"]

    def ask(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*script, *args], capture_output=True, text=True, cwd=repo,
                              check=False)

    assert ask("list").stdout == '["prod", "staging"]\n'
    script[0] = str(repo / ".venv" / "bin" / "python")
    assert ask("value", "prod", "aws:region").stdout == "eu-west-1\n"
    assert ask("value", "staging", "lsctl:renewal.enabled", "true").stdout == "false\n"
    assert ask("value", "prod", "lsctl:renewal.enabled", "true").stdout == "true\n"
    missing = ask("value", "staging", "aws:region")
    assert missing.returncode == 1 and "aws:region is not set" in missing.stderr


def test_renew_runs_only_where_no_lambda_renews_and_state_survives(tmp_path: Path) -> None:
    secretsmanager = {"backend": "secretsmanager", "location": "lsctl/cron"}
    repo = stack_checkout(
        tmp_path, lambda_={"lsctl:acme": {"state": secretsmanager}},
        cron={"aws:region": "eu-west-1", "lsctl:renewal": {"enabled": False},
              "lsctl:acme": {"state": secretsmanager}},
        disk={"lsctl:renewal": {"enabled": False}})
    check = step("renew.yml", "renew", "stack")["run"]
    stdout, output = run_step(check, {"STACK": "lambda_"}, repo, tmp_path)
    assert "renewed by its AWS Lambda" in stdout and output == "here=false\n"
    _, output = run_step(check, {"STACK": "cron"}, repo, tmp_path)
    assert output == "here=true\nregion=eu-west-1\n"
    refused = subprocess.run(["bash", "-e", "-c", check], capture_output=True, text=True,
                             cwd=repo, check=False,
                             env={"PATH": os.environ["PATH"], "STACK": "disk",
                                  "GITHUB_OUTPUT": str(tmp_path / "out")})
    assert refused.returncode == 1
    assert "::error file=stacks/Pulumi.disk.yaml::" in refused.stdout
    assert "backend: secretsmanager" in refused.stdout


FAKE_GH = """#!/bin/bash
# Records each call; answers the comment listing with $COMMENTS (ids, one a line).
echo "$*" >> "$CALLS"
if [ "$2" = "--paginate" ]; then printf '%s' "$COMMENTS"; fi
"""


@pytest.mark.parametrize(("existing", "expected"), [
    ("4242\n", "--method PATCH repos/o/r/issues/comments/4242 -F body=@comment.md"),
    ("", "--method POST repos/o/r/issues/7/comments -F body=@comment.md"),
])
def test_drift_on_a_pull_request_is_one_sticky_comment(tmp_path: Path, existing: str,
                                                       expected: str) -> None:
    job = workflow("drift.yml")["jobs"]["comment"]
    assert "github.event_name == 'pull_request'" in job["if"]
    assert job["permissions"] == {"pull-requests": "write"}
    sticky = step("drift.yml", "comment", "sticky")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(FAKE_GH)
    (bin_dir / "gh").chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    for stack in ("prod", "staging"):
        (work / f"drift-{stack}.md").write_text(f"<!-- lsctl-drift -->\n## {stack}\n")
    calls = tmp_path / "calls"
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls),
           "COMMENTS": existing, "REPO": "o/r", "PR": "7", "RUN_URL": "https://run"}
    run_step(sticky["run"], env, work, tmp_path)
    listing, write = calls.read_text().splitlines()
    assert listing.startswith("api --paginate repos/o/r/issues/7/comments --jq")
    assert write == f"api {expected}"
    body = (work / "comment.md").read_text()
    assert body.startswith("<!-- lsctl-drift -->\n") and "## prod" in body and "## staging" in body
