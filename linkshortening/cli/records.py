"""`lsctl records`: validate a stack and print every record it manages, never cut short."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from linkshortening.cli.arguments import (
    OutputTarget,
    add_format_alias,
    add_output_arguments,
    add_stack_arguments,
    output_targets,
)

if TYPE_CHECKING:
    from rich.table import Table

    from linkshortening.stack.managed_records import ManagedRecord
    from linkshortening.stack.model import DomainSpec, Stack

# Names, not an import of record_formats: --help must not load dnspython.
FORMATS = ("table", "json", "zone", "nsupdate")
EXTENSIONS = {".json": "json", ".zone": "zone", ".db": "zone", ".nsupdate": "nsupdate",
              ".txt": "table"}

EPILOG = """\
Root domains need one A record set with exactly Twilio's IPs, subdomains one CNAME to Twilio;
also Twilio's verification TXT at _twilio.<fqdn> (verificationTxt), the DNS-PERSIST-01 TXT at
_validation-persist.<fqdn> (challenge: dns-persist-01) and, per zone, CAA at the apex allowing
only letsencrypt.org (caa: true). `pulumi up` declares them in Route53 zones;
for other zones, --format zone or nsupdate writes them for you to add:

  lsctl records --stack prod --format nsupdate --domain sms.example.org | nsupdate -k KEYFILE

formats: table (the default on a terminal; wrapped, never cut), zone (BIND zone-file lines;
the default in a pipe), nsupdate (per zone: delete and add each record set, then send), json.
--output FILE writes there instead (its extension names the format when --format is absent).

exit status: 0 the stack is valid; 2 it is not (the message names the file, the key and
the fix)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    add_stack_arguments(parser)
    add_output_arguments(parser, FORMATS, EXTENSIONS,
                         "default: table on a terminal, zone otherwise")
    add_format_alias(parser, "--json", "json")


def run(args: argparse.Namespace) -> int:
    from linkshortening.stack.load import load_stack
    from linkshortening.stack.managed_records import managed_records

    targets = output_targets(args, "table" if sys.stdout.isatty() else "zone", EXTENSIONS)
    stack = load_stack(args.stack)
    domains = stack.select(args.domain)
    records = managed_records(stack, domains)
    _warn_if_renew_would_refuse(stack, domains)
    renewal = _renewal(stack, domains)
    for target in targets:
        _write(target, records, stack.name, stack.source, renewal)
    return 0


def _warn_if_renew_would_refuse(stack: Stack, domains: tuple[DomainSpec, ...]) -> None:
    """`lsctl renew` checks the CA's terms before it registers an account; say so here, on
    stderr, so a pipe of records stays clean and the stack's owner hears it first."""
    if stack.acme.agree_tos or not any(d.certificate == "acme" for d in domains):
        return
    print(f"lsctl records: warning: {stack.source}: lsctl:acme.agreeTos is not true: "
          "`lsctl renew` will refuse to register an ACME account. Fix: read the CA's terms, "
          "then set agreeTos: true", file=sys.stderr)


def _renewal(stack: Stack, specs: tuple[DomainSpec, ...]) -> str | None:
    """The certificates' profile, lifetime, renewal rule and schedule (issue 17), and a
    warning on stderr for a declared schedule or alarm `pulumi up` would refuse."""
    import datetime as dt

    from linkshortening.stack.profiles import renewal_plan, renewal_problems

    acme = [s.fqdn for s in specs if s.certificate == "acme"]
    if not acme:
        return None
    now = dt.datetime.now(dt.UTC)
    for problem in renewal_problems(stack, now):
        print(f"lsctl records: warning: {problem}", file=sys.stderr)
    return f"{', '.join(acme)}: {renewal_plan(stack, now).summary()}"


