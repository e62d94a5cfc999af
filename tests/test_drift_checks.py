"""The drift checks and the CAA rules on plain facts: each rule, its edges, and clean domains
that give nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from drift import caa
from drift.checks import Finding, judge, judge_domain
from drift.facts import (
    CaaFacts,
    DnsFacts,
    DomainFacts,
    Route53Set,
    ServedCertificate,
    ServerAnswers,
    StackFacts,
    TwilioFacts,
)
from drift.remediation import attach
from linkshortening.dns.reply import RecordSet
from linkshortening.stack.model import DnsSettings, DomainSpec, Stack
from linkshortening.stack.targets import CNAME_TARGET, DEFAULT_ALLOWED_IPS, TwilioTargets

NOW = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
SID = "DN" + "a" * 32
OTHER_SID = "DN" + "b" * 32
SERVICE = "MG" + "1" * 32
ROOT = DomainSpec("example.com", "example.com", SID)
SUB = DomainSpec("go.example.com", "example.com", SID)
IPS = tuple(sorted(DEFAULT_ALLOWED_IPS))
NS1, NS2 = "ns1.example.com (192.0.2.1:53)", "ns2.example.com (192.0.2.2:53)"


def server(label: str = NS1, a: tuple[str, ...] = (), cname: str | None = None,
           aaaa: tuple[str, ...] = (), ttl: int = 300,
           challenge: tuple[str, ...] = ()) -> ServerAnswers:
    def rrset(rdtype: str, values: tuple[str, ...]) -> RecordSet | None:
        return RecordSet("x", rdtype, ttl, values) if values else None

    return ServerAnswers(label, rrset("A", a), rrset("AAAA", aaaa),
                         rrset("CNAME", (cname,) if cname else ()), challenge)


def facts(spec: DomainSpec = ROOT, *servers: ServerAnswers,
          caa_sets: tuple[CaaFacts, ...] = (), **sources: object) -> DomainFacts:
    answers = servers or (server(a=IPS) if spec.is_root else server(cname=CNAME_TARGET),)
    return DomainFacts(spec, DnsFacts(answers, caa_sets), **sources)  # type: ignore[arg-type]


def found(domain: DomainFacts) -> list[Finding]:
    return judge_domain(domain, TwilioTargets(), NOW)


def codes(domain: DomainFacts) -> list[str]:
    return [f.code for f in found(domain)]


def twilio(**changes: object) -> TwilioFacts:
    base: dict[str, object] = {
        "domain_known": True, "dns_valid": True, "certificate_expires": NOW + dt.timedelta(
            days=60), "continue_on_failure": True, "disable_https": False}
    return TwilioFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_clean_root_and_subdomain_give_nothing() -> None:
    assert codes(facts(ROOT, server(a=IPS), twilio=twilio())) == []
    # Case and a trailing dot in the CNAME target are the same name.
    assert codes(facts(SUB, server(cname="LSCT.Ashburn.US1.twilio.com."))) == []


@pytest.mark.parametrize(("answers", "expected"), [
    (server(a=(*IPS, "192.0.2.9")), ["a-extra-ip"]),
    (server(a=IPS[:2]), ["a-missing-ip"]),
    (server(a=(*IPS[:2], "192.0.2.9")), ["a-missing-ip", "a-extra-ip"]),
    (server(), ["a-missing-ip"]),
    (server(a=IPS, aaaa=("2001:db8::1",)), ["aaaa-present"]),
    (server(cname="x.example.net"), ["cname-at-apex"]),
])
def test_root_domain(answers: ServerAnswers, expected: list[str]) -> None:
    assert codes(facts(ROOT, answers)) == expected


@pytest.mark.parametrize(("answers", "expected"), [
    (server(cname="links.example.net"), ["cname-wrong-target"]),
    (server(a=IPS), ["a-instead-of-cname"]),
    (server(aaaa=("2001:db8::1",)), ["cname-missing", "aaaa-present"]),
    (server(), ["cname-missing"]),
])
def test_subdomain(answers: ServerAnswers, expected: list[str]) -> None:
    assert codes(facts(SUB, answers)) == expected


def test_a_finding_says_expected_actual_and_where() -> None:
    (finding,) = found(facts(ROOT, server(a=(*IPS, "192.0.2.9"))))
    assert finding == Finding("a-extra-ip", "error", "records", "example.com",
                              "A " + ", ".join(IPS), "A 192.0.2.9, " + ", ".join(IPS),
                              f"nameserver {NS1}", zone="example.com")


def test_ttl_differs_is_a_warning_from_dns_or_else_route53() -> None:
    (finding,) = found(facts(ROOT, server(a=IPS, ttl=3600)))
    assert (finding.code, finding.severity, finding.expected, finding.actual) == (
        "ttl-differs", "warning", "300", "3600")
    r53 = DomainSpec("example.com", "example.com", SID, dns=DnsSettings(provider="route53"))
    (finding,) = found(facts(r53, route53=(Route53Set("A", 60, IPS),)))
    assert (finding.code, finding.where, finding.actual) == ("ttl-differs", "Route53", "60")


def test_disagreeing_nameservers_name_each_and_what_it_says() -> None:
    (finding,) = found(facts(ROOT, server(NS1, a=IPS), server(NS2)))
    assert finding.code == "nameservers-disagree"
    assert finding.actual == f"{NS1} says A {' '.join(IPS)}; {NS2} says nothing"
    assert codes(facts(ROOT, server(NS1, a=IPS), server(NS2, a=IPS))) == []


def test_route53_differs() -> None:
    r53 = DomainSpec("example.com", "example.com", SID, dns=DnsSettings(provider="route53"))
    assert codes(facts(r53, route53=(Route53Set("A", 300, IPS),))) == []
    assert codes(facts(r53, route53=(Route53Set("A", 300, IPS[:2]),))) == ["route53-differs"]
    assert codes(facts(r53, route53=())) == ["route53-differs"]
    assert codes(facts(r53, route53=(Route53Set("A", 300, IPS),
                                     Route53Set("AAAA", 300, ("2001:db8::1",))))) == [
        "route53-differs"]
    alias = (Route53Set("A", None, ("alias to d111.cloudfront.net",)),)
    assert codes(facts(r53, route53=alias)) == ["route53-differs"]
    sub = DomainSpec("go.example.com", "example.com", SID, dns=DnsSettings(provider="route53"))
    assert codes(facts(sub, route53=(Route53Set("CNAME", 300, (CNAME_TARGET,)),))) == []


def test_twilio() -> None:
    spec = DomainSpec("example.com", "example.com", SID, messaging_service_sids=(SERVICE,),
                      fallback_url="https://example.com/expired")
    same = twilio(fallback_url="https://example.com/expired", associations=((SERVICE, SID),))
    assert codes(facts(spec, twilio=same)) == []
    (finding,) = found(facts(spec, twilio=twilio(
        dns_valid=False, dns_reason="unexpected A records 192.0.2.9",
        fallback_url="https://example.com/expired", associations=((SERVICE, SID),))))
    assert (finding.code, finding.actual, finding.where) == (
        "twilio-dns-invalid", "is_valid: false (unexpected A records 192.0.2.9)",
        "Twilio ValidateDns")
    drifted = twilio(fallback_url=None, disable_https=True, associations=(
        (SERVICE, OTHER_SID),))
    assert [(f.code, f.actual) for f in found(facts(spec, twilio=drifted))] == [
        ("twilio-config-differs", "fallback_url=None"),
        ("twilio-config-differs", "disable_https=True"),
        ("twilio-association-differs", f"{SERVICE} uses {OTHER_SID}")]
    assert codes(facts(spec, twilio=twilio(associations=((SERVICE, None),),
                                           fallback_url="https://example.com/expired"))) == [
        "twilio-association-differs"]
    assert codes(facts(ROOT, twilio=TwilioFacts(False, dns_reason="not found"))) == [
        "twilio-domain-unknown"]


def test_twilio_certificate() -> None:
    assert codes(facts(ROOT, twilio=twilio(certificate_expires=None))) == [
        "twilio-no-certificate"]
    pending = twilio(certificate_expires=None, validation_status="pending")
    assert codes(facts(ROOT, twilio=pending)) == []  # a first upload being validated
    managed = DomainSpec("example.com", "example.com", SID, certificate="managed")
    assert codes(facts(managed, twilio=twilio(certificate_expires=None))) == []
    failed = twilio(validation_status="failed", validation_failed=True,
                    validation_reason="Certificate validation failed")
    (finding,) = found(facts(ROOT, twilio=failed))
    assert (finding.code, finding.actual) == (
        "twilio-certificate-validation-failed",
        "validation failed: Certificate validation failed")


@pytest.mark.parametrize(("days", "severity"), [
    (31, None), (30, "warning"), (10, "warning"), (7, "error"), (1, "error"), (-2, "error")])
def test_certificate_expiry_twilio_and_served(days: int, severity: str | None) -> None:
    expires = NOW + dt.timedelta(days=days)
    twilio_side = found(facts(ROOT, twilio=twilio(certificate_expires=expires)))
    served = found(facts(ROOT, served=ServedCertificate(("example.com",), expires, "x:443")))
    for findings, code in ((twilio_side, "twilio-certificate-expiring"),
                           (served, "served-certificate-expiring")):
        assert [(f.code, f.severity) for f in findings] == (
            [(code, severity)] if severity else [])
    if days < 0:
        assert served[0].actual.startswith("expired 2026-11-25")


def test_served_certificate_must_cover_the_domain() -> None:
    later = NOW + dt.timedelta(days=60)
    assert codes(facts(SUB, served=ServedCertificate(("*.example.com",), later, "x:443"))) == []
    (finding,) = found(facts(ROOT, served=ServedCertificate(("*.example.com",), later,
                                                            "example.com:443")))
    assert (finding.code, finding.actual, finding.where) == (
        "served-certificate-wrong-name", "names: *.example.com", "TLS example.com:443")


def test_leftover_challenge_is_a_warning_once() -> None:
    domain = facts(ROOT, server(NS1, a=IPS, challenge=('"left"',)),
                   server(NS2, a=IPS, challenge=('"left"',)))
    (finding,) = found(domain)
    assert (finding.code, finding.severity, finding.where) == (
        "challenge-leftover", "warning", f"nameserver {NS1}")


def caa_at(spec: DomainSpec, *records: str, name: str | None = None) -> DomainFacts:
    base = name or spec.fqdn
    return facts(spec, caa_sets=(CaaFacts(base, spec.zone if records else None, records,
                                          f"nameserver {NS1}"),))


def test_caa() -> None:
    assert codes(caa_at(ROOT)) == []  # no CAA anywhere: every CA may issue
    assert codes(caa_at(ROOT, '0 issue "letsencrypt.org"')) == []
    assert codes(caa_at(ROOT, '0 issue "pki.goog"', '0 issue "letsencrypt.org"')) == []
    (finding,) = found(caa_at(ROOT, '0 issue "pki.goog"'))
    assert (finding.code, finding.actual, finding.where) == (
        "caa-forbids-letsencrypt", '0 issue "pki.goog"',
        f"CAA at example.com (nameserver {NS1})")
    wild = DomainSpec("go.example.com", "example.com", SID, alt_names=("*.go.example.com",))
    assert codes(caa_at(wild, '0 issue "letsencrypt.org"')) == []
    (finding,) = found(caa_at(wild, '0 issue "letsencrypt.org"', '0 issuewild ";"'))
    assert "for *.go.example.com" in finding.expected


@pytest.mark.parametrize(("records", "wildcard", "allowed"), [
    ((), False, True),
    (('0 iodef "mailto:security@example.com"',), False, True),  # no issue property
    (('0 issue "letsencrypt.org; validationmethods=dns-01"',), False, True),
    (('0 issue "LetsEncrypt.org"',), False, True),
    (('0 issue ";"',), False, False),
    (('0 issue "pki.goog"',), False, False),
    (('0 issuewild "letsencrypt.org"', '0 issue "pki.goog"'), False, False),
    (('0 issuewild "letsencrypt.org"', '0 issue "pki.goog"'), True, True),
    (('0 issue "letsencrypt.org"', '0 issuewild "pki.goog"'), True, False),
    (('0 issue "letsencrypt.org"', '128 tbs "unknown"'), False, False),
    (('0 issue "letsencrypt.org"', '0 tbs "unknown"'), False, True),
])
def test_caa_rules(records: tuple[str, ...], wildcard: bool, allowed: bool) -> None:
    assert caa.permits(records, "letsencrypt.org", wildcard) is allowed


def test_twilio_published_ips_changed() -> None:
    stack = StackFacts((), ("3.233.187.46", "198.51.100.7"))
    (finding,) = judge(stack, TwilioTargets())
    assert (finding.code, finding.severity, finding.domain, finding.check) == (
        "twilio-ips-changed", "warning", "*", "twilio-target")
    assert judge(StackFacts((), IPS), TwilioTargets()) == []
    assert judge(StackFacts((), None), TwilioTargets()) == []  # not asked


def test_no_facts_no_findings() -> None:
    assert codes(DomainFacts(ROOT)) == []  # every source unreachable: the report says so


def test_an_external_certificate_is_watched_with_the_upload_fix() -> None:
    external = DomainSpec("example.com", "example.com", SID, certificate="external")
    soon = NOW + dt.timedelta(days=10)
    findings = attach(found(facts(external, twilio=twilio(certificate_expires=soon),
                                  served=ServedCertificate(("example.com",), soon, "x:443"))),
                      Stack("prod", "s.yaml", (external,)))
    assert [(f.code, f.severity) for f in findings] == [
        ("twilio-certificate-expiring", "warning"), ("served-certificate-expiring", "warning")]
    upload = "lsctl cert upload --stack prod --domain example.com --cert FILE --key FILE"
    assert all(f.command == upload and "fix" not in f.expected for f in findings)
    (missing,) = attach(found(facts(external, twilio=twilio(certificate_expires=None))),
                        Stack("prod", "s.yaml", (external,)))
    assert missing.code == "twilio-no-certificate" and missing.command == upload
    assert missing.expected == "a current certificate"


@pytest.mark.parametrize(("lifetime", "left", "severity"), [
    (dt.timedelta(hours=160), dt.timedelta(hours=50), None),  # 31% left: 2 days, not an error
    (dt.timedelta(hours=160), dt.timedelta(hours=30), "warning"),  # under a quarter
    (dt.timedelta(hours=160), dt.timedelta(hours=10), "error"),  # under a tenth
    (dt.timedelta(days=45), dt.timedelta(days=20), None),  # not Twilio's 30 days: fine
    (dt.timedelta(days=45), dt.timedelta(days=11), "warning"),
    (dt.timedelta(days=90), dt.timedelta(days=25), None),
    (dt.timedelta(days=90), dt.timedelta(days=8), "error"),
])
def test_expiry_is_judged_on_the_certificates_own_lifetime(
        lifetime: dt.timedelta, left: dt.timedelta, severity: str | None) -> None:
    # Issue 17: 30 days is nonsense for a 160-hour certificate; a quarter of its lifetime
    # left is a warning, a tenth an error, on port 443 and on Twilio's side alike.
    expires = NOW + left
    served = ServedCertificate(("example.com",), expires, "x:443", expires - lifetime)
    findings = found(facts(ROOT, twilio=twilio(certificate_expires=expires), served=served))
    expected = [("twilio-certificate-expiring", severity),
                ("served-certificate-expiring", severity)] if severity else []
    assert [(f.code, f.severity) for f in findings] == expected
    if severity:
        assert "lifetime left" in findings[0].expected


def test_without_port_443_the_profiles_lifetime_judges_twilios_expiry() -> None:
    expires = NOW + dt.timedelta(days=20)
    domain = facts(ROOT, twilio=twilio(certificate_expires=expires))
    assert judge_domain(domain, TwilioTargets(), NOW, expected_lifetime=dt.timedelta(days=45)) == []
    (old_rule,) = judge_domain(domain, TwilioTargets(), NOW)  # no lifetime known: 30131's
    assert (old_rule.code, old_rule.expected) == ("twilio-certificate-expiring",
                                                  "more than 30 days left")


def test_the_next_renewal_and_why() -> None:
    from drift.renewal_due import renewal_due

    start = NOW - dt.timedelta(days=10)
    served = ServedCertificate(("example.com",), start + dt.timedelta(days=45), "x:443", start)
    due = renewal_due(facts(ROOT, served=served), 1 / 3, None)
    assert due is not None and due.due == start + dt.timedelta(days=30)
    assert due.text(NOW) == ("next renewal ~2026-12-17 00:00 UTC (1/3 of a 45-day lifetime "
                             "left; earlier if the CA's ARI window says so)")
    # Twilio's expiry and the profile's lifetime, when port 443 was not read.
    expires = NOW + dt.timedelta(hours=100)
    guess = renewal_due(facts(ROOT, twilio=twilio(certificate_expires=expires)), 0.25,
                        dt.timedelta(hours=160))
    assert guess is not None and guess.due == expires - dt.timedelta(hours=40)
    assert guess.why == "1/4 of a 160-hour lifetime (the profile's) left"
    external = DomainSpec("example.com", "example.com", SID, certificate="external")
    assert renewal_due(facts(external, served=served), 1 / 3, None) is None
