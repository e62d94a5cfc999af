"""From finding to fix, on plain facts: one table of codes (every code the checks can give,
the README's table), fixes and commands per writer and certificate mode, zone-wide findings
once, noisy drift grouped, acknowledged drift that expires, every format carrying it all and
staying schema-valid, the terminal table never cutting a SID."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from typing import Any

import jsonschema
import pytest
import xmlschema

from drift import certificates, remediation, reports, verdict
from drift.facts import DnsFacts, DomainFacts, ServedCertificate, StackFacts, TwilioFacts
from drift.reports import json_report, junit, markdown, text
from linkshortening.stack.model import DnsSettings, DomainSpec, DriftIgnore, Stack
from linkshortening.twilio.codes import CODES
from tests.conftest import ROOT
from tests.drift_sample import LONG, NOW, sample, sample_report

SCHEMA = ROOT / "drift" / "schema"
README_START, README_END = "<!-- drift-codes:start -->", "<!-- drift-codes:end -->"


def codes_in_source() -> set[str]:
    """Every finding code a check can give, read from the checks' source: a new check
    without a row in the table fails here."""
    found: set[str] = set()
    for path in (ROOT / "drift").rglob("*.py"):
        source = path.read_text()
        found |= set(re.findall(r'_finding\(\s*facts,\s*"([a-z0-9-]+)"', source))
        found |= set(re.findall(r'\bFinding\(\s*"([a-z0-9-]+)"', source))
        found |= {f"{check}-expiring" for check in
                  re.findall(r'_expiry\(\s*facts,\s*"([a-z0-9-]+)"', source)}
    return found | {c.finding for c in CODES.values() if c.finding}


def test_every_code_has_a_fix_and_the_readme_lists_the_table() -> None:
    codes = codes_in_source()
    assert len(codes) >= 25
    assert codes <= set(remediation.REMEDIES), codes - set(remediation.REMEDIES)
    assert all(r.fix and r.title for r in remediation.REMEDIES.values())
    readme = (ROOT / "README.md").read_text()
    table = readme.split(README_START, 1)[1].split(README_END, 1)[0]
    # Regenerate with: python -m drift.remediation (and paste between the markers)
    assert table.strip() == remediation.markdown_table().strip()


SID = "DN" + "a" * 32


@pytest.mark.parametrize(("dns", "certificate", "dns_command", "renew_command"), [
    (DnsSettings("rfc2136", tsig_key_name="k"), "acme", "lsctl apply --stack prod",
     "lsctl renew --stack prod --domain go.example.com --force"),
    (DnsSettings("route53"), "external", "pulumi up --stack prod",
     "lsctl cert upload --stack prod --domain go.example.com --cert FILE --key FILE"),
    (None, "managed", "", "pulumi up --stack prod"),
])
def test_the_command_follows_the_zones_writer_and_the_certificate_mode(
        dns: DnsSettings | None, certificate: str, dns_command: str, renew_command: str) -> None:
    spec = DomainSpec("go.example.com", "example.com", SID, dns=dns,
                      certificate=certificate)  # type: ignore[arg-type]
    stack = Stack("prod", "s.yaml", (spec,))
    facts = StackFacts((DomainFacts(spec, DnsFacts((), ())),), None, (), NOW)
    (found,) = verdict.findings(stack, dataclasses.replace(facts, domains=(dataclasses.replace(
        facts.domains[0], twilio=TwilioFacts(True, dns_valid=True,
                                             certificate_expires=NOW + dt.timedelta(days=3))),)))
    assert (found.code, found.command) == ("twilio-certificate-expiring", renew_command)
    (fixed,) = remediation.attach([dataclasses.replace(found, code="cname-missing")], stack)
    assert fixed.command == dns_command and fixed.fix.startswith("publish the declared records")


def test_zone_wide_findings_once_per_zone_naming_their_domains() -> None:
    report = sample_report(3)
    zone = f"{LONG}.org"
    caa = [f for f in report.findings if f.code == "caa-forbids-letsencrypt"]
    disagree = [f for f in report.findings if f.code == "nameservers-disagree"]
    undelegated = [f for f in report.findings if f.code == "zone-not-delegated"]
    assert len(caa) == len(disagree) == len(undelegated) == 1
    assert caa[0].domain == disagree[0].domain == zone
    assert caa[0].affects == disagree[0].affects == tuple(f"go{i}.{zone}" for i in range(4))
    assert undelegated[0].affects == (f"x.{LONG}.net",)
    # Not a domain's finding: a domain-specific CAA set stays the domain's own.
    assert all(not f.affects for f in report.findings if f.code == "challenge-leftover")


def test_noisy_drift_is_one_group_in_text_and_markdown_and_every_finding_in_json() -> None:
    report = sample_report(1000)
    extra = [f for f in report.findings if f.code == "a-extra-ip"]
    assert len(extra) == 1000
    out = text.render(report, width=120)
    assert out.count("a-extra-ip") == 1 and "1000 domains:" in out and "and 995 more" in out
    summary = markdown.render(report)
    assert summary.count("<code>a-extra-ip</code>") == 1 and "(and 999 more like it)" in summary
    data = json.loads(json_report.render(report))
    assert sum(f["code"] == "a-extra-ip" for f in data["findings"]) == 1000
    (group,) = [g for g in data["groups"] if g["code"] == "a-extra-ip"]
    assert (group["count"], len(group["sample"]), group["command"]) == (
        1000, 5, "lsctl apply --stack production-eu-west")


def test_every_format_carries_the_fix_and_stays_schema_valid() -> None:
    report = sample_report(8)
    data = json.loads(json_report.render(report))
    jsonschema.validate(data, json.loads((SCHEMA / "drift-report.schema.json").read_text()))
    assert data["schema_version"] == 2
    assert all(f["fix"] and f["title"] for f in data["findings"])
    assert data["not_configured"][0]["setting"].startswith("AWS_PROFILE")
    assert "could not be resolved" in data["unreachable"][0]["detail"]
    xml = junit.render(report)
    schema = xmlschema.XMLSchema(str(SCHEMA / "junit.xsd"))
    schema.validate(xml)
    decoded: Any = schema.to_dict(xml)
    suites = {s["@name"]: s for s in decoded["testsuite"]}
    zone = suites[f"{LONG}.org (zone)"]
    caa = next(c for c in zone["testcase"] if c["@name"] == "caa")
    assert "; fix: add 0 issue" in caa["failure"][0]["@message"]
    records = next(c for c in suites[f"l0.{LONG}.com"]["testcase"] if c["@name"] == "records")
    assert "run:      lsctl apply --stack production-eu-west" in records["failure"][0]["$"]
    out = text.render(report, width=160)
    assert "fix      delete the AAAA records: lsctl apply --stack production-eu-west" in out
    assert "<code>lsctl apply --<wbr>" not in markdown.render(report)  # no dot in it to break
    assert "<code>lsctl apply --stack production-eu-west</code>" in markdown.render(report)


def test_the_terminal_table_never_cuts_a_sid() -> None:
    report = sample_report(8)
    sids = set(re.findall(r"\b(?:DN|MG)[0-9a-f]{32}\b",
                          " ".join(f.expected + " " + f.actual for f in report.findings)))
    assert sids
    out = text.render(report, width=120)
    shown = set(re.findall(r"\b(?:DN|MG)[0-9a-f]{32}\b", out))
    assert shown == sids
    assert max(len(line) for line in out.splitlines()) <= 120


def test_acknowledged_until_the_day_it_expires_then_drift_again() -> None:
    stack, facts = sample(2)
    target = f"l0.{LONG}.com"
    rule = DriftIgnore(target, "a-extra-ip", dt.date(2026, 12, 10), "migration OPS-7")
    stack = dataclasses.replace(stack, drift_ignore=(rule,))
    for day, acknowledged in ((dt.date(2026, 12, 10), True), (dt.date(2026, 12, 11), False)):
        now = dt.datetime.combine(day, dt.time(23, 59), dt.UTC)
        found = verdict.findings(stack, dataclasses.replace(facts, checked_at=now))
        mine = next(f for f in found if f.domain == target and f.code == "a-extra-ip")
        other = next(f for f in found if f.domain != target and f.code == "a-extra-ip")
        assert (mine.acknowledged is not None) is acknowledged and other.acknowledged is None
        report = reports.build(stack.name, facts, found, (), "error", 1.0)
        assert report.fails(mine) is not acknowledged
    ack = reports.build(stack.name, facts, verdict.findings(stack, dataclasses.replace(
        facts, checked_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))), (), "error", 1.0)
    assert "acknowledged until 2026-12-10: migration OPS-7" in text.render(ack, width=160)
    assert "acknowledged until 2026-12-10: migration OPS-7" in markdown.render(ack)
    assert json.loads(json_report.render(ack))["summary"]["acknowledged"] == 1


def test_acknowledged_drift_alone_exits_clean() -> None:
    spec = DomainSpec("go.example.com", "example.com", SID)
    facts = StackFacts((DomainFacts(spec, twilio=TwilioFacts(
        True, dns_valid=False, dns_reason="CNAME missing", certificate_expires=NOW + dt.timedelta(
            days=60))),), None, (), NOW)
    rules = (DriftIgnore("*", "twilio-dns-invalid", dt.date(2026, 12, 1), "DNS moves"),)
    stack = Stack("prod", "s.yaml", (spec,), drift_ignore=rules)
    report = reports.build("prod", facts, verdict.findings(stack, facts), (), "warning", 1.0)
    assert (report.exit_code, report.clean_domains()) == (0, ["go.example.com"])


def test_days_left_and_the_next_renewal_by_the_renewers_rule() -> None:
    spec = DomainSpec("go.example.com", "example.com", SID)
    start, end = NOW - dt.timedelta(days=30), NOW + dt.timedelta(days=60)
    served = ServedCertificate(("go.example.com",), end, "go.example.com:443", start)
    twilio = TwilioFacts(True, certificate_expires=end,
                         certificate_uploaded=NOW - dt.timedelta(days=29))
    status = certificates.status(DomainFacts(spec, twilio=twilio, served=served), NOW, 1 / 3)
    assert (status.days_left, status.source) == (60, "Twilio")
    assert status.next_renewal == end - (end - start) / 3 and status.renewal == "2026-12-27"
    due = certificates.status(DomainFacts(spec, twilio=twilio, served=served),
                              NOW + dt.timedelta(days=40), 1 / 3)
    assert due.renewal == "due since 2026-12-27"
    managed = dataclasses.replace(spec, certificate="managed")
    assert certificates.status(DomainFacts(managed, twilio=twilio), NOW, 1 / 3).renewal == \
        "by Twilio (managed)"
    assert certificates.status(DomainFacts(spec), NOW, 1 / 3).renewal == "unknown (not asked)"
