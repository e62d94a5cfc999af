"""From facts to the findings a report shows: judged, zone-wide ones once per zone, each with
its fix, and acknowledged where the stack's lsctl:driftIgnore says so (on the run's date)."""

from __future__ import annotations

import datetime as dt

from drift import checks, ignore, persist, remediation, zones
from drift.checks import Finding
from drift.facts import StackFacts
from linkshortening.stack.model import Stack


def findings(stack: Stack, facts: StackFacts, declared: persist.Declared | None = None,
             expected_lifetime: dt.timedelta | None = None) -> list[Finding]:
    """`declared`: the stack's DNS-PERSIST-01 records (drift.persist.declared), if any;
    `expected_lifetime`: the declared profile's (checks.judge)."""
    judged = zones.merge(checks.judge(facts, stack.targets, declared, expected_lifetime))
    return ignore.apply(remediation.attach(judged, stack), stack.drift_ignore,
                        facts.checked_at.date())
