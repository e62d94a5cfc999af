"""The Pulumi dynamic providers, run directly against the sandbox's Twilio emulator."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from components.twilio_resources import (
    DomainConfigProvider,
    ManagedCertificateProvider,
    MessagingServiceAssociationProvider,
)
from linkshortening.twilio_api import LinkShorteningApi
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import new_domain, new_messaging_service


@pytest.fixture
def auth(sandbox: SandboxState) -> dict[str, Any]:
    token = sandbox.twilio_auth_token_file.read_text().strip()
    return {"account_sid": sandbox.twilio_account_sid, "username": sandbox.twilio_account_sid,
            "password": token, "base_url": sandbox.twilio_base_url,
            "ca_bundle": str(sandbox.ca_bundle)}


@pytest.fixture
def api(twilio_env: None) -> LinkShorteningApi:
    return LinkShorteningApi.from_env()


def test_providers_pickle_without_clients() -> None:
    for provider in (DomainConfigProvider(), MessagingServiceAssociationProvider(),
                     ManagedCertificateProvider()):
        assert type(pickle.loads(pickle.dumps(provider))) is type(provider)  # noqa: S301 - our own bytes


def test_domain_config_create_diff_update_read_delete(
        auth: dict[str, Any], api: LinkShorteningApi, emulator: EmulatorControl) -> None:
    sid, _ = new_domain(emulator)
    provider = DomainConfigProvider()
    declared = {"auth": auth, "domain_sid": sid, "fallback_url": "https://e.example.com/gone",
                "callback_url": "https://hooks.example.com/clicks",
                "continue_on_failure": False, "disable_https": True}
    created = provider.create(declared)
    assert created.id == sid
    live = api.fetch_config(sid)
    assert (live.fallback_url, live.callback_url, live.continue_on_failure,
            live.disable_https) == ("https://e.example.com/gone",
                                    "https://hooks.example.com/clicks", False, True)
    outs = dict(created.outs or {})
    assert not provider.diff(sid, outs, {**outs}).changes
    changed = {**outs, "disable_https": False}
    diff = provider.diff(sid, outs, changed)
    assert diff.changes and not diff.replaces
    assert provider.diff(sid, outs, {**outs, "domain_sid": "DN" + "9" * 32}).replaces == [
        "domain_sid"]
    provider.update(sid, outs, changed)
    assert api.fetch_config(sid).disable_https is False
    # A hand edit in the Console: read (pulumi refresh) sees it, diff then wants it back.
    api.update_config(sid, continue_on_failure=True)
    read = provider.read(sid, changed)
    assert read.outs is not None and read.outs["continue_on_failure"] is True
    assert provider.diff(sid, read.outs, changed).changes
    provider.delete(sid, changed)
    reset = api.fetch_config(sid)
    assert (reset.continue_on_failure, reset.disable_https) == (True, False)


def test_messaging_service_association(auth: dict[str, Any], api: LinkShorteningApi,
                                       emulator: EmulatorControl) -> None:
    sid, _ = new_domain(emulator)
    service = new_messaging_service()
    provider = MessagingServiceAssociationProvider()
    props = {"auth": auth, "domain_sid": sid, "messaging_service_sid": service}
    created = provider.create(props)
    assert api.fetch_messaging_service_domain(service).domain_sid == sid
    assert provider.read(created.id, props).outs == {**props, "domain_sid": sid}
    other = {**props, "messaging_service_sid": new_messaging_service()}
    assert provider.diff(created.id, props, other).replaces == ["messaging_service_sid"]
    provider.delete(created.id, props)
    gone = provider.read(created.id, props)
    assert gone.id is None  # refresh drops it; the next `pulumi up` associates it again


def test_managed_certificate(auth: dict[str, Any], api: LinkShorteningApi,
                             emulator: EmulatorControl) -> None:
    sid, _ = new_domain(emulator)
    provider = ManagedCertificateProvider()
    created = provider.create({"auth": auth, "domain_sid": sid})
    live = api.fetch_certificate(sid, api_version=2)
    assert live.managed or live.requesting
    read = provider.read(sid, dict(created.outs or {}))
    assert read.outs is not None and (read.outs["managed"] or read.outs["requesting"])
