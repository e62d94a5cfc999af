"""A zone's changes as Route53 change batches: one ChangeResourceRecordSets per zone, split only
at Route53's limits, a name's changes always in the same batch. A DELETE repeats the record set
exactly as read, which Route53 itself treats as a precondition (as a CREATE fails on a set
that exists)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from drift.plan.changes import DnsChange, Outcome, PlanError, RecordSet, ZonePlan
from drift.plan.dns_state import changed_since, read_route53

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_route53.type_defs import ChangeTypeDef

# Route53's limits per request: ResourceRecord elements, and characters of all their values.
MAX_RECORDS = 1000
MAX_CHARACTERS = 32_000


def apply_zone(plan: ZonePlan, client: Route53Client) -> list[Outcome]:
    from botocore.exceptions import BotoCoreError, ClientError

    zone, zone_id = plan.zone.name, plan.zone.address
    target = f"zone {zone}"
    # Read again first: an edit since the plan is then named, set by set, instead of surfacing
    # as Route53's InvalidChangeBatch (which still guards the moment between read and write).
    expected = [((c.name, c.type), c.before) for c in plan.changes]
    try:
        changed = changed_since(read_route53(client, zone, zone_id, [k for k, _ in expected]),
                                expected)
    except PlanError as exc:
        return [Outcome(target, len(plan.changes), False, f"not applied: {exc}")]
    if changed:
        return [Outcome(target, len(plan.changes), False,
                        "not applied: the zone changed since the plan (" + "; ".join(changed)
                        + "); nothing was written and the edit stays. Run `lsctl plan` again")]
    batches = build_batches(plan.changes)
    outcomes = []
    for i, (batch, count) in enumerate(batches, 1):
        label = target + (f" (batch {i} of {len(batches)})" if len(batches) > 1 else "")
        try:
            client.change_resource_record_sets(
                HostedZoneId=zone_id, ChangeBatch={"Comment": "lsctl apply", "Changes": batch})
        except (BotoCoreError, ClientError) as exc:
            outcomes.append(Outcome(label, count, False, f"not applied: Route53 refused the "
                                    f"batch ({exc}); run `lsctl plan` again"))
            continue
        outcomes.append(Outcome(label, count, True,
                                f"{count} change(s) applied to hosted zone {zone_id}"))
    return outcomes


def build_batches(changes: Sequence[DnsChange]) -> list[tuple[list[ChangeTypeDef], int]]:
    """(the batch's Route53 changes, how many plan changes it holds), within the limits."""
    names: dict[str, list[DnsChange]] = {}
    for change in changes:
        names.setdefault(change.name, []).append(change)
    batches: list[tuple[list[ChangeTypeDef], int]] = []
    records = characters = 0
    for name_changes in names.values():
        route53 = [c for change in name_changes for c in _route53_changes(change)]
        values = [v for c in route53 for v in _values(c)]
        size = len(values), sum(len(v) for v in values)
        if not batches or records + size[0] > MAX_RECORDS or \
                characters + size[1] > MAX_CHARACTERS:
            batches.append(([], 0))
            records = characters = 0
        batch, count = batches[-1]
        batches[-1] = (batch + route53, count + len(name_changes))
        records, characters = records + size[0], characters + size[1]
    return batches


def _route53_changes(change: DnsChange) -> list[ChangeTypeDef]:
    out: list[ChangeTypeDef] = []
    if change.before is not None:
        native: Any = change.native
        out.append({"Action": "DELETE", "ResourceRecordSet": native})
    if change.after is not None:
        out.append({"Action": "CREATE", "ResourceRecordSet": _record_set(change.after)})
    return out


def _record_set(found: RecordSet) -> Any:
    return {"Name": found.name + ".", "Type": found.type, "TTL": found.ttl,
            "ResourceRecords": [{"Value": v} for v in found.values]}


def _values(change: ChangeTypeDef) -> list[str]:
    """What Route53 counts: each ResourceRecord's value (an alias counts as one)."""
    records = change["ResourceRecordSet"].get("ResourceRecords", [])
    return [r["Value"] for r in records] or [""]
