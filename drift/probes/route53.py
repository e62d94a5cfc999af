"""The Route53 probe: the record sets at each declared name of the stack's Route53 domains.

Route53 allows five API calls a second per account, so calls are counted: the hosted zones are
listed once for the whole stack, and a zone is read whole (300 record sets a call) when that
takes fewer calls than asking for each declared name in it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from drift.facts import Probed, Route53Set, Unreachable
from linkshortening.common.names import in_zone, normalize
from linkshortening.dns.route53 import record_sets
from linkshortening.stack.model import DomainSpec

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_route53.type_defs import ResourceRecordSetOutputTypeDef

TYPES = ("A", "AAAA", "CNAME")  # what a Link Shortening name may (or must not) have
PAGE = 300  # record sets per ListResourceRecordSets call
SOURCE = "Route53"
AWS_SETTING = ("AWS_PROFILE, or AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (or run where an "
               "AWS role is available)")
Sets = tuple[Route53Set, ...]


def probe(specs: Sequence[DomainSpec], region: str | None = None) -> dict[str, Probed[Sets]]:
    """Record sets for every route53 domain (a client in the stack's aws:region, `region`);
    other domains are not in the result."""
    ours = [s for s in specs if s.dns is not None and s.dns.provider == "route53"]
    if not ours:
        return {}
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from linkshortening.dns.route53 import route53_client

    found: dict[str, Probed[Sets]] = {}
    try:
        client = route53_client(region)
        zone_ids = _zone_ids(client, ours)
    except NoCredentialsError as exc:  # never asked: not configured, and what to set
        return {s.fqdn: Probed(None, (_not_configured(exc),)) for s in ours}
    except (BotoCoreError, ClientError) as exc:
        lost = Unreachable("route53", SOURCE, _why(exc))
        return {s.fqdn: Probed(None, (lost,)) for s in ours}
    by_zone: dict[str, list[DomainSpec]] = {}
    for spec in ours:
        zone_id = zone_ids.get(spec.fqdn)
        if zone_id is None:
            found[spec.fqdn] = Probed(None, (Unreachable(
                "route53", SOURCE, f"no public hosted zone holds {spec.zone}; create it or set "
                        "dns.hostedZoneId in the stack"),))
        else:
            by_zone.setdefault(zone_id, []).append(spec)
    for zone_id, members in by_zone.items():
        try:
            sets = _record_sets(client, zone_id, [s.fqdn for s in members])
        except (BotoCoreError, ClientError) as exc:
            lost = _not_configured(exc) if isinstance(exc, NoCredentialsError) else \
                Unreachable("route53", SOURCE, f"hosted zone {zone_id}: {_why(exc)}")
            found.update({s.fqdn: Probed(None, (lost,)) for s in members})
            continue
        found.update({s.fqdn: Probed(sets.get(s.fqdn, ())) for s in members})
    return found


def _why(exc: Exception) -> str:
    """What to fix when it is the setup (credentials, endpoint, permission), else AWS's words."""
    from linkshortening.common.aws import aws_setup_error

    problem = aws_setup_error(exc, "Route53")
    return str(problem) if problem is not None else str(exc)


def _not_configured(exc: Exception) -> Unreachable:
    return Unreachable("route53", SOURCE, _why(exc), setting=AWS_SETTING)


def _zone_ids(client: Route53Client, specs: Sequence[DomainSpec]) -> dict[str, str]:
    """fqdn -> hosted zone id: the stack's, else the public zone with the longest suffix."""
    ids: dict[str, str] = {}
    for spec in specs:
        assert spec.dns is not None
        if spec.dns.hosted_zone_id:
            ids[spec.fqdn] = spec.dns.hosted_zone_id.removeprefix("/hostedzone/")
    rest = [s for s in specs if s.fqdn not in ids]
    if not rest:
        return ids
    public: list[tuple[str, str]] = []
    for page in client.get_paginator("list_hosted_zones").paginate():
        public += [(normalize(z["Name"]), z["Id"].removeprefix("/hostedzone/"))
                   for z in page["HostedZones"]
                   if not z.get("Config", {}).get("PrivateZone", False)]
    for spec in rest:
        holding = [(len(name), zone_id) for name, zone_id in public if in_zone(spec.zone, name)]
        if holding:
            ids[spec.fqdn] = max(holding)[1]
    return ids


def _record_sets(client: Route53Client, zone_id: str,
                 names: Sequence[str]) -> dict[str, Sets]:
    count = client.get_hosted_zone(Id=zone_id)["HostedZone"].get("ResourceRecordSetCount", 0)
    if math.ceil(count / PAGE) <= len(names):
        return _collect(_list(client, zone_id, None), set(names), stop_after=None)
    found: dict[str, Sets] = {}
    for name in names:  # sorted by name in Route53's order: ours are together from the start
        found.update(_collect(_list(client, zone_id, name), {name}, stop_after=name))
    return found


def _list(client: Route53Client, zone_id: str,
          start: str | None) -> Iterator[ResourceRecordSetOutputTypeDef]:
    """The zone's record sets in Route53's order, from `start` (a name) or the beginning;
    read a page at a time, so a caller that stops early saves the calls."""
    if start is None:
        yield from record_sets(client, zone_id)
        return
    page = client.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=start)
    yield from page["ResourceRecordSets"]
    while page["IsTruncated"]:
        page = client.list_resource_record_sets(
            HostedZoneId=zone_id, StartRecordName=page["NextRecordName"],
            StartRecordType=page["NextRecordType"])
        yield from page["ResourceRecordSets"]


def _collect(rrsets: Iterable[ResourceRecordSetOutputTypeDef], names: set[str],
             stop_after: str | None) -> dict[str, Sets]:
    found: dict[str, list[Route53Set]] = {}
    for rrset in rrsets:
        name = normalize(rrset["Name"])
        if stop_after is not None and name != stop_after:
            break  # past the one name asked for: stop paging
        if name in names and rrset["Type"] in TYPES:
            found.setdefault(name, []).append(_set(rrset))
    return {name: tuple(sets) for name, sets in found.items()}


def _set(rrset: ResourceRecordSetOutputTypeDef) -> Route53Set:
    if "AliasTarget" in rrset:
        return Route53Set(rrset["Type"], None,
                          (f"alias to {normalize(rrset['AliasTarget']['DNSName'])}",))
    values = [r["Value"] for r in rrset.get("ResourceRecords", [])]
    if rrset["Type"] == "CNAME":
        values = [normalize(v) for v in values]
    return Route53Set(rrset["Type"], rrset.get("TTL"), tuple(sorted(values)))
