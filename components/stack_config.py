"""The stack's `lsctl:` config, read from pulumi.Config through the shared loader."""

from __future__ import annotations

import json

import pulumi

from components.twilio_resources import TwilioAuth
from linkshortening.config import NAMESPACE, STACK_KEYS, ConfigError, Stack, parse_stack


def load_from_pulumi() -> Stack:
    """Validate this stack's config exactly as `lsctl` validates the stack file."""
    config = pulumi.Config(NAMESPACE)
    values = {key: config.get_object(key) for key in STACK_KEYS}
    stack = pulumi.get_stack()
    source = f"stacks/Pulumi.{stack}.yaml"
    try:
        return parse_stack({k: v for k, v in values.items() if v is not None}, source, stack)
    except ConfigError as exc:
        # RunError: Pulumi prints the message alone, without a Python traceback.
        raise pulumi.RunError(str(exc)) from None


def twilio_auth() -> TwilioAuth | None:
    """Twilio credentials set with `pulumi config set --secret`; None when none are set."""
    config = pulumi.Config(NAMESPACE)
    account = config.get_secret("twilioAccountSid")
    if account is None:
        return None
    api_key = config.get("twilioApiKey")
    if api_key:
        return TwilioAuth(account, api_key, config.require_secret("twilioApiSecret"))
    return TwilioAuth(account, account, config.require_secret("twilioAuthToken"))


def twilio_credentials_json(auth: TwilioAuth) -> pulumi.Output[str]:
    """The renewer's Secrets Manager value (see acme_renewer.lambda_handler), secret."""
    return pulumi.Output.secret(pulumi.Output.all(auth.account_sid, auth.username,
                                                  auth.password).apply(
        lambda v: json.dumps({"account_sid": v[0], "auth_token": v[2]} if v[0] == v[1]
                             else {"account_sid": v[0], "api_key": v[1], "api_secret": v[2]})))
