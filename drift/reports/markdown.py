"""Markdown for a CI job summary ($GITHUB_STEP_SUMMARY) and the pull request comment.

It must fit GitHub's summary width (about 1012 px; tests/test_markdown_width.py renders it in
Chromium): tables have few, short columns (a severity, a code, a domain that may break after
its dots, a short command); the long free text (expected, actual, where) goes in a list below,
where it wraps. Many domains with one finding are one row with a count and a sample. Then each
domain's certificate: days left and the next renewal."""

from __future__ import annotations

import html

from drift.certificates import CertificateStatus
from drift.checks import Finding
from drift.remediation import title
from drift.reports import SAMPLE, STACK, Group, Report, acknowledged_line

MAX_CHARS = 60_000  # a pull request comment holds 65,536; a job summary 1 MiB
HEADLINE = {"clean": "clean", "drift": "DRIFT", "unchecked": "COULD NOT CHECK"}
MARKER = "<!-- lsctl-drift -->"  # how the workflow finds its own pull request comment
# Ever shorter versions until one fits MAX_CHARS: (table rows, details per group, certificates)
BUDGETS = ((200, SAMPLE, 100), (200, 1, 50), (100, 1, 20), (50, 0, 10), (20, 0, 0))


def render(report: Report) -> str:
    """The longest version that fits MAX_CHARS (the JUnit and JSON reports have all)."""
    for rows, details, certificates in BUDGETS:
        text = _render(report, rows, details, certificates)
        if len(text) <= MAX_CHARS:
            return text
    return text[:MAX_CHARS - 200].rsplit("\n", 1)[0] + (
        "\n\n... cut to fit a pull request comment: see the JUnit or JSON report.\n")


def _render(report: Report, rows: int, details: int, certificates: int) -> str:
    acked = len(report.acknowledged)
    lines = [MARKER, f"## lsctl drift: stack `{report.stack}`: {HEADLINE[report.status]}", "",
             f"{len(report.domains)} domain(s) checked at {report.checked_at:%Y-%m-%d %H:%M} "
             f"UTC in {report.duration:.1f} s: {report.count('error')} error(s), "
             f"{report.count('warning')} warning(s)"
             + (f", {acked} acknowledged" if acked else "")
             + f", {len(report.unreachable_grouped()) + len(report.not_configured_grouped())} "
               f"source(s) not checked; {len(report.clean_domains())} domain(s) clean.", ""]
    groups = report.groups()
    if groups:
        lines += _findings(groups, rows, details)
    if report.acknowledged:
        lines += ["**Acknowledged** (lsctl:driftIgnore; not drift until then):", ""]
        lines += [f"- `{f.code}` on {_domain(f.domain)}: {_cell(acknowledged_line(f))}"
                  for f in report.acknowledged[:rows]]
        lines.append("")
    lines += _not_checked(report)
    lines += _certificates(report.certificates, certificates)
    return "\n".join(lines)


def _findings(groups: list[Group], rows: int, per_group: int) -> list[str]:
    lines = ["| severity | finding | domains | fix |", "|---|---|---|---|"]
    details: list[str] = []
    for group in groups[:rows]:
        domains = group.domains
        shown = ", ".join(_domain(d) for d in domains[:SAMPLE])
        if len(domains) > SAMPLE:
            shown = f"**{len(domains)}**: {shown} and {len(domains) - SAMPLE} more"
        command = group.generic_command
        fix = _code(command) if command else _cell(group.fix)
        if command and not group.same_command:
            fix += " for each domain"
        lines.append(f"| {group.severity} | {_code(group.code)} {_cell(title(group.code))} | "
                     f"{shown} | {fix} |")
        shown_details = 1 if group.count > SAMPLE else SAMPLE
        details += [_detail(f, group) for f in group.findings[:min(shown_details, per_group)]]
    if len(groups) > rows:
        lines.append(f"\n... and {len(groups) - rows} more kinds of finding: see the JUnit "
                     "or JSON report.")
    lines.append("")
    return [*lines, "**Details:**", "", *details, ""] if details else lines


def _detail(f: Finding, group: Group) -> str:
    about = _domain(f.domain) if group.count <= SAMPLE else \
        f"{_domain(f.domain)} (and {group.count - 1} more like it)"
    text = (f"- `{f.code}` on {about}: expected {_cell(f.expected)}; actual {_cell(f.actual)}; "
            f"seen by {_cell(f.where)}")
    if f.affects:
        text += f"; affects {len(f.affects)} domain(s)"
    if f.fix:
        text += f". Fix: {_cell(f.fix)}" + (f": `{f.command}`" if f.command else "")
    return text


def _not_checked(report: Report) -> list[str]:
    lines: list[str] = []
    if report.not_configured:
        lines += ["**Not configured** (never asked; set it, or `--skip` the source):", ""]
        lines += [f"- {_cell(source)}: set {_cell(setting)} ({_about(domains)})"
                  for source, setting, domains in report.not_configured_grouped()]
        lines.append("")
    if report.unreachable:
        lines += ["**Could not check:**", ""]
        lines += [f"- {_cell(source)}: {_cell(detail)} ({_about(domains)})"
                  for source, detail, domains in report.unreachable_grouped()]
        lines.append("")
    return lines


def _certificates(statuses: tuple[CertificateStatus, ...], shown: int) -> list[str]:
    """Most urgent first; the rest counted."""
    if not statuses or not shown:
        return []
    ordered = sorted(statuses, key=lambda c: (c.days_left is None, c.days_left or 0))
    lines = ["**Certificates:**", "", "| domain | days left | expires | next renewal |",
             "|---|--:|---|---|"]
    for c in ordered[:shown]:
        days = "-" if c.days_left is None else str(c.days_left)
        expires = f"{c.expires:%Y-%m-%d}" if c.expires else "none known"
        lines.append(f"| {_domain(c.domain)} | {days} | {expires} | {_cell(c.renewal)} |")
    if len(ordered) > shown:
        rest = [c.days_left for c in ordered[shown:] if c.days_left is not None]
        least = f", each with at least {min(rest)} days left" if rest else ""
        lines.append(f"\n... and {len(ordered) - shown} more domains{least}.")
    return [*lines, ""]


def _about(domains: list[str]) -> str:
    named = [d for d in domains if d != STACK]
    if not named:
        return "the stack"
    more = f" and {len(named) - SAMPLE} more" if len(named) > SAMPLE else ""
    return ", ".join(_domain(d) for d in named[:SAMPLE]) + more


def _domain(name: str) -> str:
    """A domain that may break after its dots (<wbr>, which GitHub keeps), so a long one does
    not widen a table; copied, it is still the plain name."""
    return _cell(name).replace(".", ".<wbr>")


def _code(text: str) -> str:
    """Code in a table cell, as HTML so it may break after a dot (<wbr>): a command with a
    long domain in it must not widen the table. Copied, it is the plain command."""
    escaped = html.escape(text, quote=False).replace("|", "&#124;")
    return f"<code>{escaped.replace('.', '.<wbr>')}</code>"


def _cell(text: str) -> str:
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
            .replace("<", "&lt;").replace("*", "\\*").replace("_", "\\_"))
