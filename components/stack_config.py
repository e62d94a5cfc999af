"""The stack's `lsctl:` config, read from pulumi.Config through the shared loader, and the
credentials set with `pulumi config set --secret`."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field

import pulumi

from linkshortening.stack.errors import ConfigError
from linkshortening.stack.model import Stack
from linkshortening.stack.parse import NAMESPACE, STACK_KEYS, parse_stack


def stack_source(stack: str) -> str:
    return f"stacks/Pulumi.{stack}.yaml"


def load_from_pulumi() -> Stack:
    """Validate this stack's config exactly as `lsctl` validates the stack file."""
    config = pulumi.Config(NAMESPACE)
    values = {key: config.get_object(key) for key in STACK_KEYS}
    stack = pulumi.get_stack()
    try:
        return parse_stack({k: v for k, v in values.items() if v is not None},
                           stack_source(stack), stack)
    except ConfigError as exc:
        raise config_error(exc) from None


def config_error(exc: ConfigError) -> pulumi.RunError:
    # RunError: Pulumi prints the message alone, without a Python traceback.
    return pulumi.RunError(str(exc))


@dataclass(frozen=True)
class Credentials:
    """The Twilio credentials (and the TSIG secret for RFC 2136 zones), as secret Outputs."""

    account_sid: pulumi.Output[str] | None  # None: the stack declares lsctl:twilioAccounts
    api_key: pulumi.Output[str] | None  # None: the auth token is used
    secret: pulumi.Output[str] | None  # the API key's secret, or the auth token
    tsig_secret: pulumi.Output[str] | None = None
    # lsctl:twilioAccounts: account name -> its renewer secret's JSON (secret Outputs)
    accounts: dict[str, pulumi.Output[str]] = field(default_factory=dict)

    def twilio_json(self) -> pulumi.Output[str]:
        """The renewer's Secrets Manager value (see acme_renewer.lambda_handler), secret."""
        assert self.account_sid is not None and self.secret is not None
        if self.api_key is None:
            value = pulumi.Output.all(self.account_sid, self.secret).apply(
                lambda v: json.dumps({"account_sid": v[0], "auth_token": v[1]}))
        else:
            value = pulumi.Output.all(self.account_sid, self.api_key, self.secret).apply(
                lambda v: json.dumps({"account_sid": v[0], "api_key": v[1], "api_secret": v[2]}))
        return pulumi.Output.secret(value)


def credentials(stack: Stack | None = None) -> Credentials:
    """The credentials the Twilio-side resources and the renewer need: required, because a
    stack without them would plan to delete every Twilio-side resource it declared before.
    A stack with lsctl:twilioAccounts needs each account's secret key instead."""
    config = pulumi.Config(NAMESPACE)
    source = stack_source(pulumi.get_stack())
    if stack is not None and stack.twilio_accounts:
        return _account_credentials(stack, source)
    _required(source, "twilioAccountSid", "AC...")
    api_key = config.get("twilioApiKey") or None
    secret_key = "twilioApiSecret" if api_key else "twilioAuthToken"
    _required(source, secret_key, "...")
    tsig = config.get("tsigSecret") or None
    if tsig is not None:
        _required(source, "tsigSecret", "...")
    return Credentials(
        account_sid=config.require_secret("twilioAccountSid"),
        api_key=pulumi.Output.secret(api_key) if api_key else None,
        secret=config.require_secret(secret_key),
        tsig_secret=config.require_secret("tsigSecret") if tsig else None)


def _account_credentials(stack: Stack, source: str) -> Credentials:
    """Each account's `pulumiSecret` key, set with --secret; its value, with the declared
    account SID added, is what the renewer's Secrets Manager secret of that account holds."""
    config = pulumi.Config(NAMESPACE)
    accounts: dict[str, pulumi.Output[str]] = {}
    for account in stack.twilio_accounts:
        _required(source, account.pulumi_secret, '\'{"api_key": "SK...", "api_secret": "..."}\'')
        accounts[account.name] = pulumi.Output.secret(
            config.require_secret(account.pulumi_secret).apply(
                functools.partial(_with_sid, account.account_sid)))
    tsig = config.get("tsigSecret") or None
    if tsig is not None:
        _required(source, "tsigSecret", "...")
    return Credentials(account_sid=None, api_key=None, secret=None, accounts=accounts,
                       tsig_secret=config.require_secret("tsigSecret") if tsig else None)


def _with_sid(account_sid: str, text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    # Not an object: stored as {} plus the SID; the renewer's message says what to store.
    return json.dumps({**(value if isinstance(value, dict) else {}), "account_sid": account_sid})


def _required(source: str, key: str, example: str) -> None:
    """Set, and set as a Pulumi secret (never in clear in the stack file)."""
    full = f"{NAMESPACE}:{key}"
    fix = f"pulumi config set --secret {full} {example}"
    if not pulumi.Config(NAMESPACE).get(key):
        raise config_error(ConfigError(source, full, "is not set", fix))
    if not pulumi.runtime.is_config_secret(full):
        raise config_error(ConfigError(source, full, "is set in clear text", fix))
