"""The checks: pure functions from facts to findings. No I/O here, so every rule is tested on
plain data, and every finding says what was expected, what was seen, and where."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from drift import caa, persist
from drift.facts import DomainFacts, ServerAnswers, StackFacts
from drift.renewal_due import Lifetime, lifetime
from linkshortening.certs.preflight import covers
from linkshortening.common.names import normalize
from linkshortening.dns.reply import RecordSet
from linkshortening.stack.profiles import describe
from linkshortening.stack.records import Record, desired_records
from linkshortening.stack.targets import TwilioTargets
from linkshortening.twilio.codes import lookup

Severity = Literal["error", "warning"]
# Each finding belongs to one check: one JUnit test case per domain and check.
CHECKS = ("records", "nameservers", "ttl", "route53", "twilio-dns", "twilio-config",
          "twilio-certificate", "served-certificate", "challenge", "caa", "persist")
STACK_CHECKS = ("twilio-target",)  # about the stack, not one domain (domain "*")
# Expiry is judged on the certificate's own lifetime (issue 17): the renewer renews with 1/3
# left (renewWhenLifetimeLeft), so a quarter left means runs failed for a twelfth of the
# lifetime (7.5 days of 90, 13 hours of 160); a tenth left is an error.
WARN_LEFT, ERROR_LEFT = 1 / 4, 1 / 10
# Only when no lifetime is known (not an acme domain and port 443 not read): Twilio's own
# 30131 warning window, a Twilio-side fact that says nothing about lifetimes.
WARN_DAYS, ERROR_DAYS = 30, 7
CA = "letsencrypt.org"


@dataclass(frozen=True)
class Acknowledged:
    """A stack's lsctl:driftIgnore rule covers the finding: shown, but not drift, until then."""

    until: dt.date
    reason: str


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    check: str
    domain: str  # the domain, the zone (a zone-wide finding), or "*" for the stack
    expected: str
    actual: str
    where: str  # which nameserver, Route53, Twilio, TLS host:port
    # Filled after judging (drift.remediation, drift.zones, drift.ignore): the checks stay
    # about facts, the table of codes says how to fix each.
    fix: str = ""  # what to do, in words
    command: str = ""  # the exact command that does it, when there is one
    zone: str = ""  # the domain's zone ("" for the stack)
    affects: tuple[str, ...] = ()  # a zone-wide finding: the declared domains it concerns
    acknowledged: Acknowledged | None = None


def judge(facts: StackFacts, targets: TwilioTargets,
          declared: persist.Declared | None = None,
          expected_lifetime: dt.timedelta | None = None) -> list[Finding]:
    """Every finding for every domain, then the stack-wide ones; `declared`: the stack's
    DNS-PERSIST-01 records (drift.persist.declared), if any; `expected_lifetime`: the declared
    profile's, for acme certificates whose own lifetime could not be read."""
    found = [f for domain in facts.domains
             for f in judge_domain(domain, targets, facts.checked_at, declared,
                                   expected_lifetime)]
    return found + list(_published_ips(facts, targets))


def judge_domain(facts: DomainFacts, targets: TwilioTargets, now: dt.datetime,
                 declared: persist.Declared | None = None,
                 expected_lifetime: dt.timedelta | None = None) -> list[Finding]:
    (record,) = desired_records(facts.spec, targets)
    live = lifetime(facts, expected_lifetime)
    return [*_records(facts, record), *_nameservers(facts), *_ttl(facts, record),
            *_route53(facts, record), *_twilio(facts, now, live), *_served(facts, now),
            *_challenge(facts), *_caa(facts), *_delegation(facts),
            *persist.check(facts, declared, now, _finding)]


def _finding(facts: DomainFacts, code: str, severity: Severity, check: str, expected: str,
             actual: str, where: str) -> Finding:
    return Finding(code, severity, check, facts.spec.fqdn, expected, actual, where,
                   zone=facts.spec.zone)


def _values(found: RecordSet | None) -> tuple[str, ...]:
    return tuple(sorted(normalize(v) for v in found.values)) if found else ()


