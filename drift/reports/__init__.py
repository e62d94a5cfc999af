"""The drift report: one run's findings and what could not be checked, its exit code, and the
questions every rendering asks of it (which checks failed where, which were not made)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

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
    "caa": ("dns",), "twilio-target": ("dns",),
}
STACK = "*"  # the domain of findings and unreachable sources that are about the whole stack


@dataclass(frozen=True)
class Lost:
    """A source that could not be asked about a domain (or the stack: domain "*")."""

    domain: str
    probe: Probe
    source: str
    detail: str


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
    renewals: tuple[RenewalDue, ...] = ()  # when each acme certificate falls due, and why

    def fails(self, finding: Finding) -> bool:
        return finding.severity == "error" or self.fail_on == "warning"

    @property
    def status(self) -> Status:
        if self.unreachable:
            return "unchecked"
        return "drift" if any(self.fails(f) for f in self.findings) else "clean"

    @property
    def exit_code(self) -> int:
        return {"clean": EXIT_CLEAN, "drift": EXIT_DRIFT, "unchecked": EXIT_UNCHECKED}[
            self.status]

    def count(self, severity: Severity) -> int:
        return sum(f.severity == severity for f in self.findings)

    def clean_domains(self) -> list[str]:
        """Domains without a finding, every source answered."""
        dirty = {f.domain for f in self.findings} | {u.domain for u in self.unreachable}
        return [d for d in self.domains if d not in dirty]

    def not_made(self, domain: str, check: str) -> str | None:
        """Why a check was not made for a domain (skipped, not applicable); None if it was."""
        if check == "route53" and domain not in self.route53_domains:
            return "not a Route53 domain"
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
        for lost in self.unreachable:
            grouped.setdefault(lost.domain, []).append(lost)
        return grouped

    def unreachable_grouped(self) -> list[tuple[str, str, list[str]]]:
        """(source, detail, domains): a dead nameserver once, not once per domain."""
        groups: dict[tuple[str, str], list[str]] = {}
        for lost in self.unreachable:
            groups.setdefault((lost.source, lost.detail), []).append(lost.domain)
        return [(source, detail, domains) for (source, detail), domains in groups.items()]


def build(stack: str, facts: StackFacts, findings: Sequence[Finding], skipped: Collection[Probe],
          fail_on: Severity, duration: float, renewals: Sequence[RenewalDue] = ()) -> Report:
    lost = [Lost(d.spec.fqdn, u.probe, u.source, u.detail)
            for d in facts.domains for u in d.unreachable]
    lost += [Lost(STACK, u.probe, u.source, u.detail) for u in facts.unreachable]
    route53 = frozenset(d.spec.fqdn for d in facts.domains
                        if d.spec.dns is not None and d.spec.dns.provider == "route53")
    return Report(stack, tuple(d.spec.fqdn for d in facts.domains), route53, tuple(findings),
                  tuple(dict.fromkeys(lost)), tuple(p for p in PROBES if p in skipped),
                  facts.checked_at, duration, fail_on, tuple(renewals))


def line(finding: Finding) -> str:
    return (f"{finding.severity} {finding.code}: expected {finding.expected}; "
            f"actual {finding.actual} ({finding.where})")

