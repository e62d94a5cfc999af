"""ValidateDns: ask the sandbox's DNS server whether a domain points at Twilio as the guide says.

Root domains need exactly Twilio's A records (other IPs break Link Shortening); subdomains a
CNAME to Twilio's target. The targets are Twilio's published facts, kept here rather than
imported from lsctl, so a wrong value on lsctl's side is caught rather than agreed with.
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

# From Twilio's Link Shortening onboarding guide.
TWILIO_IPS = frozenset({"3.233.187.46", "3.233.108.250", "54.157.2.211"})
CNAME_TARGET = "lsct.ashburn.us1.twilio.com"


class _Refused(Exception):
    """The server answered, but with an error (REFUSED, SERVFAIL, ...)."""


@dataclass(frozen=True)
class Verdict:
    is_valid: bool
    reason: str | None  # why not, in words; None when valid


def validate(domain: str, server: tuple[str, int], timeout: float = 2.0) -> Verdict:
    """Judge `domain` from what the authoritative `server` answers."""
    try:
        # One A query: an authoritative server answers a name that has a CNAME with that
        # CNAME (RFC 1034 4.3.2), so the CNAME and the A records come in one exchange. It
        # halves the emulator's DNS cost for root domains (the floor under `lsctl drift`).
        answer = _ask(domain, server, timeout)
        cname = answer.get(dns.rdatatype.CNAME, [])
        if cname:
            target = cname[0]
            if target == CNAME_TARGET:
                return Verdict(True, None)
            return Verdict(False, f"CNAME of {domain} points to {target}, "
                                  f"not {CNAME_TARGET}")
        addresses = set(answer.get(dns.rdatatype.A, []))
    except (dns.exception.DNSException, OSError, _Refused) as exc:
        return Verdict(False, f"DNS lookup of {domain} failed: {exc.__class__.__name__}")
    if addresses == TWILIO_IPS:
        return Verdict(True, None)
    if not addresses:
        return Verdict(False, f"{domain} has neither a CNAME to {CNAME_TARGET} nor "
                              f"A records for {', '.join(sorted(TWILIO_IPS))}")
    extra, missing = sorted(addresses - TWILIO_IPS), sorted(TWILIO_IPS - addresses)
    parts = ([f"unexpected A records {', '.join(extra)}"] if extra else []) + \
            ([f"missing A records {', '.join(missing)}"] if missing else [])
    return Verdict(False, f"{domain}: {'; '.join(parts)}; it must have exactly "
                          f"{', '.join(sorted(TWILIO_IPS))}")


def _ask(name: str, server: tuple[str, int], timeout: float) -> dict[int, list[str]]:
    """The A query's answer records owned by `name` itself, by type (CNAME, A), sorted."""
    query = dns.message.make_query(name, "A")
    query.flags &= ~dns.flags.RD
    response, _ = dns.query.udp_with_fallback(query, server[0], port=server[1], timeout=timeout)
    if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        raise _Refused(dns.rcode.to_text(response.rcode()))
    owner = dns.name.from_text(name)
    return {rrset.rdtype: sorted(r.to_text().rstrip(".").lower() for r in rrset)
            for rrset in response.answer if rrset.name == owner}
