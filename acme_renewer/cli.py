"""`lsctl renew`: obtain, upload and validate certificates for a stack's due domains."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from linkshortening.cli.arguments import add_stack_arguments

if TYPE_CHECKING:
    from acme_renewer.pipeline import Report

EPILOG = """\
Runs in phases across all due domains (order, one DNS propagation wait, validation, upload,
one Twilio validation wait), so 100 domains cost about as long as one.

Due means: no certificate yet, names or key type changed, less than lsctl:acme's
renewWhenLifetimeLeft (1/3) of the lifetime left, or the CA's ARI window has come.
Twilio's own certificate (date_expires) is the truth about what is live.

Credentials come from the environment: TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN or
TWILIO_API_KEY/TWILIO_API_SECRET; the TSIG secret (rfc2136) from LSCTL_TSIG_SECRET; AWS
from the usual AWS variables or role. Each secret may be given as NAME_FILE=path.

Due domains are ordered within the CA's rate limits (Let's Encrypt's, or lsctl:acme's
rateLimits), the least time left first; the rest are "deferred" with the time the budget
allows them, and the next run orders them.

exit status: 0 every domain renewed, not due or deferred, 1 some domain failed, 2
configuration or setup error."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    add_stack_arguments(parser)
    parser.add_argument("--force", action="store_true", help="renew even if not due")
    parser.add_argument("--dry-run", action="store_true",
                        help="decide and report, change nothing: no account registered, no "
                             "order, no DNS change or cleanup, no state written, no upload")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--validation-poll", type=float, default=5.0, metavar="SECONDS",
                        help="how often to ask Twilio whether uploads are validated "
                             "(default 5; Twilio takes up to five minutes)")


def run(args: argparse.Namespace) -> int:
    from acme_renewer.pipeline import RenewOptions, renew_stack
    from acme_renewer.wiring import run_parts
    from linkshortening.stack.errors import ConfigError
    from linkshortening.stack.load import find_project_dir, load_stack, stack_path

    stack = load_stack(args.stack)
    specs = stack.select(args.domain)
    try:  # a relative state location is relative to the project, wherever lsctl runs
        project_dir: Path | None = find_project_dir(stack_path(args.stack).resolve().parent)
    except ConfigError:
        project_dir = None
    parts = run_parts(stack, project_dir)
    options = RenewOptions(force=args.force, dry_run=args.dry_run,
                           validation_interval=args.validation_poll)
    report = renew_stack(stack, specs, parts.state, parts.api, parts.dns, parts.open_account,
                         options, _progress())
    if args.json:
        print(json.dumps(report_json(report), indent=2))
    else:
        _print_table(report)
    return report.exit_code


def report_json(report: Report) -> dict[str, object]:
    return {"stack": report.stack, "notes": report.notes, "budget": _budget_json(report),
            "outcomes": [
        {"domain": o.fqdn, "status": o.status, "detail": o.detail,
         "expires": o.expires.isoformat() if o.expires else None, "warnings": o.warnings,
         "deferred_until": o.deferred_until.isoformat() if o.deferred_until else None}
        for o in report.outcomes]}


def _budget_json(report: Report) -> dict[str, object] | None:
    """The CA's new-order budget of this run: used before it, ordered in it, left after."""
    b = report.budget
    if b is None:
        return None
    return {"orders_per_3_hours": b.limit, "used": b.used, "ordered": b.planned,
            "exempt": b.exempt, "left": b.left, "deferred": b.deferred,
            "paused_until": b.paused_until.isoformat() if b.paused_until else None}


def _budget_line(report: Report) -> str | None:
    b = report.budget
    if b is None:
        return None
    limit = ("no limit" if b.limit is None
             else f"{b.used + b.planned} of {b.limit} used, {b.left} left")
    line = (f"rate budget (new orders per 3 hours): {limit}; {b.planned} ordered now, "
            f"{b.exempt} ARI renewal(s) exempt, {b.deferred} deferred")
    return line + (f"; paused until {b.paused_until:%Y-%m-%d %H:%M}Z" if b.paused_until else "")


def _progress() -> Callable[[str, str | None, str], None]:
    """Live phase lines: rich on a terminal, plain timestamped lines otherwise (cron, CI)."""
    import time

    from rich.console import Console

    console = Console(stderr=True)
    started = time.monotonic()

    def say(phase: str, domain: str | None, message: str) -> None:
        where = f" {domain}" if domain else ""
        if console.is_terminal:
            console.print(f"[dim]{time.monotonic() - started:6.1f}s[/] [bold]{phase}[/]{where}: "
                          f"{message}")
        else:
            print(f"lsctl renew: {phase}{where}: {message}", file=sys.stderr, flush=True)

    return say


def _print_table(report: Report) -> None:
    from rich.console import Console
    from rich.table import Table

    colours = {"renewed": "green", "reuploaded": "green", "not_due": "dim",
               "would_renew": "yellow", "managed": "cyan", "deferred": "yellow",
               "failed": "red"}
    table = Table(title=f"lsctl renew --stack {report.stack}")
    for column in ("domain", "status", "expires", "detail"):
        table.add_column(column, overflow="fold")
    for o in report.outcomes:
        detail = "\n".join([o.detail, *(f"warning: {w}" for w in o.warnings)])
        table.add_row(o.fqdn, f"[{colours[o.status]}]{o.status}[/]",
                      f"{o.expires:%Y-%m-%d}" if o.expires else "-", detail)
    console = Console(width=max(100, Console().width))
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    if (budget := _budget_line(report)) is not None:
        console.print(budget, markup=False, highlight=False)
