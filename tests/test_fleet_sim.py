"""The rate budget under the fleet simulator (bench.fleet_sim): lsctl's real decision and
planner, run after run, against a simulated CA that enforces the limits and serves ARI."""

from __future__ import annotations

import datetime as dt

from acme_renewer.limits import LETS_ENCRYPT, RateLimits
from bench.fleet_sim import Domain, FleetConfig, fleet, simulate

DAYS45 = dt.timedelta(days=45)
# Small enough to bind in a small fleet, so every limit is pressed in a short period.
TIGHT = RateLimits(orders_per_account=40, certificates_per_registered_domain=12,
                   certificates_per_exact_set=3, failed_authorizations_per_name=2,
                   consecutive_failures_pause=12)


def test_never_exceeds_a_limit_in_any_window() -> None:
    config = FleetConfig(300, 20, DAYS45, limits=TIGHT, failing=0.05,
                         subdomains_per_domain=20)
    result = simulate(config)
    assert result.refused == 0  # the CA never had to refuse an order
    assert result.most_orders_3h == 40  # the budget is used, never passed
    assert result.most_per_domain_week == 12  # 20 subdomains to a registered domain
    assert result.most_per_set_week <= 3
    assert result.most_failures_hour <= 2
    assert result.most_consecutive_spent < 12  # the CA never paused a failing name
    assert result.onboarded_runs is not None  # every domain that can validate got one
    assert result.expired_seen == 0
    assert any(r.deferred for r in result.runs)


def test_most_urgent_first_keeps_renewals_alive_while_onboarding() -> None:
    # 60 domains whose certificates are about to run out, then 400 new ones, 20 orders per
    # 3 hours (a run every 6): the old ones are renewed before any new one is onboarded.
    config = FleetConfig(460, 6, DAYS45, limits=RateLimits(orders_per_account=20),
                         runs_per_day=4, jitter_minutes=0)
    domains = fleet(config)
    start = dt.datetime(2027, 1, 4, tzinfo=dt.UTC)
    for domain in domains[:60]:
        _issued(domain, start - DAYS45 + dt.timedelta(days=1))  # one day left
    result = simulate(config, domains)
    assert result.refused == 0 and result.expired_seen == 0
    assert result.least_days_left is not None and result.least_days_left > 0
    assert all(d.stored and d.first_issued and d.first_issued >= start
               for d in domains[:60])
    renewed = max(d.first_issued for d in domains[:60] if d.first_issued)
    onboarded_first = min(d.first_issued for d in domains[60:] if d.first_issued)
    assert renewed <= onboarded_first


def test_ari_renewals_pass_when_the_budget_is_spent() -> None:
    # An order budget too small for the lifetime rule; ARI renewals do not need it.
    config = FleetConfig(200, 40, DAYS45, limits=RateLimits(
        orders_per_account=1), runs_per_day=2, jitter_minutes=0)
    domains = fleet(config)
    start = dt.datetime(2027, 1, 4, tzinfo=dt.UTC)
    for domain in domains:
        _issued(domain, start)
    result = simulate(config, domains)
    assert result.exempt == result.orders == 200  # each renewed once, all exempt (ARI)
    assert result.refused == 0 and result.expired_seen == 0


def test_retry_after_is_honoured_across_runs() -> None:
    # The CA enforces stricter limits than lsctl was told: it refuses, answers rateLimited,
    # and the client's ledger holds the whole account until that time, run after run.
    result = simulate(FleetConfig(500, 3, DAYS45, limits=LETS_ENCRYPT,
                                  ca_limits=RateLimits(orders_per_account=50),
                                  runs_per_day=24, jitter_minutes=0))
    assert result.refused > 0  # the CA did say rateLimited
    assert result.early == 0  # and no order came before its Retry-After
    assert result.most_orders_3h <= 50
    assert result.onboarded_runs is not None  # and the fleet was onboarded all the same


def test_no_limits_plans_everything_in_one_run() -> None:
    result = simulate(FleetConfig(2000, 1, DAYS45, limits=RateLimits(), failing=0.01))
    assert result.runs[0].ordered == 2000 and result.runs[0].deferred == 0
    assert result.onboarded_runs == 1


def _issued(domain: Domain, at: dt.datetime) -> None:
    from acme_renewer.state import StoredCertificate

    domain.stored = StoredCertificate(domain.names, "ecdsa-p256", "", at.isoformat(),
                                      (at + DAYS45).isoformat())
    domain.not_after = at + DAYS45
    domain.ari_time = at + DAYS45 * 2 / 3  # inside the simulated CA's window
