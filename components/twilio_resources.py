"""Twilio-side settings as Pulumi dynamic resources over `LinkShorteningApi`.

The providers are pickled into Pulumi's state and re-run at refresh and destroy without the
program, so they hold no client: each method builds one from its inputs. Credentials travel
as secret inputs (`auth`), kept secret in state by `additional_secret_outputs`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from linkshortening.config import DomainSpec

if TYPE_CHECKING:
    from linkshortening.twilio_api import LinkShorteningApi

CONFIG_FIELDS = ("fallback_url", "callback_url", "continue_on_failure", "disable_https")
SECRET = pulumi.ResourceOptions(additional_secret_outputs=["auth"])


@dataclass(frozen=True)
class TwilioAuth:
    """Credentials and endpoint for the dynamic resources (password is a secret Output)."""

    account_sid: pulumi.Input[str]
    username: pulumi.Input[str]  # the Account SID (auth token) or an API key SID
    password: pulumi.Input[str]
    base_url: str | None = None  # LSCTL_TWILIO_BASE_URL at `pulumi up` (the sandbox)
    ca_bundle: str | None = None

    def inputs(self) -> dict[str, Any]:
        return {"account_sid": self.account_sid, "username": self.username,
                "password": pulumi.Output.secret(self.password),
                "base_url": self.base_url or os.environ.get("LSCTL_TWILIO_BASE_URL") or "",
                "ca_bundle": self.ca_bundle or os.environ.get("LSCTL_TWILIO_CA_BUNDLE") or ""}


def api_from(props: dict[str, Any]) -> LinkShorteningApi:
    """A fresh client from a resource's `auth` input (never kept on the provider)."""
    from linkshortening.twilio_api import LinkShorteningApi, TwilioCredentials, TwilioSettings

    auth = props["auth"]
    credentials = TwilioCredentials(auth["account_sid"], auth["username"], auth["password"])
    return LinkShorteningApi(TwilioSettings(credentials, auth.get("base_url") or None,
                                            auth.get("ca_bundle") or None))


def _changed(olds: dict[str, Any], news: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
    return [f for f in fields if olds.get(f) != news.get(f)]


class DomainConfigProvider(ResourceProvider):
    """The domain's defaults: FallbackUrl, CallbackUrl, ContinueOnFailure, DisableHttps."""

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        live = api_from(props).update_config(
            props["domain_sid"], fallback_url=props.get("fallback_url") or None,
            callback_url=props.get("callback_url") or None,
            continue_on_failure=props["continue_on_failure"],
            disable_https=props["disable_https"])
        return {**props, **_config_fields(live), "config_sid": live.config_sid or ""}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=props["domain_sid"], outs=self._apply(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changes = _changed(olds, news, ("domain_sid", *CONFIG_FIELDS))
        return DiffResult(changes=bool(changes),
                          replaces=["domain_sid"] if "domain_sid" in changes else [],
                          delete_before_replace=True)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._apply(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = api_from(props).fetch_config(id_)
        return ReadResult(id_=id_, outs={**props, **_config_fields(live)})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        # Twilio has no way to remove a domain's config or unset its URLs: put back its
        # documented defaults for the two flags and leave the URLs.
        api_from(props).update_config(id_, continue_on_failure=True, disable_https=False)


def _config_fields(live: Any) -> dict[str, Any]:
    return {"fallback_url": live.fallback_url or "", "callback_url": live.callback_url or "",
            "continue_on_failure": bool(live.continue_on_failure),
            "disable_https": bool(live.disable_https)}


class MessagingServiceAssociationProvider(ResourceProvider):
    """A Messaging Service using the domain for Link Shortening."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        api_from(props).associate_messaging_service(props["domain_sid"],
                                                    props["messaging_service_sid"])
        return CreateResult(id_=f"{props['domain_sid']}/{props['messaging_service_sid']}",
                            outs=dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changes = _changed(olds, news, ("domain_sid", "messaging_service_sid"))
        return DiffResult(changes=bool(changes), replaces=changes,
                          delete_before_replace=True)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        from linkshortening.twilio_errors import TwilioApiError

        try:
            live = api_from(props).fetch_messaging_service_domain(props["messaging_service_sid"])
        except TwilioApiError as exc:
            if exc.status == 404:  # dissociated by hand: refresh drops it, up re-creates it
                return ReadResult(id_=None, outs={})
            raise
        return ReadResult(id_=id_, outs={**props, "domain_sid": live.domain_sid})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        api_from(props).dissociate_messaging_service(props["domain_sid"],
                                                     props["messaging_service_sid"])


class ManagedCertificateProvider(ResourceProvider):
    """Ask Twilio once to obtain and renew the domain's certificate itself."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        request = api_from(props).request_managed_cert(props["domain_sid"])
        return CreateResult(id_=props["domain_sid"], outs={
            **props, "managed": bool(request.managed), "requesting": bool(request.requesting)})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changes = _changed(olds, news, ("domain_sid",))
        return DiffResult(changes=bool(changes), replaces=changes)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = api_from(props).fetch_certificate(id_, api_version=2)
        return ReadResult(id_=id_, outs={**props, "managed": bool(live.managed),
                                         "requesting": bool(live.requesting)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Twilio offers no way back from a managed certificate; removing it from the
        stack stops tracking it and leaves Twilio as it is."""


class DomainConfig(Resource):
    def __init__(self, name: str, spec: DomainSpec, auth: TwilioAuth,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(DomainConfigProvider(), name, {
            "auth": auth.inputs(), "domain_sid": spec.domain_sid,
            "fallback_url": spec.fallback_url or "", "callback_url": spec.callback_url or "",
            "continue_on_failure": spec.continue_on_failure,
            "disable_https": spec.disable_https, "config_sid": None,
        }, pulumi.ResourceOptions.merge(opts, SECRET))


class MessagingServiceAssociation(Resource):
    def __init__(self, name: str, domain_sid: str, messaging_service_sid: str,
                 auth: TwilioAuth, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(MessagingServiceAssociationProvider(), name, {
            "auth": auth.inputs(), "domain_sid": domain_sid,
            "messaging_service_sid": messaging_service_sid,
        }, pulumi.ResourceOptions.merge(opts, SECRET))


class ManagedCertificate(Resource):
    def __init__(self, name: str, domain_sid: str, auth: TwilioAuth,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(ManagedCertificateProvider(), name, {
            "auth": auth.inputs(), "domain_sid": domain_sid, "managed": None,
            "requesting": None,
        }, pulumi.ResourceOptions.merge(opts, SECRET))
