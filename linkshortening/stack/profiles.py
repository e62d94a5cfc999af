"""ACME profiles and their certificate lifetimes, as data, and what follows from them: how
often the renewer must run and when the expiry alarm should fire. The one place that knows
a lifetime; everything else reads the certificate's own notBefore/notAfter.

Let's Encrypt's published timeline (docs/profiles.md and its 2025-2026 announcements):
`classic` 90 days, 64 from 2027-02-10, 45 from 2028-02-16; `tlsserver` 45 days since
2026-05-13; `shortlived` 160 hours. `tlsserver` and `shortlived` carry no Common Name.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import Stack

DAY, HOUR = dt.timedelta(days=1), dt.timedelta(hours=1)
# Schedules and alarms are deployed by `pulumi up` and live until the next one: plan them for
# the shortest lifetime a profile has within this long.
HORIZON = dt.timedelta(days=365)
RUNS_PER_MARGIN = 12  # the computed schedule runs this often while a certificate is due
MIN_RUNS_PER_MARGIN = 6  # an explicit rate() that runs less often is refused at `pulumi up`
MAX_INTERVAL = 12 * HOUR  # Let's Encrypt asks batch clients to check at least twice a day
MIN_INTERVAL = HOUR
RATE = re.compile(r"rate\(([0-9]+) (minute|hour|day)s?\)")


@dataclass(frozen=True)
class Profile:
    name: str
    lifetimes: tuple[tuple[dt.date, dt.timedelta], ...]  # (from this day on, lifetime), in order
    common_name: bool  # does the CA put a Common Name in the subject?

    def lifetime(self, at: dt.datetime) -> dt.timedelta:
        current = self.lifetimes[0][1]
        for since, lifetime in self.lifetimes:
            if at.date() >= since:
                current = lifetime
        return current

    def shortest(self, at: dt.datetime, horizon: dt.timedelta = HORIZON) -> dt.timedelta:
        """The shortest lifetime in effect at any time from `at` to `at + horizon`."""
        starts = [at] + [dt.datetime.combine(since, dt.time(), dt.UTC)
                         for since, _ in self.lifetimes if at < dt.datetime.combine(
                             since, dt.time(), dt.UTC) <= at + horizon]
        return min(self.lifetime(start) for start in starts)


PROFILES = {p.name: p for p in (
    Profile("classic", ((dt.date.min, 90 * DAY), (dt.date(2027, 2, 10), 64 * DAY),
                        (dt.date(2028, 2, 16), 45 * DAY)), common_name=True),
    Profile("tlsserver", ((dt.date.min, 90 * DAY), (dt.date(2026, 5, 13), 45 * DAY)),
            common_name=False),
    Profile("shortlived", ((dt.date.min, 160 * HOUR),), common_name=False),
)}
DEFAULT_PROFILE = "classic"  # what Let's Encrypt issues when an order names no profile
SHORTEST = PROFILES["shortlived"]  # what an unknown profile is planned as: the safe side


def profile(name: str | None) -> Profile:
    """The profile the stack asks for (None: the CA's default); an unknown name (another CA's
    profile) is planned as the shortest known one, so its schedule is never too slow."""
    return PROFILES.get(name or DEFAULT_PROFILE, SHORTEST)


def describe(lifetime: dt.timedelta) -> str:
    """`45-day`, `160-hour`: how people name a lifetime (CAs end it a second early)."""
    hours = round(lifetime / HOUR)
    return f"{hours // 24}-day" if hours % 24 == 0 else f"{hours}-hour"


@dataclass(frozen=True)
class RenewalPlan:
    """What the stack's profile means for the renewer: one lifetime, one rule, one schedule."""

    profile: str  # as the stack names it, or "classic (the CA's default)"
    known: bool  # False: not in PROFILES, planned as shortlived
    lifetime_now: dt.timedelta
    lifetime: dt.timedelta  # the shortest within HORIZON: what schedule and alarm are for
    shorter_from: dt.date | None  # when `lifetime` takes effect, if later than now
    renew_fraction: float
    schedule: str
    schedule_declared: bool
    alarm_days: float
    alarm_declared: bool

    @property
    def margin(self) -> dt.timedelta:
        """How long before expiry a certificate falls due (without ARI)."""
        return self.lifetime * self.renew_fraction

    @property
    def rule(self) -> str:
        return (f"renewed with less than {self.renew_fraction:.0%} of its lifetime left "
                f"(~{_span(self.margin)} before expiry), or in the CA's ARI window")

    def summary(self) -> str:
        unknown = "" if self.known else " (not a Let's Encrypt profile: planned as shortlived)"
        later = (f", {describe(self.lifetime)} from {self.shorter_from} (what the schedule "
                 "and alarm are planned for)" if self.shorter_from else "")
        return (f"certificates: profile {self.profile}{unknown}, {describe(self.lifetime_now)} "
                f"lifetime now{later}; {self.rule}; renewer runs {self.schedule}; expiry alarm "
                f"below {self.alarm_days:g} days")


