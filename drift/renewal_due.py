"""When each domain's live certificate falls due, from its own lifetime: pure, from the facts.

The lifetime is the served certificate's notAfter - notBefore when port 443 serves the
certificate Twilio reports; otherwise Twilio's expiry less the declared profile's lifetime.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

from drift.facts import DomainFacts
from linkshortening.stack.profiles import describe


@dataclass(frozen=True)
class Lifetime:
    not_before: dt.datetime
    not_after: dt.datetime
    measured: bool  # from the served certificate; False: from the declared profile

    @property
    def span(self) -> dt.timedelta:
        return self.not_after - self.not_before

    def left(self, now: dt.datetime) -> float:
        return (self.not_after - now) / self.span


@dataclass(frozen=True)
class RenewalDue:
    domain: str
    due: dt.datetime
    why: str  # e.g. "1/3 of a 45-day lifetime left"

    def text(self, now: dt.datetime) -> str:
        when = (f"due since {self.due:%Y-%m-%d %H:%M} UTC" if self.due <= now
                else f"next renewal ~{self.due:%Y-%m-%d %H:%M} UTC")
        return f"{when} ({self.why}; earlier if the CA's ARI window says so)"


def lifetime(facts: DomainFacts, expected: dt.timedelta | None) -> Lifetime | None:
    """The live certificate's lifetime, or None when neither it nor a profile says."""
    served, twilio = facts.served, facts.twilio
    expires = twilio.certificate_expires if twilio else None
    if twilio is not None and expires is None:
        return None  # Twilio holds none: what port 443 shows is not the domain's certificate
    if served is not None and served.not_before is not None and (
            expires is None or abs((served.not_after - expires).total_seconds()) <= 1):
        return Lifetime(served.not_before, served.not_after, measured=True)
    end = expires or (served.not_after if served else None)
    if end is None or expected is None or facts.spec.certificate != "acme":
        return None
    return Lifetime(end - expected, end, measured=False)


def renewal_due(facts: DomainFacts, renew_fraction: float,
                expected: dt.timedelta | None) -> RenewalDue | None:
    """When lsctl renew will replace the live certificate (acme domains only)."""
    if facts.spec.certificate != "acme":
        return None
    live = lifetime(facts, expected)
    if live is None:
        return None
    share = Fraction(renew_fraction).limit_denominator(12)
    shown = f"{share}" if abs(float(share) - renew_fraction) < 1e-3 else f"{renew_fraction:.0%}"
    source = "" if live.measured else " (the profile's)"
    return RenewalDue(facts.spec.fqdn, live.not_after - live.span * renew_fraction,
                      f"{shown} of a {describe(live.span)} lifetime{source} left")
