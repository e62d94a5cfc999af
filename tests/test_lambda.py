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


def lambda_environment(sandbox: SandboxState, monkeypatch: pytest.MonkeyPatch, tag: str,
                       stack: Path) -> None:
    """Secrets in Secrets Manager (moto, through AWS_ENDPOINT_URL) and nothing but their IDs
    in the environment, as in Lambda."""
    secrets = boto3.client("secretsmanager")
    token = sandbox.twilio_auth_token_file.read_text().strip()
    twilio_id = f"lsctl/{tag}/twilio"
    secrets.create_secret(Name=twilio_id, SecretString=json.dumps(
        {"account_sid": sandbox.twilio_account_sid, "auth_token": token}))
    tsig_id = f"lsctl/{tag}/tsig"
    secrets.create_secret(Name=tsig_id, SecretString=sandbox.tsig_secret_file.read_text())
    # setenv first, so that monkeypatch restores each afterwards: the handler sets them.
    for variable in ("TWILIO_AUTH_TOKEN", "LSCTL_TSIG_SECRET_FILE", "LSCTL_TSIG_SECRET"):
        monkeypatch.setenv(variable, "")
        monkeypatch.delenv(variable)
    monkeypatch.setenv("LSCTL_TWILIO_SECRET_ID", twilio_id)
    monkeypatch.setenv("LSCTL_TSIG_SECRET_ID", tsig_id)
    monkeypatch.setenv("LSCTL_STACK_FILE", str(stack))
    monkeypatch.setenv("LSCTL_METRIC_NAMESPACE", f"lsctl-{tag}")


def test_lambda_renews_with_secrets_from_secrets_manager(
        sandbox: SandboxState, emulator: EmulatorControl, twilio_env: None, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    tag = uuid.uuid4().hex[:6]
    sid, name = new_domain(emulator, f"lambda{tag}.lsctl.test")
    stack = write_stack(tmp_path / "Pulumi.lambda.yaml", tmp_path / "state",
                        [{"fqdn": name, "sid": sid}])
    lambda_environment(sandbox, monkeypatch, tag, stack)

    result = lambda_handler({}, None)
    assert [(o["domain"], o["status"]) for o in result["outcomes"]] == [(name, "renewed")]
    metrics = boto3.client("cloudwatch").list_metrics(Namespace=f"lsctl-{tag}")["Metrics"]
    assert [m["MetricName"] for m in metrics] == ["DaysToExpiry"]
    output = capsys.readouterr()
    assert sandbox.twilio_auth_token_file.read_text().strip() not in output.out + output.err
    assert sandbox.tsig_secret_file.read_text().strip() not in output.out + output.err


def test_lambda_renews_each_account_with_its_own_secret(
        sandbox: SandboxState, emulator: EmulatorControl, twilio_env: None, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """lsctl:twilioAccounts in Lambda: one secret per account, named in
    LSCTL_TWILIO_SECRET_IDS; each domain's upload is made as its own account."""
    import secrets as random

    tag = uuid.uuid4().hex[:6]
    client = boto3.client("secretsmanager")  # moto, through AWS_ENDPOINT_URL
    accounts, ids, lines, domains = {}, {}, [], []
    for name in ("x", "y"):
        sid, key, secret = ("AC" + random.token_hex(16), "SK" + random.token_hex(16),
                            random.token_urlsafe(24))
        emulator.add_account(sid, api_keys={key: secret})
        ids[name] = f"lsctl-renewer/{tag}/twilio-{name}"
        client.create_secret(Name=ids[name], SecretString=json.dumps(
            {"account_sid": sid, "api_key": key, "api_secret": secret}))
        accounts[name] = (sid, secret)
        lines.append(f"    {name}: {{accountSid: {sid}, envPrefix: LSCTL_L{tag.upper()}_{name}}}")
        domain_sid, fqdn = new_domain(emulator, f"{name}{tag}.lsctl.test")
        domains.append({"fqdn": fqdn, "sid": domain_sid})
    stack = write_stack(tmp_path / "Pulumi.lambda.yaml", tmp_path / "state", domains)
    text = stack.read_text().replace(
        "  lsctl:domains:\n", "  lsctl:twilioAccounts:\n" + "\n".join(lines)
        + "\n  lsctl:twilio: {defaultAccount: x}\n  lsctl:domains:\n")
    stack.write_text(text.replace(f"domainSid: {domains[1]['sid']}",
                                  f"domainSid: {domains[1]['sid']}, account: y"))
    tsig_id = f"lsctl/{tag}/tsig"
    client.create_secret(Name=tsig_id, SecretString=sandbox.tsig_secret_file.read_text())
    for variable in ("TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "LSCTL_TSIG_SECRET_FILE",
                     "LSCTL_TSIG_SECRET", "LSCTL_TWILIO_SECRET_ID"):
        monkeypatch.setenv(variable, "")
        monkeypatch.delenv(variable)
    monkeypatch.setenv("LSCTL_TWILIO_SECRET_IDS", json.dumps(ids))
    monkeypatch.setenv("LSCTL_TSIG_SECRET_ID", tsig_id)
    monkeypatch.setenv("LSCTL_STACK_FILE", str(stack))
    monkeypatch.setenv("LSCTL_METRIC_NAMESPACE", f"lsctl-{tag}")
    before = emulator.requests()

    result = lambda_handler({}, None)
    assert sorted(o["status"] for o in result["outcomes"]) == ["renewed", "renewed"]
    after = emulator.requests()
    for sid, _ in accounts.values():
        assert after[sid].get("upload_certificate", 0) \
            - before.get(sid, {}).get("upload_certificate", 0) == 1
    output = capsys.readouterr()
    assert all(secret not in output.out + output.err for _, secret in accounts.values())
