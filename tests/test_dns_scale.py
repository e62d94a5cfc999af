"""1,000 challenge names in one zone on real servers: BIND 9 over RFC 2136, Route53 on moto.

Every batch fits its protocol's limits, and a batch that fails fails only its own records.
"""

from __future__ import annotations

import base64
import math
import secrets
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from acme_renewer.challenge import ChallengeRecord, challenge_name, failed_records
from acme_renewer.rfc2136_provider import Rfc2136Provider
from acme_renewer.route53_provider import Route53Provider
from linkshortening.dns.batches import ROUTE53_MAX_RECORDS, ROUTE53_MAX_VALUE_CHARS
from linkshortening.dns.query import ask
from sandbox.lifecycle import SandboxState

COUNT = 1000


def acme_value() -> str:
    """Shaped like a DNS-01 value: 43 base64url characters (45 with Route53's quotes)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def fleet(zone: str, count: int = COUNT) -> list[ChallengeRecord]:
    tag = uuid.uuid4().hex[:6]
    idents = [f"s{i}{tag}.{zone}" for i in range(count)]
    return [ChallengeRecord(i, challenge_name(i), zone, acme_value()) for i in idents]


def served(sandbox: SandboxState, records: list[ChallengeRecord]) -> list[bool]:
    """For each record: does BIND serve its value?"""
    def one(record: ChallengeRecord) -> bool:
        return f'"{record.value}"' in ask(sandbox.dns, record.name, "TXT").values

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, records))


def test_bind_takes_1000_names_in_one_zone_and_gives_them_back(sandbox: SandboxState) -> None:
    provider = Rfc2136Provider(sandbox.dns, sandbox.tsig_key())
    records = fleet("lsctl.test")
    try:
        assert provider.present(records) == []
        assert all(served(sandbox, records))
    finally:
        assert provider.cleanup(records) == []
    assert not any(served(sandbox, records))


def test_bind_refusing_one_update_fails_only_its_records(sandbox: SandboxState) -> None:
    provider = Rfc2136Provider(sandbox.dns, sandbox.tsig_key())
    records = fleet("lsctl.test")
    # Last, so it lands in the second update: a name outside the zone makes BIND refuse that
    # whole update (NOTZONE, RFC 2136 3.4.1.3); the first update is applied.
    stray = ChallengeRecord("x.elsewhere.test", "_acme-challenge.x.elsewhere.test",
                            "lsctl.test", acme_value())
    try:
        failures = provider.present([*records, stray])
        assert len(failures) == 1 and failures[0].refused  # answered: nothing applied
        failed = failed_records(failures)
        assert stray in failed and "NOTZONE" in failed[stray]
        assert 0 < len(failed) < len(records)
        for record, ok in zip(records, served(sandbox, records), strict=True):
            assert ok == (record not in failed), record
    finally:
        provider.cleanup(records)
    assert not any(served(sandbox, records))


@pytest.fixture
def route53(sandbox: SandboxState) -> Any:
    return boto3.client("route53", endpoint_url=sandbox.aws_endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def new_zone(route53: Any) -> tuple[str, str]:
    zone = f"z{uuid.uuid4().hex[:8]}.test"
    created = route53.create_hosted_zone(Name=zone, CallerReference=uuid.uuid4().hex)
    return zone, created["HostedZone"]["Id"]


def txt_values(route53: Any, zone_id: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for page in route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
        for rrset in page["ResourceRecordSets"]:
            if rrset["Type"] == "TXT":
                found[rrset["Name"].rstrip(".")] = [r["Value"] for r in rrset["ResourceRecords"]]
    return found


def count_changes(route53: Any) -> Counter[str]:
    calls: Counter[str] = Counter()
    route53.meta.events.register("before-call.route53.ChangeResourceRecordSets",
                                 lambda model, **_: calls.update([model.name]))
    return calls


def test_route53_batches_1000_names_within_both_limits(route53: Any) -> None:
    zone, zone_id = new_zone(route53)
    records = fleet(zone)
    calls = count_changes(route53)
    provider = Route53Provider(client=route53)
    assert provider.present(records) == []
    # An UPSERT of one 45-character value counts 2 records and 90 characters.
    upserts = min(ROUTE53_MAX_RECORDS // 2, ROUTE53_MAX_VALUE_CHARS // 90)  # 355
    assert calls["ChangeResourceRecordSets"] == math.ceil(COUNT / upserts) == 3
    assert txt_values(route53, zone_id) == {r.name: [f'"{r.value}"'] for r in records}
    calls.clear()
    assert provider.cleanup(records) == []
    deletes = min(ROUTE53_MAX_RECORDS, ROUTE53_MAX_VALUE_CHARS // 45)  # 711
    assert calls["ChangeResourceRecordSets"] == math.ceil(COUNT / deletes) == 2
    assert txt_values(route53, zone_id) == {}


def test_route53_failing_batch_or_zone_fails_only_its_records(route53: Any) -> None:
    zone, zone_id = new_zone(route53)
    records = fleet(zone)
    # Last, so it lands in the third batch: Route53 refuses a name outside the zone
    # (InvalidChangeBatch) for that batch alone.
    stray = ChallengeRecord("x.elsewhere.test", "_acme-challenge.x.elsewhere.test", zone,
                            acme_value())
    missing_zone = f"nowhere{uuid.uuid4().hex[:8]}.test"
    unzoned = fleet(missing_zone, 2)
    provider = Route53Provider(client=route53)
    failures = provider.present([*records, stray, *unzoned])
    failed = failed_records(failures)
    per_batch = ROUTE53_MAX_VALUE_CHARS // 90
    third = [*records[2 * per_batch:], stray]
    assert sorted(map(set, (f.records for f in failures)), key=len) == [set(unzoned), set(third)]
    assert all(f"no public Route53 hosted zone holds {missing_zone}" in failed[r]
               for r in unzoned)
    assert "InvalidChangeBatch" in failed[stray]
    assert all(f.refused for f in failures)  # both answered: nothing of them applied
    live = txt_values(route53, zone_id)
    assert all(live.get(r.name) == [f'"{r.value}"'] for r in records[:2 * per_batch])
    assert provider.cleanup(records) == []
    assert txt_values(route53, zone_id) == {}
