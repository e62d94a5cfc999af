"""A fleet on a simulated clock: N domains, a simulated CA that enforces Let's Encrypt's rate
limits and serves ARI windows, and lsctl's REAL decision (acme_renewer.decide) and rate
budget (acme_renewer.budget, acme_renewer.ledger) run after run.

The CA counts over sliding windows (stricter than Let's Encrypt's refilling buckets, so a
plan that passes here passes there) and refuses what would exceed a limit, answering
rateLimited with the time it frees up, which the client writes into its ledger as lsctl
does. Used by bench/fleet.py (the year at 1,000 and 10,000 domains) and tests/test_fleet_sim.py.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from acme_renewer.budget import Due, plan
from acme_renewer.decide import decide
from acme_renewer.ledger import Ledger
from acme_renewer.limits import (
    CERTIFICATES_WINDOW,
    FAILURES_WINDOW,
    LETS_ENCRYPT,
    ORDERS_WINDOW,
    PAUSE_REFILL,
    RateLimits,
)
from acme_renewer.registered import registered_domain
from acme_renewer.state import StoredCertificate

START = dt.datetime(2027, 1, 4, tzinfo=dt.UTC)
KEY_TYPE = "ecdsa-p256"
ROOT_SUFFIXES = ("com", "co.uk", "com.au", "net", "de")


@dataclass(frozen=True)
class FleetConfig:
    domains: int
    days: float
    lifetime: dt.timedelta
    runs_per_day: int = 2
    limits: RateLimits = LETS_ENCRYPT  # what lsctl plans with
    ca_limits: RateLimits | None = None  # what the CA enforces, when not the same
    ari: bool = True  # the CA serves ARI windows (Let's Encrypt does)
    failing: float = 0.0  # share of domains whose DNS-01 validation always fails
    subdomains_per_domain: int = 20  # half the fleet: subdomains, this many per registered domain
    renew_fraction: float = 1 / 3  # lsctl's default without ARI
    jitter_minutes: int = 60  # EventBridge Scheduler's flexible window
    seed: int = 1


@dataclass
class Domain:
    fqdn: str
    failing: bool
    stored: StoredCertificate | None = None
    ari_time: dt.datetime | None = None  # ARI's chosen time for the stored certificate
    replaced: bool = False  # the stored certificate was already replaced through ARI
    first_issued: dt.datetime | None = None
    not_after: dt.datetime | None = None  # the stored certificate's, parsed once

    @property
    def names(self) -> tuple[str, ...]:
        return (self.fqdn,)


def fleet(config: FleetConfig) -> list[Domain]:
    """Half root domains (each its own registered domain, across public suffixes), half
    subdomains, `subdomains_per_domain` to a registered domain."""
    rng = random.Random(config.seed)
    domains = []
    for i in range(config.domains):
        if i % 2 == 0:
            fqdn = f"brand{i}.{ROOT_SUFFIXES[i // 2 % len(ROOT_SUFFIXES)]}"
        else:
            fqdn = f"l{i}.shop{i // 2 // config.subdomains_per_domain}.co.uk"
        domains.append(Domain(fqdn, rng.random() < config.failing))
    return domains


@dataclass
class _Sliding:
    """Timestamps inside one window, oldest first."""

    span: dt.timedelta
    times: deque[dt.datetime] = field(default_factory=deque)
    most: int = 0  # the most ever inside one window

    def count(self, now: dt.datetime) -> int:
        while self.times and self.times[0] <= now - self.span:
            self.times.popleft()
        return len(self.times)

    def add(self, now: dt.datetime) -> None:
        self.count(now)
        self.times.append(now)
        self.most = max(self.most, len(self.times))

    def frees_at(self, limit: int) -> dt.datetime:
        return self.times[len(self.times) - limit] + self.span


class SimulatedCA:
    """Let's Encrypt's order-time limits and ARI, on the simulated clock."""

    def __init__(self, config: FleetConfig, rng: random.Random) -> None:
        self.config, self.rng = config, rng
        self.limits = config.ca_limits or config.limits
        self.account = _Sliding(ORDERS_WINDOW)
        self.domains: dict[str, _Sliding] = defaultdict(lambda: _Sliding(CERTIFICATES_WINDOW))
        self.sets: dict[tuple[str, ...], _Sliding] = defaultdict(
            lambda: _Sliding(CERTIFICATES_WINDOW))
        self.failures: dict[str, _Sliding] = defaultdict(lambda: _Sliding(FAILURES_WINDOW))
        self.consecutive: dict[str, tuple[float, dt.datetime]] = {}  # spent, as of
        self.most_spent = 0.0
        self.refused = 0  # orders refused for a limit: a plan that works has none
        self.retry_at: dt.datetime | None = None  # the last rateLimited answer's time
        self.early = 0  # orders sent before that time: the client ignored Retry-After
        self.orders = self.exempt = 0

    def window(self, cert: StoredCertificate) -> tuple[dt.datetime, dt.datetime]:
        """The suggested renewal window: around two thirds of the lifetime, as Let's
        Encrypt's is, a thirtieth of the lifetime either side."""
        start, end = (dt.datetime.fromisoformat(cert.not_before),
                      dt.datetime.fromisoformat(cert.not_after))
        life = end - start
        middle = start + life * 2 / 3
        return middle - life / 30, middle + life / 30

    def order(self, domain: Domain, now: dt.datetime) -> dt.datetime | None:
        """Create an order; a rateLimited refusal returns when to retry instead."""
        names = domain.names
        stored = domain.stored
        if self.retry_at is not None and now < self.retry_at:
            self.early += 1
        exempt = (self.config.ari and stored is not None and not domain.replaced
                  and now >= self.window(stored)[0])
        checks: list[tuple[_Sliding, int | None]] = [
            (self.failures[n], self.limits.failed_authorizations_per_name) for n in names]
        if not exempt:
            checks += [(self.account, self.limits.orders_per_account)]
            checks += [(self.domains[registered_domain(n)],
                        self.limits.certificates_per_registered_domain)
                       for n in sorted(set(names))]
            checks += [(self.sets[tuple(sorted(names))], self.limits.certificates_per_exact_set)]
        blocked = [w.frees_at(limit) for w, limit in checks
                   if limit is not None and w.count(now) >= limit]
        pause = self.limits.consecutive_failures_pause
        if pause is not None and any(self._spent(n, now) >= pause for n in names):
            blocked.append(now + PAUSE_REFILL)
        if blocked:
            self.refused += 1
            self.retry_at = max(blocked)
            return self.retry_at
        self.orders += 1
        if exempt:
            self.exempt += 1
            domain.replaced = True
        else:
            for window, _ in checks[len(names):]:
                window.add(now)
        return None

    def validate(self, domain: Domain, now: dt.datetime) -> bool:
        if not domain.failing:
            for name in domain.names:
                self.consecutive.pop(name, None)
            return True
        for name in domain.names:
            self.failures[name].add(now)
            spent = self._spent(name, now) + 1
            self.consecutive[name] = (spent, now)
            self.most_spent = max(self.most_spent, spent)
        return False

    def issue(self, domain: Domain, now: dt.datetime) -> None:
        cert = StoredCertificate(domain.names, KEY_TYPE, "", now.isoformat(),
                                 (now + self.config.lifetime).isoformat())
        domain.stored, domain.replaced = cert, False
        domain.not_after = now + self.config.lifetime
        domain.first_issued = domain.first_issued or now
        if self.config.ari:  # the client picks a uniformly random time in the window
            start, end = self.window(cert)
            domain.ari_time = start + (end - start) * self.rng.random()

    def _spent(self, name: str, now: dt.datetime) -> float:
        spent, since = self.consecutive.get(name, (0.0, now))
        return max(0.0, spent - (now - since) / PAUSE_REFILL)


