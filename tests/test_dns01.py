"""DNS-01 providers on real servers: RFC 2136 on BIND 9, Route53 on moto; propagation checks."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import dns.resolver
import pytest

from acme_renewer.challenge import ChallengeRecord, Failure, challenge_name, locate
from acme_renewer.propagation import PropagationTimeout, wait_for_propagation
from acme_renewer.rfc2136_provider import Rfc2136Provider
from acme_renewer.route53_provider import Route53Provider
from linkshortening.dns.query import ask
from linkshortening.dns.rfc2136 import replace_rrset
from linkshortening.dns.route53 import Route53Error
from linkshortening.stack.model import DnsSettings
from sandbox.lifecycle import SandboxState


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def txt_at(sandbox: SandboxState, name: str) -> tuple[str, ...]:
    return ask(sandbox.dns, name, "TXT").values


def test_challenge_name_drops_the_wildcard() -> None:
    assert challenge_name("*.Go.Example.com.") == "_acme-challenge.go.example.com"
    assert challenge_name("example.com") == "_acme-challenge.example.com"


def test_rfc2136_value_sets_and_cleanup_of_our_values_only(sandbox_env: SandboxState) -> None:
    sandbox = sandbox_env
    base = unique("r") + ".lsctl.test"
    name = challenge_name(base)
    # Someone else's value already at the name must survive our whole cycle.
    replace_rrset(sandbox.dns, "lsctl.test", name + ".", "TXT", 60, ('"foreign"',),
                  sandbox.tsig_key())
    provider = Rfc2136Provider.from_settings(
        DnsSettings(provider="rfc2136", tsig_key_name=sandbox.tsig_key_name), "test")
    apex = ChallengeRecord(base, name, "lsctl.test", "apex-value")
    wildcard = ChallengeRecord("*." + base, name, "lsctl.test", "wildcard-value")
    assert provider.present([apex, wildcard]) == []
    assert set(txt_at(sandbox, name)) == {'"foreign"', '"apex-value"', '"wildcard-value"'}
    wait_for_propagation([apex, wildcard], timeout=10, interval=0.1)
    assert provider.cleanup([apex, wildcard]) == []
    assert txt_at(sandbox, name) == ('"foreign"',)


def test_rfc2136_without_a_server_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LSCTL_RFC2136_SERVER", raising=False)
    with pytest.raises(Exception, match="LSCTL_RFC2136_SERVER"):
        Rfc2136Provider.from_settings(DnsSettings(provider="rfc2136", tsig_key_name="k"), "s")


def test_cname_at_the_challenge_name_is_followed(sandbox_env: SandboxState) -> None:
    sandbox = sandbox_env
    base = unique("c") + ".lsctl.test"
    target = unique("delegated") + ".lsctl.test"
    replace_rrset(sandbox.dns, "lsctl.test", challenge_name(base) + ".", "CNAME", 60,
                  (target,), sandbox.tsig_key())
    record = locate(base, "v")
    assert record.name == target and record.zone == "lsctl.test"
    assert locate("plain.lsctl.test", "v").name == "_acme-challenge.plain.lsctl.test"


def test_propagation_timeout_names_the_server(sandbox_env: SandboxState) -> None:
    record = ChallengeRecord("x.lsctl.test", "_acme-challenge.never.lsctl.test", "lsctl.test",
                             "never-published")
    with pytest.raises(PropagationTimeout, match=rf"127\.0\.0\.1:{sandbox_env.dns_port}"):
        wait_for_propagation([record], timeout=0.3, interval=0.1)


def test_route53_one_change_batch_per_zone_and_exact_cleanup(sandbox: SandboxState) -> None:
    client = boto3.client("route53", endpoint_url=sandbox.aws_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    zones = [unique("z") + ".test" for _ in range(2)]
    ids = [client.create_hosted_zone(Name=z, CallerReference=unique("ref"))["HostedZone"]["Id"]
           for z in zones]
    # A pre-existing TXT at one challenge name, and an unrelated record.
    client.change_resource_record_sets(HostedZoneId=ids[0], ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": f"_acme-challenge.d0.{zones[0]}.", "Type": "TXT", "TTL": 120,
            "ResourceRecords": [{"Value": '"theirs"'}]}},
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": f"www.{zones[0]}.", "Type": "A", "TTL": 300,
            "ResourceRecords": [{"Value": "192.0.2.1"}]}}]})

    def snapshot(zone_id: str) -> list[Any]:
        sets = client.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
        return sorted(sets, key=lambda s: (s["Name"], s["Type"]))

    before = [snapshot(i) for i in ids]
    calls: Counter[str] = Counter()
    client.meta.events.register("before-call.route53.*",
                                lambda model, **_: calls.update([model.name]))
    records = [ChallengeRecord(ident, challenge_name(ident), zone, f"v-{ident}")
               for zone in zones for i in range(10)
               for ident in (f"d{i}.{zone}", f"*.d{i}.{zone}")]
    provider = Route53Provider(client=client)
    assert provider.present(records) == []
    assert calls["ChangeResourceRecordSets"] == 2  # one batch per zone, 40 values
    values = {s["Name"]: [r["Value"] for r in s["ResourceRecords"]] for s in snapshot(ids[0])}
    assert values[f"_acme-challenge.d0.{zones[0]}."] == [
        '"theirs"', f'"v-d0.{zones[0]}"', f'"v-*.d0.{zones[0]}"']
    calls.clear()
    assert provider.cleanup(records) == []
    assert calls["ChangeResourceRecordSets"] == 2
    assert [snapshot(i) for i in ids] == before


def test_route53_longest_suffix_match(sandbox: SandboxState) -> None:
    client = boto3.client("route53", endpoint_url=sandbox.aws_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    parent = unique("p") + ".test"
    child = "sub." + parent
    client.create_hosted_zone(Name=parent, CallerReference=unique("ref"))
    child_id = client.create_hosted_zone(Name=child, CallerReference=unique("ref"))
    provider = Route53Provider(client=client)
    assert provider.zone_id("deep." + child) == child_id["HostedZone"]["Id"].split("/")[-1]
    with pytest.raises(Route53Error, match="no public Route53 hosted zone holds"):
        provider.zone_id(unique("nowhere") + ".invalid")


def test_zone_router_sends_each_zone_to_its_provider(sandbox_env: SandboxState) -> None:
    from acme_renewer.challenge import ZoneRouter

    rfc2136 = Rfc2136Provider.from_settings(
        DnsSettings(provider="rfc2136", tsig_key_name=sandbox_env.tsig_key_name), "test")
    router = ZoneRouter({"lsctl.test": rfc2136})
    record = ChallengeRecord("zr.lsctl.test", "_acme-challenge.zr.lsctl.test", "lsctl.test", "zr")
    stray = ChallengeRecord("a.other.test", "_acme-challenge.a.other.test", "other.test", "x")
    # A zone without a provider fails only its own records; the others are published.
    assert router.present([record, stray]) == [
        Failure((stray,), "no DNS provider is configured for zone other.test", refused=True)]
    assert txt_at(sandbox_env, record.name) == ('"zr"',)
    assert router.cleanup([record]) == []
    assert txt_at(sandbox_env, record.name) == ()


def test_propagation_of_many_records_in_one_batch_names_exactly_the_missing(
        sandbox_env: SandboxState) -> None:
    """Each round asks every (server, name) at once through the DNS engine: 400 records on
    BIND, of which 7 were never published, are reported as exactly those 7."""
    sandbox = sandbox_env
    provider = Rfc2136Provider.from_settings(
        DnsSettings(provider="rfc2136", tsig_key_name=sandbox.tsig_key_name), "test")
    tag = unique("p")
    records = [ChallengeRecord(f"{tag}-{i}.lsctl.test", challenge_name(f"{tag}-{i}.lsctl.test"),
                               "lsctl.test", f"v{i}") for i in range(400)]
    absent = records[::57]
    published = [r for r in records if r not in absent]
    assert provider.present(published) == []
    try:
        wait_for_propagation(published, timeout=30, interval=0.1)
        with pytest.raises(PropagationTimeout) as timeout:
            wait_for_propagation(records, timeout=0.5, interval=0.1)
        assert set(timeout.value.missing) == set(absent)
    finally:
        assert provider.cleanup(published) == []


def test_one_resolver_shared_by_every_challenge_and_thread(
        sandbox_env: SandboxState, monkeypatch: pytest.MonkeyPatch) -> None:
    """Locating many challenges from several threads builds no resolver per challenge, and
    the shared one answers each thread correctly (a CNAME-delegated name among plain ones)."""
    sandbox = sandbox_env
    delegated, target = unique("d") + ".lsctl.test", unique("t") + ".lsctl.test"
    replace_rrset(sandbox.dns, "lsctl.test", challenge_name(delegated) + ".", "CNAME", 60,
                  (target,), sandbox.tsig_key())
    built: list[bool] = []
    original = dns.resolver.Resolver.__init__

    def counting(self: dns.resolver.Resolver, *args: Any, **kwargs: Any) -> None:
        built.append(True)
        original(self, *args, **kwargs)

    monkeypatch.setattr(dns.resolver.Resolver, "__init__", counting)
    names = [delegated] + [unique("p") + ".lsctl.test" for _ in range(19)]
    with ThreadPoolExecutor(4) as pool:
        located = list(pool.map(lambda name: locate(name, "v", "lsctl.test"), names))
    assert located[0].name == target and located[0].zone == "lsctl.test"
    assert [r.name for r in located[1:]] == [challenge_name(n) for n in names[1:]]
    assert len(built) <= 1  # the first lookup under this setting may build it
