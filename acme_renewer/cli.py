"""`lsctl renew`: obtain, upload and validate certificates for a stack's due domains."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from linkshortening.cli.arguments import (
    add_format_alias,
    add_output_arguments,
    add_stack_arguments,
    output_targets,
)

if TYPE_CHECKING:
    from types import FrameType

    from rich.console import Console

    from acme_renewer.live import RunOutput
    from acme_renewer.pipeline import Report
    from acme_renewer.state import RenewerState

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

EPILOG = """\
Runs in phases across all due domains (order, one DNS propagation wait, validation, upload,
one Twilio validation wait), so 100 domains cost about as long as one.

Due means: no certificate yet, names or key type changed, less than lsctl:acme's
renewWhenLifetimeLeft (1/3) of the lifetime left, or the CA's ARI window has come.
Twilio's own certificate (date_expires) is the truth about what is live. A valid one lsctl
did not upload is adopted: judged by the same rule on its own lifetime, replaced only when
due (or with --force). certificate: external domains are only reported (lsctl cert upload).

Credentials come from the environment: TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN or
TWILIO_API_KEY/TWILIO_API_SECRET; the TSIG secret (rfc2136) from LSCTL_TSIG_SECRET; AWS
from the usual AWS variables or role. Each secret may be given as NAME_FILE=path.

Due domains are ordered within the CA's rate limits (Let's Encrypt's, or lsctl:acme's
rateLimits), the least time left first; the rest are "deferred" with the time the budget
allows them, and the next run orders them.

--deadline bounds the whole run (e.g. `lsctl renew --deadline 10m` from a 15-minute cron
slot): every request and wait ends by it, a margin is kept to clean up challenge records and
report, and a domain that could not finish is "deferred" (not failed); the next run picks it
up. The Lambda sets it from its remaining time.

Progress goes to stderr: a live bar during the two long waits on a terminal, timestamped
lines otherwise (cron, CI).

