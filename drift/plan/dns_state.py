"""The live record sets lsctl manages, read from the zone's writer: the RFC 2136 primary asked
directly (exactly the names and types lsctl manages, no zone transfer), or Route53's API."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from drift.plan.changes import PlanError, RecordSet
from linkshortening.common.names import normalize
from linkshortening.dns.engine import Question, ask_all
from linkshortening.dns.rfc2136 import Endpoint
from linkshortening.stack.model import DnsSettings

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_route53.type_defs import ResourceRecordSetOutputTypeDef

Key = tuple[str, str]  # (name, type)
# What was read: the set, and (Route53) the record set exactly as the API gave it.
Live = dict[Key, tuple[RecordSet, Any]]


def read_primary(zone: str, server: Endpoint, keys: Sequence[Key]) -> Live:
    """Each (name, type) asked of the primary, in one batch of the DNS engine."""
    replies = ask_all([Question(server, name, rdtype) for name, rdtype in keys])
    live: Live = {}
    for (name, rdtype), reply in zip(keys, replies, strict=True):
        if not reply.answered:
            raise PlanError(f"zone {zone}: the primary {server} did not answer {name} {rdtype} "
                            f"({reply.rcode}); check dns.server and that it serves the zone")
        found = reply.get(rdtype)  # at the name asked: a CNAME's target's A is not ours
        if found is not None:
            live[(name, rdtype)] = (RecordSet.of(name, rdtype, found.ttl, found.values), None)
    return live


def read_route53(client: Route53Client, zone: str, zone_id: str, keys: Sequence[Key]) -> Live:
    """The record sets at each name (one call per name: a name's sets are listed together)."""
    from botocore.exceptions import BotoCoreError, ClientError

    wanted = set(keys)
    live: Live = {}
    try:
        for name in dict.fromkeys(name for name, _ in keys):
            for rrset in sets_at(client, zone_id, name):
                key = (name, rrset["Type"])
                if key in wanted:
                    live[key] = (route53_set(name, rrset), rrset)
    except (BotoCoreError, ClientError) as exc:
        raise PlanError(f"zone {zone}: Route53 hosted zone {zone_id} could not be read "
                        f"({exc})") from None
    return live


def zone_id_of(client: Route53Client, zone: str, settings: DnsSettings) -> str:
    """The stack's hostedZoneId, else the public zone with the longest matching name."""
    from botocore.exceptions import BotoCoreError, ClientError

    from linkshortening.dns.route53 import find_zone_id

    if settings.hosted_zone_id:
        return settings.hosted_zone_id.removeprefix("/hostedzone/")
    try:
        return find_zone_id(client, zone)
    except (BotoCoreError, ClientError) as exc:
        raise PlanError(f"zone {zone}: Route53 could not be asked for its hosted zones "
                        f"({exc})") from None


def sets_at(client: Route53Client, zone_id: str, name: str
            ) -> Iterator[ResourceRecordSetOutputTypeDef]:
    """Every record set at exactly `name`, in Route53's order (a page at a time)."""
    page = client.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=name)
    while True:
        for rrset in page["ResourceRecordSets"]:
            if normalize(rrset["Name"]) != name:
                return  # past the name: Route53 lists by name
            yield rrset
        if not page["IsTruncated"]:
            return
        page = client.list_resource_record_sets(
            HostedZoneId=zone_id, StartRecordName=page["NextRecordName"],
            StartRecordType=page["NextRecordType"])


def route53_set(name: str, rrset: ResourceRecordSetOutputTypeDef) -> RecordSet:
    """An alias shows as its target (it can only be replaced, never kept)."""
    if "AliasTarget" in rrset:
        return RecordSet(name, rrset["Type"], 0,
                         (f"alias to {normalize(rrset['AliasTarget']['DNSName'])}",))
    values = [r["Value"] for r in rrset.get("ResourceRecords", [])]
    return RecordSet.of(name, rrset["Type"], rrset.get("TTL", 0), values)


def changed_since(live: Live, expected: Collection[tuple[Key, RecordSet | None]]
                  ) -> list[str]:
    """What differs from what the plan saw: one line per record set."""
    lines = []
    for key, before in expected:
        now = live.get(key)
        seen = now[0] if now else None
        if seen != before:
            lines.append(f"{key[0]} {key[1]} is now {_describe(seen)}, the plan saw "
                         f"{_describe(before)}")
    return lines


def _describe(found: RecordSet | None) -> str:
    return f"{found.ttl} {' '.join(found.values)}" if found else "nothing"