def _first(facts: DomainFacts) -> ServerAnswers | None:
    """The first nameserver that answered: record checks judge it; where the others say
    something else is the nameserver check's business."""
    return facts.dns.servers[0] if facts.dns and facts.dns.servers else None


# --- DNS -----------------------------------------------------------------------------------


def _records(facts: DomainFacts, record: Record) -> Iterator[Finding]:
    server = _first(facts)
    if server is None:
        return
    where = f"nameserver {server.server}"
    a, aaaa, cname = _values(server.a), _values(server.aaaa), _values(server.cname)
    wanted = ", ".join(record.values)
    if facts.spec.is_root:
        if cname:  # Link Shortening needs A records here; what the alias leads to is moot
            yield _finding(facts, "cname-at-apex", "error", "records", f"A {wanted}",
                           f"CNAME {cname[0]}", where)
        else:
            if set(record.values) - set(a):
                yield _finding(facts, "a-missing-ip", "error", "records", f"A {wanted}",
                               f"A {', '.join(a)}" if a else "no A records", where)
            if set(a) - set(record.values):
                yield _finding(facts, "a-extra-ip", "error", "records", f"A {wanted}",
                               f"A {', '.join(a)}", where)
    else:
        target = normalize(record.values[0])
        if cname and cname[0] != target:
            yield _finding(facts, "cname-wrong-target", "error", "records", f"CNAME {target}",
                           f"CNAME {cname[0]}", where)
        elif a:
            yield _finding(facts, "a-instead-of-cname", "error", "records", f"CNAME {target}",
                           f"A {', '.join(a)}", where)
        elif not cname:
            yield _finding(facts, "cname-missing", "error", "records", f"CNAME {target}",
                           "no CNAME", where)
    if aaaa:
        yield _finding(facts, "aaaa-present", "error", "records", "no AAAA records",
                       f"AAAA {', '.join(aaaa)}", where)


def _nameservers(facts: DomainFacts) -> Iterator[Finding]:
    if facts.dns is None:
        return
    says: dict[str, list[str]] = {}
    for server in facts.dns.servers:
        says.setdefault(_describe(server), []).append(server.server)
    if len(says) > 1:
        actual = "; ".join(f"{', '.join(servers)} says {what}" for what, servers in says.items())
        yield _finding(facts, "nameservers-disagree", "error", "nameservers",
                       "every authoritative nameserver gives the same answer", actual,
                       ", ".join(s.server for s in facts.dns.servers))


def _delegation(facts: DomainFacts) -> Iterator[Finding]:
    """A zone the resolver knows no nameservers for: nothing else about it can be asked."""
    if facts.dns is None or facts.dns.undelegated is None:
        return
    zone, (answer, where) = facts.spec.zone, facts.dns.undelegated
    yield _finding(facts, "zone-not-delegated", "error", "nameservers",
                   f"NS records for {zone} (a zone delegated to its nameservers)",
                   f"{answer} for {zone} NS", where)


def _describe(server: ServerAnswers) -> str:
    parts = [f"{name} {' '.join(values)}" for name, values in (
        ("CNAME", _values(server.cname)), ("A", _values(server.a)),
        ("AAAA", _values(server.aaaa))) if values]
    return " / ".join(parts) or "nothing"


def _ttl(facts: DomainFacts, record: Record) -> Iterator[Finding]:
    """One warning per domain: from DNS when a nameserver shows it, else from Route53."""
    server = _first(facts)
    served = (server.a if record.type == "A" else server.cname) if server else None
    if served is not None and served.ttl != record.ttl:
        yield _finding(facts, "ttl-differs", "warning", "ttl", str(record.ttl), str(served.ttl),
                       f"nameserver {server.server if server else '?'}")
        return
    declared = next((s for s in facts.route53 or () if s.type == record.type), None)
    if declared is not None and declared.ttl is not None and declared.ttl != record.ttl:
        yield _finding(facts, "ttl-differs", "warning", "ttl", str(record.ttl),
                       str(declared.ttl), "Route53")


