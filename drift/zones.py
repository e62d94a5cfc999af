"""Zone-wide findings once per zone: a CAA set, a lagging or missing nameserver, a zone that is
not delegated is one problem with one fix, however many of the zone's domains it touches."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from drift.checks import Finding
from drift.remediation import scope


def _key(finding: Finding) -> tuple[str, ...]:
    """What makes two domains' findings the same zone-wide one. Nameservers disagreeing is
    one finding per zone whatever each domain's records are; a CAA set is one per place it
    was found (a CAA set at a subdomain concerns that name only)."""
    if finding.code == "nameservers-disagree":
        return finding.code, finding.zone
    return finding.code, finding.zone, finding.expected, finding.actual, finding.where


def merge(findings: Iterable[Finding]) -> list[Finding]:
    """Zone-scoped findings merged per zone (in the place of the first), naming the domains
    they affect; every other finding unchanged, in order."""
    out: list[Finding | tuple[str, ...]] = []
    groups: dict[tuple[str, ...], list[Finding]] = {}
    for finding in findings:
        if scope(finding.code) != "zone" or not finding.zone:
            out.append(finding)
            continue
        key = _key(finding)
        if key not in groups:
            groups[key] = []
            out.append(key)
        groups[key].append(finding)
    return [item if isinstance(item, Finding) else _one(groups[item]) for item in out]


def _one(same: list[Finding]) -> Finding:
    first = same[0]
    affects = tuple(dict.fromkeys(f.domain for f in same))
    actual = first.actual
    others = len({f.actual for f in same}) - 1
    if others:  # nameservers disagreeing about different records: one example, counted
        actual = f"{first.domain}: {first.actual} (and {others} other answer(s))"
    where = ", ".join(dict.fromkeys(w for f in same for w in f.where.split(", ")))
    return dataclasses.replace(first, domain=first.zone, actual=actual, where=where,
                               affects=affects)