def renewal_plan(stack: Stack, now: dt.datetime) -> RenewalPlan:
    """The schedule and alarm follow the shortest lifetime the stack's certificates will have
    until the next `pulumi up` could plausibly change them (HORIZON)."""
    wanted = profile(stack.acme.profile)
    lifetime = wanted.shortest(now)
    fraction = stack.acme.renew_fraction
    margin = lifetime * fraction
    interval = max(MIN_INTERVAL, min(MAX_INTERVAL, margin / RUNS_PER_MARGIN))
    hours = max(1, int(interval / HOUR))
    declared = stack.renewal
    return RenewalPlan(
        profile=stack.acme.profile or f"{DEFAULT_PROFILE} (the CA's default)",
        known=(stack.acme.profile or DEFAULT_PROFILE) in PROFILES,
        lifetime_now=wanted.lifetime(now), lifetime=lifetime,
        shorter_from=next((since for since, span in wanted.lifetimes
                           if since > now.date() and span == lifetime), None),
        renew_fraction=fraction,
        schedule=declared.schedule or f"rate({hours} hour{'s' if hours > 1 else ''})",
        schedule_declared=declared.schedule is not None,
        # Half the margin: a renewal that failed for that long is worth a page, and a healthy
        # renewer (due at the margin) never trips it.
        alarm_days=(float(declared.alarm_days) if declared.alarm_days is not None
                    else math.floor(margin / DAY * 5) / 10),
        alarm_declared=declared.alarm_days is not None)


def renewal_problems(stack: Stack, now: dt.datetime) -> list[ConfigError]:
    """A declared schedule too slow or alarm too early for the profile's lifetime: refused by
    `pulumi up`, shown as warnings by `lsctl records`. Never checked when the renewer loads
    the stack: time alone must not stop renewals."""
    plan = renewal_plan(stack, now)
    problems = []
    why = f"profile {plan.profile} issues {describe(plan.lifetime)} certificates"
    interval = rate_interval(plan.schedule) if plan.schedule_declared else None
    if interval is not None and interval * MIN_RUNS_PER_MARGIN > plan.margin:
        fastest = max(HOUR, plan.margin / MIN_RUNS_PER_MARGIN)
        problems.append(ConfigError(
            stack.source, "lsctl:renewal.schedule",
            f"{plan.schedule} runs fewer than {MIN_RUNS_PER_MARGIN} times in the "
            f"{_span(plan.margin)} a certificate is due ({why})",
            f"run at least every {_span(fastest, floor=True)}, e.g. rate("
            f"{max(1, int(fastest / HOUR))} hours), or remove the key (lsctl computes it)"))
    if plan.alarm_declared and plan.alarm_days * DAY >= plan.margin:
        problems.append(ConfigError(
            stack.source, "lsctl:renewal.alarmDays",
            f"{plan.alarm_days:g} days is not below the {_span(plan.margin)} left when a "
            f"certificate falls due ({why}): the alarm would fire before every renewal",
            f"use fewer than {plan.margin / DAY:.1f} days, or remove the key (default: half "
            "of that)"))
    return problems


def rate_interval(expression: str) -> dt.timedelta | None:
    """The interval of an EventBridge `rate(...)`; None for `cron(...)` (not checked)."""
    match = RATE.fullmatch(expression)
    if match is None:
        return None
    unit = {"minute": dt.timedelta(minutes=1), "hour": HOUR, "day": DAY}[match.group(2)]
    return int(match.group(1)) * unit


def _span(span: dt.timedelta, floor: bool = False) -> str:
    hours = span / HOUR
    if hours < 72:
        return f"{math.floor(hours) if floor else round(hours)} hours"
    return f"{math.floor(span / DAY) if floor else round(span / DAY)} days"