def _challenge(facts: DomainFacts) -> Iterator[Finding]:
    for server in facts.dns.servers if facts.dns else ():
        if server.challenge:
            yield _finding(facts, "challenge-leftover", "warning", "challenge",
                           f"no TXT at _acme-challenge.{facts.spec.fqdn}",
                           "TXT " + " ".join(server.challenge), f"nameserver {server.server}")
            return  # once per domain: the first nameserver that still has it


def _caa(facts: DomainFacts) -> Iterator[Finding]:
    if facts.dns is None:
        return
    relevant = {c.name: c for c in facts.dns.caa}
    refused = []
    for name in facts.spec.names:
        found = relevant.get(name.removeprefix("*."))
        if found and not caa.permits(found.records, CA, wildcard=name.startswith("*.")):
            refused.append((name, found))
    if refused:
        # Worded without the domain unless a wildcard is what CAA refuses: the same set
        # refusing every domain of a zone is one zone-wide finding (drift.zones).
        wild = ", ".join(name for name, _ in refused if name.startswith("*."))
        found = refused[0][1]
        wanted = f'CAA allowing {CA} (0 issuewild "{CA}") for {wild}' if wild else \
            f'CAA allowing {CA} (0 issue "{CA}")'
        yield _finding(facts, "caa-forbids-letsencrypt", "error", "caa", wanted,
                       "; ".join(found.records), f"CAA at {found.found_at} ({found.where})")


# --- Route53 -------------------------------------------------------------------------------


def _route53(facts: DomainFacts, record: Record) -> Iterator[Finding]:
    if facts.route53 is None:
        return
    wanted = tuple(sorted(normalize(v) for v in record.values))
    sets = facts.route53
    declared = [s for s in sets if s.type == record.type]
    if len(sets) == 1 and declared and \
            tuple(sorted(normalize(v) for v in declared[0].values)) == wanted:
        return  # the TTL alone is the TTL check's
    actual = "; ".join(f"{s.type} {' '.join(s.values)}" for s in sets) or "no record sets"
    yield _finding(facts, "route53-differs", "error", "route53",
                   f"{record.type} {' '.join(wanted)}", actual, "Route53")


# --- Twilio --------------------------------------------------------------------------------


def _twilio(facts: DomainFacts, now: dt.datetime, live: Lifetime | None) -> Iterator[Finding]:
    twilio, spec = facts.twilio, facts.spec
    if twilio is None:
        return
    if not twilio.domain_known:
        # Twilio's code says why (one table: linkshortening/twilio/codes.py); a bare 404 is
        # an unknown DomainSid, as 30100 is.
        known = lookup(twilio.domain_code) or lookup(30100)
        assert known is not None
        said = f"{twilio.domain_code}: " if twilio.domain_code else ""
        yield _finding(facts, known.finding or "twilio-domain-unknown", known.severity,
                       "twilio-dns", f"{spec.domain_sid} ready for Link Shortening",
                       said + (twilio.dns_reason or known.meaning), "Twilio")
        return
    if twilio.dns_valid is False:
        yield _finding(facts, "twilio-dns-invalid", "error", "twilio-dns", "is_valid: true",
                       f"is_valid: false ({twilio.dns_reason or 'no reason given'})",
                       "Twilio ValidateDns")
    declared = (("fallback_url", spec.fallback_url, twilio.fallback_url),
                ("callback_url", spec.callback_url, twilio.callback_url),
                ("continue_on_failure", spec.continue_on_failure, twilio.continue_on_failure),
                ("disable_https", spec.disable_https, twilio.disable_https))
    for key, want, have in declared:
        if want is None or (have is None and isinstance(want, bool)):
            continue  # not declared (Twilio cannot unset a URL), or a flag Twilio did not say
        if have != want:
            yield _finding(facts, "twilio-config-differs", "error", "twilio-config",
                           f"{key}={want}", f"{key}={have}", "Twilio domain config")
    for service in twilio.invisible_services:
        account = spec.account_of(service)
        yield _finding(facts, "twilio-service-wrong-account", "error", "twilio-config",
                       f"{service} visible to account {account}",
                       f"{service} not found with account {account}'s credentials (Twilio 404)",
                       "Twilio Messaging Service")
    for service, domain in twilio.associations:
        if domain != spec.domain_sid:
            yield _finding(facts, "twilio-association-differs", "error", "twilio-config",
                           f"{service} uses {spec.domain_sid}",
                           f"{service} uses {domain or 'no domain'}",
                           "Twilio Messaging Service")
    yield from _twilio_certificate(facts, now, live)


