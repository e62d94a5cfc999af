"""`lsctl renew` refuses a bad setup before the first ACME call: every credential and endpoint
is checked first, all problems in one message, exit 2, nothing ordered or written."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import new_domain
from tests.test_renew import renew, write_stack

BAD_TSIG = "c2VjcmV0IHRoYXQgaXMgY3V0IG9m"[:-3]  # base64 cut short: "Incorrect padding"


@pytest.fixture
def stack(tmp_path: Path, emulator: EmulatorControl, twilio_env: None) -> Path:
    sid, name = new_domain(emulator, f"s{uuid.uuid4().hex[:6]}.lsctl.test")
    return write_stack(tmp_path / "Pulumi.setup.yaml", tmp_path / "state",
                       [{"fqdn": name, "sid": sid}])


def refused(stack: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The run's error output, once it is sure the run did nothing."""
    code, report, output = renew(stack, capsys=capsys)
    assert code == 2 and report is None, output
    assert "Traceback" not in output and "internal error" not in output, output
    # No ACME account was registered, so no order was placed; nothing was written.
    assert not (stack.parent / "state").exists(), output
    return output


def test_a_damaged_tsig_secret_is_refused_before_any_order(
        stack: Path, sandbox: SandboxState, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LSCTL_TSIG_SECRET", BAD_TSIG)
    output = refused(stack, capsys)
    assert "TSIG key lsctl-sandbox in LSCTL_TSIG_SECRET" in output, output
    assert "not base64" in output and BAD_TSIG not in output, output


def test_every_problem_is_reported_at_once(stack: Path, sandbox: SandboxState,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LSCTL_TSIG_SECRET", BAD_TSIG)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setenv("LSCTL_ACME_DIRECTORY", sandbox.acme_directory.replace("https:", "http:"))
    output = refused(stack, capsys)
    assert "3 setup problems" in output, output
    for problem in ("LSCTL_TSIG_SECRET", "TWILIO_ACCOUNT_SID is not an Account SID",
                    "LSCTL_ACME_DIRECTORY=http://"):
        assert problem in output, output


def test_acme_directory_over_plain_http_is_refused(stack: Path, sandbox: SandboxState,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LSCTL_ACME_DIRECTORY", sandbox.acme_directory.replace("https:", "http:"))
    assert "must be an https:// URL" in refused(stack, capsys)


def aws_stack(tmp_path: Path, sid: str, name: str, **acme: Any) -> Path:
    state = acme.get("state", f"{{backend: directory, location: {tmp_path / 'state'}}}")
    path = tmp_path / "Pulumi.aws.yaml"
    path.write_text(textwrap.dedent(f"""\
        config:
          lsctl:acme: {{email: ops@lsctl.test, agreeTos: true, state: {state}}}
          lsctl:dns: {{provider: route53}}
          lsctl:domains:
            - {{fqdn: {name}, zone: lsctl.test, domainSid: {sid}}}
        """))
    return path


@pytest.mark.parametrize(("state", "user"), [
    (None, "uses Route53"),
    ("{backend: secretsmanager, location: lsctl/t}", "lsctl:acme.state.backend is secretsmanager"),
])
def test_aws_without_a_region_is_refused(tmp_path: Path, emulator: EmulatorControl,
                                         twilio_env: None, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str], state: str | None,
                                         user: str) -> None:
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    sid, name = new_domain(emulator)
    stack = aws_stack(tmp_path, sid, name, **({"state": state} if state else {}))
    output = refused(stack, capsys)
    assert user in output and "no AWS region is set" in output and "AWS_REGION" in output
