"""`lsctl records`: validate a stack and print the records each domain must have."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from linkshortening.cli.arguments import add_stack_arguments


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("Root domains need one A record set with exactly Twilio's IPs; subdomains "
                     "one CNAME to Twilio.\nExit 0: stack valid; 2: stack invalid (the message "
                     "names the file, the key and the fix).")
    add_stack_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from linkshortening.stack.load import load_stack
    from linkshortening.stack.records import desired_records

    stack = load_stack(args.stack)
    domains = stack.select(args.domain)
    rows = [(spec, rec) for spec in domains for rec in desired_records(spec, stack.targets)]
    if args.json:
        print(json.dumps([{"domain": s.fqdn, "zone": s.zone, **asdict(r)} for s, r in rows],
                         indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Records for stack {stack.name} ({stack.source})")
    for column in ("domain", "zone", "type", "ttl", "values"):
        table.add_column(column)
    for spec, rec in rows:
        table.add_row(spec.fqdn, spec.zone, rec.type, str(rec.ttl), "\n".join(rec.values))
    Console().print(table)
    return 0