def _twilio_certificate(facts: DomainFacts, now: dt.datetime,
                        live: Lifetime | None) -> Iterator[Finding]:
    twilio = facts.twilio
    assert twilio is not None
    where = "Twilio certificate"
    if twilio.validation_failed:
        yield _finding(facts, "twilio-certificate-validation-failed", "error",
                       "twilio-certificate", "the last upload validated",
                       f"validation {twilio.validation_status}"
                       + (f": {twilio.validation_reason}" if twilio.validation_reason else ""),
                       where)
    if twilio.certificate_expires is not None:
        yield from _expiry(facts, "twilio-certificate", twilio.certificate_expires, now, where,
                           live)
    elif facts.spec.certificate != "managed" and twilio.validation_status is None:
        yield _finding(facts, "twilio-no-certificate", "error", "twilio-certificate",
                       "a current certificate", "none uploaded", where)


def _expiry(facts: DomainFacts, check: str, not_after: dt.datetime, now: dt.datetime,
            where: str, live: Lifetime | None) -> Iterator[Finding]:
    days = (not_after - now).total_seconds() / 86400
    if live is not None:
        left = (not_after - now) / live.span
        if left > WARN_LEFT:
            return
        severity: Severity = "error" if left <= ERROR_LEFT else "warning"
        wanted = (f"more than {WARN_LEFT:.0%} of its {describe(live.span)} lifetime left "
                  f"({live.span * WARN_LEFT / dt.timedelta(days=1):.1f} days)")
    else:
        if days > WARN_DAYS:
            return
        severity = "error" if days <= ERROR_DAYS else "warning"
        wanted = f"more than {WARN_DAYS} days left"
    left_text = f"{days:.0f} days" if days >= 2 else f"{days * 24:.0f} hours"
    actual = f"expires {not_after:%Y-%m-%d %H:%M} UTC, in {left_text}" if days > 0 \
        else f"expired {not_after:%Y-%m-%d %H:%M} UTC"
    yield _finding(facts, f"{check}-expiring", severity, check,
                   wanted, actual, where)


# --- the served certificate ----------------------------------------------------------------


def _served(facts: DomainFacts, now: dt.datetime) -> Iterator[Finding]:
    served = facts.served
    if served is None:
        return
    where = f"TLS {served.endpoint}"
    if not any(covers(name, facts.spec.fqdn) for name in served.names):
        yield _finding(facts, "served-certificate-wrong-name", "error", "served-certificate",
                       f"a certificate for {facts.spec.fqdn}",
                       "names: " + (", ".join(served.names) or "none"), where)
    own = (Lifetime(served.not_before, served.not_after, measured=True)
           if served.not_before is not None else None)
    yield from _expiry(facts, "served-certificate", served.not_after, now, where, own)


# --- the stack -----------------------------------------------------------------------------


def _published_ips(facts: StackFacts, targets: TwilioTargets) -> Iterator[Finding]:
    """Twilio announces new IPs by changing its own target's records before the old ones go:
    the stack's allowedIps should follow."""
    seen = facts.twilio_target_ips
    if seen is None or sorted(seen) == sorted(targets.allowed_ips):
        return
    yield Finding("twilio-ips-changed", "warning", "twilio-target", "*",
                  "A " + ", ".join(sorted(targets.allowed_ips)) + " (lsctl:allowedIps)",
                  "A " + ", ".join(sorted(seen)) if seen else "no A records",
                  f"resolver: {targets.cname_target}")
