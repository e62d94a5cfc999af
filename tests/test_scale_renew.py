"""`lsctl renew` of a small fleet end to end (Pebble, BIND 9, the emulator): 200 subdomains of
one zone, their challenges in several RFC 2136 updates, and 50 root domains, each its own zone;
then a budget of 300 orders over 400 due domains renews exactly the 300 most urgent.

The 1,000- and 10,000-domain runs are `make bench` (bench.scale_renewal), not tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from acme_renewer.rfc2136_provider import Rfc2136Provider
from bench.renewal import write_stack
from bench.scale_renewal import SUBDOMAIN_ZONE, Fleet, check, fleet
from linkshortening.dns.query import ask
from sandbox.lifecycle import SandboxOptions, SandboxState, running
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import TWILIO_KNOBS, point_at
from tests.test_renew import renew

SUBDOMAINS, ROOTS = 200, 50
BUDGETED = 400  # due domains under a 300-order budget (half roots)
# 200 challenge names are ~16 kB in one update; 4 kB per update makes the zone take several.
SMALL_UPDATE = 4_000


def _merged(*fleets: Fleet) -> Fleet:
    merged = Fleet("mixed", {}, {})
    for f in fleets:
        merged.sids.update(f.sids)
        merged.zones.update(f.zones)
    return merged


@pytest.fixture(scope="module")
def fleets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fleet, Fleet, SandboxState]]:
    """A sandbox serving lsctl.test and every root zone of both fleets."""
    mixed = _merged(fleet("subdomains", SUBDOMAINS), fleet("roots", ROOTS))
    budget = fleet("budget", BUDGETED)
    zones = [SUBDOMAIN_ZONE, *sorted({*mixed.sandbox_zones, *budget.sandbox_zones}
                                     - {SUBDOMAIN_ZONE})]
    options = SandboxOptions(zones=tuple(zones), twilio_faults=TWILIO_KNOBS)
    with running(tmp_path_factory.mktemp("scale-sandbox"), options) as state:
        yield mixed, budget, state


def _control(state: SandboxState) -> EmulatorControl:
    return EmulatorControl(state.twilio_base_url, state.ca_bundle, state.twilio_account_sid,
                           state.twilio_auth_token_file)


def test_200_subdomains_in_small_updates_and_50_root_zones_all_renew(
        fleets: tuple[Fleet, Fleet, SandboxState], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    mixed, _, state = fleets
    point_at(state, monkeypatch)
    monkeypatch.setattr(Rfc2136Provider, "max_update_size", SMALL_UPDATE)
    _control(state).seed(mixed.sids)
    stack = write_stack(tmp_path, mixed.sids, interval=0.1, zones=mixed.zones)
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0, output[-2000:]
    assert check(mixed, report["outcomes"]) is None, output[-2000:]
    # Cleanup went through every batch too: no challenge record is left, in either kind.
    for name in (*list(mixed.sids.values())[:3], *list(mixed.sids.values())[-3:]):
        assert ask(state.dns, f"_acme-challenge.{name}", "TXT").values == (), name
    assert not (stack.parent / stack.stem / "pending-challenges.json").exists()


def test_a_300_order_budget_renews_exactly_the_300_most_urgent(
        fleets: tuple[Fleet, Fleet, SandboxState], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _, budget, state = fleets
    point_at(state, monkeypatch)
    control = _control(state)
    control.seed(budget.sids)
    control.seed_certificates(budget.expiries)  # all expired, each at another minute
    stack = write_stack(tmp_path, budget.sids, interval=0.1, zones=budget.zones,
                        acme_extra=budget.acme_extra)
    code, report, output = renew(stack, capsys=capsys)
    assert check(budget, report["outcomes"]) is None, output[-2000:]
    assert code == 0, output[-2000:]
    assert report["budget"]["ordered"] == 300 and report["budget"]["left"] == 0
    assert report["budget"]["deferred"] == BUDGETED - 300
