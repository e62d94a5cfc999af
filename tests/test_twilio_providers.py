"""The Pulumi dynamic providers, run directly against the sandbox's Twilio emulator, as the
Pulumi engine runs them: unpickled, configured with the stack's config, then called."""

from __future__ import annotations

from typing import Any, TypeVar

import dill  # type: ignore[import-untyped]
import pytest
from pulumi.dynamic import Config, ConfigureRequest

from components.twilio_resources import (
    DomainConfigProvider,
    ManagedCertificateProvider,
    MessagingServiceAssociationProvider,
    TwilioProvider,
)
from linkshortening.twilio.api import LinkShorteningApi
from linkshortening.twilio.errors import TwilioApiError
from sandbox.lifecycle import SandboxState
from sandbox.twilio_emulator.control import EmulatorControl
from tests.conftest import new_domain, new_messaging_service

P = TypeVar("P", bound=TwilioProvider)


@pytest.fixture
def stack_config(sandbox: SandboxState, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The config `pulumi config set --secret` gives; the emulator's address from the
    environment, as `eval "$(lsctl sandbox env)"` sets it. No TWILIO_* credentials in the
    environment: they must come from the config."""
    for name, value in sandbox.env().items():
        if name.startswith("LSCTL_TWILIO_"):
            monkeypatch.setenv(name, value)
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN_FILE",
                 "TWILIO_API_KEY", "TWILIO_API_SECRET", "TWILIO_API_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)
    return {"lsctl:twilioAccountSid": sandbox.twilio_account_sid,
            "lsctl:twilioAuthToken": sandbox.twilio_auth_token_file.read_text().strip()}


@pytest.fixture
def api(twilio_env: None) -> LinkShorteningApi:
    """An independent client, to see what the providers left in the emulator."""
    return LinkShorteningApi.from_env()


def engine_copy(provider: P, config: dict[str, str]) -> P:
    """What Pulumi does with a provider: dill it into the state, load it in the provider
    process, call `configure` with the stack's config."""
    copy: P = dill.loads(dill.dumps(provider))  # noqa: S301 - our own bytes
    copy.configure(ConfigureRequest(Config(config, "lsctl")))
    return copy


def test_providers_pickle_without_clients_or_credentials(stack_config: dict[str, str]) -> None:
    for provider in (DomainConfigProvider(), MessagingServiceAssociationProvider(),
                     ManagedCertificateProvider()):
        assert b"lsctl" not in dill.dumps(provider)  # no config key, let alone a value
        configured = engine_copy(provider, stack_config)
        assert configured.api() is not configured.api()  # a fresh client per call
        # Pickled again once configured: still neither a client nor a credential.
        again = dill.dumps(configured)
        assert stack_config["lsctl:twilioAuthToken"].encode() not in again
        assert type(dill.loads(again)) is type(provider)  # noqa: S301 - our own bytes


def test_credentials_missing_from_config_and_environment(
        stack_config: dict[str, str]) -> None:
    provider = engine_copy(DomainConfigProvider(), {
        "lsctl:twilioAccountSid": stack_config["lsctl:twilioAccountSid"]})
    with pytest.raises(ValueError, match="pulumi config set --secret lsctl:twilioAuthToken"):
        provider.api()


def test_domain_config_create_diff_update_read_delete(
        stack_config: dict[str, str], api: LinkShorteningApi, emulator: EmulatorControl) -> None:
    sid, _ = new_domain(emulator)
    provider = engine_copy(DomainConfigProvider(), stack_config)
    declared: dict[str, Any] = {
        "domain_sid": sid, "fallback_url": "https://e.example.com/gone",
        "callback_url": "https://hooks.example.com/clicks",
        "continue_on_failure": False, "disable_https": True}
    created = provider.create(declared)
    assert created.id == sid
    live = api.fetch_config(sid)
    assert (live.fallback_url, live.callback_url, live.continue_on_failure,
            live.disable_https) == ("https://e.example.com/gone",
                                    "https://hooks.example.com/clicks", False, True)
    outs = dict(created.outs or {})
    assert not provider.diff(sid, outs, dict(declared)).changes
    for field, value in (("disable_https", False), ("continue_on_failure", True),
                         ("fallback_url", "https://e.example.com/other"),
                         ("callback_url", "https://hooks.example.com/other")):
        diff = provider.diff(sid, outs, {**declared, field: value})
        assert diff.changes and not diff.replaces, field
    assert provider.diff(sid, outs, {**declared, "domain_sid": "DN" + "9" * 32}).replaces == [
        "domain_sid"]
    changed = {**declared, "disable_https": False}
    provider.update(sid, outs, changed)
    assert api.fetch_config(sid).disable_https is False
    # A hand edit in the Console: read (pulumi refresh) sees it, diff then wants it back,
    # and update (pulumi up) puts it back.
    api.update_config(sid, continue_on_failure=True, callback_url="https://evil.example.com/")
    read = provider.read(sid, changed)
    assert read.outs is not None
    assert read.outs["continue_on_failure"] is True
    assert read.outs["callback_url"] == "https://evil.example.com/"
    assert provider.diff(sid, read.outs, changed).changes
    provider.update(sid, read.outs, changed)
    restored = api.fetch_config(sid)
    assert (restored.callback_url, restored.continue_on_failure) == (
        "https://hooks.example.com/clicks", False)
    provider.delete(sid, changed)
    reset = api.fetch_config(sid)
    assert (reset.continue_on_failure, reset.disable_https) == (True, False)


def test_domain_config_leaves_undeclared_urls_alone(
        stack_config: dict[str, str], api: LinkShorteningApi, emulator: EmulatorControl) -> None:
    sid, _ = new_domain(emulator)
    api.update_config(sid, fallback_url="https://set.example.com/by-hand")
    provider = engine_copy(DomainConfigProvider(), stack_config)
    declared = {"domain_sid": sid, "fallback_url": "", "callback_url": "",
                "continue_on_failure": True, "disable_https": False}
    outs = dict(provider.create(declared).outs or {})
    assert api.fetch_config(sid).fallback_url == "https://set.example.com/by-hand"
    # Twilio cannot unset a URL: one the stack does not declare is no drift.
    assert not provider.diff(sid, outs, declared).changes


def test_messaging_service_association(stack_config: dict[str, str], api: LinkShorteningApi,
                                       emulator: EmulatorControl) -> None:
    sid, _ = new_domain(emulator)
    service = new_messaging_service()
    provider = engine_copy(MessagingServiceAssociationProvider(), stack_config)
    props = {"domain_sid": sid, "messaging_service_sid": service}
    created = provider.create(props)
    assert created.id == f"{sid}/{service}"
    assert api.fetch_messaging_service_domain(service).domain_sid == sid
    assert provider.read(created.id, props).outs == props
    assert not provider.diff(created.id, props, dict(props)).changes
    other = {**props, "messaging_service_sid": new_messaging_service()}
    diff = provider.diff(created.id, props, other)
    assert diff.replaces == ["messaging_service_sid"] and diff.delete_before_replace
    # Dissociated by hand: refresh drops it from the state, so `up` associates it again.
    api.dissociate_messaging_service(sid, service)
    assert provider.read(created.id, props).id is None
    provider.create(props)
    assert api.fetch_messaging_service_domain(service).domain_sid == sid
    provider.delete(created.id, props)
    with pytest.raises(TwilioApiError) as gone:
        api.fetch_messaging_service_domain(service)
    assert gone.value.status == 404
    provider.delete(created.id, props)  # already gone: nothing to do, no error


def test_messaging_service_moved_to_another_domain(
        stack_config: dict[str, str], api: LinkShorteningApi, emulator: EmulatorControl) -> None:
    sid, _ = new_domain(emulator)
    elsewhere, _ = new_domain(emulator)
    service = new_messaging_service()
    provider = engine_copy(MessagingServiceAssociationProvider(), stack_config)
    props = {"domain_sid": sid, "messaging_service_sid": service}
    created = provider.create(props)
    api.dissociate_messaging_service(sid, service)
    api.associate_messaging_service(elsewhere, service)
    read = provider.read(created.id, props)
    assert read.outs is not None and read.outs["domain_sid"] == elsewhere
    # `up` replaces it: delete (from the domain it is on now), then create on ours.
    assert provider.diff(created.id, read.outs, props).replaces == ["domain_sid"]
    provider.delete(created.id, read.outs)
    provider.create(props)
    assert api.fetch_messaging_service_domain(service).domain_sid == sid


def test_managed_certificate(stack_config: dict[str, str], api: LinkShorteningApi,
                             emulator: EmulatorControl) -> None:
    sid, _ = new_domain(emulator)
    provider = engine_copy(ManagedCertificateProvider(), stack_config)
    declared = {"domain_sid": sid, "managed": True, "requesting": None}
    # Before: no certificate at all, so read says unmanaged and diff wants a request.
    unmanaged = provider.read(sid, declared).outs
    assert unmanaged is not None and unmanaged["managed"] is False
    assert provider.diff(sid, unmanaged, declared).changes
    created = provider.create(declared)
    live = api.fetch_certificate(sid, api_version=2)
    assert live.managed or live.requesting
    outs = dict(created.outs or {})
    assert outs["managed"] is True
    read = provider.read(sid, outs)
    assert read.outs is not None and read.outs["managed"] is True
    assert not provider.diff(sid, read.outs, declared).changes
    assert provider.diff(sid, outs, {**declared, "domain_sid": "DN" + "8" * 32}).replaces == [
        "domain_sid"]
    provider.delete(sid, outs)  # Twilio has no way back: the certificate stays managed
    after = api.fetch_certificate(sid, api_version=2)
    assert after.managed or after.requesting
