"""DNS-01 on Route53 (boto3): change batches per zone within Route53's limits, value sets,
INSYNC waits."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from acme_renewer.challenge import CHALLENGE_TTL, ChallengeRecord, Failure, by_name, by_zone
from linkshortening.common.names import normalize
from linkshortening.dns.batches import split_route53_changes
from linkshortening.dns.route53 import Route53Error, find_zone_id, route53_client

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_route53.type_defs import ChangeTypeDef, ResourceRecordSetOutputTypeDef


@dataclass
class Route53Provider:
    client: Route53Client = field(default_factory=route53_client)
    hosted_zone_id: str | None = None  # from the stack; otherwise found by longest suffix
    insync_timeout: float = 300.0
    _zone_ids: dict[str, str] = field(default_factory=dict)

    def present(self, records: Sequence[ChallengeRecord]) -> list[Failure]:
        return self._apply(records, removing=False)

    def cleanup(self, records: Sequence[ChallengeRecord]) -> list[Failure]:
        return self._apply(records, removing=True)

    def _apply(self, records: Sequence[ChallengeRecord], removing: bool) -> list[Failure]:
        failures: list[Failure] = []
        pending: list[tuple[str, list[ChallengeRecord]]] = []
        for zone, in_zone in by_zone(records).items():
            try:
                zone_id = self.zone_id(zone)
                existing = self._txt_sets(zone_id, set(by_name(in_zone)))
            except (Route53Error, BotoCoreError, ClientError) as exc:  # nothing sent
                failures.append(Failure.of(in_zone, exc, refused=True))
                continue
            named = [(name, change) for name, values in by_name(in_zone).items()
                     if (change := _change(name, existing.get(name), values, removing))]
            start = 0  # batches keep the changes' order, so each maps back to its names
            for batch in split_route53_changes([change for _, change in named]):
                names = {name for name, _ in named[start:start + len(batch)]}
                start += len(batch)
                ours = [r for r in in_zone if r.name in names]
                try:
                    response = self.client.change_resource_record_sets(
                        HostedZoneId=zone_id,
                        ChangeBatch={"Comment": "lsctl ACME DNS-01", "Changes": batch})
                except ClientError as exc:  # answered: a batch is all or nothing
                    failures.append(Failure.of(ours, exc, refused=True))
                    continue
                except BotoCoreError as exc:  # unanswered: it may have been applied
                    failures.append(Failure.of(ours, exc))
                    continue
                pending.append((response["ChangeInfo"]["Id"], ours))
        # Submit every batch first, then wait for all: one wait per run, not per batch.
        for change_id, ours in pending:
            try:
                self._wait_insync(change_id)
            except (Route53Error, BotoCoreError, ClientError) as exc:
                failures.append(Failure.of(ours, exc))
        return failures

    def zone_id(self, zone: str) -> str:
        """The hosted zone for `zone`: configured, or the public zone with the longest suffix."""
        if self.hosted_zone_id:
            return self.hosted_zone_id.removeprefix("/hostedzone/")
        if zone not in self._zone_ids:
            self._zone_ids[zone] = find_zone_id(self.client, zone)
        return self._zone_ids[zone]

    def _txt_sets(self, zone_id: str, names: set[str]) -> dict[str, ResourceRecordSetOutputTypeDef]:
        """The current TXT record sets at `names`, in one paginated listing of the zone."""
        found: dict[str, ResourceRecordSetOutputTypeDef] = {}
        paginator = self.client.get_paginator("list_resource_record_sets")
        for page in paginator.paginate(HostedZoneId=zone_id):
            for rrset in page["ResourceRecordSets"]:
                name = normalize(rrset["Name"].replace("\\052", "*"))
                if rrset["Type"] == "TXT" and name in names:
                    found[name] = rrset
        return found

    def _wait_insync(self, change_id: str) -> None:
        deadline = time.monotonic() + self.insync_timeout
        delay = 0.5
        while True:
            status = self.client.get_change(Id=change_id)["ChangeInfo"]["Status"]
            if status == "INSYNC":
                return
            if time.monotonic() + delay > deadline:
                raise Route53Error(f"change {change_id} still {status} after "
                                   f"{self.insync_timeout:g}s")
            time.sleep(delay)  # Route53 asks clients to poll GetChange with backoff
            delay = min(delay * 2, 10.0)


def _change(name: str, current: ResourceRecordSetOutputTypeDef | None, values: list[str],
            removing: bool) -> ChangeTypeDef | None:
    have = [r["Value"] for r in current.get("ResourceRecords", [])] if current else []
    ours = [f'"{v}"' for v in values]
    if removing:
        if current is None or not set(ours) & set(have):
            return None
        remaining = [v for v in have if v not in ours]
        if not remaining:  # DELETE must name the record set exactly as it is
            return {"Action": "DELETE", "ResourceRecordSet": current}
        return _upsert(name, current.get("TTL", CHALLENGE_TTL), remaining)
    merged = have + [v for v in ours if v not in have]
    if merged == have:
        return None
    return _upsert(name, current.get("TTL", CHALLENGE_TTL) if current else CHALLENGE_TTL, merged)


def _upsert(name: str, ttl: int, values: list[str]) -> ChangeTypeDef:
    record_set: Any = {"Name": name + ".", "Type": "TXT", "TTL": ttl,
                       "ResourceRecords": [{"Value": v} for v in values]}
    return {"Action": "UPSERT", "ResourceRecordSet": record_set}
