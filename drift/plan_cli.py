"""`lsctl plan`: what `lsctl apply` would change, as data (octoDNS style), for the zones and
Twilio settings lsctl writes; what Pulumi writes is named, with `pulumi up` to run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from linkshortening.cli.arguments import add_stack_arguments

if TYPE_CHECKING:
    from drift.plan.access import Access
    from drift.plan.changes import Plan
    from linkshortening.stack.model import DomainSpec, Stack

FORMATS = ("text", "json")

EPILOG = """\
lsctl writes the records of RFC 2136 zones (read from the zone's primary, dns.server or
LSCTL_RFC2136_SERVER) and of Route53 zones marked dns.managedBy: lsctl; other Route53 zones are
Pulumi's (`pulumi up`). Twilio-side settings (domain config, Messaging Services) are lsctl's
where the stack says lsctl:twilio: {managedBy: lsctl}, else Pulumi's.

exit status: 0 planned (with --expect-no-changes: and nothing to change), 1 changes with
--expect-no-changes, 2 could not plan (the reason on one line)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    add_stack_arguments(parser)
    parser.add_argument("--format", choices=FORMATS,
                        help="text (default) or json (drift/schema/plan.schema.json); "
                             "json when --output names a .json file")
    parser.add_argument("--output", type=Path, metavar="FILE",
                        help="write the plan here (atomically) instead of standard output")
    parser.add_argument("--expect-no-changes", action="store_true",
                        help="exit 1 when there is anything to change (for CI)")


def run(args: argparse.Namespace) -> int:
    from drift.plan import render

    plan = make(args)[0]
    fmt = args.format or ("json" if args.output and args.output.suffix.lower() == ".json"
                          else "text")
    body = render.to_json(plan) if fmt == "json" else render.text(plan)
    if args.output is not None:
        from linkshortening.common.files import write_atomic

        write_atomic(args.output, body, mode=0o644)
    else:
        sys.stdout.write(body)
    return 1 if args.expect_no_changes and plan.changes else 0


def make(args: argparse.Namespace) -> tuple[Plan, Stack, tuple[DomainSpec, ...], Access]:
    """The plan for `--stack`/`--domain`, with what made it (apply plans again after)."""
    from drift.plan.access import Access
    from drift.plan.planner import make_plan
    from linkshortening.stack.load import load_stack

    stack = load_stack(args.stack)
    specs = stack.select(args.domain)
    access = Access.from_env(stack.source, stack)
    return make_plan(stack, specs, access), stack, specs, access
