"""The rate budget: which due domains this run orders, and when the others may be ordered.

Pure: (due domains with their urgency, the ledger, the CA's limits, now) -> Plan. The most
urgent first (least time left; no certificate counts as none left), within every limit;
ARI renewals (`replaces` inside the CA's window) are exempt from the limits; a name whose
authorizations keep failing is backed off long before the CA would pause it; a rateLimited
Retry-After holds back the whole account.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from acme_renewer.ledger import Ledger, NameFailures
from acme_renewer.limits import (
    CERTIFICATES_WINDOW,
    FAILURES_WINDOW,
    ORDERS_WINDOW,
    PAUSE_REFILL,
    RateLimits,
)
from acme_renewer.registered import registered_domain

# After k consecutive failures a name waits BACKOFF_BASE * 2**(k-1), at most BACKOFF_CAP: at
# one failure a day the CA's consecutive-failure allowance refills as fast as it is spent.
BACKOFF_BASE = dt.timedelta(hours=1)
BACKOFF_CAP = PAUSE_REFILL
PAUSE_MARGIN = 3  # failures kept in hand below the CA's consecutive-failure pause


@dataclass(frozen=True)
class Due:
    """A due domain as the planner sees it."""

    fqdn: str
    names: tuple[str, ...]
    time_left: dt.timedelta | None  # of the live (or stored) certificate; None: none yet
    ari_renewal: bool = False  # sends `replaces` inside the CA's suggested window

    @property
    def urgency(self) -> dt.timedelta:
        return self.time_left if self.time_left is not None else dt.timedelta(0)


@dataclass(frozen=True)
class Deferral:
    due: Due
    until: dt.datetime  # the earliest time the budget allows it
    reason: str


@dataclass(frozen=True)
class Budget:
    """The account's new-order budget in this run, for the report."""

    limit: int | None  # orders per ORDERS_WINDOW; None: the CA has no such limit
    used: int  # counted orders in the window before this run
    planned: int  # counted orders this run
    exempt: int  # ARI renewals this run, outside the budget
    deferred: int
    paused_until: dt.datetime | None = None

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used - self.planned)


@dataclass(frozen=True)
class Plan:
    ordered: list[Due]
    deferred: list[Deferral]
    budget: Budget


@dataclass
class _Window:
    """One limit's sliding window: when each counted order leaves it."""

    limit: int
    span: dt.timedelta
    releases: list[dt.datetime] = field(default_factory=list)  # a heap

    def full(self) -> bool:
        return len(self.releases) >= self.limit

    def take(self, at: dt.datetime) -> None:
        heapq.heappush(self.releases, at + self.span)

    def reserve(self) -> dt.datetime:
        """A full window's next free slot, kept for a deferred domain: the next one deferred
        here gets the slot after it."""
        free = heapq.heappop(self.releases)
        heapq.heappush(self.releases, free + self.span)
        return free


def plan(due: Iterable[Due], ledger: Ledger, limits: RateLimits, now: dt.datetime) -> Plan:
    queue = sorted(due, key=lambda d: (d.urgency, d.fqdn))
    if ledger.paused_until is not None and ledger.paused_until > now:
        reason = ("the CA answered rateLimited and asked for no orders before "
                  f"{ledger.paused_until:%Y-%m-%d %H:%M}Z")
        in_window = sum(1 for o in ledger.orders if o.at > now - ORDERS_WINDOW)
        return Plan([], [Deferral(d, ledger.paused_until, reason) for d in queue],
                    Budget(limits.orders_per_account, in_window, 0, 0, len(queue),
                           ledger.paused_until))
    account = _window(limits.orders_per_account, ORDERS_WINDOW,
                      (o.at for o in ledger.orders), now)
    used = len(account.releases) if account else 0
    domains: dict[str, _Window] = {}
    sets: dict[tuple[str, ...], _Window] = {}
    if limits.certificates_per_registered_domain or limits.certificates_per_exact_set:
        for order in ledger.orders:
            if order.at > now - CERTIFICATES_WINDOW:
                for window in _counters(order.names, limits, domains, sets):
                    window.take(order.at)
    ordered: list[Due] = []
    deferred: list[Deferral] = []
    planned = exempt = 0
    for item in queue:
        until, reason = _backoff(item.names, ledger, limits, now)
        if until is None and item.ari_renewal:
            ordered.append(item)
            exempt += 1
            continue
        if until is None:
            windows = ([account] if account else []) + _counters(item.names, limits,
                                                                 domains, sets)
            blocked = [w for w in windows if w.full()]
            if not blocked:
                for window in windows:
                    window.take(now)
                ordered.append(item)
                planned += 1
                continue
            until = max(w.reserve() for w in blocked)
            reason = _why(blocked[0], account, domains)
        deferred.append(Deferral(item, until, reason))
    return Plan(ordered, deferred, Budget(limits.orders_per_account, used, planned, exempt,
                                          len(deferred)))


