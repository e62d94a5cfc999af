"""The checks: pure functions from facts to findings. No I/O here, so every rule is tested
on plain data and every finding says what was expected, what was seen, and where."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from drift.facts import DomainFacts, StackFacts
from linkshortening.dnsquery import Answer
from linkshortening.names import normalize
from linkshortening.preflight import covers
from linkshortening.records import desired_records
from linkshortening.targets import TwilioTargets

Severity = Literal["error", "warning"]
# The check each finding belongs to: one JUnit test case per domain and check.
CHECKS = ("records", "nameservers", "ttl", "route53", "twilio-dns", "twilio-config",
          "twilio-certificate", "served-certificate", "challenge", "caa")
WARN_DAYS, ERROR_DAYS = 30, 7  # Twilio's 30131 warns at 30 days


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    check: str
    domain: str
    expected: str
    actual: str
    where: str


def judge(facts: StackFacts, targets: TwilioTargets) -> list[Finding]:
    """Every finding for every domain, plus stack-wide ones."""
    found = [f for domain in facts.domains for f in judge_domain(domain, targets,
                                                                   facts.checked_at)]
    if facts.twilio_target_ips is not None and \
            sorted(facts.twilio_target_ips) != sorted(targets.allowed_ips):
        found.append(Finding("twilio-ips-changed", "warning", "records", "*",
                             ", ".join(sorted(targets.allowed_ips)),
                             ", ".join(sorted(facts.twilio_target_ips)) or "(none)",
                             "resolver: lsct.ashburn.us1.twilio.com A"))
    return found


def judge_domain(facts: DomainFacts, targets: TwilioTargets,
                 now: dt.datetime) -> list[Finding]:
    return [*_records(facts, targets), *_nameservers(facts), *_route53(facts, targets),
            *_twilio(facts, now), *_served(facts, now), *_challenge(facts), *_caa(facts)]


def _first(facts: DomainFacts) -> tuple[str, dict[str, Answer]] | None:
    """The answers of the first nameserver (ns1 first): the record checks judge these; the
    nameserver check reports where the others differ."""
    return next(iter(sorted(facts.answers.items())), None)


def _finding(facts: DomainFacts, code: str, severity: Severity, check: str, expected: str,
             actual: str, where: str) -> Finding:
    return Finding(code, severity, check, facts.spec.fqdn, expected, actual, where)


def _values(answer: Answer | None) -> tuple[str, ...]:
    return tuple(normalize(v) for v in answer.values) if answer else ()


def _records(facts: DomainFacts, targets: TwilioTargets) -> Iterator[Finding]:
    first = _first(facts)
    if first is None:
        return
    server, answers = first
    where = f"nameserver {server}"
    spec = facts.spec
    (record,) = desired_records(spec, targets)
    a, aaaa, cname = (_values(answers.get(t)) for t in ("A", "AAAA", "CNAME"))
    if spec.is_root:
        missing, extra = set(record.values) - set(a), set(a) - set(record.values)
        if missing:
            yield _finding(facts, "a-missing-ip", "error", "records", ", ".join(record.values),
                           ", ".join(a) or "(no A records)", where)
        if extra:
            yield _finding(facts, "a-extra-ip", "error", "records", ", ".join(record.values),
                           ", ".join(a), where)
        if cname:
            yield _finding(facts, "cname-at-apex", "error", "records", "A records only",
                           f"CNAME {cname[0]}", where)
    else:
        target = normalize(record.values[0])
        if cname and cname[0] != target:
            yield _finding(facts, "cname-wrong-target", "error", "records", target, cname[0],
                           where)
        if a:
            yield _finding(facts, "a-instead-of-cname", "error", "records", f"CNAME {target}",
                           "A " + ", ".join(a), where)
        elif not cname:
            yield _finding(facts, "cname-missing", "error", "records", f"CNAME {target}",
                           "(no CNAME)", where)
    if aaaa:
        yield _finding(facts, "aaaa-present", "error", "records", "no AAAA records",
                       "AAAA " + ", ".join(aaaa), where)
    declared = answers.get(record.type)
    if declared and declared.ttl is not None and declared.ttl != record.ttl:
        yield _finding(facts, "ttl-differs", "warning", "ttl", str(record.ttl),
                       str(declared.ttl), where)


def _nameservers(facts: DomainFacts) -> Iterator[Finding]:
    seen: dict[tuple[tuple[str, ...], ...], list[str]] = {}
    for server, answers in sorted(facts.answers.items()):
        key = tuple(_values(answers.get(t)) for t in ("A", "AAAA", "CNAME"))
        seen.setdefault(key, []).append(server)
    if len(seen) > 1:
        says = "; ".join(f"{', '.join(servers)} says {_describe(key)}"
                         for key, servers in seen.items())
        yield _finding(facts, "nameservers-disagree", "error", "nameservers",
                       "every authoritative nameserver serves the same records", says,
                       ", ".join(sorted(facts.answers)))


def _describe(key: tuple[tuple[str, ...], ...]) -> str:
    parts = [f"{t} {' '.join(v)}" for t, v in zip(("A", "AAAA", "CNAME"), key, strict=True)
             if v]
    return " / ".join(parts) or "nothing"


def _route53(facts: DomainFacts, targets: TwilioTargets) -> Iterator[Finding]:
    if facts.route53 is None:
        return
    (record,) = desired_records(facts.spec, targets)
    expected = f"{record.type} {' '.join(record.values)} (TTL {record.ttl})"
    sets = facts.route53
    declared = sets.get(record.type)
    others = [t for t in sets if t != record.type]
    if declared is None or tuple(normalize(v) for v in declared.values) != record.values \
            or declared.ttl != record.ttl or others:
        actual = "; ".join(f"{s.type} {' '.join(s.values)} (TTL {s.ttl})"
                           for s in sets.values()) or "(no record sets)"
        yield _finding(facts, "route53-differs", "error", "route53", expected, actual,
                       "Route53")


def _twilio(facts: DomainFacts, now: dt.datetime) -> Iterator[Finding]:
    twilio = facts.twilio
    if twilio is None:
        return
    spec = facts.spec
    if twilio.dns_valid is False:
        yield _finding(facts, "twilio-dns-invalid", "error", "twilio-dns", "is_valid: true",
                       f"is_valid: false ({twilio.dns_reason or 'no reason given'})",
                       "Twilio ValidateDns")
    declared = {"fallback_url": spec.fallback_url, "callback_url": spec.callback_url,
                "continue_on_failure": spec.continue_on_failure,
                "disable_https": spec.disable_https}
    for key, want in declared.items():
        have = twilio.config.get(key)
        if want is None and key.endswith("_url"):
            continue  # not declared: whatever Twilio has is fine
        if have != want:
            yield _finding(facts, "twilio-config-differs", "error", "twilio-config",
                           f"{key}={want}", f"{key}={have}", "Twilio domain config")
    for service, domain in twilio.associations.items():
        if domain != spec.domain_sid:
            yield _finding(facts, "twilio-association-differs", "error", "twilio-config",
                           f"{service} uses {spec.domain_sid}",
                           f"{service} uses {domain or 'no domain'}",
                           "Twilio Messaging Service")
    if spec.certificate == "acme" and twilio.certificate_expires is None:
        yield _finding(facts, "twilio-no-certificate", "error", "twilio-certificate",
                       "a current certificate", "none uploaded", "Twilio certificate")
    elif twilio.certificate_expires is not None:
        yield from _expiry(facts, "twilio-certificate", twilio.certificate_expires, now,
                           "Twilio certificate")


def _expiry(facts: DomainFacts, check: str, not_after: dt.datetime, now: dt.datetime,
            where: str) -> Iterator[Finding]:
    days = (not_after - now).total_seconds() / 86400
    expected = f"more than {WARN_DAYS} days left"
    actual = f"expires {not_after:%Y-%m-%d %H:%M}Z ({days:.0f} days)" if days > 0 \
        else f"expired {not_after:%Y-%m-%d %H:%M}Z"
    if days <= ERROR_DAYS:
        yield _finding(facts, f"{check}-expiring", "error", check, expected, actual, where)
    elif days <= WARN_DAYS:
        yield _finding(facts, f"{check}-expiring", "warning", check, expected, actual, where)


def _served(facts: DomainFacts, now: dt.datetime) -> Iterator[Finding]:
    served = facts.served
    if served is None:
        return
    if not any(covers(name, facts.spec.fqdn) for name in served.names):
        yield _finding(facts, "served-certificate-wrong-name", "error", "served-certificate",
                       f"a certificate for {facts.spec.fqdn}",
                       "names: " + (", ".join(served.names) or "(none)"), "port 443 (SNI)")
    yield from _expiry(facts, "served-certificate", served.not_after, now, "port 443 (SNI)")


def _challenge(facts: DomainFacts) -> Iterator[Finding]:
    for server, answers in sorted(facts.answers.items()):
        leftover = answers.get("TXT")
        if leftover and leftover.values:
            yield _finding(facts, "challenge-leftover", "warning", "challenge",
                           f"no TXT at _acme-challenge.{facts.spec.fqdn}",
                           " ".join(leftover.values), f"nameserver {server}")
            return  # one finding per domain, from the first server that has it


def _caa(facts: DomainFacts) -> Iterator[Finding]:
    if not facts.caa:
        return  # no CAA anywhere up to the zone: every CA may issue
    issuers = [v.split(None, 2) for v in facts.caa]
    allowed = {v[2].strip('"').split(";")[0].strip() for v in issuers
               if len(v) == 3 and v[1].lower() in ("issue", "issuewild")}
    if "letsencrypt.org" not in allowed:
        yield _finding(facts, "caa-forbids-letsencrypt", "error", "caa",
                       'CAA 0 issue "letsencrypt.org"', "; ".join(facts.caa),
                       f"CAA at {facts.caa_at}")
