"""`lsctl renew --plan-only` and `--shard K/N`: the hooks cli.py calls (arguments, scope,
state, the plan written after the dry run)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from acme_renewer.fanout.plan import Cost, Plan, load_plan, make_plan
from acme_renewer.fanout.shards import SOURCE, ShardRef, parse_shard, select
from acme_renewer.fanout.zone_state import ZoneState
from acme_renewer.pipeline import Report
from acme_renewer.state import RenewerState
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import DomainSpec, Stack


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fan-out (README: Sharding on any scheduler)")
    group.add_argument("--plan-only", action="store_true",
                       help="decide and budget as --dry-run does, then write the shard plan "
                            "(JSON) to --out FILE or standard output; changes nothing")
    group.add_argument("--out", type=Path, metavar="FILE", help="where --plan-only writes")
    group.add_argument("--shard", metavar="K/N",
                       help="renew only shard K of N (K from 0): the plan's shard K with "
                            "--plan, else the zones that hash to K")
    group.add_argument("--plan", type=Path, metavar="FILE",
                       help="the plan --shard takes its shard from")
    group.add_argument("--workers", type=int, default=8, metavar="N",
                       help="parallel requests per phase (default 8); N sharded workers "
                            "against one CA divide its concurrency between them")
    group.add_argument("--per-domain-seconds", type=float, default=Cost.per_domain_seconds,
                       metavar="S", help="plan: cost of one domain in a shard (default "
                                         f"{Cost.per_domain_seconds})")
    group.add_argument("--shard-seconds", type=float, default=Cost.shard_seconds, metavar="S",
                       help="plan: time one shard may take (default "
                            f"{Cost.shard_seconds:.0f}, of a Lambda's 900)")


def scope(args: argparse.Namespace, stack: Stack, specs: Sequence[DomainSpec],
          ) -> tuple[Sequence[DomainSpec], ShardRef | None]:
    """The domains this run renews, and its shard (None: the whole selection)."""
    if args.plan is not None and args.shard is None:
        raise ConfigError(SOURCE, "--plan", "--plan names the plan of a sharded run",
                          "add --shard K/N")
    if args.out is not None and not args.plan_only:
        raise ConfigError(SOURCE, "--out", "--out is where --plan-only writes the plan",
                          "add --plan-only, or use --output for the report")
    if args.workers < 1:
        raise ConfigError(SOURCE, "--workers", f"{args.workers} is not a number of workers",
                          "give --workers 1 or more")
    if args.shard is None:
        return specs, None
    if args.plan_only:
        raise ConfigError(SOURCE, "--shard", "--plan-only plans the whole stack",
                          "drop --shard (or --plan-only)")
    ref = parse_shard(args.shard)
    plan = None
    if args.plan is not None:
        try:
            text = args.plan.read_text()
        except OSError as exc:
            raise ConfigError(str(args.plan), "", f"cannot read the plan: {exc.strerror}",
                              "give the file lsctl renew --plan-only --out wrote") from None
        plan = load_plan(text, str(args.plan))
        if plan.stack != stack.name:
            raise ConfigError(str(args.plan), "stack", f"the plan is of stack {plan.stack!r}, "
                              f"not {stack.name!r}", "give this stack's plan")
    return select(specs, ref, plan, str(args.plan)), ref


def shard_state(state: RenewerState, specs: Sequence[DomainSpec],
                ref: ShardRef | None) -> RenewerState:
    """A shard locks and journals its own zones; a whole run keeps the stack's lock."""
    return state if ref is None else ZoneState(state, specs)


def plan_of(stack: Stack, specs: Sequence[DomainSpec], report: Report, cost: Cost) -> Plan:
    """The plan from a dry run's report: its would_renew domains, by zone."""
    zones = {s.fqdn: s.zone for s in specs}
    due = [(o.fqdn, zones[o.fqdn]) for o in report.outcomes if o.status == "would_renew"]
    deferred = sum(o.status == "deferred" for o in report.outcomes)
    return make_plan(stack.name, due, cost, deferred)


def write_plan(args: argparse.Namespace, stack: Stack, specs: Sequence[DomainSpec],
               report: Report) -> int:
    from linkshortening.common.files import write_output

    if args.per_domain_seconds <= 0 or args.shard_seconds <= 0:
        raise ConfigError(SOURCE, "--per-domain-seconds", "the cost numbers must be positive",
                          "give seconds > 0")
    plan = plan_of(stack, specs, report,
                   Cost(args.per_domain_seconds, args.shard_seconds))
    if args.out is None:
        sys.stdout.write(plan.dumps())
    else:
        write_output(args.out, plan.dumps(), mode=0o644)
        print(f"lsctl renew: plan of {sum(len(s.domains) for s in plan.shards)} due domain(s) "
              f"in {len(plan.shards)} shard(s) written to {args.out}", file=sys.stderr)
    return report.exit_code
