"""Setup errors are setup errors: missing, rejected, denied or expired credentials and
unreachable endpoints of AWS, Twilio and the CA each give one line naming what to set, exit 2,
never "internal error"; independent problems come together. Run through the real `lsctl`."""

from __future__ import annotations

import os
import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.lifecycle import SandboxState
from sandbox.process import free_port
from sandbox.twilio_emulator.control import EmulatorControl
from tests.aws_responder import AwsErrorResponder
from tests.certfactory import make_chain
from tests.conftest import lsctl_argv, new_domain
from tests.test_renew import write_stack

AWS_CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI")


@pytest.fixture
def env(sandbox_env: SandboxState, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxState]:
    """The sandbox's Twilio and CA; AWS with nothing but what a test adds: no credentials
    anywhere (variables, files, instance metadata) and no region outside the stack."""
    for name in AWS_CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    yield sandbox_env


def with_aws_keys(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIsecretKEY")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)


def aws_stack(tmp_path: Path, emulator: EmulatorControl, *, route53: bool = True,
              secretsmanager: bool = False) -> Path:
    sid, name = new_domain(emulator, f"a{uuid.uuid4().hex[:6]}.lsctl.test")
    state = ("{backend: secretsmanager, location: lsctl/setup}" if secretsmanager
             else f"{{backend: directory, location: {tmp_path / 'state'}}}")
    dns = "{provider: route53}" if route53 else "{provider: rfc2136, tsigKeyName: lsctl-sandbox}"
    path = tmp_path / "Pulumi.aws.yaml"
    path.write_text(textwrap.dedent(f"""\
        config:
          aws:region: eu-west-1
          lsctl:acme: {{email: ops@lsctl.test, agreeTos: true, state: {state}}}
          lsctl:dns: {dns}
          lsctl:domains:
            - {{fqdn: {name}, zone: lsctl.test, domainSid: {sid}}}
        """))
    return path


def rfc2136_stack(tmp_path: Path, emulator: EmulatorControl) -> Path:
    sid, name = new_domain(emulator, f"t{uuid.uuid4().hex[:6]}.lsctl.test")
    return write_stack(tmp_path / "Pulumi.setup.yaml", tmp_path / "state",
                       [{"fqdn": name, "sid": sid}])


def lsctl(*args: str) -> tuple[int, str, str]:
    done = subprocess.run(lsctl_argv(*args), capture_output=True, text=True, env=dict(os.environ),
                          stdin=subprocess.DEVNULL, timeout=120, check=False)
    return done.returncode, done.stdout, done.stderr


def refused(stack: Path, *secrets: str) -> str:
    """`lsctl renew --dry-run`'s one line, once sure it is a setup error and nothing else."""
    code, out, err = lsctl("renew", "--stack", str(stack), "--dry-run")
    assert code == 2 and out == "", (out, err)
    assert "internal error" not in err and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lsctl: "), err
    for secret in secrets:
        assert secret not in err
    assert not (stack.parent / "state").exists()  # nothing was written
    return lines[0]


def test_no_aws_credentials_anywhere(env: SandboxState, tmp_path: Path,
                                     emulator: EmulatorControl) -> None:
    line = refused(aws_stack(tmp_path, emulator))
    # The region came from the stack's aws:region (none is set anywhere else): the problem
    # is the credentials, named with how to set them.
    assert "AWS: no credentials found for Route53 (lsctl:dns)" in line, line
    assert "AWS_PROFILE" in line and "AWS_ACCESS_KEY_ID" in line, line


def test_aws_endpoint_unreachable(env: SandboxState, tmp_path: Path, emulator: EmulatorControl,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()  # nothing listens there
    with_aws_keys(monkeypatch, f"http://127.0.0.1:{port}")
    line = refused(aws_stack(tmp_path, emulator, route53=False, secretsmanager=True),
                   "wJalrXUtnFEMIsecretKEY")
    assert f"AWS: cannot reach Secrets Manager (lsctl:acme.state) at http://127.0.0.1:{port}" \
        in line, line
    assert "AWS_ENDPOINT_URL" in line, line


@pytest.mark.parametrize(("route53", "code", "expected"), [
    (True, "AccessDenied", "AWS: Route53 (lsctl:dns) denied ListHostedZones (AccessDenied: "),
    (False, "AccessDeniedException",
     "AWS: Secrets Manager (lsctl:acme.state) denied GetSecretValue (AccessDeniedException: "),
    (True, "ExpiredToken", "AWS: the credentials for Route53 (lsctl:dns) have expired "
                           "(ExpiredToken: "),
    (False, "ExpiredTokenException", "AWS: the credentials for Secrets Manager "
                                     "(lsctl:acme.state) have expired (ExpiredTokenException: "),
])
def test_aws_denied_or_expired(env: SandboxState, tmp_path: Path, emulator: EmulatorControl,
                               monkeypatch: pytest.MonkeyPatch, route53: bool, code: str,
                               expected: str) -> None:
    with AwsErrorResponder(code, status=403 if route53 else 400) as aws:
        with_aws_keys(monkeypatch, aws.url)
        stack = aws_stack(tmp_path, emulator, route53=route53, secretsmanager=not route53)
        line = refused(stack, "wJalrXUtnFEMIsecretKEY")
    assert expected in line, line
    assert "Fix: " in line, line
    assert aws.calls, "the responder was never asked"


def test_twilio_rejects_the_token(env: SandboxState, tmp_path: Path,
                                  emulator: EmulatorControl,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "0123456789abcdef0123456789abcdef"
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", wrong)
    line = refused(rfc2136_stack(tmp_path, emulator), wrong)
    assert (f"Twilio: the credentials for account {env.twilio_account_sid} were rejected "
            "(error 20003, HTTP 401)") in line, line
    assert "TWILIO_AUTH_TOKEN" in line, line


def test_ca_unreachable(env: SandboxState, tmp_path: Path, emulator: EmulatorControl,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    directory = f"https://127.0.0.1:{free_port()}/dir"
    monkeypatch.setenv("LSCTL_ACME_DIRECTORY", directory)
    line = refused(rfc2136_stack(tmp_path, emulator))
    assert f"ACME: cannot reach the CA at {directory} (ConnectionError)" in line, line


def test_ca_not_trusted(env: SandboxState, tmp_path: Path, emulator: EmulatorControl,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_text(make_chain().root.cert_pem)  # a CA that did not sign Pebble's
    monkeypatch.setenv("LSCTL_ACME_CA_BUNDLE", str(other_ca))
    line = refused(rfc2136_stack(tmp_path, emulator))
    assert f"ACME: the TLS certificate of {env.acme_directory} is not trusted" in line, line
    assert "LSCTL_ACME_CA_BUNDLE" in line, line


def test_independent_problems_come_together(env: SandboxState, tmp_path: Path,
                                            emulator: EmulatorControl,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("LSCTL_ACME_DIRECTORY", f"https://127.0.0.1:{free_port()}/dir")
    code, out, err = lsctl("renew", "--stack", str(aws_stack(tmp_path, emulator)), "--dry-run")
    assert code == 2 and out == "", err
    assert "3 setup problems; nothing was done" in err, err
    for problem in ("AWS: no credentials found", "Twilio: the credentials",
                    "ACME: cannot reach the CA"):
        assert problem in err, err
    assert "internal error" not in err and "Traceback" not in err


def test_drift_names_the_missing_aws_credentials(env: SandboxState, tmp_path: Path,
                                                 emulator: EmulatorControl) -> None:
    stack = aws_stack(tmp_path, emulator)
    code, out, err = lsctl("drift", "--stack", str(stack), "--skip", "dns", "--skip", "tls",
                           "--skip", "twilio", "--format", "json")
    assert code == 2, (out, err)
    assert "internal error" not in out + err and "Traceback" not in err, err
    assert "AWS: no credentials found for Route53" in out, out


def test_ca_refuses_the_stored_account(env: SandboxState, tmp_path: Path,
                                       emulator: EmulatorControl) -> None:
    from acme import messages

    from acme_renewer.account import open_session
    from acme_renewer.state import DirectoryBackend, RenewerState
    from linkshortening.stack.load import load_stack_file

    stack_file = rfc2136_stack(tmp_path, emulator)
    stack = load_stack_file(stack_file)
    state = RenewerState(DirectoryBackend(tmp_path / "state"))
    session = open_session(stack.acme, state, stack.source)  # registers the account
    url = session.account.account_url
    session.client().deactivate_registration(
        messages.RegistrationResource(uri=url, body=messages.Registration()))
    code, out, err = lsctl("renew", "--stack", str(stack_file), "--dry-run")
    assert code == 2 and out == "", (out, err)
    assert "internal error" not in err and len(err.strip().splitlines()) == 1, err
    assert f"ACME: the CA at {env.acme_directory} refused the stored account {url} " \
           "(unauthorized: " in err, err
    assert "PRIVATE KEY" not in err


def test_the_stack_region_comes_first(tmp_path: Path, emulator: EmulatorControl,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from linkshortening.common.aws import aws_client
    from linkshortening.stack.load import load_stack_file

    monkeypatch.setenv("AWS_REGION", "us-west-2")
    stack = load_stack_file(aws_stack(tmp_path, emulator))
    assert stack.aws_region == "eu-west-1"
    assert aws_client("secretsmanager", stack.aws_region).meta.region_name == "eu-west-1"
    assert aws_client("secretsmanager", None).meta.region_name == "us-west-2"  # then the AWS chain


def test_a_malformed_region_names_the_key(tmp_path: Path) -> None:
    from linkshortening.stack.errors import ConfigError
    from linkshortening.stack.load import load_stack_file

    path = tmp_path / "Pulumi.r.yaml"
    path.write_text("config:\n  aws:region: [us-east-1]\n  lsctl:domains: []\n")
    with pytest.raises(ConfigError, match="aws:region"):
        load_stack_file(path)


def test_twilio_permission_and_other_errors() -> None:
    from acme_renewer.access import twilio_setup_error
    from linkshortening.twilio.api import LinkShorteningApi, TwilioCredentials, TwilioSettings
    from linkshortening.twilio.errors import TwilioApiError

    account = "AC" + "0" * 32
    api = LinkShorteningApi(TwilioSettings(TwilioCredentials(account, account, "token")))
    denied = twilio_setup_error(TwilioApiError(403, 20403, "Permission Denied"), api)
    assert denied is not None
    assert str(denied).startswith(f"Twilio: account {account}'s credentials may not use Link "
                                  "Shortening (error 20403, HTTP 403). Fix: ")
    assert twilio_setup_error(TwilioApiError(404, 20404, "not found"), api) is None
    assert twilio_setup_error(TwilioApiError(500, None, "oops"), api) is None


def test_aws_errors_that_are_not_setup_are_left_alone() -> None:
    from botocore.exceptions import ClientError

    from linkshortening.common.aws import aws_setup_error

    throttled = ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}},
                            "ListHostedZones")
    assert aws_setup_error(throttled, "Route53") is None
    assert aws_setup_error(ValueError("a bug"), "Route53") is None
