"""The Pulumi program of a stack with lsctl:twilioAccounts, under Pulumi's mocks: one
Secrets Manager secret per account (secret, with the account's SID), the renewer reading
exactly those, and each Twilio-side dynamic resource's provider bound to its account, with
no credential in any resource's inputs."""

from __future__ import annotations

import base64
import json
from typing import Any

import dill  # type: ignore[import-untyped]
import pytest

from tests.test_pulumi_program import (
    DYNAMIC,
    MG,
    prebuilt_archive,  # noqa: F401 - the autouse fixture, for this module too
    renewal_stack,
    resolve,
    run_program,
)

AC_A, AC_B = "AC" + "a" * 32, "AC" + "b" * 32
SECRET_A = json.dumps({"api_key": "SK" + "1" * 32, "api_secret": "secret-a-never-in-clear"})
SECRET_B = json.dumps({"auth_token": "token-b-never-in-clear"})
SECRETS = {"twilioCredentials-a": SECRET_A, "creds-b": SECRET_B}


def accounts_stack() -> dict[str, Any]:
    config = renewal_stack()
    config["twilioAccounts"] = {"a": {"accountSid": AC_A},
                                "b": {"accountSid": AC_B, "pulumiSecret": "creds-b"}}
    config["twilio"] = {"defaultAccount": "a"}
    config["domains"][0]["messagingServiceSids"] = [{"sid": MG, "account": "b"}]
    config["domains"][1]["account"] = "b"
    return config


def provider(inputs: dict[str, Any]) -> Any:
    """A dynamic resource's provider as Pulumi stores it (a secret: {..., "value": text})."""
    stored = inputs["__provider"]
    text = stored["value"] if isinstance(stored, dict) else stored
    return dill.loads(base64.b64decode(text))  # noqa: S301 - our own bytes


def provider_account(inputs: dict[str, Any]) -> str | None:
    """The account a dynamic resource's pickled provider is bound to."""
    account = provider(inputs)._account
    return None if account is None else str(account.name)


def test_one_secret_per_account_and_the_renewer_reads_exactly_those() -> None:
    run = run_program(accounts_stack(), SECRETS)
    renewal = run.namespace["program"].renewal
    assert renewal.twilio_secret is None
    values = {name: resolve(version.secret_string)
              for name, (_, version) in renewal.account_secret_versions.items()}
    assert {n: (json.loads(v), secret) for n, (v, secret) in values.items()} == {
        "a": ({**json.loads(SECRET_A), "account_sid": AC_A}, True),
        "b": ({**json.loads(SECRET_B), "account_sid": AC_B}, True)}
    env = run.mocks.of_type("lambda/function:Function")["renewal-function"][
        "environment"]["variables"]
    assert "LSCTL_TWILIO_SECRET_ID" not in env
    assert json.loads(env["LSCTL_TWILIO_SECRET_IDS"]) == {
        "a": "arn:aws:mock:::renewal-twilio-a", "b": "arn:aws:mock:::renewal-twilio-b"}
    by_sid = {s["Sid"]: s for s in run.policy("renewal-policy")["Statement"]}
    assert by_sid["OwnCredentials"]["Resource"] == [
        "arn:aws:mock:::renewal-twilio-a", "arn:aws:mock:::renewal-twilio-b"]


def test_each_twilio_resource_is_driven_as_its_account_with_no_credential_in_state() -> None:
    run = run_program(accounts_stack(), SECRETS)
    dynamic = {name: inputs for typ, name, inputs in run.mocks.resources if typ == DYNAMIC}
    assert {name: provider_account(inputs) for name, inputs in dynamic.items()} == {
        "example.com-config": "a", f"example.com-{MG}": "b", "go.example.org-config": "b"}
    for typ, name, inputs in run.mocks.resources:
        if typ != "aws:secretsmanager/secretVersion:SecretVersion":
            text = str(inputs) + (repr(provider(inputs).__dict__) if typ == DYNAMIC else "")
            assert "never-in-clear" not in text, name
    assert "never-in-clear" not in str(run.exports)


@pytest.mark.parametrize(("secrets", "clear", "words"), [
    ({"twilioCredentials-a": SECRET_A}, {}, "lsctl:creds-b: is not set"),
    ({"twilioCredentials-a": SECRET_A}, {"creds-b": SECRET_B}, "lsctl:creds-b: is set in clear"),
])
def test_each_accounts_secret_is_required_and_secret(secrets: dict[str, str],
                                                     clear: dict[str, str], words: str) -> None:
    with pytest.raises(Exception, match=words) as caught:
        run_program(accounts_stack(), secrets, clear=clear)
    assert "never-in-clear" not in str(caught.value)
