"""`lsctl renew` with ACME profiles (issue 17), against Pebble behind the local responder that
adds a `shortlived` profile to its directory: the profile is validated against the
directory, kept with the certificate, and the first certificate without a Common Name per
domain is warned about until the operator confirms Twilio takes them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.ari_responder import AriResponder
from tests.conftest import new_domain
from tests.test_renew import renew, statuses

CNLESS = "first certificate without a Common Name for"


def write_stack(path: Path, state: Path, fqdn: str, sid: str, **acme: Any) -> Path:
    settings = {"email": "ops@lsctl.test", "agreeTos": True, "propagationInterval": 0.1,
                "state": {"backend": "directory", "location": str(state)}, **acme}
    path.write_text(json.dumps({"config": {
        "lsctl:acme": settings, "lsctl:dns": {"provider": "rfc2136",
                                              "tsigKeyName": "lsctl-sandbox"},
        "lsctl:domains": [{"fqdn": fqdn, "zone": "lsctl.test", "domainSid": sid}]}}))
    return path  # JSON is YAML


@pytest.fixture
def responder(sandbox: SandboxState, twilio_env: None,
              monkeypatch: pytest.MonkeyPatch) -> Any:
    now = dt.datetime.now(dt.UTC)
    # ARI's window far ahead: only the lifetime rule and --force decide here.
    with AriResponder(sandbox, window=(now + dt.timedelta(days=30),
                                       now + dt.timedelta(days=31))) as ari:
        monkeypatch.setenv("LSCTL_ACME_DIRECTORY", ari.directory_url)
        yield ari


def test_profile_kept_and_first_cnless_upload_warned(
        responder: AriResponder, emulator: EmulatorControl, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    sid, fqdn = new_domain(emulator)
    stack = write_stack(tmp_path / "Pulumi.p.yaml", tmp_path / "state", fqdn, sid,
                        profile="shortlived")
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0 and statuses(report) == {fqdn: "renewed"}, output
    assert responder.orders[-1]["profile"] == "shortlived"
    stored = json.loads((tmp_path / "state" / "domains" / fqdn / "cert.json").read_text())
    assert stored["profile"] == "shortlived"
    (warning,) = report["outcomes"][0]["warnings"]
    assert warning.startswith(f"{CNLESS} {fqdn} (profile shortlived): Twilio does not "
                              "document whether it accepts one")
    assert "lsctl:acme.cnlessConfirmed: true" in warning
    # Not the first any more: an earlier certificate without a Common Name is stored.
    code, report, output = renew(stack, "--force", capsys=capsys)
    assert code == 0 and report["outcomes"][0]["warnings"] == [], output
    # Dropping the profile renews (it is kept across renewals, so a change is a new kind).
    stack = write_stack(stack, tmp_path / "state", fqdn, sid)
    code, report, output = renew(stack, "--dry-run", capsys=capsys)
    assert report["outcomes"][0]["detail"] == "profile changed (shortlived -> none)", output


def test_confirmed_cnless_uploads_are_not_warned(
        responder: AriResponder, emulator: EmulatorControl, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    sid, fqdn = new_domain(emulator)
    stack = write_stack(tmp_path / "Pulumi.p.yaml", tmp_path / "state", fqdn, sid,
                        profile="shortlived", cnlessConfirmed=True)
    code, report, output = renew(stack, capsys=capsys)
    assert code == 0 and report["outcomes"][0]["warnings"] == [], output


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_profile_the_ca_does_not_offer_is_one_error_for_the_run(
        responder: AriResponder, emulator: EmulatorControl, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], dry_run: bool) -> None:
    sid, fqdn = new_domain(emulator)
    stack = write_stack(tmp_path / "Pulumi.p.yaml", tmp_path / "state", fqdn, sid,
                        profile="tlsserver")
    if dry_run:  # with an account stored, a dry run reads the directory too
        (tmp_path / "plain").mkdir()  # another directory: one stack per state location
        renew(write_stack(tmp_path / "plain" / "Pulumi.p.yaml", tmp_path / "state", fqdn, sid),
              capsys=capsys)
    code, report, output = renew(stack, *(["--dry-run"] if dry_run else []), capsys=capsys)
    assert code == 2 and report is None, output
    (line,) = [line for line in output.splitlines() if line.startswith("lsctl: ")]
    assert line == (f"lsctl: {stack}: lsctl:acme.profile: 'tlsserver' is not a profile of "
                    f"{responder.directory_url} (it offers shortlived). Fix: use one of "
                    "shortlived, or remove the key")
    assert "Traceback" not in output


def test_a_ca_without_profiles(sandbox: SandboxState, emulator: EmulatorControl,
                               twilio_env: None, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    # Debian's Pebble lists no profiles: asking for one is refused, not silently ignored.
    sid, fqdn = new_domain(emulator)
    stack = write_stack(tmp_path / "Pulumi.p.yaml", tmp_path / "state", fqdn, sid,
                        profile="shortlived")
    code, _, output = renew(stack, capsys=capsys)
    assert code == 2
    assert "lsctl:acme.profile: 'shortlived' is not a profile of " in output
    assert "(it offers no profiles). Fix: remove the key" in output
