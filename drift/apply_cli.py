"""`lsctl apply`: show the plan, then apply it, only when confirmed (`--yes`, or y on a
terminal), deletes only with --allow-deletes, more than --max-changes only when raised."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from linkshortening.cli.arguments import add_stack_arguments

if TYPE_CHECKING:
    from drift.plan.changes import Outcome, Plan

MAX_CHANGES = 50

EPILOG = """\
RFC 2136 zones: one update per zone (split only where one DNS message could not hold it),
atomic, with prerequisites: a record set edited since the plan makes the update fail
(YXRRSET/NXRRSET) and the edit stays. Route53 zones (managedBy: lsctl): one change batch per
zone, DELETE with the exact values read. Twilio settings: each read again before it is
written. Only record sets lsctl manages are ever touched.

exit status: 0 applied (or nothing to apply; --dry-run: would apply), 1 a write failed or was
not confirmed, 2 could not plan, or refused (deletes, too many changes, no terminal and no
--yes)."""


class ApplyRefused(Exception):
    """The plan needs an option the command line did not give (exit 2, one line)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    add_stack_arguments(parser)
    parser.add_argument("--yes", action="store_true",
                        help="apply without asking (required without a terminal)")
    parser.add_argument("--allow-deletes", action="store_true",
                        help="allow the plan's deletes (record sets that must not exist)")
    parser.add_argument("--max-changes", type=int, default=MAX_CHANGES, metavar="N",
                        help=f"refuse a plan of more than N changes (default {MAX_CHANGES})")
    parser.add_argument("--dry-run", action="store_true",
                        help="show the plan and check it may be applied; write nothing")


def run(args: argparse.Namespace) -> int:
    from drift.plan import render
    from drift.plan.apply import apply_plan
    from drift.plan.planner import make_plan
    from drift.plan_cli import make

    plan, stack, specs, access = make(args)
    sys.stdout.write(render.text(plan, "apply"))
    if not plan.changes:
        print("\nnothing to apply")
        return 0
    check(plan, args.allow_deletes, args.max_changes)
    if args.dry_run:
        print(f"\ndry run: {render.summary(plan)} would be applied; nothing was written")
        return 0
    if not args.yes and not confirmed(plan):
        print("\nnot confirmed: nothing was written", file=sys.stderr)
        return 1
    outcomes = apply_plan(plan, access)
    print()
    report(outcomes)
    if not all(o.ok for o in outcomes):
        failed = [o for o in outcomes if not o.ok]
        print(f"lsctl: apply: {len(failed)} of {len(outcomes)} write(s) failed: "
              + "; ".join(f"{o.target}: {o.detail}" for o in failed), file=sys.stderr)
        return 1
    after = make_plan(stack, specs, access)
    if after.changes:
        # A server that accepted an update without doing it (a CNAME beside other data).
        print(f"lsctl: apply: every write was accepted, yet a new plan still has "
              f"{render.summary(after)}:\n{render.text(after)}", file=sys.stderr)
        return 1
    print(f"applied {render.summary(plan)}; a new plan is empty")
    return 0


def check(plan: Plan, allow_deletes: bool, max_changes: int) -> None:
    """The plan's deletes and size against what the command line allows."""
    deletes = plan.count("delete")
    if deletes and not allow_deletes:
        raise ApplyRefused(f"apply: the plan deletes {deletes} record set(s); check them and "
                           "pass --allow-deletes")
    if len(plan.changes) > max_changes:
        raise ApplyRefused(f"apply: the plan has {len(plan.changes)} change(s), more than "
                           f"--max-changes {max_changes}; check it and pass --max-changes "
                           f"{len(plan.changes)}")


def confirmed(plan: Plan) -> bool:
    """y on a terminal; without one there is nobody to ask."""
    from drift.plan import render

    if not sys.stdin.isatty():
        raise ApplyRefused("apply: no terminal to confirm on; check the plan (lsctl plan) "
                           "and pass --yes")
    try:
        answer = input(f"\napply {render.summary(plan)} to stack {plan.stack}? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def report(outcomes: Sequence[Outcome]) -> None:
    for outcome in outcomes:
        print(f"{'applied' if outcome.ok else 'FAILED '}  {outcome.target}: {outcome.detail}")
