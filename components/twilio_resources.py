"""Twilio-side settings as Pulumi dynamic resources over `LinkShorteningApi`.

Pulumi pickles each provider into the state and runs it again at refresh and destroy without
the program, so a provider holds neither a client nor a credential: `configure` reads the
stack's config (`pulumi config set --secret lsctl:twilio...`) every time Pulumi starts the
provider, and each method builds its client from that. No credential ever sits in the state,
and a rotated token serves refresh and destroy of resources created with the old one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import (
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from linkshortening.stack.model import DomainSpec, TwilioAccount
from linkshortening.stack.parse import NAMESPACE

if TYPE_CHECKING:
    from linkshortening.twilio.api import LinkShorteningApi

# The Pulumi config keys that carry the Twilio credentials (all set with --secret).
CREDENTIAL_KEYS = ("twilioAccountSid", "twilioAuthToken", "twilioApiKey", "twilioApiSecret")
FLAGS = ("continue_on_failure", "disable_https")
URLS = ("fallback_url", "callback_url")


def api_from_config(config: Mapping[str, str]) -> LinkShorteningApi:
    """A fresh client from the credential keys; without them, from the environment
    (`TWILIO_ACCOUNT_SID`, ... as `lsctl` reads them). LSCTL_TWILIO_BASE_URL and
    LSCTL_TWILIO_CA_BUNDLE point it elsewhere (the sandbox) by the rule of every lsctl command."""
    from linkshortening.twilio.api import LinkShorteningApi, TwilioCredentials, TwilioSettings

    account = config.get("twilioAccountSid")
    if not account:
        return LinkShorteningApi.from_env()
    api_key = config.get("twilioApiKey")
    secret_key = "twilioApiSecret" if api_key else "twilioAuthToken"
    secret = config.get(secret_key)
    if not secret:
        raise ValueError(f"{NAMESPACE}:{secret_key} is not set. Fix: pulumi config set "
                         f"--secret {NAMESPACE}:{secret_key} ...")
    credentials = TwilioCredentials(account, api_key or account, secret)
    return LinkShorteningApi(TwilioSettings.from_env(credentials))


def api_for_account(account: TwilioAccount, value: str | None) -> LinkShorteningApi:
    """A fresh client for a lsctl:twilioAccounts account from its secret config value."""
    from linkshortening.twilio.accounts import secret_credentials
    from linkshortening.twilio.api import LinkShorteningApi, TwilioSettings

    key = f"{NAMESPACE}:{account.pulumi_secret}"
    if not value:
        raise ValueError(f"{key} is not set. Fix: pulumi config set --secret {key} "
                         '\'{"api_key": "SK...", "api_secret": "..."}\'')
    return LinkShorteningApi(TwilioSettings.from_env(
        secret_credentials(account, value, f"Pulumi config {key}")))


class TwilioProvider(ResourceProvider):
    """What the three providers share: credentials from the stack config, read at start;
    `account` (lsctl:twilioAccounts): the account whose secret config key they come from."""

    def __init__(self, account: TwilioAccount | None = None) -> None:
        super().__init__()
        self._account = account  # SID and key *names* only: safe in the state
        self._config: dict[str, str] = {}  # empty when pickled: filled by `configure` only

    def configure(self, req: ConfigureRequest) -> None:
        keys = (self._account.pulumi_secret,) if self._account else CREDENTIAL_KEYS
        self._config = {key: str(value) for key in keys
                        if (value := req.config.get(f"{NAMESPACE}:{key}"))}

    def __getstate__(self) -> dict[str, Any]:
        # Whenever it is pickled, a provider leaves its credentials behind.
        return {**self.__dict__, "_config": {}}

    def api(self) -> LinkShorteningApi:
        if self._account is not None:
            return api_for_account(self._account, self._config.get(self._account.pulumi_secret))
        return api_from_config(self._config)


def _is_not_found(exc: Exception) -> bool:
    from linkshortening.twilio.errors import TwilioApiError

    return isinstance(exc, TwilioApiError) and exc.status == 404


def _is_no_certificate(exc: Exception) -> bool:
    """Twilio says "no certificate" with 404 or with 400/30120: the same answer."""
    from linkshortening.twilio.errors import TwilioApiError

    return isinstance(exc, TwilioApiError) and exc.no_certificate


class DomainConfigProvider(TwilioProvider):
    """The domain's defaults: FallbackUrl, CallbackUrl, ContinueOnFailure, DisableHttps."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=props["domain_sid"], outs=self._apply(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changes = [f for f in ("domain_sid", *_managed(news)) if olds.get(f) != news.get(f)]
        return DiffResult(changes=bool(changes),
                          replaces=["domain_sid"] if "domain_sid" in changes else [],
                          delete_before_replace=True)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._apply(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = self.api().fetch_config(id_)
        return ReadResult(id_=id_, outs={**props, "domain_sid": id_, **_live_config(live)})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        # Twilio cannot remove a domain's config nor unset its URLs: put its documented
        # defaults back for the two flags and leave the URLs.
        self.api().update_config(id_, continue_on_failure=True, disable_https=False)

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        live = self.api().update_config(
            props["domain_sid"], fallback_url=props.get("fallback_url") or None,
            callback_url=props.get("callback_url") or None,
            continue_on_failure=props["continue_on_failure"],
            disable_https=props["disable_https"])
        return {**props, **_live_config(live)}


def _managed(declared: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields a declaration manages: both flags, and a URL only when one is declared,
    since Twilio has no way to unset one (an undeclared URL is left as Twilio has it)."""
    return (*FLAGS, *(url for url in URLS if declared.get(url)))


def _live_config(live: Any) -> dict[str, Any]:
    return {"fallback_url": live.fallback_url or "", "callback_url": live.callback_url or "",
            "continue_on_failure": bool(live.continue_on_failure),
            "disable_https": bool(live.disable_https)}


class MessagingServiceAssociationProvider(TwilioProvider):
    """A Messaging Service using the domain for Link Shortening."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        self.api().associate_messaging_service(props["domain_sid"],
                                               props["messaging_service_sid"])
        return CreateResult(id_=f"{props['domain_sid']}/{props['messaging_service_sid']}",
                            outs=dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changes = [f for f in ("domain_sid", "messaging_service_sid")
                   if olds.get(f) != news.get(f)]
        return DiffResult(changes=bool(changes), replaces=changes, delete_before_replace=True)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            live = self.api().fetch_messaging_service_domain(props["messaging_service_sid"])
        except Exception as exc:
            if _is_not_found(exc):  # dissociated by hand: refresh drops it, up re-creates it
                return ReadResult(id_=None, outs={})
            raise
        # Moved to another domain by hand: the changed domain_sid makes `up` replace it.
        return ReadResult(id_=id_, outs={**props, "domain_sid": live.domain_sid})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        try:
            self.api().dissociate_messaging_service(props["domain_sid"],
                                                    props["messaging_service_sid"])
        except Exception as exc:
            if not _is_not_found(exc):  # already gone is what delete wants
                raise


class ManagedCertificateProvider(TwilioProvider):
    """Twilio obtains and renews the domain's certificate itself (`certificate: managed`)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=props["domain_sid"], outs=self._request(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = ["domain_sid"] if olds.get("domain_sid") != news.get("domain_sid") else []
        # A certificate uploaded by hand ends Twilio's management: `up` asks again.
        return DiffResult(changes=bool(replaces) or olds.get("managed") is not True,
                          replaces=replaces)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._request(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            live = self.api().fetch_certificate(id_, api_version=2)
            managed, requesting = bool(live.managed), bool(live.requesting)
        except Exception as exc:
            if not _is_no_certificate(exc):
                raise
            managed = requesting = False  # no certificate at all
        return ReadResult(id_=id_, outs={**props, "managed": managed or requesting,
                                         "requesting": requesting})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Twilio offers no way back from a managed certificate: removing it from the
        stack stops tracking it and leaves Twilio as it is."""

    def _request(self, props: dict[str, Any]) -> dict[str, Any]:
        request = self.api().request_managed_cert(props["domain_sid"])
        # `managed` means Twilio manages the certificate or is obtaining it.
        return {**props, "managed": bool(request.managed or request.requesting),
                "requesting": bool(request.requesting)}


class DomainConfig(Resource):
    def __init__(self, name: str, spec: DomainSpec,
                 opts: pulumi.ResourceOptions | None = None,
                 account: TwilioAccount | None = None) -> None:
        super().__init__(DomainConfigProvider(account), name, {
            "domain_sid": spec.domain_sid,
            "fallback_url": spec.fallback_url or "", "callback_url": spec.callback_url or "",
            "continue_on_failure": spec.continue_on_failure,
            "disable_https": spec.disable_https,
        }, opts)


class MessagingServiceAssociation(Resource):
    def __init__(self, name: str, domain_sid: str, messaging_service_sid: str,
                 opts: pulumi.ResourceOptions | None = None,
                 account: TwilioAccount | None = None) -> None:
        super().__init__(MessagingServiceAssociationProvider(account), name, {
            "domain_sid": domain_sid, "messaging_service_sid": messaging_service_sid,
        }, opts)


class ManagedCertificate(Resource):
    def __init__(self, name: str, domain_sid: str,
                 opts: pulumi.ResourceOptions | None = None,
                 account: TwilioAccount | None = None) -> None:
        super().__init__(ManagedCertificateProvider(account), name, {
            "domain_sid": domain_sid, "managed": True, "requesting": None,
        }, opts)
