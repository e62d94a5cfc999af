"""The Step Functions fan-out's Lambda handlers: plan, one shard, report.

Payloads stay small (Step Functions passes at most 256 KB between states): the plan and
every shard's full report are written to the stack's state store under
fanout/<execution>/, and only their keys and counts travel in the execution.

  plan_handler   {"stack", "execution", "input": {"force"?}}  -> {"stack", "execution", "plan_key",
                 "shards": [{"shard": K}, ...], "due", "deferred", "force"}
  shard_handler  {"stack", "execution", "plan_key", "shard", "force"?} -> {"shard",
                 "report_key", "counts", "failed"}; a domain's failure is in the report, a
                 setup error raises (the Map's Retry/Catch see it)
  report_handler {"plan": plan output, "shards": [shard output or {"shard", "error"}]}
                 -> the run summary; publishes DaysToExpiry as the single Lambda does
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import TYPE_CHECKING, Any

from acme_renewer.fanout.plan import Cost, load_plan
from acme_renewer.fanout.report import RunReport, outcome_of

if TYPE_CHECKING:
    from acme_renewer.wiring import RunParts
    from linkshortening.common.deadline import Deadline
    from linkshortening.stack.model import Stack


def _setup(event: dict[str, Any], context: object) -> tuple[Stack, RunParts, Deadline]:
    import boto3

    from acme_renewer.lambda_handler import DEADLINE_MARGIN, _deadline, _load_secrets, stack_file
    from acme_renewer.wiring import run_parts
    from linkshortening.stack.load import load_stack_file

    _load_secrets(boto3.client("secretsmanager"))
    stack = load_stack_file(stack_file(event))
    deadline = _deadline(context).child(DEADLINE_MARGIN)  # every phase of the step ends by it
    return stack, run_parts(stack, deadline=deadline), deadline


def _key(event: dict[str, Any], name: str) -> str:
    return f"fanout/{event['execution']}/{name}"


def _log(phase: str, domain: str | None, message: str) -> None:
    print(json.dumps({"phase": phase, "domain": domain, "message": message}))


def _cost() -> Cost:
    return Cost(float(os.environ.get("LSCTL_PER_DOMAIN_SECONDS", Cost.per_domain_seconds)),
                float(os.environ.get("LSCTL_SHARD_SECONDS", Cost.shard_seconds)))


def plan_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    from acme_renewer.fanout.cli_hook import plan_of
    from acme_renewer.pipeline import RenewOptions, renew_stack

    stack, parts, deadline = _setup(event, context)
    specs = stack.select(event.get("domains"))
    given = event.get("input")
    force = bool((given if isinstance(given, dict) else event).get("force", False))
    report = renew_stack(stack, specs, parts.state, parts.api, parts.dns, parts.open_account,
                         RenewOptions(force=force, dry_run=True, deadline=deadline), _log)
    plan = plan_of(stack, specs, report, _cost())
    key = _key(event, "plan.json")
    parts.state.backend.write(key, plan.dumps().encode())
    return {"stack": event.get("stack"), "execution": event["execution"], "plan_key": key,
            "shards": [{"shard": s.index} for s in plan.shards], "force": force,
            "due": sum(len(s.domains) for s in plan.shards), "deferred": plan.deferred}


def shard_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    from acme_renewer.cli import report_json
    from acme_renewer.fanout.shards import ShardRef, select
    from acme_renewer.fanout.zone_state import ZoneState
    from acme_renewer.pipeline import RenewOptions, renew_stack

    stack, parts, deadline = _setup(event, context)
    raw = parts.state.backend.read(event["plan_key"])
    if raw is None:
        raise FileNotFoundError(f"the plan {event['plan_key']} is not in the state store")
    plan = load_plan(raw.decode(), event["plan_key"])
    index = int(event["shard"])
    specs = select(stack.domains, ShardRef(index, len(plan.shards)), plan)
    report = renew_stack(stack, specs, ZoneState(parts.state, specs), parts.api, parts.dns,
                         parts.open_account,
                         RenewOptions(force=bool(event.get("force")), deadline=deadline), _log)
    key = _key(event, f"shard-{index}.json")
    parts.state.backend.write(key, json.dumps(report_json(report)).encode())
    return {"shard": index, "report_key": key, "failed": len(report.failed),
            "counts": dict(Counter(o.status for o in report.outcomes))}


def report_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    import boto3

    from acme_renewer.lambda_handler import _publish_days_to_expiry

    plan = event["plan"]
    stack, parts, _ = _setup(plan, context)
    run = RunReport(stack.name)
    for result in event["shards"]:
        if "error" in result or "report_key" not in result:  # a Catch: the shard never reported
            error = result.get("error", {})
            run.failed_shards.append({"shard": result.get("shard"),
                                      "error": error.get("Error", "unknown"),
                                      "cause": str(error.get("Cause", ""))[:500]})
            continue
        raw = parts.state.backend.read(result["report_key"])
        if raw is None:
            run.failed_shards.append({"shard": result["shard"], "error": "MissingReport",
                                      "cause": f"{result['report_key']} is not in the store"})
            continue
        run.outcomes += [outcome_of(o) for o in json.loads(raw)["outcomes"]]
    _publish_days_to_expiry(boto3.client("cloudwatch"), run, stack.name)
    summary = run.summary()
    parts.state.backend.write(_key(plan, "report.json"), json.dumps(
        {**summary, "outcomes": [{"domain": o.fqdn, "status": o.status, "detail": o.detail}
                                 for o in run.outcomes]}).encode())
    print(json.dumps(summary))
    return summary
