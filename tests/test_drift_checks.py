"""The drift checks on plain facts: each rule, its edges, and a clean domain with none."""

from __future__ import annotations

import datetime as dt

from drift.checks import judge, judge_domain
from drift.facts import DomainFacts, Route53Set, ServedCertificate, StackFacts, TwilioFacts
from linkshortening.config import DnsSettings, DomainSpec
from linkshortening.dnsquery import Answer
from linkshortening.targets import DEFAULT_ALLOWED_IPS, TwilioTargets

NOW = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
SID = "DN" + "a" * 32
ROOT = DomainSpec("example.com", "example.com", SID)
SUB = DomainSpec("go.example.com", "example.com", SID)
IPS = tuple(sorted(DEFAULT_ALLOWED_IPS))


def answers(a: tuple[str, ...] = (), cname: tuple[str, ...] = (), aaaa: tuple[str, ...] = (),
            ttl: int = 300, txt: tuple[str, ...] = ()) -> dict[str, Answer]:
    def one(rdtype: str, values: tuple[str, ...], name: str = "x") -> Answer:
        return Answer(name, rdtype, ttl if values else None, values, "NOERROR")

    return {"A": one("A", a), "AAAA": one("AAAA", aaaa), "CNAME": one("CNAME", cname),
            "TXT": one("TXT", txt)}


def codes(facts: DomainFacts) -> list[str]:
    return [f.code for f in judge_domain(facts, TwilioTargets(), NOW)]


def test_clean_root_and_subdomain_give_nothing() -> None:
    assert codes(DomainFacts(ROOT, {"127.0.0.1:53": answers(a=IPS)})) == []
    # Case and a trailing dot in the CNAME target are the same name.
    assert codes(DomainFacts(SUB, {"ns": answers(cname=("LSCT.Ashburn.US1.twilio.com.",))})) \
        == []


def test_root_domain_rules() -> None:
    assert codes(DomainFacts(ROOT, {"ns": answers(a=(*IPS, "192.0.2.9"))})) == ["a-extra-ip"]
    assert codes(DomainFacts(ROOT, {"ns": answers(a=IPS[:2])})) == ["a-missing-ip"]
    assert codes(DomainFacts(ROOT, {"ns": answers(a=IPS, aaaa=("2001:db8::1",))})) == [
        "aaaa-present"]
    assert codes(DomainFacts(ROOT, {"ns": answers(cname=("x.example.net",))})) == [
        "a-missing-ip", "cname-at-apex"]


def test_subdomain_rules() -> None:
    assert codes(DomainFacts(SUB, {"ns": answers(cname=("other.example.net",))})) == [
        "cname-wrong-target"]
    assert codes(DomainFacts(SUB, {"ns": answers(a=IPS)})) == ["a-instead-of-cname"]
    assert codes(DomainFacts(SUB, {"ns": answers()})) == ["cname-missing"]


def test_ttl_is_a_warning() -> None:
    (finding,) = judge_domain(DomainFacts(ROOT, {"ns": answers(a=IPS, ttl=3600)}),
                              TwilioTargets(), NOW)
    assert (finding.code, finding.severity, finding.expected, finding.actual) == (
        "ttl-differs", "warning", "300", "3600")


def test_disagreeing_nameservers_name_each() -> None:
    facts = DomainFacts(ROOT, {"127.0.0.1:53": answers(a=IPS),
                               "127.0.0.2:53": answers(a=IPS[:1])})
    (finding,) = judge_domain(facts, TwilioTargets(), NOW)
    assert finding.code == "nameservers-disagree"
    assert "127.0.0.2:53 says A 3.233.108.250" in finding.actual


def test_route53_twilio_certificates_challenge_caa() -> None:
    r53 = DomainSpec("example.com", "example.com", SID, dns=DnsSettings(provider="route53"))
    wrong = {"A": Route53Set("A", 300, IPS[:2])}
    assert codes(DomainFacts(r53, {"ns": answers(a=IPS)}, route53=wrong)) == ["route53-differs"]
    assert codes(DomainFacts(r53, {"ns": answers(a=IPS)},
                             route53={"A": Route53Set("A", 300, IPS)})) == []
    twilio = TwilioFacts(False, "A records do not match", NOW + dt.timedelta(days=10), None,
                         {"continue_on_failure": False, "disable_https": False},
                         {"MG" + "1" * 32: None})
    assert codes(DomainFacts(ROOT, {"ns": answers(a=IPS)}, twilio=twilio)) == [
        "twilio-dns-invalid", "twilio-config-differs", "twilio-association-differs",
        "twilio-certificate-expiring"]
    served = ServedCertificate(("*.example.com",), NOW + dt.timedelta(days=3))
    found = judge_domain(DomainFacts(ROOT, {"ns": answers(a=IPS)}, served=served),
                         TwilioTargets(), NOW)
    assert [(f.code, f.severity) for f in found] == [
        ("served-certificate-wrong-name", "error"), ("served-certificate-expiring", "error")]
    assert codes(DomainFacts(ROOT, {"ns": answers(a=IPS, txt=('"left"',))})) == [
        "challenge-leftover"]
    assert codes(DomainFacts(ROOT, {"ns": answers(a=IPS)}, caa=('0 issue "pki.goog"',),
                             caa_at="example.com")) == ["caa-forbids-letsencrypt"]
    assert codes(DomainFacts(ROOT, {"ns": answers(a=IPS)},
                             caa=('0 issue "letsencrypt.org; validationmethods=dns-01"',),
                             caa_at="example.com")) == []


def test_twilio_published_ips_changed() -> None:
    facts = StackFacts([], ("3.233.187.46", "198.51.100.7"))
    (finding,) = judge(facts, TwilioTargets())
    assert (finding.code, finding.severity, finding.domain) == (
        "twilio-ips-changed", "warning", "*")