def _window(limit: int | None, span: dt.timedelta, times: Iterable[dt.datetime],
            now: dt.datetime) -> _Window | None:
    if limit is None:
        return None
    window = _Window(limit, span)
    for at in times:
        if at > now - span:
            window.take(at)
    return window


def _counters(names: Sequence[str], limits: RateLimits, domains: dict[str, _Window],
              sets: dict[tuple[str, ...], _Window]) -> list[_Window]:
    """The per-registered-domain and per-exact-set windows an order of `names` counts in."""
    windows = []
    if limits.certificates_per_registered_domain:
        for domain in sorted({registered_domain(n) for n in names}):
            windows.append(domains.setdefault(domain, _Window(
                limits.certificates_per_registered_domain, CERTIFICATES_WINDOW)))
    if limits.certificates_per_exact_set:
        key = tuple(sorted({n.lower() for n in names}))
        windows.append(sets.setdefault(key, _Window(limits.certificates_per_exact_set,
                                                    CERTIFICATES_WINDOW)))
    return windows


def _why(window: _Window, account: _Window | None, domains: dict[str, _Window]) -> str:
    if window is account:
        return f"the account's {window.limit} new orders per 3 hours are spent"
    domain = next((d for d, w in domains.items() if w is window), None)
    if domain is not None:
        return f"{domain}'s {window.limit} certificates per week are spent"
    return f"{window.limit} certificates per week for these exact names are spent"


def _backoff(names: Sequence[str], ledger: Ledger, limits: RateLimits,
             now: dt.datetime) -> tuple[dt.datetime | None, str]:
    """When the names' failed authorizations allow another try (None: now)."""
    if limits.failed_authorizations_per_name is None and limits.consecutive_failures_pause is None:
        return None, ""
    latest: tuple[dt.datetime, str] | None = None
    for name in names:
        failures = ledger.failures.get(name.removeprefix("*."))  # the CA's identifier
        if failures is None:
            continue
        until = _name_until(failures, limits, now)
        if until > now and (latest is None or until > latest[0]):
            hour = sum(1 for t in failures.recent if t > now - FAILURES_WINDOW)
            latest = (until, f"{name}: failed authorizations ({failures.consecutive} in a "
                             f"row, {hour} in the last hour); backing off")
    return latest if latest is not None else (None, "")


def _name_until(failures: NameFailures, limits: RateLimits, now: dt.datetime) -> dt.datetime:
    until = now
    if failures.consecutive and failures.last is not None:
        doubling = 1 << min(failures.consecutive - 1, 16)
        until = failures.last + min(BACKOFF_BASE * doubling, BACKOFF_CAP)
    hourly = limits.failed_authorizations_per_name
    recent = sorted(t for t in failures.recent if t > now - FAILURES_WINDOW)
    if hourly is not None and len(recent) >= hourly:  # the oldest must leave the hour first
        until = max(until, recent[len(recent) - hourly] + FAILURES_WINDOW)
    pause = limits.consecutive_failures_pause
    if (pause is not None and failures.last is not None
            and failures.spent_at(now) > pause - PAUSE_MARGIN):
        # Another failure now would come within PAUSE_MARGIN of the CA's pause: wait until
        # the allowance has grown back.
        until = max(until, failures.last
                    + (failures.spent - (pause - PAUSE_MARGIN)) * PAUSE_REFILL)
    return until
