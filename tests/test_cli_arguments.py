"""The one --format/--output grammar (linkshortening.cli.arguments), as drift would use it."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from linkshortening.cli.arguments import (
    OutputTarget,
    OutputUsageError,
    add_format_alias,
    add_output_arguments,
    output_targets,
)

# drift's formats and the files they are usually written to.
FORMATS = ("text", "json", "junit", "markdown")
EXTENSIONS = {".txt": "text", ".json": "json", ".xml": "junit", ".md": "markdown"}


def targets(*argv: str) -> list[OutputTarget]:
    parser = argparse.ArgumentParser()
    add_output_arguments(parser, FORMATS, EXTENSIONS, "default: text")
    add_format_alias(parser, "--json", "json")
    return output_targets(parser.parse_args(list(argv)), "text", EXTENSIONS)


@pytest.mark.parametrize(("argv", "expected"), [
    ((), [OutputTarget("text")]),
    (("--format", "json"), [OutputTarget("json")]),
    (("--json",), [OutputTarget("json")]),
    # The workflow's line: each --output takes the --format just before it.
    (("--format", "junit", "--output", "d.xml", "--format", "json", "--output", "d.json",
      "--format", "markdown"),
     [OutputTarget("junit", Path("d.xml")), OutputTarget("json", Path("d.json")),
      OutputTarget("markdown")]),
    # Alone, an --output takes the format its extension names.
    (("--output", "d.xml", "--output", "D.MD"),
     [OutputTarget("junit", Path("d.xml")), OutputTarget("markdown", Path("D.MD"))]),
    # An explicit --format wins over the extension.
    (("--format", "text", "--output", "d.xml"), [OutputTarget("text", Path("d.xml"))]),
    (("--output", "d.json", "--format", "markdown"),
     [OutputTarget("json", Path("d.json")), OutputTarget("markdown")]),
])
def test_pairs(argv: tuple[str, ...], expected: list[OutputTarget]) -> None:
    assert targets(*argv) == expected


@pytest.mark.parametrize(("argv", "message"), [
    (("--format", "json", "--format", "markdown"), "more than one --format for standard output"),
    (("--json", "--format", "text"), "more than one --format for standard output"),
    (("--output", "report.out"), "--output report.out: no format for the extension '.out'"),
    (("--output", "report"), "no format for the extension '(none)'"),
])
def test_what_does_not_fit_is_named(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(OutputUsageError, match=re.escape(message)):
        targets(*argv)


def test_renew_writes_its_report_where_output_says(tmp_path: Path) -> None:
    """One grammar: `lsctl renew --output FILE.json` like records and drift (and a bad path
    is refused before any work)."""
    import subprocess

    from tests.conftest import lsctl_argv

    missing = tmp_path / "no-such-dir" / "report.json"
    result = subprocess.run(lsctl_argv("renew", "--stack", "sandbox", "--dry-run",
                                       "--output", str(missing)),
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "no-such-dir" in result.stderr
    assert "Traceback" not in result.stderr
