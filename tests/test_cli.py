"""`lsctl --help` lists the commands and stays light: subcommands load only when run."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from linkshortening.cli.main import COMMANDS, report_error
from tests.conftest import lsctl_argv, subprocess_env

HEAVY = ("rich", "yaml", "dns", "boto3", "twilio", "cryptography", "acme", "pulumi",
         "sandbox.lifecycle", "linkshortening.stack")


def test_help_lists_every_subcommand() -> None:
    result = subprocess.run(lsctl_argv("--help"), capture_output=True, text=True, check=True)
    for name, (_, help_text) in COMMANDS.items():
        assert name in result.stdout
        assert help_text.split()[0] in result.stdout


def heavy_modules_loaded_by(option: str) -> str:
    probe = ("import sys, contextlib, io\n"
             "from linkshortening.cli.main import main\n"
             "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
             f"    main([{option!r}])\n"
             f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} "
             f"or m in {HEAVY!r}))\n")
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.parametrize("option", ["--help", "--version"])
def test_help_and_version_import_no_subcommand_dependencies(option: str) -> None:
    assert heavy_modules_loaded_by(option) == "[]"


def test_no_command_is_a_usage_error() -> None:
    result = subprocess.run(lsctl_argv(), capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "COMMAND" in result.stderr


def test_debug_keeps_a_user_error_to_its_one_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(lsctl_argv("renew", "--stack", str(tmp_path / "Pulumi.none.yaml")),
                            capture_output=True, text=True, check=False,
                            env=subprocess_env(LSCTL_DEBUG="1"))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_debug_shows_an_internal_errors_traceback(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LSCTL_DEBUG", "1")
    try:
        raise RuntimeError("a bug")
    except RuntimeError as exc:
        code = report_error(exc)
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" in err and "internal error: RuntimeError: a bug" in err


def test_version_comes_from_the_installed_package() -> None:
    result = subprocess.run(lsctl_argv("--version"), capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (
        0, f"lsctl {version('lsctl')}\n", "")

