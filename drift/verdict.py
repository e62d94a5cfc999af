"""From facts to the findings a report shows: judged, zone-wide ones once per zone, each with
its fix, and acknowledged where the stack's lsctl:driftIgnore says so (on the run's date)."""

from __future__ import annotations

from drift import checks, ignore, remediation, zones
from drift.checks import Finding
from drift.facts import StackFacts
from linkshortening.stack.model import Stack


def findings(stack: Stack, facts: StackFacts) -> list[Finding]:
    judged = zones.merge(checks.judge(facts, stack.targets))
    return ignore.apply(remediation.attach(judged, stack), stack.drift_ignore,
                        facts.checked_at.date())
