"""`lsctl renew` under faults: a nonce-rejecting CA, a flaky Twilio, a killed run, a dead DNS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acme_renewer.pipeline import RenewOptions, renew_stack
from acme_renewer.wiring import dns_provider, run_parts, session_opener, state_store
from linkshortening.cli.main import main
from linkshortening.dns.query import ask
from linkshortening.stack.load import load_stack_file
from linkshortening.twilio.api import LinkShorteningApi
from sandbox import process
from sandbox.lifecycle import SandboxOptions, SandboxState, running
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import SANDBOX_ZONES, TWILIO_KNOBS, lsctl_argv, new_domain, point_at
from tests.test_renew import renew, statuses, write_stack


def use_sandbox(state: SandboxState, monkeypatch: pytest.MonkeyPatch) -> EmulatorControl:
    point_at(state, monkeypatch)
    return EmulatorControl(state.twilio_base_url, state.ca_bundle, state.twilio_account_sid,
                           state.twilio_auth_token_file)


@pytest.fixture
def own_sandbox(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxState]:
    """A sandbox of the test's own (its Pebble knobs from the marker, BIND safe to stop)."""
    pebble_env = getattr(request, "param", {})
    options = SandboxOptions(zones=SANDBOX_ZONES, pebble_env=pebble_env,
                             twilio_faults=TWILIO_KNOBS)
    with running(tmp_path_factory.mktemp("own"), options) as state:
        yield state


def fleet_stack(tmp_path: Path, control: EmulatorControl, count: int) -> tuple[Path, list[str]]:
    tag = uuid.uuid4().hex[:6]
    domains = []
    for i in range(count):
        fqdn = f"f{i}{tag}.lsctl.test"
        sid, _ = new_domain(control, fqdn)
        domains.append({"fqdn": fqdn, "sid": sid})
    stack = write_stack(tmp_path / "Pulumi.faults.yaml", tmp_path / "state", domains)
    return stack, [d["fqdn"] for d in domains]


