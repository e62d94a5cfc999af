"""The rate budget: limits as data, registered domains from the PSL, the ledger, and the pure
planner (most urgent first, within every limit, ARI exempt, back-off, Retry-After)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from acme_renewer.budget import BACKOFF_CAP, Due, plan
from acme_renewer.ledger import Ledger
from acme_renewer.limits import (
    LETS_ENCRYPT,
    LETS_ENCRYPT_STAGING,
    ORDERS_WINDOW,
    STACK_KEYS,
    RateLimits,
    limits_for,
)
from acme_renewer.registered import registered_domain
from acme_renewer.state import DirectoryBackend, RenewerState
from linkshortening.stack.errors import ConfigError
from linkshortening.stack.load import load_stack_file
from linkshortening.stack.model import ACME_DIRECTORIES, RATE_LIMIT_KEYS, AcmeSettings

NOW = dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC)
PEBBLE = "https://127.0.0.1:14000/dir"
HOUR = dt.timedelta(hours=1)


def due(fqdn: str, days_left: float | None = 10.0, ari: bool = False) -> Due:
    left = dt.timedelta(days=days_left) if days_left is not None else None
    return Due(fqdn, (fqdn,), left, ari)


def test_registered_domain_from_the_public_suffix_list() -> None:
    assert registered_domain("a.example.co.uk") == registered_domain("b.example.co.uk") \
        == "example.co.uk"
    assert registered_domain("new.blog.example.co.uk") == "example.co.uk"  # LE's own example
    assert registered_domain("www.example.com") == "example.com"
    assert registered_domain("*.l.example.com.au") == "example.com.au"
    assert registered_domain("shop.foo.github.io") == "foo.github.io"  # a private suffix
    assert registered_domain("go.lsctl.test") == "lsctl.test"  # an unknown TLD
    assert registered_domain("co.uk") == "co.uk"


def test_limits_as_data_keyed_by_directory() -> None:
    assert limits_for(ACME_DIRECTORIES["letsencrypt"]) == LETS_ENCRYPT
    assert RateLimits(300, 50, 5, 5, 1152) == LETS_ENCRYPT
    staging = limits_for(ACME_DIRECTORIES["letsencrypt-staging"])
    assert staging == LETS_ENCRYPT_STAGING and staging.orders_per_account == 1500
    assert limits_for(PEBBLE).unlimited  # a CA lsctl knows nothing of: none
    assert limits_for(PEBBLE, (("newOrdersPer3Hours", 7),)) == RateLimits(
        orders_per_account=7)
    raised = limits_for(ACME_DIRECTORIES["letsencrypt"],
                        (("certificatesPerRegisteredDomainPerWeek", 5000),))
    assert raised.certificates_per_registered_domain == 5000
    assert raised.orders_per_account == 300
    assert set(STACK_KEYS) == set(RATE_LIMIT_KEYS)


def test_stack_overrides_and_bad_values(tmp_path: Path) -> None:
    def stack(limits: str) -> AcmeSettings:
        path = tmp_path / "Pulumi.t.yaml"
        path.write_text("config:\n  lsctl:acme:\n    rateLimits: " + limits + "\n"
                        "  lsctl:domains:\n    - {fqdn: a.example.com, zone: example.com, "
                        "domainSid: DN" + "a" * 32 + "}\n")
        return load_stack_file(path).acme

    acme = stack("{newOrdersPer3Hours: 20, failedAuthorizationsPerNamePerHour: 2}")
    assert acme.rate_limits == (("newOrdersPer3Hours", 20),
                                ("failedAuthorizationsPerNamePerHour", 2))
    with pytest.raises(ConfigError) as info:
        stack("{ordersPer3Hours: 20}")
    assert info.value.key == "lsctl:acme.rateLimits.ordersPer3Hours"
    with pytest.raises(ConfigError) as info:
        stack("{newOrdersPer3Hours: -1}")
    assert info.value.key == "lsctl:acme.rateLimits.newOrdersPer3Hours"
    with pytest.raises(ConfigError) as info:
        stack("300")
    assert info.value.key == "lsctl:acme.rateLimits"


def test_10000_due_with_300_orders_picks_the_300_most_urgent() -> None:
    rng = random.Random(7)
    fleet = [due(f"d{i}.example{i}.com", rng.uniform(-2, 60)) for i in range(10_000)]
    result = plan(fleet, Ledger(), LETS_ENCRYPT, NOW)
    by_urgency = sorted(fleet, key=lambda d: d.urgency)
    assert result.ordered == by_urgency[:300]
    assert [d.due for d in result.deferred] == by_urgency[300:]
    assert result.budget.planned == 300 and result.budget.left == 0
    assert result.budget.deferred == 9_700
    # The next 300 may go when this run's orders leave the 3-hour window, and so on.
    assert {d.until for d in result.deferred[:300]} == {NOW + ORDERS_WINDOW}
    assert {d.until for d in result.deferred[300:600]} == {NOW + 2 * ORDERS_WINDOW}
    assert "300 new orders per 3 hours" in result.deferred[0].reason


def test_no_certificate_counts_as_none_left() -> None:
    result = plan([due("old.a.com", 20), due("new.b.com", None), due("gone.c.com", -1)],
                  Ledger(), RateLimits(orders_per_account=2), NOW)
    assert [d.fqdn for d in result.ordered] == ["gone.c.com", "new.b.com"]
    assert [d.due.fqdn for d in result.deferred] == ["old.a.com"]


def test_orders_of_the_last_three_hours_count() -> None:
    ledger = Ledger()
    for i in range(298):
        ledger.record_order((f"x{i}.a.com",), NOW - dt.timedelta(seconds=30 * i))
    ledger.record_order(("old.a.com",), NOW - ORDERS_WINDOW - dt.timedelta(seconds=1))
    result = plan([due(f"d{i}.b{i}.com") for i in range(5)], ledger, LETS_ENCRYPT, NOW)
    assert len(result.ordered) == 2 and result.budget.used == 298
    # The oldest counted order leaves the window first.
    assert result.deferred[0].until == NOW - dt.timedelta(seconds=30 * 297) + ORDERS_WINDOW


def test_ari_renewals_pass_when_the_budget_is_spent() -> None:
    ledger = Ledger()
    for i in range(300):
        ledger.record_order((f"x{i}.a.com",), NOW - HOUR)
    fleet = [due("ari1.a.com", 20, ari=True), due("plain.b.com", 1),
             due("ari2.c.com", 25, ari=True)]
    result = plan(fleet, ledger, LETS_ENCRYPT, NOW)
    assert [d.fqdn for d in result.ordered] == ["ari1.a.com", "ari2.c.com"]
    assert [d.due.fqdn for d in result.deferred] == ["plain.b.com"]
    assert result.budget.exempt == 2 and result.budget.planned == 0


def test_registered_domain_and_exact_set_limits() -> None:
    fleet = [due(f"l{i}.example.co.uk", 10 + i / 100) for i in range(60)]
    result = plan(fleet, Ledger(), LETS_ENCRYPT, NOW)
    assert len(result.ordered) == 50
    assert all("example.co.uk's 50 certificates per week" in d.reason
               for d in result.deferred)
    ledger = Ledger()
    for day in range(5):
        ledger.record_order(("same.b.com",), NOW - dt.timedelta(days=day, hours=1))
    result = plan([due("same.b.com")], ledger, LETS_ENCRYPT, NOW)
    assert not result.ordered and "exact names" in result.deferred[0].reason
    assert result.deferred[0].until == NOW - dt.timedelta(days=4, hours=1) + dt.timedelta(days=7)


def test_failed_authorizations_back_off_before_the_ca_limits() -> None:
    ledger = Ledger()
    ledger.record_failure("bad.a.com", NOW - dt.timedelta(minutes=30))
    result = plan([due("bad.a.com"), due("good.b.com")], ledger, LETS_ENCRYPT, NOW)
    assert [d.fqdn for d in result.ordered] == ["good.b.com"]
    assert result.deferred[0].until == NOW + dt.timedelta(minutes=30)  # 1 h after the failure
    assert "failed authorizations (1 in a row, 1 in the last hour)" \
        in result.deferred[0].reason
    # Each further failure doubles the wait, up to a day: one failure a day never lets the
    # CA's consecutive-failure allowance (1 refilled a day) run out.
    for _ in range(9):
        ledger.record_failure("bad.a.com", NOW)
    assert plan([due("bad.a.com")], ledger, LETS_ENCRYPT, NOW).deferred[0].until \
        == NOW + BACKOFF_CAP
    # A good authorization ends the run of failures; the hour's count still holds.
    ledger.record_success("bad.a.com")
    assert not plan([due("bad.a.com")], ledger, LETS_ENCRYPT, NOW).ordered
    assert plan([due("bad.a.com")], ledger, LETS_ENCRYPT,
                NOW + HOUR + dt.timedelta(seconds=1)).ordered


def test_never_a_sixth_failure_in_an_hour_even_after_a_success() -> None:
    ledger = Ledger()
    for minute in (50, 40, 30, 20, 10):  # five in the last hour (another tool's, say)
        ledger.record_failure("flaky.a.com", NOW - dt.timedelta(minutes=minute))
    ledger.record_success("flaky.a.com")  # ends the run of failures, not the hour's count
    result = plan([due("flaky.a.com")], ledger, LETS_ENCRYPT, NOW)
    assert not result.ordered
    assert result.deferred[0].until == NOW - dt.timedelta(minutes=50) + HOUR


def test_backs_off_before_the_consecutive_failure_pause() -> None:
    limits = RateLimits(consecutive_failures_pause=10)
    ledger = Ledger()
    for hour in range(8):
        ledger.record_failure("bad.a.com", NOW - dt.timedelta(hours=10 - hour))
    ledger.failures["bad.a.com"].consecutive = 1  # the exponential wait alone would allow it
    result = plan([due("bad.a.com")], ledger, limits, NOW)
    assert not result.ordered
    spent_then = ledger.failures["bad.a.com"].spent_at(result.deferred[0].until)
    assert spent_then == pytest.approx(10 - 3)  # three in hand below the pause


def test_retry_after_holds_the_whole_account_across_runs(tmp_path: Path) -> None:
    state = RenewerState(DirectoryBackend(tmp_path))
    ledger = state.ledger(PEBBLE)
    ledger.pause(NOW + 2 * HOUR)
    state.save_ledger(PEBBLE, ledger)
    fleet = [due("a.a.com"), due("ari.b.com", ari=True)]

    # The next run reads the ledger: nothing is ordered, not even an ARI renewal.
    later = state.ledger(PEBBLE)
    result = plan(fleet, later, limits_for(PEBBLE), NOW + HOUR)
    assert not result.ordered and {d.until for d in result.deferred} == {NOW + 2 * HOUR}
    assert result.budget.paused_until == NOW + 2 * HOUR
    assert "rateLimited" in result.deferred[0].reason
    assert state.ledger(ACME_DIRECTORIES["letsencrypt"]).paused_until is None  # per CA
    # Once the CA's time has passed, the run orders again (and the pause is pruned).
    result = plan(fleet, later, limits_for(PEBBLE), NOW + 2 * HOUR + dt.timedelta(seconds=1))
    assert len(result.ordered) == 2
    later.prune(NOW + 3 * HOUR)
    assert later.paused_until is None


def test_a_ca_without_limits_plans_everything() -> None:
    ledger = Ledger()
    for i in range(1000):
        ledger.record_order((f"x{i}.a.com",), NOW - HOUR)
    ledger.record_failure("bad.a.com", NOW - dt.timedelta(minutes=1))
    fleet = [due(f"d{i}.a.com") for i in range(2000)] + [due("bad.a.com")]
    result = plan(fleet, ledger, limits_for(PEBBLE), NOW)
    assert len(result.ordered) == 2001 and not result.deferred
    assert result.budget.limit is None and result.budget.left is None


def test_ledger_survives_the_state_store_and_is_pruned(tmp_path: Path) -> None:
    state = RenewerState(DirectoryBackend(tmp_path))
    ledger = Ledger()
    ledger.record_order(("a.a.com", "*.a.a.com"), NOW - dt.timedelta(days=8))
    ledger.record_order(("b.a.com",), NOW - HOUR)
    ledger.record_failure("c.a.com", NOW - dt.timedelta(hours=2))
    ledger.pause(NOW + HOUR)
    ledger.prune(NOW)
    state.save_ledger(PEBBLE, ledger)
    back = state.ledger(PEBBLE)
    assert back == ledger
    assert [o.names for o in back.orders] == [("b.a.com",)]  # a week-old order no longer counts
    assert back.failures["c.a.com"].recent == [] and back.failures["c.a.com"].consecutive == 1
    assert state.ledger("https://other.example/dir") == Ledger()
