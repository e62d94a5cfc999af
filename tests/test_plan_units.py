"""One writer per zone and for the Twilio settings (the stack keys, the Pulumi program's side of
it), and the limits that split an apply: no sandbox needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from drift.plan.apply_route53 import MAX_CHARACTERS, MAX_RECORDS, build_batches
from drift.plan.changes import DnsChange, RecordSet
from drift.plan.planner import zone_settings
from linkshortening.cli.main import main
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.load import load_stack, load_stack_file
from tests.test_pulumi_program import DYNAMIC, MG, route53_stack, run_program

SID = "DN" + "a" * 32


def stack_file(tmp_path: Path, top: str, domain_dns: str = "") -> Path:
    path = tmp_path / "Pulumi.t.yaml"
    lines = ["config:", *(f"  {line}" for line in top.splitlines()), "  lsctl:domains:",
             f"    - {{fqdn: a.example.com, zone: example.com, domainSid: {SID}{domain_dns}}}",
             f"    - {{fqdn: b.example.com, zone: example.com, domainSid: DN{'b' * 32}}}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_writers_default_by_provider(tmp_path: Path) -> None:
    route53 = load_stack_file(stack_file(tmp_path, "lsctl:dns: {provider: route53}"))
    assert route53.domains[0].dns and route53.domains[0].dns.managed_by == "pulumi"
    assert route53.twilio_managed_by == "pulumi"
    rfc2136 = load_stack_file(stack_file(
        tmp_path, "lsctl:dns: {provider: rfc2136, tsigKeyName: k}\n"
                  "lsctl:twilio: {managedBy: lsctl}"))
    assert rfc2136.domains[0].dns and rfc2136.domains[0].dns.managed_by == "lsctl"
    assert rfc2136.twilio_managed_by == "lsctl"
    marked = load_stack_file(stack_file(tmp_path,
                                        "lsctl:dns: {provider: route53, managedBy: lsctl}"))
    assert marked.domains[1].dns and marked.domains[1].dns.managed_by == "lsctl"
    assert load_stack("sandbox").twilio_managed_by == "lsctl"


@pytest.mark.parametrize(("top", "key", "problem"), [
    ("lsctl:dns: {provider: rfc2136, tsigKeyName: k, managedBy: pulumi}", "lsctl:dns.managedBy",
     "pulumi declares records only in Route53 zones"),
    ("lsctl:dns: {provider: route53, managedBy: terraform}", "lsctl:dns.managedBy",
     "'terraform' is not one of pulumi, lsctl"),
    ("lsctl:twilio: {managedBy: hand}", "lsctl:twilio.managedBy", "'hand' is not one of"),
    ("lsctl:twilio: {writer: lsctl}", "lsctl:twilio.writer", "is not a known key"),
])
def test_bad_writers_name_the_key(tmp_path: Path, top: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_stack_file(stack_file(tmp_path, top))
    assert caught.value.key == key and problem in caught.value.problem


def test_a_zone_has_one_writer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = stack_file(tmp_path, "lsctl:dns: {provider: route53}",
                      ", dns: {provider: route53, managedBy: lsctl}")
    stack = load_stack_file(path)
    with pytest.raises(ConfigError, match=r"zone example\.com is written differently"):
        zone_settings(stack, stack.domains)
    assert main(["plan", "--stack", str(path)]) == 2
    err = capsys.readouterr().err
    assert "lsctl:domains[1].dns" in err and "same provider, server, hostedZoneId and " \
        "managedBy" in err and len(err.strip().splitlines()) == 1


def _create(name: str, values: tuple[str, ...], rdtype: str = "A") -> DnsChange:
    return DnsChange("create", "example.com", name, None, RecordSet(name, rdtype, 300, values))


def test_route53_batches_stay_within_its_limits() -> None:
    many = [_create(f"n{i}.example.com", ("192.0.2.1", "192.0.2.2")) for i in range(700)]
    batches = build_batches(many)
    assert len(batches) == 2 and sum(count for _, count in batches) == 700
    assert all(sum(len(c["ResourceRecordSet"]["ResourceRecords"]) for c in batch)
               <= MAX_RECORDS for batch, _ in batches)
    long_txt = '"' + "x" * 2000 + '"'
    wide = [_create(f"t{i}.example.com", (long_txt,), "TXT") for i in range(40)]
    wide_batches = build_batches(wide)
    assert len(wide_batches) == 3
    assert all(sum(len(r["Value"]) for c in batch for r in c["ResourceRecordSet"]
                   ["ResourceRecords"]) <= MAX_CHARACTERS for batch, _ in wide_batches)
    # An update is a DELETE of the set as read and a CREATE, in the same batch, in order.
    read = {"Name": "u.example.com.", "Type": "A", "TTL": 60,
            "ResourceRecords": [{"Value": "192.0.2.9"}]}
    update = DnsChange("update", "example.com", "u.example.com",
                       RecordSet("u.example.com", "A", 60, ("192.0.2.9",)),
                       RecordSet("u.example.com", "A", 300, ("192.0.2.1",)), read)
    ((batch, count),) = build_batches([update])
    assert count == 1 and [c["Action"] for c in batch] == ["DELETE", "CREATE"]
    assert batch[0]["ResourceRecordSet"] is read


def test_pulumi_leaves_what_lsctl_writes() -> None:
    config = route53_stack(caa=True, messagingServiceSids=[MG])
    config["domains"][0]["dns"] = {"provider": "route53", "managedBy": "lsctl"}
    config["twilio"] = {"managedBy": "lsctl"}
    config["domains"][1]["certificate"] = "managed"
    run = run_program(config)
    # example.com is lsctl's: no record of it, not even its CAA; go.example.org stays Pulumi's.
    assert set(run.records()) == {"go.example.org-cname"}
    dynamic = {name for typ, name, _ in run.mocks.resources if typ == DYNAMIC}
    assert dynamic == {"go.example.org-managed-cert"}  # no config, no association
