"""The table for people: rich, coloured on a terminal, plain in a file or a pipe.

Three columns, so the table fits the 120 columns lsctl asks for at least: the domain (long
ones fold), the finding (its code, then its severity: never wrapped, a code cut in two cannot
be searched for) and the free text (expected, actual, where, fix) folded in one column never
narrower than a SID, so a SID is never cut. Many domains with the same finding are one row:
a count and a sample."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from drift.checks import Finding
from drift.reports import SAMPLE, STACK, Group, Report, acknowledged_line, fix_line

if TYPE_CHECKING:
    from rich.console import Console

LIST_CLEAN = 50  # more clean domains than this are one row, not one each
GROUP_FROM = SAMPLE + 1  # this many findings of one code are one row
DETAIL_MIN = 40  # wider than a SID (34), an IPv6 address (39)
DOMAIN_MAX = 30  # + the longest code (36) + DETAIL_MIN + padding <= 120
LIST_RENEWALS = 10  # the soonest renewals shown under the table
TITLE = {"clean": "[green]clean[/]", "drift": "[red]drift[/]",
         "unchecked": "[red]could not check[/]"}


def render(report: Report, colour: bool = False, width: int = 120) -> str:
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"lsctl drift --stack {report.stack}: {TITLE[report.status]}",
                  caption=_caption(report), box=box.SIMPLE_HEAD, expand=False)
    table.add_column("domain", overflow="fold", max_width=DOMAIN_MAX)
    table.add_column("finding", no_wrap=True)
    table.add_column("detail", overflow="fold", min_width=DETAIL_MIN)
    for group in report.groups():
        style = "red" if report.fails(group.findings[0]) else "yellow"
        if group.count >= GROUP_FROM:
            sample = "\n".join(group.sample())
            table.add_row(f"{len(group.domains)} domains:\n{sample}\nand "
                          f"{len(group.domains) - SAMPLE} more",
                          f"{group.code}\n[{style}]{group.severity}[/]",
                          escape(_group_detail(group)))
            continue
        for f in group.findings:
            table.add_row(f.domain, f"{f.code}\n[{style}]{f.severity}[/]", escape(_detail(f)))
    for f in report.acknowledged:
        table.add_row(f.domain, f"{f.code}\n[dim]acknowledged[/]",
                      escape(acknowledged_line(f) + "\n" + _detail(f)))
    for source, setting, domains in report.not_configured_grouped():
        table.add_row(_domains(domains), "not configured\n[red]unchecked[/]",
                      escape(f"{source}: set {setting}, or --skip it"))
    for source, detail, domains in report.unreachable_grouped():
        table.add_row(_domains(domains), "unreachable\n[red]unchecked[/]",
                      escape(f"{source}: {detail}"))
    clean = report.clean_domains()
    if len(clean) > LIST_CLEAN:
        table.add_row(f"{len(clean)} domains", "[green]ok[/]", "every source")
    for domain in clean if len(clean) <= LIST_CLEAN else ():
        table.add_row(domain, "[green]ok[/]", "every source")
    out = io.StringIO()
    console = Console(file=out, force_terminal=colour, no_color=not colour, width=width,
                      color_system="standard" if colour else None)
    console.print(table)
    _renewals(console, report)
    return out.getvalue()


def _caption(report: Report) -> str:
    acked = len(report.acknowledged)
    return (f"{len(report.domains)} domain(s), {report.count('error')} error(s), "
            f"{report.count('warning')} warning(s)"
            + (f", {acked} acknowledged" if acked else "")
            + f", {len(report.unreachable_grouped()) + len(report.not_configured_grouped())} "
              f"source(s) not checked, {report.duration:.1f} s")


def _detail(f: Finding) -> str:
    lines = [f"expected {f.expected}", f"actual   {f.actual}", f"where    {f.where}"]
    if f.affects:
        lines.append(f"affects  {', '.join(f.affects[:SAMPLE])}"
                     + (f" and {len(f.affects) - SAMPLE} more" if len(f.affects) > SAMPLE else ""))
    fix = fix_line(f)
    if fix:
        lines.append(f"fix      {fix}")
    return "\n".join(lines)


def _group_detail(group: Group) -> str:
    first = group.findings[0]
    lines = [f"e.g.     {first.domain}", f"expected {first.expected}", f"actual   {first.actual}",
             f"where    {first.where}"]
    if group.fix:
        command = group.generic_command
        each = "" if group.same_command else " (for each DOMAIN)"
        lines.append(f"fix      {group.fix}" + (f": {command}{each}" if command else ""))
    return "\n".join(lines)


def _domains(domains: list[str]) -> str:
    named = [d for d in domains if d != STACK] or ["(stack)"]
    return ", ".join(named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")


def _renewals(console: Console, report: Report) -> None:
    """When each certificate falls due (issue 17): the soonest first, a few of a fleet."""
    soonest = sorted(report.renewals, key=lambda r: r.due)
    for due in soonest[:LIST_RENEWALS]:
        console.print(f"{due.domain}: {due.text(report.checked_at)}", markup=False,
                      highlight=False)
    if len(soonest) > LIST_RENEWALS:
        console.print(f"... and {len(soonest) - LIST_RENEWALS} more renewals "
                      "(--format json lists every one)", markup=False, highlight=False)
