"""Seed the sandbox with a stack: its records into BIND 9, its Twilio-side settings into the
emulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkshortening.dns.rfc2136 import Endpoint, TsigKey, replace_rrset
from linkshortening.stack.model import Stack
from linkshortening.stack.records import Record, desired_records
from linkshortening.twilio.api import LinkShorteningApi, TwilioCredentials, TwilioSettings

if TYPE_CHECKING:
    from sandbox.lifecycle import SandboxState


def seed(stack: Stack, server: Endpoint, key: TsigKey) -> list[Record]:
    """Write every domain's desired records by RFC 2136; return what was written."""
    written = []
    for spec in stack.domains:
        for record in desired_records(spec, stack.targets):
            replace_rrset(server, spec.zone, record.name + ".", record.type, record.ttl,
                          record.values, key)
            written.append(record)
    return written


def apply_twilio(stack: Stack, api: LinkShorteningApi) -> int:
    """What `pulumi up` sets on Twilio's side, done directly: the sandbox has no Pulumi CLI.
    Returns the number of settings applied."""
    applied = 0
    for spec in stack.domains:
        api.update_config(spec.domain_sid, fallback_url=spec.fallback_url,
                          callback_url=spec.callback_url,
                          continue_on_failure=spec.continue_on_failure,
                          disable_https=spec.disable_https)
        applied += 1
        for service in spec.messaging_service_sids:
            api.associate_messaging_service(spec.domain_sid, service)
            applied += 1
    return applied


def sandbox_api(state: SandboxState) -> LinkShorteningApi:
    """A client for the sandbox's Twilio emulator, whatever the environment says."""
    credentials = TwilioCredentials(state.twilio_account_sid, state.twilio_account_sid,
                                    state.twilio_auth_token_file.read_text().strip())
    return LinkShorteningApi(TwilioSettings(credentials, state.twilio_base_url,
                                            str(state.ca_bundle)))
