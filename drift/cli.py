"""`lsctl drift`: prove that live DNS, Route53, Twilio and the served certificates still match
the stack."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drift.report import Report

EPILOG = """\
sources: every authoritative nameserver of each zone (A, AAAA, CNAME, the CAA climb, leftover
_acme-challenge TXT), Twilio's published target (lsct.ashburn.us1.twilio.com) through the
resolver, Route53 (route53 domains), Twilio (ValidateDns, certificate, config, Messaging
Service associations) and the certificate served on port 443 (SNI; LSCTL_TLS_ENDPOINT=host:port
connects elsewhere, as the sandbox does).

exit status: 0 clean, 1 drift (findings at or above --fail-on), 2 a source could not be
checked (each one named)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("--stack", required=True,
                        help="stack name (stacks/Pulumi.NAME.yaml) or path to a stack file")
    parser.add_argument("--domain", action="append", metavar="FQDN",
                        help="only this domain (repeatable)")
    parser.add_argument("--format", choices=("text", "json", "junit", "markdown"),
                        default="text", help="report format (default: a table)")
    parser.add_argument("--output", type=Path, metavar="FILE",
                        help="write the report here instead of standard output")
    parser.add_argument("--fail-on", choices=("error", "warning"), default="error",
                        help="the lowest severity that makes the exit status 1")
    parser.add_argument("--skip", action="append", default=[],
                        choices=("dns", "route53", "twilio", "tls"),
                        help="do not ask this source (repeatable), e.g. without Twilio access")


def run(args: argparse.Namespace) -> int:
    from drift.checks import judge
    from drift.probes import probe
    from drift.report import Report
    from linkshortening.config import load_stack
    from linkshortening.files import write_atomic

    stack = load_stack(args.stack)
    specs = stack.select(args.domain)
    facts = probe(stack, specs, skip=args.skip)
    unreachable = [(d.spec.fqdn, source, why) for d in facts.domains
                   for source, why in d.unreachable]
    unreachable += [("*", source, why) for source, why in facts.unreachable]
    report = Report(stack.name, tuple(s.fqdn for s in specs), tuple(judge(facts, stack.targets)),
                    tuple(unreachable), facts.checked_at, args.fail_on)
    text = render(report, args.format)
    if args.output is not None:
        write_atomic(args.output, text, mode=0o644)
    else:
        print(text, end="")
    return report.exit_code


def render(report: Report, fmt: str) -> str:
    from drift import report as reports

    if fmt == "json":
        return reports.to_json(report) + "\n"
    if fmt == "junit":
        return reports.to_junit(report)
    if fmt == "markdown":
        return reports.to_markdown(report)
    return _table(report)


def _table(report: Report) -> str:
    from rich.console import Console
    from rich.table import Table

    from drift.report import EXIT_CLEAN, EXIT_DRIFT
    console = Console(width=max(120, Console().width))
    status = {EXIT_CLEAN: "[green]clean[/]", EXIT_DRIFT: "[red]drift[/]"}.get(
        report.exit_code, "[red]could not check[/]")
    table = Table(title=f"lsctl drift --stack {report.stack}: {status}")
    for column in ("domain", "severity", "finding", "expected", "actual", "where"):
        table.add_column(column, overflow="fold")
    for finding in report.findings:
        colour = "red" if finding.severity == "error" else "yellow"
        table.add_row(finding.domain, f"[{colour}]{finding.severity}[/]", finding.code,
                      finding.expected, finding.actual, finding.where)
    for domain, source, why in report.unreachable:
        table.add_row(domain, "[red]unchecked[/]", "unreachable", "an answer",
                      why, source)
    clean = [d for d in report.domains
             if not any(f.domain == d for f in report.findings)
             and not any(u[0] == d for u in report.unreachable)]
    for domain in clean:
        table.add_row(domain, "[green]ok[/]", "-", "-", "-", "every source")
    with console.capture() as capture:
        console.print(table)
    return capture.get()
