"""The renewer as an AWS Lambda: credentials from Secrets Manager, a DaysToExpiry metric."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest

from acme_renewer.lambda_handler import lambda_handler
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import new_domain
from tests.test_renew import write_stack


def test_lambda_renews_with_secrets_from_secrets_manager(
        sandbox: SandboxState, emulator: EmulatorControl, twilio_env: None, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    tag = uuid.uuid4().hex[:6]
    sid, name = new_domain(emulator, f"lambda{tag}.lsctl.test")
    stack = write_stack(tmp_path / "Pulumi.lambda.yaml", tmp_path / "state",
                        [{"fqdn": name, "sid": sid}])
    secrets = boto3.client("secretsmanager")  # moto, through AWS_ENDPOINT_URL
    token = sandbox.twilio_auth_token_file.read_text().strip()
    twilio_id = f"lsctl/{tag}/twilio"
    secrets.create_secret(Name=twilio_id, SecretString=json.dumps(
        {"account_sid": sandbox.twilio_account_sid, "auth_token": token}))
    tsig_id = f"lsctl/{tag}/tsig"
    secrets.create_secret(Name=tsig_id, SecretString=sandbox.tsig_secret_file.read_text())
    # Nothing but the secret IDs in the environment, as in Lambda.
    # setenv first, so that monkeypatch restores each afterwards: the handler sets them.
    for variable in ("TWILIO_AUTH_TOKEN", "LSCTL_TSIG_SECRET_FILE", "LSCTL_TSIG_SECRET"):
        monkeypatch.setenv(variable, "")
        monkeypatch.delenv(variable)
    monkeypatch.setenv("LSCTL_TWILIO_SECRET_ID", twilio_id)
    monkeypatch.setenv("LSCTL_TSIG_SECRET_ID", tsig_id)
    monkeypatch.setenv("LSCTL_STACK_FILE", str(stack))
    monkeypatch.setenv("LSCTL_METRIC_NAMESPACE", f"lsctl-{tag}")

    result = lambda_handler({}, None)
    assert [(o["domain"], o["status"]) for o in result["outcomes"]] == [(name, "renewed")]
    metrics = boto3.client("cloudwatch").list_metrics(Namespace=f"lsctl-{tag}")["Metrics"]
    assert [m["MetricName"] for m in metrics] == ["DaysToExpiry"]
    output = capsys.readouterr()
    assert token not in output.out + output.err
    assert sandbox.tsig_secret_file.read_text().strip() not in output.out + output.err
