"""`lsctl renew` end to end: Pebble + BIND 9 issue, the Twilio emulator validates."""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from acme_renewer.challenge import ChallengeRecord
from acme_renewer.rfc2136_provider import Rfc2136Provider
from acme_renewer.state import DirectoryBackend, RenewerState
from linkshortening.cli.main import main
from linkshortening.dns.query import ask
from linkshortening.twilio.api import LinkShorteningApi
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import new_domain


def write_stack(path: Path, state_dir: Path, domains: list[dict[str, Any]]) -> Path:
    entries = "".join(
        f"    - {{fqdn: {d['fqdn']}, zone: {d.get('zone', 'lsctl.test')}, domainSid: {d['sid']}"
        + (f", altNames: {json.dumps(d['alt'])}" if d.get("alt") else "")
        + (", certificate: managed" if d.get("managed") else "") + "}\n"
        for d in domains)
    path.write_text(textwrap.dedent(f"""\
        config:
          lsctl:acme:
            email: ops@lsctl.test
            agreeTos: true
            propagationInterval: 0.1
            state: {{backend: directory, location: {state_dir}}}
          lsctl:dns: {{provider: rfc2136, tsigKeyName: lsctl-sandbox}}
          lsctl:domains:
        """) + entries)
    return path


@pytest.fixture
def fleet(tmp_path: Path, emulator: EmulatorControl, twilio_env: None) -> dict[str, Any]:
    """A root domain, a subdomain and an apex + wildcard domain, each known to the emulator."""
    tag = uuid.uuid4().hex[:6]
    names = {"root": ("lsctl.test", None), "sub": (f"go{tag}.lsctl.test", None),
             "wild": (f"w{tag}.lsctl.test", [f"*.w{tag}.lsctl.test"])}
    domains = {}
    for role, (fqdn, alt) in names.items():
        sid, _ = new_domain(emulator, fqdn)
        domains[role] = {"fqdn": fqdn, "sid": sid, "alt": alt}
    stack = write_stack(tmp_path / "Pulumi.fleet.yaml", tmp_path / "state",
                        list(domains.values()))
    return {"stack": stack, "domains": domains, "state": tmp_path / "state"}


