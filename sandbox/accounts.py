"""A stack's lsctl:twilioAccounts in the sandbox: each account registered in the emulator with
an API key of its own (its secret a file in the sandbox directory), owning the stack's
Messaging Services declared under it; the jobs then find them as PREFIX_* variables."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from linkshortening.common.files import write_atomic
from linkshortening.stack.model import Stack
from linkshortening.twilio.accounts import stack_api
from linkshortening.twilio.api import LinkShorteningApi, TwilioCredentials, TwilioSettings
from sandbox.twilio_emulator.control import EmulatorControl

if TYPE_CHECKING:
    from sandbox.lifecycle import SandboxState


def seed_accounts(stack: Stack, state: SandboxState) -> None:
    """Register the stack's accounts and their Messaging Services in the emulator (again after
    a restart: the same keys), and remember them in the sandbox state for `sandbox env`."""
    if not stack.twilio_accounts:
        return
    control = EmulatorControl(state.twilio_base_url, state.ca_bundle, state.twilio_account_sid,
                              state.twilio_auth_token_file)
    owned: dict[str, list[str]] = {a.name: [] for a in stack.twilio_accounts}
    for spec in stack.domains:
        for service in spec.messaging_service_sids:
            owned[spec.account_of(service)].append(service)
    for account in stack.twilio_accounts:
        known = state.twilio_accounts.get(account.env_prefix)
        secret_file = state.account_secret_file(account.env_prefix)
        if known is None or known[0] != account.account_sid or not secret_file.is_file():
            known = [account.account_sid, "SK" + secrets.token_hex(16)]
            secret_file.parent.mkdir(mode=0o700, exist_ok=True)
            write_atomic(secret_file, secrets.token_urlsafe(24) + "\n")
            secret_file.chmod(0o600)
        control.add_account(account.account_sid,
                            api_keys={known[1]: secret_file.read_text().strip()},
                            messaging_services=owned[account.name])
        state.twilio_accounts[account.env_prefix] = known
    state.save()


def sandbox_accounts_api(stack: Stack, state: SandboxState) -> LinkShorteningApi:
    """The stack's client on the sandbox's emulator, each call as its account, whatever the
    environment says (seed_accounts first); no accounts: the sandbox account's auth token."""
    by_name = {a.name: a for a in stack.twilio_accounts}

    def credentials(name: str) -> TwilioCredentials:
        if not by_name:
            return _sandbox_account(state)
        prefix = by_name[name].env_prefix
        sid, key = state.twilio_accounts[prefix]
        return TwilioCredentials(sid, key, state.account_secret_file(prefix).read_text().strip())

    return stack_api(stack, settings=lambda c: _settings(state, c), credentials_of=credentials)


def sandbox_api(state: SandboxState) -> LinkShorteningApi:
    """A client for the sandbox's Twilio emulator as its own account, whatever the
    environment says."""
    return LinkShorteningApi(_settings(state, _sandbox_account(state)))


def _sandbox_account(state: SandboxState) -> TwilioCredentials:
    return TwilioCredentials(state.twilio_account_sid, state.twilio_account_sid,
                             state.twilio_auth_token_file.read_text().strip())


def _settings(state: SandboxState, credentials: TwilioCredentials) -> TwilioSettings:
    return TwilioSettings(credentials, state.twilio_base_url, str(state.ca_bundle))
