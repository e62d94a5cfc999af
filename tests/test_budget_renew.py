"""The rate budget in `lsctl renew` on the sandbox (Pebble, BIND 9, the Twilio emulator): the
stack's budget defers what does not fit (exit 0, `deferred`, the budget in --json) and is
remembered by the next run; a rateLimited answer holds the whole account across runs."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from acme_renewer.state import DirectoryBackend, RenewerState
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.ari_responder import AriResponder
from tests.conftest import new_domain
from tests.test_renew import renew, statuses


def budget_stack(tmp_path: Path, emulator: EmulatorControl, count: int,
                 rate_limits: str | None = None) -> tuple[Path, list[str]]:
    tag = uuid.uuid4().hex[:6]
    names, entries = [], ""
    for i in range(count):
        fqdn = f"b{i}{tag}.lsctl.test"
        sid, _ = new_domain(emulator, fqdn)
        names.append(fqdn)
        entries += f"    - {{fqdn: {fqdn}, zone: lsctl.test, domainSid: {sid}}}\n"
    limits = f"    rateLimits: {rate_limits}\n" if rate_limits else ""
    path = tmp_path / "Pulumi.budget.yaml"
    path.write_text(
        "config:\n"
        "  lsctl:acme:\n"
        "    email: ops@lsctl.test\n"
        "    agreeTos: true\n"
        "    propagationInterval: 0.1\n"
        f"    state: {{backend: directory, location: {tmp_path / 'state'}}}\n"
        + limits +
        "  lsctl:dns: {provider: rfc2136, tsigKeyName: lsctl-sandbox}\n"
        "  lsctl:domains:\n" + entries)
    return path, names


def test_stack_budget_defers_the_rest_and_the_next_run_remembers(
        tmp_path: Path, emulator: EmulatorControl, twilio_env: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    stack, names = budget_stack(tmp_path, emulator, 3, "{newOrdersPer3Hours: 2}")
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0, output  # deferred is not a failure
    # All three are new (none left): the tie goes by name, so the last one waits.
    assert statuses(report) == {names[0]: "renewed", names[1]: "renewed",
                                names[2]: "deferred"}
    assert report["budget"] == {"orders_per_3_hours": 2, "used": 0, "ordered": 2,
                                "exempt": 0, "left": 0, "deferred": 1, "paused_until": None}
    deferred = next(o for o in report["outcomes"] if o["status"] == "deferred")
    until = dt.datetime.fromisoformat(deferred["deferred_until"])
    assert dt.timedelta(hours=2.9) < until - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=3)
    assert "2 new orders per 3 hours are spent" in deferred["detail"]

    # The next run counts this run's orders from the ledger in the state store.
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0, output
    assert statuses(report) == {names[0]: "not_due", names[1]: "not_due",
                                names[2]: "deferred"}
    assert report["budget"]["used"] == 2 and report["budget"]["left"] == 0

    # A dry run plans the same and writes nothing; the table shows the budget too.
    ledgers = tmp_path / "state" / "ledgers"
    before = {f.name: f.read_bytes() for f in ledgers.iterdir()}
    code, report, output = renew(stack, "--dry-run", capsys=capsys)
    assert code == 0 and statuses(report)[names[2]] == "deferred", output
    assert {f.name: f.read_bytes() for f in ledgers.iterdir()} == before
    code, output = _table(stack, capsys)
    assert code == 0 and "rate budget (new orders per 3 hours): 2 of 2 used, 0 left" in output


def test_a_ca_without_limits_orders_everything(
        tmp_path: Path, emulator: EmulatorControl, twilio_env: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    stack, names = budget_stack(tmp_path, emulator, 3)
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0, output
    assert statuses(report) == dict.fromkeys(names, "renewed")
    assert report["budget"]["orders_per_3_hours"] is None and report["budget"]["left"] is None


def test_rate_limited_holds_the_account_across_runs(
        tmp_path: Path, sandbox: SandboxState, emulator: EmulatorControl, twilio_env: None,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    stack, names = budget_stack(tmp_path, emulator, 2)
    now = dt.datetime.now(dt.UTC)
    with AriResponder(sandbox, window=(now, now + dt.timedelta(days=1)),
                      rate_limited=3600) as ca:
        monkeypatch.setenv("LSCTL_ACME_DIRECTORY", ca.directory_url)
        code, report, output = renew(stack, capsys=capsys)
        assert code == 0, output  # a limit reached costs a deferral, never a failure
        assert statuses(report) == dict.fromkeys(names, "deferred")
        detail = report["outcomes"][0]["detail"]
        assert "too many new orders" in detail and "Traceback" not in output
        until = dt.datetime.fromisoformat(report["outcomes"][0]["deferred_until"])
        assert dt.timedelta(minutes=59) < until - now < dt.timedelta(minutes=61)
        ledger = RenewerState(DirectoryBackend(tmp_path / "state")).ledger(ca.directory_url)
        assert ledger.paused_until == until

        # The CA would answer now, but the CA asked for an hour: the next run sends nothing.
        ca.rate_limited = None
        sent = len(ca.orders)
        code, report, output = renew(stack, capsys=capsys)
        assert code == 0, output
        assert statuses(report) == dict.fromkeys(names, "deferred")
        assert len(ca.orders) == sent
        assert "rateLimited" in report["outcomes"][0]["detail"]
        assert report["budget"]["paused_until"] == until.isoformat()


def _table(stack: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from linkshortening.cli.main import main

    code = main(["renew", "--stack", str(stack), "--validation-poll", "0.1"])
    out, err = capsys.readouterr()
    return code, out + err