@pytest.mark.parametrize("own_sandbox", [{"PEBBLE_WFE_NONCEREJECT": "50"}], indirect=True)
def test_half_the_nonces_rejected(own_sandbox: SandboxState, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    control = use_sandbox(own_sandbox, monkeypatch)
    stack, names = fleet_stack(tmp_path, control, 3)
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0, output
    assert statuses(report) == dict.fromkeys(names, "renewed")


def test_twilio_answering_30_percent_faults(tmp_path: Path, emulator: EmulatorControl,
                                            twilio_env: None,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    emulator.configure(rate_limited=0.1, unavailable=0.1, retry_later=0.1, retry_after=1)
    stack, names = fleet_stack(tmp_path, emulator, 3)
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0, output
    assert statuses(report) == dict.fromkeys(names, "renewed")


def test_killed_after_the_txt_records_exist(tmp_path: Path, sandbox: SandboxState,
                                            emulator: EmulatorControl, twilio_env: None,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    stack, names = fleet_stack(tmp_path, emulator, 2)
    challenge = f"_acme-challenge.{names[0]}"
    run = subprocess.Popen(lsctl_argv("renew", "--stack", str(stack), "--validation-poll", "0.1"),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=dict(os.environ), start_new_session=True)
    deadline = time.monotonic() + 60
    while not ask(sandbox.dns, challenge, "TXT").values:
        assert run.poll() is None, run.stdout.read() if run.stdout else ""
        assert time.monotonic() < deadline, "the challenge record never appeared"
        time.sleep(0.005)  # polling DNS for the moment to kill, not waiting for a service
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    journal = json.loads((tmp_path / "state" / "pending-challenges.json").read_text())
    assert challenge in {r["name"] for r in journal}
    assert ask(sandbox.dns, challenge, "TXT").values  # left behind by the killed run

    code, report, output = renew(stack, capsys=capsys)
    assert code == 0, output
    assert "left by an interrupted run" in output
    assert statuses(report) == dict.fromkeys(names, "renewed")
    assert ask(sandbox.dns, challenge, "TXT").values == ()
    assert not (tmp_path / "state" / "pending-challenges.json").exists()


def test_bind_stopped_mid_run(own_sandbox: SandboxState, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    control = use_sandbox(own_sandbox, monkeypatch)
    stack_file, names = fleet_stack(tmp_path, control, 2)
    stack = load_stack_file(stack_file)
    named = next(s for s in own_sandbox.services if s.name == "named")
    phases: list[str] = []

    def progress(phase: str, domain: str | None, message: str) -> None:
        phases.append(phase)
        if phase == "present":  # orders exist, the TXT records are about to be written
            process.stop(named)

    state = state_store(stack)
    report = renew_stack(stack, stack.domains, state, LinkShorteningApi.from_env(),
                         dns_provider(stack), session_opener(stack, state),
                         RenewOptions(validation_interval=0.1), progress)
    assert report.exit_code == 1
    assert [o.status for o in report.outcomes] == ["failed", "failed"]
    for outcome in report.outcomes:
        assert "DnsUpdateError" in outcome.detail and "127.0.0.1" in outcome.detail
    # Nothing lost: what may have reached DNS is still listed for the next run to remove.
    assert {r.identifier for r in state.pending_records()} == set(names)


def test_bind_down_cli_reports_each_domain(own_sandbox: SandboxState, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    control = use_sandbox(own_sandbox, monkeypatch)
    stack, names = fleet_stack(tmp_path, control, 2)
    process.stop(next(s for s in own_sandbox.services if s.name == "named"))
    code, report, output = renew(stack, capsys=capsys)
    assert code == 1, output
    assert statuses(report) == dict.fromkeys(names, "failed")
    assert "Traceback" not in output
    details: list[Any] = [o["detail"] for o in report["outcomes"]]
    assert all("127.0.0.1" in d for d in details), details
    assert main(["renew", "--stack", str(stack)]) == 1  # the table form, too
    assert "Traceback" not in capsys.readouterr().err


def test_failed_authorization_reports_the_ca_message(
        tmp_path: Path, sandbox: SandboxState, emulator: EmulatorControl, twilio_env: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from linkshortening.dns.rfc2136 import new_update, send_update

    stack_file, names = fleet_stack(tmp_path, emulator, 2)
    stack = load_stack_file(stack_file)
    victim = f"_acme-challenge.{names[0]}."

    def progress(phase: str, domain: str | None, message: str) -> None:
        if phase == "validate":  # another client "cleans up" our record before the CA looks
            update = new_update("lsctl.test", sandbox.tsig_key())
            update.delete(victim, "TXT")
            send_update(sandbox.dns, update)

    state = state_store(stack)
    report = renew_stack(stack, stack.domains, state, LinkShorteningApi.from_env(),
                         dns_provider(stack), session_opener(stack, state),
                         RenewOptions(validation_interval=0.1), progress)
    by_name = {o.fqdn: o for o in report.outcomes}
    assert by_name[names[1]].status == "renewed"
    failed = by_name[names[0]]
    assert failed.status == "failed" and report.exit_code == 1
    assert f"issuance failed: {names[0]}: " in failed.detail
    assert "TXT" in failed.detail  # Pebble's own words about the missing record


def test_ca_lost_after_the_setup_check_fails_only_the_due_domains(
        tmp_path: Path, emulator: EmulatorControl, twilio_env: None,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # A CA unreachable from the start is a setup error (tests/test_setup_errors.py); one that
    # goes away once the run is under way costs only the domains that needed it.
    stack_file, names = fleet_stack(tmp_path, emulator, 1)
    code, _, output = renew(stack_file, capsys=capsys)
    assert code == 0, output
    late_sid, late = new_domain(emulator, f"late{uuid.uuid4().hex[:6]}.lsctl.test")
    stack_file.write_text(stack_file.read_text() +
                          f"    - {{fqdn: {late}, zone: lsctl.test, domainSid: {late_sid}}}\n")
    stack = load_stack_file(stack_file)
    parts = run_parts(stack)  # the setup check passes: the CA is still there
    monkeypatch.setenv("LSCTL_ACME_DIRECTORY", f"https://127.0.0.1:{process.free_port()}/dir")
    report = renew_stack(stack, stack.domains, parts.state, parts.api, parts.dns,
                         parts.open_account, RenewOptions(validation_interval=0.1))
    assert report.exit_code == 1
    assert {o.fqdn: o.status for o in report.outcomes} == {names[0]: "not_due", late: "failed"}
    failed = next(o for o in report.outcomes if o.fqdn == late)
    assert "the ACME server could not be used" in failed.detail
