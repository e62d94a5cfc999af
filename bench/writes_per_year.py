"""DNS writes per domain per year, by challenge type and ACME profile, beside certbot and lego.

A simulated clock drives the real decision (acme_renewer.decide.decide) run after run for a
year, on the schedule lsctl computes for the profile (linkshortening.stack.profiles); every
renewal issues a certificate of the profile's lifetime at that moment (date-aware: classic
shortens on 2027-02-10 and 2028-02-16). A dns-01 renewal writes twice per name (present,
then clean up); a dns-persist-01 renewal writes nothing once the persistent record exists
(declared by `pulumi up`, not by the renewer).

certbot and lego are modelled by their default rules, not run: Debian bookworm's certbot
2.1 renews with 30 days left (`renew_before_expiry = 30 days`) and lego 4.9 with
`renew --days 30`, both from a twice-daily timer (certbot.timer; lego from cron as its docs
show), both dns-01 (neither version speaks dns-persist-01). A certificate shorter than
30 days is renewed on every run.

Run: .venv/bin/python -m bench.writes_per_year
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from acme_renewer.decide import decide
from acme_renewer.state import StoredCertificate
from bench.common import machine, table
from linkshortening.stack.model import AcmeSettings, DomainSpec, Stack
from linkshortening.stack.profiles import PROFILES, rate_interval, renewal_plan

YEAR = dt.timedelta(days=365)
PEER_INTERVAL = dt.timedelta(hours=12)  # certbot.timer / a twice-daily cron
PEER_DAYS = dt.timedelta(days=30)
NAMES = ("go.example.com",)
WRITES_PER_DNS01_RENEWAL = 2  # the TXT value presented, then removed

Lifetime = Callable[[dt.datetime], dt.timedelta]  # a certificate issued then lives this long
Rule = Callable[[StoredCertificate, dt.datetime], bool]  # due?


@dataclass(frozen=True)
class Case:
    label: str
    profile: str
    start: dt.datetime

    def lifetime(self, at: dt.datetime) -> dt.timedelta:
        return PROFILES[self.profile].lifetime(at)


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)


CASES = (
    Case("classic, 90 d (2026)", "classic", at("2026-01-01")),
    Case("classic, 64 d (from 2027-02-10)", "classic", at("2027-02-10")),
    Case("classic, 45 d (from 2028-02-16)", "classic", at("2028-02-16")),
    Case("classic, calendar 2027 (90 -> 64 d)", "classic", at("2027-01-01")),
    Case("tlsserver, 45 d", "tlsserver", at("2027-01-01")),
    Case("shortlived, 160 h", "shortlived", at("2027-01-01")),
)


def simulate(case: Case, interval: dt.timedelta, rule: Rule) -> tuple[int, int]:
    """(runs, renewals) in one year after a certificate issued at `case.start`."""
    stored = _issued(case, case.start)
    now, end = case.start, case.start + YEAR
    runs = renewals = 0
    while (now := now + interval) < end:
        runs += 1
        if rule(stored, now):
            renewals += 1
            stored = _issued(case, now)
    return runs, renewals


def _issued(case: Case, now: dt.datetime) -> StoredCertificate:
    return StoredCertificate(NAMES, "ecdsa-p256", "", now.isoformat(),
                             (now + case.lifetime(now)).isoformat(), case.profile)


def lsctl_rule(case: Case) -> Rule:
    """The renewer's own decision, as `lsctl renew` makes it (Twilio serves the stored one)."""
    def due(stored: StoredCertificate, now: dt.datetime) -> bool:
        expires = dt.datetime.fromisoformat(stored.not_after)
        return decide(NAMES, "ecdsa-p256", stored, now, expires, profile=case.profile).due
    return due


def peer_rule(stored: StoredCertificate, now: dt.datetime) -> bool:
    return dt.datetime.fromisoformat(stored.not_after) - now <= PEER_DAYS


def lsctl_interval(case: Case) -> tuple[dt.timedelta, str]:
    stack = Stack("bench", "bench", (DomainSpec(NAMES[0], "example.com", "DN" + "0" * 32),),
                  acme=AcmeSettings(profile=case.profile))
    schedule = renewal_plan(stack, case.start).schedule
    interval = rate_interval(schedule)
    assert interval is not None
    return interval, schedule


def rows() -> list[list[object]]:
    out: list[list[object]] = []
    for case in CASES:
        interval, schedule = lsctl_interval(case)
        runs, renewals = simulate(case, interval, lsctl_rule(case))
        out.append([case.label, "lsctl, dns-01", f"1/3 left, {schedule}", runs, renewals,
                    renewals * WRITES_PER_DNS01_RENEWAL])
        out.append([case.label, "lsctl, dns-persist-01", f"1/3 left, {schedule}", runs,
                    renewals, "0 (+1 once, by pulumi up)"])
        peer_runs, peer_renewals = simulate(case, PEER_INTERVAL, peer_rule)
        every_run = " (every run)" if case.lifetime(case.start) <= PEER_DAYS else ""
        for peer in ("certbot 2.1, dns-01", "lego 4.9, dns-01"):
            out.append([case.label, peer, f"30 d left{every_run}, twice a day", peer_runs,
                        peer_renewals, peer_renewals * WRITES_PER_DNS01_RENEWAL])
    return out


def main() -> int:
    print(f"### DNS writes per domain per year, simulated clock ({machine()})\n")
    print(table(["profile", "client", "rule, schedule", "runs / year", "renewals / year",
                 "DNS changes / domain / year"], rows()))
    print("\nOne name per certificate; a dns-01 renewal is 2 changes (present, clean up); an "
          "apex with its wildcard shares one TXT name, so also 2. Simulated: the real `decide` "
          "on a clock "
          "stepping by each client's schedule for 365 days after a first certificate; "
          "certbot/lego by their default rule, not run.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
