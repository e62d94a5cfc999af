"""`lsctl drift`: prove that live DNS, Route53, Twilio and the served certificates still match
the stack. Probe, then judge, then report."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from linkshortening.cli.arguments import add_stack_arguments

if TYPE_CHECKING:
    from drift.reports import Report

FORMATS = ("text", "json", "junit", "markdown")
SOURCES = ("dns", "route53", "twilio", "tls")  # drift.probes.SOURCES, without importing it

EPILOG = """\
sources: every authoritative nameserver of each zone, asked directly (A, AAAA, the CNAME they
show, leftover _acme-challenge TXT, the RFC 8659 CAA climb); Twilio's published target
lsct.ashburn.us1.twilio.com through the resolver (LSCTL_DNS_RESOLVER, else the system's);
Route53's record sets (route53 domains); Twilio (ValidateDns, the certificate, the domain
config, each Messaging Service's domain); the certificate served on port 443 by SNI
(LSCTL_TLS_ENDPOINT=host:port connects there instead, as the sandbox does).

several reports from one run: --format junit --output drift.xml --format markdown
(each --output is the file of the --format just before it; one may go to standard output).

exit status: 0 clean, 1 drift (a finding at or above --fail-on), 2 a source could not be
checked (each one named) or the stack file is wrong."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    add_stack_arguments(parser)
    parser.set_defaults(targets=[])
    parser.add_argument("--format", action=_Format, choices=FORMATS,
                        help="report format, repeatable (default: text, a table)")
    parser.add_argument("--output", action=_Output, type=Path, metavar="FILE",
                        help="write the --format given just before here, not to standard "
                             "output")
    parser.add_argument("--fail-on", choices=("error", "warning"), default="error",
                        help="the lowest severity that makes the exit status 1 (default: error)")
    parser.add_argument("--skip", action="append", default=[], choices=SOURCES,
                        help="do not ask this source (repeatable), e.g. twilio without its "
                             "credentials; its checks are reported as skipped")


def run(args: argparse.Namespace) -> int:
    import time

    from drift import checks, probes, reports
    from drift.renewal_due import renewal_due
    from linkshortening.common.files import check_output_path
    from linkshortening.stack.load import load_stack
    from linkshortening.stack.profiles import profile

    targets = _targets(args)
    for _, output in targets:
        if output is not None:  # before the probes: a bad path must not cost a whole run
            check_output_path(output)
    stack = load_stack(args.stack)
    specs = stack.select(args.domain)
    started = time.monotonic()
    with _progress(f"checking {len(specs)} domain(s) of stack {stack.name}"):
        facts = probes.gather(stack, specs, skip=args.skip)
    # Expiry and the next renewal are judged on each certificate's own lifetime; the
    # profile's stands in where port 443 was not read (issue 17).
    expected = profile(stack.acme.profile).lifetime(facts.checked_at)
    renewals = tuple(due for domain in facts.domains
                     if (due := renewal_due(domain, stack.acme.renew_fraction, expected)))
    report = reports.build(stack.name, facts, checks.judge(facts, stack.targets, expected),
                           args.skip, args.fail_on, time.monotonic() - started, renewals)
    for fmt, output in targets:
        _write(report, fmt, output)
    return report.exit_code


class UsageError(Exception):
    """Options that do not fit together (exit 2, one line)."""


class _Format(argparse.Action):
    """Each --format is one report; an --output right before it (or after) is its file."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        pending = getattr(namespace, "pending_output", None)
        namespace.targets = [*namespace.targets, (str(values), pending)]
        namespace.pending_output = None


class _Output(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        targets: list[tuple[str, Path | None]] = namespace.targets
        if targets and targets[-1][1] is None:
            namespace.targets = [*targets[:-1], (targets[-1][0], values)]
        elif getattr(namespace, "pending_output", None) is None:
            namespace.pending_output = values
        else:
            parser.error("two --output without a --format between them")


def _targets(args: argparse.Namespace) -> list[tuple[str, Path | None]]:
    """(format, file or None for standard output) for each report to write."""
    targets: list[tuple[str, Path | None]] = list(args.targets)
    pending = getattr(args, "pending_output", None)
    if pending is not None or not targets:
        targets.append(("text", pending))
    if sum(output is None for _, output in targets) > 1:
        raise UsageError("drift: more than one --format for standard output; give all but "
                         "one an --output FILE")
    return targets


def render(report: Report, fmt: str, colour: bool = False, width: int = 120) -> str:
    from drift.reports import json_report, junit, markdown, text

    if fmt == "json":
        return json_report.render(report)
    if fmt == "junit":
        return junit.render(report)
    if fmt == "markdown":
        return markdown.render(report)
    return text.render(report, colour, width)


def _write(report: Report, fmt: str, output: Path | None) -> None:
    import shutil

    from linkshortening.common.files import write_output

    if output is not None:
        write_output(output, render(report, fmt, width=160), mode=0o644)
        return
    terminal = sys.stdout.isatty()
    colour = terminal and "NO_COLOR" not in os.environ
    width = max(120, shutil.get_terminal_size().columns) if terminal else 160
    sys.stdout.write(render(report, fmt, colour, width))
    sys.stdout.flush()


def _progress(message: str) -> AbstractContextManager[object]:
    """A spinner on a terminal's stderr while the probes run; nothing in a pipe or CI log."""
    if not sys.stderr.isatty():
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(message)