exit status: 0 every domain renewed, not due or deferred, 1 some domain failed, 2
configuration or setup error (each problem named with its fix), 130 interrupted (Ctrl-C; what
was left in flight is said, and the next run cleans it up)."""


FORMATS = ("table", "json")
EXTENSIONS = {".json": "json", ".txt": "table"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    add_stack_arguments(parser)
    parser.add_argument("--force", action="store_true", help="renew even if not due")
    parser.add_argument("--dry-run", action="store_true",
                        help="decide and report, change nothing: no account registered, no "
                             "order, no DNS change or cleanup, no state written, no upload")
    add_output_arguments(parser, FORMATS, EXTENSIONS, "default: table")
    add_format_alias(parser, "--json", "json")
    parser.add_argument("--deadline", type=_duration, metavar="DURATION",
                        help="finish the run within this time: 600, 90s, 10m, 1h (domains "
                             "left unfinished are reported deferred; default: no deadline)")
    parser.add_argument("--validation-poll", type=float, default=5.0, metavar="SECONDS",
                        help="how often to ask Twilio whether uploads are validated "
                             "(default 5; Twilio takes up to five minutes)")
    from acme_renewer.fanout import cli_hook

    cli_hook.add_arguments(parser)


def _duration(text: str) -> float:
    from linkshortening.common.deadline import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:  # argparse: one line naming --deadline, exit 2
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from acme_renewer.fanout import cli_hook
    from acme_renewer.live import RunOutput
    from acme_renewer.pipeline import RenewOptions, renew_stack
    from acme_renewer.wiring import run_parts
    from linkshortening.common.deadline import Deadline
    from linkshortening.common.files import check_output_path
    from linkshortening.stack.errors import ConfigError
    from linkshortening.stack.load import find_project_dir, load_stack, stack_path

    # The clock starts now: loading the stack and checking access count against it.
    deadline = Deadline.after(args.deadline) if args.deadline else Deadline.never()
    targets = output_targets(args, "table", EXTENSIONS)
    for target in targets:  # a path a write would fail on is refused before any work
        if target.path is not None:
            check_output_path(target.path)
    stack = load_stack(args.stack)
    specs, shard = cli_hook.scope(args, stack, stack.select(args.domain))
    if args.out is not None:
        check_output_path(args.out)
    try:  # a relative state location is relative to the project, wherever lsctl runs
        project_dir: Path | None = find_project_dir(stack_path(args.stack).resolve().parent)
    except ConfigError:
        project_dir = None
    parts = run_parts(stack, project_dir, deadline=deadline)
    state = cli_hook.shard_state(parts.state, specs, shard)
    options = RenewOptions(force=args.force, dry_run=args.dry_run or args.plan_only,
                           validation_interval=args.validation_poll, workers=args.workers,
                           deadline=deadline)
    output = RunOutput()
    during: list[str] = []

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        during.append(output.doing)  # before the way out reports its own cleanup phase
        signal.default_int_handler(signum, frame)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        report = renew_stack(stack, specs, state, parts.api, parts.dns,
                             parts.open_account, options, output.phase, output.wait)
    except KeyboardInterrupt:
        output.close()
        print(interrupted(output, state, args.dry_run, during[0] if during else None),
              file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except Exception as exc:  # credentials that lapsed after the setup check, say
        from linkshortening.common.aws import aws_setup_error

        problem = aws_setup_error(exc, "AWS")
        if problem is None:
            raise
        raise problem from None
    finally:
        signal.signal(signal.SIGINT, previous)
        output.close()
    if args.plan_only:
        return cli_hook.write_plan(args, stack, specs, report)
    for target in targets:
        _write_report(report, target.format, target.path)
    return report.exit_code


def _write_report(report: Report, fmt: str, path: Path | None) -> None:
    """The report as a table or JSON, to standard output or (atomically) to `path`."""
    if fmt == "json":
        text = json.dumps(report_json(report), indent=2) + "\n"
    elif path is None:
        _print_table(report)
        return
    else:
        import io

        from rich.console import Console

        buffer = io.StringIO()
        _print_table(report, Console(file=buffer, width=160, color_system=None))
        text = buffer.getvalue()
    if path is None:
        sys.stdout.write(text)
        return
    from linkshortening.common.files import write_output

    write_output(path, text, mode=0o644)


def interrupted(output: RunOutput, state: RenewerState, dry_run: bool,
                during: str | None = None) -> str:
    """What a Ctrl-C `during` a phase left in flight, from the phases seen and the journal."""
    from acme_renewer.live import PREFIX

    lines = [f"{PREFIX}: interrupted during {during or output.doing}."]
    if dry_run:
        return lines[0] + " A dry run changes nothing: nothing is left in flight."
    if "order" in output.seen:
        lines.append(f"  - ACME orders placed ({output.seen['order']}) stay pending at the "
                     "CA and expire there unused; the next run places new ones.")
    try:
        published = state.pending_records()
    except Exception:  # the state store itself may be what is failing
        published = None
    if published:
        names = ", ".join(sorted({r.name for r in published})[:3])
        lines.append(f"  - {len(published)} challenge record(s) are still published ({names}"
                     f"{', ...' if len({r.name for r in published}) > 3 else ''}): they were "
                     "journalled in the state store before being published, so the next "
                     "`lsctl renew` removes them first.")
    elif "present" in output.seen and published is not None:
        lines.append("  - the challenge records were removed on the way out "
                     "(the journal is empty).")
    if "upload" in output.seen:
        lines.append("  - certificates uploaded to Twilio may still be in validation; they "
                     "are stored, so the next run uploads again what Twilio does not serve.")
    if len(lines) == 1:
        lines.append("  - nothing was in flight.")
    return "\n".join(lines)


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


def _print_table(report: Report, console: Console | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    colours = {"renewed": "green", "reuploaded": "green", "not_due": "dim", "adopted": "dim",
               "would_renew": "yellow", "managed": "cyan", "external": "cyan",
               "deferred": "yellow", "failed": "red"}
    table = Table(title=f"lsctl renew --stack {report.stack}")
    for column in ("domain", "status", "expires", "detail"):
        table.add_column(column, overflow="fold")
    for o in report.outcomes:
        detail = "\n".join([o.detail, *(f"warning: {w}" for w in o.warnings)])
        table.add_row(o.fqdn, f"[{colours[o.status]}]{o.status}[/]",
                      f"{o.expires:%Y-%m-%d}" if o.expires else "-", detail)
    console = console or Console(width=max(100, Console().width))
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    if (budget := _budget_line(report)) is not None:
        console.print(budget, markup=False, highlight=False)
