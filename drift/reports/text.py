"""The table for people: rich, coloured on a terminal, plain in a file or a pipe."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from drift.reports import STACK, Report

if TYPE_CHECKING:
    from rich.console import Console

LIST_CLEAN = 50  # more clean domains than this are one row, not one each
LIST_RENEWALS = 10  # the soonest renewals shown under the table
TITLE = {"clean": "[green]clean[/]", "drift": "[red]drift[/]",
         "unchecked": "[red]could not check[/]"}


def render(report: Report, colour: bool = False, width: int = 120) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"lsctl drift --stack {report.stack}: {TITLE[report.status]}",
                  caption=f"{len(report.domains)} domain(s), {report.count('error')} error(s), "
                          f"{report.count('warning')} warning(s), "
                          f"{len(report.unreachable_grouped())} source(s) not reachable, "
                          f"{report.duration:.1f} s")
    for column in ("domain", "severity", "finding", "expected", "actual", "where"):
        table.add_column(column, overflow="fold")
    for f in report.findings:
        colour_of = "red" if report.fails(f) else "yellow"
        table.add_row(f.domain, f"[{colour_of}]{f.severity}[/]", f.code, f.expected, f.actual,
                      f.where)
    for source, detail, domains in report.unreachable_grouped():
        named = [d for d in domains if d != STACK] or ["(stack)"]
        shown = ", ".join(named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")
        table.add_row(shown, "[red]unchecked[/]", "unreachable", "an answer", detail, source)
    clean = report.clean_domains()
    if len(clean) > LIST_CLEAN:
        table.add_row(f"{len(clean)} domains", "[green]ok[/]", "-", "-", "-", "every source")
    for domain in clean if len(clean) <= LIST_CLEAN else ():
        table.add_row(domain, "[green]ok[/]", "-", "-", "-", "every source")
    out = io.StringIO()
    console = Console(file=out, force_terminal=colour, no_color=not colour, width=width,
                      color_system="standard" if colour else None)
    console.print(table)
    _renewals(console, report)
    return out.getvalue()


def _renewals(console: Console, report: Report) -> None:
    """When each certificate falls due (issue 17): the soonest first, a few of a fleet."""
    soonest = sorted(report.renewals, key=lambda r: r.due)
    for due in soonest[:LIST_RENEWALS]:
        console.print(f"{due.domain}: {due.text(report.checked_at)}", markup=False,
                      highlight=False)
    if len(soonest) > LIST_RENEWALS:
        console.print(f"... and {len(soonest) - LIST_RENEWALS} more renewals "
                      "(--format json lists every one)", markup=False, highlight=False)
