"""A drift report with every kind of row a reader meets, at its widest: long domain names,
SIDs, IPv6 addresses, long reasons, a noisy finding on many domains, zone-wide findings,
acknowledged drift, a source not configured and one unreachable, certificates of each mode.
Built from facts through the real pipeline (judge, zones, fixes, acknowledgements)."""

from __future__ import annotations

import datetime as dt

from drift import certificates, reports, verdict
from drift.facts import (
    CaaFacts,
    DnsFacts,
    DomainFacts,
    ServedCertificate,
    ServerAnswers,
    StackFacts,
    TwilioFacts,
    Unreachable,
)
from drift.reports import Report
from linkshortening.dns.reply import RecordSet
from linkshortening.stack.model import DnsSettings, DomainSpec, DriftIgnore, Stack
from linkshortening.stack.targets import CNAME_TARGET, DEFAULT_ALLOWED_IPS

NOW = dt.datetime(2026, 11, 27, 6, 17, tzinfo=dt.UTC)
LONG = "customer-notifications-and-links.marketing-department-of-example"
NS1 = "ns-1536.awsdns-00.co.uk (205.251.198.0:53)"
NS2 = "ns-2048.very-long-secondary-nameserver.example.net (2001:db8:ffff:ffff::53:53)"


def sid(prefix: str, i: int) -> str:
    return f"{prefix}{i:032x}"


def _rrset(rdtype: str, *values: str) -> RecordSet:
    return RecordSet("x", rdtype, 300, values)


def _twilio(i: int, spec: DomainSpec, **changes: object) -> TwilioFacts:
    base: dict[str, object] = {
        "domain_known": True, "dns_valid": True,
        "certificate_expires": NOW + dt.timedelta(days=3 + i % 60),
        "certificate_uploaded": NOW - dt.timedelta(days=40),
        "continue_on_failure": True, "disable_https": False,
        "associations": tuple((s, spec.domain_sid) for s in spec.messaging_service_sids)}
    return TwilioFacts(**{**base, **changes})  # type: ignore[arg-type]


def sample(noisy: int = 1000) -> tuple[Stack, StackFacts]:
    """A stack and its facts: `noisy` root domains with an extra A record (one group), and a
    handful of each other kind."""
    specs: list[DomainSpec] = []
    domains: list[DomainFacts] = []
    dns = DnsSettings("rfc2136", tsig_key_name="lsctl")
    for i in range(noisy):
        fqdn = f"l{i}.{LONG}.com"
        spec = DomainSpec(fqdn, fqdn, sid("DN", i), (sid("MG", i),), dns=dns)
        answers = ServerAnswers(NS1, _rrset("A", *DEFAULT_ALLOWED_IPS, "192.0.2.99"),
                                _rrset("AAAA", "2001:db8:85a3:0:0:8a2e:370:7334") if i < 3
                                else None, None, ())
        domains.append(DomainFacts(spec, DnsFacts((answers,), ()), twilio=_twilio(i, spec)))
        specs.append(spec)
    zone = f"{LONG}.org"
    route53 = DnsSettings("route53")
    for i in range(4):  # a zone whose second nameserver lags and whose CAA refuses
        spec = DomainSpec(f"go{i}.{zone}", zone, sid("DN", 5000 + i), dns=route53,
                          certificate="managed" if i == 0 else "acme")
        first = ServerAnswers(NS1, None, None, _rrset("CNAME", CNAME_TARGET), ())
        lagging = ServerAnswers(NS2, None, None, None, ('"stale-token-value-left-behind"',))
        caa = CaaFacts(spec.fqdn, zone, ('0 issue "pki.goog; cansignhttpexchanges=yes"',),
                       f"nameserver {NS1}")
        served = ServedCertificate((spec.fqdn,), NOW + dt.timedelta(days=50),
                                   f"{spec.fqdn}:443", NOW - dt.timedelta(days=40))
        domains.append(DomainFacts(spec, DnsFacts((first, lagging), (caa,)), served=served,
                                   twilio=_twilio(i, spec, certificate_expires=None,
                                                  validation_status="failed",
                                                  validation_failed=True,
                                                  validation_reason="Certificate chain does "
                                                  "not lead to a trusted root: intermediate "
                                                  "missing (30132)")))
        specs.append(spec)
    odd = DomainSpec(f"x.{LONG}.net", f"{LONG}.net", sid("DN", 9000), (sid("MG", 9000),),
                     fallback_url=f"https://{LONG}.net/an/expired/link/lands/here?utm=x",
                     certificate="external", dns=dns)
    domains.append(DomainFacts(odd, DnsFacts((), (), ("NXDOMAIN", "resolver 10.0.0.2:53")),
                               twilio=_twilio(0, odd, fallback_url=None,
                                              associations=((sid("MG", 9000), sid("DN", 1)),))))
    specs.append(odd)
    stack = Stack("production-eu-west", "stacks/Pulumi.production-eu-west.yaml", tuple(specs),
                  drift_ignore=(DriftIgnore(odd.fqdn, "twilio-config-differs",
                                            dt.date(2026, 12, 31),
                                            "fallback URL moves with the new site, change "
                                            "CHG-20261127-0042 (owner: web team)"),))
    lost = (Unreachable("dns", "resolver 10.0.0.2:53", f"Twilio's target {CNAME_TARGET} could "
                        "not be resolved (TIMEOUT, asked A): check the resolver "
                        "(LSCTL_DNS_RESOLVER)"),
            Unreachable("route53", "Route53", "Unable to locate credentials",
                        setting="AWS_PROFILE, or AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY "
                                "(or run where an AWS role is available)"))
    return stack, StackFacts(tuple(domains), None, lost, NOW)


def sample_report(noisy: int = 1000) -> Report:
    stack, facts = sample(noisy)
    return reports.build(stack.name, facts, verdict.findings(stack, facts), (), "error", 7.3,
                         certificates.statuses(facts, stack.acme.renew_fraction))