def _write(target: OutputTarget, records: tuple[ManagedRecord, ...], stack: str,
           source: str, renewal: str | None = None) -> None:
    from linkshortening.cli import record_formats as formats

    if target.format == "table" and target.path is None and sys.stdout.isatty():
        from rich.console import Console

        console = Console()
        console.print(_table(records, stack, source, console.width))
        if renewal:
            console.print(renewal, markup=False, highlight=False)
        return
    comment = f"; {renewal}\n" if renewal else ""  # zone files and nsupdate both read `;`
    text = {
        "json": lambda: formats.render_json(records),
        "zone": lambda: comment + formats.render_zone(records, stack),
        "nsupdate": lambda: comment + formats.render_nsupdate(records, stack),
        "table": lambda: _plain_table(records, stack, source) + (f"{renewal}\n" if renewal
                                                                  else ""),
    }[target.format]()
    if target.path is None:
        sys.stdout.write(text)
        return
    from linkshortening.common.files import write_atomic

    write_atomic(target.path, text, mode=0o644)


def _table(records: tuple[ManagedRecord, ...], stack: str, source: str,
           width: int | None = None, first_row_only: bool = False) -> Table:
    """Within `width`, names and values keep their full length when they fit side by side;
    past that they fold onto the next line. Never "…": the values are what people copy."""
    from rich.table import Table

    from linkshortening.cli.record_formats import table_caption, table_rows

    rows = table_rows(records)
    columns = ("name", "type", "ttl", "values")
    longest = [max((len(line) for row in rows for line in row[i].splitlines()), default=0)
               for i in range(len(columns))]
    fits = width is None or sum(longest) + 3 * len(columns) + 1 <= width  # padding, borders
    table = Table(title=f"Records for stack {stack} ({source})",
                  caption=table_caption(records) or None)
    for column, size in zip(columns, longest, strict=True):
        table.add_column(column, overflow="fold", min_width=size if fits else None)
    for row in rows[:1] if first_row_only else rows:  # the frame alone: see _plain_table
        table.add_row(*row)
    return table


def _plain_table(records: tuple[ManagedRecord, ...], stack: str, source: str) -> str:
    """The table for a file or a pipe: as wide as its widest row, so nothing wraps.

    Rich lays out every cell of every row (5 s at 10,000 domains); the column widths are
    fixed by `_table` (each column's longest line), so rich draws only the frame (title,
    header, borders, caption) around the first row and the other rows are written the way
    rich writes them: `│ ` cell padded to its column ` │`. Cells rich would read differently
    (markup, emoji codes, wide or control characters) leave the whole table to rich."""
    from linkshortening.cli.record_formats import table_rows

    rows = table_rows(records)
    table = _table(records, stack, source)
    width = _natural_width(table)
    if len(rows) > 1 and all(_plain_cell(cell) for row in rows for cell in row):
        sizes = [max(len(line) for row in rows for line in row[i].split("\n"))
                 for i in range(4)]
        framed = _rich_text(_table(records, stack, source, first_row_only=True), width)
        first = "".join(_row_lines(rows[0], sizes))
        if framed.count(first) == 1:
            body = "".join(line for row in rows for line in _row_lines(row, sizes))
            return framed.replace(first, body)
    return _rich_text(table, width)


def _rich_text(table: Table, width: int) -> str:
    """What rich itself prints for `table`, without colour (the reference the fast path
    matches, tests/test_records_cli.py)."""
    import io

    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None).print(table)
    return buffer.getvalue()


def _plain_cell(cell: str) -> bool:
    """Printable ASCII without `[` (markup) or `:` (emoji codes): rich shows it as it is."""
    return cell.isascii() and "[" not in cell and ":" not in cell and all(
        line.isprintable() for line in cell.split("\n"))


def _row_lines(row: tuple[str, ...], sizes: list[int]) -> list[str]:
    cells = [cell.split("\n") for cell in row]
    height = max(len(lines) for lines in cells)
    return ["│" + "│".join(f" {(lines[i] if i < len(lines) else ''):<{size}} "
                           for lines, size in zip(cells, sizes, strict=True)) + "│\n"
            for i in range(height)]


def _natural_width(table: Table) -> int:
    import io

    from rich.console import Console
    from rich.measure import Measurement

    probe = Console(file=io.StringIO(), width=10_000)
    return Measurement.get(probe, probe.options, table).maximum
