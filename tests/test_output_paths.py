"""`--output`/`-o` of every lsctl command that writes a file: a path that cannot be written is
named with what is wrong with it (exit 2), never an internal error, never a half-done run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from linkshortening.cli.main import main
from tests.certfactory import make_chain
from tests.conftest import ROOT

CHAIN = make_chain(["out.example.com"])


@pytest.fixture(params=["cert convert-key", "cert bundle", "drift"])
def command(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    """The command's arguments, all but the output path."""
    cert, key = CHAIN.write(tmp_path)
    return {"cert convert-key": ["cert", "convert-key", str(key), "-o"],
            "cert bundle": ["cert", "bundle", "--cert", str(cert), "--key", str(key), "-o"],
            "drift": ["drift", "--stack", str(ROOT / "stacks" / "Pulumi.sandbox.yaml"),
                      "--format", "json", "--output"]}[request.param]


@pytest.mark.parametrize(("output", "problem"), [
    ("{tmp}", "is a directory"),
    ("/proc/version", "cannot create files in /proc"),
    ("{tmp}/missing/out", "its directory {tmp}/missing does not exist"),
    ("{tmp}/fifo", "is not a regular file"),  # a device or pipe is never replaced by a file
])
def test_an_output_that_cannot_be_written_is_named(command: list[str], output: str,
                                                   problem: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(tmp_path / "fifo")
    target = output.format(tmp=tmp_path)
    code = main([*command, target])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"output {target}" in err and problem.format(tmp=tmp_path) in err, err
    assert "internal error" not in err and "Traceback" not in err
    assert (tmp_path / "fifo").is_fifo()
