"""Apply a plan: each zone by its writer (RFC 2136 or Route53), then the Twilio settings. A
write that fails never stops the others; each one's outcome is reported."""

from __future__ import annotations

from drift.plan.access import Access
from drift.plan.changes import Outcome, Plan


def apply_plan(plan: Plan, access: Access) -> list[Outcome]:
    from drift.plan import apply_route53, apply_twilio
    from drift.plan.apply_rfc2136 import apply_zone

    outcomes: list[Outcome] = []
    for zone_plan in plan.zones:
        zone = zone_plan.zone
        if not zone_plan.changes:
            continue
        if zone.provider == "rfc2136":
            assert zone.settings is not None
            outcomes += apply_zone(zone_plan, access.primary(zone.name, zone.settings),
                                   access.tsig_key(zone.settings))
        else:
            outcomes += apply_route53.apply_zone(zone_plan, access.route53())
    if plan.twilio:
        outcomes += apply_twilio.apply_changes(plan.twilio, access.twilio())
    return outcomes
