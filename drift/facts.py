"""What the probes found, as plain frozen data: the checks judge it, the reports never re-ask."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from linkshortening.dns.reply import RecordSet
from linkshortening.stack.model import DomainSpec

T = TypeVar("T")


Probe = Literal["dns", "route53", "twilio", "tls"]
PROBES: tuple[Probe, ...] = ("dns", "route53", "twilio", "tls")


@dataclass(frozen=True)
class Unreachable:
    """A source that could not be asked, named so an operator knows where to look."""

    probe: Probe  # which checks it leaves undecided
    source: str  # e.g. "nameserver ns2.example.com (192.0.2.2:53)", "Route53", "Twilio"
    detail: str
    # Set when the source was never asked because lsctl lacks its settings or credentials:
    # what to set (e.g. "TWILIO_AUTH_TOKEN"). Not configured is not unreachable.
    setting: str = ""


@dataclass(frozen=True)
class Probed(Generic[T]):
    """One probe's result for one domain: the facts, or why there are none (or both: a
    nameserver that did not answer beside others that did)."""

    value: T | None
    unreachable: tuple[Unreachable, ...] = ()


@dataclass(frozen=True)
class ServerAnswers:
    """What one authoritative nameserver says about one domain."""

    server: str  # "ns1.example.com (192.0.2.1:53)"
    a: RecordSet | None
    aaaa: RecordSet | None
    cname: RecordSet | None  # seen in the A and AAAA replies: an alias shows up in both
    challenge: tuple[str, ...]  # TXT values at _acme-challenge.<domain>
    # dns-persist-01 domains: (_validation-persist.<name>, its TXT values as served).
    persist: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class CaaFacts:
    """RFC 8659's relevant CAA set for one name: the first non-empty set climbing up."""

    name: str  # the name a certificate is for (a wildcard's base: *.x.com -> x.com)
    found_at: str | None  # where the climb found records; None: nowhere, any CA may issue
    records: tuple[str, ...]  # presentation format: 0 issue "letsencrypt.org"
    where: str  # which server said so


@dataclass(frozen=True)
class DnsFacts:
    servers: tuple[ServerAnswers, ...]  # every authoritative nameserver that answered
    caa: tuple[CaaFacts, ...]
    # The resolver's answer when the zone has no nameservers at all (NXDOMAIN, "no NS
    # records"): a fact about the zone (not delegated, or not a zone), not an unreachable one.
    undelegated: tuple[str, str] | None = None  # (the answer, the resolver that gave it)


@dataclass(frozen=True)
class Route53Set:
    type: str
    ttl: int | None  # None for an alias record
    values: tuple[str, ...]  # sorted; an alias record: "alias to <target>"


@dataclass(frozen=True)
class TwilioFacts:
    domain_known: bool  # False: Twilio will not use the declared DomainSid (see domain_code)
    domain_code: int | None = None  # Twilio's code that said so (30100, 30101, 30134...)
    dns_valid: bool | None = None
    dns_reason: str | None = None
    certificate_expires: dt.datetime | None = None  # the current certificate; None: none
    certificate_uploaded: dt.datetime | None = None  # Twilio's date_updated of it
    validation_status: str | None = None  # cert_in_validation.status; None: nothing pending
    validation_failed: bool = False
    validation_reason: str | None = None
    fallback_url: str | None = None
    callback_url: str | None = None
    continue_on_failure: bool | None = None
    disable_https: bool | None = None
    associations: tuple[tuple[str, str | None], ...] = ()  # (Messaging Service, its DomainSid)
    # Messaging Services their declared account (lsctl:twilioAccounts) cannot see: Twilio's
    # 404 to that account's credentials (another account owns them, or none exists)
    invisible_services: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServedCertificate:
    names: tuple[str, ...]
    not_after: dt.datetime
    endpoint: str  # where it was served: "link.example.com:443" or the override
    not_before: dt.datetime | None = None  # with not_after: the certificate's own lifetime


@dataclass(frozen=True)
class DomainFacts:
    """Everything known about one domain after probing; None: that source was not asked
    (or could not be: see `unreachable`)."""

    spec: DomainSpec
    dns: DnsFacts | None = None
    route53: tuple[Route53Set, ...] | None = None  # None: not a Route53 domain
    twilio: TwilioFacts | None = None
    served: ServedCertificate | None = None
    unreachable: tuple[Unreachable, ...] = ()


@dataclass(frozen=True)
class StackFacts:
    domains: tuple[DomainFacts, ...]
    # lsct.ashburn.us1.twilio.com A, via the resolver; None: not asked, or not resolved
    # (then `unreachable` says why: an NXDOMAIN there is the resolver's problem, not Twilio's)
    twilio_target_ips: tuple[str, ...] | None
    unreachable: tuple[Unreachable, ...] = ()  # not about one domain (the resolver)
    checked_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
