"""What the probes found, as plain data; the checks judge it, the reports never re-ask."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from linkshortening.config import DomainSpec
from linkshortening.dnsquery import Answer

DNS_TYPES = ("A", "AAAA", "CNAME")


@dataclass(frozen=True)
class Route53Set:
    type: str
    ttl: int | None
    values: tuple[str, ...]


@dataclass(frozen=True)
class TwilioFacts:
    dns_valid: bool | None
    dns_reason: str | None
    certificate_expires: dt.datetime | None  # the current certificate; None: none uploaded
    in_validation: str | None  # cert_in_validation.status, None when nothing is pending
    config: dict[str, object]  # fallback_url, callback_url, continue_on_failure, disable_https
    associations: dict[str, str | None]  # Messaging Service SID -> the Domain SID it uses


@dataclass(frozen=True)
class ServedCertificate:
    names: tuple[str, ...]
    not_after: dt.datetime


@dataclass
class DomainFacts:
    """Everything known about one domain after probing."""

    spec: DomainSpec
    # server ("host:port") -> rdtype -> answer at the domain; TXT at _acme-challenge.<domain>
    answers: dict[str, dict[str, Answer]] = field(default_factory=dict)
    caa: tuple[str, ...] = ()  # the RFC 8659 climb's answer, from the first server
    caa_at: str | None = None  # the name where the climb found CAA records
    route53: dict[str, Route53Set] | None = None  # None: not a Route53 domain
    twilio: TwilioFacts | None = None
    served: ServedCertificate | None = None
    unreachable: list[tuple[str, str]] = field(default_factory=list)  # (source, why)


@dataclass(frozen=True)
class StackFacts:
    domains: list[DomainFacts]
    twilio_target_ips: tuple[str, ...] | None  # lsct.ashburn.us1.twilio.com A, via resolver
    unreachable: list[tuple[str, str]] = field(default_factory=list)
    checked_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
