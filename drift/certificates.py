"""Each domain's certificate as a reader of the report wants it: days left and the next
renewal, from what the probes already found (Twilio's certificate, else the one served)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from acme_renewer.decide import renewal_time
from drift.facts import DomainFacts, StackFacts


@dataclass(frozen=True)
class CertificateStatus:
    domain: str
    mode: str  # acme, managed, external (the stack's certificate:)
    expires: dt.datetime | None  # None: no certificate known (none, or not asked)
    days_left: int | None
    next_renewal: dt.datetime | None  # acme only: the renewer's lifetime rule
    source: str  # where the expiry comes from: "Twilio", "TLS host:443", "" (not asked)
    due: bool = False  # the lifetime rule says renew now

    @property
    def renewal(self) -> str:
        """The next renewal in words: a date, or who renews instead."""
        if self.mode == "managed":
            return "by Twilio (managed)"
        if self.mode == "external":
            return "by hand (lsctl cert upload)"
        if self.expires is None:
            return "next lsctl renew run" if self.source else "unknown (not asked)"
        if self.next_renewal is None:
            return "unknown (no start date)"
        return f"due since {self.next_renewal:%Y-%m-%d}" if self.due else \
            f"{self.next_renewal:%Y-%m-%d}"


def statuses(facts: StackFacts, renew_fraction: float) -> list[CertificateStatus]:
    return [status(d, facts.checked_at, renew_fraction) for d in facts.domains]


def status(facts: DomainFacts, now: dt.datetime, renew_fraction: float) -> CertificateStatus:
    twilio, served = facts.twilio, facts.served
    expires, start = None, None
    source = "Twilio" if twilio is not None else ""  # asked, and found none
    if twilio is not None and twilio.certificate_expires is not None:
        expires, start, source = twilio.certificate_expires, twilio.certificate_uploaded, "Twilio"
        if served is not None and served.not_after == expires and served.not_before:
            start = served.not_before  # the same certificate: its own start, not the upload
    elif served is not None:
        expires, start, source = served.not_after, served.not_before, f"TLS {served.endpoint}"
    days = None if expires is None else int((expires - now).total_seconds() // 86400)
    due = renewal_time(start, expires, renew_fraction) \
        if expires is not None and start is not None and start < expires else None
    acme = facts.spec.certificate == "acme"
    return CertificateStatus(facts.spec.fqdn, facts.spec.certificate, expires, days,
                             due if acme else None, source,
                             acme and due is not None and due <= now)