def renew(stack: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    code = main(["renew", "--stack", str(stack), "--json", "--validation-poll", "0.1", *extra])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip().startswith("{") else None, out + err


def statuses(report: Any) -> dict[str, str]:
    return {o["domain"]: o["status"] for o in report["outcomes"]}


def test_issue_upload_validate_then_nothing_then_force(
        fleet: dict[str, Any], sandbox: SandboxState,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, report, output = renew(fleet["stack"], capsys=capsys)
    assert code == 0, output
    assert set(statuses(report).values()) == {"renewed"}, output
    api = LinkShorteningApi.from_env()
    for domain in fleet["domains"].values():
        live = api.fetch_certificate(domain["sid"], api_version=1)
        assert live.cert_in_validation is None
        stored = json.loads((fleet["state"] / "domains" / domain["fqdn"] / "cert.json")
                            .read_text())
        leaf = x509.load_pem_x509_certificate(stored["fullchain_pem"].encode())
        assert live.date_expires == leaf.not_valid_after_utc
        key_file = fleet["state"] / "domains" / domain["fqdn"] / "key.pem"
        assert key_file.stat().st_mode & 0o777 == 0o600
    # A second run renews nothing.
    code, report, output = renew(fleet["stack"], capsys=capsys)
    assert code == 0 and set(statuses(report).values()) == {"not_due"}, output
    # --force renews anyway, here for one domain only.
    sub = fleet["domains"]["sub"]["fqdn"]
    code, report, output = renew(fleet["stack"], "--force", "--domain", sub, capsys=capsys)
    assert code == 0 and statuses(report) == {sub: "renewed"}, output
    # Secrets never reach the output.
    for secret in (sandbox.twilio_auth_token_file.read_text().strip(),
                   sandbox.tsig_secret_file.read_text().strip(), "PRIVATE KEY"):
        assert secret not in output


def listing(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` with its bytes (None for a directory)."""
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
            for p in sorted(root.rglob("*"))}


def test_dry_run_changes_nothing(fleet: dict[str, Any], sandbox: SandboxState,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    before = listing(fleet["state"].parent)  # the stack file; no state directory yet
    code, report, output = renew(fleet["stack"], "--dry-run", capsys=capsys)
    assert code == 0 and set(statuses(report).values()) == {"would_renew"}, output
    assert listing(fleet["state"].parent) == before  # no account key, no lock file, nothing
    assert report["notes"] == [f"would register a new ACME account at {sandbox.acme_directory}"]
    # With an account and certificates stored: still not a byte written (ARI's answer included).
    code, _, output = renew(fleet["stack"], capsys=capsys)
    assert code == 0, output
    for ari in fleet["state"].glob("domains/*/ari.json"):
        ari.unlink()
    before = listing(fleet["state"])
    code, report, output = renew(fleet["stack"], "--dry-run", capsys=capsys)
    assert code == 0 and set(statuses(report).values()) == {"not_due"}, output
    assert listing(fleet["state"]) == before and report["notes"] == []


def test_dry_run_lists_leftover_challenge_records_and_keeps_them(
        fleet: dict[str, Any], sandbox: SandboxState,
        capsys: pytest.CaptureFixture[str]) -> None:
    records = [ChallengeRecord(d["fqdn"], f"_acme-challenge.{d['fqdn']}", "lsctl.test",
                               f"left-{uuid.uuid4().hex}") for d in fleet["domains"].values()]
    dns = Rfc2136Provider(sandbox.dns, sandbox.tsig_key())
    state = RenewerState(DirectoryBackend(fleet["state"]))
    state.save_pending_records(records)  # as an interrupted run leaves them
    dns.present(records)
    try:
        code, report, output = renew(fleet["stack"], "--dry-run", capsys=capsys)
        assert code == 0, output
        for record in records:
            assert f'"{record.value}"' in ask(sandbox.dns, record.name, "TXT").values
            assert any(record.name in n and record.value in n for n in report["notes"]), output
        assert state.pending_records() == records
        # The real run removes them.
        code, report, output = renew(fleet["stack"], capsys=capsys)
        assert code == 0, output
        assert all(ask(sandbox.dns, r.name, "TXT").values == () for r in records)
    finally:
        dns.cleanup(records)


def test_one_failing_domain_does_not_stop_the_others(
        tmp_path: Path, emulator: EmulatorControl, twilio_env: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    tag = uuid.uuid4().hex[:6]
    good, _ = new_domain(emulator, f"ok{tag}.lsctl.test")
    # A DomainSid Twilio does not know: its upload is refused, the other domain is renewed.
    stack = write_stack(tmp_path / "Pulumi.t.yaml", tmp_path / "state", [
        {"fqdn": f"ok{tag}.lsctl.test", "sid": good},
        {"fqdn": f"bad{tag}.lsctl.test", "sid": "DN" + "f" * 32}])
    code, report, output = renew(stack, capsys=capsys)
    assert code == 1
    assert statuses(report) == {f"ok{tag}.lsctl.test": "renewed",
                                f"bad{tag}.lsctl.test": "failed"}, output
    assert "Traceback" not in output


def test_managed_domain_is_requested_once(tmp_path: Path, emulator: EmulatorControl,
                                          twilio_env: None,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    tag = uuid.uuid4().hex[:6]
    sid, name = new_domain(emulator, f"m{tag}.lsctl.test")
    stack = write_stack(tmp_path / "Pulumi.t.yaml", tmp_path / "state",
                        [{"fqdn": name, "sid": sid, "managed": True}])
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0 and statuses(report) == {name: "managed"}, output
    assert "requested" in report["outcomes"][0]["detail"]
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0 and "requested a" not in report["outcomes"][0]["detail"], output


def test_no_challenge_record_is_left(fleet: dict[str, Any], sandbox: SandboxState,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, _, output = renew(fleet["stack"], capsys=capsys)
    assert code == 0, output
    for domain in fleet["domains"].values():
        name = "_acme-challenge." + domain["fqdn"]
        assert ask(sandbox.dns, name, "TXT").values == ()
    assert not (fleet["state"] / "pending-challenges.json").exists()


def test_stored_certificate_is_uploaded_again_when_twilio_lost_it(
        fleet: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, output = renew(fleet["stack"], capsys=capsys)
    assert code == 0, output
    sub = fleet["domains"]["sub"]
    LinkShorteningApi.from_env().delete_certificate(sub["sid"])  # someone removed it
    code, report, output = renew(fleet["stack"], capsys=capsys)
    assert code == 0, output
    assert statuses(report)[sub["fqdn"]] == "reuploaded"
    assert statuses(report)[fleet["domains"]["root"]["fqdn"]] == "not_due"