@dataclass
class RunStats:
    at: dt.datetime
    due: int
    ordered: int
    exempt: int
    deferred: int
    # Days left of the domains that have a certificate: least, 5th percentile, median, most.
    days_left: tuple[float, float, float, float] | None
    expired: int  # domains whose certificate had expired at this run


@dataclass
class FleetResult:
    config: FleetConfig
    runs: list[RunStats]
    most_orders_3h: int  # counted (not ARI-exempt) orders in any 3-hour window, at the CA
    most_per_domain_week: int  # certificates of any registered domain in any 7 days
    most_per_set_week: int
    most_failures_hour: int  # failed authorizations of any name in any hour
    most_consecutive_spent: float  # of the CA's consecutive-failure allowance, any name
    refused: int  # orders the CA refused for a limit
    early: int  # orders sent before a rateLimited answer's Retry-After
    orders: int
    exempt: int
    onboarded_runs: int | None  # runs until every domain that can validate has a certificate
    onboarded_days: float | None
    least_days_left: float | None  # the least any certificate had left at a run
    expired_seen: int  # domain-runs at which a certificate had expired


def simulate(config: FleetConfig, domains: Iterable[Domain] | None = None) -> FleetResult:
    rng = random.Random(config.seed)
    fleet_domains = list(domains) if domains is not None else fleet(config)
    ca = SimulatedCA(config, rng)
    ledger = Ledger()
    runs: list[RunStats] = []
    onboarded: int | None = None
    every = dt.timedelta(days=1) / config.runs_per_day
    count = int(config.days * config.runs_per_day)
    for index in range(count):
        now = START + every * index + dt.timedelta(
            minutes=rng.uniform(0, config.jitter_minutes))
        runs.append(_run(fleet_domains, ca, ledger, config, now))
        if onboarded is None and all(d.stored for d in fleet_domains if not d.failing):
            onboarded = index + 1
    days_left = [r.days_left for r in runs if r.days_left is not None]
    return FleetResult(
        config, runs, ca.account.most,
        max((w.most for w in ca.domains.values()), default=0),
        max((w.most for w in ca.sets.values()), default=0),
        max((w.most for w in ca.failures.values()), default=0),
        ca.most_spent, ca.refused, ca.early, ca.orders, ca.exempt, onboarded,
        (runs[onboarded - 1].at - START).total_seconds() / 86400 if onboarded else None,
        min(d[0] for d in days_left) if days_left else None,
        sum(r.expired for r in runs))


