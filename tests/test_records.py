"""desired_records: exactly one A set of Twilio's IPs for a root domain, one CNAME otherwise."""

from __future__ import annotations

from linkshortening.stack.model import DomainSpec
from linkshortening.stack.records import Record, desired_records
from linkshortening.stack.targets import TwilioTargets

SID = "DN" + "0" * 32


def test_root_domain_gets_exactly_the_allowed_ips() -> None:
    spec = DomainSpec(fqdn="example.com", zone="example.com", domain_sid=SID)
    assert desired_records(spec, TwilioTargets()) == (
        Record("example.com", "A", 300, ("3.233.108.250", "3.233.187.46", "54.157.2.211")),
    )


def test_subdomain_gets_one_cname_to_twilio() -> None:
    spec = DomainSpec(fqdn="go.example.com", zone="example.com", domain_sid=SID, ttl=3600)
    assert desired_records(spec, TwilioTargets()) == (
        Record("go.example.com", "CNAME", 3600, ("lsct.ashburn.us1.twilio.com",)),
    )


def test_allowed_ips_follow_the_stack() -> None:
    spec = DomainSpec(fqdn="example.com", zone="example.com", domain_sid=SID)
    targets = TwilioTargets(allowed_ips=("198.51.100.2", "192.0.2.1"))
    (record,) = desired_records(spec, targets)
    assert record.values == ("192.0.2.1", "198.51.100.2")
