"""A plan as text for people and as JSON for machines (drift/schema/plan.schema.json)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from drift.plan.changes import Deferred, DnsChange, Plan, RecordSet, TwilioChange, TwilioValue

SCHEMA_VERSION = 1
SIGNS = {"create": "+", "update": "~", "delete": "-"}
SAMPLE = 3  # domains named per deferred item; the rest are counted


def summary(plan: Plan) -> str:
    total = len(plan.changes)
    if not total:
        return "no changes"
    parts = [f"{plan.count(action)} to {action}" for action in ("create", "update", "delete")
             if plan.count(action)]
    return f"{total} change{'s' if total != 1 else ''} ({', '.join(parts)})"


def text(plan: Plan, command: str = "plan") -> str:
    return "\n".join([f"lsctl {command} --stack {plan.stack}: {summary(plan)}", *_body(plan)]) \
        + "\n"


def _body(plan: Plan) -> Iterator[str]:
    for zone_plan in plan.zones:
        zone = zone_plan.zone
        where = "primary" if zone.provider == "rfc2136" else "hosted zone"
        header = f"zone {zone.name} ({zone.provider}, {where} {zone.address})"
        yield ""
        yield header + ("" if zone_plan.changes else ": no changes")
        for change in zone_plan.changes:
            yield from _dns(change)
    if plan.twilio:
        yield ""
        yield "Twilio settings"
        for twilio in plan.twilio:
            yield from _twilio(twilio)
    if plan.deferred:
        yield ""
        yield "left to Pulumi, which writes them (lsctl writes nothing there): run `pulumi up`"
        yield from (f"  {_deferred(d)}" for d in plan.deferred)


def _dns(change: DnsChange) -> Iterator[str]:
    sign = SIGNS[change.action]
    if change.action == "update":
        yield f"  {sign} update {change.name} {change.type}"
        yield f"      - {_values(change.before)}"
        yield f"      + {_values(change.after)}"
    else:
        yield f"  {sign} {change.action} {change.name} {change.type} " \
              f"{_values(change.after or change.before)}"


def _values(found: RecordSet | None) -> str:
    return f"{found.ttl} {' '.join(found.values)}" if found else "nothing"


def _twilio(change: TwilioChange) -> Iterator[str]:
    sign = SIGNS[change.action]
    if change.resource == "domain-config":
        yield f"  {sign} {change.action} {change.domain} domain config ({change.sid})"
    else:
        yield f"  {sign} {change.action} {change.domain} Messaging Service {change.sid}"
    for key, after in change.after.items():
        yield f"      {key}: {setting(change.before.get(key))} -> {setting(after)}"


def setting(value: TwilioValue) -> str:
    """A Twilio setting as the stack file writes it (true, not True; none for unset)."""
    if value is None:
        return "none"
    return str(value).lower() if isinstance(value, bool) else value


def _deferred(item: Deferred) -> str:
    shown = ", ".join(item.domains[:SAMPLE])
    more = f" and {len(item.domains) - SAMPLE} more" if len(item.domains) > SAMPLE else ""
    where = f"zone {item.name}" if item.scope == "zone" else item.name
    return f"{where} (managedBy: {item.writer}; {shown}{more})"


def to_json(plan: Plan) -> str:
    return json.dumps(as_dict(plan), indent=2) + "\n"


def as_dict(plan: Plan) -> dict[str, Any]:
    counts = {action: plan.count(action) for action in ("create", "update", "delete")}
    return {
        "schemaVersion": SCHEMA_VERSION,
        "stack": plan.stack,
        "summary": {**counts, "changes": len(plan.changes), "deferred": len(plan.deferred)},
        "zones": [{"zone": z.zone.name, "provider": z.zone.provider,
                   "managedBy": z.zone.writer, "address": z.zone.address,
                   "changes": len(z.changes)} for z in plan.zones],
        "changes": [_change(c) for c in plan.changes],
        "deferred": [{"scope": d.scope, "name": d.name, "managedBy": d.writer,
                      "command": d.command, "domains": list(d.domains)}
                     for d in plan.deferred],
    }


def _change(change: DnsChange | TwilioChange) -> dict[str, Any]:
    if isinstance(change, DnsChange):
        return {"kind": "dns", "action": change.action, "zone": change.zone,
                "domain": change.domain, "name": change.name, "type": change.type,
                "before": _set(change.before), "after": _set(change.after)}
    return {"kind": "twilio", "action": change.action, "domain": change.domain,
            "resource": change.resource, "sid": change.sid,
            "before": _fields(change.before), "after": _fields(change.after)}


def _set(found: RecordSet | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {"name": found.name, "type": found.type, "ttl": found.ttl,
            "values": list(found.values)}


def _fields(values: Mapping[str, TwilioValue]) -> dict[str, TwilioValue]:
    return dict(values)
