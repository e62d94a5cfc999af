"""Route53 basics shared by the renewer and the drift checker: the client and zone lookup."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from linkshortening.common.aws import aws_client
from linkshortening.common.names import normalize

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_route53.type_defs import ResourceRecordSetOutputTypeDef

    from linkshortening.dns.zonedata import ZoneRecord


class Route53Error(Exception):
    """A hosted zone that cannot be found, or a change that never became INSYNC."""


def route53_client(region: str | None = None, **options: Any) -> Route53Client:
    """A Route53 client in the stack's region (`options`: see common.aws.aws_client)."""
    # Standard retry mode retries Throttling/PriorRequestNotComplete with backoff and jitter.
    client: Route53Client = aws_client("route53", region, **options)
    return client


def find_zone_id(client: Route53Client, zone: str) -> str:
    """The public hosted zone holding `zone`, by longest suffix match."""
    zone = normalize(zone)
    best: tuple[int, str] | None = None
    for page in client.get_paginator("list_hosted_zones").paginate():
        for hosted in page["HostedZones"]:
            name = normalize(hosted["Name"])
            private = hosted.get("Config", {}).get("PrivateZone", False)
            if private or not (zone == name or zone.endswith("." + name)):
                continue
            if best is None or len(name) > best[0]:
                best = (len(name), hosted["Id"].removeprefix("/hostedzone/"))
    if best is None:
        raise Route53Error(f"no public Route53 hosted zone holds {zone}; create it or "
                           "set dns.hostedZoneId in the stack")
    return best[1]


def zone_records(client: Route53Client, zone_id: str) -> list[ZoneRecord]:
    """Every record set of a hosted zone (alias records left out: they are no values)."""
    from linkshortening.dns.zonedata import ZoneRecord, text_value

    found = []
    for rrset in record_sets(client, zone_id):
        if "AliasTarget" in rrset or "SetIdentifier" in rrset:
            continue  # an alias or a routing policy: not a plain record lsctl could declare
        kind = rrset["Type"]
        values = tuple(sorted(text_value(kind, r["Value"])
                              for r in rrset.get("ResourceRecords", [])))
        found.append(ZoneRecord(normalize(rrset["Name"]), kind, rrset.get("TTL", 0), values))
    return found


def record_sets(client: Route53Client,
                zone_id: str) -> Iterator[ResourceRecordSetOutputTypeDef]:
    """The zone's record sets in Route53's order, a page (300) at a time."""
    for page in client.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
        yield from page["ResourceRecordSets"]