def _run(domains: list[Domain], ca: SimulatedCA, ledger: Ledger, config: FleetConfig,
         now: dt.datetime) -> RunStats:
    """One `lsctl renew`: decide each domain, plan within the budget, order what is planned."""
    due: dict[str, tuple[Domain, Due]] = {}
    for domain in domains:
        ari_time = domain.ari_time if config.ari and domain.stored else None
        decision = decide(domain.names, KEY_TYPE, domain.stored, now,
                          renew_fraction=config.renew_fraction, ari_time=ari_time)
        if not decision.due:
            continue
        left = domain.not_after - now if domain.not_after else None
        ari = (ari_time is not None and ari_time <= now and left is not None
               and left > dt.timedelta(0))
        due[domain.fqdn] = (domain, Due(domain.fqdn, domain.names, left, ari))
    result = plan([d for _, d in due.values()], ledger, config.limits, now)
    for item in result.ordered:
        domain = due[item.fqdn][0]
        retry = ca.order(domain, now)
        if retry is not None:  # rateLimited: the whole account waits, as lsctl's ledger does
            ledger.pause(retry)  # (lsctl's orders in flight get the same answer)
            break
        if not item.ari_renewal:
            ledger.record_order(domain.names, now)
        if ca.validate(domain, now):
            for name in domain.names:
                ledger.record_success(name)
            ca.issue(domain, now)
        else:
            for name in domain.names:
                ledger.record_failure(name, now)
    ledger.prune(now)
    days = sorted((d.not_after - now).total_seconds() / 86400
                  for d in domains if d.not_after is not None)
    summary = ((days[0], days[len(days) // 20], days[len(days) // 2], days[-1])
               if days else None)
    return RunStats(now, len(due), len(result.ordered), result.budget.exempt,
                    len(result.deferred), summary, sum(1 for d in days if d <= 0))
