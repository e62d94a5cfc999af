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

from linkshortening.cli.arguments import add_output_arguments, add_stack_arguments, output_targets

if TYPE_CHECKING:
    from drift.reports import Report

FORMATS = ("text", "json", "junit", "markdown")
SOURCES = ("dns", "route53", "twilio", "tls")  # drift.probes.SOURCES, without importing it

EPILOG = """\
sources: every authoritative nameserver of each zone, asked directly (A, AAAA, the CNAME they
show, leftover _acme-challenge TXT, _validation-persist TXT of dns-persist-01 domains, the
RFC 8659 CAA climb); Twilio's published target
lsct.ashburn.us1.twilio.com through the resolver (LSCTL_DNS_RESOLVER, else the system's);
Route53's record sets (route53 domains); Twilio (ValidateDns, the certificate, the domain
config, each Messaging Service's domain); the certificate served on port 443 by SNI
(LSCTL_TLS_ENDPOINT=host:port connects there instead, as the sandbox does).

several reports from one run: --format junit --output drift.xml --format markdown
(each --output is the file of the --format just before it; one may go to standard output);
an --output alone takes the format of its extension: .json, .xml (junit), .md, .txt.

lsctl:driftIgnore in the stack acknowledges a finding until a date (at most 90 days): it is
shown as acknowledged, not counted as drift, and counts again the day after.

exit status: 0 clean, 1 drift (a finding at or above --fail-on), 2 a source could not be
checked (each one named) or the stack file is wrong."""


EXTENSIONS = {".txt": "text", ".json": "json", ".xml": "junit", ".md": "markdown"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    add_stack_arguments(parser)
    add_output_arguments(parser, FORMATS, EXTENSIONS, "default: text, a table")
    parser.add_argument("--fail-on", choices=("error", "warning"), default="error",
                        help="the lowest severity that makes the exit status 1 (default: error)")
    parser.add_argument("--skip", action="append", default=[], choices=SOURCES,
                        help="do not ask this source (repeatable), e.g. twilio without its "
                             "credentials; its checks are reported as skipped")


def run(args: argparse.Namespace) -> int:
    import time

    from drift import certificates, ignore, persist, probes, reports, verdict
    from drift.renewal_due import renewal_due
    from linkshortening.common.files import check_output_path
    from linkshortening.stack.load import load_stack
    from linkshortening.stack.profiles import profile

    targets = output_targets(args, "text", EXTENSIONS)
    for target in targets:
        if target.path is not None:  # before the probes: a bad path must not cost a whole run
            check_output_path(target.path)
    stack = load_stack(args.stack)
    ignore.check_codes(stack)
    specs = stack.select(args.domain)
    declared = persist.declared(stack, persist.key_on_file(stack))  # before the probes, too
    started = time.monotonic()
    with _progress(f"checking {len(specs)} domain(s) of stack {stack.name}"):
        facts = probes.gather(stack, specs, skip=args.skip)
    # Expiry and the next renewal are judged on each certificate's own lifetime; the
    # profile's stands in where port 443 was not read.
    expected = profile(stack.acme.profile).lifetime(facts.checked_at)
    renewals = tuple(due for domain in facts.domains
                     if (due := renewal_due(domain, stack.acme.renew_fraction, expected)))
    report = reports.build(stack.name, facts, verdict.findings(stack, facts, declared, expected),
                           args.skip, args.fail_on, time.monotonic() - started,
                           certificates.statuses(facts, stack.acme.renew_fraction), renewals)
    for target in targets:
        _write(report, target.format, target.path)
    return report.exit_code


class UsageError(Exception):
    """Options that do not fit together (exit 2, one line)."""


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
