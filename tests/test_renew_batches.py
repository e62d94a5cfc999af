"""`lsctl renew` when a DNS batch fails: only its domains fail; a journal that cannot be
cleaned is reported and retried, never blocking a run (Pebble, BIND 9, the emulator)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from acme_renewer.challenge import ChallengeRecord
from acme_renewer.rfc2136_provider import Rfc2136Provider
from acme_renewer.state import DirectoryBackend, RenewerState
from linkshortening.dns.query import ask
from linkshortening.dns.rfc2136 import new_update, replace_rrset, send_update
from linkshortening.stack.targets import CNAME_TARGET
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import new_domain
from tests.test_renew import renew, statuses, write_stack


def test_a_refused_batch_fails_only_its_domain(
        tmp_path: Path, sandbox: SandboxState, emulator: EmulatorControl, twilio_env: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    tag = uuid.uuid4().hex[:6]
    good, bad = f"ok{tag}.lsctl.test", f"cn{tag}.lsctl.test"
    domains = [{"fqdn": fqdn, "sid": new_domain(emulator, fqdn)[0]} for fqdn in (good, bad)]
    # The bad domain's challenge is delegated by CNAME into a zone BIND serves but takes no
    # updates for: its update is REFUSED, and that must not cost the other domain anything.
    delegated = f"_acme-challenge-{tag}.{CNAME_TARGET}"
    replace_rrset(sandbox.dns, "lsctl.test", f"_acme-challenge.{bad}.", "CNAME", 60,
                  (delegated,), sandbox.tsig_key())
    try:
        stack = write_stack(tmp_path / "Pulumi.b.yaml", tmp_path / "state", domains)
        code, report, output = renew(stack, capsys=capsys)
    finally:
        update = new_update("lsctl.test", sandbox.tsig_key())
        update.delete(f"_acme-challenge.{bad}.", "CNAME")
        send_update(sandbox.dns, update)
    assert code == 1, output
    assert statuses(report) == {good: "renewed", bad: "failed"}, output
    detail = next(o["detail"] for o in report["outcomes"] if o["domain"] == bad)
    assert "publishing its challenge record failed" in detail
    assert f"update of zone {CNAME_TARGET}" in detail and "REFUSED" in detail
    assert not (tmp_path / "state" / "pending-challenges.json").exists()


def test_a_journal_that_cannot_be_cleaned_never_blocks_a_run(
        tmp_path: Path, sandbox: SandboxState, emulator: EmulatorControl, twilio_env: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    fqdn = f"j{uuid.uuid4().hex[:6]}.lsctl.test"
    stack = write_stack(tmp_path / "Pulumi.j.yaml", tmp_path / "state",
                        [{"fqdn": fqdn, "sid": new_domain(emulator, fqdn)[0]}])
    # Left by an earlier run: one record BIND holds, one in a zone it is not the primary of
    # (as when the TSIG key is no longer allowed there): that one cannot be removed.
    cleanable = ChallengeRecord(fqdn, f"_acme-challenge.{fqdn}", "lsctl.test", "left-ok")
    stuck = ChallengeRecord("a.gone.test", "_acme-challenge.a.gone.test", "gone.test", "left")
    Rfc2136Provider(sandbox.dns, sandbox.tsig_key()).present([cleanable])
    state = RenewerState(DirectoryBackend(tmp_path / "state"))
    state.save_pending_records([cleanable, stuck])

    code, report, output = renew(stack, "--dry-run", capsys=capsys)
    assert code == 0, output
    assert statuses(report) == {fqdn: "would_renew"}
    assert any(stuck.name in n for n in report["notes"]), output
    assert state.pending_records() == [cleanable, stuck]  # a dry run only reports them

    code, report, output = renew(stack, capsys=capsys)
    assert code == 0, output
    assert statuses(report) == {fqdn: "renewed"}, output
    assert ask(sandbox.dns, cleanable.name, "TXT").values == ()
    assert state.pending_records() == [stuck]  # kept besides this run's (removed) records
    note = stuck_note(report)
    assert "could not remove 1 challenge record(s)" in note and "zone(s) gone.test" in note
    assert "NOTAUTH" in note and "next run tries again" in note

    code, report, output = renew(stack, capsys=capsys)  # tried again, still reported
    assert code == 0, output
    assert statuses(report) == {fqdn: "not_due"}
    assert "gone.test" in stuck_note(report)
    assert state.pending_records() == [stuck]


def stuck_note(report: Any) -> str:
    notes: list[str] = report["notes"]
    return next(n for n in notes if n.startswith("could not remove"))
