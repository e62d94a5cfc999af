"""DNS-01 on Route53 (boto3): one change batch per zone per phase, value sets, INSYNC waits."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from acme_renewer.challenge import CHALLENGE_TTL, ChallengeRecord, by_name, by_zone
from linkshortening.common.names import normalize
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

    def present(self, records: Sequence[ChallengeRecord]) -> None:
        self._apply(records, removing=False)

    def cleanup(self, records: Sequence[ChallengeRecord]) -> None:
        self._apply(records, removing=True)

    def _apply(self, records: Sequence[ChallengeRecord], removing: bool) -> None:
        pending = []
        for zone, records_in_zone in by_zone(records).items():
            zone_id = self.zone_id(zone)
            existing = self._txt_sets(zone_id, set(by_name(records_in_zone)))
            changes = [
                change for name, values in by_name(records_in_zone).items()
                if (change := _change(name, existing.get(name), values, removing)) is not None
            ]
            if changes:
                response = self.client.change_resource_record_sets(
                    HostedZoneId=zone_id,
                    ChangeBatch={"Comment": "lsctl ACME DNS-01", "Changes": changes})
                pending.append(response["ChangeInfo"]["Id"])
        # Submit every zone's batch first, then wait for all: one wait per run, not per zone.
        for change_id in pending:
            self._wait_insync(change_id)

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
