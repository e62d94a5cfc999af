"""Profiles and lifetimes as data (issue 17): one table, date-aware, and what it implies for
the renewer's schedule and the expiry alarm."""

from __future__ import annotations

import datetime as dt

import pytest

from linkshortening.stack.model import AcmeSettings, DomainSpec, RenewalSettings, Stack
from linkshortening.stack.profiles import (
    PROFILES,
    describe,
    profile,
    rate_interval,
    renewal_plan,
    renewal_problems,
)

DAY = dt.timedelta(days=1)


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)


def stack(profile: str | None = None, fraction: float = 1 / 3,
          **renewal: object) -> Stack:
    spec = DomainSpec("go.example.com", "example.com", "DN" + "a" * 32)
    return Stack("t", "stacks/Pulumi.t.yaml", (spec,),
                 acme=AcmeSettings(profile=profile, renew_fraction=fraction),
                 renewal=RenewalSettings(**renewal))  # type: ignore[arg-type]


@pytest.mark.parametrize(("day", "days"), [
    ("2026-12-03", 90), ("2027-02-09", 90), ("2027-02-10", 64), ("2028-02-15", 64),
    ("2028-02-16", 45), ("2031-01-01", 45)])
def test_classic_follows_lets_encrypts_timeline(day: str, days: int) -> None:
    assert PROFILES["classic"].lifetime(at(day)) == days * DAY


def test_tlsserver_and_shortlived() -> None:
    assert PROFILES["tlsserver"].lifetime(at("2026-05-12")) == 90 * DAY
    assert PROFILES["tlsserver"].lifetime(at("2026-05-13")) == 45 * DAY
    assert PROFILES["shortlived"].lifetime(at("2026-12-03")) == dt.timedelta(hours=160)
    assert not PROFILES["tlsserver"].common_name and PROFILES["classic"].common_name
    assert describe(dt.timedelta(hours=160)) == "160-hour" and describe(45 * DAY) == "45-day"


def test_the_shortest_lifetime_within_a_year_is_planned_for() -> None:
    classic = PROFILES["classic"]
    assert classic.shortest(at("2026-01-01")) == 90 * DAY  # 2027-02-10 is beyond a year
    assert classic.shortest(at("2026-12-03")) == 64 * DAY
    assert classic.shortest(at("2027-02-16")) == 45 * DAY


def test_no_profile_is_classic_and_an_unknown_one_is_planned_as_shortlived() -> None:
    assert profile(None) is PROFILES["classic"]
    assert profile("zerossl-default") is PROFILES["shortlived"]
    plan = renewal_plan(stack("zerossl-default"), at("2026-12-03"))
    assert not plan.known and plan.schedule == "rate(4 hours)"
    assert "not a Let's Encrypt profile" in plan.summary()


@pytest.mark.parametrize(("name", "schedule", "alarm"), [
    (None, "rate(12 hours)", 10.6),  # classic: 64 days from 2027-02-10, due with 21.3 left
    ("tlsserver", "rate(12 hours)", 7.5),
    ("shortlived", "rate(4 hours)", 1.1),  # due with 53 h left: 13 runs until then
])
def test_schedule_and_alarm_from_the_lifetime(name: str | None, schedule: str,
                                              alarm: float) -> None:
    plan = renewal_plan(stack(name), at("2026-12-03"))
    assert (plan.schedule, plan.alarm_days) == (schedule, alarm)
    assert not renewal_problems(stack(name), at("2026-12-03"))


def test_a_declared_schedule_or_alarm_is_checked_against_the_lifetime() -> None:
    now = at("2026-12-03")
    slow = stack("shortlived", schedule="rate(12 hours)")
    (problem,) = renewal_problems(slow, now)
    assert problem.key == "lsctl:renewal.schedule" and "rate(8 hours)" in problem.fix
    assert not renewal_problems(stack("shortlived", schedule="rate(8 hours)"), now)
    assert not renewal_problems(stack("shortlived", schedule="cron(0 */4 * * ? *)"), now)
    # 21 days was the old default: before every 45-day renewal (due with 15 days left) it fires.
    (problem,) = renewal_problems(stack("tlsserver", alarm_days=21), now)
    assert problem.key == "lsctl:renewal.alarmDays" and "15 days" in problem.problem
    # The same stack file is fine for classic today and refused a year before 45-day classic.
    assert not renewal_problems(stack(None, alarm_days=20), at("2026-12-03"))
    assert renewal_problems(stack(None, alarm_days=20), at("2027-02-16"))


def test_rate_interval() -> None:
    assert rate_interval("rate(1 day)") == DAY
    assert rate_interval("rate(90 minutes)") == dt.timedelta(minutes=90)
    assert rate_interval("cron(17 3,15 * * ? *)") is None
