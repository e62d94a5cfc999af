"""The stack's lsctl:driftIgnore rules applied to findings: an acknowledged finding is still
shown ("acknowledged until <date>: <reason>") but is not drift; the day after `until` it
counts again. The date is the run's (StackFacts.checked_at), so tests inject the clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence

from drift.checks import Acknowledged, Finding
from drift.remediation import REMEDIES
from linkshortening.stack.drift_ignore import KEY
from linkshortening.stack.errors import ConfigError, quoted
from linkshortening.stack.model import DriftIgnore, Stack
from linkshortening.stack.parse import NAMESPACE


def check_codes(stack: Stack) -> None:
    """A rule for a code drift never reports would silently acknowledge nothing: refuse it."""
    for i, rule in enumerate(stack.drift_ignore):
        if rule.code not in REMEDIES:
            raise ConfigError(stack.source, f"{NAMESPACE}:{KEY}[{i}].code",
                              f"{quoted(rule.code)} is not a finding code of lsctl drift",
                              "use one of the codes in the README's table (or in a report)")


def apply(findings: Iterable[Finding], rules: Sequence[DriftIgnore],
          today: dt.date) -> list[Finding]:
    """Each finding a rule in force today covers, marked acknowledged (the rule that lasts
    longest wins); the others unchanged."""
    out = []
    for finding in findings:
        live = [r for r in rules if today <= r.until and _covers(r, finding)]
        if live:
            rule = max(live, key=lambda r: r.until)
            finding = dataclasses.replace(finding,
                                          acknowledged=Acknowledged(rule.until, rule.reason))
        out.append(finding)
    return out


def _covers(rule: DriftIgnore, finding: Finding) -> bool:
    """Same code, and the rule names the finding's domain, its zone, or everything. A
    zone-wide finding is covered by a rule for the zone (or *), not by one of its domains."""
    if rule.code != finding.code:
        return False
    if rule.domain == "*":
        return True
    if finding.affects:
        return rule.domain == finding.domain
    return rule.domain in (finding.domain, finding.zone)
