"""Arguments shared by every `lsctl` command: the stack, and where output goes in what format.

One grammar for every command that writes a report (`records`, and `drift` to adopt):
`--format F` writes F to standard output; `--output FILE` right after it writes F there
instead; an `--output FILE` with no `--format` before it takes the format its extension names
(`drift.xml` is junit, `records.zone` is zone). Repeat the pair for several reports of one
run; at most one goes to standard output.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Where the --format/--output tokens collect, in the order given.
_TOKENS = "output_tokens"


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """`--stack` and `--domain`, the same for every command that reads a stack."""
    parser.add_argument("--stack", required=True,
                        help="stack name (stacks/Pulumi.NAME.yaml) or path to a stack file")
    parser.add_argument("--domain", action="append", metavar="FQDN",
                        help="only this domain (repeatable)")


class OutputUsageError(Exception):
    """--format/--output that do not fit together: one line naming the fix, exit 2."""


@dataclass(frozen=True)
class OutputTarget:
    """One report of a run: its format, and the file it goes to (None: standard output)."""

    format: str
    path: Path | None = None


def add_output_arguments(parser: argparse.ArgumentParser, formats: Sequence[str],
                         extensions: Mapping[str, str], default_help: str) -> None:
    """`--format` and `--output FILE`, repeatable in pairs (see the module docstring).

    `extensions` maps a file suffix (".xml") to the format an `--output` alone implies."""
    parser.set_defaults(**{_TOKENS: []})
    known = ", ".join(f"{suffix} = {fmt}" for suffix, fmt in extensions.items())
    parser.add_argument("--format", action=_Token, choices=list(formats),
                        help=f"output format, repeatable ({default_help})")
    parser.add_argument("--output", action=_Token, type=Path, metavar="FILE",
                        help="write the --format given just before it to FILE (written "
                             "atomically) instead of standard output; alone, the format "
                             f"follows FILE's extension ({known})")


def add_format_alias(parser: argparse.ArgumentParser, flag: str, fmt: str) -> None:
    """A short flag kept for compatibility (`--json`), the same as `--format FMT`."""
    parser.add_argument(flag, action=_Token, nargs=0, const=fmt,
                        help=f"the same as --format {fmt}")


def output_targets(args: argparse.Namespace, default: str,
                   extensions: Mapping[str, str]) -> list[OutputTarget]:
    """The reports to write, in order; `default` to standard output when none is named."""
    targets: list[OutputTarget] = []
    open_format: str | None = None  # a --format still waiting for its --output
    for kind, value in getattr(args, _TOKENS, []):
        if kind == "format":
            if open_format is not None:
                targets.append(OutputTarget(open_format))
            open_format = str(value)
        elif open_format is not None:
            targets.append(OutputTarget(open_format, Path(value)))
            open_format = None
        else:
            targets.append(OutputTarget(_format_of(Path(value), extensions), Path(value)))
    if open_format is not None:
        targets.append(OutputTarget(open_format))
    if not targets:
        targets.append(OutputTarget(default))
    if sum(t.path is None for t in targets) > 1:
        raise OutputUsageError("more than one --format for standard output; give all but one "
                               "an --output FILE after it")
    return targets


def _format_of(path: Path, extensions: Mapping[str, str]) -> str:
    fmt = extensions.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(extensions)
        raise OutputUsageError(f"--output {path}: no format for the extension "
                               f"{path.suffix or '(none)'!r}; put --format FORMAT before it "
                               f"or name the file with one of {known}")
    return fmt


class _Token(argparse.Action):
    """Record each --format/--output (and alias) in order; the pairing is output_targets'."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        if self.const is not None:
            token = ("format", self.const)
        else:
            token = ("output" if self.dest == "output" else "format", values)
        setattr(namespace, _TOKENS, [*getattr(namespace, _TOKENS, []), token])


def add_json_format(parser: argparse.ArgumentParser) -> None:
    """`--format table|json` (and `--json`) for a command whose report goes to standard
    output only: the same words as the commands with `--output`; read it with `wants_json`."""
    parser.add_argument("--format", dest="report_format", choices=("table", "json"),
                        default="table", help="the report's format (default table)")
    parser.add_argument("--json", dest="report_format", action="store_const", const="json",
                        help="the same as --format json")


def wants_json(args: argparse.Namespace) -> bool:
    return getattr(args, "report_format", "table") == "json"
