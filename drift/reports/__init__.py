"""The drift report: one run's findings and what could not be checked, its exit code, and the
questions every rendering asks of it (which checks failed where, which were not made)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from drift.certificates import CertificateStatus
from drift.checks import Finding, Severity
from drift.facts import PROBES, Probe, StackFacts
from drift.renewal_due import RenewalDue

EXIT_CLEAN, EXIT_DRIFT, EXIT_UNCHECKED = 0, 1, 2
Status = Literal["clean", "drift", "unchecked"]
# The probe whose facts each check judges: an unreachable or skipped probe leaves it undecided.
CHECK_PROBES: dict[str, tuple[Probe, ...]] = {
    "records": ("dns",), "nameservers": ("dns",), "ttl": ("dns", "route53"),
    "route53": ("route53",), "twilio-dns": ("twilio",), "twilio-config": ("twilio",),
    "twilio-certificate": ("twilio",), "served-certificate": ("tls",), "challenge": ("dns",),
    "caa": ("dns",), "twilio-target": ("dns",), "persist": ("dns",),
}
STACK = "*"  # the domain of findings and unreachable sources that are about the whole stack
SAMPLE = 5  # domains a group of findings names; a larger group shows as one row in text/Markdown


@dataclass(frozen=True)
class Lost:
    """A source that could not be asked about a domain (or the stack: domain "*")."""

    domain: str
    probe: Probe
    source: str
    detail: str
    setting: str = ""  # not configured: what to set (the source was never asked)


@dataclass(frozen=True)
class Group:
    """Findings of one code and severity: 1,000 domains with the same drift are one problem."""

    code: str
    severity: Severity
    findings: tuple[Finding, ...]

    @property
    def count(self) -> int:
        return len(self.findings)

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d for f in self.findings for d in (f.affects or (f.domain,))))

    def sample(self, n: int = SAMPLE) -> tuple[str, ...]:
        return tuple(f.domain for f in self.findings[:n])

    @property
    def fix(self) -> str:
        return self.findings[0].fix

    @property
    def same_command(self) -> bool:
        return len({f.command for f in self.findings}) == 1

    @property
    def generic_command(self) -> str:
        """The command for every domain of the group, DOMAIN where each has its own; "" when
        they differ otherwise (domains renewed differently: each finding has its own)."""
        forms = {f.command.replace(f.domain, "DOMAIN") for f in self.findings}
        return forms.pop() if len(forms) == 1 else ""


@dataclass(frozen=True)
class Report:
    stack: str
    domains: tuple[str, ...]
    route53_domains: frozenset[str]  # the route53 check applies only to these
    findings: tuple[Finding, ...]
    unreachable: tuple[Lost, ...]
    skipped: tuple[Probe, ...]  # probes left out on purpose (--skip)
    checked_at: dt.datetime
    duration: float
    fail_on: Severity = "error"
    persist_domains: frozenset[str] = frozenset()  # the persist check applies only to these
    not_configured: tuple[Lost, ...] = ()  # sources never asked: settings or credentials missing
    certificates: tuple[CertificateStatus, ...] = ()
    renewals: tuple[RenewalDue, ...] = ()  # when each acme certificate falls due, and why

    def fails(self, finding: Finding) -> bool:
        if finding.acknowledged is not None:
            return False
        return finding.severity == "error" or self.fail_on == "warning"

    @property
    def status(self) -> Status:
        if self.unreachable or self.not_configured:
            return "unchecked"
        return "drift" if any(self.fails(f) for f in self.findings) else "clean"

    @property
    def exit_code(self) -> int:
        return {"clean": EXIT_CLEAN, "drift": EXIT_DRIFT, "unchecked": EXIT_UNCHECKED}[
            self.status]

    def count(self, severity: Severity) -> int:
        """Findings of this severity, not counting acknowledged ones."""
        return sum(f.severity == severity for f in self.active)

    @property
    def active(self) -> list[Finding]:
        return [f for f in self.findings if f.acknowledged is None]

    @property
    def acknowledged(self) -> list[Finding]:
        return [f for f in self.findings if f.acknowledged is not None]

    def groups(self) -> list[Group]:
        """The unacknowledged findings by code and severity, in the order first seen."""
        grouped: dict[tuple[str, Severity], list[Finding]] = {}
        for finding in self.active:
            grouped.setdefault((finding.code, finding.severity), []).append(finding)
        return [Group(code, severity, tuple(found))
                for (code, severity), found in grouped.items()]

    def clean_domains(self) -> list[str]:
        """Domains without a finding (acknowledged ones aside), every source answered."""
        dirty = {d for f in self.active for d in (f.affects or (f.domain,))}
        dirty |= {u.domain for u in (*self.unreachable, *self.not_configured)}
        return [d for d in self.domains if d not in dirty]

    def not_made(self, domain: str, check: str) -> str | None:
        """Why a check was not made for a domain (skipped, not applicable); None if it was."""
        if check == "route53" and domain not in self.route53_domains:
            return "not a Route53 domain"
        if check == "persist" and domain not in self.persist_domains:
            return "not a dns-persist-01 domain"
        skipped = [p for p in CHECK_PROBES[check] if p in self.skipped]
        if skipped and len(skipped) == len(CHECK_PROBES[check]):
            return f"not asked (--skip {' '.join(skipped)})"
        return None

    def undecided(self, domain: str, check: str) -> list[Lost]:
        """The unreachable sources that leave this check without facts."""
        probes = CHECK_PROBES[check]
        return [u for u in self._lost_by_domain.get(domain, [])
                if u.probe in probes
                and not (check == "ttl" and u.probe == "route53")]  # ttl has DNS's word too

    @cached_property
    def _lost_by_domain(self) -> dict[str, list[Lost]]:
        grouped: dict[str, list[Lost]] = {}
        for lost in (*self.unreachable, *self.not_configured):
            grouped.setdefault(lost.domain, []).append(lost)
        return grouped

    def unreachable_grouped(self) -> list[tuple[str, str, list[str]]]:
        """(source, detail, domains): a dead nameserver once, not once per domain."""
        return _grouped(self.unreachable)

    def not_configured_grouped(self) -> list[tuple[str, str, list[str]]]:
        """(source, what to set, domains): a missing credential once."""
        return _grouped(self.not_configured, setting=True)


def _grouped(lost: Sequence[Lost], setting: bool = False) -> list[tuple[str, str, list[str]]]:
    groups: dict[tuple[str, str], list[str]] = {}
    for one in lost:
        groups.setdefault((one.source, one.setting if setting else one.detail),
                          []).append(one.domain)
    return [(source, what, domains) for (source, what), domains in groups.items()]


def build(stack: str, facts: StackFacts, findings: Sequence[Finding], skipped: Collection[Probe],
          fail_on: Severity, duration: float,
          certificates: Sequence[CertificateStatus] = (),
          renewals: Sequence[RenewalDue] = ()) -> Report:
    lost = [Lost(d.spec.fqdn, u.probe, u.source, u.detail, u.setting)
            for d in facts.domains for u in d.unreachable]
    lost += [Lost(STACK, u.probe, u.source, u.detail, u.setting) for u in facts.unreachable]
    lost = list(dict.fromkeys(lost))
    route53 = frozenset(d.spec.fqdn for d in facts.domains
                        if d.spec.dns is not None and d.spec.dns.provider == "route53")
    return Report(stack, tuple(d.spec.fqdn for d in facts.domains), route53, tuple(findings),
                  tuple(u for u in lost if not u.setting),
                  tuple(p for p in PROBES if p in skipped), facts.checked_at, duration, fail_on,
                  frozenset(d.spec.fqdn for d in facts.domains
                            if d.spec.challenge == "dns-persist-01"),
                  tuple(u for u in lost if u.setting), tuple(certificates), tuple(renewals))


def line(finding: Finding) -> str:
    return (f"{finding.severity} {finding.code}: expected {finding.expected}; "
            f"actual {finding.actual} ({finding.where})")


def fix_line(finding: Finding) -> str:
    """The fix in one line: words, then the command."""
    if not finding.fix:
        return ""
    return finding.fix + (f": {finding.command}" if finding.command else "")


def acknowledged_line(finding: Finding) -> str:
    ack = finding.acknowledged
    return f"acknowledged until {ack.until.isoformat()}: {ack.reason}" if ack else ""

